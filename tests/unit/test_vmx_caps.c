/* Host tests: VMX control computation from capability MSRs, fixed-bit application and exit-reason naming. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "hv/vmx/vmx_caps.h"
#include "hv/vmx/vmx_defs.h"

/* Values shaped like Bochs 2.7 'tigerlake': true controls, EPT, VPID, unrestricted guest. */
static struct vmx_caps tigerlake_caps(void)
{
	struct vmx_caps c = {
		.basic = 0x00da040000000004ULL,
		.true_ctls = true,
		.pinbased = 0x000000ff00000016ULL,
		.procbased = 0xfff9fffe04006172ULL,
		.exit = 0x01ffffff00036dfbULL,
		.entry = 0x0003ffff000011fbULL,
		.procbased2 = 0x00553cfe00000000ULL,
		.ept_vpid = 0x00000f0106734141ULL,
		.misc = 0x000000007004c1e7ULL,
		.cr0_fixed0 = 0x80000021ULL, .cr0_fixed1 = 0xffffffffULL,
		.cr4_fixed0 = 0x2000ULL, .cr4_fixed1 = 0x3767ffULL,
	};
	return c;
}

/* Values shaped like 'core2_penryn_t9600': no true controls, no EPT, no VPID, no EFER controls. */
static struct vmx_caps penryn_caps(void)
{
	struct vmx_caps c = {
		.basic = 0x005a08000000000dULL,
		.true_ctls = false,
		.pinbased = 0x0000003f00000016ULL,
		.procbased = 0xf7f9fffe0401e172ULL,
		.exit = 0x0003efff00036dffULL,
		.entry = 0x00003fff000011ffULL,
		.procbased2 = 0x0000004100000000ULL,
		.ept_vpid = 0,
		.misc = 0x00000000000403c0ULL,
		.cr0_fixed0 = 0x80000021ULL, .cr0_fixed1 = 0xffffffffULL,
		.cr4_fixed0 = 0x2000ULL, .cr4_fixed1 = 0x27ffULL,
	};
	return c;
}

static void test_adjust_forces_and_drops(void **state)
{
	uint32_t missing;
	/* allowed-0: bit 1 must be 1; allowed-1: bits 0-3 may be 1. */
	uint64_t cap = (0xfULL << 32) | 0x2;
	uint32_t v = vmx_adjust_controls(cap, BIT(0), BIT(3) | BIT(7), &missing);

	(void)state;
	assert_int_equal(v, BIT(0) | BIT(1) | BIT(3));
	assert_int_equal(missing, 0);
	v = vmx_adjust_controls(cap, BIT(5) | BIT(2), 0, &missing);
	assert_int_equal(missing, BIT(5));
	assert_int_equal(v, BIT(1) | BIT(2));
}

static void test_virtual_nmis_required(void **state)
{
	struct vmx_caps caps = tigerlake_caps();
	struct vmx_controls ctl;
	const char *missing = NULL;

	(void)state;
	caps.pinbased &= ~((uint64_t)PIN_BASED_VIRTUAL_NMIS << 32);
	assert_int_equal(vmx_compute_controls(&caps, &ctl, &missing), -1);
	assert_string_equal(missing, "virtual NMIs");
	caps = tigerlake_caps();
	caps.procbased &= ~((uint64_t)CPU_BASED_NMI_WINDOW_EXITING << 32);
	assert_int_equal(vmx_compute_controls(&caps, &ctl, &missing), -1);
	assert_string_equal(missing, "NMI-window exiting");
}

