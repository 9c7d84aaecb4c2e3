/* The project's seed rule (KVM nVMX "Treat General Detect #DB (DR7.GD=1) as fault-like"): GD never reaches pending debug exceptions. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/fuzz/nested_harness.h"

#define MOV_DR_RIP  0x401000ULL /* L2: mov %rax, %dr0 with DR7.GD=1 */
#define AFTER_STORE 0x402003ULL /* L2: the instruction after a store that hit data breakpoint 0 */

static struct fake_l2 f;

static void l2_at(uint64_t rip, uint64_t dr7)
{
	fake_l2_init(&f);
	fake_l2_running(&f);
	f.vmcs02.guest_rip = rip;
	f.vmcs02.guest_dr7 = dr7;
	f.l1_vmcs12.vm_exit_controls = VM_EXIT_SAVE_DEBUG_CONTROLS;
}

/* L2's MOV DR with DR7.GD=1: the hypervisor raises #DB with payload BD and leaves RIP at the MOV (fault-like, SDM 17.2.4). */
static void l2_mov_dr_with_gd(void)
{
	struct nested_exception db = fake_db(DR6_BD);

	l2_at(MOV_DR_RIP, DR7_GD | 0x400);
	assert_int_equal(nested_queue_exception(&f.nv, &db), NESTED_QUEUED_L2);
}

static void check_exit_keeps_gd_out(uint32_t reason)
{
	struct nested_choice c = nested_prepare_entry(&f.nv);

	assert_int_equal(c.action, NESTED_ACT_VMEXIT);
	assert_int_equal(f.l1_vmcs12.vm_exit_reason, reason);
	assert_int_equal(f.l1_vmcs12.guest_pending_dbg_exceptions, 0);
	assert_int_equal(f.l1_vmcs12.guest_rip, MOV_DR_RIP);
	assert_int_equal(f.l1_vmcs12.guest_dr7 & DR7_GD, DR7_GD);
	/* The #DB was not delivered (DR6 untouched) and is gone: the MOV raises it again. */
	assert_int_equal(f.dr6 & DR6_BD, 0);
	assert_false(f.nv.ev.exception.ev.valid);
	assert_true(c.dropped & NESTED_DROPPED_EXCEPTION);
}

static void test_seed_gd_db_then_init_leaves_pending_dbg_zero(void **state)
{
	(void)state;
	l2_mov_dr_with_gd();
	f.nv.ev.init_pending = true;
	check_exit_keeps_gd_out(EXIT_REASON_INIT_SIGNAL);
}

static void test_seed_gd_db_then_preemption_timer_leaves_pending_dbg_zero(void **state)
{
	(void)state;
	l2_mov_dr_with_gd();
	f.nv.ev.preemption_timer_expired = true;
	check_exit_keeps_gd_out(EXIT_REASON_PREEMPTION_TIMER);
}

/* L1 resumes L2: the MOV DR re-executes and faults again; this time the #DB is delivered, once. */
static void test_seed_gd_db_raised_again_after_l1_resumes(void **state)
{
	struct nested_exception db = fake_db(DR6_BD);

	(void)state;
	l2_mov_dr_with_gd();
	f.nv.ev.init_pending = true;
	nested_prepare_entry(&f.nv);
	f.l1_vmcs12.vm_entry_intr_info_field = 0;
	assert_int_equal(nested_enter_l2(&f.nv), 0);
	fake_l2_run(&f, false);
	assert_int_equal(nested_queue_exception(&f.nv, &db), NESTED_QUEUED_L2);
	assert_int_equal(nested_prepare_entry(&f.nv).action, NESTED_ACT_INJECT);
	assert_int_equal(f.vmcs02.vm_entry_intr_info_field,
			 DB_VECTOR | INTR_TYPE_HW_EXCEPTION << 8 | (uint32_t)INTR_INFO_VALID);
	assert_int_equal(f.dr6 & DR6_BD, DR6_BD);
}

