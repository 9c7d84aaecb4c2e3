/* Host tests of the memory-map operations, against hand-checked cases and a page-granular reference model. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "hv/memmap.h"
#include "hv/string.h"

#define U(x) ((uint64_t)(x) * PAGE_SIZE)

static struct mem_map map;

static void expect_range(uint32_t i, uint64_t base, uint64_t end, uint32_t type)
{
	assert_true(i < map.count);
	assert_int_equal(map.r[i].base, base);
	assert_int_equal(map.r[i].base + map.r[i].len, end);
	assert_int_equal(map.r[i].type, type);
}

static void test_add_merge_split(void **state)
{
	(void)state;
	memmap_init(&map);
	assert_int_equal(memmap_add(&map, U(10), U(10), MEM_USABLE), 0);
	assert_int_equal(memmap_add(&map, U(20), U(5), MEM_USABLE), 0); /* touching, same type: merged */
	assert_int_equal(map.count, 1);
	expect_range(0, U(10), U(25), MEM_USABLE);
	assert_int_equal(memmap_add(&map, U(12), U(2), MEM_RESERVED), 0); /* worse: splits */
	assert_int_equal(map.count, 3);
	expect_range(0, U(10), U(12), MEM_USABLE);
	expect_range(1, U(12), U(14), MEM_RESERVED);
	expect_range(2, U(14), U(25), MEM_USABLE);
	assert_int_equal(memmap_add(&map, U(0), U(30), MEM_USABLE), 0); /* better: only fills holes */
	assert_int_equal(map.count, 3);
	expect_range(0, U(0), U(12), MEM_USABLE);
	expect_range(2, U(14), U(30), MEM_USABLE);
	assert_true(memmap_is_normal(map.r, map.count));
}

static void test_worst_wins_any_order(void **state)
{
	static const struct { uint64_t b, l; uint32_t t; } e[] = {
		{ U(0), U(100), MEM_USABLE }, { U(10), U(10), MEM_ACPI_NVS },
		{ U(15), U(10), MEM_RESERVED }, { U(50), U(60), MEM_ACPI_RECLAIM },
		{ U(90), U(5), MEM_BAD },
	};
	struct mem_map first;

	(void)state;
	/* Forward and backward must give the same map. */
	memmap_init(&map);
	for (size_t i = 0; i < ARRAY_SIZE(e); i++)
		assert_int_equal(memmap_add(&map, e[i].b, e[i].l, e[i].t), 0);
	first = map;
	memmap_init(&map);
	for (size_t i = ARRAY_SIZE(e); i--;)
		assert_int_equal(memmap_add(&map, e[i].b, e[i].l, e[i].t), 0);
	assert_int_equal(map.count, first.count);
	assert_memory_equal(map.r, first.r, map.count * sizeof(map.r[0]));
	expect_range(0, U(0), U(10), MEM_USABLE);
	expect_range(1, U(10), U(15), MEM_ACPI_NVS);
	expect_range(2, U(15), U(25), MEM_RESERVED);
	expect_range(3, U(25), U(50), MEM_USABLE);
	expect_range(4, U(50), U(90), MEM_ACPI_RECLAIM);
	expect_range(5, U(90), U(95), MEM_BAD);
	expect_range(6, U(95), U(110), MEM_ACPI_RECLAIM);
}

static void test_set_and_remove(void **state)
{
	(void)state;
	memmap_init(&map);
	assert_int_equal(memmap_add(&map, U(0), U(100), MEM_RESERVED), 0);
	assert_int_equal(memmap_set(&map, U(10), U(10), MEM_USABLE), 0); /* override: better type wins here */
	expect_range(1, U(10), U(20), MEM_USABLE);
	assert_int_equal(memmap_remove(&map, U(50), U(10)), 0);
	assert_int_equal(map.count, 4);
	expect_range(2, U(20), U(50), MEM_RESERVED);
	expect_range(3, U(60), U(100), MEM_RESERVED);
	assert_int_equal(memmap_remove(&map, U(0), U(1000)), 0);
	assert_int_equal(map.count, 0);
	assert_int_equal(memmap_reserve(&map, U(5), U(1)), 0); /* reserving a hole makes a range */
	expect_range(0, U(5), U(6), MEM_RESERVED);
}

static void test_invalid(void **state)
{
	(void)state;
	memmap_init(&map);
	assert_int_equal(memmap_add(&map, U(1), 0, MEM_USABLE), MEMMAP_EINVAL);
	assert_int_equal(memmap_add(&map, UINT64_MAX - 5, 10, MEM_USABLE), MEMMAP_EINVAL);
	assert_int_equal(map.count, 0);
	/* Unknown types become reserved. */
	assert_int_equal(memmap_add(&map, U(1), U(1), 77), 0);
	expect_range(0, U(1), U(2), MEM_RESERVED);
	assert_int_equal(memmap_canon_type(0), MEM_RESERVED);
	assert_string_equal(memmap_type_name(MEM_ACPI_NVS), "ACPI NVS");
	assert_string_equal(memmap_type_name(12), "reserved");
}

