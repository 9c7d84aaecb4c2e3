/* Host tests for the VM-entry consistency-check table: a valid vmcs12 passes, one broken field per row fails that row. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hv/nested/entry_checks.h"
#include "hv/vmx/vmx_defs.h"
#include "hv/x86.h"

/* Bochs 2.7 tigerlake's VMX MSRs (measured, see test_nested_vmx_policy.c). */
static const struct vmx_hw_msrs tigerlake = {
	.cpuid_vmx = true, .feature_control = 0x5, .basic = 0x01d8100000000004ULL,
	.pinbased = 0x0000007f00000016ULL, .procbased = 0xfff9fffe0401e172ULL,
	.exit = 0x107fffff00036dffULL, .entry = 0x0010ffff000011ffULL, .misc = 0x00000000600401e0ULL,
	.cr0_fixed0 = 0x80000021, .cr0_fixed1 = 0xffffffff, .cr4_fixed0 = 0x2000, .cr4_fixed1 = 0xf72fff,
	.vmcs_enum = 0x34, .procbased2 = 0x02977fff00000000ULL, .ept_vpid_cap = 0x00000f0106b34141ULL,
	.true_pinbased = 0x0000007f00000016ULL, .true_procbased = 0xfff9fffe04006172ULL,
	.true_exit = 0x107fffff00036dfbULL, .true_entry = 0x0010ffff000011fbULL, .vmfunc = 0x1,
	.l1_cr4_allowed = ~0ULL,
};

static struct vmx_offer offer;
static struct vmcs12 v;
static struct entry_check_ctx ctx = { .vmcs12 = &v, .offer = &offer };

/* Every control this table checks in use, every address valid. */
static void valid_vmcs12(void)
{
	vmx_offer_compute(&tigerlake, true, &offer);
	memset(&v, 0, sizeof(v));
	ctx.maxphyaddr = 36;
	ctx.vtpr = 0x30;
	v.pin_based_vm_exec_control = 0x16 | PIN_BASED_EXT_INTR_EXITING | PIN_BASED_NMI_EXITING |
				      PIN_BASED_VIRTUAL_NMIS | PIN_BASED_PREEMPTION_TIMER;
	v.cpu_based_vm_exec_control = 0x04006172 | CPU_BASED_HLT_EXITING | CPU_BASED_USE_IO_BITMAPS |
				      CPU_BASED_USE_MSR_BITMAPS | CPU_BASED_TPR_SHADOW |
				      CPU_BASED_NMI_WINDOW_EXITING | CPU_BASED_ACTIVATE_SECONDARY;
	v.secondary_vm_exec_control = SECONDARY_ENABLE_RDTSCP;
	v.cr3_target_count = 4;
	v.io_bitmap_a = 0x10000;
	v.io_bitmap_b = 0x11000;
	v.msr_bitmap = 0x12000;
	v.virtual_apic_page_addr = 0x13000;
	v.tpr_threshold = 3;
	v.vm_exit_controls = 0x36dfb | VM_EXIT_HOST_ADDR_SPACE_SIZE | VM_EXIT_ACK_INTR_ON_EXIT |
			     VM_EXIT_SAVE_PREEMPTION_TIMER;
	v.vm_exit_msr_store_count = 2;
	v.vm_exit_msr_store_addr = 0x14000;
	v.vm_exit_msr_load_count = 1;
	v.vm_exit_msr_load_addr = 0x14100;
	v.vm_entry_controls = 0x11fb | VM_ENTRY_IA32E_MODE;
	v.vm_entry_msr_load_count = 3;
	v.vm_entry_msr_load_addr = 0xffffffd0; /* last byte 0xffffffff: inside */
	v.vm_entry_intr_info_field = 0x30 | (uint32_t)INTR_INFO_VALID;
}

/* One broken field per row, in table order. */
static void b_pin(void) { v.pin_based_vm_exec_control |= PIN_BASED_POSTED_INTR; }
static void b_proc(void) { v.cpu_based_vm_exec_control |= CPU_BASED_TERTIARY_CONTROLS; }
static void b_proc2(void) { v.secondary_vm_exec_control |= SECONDARY_ENABLE_EPT; }
static void b_cr3_targets(void) { v.cr3_target_count = 5; }
static void b_io_a(void) { v.io_bitmap_a = 0x10010; }
static void b_io_b(void) { v.io_bitmap_b = 1ULL << 36; }
static void b_msr_bitmap(void) { v.msr_bitmap = 0x12800; }
static void b_vapic(void) { v.virtual_apic_page_addr = 0x13001; }
static void b_tpr_threshold(void) { v.tpr_threshold = 0x13; }
static void b_tpr_vtpr(void) { v.tpr_threshold = 4; }  /* VTPR[7:4] = 3 */
static void b_virtual_nmis(void) { v.pin_based_vm_exec_control &= ~(uint32_t)PIN_BASED_NMI_EXITING; }
static void b_nmi_window(void) { v.pin_based_vm_exec_control &= ~(uint32_t)PIN_BASED_VIRTUAL_NMIS; }
static void b_exit(void) { v.vm_exit_controls |= VM_EXIT_LOAD_PERF_GLOBAL_CTRL; }
static void b_timer_save(void) { v.pin_based_vm_exec_control &= ~(uint32_t)PIN_BASED_PREEMPTION_TIMER; }
static void b_exit_store(void) { v.vm_exit_msr_store_addr = 0x14008; }
static void b_exit_load(void) { v.vm_exit_msr_load_addr = (1ULL << 36) - 16; v.vm_exit_msr_load_count = 2; }
static void b_entry(void) { v.vm_entry_controls |= VM_ENTRY_LOAD_PERF_GLOBAL_CTRL; }
static void b_injection(void) { v.vm_entry_intr_info_field = 0x30 | 1u << 8 | (uint32_t)INTR_INFO_VALID; }
static void b_entry_load(void) { v.vm_entry_msr_load_addr = 0x14204; }
static void b_smm(void) { v.vm_entry_controls |= VM_ENTRY_SMM; }

