/* Host tests: L1's EPT identity map built with a fake frame allocator, checked by walking every page. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "hv/vmx/ept.h"

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

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < nframes; i++)
		free(frames[i]);
	nframes = 0;
	return 0;
}

static int setup(void **state)
{
	(void)state;
	nframes = 0;
	frame_budget = -1;
	return 0;
}

/* A Bochs-like 128 MiB machine; the hypervisor image at 2-8 MiB and a frame pool at 16-20 MiB plus one odd page. */
static struct mem_map ram_map = {
	.count = 6,
	.r = {
		{ 0x0, 0x9fc00, MEM_USABLE, 0 },
		{ 0x9fc00, 0x400, MEM_RESERVED, 0 },
		{ 0xe8000, 0x18000, MEM_RESERVED, 0 },
		{ 0x100000, 0x7ee0000 - 0x100000, MEM_USABLE, 0 },
		{ 0x7ee0000, 0x20000, MEM_ACPI_RECLAIM, 0 },
		{ 0xfffc0000, 0x40000, MEM_RESERVED, 0 },
	},
};
static struct mem_map hv_map = {
	.count = 3,
	.r = {
		{ 0x200000, 0x600000, MEM_RESERVED, 0 },
		{ 0x1000000, 0x400000, MEM_RESERVED, 0 },
		{ 0x2345000, 0x1000, MEM_RESERVED, 0 },
	},
};

static bool in_hv(uint64_t pa)
{
	for (uint32_t i = 0; i < hv_map.count; i++)
		if (pa >= hv_map.r[i].base && pa < hv_map.r[i].base + hv_map.r[i].len)
			return true;
	return false;
}

static bool page_has_ram(uint64_t pa)
{
	for (uint32_t i = 0; i < ram_map.count; i++) {
		const struct boot_mem_range *r = &ram_map.r[i];

		if (ept_mem_type_is_ram(r->type) && pa < r->base + r->len && pa + 4096 > r->base)
			return true;
	}
	return false;
}

static paddr_t build(bool g1, bool m2)
{
	struct ept_layout l = { &ram_map, &hv_map, GiB(4), g1, m2 };
	paddr_t pml4 = 0;

	assert_int_equal(ept_build_identity(&l, fake_alloc, &pml4), 0);
	assert_int_not_equal(pml4, 0);
	return pml4;
}

static void check_page(paddr_t pml4, uint64_t pa)
{
	uint64_t hpa;
	unsigned int mt, level;
	bool mapped = ept_translate(pml4, pa + 0x123, &hpa, &mt, &level);

	if (in_hv(pa)) {
		assert_false(mapped);
		return;
	}
	assert_true(mapped);
	assert_int_equal(hpa, pa + 0x123);
	assert_int_equal(mt, page_has_ram(pa) ? EPT_MT_WB : EPT_MT_UC);
}

static void check_every_low_page(paddr_t pml4)
{
	for (uint64_t pa = 0; pa < MiB(160); pa += 4096)
		check_page(pml4, pa);
}

static void test_identity_with_holes_1g(void **state)
{
	paddr_t pml4 = build(true, true);
	uint64_t hpa;
	unsigned int mt, level;

	(void)state;
	check_every_low_page(pml4);
	/* MMIO: local APIC, IOAPIC, the BIOS flash, all uncached. */
	assert_true(ept_translate(pml4, 0xfee00000, &hpa, &mt, &level));
	assert_int_equal(mt, EPT_MT_UC);
	assert_int_equal(hpa, 0xfee00000);
	assert_true(ept_translate(pml4, 0xfec00000, &hpa, &mt, &level));
	assert_int_equal(mt, EPT_MT_UC);
	/* 1-4 GiB holds no RAM and no hole: one 1 GiB page each. */
	assert_true(ept_translate(pml4, GiB(2) + 5, &hpa, &mt, &level));
	assert_int_equal(level, 3);
	assert_int_equal(hpa, GiB(2) + 5);
	/* 2 MiB pages where uniform, 4 KiB pages next to the odd hypervisor page. */
	assert_true(ept_translate(pml4, MiB(40), &hpa, &mt, &level));
	assert_int_equal(level, 2);
	assert_true(ept_translate(pml4, 0x2346000, &hpa, &mt, &level));
	assert_int_equal(level, 1);
	/* Nothing beyond the limit. */
	assert_false(ept_translate(pml4, GiB(4), &hpa, &mt, &level));
	assert_false(ept_translate(pml4, GiB(600), &hpa, &mt, &level));
	/* Large pages keep the table count small. */
	assert_true(nframes < 16);
}

