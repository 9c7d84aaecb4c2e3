/* Host tests: when an NMI owed to L1 is injected, deferred to the NMI window or held (nmi_inject.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "hv/vmx/nmi_inject.h"
#include "hv/vmx/vmx_defs.h"

static struct nmi_entry_view owed(void)
{
	struct nmi_entry_view v = { .owed = true, .activity = GUEST_ACTIVITY_ACTIVE };

	return v;
}

static void test_nothing_owed(void **state)
{
	struct nmi_entry_view v = owed();

	(void)state;
	v.owed = false;
	v.interruptibility = GUEST_INTR_STATE_NMI;
	assert_int_equal(nmi_next_step(&v), NMI_STEP_NONE);
}

static void test_injected_when_nothing_blocks(void **state)
{
	struct nmi_entry_view v = owed();

	(void)state;
	assert_int_equal(nmi_next_step(&v), NMI_STEP_INJECT);
	/* A halted vCPU (IF=0 or not) is woken by the NMI, as the CPU is. */
	v.activity = GUEST_ACTIVITY_HLT;
	assert_int_equal(nmi_next_step(&v), NMI_STEP_INJECT);
}

static void test_blocked_waits_for_window(void **state)
{
	static const uint32_t blocking[] = { GUEST_INTR_STATE_NMI, GUEST_INTR_STATE_STI, GUEST_INTR_STATE_MOV_SS };
	struct nmi_entry_view v;

	(void)state;
	for (unsigned int i = 0; i < 3; i++) {
		v = owed();
		v.interruptibility = blocking[i];
		assert_int_equal(nmi_next_step(&v), NMI_STEP_AT_WINDOW);
	}
	/* Blocking by SMI does not block NMIs. */
	v = owed();
	v.interruptibility = GUEST_INTR_STATE_SMI;
	assert_int_equal(nmi_next_step(&v), NMI_STEP_INJECT);
}

static void test_other_event_goes_first(void **state)
{
	struct nmi_entry_view v = owed();

	(void)state;
	v.entry_intr_info = GP_VECTOR | (INTR_TYPE_HW_EXCEPTION << INTR_INFO_TYPE_SHIFT) | INTR_INFO_VALID;
	assert_int_equal(nmi_next_step(&v), NMI_STEP_AT_WINDOW);
	v.entry_intr_info &= ~INTR_INFO_VALID; /* a stale, invalid field is no event */
	assert_int_equal(nmi_next_step(&v), NMI_STEP_INJECT);
}

/* The single-step #DB after an emulated instruction: an injecting entry would drop it (SDM 26.6.3). */
static void test_pending_single_step_not_dropped(void **state)
{
	struct nmi_entry_view v = owed();

	(void)state;
	v.pending_dbg = 1u << 14; /* BS */
	assert_int_equal(nmi_next_step(&v), NMI_STEP_AT_WINDOW);
	v.pending_dbg = 1u << 1; /* a data breakpoint B1 */
	assert_int_equal(nmi_next_step(&v), NMI_STEP_AT_WINDOW);
}

static void test_held_in_wait_for_sipi(void **state)
{
	struct nmi_entry_view v = owed();

	(void)state;
	v.activity = GUEST_ACTIVITY_WAIT_SIPI;
	assert_int_equal(nmi_next_step(&v), NMI_STEP_HOLD);
	v.interruptibility = GUEST_INTR_STATE_NMI | GUEST_INTR_STATE_SMI; /* Bochs' stale wait-for-SIPI blocking */
	assert_int_equal(nmi_next_step(&v), NMI_STEP_HOLD);
}

/* How many NMIs stay owed (SDM 6.7.1: one being delivered or blocked, one latched behind it; more merge). */
static void test_owed_count_after_entry(void **state)
{
	struct nmi_entry_view v = owed();

	(void)state;
	assert_int_equal(nmi_owed_after_entry(&v, NMI_STEP_NONE, 0), 0);
	/* Injected now: one more may follow it at the window; further ones had merged. */
	assert_int_equal(nmi_owed_after_entry(&v, NMI_STEP_INJECT, 1), 0);
	assert_int_equal(nmi_owed_after_entry(&v, NMI_STEP_INJECT, 2), 1);
	assert_int_equal(nmi_owed_after_entry(&v, NMI_STEP_INJECT, 5), 1);
	/* Waiting for the window behind STI blocking: both wait, the first taken for L1, the second latched. */
	v.interruptibility = GUEST_INTR_STATE_STI;
	assert_int_equal(nmi_owed_after_entry(&v, NMI_STEP_AT_WINDOW, 2), 2);
	assert_int_equal(nmi_owed_after_entry(&v, NMI_STEP_AT_WINDOW, 3), 2);
	assert_int_equal(nmi_owed_after_entry(&v, NMI_STEP_AT_WINDOW, 1), 1);
	/* L1's own NMI handler runs (virtual-NMI blocking), or an NMI is being injected: only the latch holds one. */
	v.interruptibility = GUEST_INTR_STATE_NMI;
	assert_int_equal(nmi_owed_after_entry(&v, NMI_STEP_AT_WINDOW, 2), 1);
	v = owed();
	v.entry_intr_info = INTR_INFO_VALID | ((uint32_t)INTR_TYPE_NMI << INTR_INFO_TYPE_SHIFT) | 2;
	assert_int_equal(nmi_owed_after_entry(&v, NMI_STEP_AT_WINDOW, 2), 1);
	/* Another event (an exception) is being injected: it goes first, both NMIs wait. */
	v.entry_intr_info = INTR_INFO_VALID | ((uint32_t)INTR_TYPE_HW_EXCEPTION << INTR_INFO_TYPE_SHIFT) | 14;
	assert_int_equal(nmi_owed_after_entry(&v, NMI_STEP_AT_WINDOW, 2), 2);
	/* Wait-for-SIPI holds one. */
	v = owed();
	v.activity = GUEST_ACTIVITY_WAIT_SIPI;
	assert_int_equal(nmi_owed_after_entry(&v, NMI_STEP_HOLD, 2), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_owed),
		cmocka_unit_test(test_injected_when_nothing_blocks),
		cmocka_unit_test(test_blocked_waits_for_window),
		cmocka_unit_test(test_other_event_goes_first),
		cmocka_unit_test(test_pending_single_step_not_dropped),
		cmocka_unit_test(test_held_in_wait_for_sipi),
		cmocka_unit_test(test_owed_count_after_entry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
