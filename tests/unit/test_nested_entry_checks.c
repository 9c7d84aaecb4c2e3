/* Host tests for the VM-entry consistency-check table (hv/nested/entry_checks.c): a valid vmcs12, then one broken field per row. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "hv/nested/entry_checks.h"
#include "hv/vmx/vmx_caps.h"
#include "hv/vmx/vmx_defs.h"
#include "hv/x86.h"

static const struct nested_vmx_caps caps = {
	.pin_allowed0 = 0x16, .pin_allowed1 = 0x7f,
	.proc_allowed0 = 0x0401e172, .proc_allowed1 = 0xfff9fffe & ~(uint32_t)CPU_BASED_MONITOR_TRAP_FLAG,
	.proc2_allowed1 = SECONDARY_ENABLE_RDTSCP | SECONDARY_WBINVD_EXITING | SECONDARY_ENABLE_EPT |
			  SECONDARY_ENABLE_VPID | SECONDARY_UNRESTRICTED_GUEST | SECONDARY_ENABLE_PML |
			  SECONDARY_VIRT_APIC_ACCESSES,
	.ept_vpid_cap = VMX_EPT_WALK_4 | VMX_EPT_MEMTYPE_WB | VMX_EPT_AD,
	.exit_allowed0 = 0x00036dff, .exit_allowed1 = 0x007fffff,
	.entry_allowed0 = 0x000011ff, .entry_allowed1 = 0x0000ffff,
	.cr0_fixed0 = 0x80000021, .cr0_fixed1 = 0xffffffff, .cr4_fixed0 = 0x2000, .cr4_fixed1 = 0x3727ff,
	.misc = 4u << 16, .maxphyaddr = 39,
};
static const struct nested_entry_ctx ctx64 = { .caps = &caps, .l1_ia32e = true };
static struct vmcs12 v;

/* A vmcs12 every row accepts: a 64-bit host and guest. */
static void valid_vmcs12(struct vmcs12 *w)
{
	memset(w, 0, sizeof(*w));
	w->pin_based_vm_exec_control = caps.pin_allowed0;
	w->cpu_based_vm_exec_control = caps.proc_allowed0 | CPU_BASED_USE_IO_BITMAPS | CPU_BASED_USE_MSR_BITMAPS;
	w->io_bitmap_a = 0x10000;
	w->io_bitmap_b = 0x11000;
	w->msr_bitmap = 0x12000;
	w->vm_exit_controls = caps.exit_allowed0 | VM_EXIT_HOST_ADDR_SPACE_SIZE;
	w->vm_entry_controls = caps.entry_allowed0 | VM_ENTRY_IA32E_MODE;
	w->host_cr0 = 0x80000031;
	w->host_cr4 = X86_CR4_VMXE | X86_CR4_PAE;
	w->host_cr3 = 0x1000;
	w->host_cs_selector = 0x10;
	w->host_tr_selector = 0x40;
	w->host_rip = 0xffffffff81000000ULL;
	w->vmcs_link_pointer = ~0ULL;
}

static int setup(void **state)
{
	(void)state;
	valid_vmcs12(&v);
	return 0;
}

static const struct nested_entry_check *run(void)
{
	return nested_check_vmentry(&v, &ctx64);
}

static void test_valid_passes(void **state)
{
	(void)state;
	assert_null(run());
}

