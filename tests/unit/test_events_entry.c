/* Host tests for VM-entry injection (vmcs12 -> vmcs02, checks, zero length) and for what a synthesized VM-exit writes into vmcs12. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/fuzz/nested_harness.h"

static struct fake_l2 f;

#define V INTR_INFO_VALID
#define EC INTR_INFO_DELIVER_CODE

#define INFO(type, vector, code) \
	((uint32_t)(vector) | (uint32_t)(type) << 8 | ((code) ? (uint32_t)EC : 0) | (uint32_t)V)

static uint32_t info(uint8_t type, uint8_t vector, bool code)
{
	return INFO(type, vector, code);
}

static void l1_injects(uint32_t intr_info, uint32_t error_code, uint32_t len)
{
	fake_l2_init(&f);
	f.l1_vmcs12.vm_entry_intr_info_field = intr_info;
	f.l1_vmcs12.vm_entry_exception_error_code = error_code;
	f.l1_vmcs12.vm_entry_instruction_len = len;
	f.l1_vmcs12.guest_cr0 = 1; /* protected mode */
}

/* L1's event goes to vmcs02 as written, even if L1 intercepts that very exception (SDM 26.5). */
static void test_l1_injection_not_rechecked(void **state)
{
	static const uint8_t vectors[] = { DE_VECTOR, UD_VECTOR, GP_VECTOR, PF_VECTOR, AC_VECTOR };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		bool code = nested_exception_has_error_code(vectors[i]);
		uint32_t want = info(INTR_TYPE_HW_EXCEPTION, vectors[i], code);

		l1_injects(want, code ? 0x1c : 0, 0);
		f.l1_vmcs12.exception_bitmap = 0xffffffff;
		f.l1_vmcs12.page_fault_error_code_mask = 0;
		assert_int_equal(nested_enter_l2(&f.nv), 0);
		assert_int_equal(f.vmcs02.vm_entry_intr_info_field, want);
		assert_int_equal(f.vmcs02.vm_entry_exception_error_code, code ? 0x1c : 0);
		assert_false(f.nv.ev.exception_vmexit.ev.valid);
		fake_l2_run(&f, false);
		assert_int_equal(nested_prepare_entry(&f.nv).action, NESTED_ACT_NONE);
		assert_true(f.nv.ev.guest_mode);
	}
}

/* Software events need a length of 1-15; 0 only with IA32_VMX_MISC[30] (SDM 26.2.1.3, A.6). */
static void test_instruction_length(void **state)
{
	static const uint8_t types[] = { INTR_TYPE_SW_INTR, INTR_TYPE_PRIV_SW_EXC, INTR_TYPE_SW_EXCEPTION };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		uint8_t vec = types[i] == INTR_TYPE_SW_INTR ? 0x80 :
			      types[i] == INTR_TYPE_PRIV_SW_EXC ? DB_VECTOR : BP_VECTOR;
		uint32_t inf = info(types[i], vec, false);

		l1_injects(inf, 0, 0);
		f.nv.vmx_misc = 0;
		assert_int_equal(nested_enter_l2(&f.nv), VMXERR_ENTRY_INVALID_CONTROL_FIELD);
		assert_false(f.nv.ev.guest_mode);
		f.nv.vmx_misc = VMX_MISC_ZERO_LEN_INJECTION;
		assert_int_equal(nested_enter_l2(&f.nv), 0);
		assert_int_equal(f.vmcs02.vm_entry_intr_info_field, inf);
		assert_int_equal(f.vmcs02.vm_entry_instruction_len, 0);
		l1_injects(inf, 0, 16);
		assert_int_equal(nested_enter_l2(&f.nv), VMXERR_ENTRY_INVALID_CONTROL_FIELD);
		l1_injects(inf, 0, 15);
		f.nv.vmx_misc = 0;
		assert_int_equal(nested_enter_l2(&f.nv), 0);
		assert_int_equal(f.vmcs02.vm_entry_instruction_len, 15);
	}
	/* Hardware events ignore the length. */
	l1_injects(info(INTR_TYPE_EXT_INTR, 0x20, false), 0, 0);
	f.nv.vmx_misc = 0;
	assert_int_equal(nested_enter_l2(&f.nv), 0);
}

