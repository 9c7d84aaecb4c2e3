/* Derives vmcs01's VMX controls from the capability MSRs: pure, so the host tests can feed it any CPU. */
#include "hv/vmx/vmx_caps.h"
#include "hv/vmx/vmx_defs.h"

uint32_t vmx_adjust_controls(uint64_t cap_msr, uint32_t required, uint32_t wanted, uint32_t *missing)
{
	uint32_t must_be_one = (uint32_t)cap_msr;       /* allowed-0 settings, SDM A.3.1 */
	uint32_t may_be_one = (uint32_t)(cap_msr >> 32); /* allowed-1 settings */

	*missing = required & ~may_be_one;
	return ((required | wanted) & may_be_one) | must_be_one;
}

struct control_need {
	uint32_t bit;
	const char *name;
};

/* What the hypervisor cannot run L1 without, by control field, in the order a report should name them. */
/* NMIs exit and L1's are injected, NMI-window exits need virtual NMIs (SDM 24.6.1, 24.6.2). */
static const struct control_need pin_needs[] = {
	{ PIN_BASED_NMI_EXITING, "NMI exiting" },
	{ PIN_BASED_VIRTUAL_NMIS, "virtual NMIs" },
};
static const struct control_need proc_needs[] = {
	{ CPU_BASED_ACTIVATE_SECONDARY, "secondary processor-based VM-execution controls" },
	{ CPU_BASED_USE_IO_BITMAPS, "I/O bitmaps" },
	{ CPU_BASED_USE_MSR_BITMAPS, "MSR bitmaps" },
};
static const struct control_need proc2_needs[] = {
	{ SECONDARY_ENABLE_EPT, "EPT (extended page tables)" },
	{ SECONDARY_UNRESTRICTED_GUEST, "unrestricted guest" },
};
static const struct control_need exit_needs[] = {
	{ VM_EXIT_HOST_ADDR_SPACE_SIZE, "64-bit host (VM-exit control 'host address-space size')" },
	{ VM_EXIT_LOAD_IA32_EFER, "VM-exit control 'load IA32_EFER'" },
	{ VM_EXIT_SAVE_IA32_EFER, "VM-exit control 'save IA32_EFER'" },
};
static const struct control_need entry_needs[] = {
	{ VM_ENTRY_LOAD_IA32_EFER, "VM-entry control 'load IA32_EFER'" },
};

static uint32_t need_mask(const struct control_need *needs, size_t n)
{
	uint32_t m = 0;

	for (size_t i = 0; i < n; i++)
		m |= needs[i].bit;
	return m;
}

static const char *first_missing(const struct control_need *needs, size_t n, uint32_t missing)
{
	for (size_t i = 0; i < n; i++)
		if (missing & needs[i].bit)
			return needs[i].name;
	return "an unnamed VMX control";
}

#define ADJUST(field, cap, needs, wanted)                                                       \
	do {                                                                                      \
		uint32_t miss_;                                                                   \
		out->field = vmx_adjust_controls(cap, need_mask(needs, ARRAY_SIZE(needs)), wanted, &miss_); \
		if (miss_) {                                                                      \
			*missing = first_missing(needs, ARRAY_SIZE(needs), miss_);                \
			return -1;                                                                \
		}                                                                                 \
	} while (0)

/* The EPT features ept.c and the EPTP rely on (SDM 25.6.11, A.10). */
static const char *ept_caps_missing(const struct vmx_caps *caps)
{
	if (!(caps->ept_vpid & VMX_EPT_WALK_4))
		return "EPT with a 4-level page walk";
	if (!(caps->ept_vpid & (VMX_EPT_MEMTYPE_WB | VMX_EPT_MEMTYPE_UC)))
		return "an EPT paging-structure memory type (WB or UC)";
	if (!(caps->ept_vpid & VMX_EPT_INVEPT) ||
	    !(caps->ept_vpid & (VMX_EPT_INVEPT_SINGLE | VMX_EPT_INVEPT_ALL)))
		return "INVEPT";
	return NULL;
}

int vmx_compute_controls(const struct vmx_caps *caps, struct vmx_controls *out, const char **missing)
{
	/*
	 * HLT exits let the hypervisor see a guest that halts with interrupts off
	 * (it could never wake); it re-enters in the HLT activity state otherwise,
	 * which needs IA32_VMX_MISC[6] (SDM A.6).
	 */
	uint32_t proc_wanted = (caps->misc & VMX_MISC_ACTIVITY_HLT) ? CPU_BASED_HLT_EXITING : 0;
	/* Instructions L1 may use natively when the CPU can let it (otherwise #UD; CPUID hides them). */
	uint32_t proc2_wanted = SECONDARY_ENABLE_VPID | SECONDARY_ENABLE_RDTSCP | SECONDARY_ENABLE_INVPCID |
				SECONDARY_ENABLE_XSAVES | SECONDARY_ENABLE_USR_WAIT_PAUSE;
	const char *ept_missing;

	*missing = NULL;
	if (VMX_BASIC_MEMTYPE(caps->basic) != VMX_MEMTYPE_WB) {
		*missing = "write-back VMCS memory type (IA32_VMX_BASIC[53:50])";
		return -1;
	}
	ADJUST(pin, caps->pinbased, pin_needs, 0);
	if (!((caps->procbased >> 32) & CPU_BASED_NMI_WINDOW_EXITING)) {
		*missing = "NMI-window exiting";
		return -1;
	}
	ADJUST(proc, caps->procbased, proc_needs, proc_wanted);
	ADJUST(proc2, caps->procbased2, proc2_needs, proc2_wanted);
	ADJUST(exit, caps->exit, exit_needs,
	       VM_EXIT_SAVE_IA32_PAT | VM_EXIT_LOAD_IA32_PAT | VM_EXIT_SAVE_DEBUG_CONTROLS);
	ADJUST(entry, caps->entry, entry_needs, VM_ENTRY_LOAD_IA32_PAT | VM_ENTRY_LOAD_DEBUG_CONTROLS);
	ept_missing = ept_caps_missing(caps);
	if (ept_missing) {
		*missing = ept_missing;
		return -1;
	}
	/* VPID without INVVPID could not flush L1's mappings when we emulate CR writes. */
	if ((out->proc2 & SECONDARY_ENABLE_VPID) &&
	    (!(caps->ept_vpid & VMX_VPID_INVVPID) ||
	     !(caps->ept_vpid & (VMX_VPID_INVVPID_SINGLE | VMX_VPID_INVVPID_ALL))))
		out->proc2 &= ~(uint32_t)SECONDARY_ENABLE_VPID;
	/* IA-32e mode guest is chosen per guest at VMCS setup, never defaulted. */
	out->entry &= ~(uint32_t)VM_ENTRY_IA32E_MODE;
	return 0;
}
