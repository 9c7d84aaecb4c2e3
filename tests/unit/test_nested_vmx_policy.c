/* Host tests for the VMX capability policy: Bochs' real MSR values in, Linux 6.1's kvm_intel requirements out. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hv/nested/vmx_policy.h"
#include "hv/nested/vmcs12.h"
#include "hv/vmx/vmx_caps.h"
#include "hv/vmx/vmx_defs.h"
#include "hv/x86.h"

/*
 * Measured, not copied: a Multiboot guest read IA32_FEATURE_CONTROL and
 * 0x480-0x491 bare on Debian's Bochs 2.7 (2.7+dfsg-4+deb12u1) with
 * cpu model=tigerlake, corei5_lynnfield_750 and core2_penryn_t9600; an MSR
 * that faulted is 0 here (penryn: 0x48c and 0x491, lynnfield: 0x491).
 */
static const struct vmx_hw_msrs tigerlake = {
	.cpuid_vmx = true, .feature_control = 0x5, .basic = 0x01d8100000000004ULL,
	.pinbased = 0x0000007f00000016ULL, .procbased = 0xfff9fffe0401e172ULL,
	.exit = 0x107fffff00036dffULL, .entry = 0x0010ffff000011ffULL, .misc = 0x00000000600401e0ULL,
	.cr0_fixed0 = 0x80000021, .cr0_fixed1 = 0xffffffff, .cr4_fixed0 = 0x2000, .cr4_fixed1 = 0xf72fff,
	.vmcs_enum = 0x34, .procbased2 = 0x02977fff00000000ULL, .ept_vpid_cap = 0x00000f0106b34141ULL,
	.true_pinbased = 0x0000007f00000016ULL, .true_procbased = 0xfff9fffe04006172ULL,
	.true_exit = 0x107fffff00036dfbULL, .true_entry = 0x0010ffff000011fbULL, .vmfunc = 0x1,
	.l1_cr4_allowed = ~0ULL,
};
static const struct vmx_hw_msrs lynnfield = {
	.cpuid_vmx = true, .feature_control = 0x5, .basic = 0x00d810000000002bULL,
	.pinbased = 0x0000007f00000016ULL, .procbased = 0xf7f9fffe0401e172ULL,
	.exit = 0x007fffff00036dffULL, .entry = 0x0000ffff000011ffULL, .misc = 0x401e0,
	.cr0_fixed0 = 0x80000021, .cr0_fixed1 = 0xffffffff, .cr4_fixed0 = 0x2000, .cr4_fixed1 = 0x67ff,
	.vmcs_enum = 0x34, .procbased2 = 0x0000007f00000000ULL, .ept_vpid_cap = 0x00000f0106114141ULL,
	.true_pinbased = 0x0000007f00000016ULL, .true_procbased = 0xf7f9fffe04006172ULL,
	.true_exit = 0x007fffff00036dfbULL, .true_entry = 0x0000ffff000011fbULL,
	.l1_cr4_allowed = ~0ULL,
};
static const struct vmx_hw_msrs penryn = {
	.cpuid_vmx = true, .feature_control = 0x5, .basic = 0x00d810000000002bULL,
	.pinbased = 0x0000003f00000016ULL, .procbased = 0xf7f9fffe0401e172ULL,
	.exit = 0x0003ffff00036dffULL, .entry = 0x00003fff000011ffULL, .misc = 0x401e0,
	.cr0_fixed0 = 0x80000021, .cr0_fixed1 = 0xffffffff, .cr4_fixed0 = 0x2000, .cr4_fixed1 = 0x467ff,
	.vmcs_enum = 0x34, .procbased2 = 0x0000004100000000ULL,
	.true_pinbased = 0x0000003f00000016ULL, .true_procbased = 0xf7f9fffe04006172ULL,
	.true_exit = 0x0003ffff00036dfbULL, .true_entry = 0x00003fff000011fbULL,
	.l1_cr4_allowed = ~0ULL,
};
static const struct vmx_hw_msrs *const models[] = { &tigerlake, &lynnfield, &penryn };

