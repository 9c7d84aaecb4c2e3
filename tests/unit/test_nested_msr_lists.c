/* Host tests for the MSR-list rules (hv/nested/msr_lists.c): the SDM's failures and the hypervisor's replay rule. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "hv/nested/msr_lists.h"

#define EFER_OK 0xd01ULL /* SCE, LME, LMA, NXE */

static enum nested_msr_verdict load(uint32_t index, uint32_t reserved, uint64_t value)
{
	struct vmx_msr_entry e = { index, reserved, value };

	return nested_msr_load_verdict(&e, EFER_OK);
}

static enum nested_msr_verdict store(uint32_t index, uint32_t reserved)
{
	struct vmx_msr_entry e = { index, reserved, 0 };

	return nested_msr_store_verdict(&e);
}

static void test_load_failures_per_sdm(void **state)
{
	(void)state;
	assert_int_equal(load(0xc0000080, 1, 0), NESTED_MSR_FAILS);          /* bits 63:32 of the first quadword */
	assert_int_equal(load(0xc0000100, 0, 0), NESTED_MSR_FAILS);          /* IA32_FS_BASE */
	assert_int_equal(load(0xc0000101, 0, 0), NESTED_MSR_FAILS);          /* IA32_GS_BASE */
	assert_int_equal(load(0x830, 0, 0), NESTED_MSR_FAILS);               /* x2APIC ICR */
	assert_int_equal(load(0x9e, 0, 0), NESTED_MSR_FAILS);                /* IA32_SMBASE */
	assert_int_equal(load(0x79, 0, 0), NESTED_MSR_FAILS);                /* microcode update trigger */
	assert_int_equal(load(0xc0000080, 0, 1ULL << 12), NESTED_MSR_FAILS); /* EFER bit the CPU lacks: WRMSR #GP */
	assert_int_equal(load(0x277, 0, 0x0207040600070406ULL), NESTED_MSR_FAILS); /* PAT type 2 */
	assert_int_equal(load(0xc0000082, 0, 0x0000800000000000ULL), NESTED_MSR_FAILS); /* LSTAR not canonical */
	assert_int_equal(load(0xc0000103, 0, 1ULL << 32), NESTED_MSR_FAILS); /* TSC_AUX bits 63:32 */
}

static void test_load_replays_checked_msrs_only(void **state)
{
	(void)state;
	assert_int_equal(load(0xc0000080, 0, 0xd01), NESTED_MSR_OK);
	assert_int_equal(load(0x277, 0, 0x0007040600070406ULL), NESTED_MSR_OK);
	assert_int_equal(load(0x174, 0, 0x10), NESTED_MSR_OK);
	assert_int_equal(load(0xc0000102, 0, 0xffff888000000000ULL), NESTED_MSR_OK);
	assert_int_equal(load(0x10, 0, 0), NESTED_MSR_NOT_EMULATED);         /* the TSC: legal, not replayed */
	assert_int_equal(load(0x38f, 0, 0), NESTED_MSR_NOT_EMULATED);        /* PERF_GLOBAL_CTRL */
}

static void test_store(void **state)
{
	(void)state;
	assert_int_equal(store(0x10, 0), NESTED_MSR_OK);
	assert_int_equal(store(0xc0000100, 0), NESTED_MSR_OK); /* FS_BASE may be stored, not loaded */
	assert_int_equal(store(0xc0000080, 0), NESTED_MSR_OK);
	assert_int_equal(store(0xc0000080, 2), NESTED_MSR_FAILS);
	assert_int_equal(store(0x808, 0), NESTED_MSR_FAILS);
	assert_int_equal(store(0x9e, 0), NESTED_MSR_FAILS);
	assert_int_equal(store(0x1d9, 0), NESTED_MSR_NOT_EMULATED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_failures_per_sdm),
		cmocka_unit_test(test_load_replays_checked_msrs_only),
		cmocka_unit_test(test_store),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
