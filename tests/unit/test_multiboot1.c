/* Host tests: the Multiboot v1 loader (header search, ELF32/ELF64/a.out kludge, placement checks, the info structure, a full load). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv/loader/multiboot1.h"
#include "hv/loader/guest_boot.h"
#include "hv/console.h"

#define GMEM_SIZE MiB(32)
static uint8_t *gmem;
static char last_log[512];

void *test_guest_phys(paddr_t pa)
{
	assert_true(pa < GMEM_SIZE);
	return gmem + pa;
}

void hv_log(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	(void)level;
	va_start(ap, fmt);
	vsnprintf(last_log, sizeof(last_log), fmt, ap);
	va_end(ap);
}

static struct mem_map hv_map = { .count = 1, .r = { { 0x200000, 0x600000, MEM_RESERVED, 0 } } };

const struct mem_map *mm_hv_ranges(void)
{
	return &hv_map;
}

static struct mem_map guest_map = {
	.count = 6,
	.r = {
		{ 0x0, 0x9fc00, MEM_USABLE, 0 },
		{ 0x9fc00, 0x400, MEM_RESERVED, 0 },
		{ 0xf0000, 0x10000, MEM_RESERVED, 0 },
		{ 0x100000, 0x100000, MEM_USABLE, 0 },
		{ 0x200000, 0x600000, MEM_RESERVED, 0 },
		{ 0x800000, 0x1800000, MEM_USABLE, 0 },
	},
};

static int setup(void **state)
{
	(void)state;
	gmem = calloc(1, GMEM_SIZE);
	last_log[0] = 0;
	return gmem ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(gmem);
	return 0;
}

static void put_mb_header(uint8_t *img, size_t off, uint32_t flags)
{
	uint32_t h[3] = { MB1_HEADER_MAGIC, flags, (uint32_t)-(MB1_HEADER_MAGIC + flags) };

	memcpy(img + off, h, sizeof(h));
}

/* An ELF32 higher-half kernel: text at 1 MiB (vaddr 0xc0100000), data+bss at 1 MiB + 4 KiB. */
static size_t make_elf32(uint8_t *img)
{
	uint8_t ident[16] = { 0x7f, 'E', 'L', 'F', 1, 1, 1 };
	uint16_t half[2] = { 2, 3 }; /* ET_EXEC, EM_386 */
	uint32_t w[5] = { 1, 0xc010000c, 52, 0, 0 };
	uint16_t sizes[6] = { 52, 32, 2, 0, 0, 0 };
	uint32_t ph[2][8] = {
		{ 1, 0x1000, 0xc0100000, 0x100000, 0x100, 0x100, 5, 0x1000 },
		{ 1, 0x2000, 0xc0101000, 0x101000, 0x10, 0x2000, 6, 0x1000 },
	};

	memset(img, 0, 0x3000);
	memcpy(img, ident, 16);
	memcpy(img + 16, half, 4);
	memcpy(img + 20, w, 20);
	memcpy(img + 40, sizes, 12);
	memcpy(img + 52, ph, sizeof(ph));
	put_mb_header(img, 0x1000, MB1_HDR_PAGE_ALIGN | MB1_HDR_MEMINFO);
	memset(img + 0x100c, 0x90, 0xf4);
	memset(img + 0x2000, 0x5a, 0x10);
	return 0x2010;
}

/* An ELF64 kernel with one segment at 2 MiB + 16 MiB. */
static size_t make_elf64(uint8_t *img)
{
	uint8_t ident[16] = { 0x7f, 'E', 'L', 'F', 2, 1, 1 };
	uint16_t half[2] = { 2, 62 };
	uint32_t version = 1;
	uint64_t q[3] = { 0x1800010, 64, 0 };
	uint32_t flags = 0;
	uint16_t sizes[6] = { 64, 56, 1, 0, 0, 0 };
	struct { uint32_t type, flags; uint64_t off, vaddr, paddr, filesz, memsz, align; } __packed ph = {
		1, 5, 0x1000, 0x1800000, 0x1800000, 0x800, 0x1000, 0x1000 };

	memset(img, 0, 0x2000);
	memcpy(img, ident, 16);
	memcpy(img + 16, half, 4);
	memcpy(img + 20, &version, 4);
	memcpy(img + 24, q, 24);
	memcpy(img + 48, &flags, 4);
	memcpy(img + 52, sizes, 12);
	memcpy(img + 64, &ph, sizeof(ph));
	put_mb_header(img, 0x1000, 0);
	return 0x1800;
}

