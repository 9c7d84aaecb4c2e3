/* Host tests for the priority order: every pair of pending events, blocking, wait-for-SIPI and event blocking by L2 state. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/fuzz/nested_harness.h"

static struct fake_l2 f;

/* The rows of the table in hv/nested/priority.c, highest first. */
enum row {
	R_TRIPLE, R_DELIVERY_EXC, R_BT_DB, R_SMI, R_INIT, R_SIPI, R_MTF, R_TRAP_DB,
	R_TIMER, R_NMI, R_INTR, R_FAULT, R_NR
};

static bool row_is_exception(enum row r)
{
	return r == R_DELIVERY_EXC || r == R_BT_DB || r == R_TRAP_DB || r == R_FAULT;
}

static struct nested_exception row_exception(enum row r)
{
	struct nested_exception ex;

	switch (r) {
	case R_DELIVERY_EXC:
		ex = fake_exception(GP_VECTOR, 0, 0, false);
		ex.during_delivery = true;
		return ex;
	case R_BT_DB:
		return fake_db(DR6_BT);
	case R_TRAP_DB:
		return fake_db(DR6_BS);
	default:
		return fake_exception(UD_VECTOR, 0, 0, false);
	}
}

/* Make row r pending; exceptions go to the L2 slot or, for L1, to the exit slot. */
static void make_pending(enum row r, bool exit_slot)
{
	struct nested_events *ev = &f.nv.ev;

	if (row_is_exception(r)) {
		if (exit_slot)
			ev->exception_vmexit = row_exception(r);
		else
			ev->exception = row_exception(r);
		return;
	}
	switch (r) {
	case R_TRIPLE: ev->triple_fault = true; break;
	case R_SMI: ev->smi_pending = true; break;
	case R_INIT: ev->init_pending = true; break;
	case R_SIPI: ev->sipi_pending = true; ev->sipi_vector = 0x9a; break;
	case R_MTF: ev->mtf_pending = true; break;
	case R_TIMER: ev->preemption_timer_expired = true; break;
	case R_NMI: ev->nmi_pending = true; break;
	default: ev->intr_pending = true; ev->intr_vector = 0x31; break;
	}
}

static void expect(enum row r, bool exit_slot, struct nested_choice c)
{
	static const struct { enum nested_action a; enum nested_source s; } want[R_NR] = {
		[R_TRIPLE] = { NESTED_ACT_VMEXIT, NESTED_SRC_TRIPLE_FAULT },
		[R_SMI] = { NESTED_ACT_SMI, NESTED_SRC_SMI },
		[R_INIT] = { NESTED_ACT_VMEXIT, NESTED_SRC_INIT },
		[R_SIPI] = { NESTED_ACT_DISCARD, NESTED_SRC_SIPI }, /* L2 is active, not in wait-for-SIPI */
		[R_MTF] = { NESTED_ACT_VMEXIT, NESTED_SRC_MTF },
		[R_TIMER] = { NESTED_ACT_VMEXIT, NESTED_SRC_PREEMPTION_TIMER },
		[R_NMI] = { NESTED_ACT_VMEXIT, NESTED_SRC_NMI },
		[R_INTR] = { NESTED_ACT_VMEXIT, NESTED_SRC_INTR },
	};

	if (row_is_exception(r)) {
		assert_int_equal(c.action, exit_slot ? NESTED_ACT_VMEXIT : NESTED_ACT_INJECT);
		assert_int_equal(c.source, exit_slot ? NESTED_SRC_EXCEPTION_VMEXIT : NESTED_SRC_EXCEPTION);
		return;
	}
	assert_int_equal(c.action, want[r].a);
	assert_int_equal(c.source, want[r].s);
}

static void fresh_l2(void)
{
	fake_l2_init(&f);
	fake_l2_running(&f);
	f.l1_vmcs12.pin_based_vm_exec_control = PIN_BASED_NMI_EXITING | PIN_BASED_EXT_INTR_EXITING;
}

