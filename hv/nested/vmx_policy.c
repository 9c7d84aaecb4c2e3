/* The VMX capability policy: the hardware's VMX MSRs in, everything VMX that L1 sees out (SDM Appendix A). */
#include "hv/nested/vmx_policy.h"
#include "hv/nested/vmcs12.h"
#include "hv/string.h"
#include "hv/vmx/vmx_caps.h"
#include "hv/vmx/vmx_defs.h"
#include "hv/x86.h"

/* The "default1" bits of each control (SDM A.2): the legacy control MSRs report them as must-be-1. */
#define PIN_DEFAULT1   0x00000016u
#define PROC_DEFAULT1  0x0401e172u
#define EXIT_DEFAULT1  0x00036dffu
#define ENTRY_DEFAULT1 0x000011ffu

/*
 * The controls the hypervisor emulates for L1; of the hardware's allowed-1
 * settings, only these are offered. Withheld, and why:
 *  pin:   posted interrupts (APIC virtualization, later issue).
 *  proc:  tertiary controls (not emulated; Bochs has none).
 *  proc2: virtual x2APIC, APIC-register virtualization, virtual-interrupt
 *         delivery (4, 8, 9: APIC virtualization beyond flexpriority); VM functions
 *         (13: EPTP switching), VMCS shadowing (14), ENCLS (15), EPT-#VE
 *         (18), PT (19, 24), mode-based EPT (22), SPP (23): not emulated; TSC scaling (25): L0's TSC offset is
 *         not composed with a multiplier yet; user wait/pause (26).
 *  exit/entry: load IA32_PERF_GLOBAL_CTRL (both sides: L1's PMU is not
 *         virtualized, and Bochs does not check that MSR's reserved bits
 *         at VM entry, so the consistency checks could not be tested
 *         against it); BNDCFGS, PT, CET, PKRS; entry to SMM and the
 *         dual-monitor treatment (no SMM monitor).
 */
static const uint32_t pin_offered = PIN_BASED_EXT_INTR_EXITING | PIN_BASED_NMI_EXITING |
				    PIN_BASED_VIRTUAL_NMIS | PIN_BASED_PREEMPTION_TIMER;
static const uint32_t proc_offered =
	CPU_BASED_INTR_WINDOW_EXITING | CPU_BASED_USE_TSC_OFFSETTING | CPU_BASED_HLT_EXITING |
	CPU_BASED_INVLPG_EXITING | CPU_BASED_MWAIT_EXITING | CPU_BASED_RDPMC_EXITING |
	CPU_BASED_RDTSC_EXITING | CPU_BASED_CR3_LOAD_EXITING | CPU_BASED_CR3_STORE_EXITING |
	CPU_BASED_CR8_LOAD_EXITING | CPU_BASED_CR8_STORE_EXITING | CPU_BASED_TPR_SHADOW |
	CPU_BASED_NMI_WINDOW_EXITING | CPU_BASED_MOV_DR_EXITING | CPU_BASED_UNCOND_IO_EXITING |
	CPU_BASED_USE_IO_BITMAPS | CPU_BASED_MONITOR_TRAP_FLAG | CPU_BASED_USE_MSR_BITMAPS |
	CPU_BASED_MONITOR_EXITING | CPU_BASED_PAUSE_EXITING | CPU_BASED_ACTIVATE_SECONDARY;
static const uint32_t proc2_offered =
	SECONDARY_DESC_TABLE_EXITING | SECONDARY_ENABLE_RDTSCP | SECONDARY_WBINVD_EXITING |
	SECONDARY_PAUSE_LOOP_EXITING | SECONDARY_RDRAND_EXITING | SECONDARY_ENABLE_INVPCID |
	SECONDARY_RDSEED_EXITING | SECONDARY_ENABLE_XSAVES | SECONDARY_ENABLE_EPT | SECONDARY_ENABLE_VPID |
	SECONDARY_UNRESTRICTED_GUEST | SECONDARY_ENABLE_PML | SECONDARY_VIRT_APIC_ACCESSES;