/* The other checks on the VM-entry interruption information (SDM 26.2.1.3). */
static void test_entry_event_checks(void **state)
{
	static const struct { uint32_t info, ec, secondary, cr0; int err; } cases[] = {
		{ 0, 0, 0, 1, 0 },
		{ 0x7fffffff, 0, 0, 1, 0 },                     /* not valid: nothing checked */
		{ INFO(1, 0x20, false), 0, 0, 1, VMXERR_ENTRY_INVALID_CONTROL_FIELD }, /* type 1 */
		{ INFO(INTR_TYPE_NMI, 3, false), 0, 0, 1, VMXERR_ENTRY_INVALID_CONTROL_FIELD },
		{ INFO(INTR_TYPE_NMI, 2, false), 0, 0, 1, 0 },
		{ INFO(INTR_TYPE_HW_EXCEPTION, 32, false), 0, 0, 1, VMXERR_ENTRY_INVALID_CONTROL_FIELD },
		{ INFO(INTR_TYPE_HW_EXCEPTION, GP_VECTOR, false), 0, 0, 1, VMXERR_ENTRY_INVALID_CONTROL_FIELD },
		{ INFO(INTR_TYPE_HW_EXCEPTION, UD_VECTOR, true), 0, 0, 1, VMXERR_ENTRY_INVALID_CONTROL_FIELD },
		{ INFO(INTR_TYPE_HW_EXCEPTION, GP_VECTOR, true), 0x10000, 0, 1, VMXERR_ENTRY_INVALID_CONTROL_FIELD },
		{ INFO(INTR_TYPE_HW_EXCEPTION, GP_VECTOR, true), 0xffff, 0, 1, 0 },
		/* Unrestricted guest in real mode: no error codes. */
		{ INFO(INTR_TYPE_HW_EXCEPTION, GP_VECTOR, false), 0, SECONDARY_UNRESTRICTED_GUEST, 0, 0 },
		{ INFO(INTR_TYPE_HW_EXCEPTION, GP_VECTOR, true), 0, SECONDARY_UNRESTRICTED_GUEST, 0,
		  VMXERR_ENTRY_INVALID_CONTROL_FIELD },
		{ INFO(INTR_TYPE_OTHER_EVENT, 0, false), 0, 0, 1, 0 },
		{ INFO(INTR_TYPE_OTHER_EVENT, 1, false), 0, 0, 1, VMXERR_ENTRY_INVALID_CONTROL_FIELD },
		{ INFO(INTR_TYPE_EXT_INTR, 0x20, false) | BIT(12), 0, 0, 1, VMXERR_ENTRY_INVALID_CONTROL_FIELD },
		{ INFO(INTR_TYPE_EXT_INTR, 0x20, false) | BIT(30), 0, 0, 1, VMXERR_ENTRY_INVALID_CONTROL_FIELD },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		l1_injects(cases[i].info, cases[i].ec, 1);
		f.l1_vmcs12.guest_cr0 = cases[i].cr0;
		if (cases[i].secondary) {
			f.l1_vmcs12.cpu_based_vm_exec_control = CPU_BASED_ACTIVATE_SECONDARY;
			f.l1_vmcs12.secondary_vm_exec_control = cases[i].secondary;
		}
		assert_int_equal(nested_check_entry_event(&f.l1_vmcs12, 0), cases[i].err);
	}
}