/*
 * For every pair hi < lo of rows pending together, hi is chosen. Two
 * exceptions use the two slots (either way round). The one designed
 * exception to the row order: MTF waits while a fault is pending, because an
 * MTF VM-exit follows the fault's delivery (SDM 25.5.2).
 */
static void test_every_pair_in_order(void **state)
{
	(void)state;
	for (int hi = 0; hi < R_NR; hi++) {
		for (int lo = hi + 1; lo < R_NR; lo++) {
			for (int swap = 0; swap < 2; swap++) {
				bool both = row_is_exception((enum row)hi) && row_is_exception((enum row)lo);
				bool hi_slot = swap, lo_slot = both ? !swap : swap;

				fresh_l2();
				make_pending((enum row)hi, hi_slot);
				make_pending((enum row)lo, lo_slot);
				if (hi == R_MTF && lo == R_FAULT)
					expect(R_FAULT, lo_slot, nested_pick_event(&f.nv));
				else
					expect((enum row)hi, hi_slot, nested_pick_event(&f.nv));
			}
		}
	}
}

/* Each row alone is chosen, and carrying it out leaves nothing pending twice. */
static void test_each_row_alone(void **state)
{
	(void)state;
	for (int r = 0; r < R_NR; r++) {
		for (int slot = 0; slot < 2; slot++) {
			struct nested_choice c;

			fresh_l2();
			make_pending((enum row)r, slot);
			c = nested_pick_event(&f.nv);
			expect((enum row)r, slot, c);
			nested_apply_choice(&f.nv, &c);
			if (f.nv.ev.guest_mode) {
				fake_l2_run(&f, false);
				c = nested_pick_event(&f.nv);
				assert_true(c.action == NESTED_ACT_NONE || c.action == NESTED_ACT_SMI ||
					    (r == R_INTR && c.source == NESTED_SRC_INTR));
			}
		}
	}
}

/* An entry in progress (L1's VMLAUNCH/VMRESUME) or an injection already set up blocks everything, exceptions too. */
static void test_blocked_retry_after_entry(void **state)
{
	(void)state;
	for (int r = 0; r < R_NR; r++) {
		fresh_l2();
		assert_int_equal(nested_enter_l2(&f.nv), 0);
		make_pending((enum row)r, false);
		assert_int_equal(nested_pick_event(&f.nv).action, NESTED_ACT_BLOCKED);
		assert_int_equal(nested_prepare_entry(&f.nv).action, NESTED_ACT_BLOCKED);
		fake_l2_run(&f, false);
		assert_int_not_equal(nested_pick_event(&f.nv).action, NESTED_ACT_BLOCKED);
	}
	fresh_l2();
	assert_int_equal(nested_enter_l2(&f.nv), 0);
	assert_int_equal(nested_pick_event(&f.nv).action, NESTED_ACT_NONE);
}

/* A cut-short delivery blocks new events (rows 4-11) but not exceptions. */
static void test_reinjection_blocks_new_events_only(void **state)
{
	struct nested_event irq = { .valid = true, .type = INTR_TYPE_EXT_INTR, .vector = 0x40 };

	(void)state;
	for (int r = 0; r < R_NR; r++) {
		struct nested_choice c;

		fresh_l2();
		nested_inject_l2(&f.nv, &irq);
		fake_l2_run(&f, true);
		make_pending((enum row)r, true);
		c = nested_pick_event(&f.nv);
		if (r == R_TRIPLE || row_is_exception((enum row)r))
			expect((enum row)r, true, c);
		else
			assert_int_equal(c.action, NESTED_ACT_BLOCKED);
	}
}

