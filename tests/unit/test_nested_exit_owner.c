/* Host tests for the one decision of who handles an L2 exit (hv/nested/exit_decide.c), reason by reason (SDM 25.1-25.2). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "hv/nested/exit_decide.h"
#include "hv/nested/events.h"
#include "hv/x86.h"

#define IO_A   0x10000ULL
#define IO_B   0x11000ULL
#define MSRBM  0x12000ULL
static uint8_t bitmaps[3 * 4096];
static struct vmcs12 v;

static bool read_byte(void *ctx, uint64_t gpa, uint8_t *val)
{
	(void)ctx;
	if (gpa < IO_A || gpa >= IO_A + sizeof(bitmaps))
		return false;
	*val = bitmaps[gpa - IO_A];
	return true;
}

static int setup(void **state)
{
	(void)state;
	memset(&v, 0, sizeof(v));
	memset(bitmaps, 0, sizeof(bitmaps));
	v.io_bitmap_a = IO_A;
	v.io_bitmap_b = IO_B;
	v.msr_bitmap = MSRBM;
	return 0;
}

static enum nested_exit_owner owner(struct l2_exit x)
{
	return nested_l2_exit_owner(&v, &x, read_byte, NULL);
}

static struct l2_exit ex(uint32_t reason, uint64_t qual)
{
	return (struct l2_exit){ .reason = reason, .qualification = qual };
}

static void test_unconditional_exits_go_to_l1(void **state)
{
	static const uint32_t always[] = { EXIT_REASON_CPUID, EXIT_REASON_VMCALL, EXIT_REASON_VMON,
					   EXIT_REASON_VMREAD, EXIT_REASON_INVD, EXIT_REASON_XSETBV,
					   EXIT_REASON_TASK_SWITCH, EXIT_REASON_TRIPLE_FAULT,
					   EXIT_REASON_INIT_SIGNAL, EXIT_REASON_GETSEC };

	(void)state;
	for (size_t i = 0; i < sizeof(always) / sizeof(always[0]); i++)
		assert_int_equal(owner(ex(always[i], 0)), NESTED_EXIT_L1);
	/* The hypervisor's EPT is its own business. */
	assert_int_equal(owner(ex(EXIT_REASON_EPT_VIOLATION, 0)), NESTED_EXIT_L0);
}

static void test_control_bits(void **state)
{
	(void)state;
	assert_int_equal(owner(ex(EXIT_REASON_HLT, 0)), NESTED_EXIT_L0);
	v.cpu_based_vm_exec_control = CPU_BASED_HLT_EXITING | CPU_BASED_RDTSC_EXITING;
	assert_int_equal(owner(ex(EXIT_REASON_HLT, 0)), NESTED_EXIT_L1);
	assert_int_equal(owner(ex(EXIT_REASON_RDTSC, 0)), NESTED_EXIT_L1);
	assert_int_equal(owner(ex(EXIT_REASON_INVLPG, 0)), NESTED_EXIT_L0);
	/* Secondary controls count only with "activate secondary controls". */
	v.secondary_vm_exec_control = SECONDARY_WBINVD_EXITING;
	assert_int_equal(owner(ex(EXIT_REASON_WBINVD, 0)), NESTED_EXIT_L0);
	v.cpu_based_vm_exec_control |= CPU_BASED_ACTIVATE_SECONDARY;
	assert_int_equal(owner(ex(EXIT_REASON_WBINVD, 0)), NESTED_EXIT_L1);
	v.pin_based_vm_exec_control = PIN_BASED_PREEMPTION_TIMER;
	assert_int_equal(owner(ex(EXIT_REASON_PREEMPTION_TIMER, 0)), NESTED_EXIT_L1);
	assert_int_equal(owner(ex(EXIT_REASON_EXTERNAL_INTERRUPT, 0)), NESTED_EXIT_L0);
}

static uint64_t io_qual(uint16_t port, unsigned size)
{
	return ((uint64_t)port << 16) | (size - 1);
}

static void test_io(void **state)
{
	(void)state;
	/* No bitmaps: unconditional I/O exiting decides. */
	assert_int_equal(owner(ex(EXIT_REASON_IO_INSTRUCTION, io_qual(0x80, 1))), NESTED_EXIT_L0);
	v.cpu_based_vm_exec_control = CPU_BASED_UNCOND_IO_EXITING;
	assert_int_equal(owner(ex(EXIT_REASON_IO_INSTRUCTION, io_qual(0x80, 1))), NESTED_EXIT_L1);
	/* Bitmaps win over unconditional exiting; each byte of a wide access counts; B covers 0x8000 up. */
	v.cpu_based_vm_exec_control = CPU_BASED_UNCOND_IO_EXITING | CPU_BASED_USE_IO_BITMAPS;
	assert_int_equal(owner(ex(EXIT_REASON_IO_INSTRUCTION, io_qual(0x80, 1))), NESTED_EXIT_L0);
	bitmaps[0xf4 / 8] |= 1u << (0xf4 % 8);
	assert_int_equal(owner(ex(EXIT_REASON_IO_INSTRUCTION, io_qual(0xf3, 2))), NESTED_EXIT_L1);
	assert_int_equal(owner(ex(EXIT_REASON_IO_INSTRUCTION, io_qual(0xf2, 2))), NESTED_EXIT_L0);
	bitmaps[4096 + 1] = 1; /* port 0x8008 */
	assert_int_equal(owner(ex(EXIT_REASON_IO_INSTRUCTION, io_qual(0x8008, 1))), NESTED_EXIT_L1);
	/* A wrap past 0xffff always exits (SDM 25.1.3). */
	assert_int_equal(owner(ex(EXIT_REASON_IO_INSTRUCTION, io_qual(0xffff, 2))), NESTED_EXIT_L1);
	/* A bitmap outside L1's RAM: every port exits to L1. */
	v.io_bitmap_a = 0xfee00000;
	assert_int_equal(owner(ex(EXIT_REASON_IO_INSTRUCTION, io_qual(0x80, 1))), NESTED_EXIT_L1);
}

