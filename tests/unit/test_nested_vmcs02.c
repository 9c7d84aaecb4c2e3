/* Host tests for the vmcs02 merge (hv/nested/vmcs02.c) and the host-state load at a synthesized exit (host_state.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "hv/nested/vmcs02.h"
#include "hv/nested/host_state.h"
#include "hv/x86.h"

/* vmcs02 is a second struct vmcs12 here, written by encoding. */
static struct vmcs12 v12, v02;

static void write02(void *ctx, uint32_t field, uint64_t val)
{
	(void)ctx;
	vmcs12_write(&v02, field, val);
}

static const struct nested_l2_ops ops = { .vmcs02_write = write02 };

static struct vmcs02_l0 l0 = {
	.pin = 0, .proc = CPU_BASED_ACTIVATE_SECONDARY, .proc2 = SECONDARY_ENABLE_EPT,
	.exit_controls = VM_EXIT_HOST_ADDR_SPACE_SIZE | VM_EXIT_SAVE_IA32_EFER,
	.entry_controls = VM_ENTRY_LOAD_IA32_EFER | VM_ENTRY_LOAD_DEBUG_CONTROLS,
	.pin_allowed1 = 0xff, .proc_allowed1 = 0xffffffff, .proc2_allowed1 = 0xff, .entry_allowed1 = 0xffffffff,
	.io_bitmap_a = 0xa000, .io_bitmap_b = 0xb000, .msr_bitmap = 0xc000, .eptp = 0x1e05e,
	.cr0_mask = X86_CR0_NE, .cr4_mask = X86_CR4_VMXE, .tsc_offset = 100,
	.l1_efer = X86_EFER_LMA | X86_EFER_LME | X86_EFER_NXE | X86_EFER_SCE, .l1_pat = 0x7040600070406ULL,
	.l1_dr7 = 0x401, .l1_debugctl = 1,
};

static int setup(void **state)
{
	(void)state;
	memset(&v12, 0, sizeof(v12));
	memset(&v02, 0xee, sizeof(v02));
	return 0;
}

static void test_controls_merge(void **state)
{
	(void)state;
	v12.pin_based_vm_exec_control = PIN_BASED_PREEMPTION_TIMER | 0x100 /* not allowed by the hardware */;
	v12.cpu_based_vm_exec_control = CPU_BASED_HLT_EXITING | CPU_BASED_UNCOND_IO_EXITING | CPU_BASED_USE_TSC_OFFSETTING;
	v12.secondary_vm_exec_control = SECONDARY_WBINVD_EXITING; /* ignored: secondary not activated by L1 */
	v12.tsc_offset = (uint64_t)-40;
	v12.exception_bitmap = 1u << 14;
	v12.vmx_preemption_timer_value = 1000;
	vmcs02_prepare(&v12, VMCS12_F_PREEMPTION_TIMER, &l0, &ops, VMCS02_COLD);
	assert_int_equal(v02.pin_based_vm_exec_control, PIN_BASED_PREEMPTION_TIMER);
	/* Unconditional I/O exiting becomes our I/O bitmaps (the wiring fills them with all ones); no MSR bitmaps. */
	assert_int_equal(v02.cpu_based_vm_exec_control, CPU_BASED_HLT_EXITING | CPU_BASED_USE_IO_BITMAPS |
			 CPU_BASED_USE_TSC_OFFSETTING | CPU_BASED_ACTIVATE_SECONDARY);
	assert_int_equal(vmcs02_io_bitmap_source(&v12), VMCS02_BITMAP_ALL);
	assert_false(vmcs02_uses_msr_bitmap(&v12));
	assert_int_equal(v02.secondary_vm_exec_control, SECONDARY_ENABLE_EPT);
	assert_int_equal(v02.tsc_offset, 60);
	assert_int_equal(v02.exception_bitmap, 1u << 14);
	assert_int_equal(v02.ept_pointer, 0x1e05e);
	assert_int_equal(v02.io_bitmap_a, 0xa000);
	assert_int_equal(v02.vm_exit_controls, VM_EXIT_HOST_ADDR_SPACE_SIZE | VM_EXIT_SAVE_IA32_EFER |
			 VM_EXIT_SAVE_PREEMPTION_TIMER);
	v12.vm_exit_controls = VM_EXIT_ACK_INTR_ON_EXIT | VM_EXIT_LOAD_IA32_EFER; /* only "acknowledge" carries over */
	vmcs02_prepare(&v12, VMCS12_F_PREEMPTION_TIMER, &l0, &ops, VMCS02_COLD);
	assert_int_equal(v02.vm_exit_controls, VM_EXIT_HOST_ADDR_SPACE_SIZE | VM_EXIT_SAVE_IA32_EFER |
			 VM_EXIT_SAVE_PREEMPTION_TIMER | VM_EXIT_ACK_INTR_ON_EXIT);
	assert_int_equal(v02.vmx_preemption_timer_value, 1000);
	assert_int_equal(v02.vm_entry_msr_load_count, 0);
	assert_int_equal(v02.vm_entry_intr_info_field, 0);
}