/*
 * IA32_VMX_EPT_VPID_CAP bits that L1's EPT (the shadow EPT, hv/nested/shadow_ept.c)
 * and VPID emulate, offered where the hardware has them (SDM A.10): execute-only,
 * 4-level walks, UC/WB, 2M/1G pages, INVEPT single/all, A/D flags, INVVPID of
 * every type. Not: advanced EPT-violation information (22), 5-level EPT,
 * supervisor shadow stacks.
 */
#define EPT_VPID_CAP_EMULATED (VMX_EPT_EXECUTE_ONLY | VMX_EPT_WALK_4 | VMX_EPT_MEMTYPE_UC | VMX_EPT_MEMTYPE_WB | \
			       VMX_EPT_2M_PAGE | VMX_EPT_1G_PAGE | VMX_EPT_INVEPT | VMX_EPT_AD |	  \
			       VMX_EPT_INVEPT_SINGLE | VMX_EPT_INVEPT_ALL | VMX_VPID_INVVPID |	  \
			       VMX_VPID_INVVPID_ADDR | VMX_VPID_INVVPID_SINGLE | VMX_VPID_INVVPID_ALL | \
			       BIT(43))
#define EPT_CAP_BITS  0x00000000ffffffffULL
#define VPID_CAP_BITS 0xffffffff00000000ULL
static const uint32_t exit_offered =
	VM_EXIT_SAVE_DEBUG_CONTROLS | VM_EXIT_HOST_ADDR_SPACE_SIZE | VM_EXIT_ACK_INTR_ON_EXIT |
	VM_EXIT_SAVE_IA32_PAT | VM_EXIT_LOAD_IA32_PAT | VM_EXIT_SAVE_IA32_EFER |
	VM_EXIT_LOAD_IA32_EFER | VM_EXIT_SAVE_PREEMPTION_TIMER;
static const uint32_t entry_offered = VM_ENTRY_LOAD_DEBUG_CONTROLS | VM_ENTRY_IA32E_MODE |
				      VM_ENTRY_LOAD_IA32_PAT | VM_ENTRY_LOAD_IA32_EFER;

/* IA32_VMX_MISC bits offered as the hardware has them (SDM A.6); the rest is ours or 0. */
#define MISC_PASSED (VMX_MISC_PREEMPTION_TIMER_RATE_MASK | VMX_MISC_SAVE_EFER_LMA |		\
		     VMX_MISC_ACTIVITY_HLT | VMX_MISC_ACTIVITY_SHUTDOWN |			\
		     VMX_MISC_ACTIVITY_WAIT_SIPI | VMX_MISC_VMWRITE_ANY_FIELD |			\
		     VMX_MISC_ZERO_LEN_INJECTION)
#define MISC_CR3_TARGETS(m) (((m) >> 16) & 0x1ff)
#define CR3_TARGETS_EMULATED 4 /* vmcs12 has CR3-target values 0-3 */

/* The allowed-1 settings of a control MSR, and of its TRUE_* twin when IA32_VMX_BASIC[55] says it exists. */
static uint32_t may_be_1(const struct vmx_hw_msrs *hw, uint64_t legacy, uint64_t true_msr)
{
	return (uint32_t)(((hw->basic & VMX_BASIC_TRUE_CTLS) ? true_msr : legacy) >> 32);
}

static uint32_t must_be_1(const struct vmx_hw_msrs *hw, uint64_t legacy, uint64_t true_msr)
{
	return (uint32_t)((hw->basic & VMX_BASIC_TRUE_CTLS) ? true_msr : legacy);
}

/* "Offer both or neither" for a VM-entry "load" control and its VM-exit twin (Linux's kvm_intel refuses a lone one). */
static void pair(uint32_t *exit, uint32_t *entry, uint32_t exit_bit, uint32_t entry_bit)
{
	if (!(*exit & exit_bit) || !(*entry & entry_bit)) {
		*exit &= ~exit_bit;
		*entry &= ~entry_bit;
	}
}

struct offered_controls {
	uint32_t pin, proc, proc2, exit, entry;  /* allowed-1, before must-be-1 bits */
};

/* Which emulated controls the hardware can also run (vmcs02 needs them), with their dependencies (SDM A.3-A.5). */
static struct offered_controls offered_controls(const struct vmx_hw_msrs *hw)
{
	struct offered_controls c = {
		.pin = pin_offered & may_be_1(hw, hw->pinbased, hw->true_pinbased),
		.proc = proc_offered & may_be_1(hw, hw->procbased, hw->true_procbased),
		.exit = exit_offered & may_be_1(hw, hw->exit, hw->true_exit),
		.entry = entry_offered & may_be_1(hw, hw->entry, hw->true_entry),
	};

