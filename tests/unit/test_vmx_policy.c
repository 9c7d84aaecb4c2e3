/* Host tests: CPUID as L1 sees it, and the I/O and MSR bitmap layouts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "hv/vmx/vmx_internal.h"
#include "hv/x86.h"

static const struct cpuid_policy full = { .hypervisor_bit = true };

static void test_leaf1(void **state)
{
	uint32_t r[4] = { 0x806c1, 0x00010800, 0xfffa3203 | BIT(27), 0x1f8bfbff };
	struct cpuid_guest_view g = { 0, false };

	(void)state;
	cpuid_apply_policy(&full, 1, 0, &g, r);
	assert_false(r[2] & CPUID1_ECX_VMX);
	assert_true(r[2] & BIT(31));
	assert_false(r[2] & BIT(27)); /* OSXSAVE follows the guest's CR4, which is 0 */
	assert_int_equal(r[0], 0x806c1);
	assert_int_equal(r[3], 0x1f8bfbff);
	g.cr4 = X86_CR4_OSXSAVE;
	cpuid_apply_policy(&full, 1, 0, &g, r);
	assert_true(r[2] & BIT(27));
	struct cpuid_policy hidden = { .hypervisor_bit = false };
	cpuid_apply_policy(&hidden, 1, 0, &g, r);
	assert_false(r[2] & BIT(31));
}

static void test_leaf7_fsrm_hidden(void **state)
{
	uint32_t r[4] = { 0, 0xf1bf27eb, 0x00405fce | BIT(4) | BIT(5), 0xfc100510 };
	struct cpuid_guest_view g = { 0, false };
	struct cpuid_policy p = full;

	(void)state;
	p.hide_invpcid = true;
	p.hide_waitpkg = true;
	cpuid_apply_policy(&p, 7, 0, &g, r);
	assert_int_equal(r[3], 0xfc100500);
	assert_false(r[1] & BIT(10));
	assert_false(r[2] & BIT(5));
	assert_false(r[2] & BIT(4)); /* OSPKE: CR4.PKE is off */
	/* Subleaf 1 is left alone. */
	uint32_t s1[4] = { 1, 2, 3, 0x10 };
	cpuid_apply_policy(&p, 7, 1, &g, s1);
	assert_int_equal(s1[3], 0x10);
}

/* OSPKE is L1's CR4.PKE, on a CPU with PKU (Bochs tigerlake: 7.0 ECX 0x00405fce, PKU bit 3 set). */
static void test_leaf7_ospke_follows_cr4(void **state)
{
	const uint32_t host[4] = { 0, 0xf1bf27eb, 0x00405fce, 0xfc100510 };
	struct cpuid_guest_view g = { BIT(22), false };
	uint32_t r[4];

	(void)state;
	memcpy(r, host, sizeof(r));
	cpuid_apply_policy(&full, 7, 0, &g, r);
	assert_true(r[2] & BIT(4));
	memcpy(r, host, sizeof(r));
	r[2] |= BIT(4); /* whatever the host's own CR4 says */
	g.cr4 = 0;
	cpuid_apply_policy(&full, 7, 0, &g, r);
	assert_false(r[2] & BIT(4));
	memcpy(r, host, sizeof(r));
	r[2] &= ~BIT(3); /* no PKU: CR4.PKE cannot be set, OSPKE stays 0 */
	g.cr4 = BIT(22);
	cpuid_apply_policy(&full, 7, 0, &g, r);
	assert_false(r[2] & BIT(4));
}

/* RDPID (7.0 ECX[22]) and RDTSCP share the "enable RDTSCP" control: hidden together. */
static void test_leaf7_rdpid_with_rdtscp(void **state)
{
	uint32_t r[4] = { 0, 0, 0x00405fce, 0 };
	struct cpuid_guest_view g = { 0, false };
	struct cpuid_policy p = full;

	(void)state;
	cpuid_apply_policy(&p, 7, 0, &g, r);
	assert_true(r[2] & BIT(22));
	p.hide_rdtscp = true;
	cpuid_apply_policy(&p, 7, 0, &g, r);
	assert_false(r[2] & BIT(22));
}

/* GETSEC gives #UD as L1, so SMX (1 ECX[6]) is never offered. */
static void test_leaf1_smx_hidden(void **state)
{
	uint32_t r[4] = { 0x806c1, 0, 0x77faf3bf | BIT(6), 0 };
	struct cpuid_guest_view g = { 0, false };

	(void)state;
	cpuid_apply_policy(&full, 1, 0, &g, r);
	assert_false(r[2] & BIT(6));
	assert_true(r[2] & BIT(21)); /* neighbours untouched */
}

