/* The one VMX capability policy: everything VMX that L1 sees, computed from the hardware's capability MSRs (pure). */
#ifndef HV_NESTED_VMX_POLICY_H
#define HV_NESTED_VMX_POLICY_H

/*
 * vmx_offer_compute() is the only place that decides what L1 is told about
 * VMX: CPUID.1:ECX.VMX, IA32_FEATURE_CONTROL, whether CR4.VMXE may be set,
 * every IA32_VMX_* MSR (0x480-0x493) and, derived from the same answer, the
 * vmcs12 fields that exist for L1 (enum vmcs12_feature) and IA32_VMX_MISC
 * for the event core. The hypervisor computes it once from the boot CPU's
 * MSRs, so it is identical on every vCPU (Linux's kvm_intel refuses CPUs
 * whose VMX capabilities differ). vmx_offer_rdmsr/wrmsr are the MSR
 * dispatch for that range. With nested=off L1 sees what it saw before
 * nesting: no VMX in CPUID, FEATURE_CONTROL locked with VMX off, CR4.VMXE
 * reserved, #GP on every VMX MSR.
 *
 * Offered in this issue: what Bochs "tigerlake" has and the hypervisor can
 * emulate faithfully, minus EPT, VPID, unrestricted guest, VMCS shadowing
 * and APIC virtualization (later issues); see the masks in vmx_policy.c.
 */

#include "hv/types.h"

#define VMX_MSR_FIRST 0x480u  /* IA32_VMX_BASIC */
#define VMX_MSR_LAST  0x493u  /* IA32_VMX_EXIT_CTLS2 */
#define VMX_MSR_COUNT (VMX_MSR_LAST - VMX_MSR_FIRST + 1)

/* The VMCS revision identifier of L1's VMCSs (IA32_VMX_BASIC[30:0]): ours, since the layout is ours (SDM 24.2). */
#define VMCS12_REVISION_ID 0x4876c001u

/*
 * The hardware's values, as RDMSR on the boot CPU returns them (an MSR the
 * CPU does not have reads as 0 here; its existence follows from the others,
 * SDM A.1-A.11). l1_cr4_allowed: the CR4 bits the hypervisor lets L1 set
 * (its CR4 policy); IA32_VMX_CR4_FIXED1 offers no other bit.
 */
struct vmx_hw_msrs {
	bool cpuid_vmx;            /* CPUID.1:ECX[5] of the hardware */
	uint64_t feature_control;  /* IA32_FEATURE_CONTROL (0x3a) */
	uint64_t basic;            /* 0x480 */
	uint64_t pinbased, procbased, exit, entry; /* 0x481-0x484 */
	uint64_t misc;             /* 0x485 */
	uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1; /* 0x486-0x489 */
	uint64_t vmcs_enum;        /* 0x48a */
	uint64_t procbased2;       /* 0x48b */
	uint64_t ept_vpid_cap;     /* 0x48c */
	uint64_t true_pinbased, true_procbased, true_exit, true_entry; /* 0x48d-0x490 */
	uint64_t vmfunc;           /* 0x491 */
	uint64_t l1_cr4_allowed;
};

struct vmx_offer {
	bool nested;               /* nested=on: VMX is offered */
	bool cpuid_vmx;            /* CPUID.1:ECX[5] as L1 reads it */
	bool cr4_vmxe_allowed;     /* L1 may set CR4.VMXE (it lives in L1's CR4 read shadow) */
	uint64_t feature_control;  /* IA32_FEATURE_CONTROL as L1 reads it (always locked) */
	uint64_t msr[VMX_MSR_COUNT];  /* by MSR index - VMX_MSR_FIRST */
	uint32_t msr_exists;       /* bit (index - VMX_MSR_FIRST): RDMSR returns msr[], else #GP */
	uint32_t vmcs12_features;  /* enum vmcs12_feature: the fields L1's VMCS has */
};

void vmx_offer_compute(const struct vmx_hw_msrs *hw, bool nested_on, struct vmx_offer *o);

/* Value of an offered VMX MSR (0 if it does not exist). */
uint64_t vmx_offer_msr(const struct vmx_offer *o, uint32_t msr);

enum vmx_msr_access {
	VMX_MSR_NOT_VMX, /* not IA32_FEATURE_CONTROL nor 0x480-0x493: not this policy's MSR */
	VMX_MSR_OK,      /* *val is what L1 reads */
	VMX_MSR_GP,      /* #GP(0), as the hardware gives for a missing or read-only MSR */
};
enum vmx_msr_access vmx_offer_rdmsr(const struct vmx_offer *o, uint32_t msr, uint64_t *val);
enum vmx_msr_access vmx_offer_wrmsr(const struct vmx_offer *o, uint32_t msr);

#endif