	if (c.proc & CPU_BASED_ACTIVATE_SECONDARY)
		c.proc2 = proc2_offered & (uint32_t)(hw->procbased2 >> 32);
	/* Unrestricted guest and PML need EPT (SDM 26.2.1.1); EPT needs its 4-level WB walks and INVEPT. */
	if ((hw->ept_vpid_cap & (VMX_EPT_WALK_4 | VMX_EPT_MEMTYPE_WB | VMX_EPT_INVEPT)) !=
	    (VMX_EPT_WALK_4 | VMX_EPT_MEMTYPE_WB | VMX_EPT_INVEPT))
		c.proc2 &= ~(uint32_t)SECONDARY_ENABLE_EPT;
	if (!(c.proc2 & SECONDARY_ENABLE_EPT))
		c.proc2 &= ~(uint32_t)(SECONDARY_UNRESTRICTED_GUEST | SECONDARY_ENABLE_PML);
	if (!(c.proc2 & SECONDARY_ENABLE_EPT) || !(hw->ept_vpid_cap & VMX_EPT_AD))
		c.proc2 &= ~(uint32_t)SECONDARY_ENABLE_PML; /* PML logs dirty flags: the offer has A/D with it */
	if (!(hw->ept_vpid_cap & VMX_VPID_INVVPID))
		c.proc2 &= ~(uint32_t)SECONDARY_ENABLE_VPID;
	if (!c.proc2)
		c.proc &= ~(uint32_t)CPU_BASED_ACTIVATE_SECONDARY;
	if (!(c.pin & PIN_BASED_VIRTUAL_NMIS))  /* NMI-window exiting needs virtual NMIs (SDM 26.2.1.1) */
		c.proc &= ~(uint32_t)CPU_BASED_NMI_WINDOW_EXITING;
	if (!(c.pin & PIN_BASED_PREEMPTION_TIMER))
		c.exit &= ~(uint32_t)VM_EXIT_SAVE_PREEMPTION_TIMER;
	pair(&c.exit, &c.entry, VM_EXIT_LOAD_IA32_PAT, VM_ENTRY_LOAD_IA32_PAT);
	pair(&c.exit, &c.entry, VM_EXIT_LOAD_IA32_EFER, VM_ENTRY_LOAD_IA32_EFER);
	return c;
}

static void set_msr(struct vmx_offer *o, uint32_t msr, uint64_t val)
{
	o->msr[msr - VMX_MSR_FIRST] = val;
	o->msr_exists |= BIT(msr - VMX_MSR_FIRST);
}

/*
 * A control field as a legacy and a TRUE MSR (SDM A.3.1): must-be-1 bits
 * are the hardware's own (vmcs02 must have them anyway); the legacy MSR
 * adds every default1 bit. Allowed-1 = offered | must-be-1.
 */
static void set_controls(struct vmx_offer *o, uint32_t legacy_msr, uint32_t true_msr,
			 uint32_t must1, uint32_t offered, uint32_t default1)
{
	uint32_t may1 = offered | must1;

	set_msr(o, legacy_msr, (uint64_t)(may1 | default1) << 32 | (must1 | default1));
	if (true_msr)
		set_msr(o, true_msr, (uint64_t)may1 << 32 | must1);
}