static void test_tigerlake_controls(void **state)
{
	struct vmx_caps caps = tigerlake_caps();
	struct vmx_controls ctl;
	const char *missing = "x";

	(void)state;
	assert_int_equal(vmx_compute_controls(&caps, &ctl, &missing), 0);
	assert_null(missing);
	assert_true(ctl.proc & CPU_BASED_USE_IO_BITMAPS);
	assert_true(ctl.proc & CPU_BASED_USE_MSR_BITMAPS);
	assert_true(ctl.proc & CPU_BASED_ACTIVATE_SECONDARY);
	assert_true(ctl.proc & CPU_BASED_HLT_EXITING);
	/* True controls let CR3 accesses run natively under EPT. */
	assert_false(ctl.proc & (CPU_BASED_CR3_LOAD_EXITING | CPU_BASED_CR3_STORE_EXITING));
	assert_false(ctl.proc & CPU_BASED_UNCOND_IO_EXITING);
	assert_int_equal(ctl.proc2 & (SECONDARY_ENABLE_EPT | SECONDARY_UNRESTRICTED_GUEST | SECONDARY_ENABLE_VPID),
			 SECONDARY_ENABLE_EPT | SECONDARY_UNRESTRICTED_GUEST | SECONDARY_ENABLE_VPID);
	assert_true(ctl.proc2 & SECONDARY_ENABLE_RDTSCP);
	assert_false(ctl.proc2 & SECONDARY_VMCS_SHADOWING);
	/* The allowed-0 bits plus NMI exiting and virtual NMIs: every NMI exits (issue 8 item 4). */
	assert_int_equal(ctl.pin, 0x16 | PIN_BASED_NMI_EXITING | PIN_BASED_VIRTUAL_NMIS);
	assert_false(ctl.proc & CPU_BASED_NMI_WINDOW_EXITING); /* only while an NMI waits for L1 */
	assert_true(ctl.exit & VM_EXIT_HOST_ADDR_SPACE_SIZE);
	assert_true(ctl.exit & VM_EXIT_LOAD_IA32_EFER);
	assert_true(ctl.exit & VM_EXIT_SAVE_IA32_EFER);
	assert_true(ctl.exit & VM_EXIT_LOAD_IA32_PAT);
	assert_false(ctl.exit & VM_EXIT_ACK_INTR_ON_EXIT);
	assert_true(ctl.entry & VM_ENTRY_LOAD_IA32_EFER);
	assert_false(ctl.entry & VM_ENTRY_IA32E_MODE);
	/* Every result respects allowed-0 and allowed-1. */
	assert_int_equal(ctl.proc & (uint32_t)caps.procbased, (uint32_t)caps.procbased);
	assert_int_equal(ctl.proc & ~(uint32_t)(caps.procbased >> 32), 0);
	assert_int_equal(ctl.exit & ~(uint32_t)(caps.exit >> 32), 0);
}

static void test_penryn_refused_for_ept(void **state)
{
	struct vmx_caps caps = penryn_caps();
	struct vmx_controls ctl;
	const char *missing = NULL;

	(void)state;
	assert_int_equal(vmx_compute_controls(&caps, &ctl, &missing), -1);
	assert_non_null(missing);
	assert_non_null(strstr(missing, "EPT"));
}

static void test_no_unrestricted_guest_refused(void **state)
{
	struct vmx_caps caps = tigerlake_caps();
	struct vmx_controls ctl;
	const char *missing = NULL;

	(void)state;
	caps.procbased2 &= ~(SECONDARY_UNRESTRICTED_GUEST << 32);
	assert_int_equal(vmx_compute_controls(&caps, &ctl, &missing), -1);
	assert_string_equal(missing, "unrestricted guest");
}

static void test_no_secondary_refused(void **state)
{
	struct vmx_caps caps = tigerlake_caps();
	struct vmx_controls ctl;
	const char *missing = NULL;

	(void)state;
	caps.procbased &= ~(CPU_BASED_ACTIVATE_SECONDARY << 32);
	assert_int_equal(vmx_compute_controls(&caps, &ctl, &missing), -1);
	assert_non_null(strstr(missing, "secondary"));
}

static void test_no_efer_controls_refused(void **state)
{
	struct vmx_caps caps = tigerlake_caps();
	struct vmx_controls ctl;
	const char *missing = NULL;

	(void)state;
	caps.exit &= ~((uint64_t)VM_EXIT_LOAD_IA32_EFER << 32);
	assert_int_equal(vmx_compute_controls(&caps, &ctl, &missing), -1);
	assert_non_null(strstr(missing, "IA32_EFER"));
}

static void test_legacy_controls_keep_default1(void **state)
{
	struct vmx_caps caps = tigerlake_caps();
	struct vmx_controls ctl;
	const char *missing;

	(void)state;
	/* Without true controls, CR3-load/store exiting are default1 (SDM A.2). */
	caps.true_ctls = false;
	caps.procbased = 0xfff9fffe0401e172ULL;
	assert_int_equal(vmx_compute_controls(&caps, &ctl, &missing), 0);
	assert_true(ctl.proc & CPU_BASED_CR3_LOAD_EXITING);
	assert_true(ctl.proc & CPU_BASED_CR3_STORE_EXITING);
}

static void test_vpid_dropped_without_invvpid(void **state)
{
	struct vmx_caps caps = tigerlake_caps();
	struct vmx_controls ctl;
	const char *missing;

	(void)state;
	caps.ept_vpid &= ~VMX_VPID_INVVPID;
	assert_int_equal(vmx_compute_controls(&caps, &ctl, &missing), 0);
	assert_false(ctl.proc2 & SECONDARY_ENABLE_VPID);
	assert_true(ctl.proc2 & SECONDARY_ENABLE_EPT);
}

