/* Host tests for exception classes and SDM Table 6-5: #DF, triple fault (VM-exit reason 2 to L1), serial handling. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/fuzz/nested_harness.h"

static struct fake_l2 f;

/* SDM Table 6-4, by hand. */
static enum exception_class class_by_hand(unsigned v)
{
	switch (v) {
	case 0: case 10: case 11: case 12: case 13: case 21: return EXC_CONTRIBUTORY;
	case 14: case 20: return EXC_PAGE_FAULT;
	case 8: return EXC_DOUBLE_FAULT;
	default: return EXC_BENIGN;
	}
}

static void test_exception_classes(void **state)
{
	(void)state;
	for (unsigned v = 0; v < 256; v++)
		assert_int_equal(nested_exception_class((uint8_t)v), class_by_hand(v));
}

/* SDM Table 6-5, row = first, column = second. */
static void test_table_6_5(void **state)
{
	static const enum double_fault_outcome want[4][3] = {
		{ DF_SERIAL, DF_SERIAL, DF_SERIAL },
		{ DF_SERIAL, DF_DOUBLE_FAULT, DF_SERIAL },
		{ DF_SERIAL, DF_DOUBLE_FAULT, DF_DOUBLE_FAULT },
		{ DF_SERIAL, DF_TRIPLE_FAULT, DF_TRIPLE_FAULT },
	};

	(void)state;
	for (int a = 0; a < 4; a++)
		for (int b = 0; b < 3; b++)
			assert_int_equal(nested_double_fault_outcome((enum exception_class)a,
								     (enum exception_class)b), want[a][b]);
}

/* Deliver `first` to L2 and have the hardware cut its delivery short. */
static void first_event_in_delivery(uint8_t type, uint8_t vector)
{
	struct nested_exception ex = fake_exception(vector, 0, 0, false);

	fake_l2_init(&f);
	fake_l2_running(&f);
	ex.ev.type = type;
	if (type != INTR_TYPE_HW_EXCEPTION)
		ex.ev.has_error_code = false;
	if (type == INTR_TYPE_SW_INTR)
		ex.ev.insn_len = 2;
	nested_inject_l2(&f.nv, &ex.ev);
	fake_l2_run(&f, true);
	assert_true(f.nv.ev.reinject.valid);
}

static void check_second(enum exception_class first, uint8_t second)
{
	struct nested_exception ex = fake_exception(second, 0x10, 0, false);
	enum nested_queue_result r = nested_queue_exception(&f.nv, &ex);
	enum double_fault_outcome o = nested_double_fault_outcome(first, class_by_hand(second));
	struct nested_choice c = nested_prepare_entry(&f.nv);

	assert_false(f.nv.ev.reinject.valid); /* the first event is consumed either way */
	if (o == DF_TRIPLE_FAULT) {
		assert_int_equal(r, NESTED_QUEUED_TRIPLE_FAULT);
		assert_int_equal(c.action, NESTED_ACT_VMEXIT);
		assert_int_equal(f.l1_vmcs12.vm_exit_reason, EXIT_REASON_TRIPLE_FAULT);
		assert_int_equal(f.l1_vmcs12.vm_exit_intr_info, 0);
	} else if (o == DF_DOUBLE_FAULT) {
		assert_int_equal(r, NESTED_QUEUED_DOUBLE_FAULT);
		assert_int_equal(f.vmcs02.vm_entry_intr_info_field,
				 DF_VECTOR | INTR_TYPE_HW_EXCEPTION << 8 |
				 (uint32_t)INTR_INFO_DELIVER_CODE | (uint32_t)INTR_INFO_VALID);
		assert_int_equal(f.vmcs02.vm_entry_exception_error_code, 0);
	} else {
		assert_int_equal(r, NESTED_QUEUED_L2);
		assert_int_equal(f.vmcs02.vm_entry_intr_info_field & 0xff, second);
	}
}

/* Every hardware exception being delivered x every second exception, none intercepted. */
static void test_second_exception_during_delivery(void **state)
{
	(void)state;
	for (unsigned first = 0; first < 32; first++) {
		if (first == NMI_VECTOR)
			continue;
		for (unsigned second = 0; second < 32; second++) {
			if (second == NMI_VECTOR || second == DF_VECTOR)
				continue;
			first_event_in_delivery(INTR_TYPE_HW_EXCEPTION, (uint8_t)first);
			check_second(class_by_hand(first), (uint8_t)second);
		}
	}
}

