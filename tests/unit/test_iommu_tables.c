/* Host tests: VT-d second-level identity tables walked page by page, root/context entries, fault decoding, iommu=. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hv/cmdline.h"
#include "hv/iommu/vtd_regs.h"
#include "hv/iommu/vtd_tables.h"

#define MAX_FRAMES 4096
static void *frames[MAX_FRAMES];
static int nframes;
static int frame_budget; /* < 0: unlimited */

static paddr_t fake_alloc(void)
{
	void *p;

	if (frame_budget == 0 || nframes == MAX_FRAMES)
		return 0;
	if (frame_budget > 0)
		frame_budget--;
	p = aligned_alloc(4096, 4096);
	memset(p, 0, 4096);
	frames[nframes++] = p;
	return (paddr_t)(uintptr_t)p;
}

static int setup(void **state)
{
	(void)state;
	nframes = 0;
	frame_budget = -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < nframes; i++)
		free(frames[i]);
	nframes = 0;
	return 0;
}

/* The hypervisor image at 2-8 MiB, its pool at 16-48 MiB, one odd page, a remapping unit's registers. */
static struct mem_map holes = {
	.count = 4,
	.r = {
		{ 0x200000, 0x600000, MEM_RESERVED, 0 },
		{ 0x1000000, 0x2000000, MEM_RESERVED, 0 },
		{ 0x3005000, 0x1000, MEM_RESERVED, 0 },
		{ 0xfed90000, 0x1000, MEM_RESERVED, 0 },
	},
};

static bool in_hole(uint64_t a)
{
	for (uint32_t i = 0; i < holes.count; i++)
		if (a >= holes.r[i].base && a < holes.r[i].base + holes.r[i].len)
			return true;
	return false;
}

/* Every present entry holds only R, W, PS and an address: bits 6:2 and 11 are reserved here (spec 9.8). */
static void check_entries(const uint64_t *t, unsigned int level)
{
	for (int i = 0; i < 512; i++) {
		uint64_t e = t[i];

		if (!e)
			continue;
		assert_int_equal(e & ~(VTD_SL_ADDR | VTD_SL_R | VTD_SL_W | VTD_SL_PS), 0);
		assert_int_equal(e & (VTD_SL_R | VTD_SL_W), VTD_SL_R | VTD_SL_W);
		if (level > 1 && !(e & VTD_SL_PS))
			check_entries((const uint64_t *)(uintptr_t)(e & VTD_SL_ADDR), level - 1);
		if (level == 1)
			assert_int_equal(e & VTD_SL_PS, 0);
	}
}

static void check_identity(unsigned int levels, uint64_t limit)
{
	struct iopt_layout l = { &holes, limit, levels, true, true };
	paddr_t top;
	uint64_t hpa;
	bool w;

	assert_int_equal(iopt_build_identity(&l, fake_alloc, &top), 0);
	check_entries((const uint64_t *)(uintptr_t)top, levels);
	for (uint64_t a = 0; a < MiB(64); a += PAGE_SIZE) {
		bool mapped = iopt_translate(top, levels, a + 0x123, &hpa, &w);

		assert_int_equal(mapped, !in_hole(a));
		if (mapped) {
			assert_int_equal(hpa, a + 0x123);
			assert_true(w);
		}
	}
	assert_false(iopt_translate(top, levels, 0xfed90000, &hpa, &w));
	assert_true(iopt_translate(top, levels, 0xfed91000, &hpa, &w));
	assert_true(iopt_translate(top, levels, 0xfec00000, &hpa, &w));
	assert_true(iopt_translate(top, levels, limit - 1, &hpa, &w));
	assert_false(iopt_translate(top, levels, limit, &hpa, &w));
	/* Large pages everywhere but around the holes: a handful of tables. */
	assert_true(nframes < 16);
}

static void test_identity_3level(void **state)
{
	(void)state;
	check_identity(3, GiB(4));
}

static void test_identity_4level(void **state)
{
	(void)state;
	check_identity(4, GiB(1024));
}

static void test_identity_4k_only(void **state)
{
	struct iopt_layout l = { &holes, GiB(1), 3, false, false };
	paddr_t top;
	uint64_t hpa;
	bool w;

	(void)state;
	assert_int_equal(iopt_build_identity(&l, fake_alloc, &top), 0);
	assert_true(iopt_translate(top, 3, 0x1fff000, &hpa, &w) == false);
	assert_true(iopt_translate(top, 3, 0x3004000, &hpa, &w));
	assert_false(iopt_translate(top, 3, 0x3005fff, &hpa, &w));
	assert_true(iopt_translate(top, 3, 0x3006000, &hpa, &w));
	assert_int_equal(nframes, 1 + 1 + 512 - 3 - 16); /* top, a directory, a table per 2 MiB not wholly a hole */
}

static void test_identity_refusals(void **state)
{
	struct iopt_layout l = { &holes, GiB(4), 3, true, true };
	paddr_t top;

	(void)state;
	frame_budget = 2;
	assert_int_equal(iopt_build_identity(&l, fake_alloc, &top), -1);
	frame_budget = -1;
	l.levels = 5;
	assert_int_equal(iopt_build_identity(&l, fake_alloc, &top), -1);
	l.levels = 3;
	l.limit = GiB(513); /* beyond what 3 levels reach */
	assert_int_equal(iopt_build_identity(&l, fake_alloc, &top), -1);
	l.limit = GiB(4) + MiB(2); /* not a multiple of 1 GiB */
	assert_int_equal(iopt_build_identity(&l, fake_alloc, &top), -1);
}