/* An a.out-kludge kernel: header at file offset 0x40, loaded at 1 MiB, bss to 1 MiB + 20 KiB. */
static size_t make_aout(uint8_t *img, uint32_t load_end, uint32_t bss_end)
{
	uint32_t h[8] = { MB1_HEADER_MAGIC, MB1_HDR_AOUT_KLUDGE, (uint32_t)-(MB1_HEADER_MAGIC + MB1_HDR_AOUT_KLUDGE),
			  0x100040, 0x100000, load_end, bss_end, 0x100080 };

	memset(img, 0xcc, 0x1000);
	memcpy(img + 0x40, h, sizeof(h));
	return 0x1000;
}

static void test_find_header(void **state)
{
	uint8_t img[MB1_SEARCH_BYTES + 64];

	(void)state;
	memset(img, 0, sizeof(img));
	assert_int_equal(mb1_find_header(img, sizeof(img)), -1);
	put_mb_header(img, 0x204, 0);
	assert_int_equal(mb1_find_header(img, sizeof(img)), 0x204);
	/* Unaligned or bad checksum: not a header. */
	memset(img, 0, sizeof(img));
	put_mb_header(img, 0x206, 0);
	assert_int_equal(mb1_find_header(img, sizeof(img)), -1);
	memset(img, 0, sizeof(img));
	put_mb_header(img, 0x200, 0);
	img[0x208] ^= 1;
	assert_int_equal(mb1_find_header(img, sizeof(img)), -1);
	/* Only the first 8 KiB count. */
	memset(img, 0, sizeof(img));
	put_mb_header(img, MB1_SEARCH_BYTES, 0);
	assert_int_equal(mb1_find_header(img, sizeof(img)), -1);
	put_mb_header(img, MB1_SEARCH_BYTES - 12, 0);
	assert_int_equal(mb1_find_header(img, sizeof(img)), MB1_SEARCH_BYTES - 12);
	/* A file too short for a header. */
	assert_int_equal(mb1_find_header(img, 8), -1);
	assert_true(multiboot1_probe(img, sizeof(img)));
}

static void test_parse_elf32(void **state)
{
	static uint8_t img[0x3000];
	struct mb1_image out;
	char err[200];
	size_t n = make_elf32(img);

	(void)state;
	assert_int_equal(mb1_parse(img, n, &out, err, sizeof(err)), 0);
	assert_string_equal(out.format, "ELF32");
	assert_int_equal(out.nseg, 2);
	assert_int_equal(out.seg[0].dest, 0x100000);
	assert_int_equal(out.seg[0].file_off, 0x1000);
	assert_int_equal(out.seg[1].dest, 0x101000);
	assert_int_equal(out.seg[1].filesz, 0x10);
	assert_int_equal(out.seg[1].memsz, 0x2000);
	/* The virtual entry point becomes physical through its segment. */
	assert_int_equal(out.entry, 0x10000c);
}

static void test_parse_elf64(void **state)
{
	static uint8_t img[0x2000];
	struct mb1_image out;
	char err[200];
	size_t n = make_elf64(img);

	(void)state;
	assert_int_equal(mb1_parse(img, n, &out, err, sizeof(err)), 0);
	assert_string_equal(out.format, "ELF64");
	assert_int_equal(out.nseg, 1);
	assert_int_equal(out.seg[0].dest, 0x1800000);
	assert_int_equal(out.seg[0].memsz, 0x1000);
	assert_int_equal(out.entry, 0x1800010);
}

static void test_parse_aout(void **state)
{
	static uint8_t img[0x1000];
	struct mb1_image out;
	char err[200];

	(void)state;
	make_aout(img, 0, 0x105000);
	assert_int_equal(mb1_parse(img, 0x1000, &out, err, sizeof(err)), 0);
	assert_string_equal(out.format, "a.out kludge");
	assert_int_equal(out.nseg, 1);
	assert_int_equal(out.seg[0].dest, 0x100000);
	assert_int_equal(out.seg[0].file_off, 0);
	assert_int_equal(out.seg[0].filesz, 0x1000);
	assert_int_equal(out.seg[0].memsz, 0x5000);
	assert_int_equal(out.entry, 0x100080);
	/* Explicit load_end, no bss. */
	make_aout(img, 0x100800, 0);
	assert_int_equal(mb1_parse(img, 0x1000, &out, err, sizeof(err)), 0);
	assert_int_equal(out.seg[0].filesz, 0x800);
	assert_int_equal(out.seg[0].memsz, 0x800);
}

static void expect_parse_error(const uint8_t *img, size_t n, const char *words)
{
	struct mb1_image out;
	char err[200];

	assert_int_equal(mb1_parse(img, n, &out, err, sizeof(err)), -1);
	if (!strstr(err, words))
		fail_msg("error '%s' does not say '%s'", err, words);
}

