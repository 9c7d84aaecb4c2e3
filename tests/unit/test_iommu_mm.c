/* Host tests: VT-d registers claimed from L1 join the hypervisor's ranges (EPT and DMA holes) and L1's map as reserved. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "hv/memmap.h"
#include "hv/mm.h"
#include "hv/string.h"

static struct boot_info bi;

static void machine(void)
{
	memset(&bi, 0, sizeof(bi));
	bi.mmap[0] = (struct boot_mem_range){ 0, 0x9fc00, MEM_USABLE, 0 };
	bi.mmap[1] = (struct boot_mem_range){ 0x100000, MiB(255), MEM_USABLE, 0 };
	bi.mmap[2] = (struct boot_mem_range){ 0xfed1c000, 0x4000, MEM_RESERVED, 0 };
	bi.mmap_count = 3;
	hv_strlcpy(bi.cmdline, "hvmem=4M", sizeof(bi.cmdline));
	assert_int_equal(mm_init_at(&bi, 0x200000, 0x400000), 0);
}

static void test_claim_unit_registers(void **state)
{
	(void)state;
	machine();
	assert_false(mm_range_overlaps_hv(0xfed90000, PAGE_SIZE));
	/* QEMU's unit: 0x230 bytes of registers, a page claimed. */
	assert_int_equal(mm_claim_for_hv(0xfed90000, 0x230), 0);
	assert_true(mm_range_is_hv_owned(0xfed90000, PAGE_SIZE));
	assert_false(mm_range_overlaps_hv(0xfed91000, PAGE_SIZE));
	assert_true(memmap_covers(mm_guest_map(), 0xfed90000, PAGE_SIZE, MEM_RESERVED));
	assert_true(memmap_is_normal(mm_hv_ranges()->r, mm_hv_ranges()->count));
	assert_true(memmap_is_normal(mm_guest_map()->r, mm_guest_map()->count));
	/* An unaligned span is rounded outwards; the image and pool stay as they were. */
	assert_int_equal(mm_claim_for_hv(0xfed92800, 0x1000), 0);
	assert_true(mm_range_is_hv_owned(0xfed92000, 2 * PAGE_SIZE));
	assert_true(mm_range_is_hv_owned(0x200000, 0x200000));
}

static void test_claim_refusals(void **state)
{
	(void)state;
	machine();
	assert_int_equal(mm_claim_for_hv(0xfed90000, 0), -1);
	assert_int_equal(mm_claim_for_hv(0xfffffffffffff000ULL, 0x2000), -1);
	assert_false(mm_range_overlaps_hv(0xfed90000, PAGE_SIZE));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_claim_unit_registers),
		cmocka_unit_test(test_claim_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
