/* Host tests for the seven defects an SDM review found in the nested event core (issue 9), one group per defect. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "hv/x86.h"
#include "tests/fuzz/nested_harness.h"

static struct fake_l2 f;

#define V INTR_INFO_VALID
#define EC INTR_INFO_DELIVER_CODE
#define INFO(type, vector, code) \
	((uint32_t)(vector) | (uint32_t)(type) << 8 | ((code) ? (uint32_t)EC : 0) | (uint32_t)V)

static void fresh_l2(void)
{
	fake_l2_init(&f);
	fake_l2_running(&f);
	f.vmcs02.guest_rip = 0x1000;
	f.vmcs02.guest_cr0 = X86_CR0_PE | X86_CR0_PG;
}

/* ---- 1: a trap-like #DB that L1 intercepts survives an INIT or MTF exit (SDM 27.3.4) ---- */

static void check_intercepted_trap_db_at(bool mtf)
{
	struct nested_exception db = fake_db(BIT(0) | DR6_BS);

	fresh_l2();
	f.l1_vmcs12.exception_bitmap = BIT(DB_VECTOR);
	assert_int_equal(nested_queue_exception(&f.nv, &db), NESTED_QUEUED_VMEXIT);
	if (mtf)
		f.nv.ev.mtf_pending = true;
	else
		f.nv.ev.init_pending = true;
	assert_int_equal(nested_prepare_entry(&f.nv).action, NESTED_ACT_VMEXIT);
	assert_int_equal(f.l1_vmcs12.vm_exit_reason,
			 mtf ? EXIT_REASON_MONITOR_TRAP_FLAG : EXIT_REASON_INIT_SIGNAL);
	/* The #DB is not lost: L1 finds it pending and its next VM-entry delivers it (SDM 26.6.3). */
	assert_int_equal(f.l1_vmcs12.guest_pending_dbg_exceptions,
			 BIT(0) | PENDING_DBG_BP_ENABLED | PENDING_DBG_BS);
	assert_false(f.nv.ev.exception_vmexit.ev.valid);
}

static void test_1_intercepted_trap_db_kept_at_init_exit(void **s) { (void)s; check_intercepted_trap_db_at(false); }
static void test_1_intercepted_trap_db_kept_at_mtf_exit(void **s) { (void)s; check_intercepted_trap_db_at(true); }

/* ---- 2: no error code for a real-mode L2 (unrestricted guest, CR0.PE=0; SDM 26.2.1.3) ---- */

static void real_mode_l2(void)
{
	fresh_l2();
	f.vmcs02.cpu_based_vm_exec_control = CPU_BASED_ACTIVATE_SECONDARY;
	f.vmcs02.secondary_vm_exec_control = SECONDARY_UNRESTRICTED_GUEST;
	f.vmcs02.guest_cr0 = 0;
}

static void test_2_real_mode_injection_has_no_error_code(void **state)
{
	struct nested_exception gp = fake_exception(GP_VECTOR, 0, 0, false);

	(void)state;
	real_mode_l2();
	assert_int_equal(nested_queue_exception(&f.nv, &gp), NESTED_QUEUED_L2);
	assert_int_equal(nested_prepare_entry(&f.nv).action, NESTED_ACT_INJECT);
	assert_int_equal(f.vmcs02.vm_entry_intr_info_field, INFO(INTR_TYPE_HW_EXCEPTION, GP_VECTOR, false));
	/* The hardware's own check on vmcs02 passes (it would be VMfailValid 7 otherwise). */
	assert_int_equal(nested_check_entry_event(&f.vmcs02, 0), 0);
}

static void test_2_real_mode_double_fault_has_no_error_code(void **state)
{
	struct nested_event first = { .valid = true, .type = INTR_TYPE_HW_EXCEPTION, .vector = GP_VECTOR };
	struct nested_exception gp = fake_exception(GP_VECTOR, 0, 0, false);

	(void)state;
	real_mode_l2();
	nested_inject_l2(&f.nv, &first);
	fake_l2_run(&f, true);
	assert_int_equal(nested_queue_exception(&f.nv, &gp), NESTED_QUEUED_DOUBLE_FAULT);
	nested_prepare_entry(&f.nv);
	assert_int_equal(f.vmcs02.vm_entry_intr_info_field, INFO(INTR_TYPE_HW_EXCEPTION, DF_VECTOR, false));
	assert_int_equal(nested_check_entry_event(&f.vmcs02, 0), 0);
}

