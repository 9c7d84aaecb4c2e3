/* Who handles an exit of L2: L1 (reflected through vmcs12) or the hypervisor itself (SDM 25.1-25.2 per exit reason) (pure). */
#ifndef HV_NESTED_EXIT_DECIDE_H
#define HV_NESTED_EXIT_DECIDE_H

#include "hv/types.h"
#include "hv/nested/vmcs12.h"

/* The exit as the hardware reported it on vmcs02. */
struct l2_exit {
	uint32_t reason;       /* basic exit reason (bits 15:0) */
	uint64_t qualification;
	uint32_t intr_info;    /* VM-exit interruption information */
	uint32_t intr_error_code;
	uint32_t msr;          /* RDMSR/WRMSR: ECX */
	uint64_t cr_value;     /* MOV to CR0/CR4/CR3 and LMSW: the value L2 writes */
	uint64_t l2_cr0_shadow_view; /* CLTS/LMSW: CR0 as vmcs12's read shadow shows it to L2 */
};

/* L1 memory for its I/O and MSR bitmaps (false: the bitmap page is not L1 RAM). */
typedef bool (*nested_read_byte_fn)(void *ctx, uint64_t gpa, uint8_t *val);

enum nested_exit_owner {
	NESTED_EXIT_L1,  /* synthesize this exit to L1 */
	NESTED_EXIT_L0,  /* the hypervisor handles it and resumes L2 */
};

/*
 * The single place that decides. Exits L1 cannot turn off (CPUID, VMCALL,
 * VMX instructions, INIT, triple fault, task switch, XSETBV, ...) always go
 * to L1; controlled ones go to L1 exactly when vmcs12's controls, bitmaps,
 * exception bitmap with #PF mask/match, CR guest/host masks with their read
 * shadows and CR3-target values say so (SDM 25.1.3); the rest (EPT of the
 * hypervisor, its own ports and MSRs, its NMIs) are the hypervisor's: vmcs02
 * intercepts the union of both, so an exit L1 did not ask for was ours.
 */
enum nested_exit_owner nested_l2_exit_owner(const struct vmcs12 *vmcs12, const struct l2_exit *x,
					    nested_read_byte_fn read_byte, void *ctx);

#endif