static void (*const broken[])(void) = {
	b_pin, b_proc, b_proc2, b_cr3_targets, b_io_a, b_io_b, b_msr_bitmap, b_vapic, b_tpr_threshold,
	b_tpr_vtpr, b_virtual_nmis, b_nmi_window, b_exit, b_timer_save, b_exit_store, b_exit_load,
	b_entry, b_injection, b_entry_load, b_smm,
};

static void test_valid_vmcs12_passes(void **state)
{
	(void)state;
	valid_vmcs12();
	assert_null(nested_entry_check_first_failure(&ctx));
}

static void test_every_row_has_a_broken_field(void **state)
{
	(void)state;
	assert_int_equal(ARRAY_SIZE(broken), nested_entry_checks_count);
	for (size_t i = 0; i < nested_entry_checks_count; i++) {
		assert_int_equal(strncmp(nested_entry_checks[i].sdm, "26.2.1.", 7), 0);
		assert_int_equal(nested_entry_checks[i].outcome, ENTRY_FAIL_CONTROL);
	}
}

/*
 * Row by row: the broken field makes exactly that row apply and fail, and
 * VM entry fails with VMfailValid 7. It is also the first failing row,
 * except for SMM: "entry to SMM" is not offered, so the VM-entry controls
 * row before it refuses the bit already (also error 7).
 */
static void test_each_row_fails_on_its_field(void **state)
{
	(void)state;
	for (size_t i = 0; i < nested_entry_checks_count; i++) {
		const struct entry_check *row = &nested_entry_checks[i];
		const struct entry_check *first;

		valid_vmcs12();
		broken[i]();
		if (row->applies && !row->applies(&ctx))
			fail_msg("row %zu (%s) does not apply", i, row->what);
		if (row->ok(&ctx))
			fail_msg("row %zu (%s) passes a broken vmcs12", i, row->what);
		first = nested_entry_check_first_failure(&ctx);
		assert_non_null(first);
		assert_int_equal(first->outcome, ENTRY_FAIL_CONTROL);
		if (broken[i] != b_smm && first != row)
			fail_msg("row %zu (%s): first failure is %s", i, row->what, first->what);
	}
}

/* A row whose control is off does not look at its field (SDM: "if the control is 1, ..."). */
static void test_rows_apply_only_with_their_control(void **state)
{
	(void)state;
	valid_vmcs12();
	v.cpu_based_vm_exec_control &= ~(uint32_t)(CPU_BASED_USE_IO_BITMAPS | CPU_BASED_USE_MSR_BITMAPS |
						    CPU_BASED_TPR_SHADOW | CPU_BASED_ACTIVATE_SECONDARY);
	v.io_bitmap_a = v.io_bitmap_b = v.msr_bitmap = v.virtual_apic_page_addr = 0x123;
	v.tpr_threshold = 0xffffffff;
	v.secondary_vm_exec_control = 0xffffffff;  /* ignored without "activate secondary controls" */
	v.vm_exit_msr_store_count = v.vm_exit_msr_load_count = v.vm_entry_msr_load_count = 0;
	v.vm_exit_msr_store_addr = v.vm_exit_msr_load_addr = v.vm_entry_msr_load_addr = 0x7;
	v.vm_entry_intr_info_field = 0x7fffffff;    /* not valid: not checked */
	assert_null(nested_entry_check_first_failure(&ctx));
}

/* Limits: the last byte of an MSR list may be the last byte below the width; the TPR threshold may equal VTPR. */
static void test_boundaries(void **state)
{
	(void)state;
	valid_vmcs12();
	v.vm_exit_msr_load_addr = (1ULL << 36) - 16;
	v.vm_exit_msr_load_count = 1;
	v.tpr_threshold = 3;
	ctx.vtpr = 0x3f;
	assert_null(nested_entry_check_first_failure(&ctx));
	v.io_bitmap_a = (1ULL << 36) - PAGE_SIZE;
	assert_null(nested_entry_check_first_failure(&ctx));
	/* Injection of a length-0 software interrupt: allowed, as the offer has IA32_VMX_MISC[30]. */
	v.vm_entry_intr_info_field = 0x80 | INTR_TYPE_SW_INTR << 8 | (uint32_t)INTR_INFO_VALID;
	v.vm_entry_instruction_len = 0;
	assert_null(nested_entry_check_first_failure(&ctx));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_vmcs12_passes),
		cmocka_unit_test(test_every_row_has_a_broken_field),
		cmocka_unit_test(test_each_row_fails_on_its_field),
		cmocka_unit_test(test_rows_apply_only_with_their_control),
		cmocka_unit_test(test_boundaries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