static struct vmx_offer o;

static uint64_t rd(uint32_t msr)
{
	uint64_t v = 0xbad;

	assert_int_equal(vmx_offer_rdmsr(&o, msr, &v), VMX_MSR_OK);
	return v;
}

/*
 * Linux 6.1's kvm_intel setup_vmcs_config (arch/x86/kvm/vmx/vmx.c, the
 * KVM_REQUIRED_/KVM_OPTIONAL_VMX_* sets of vmx.h), as facts: the plain
 * RDMSRs of the legacy control MSRs (a #GP there oopses: assert it cannot
 * happen), required settings or -EIO, an inconsistent entry/exit pair or
 * EPT/VPID capability bits without their secondary control: -EIO
 * (error_on_inconsistent_vmcs_config defaults to true), IA32_VMX_BASIC:
 * region <= 4 KiB, no 32-bit address limit, WB. Checked against Debian's
 * 6.1.0-56 kvm-intel.ko: setup_vmcs_config passes the required sets as
 * immediates (0x21998e8c with 0x482, 0x8204 with 0x483, 0x9 with 0x481,
 * 0x204 with 0x484) and holds the "Inconsistent VM-Entry/VM-Exit pair" and
 * "EPT/VPID CAP should not exist" messages.
 */
#define EIO 5
struct kvm_config { uint32_t pin, proc, proc2, exit, entry; uint64_t ept_vpid; };

static int kvm_adjust(uint32_t min, uint32_t opt, uint32_t msr, uint32_t *out)
{
	uint64_t v = rd(msr);
	uint32_t ctl = ((min | opt) & (uint32_t)(v >> 32)) | (uint32_t)v;

	if (min & ~ctl)
		return -EIO;
	*out = ctl;
	return 0;
}

static int kvm61_setup_vmcs_config(struct kvm_config *k)
{
	static const uint32_t pairs[][2] = {
		{ VM_ENTRY_LOAD_PERF_GLOBAL_CTRL, VM_EXIT_LOAD_PERF_GLOBAL_CTRL },
		{ VM_ENTRY_LOAD_IA32_PAT, VM_EXIT_LOAD_IA32_PAT },
		{ VM_ENTRY_LOAD_IA32_EFER, VM_EXIT_LOAD_IA32_EFER },
		{ VM_ENTRY_LOAD_BNDCFGS, VM_EXIT_CLEAR_BNDCFGS },
		{ BIT(18) /* load RTIT_CTL */, BIT(25) /* clear RTIT_CTL */ },
	};
	uint32_t proc_min = BIT(2) | BIT(3) | BIT(7) | BIT(9) | BIT(10) | BIT(11) | BIT(15) | BIT(16) |
			    BIT(19) | BIT(20) | BIT(23) | BIT(24) | BIT(29);
	uint32_t proc_opt = BIT(12) | BIT(21) | BIT(25) | BIT(27) | BIT(28) | BIT(22) | BIT(30) | BIT(31) |
			    BIT(17);
	uint64_t basic = rd(MSR_IA32_VMX_BASIC), v;

	memset(k, 0, sizeof(*k));
	if (kvm_adjust(proc_min, proc_opt, MSR_IA32_VMX_PROCBASED_CTLS, &k->proc))
		return -EIO;
	if (k->proc & CPU_BASED_TPR_SHADOW)
		k->proc &= ~(uint32_t)(CPU_BASED_CR8_LOAD_EXITING | CPU_BASED_CR8_STORE_EXITING);
	if ((k->proc & CPU_BASED_ACTIVATE_SECONDARY) &&
	    kvm_adjust(0, 0xffffffff, MSR_IA32_VMX_PROCBASED_CTLS2, &k->proc2))
		return -EIO;
	if (vmx_offer_rdmsr(&o, MSR_IA32_VMX_EPT_VPID_CAP, &v) == VMX_MSR_OK) /* rdmsr_safe */
		k->ept_vpid = v;
	if ((!(k->proc2 & SECONDARY_ENABLE_EPT) && (uint32_t)k->ept_vpid) ||
	    (!(k->proc2 & SECONDARY_ENABLE_VPID) && (k->ept_vpid >> 32)))
		return -EIO;
	if (kvm_adjust(BIT(2) | BIT(9) | BIT(15), 0xffffffff & ~(BIT(2) | BIT(9) | BIT(15)),
		       MSR_IA32_VMX_EXIT_CTLS, &k->exit) ||
	    kvm_adjust(BIT(0) | BIT(3), BIT(5) | BIT(6) | BIT(7), MSR_IA32_VMX_PINBASED_CTLS, &k->pin) ||
	    kvm_adjust(BIT(2) | BIT(9), 0xffffffff & ~(BIT(2) | BIT(9) | BIT(10) | BIT(11)),
		       MSR_IA32_VMX_ENTRY_CTLS, &k->entry))
		return -EIO;
	for (size_t i = 0; i < ARRAY_SIZE(pairs); i++)
		if (!(k->entry & pairs[i][0]) != !(k->exit & pairs[i][1]))
			return -EIO;
	if (VMX_BASIC_REGION_SIZE(basic) > 4096 || (basic & VMX_BASIC_32BIT_ADDR) ||
	    VMX_BASIC_MEMTYPE(basic) != VMX_MEMTYPE_WB)
		return -EIO;
	(void)rd(MSR_IA32_VMX_MISC);
	return 0;
}