static void test_parse_errors(void **state)
{
	static uint8_t img[0x3000];
	size_t n;

	(void)state;
	memset(img, 0, sizeof(img));
	expect_parse_error(img, sizeof(img), "no Multiboot header");
	put_mb_header(img, 0, BIT(5));
	expect_parse_error(img, sizeof(img), "does not know");
	memset(img, 0, sizeof(img));
	put_mb_header(img, 0x100, 0);
	expect_parse_error(img, sizeof(img), "not ELF");
	n = make_elf32(img);
	img[18] = 40; /* EM_ARM */
	expect_parse_error(img, n, "not a little-endian x86 executable");
	n = make_elf32(img);
	expect_parse_error(img, 0x2008, "outside the file"); /* data segment cut */
	n = make_elf32(img);
	memcpy(img + 28, &(uint32_t){ 0x2ff0 }, 4); /* e_phoff past the end */
	expect_parse_error(img, n, "program headers lie outside");
	make_aout(img, 0x100000 + 0x2000, 0);
	expect_parse_error(img, 0x1000, "load_end_addr");
	make_aout(img, 0x100800, 0x100400);
	expect_parse_error(img, 0x1000, "bss_end_addr");
	make_aout(img, 0, 0);
	memcpy(img + 0x4c, &(uint32_t){ 0x100000 + 0x10000 }, 4); /* header_addr - load_addr beyond the file offset */
	expect_parse_error(img, 0x1000, "header_addr");
	(void)n;
}

static struct boot_info *make_bi(void)
{
	static struct boot_info bi;

	memset(&bi, 0, sizeof(bi));
	bi.module_count = 3;
	bi.modules[0] = (struct boot_module){ .start = 0x1000000, .end = 0x1003000, .cmdline = "kernel.elf arg1 arg2" };
	bi.modules[1] = (struct boot_module){ .start = 0x1100000, .end = 0x1100100, .cmdline = "initrd.img" };
	bi.modules[2] = (struct boot_module){ .start = 0x1200000, .end = 0x1200010, .cmdline = "" };
	return &bi;
}

static void expect_placement_error(uint64_t dest, uint64_t size, const char *words)
{
	struct mb1_image img = { .nseg = 1, .seg = { { dest, 0, 0, size } } };
	char err[200];

	assert_int_equal(mb1_check_placement(&img, &guest_map, &hv_map, make_bi(), err, sizeof(err)), -1);
	if (!strstr(err, words))
		fail_msg("error '%s' does not say '%s'", err, words);
}

static void test_placement(void **state)
{
	struct mb1_image img = { .nseg = 1, .seg = { { 0x100000, 0, 0x1000, 0x10000 } } };
	char err[200];

	(void)state;
	assert_int_equal(mb1_check_placement(&img, &guest_map, &hv_map, make_bi(), err, sizeof(err)), 0);
	expect_placement_error(0x1ff000, 0x2000, "hypervisor");
	expect_placement_error(0x7ff000, 0x1000, "hypervisor");
	expect_placement_error(0x1000000, 0x1000, "boot module 0");
	expect_placement_error(0x10fff00, 0x1000, "boot module 1");
	expect_placement_error(0x9f000, 0x1000, "not usable guest RAM");
	expect_placement_error(0x1ff0000, 0x20000, "not usable guest RAM");
}

static void test_info_structure(void **state)
{
	struct boot_info *bi = make_bi();
	struct mb1_info_input in = { .guest_map = &guest_map, .nmods = 2, .cmdline = "kernel.elf arg1 arg2",
				     .loader_name = "hv" };
	size_t size;
	struct mb1_info mbi;
	struct mb1_mmap_entry e;
	struct mb1_module m;

	(void)state;
	in.mods[0] = &bi->modules[1];
	in.mods[1] = &bi->modules[2];
	size = mb1_info_size(&in);
	assert_true(size < 4096);
	mb1_build_info(&in, gmem + 0x10000, 0x10000);
	memcpy(&mbi, gmem + 0x10000, sizeof(mbi));
	assert_int_equal(mbi.flags, MB1_INFO_MEM | MB1_INFO_CMDLINE | MB1_INFO_MODS | MB1_INFO_MMAP | MB1_INFO_LOADER_NAME);
	assert_int_equal(mbi.mem_lower, 0x9fc00 / 1024);
	assert_int_equal(mbi.mem_upper, 1024); /* 1 MiB up to the hypervisor at 2 MiB */
	assert_string_equal((char *)gmem + mbi.cmdline, "kernel.elf arg1 arg2");
	assert_string_equal((char *)gmem + mbi.boot_loader_name, "hv");
	assert_int_equal(mbi.mmap_length, 6 * 24);
	for (int i = 0; i < 6; i++) {
		memcpy(&e, gmem + mbi.mmap_addr + 24 * i, sizeof(e));
		assert_int_equal(e.size, 20);
		assert_int_equal(e.base_addr, guest_map.r[i].base);
		assert_int_equal(e.length, guest_map.r[i].len);
		assert_int_equal(e.type, guest_map.r[i].type);
	}
	assert_int_equal(mbi.mods_count, 2);
	memcpy(&m, gmem + mbi.mods_addr, sizeof(m));
	assert_int_equal(m.mod_start, 0x1100000);
	assert_int_equal(m.mod_end, 0x1100100);
	assert_string_equal((char *)gmem + m.string, "initrd.img");
	memcpy(&m, gmem + mbi.mods_addr + 16, sizeof(m));
	assert_string_equal((char *)gmem + m.string, "");
	/* Everything lies inside the computed size. */
	assert_true(m.string + 1 <= 0x10000 + size);
}

