/* Host tests: every combination of DR6 conditions pending for L2 when each kind of synthesized VM-exit is chosen. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/fuzz/nested_harness.h"

static struct fake_l2 f;

enum exit_kind { K_INIT, K_MTF, K_TIMER, K_NMI, K_INTR, K_EXCEPTION, K_NR };

static const uint32_t kind_reason[K_NR] = {
	[K_INIT] = EXIT_REASON_INIT_SIGNAL, [K_MTF] = EXIT_REASON_MONITOR_TRAP_FLAG,
	[K_TIMER] = EXIT_REASON_PREEMPTION_TIMER, [K_NMI] = EXIT_REASON_EXCEPTION_NMI,
	[K_INTR] = EXIT_REASON_EXTERNAL_INTERRUPT, [K_EXCEPTION] = EXIT_REASON_EXCEPTION_NMI,
};

/* The 7 DR6 conditions; combination n sets bit i of n -> cond[i]. */
static const uint64_t cond[7] = { BIT(0), BIT(1), BIT(2), BIT(3), DR6_BD, DR6_BS, DR6_BT };

static uint64_t payload_of(unsigned n)
{
	uint64_t p = 0;

	for (unsigned i = 0; i < 7; i++)
		if (n & (1u << i))
			p |= cond[i];
	return p;
}

static void raise_kind(enum exit_kind k)
{
	struct nested_exception gp = fake_exception(GP_VECTOR, 0, 0, false);

	switch (k) {
	case K_INIT: f.nv.ev.init_pending = true; break;
	case K_MTF: f.nv.ev.mtf_pending = true; break;
	case K_TIMER: f.nv.ev.preemption_timer_expired = true; break;
	case K_NMI:
		f.l1_vmcs12.pin_based_vm_exec_control = PIN_BASED_NMI_EXITING;
		f.nv.ev.nmi_pending = true;
		break;
	case K_INTR:
		f.l1_vmcs12.pin_based_vm_exec_control = PIN_BASED_EXT_INTR_EXITING;
		f.l1_vmcs12.vm_exit_controls = VM_EXIT_ACK_INTR_ON_EXIT;
		f.nv.ev.intr_pending = true;
		f.nv.ev.intr_vector = 0x30;
		break;
	default:
		f.l1_vmcs12.exception_bitmap = BIT(GP_VECTOR);
		assert_int_equal(nested_queue_exception(&f.nv, &gp), NESTED_QUEUED_VMEXIT);
		break;
	}
}

/*
 * The expectation, written from the SDM and not from the code:
 *  - BT: a task-switch #DB has priority 2 (SDM 6.9), above every kind here;
 *    it is delivered first.
 *  - B0-B3/BS without BT: a debug trap (priority 4). INIT (priority 3) and
 *    MTF (SDM 25.5.2) win over it; the preemption timer (SDM 25.5.1), NMI
 *    (5) and interrupts (6) lose to it; a fault of the next instruction
 *    (the #GP) cannot come before it.
 *  - only BD, or nothing: the #DB is a fault of the MOV DR at RIP
 *    (priority 7-10): INIT, timer, NMI, interrupt win over it; MTF only
 *    follows its delivery (SDM 25.5.2); the #GP exit, an exception of the
 *    same instruction decided for L1, goes first.
 * When the exit wins, vmcs12's pending debug exceptions hold the trap
 * conditions only: B0-B3 (with bit 12, enabled breakpoint) and BS; never BD.
 */
static bool exit_wins(enum exit_kind k, uint64_t p)
{
	bool bt = p & DR6_BT;
	bool trap = p & (0xfULL | DR6_BS);

	if (bt)
		return false;
	if (trap)
		return k == K_INIT || k == K_MTF;
	return k != K_MTF;
}

static uint64_t expected_pending(uint64_t p)
{
	uint64_t v = p & (0xfULL | DR6_BS);

	return (p & 0xfULL) ? v | BIT(12) : v;
}

