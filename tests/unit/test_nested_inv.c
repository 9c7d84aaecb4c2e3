/* Host tests for L1's INVEPT/INVVPID (hv/nested/inv_insn.c): each failure the SDM lists and what a success invalidates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "hv/nested/inv_insn.h"
#include "hv/vmx/vmx_caps.h"
#include "hv/vmx/vmx_defs.h"

/* Bochs tigerlake's capabilities: everything offered. */
static const uint64_t cap_all = VMX_EPT_EXECUTE_ONLY | VMX_EPT_WALK_4 | VMX_EPT_MEMTYPE_UC | VMX_EPT_MEMTYPE_WB |
				VMX_EPT_2M_PAGE | VMX_EPT_1G_PAGE | VMX_EPT_INVEPT | VMX_EPT_AD |
				VMX_EPT_INVEPT_SINGLE | VMX_EPT_INVEPT_ALL | VMX_VPID_INVVPID |
				VMX_VPID_INVVPID_ADDR | VMX_VPID_INVVPID_SINGLE | VMX_VPID_INVVPID_ALL | BIT(43);
static const uint64_t good_eptp = 0x1234000 | (3 << 3) | 6;

static struct nested_vmx vmx(bool current)
{
	struct nested_vmx n = { .vmxon = true, .current_vmptr = current ? 0x5000 : NESTED_NO_VMCS, .maxphyaddr = 40 };

	return n;
}

static struct nested_inv_result run(struct nested_vmx *n, uint64_t cap, bool vpid, uint64_t type, uint64_t d0,
				    uint64_t d1)
{
	struct nested_inv inv = { .invvpid = vpid, .type = type, .desc = { d0, d1 } };

	return nested_inv_execute(n, cap, &inv);
}

static void assert_fail28(struct nested_vmx *n, struct nested_inv_result r)
{
	assert_int_equal(r.r.outcome, VMX_FAIL_VALID);
	assert_int_equal(r.r.error, 28);
	assert_int_equal(n->vmcs12.vm_instruction_error, 28);
	assert_int_equal(r.scope, NESTED_INV_NONE);
}

static void test_eptp_rule(void **state)
{
	(void)state;
	assert_true(nested_eptp_valid(good_eptp, cap_all, 40));
	assert_true(nested_eptp_valid((good_eptp & ~7ULL) | 0, cap_all, 40));           /* UC */
	assert_false(nested_eptp_valid((good_eptp & ~7ULL) | 2, cap_all, 40));          /* memory type 2 */
	assert_false(nested_eptp_valid((good_eptp & ~7ULL) | 0, cap_all & ~VMX_EPT_MEMTYPE_UC, 40));
	assert_false(nested_eptp_valid((good_eptp & ~0x38ULL) | (4 << 3), cap_all, 40)); /* 5-level walk */
	assert_true(nested_eptp_valid(good_eptp | BIT(6), cap_all, 40));                  /* A/D */
	assert_false(nested_eptp_valid(good_eptp | BIT(6), cap_all & ~VMX_EPT_AD, 40));
	for (int b = 7; b < 12; b++)
		assert_false(nested_eptp_valid(good_eptp | BIT(b), cap_all, 40));
	assert_false(nested_eptp_valid(good_eptp | BIT(40), cap_all, 40));
	assert_true(nested_eptp_valid(good_eptp | BIT(39), cap_all, 40));
}

static void test_invept(void **state)
{
	struct nested_vmx n = vmx(true);
	struct nested_inv_result r;

	(void)state;
	r = run(&n, cap_all, false, 1, good_eptp, 0);
	assert_int_equal(r.r.outcome, VMX_SUCCEED);
	assert_int_equal(r.scope, NESTED_INV_EPT_SINGLE);
	assert_int_equal(r.eptp, good_eptp);
	r = run(&n, cap_all, false, 2, 0xdead, 0xbeef); /* all-context ignores the descriptor */
	assert_int_equal(r.scope, NESTED_INV_EPT_ALL);
	assert_fail28(&n, run(&n, cap_all, false, 0, good_eptp, 0));
	assert_fail28(&n, run(&n, cap_all, false, 3, good_eptp, 0));
	assert_fail28(&n, run(&n, cap_all, false, 1ULL << 32 | 1, good_eptp, 0)); /* 64-bit type register */
	assert_fail28(&n, run(&n, cap_all, false, 1, good_eptp | BIT(8), 0));
	assert_fail28(&n, run(&n, cap_all & ~VMX_EPT_INVEPT_SINGLE, false, 1, good_eptp, 0));
	assert_fail28(&n, run(&n, cap_all & ~VMX_EPT_INVEPT_ALL, false, 2, 0, 0));
	n = vmx(false);
	assert_int_equal(run(&n, cap_all, false, 0, 0, 0).r.outcome, VMX_FAIL_INVALID);
}

static void test_invvpid(void **state)
{
	struct nested_vmx n = vmx(true);
	struct nested_inv_result r;

	(void)state;
	r = run(&n, cap_all, true, 0, 7, 0xffff800000001000ULL);
	assert_int_equal(r.scope, NESTED_INV_VPID_ADDR);
	assert_int_equal(r.vpid, 7);
	assert_int_equal(r.addr, 0xffff800000001000ULL);
	assert_int_equal(run(&n, cap_all, true, 1, 7, 0).scope, NESTED_INV_VPID_SINGLE);
	assert_int_equal(run(&n, cap_all, true, 2, 0, 0).scope, NESTED_INV_VPID_ALL);
	assert_int_equal(run(&n, cap_all, true, 3, 7, 0).scope, NESTED_INV_VPID_SINGLE);
	assert_fail28(&n, run(&n, cap_all, true, 4, 7, 0));
	assert_fail28(&n, run(&n, cap_all, true, 1, 7 | 1ULL << 16, 0)); /* bits 63:16 reserved */
	assert_fail28(&n, run(&n, cap_all, true, 0, 0, 0));              /* VPID 0 */
	assert_fail28(&n, run(&n, cap_all, true, 1, 0, 0));
	assert_fail28(&n, run(&n, cap_all, true, 3, 0, 0));
	assert_fail28(&n, run(&n, cap_all, true, 0, 7, 0x0000800000000000ULL)); /* non-canonical */
	assert_fail28(&n, run(&n, cap_all & ~VMX_VPID_INVVPID_SINGLE, true, 1, 7, 0));
	/* Without a current VMCS a failure is VMfailInvalid; a success needs none. */
	n = vmx(false);
	assert_int_equal(run(&n, cap_all, true, 2, 0, 0).r.outcome, VMX_SUCCEED);
	assert_int_equal(run(&n, cap_all, true, 1, 0, 0).r.outcome, VMX_FAIL_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eptp_rule),
		cmocka_unit_test(test_invept),
		cmocka_unit_test(test_invvpid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
