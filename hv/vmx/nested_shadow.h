/* VMCS shadowing for L1, the executing side: a hardware shadow VMCS mirrors L1's current vmcs12 (decisions: hv/nested/shadow_vmcs.c). */
#ifndef HV_VMX_NESTED_SHADOW_H
#define HV_VMX_NESTED_SHADOW_H

#include "hv/types.h"
#include "hv/nested/vmx_insn.h"

struct vcpu;

/* Per vCPU, inside struct vmx_nested. */
struct vmx_shadow {
	paddr_t vmcs;       /* the hypervisor's shadow VMCS for this vCPU; 0: this vCPU does not shadow */
	uint64_t mirrors;   /* the vmcs12 (L1's VMCS pointer) it mirrors while vmcs01 shadows; NESTED_NO_VMCS: off */
	struct vmcs12 *image; /* what the shadow VMCS holds (mirrored fields): only fields that differ are copied to it */
};

/* vmcs_shadow=on|off (default on; on needs the hardware's "VMCS shadowing"): once, on the boot CPU with vmcs01 current. */
void vmx_shadow_init(const char *cmdline, paddr_t vmcs01);
/* At L1's first VMXON, vmcs01 current: this vCPU's shadow VMCS and vmcs01's bitmap addresses. */
void vmx_shadow_vcpu_init(struct vcpu *v);
/* Around L1's VMX instruction (exiting), vmcs01 current: copy the shadow into vmcs12 before, follow vmcs12 after. */
void vmx_shadow_before_insn(struct vcpu *v, const struct nested_insn *insn);
void vmx_shadow_after_insn(struct vcpu *v, const struct nested_insn *insn, const struct nested_insn_result *res);
/* L1 runs again in its root mode after its VM entry attempt (an exit or a failed entry): what that wrote, to the shadow. */
void vmx_shadow_l1_resumes(struct vcpu *v);

#endif
