/* L1's state after a synthesized VM exit: vmcs12's host-state area loaded as SDM 27.5 says (pure). */
#ifndef HV_NESTED_HOST_STATE_H
#define HV_NESTED_HOST_STATE_H

#include "hv/types.h"
#include "hv/nested/vmcs12.h"

/* L2's registers at the exit that SDM 27.5 leaves partly unmodified. */
struct l2_at_exit {
	uint64_t cr0, cr4, efer; /* as L2 had them (L1's view of L2, vmcs12's guest fields after capture) */
	uint64_t cr4_fixed0;     /* CR4 bits fixed to 1 in VMX operation (kept, SDM 27.5.1) */
	bool nmi_exit;           /* the exit was an NMI's: L1 starts with NMIs blocked (SDM 27.5.5) */
};

/* Writes one field of L1's guest state in vmcs01 (the wiring maps CR0/CR4 to real value plus read shadow). */
typedef void (*l1_state_write_fn)(void *ctx, uint32_t field, uint64_t val);

/*
 * Loads vmcs12's host state as L1's new state (SDM 27.5.1-27.5.3): control
 * registers (with the bits the SDM keeps), DR7, DEBUGCTL, SYSENTER MSRs,
 * EFER/PAT/PERF_GLOBAL_CTRL under their load controls, every segment with
 * the fixed attributes the SDM gives, GDTR/IDTR limits 0xffff, RSP, RIP,
 * RFLAGS = 2, interruptibility clear but blocking by NMI after an NMI's
 * exit, and the active state.
 */
void nested_load_host_state(const struct vmcs12 *vmcs12, const struct l2_at_exit *l2,
			    l1_state_write_fn write, void *ctx);

/* CR0 after the exit (SDM 27.5.1): host CR0 except ET, CD, NW, bits 63:32, 28:19, 17, 15:6, which keep L2's values. */
uint64_t nested_host_cr0(uint64_t host_cr0, uint64_t l2_cr0);

#endif