/* The vmcs12 fields that exist for these controls (SDM Appendix B footnotes). */
static uint32_t vmcs12_features_of(const struct offered_controls *c)
{
	uint32_t f = 0;

	f |= c->proc & CPU_BASED_TPR_SHADOW ? VMCS12_F_TPR_SHADOW : 0;   /* TPR threshold, virtual-APIC page */
	f |= c->proc & CPU_BASED_ACTIVATE_SECONDARY ? VMCS12_F_SECONDARY : 0;
	f |= c->proc2 & SECONDARY_PAUSE_LOOP_EXITING ? VMCS12_F_PLE : 0;
	f |= c->proc2 & SECONDARY_ENABLE_XSAVES ? VMCS12_F_XSAVES : 0;
	f |= c->pin & PIN_BASED_PREEMPTION_TIMER ? VMCS12_F_PREEMPTION_TIMER : 0;
	f |= c->proc2 & SECONDARY_ENABLE_EPT ? VMCS12_F_EPT : 0;    /* EPTP, guest-physical address, PDPTEs */
	f |= c->proc2 & SECONDARY_ENABLE_VPID ? VMCS12_F_VPID : 0;
	f |= c->proc2 & SECONDARY_ENABLE_PML ? VMCS12_F_PML : 0;    /* PML address, guest PML index */
	f |= c->proc2 & SECONDARY_VIRT_APIC_ACCESSES ? VMCS12_F_APIC_ACCESS : 0; /* APIC-access address */
	if ((c->exit & (VM_EXIT_SAVE_IA32_PAT | VM_EXIT_LOAD_IA32_PAT)) || (c->entry & VM_ENTRY_LOAD_IA32_PAT))
		f |= VMCS12_F_PAT;
	if ((c->exit & (VM_EXIT_SAVE_IA32_EFER | VM_EXIT_LOAD_IA32_EFER)) ||
	    (c->entry & VM_ENTRY_LOAD_IA32_EFER))
		f |= VMCS12_F_EFER;
	return f;
}

/* IA32_VMX_VMCS_ENUM bits 9:1: the highest field index of any encoding L1's VMCS has (SDM A.9). */
static uint64_t vmcs_enum_of(uint32_t features)
{
	uint32_t highest = 0;

	for (size_t i = 0; i < vmcs12_nr_fields; i++) {
		uint32_t index = (vmcs12_fields[i].encoding >> 1) & 0x1ff;

		if (vmcs12_field_exists(&vmcs12_fields[i], features) && index > highest)
			highest = index;
	}
	return (uint64_t)highest << 1;
}

/*
 * IA32_VMX_BASIC (SDM A.1): our revision and 4 KiB region, WB, 64-bit
 * addresses, TRUE controls; bit 56 (any error code on injected hardware
 * exceptions) as the hardware has it, since vmcs02 carries L1's injection.
 */
static uint64_t basic_of(const struct vmx_hw_msrs *hw)
{
	return VMCS12_REVISION_ID | (uint64_t)PAGE_SIZE << 32 | (uint64_t)VMX_MEMTYPE_WB << 50 |
	       (hw->basic & (VMX_BASIC_INOUT_INFO | BIT(56))) | VMX_BASIC_TRUE_CTLS;
}

static uint64_t misc_of(const struct vmx_hw_msrs *hw)
{
	uint64_t targets = MISC_CR3_TARGETS(hw->misc);

	if (targets > CR3_TARGETS_EMULATED)
		targets = CR3_TARGETS_EMULATED;
	/* MSR-list size 512 (bits 27:25 = 0), no PT, no SMM monitor, MSEG revision 0. */
	return (hw->misc & MISC_PASSED) | targets << 16;
}