/* Wait-for-SIPI: SIPI exits with its vector; INIT is held; nothing else is recognized (SDM 25.2, 25.5.1). */
static void test_wait_for_sipi(void **state)
{
	(void)state;
	fresh_l2();
	f.vmcs02.guest_activity_state = GUEST_ACTIVITY_WAIT_SIPI;
	make_pending(R_INIT, false);
	make_pending(R_MTF, false);
	make_pending(R_TIMER, false);
	make_pending(R_NMI, false);
	make_pending(R_INTR, false);
	assert_int_equal(nested_pick_event(&f.nv).action, NESTED_ACT_NONE);
	make_pending(R_SIPI, false);
	assert_int_equal(nested_prepare_entry(&f.nv).action, NESTED_ACT_VMEXIT);
	assert_int_equal(f.l1_vmcs12.vm_exit_reason, EXIT_REASON_SIPI);
	assert_int_equal(f.l1_vmcs12.exit_qualification, 0x9a);
	assert_int_equal(f.l1_vmcs12.guest_activity_state, GUEST_ACTIVITY_WAIT_SIPI);
	assert_true(f.nv.ev.init_pending);
}

/* NMI and interrupt blocking by L2's state, with and without L1's exiting controls (SDM 25.4.1, Table 24-3). */
static void test_nmi_and_interrupt_blocking(void **state)
{
	static const struct {
		uint32_t pin, intr_state, activity;
		bool rflags_if;
		enum nested_action nmi, intr;
	} cases[] = {
		{ 0, 0, 0, true, NESTED_ACT_INJECT, NESTED_ACT_INJECT },
		{ 0, 0, 0, false, NESTED_ACT_INJECT, NESTED_ACT_NONE },
		{ 0, GUEST_INTR_STATE_NMI, 0, true, NESTED_ACT_NONE, NESTED_ACT_INJECT },
		{ 0, GUEST_INTR_STATE_STI, 0, true, NESTED_ACT_NONE, NESTED_ACT_NONE },
		{ 0, GUEST_INTR_STATE_MOV_SS, 0, true, NESTED_ACT_NONE, NESTED_ACT_NONE },
		{ PIN_BASED_NMI_EXITING | PIN_BASED_EXT_INTR_EXITING, GUEST_INTR_STATE_NMI, 0, false,
		  NESTED_ACT_VMEXIT, NESTED_ACT_VMEXIT },
		{ PIN_BASED_NMI_EXITING | PIN_BASED_EXT_INTR_EXITING, GUEST_INTR_STATE_MOV_SS, 0, true,
		  NESTED_ACT_NONE, NESTED_ACT_NONE },
		{ 0, 0, GUEST_ACTIVITY_HLT, true, NESTED_ACT_INJECT, NESTED_ACT_INJECT },
		{ 0, 0, GUEST_ACTIVITY_SHUTDOWN, true, NESTED_ACT_INJECT, NESTED_ACT_NONE },
		{ PIN_BASED_EXT_INTR_EXITING, 0, GUEST_ACTIVITY_SHUTDOWN, true, NESTED_ACT_INJECT,
		  NESTED_ACT_NONE },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		for (int which = 0; which < 2; which++) {
			fresh_l2();
			f.l1_vmcs12.pin_based_vm_exec_control = cases[i].pin;
			f.vmcs02.guest_interruptibility_info = cases[i].intr_state;
			f.vmcs02.guest_activity_state = cases[i].activity;
			f.vmcs02.guest_rflags = cases[i].rflags_if ? (2 | BIT(9)) : 2;
			make_pending(which ? R_INTR : R_NMI, false);
			assert_int_equal(nested_pick_event(&f.nv).action,
					 which ? cases[i].intr : cases[i].nmi);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_pair_in_order),
		cmocka_unit_test(test_each_row_alone),
		cmocka_unit_test(test_blocked_retry_after_entry),
		cmocka_unit_test(test_reinjection_blocks_new_events_only),
		cmocka_unit_test(test_wait_for_sipi),
		cmocka_unit_test(test_nmi_and_interrupt_blocking),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