static void test_msr(void **state)
{
	struct l2_exit x = ex(EXIT_REASON_MSR_READ, 0);

	(void)state;
	x.msr = 0x174;
	assert_int_equal(owner(x), NESTED_EXIT_L1); /* no MSR bitmaps: all exit */
	v.cpu_based_vm_exec_control = CPU_BASED_USE_MSR_BITMAPS;
	assert_int_equal(owner(x), NESTED_EXIT_L0);
	bitmaps[8192 + 0x174 / 8] |= 1u << (0x174 % 8);          /* read-low */
	assert_int_equal(owner(x), NESTED_EXIT_L1);
	x.reason = EXIT_REASON_MSR_WRITE;
	assert_int_equal(owner(x), NESTED_EXIT_L0);
	bitmaps[8192 + 3072 + (0x80 / 8)] |= 1u;                 /* write-high: 0xc0000080 */
	x.msr = 0xc0000080;
	assert_int_equal(owner(x), NESTED_EXIT_L1);
	x.msr = 0x40000000; /* outside both ranges */
	assert_int_equal(owner(x), NESTED_EXIT_L1);
}

static void test_cr_access(void **state)
{
	struct l2_exit x = ex(EXIT_REASON_CR_ACCESS, 0); /* MOV to CR0 */

	(void)state;
	v.cr0_guest_host_mask = X86_CR0_TS;
	v.cr0_read_shadow = X86_CR0_TS;
	x.cr_value = X86_CR0_PE | X86_CR0_PG | X86_CR0_TS;
	assert_int_equal(owner(x), NESTED_EXIT_L0); /* TS as the shadow says: only the hypervisor's bits moved */
	x.cr_value &= ~(uint64_t)X86_CR0_TS;
	assert_int_equal(owner(x), NESTED_EXIT_L1);
	/* CLTS: exits to L1 when it owns TS and its shadow has TS set. */
	x.qualification = 2 << 4;
	assert_int_equal(owner(x), NESTED_EXIT_L1);
	v.cr0_read_shadow = 0;
	assert_int_equal(owner(x), NESTED_EXIT_L0);
	/* MOV to CR3 with CR3-load exiting and two target values. */
	x.qualification = 3;
	x.cr_value = 0x5000;
	assert_int_equal(owner(x), NESTED_EXIT_L0);
	v.cpu_based_vm_exec_control = CPU_BASED_CR3_LOAD_EXITING;
	assert_int_equal(owner(x), NESTED_EXIT_L1);
	v.cr3_target_count = 2;
	v.cr3_target_value1 = 0x5000;
	assert_int_equal(owner(x), NESTED_EXIT_L0);
	v.cr3_target_count = 1;
	assert_int_equal(owner(x), NESTED_EXIT_L1);
	/* MOV from CR3 by CR3-store exiting; CR4 by its mask. */
	x.qualification = 3 | (1 << 4);
	assert_int_equal(owner(x), NESTED_EXIT_L0);
	x.qualification = 4;
	v.cr4_guest_host_mask = X86_CR4_VMXE;
	x.cr_value = X86_CR4_VMXE;
	assert_int_equal(owner(x), NESTED_EXIT_L1);
}

static void test_exceptions_and_nmi(void **state)
{
	struct l2_exit x = ex(EXIT_REASON_EXCEPTION_NMI, 0);

	(void)state;
	x.intr_info = INTR_INFO_VALID | (INTR_TYPE_NMI << INTR_INFO_TYPE_SHIFT) | 2;
	assert_int_equal(owner(x), NESTED_EXIT_L0); /* the hypervisor's NMI, not L1's to see */
	v.pin_based_vm_exec_control = PIN_BASED_NMI_EXITING;
	assert_int_equal(owner(x), NESTED_EXIT_L1);
	x.intr_info = INTR_INFO_VALID | (INTR_TYPE_HW_EXCEPTION << INTR_INFO_TYPE_SHIFT) | 14;
	assert_int_equal(owner(x), NESTED_EXIT_L0);
	v.exception_bitmap = 1u << 14;
	x.intr_error_code = 2;
	assert_int_equal(owner(x), NESTED_EXIT_L1);
	v.page_fault_error_code_mask = 1;
	v.page_fault_error_code_match = 1; /* only present-page faults */
	assert_int_equal(owner(x), NESTED_EXIT_L0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_unconditional_exits_go_to_l1, setup),
		cmocka_unit_test_setup(test_control_bits, setup),
		cmocka_unit_test_setup(test_io, setup),
		cmocka_unit_test_setup(test_msr, setup),
		cmocka_unit_test_setup(test_cr_access, setup),
		cmocka_unit_test_setup(test_exceptions_and_nmi, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