static void offer_msrs(const struct vmx_hw_msrs *hw, struct vmx_offer *o)
{
	struct offered_controls c = offered_controls(hw);

	set_msr(o, MSR_IA32_VMX_BASIC, basic_of(hw));
	set_controls(o, MSR_IA32_VMX_PINBASED_CTLS, MSR_IA32_VMX_TRUE_PINBASED_CTLS,
		     must_be_1(hw, hw->pinbased, hw->true_pinbased), c.pin, PIN_DEFAULT1);
	set_controls(o, MSR_IA32_VMX_PROCBASED_CTLS, MSR_IA32_VMX_TRUE_PROCBASED_CTLS,
		     must_be_1(hw, hw->procbased, hw->true_procbased), c.proc, PROC_DEFAULT1);
	set_controls(o, MSR_IA32_VMX_EXIT_CTLS, MSR_IA32_VMX_TRUE_EXIT_CTLS,
		     must_be_1(hw, hw->exit, hw->true_exit), c.exit, EXIT_DEFAULT1);
	set_controls(o, MSR_IA32_VMX_ENTRY_CTLS, MSR_IA32_VMX_TRUE_ENTRY_CTLS,
		     must_be_1(hw, hw->entry, hw->true_entry), c.entry, ENTRY_DEFAULT1);
	if (c.proc & CPU_BASED_ACTIVATE_SECONDARY)  /* 0x48b exists only then (SDM A.3.3) */
		set_controls(o, MSR_IA32_VMX_PROCBASED_CTLS2, 0, (uint32_t)hw->procbased2 & c.proc2,
			     c.proc2, 0);
	set_msr(o, MSR_IA32_VMX_MISC, misc_of(hw));
	set_msr(o, MSR_IA32_VMX_CR0_FIXED0, hw->cr0_fixed0);
	set_msr(o, MSR_IA32_VMX_CR0_FIXED1, hw->cr0_fixed1);
	set_msr(o, MSR_IA32_VMX_CR4_FIXED0, hw->cr4_fixed0);
	set_msr(o, MSR_IA32_VMX_CR4_FIXED1, hw->cr4_fixed1 & (hw->l1_cr4_allowed | hw->cr4_fixed0));
	if (c.proc2 & (SECONDARY_ENABLE_EPT | SECONDARY_ENABLE_VPID))  /* 0x48c exists with either (SDM A.10) */
		set_msr(o, MSR_IA32_VMX_EPT_VPID_CAP, hw->ept_vpid_cap & EPT_VPID_CAP_EMULATED &
			((c.proc2 & SECONDARY_ENABLE_EPT ? EPT_CAP_BITS : 0) |
			 (c.proc2 & SECONDARY_ENABLE_VPID ? VPID_CAP_BITS : 0)));
	o->vmcs12_features = vmcs12_features_of(&c);
	set_msr(o, MSR_IA32_VMX_VMCS_ENUM, vmcs_enum_of(o->vmcs12_features));
	/*
	 * Not offered, so these MSRs do not exist and read as #GP, as on a CPU
	 * without the feature: VMFUNC (0x491, A.11), PROCBASED_CTLS3 (0x492,
	 * tertiary controls), EXIT_CTLS2 (0x493, secondary exit controls).
	 */
}

void vmx_offer_compute(const struct vmx_hw_msrs *hw, bool nested_on, struct vmx_offer *o)
{
	memset(o, 0, sizeof(*o));
	o->nested = nested_on && hw->cpuid_vmx;
	/* Locked either way (L1 cannot write it); SMX is never offered (SDM 24.7). */
	o->feature_control = (hw->feature_control &
			      ~(uint64_t)(FEATURE_CONTROL_VMX_IN_SMX | FEATURE_CONTROL_VMX_OUTSIDE_SMX)) |
			     FEATURE_CONTROL_LOCKED;
	if (!o->nested)
		return;
	o->cpuid_vmx = true;
	o->cr4_vmxe_allowed = true;
	o->feature_control |= FEATURE_CONTROL_VMX_OUTSIDE_SMX;
	offer_msrs(hw, o);
}

uint64_t vmx_offer_msr(const struct vmx_offer *o, uint32_t msr)
{
	if (msr < VMX_MSR_FIRST || msr > VMX_MSR_LAST)
		return 0;
	return o->msr[msr - VMX_MSR_FIRST];
}

/* RDMSR of IA32_FEATURE_CONTROL or 0x480-0x493 by L1. */
enum vmx_msr_access vmx_offer_rdmsr(const struct vmx_offer *o, uint32_t msr, uint64_t *val)
{
	if (msr == MSR_IA32_FEATURE_CONTROL) {
		*val = o->feature_control;
		return VMX_MSR_OK;
	}
	if (msr < VMX_MSR_FIRST || msr > VMX_MSR_LAST)
		return VMX_MSR_NOT_VMX;
	if (!(o->msr_exists & BIT(msr - VMX_MSR_FIRST)))
		return VMX_MSR_GP;
	*val = o->msr[msr - VMX_MSR_FIRST];
	return VMX_MSR_OK;
}

/* WRMSR: FEATURE_CONTROL is locked and the capability MSRs are read-only; both #GP (SDM 24.7, A.1). */
enum vmx_msr_access vmx_offer_wrmsr(const struct vmx_offer *o, uint32_t msr)
{
	(void)o;
	if (msr == MSR_IA32_FEATURE_CONTROL || (msr >= VMX_MSR_FIRST && msr <= VMX_MSR_LAST))
		return VMX_MSR_GP;
	return VMX_MSR_NOT_VMX;
}
