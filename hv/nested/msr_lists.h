/* L1's VM-entry/VM-exit MSR lists (SDM 26.4, 27.4, 27.6): which entries may be replayed on the hardware (pure). */
#ifndef HV_NESTED_MSR_LISTS_H
#define HV_NESTED_MSR_LISTS_H

#include "hv/types.h"

/* One 16-byte entry of an MSR area (SDM 24.7.2, Table 24-15). */
struct vmx_msr_entry {
	uint32_t index;
	uint32_t reserved;
	uint64_t value;
};

enum nested_msr_verdict {
	NESTED_MSR_OK,            /* load (WRMSR) or store (RDMSR) it */
	NESTED_MSR_FAILS,         /* the architecture makes the load fail (SDM 26.4 / 27.6) */
	NESTED_MSR_NOT_EMULATED,  /* legal on hardware, but not one the hypervisor replays: refused, and said so */
};

/*
 * A load-list entry (VM entry or VM exit). The SDM's failures first: bits
 * 63:32 of the first quadword set, IA32_FS_BASE/GS_BASE, x2APIC MSRs
 * (0x800-0x8ff), SMM-only MSRs, microcode update trigger, and values a WRMSR
 * at CPL 0 would #GP on. Then the hypervisor's rule: only MSRs whose values
 * it can check completely are written on the hardware (EFER, PAT,
 * SYSENTER, STAR/LSTAR/CSTAR/FMASK, KERNEL_GS_BASE, TSC_AUX), so a value L1
 * chose can never fault in VMX root.
 */
enum nested_msr_verdict nested_msr_load_verdict(const struct vmx_msr_entry *e, uint64_t efer_supported);

/* A store-list entry (VM exit): the same MSRs, plus the TSC, are read for L1; bits 63:32 set fail (VMX abort). */
enum nested_msr_verdict nested_msr_store_verdict(const struct vmx_msr_entry *e);

#endif