static void test_enospc_keeps_map_valid(void **state)
{
	struct boot_mem_range r[4];
	uint32_t n = 0;

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(memranges_add(r, &n, 4, U(10 * i), U(5), MEM_USABLE), 0);
	assert_int_equal(memranges_add(r, &n, 4, U(100), U(5), MEM_USABLE), MEMMAP_ENOSPC);
	assert_int_equal(n, 4);
	assert_int_equal(r[3].base, U(30));
	assert_int_equal(r[3].len, U(5));
	/* Merging needs no slot, so it still works when full. */
	assert_int_equal(memranges_add(r, &n, 4, U(5), U(5), MEM_USABLE), 0);
	assert_int_equal(n, 3);
	/* A split in the middle needs two slots: refused, nothing changed. */
	assert_int_equal(memranges_add(r, &n, 4, U(2), U(1), MEM_RESERVED), MEMMAP_ENOSPC);
	assert_int_equal(n, 3);
	assert_true(memmap_is_normal(r, n));
	assert_int_equal(r[0].base, 0);
	assert_int_equal(r[0].len, U(15));
}

/* ---- the reference model: one cell per page, 0 for a hole ---- */

#define CELLS 256
static uint32_t model[CELLS];
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static void model_apply(uint32_t first, uint32_t n, uint32_t type, int op)
{
	for (uint32_t i = first; i < first + n && i < CELLS; i++) {
		if (op == 2)
			model[i] = 0;
		else if (op == 1 || !model[i] || memmap_type_rank(type) > memmap_type_rank(model[i]))
			model[i] = type;
	}
}

static void expect_model(const struct mem_map *m)
{
	uint32_t cells[CELLS] = { 0 };

	assert_true(memmap_is_normal(m->r, m->count));
	for (uint32_t i = 0; i < m->count; i++) {
		assert_true(IS_ALIGNED(m->r[i].base | m->r[i].len, PAGE_SIZE));
		assert_true(m->r[i].base + m->r[i].len <= U(CELLS));
		for (uint64_t c = m->r[i].base / PAGE_SIZE; c < (m->r[i].base + m->r[i].len) / PAGE_SIZE; c++)
			cells[c] = m->r[i].type;
	}
	assert_memory_equal(cells, model, sizeof(cells));
}

static uint32_t rnd_type(void)
{
	return 1 + rnd(5);
}

static void test_random_against_model(void **state)
{
	(void)state;
	memmap_init(&map);
	memset(model, 0, sizeof(model));
	for (int step = 0; step < 5000; step++) {
		uint32_t n = 1 + rnd(40);
		uint32_t first = rnd(CELLS - n + 1);
		uint32_t type = rnd_type();
		int op = (int)rnd(3);
		int err;

		if (op == 0)
			err = memmap_add(&map, U(first), U(n), type);
		else if (op == 1)
			err = memmap_set(&map, U(first), U(n), type);
		else
			err = memmap_remove(&map, U(first), U(n));
		assert_int_equal(err, 0);
		model_apply(first, n, type, op);
		expect_model(&map);
	}
}

static void test_normalize_against_model(void **state)
{
	(void)state;
	for (int round = 0; round < 300; round++) {
		uint32_t n = rnd(60);

		memset(model, 0, sizeof(model));
		memmap_init(&map);
		for (uint32_t i = 0; i < n; i++) {
			uint32_t len = rnd(50); /* empty entries are dropped */
			uint32_t first = rnd(CELLS - len + 1);
			uint32_t type = rnd_type();

			map.r[i].base = U(first);
			map.r[i].len = U(len);
			map.r[i].type = type;
			model_apply(first, len, type, 0);
		}
		map.count = n;
		assert_int_equal(memmap_normalize(&map), 0);
		expect_model(&map);
	}
}

static void test_from_boot_info(void **state)
{
	static struct boot_info bi;

	(void)state;
	memset(&bi, 0, sizeof(bi));
	bi.mmap[0] = (struct boot_mem_range){ MiB(1), MiB(100), MEM_USABLE, 0 };
	bi.mmap[1] = (struct boot_mem_range){ 0, KiB(640), MEM_USABLE, 0 };
	bi.mmap[2] = (struct boot_mem_range){ MiB(50), MiB(1), MEM_RESERVED, 0 };
	bi.mmap[3] = (struct boot_mem_range){ GiB(4), UINT64_MAX, MEM_USABLE, 0 }; /* wraps: clipped */
	bi.mmap_count = 4;
	assert_int_equal(memmap_from_boot_info(&map, &bi), 0);
	assert_int_equal(map.count, 5);
	expect_range(0, 0, KiB(640), MEM_USABLE);
	expect_range(2, MiB(50), MiB(51), MEM_RESERVED);
	expect_range(4, GiB(4), UINT64_MAX, MEM_USABLE);
	assert_true(memmap_usable_bytes(&map) == KiB(640) + MiB(99) + (UINT64_MAX - GiB(4)));
	assert_int_equal(memmap_total(&map, MEM_RESERVED), MiB(1));
}