/* An exception exit of a real-mode L2 reports no error code either (SDM 27.2.2: none would be pushed). */
static void test_2_real_mode_exception_exit_has_no_error_code(void **state)
{
	struct nested_exception gp = fake_exception(GP_VECTOR, 0, 0, false);

	(void)state;
	real_mode_l2();
	f.l1_vmcs12.exception_bitmap = BIT(GP_VECTOR);
	nested_queue_exception(&f.nv, &gp);
	nested_prepare_entry(&f.nv);
	assert_int_equal(f.l1_vmcs12.vm_exit_intr_info, INFO(INTR_TYPE_HW_EXCEPTION, GP_VECTOR, false));
	assert_int_equal(f.l1_vmcs12.vm_exit_intr_error_code, 0);
}

/* ---- 3: re-injecting an NMI clears blocking by NMI (SDM 26.3.1.5) ---- */

static void test_3_nmi_reinjection_clears_nmi_blocking(void **state)
{
	struct nested_event nmi = { .valid = true, .type = INTR_TYPE_NMI, .vector = NMI_VECTOR };
	struct nested_choice c;

	(void)state;
	fresh_l2();
	nested_inject_l2(&f.nv, &nmi);
	fake_l2_run(&f, true);
	/* The hardware blocks NMIs from the start of the NMI's delivery; the exit leaves that blocking in place. */
	f.vmcs02.guest_interruptibility_info = GUEST_INTR_STATE_NMI | GUEST_INTR_STATE_STI;
	c = nested_prepare_entry(&f.nv);
	assert_int_equal(c.source, NESTED_SRC_REINJECT);
	assert_int_equal(f.vmcs02.vm_entry_intr_info_field, INFO(INTR_TYPE_NMI, NMI_VECTOR, false));
	assert_int_equal(f.vmcs02.guest_interruptibility_info, GUEST_INTR_STATE_STI);
}

/* ---- 4: pending debug exceptions saved as 0 except for the exits SDM 27.3.4 lists ---- */

static void stale_pending_dbg(uint32_t intr_state)
{
	fresh_l2();
	f.vmcs02.guest_pending_dbg_exceptions = PENDING_DBG_BS;
	f.vmcs02.guest_interruptibility_info = intr_state;
}

static void test_4_pending_dbg_cleared_for_other_exits(void **state)
{
	static const uint32_t reasons[] = { EXIT_REASON_CPUID, EXIT_REASON_HLT, EXIT_REASON_EXTERNAL_INTERRUPT,
					    EXIT_REASON_PREEMPTION_TIMER, EXIT_REASON_IO_INSTRUCTION,
					    EXIT_REASON_TRIPLE_FAULT };
	struct nested_exception gp = fake_exception(GP_VECTOR, 0, 0, false);

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(reasons); i++) {
		struct nested_exit x = { .reason = reasons[i] };

		stale_pending_dbg(0);
		nested_vmexit_to_l1(&f.nv, &x);
		assert_int_equal(f.l1_vmcs12.guest_pending_dbg_exceptions, 0);
	}
	/* The core's own exits: an NMI exit and an exception exit. */
	stale_pending_dbg(0);
	f.l1_vmcs12.pin_based_vm_exec_control = PIN_BASED_NMI_EXITING;
	f.nv.ev.nmi_pending = true;
	nested_prepare_entry(&f.nv);
	assert_int_equal(f.l1_vmcs12.vm_exit_reason, EXIT_REASON_EXCEPTION_NMI);
	assert_int_equal(f.l1_vmcs12.guest_pending_dbg_exceptions, 0);
	stale_pending_dbg(0);
	f.l1_vmcs12.exception_bitmap = BIT(GP_VECTOR);
	nested_queue_exception(&f.nv, &gp);
	nested_prepare_entry(&f.nv);
	assert_int_equal(f.l1_vmcs12.guest_pending_dbg_exceptions, 0);
}

