/* Host tests for modules_plan_high: modules move to the top of guest RAM, in order, clear of every source and of the RSDP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "hv/memmap.h"
#include "hv/modules.h"

static struct mem_map guest;
static uint32_t unplaced; /* the module modules_plan_high found no room for */

static int setup(void **state)
{
	(void)state;
	memmap_init(&guest);
	assert_int_equal(memmap_add(&guest, 0, 0x9f000, MEM_USABLE), 0);
	assert_int_equal(memmap_add(&guest, 0x100000, MiB(255), MEM_USABLE), 0);
	/* The hypervisor's pool at the top, as mm leaves it. */
	assert_int_equal(memmap_set(&guest, MiB(224), MiB(32), MEM_RESERVED), 0);
	return 0;
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static void test_grub_layout_moves_below_pool_in_order(void **state)
{
	struct boot_module mods[2] = {
		{ .start = 0x124000, .end = 0x151158 },
		{ .start = 0x152000, .end = 0x152010 },
	};
	uint64_t to[2];

	(void)state;
	assert_true(modules_plan_high(&guest, mods, 2, GiB(4), 0x151738, 36, to, &unplaced));
	assert_int_equal(to[1], MiB(224) - PAGE_SIZE);
	assert_int_equal(to[0], MiB(224) - PAGE_SIZE - ALIGN_UP(0x2d158, PAGE_SIZE));
	assert_true(to[0] < to[1]);
	for (int i = 0; i < 2; i++) {
		assert_true(to[i] % PAGE_SIZE == 0);
		for (int j = 0; j < 2; j++)
			assert_false(overlaps(to[i], mods[i].end - mods[i].start, mods[j].start, mods[j].end - mods[j].start));
		assert_true(memmap_covers(&guest, to[i], mods[i].end - mods[i].start, MEM_USABLE));
	}
}

static void test_destination_avoids_rsdp_and_sources(void **state)
{
	/* A module already at the very top, and the RSDP just below it. */
	struct boot_module mods[1] = { { .start = MiB(223), .end = MiB(224) } };
	uint64_t to[1];

	(void)state;
	assert_true(modules_plan_high(&guest, mods, 1, GiB(4), MiB(223) - 64, 36, to, &unplaced));
	assert_false(overlaps(to[0], MiB(1), mods[0].start, MiB(1)));
	assert_false(overlaps(to[0], MiB(1), MiB(223) - 64, 36));
	assert_int_equal(to[0], MiB(222) - PAGE_SIZE);
}

static void test_too_big_is_refused_and_output_untouched(void **state)
{
	struct boot_module mods[1] = { { .start = 0x200000, .end = 0x200000 + MiB(300) } };
	uint64_t to[1] = { 0x1234 };

	(void)state;
	assert_false(modules_plan_high(&guest, mods, 1, GiB(4), 0, 0, to, &unplaced));
	assert_int_equal(to[0], 0x1234);
	assert_int_equal(unplaced, 0);
}

/* The one module that finds no room is named (the hypervisor ends with the bad-module status naming it). */
static void test_the_module_too_big_is_named(void **state)
{
	struct boot_module mods[3] = {
		{ .start = 0x124000, .end = 0x125000 },
		{ .start = 0x200000, .end = 0x200000 + MiB(120) }, /* 120 MiB elsewhere + 120 here > 223 */
		{ .start = 0x7a00000, .end = 0x7a01000 },
	};
	uint64_t to[3] = { 1, 2, 3 };

	(void)state;
	assert_false(modules_plan_high(&guest, mods, 3, GiB(4), 0, 0, to, &unplaced));
	assert_int_equal(unplaced, 1);
	assert_int_equal(to[1], 2);
}

static void test_empty_module_stays(void **state)
{
	struct boot_module mods[1] = { { .start = 0x124000, .end = 0x124000 } };
	uint64_t to[1];

	(void)state;
	assert_true(modules_plan_high(&guest, mods, 1, GiB(4), 0, 0, to, &unplaced));
	assert_int_equal(to[0], 0x124000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_grub_layout_moves_below_pool_in_order, setup),
		cmocka_unit_test_setup(test_destination_avoids_rsdp_and_sources, setup),
		cmocka_unit_test_setup(test_too_big_is_refused_and_output_untouched, setup),
		cmocka_unit_test_setup(test_empty_module_stays, setup),
		cmocka_unit_test_setup(test_the_module_too_big_is_named, setup),
	};

	return cmocka_run_group_tests_name("modules", tests, NULL, NULL);
}