static void test_tigerlake_offer_satisfies_kvm_intel_6_1(void **state)
{
	struct kvm_config k;

	(void)state;
	for (size_t m = 0; m < ARRAY_SIZE(models); m++) {
		vmx_offer_compute(models[m], true, &o);
		assert_int_equal(kvm61_setup_vmcs_config(&k), 0);
		/* EPT/VPID capabilities only where the controls are: kvm_intel refuses anything else. */
		if (!(k.proc2 & SECONDARY_ENABLE_EPT))
			assert_int_equal((uint32_t)k.ept_vpid, 0);
		if (!(k.proc2 & SECONDARY_ENABLE_VPID))
			assert_int_equal(k.ept_vpid >> 32, 0);
	}
	/* On tigerlake kvm_intel's parameters follow bare Bochs': ept, vpid, unrestricted_guest, pml all Y. */
	vmx_offer_compute(&tigerlake, true, &o);
	assert_int_equal(kvm61_setup_vmcs_config(&k), 0);
	assert_int_equal(k.proc2 & (SECONDARY_ENABLE_EPT | SECONDARY_ENABLE_VPID | SECONDARY_UNRESTRICTED_GUEST |
				    SECONDARY_ENABLE_PML),
			 SECONDARY_ENABLE_EPT | SECONDARY_ENABLE_VPID | SECONDARY_UNRESTRICTED_GUEST | SECONDARY_ENABLE_PML);
	assert_int_equal(k.ept_vpid & (VMX_EPT_WALK_4 | VMX_EPT_MEMTYPE_WB | VMX_EPT_INVEPT | VMX_EPT_AD |
				       VMX_EPT_2M_PAGE | VMX_EPT_1G_PAGE | VMX_VPID_INVVPID),
			 VMX_EPT_WALK_4 | VMX_EPT_MEMTYPE_WB | VMX_EPT_INVEPT | VMX_EPT_AD | VMX_EPT_2M_PAGE |
			 VMX_EPT_1G_PAGE | VMX_VPID_INVVPID);
}