static void test_4_pending_dbg_kept_for_listed_exits(void **state)
{
	static const uint32_t reasons[] = { EXIT_REASON_INIT_SIGNAL, EXIT_REASON_IO_SMI, EXIT_REASON_OTHER_SMI,
					    EXIT_REASON_MONITOR_TRAP_FLAG, EXIT_REASON_TPR_BELOW_THRESHOLD,
					    EXIT_REASON_EOI_INDUCED, EXIT_REASON_APIC_WRITE };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(reasons); i++) {
		struct nested_exit x = { .reason = reasons[i] };

		stale_pending_dbg(0);
		nested_vmexit_to_l1(&f.nv, &x);
		assert_int_equal(f.l1_vmcs12.guest_pending_dbg_exceptions, PENDING_DBG_BS);
	}
	/* A machine-check exception exit keeps it; so does any exit but #DB's under MOV-SS blocking. */
	{
		struct nested_exit mc = { .reason = EXIT_REASON_EXCEPTION_NMI,
					  .intr_info = INFO(INTR_TYPE_HW_EXCEPTION, MC_VECTOR, false) };
		struct nested_exit cpuid = { .reason = EXIT_REASON_CPUID };
		struct nested_exit db = { .reason = EXIT_REASON_EXCEPTION_NMI,
					  .intr_info = INFO(INTR_TYPE_HW_EXCEPTION, DB_VECTOR, false) };

		stale_pending_dbg(0);
		nested_vmexit_to_l1(&f.nv, &mc);
		assert_int_equal(f.l1_vmcs12.guest_pending_dbg_exceptions, PENDING_DBG_BS);
		stale_pending_dbg(GUEST_INTR_STATE_MOV_SS);
		nested_vmexit_to_l1(&f.nv, &cpuid);
		assert_int_equal(f.l1_vmcs12.guest_pending_dbg_exceptions, PENDING_DBG_BS);
		stale_pending_dbg(GUEST_INTR_STATE_MOV_SS);
		nested_vmexit_to_l1(&f.nv, &db);
		assert_int_equal(f.l1_vmcs12.guest_pending_dbg_exceptions, 0);
	}
}

/* ---- 5: exception exits: bit 12, 16-bit error codes, #PF qualification from CR2 ---- */

/* A #GP of an IRET that had unblocked NMIs (SDM 27.2.2): the reflected exit keeps bit 12. */
static void test_5_exception_exit_keeps_nmi_unblocking_bit(void **state)
{
	uint32_t hw = INFO(INTR_TYPE_HW_EXCEPTION, GP_VECTOR, true) | INTR_INFO_NMI_UNBLOCK_IRET;
	struct nested_exception gp = { .ev = nested_event_from_intr_info(hw, 0x10, 0) };

	(void)state;
	fresh_l2();
	f.l1_vmcs12.exception_bitmap = BIT(GP_VECTOR);
	assert_int_equal(nested_queue_exception(&f.nv, &gp), NESTED_QUEUED_VMEXIT);
	nested_prepare_entry(&f.nv);
	assert_int_equal(f.l1_vmcs12.vm_exit_intr_info, hw);
	assert_int_equal(f.l1_vmcs12.vm_exit_intr_error_code, 0x10);
}

/* The same #GP injected into L2 instead: bit 12 is reserved in the entry field, and NMIs stay blocked (IRET faulted). */
static void test_5_injected_iret_fault_reblocks_nmis(void **state)
{
	uint32_t hw = INFO(INTR_TYPE_HW_EXCEPTION, GP_VECTOR, true) | INTR_INFO_NMI_UNBLOCK_IRET;
	struct nested_exception gp = { .ev = nested_event_from_intr_info(hw, 0x10, 0) };

	(void)state;
	fresh_l2();
	nested_queue_exception(&f.nv, &gp);
	nested_prepare_entry(&f.nv);
	assert_int_equal(f.vmcs02.vm_entry_intr_info_field, INFO(INTR_TYPE_HW_EXCEPTION, GP_VECTOR, true));
	assert_int_equal(f.vmcs02.guest_interruptibility_info & GUEST_INTR_STATE_NMI, GUEST_INTR_STATE_NMI);
	assert_int_equal(nested_check_entry_event(&f.vmcs02, 0), 0);
}