static void test_guest_state_and_inheritance(void **state)
{
	(void)state;
	v12.guest_rip = 0x1234;
	v12.guest_cr0 = X86_CR0_PE | X86_CR0_PG | X86_CR0_NE | X86_CR0_TS;
	v12.guest_cr4 = X86_CR4_VMXE | X86_CR4_PSE;
	v12.guest_cs_ar_bytes = 0xc09b;
	v12.vmcs_link_pointer = 0x5000; /* L1's link pointer is not vmcs02's */
	v12.guest_ia32_efer = 0x900;    /* ignored: no "load IA32_EFER" */
	v12.cr0_guest_host_mask = X86_CR0_TS;
	v12.cr0_read_shadow = 0;
	vmcs02_prepare(&v12, 0, &l0, &ops, VMCS02_COLD);
	assert_int_equal(v02.guest_rip, 0x1234);
	assert_int_equal(v02.guest_cs_ar_bytes, 0xc09b);
	assert_int_equal(v02.vmcs_link_pointer, ~0ULL);
	/* L2 without "load EFER" and without IA-32e mode: L1's EFER minus LMA/LME. */
	assert_int_equal(v02.guest_ia32_efer, X86_EFER_NXE | X86_EFER_SCE);
	assert_int_equal(v02.guest_ia32_pat, l0.l1_pat);
	assert_int_equal(v02.guest_dr7, 0x401);
	assert_int_equal(v02.guest_ia32_debugctl, 1);
	/* Masks: L1's plus ours; shadow: L1's shadow for TS, L2's own NE for the bit only we own. */
	assert_int_equal(v02.cr0_guest_host_mask, X86_CR0_TS | X86_CR0_NE);
	assert_int_equal(v02.cr0_read_shadow, X86_CR0_NE | X86_CR0_PE | X86_CR0_PG);
	assert_int_equal(v02.cr4_guest_host_mask, X86_CR4_VMXE);
	/* IA-32e guest with paging: LMA and LME set; with "load EFER" vmcs12's value. */
	v12.vm_entry_controls = VM_ENTRY_IA32E_MODE;
	vmcs02_prepare(&v12, 0, &l0, &ops, VMCS02_COLD);
	assert_int_equal(v02.guest_ia32_efer, X86_EFER_NXE | X86_EFER_SCE | X86_EFER_LMA | X86_EFER_LME);
	assert_int_equal(v02.vm_entry_controls, VM_ENTRY_IA32E_MODE | VM_ENTRY_LOAD_IA32_EFER |
			 VM_ENTRY_LOAD_DEBUG_CONTROLS);
	v12.vm_entry_controls = VM_ENTRY_IA32E_MODE | VM_ENTRY_LOAD_IA32_EFER;
	vmcs02_prepare(&v12, VMCS12_F_EFER, &l0, &ops, VMCS02_COLD);
	assert_int_equal(v02.guest_ia32_efer, 0x900);
	/* What vmcs12 records of CR0 at the exit: our bit from the shadow, the rest real. */
	assert_int_equal(vmcs02_l2_cr(X86_CR0_NE | X86_CR0_PG | X86_CR0_TS, X86_CR0_PG, X86_CR0_NE, X86_CR0_TS),
			 X86_CR0_PG | X86_CR0_TS);
}

static struct vmcs12 v01;

/* L1's state after the exit, as the wiring writes it into vmcs01 (here: a vmcs12-shaped record). */
static void load01(const struct vmcs12 *v12, const struct l2_at_exit *l2)
{
	struct l1_host_load h;

	nested_host_load(v12, l2, &h);
	v01.guest_cr0 = h.cr0;
	v01.guest_cr4 = h.cr4;
	v01.guest_ia32_efer = h.efer;
	v01.guest_interruptibility_info = h.interruptibility;
	if (h.load_pat)
		v01.guest_ia32_pat = h.pat;
	for (uint32_t i = 0; i < h.plain.n; i++)
		vmcs12_write(&v01, h.plain.enc[i], h.plain.val[i]);
}