/* The required allowed-1 sets, spelled out, in the legacy MSRs kvm_intel reads and in the TRUE ones. */
static void test_kvm_required_allowed1_bits(void **state)
{
	static const struct { uint32_t legacy, true_msr, bits; } need[] = {
		{ MSR_IA32_VMX_PINBASED_CTLS, MSR_IA32_VMX_TRUE_PINBASED_CTLS, BIT(0) | BIT(3) },
		{ MSR_IA32_VMX_PROCBASED_CTLS, MSR_IA32_VMX_TRUE_PROCBASED_CTLS,
		  BIT(2) | BIT(3) | BIT(7) | BIT(9) | BIT(10) | BIT(11) | BIT(15) | BIT(16) | BIT(19) |
		  BIT(20) | BIT(23) | BIT(24) | BIT(29) },
		{ MSR_IA32_VMX_EXIT_CTLS, MSR_IA32_VMX_TRUE_EXIT_CTLS, BIT(2) | BIT(9) | BIT(15) },
		{ MSR_IA32_VMX_ENTRY_CTLS, MSR_IA32_VMX_TRUE_ENTRY_CTLS, BIT(2) | BIT(9) },
	};

	(void)state;
	vmx_offer_compute(&tigerlake, true, &o);
	for (size_t i = 0; i < ARRAY_SIZE(need); i++) {
		assert_int_equal((rd(need[i].legacy) >> 32) & need[i].bits, need[i].bits);
		assert_int_equal((rd(need[i].true_msr) >> 32) & need[i].bits, need[i].bits);
	}
}

/* What this issue offers from tigerlake, beyond kvm_intel's minimum (the list). */
static void test_tigerlake_offers_the_emulated_features(void **state)
{
	(void)state;
	vmx_offer_compute(&tigerlake, true, &o);
	assert_int_equal((rd(MSR_IA32_VMX_TRUE_PINBASED_CTLS) >> 32) & 0xff, 0x7f);
	assert_int_equal((rd(MSR_IA32_VMX_TRUE_PROCBASED_CTLS) >> 32) &
			 (CPU_BASED_USE_IO_BITMAPS | CPU_BASED_USE_MSR_BITMAPS | CPU_BASED_TPR_SHADOW |
			  CPU_BASED_NMI_WINDOW_EXITING | CPU_BASED_ACTIVATE_SECONDARY),
			 CPU_BASED_USE_IO_BITMAPS | CPU_BASED_USE_MSR_BITMAPS | CPU_BASED_TPR_SHADOW |
			 CPU_BASED_NMI_WINDOW_EXITING | CPU_BASED_ACTIVATE_SECONDARY);
	assert_int_equal(rd(MSR_IA32_VMX_TRUE_EXIT_CTLS) >> 32,
			 0x36dfb | VM_EXIT_SAVE_DEBUG_CONTROLS | VM_EXIT_HOST_ADDR_SPACE_SIZE | VM_EXIT_ACK_INTR_ON_EXIT |
			 VM_EXIT_SAVE_IA32_PAT | VM_EXIT_LOAD_IA32_PAT | VM_EXIT_SAVE_IA32_EFER |
			 VM_EXIT_LOAD_IA32_EFER | VM_EXIT_SAVE_PREEMPTION_TIMER);
	assert_int_equal(rd(MSR_IA32_VMX_TRUE_ENTRY_CTLS) >> 32,
			 0x11fb | VM_ENTRY_LOAD_DEBUG_CONTROLS | VM_ENTRY_IA32E_MODE | VM_ENTRY_LOAD_IA32_PAT | VM_ENTRY_LOAD_IA32_EFER);
	/* MISC: rate 0, LMA store, HLT/shutdown/wait-for-SIPI, 4 CR3 targets, VMWRITE any field, length 0. */
	assert_int_equal(rd(MSR_IA32_VMX_MISC), 0x600401e0);
	assert_int_equal(rd(MSR_IA32_VMX_CR0_FIXED0), 0x80000021);
	assert_int_equal(rd(MSR_IA32_VMX_CR4_FIXED0), X86_CR4_VMXE);
	/* Fields: TPR threshold (TPR shadow), PLE, XSS bitmap, timer, PAT, EFER, EPT, VPID, PML, APIC-access address. */
	assert_int_equal(o.vmcs12_features,
			 VMCS12_F_TPR_SHADOW | VMCS12_F_SECONDARY | VMCS12_F_PLE | VMCS12_F_XSAVES |
			 VMCS12_F_PREEMPTION_TIMER | VMCS12_F_PAT | VMCS12_F_EFER | VMCS12_F_EPT | VMCS12_F_VPID |
			 VMCS12_F_PML | VMCS12_F_APIC_ACCESS);
}

