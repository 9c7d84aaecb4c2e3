/* Host tests for IDT-vectoring: an event cut short is re-injected unchanged, or handed to L1; one injection per entry. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/fuzz/nested_harness.h"

static struct fake_l2 f;

static const struct nested_event events[] = {
	{ .valid = true, .type = INTR_TYPE_EXT_INTR, .vector = 0x41 },
	{ .valid = true, .type = INTR_TYPE_NMI, .vector = NMI_VECTOR },
	{ .valid = true, .type = INTR_TYPE_HW_EXCEPTION, .vector = UD_VECTOR },
	{ .valid = true, .type = INTR_TYPE_HW_EXCEPTION, .vector = GP_VECTOR,
	  .has_error_code = true, .error_code = 0x1234 },
	{ .valid = true, .type = INTR_TYPE_SW_INTR, .vector = 0x80, .insn_len = 2 },
	{ .valid = true, .type = INTR_TYPE_PRIV_SW_EXC, .vector = DB_VECTOR, .insn_len = 1 },
	{ .valid = true, .type = INTR_TYPE_SW_EXCEPTION, .vector = BP_VECTOR, .insn_len = 1 },
};

static void cut_short(const struct nested_event *e)
{
	fake_l2_init(&f);
	fake_l2_running(&f);
	nested_inject_l2(&f.nv, e);
	fake_l2_run(&f, true);
}

static void check_vmcs02_holds(const struct nested_event *e)
{
	assert_int_equal(f.vmcs02.vm_entry_intr_info_field, nested_event_to_intr_info(e));
	if (e->has_error_code)
		assert_int_equal(f.vmcs02.vm_entry_exception_error_code, e->error_code);
	assert_int_equal(f.vmcs02.vm_entry_instruction_len, e->insn_len);
}

/* The hypervisor handles the exit itself: the event goes back into vmcs02 unchanged. */
static void test_saved_and_reinjected_unchanged(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(events); i++) {
		struct nested_choice c;

		cut_short(&events[i]);
		assert_true(f.nv.ev.reinject.valid);
		assert_int_equal(nested_event_to_intr_info(&f.nv.ev.reinject),
				 nested_event_to_intr_info(&events[i]));
		assert_int_equal(f.nv.ev.reinject.insn_len, events[i].insn_len);
		f.vmcs02.vm_entry_intr_info_field = 0;
		c = nested_prepare_entry(&f.nv);
		assert_int_equal(c.action, NESTED_ACT_INJECT);
		assert_int_equal(c.source, NESTED_SRC_REINJECT);
		check_vmcs02_holds(&events[i]);
		/* Delivered this time: nothing more to inject. */
		fake_l2_run(&f, false);
		assert_int_equal(nested_prepare_entry(&f.nv).action, NESTED_ACT_NONE);
		assert_int_equal(f.max_injections, 1);
	}
}

/* The exit goes to L1 (e.g. an EPT violation in L1's EPT): vmcs12 gets the event as IDT-vectoring info. */
static void test_reflected_exit_carries_event_to_l1(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(events); i++) {
		struct nested_exit x = { .reason = EXIT_REASON_EPT_VIOLATION, .qualification = 0x182 };

		cut_short(&events[i]);
		nested_vmexit_to_l1(&f.nv, &x);
		assert_int_equal(f.l1_vmcs12.vm_exit_reason, EXIT_REASON_EPT_VIOLATION);
		assert_int_equal(f.l1_vmcs12.exit_qualification, 0x182);
		assert_int_equal(f.l1_vmcs12.idt_vectoring_info_field,
				 nested_event_to_intr_info(&events[i]));
		assert_int_equal(f.l1_vmcs12.idt_vectoring_error_code, events[i].error_code);
		assert_int_equal(f.l1_vmcs12.vm_exit_instruction_len, events[i].insn_len);
		assert_false(f.nv.ev.reinject.valid);
		assert_false(f.nv.ev.guest_mode);
	}
}

/* No event cut short: IDT-vectoring info is invalid in vmcs12. */
static void test_no_vectoring_event(void **state)
{
	struct nested_exit x = { .reason = EXIT_REASON_CPUID, .insn_len = 2 };

	(void)state;
	fake_l2_init(&f);
	fake_l2_running(&f);
	f.l1_vmcs12.idt_vectoring_info_field = 0xffffffff;
	nested_vmexit_to_l1(&f.nv, &x);
	assert_int_equal(f.l1_vmcs12.idt_vectoring_info_field, 0);
	assert_int_equal(f.l1_vmcs12.vm_exit_instruction_len, 2);
}

/* New events wait for the re-injection ("blocked, retry after the entry"), then come in order. */
static void test_new_events_wait_for_reinjection(void **state)
{
	struct nested_choice c;

	(void)state;
	cut_short(&events[0]);
	f.nv.ev.init_pending = true;
	f.nv.ev.nmi_pending = true;
	f.nv.ev.preemption_timer_expired = true;
	assert_int_equal(nested_pick_event(&f.nv).action, NESTED_ACT_BLOCKED);
	c = nested_prepare_entry(&f.nv);
	assert_int_equal(c.action, NESTED_ACT_BLOCKED);
	check_vmcs02_holds(&events[0]);
	/* Before the entry: still blocked, and nothing more goes into vmcs02. */
	assert_int_equal(nested_prepare_entry(&f.nv).action, NESTED_ACT_BLOCKED);
	fake_l2_run(&f, false);
	assert_int_equal(f.max_injections, 1);
	assert_int_equal(nested_prepare_entry(&f.nv).action, NESTED_ACT_VMEXIT);
	assert_int_equal(f.l1_vmcs12.vm_exit_reason, EXIT_REASON_INIT_SIGNAL);
	assert_int_equal(f.l1_vmcs12.idt_vectoring_info_field, 0);
}

/* An event L1 injected and the hardware cut short goes back to L1 as IDT-vectoring info. */
static void test_l1_injected_event_cut_short(void **state)
{
	struct nested_exit x = { .reason = EXIT_REASON_EPT_VIOLATION };

	(void)state;
	fake_l2_init(&f);
	f.l1_vmcs12.vm_entry_intr_info_field = 0x30 | (uint32_t)INTR_INFO_VALID;
	assert_int_equal(nested_enter_l2(&f.nv), 0);
	fake_l2_run(&f, true);
	assert_false(f.nv.ev.nested_run_pending);
	nested_vmexit_to_l1(&f.nv, &x);
	assert_int_equal(f.l1_vmcs12.idt_vectoring_info_field, 0x30 | (uint32_t)INTR_INFO_VALID);
	/* SDM 27.2: the exit clears the valid bit of L1's VM-entry event. */
	assert_int_equal(f.l1_vmcs12.vm_entry_intr_info_field, 0x30);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_saved_and_reinjected_unchanged),
		cmocka_unit_test(test_reflected_exit_carries_event_to_l1),
		cmocka_unit_test(test_no_vectoring_event),
		cmocka_unit_test(test_new_events_wait_for_reinjection),
		cmocka_unit_test(test_l1_injected_event_cut_short),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