static void test_host_state_64(void **state)
{
	struct l2_at_exit l2 = { .cr0 = X86_CR0_PE | X86_CR0_PG | X86_CR0_CD | X86_CR0_ET, .cr4 = 0,
				 .efer = X86_EFER_NXE, .cr4_fixed0 = X86_CR4_VMXE };

	(void)state;
	memset(&v01, 0xee, sizeof(v01));
	v12.vm_exit_controls = VM_EXIT_HOST_ADDR_SPACE_SIZE;
	v12.host_cr0 = X86_CR0_PE | X86_CR0_PG | X86_CR0_NE | X86_CR0_WP;
	v12.host_cr4 = X86_CR4_PGE;
	v12.host_cs_selector = 0x10;
	v12.host_ss_selector = 0;
	v12.host_ds_selector = 0x18;
	v12.host_fs_base = 0x7000;
	v12.host_tr_selector = 0x40;
	v12.host_tr_base = 0x9000;
	v12.host_rip = 0xffffffff81000000ULL;
	v12.host_rsp = 0x8000;
	v12.host_ia32_efer = 0x500; /* ignored: no "load IA32_EFER" */
	load01(&v12, &l2);
	/* CD and ET keep L2's values; the rest is the host CR0. */
	assert_int_equal(v01.guest_cr0, X86_CR0_PE | X86_CR0_PG | X86_CR0_NE | X86_CR0_WP | X86_CR0_CD | X86_CR0_ET);
	assert_int_equal(v01.guest_cr4, X86_CR4_PGE | X86_CR4_PAE | X86_CR4_VMXE);
	assert_int_equal(v01.guest_ia32_efer, X86_EFER_NXE | X86_EFER_LMA | X86_EFER_LME);
	assert_int_equal(v01.guest_cs_ar_bytes, 0xa09b);
	assert_int_equal(v01.guest_ss_ar_bytes, 0x1c093); /* null SS: unusable */
	assert_int_equal(v01.guest_ds_ar_bytes, 0xc093);
	assert_int_equal(v01.guest_fs_base, 0x7000);
	assert_int_equal(v01.guest_tr_ar_bytes, 0x8b);
	assert_int_equal(v01.guest_tr_limit, 0x67);
	assert_int_equal(v01.guest_ldtr_ar_bytes, 0x10000);
	assert_int_equal(v01.guest_gdtr_limit, 0xffff);
	assert_int_equal(v01.guest_rip, 0xffffffff81000000ULL);
	assert_int_equal(v01.guest_rflags, 2);
	assert_int_equal(v01.guest_dr7, 0x400);
	assert_int_equal(v01.guest_interruptibility_info, 0);
	/* "Load IA32_EFER", a 32-bit host, an NMI exit. */
	v12.vm_exit_controls = VM_EXIT_LOAD_IA32_EFER;
	l2.nmi_exit = true;
	v12.host_cr4 = X86_CR4_PCIDE;
	load01(&v12, &l2);
	assert_int_equal(v01.guest_ia32_efer, 0x500);
	assert_int_equal(v01.guest_cs_ar_bytes, 0xc09b);
	assert_int_equal(v01.guest_cr4, X86_CR4_VMXE);
	assert_int_equal(v01.guest_interruptibility_info, GUEST_INTR_STATE_NMI);
}

/* Between entries with nothing but hot fields changed, vmcs02 keeps every other field as it is. */
static bool is_hot(uint32_t enc)
{
	return !(vmcs02_hot_items(enc) & VMCS02_COLD);
}

static uint32_t written[256];
static size_t nwritten;

static void record02(void *ctx, uint32_t field, uint64_t val)
{
	(void)ctx;
	if (nwritten < 256)
		written[nwritten++] = field;
	vmcs12_write(&v02, field, val);
}