/* A data breakpoint (B0) is trap-like: RIP is past the store, and an INIT exit records B0 (with "enabled breakpoint"). */
static void test_seed_data_breakpoint_then_init_records_b0(void **state)
{
	struct nested_exception db = fake_db(BIT(0));

	(void)state;
	l2_at(AFTER_STORE, 0x3 | 0x10000 /* L0/G0, write */);
	nested_queue_exception(&f.nv, &db);
	f.nv.ev.init_pending = true;
	assert_int_equal(nested_prepare_entry(&f.nv).action, NESTED_ACT_VMEXIT);
	assert_int_equal(f.l1_vmcs12.vm_exit_reason, EXIT_REASON_INIT_SIGNAL);
	assert_int_equal(f.l1_vmcs12.guest_pending_dbg_exceptions, BIT(0) | PENDING_DBG_BP_ENABLED);
	assert_int_equal(f.l1_vmcs12.guest_rip, AFTER_STORE);
}

/* The same with MTF: MTF VM exits take priority over debug traps (SDM 25.5.2), B0 is recorded. */
static void test_seed_data_breakpoint_then_mtf_records_b0(void **state)
{
	struct nested_exception db = fake_db(BIT(0));

	(void)state;
	l2_at(AFTER_STORE, 0x3);
	nested_queue_exception(&f.nv, &db);
	f.nv.ev.mtf_pending = true;
	nested_prepare_entry(&f.nv);
	assert_int_equal(f.l1_vmcs12.vm_exit_reason, EXIT_REASON_MONITOR_TRAP_FLAG);
	assert_int_equal(f.l1_vmcs12.guest_pending_dbg_exceptions, BIT(0) | PENDING_DBG_BP_ENABLED);
}

/*
 * The same with the preemption timer: debug traps take priority over timer
 * exits (SDM 25.5.1), so the B0 #DB reaches L2 first and the timer exit that
 * follows has nothing pending.
 */
static void test_seed_data_breakpoint_then_timer_delivers_db_first(void **state)
{
	struct nested_exception db = fake_db(BIT(0));

	(void)state;
	l2_at(AFTER_STORE, 0x3);
	nested_queue_exception(&f.nv, &db);
	f.nv.ev.preemption_timer_expired = true;
	assert_int_equal(nested_prepare_entry(&f.nv).action, NESTED_ACT_INJECT);
	assert_int_equal(f.dr6 & 0xf, BIT(0));
	fake_l2_run(&f, false);
	assert_int_equal(nested_prepare_entry(&f.nv).action, NESTED_ACT_VMEXIT);
	assert_int_equal(f.l1_vmcs12.vm_exit_reason, EXIT_REASON_PREEMPTION_TIMER);
	assert_int_equal(f.l1_vmcs12.guest_pending_dbg_exceptions, 0);
}

/* The rule itself, as the reviewed KVM patch states it: payload & ~DR6.BD. */
static void test_seed_rule_payload_without_bd(void **state)
{
	struct nested_exception gd = fake_db(DR6_BD);
	struct nested_exception gd_b0 = fake_db(DR6_BD | BIT(0));

	(void)state;
	assert_int_equal(pending_dbg_traps(&gd), 0);
	assert_int_equal(pending_dbg_traps(&gd_b0), BIT(0));
	assert_int_equal(nested_exception_priority(&gd), EXC_PRIO_INSTRUCTION);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_gd_db_then_init_leaves_pending_dbg_zero),
		cmocka_unit_test(test_seed_gd_db_then_preemption_timer_leaves_pending_dbg_zero),
		cmocka_unit_test(test_seed_gd_db_raised_again_after_l1_resumes),
		cmocka_unit_test(test_seed_data_breakpoint_then_init_records_b0),
		cmocka_unit_test(test_seed_data_breakpoint_then_mtf_records_b0),
		cmocka_unit_test(test_seed_data_breakpoint_then_timer_delivers_db_first),
		cmocka_unit_test(test_seed_rule_payload_without_bd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