/* Type 7 injects a pending MTF VM-exit (SDM 26.5.2): nothing goes to vmcs02, MTF exits right after the entry. */
static void test_pending_mtf_injection(void **state)
{
	(void)state;
	l1_injects(info(INTR_TYPE_OTHER_EVENT, 0, false), 0, 0);
	assert_int_equal(nested_enter_l2(&f.nv), 0);
	assert_int_equal(f.vmcs02.vm_entry_intr_info_field & V, 0);
	assert_int_equal(nested_prepare_entry(&f.nv).action, NESTED_ACT_BLOCKED);
	fake_l2_run(&f, false);
	assert_int_equal(nested_prepare_entry(&f.nv).action, NESTED_ACT_VMEXIT);
	assert_int_equal(f.l1_vmcs12.vm_exit_reason, EXIT_REASON_MONITOR_TRAP_FLAG);
}

/* The synthesized exit copies L2's state from vmcs02, as the exit controls say (SDM 27.3). */
static void test_exit_captures_l2_state(void **state)
{
	struct nested_exit x = { .reason = EXIT_REASON_HLT, .insn_len = 1 };

	(void)state;
	fake_l2_init(&f);
	fake_l2_running(&f);
	f.vmcs02.guest_rip = 0x1234;
	f.vmcs02.guest_rsp = 0x8000;
	f.vmcs02.guest_cs_selector = 0x10;
	f.vmcs02.guest_cr3 = 0x5000;
	f.vmcs02.guest_activity_state = GUEST_ACTIVITY_HLT;
	f.vmcs02.guest_interruptibility_info = GUEST_INTR_STATE_STI | GUEST_INTR_STATE_SMI;
	f.vmcs02.guest_pending_dbg_exceptions = DR6_BS;
	f.vmcs02.vmcs_link_pointer = 0x77000;      /* the hypervisor's, not L1's */
	f.vmcs02.vmx_preemption_timer_value = 99;  /* not saved without the control */
	f.vmcs02.guest_dr7 = 0x400;                /* not saved without "save debug controls" */
	f.vmcs02.guest_ia32_efer = 0x500;
	f.l1_vmcs12.vmcs_link_pointer = ~0ULL;
	f.l1_vmcs12.vm_exit_controls = VM_EXIT_SAVE_IA32_EFER;
	f.l1_vmcs12.guest_dr7 = 0x401;
	f.l1_vmcs12.vmx_preemption_timer_value = 5;
	f.l1_vmcs12.host_rip = 0xffff1000;
	f.l1_vmcs12.vm_entry_intr_info_field = 0x20 | (uint32_t)V;
	f.l1_vmcs12.guest_cs_selector = 0x08;
	nested_vmexit_to_l1(&f.nv, &x);
	assert_int_equal(f.l1_vmcs12.guest_rip, 0x1234);
	assert_int_equal(f.l1_vmcs12.guest_rsp, 0x8000);
	/* The rare state (VMCS12_RARE_LIST) stays in vmcs02 until it is asked for. */
	assert_true(f.nv.rare_in_vmcs02);
	assert_int_equal(f.l1_vmcs12.guest_cs_selector, 0x08);
	nested_capture_rare(&f.nv);
	assert_false(f.nv.rare_in_vmcs02);
	assert_int_equal(f.l1_vmcs12.guest_cs_selector, 0x10);
	assert_int_equal(f.l1_vmcs12.guest_cr3, 0x5000);
	assert_int_equal(f.l1_vmcs12.guest_activity_state, GUEST_ACTIVITY_HLT);
	assert_int_equal(f.l1_vmcs12.guest_interruptibility_info, GUEST_INTR_STATE_STI);
	/* An HLT exit without MOV-SS blocking saves pending debug exceptions as 0 (SDM 27.3.4). */
	assert_int_equal(f.l1_vmcs12.guest_pending_dbg_exceptions, 0);
	assert_int_equal(f.l1_vmcs12.guest_ia32_efer, 0x500);
	assert_int_equal(f.l1_vmcs12.vmcs_link_pointer, ~0ULL);
	assert_int_equal(f.l1_vmcs12.vmx_preemption_timer_value, 5);
	assert_int_equal(f.l1_vmcs12.guest_dr7, 0x401);
	assert_int_equal(f.l1_vmcs12.host_rip, 0xffff1000);
	assert_int_equal(f.l1_vmcs12.vm_exit_reason, EXIT_REASON_HLT);
	assert_int_equal(f.l1_vmcs12.vm_exit_instruction_len, 1);
	assert_int_equal(f.l1_vmcs12.vm_exit_intr_info, 0);
	assert_int_equal(f.l1_vmcs12.vm_entry_intr_info_field, 0x20);
	f.l1_vmcs12.vm_exit_controls = VM_EXIT_SAVE_PREEMPTION_TIMER | VM_EXIT_SAVE_DEBUG_CONTROLS;
	fake_l2_running(&f);
	nested_vmexit_to_l1(&f.nv, &x);
	assert_int_equal(f.l1_vmcs12.vmx_preemption_timer_value, 99);
	assert_int_equal(f.l1_vmcs12.guest_dr7, 0x400);
}