static void check_subset(uint64_t offered, uint64_t hw, uint32_t msr)
{
	uint32_t may1 = (uint32_t)(offered >> 32), hw_may1 = (uint32_t)(hw >> 32);

	/* Offered allowed-1 within the hardware's; the hardware's must-be-1 bits kept (vmcs02 needs them). */
	if ((may1 & ~hw_may1) || ((uint32_t)hw & ~(uint32_t)offered))
		fail_msg("msr %#x: offered %#llx, hardware %#llx", msr, (unsigned long long)offered,
			 (unsigned long long)hw);
}

static void test_nothing_offered_the_hardware_lacks(void **state)
{
	(void)state;
	for (size_t m = 0; m < ARRAY_SIZE(models); m++) {
		const struct vmx_hw_msrs *hw = models[m];

		vmx_offer_compute(hw, true, &o);
		check_subset(rd(0x481), hw->pinbased, 0x481);
		check_subset(rd(0x482), hw->procbased, 0x482);
		check_subset(rd(0x483), hw->exit, 0x483);
		check_subset(rd(0x484), hw->entry, 0x484);
		check_subset(rd(0x48b), hw->procbased2, 0x48b);
		check_subset(rd(0x48d), hw->true_pinbased, 0x48d);
		check_subset(rd(0x48e), hw->true_procbased, 0x48e);
		check_subset(rd(0x48f), hw->true_exit, 0x48f);
		check_subset(rd(0x490), hw->true_entry, 0x490);
		assert_int_equal(rd(0x485) & ~hw->misc & ~0x1ff0000ULL, 0);
		assert_true(((rd(0x485) >> 16) & 0x1ff) <= ((hw->misc >> 16) & 0x1ff));
		assert_int_equal(rd(0x486), hw->cr0_fixed0);
		assert_int_equal(rd(0x487) & ~hw->cr0_fixed1, 0);
		assert_int_equal(rd(0x488), hw->cr4_fixed0);
		assert_int_equal(rd(0x489) & ~hw->cr4_fixed1, 0);
		assert_true(rd(0x48a) <= hw->vmcs_enum);
		assert_int_equal(rd(0x480) & VMX_BASIC_INOUT_INFO & ~hw->basic, 0);
	}
}

/* Not offered: VMCS shadowing, APIC virtualization, VM functions; EPT capabilities beyond what the shadow EPT emulates. */
static void test_withheld_features_and_their_msrs(void **state)
{
	uint32_t apicv = SECONDARY_VIRT_X2APIC_MODE | SECONDARY_APIC_REGISTER_VIRT | SECONDARY_VIRT_INTR_DELIVERY;
	uint64_t v;

	(void)state;
	vmx_offer_compute(&tigerlake, true, &o);
	assert_int_equal((rd(0x48b) >> 32) & (apicv | SECONDARY_VMCS_SHADOWING | SECONDARY_ENABLE_VMFUNC |
					      SECONDARY_EPT_VIOLATION_VE | SECONDARY_MODE_BASED_EPT_EXEC), 0);
	/* EPT_VPID_CAP: tigerlake's, without advanced EPT-violation information (22) and bit 23. */
	assert_int_equal(vmx_offer_rdmsr(&o, MSR_IA32_VMX_EPT_VPID_CAP, &v), VMX_MSR_OK);
	assert_int_equal(v, 0x00000f0106b34141ULL & ~(uint64_t)(BIT(22) | BIT(23)));
	assert_int_equal((rd(0x48d) >> 32) & PIN_BASED_POSTED_INTR, 0);
	assert_int_equal((rd(0x48e) >> 32) & CPU_BASED_TERTIARY_CONTROLS, 0);
	/* The MSRs of features not offered do not exist (SDM A.10, A.11): #GP, as on a CPU without them. */
	assert_int_equal(vmx_offer_rdmsr(&o, MSR_IA32_VMX_VMFUNC, &v), VMX_MSR_GP);
	assert_int_equal(vmx_offer_rdmsr(&o, 0x492, &v), VMX_MSR_GP);
	assert_int_equal(vmx_offer_rdmsr(&o, 0x493, &v), VMX_MSR_GP);
	/* L1's VMCS has none of their fields: VMREAD fails with error 12 as on such a CPU. */
	assert_int_equal(vmcs12_vmread(&(struct vmcs12){ 0 }, EPTP_INDEX, o.vmcs12_features, &v),
			 VMXERR_UNSUPPORTED_VMCS_COMPONENT);
	assert_int_equal(vmcs12_vmread(&(struct vmcs12){ 0 }, VMREAD_BITMAP, o.vmcs12_features, &v),
			 VMXERR_UNSUPPORTED_VMCS_COMPONENT);
}