static void test_ept_without_4level_refused(void **state)
{
	struct vmx_caps caps = tigerlake_caps();
	struct vmx_controls ctl;
	const char *missing = NULL;

	(void)state;
	caps.ept_vpid &= ~VMX_EPT_WALK_4;
	assert_int_equal(vmx_compute_controls(&caps, &ctl, &missing), -1);
	assert_non_null(strstr(missing, "4-level"));
}

static void test_no_hlt_activity_no_hlt_exiting(void **state)
{
	struct vmx_caps caps = tigerlake_caps();
	struct vmx_controls ctl;
	const char *missing;

	(void)state;
	caps.misc &= ~VMX_MISC_ACTIVITY_HLT;
	assert_int_equal(vmx_compute_controls(&caps, &ctl, &missing), 0);
	assert_false(ctl.proc & CPU_BASED_HLT_EXITING);
}

static void test_vmcs_memtype_must_be_wb(void **state)
{
	struct vmx_caps caps = tigerlake_caps();
	struct vmx_controls ctl;
	const char *missing = NULL;

	(void)state;
	caps.basic &= ~(0xfULL << 50);
	assert_int_equal(vmx_compute_controls(&caps, &ctl, &missing), -1);
	assert_non_null(strstr(missing, "write-back"));
}

static void test_fixed_bits(void **state)
{
	(void)state;
	/* CR0 of a 32-bit guest without NE gets NE; CR4 gets VMXE; an unsupported CR4 bit is cleared. */
	assert_int_equal(vmx_apply_fixed(0x11, 0x80000021ULL, 0xffffffffULL), 0x80000031ULL);
	assert_int_equal(vmx_apply_fixed(BIT(22) | BIT(5), 0x2000, 0x3767ff), 0x2000 | BIT(5));
	assert_true(vmx_fixed_ok(0x80000031ULL, 0x80000021ULL, 0xffffffffULL));
	assert_false(vmx_fixed_ok(0x80000011ULL, 0x80000021ULL, 0xffffffffULL));
	assert_false(vmx_fixed_ok(0x2000 | BIT(22), 0x2000, 0x3767ff));
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(vmx_exit_reason_name(EXIT_REASON_CPUID), "CPUID");
	assert_string_equal(vmx_exit_reason_short(EXIT_REASON_IO_INSTRUCTION), "IO");
	assert_string_equal(vmx_exit_reason_name(EXIT_REASON_EPT_VIOLATION), "EPT violation");
	assert_string_equal(vmx_exit_reason_name(35), "unknown exit reason");
	assert_string_equal(vmx_exit_reason_name(1000), "unknown exit reason");
	assert_string_equal(vmx_exit_reason_short(1000), "UNKNOWN");
	assert_string_equal(vmx_instruction_error_name(7), "VM entry with invalid control field(s)");
	assert_string_equal(vmx_instruction_error_name(8), "VM entry with invalid host-state field(s)");
	assert_string_equal(vmx_instruction_error_name(14), "unknown VM-instruction error");
	assert_string_equal(vmx_instruction_error_name(99), "unknown VM-instruction error");
	assert_non_null(strstr(vmx_entry_failure_qual_name(EXIT_REASON_INVALID_GUEST_STATE, 2), "PDPTE"));
	assert_non_null(strstr(vmx_entry_failure_qual_name(EXIT_REASON_INVALID_GUEST_STATE, 4), "link pointer"));
	/* Every basic reason below the limit that the SDM defines has a name. */
	for (uint32_t r = 0; r < EXIT_REASON_MAX; r++) {
		if (r == 35 || r == 38 || r == 42 || r == 65 || r == 66)
			continue;
		assert_string_not_equal(vmx_exit_reason_name(r), "unknown exit reason");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_adjust_forces_and_drops),
		cmocka_unit_test(test_tigerlake_controls),
		cmocka_unit_test(test_virtual_nmis_required),
		cmocka_unit_test(test_penryn_refused_for_ept),
		cmocka_unit_test(test_no_unrestricted_guest_refused),
		cmocka_unit_test(test_no_secondary_refused),
		cmocka_unit_test(test_no_efer_controls_refused),
		cmocka_unit_test(test_legacy_controls_keep_default1),
		cmocka_unit_test(test_vpid_dropped_without_invvpid),
		cmocka_unit_test(test_ept_without_4level_refused),
		cmocka_unit_test(test_no_hlt_activity_no_hlt_exiting),
		cmocka_unit_test(test_vmcs_memtype_must_be_wb),
		cmocka_unit_test(test_fixed_bits),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