static void test_identity_2m_only(void **state)
{
	paddr_t pml4 = build(false, true);
	uint64_t hpa;
	unsigned int mt, level;

	(void)state;
	check_every_low_page(pml4);
	assert_true(ept_translate(pml4, GiB(3) + MiB(3), &hpa, &mt, &level));
	assert_int_equal(level, 2);
	assert_int_equal(mt, EPT_MT_UC);
}

static void test_identity_4k_only(void **state)
{
	paddr_t pml4 = build(false, false);
	uint64_t hpa;
	unsigned int mt, level;

	(void)state;
	check_every_low_page(pml4);
	assert_true(ept_translate(pml4, 0xfee00000, &hpa, &mt, &level));
	assert_int_equal(level, 1);
	/* Every table holds only valid entries: no memory-type 2/3/7 (EPT misconfiguration, SDM 29.3.3.1). */
	for (int f = 0; f < nframes; f++) {
		const uint64_t *t = frames[f];

		for (int i = 0; i < 512; i++) {
			unsigned int m = (unsigned int)((t[i] & EPT_MT_MASK) >> EPT_MT_SHIFT);

			if (t[i] & EPT_LARGE || (t[i] & EPT_RWX && m))
				assert_true(m == EPT_MT_UC || m == EPT_MT_WB);
		}
	}
}

static void test_out_of_frames(void **state)
{
	struct ept_layout l = { &ram_map, &hv_map, GiB(4), true, true };
	paddr_t pml4 = 0;

	(void)state;
	frame_budget = 3;
	assert_int_equal(ept_build_identity(&l, fake_alloc, &pml4), -1);
	frame_budget = 0;
	assert_int_equal(ept_build_identity(&l, fake_alloc, &pml4), -1);
}

static void test_eptp(void **state)
{
	(void)state;
	assert_int_equal(ept_make_eptp(0x12345000, EPT_MT_WB), 0x12345000 | (3 << 3) | 6);
	assert_int_equal(ept_make_eptp(0x12345fff, EPT_MT_UC), 0x12345000 | (3 << 3));
}

static void test_page_straddling_ram_end_is_wb(void **state)
{
	paddr_t pml4 = build(true, true);
	uint64_t hpa;
	unsigned int mt, level;

	(void)state;
	/* 0x9f000-0x9ffff is RAM up to 0x9fc00: the page stays WB. 0xa0000 (VGA) is UC. */
	assert_true(ept_translate(pml4, 0x9f000, &hpa, &mt, &level));
	assert_int_equal(mt, EPT_MT_WB);
	assert_true(ept_translate(pml4, 0xa0000, &hpa, &mt, &level));
	assert_int_equal(mt, EPT_MT_UC);
	/* ACPI tables are RAM. */
	assert_true(ept_translate(pml4, 0x7ee1000, &hpa, &mt, &level));
	assert_int_equal(mt, EPT_MT_WB);
}

/* The leaf entry mapping gpa (the test's own walk, so rights can be read). */
static uint64_t leaf_entry(paddr_t pml4, uint64_t gpa)
{
	const uint64_t *t = phys_to_virt(pml4);

	for (int level = 4; level >= 1; level--) {
		uint64_t e = t[(gpa >> (12 + 9 * (level - 1))) & 511];

		if (level == 1 || (e & EPT_LARGE))
			return e;
		t = phys_to_virt(e & EPT_ADDR_MASK);
	}
	return 0;
}