static void test_ext_leaf_syscall_and_rdtscp(void **state)
{
	uint32_t r[4] = { 0, 0, 0x121, 0x2c100800 };
	struct cpuid_guest_view g = { 0, false };
	struct cpuid_policy p = full;

	(void)state;
	cpuid_apply_policy(&p, 0x80000001, 0, &g, r);
	assert_int_equal(r[3], 0x2c100000); /* SYSCALL only shows in 64-bit mode */
	r[3] = 0x2c100800;
	g.in_64bit_mode = true;
	p.hide_rdtscp = true;
	cpuid_apply_policy(&p, 0x80000001, 0, &g, r);
	assert_int_equal(r[3], 0x2c100800 & ~BIT(27));
}

static void test_hypervisor_leaves(void **state)
{
	uint32_t r[4] = { 0xd, 1, 2, 3 };
	struct cpuid_guest_view g = { 0, false };
	char sig[13] = { 0 };
	struct cpuid_policy off = { .hypervisor_bit = false };

	(void)state;
	cpuid_apply_policy(&full, 0x40000000, 0, &g, r);
	assert_int_equal(r[0], 0x40000000);
	memcpy(sig, &r[1], 12);
	assert_string_equal(sig, "hvhvmicroVMX");
	uint32_t r2[4] = { 9, 9, 9, 9 };
	cpuid_apply_policy(&full, 0x40000001, 0, &g, r2);
	assert_int_equal(r2[0] | r2[1] | r2[2] | r2[3], 0);
	uint32_t r3[4] = { 9, 9, 9, 9 };
	cpuid_apply_policy(&off, 0x40000000, 0, &g, r3);
	assert_int_equal(r3[0], 9);
}

static void test_xsaves_hidden(void **state)
{
	uint32_t r[4] = { 0xf, 0, 0, 0 };
	struct cpuid_guest_view g = { 0, false };
	struct cpuid_policy p = full;

	(void)state;
	p.hide_xsaves = true;
	cpuid_apply_policy(&p, 0xd, 1, &g, r);
	assert_int_equal(r[0], 0x7);
}

static void test_io_bitmap(void **state)
{
	uint8_t a[4096] = { 0 }, b[4096] = { 0 };

	(void)state;
	io_bitmap_intercept(a, b, 0xf4);
	io_bitmap_intercept(a, b, 0x80);
	io_bitmap_intercept(a, b, 0x8000);
	io_bitmap_intercept(a, b, 0xffff);
	assert_int_equal(a[0xf4 / 8], 1 << 4);
	assert_int_equal(a[0x80 / 8], 1);
	assert_int_equal(b[0], 1);
	assert_int_equal(b[4095], 0x80);
	assert_int_equal(a[0x3f8 / 8], 0);
}

static void test_msr_bitmap(void **state)
{
	uint8_t bm[4096] = { 0 };

	(void)state;
	msr_bitmap_intercept(bm, 0x3a, true, true);
	msr_bitmap_intercept(bm, 0x1b, false, true);
	msr_bitmap_intercept(bm, 0xc0000080, true, false);
	msr_bitmap_intercept(bm, 0x12345678, true, true); /* outside both ranges: always exits, no bit */
	assert_int_equal(bm[0x3a / 8], 1 << (0x3a % 8));
	assert_int_equal(bm[2048 + 0x3a / 8], 1 << (0x3a % 8));
	assert_int_equal(bm[0x1b / 8], 0);
	assert_int_equal(bm[2048 + 0x1b / 8], 1 << (0x1b % 8));
	assert_int_equal(bm[1024 + 0x80 / 8], 1);
	assert_int_equal(bm[3072 + 0x80 / 8], 0);
	assert_true(msr_bitmap_covers(0x1fff));
	assert_false(msr_bitmap_covers(0x2000));
	assert_true(msr_bitmap_covers(0xc0001fff));
	assert_false(msr_bitmap_covers(0xc0010000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leaf1),
		cmocka_unit_test(test_leaf7_fsrm_hidden),
		cmocka_unit_test(test_leaf7_ospke_follows_cr4),
		cmocka_unit_test(test_leaf7_rdpid_with_rdtscp),
		cmocka_unit_test(test_leaf1_smx_hidden),
		cmocka_unit_test(test_ext_leaf_syscall_and_rdtscp),
		cmocka_unit_test(test_hypervisor_leaves),
		cmocka_unit_test(test_xsaves_hidden),
		cmocka_unit_test(test_io_bitmap),
		cmocka_unit_test(test_msr_bitmap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