static void test_covers_overlaps(void **state)
{
	(void)state;
	memmap_init(&map);
	memmap_add(&map, U(10), U(10), MEM_RESERVED);
	memmap_add(&map, U(20), U(10), MEM_USABLE);
	memmap_add(&map, U(30), U(10), MEM_USABLE); /* merged with the previous */
	assert_true(memmap_covers(&map, U(10), U(10), MEM_RESERVED));
	assert_false(memmap_covers(&map, U(10), U(11), MEM_RESERVED));
	assert_true(memmap_covers(&map, U(25), U(10), MEM_USABLE));
	assert_false(memmap_covers(&map, U(9), U(2), MEM_RESERVED));
	assert_false(memmap_covers(&map, U(10), 0, MEM_RESERVED));
	memmap_add(&map, U(41), U(1), MEM_USABLE);
	assert_false(memmap_covers(&map, U(35), U(7), MEM_USABLE)); /* a hole at page 40 */
	assert_true(memmap_overlaps(&map, U(39), U(1)));
	assert_true(memmap_overlaps(&map, U(0), U(11)));
	assert_false(memmap_overlaps(&map, U(0), U(10)));
	assert_false(memmap_overlaps(&map, U(40), U(1)));
	assert_true(memmap_overlaps(&map, U(40), UINT64_MAX)); /* wrapping: to the top */
	assert_false(memmap_overlaps(&map, U(15), 0));
}

static void test_find_highest(void **state)
{
	struct boot_mem_range avoid[2];
	uint64_t base = 0;

	(void)state;
	memmap_init(&map);
	memmap_add(&map, MiB(1), MiB(63), MEM_USABLE);       /* 1M..64M */
	memmap_add(&map, MiB(100), MiB(10), MEM_RESERVED);
	memmap_add(&map, MiB(128), GiB(3), MEM_USABLE);      /* 128M..3G+128M */
	assert_true(memmap_find_highest(&map, MiB(32), MiB(2), GiB(4), NULL, 0, &base));
	assert_int_equal(base, GiB(3) + MiB(128) - MiB(32));
	/* The limit clips the range from above. */
	assert_true(memmap_find_highest(&map, MiB(32), MiB(2), GiB(1), NULL, 0, &base));
	assert_int_equal(base, GiB(1) - MiB(32));
	/* An avoided range near the top pushes the placement below it. */
	avoid[0] = (struct boot_mem_range){ GiB(1) - MiB(3), MiB(1), MEM_RESERVED, 0 };
	assert_true(memmap_find_highest(&map, MiB(32), MiB(2), GiB(1), avoid, 1, &base));
	assert_int_equal(base, GiB(1) - MiB(36)); /* 2 MiB aligned below 1G-3M */
	/* With 4 KiB alignment it sits right under the avoided range. */
	avoid[0] = (struct boot_mem_range){ GiB(1) - KiB(12), KiB(4), MEM_RESERVED, 0 };
	assert_true(memmap_find_highest(&map, MiB(1), PAGE_SIZE, GiB(1), avoid, 1, &base));
	assert_int_equal(base, GiB(1) - KiB(12) - MiB(1));
	/* Too big for the high range once avoided: falls to the low one. */
	avoid[0] = (struct boot_mem_range){ MiB(128), GiB(3), MEM_RESERVED, 0 };
	assert_true(memmap_find_highest(&map, MiB(32), MiB(2), GiB(4), avoid, 1, &base));
	assert_int_equal(base, MiB(32));
	avoid[1] = (struct boot_mem_range){ MiB(30), MiB(4), MEM_RESERVED, 0 };
	assert_false(memmap_find_highest(&map, MiB(32), MiB(2), GiB(4), avoid, 2, &base));
	/* Reserved ranges are never candidates; bad sizes and alignments are refused. */
	assert_false(memmap_find_highest(&map, MiB(200), PAGE_SIZE, MiB(120), NULL, 0, &base));
	assert_false(memmap_find_highest(&map, 0, PAGE_SIZE, GiB(4), NULL, 0, &base));
	assert_false(memmap_find_highest(&map, MiB(1), 3 * PAGE_SIZE, GiB(4), NULL, 0, &base));
	assert_false(memmap_find_highest(&map, UINT64_MAX, PAGE_SIZE, UINT64_MAX, NULL, 0, &base));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_merge_split),
		cmocka_unit_test(test_worst_wins_any_order),
		cmocka_unit_test(test_set_and_remove),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_enospc_keeps_map_valid),
		cmocka_unit_test(test_random_against_model),
		cmocka_unit_test(test_normalize_against_model),
		cmocka_unit_test(test_from_boot_info),
		cmocka_unit_test(test_covers_overlaps),
		cmocka_unit_test(test_find_highest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