/* One broken field per row, in table order: the row itself must be the one that reports it. */
static void break_row(size_t i, struct vmcs12 *w)
{
	switch (i) {
	case 0: w->pin_based_vm_exec_control |= 1u << 8; break;
	case 1: w->cpu_based_vm_exec_control |= CPU_BASED_MONITOR_TRAP_FLAG; break;
	case 2: w->cpu_based_vm_exec_control |= CPU_BASED_ACTIVATE_SECONDARY;
		w->secondary_vm_exec_control = SECONDARY_ENABLE_VMFUNC; break;
	case 3: w->cpu_based_vm_exec_control |= CPU_BASED_ACTIVATE_SECONDARY;
		w->secondary_vm_exec_control = SECONDARY_ENABLE_EPT; w->ept_pointer = 0x40000 | 3 << 3 | 2; break;
	case 4: w->cpu_based_vm_exec_control |= CPU_BASED_ACTIVATE_SECONDARY;
		w->secondary_vm_exec_control = SECONDARY_VIRT_APIC_ACCESSES; w->apic_access_addr = 0x7010; break;
	case 5: w->cpu_based_vm_exec_control |= CPU_BASED_ACTIVATE_SECONDARY;
		w->secondary_vm_exec_control = SECONDARY_ENABLE_VPID; break; /* VPID 0 */
	case 6: w->cpu_based_vm_exec_control |= CPU_BASED_ACTIVATE_SECONDARY;
		w->secondary_vm_exec_control = SECONDARY_UNRESTRICTED_GUEST; break;
	case 7: w->cpu_based_vm_exec_control |= CPU_BASED_ACTIVATE_SECONDARY;
		w->secondary_vm_exec_control = SECONDARY_ENABLE_EPT | SECONDARY_ENABLE_PML;
		w->ept_pointer = 0x40000 | 3 << 3 | 6; w->pml_address = 0x5008; break;
	case 8: w->cr3_target_count = 5; break;
	case 9: w->io_bitmap_b = 0x11008; break;
	case 10: w->msr_bitmap = 1ULL << 39; break;
	case 11: w->cpu_based_vm_exec_control |= CPU_BASED_TPR_SHADOW; w->virtual_apic_page_addr = 0x20010; break;
	case 12: w->cpu_based_vm_exec_control |= CPU_BASED_TPR_SHADOW; w->virtual_apic_page_addr = 0x20000;
		w->tpr_threshold = 0x10; break;
	case 13: w->cpu_based_vm_exec_control |= CPU_BASED_TPR_SHADOW; w->virtual_apic_page_addr = 0x20000;
		w->tpr_threshold = 3; break; /* VTPR is 0 */
	case 14: w->pin_based_vm_exec_control |= PIN_BASED_VIRTUAL_NMIS; break;
	case 15: w->vm_exit_controls |= 1u << 30; break;
	case 16: w->vm_exit_controls |= VM_EXIT_SAVE_PREEMPTION_TIMER; break;
	case 17: w->vm_exit_msr_store_count = 1; w->vm_exit_msr_store_addr = 0x2008; break;
	case 18: w->vm_exit_msr_load_count = 2; w->vm_exit_msr_load_addr = (1ULL << 39) - 16; break;
	case 19: w->vm_entry_controls |= 1u << 20; break;
	case 20: w->vm_entry_intr_info_field = INTR_INFO_VALID | (1u << 8); break; /* type 1 reserved */
	case 21: w->vm_entry_msr_load_count = 1; w->vm_entry_msr_load_addr = 0x3004; break;
	case 22: w->vm_entry_controls |= VM_ENTRY_SMM; break;
	case 23: w->host_cr0 &= ~(uint64_t)X86_CR0_PG; break;
	case 24: w->host_cr4 &= ~(uint64_t)X86_CR4_VMXE; break;
	case 25: w->host_cr3 = 1ULL << 40; break;
	case 26: w->host_ia32_sysenter_eip = 0x0000800000000000ULL; break;
	case 27: w->vm_exit_controls |= VM_EXIT_LOAD_IA32_PAT; w->host_ia32_pat = 2; break;
	case 28: w->vm_exit_controls |= VM_EXIT_LOAD_IA32_EFER; w->host_ia32_efer = X86_EFER_LMA; break;
	case 29: w->host_cs_selector = 0x13; break;
	case 30: w->host_gs_base = 0x0001000000000000ULL; break;
	case 31: w->vm_exit_controls &= ~(uint32_t)VM_EXIT_HOST_ADDR_SPACE_SIZE;
		w->vm_entry_controls &= ~(uint32_t)VM_ENTRY_IA32E_MODE; w->host_ss_selector = 0x18; break;
	case 32: w->host_rip = 0x0000800000000000ULL; break;
	case 33: w->vmcs_link_pointer = 0x5000; break;
	case 34: w->vm_entry_controls |= VM_ENTRY_LOAD_IA32_EFER; w->guest_ia32_efer = X86_EFER_LMA | BIT(3); break;
	case 35: w->vm_entry_controls |= VM_ENTRY_LOAD_IA32_PAT; w->guest_ia32_pat = 0x0800000000000000ULL; break;
	case 36: w->guest_dr7 = 1ULL << 32; break;
	default: fail_msg("row %zu has no breaker: add one", i);
	}
}