static void test_hot_prepare_writes_hot_fields_only(void **state)
{
	const struct nested_l2_ops rec = { .vmcs02_write = record02 };

	(void)state;
	v12.guest_rip = 0x1234;
	v12.guest_es_base = 0x5000;
	nwritten = 0;
	vmcs02_prepare(&v12, VMCS12_F_EFER | VMCS12_F_EPT, &l0, &rec, VMCS02_HOT_ALL);
	assert_true(nwritten > 0);
	for (size_t i = 0; i < nwritten; i++)
		if (!is_hot(written[i]) && written[i] != VM_ENTRY_INTR_INFO_FIELD)
			fail_msg("hot prepare wrote field %#x", written[i]);
	assert_int_equal(v02.guest_rip, 0x1234);
	assert_int_not_equal(v02.guest_es_base, 0x5000); /* left as it was: L1 did not write it */
	nwritten = 0;
	vmcs02_prepare(&v12, VMCS12_F_EFER | VMCS12_F_EPT, &l0, &rec, VMCS02_COLD);
	assert_int_equal(v02.guest_es_base, 0x5000);
	assert_true(nwritten > 60);
	/* Hot: what L1 changes at most exits; not hot: controls and segment state. */
	assert_true(is_hot(GUEST_RIP));
	assert_true(is_hot(GUEST_PDPTE0 + 1)); /* the high half of a hot 64-bit field */
	assert_false(is_hot(CPU_BASED_VM_EXEC_CONTROL));
	assert_false(is_hot(GUEST_CS_SELECTOR));
	assert_false(is_hot(EPT_POINTER));
}

/* A hot prepare writes the items whose vmcs12 inputs changed, and the event-injection field, nothing else. */
static bool was_written(uint32_t field)
{
	for (size_t i = 0; i < nwritten; i++)
		if (written[i] == field)
			return true;
	return false;
}

static void test_hot_prepare_writes_changed_items_only(void **state)
{
	const struct nested_l2_ops rec = { .vmcs02_write = record02 };

	(void)state;
	nwritten = 0;
	vmcs02_prepare(&v12, VMCS12_F_EFER | VMCS12_F_EPT, &l0, &rec, vmcs02_hot_items(GUEST_RIP));
	assert_int_equal(nwritten, 2);
	assert_true(was_written(GUEST_RIP) && was_written(VM_ENTRY_INTR_INFO_FIELD));
	/* CR0: the register and its read shadow (L2's own bits show there); EFER: the special guest fields. */
	nwritten = 0;
	vmcs02_prepare(&v12, VMCS12_F_EFER | VMCS12_F_EPT, &l0, &rec,
		       vmcs02_hot_items(GUEST_CR0) | vmcs02_hot_items(GUEST_IA32_EFER));
	assert_true(was_written(GUEST_CR0) && was_written(CR0_READ_SHADOW) && was_written(CR0_GUEST_HOST_MASK));
	assert_true(was_written(GUEST_IA32_EFER) && was_written(GUEST_IA32_PAT));
	assert_false(was_written(GUEST_RIP) || was_written(CR4_READ_SHADOW));
	/* After an exit to L1: the fields the synthesized exit rewrites or the hardware counted down. */
	nwritten = 0;
	vmcs02_prepare(&v12, VMCS12_F_EFER | VMCS12_F_EPT | VMCS12_F_PREEMPTION_TIMER, &l0, &rec,
		       vmcs02_hot_after_exit());
	assert_true(was_written(GUEST_PENDING_DBG_EXCEPTIONS) && was_written(GUEST_INTERRUPTIBILITY_INFO));
	assert_true(was_written(VMX_PREEMPTION_TIMER_VALUE) && was_written(GUEST_CR4));
	assert_true(was_written(GUEST_DR7) && was_written(GUEST_IA32_EFER)); /* L2 may have changed them */
	assert_false(was_written(GUEST_RIP));
	/* Host state and exit information never reach vmcs02; controls need a full prepare. */
	assert_int_equal(vmcs02_hot_items(HOST_RSP), 0);
	assert_int_equal(vmcs02_hot_items(VM_EXIT_REASON), 0);
	assert_int_equal(vmcs02_hot_items(CPU_BASED_VM_EXEC_CONTROL), VMCS02_COLD);
}

static void test_l0_same(void **state)
{
	struct vmcs02_l0 a = l0, b = l0;

	(void)state;
	assert_true(vmcs02_l0_same(&a, &b));
	b.eptp ^= 0x1000;
	assert_false(vmcs02_l0_same(&a, &b));
	b = l0;
	b.immediate_exit = true;
	assert_false(vmcs02_l0_same(&a, &b));
	b = l0;
	b.tsc_offset++;
	assert_false(vmcs02_l0_same(&a, &b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_controls_merge, setup),
		cmocka_unit_test_setup(test_hot_prepare_writes_hot_fields_only, setup),
		cmocka_unit_test_setup(test_hot_prepare_writes_changed_items_only, setup),
		cmocka_unit_test(test_l0_same),
		cmocka_unit_test_setup(test_guest_state_and_inheritance, setup),
		cmocka_unit_test_setup(test_host_state_64, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
