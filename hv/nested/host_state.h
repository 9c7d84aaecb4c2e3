/* L1's state after a synthesized VM exit: vmcs12's host-state area loaded as SDM 27.5 says (pure). */
#ifndef HV_NESTED_HOST_STATE_H
#define HV_NESTED_HOST_STATE_H

#include "hv/types.h"
#include "hv/nested/vmcs12.h"
#include "hv/nested/vmcs_batch.h"

/* L2's registers at the exit that SDM 27.5 leaves partly unmodified. */
struct l2_at_exit {
	uint64_t cr0, cr4, efer; /* as L2 had them (L1's view of L2, vmcs12's guest fields after capture) */
	uint64_t cr4_fixed0;     /* CR4 bits fixed to 1 in VMX operation (kept, SDM 27.5.1) */
	bool nmi_exit;           /* the exit was an NMI's: L1 starts with NMIs blocked (SDM 27.5.5) */
};

/*
 * L1's new state (SDM 27.5.1-27.5.3) as vmcs01 writes: control registers
 * (with the bits the SDM keeps), DR7, DEBUGCTL, SYSENTER MSRs, EFER and PAT
 * under their load controls, every segment with the fixed attributes the
 * SDM gives, GDTR/IDTR limits 0xffff, RSP, RIP, RFLAGS = 2, interruptibility
 * clear but blocking by NMI after an NMI's exit, and the active state.
 * `plain` go to vmcs01 as they are (one batch) and depend on vmcs12's
 * host-state area and VM-exit controls only; CR0, CR4, EFER and PAT the
 * wiring maps itself (real register plus read shadow, IA-32e entry
 * control); CR0, EFER and the interruptibility also depend on L2's state.
 */
struct l1_host_load {
	uint64_t cr0, cr4, efer, pat;
	bool load_pat;
	uint32_t interruptibility;
	struct vmcs_batch plain;
};

void nested_host_load(const struct vmcs12 *vmcs12, const struct l2_at_exit *l2, struct l1_host_load *out);
/* Its two halves: `plain`, PAT (vmcs12 only, so the wiring may keep them), and CR0, CR4, EFER, interruptibility. */
void nested_host_load_plain(const struct vmcs12 *vmcs12, struct l1_host_load *out);
void nested_host_load_regs(const struct vmcs12 *vmcs12, const struct l2_at_exit *l2, struct l1_host_load *out);

/* CR0 after the exit (SDM 27.5.1): host CR0 except ET, CD, NW, bits 63:32, 28:19, 17, 15:6, which keep L2's values. */
uint64_t nested_host_cr0(uint64_t host_cr0, uint64_t l2_cr0);

#endif