static void test_each_row_catches_its_field(void **state)
{
	(void)state;
	for (size_t i = 0; i < nested_nr_entry_checks; i++) {
		const struct nested_entry_check *row;

		valid_vmcs12(&v);
		break_row(i, &v);
		row = run();
		if (row != &nested_entry_checks[i])
			fail_msg("row %zu (%s %s) not reported; got %s", i, nested_entry_checks[i].section,
				 nested_entry_checks[i].what, row ? row->what : "none");
	}
}

/*
 * A row runs when one of its input classes changed since all rows last held
 * (any one suffices); a row whose inputs are all unchanged is skipped, except
 * the VTPR row, which reads L1's memory and always runs.
 */
static void test_rows_skipped_only_when_inputs_unchanged(void **state)
{
	(void)state;
	for (size_t i = 0; i < nested_nr_entry_checks; i++) {
		const struct nested_entry_check *want = &nested_entry_checks[i];
		struct nested_entry_ctx ctx = ctx64;

		valid_vmcs12(&v);
		break_row(i, &v);
		ctx.unchanged = 0xff;
		assert_ptr_equal(nested_check_vmentry(&v, &ctx), (want->reads & READS_MEMORY) ? want : NULL);
		for (unsigned int k = 0; k < 8; k++) {
			if (!(want->reads & BIT(k)))
				continue;
			ctx.unchanged = (uint8_t)~BIT(k);
			if (nested_check_vmentry(&v, &ctx) != want)
				fail_msg("row %zu (%s) not run with its input class %#x changed", i, want->what, BIT(k));
		}
	}
}

static void test_outcomes_and_order(void **state)
{
	(void)state;
	/* Host-state before guest-state, controls before host: the first failing group decides. */
	v.vmcs_link_pointer = 0;
	assert_int_equal(run()->outcome, ENTRY_FAIL_GUEST);
	assert_int_equal(run()->qualification, 4);
	v.host_tr_selector = 0;
	assert_int_equal(run()->outcome, ENTRY_VMFAIL_HOST);
	v.cr3_target_count = 9;
	assert_int_equal(run()->outcome, ENTRY_VMFAIL_CONTROL);
}

/* A 32-bit L1 (outside IA-32e mode): a 32-bit host is required and accepted. */
static void test_32bit_host(void **state)
{
	const struct nested_entry_ctx ctx32 = { .caps = &caps, .l1_ia32e = false };

	(void)state;
	v.vm_exit_controls &= ~(uint32_t)VM_EXIT_HOST_ADDR_SPACE_SIZE;
	v.vm_entry_controls &= ~(uint32_t)VM_ENTRY_IA32E_MODE;
	v.host_cr4 = X86_CR4_VMXE;
	v.host_rip = 0x100000;
	v.host_ss_selector = 0x10;
	assert_null(nested_check_vmentry(&v, &ctx32));
	v.host_ss_selector = 0;
	assert_int_equal(nested_check_vmentry(&v, &ctx32)->outcome, ENTRY_VMFAIL_HOST);
	v.host_ss_selector = 0x10;
	v.host_rip = 0x100000000ULL;
	assert_int_equal(nested_check_vmentry(&v, &ctx32)->outcome, ENTRY_VMFAIL_HOST);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_valid_passes, setup),
		cmocka_unit_test_setup(test_each_row_catches_its_field, setup),
		cmocka_unit_test_setup(test_outcomes_and_order, setup),
		cmocka_unit_test_setup(test_rows_skipped_only_when_inputs_unchanged, setup),
		cmocka_unit_test_setup(test_32bit_host, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