/* IA32_VMX_BASIC: our revision, 4 KiB, WB, 64-bit, TRUE controls; legacy MSRs report default1 bits as must-be-1. */
static void test_basic_and_default1(void **state)
{
	uint64_t basic;

	(void)state;
	vmx_offer_compute(&tigerlake, true, &o);
	basic = rd(MSR_IA32_VMX_BASIC);
	assert_int_equal(basic & 0xffffffff, VMCS12_REVISION_ID);
	assert_int_equal(basic & BIT(31), 0);
	assert_int_equal(VMX_BASIC_REGION_SIZE(basic), 4096);
	assert_true(sizeof(struct vmcs12) <= VMX_BASIC_REGION_SIZE(basic));
	assert_int_equal(VMX_BASIC_MEMTYPE(basic), VMX_MEMTYPE_WB);
	assert_int_equal(basic & (VMX_BASIC_32BIT_ADDR | BIT(49)), 0);
	assert_int_equal(basic & VMX_BASIC_TRUE_CTLS, VMX_BASIC_TRUE_CTLS);
	assert_int_equal(basic & BIT(54), BIT(54));  /* INS/OUTS information, as tigerlake */
	assert_int_equal(basic & BIT(56), BIT(56)); /* as tigerlake has it: vmcs02 carries L1 injection */
	assert_int_equal((uint32_t)rd(0x481), 0x16);
	assert_int_equal((uint32_t)rd(0x482), 0x0401e172);
	assert_int_equal((uint32_t)rd(0x483), 0x00036dff);
	assert_int_equal((uint32_t)rd(0x484), 0x000011ff);
	/* TRUE: CR3 exiting and the debug controls may be 0, as the hardware allows. */
	assert_int_equal((uint32_t)rd(0x48e), 0x04006172);
	assert_int_equal((uint32_t)rd(0x48f), 0x00036dfb);
	assert_int_equal((uint32_t)rd(0x490), 0x000011fb);
	for (uint32_t m = 0x481; m <= 0x484; m++)
		assert_int_equal(rd(m) >> 32, rd(m + 0xc) >> 32);
}

/* Entry/exit "load" pairs: both or neither, on each model and on a CPU with a lone control. */
static void test_entry_exit_pairs_both_or_neither(void **state)
{
	struct vmx_hw_msrs lone = tigerlake;

	(void)state;
	lone.true_entry &= ~((uint64_t)VM_ENTRY_LOAD_IA32_EFER << 32);
	lone.entry &= ~((uint64_t)VM_ENTRY_LOAD_IA32_EFER << 32);
	lone.true_exit &= ~((uint64_t)VM_EXIT_LOAD_IA32_PAT << 32);
	lone.exit &= ~((uint64_t)VM_EXIT_LOAD_IA32_PAT << 32);
	for (size_t m = 0; m <= ARRAY_SIZE(models); m++) {
		uint32_t exit, entry;

		vmx_offer_compute(m < ARRAY_SIZE(models) ? models[m] : &lone, true, &o);
		exit = (uint32_t)(rd(0x48f) >> 32);
		entry = (uint32_t)(rd(0x490) >> 32);
		assert_int_equal(!(exit & VM_EXIT_LOAD_IA32_EFER), !(entry & VM_ENTRY_LOAD_IA32_EFER));
		assert_int_equal(!(exit & VM_EXIT_LOAD_IA32_PAT), !(entry & VM_ENTRY_LOAD_IA32_PAT));
		assert_int_equal(exit & VM_EXIT_LOAD_PERF_GLOBAL_CTRL, 0);
		assert_int_equal(entry & VM_ENTRY_LOAD_PERF_GLOBAL_CTRL, 0);
	}
	assert_int_equal(rd(0x48f) >> 32 & VM_EXIT_LOAD_IA32_EFER, 0);
	assert_int_equal(rd(0x490) >> 32 & VM_ENTRY_LOAD_IA32_PAT, 0);
	/* Penryn has no EFER controls at all: neither offered, and no EFER fields in vmcs12. */
	vmx_offer_compute(&penryn, true, &o);
	assert_int_equal(o.vmcs12_features & VMCS12_F_EFER, 0);
}