/* An injected event wakes L2 from HLT: vmcs02 goes active (SDM 26.3.1.5). */
static void test_injection_leaves_hlt(void **state)
{
	(void)state;
	fake_l2_init(&f);
	fake_l2_running(&f);
	f.vmcs02.guest_activity_state = GUEST_ACTIVITY_HLT;
	f.nv.ev.intr_pending = true;
	f.nv.ev.intr_vector = 0x55;
	assert_int_equal(nested_prepare_entry(&f.nv).action, NESTED_ACT_INJECT);
	assert_int_equal(f.vmcs02.guest_activity_state, GUEST_ACTIVITY_ACTIVE);
	assert_int_equal(f.vmcs02.vm_entry_intr_info_field, info(INTR_TYPE_EXT_INTR, 0x55, false));
	assert_false(f.nv.ev.intr_pending);
}

/* NMI and interrupt exits (SDM 27.2.2): NMI info always; the interrupt vector only with "acknowledge interrupt on exit". */
static void test_nmi_and_interrupt_exit_information(void **state)
{
	(void)state;
	fake_l2_init(&f);
	fake_l2_running(&f);
	f.l1_vmcs12.pin_based_vm_exec_control = PIN_BASED_NMI_EXITING | PIN_BASED_EXT_INTR_EXITING;
	f.nv.ev.nmi_pending = true;
	nested_prepare_entry(&f.nv);
	assert_int_equal(f.l1_vmcs12.vm_exit_intr_info, info(INTR_TYPE_NMI, NMI_VECTOR, false));
	assert_false(f.nv.ev.nmi_pending);

	fake_l2_running(&f);
	f.nv.ev.intr_pending = true;
	f.nv.ev.intr_vector = 0x66;
	nested_prepare_entry(&f.nv);
	assert_int_equal(f.l1_vmcs12.vm_exit_reason, EXIT_REASON_EXTERNAL_INTERRUPT);
	assert_int_equal(f.l1_vmcs12.vm_exit_intr_info, 0);
	assert_true(f.nv.ev.intr_pending); /* still L1's to take */

	fake_l2_running(&f);
	f.l1_vmcs12.vm_exit_controls = VM_EXIT_ACK_INTR_ON_EXIT;
	nested_prepare_entry(&f.nv);
	assert_int_equal(f.l1_vmcs12.vm_exit_intr_info, info(INTR_TYPE_EXT_INTR, 0x66, false));
	assert_false(f.nv.ev.intr_pending);
}

/* Outside guest mode the core decides nothing. */
static void test_not_in_guest_mode(void **state)
{
	(void)state;
	fake_l2_init(&f);
	f.nv.ev.nmi_pending = true;
	f.nv.ev.init_pending = true;
	assert_int_equal(nested_prepare_entry(&f.nv).action, NESTED_ACT_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_l1_injection_not_rechecked),
		cmocka_unit_test(test_instruction_length),
		cmocka_unit_test(test_entry_event_checks),
		cmocka_unit_test(test_pending_mtf_injection),
		cmocka_unit_test(test_exit_captures_l2_state),
		cmocka_unit_test(test_injection_leaves_hlt),
		cmocka_unit_test(test_nmi_and_interrupt_exit_information),
		cmocka_unit_test(test_not_in_guest_mode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