/* Error codes are 16 bits (bits 31:16 of the entry field must be 0, SDM 26.2.1.3; none is pushed wider). */
static void test_5_error_code_truncated_to_16_bits(void **state)
{
	struct nested_exception gp = fake_exception(GP_VECTOR, 0x12345678, 0, false);

	(void)state;
	fresh_l2();
	nested_queue_exception(&f.nv, &gp);
	nested_prepare_entry(&f.nv);
	assert_int_equal(f.vmcs02.vm_entry_exception_error_code, 0x5678);
	assert_int_equal(nested_check_entry_event(&f.vmcs02, 0), 0);
	fresh_l2();
	f.l1_vmcs12.exception_bitmap = BIT(GP_VECTOR);
	nested_queue_exception(&f.nv, &gp);
	nested_prepare_entry(&f.nv);
	assert_int_equal(f.l1_vmcs12.vm_exit_intr_error_code, 0x5678);
}

/* A #PF queued without a payload already has its address in L2's CR2: the exit qualification is CR2 (SDM 27.2.1). */
static void test_5_page_fault_qualification_from_cr2(void **state)
{
	struct nested_exception pf = fake_exception(PF_VECTOR, 0x2, 0, false);

	(void)state;
	fresh_l2();
	f.cr2 = 0xdead000;
	f.l1_vmcs12.exception_bitmap = BIT(PF_VECTOR);
	assert_int_equal(nested_queue_exception(&f.nv, &pf), NESTED_QUEUED_VMEXIT);
	nested_prepare_entry(&f.nv);
	assert_int_equal(f.l1_vmcs12.exit_qualification, 0xdead000);
}

/* ---- 6: a fault of an instruction L0 partly carried out is delivered, never dropped ---- */

static struct nested_exception partial_fault(void)
{
	/* E.g. a REP OUTS that L0 emulated for a few iterations before a #PF: restartable stays false. */
	return (struct nested_exception){
		.ev = { .valid = true, .type = INTR_TYPE_HW_EXCEPTION, .vector = PF_VECTOR,
			.has_error_code = true, .error_code = 0x4 },
		.has_payload = true, .payload = 0x7000,
	};
}

static void check_partial_fault_survives(void (*raise)(void), uint32_t then_reason)
{
	struct nested_exception pf = partial_fault();
	struct nested_choice c;

	fresh_l2();
	f.l1_vmcs12.pin_based_vm_exec_control = PIN_BASED_NMI_EXITING | PIN_BASED_EXT_INTR_EXITING;
	assert_int_equal(nested_queue_exception(&f.nv, &pf), NESTED_QUEUED_L2);
	raise();
	c = nested_prepare_entry(&f.nv);
	/* The fault was raised inside the instruction: it is delivered before the next boundary's events. */
	assert_int_equal(c.action, NESTED_ACT_INJECT);
	assert_int_equal(c.source, NESTED_SRC_EXCEPTION);
	assert_int_equal(c.dropped, 0);
	assert_int_equal(f.vmcs02.vm_entry_intr_info_field, INFO(INTR_TYPE_HW_EXCEPTION, PF_VECTOR, true));
	assert_int_equal(f.cr2, 0x7000);
	fake_l2_run(&f, false);
	assert_int_equal(nested_prepare_entry(&f.nv).action, NESTED_ACT_VMEXIT);
	assert_int_equal(f.l1_vmcs12.vm_exit_reason, then_reason);
}

static void raise_nmi(void) { f.nv.ev.nmi_pending = true; }
static void raise_intr(void) { f.nv.ev.intr_pending = true; f.nv.ev.intr_vector = 0x30; }
static void raise_init(void) { f.nv.ev.init_pending = true; }
static void raise_timer(void) { f.nv.ev.preemption_timer_expired = true; }

static void test_6_partial_fault_survives_nmi(void **s) { (void)s; check_partial_fault_survives(raise_nmi, EXIT_REASON_EXCEPTION_NMI); }
static void test_6_partial_fault_survives_intr(void **s) { (void)s; check_partial_fault_survives(raise_intr, EXIT_REASON_EXTERNAL_INTERRUPT); }
static void test_6_partial_fault_survives_init(void **s) { (void)s; check_partial_fault_survives(raise_init, EXIT_REASON_INIT_SIGNAL); }
static void test_6_partial_fault_survives_timer(void **s) { (void)s; check_partial_fault_survives(raise_timer, EXIT_REASON_PREEMPTION_TIMER); }