/* TPR threshold only with TPR shadow; the timer's save control only with the timer (SDM Appendix B, A.4). */
static void test_dependent_controls_and_fields(void **state)
{
	struct vmx_hw_msrs hw = tigerlake;
	uint64_t v;

	(void)state;
	vmx_offer_compute(&tigerlake, true, &o);
	assert_int_equal(vmcs12_vmread(&(struct vmcs12){ 0 }, TPR_THRESHOLD, o.vmcs12_features, &v), 0);
	hw.procbased &= ~((uint64_t)CPU_BASED_TPR_SHADOW << 32);
	hw.true_procbased &= ~((uint64_t)CPU_BASED_TPR_SHADOW << 32);
	hw.pinbased &= ~((uint64_t)(PIN_BASED_PREEMPTION_TIMER | PIN_BASED_VIRTUAL_NMIS) << 32);
	hw.true_pinbased &= ~((uint64_t)(PIN_BASED_PREEMPTION_TIMER | PIN_BASED_VIRTUAL_NMIS) << 32);
	vmx_offer_compute(&hw, true, &o);
	assert_int_equal(vmcs12_vmread(&(struct vmcs12){ 0 }, TPR_THRESHOLD, o.vmcs12_features, &v),
			 VMXERR_UNSUPPORTED_VMCS_COMPONENT);
	assert_int_equal(vmcs12_vmread(&(struct vmcs12){ 0 }, VIRTUAL_APIC_PAGE_ADDR, o.vmcs12_features,
				       &v), VMXERR_UNSUPPORTED_VMCS_COMPONENT);
	assert_int_equal((rd(0x48f) >> 32) & VM_EXIT_SAVE_PREEMPTION_TIMER, 0);
	assert_int_equal(o.vmcs12_features & VMCS12_F_PREEMPTION_TIMER, 0);
	/* NMI-window exiting needs virtual NMIs. */
	assert_int_equal((rd(0x48e) >> 32) & CPU_BASED_NMI_WINDOW_EXITING, 0);
}

/* VMCS_ENUM: the VMX-preemption timer value (0x482e, index 23) is the highest field offered from tigerlake. */
static void test_vmcs_enum(void **state)
{
	(void)state;
	vmx_offer_compute(&tigerlake, true, &o);
	assert_int_equal(rd(MSR_IA32_VMX_VMCS_ENUM), 23 << 1);
}

/* CR4_FIXED1 offers only what the hypervisor's CR4 policy lets L1 set (and VMXE). */
static void test_cr4_fixed1_follows_l1_cr4_policy(void **state)
{
	struct vmx_hw_msrs hw = tigerlake;

	(void)state;
	hw.l1_cr4_allowed = ~(uint64_t)(X86_CR4_LA57 | X86_CR4_VMXE | BIT(22));
	vmx_offer_compute(&hw, true, &o);
	assert_int_equal(rd(MSR_IA32_VMX_CR4_FIXED1), 0xf72fffULL & ~(uint64_t)(X86_CR4_LA57 | BIT(22)));
}