/* The xAPIC page made read-only inside a 1 GiB / 2 MiB mapping: only that page changes. */
static void test_restrict_one_page(void **state)
{
	paddr_t pml4 = build(true, true);
	const uint64_t apic = 0xfee00000ULL;
	uint64_t hpa;
	unsigned int mt, level;

	(void)state;
	assert_true(ept_translate(pml4, apic, &hpa, &mt, &level));
	assert_true(level > 1);
	assert_int_equal(ept_restrict_page(pml4, apic, EPT_READ, fake_alloc), 0);
	assert_true(ept_translate(pml4, apic + 0x300, &hpa, &mt, &level));
	assert_int_equal(level, 1);
	assert_int_equal(hpa, apic + 0x300);
	assert_int_equal(mt, EPT_MT_UC);
	assert_int_equal(leaf_entry(pml4, apic) & EPT_RWX, EPT_READ);
	/* Its neighbours keep their mapping, type and full rights. */
	for (uint64_t pa = apic - MiB(2); pa < apic + MiB(2); pa += PAGE_SIZE) {
		if (pa == apic)
			continue;
		assert_true(ept_translate(pml4, pa, &hpa, &mt, &level));
		assert_int_equal(hpa, pa);
		assert_int_equal(leaf_entry(pml4, pa) & EPT_RWX, EPT_RWX);
	}
	/* Memory the map leaves out (the hypervisor's) cannot be given rights. */
	assert_int_equal(ept_restrict_page(pml4, hv_map.r[0].base, EPT_READ, fake_alloc), -1);
}

/* L1 sees the whole physical-address width with 1 GiB pages; without them the map stops at 64 GiB or the top of RAM. */
static void test_identity_limit(void **state)
{
	struct mem_map big = { .count = 2, .r = { { 0, GiB(2), MEM_USABLE, 0 }, { GiB(4), GiB(100) + MiB(3), MEM_USABLE, 0 } } };

	(void)state;
	assert_int_equal(ept_identity_limit(&ram_map, 40, true), GiB(1024));
	assert_int_equal(ept_identity_limit(&ram_map, 39, true), GiB(512));
	assert_int_equal(ept_identity_limit(&ram_map, 52, true), 1ULL << 48); /* what a 4-level EPT translates */
	assert_int_equal(ept_identity_limit(&ram_map, 36, true), GiB(64));
	assert_int_equal(ept_identity_limit(&ram_map, 40, false), GiB(64));
	assert_int_equal(ept_identity_limit(&ram_map, 32, false), GiB(4)); /* never above MAXPHYADDR */
	assert_int_equal(ept_identity_limit(&big, 40, false), GiB(105)); /* RAM above 64 GiB stays mapped */
	assert_int_equal(ept_identity_limit(&big, 46, true), 1ULL << 46);
}

/* MAXPHYADDR 40 (Bochs): 4 GiB and 512 GiB, above the top of RAM, are mapped uncached in 1 GiB pages, with few tables. */
static void test_full_width_map(void **state)
{
	struct ept_layout l = { &ram_map, &hv_map, ept_identity_limit(&ram_map, 40, true), true, true };
	paddr_t pml4 = 0;
	uint64_t hpa;
	unsigned int mt, level;

	(void)state;
	assert_int_equal(ept_build_identity(&l, fake_alloc, &pml4), 0);
	check_every_low_page(pml4);
	for (uint64_t gpa = GiB(4); gpa < GiB(1024); gpa += GiB(1)) {
		assert_true(ept_translate(pml4, gpa + 0x345678, &hpa, &mt, &level));
		assert_int_equal(hpa, gpa + 0x345678);
		assert_int_equal(mt, EPT_MT_UC);
		assert_int_equal(level, 3);
	}
	assert_false(ept_translate(pml4, GiB(1024), &hpa, &mt, &level));
	assert_true(nframes < 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identity_with_holes_1g, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identity_2m_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identity_4k_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_frames, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eptp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_page_straddling_ram_end_is_wb, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restrict_one_page, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identity_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_width_map, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