/* The same fault injected into L2 instead of an NMI: the NMI waits for the fault's delivery, nothing is dropped. */
static void test_6_partial_fault_before_injected_nmi(void **state)
{
	struct nested_exception pf = partial_fault();
	struct nested_choice c;

	(void)state;
	fresh_l2();
	nested_queue_exception(&f.nv, &pf);
	f.nv.ev.nmi_pending = true;
	c = nested_prepare_entry(&f.nv);
	assert_int_equal(c.source, NESTED_SRC_EXCEPTION);
	assert_true(f.nv.ev.nmi_pending);
	fake_l2_run(&f, false);
	c = nested_prepare_entry(&f.nv);
	assert_int_equal(c.source, NESTED_SRC_NMI);
	assert_int_equal(f.vmcs02.vm_entry_intr_info_field, INFO(INTR_TYPE_NMI, NMI_VECTOR, false));
}

/* ---- 7: INT n (type 4) never goes through the exception bitmap (SDM 25.2) ---- */

static void test_7_int_n_below_32_not_routed_by_bitmap(void **state)
{
	(void)state;
	for (unsigned n = 0; n < 32; n++) {
		struct nested_exception intn = {
			.ev = { .valid = true, .type = INTR_TYPE_SW_INTR, .vector = (uint8_t)n, .insn_len = 2 },
		};

		if (n == NMI_VECTOR)
			continue;
		fresh_l2();
		f.l1_vmcs12.exception_bitmap = 0xffffffff;
		f.l1_vmcs12.page_fault_error_code_mask = 0;
		f.l1_vmcs12.page_fault_error_code_match = 0;
		assert_int_equal(nested_queue_exception(&f.nv, &intn), NESTED_QUEUED_L2);
		assert_int_equal(nested_prepare_entry(&f.nv).action, NESTED_ACT_INJECT);
		assert_int_equal(f.vmcs02.vm_entry_intr_info_field, INFO(INTR_TYPE_SW_INTR, n, false));
		assert_int_equal(f.vmcs02.vm_entry_instruction_len, 2);
	}
}

/* Types 3, 5 and 6 still are. */
static void test_7_exception_types_routed_by_bitmap(void **state)
{
	static const struct { uint8_t type, vector; uint32_t len; } cases[] = {
		{ INTR_TYPE_HW_EXCEPTION, UD_VECTOR, 0 },
		{ INTR_TYPE_PRIV_SW_EXC, DB_VECTOR, 1 },
		{ INTR_TYPE_SW_EXCEPTION, BP_VECTOR, 1 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct nested_exception ex = {
			.ev = { .valid = true, .type = cases[i].type, .vector = cases[i].vector,
				.insn_len = cases[i].len },
		};

		fresh_l2();
		f.l1_vmcs12.exception_bitmap = BIT(cases[i].vector);
		assert_int_equal(nested_queue_exception(&f.nv, &ex), NESTED_QUEUED_VMEXIT);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_1_intercepted_trap_db_kept_at_init_exit),
		cmocka_unit_test(test_1_intercepted_trap_db_kept_at_mtf_exit),
		cmocka_unit_test(test_2_real_mode_injection_has_no_error_code),
		cmocka_unit_test(test_2_real_mode_double_fault_has_no_error_code),
		cmocka_unit_test(test_2_real_mode_exception_exit_has_no_error_code),
		cmocka_unit_test(test_3_nmi_reinjection_clears_nmi_blocking),
		cmocka_unit_test(test_4_pending_dbg_cleared_for_other_exits),
		cmocka_unit_test(test_4_pending_dbg_kept_for_listed_exits),
		cmocka_unit_test(test_5_exception_exit_keeps_nmi_unblocking_bit),
		cmocka_unit_test(test_5_injected_iret_fault_reblocks_nmis),
		cmocka_unit_test(test_5_error_code_truncated_to_16_bits),
		cmocka_unit_test(test_5_page_fault_qualification_from_cr2),
		cmocka_unit_test(test_6_partial_fault_survives_nmi),
		cmocka_unit_test(test_6_partial_fault_survives_intr),
		cmocka_unit_test(test_6_partial_fault_survives_init),
		cmocka_unit_test(test_6_partial_fault_survives_timer),
		cmocka_unit_test(test_6_partial_fault_before_injected_nmi),
		cmocka_unit_test(test_7_int_n_below_32_not_routed_by_bitmap),
		cmocka_unit_test(test_7_exception_types_routed_by_bitmap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