/* nested=off: L1 sees no VMX anywhere, as before nesting existed. */
static void test_nested_off_hides_everything(void **state)
{
	uint64_t v;

	(void)state;
	for (size_t m = 0; m < ARRAY_SIZE(models); m++) {
		vmx_offer_compute(models[m], false, &o);
		assert_false(o.nested);
		assert_false(o.cpuid_vmx);
		assert_false(o.cr4_vmxe_allowed);
		assert_int_equal(o.vmcs12_features, 0);
		assert_int_equal(rd(MSR_IA32_FEATURE_CONTROL), FEATURE_CONTROL_LOCKED);
		for (uint32_t msr = VMX_MSR_FIRST; msr <= VMX_MSR_LAST; msr++)
			assert_int_equal(vmx_offer_rdmsr(&o, msr, &v), VMX_MSR_GP);
	}
	/* No VMX on the hardware: nested=on offers nothing either. */
	{
		struct vmx_hw_msrs hw = tigerlake;

		hw.cpuid_vmx = false;
		vmx_offer_compute(&hw, true, &o);
		assert_false(o.cpuid_vmx);
		assert_int_equal(o.msr_exists, 0);
	}
}

/* nested=on: FEATURE_CONTROL locked with VMX outside SMX; the dispatch, reads and writes. */
static void test_msr_dispatch(void **state)
{
	uint64_t v;

	(void)state;
	vmx_offer_compute(&tigerlake, true, &o);
	assert_true(o.cpuid_vmx && o.cr4_vmxe_allowed);
	assert_int_equal(rd(MSR_IA32_FEATURE_CONTROL), FEATURE_CONTROL_LOCKED | FEATURE_CONTROL_VMX_OUTSIDE_SMX);
	for (uint32_t msr = 0x480; msr <= 0x48b; msr++)
		assert_int_equal(rd(msr), vmx_offer_msr(&o, msr));
	for (uint32_t msr = 0x48d; msr <= 0x490; msr++)
		assert_int_equal(rd(msr), vmx_offer_msr(&o, msr));
	assert_int_equal(vmx_offer_rdmsr(&o, 0x47f, &v), VMX_MSR_NOT_VMX);
	assert_int_equal(vmx_offer_rdmsr(&o, 0x494, &v), VMX_MSR_NOT_VMX);
	assert_int_equal(vmx_offer_rdmsr(&o, MSR_IA32_EFER, &v), VMX_MSR_NOT_VMX);
	assert_int_equal(vmx_offer_wrmsr(&o, MSR_IA32_FEATURE_CONTROL), VMX_MSR_GP);
	for (uint32_t msr = VMX_MSR_FIRST; msr <= VMX_MSR_LAST; msr++)
		assert_int_equal(vmx_offer_wrmsr(&o, msr), VMX_MSR_GP);
	assert_int_equal(vmx_offer_wrmsr(&o, MSR_IA32_PAT), VMX_MSR_NOT_VMX);
}

/* One answer for one input: every vCPU that computes it gets the same offer. */
static void test_identical_every_time(void **state)
{
	struct vmx_offer a, b;

	(void)state;
	memset(&a, 0xaa, sizeof(a));
	memset(&b, 0x55, sizeof(b));
	vmx_offer_compute(&tigerlake, true, &a);
	vmx_offer_compute(&tigerlake, true, &b);
	assert_memory_equal(&a, &b, sizeof(a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tigerlake_offer_satisfies_kvm_intel_6_1),
		cmocka_unit_test(test_kvm_required_allowed1_bits),
		cmocka_unit_test(test_tigerlake_offers_the_emulated_features),
		cmocka_unit_test(test_nothing_offered_the_hardware_lacks),
		cmocka_unit_test(test_withheld_features_and_their_msrs),
		cmocka_unit_test(test_basic_and_default1),
		cmocka_unit_test(test_entry_exit_pairs_both_or_neither),
		cmocka_unit_test(test_dependent_controls_and_fields),
		cmocka_unit_test(test_vmcs_enum),
		cmocka_unit_test(test_cr4_fixed1_follows_l1_cr4_policy),
		cmocka_unit_test(test_nested_off_hides_everything),
		cmocka_unit_test(test_msr_dispatch),
		cmocka_unit_test(test_identical_every_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