static void test_info_spot(void **state)
{
	struct boot_info *bi = make_bi();
	struct mb1_image img = { .nseg = 1, .seg = { { 0x10000, 0, 0, 0x3000 } } };
	uint64_t gpa;

	(void)state;
	assert_true(mb1_find_info_spot(0x2000, &guest_map, &img, bi, &gpa));
	assert_int_equal(gpa, 0x13000);
	/* Too big for low memory and for 1-2 MiB: lands after the modules. */
	img.seg[0] = (struct mb1_segment){ 0x100000, 0, 0, 0x1000 };
	assert_true(mb1_find_info_spot(0x300000, &guest_map, &img, bi, &gpa));
	assert_int_equal(gpa, 0x800000);
	assert_true(mb1_find_info_spot(0x900000, &guest_map, &img, bi, &gpa));
	assert_int_equal(gpa, 0x1201000);
	assert_false(mb1_find_info_spot(0x2000000, &guest_map, &img, bi, &gpa));
}

static void test_full_load(void **state)
{
	struct boot_info *bi = make_bi();
	struct guest_load_ctx ctx = { bi, 0, &guest_map };
	struct guest_boot_state gs;
	struct mb1_info mbi;
	struct mb1_module m;

	(void)state;
	make_elf32(gmem + 0x1000000);
	memset(gmem + 0x100000, 0xaa, 0x4000); /* stale bytes where the BSS goes */
	assert_int_equal(multiboot1_load(&ctx, &gs), 0);
	assert_int_equal(gs.mode, GUEST_MODE_PROT32);
	assert_int_equal(gs.rip, 0x10000c);
	assert_int_equal(gs.rax, 0x2badb002);
	assert_int_equal(gs.gdt_base, 0);
	assert_int_equal(memcmp(gmem + 0x100000, gmem + 0x1001000, 0x100), 0);
	assert_int_equal(gmem[0x101000], 0x5a);
	for (int i = 0x10; i < 0x2000; i++)
		assert_int_equal(gmem[0x101000 + i], 0);
	memcpy(&mbi, gmem + gs.rbx, sizeof(mbi));
	assert_string_equal((char *)gmem + mbi.cmdline, "kernel.elf arg1 arg2");
	assert_int_equal(mbi.mods_count, 2);
	memcpy(&m, gmem + mbi.mods_addr, sizeof(m));
	assert_int_equal(m.mod_start, 0x1100000);
	assert_string_equal((char *)gmem + m.string, "initrd.img");
	assert_non_null(strstr(last_log, "ELF32"));
}

static void test_full_load_refuses_hv_overlap(void **state)
{
	struct boot_info *bi = make_bi();
	struct guest_load_ctx ctx = { bi, 0, &guest_map };
	struct guest_boot_state gs;
	uint8_t *img = gmem + 0x1000000;

	(void)state;
	make_elf32(img);
	memcpy(img + 52 + 12, &(uint32_t){ 0x300000 }, 4); /* first segment's paddr into the hypervisor */
	assert_int_equal(multiboot1_load(&ctx, &gs), -1);
	assert_non_null(strstr(last_log, "hv: L1 kernel (module 0"));
	assert_non_null(strstr(last_log, "overlaps the hypervisor's memory"));
	/* Nothing was written at 1 MiB. */
	assert_int_equal(gmem[0x100000], 0);
}

static void test_full_load_no_header(void **state)
{
	struct boot_info *bi = make_bi();
	struct guest_load_ctx ctx = { bi, 0, &guest_map };
	struct guest_boot_state gs;

	(void)state;
	assert_int_equal(multiboot1_load(&ctx, &gs), -1);
	assert_non_null(strstr(last_log, "no Multiboot header"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find_header),
		cmocka_unit_test(test_parse_elf32),
		cmocka_unit_test(test_parse_elf64),
		cmocka_unit_test(test_parse_aout),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test_setup_teardown(test_placement, setup, teardown),
		cmocka_unit_test_setup_teardown(test_info_structure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_info_spot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_load_refuses_hv_overlap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_load_no_header, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