static void test_pick_levels(void **state)
{
	(void)state;
	assert_int_equal(vtd_pick_levels(VTD_SAGAW_3LEVEL << 8, GiB(4)), 3);
	assert_int_equal(vtd_pick_levels(VTD_SAGAW_4LEVEL << 8, GiB(4)), 4);
	assert_int_equal(vtd_pick_levels((VTD_SAGAW_3LEVEL | VTD_SAGAW_4LEVEL) << 8, GiB(4)), 3);
	assert_int_equal(vtd_pick_levels((VTD_SAGAW_3LEVEL | VTD_SAGAW_4LEVEL) << 8, GiB(1024)), 4);
	assert_int_equal(vtd_pick_levels(VTD_SAGAW_3LEVEL << 8, GiB(1024)), 3); /* the caller clamps */
	assert_int_equal(vtd_pick_levels(BIT(3) << 8, GiB(4)), 0);            /* 5-level only */
}

static void test_root_context(void **state)
{
	static uint64_t root[512], ctx[512];

	(void)state;
	vtd_fill_root_table(root, 0x123000);
	vtd_fill_context_table(ctx, 0x456000, 3, 1);
	for (int i = 0; i < 256; i++) {
		assert_int_equal(root[2 * i], 0x123001);
		assert_int_equal(root[2 * i + 1], 0);
		assert_int_equal(ctx[2 * i], 0x456001);        /* present, TT 00: untranslated requests translated */
		assert_int_equal(ctx[2 * i + 1], 1 | (1 << 8)); /* AW 1 (39-bit, 3 levels), domain 1 */
	}
	vtd_fill_context_table(ctx, 0x456000, 4, 7);
	assert_int_equal(ctx[511], 2 | (7 << 8));
}

static void test_fault_decode(void **state)
{
	struct vtd_fault f;
	uint64_t hi = VTD_FRCD_F | (5ULL << 32) | 0x0018; /* write, no permission, 00:03.0 */

	(void)state;
	vtd_decode_fault(0x7000123, hi, &f);
	assert_int_equal(f.bus, 0);
	assert_int_equal(f.dev, 3);
	assert_int_equal(f.fn, 0);
	assert_int_equal(f.reason, 5);
	assert_false(f.read);
	assert_int_equal(f.addr, 0x7000000);
	vtd_decode_fault(0, VTD_FRCD_F | VTD_FRCD_READ | (6ULL << 32) | 0xff3d, &f);
	assert_int_equal(f.bus, 0xff);
	assert_int_equal(f.dev, 7);
	assert_int_equal(f.fn, 5);
	assert_true(f.read);
	assert_string_equal(vtd_fault_reason_name(6), "read of a page not readable (not mapped for the device)");
	assert_string_equal(vtd_fault_reason_name(0x22), "interrupt remapping entry not present");
	assert_string_equal(vtd_fault_reason_name(0x0), "unlisted fault reason");
	assert_string_equal(vtd_fault_reason_name(0x27), "unlisted fault reason");
	assert_string_equal(vtd_fault_reason_name(0xff), "unlisted fault reason");
}

static void test_range_hits_hole(void **state)
{
	(void)state;
	assert_false(iopt_range_hits_hole(&holes, 0x100000, 0x200000));
	assert_true(iopt_range_hits_hole(&holes, 0x100000, 0x201000));
	assert_true(iopt_range_hits_hole(&holes, 0x3005fff, 0x3006000));
}

static void test_iommu_option(void **state)
{
	static const char *const modes[] = { "off", "on", "required" };

	(void)state;
	assert_int_equal(cmdline_get_choice("loglevel=2", "iommu", modes, 3), CMDLINE_ABSENT);
	assert_int_equal(cmdline_get_choice("iommu=off", "iommu", modes, 3), 0);
	assert_int_equal(cmdline_get_choice("a iommu=on b", "iommu", modes, 3), 1);
	assert_int_equal(cmdline_get_choice("iommu=required", "iommu", modes, 3), 2);
	assert_int_equal(cmdline_get_choice("iommu=on iommu=off", "iommu", modes, 3), 0);
	assert_int_equal(cmdline_get_choice("iommu=maybe", "iommu", modes, 3), CMDLINE_BAD_CHOICE);
	assert_int_equal(cmdline_get_choice("iommu", "iommu", modes, 3), CMDLINE_BAD_CHOICE);
	assert_int_equal(cmdline_get_choice("iommu=", "iommu", modes, 3), CMDLINE_BAD_CHOICE);
	assert_int_equal(cmdline_get_choice("iommu=requiredxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "iommu", modes, 3),
			 CMDLINE_BAD_CHOICE);
	assert_int_equal(cmdline_get_choice("iommux=on", "iommu", modes, 3), CMDLINE_ABSENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identity_3level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identity_4level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identity_4k_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identity_refusals, setup, teardown),
		cmocka_unit_test(test_pick_levels),
		cmocka_unit_test(test_root_context),
		cmocka_unit_test(test_fault_decode),
		cmocka_unit_test(test_range_hits_hole),
		cmocka_unit_test(test_iommu_option),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
