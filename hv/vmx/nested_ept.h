/* L1's EPT for L2: the shadow EPT02's pages, roots and faults on this hypervisor (decisions in hv/nested/shadow_ept.c). */
#ifndef HV_VMX_NESTED_EPT_H
#define HV_VMX_NESTED_EPT_H

#include "hv/types.h"
#include "hv/vmx/vcpu.h"
#include "hv/nested/vmcs12.h"

/*
 * EPT02 table pages a vCPU may hold: 4 MiB, enough to map 2 GiB of L2 in
 * 4 KiB leaves. At the limit the shadow is emptied and refilled on demand
 * (shadow_ept.c), so L1 can never take more of the hypervisor's memory.
 */
#define NESTED_EPT_POOL_PAGES 1024u

void nested_ept_init(struct vcpu *v, unsigned int maxphyaddr);
bool nested_ept_enabled(const struct vmcs12 *v12);
/* vmcs02's EPT pointer for the coming entry (INVEPT done here when the shadow changed). */
uint64_t nested_ept_eptp02(struct vcpu *v);
void nested_ept_invept(struct vcpu *v, bool all, uint64_t eptp12);
void nested_ept_release(struct vcpu *v);

enum nested_ept_outcome {
	NESTED_EPT_HANDLED, /* re-enter L2 (the shadow filled in, or nothing to do) */
	NESTED_EPT_TO_L1,   /* an exit for L1, described in struct nested_ept_exit */
	NESTED_EPT_L0_FAULT,/* L1's EPT allows it, ours does not at gpa1 (e.g. L1's trapped xAPIC page) */
};
struct nested_ept_exit {
	uint32_t reason;
	uint64_t qualification;
	uint64_t gpa;       /* L2's guest-physical address */
	uint64_t gpa1;      /* NESTED_EPT_L0_FAULT: L1's */
};
enum nested_ept_outcome nested_ept_violation(struct vcpu *v, struct nested_ept_exit *x);
/* Stops L1: an L2 access through L1's EPT the hypervisor cannot carry out (named in the message). */
__noreturn void nested_ept_stop(struct vcpu *v, const char *why, uint64_t gpa2, uint64_t gpa1);

#endif
