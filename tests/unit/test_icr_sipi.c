/* Host tests: how a broadcast start-up IPI from L1 becomes one SIPI per waiting vCPU (apic_icr.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "hv/vmx/apic_icr.h"

static const uint32_t ids[] = { 0, 1, 2, 3 };
static bool waiting[4];

static bool waits(uint32_t apic_id)
{
	return apic_id < 4 && waiting[apic_id];
}

static int targets_of(uint32_t low, uint32_t self, uint32_t out[4])
{
	struct icr_write w = { low, 0 };

	return icr_sipi_per_cpu_targets(&w, self, ids, 4, waits, out);
}

static void test_all_but_self_reaches_every_waiting_vcpu(void **state)
{
	uint32_t out[4];

	(void)state;
	waiting[0] = false, waiting[1] = waiting[2] = waiting[3] = true;
	assert_int_equal(targets_of(ICR_DELIVERY_STARTUP | 0x08 | (ICR_TO_ALL_BUT_SELF << ICR_SHORTHAND_SHIFT), 0, out), 3);
	assert_int_equal(out[0], 1);
	assert_int_equal(out[1], 2);
	assert_int_equal(out[2], 3);
}

static void test_running_cpus_and_self_are_left_out(void **state)
{
	uint32_t out[4];

	(void)state;
	waiting[0] = waiting[1] = waiting[3] = true, waiting[2] = false;
	/* "All including self" from APIC ID 1: the sender runs, so only 0 and 3 wait. */
	assert_int_equal(targets_of(ICR_DELIVERY_STARTUP | 0x10 | (ICR_TO_ALL << ICR_SHORTHAND_SHIFT), 1, out), 2);
	assert_int_equal(out[0], 0);
	assert_int_equal(out[1], 3);
	memset(waiting, 0, sizeof(waiting));
	assert_int_equal(targets_of(ICR_DELIVERY_STARTUP | (ICR_TO_ALL_BUT_SELF << ICR_SHORTHAND_SHIFT), 0, out), 0);
}

static void test_other_writes_go_unchanged(void **state)
{
	uint32_t out[4];

	(void)state;
	memset(waiting, 1, sizeof(waiting));
	/* A SIPI to one destination, a SIPI to self (not valid for SIPI), and a broadcast INIT or NMI. */
	assert_int_equal(targets_of(ICR_DELIVERY_STARTUP | 0x08, 0, out), -1);
	assert_int_equal(targets_of(ICR_DELIVERY_STARTUP | (ICR_TO_SELF << ICR_SHORTHAND_SHIFT), 0, out), -1);
	assert_int_equal(targets_of(ICR_DELIVERY_INIT | ICR_LEVEL_ASSERT | (ICR_TO_ALL_BUT_SELF << ICR_SHORTHAND_SHIFT), 0, out), -1);
	assert_int_equal(targets_of((4u << ICR_DELIVERY_SHIFT) | (ICR_TO_ALL_BUT_SELF << ICR_SHORTHAND_SHIFT), 0, out), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_but_self_reaches_every_waiting_vcpu),
		cmocka_unit_test(test_running_cpus_and_self_are_left_out),
		cmocka_unit_test(test_other_writes_go_unchanged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
