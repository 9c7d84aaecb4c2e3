/* Host tests of the frame pool, its placement and the hypervisor/guest split of memory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <cmocka.h>

#include "hv/memmap.h"
#include "hv/mm.h"
#include "hv/string.h"

extern char fake_console[];
extern jmp_buf fake_panic_jmp;
extern int fake_panic_armed;
extern char fake_panic_msg[];
extern paddr_t mm_test_image_start, mm_test_image_end;
void fake_console_reset(void);

#define POOL_BASE 0x40000000ULL

static struct boot_info bi;
static struct mm_layout lay;

/* ---- the bitmap allocator on its own ---- */

static struct frame_pool pool;
static uint8_t *ram;

static void pool_setup(uint64_t size)
{
	free(ram);
	ram = malloc(size);
	assert_non_null(ram);
	memset(ram, 0xa5, size);
	assert_int_equal(frame_pool_init(&pool, POOL_BASE, size, ram), 0);
}

static uint8_t *frame_ptr(paddr_t pa)
{
	return ram + (pa - POOL_BASE);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void test_pool_init(void **state)
{
	static uint8_t buf[PAGE_SIZE * 3];

	(void)state;
	pool_setup(MiB(4));
	assert_int_equal(pool.nframes, 1024);
	assert_int_equal(pool.meta, 1);
	assert_int_equal(frame_pool_free_frames(&pool), 1023);
	/* Unaligned, empty or bitmap-only pools are refused. */
	assert_int_equal(frame_pool_init(&pool, POOL_BASE + 1, MiB(4), buf), MM_EINVAL);
	assert_int_equal(frame_pool_init(&pool, POOL_BASE, MiB(4) + 1, buf), MM_EINVAL);
	assert_int_equal(frame_pool_init(&pool, POOL_BASE, PAGE_SIZE, buf), MM_EINVAL);
	assert_int_equal(frame_pool_init(&pool, POOL_BASE, MiB(4), NULL), MM_EINVAL);
	assert_int_equal(frame_pool_alloc(&pool, 1, 0), 0);
	/* Three frames, one for the bitmap: the bitmap's padding bits are never handed out. */
	assert_int_equal(frame_pool_init(&pool, POOL_BASE, 3 * PAGE_SIZE, buf), 0);
	assert_int_equal(frame_pool_alloc(&pool, 1, 0), POOL_BASE + PAGE_SIZE);
	assert_int_equal(frame_pool_alloc(&pool, 1, 0), POOL_BASE + 2 * PAGE_SIZE);
	assert_int_equal(frame_pool_alloc(&pool, 1, 0), 0);
}

static void test_pool_exhaustion_and_zeroing(void **state)
{
	static paddr_t got[100];
	paddr_t pa;

	(void)state;
	pool_setup(100 * PAGE_SIZE); /* 100 frames: 1 bitmap + 99, not a multiple of 64 */
	for (int i = 0; i < 99; i++) {
		got[i] = frame_pool_alloc(&pool, 1, 0);
		assert_true(got[i] >= POOL_BASE + PAGE_SIZE);
		assert_true(got[i] < POOL_BASE + 100 * PAGE_SIZE);
		assert_true(IS_ALIGNED(got[i], PAGE_SIZE));
		assert_true(all_zero(frame_ptr(got[i]), PAGE_SIZE));
		memset(frame_ptr(got[i]), 0xff, PAGE_SIZE);
		for (int j = 0; j < i; j++)
			assert_true(got[i] != got[j]);
	}
	assert_int_equal(frame_pool_alloc(&pool, 1, 0), 0);
	assert_int_equal(frame_pool_alloc(&pool, 1, 0), 0);
	assert_int_equal(frame_pool_free_frames(&pool), 0);
	/* A freed, dirtied frame comes back zeroed. */
	assert_true(frame_pool_free(&pool, got[50], 1));
	pa = frame_pool_alloc(&pool, 1, 0);
	assert_int_equal(pa, got[50]);
	assert_true(all_zero(frame_ptr(pa), PAGE_SIZE));
}

static void test_pool_bad_frees(void **state)
{
	paddr_t pa;

	(void)state;
	pool_setup(MiB(4));
	pa = frame_pool_alloc(&pool, 1, 0);
	assert_false(frame_pool_free(&pool, pa + 8, 1));        /* unaligned */
	assert_false(frame_pool_free(&pool, POOL_BASE, 1));     /* the bitmap's frame */
	assert_false(frame_pool_free(&pool, POOL_BASE - PAGE_SIZE, 1));
	assert_false(frame_pool_free(&pool, POOL_BASE + MiB(4), 1));
	assert_false(frame_pool_free(&pool, pa + PAGE_SIZE, 1)); /* never allocated */
	assert_false(frame_pool_free(&pool, pa, 2));             /* only the first is allocated */
	assert_false(frame_pool_free(&pool, pa, 0));
	assert_int_equal(pool.used, 1);
	assert_true(frame_pool_free(&pool, pa, 1));
	assert_false(frame_pool_free(&pool, pa, 1));             /* double free */
	assert_int_equal(pool.used, 0);
}

static void test_pool_contig(void **state)
{
	paddr_t a, b, c;

	(void)state;
	pool_setup(MiB(8));
	a = frame_pool_alloc(&pool, 1, 0);
	b = frame_pool_alloc(&pool, 512, MiB(2));
	assert_true(b != 0);
	assert_true(IS_ALIGNED(b, MiB(2)));
	assert_true(b > a);
	assert_true(all_zero(frame_ptr(b), MiB(2)));
	c = frame_pool_alloc(&pool, 3, KiB(16));
	assert_true(IS_ALIGNED(c, KiB(16)));
	assert_true(c + 3 * PAGE_SIZE <= b || c >= b + MiB(2));
	/* Of the four 2 MiB slots, the first holds the bitmap, a and c, the second b. */
	assert_int_equal(frame_pool_alloc(&pool, 512, MiB(2)), POOL_BASE + MiB(4));
	assert_int_equal(frame_pool_alloc(&pool, 512, MiB(2)), POOL_BASE + MiB(6));
	assert_int_equal(frame_pool_alloc(&pool, 512, MiB(2)), 0);
	assert_int_equal(frame_pool_alloc(&pool, 2048, 0), 0);    /* bigger than the pool */
	assert_int_equal(frame_pool_alloc(&pool, 1, 3 * PAGE_SIZE), 0); /* not a power of two */
	assert_int_equal(frame_pool_alloc(&pool, 0, 0), 0);
	assert_true(frame_pool_free(&pool, b, 512));
	assert_int_equal(frame_pool_alloc(&pool, 512, MiB(2)), b);
}

static void test_pool_contig_skips_partly_used_runs(void **state)
{
	paddr_t f1, f2, f3;

	(void)state;
	pool_setup(MiB(4));
	f1 = frame_pool_alloc(&pool, 1, 0);
	f2 = frame_pool_alloc(&pool, 1, 0);
	f3 = frame_pool_alloc(&pool, 1, 0);
	assert_int_equal(f3, POOL_BASE + 3 * PAGE_SIZE);
	assert_true(frame_pool_free(&pool, f1, 1));
	assert_true(frame_pool_free(&pool, f3, 1));
	/* Frame 1 is free but frame 2 is not: the first free pair is 3-4. */
	assert_int_equal(frame_pool_alloc(&pool, 2, 0), f3);
	assert_int_equal(frame_pool_alloc(&pool, 1, 0), f1);
	(void)f2;
}

/* ---- placement ---- */

static void machine_setup(void)
{
	memset(&bi, 0, sizeof(bi));
	bi.magic = BOOT_INFO_MAGIC;
	bi.mmap[0] = (struct boot_mem_range){ 0, KiB(639), MEM_USABLE, 0 };
	bi.mmap[1] = (struct boot_mem_range){ KiB(639), KiB(1), MEM_RESERVED, 0 };
	bi.mmap[2] = (struct boot_mem_range){ KiB(960), KiB(64), MEM_RESERVED, 0 };
	bi.mmap[3] = (struct boot_mem_range){ MiB(1), MiB(511), MEM_USABLE, 0 };   /* to 512M */
	bi.mmap[4] = (struct boot_mem_range){ MiB(512), MiB(1), MEM_ACPI_NVS, 0 };
	bi.mmap[5] = (struct boot_mem_range){ MiB(513), MiB(511), MEM_USABLE, 0 }; /* to 1G */
	bi.mmap[6] = (struct boot_mem_range){ GiB(4) - MiB(64), MiB(64), MEM_RESERVED, 0 };
	bi.mmap[7] = (struct boot_mem_range){ GiB(4), GiB(4), MEM_USABLE, 0 };
	bi.mmap_count = 8;
	bi.modules[0] = (struct boot_module){ .start = MiB(16), .end = MiB(16) + 12345, .cmdline = "guest.elf" };
	bi.modules[1] = (struct boot_module){ .start = GiB(1) - MiB(5), .end = GiB(1) - MiB(4) + 1, .cmdline = "initrd" };
	bi.module_count = 2;
}

static void expect_pool_clear_of(const struct mm_layout *l, uint64_t base, uint64_t end)
{
	assert_true(l->pool_base + l->pool_size <= base || l->pool_base >= end);
}

/* Where GRUB and the UEFI loader put the image (top of RAM, 2 MiB aligned): the pool goes right under it, so L1's RAM from 1 MiB is one range up to them. */
static void test_plan_image_at_top(void **state)
{
	uint64_t top = MiB(256) - KiB(64); /* Bochs: ACPI data above */

	(void)state;
	memset(&bi, 0, sizeof(bi));
	bi.mmap[0] = (struct boot_mem_range){ 0, KiB(636), MEM_USABLE, 0 };
	bi.mmap[1] = (struct boot_mem_range){ MiB(1), top - MiB(1), MEM_USABLE, 0 };
	bi.mmap[2] = (struct boot_mem_range){ top, KiB(64), MEM_ACPI_RECLAIM, 0 };
	bi.mmap_count = 3;
	bi.modules[0] = (struct boot_module){ .start = 0x177000, .end = 0x17fa74, .cmdline = "guest" };
	bi.module_count = 1;
	assert_int_equal(mm_plan(&lay, &bi, MiB(252), MiB(252) + 0xf1000, MiB(32)), 0);
	assert_int_equal(lay.pool_base + lay.pool_size, MiB(252));
	assert_int_equal(lay.hv.count, 1);
	assert_true(memmap_covers(&lay.guest, MiB(1), lay.pool_base - MiB(1), MEM_USABLE));
	assert_true(memmap_covers(&lay.guest, lay.pool_base, MiB(32) + 0xf1000, MEM_RESERVED));
}

static void test_plan_highest_below_4g(void **state)
{
	(void)state;
	machine_setup();
	assert_int_equal(mm_plan(&lay, &bi, 0x200000, 0x345678, MiB(32)), 0);
	/* The top of 513M..1G holds a module ending just above 1G-4M: the pool goes under it, 2 MiB aligned. */
	assert_int_equal(lay.pool_base, GiB(1) - MiB(6) - MiB(32));
	assert_int_equal(lay.image_start, 0x200000);
	assert_int_equal(lay.image_end, 0x346000);
	expect_pool_clear_of(&lay, bi.modules[1].start, bi.modules[1].end);
	assert_true(memmap_covers(&lay.machine, lay.pool_base, lay.pool_size, MEM_USABLE));
}

static void test_plan_avoids_everything(void **state)
{
	(void)state;
	/* Whatever the size, the pool never touches the first MiB, the image, modules or firmware ranges. */
	for (uint64_t size = MiB(4); size <= MiB(900); size += MiB(37)) {
		machine_setup();
		bi.acpi_rsdp = GiB(1) - MiB(40) + 16;
		if (mm_plan(&lay, &bi, 0x200000, 0x800000, ALIGN_UP(size, PAGE_SIZE)))
			continue;
		assert_true(lay.pool_base >= MiB(1));
		assert_true(lay.pool_base + lay.pool_size <= GiB(4));
		assert_true(memmap_covers(&lay.machine, lay.pool_base, lay.pool_size, MEM_USABLE));
		expect_pool_clear_of(&lay, 0x200000, 0x800000);
		expect_pool_clear_of(&lay, bi.modules[0].start, bi.modules[0].end);
		expect_pool_clear_of(&lay, bi.modules[1].start, bi.modules[1].end);
		expect_pool_clear_of(&lay, bi.acpi_rsdp, bi.acpi_rsdp + 36);
	}
}

static void test_plan_falls_back_to_4k_alignment(void **state)
{
	(void)state;
	memset(&bi, 0, sizeof(bi));
	/* Usable RAM 1M+4K .. 5M+8K: exactly 4 MiB plus 4 KiB with no 2 MiB-aligned 4 MiB inside. */
	bi.mmap[0] = (struct boot_mem_range){ MiB(1) + KiB(4), MiB(4) + KiB(4), MEM_USABLE, 0 };
	bi.mmap_count = 1;
	assert_int_equal(mm_plan(&lay, &bi, MiB(6), MiB(7), MiB(4)), 0);
	assert_int_equal(lay.pool_base, MiB(1) + KiB(8));
}

static void test_plan_never_below_1m(void **state)
{
	(void)state;
	memset(&bi, 0, sizeof(bi));
	/* 4 MiB fit only at 0..4M, which holds the first MiB: no room. */
	bi.mmap[0] = (struct boot_mem_range){ 0, MiB(6), MEM_USABLE, 0 };
	bi.mmap_count = 1;
	assert_int_equal(mm_plan(&lay, &bi, MiB(4), MiB(5), MiB(4)), MM_ENOMEM);
	assert_int_equal(mm_plan(&lay, &bi, MiB(5), MiB(6), MiB(4)), 0);
	assert_int_equal(lay.pool_base, MiB(1));
}

static void test_plan_failures(void **state)
{
	(void)state;
	machine_setup();
	assert_int_equal(mm_plan(&lay, &bi, 0x200000, 0x800000, GiB(1)), MM_ENOMEM);
	assert_int_equal(mm_plan(&lay, &bi, 0x800000, 0x200000, MiB(4)), MM_EINVAL);
	assert_int_equal(mm_plan(&lay, &bi, 0x200000, 0x800000, MiB(4) + 1), MM_EINVAL);
	/* RAM above 4 GiB does not help: the boot page tables map the low 4 GiB only. */
	memset(&bi, 0, sizeof(bi));
	bi.mmap[0] = (struct boot_mem_range){ GiB(4), GiB(16), MEM_USABLE, 0 };
	bi.mmap_count = 1;
	assert_int_equal(mm_plan(&lay, &bi, 0x200000, 0x800000, MiB(4)), MM_ENOMEM);
	memset(&bi, 0, sizeof(bi));
	bi.mmap[0] = (struct boot_mem_range){ 0, GiB(1), MEM_RESERVED, 0 };
	bi.mmap_count = 1;
	assert_int_equal(mm_plan(&lay, &bi, 0x200000, 0x800000, MiB(4)), MM_ENOMAP);
}

static void test_pool_size_from_cmdline(void **state)
{
	bool note;

	(void)state;
	assert_int_equal(mm_pool_size_from_cmdline("", &note), MiB(32));
	assert_false(note);
	assert_int_equal(mm_pool_size_from_cmdline("loglevel=3 hvmem=64M", &note), MiB(64));
	assert_false(note);
	assert_int_equal(mm_pool_size_from_cmdline("hvmem=0x1000000", &note), MiB(16));
	assert_int_equal(mm_pool_size_from_cmdline("hvmem=10000k", &note), ALIGN_UP(KiB(10000), PAGE_SIZE));
	assert_int_equal(mm_pool_size_from_cmdline("hvmem=1M", &note), MiB(4));
	assert_true(note);
	assert_int_equal(mm_pool_size_from_cmdline("hvmem=lots", &note), MiB(32));
	assert_true(note);
	assert_int_equal(mm_pool_size_from_cmdline("hvmem", &note), MiB(32));
	assert_true(note);
	/* At or above 4 GiB: refused (the README's bound), the default used. */
	assert_int_equal(mm_pool_size_from_cmdline("hvmem=8G", &note), MiB(32));
	assert_true(note);
	assert_int_equal(mm_pool_size_from_cmdline("hvmem=4G", &note), MiB(32));
	assert_true(note);
	assert_int_equal(mm_pool_size_from_cmdline("hvmem=4095M", &note), MiB(4095));
	assert_false(note);
	assert_int_equal(mm_pool_size_from_cmdline("xhvmem=1M", &note), MiB(32));
	assert_false(note);
}

/* ---- the global allocator and the maps it publishes ---- */

static bool in_range(paddr_t pa, uint64_t base, uint64_t end)
{
	return pa >= base && pa < end;
}

static void test_mm_global_never_hands_out_others(void **state)
{
	const struct mem_map *hv, *guest;
	paddr_t pa;
	uint64_t n = 0;

	(void)state;
	machine_setup();
	hv_strlcpy(bi.cmdline, "hvmem=4M", sizeof(bi.cmdline));
	assert_int_equal(mm_init_at(&bi, 0x200000, 0x800000), 0);
	while ((pa = frame_alloc()) != 0) {
		n++;
		assert_true(mm_range_is_hv_owned(pa, PAGE_SIZE));
		assert_false(in_range(pa, 0, MiB(1)));
		assert_false(in_range(pa, 0x200000, 0x800000));
		assert_false(in_range(pa, bi.modules[0].start, bi.modules[0].end));
		assert_false(in_range(pa, bi.modules[1].start, bi.modules[1].end));
		assert_false(in_range(pa, MiB(512), MiB(513)));
		assert_false(in_range(pa, GiB(4) - MiB(64), GiB(4)));
	}
	assert_int_equal(n, 1023); /* 4 MiB less the bitmap's frame */
	assert_int_equal(frame_alloc(), 0);
	assert_int_equal(frame_alloc_contig(1, 0), 0);

	hv = mm_hv_ranges();
	guest = mm_guest_map();
	assert_true(memmap_is_normal(hv->r, hv->count));
	assert_true(memmap_is_normal(guest->r, guest->count));
	/* The guest sees the image and the pool as reserved, its modules as RAM, the rest as the firmware said. */
	assert_true(memmap_covers(guest, 0x200000, 0x600000, MEM_RESERVED));
	/* Under the module ending past 1G-4M, 2 MiB aligned. */
	assert_true(memmap_covers(guest, GiB(1) - MiB(10), MiB(4), MEM_RESERVED));
	assert_true(memmap_covers(hv, GiB(1) - MiB(10), MiB(4), MEM_RESERVED));
	assert_true(memmap_covers(guest, bi.modules[0].start, 12345, MEM_USABLE));
	assert_true(memmap_covers(guest, bi.modules[1].start, MiB(1) + 1, MEM_USABLE));
	assert_true(memmap_covers(guest, 0, KiB(639), MEM_USABLE));
	assert_true(memmap_covers(guest, MiB(512), MiB(1), MEM_ACPI_NVS));
	assert_int_equal(memmap_usable_bytes(guest),
			 KiB(639) + MiB(511) + MiB(511) + GiB(4) - MiB(6) - MiB(4));
	/* Ownership queries. */
	assert_true(mm_range_is_hv_owned(0x200000, 0x600000));
	assert_false(mm_range_is_hv_owned(0x1ff000, 0x2000));
	assert_true(mm_range_overlaps_hv(0x1ff000, 0x2000));
	assert_false(mm_range_overlaps_hv(MiB(16), MiB(1)));
	assert_false(mm_range_is_hv_owned(0x200000, 0));
	assert_true(mm_range_overlaps_hv(0, UINT64_MAX));
}

static void test_mm_global_free_and_contig(void **state)
{
	paddr_t a, b;

	(void)state;
	machine_setup();
	hv_strlcpy(bi.cmdline, "hvmem=8M", sizeof(bi.cmdline));
	assert_int_equal(mm_init_at(&bi, 0x200000, 0x800000), 0);
	a = frame_alloc_contig(16, KiB(64));
	assert_true(a && IS_ALIGNED(a, KiB(64)));
	b = frame_alloc();
	fake_console_reset();
	frame_free(b);
	frame_free(b); /* refused with a message, no crash */
	assert_non_null(strstr(fake_console, "hv: mm: refused to free 1 frame(s)"));
	frame_free_contig(a, 16);
	fake_console_reset();
	mm_print_state();
	assert_non_null(strstr(fake_console, "hv: mm: pool ["));
	assert_non_null(strstr(fake_console, "8192 KiB, 2048 frames (1 for the bitmap), 0 used, 2047 free"));
	for (const char *line = fake_console; *line; line = strchr(line, '\n') + 1)
		assert_int_equal(strncmp(line, "hv: mm: ", 8), 0);
}

static void test_mm_init_panics_without_room(void **state)
{
	(void)state;
	memset(&bi, 0, sizeof(bi));
	bi.mmap[0] = (struct boot_mem_range){ 0, MiB(8), MEM_USABLE, 0 };
	bi.mmap_count = 1;
	mm_test_image_start = 0x200000;
	mm_test_image_end = 0x800000;
	if (setjmp(fake_panic_jmp) == 0) {
		fake_panic_armed = 1;
		mm_init(&bi);
		fail_msg("mm_init returned without room for the pool");
	}
	assert_non_null(strstr(fake_panic_msg, "no room for the 32768 KiB hypervisor pool"));
	/* And a failed init leaves an allocator that only says no. */
	assert_int_equal(frame_alloc(), 0);
}

static void test_mm_init_kernel_entry(void **state)
{
	(void)state;
	machine_setup();
	mm_test_image_start = 0x200000;
	mm_test_image_end = 0x5f0123;
	mm_init(&bi);
	assert_true(mm_range_is_hv_owned(0x200000, 0x3f1000));
	assert_int_equal(mm_hv_ranges()->count, 2);
	assert_true(frame_alloc() != 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_init),
		cmocka_unit_test(test_pool_exhaustion_and_zeroing),
		cmocka_unit_test(test_pool_bad_frees),
		cmocka_unit_test(test_pool_contig),
		cmocka_unit_test(test_pool_contig_skips_partly_used_runs),
		cmocka_unit_test(test_plan_never_below_1m),
		cmocka_unit_test(test_plan_highest_below_4g),
		cmocka_unit_test(test_plan_image_at_top),
		cmocka_unit_test(test_plan_avoids_everything),
		cmocka_unit_test(test_plan_falls_back_to_4k_alignment),
		cmocka_unit_test(test_plan_failures),
		cmocka_unit_test(test_pool_size_from_cmdline),
		cmocka_unit_test(test_mm_global_never_hands_out_others),
		cmocka_unit_test(test_mm_global_free_and_contig),
		cmocka_unit_test(test_mm_init_panics_without_room),
		cmocka_unit_test(test_mm_init_kernel_entry),
	};
	int ret = cmocka_run_group_tests(tests, NULL, NULL);

	free(ram);
	return ret;
}