/* Interrupts, NMIs and software interrupts are benign as first events, whatever their vector. */
static void test_non_exception_first_events_are_benign(void **state)
{
	static const struct { uint8_t type, vector; } firsts[] = {
		{ INTR_TYPE_EXT_INTR, 13 }, { INTR_TYPE_EXT_INTR, 14 }, { INTR_TYPE_NMI, 2 },
		{ INTR_TYPE_SW_INTR, 0x80 }, { INTR_TYPE_SW_INTR, 8 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(firsts); i++) {
		first_event_in_delivery(firsts[i].type, firsts[i].vector);
		check_second(EXC_BENIGN, GP_VECTOR);
		first_event_in_delivery(firsts[i].type, firsts[i].vector);
		check_second(EXC_BENIGN, PF_VECTOR);
	}
}

/* A #DF that L1 intercepts is an exception VM-exit with error code 0. */
static void test_double_fault_routed_to_l1(void **state)
{
	struct nested_exception gp = fake_exception(GP_VECTOR, 0x10, 0, false);

	(void)state;
	first_event_in_delivery(INTR_TYPE_HW_EXCEPTION, NP_VECTOR);
	f.l1_vmcs12.exception_bitmap = BIT(DF_VECTOR);
	assert_int_equal(nested_queue_exception(&f.nv, &gp), NESTED_QUEUED_DOUBLE_FAULT);
	assert_int_equal(nested_prepare_entry(&f.nv).action, NESTED_ACT_VMEXIT);
	assert_int_equal(f.l1_vmcs12.vm_exit_reason, EXIT_REASON_EXCEPTION_NMI);
	assert_int_equal(f.l1_vmcs12.vm_exit_intr_info,
			 DF_VECTOR | INTR_TYPE_HW_EXCEPTION << 8 | (uint32_t)INTR_INFO_DELIVER_CODE |
			 (uint32_t)INTR_INFO_VALID);
	assert_int_equal(f.l1_vmcs12.vm_exit_intr_error_code, 0);
}

/*
 * A second exception that L1 intercepts is checked before any merging: the
 * exit names it, and the IDT-vectoring information names the first event
 * (SDM 27.2.3). During #DF delivery that means no triple fault (SDM 25.2).
 */
static void test_intercepted_second_exception_is_not_merged(void **state)
{
	struct nested_exception pf = fake_exception(PF_VECTOR, 0x2, 0xbad000, true);

	(void)state;
	first_event_in_delivery(INTR_TYPE_HW_EXCEPTION, DF_VECTOR);
	f.l1_vmcs12.exception_bitmap = BIT(PF_VECTOR);
	assert_int_equal(nested_queue_exception(&f.nv, &pf), NESTED_QUEUED_VMEXIT);
	nested_prepare_entry(&f.nv);
	assert_int_equal(f.l1_vmcs12.vm_exit_reason, EXIT_REASON_EXCEPTION_NMI);
	assert_int_equal(f.l1_vmcs12.vm_exit_intr_info & 0xff, PF_VECTOR);
	assert_int_equal(f.l1_vmcs12.exit_qualification, 0xbad000);
	assert_int_equal(f.l1_vmcs12.idt_vectoring_info_field,
			 DF_VECTOR | INTR_TYPE_HW_EXCEPTION << 8 | (uint32_t)INTR_INFO_DELIVER_CODE |
			 (uint32_t)INTR_INFO_VALID);
}

/* A triple fault wins over everything else pending and always exits to L1. */
static void test_triple_fault_exits_first(void **state)
{
	struct nested_exception gp = fake_exception(GP_VECTOR, 0, 0, false);

	(void)state;
	first_event_in_delivery(INTR_TYPE_HW_EXCEPTION, DF_VECTOR);
	f.nv.ev.init_pending = true;
	f.nv.ev.nmi_pending = true;
	assert_int_equal(nested_queue_exception(&f.nv, &gp), NESTED_QUEUED_TRIPLE_FAULT);
	assert_int_equal(nested_queue_exception(&f.nv, &gp), NESTED_QUEUE_BUSY);
	nested_prepare_entry(&f.nv);
	assert_int_equal(f.l1_vmcs12.vm_exit_reason, EXIT_REASON_TRIPLE_FAULT);
	assert_true(f.nv.ev.init_pending); /* still L1's to take */
	assert_false(f.nv.ev.guest_mode);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exception_classes),
		cmocka_unit_test(test_table_6_5),
		cmocka_unit_test(test_second_exception_during_delivery),
		cmocka_unit_test(test_non_exception_first_events_are_benign),
		cmocka_unit_test(test_double_fault_routed_to_l1),
		cmocka_unit_test(test_intercepted_second_exception_is_not_merged),
		cmocka_unit_test(test_triple_fault_exits_first),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