static void check_kind(enum exit_kind k)
{
	for (unsigned n = 0; n < 128; n++) {
		uint64_t p = payload_of(n);
		struct nested_exception db = fake_db(p);
		struct nested_choice c;

		fake_l2_init(&f);
		fake_l2_running(&f);
		f.vmcs02.guest_rip = 0x1000;
		assert_int_equal(nested_queue_exception(&f.nv, &db), NESTED_QUEUED_L2);
		raise_kind(k);
		c = nested_prepare_entry(&f.nv);
		if (exit_wins(k, p)) {
			assert_int_equal(c.action, NESTED_ACT_VMEXIT);
			assert_int_equal(f.l1_vmcs12.vm_exit_reason, kind_reason[k]);
			assert_int_equal(f.l1_vmcs12.guest_pending_dbg_exceptions, expected_pending(p));
			assert_int_equal(f.l1_vmcs12.guest_rip, 0x1000);
			assert_int_equal(f.dr6, DR6_FIXED_1 | DR6_RTM); /* never delivered to L2 */
			assert_false(f.nv.ev.exception.ev.valid);
		} else {
			assert_int_equal(c.action, NESTED_ACT_INJECT);
			assert_int_equal(c.source, NESTED_SRC_EXCEPTION);
			assert_int_equal(f.vmcs02.vm_entry_intr_info_field,
					 DB_VECTOR | INTR_TYPE_HW_EXCEPTION << 8 | (uint32_t)INTR_INFO_VALID);
			assert_int_equal(f.dr6 & (0xfULL | DR6_BD | DR6_BS | DR6_BT), p);
			/* The #GP belongs to an instruction that has not run yet: it is dropped, raised again later. */
			if (k == K_EXCEPTION)
				assert_true(c.dropped & NESTED_DROPPED_EXCEPTION_VMEXIT);
			/* Delivered; the other event follows and finds nothing pending. */
			fake_l2_run(&f, false);
			c = nested_prepare_entry(&f.nv);
			if (k == K_EXCEPTION) {
				assert_int_equal(c.action, NESTED_ACT_NONE);
			} else {
				assert_int_equal(c.action, NESTED_ACT_VMEXIT);
				assert_int_equal(f.l1_vmcs12.vm_exit_reason, kind_reason[k]);
				assert_int_equal(f.l1_vmcs12.guest_pending_dbg_exceptions, 0);
			}
		}
		assert_int_equal(f.l1_vmcs12.guest_pending_dbg_exceptions & DR6_BD, 0);
	}
}

static void test_dr6_combinations_at_init_exit(void **s) { (void)s; check_kind(K_INIT); }
static void test_dr6_combinations_at_mtf_exit(void **s) { (void)s; check_kind(K_MTF); }
static void test_dr6_combinations_at_timer_exit(void **s) { (void)s; check_kind(K_TIMER); }
static void test_dr6_combinations_at_nmi_exit(void **s) { (void)s; check_kind(K_NMI); }
static void test_dr6_combinations_at_intr_exit(void **s) { (void)s; check_kind(K_INTR); }
static void test_dr6_combinations_at_exception_exit(void **s) { (void)s; check_kind(K_EXCEPTION); }

/* The helper functions themselves: BD never survives, BT never reaches the field. */
static void test_pending_dbg_helpers(void **state)
{
	(void)state;
	for (unsigned n = 0; n < 128; n++) {
		struct nested_exception db = fake_db(payload_of(n));

		assert_int_equal(pending_dbg_traps(&db) & DR6_BD, 0);
		assert_int_equal(nested_pending_dbg_for_exit(&db) & (DR6_BD | DR6_BT), 0);
	}
	{
		struct nested_exception icebp = { .ev = { .valid = true, .type = INTR_TYPE_PRIV_SW_EXC,
							  .vector = DB_VECTOR, .insn_len = 1 } };
		struct nested_exception nopayload = fake_exception(DB_VECTOR, 0, 0, false);

		assert_int_equal(pending_dbg_traps(&icebp), 0);
		assert_int_equal(pending_dbg_traps(&nopayload), 0);
		assert_int_equal(nested_exception_priority(&icebp), EXC_PRIO_INSTRUCTION);
	}
	/* DR6 after delivery: B0-B3 replaced, BD/BS/BT sticky, RTM active-low. */
	assert_int_equal(nested_dr6_after_db(DR6_FIXED_1 | DR6_RTM | 0x3 | DR6_BS, 0x4),
			 DR6_FIXED_1 | DR6_RTM | 0x4 | DR6_BS);
	assert_int_equal(nested_dr6_after_db(DR6_FIXED_1 | DR6_RTM, DR6_RTM | DR6_BD),
			 DR6_FIXED_1 | DR6_BD);
}

/* Junk in a #DB payload never reaches vmcs12 (reserved bits of the pending-debug field). */
static void test_payload_sanitized(void **state)
{
	struct nested_exception db = fake_db(0xffffffffffffffffULL);

	(void)state;
	fake_l2_init(&f);
	fake_l2_running(&f);
	db.ev.has_error_code = false;
	nested_queue_exception(&f.nv, &db);
	f.nv.ev.exception.payload &= ~DR6_BT; /* make it a plain debug trap */
	f.nv.ev.init_pending = true;
	nested_prepare_entry(&f.nv);
	assert_int_equal(f.l1_vmcs12.vm_exit_reason, EXIT_REASON_INIT_SIGNAL);
	assert_int_equal(f.l1_vmcs12.guest_pending_dbg_exceptions,
			 0xfULL | BIT(12) | DR6_BS | DR6_RTM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dr6_combinations_at_init_exit),
		cmocka_unit_test(test_dr6_combinations_at_mtf_exit),
		cmocka_unit_test(test_dr6_combinations_at_timer_exit),
		cmocka_unit_test(test_dr6_combinations_at_nmi_exit),
		cmocka_unit_test(test_dr6_combinations_at_intr_exit),
		cmocka_unit_test(test_dr6_combinations_at_exception_exit),
		cmocka_unit_test(test_pending_dbg_helpers),
		cmocka_unit_test(test_payload_sanitized),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
