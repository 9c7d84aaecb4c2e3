/* Host tests of the multiboot2 parser on synthesized boot information, well-formed and broken, and of boot_info_print. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "boot/multiboot2.h"
#include "hv/memmap.h"
#include "hv/string.h"

extern char fake_console[];
void fake_console_reset(void);

/* ---- building boot information the way GRUB lays it out (spec 3.6) ---- */

static uint64_t words[4096];
static uint8_t *const blob = (uint8_t *)words;
static uint32_t blob_len;
static uint8_t *parsed_copy; /* exactly total_size bytes, so ASan catches any read past it */
static struct boot_info bi;

struct mm_entry { uint64_t base, len; uint32_t type; };
struct efi_desc { uint32_t type; uint64_t base, pages, attr; };

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static void mb_begin(void)
{
	memset(words, 0, sizeof(words));
	blob_len = 8;
}

/* A tag of size bytes (payload zeroed); the next one starts at the following 8-byte boundary. */
static uint8_t *mb_tag(uint32_t type, uint32_t size)
{
	uint8_t *t = blob + blob_len;

	assert_true(blob_len + size <= sizeof(words));
	put32(t, type);
	put32(t + 4, size);
	blob_len += (uint32_t)ALIGN_UP(size, 8);
	return t;
}

static void mb_finish(void)
{
	mb_tag(MB2_TAG_END, 8);
	put32(blob, blob_len);
}

static void mb_string(uint32_t type, const char *s)
{
	uint8_t *t = mb_tag(type, 8 + (uint32_t)strlen(s) + 1);

	memcpy(t + 8, s, strlen(s) + 1);
}

static void mb_module(uint32_t start, uint32_t end, const char *s)
{
	uint8_t *t = mb_tag(MB2_TAG_MODULE, 16 + (uint32_t)strlen(s) + 1);

	put32(t + 8, start);
	put32(t + 12, end);
	memcpy(t + 16, s, strlen(s) + 1);
}

static void mb_basic(uint32_t lower, uint32_t upper)
{
	uint8_t *t = mb_tag(MB2_TAG_BASIC_MEM, 16);

	put32(t + 8, lower);
	put32(t + 12, upper);
}

static void mb_mmap(uint32_t esize, const struct mm_entry *e, size_t n)
{
	uint8_t *t = mb_tag(MB2_TAG_MMAP, 16 + esize * (uint32_t)n);

	put32(t + 8, esize);
	for (size_t i = 0; i < n; i++) {
		uint8_t *p = t + 16 + i * esize;

		put64(p, e[i].base);
		put64(p + 8, e[i].len);
		if (esize < 24)
			continue; /* a malformed entry size, for the tests that need one */
		put32(p + 16, e[i].type);
		memset(p + 20, 0xee, esize - 20); /* reserved and future fields: ignored */
	}
}

static void mb_efi(uint32_t dsize, const struct efi_desc *d, size_t n)
{
	uint8_t *t = mb_tag(MB2_TAG_EFI_MMAP, 16 + dsize * (uint32_t)n);

	put32(t + 8, dsize);
	put32(t + 12, 1);
	for (size_t i = 0; i < n; i++) {
		uint8_t *p = t + 16 + i * dsize;

		put32(p, d[i].type);
		put64(p + 8, d[i].base);
		put64(p + 16, 0xdead0000);
		put64(p + 24, d[i].pages);
		put64(p + 32, d[i].attr);
	}
}

static uint8_t sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

/* An RSDP copy (ACPI 5.2.5.3) in tag 14 (v1, 20 bytes) or 15 (v2, 36 bytes); returns its offset in the blob. */
static uint32_t mb_rsdp(bool v2, bool good_sum, bool good_ext_sum)
{
	uint8_t *t = mb_tag(v2 ? MB2_TAG_ACPI_NEW : MB2_TAG_ACPI_OLD, v2 ? 8 + 36 : 8 + 20);
	uint8_t *r = t + 8;

	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, "HVTEST", 6);
	r[15] = v2 ? 2 : 0;
	put32(r + 16, 0x7fe1000);
	if (v2) {
		put32(r + 20, 36);
		put64(r + 24, 0x7fe2000);
	}
	r[8] = (uint8_t)(-sum8(r, 20) + !good_sum);
	if (v2)
		r[32] = (uint8_t)(-sum8(r, 36) + !good_ext_sum);
	return (uint32_t)(r - blob);
}

/*
 * Parses a heap copy of exactly total_size bytes (at least the 8-byte header
 * the parser must read to learn the size), so any read past it is caught.
 */
static int parse(void)
{
	uint32_t total, alloc;

	memcpy(&total, blob, 4);
	alloc = total > MB2_MAX_TOTAL_SIZE ? 8 : MAX(total, 8u);
	free(parsed_copy);
	parsed_copy = calloc(1, alloc);
	assert_non_null(parsed_copy);
	memcpy(parsed_copy, blob, MIN(alloc, (uint32_t)sizeof(words)));
	return mb2_parse(parsed_copy, &bi);
}

static void expect_range(uint32_t i, uint64_t base, uint64_t end, uint32_t type)
{
	assert_true(i < bi.mmap_count);
	assert_int_equal(bi.mmap[i].base, base);
	assert_int_equal(bi.mmap[i].base + bi.mmap[i].len, end);
	assert_int_equal(bi.mmap[i].type, type);
}

static const struct mm_entry qemu_map[] = {
	{ 0, 0x9fc00, 1 }, { 0x9fc00, 0x400, 2 }, { 0xf0000, 0x10000, 2 },
	{ 0x100000, 0x7ee0000, 1 }, { 0x7fe0000, 0x20000, 2 }, { 0xfffc0000, 0x40000, 2 },
};

/* What GRUB hands a multiboot2 kernel on a BIOS machine, tag order included. */
static void build_grub_like(void)
{
	mb_begin();
	mb_string(MB2_TAG_CMDLINE, "loglevel=3 hvmem=16M");
	mb_string(MB2_TAG_LOADER_NAME, "GRUB 2.06");
	mb_module(0x1000000, 0x1012345, "/boot/guest.elf console=ttyS0");
	mb_module(0x1013000, 0x1013100, "");
	mb_basic(639, 130944);
	mb_tag(5, 20); /* boot device: ignored */
	mb_mmap(24, qemu_map, ARRAY_SIZE(qemu_map));
	mb_rsdp(false, true, true);
	mb_tag(21, 12); /* load base address: ignored, and its size is not a multiple of 8 */
}

static void test_grub_like(void **state)
{
	uint32_t rsdp;

	(void)state;
	build_grub_like();
	rsdp = mb_rsdp(true, true, true);
	mb_finish();
	assert_int_equal(parse(), 0);
	assert_true(bi.magic == BOOT_INFO_MAGIC);
	assert_int_equal(bi.source, BOOT_SRC_MULTIBOOT2);
	assert_int_equal(bi.warnings, 0);
	assert_string_equal(bi.cmdline, "loglevel=3 hvmem=16M");
	assert_string_equal(bi.loader_name, "GRUB 2.06");
	assert_int_equal(bi.module_count, 2);
	assert_int_equal(bi.modules[0].start, 0x1000000);
	assert_int_equal(bi.modules[0].end, 0x1012345);
	assert_string_equal(bi.modules[0].cmdline, "/boot/guest.elf console=ttyS0");
	assert_string_equal(bi.modules[1].cmdline, "");
	/* Tag 6 wins over the basic information; the 0x9fc00 and 0xf0000 holes stay holes. */
	assert_int_equal(bi.mmap_count, 6);
	expect_range(0, 0, 0x9fc00, MEM_USABLE);
	expect_range(1, 0x9fc00, 0xa0000, MEM_RESERVED);
	expect_range(3, 0x100000, 0x7fe0000, MEM_USABLE);
	/* The v2 copy is preferred; its address is the copy's own. */
	assert_int_equal(bi.acpi_rsdp, (uint64_t)(uintptr_t)(parsed_copy + rsdp));
	assert_int_equal(bi.fb.addr, 0);
}

static void test_mmap_larger_entries(void **state)
{
	(void)state;
	mb_begin();
	mb_mmap(40, qemu_map, ARRAY_SIZE(qemu_map)); /* a future entry_version with longer entries */
	mb_finish();
	assert_int_equal(parse(), 0);
	assert_int_equal(bi.warnings, 0);
	assert_int_equal(bi.mmap_count, 6);
	expect_range(5, 0xfffc0000, 0x100000000, MEM_RESERVED);
}

static void test_mmap_unsorted_overlapping(void **state)
{
	static const struct mm_entry e[] = {
		{ 0x100000, 0x10000000, 1 },    /* 1M..257M usable */
		{ 0, 0xa0000, 1 },
		{ 0x8000000, 0x100000, 2 },     /* reserved inside the usable range */
		{ 0x9000000, 0x100000, 4 },     /* NVS inside it */
		{ 0x8080000, 0x100000, 3 },     /* ACPI data straddling the reserved one's end */
		{ 0x20000000, 0, 1 },           /* empty: dropped */
		{ 0x30000000, 0x1000, 99 },     /* unknown type: reserved */
		{ 0xfffffffffffff000, 0x2000, 1 }, /* runs past 2^64: clipped */
	};

	(void)state;
	mb_begin();
	mb_mmap(24, e, ARRAY_SIZE(e));
	mb_finish();
	assert_int_equal(parse(), 0);
	assert_true(memmap_is_normal(bi.mmap, bi.mmap_count));
	expect_range(0, 0, 0xa0000, MEM_USABLE);
	expect_range(1, 0x100000, 0x8000000, MEM_USABLE);
	expect_range(2, 0x8000000, 0x8100000, MEM_RESERVED);
	expect_range(3, 0x8100000, 0x8180000, MEM_ACPI_RECLAIM);
	expect_range(4, 0x8180000, 0x9000000, MEM_USABLE);
	expect_range(5, 0x9000000, 0x9100000, MEM_ACPI_NVS);
	expect_range(6, 0x9100000, 0x10100000, MEM_USABLE);
	expect_range(7, 0x30000000, 0x30001000, MEM_RESERVED);
	expect_range(8, 0xfffffffffffff000, UINT64_MAX, MEM_USABLE);
	assert_int_equal(bi.mmap_count, 9);
}

static const struct efi_desc efi_map[] = {
	{ 7, 0, 0x9f, 0 },            /* conventional */
	{ 0, 0x9f000, 1, 0 },          /* reserved */
	{ 3, 0x100000, 0x100, 0 },     /* boot services code: free after ExitBootServices */
	{ 2, 0x200000, 0x200, 0 },     /* loader data */
	{ 7, 0x400000, 0x7000, 0 },
	{ 9, 0x7400000, 0x10, 0 },     /* ACPI reclaim */
	{ 10, 0x7410000, 0x10, 0 },    /* ACPI NVS */
	{ 6, 0x7420000, 0x20, BIT(63) }, /* runtime data */
	{ 8, 0x7440000, 0x10, 0 },     /* unusable */
	{ 11, 0xffc00000, 0x400, 0 },  /* MMIO */
	{ 7, 0x100000000, 0x1000, BIT(18) }, /* specific-purpose: not general RAM */
	{ 14, 0x200000000, 0x1000, 0 },/* persistent */
};

static void test_efi_mmap_only(void **state)
{
	(void)state;
	mb_begin();
	mb_string(MB2_TAG_CMDLINE, "");
	mb_efi(48, efi_map, ARRAY_SIZE(efi_map));
	mb_finish();
	assert_int_equal(parse(), 0);
	assert_int_equal(bi.warnings, 0);
	assert_true(memmap_is_normal(bi.mmap, bi.mmap_count));
	expect_range(0, 0, 0x9f000, MEM_USABLE);
	expect_range(1, 0x9f000, 0xa0000, MEM_RESERVED);
	expect_range(2, 0x100000, 0x7400000, MEM_USABLE); /* 3, 2 and 7 merged */
	expect_range(3, 0x7400000, 0x7410000, MEM_ACPI_RECLAIM);
	expect_range(4, 0x7410000, 0x7420000, MEM_ACPI_NVS);
	expect_range(5, 0x7420000, 0x7440000, MEM_RESERVED);
	expect_range(6, 0x7440000, 0x7450000, MEM_BAD);
	expect_range(7, 0xffc00000, 0x101000000, MEM_RESERVED); /* MMIO and the SP range merged */
	expect_range(8, 0x200000000, 0x201000000, MEM_RESERVED);
	assert_int_equal(bi.mmap_count, 9);
}

static void test_efi_mmap_loses_to_e820(void **state)
{
	(void)state;
	mb_begin();
	mb_efi(40, efi_map, ARRAY_SIZE(efi_map)); /* before tag 6: still ignored */
	mb_mmap(24, qemu_map, ARRAY_SIZE(qemu_map));
	mb_finish();
	assert_int_equal(parse(), 0);
	assert_int_equal(bi.mmap_count, 6);
	expect_range(3, 0x100000, 0x7fe0000, MEM_USABLE);
	assert_int_equal(mb2_efi_type_to_e820(4), MEM_USABLE);
	assert_int_equal(mb2_efi_type_to_e820(5), MEM_RESERVED);
	assert_int_equal(mb2_efi_type_to_e820(15), MEM_RESERVED);
	assert_int_equal(mb2_efi_type_to_e820(0x80000000), MEM_RESERVED);
}

static void test_basic_mem_fallback(void **state)
{
	static const struct mm_entry bad = { 0, 0x1000, 1 };

	(void)state;
	mb_begin();
	mb_basic(639, 31744);
	mb_mmap(16, &bad, 1); /* entries shorter than 24 bytes: tag ignored */
	mb_finish();
	assert_int_equal(parse(), 0);
	assert_int_equal(bi.warnings, BOOT_WARN_MMAP_FALLBACK | BOOT_WARN_BAD_TAG);
	assert_int_equal(bi.mmap_count, 2);
	expect_range(0, 0, KiB(639), MEM_USABLE);
	expect_range(1, MiB(1), MiB(1) + KiB(31744), MEM_USABLE);
}

static void test_no_memory_information(void **state)
{
	(void)state;
	mb_begin();
	mb_string(MB2_TAG_CMDLINE, "x=1");
	mb_finish();
	assert_int_equal(parse(), MB2_ERR_NO_MEM);
	/* What could be read is still there, for the error report. */
	assert_string_equal(bi.cmdline, "x=1");
}

static void test_bad_headers(void **state)
{
	(void)state;
	assert_int_equal(mb2_parse(NULL, &bi), MB2_ERR_NULL);
	assert_int_equal(mb2_parse(words, NULL), MB2_ERR_NULL);
	mb_begin();
	put32(blob, 8); /* no room for even the end tag */
	assert_int_equal(parse(), MB2_ERR_SIZE);
	put32(blob, 0);
	assert_int_equal(parse(), MB2_ERR_SIZE);
	put32(blob, (uint32_t)MB2_MAX_TOTAL_SIZE + 8);
	assert_int_equal(mb2_parse(blob, &bi), MB2_ERR_SIZE);
	/* The structure must be 8-byte aligned (spec 3.6.1). */
	mb_mmap(24, qemu_map, 1);
	mb_finish();
	memmove(blob + 4, blob, blob_len);
	assert_int_equal(mb2_parse(blob + 4, &bi), MB2_ERR_SIZE);
}

static void test_truncated_tag(void **state)
{
	uint8_t *t;

	(void)state;
	mb_begin();
	mb_mmap(24, qemu_map, ARRAY_SIZE(qemu_map));
	t = mb_tag(MB2_TAG_CMDLINE, 64);
	memcpy(t + 8, "never seen", 11);
	mb_finish();
	/* The command-line tag claims to run past total_size: the walk stops before it. */
	put32(t + 4, blob_len);
	assert_int_equal(parse(), 0);
	assert_int_equal(bi.warnings, BOOT_WARN_TRUNCATED);
	assert_string_equal(bi.cmdline, "");
	assert_int_equal(bi.mmap_count, 6);
}

static void test_tag_smaller_than_header(void **state)
{
	uint8_t *t;

	(void)state;
	mb_begin();
	mb_mmap(24, qemu_map, ARRAY_SIZE(qemu_map));
	t = mb_tag(MB2_TAG_CMDLINE, 16);
	mb_string(MB2_TAG_LOADER_NAME, "never seen");
	mb_finish();
	put32(t + 4, 4); /* would make the walk go backwards or loop */
	assert_int_equal(parse(), 0);
	assert_int_equal(bi.warnings, BOOT_WARN_TRUNCATED);
	assert_string_equal(bi.loader_name, "");
}

static void test_missing_end_tag(void **state)
{
	(void)state;
	mb_begin();
	mb_string(MB2_TAG_LOADER_NAME, "no end");
	mb_mmap(24, qemu_map, ARRAY_SIZE(qemu_map));
	put32(blob, blob_len); /* total_size ends right after the last tag */
	assert_int_equal(parse(), 0);
	assert_int_equal(bi.warnings, BOOT_WARN_TRUNCATED);
	assert_string_equal(bi.loader_name, "no end");
	assert_int_equal(bi.mmap_count, 6);
	/* total_size ending 4 bytes into a would-be next tag header. */
	put32(blob, blob_len + 4);
	assert_int_equal(parse(), 0);
	assert_int_equal(bi.warnings, BOOT_WARN_TRUNCATED);
}

static void test_unterminated_and_long_strings(void **state)
{
	static char longline[700];
	uint8_t *t;

	(void)state;
	memset(longline, 'a', sizeof(longline) - 1);
	mb_begin();
	mb_mmap(24, qemu_map, 1);
	mb_string(MB2_TAG_CMDLINE, longline);
	mb_finish();
	assert_int_equal(parse(), 0);
	assert_int_equal(bi.warnings, BOOT_WARN_STRING_CLIPPED);
	assert_int_equal(strlen(bi.cmdline), BOOT_CMDLINE_MAX - 1);

	mb_begin();
	mb_mmap(24, qemu_map, 1);
	t = mb_tag(MB2_TAG_LOADER_NAME, 8 + 5);
	memcpy(t + 8, "GRUBX", 5); /* no terminator inside the tag */
	memset(t + 13, 'Z', 3);    /* padding bytes that must not be read as part of it */
	mb_finish();
	assert_int_equal(parse(), 0);
	assert_int_equal(bi.warnings, BOOT_WARN_STRING_CLIPPED);
	assert_string_equal(bi.loader_name, "GRUBX");

	mb_begin();
	mb_mmap(24, qemu_map, 1);
	mb_string(MB2_TAG_CMDLINE, longline + sizeof(longline) - BOOT_CMDLINE_MAX); /* 511 + NUL: fits */
	mb_finish();
	assert_int_equal(parse(), 0);
	assert_int_equal(bi.warnings, 0);
	assert_int_equal(strlen(bi.cmdline), BOOT_CMDLINE_MAX - 1);
}

static void test_too_many_modules(void **state)
{
	char name[16];

	(void)state;
	mb_begin();
	mb_mmap(24, qemu_map, ARRAY_SIZE(qemu_map));
	for (uint32_t i = 0; i < BOOT_MAX_MODULES + 5; i++) {
		snprintf(name, sizeof(name), "mod%u", i);
		mb_module(0x2000000 + i * 0x1000, 0x2000000 + i * 0x1000 + 0x800, name);
	}
	mb_module(0x3000, 0x2000, "backwards"); /* end before start: ignored */
	mb_tag(MB2_TAG_MODULE, 12);             /* too small for start and end */
	mb_finish();
	assert_int_equal(parse(), 0);
	assert_int_equal(bi.warnings, BOOT_WARN_MODULES_CLIPPED | BOOT_WARN_BAD_TAG);
	assert_int_equal(bi.module_count, BOOT_MAX_MODULES);
	snprintf(name, sizeof(name), "mod%u", BOOT_MAX_MODULES - 1);
	assert_string_equal(bi.modules[BOOT_MAX_MODULES - 1].cmdline, name);
	/* The ones left out are counted and the first named, for the warning. */
	assert_int_equal(bi.modules_dropped, 5);
	snprintf(name, sizeof(name), "mod%u", BOOT_MAX_MODULES);
	assert_string_equal(bi.first_dropped, name);
}

/* Module command lines arrive whole up to BOOT_MOD_CMDLINE_MAX - 1 bytes; a longer one is cut and says so. */
static void test_long_module_cmdlines(void **state)
{
	static char longer[BOOT_MOD_CMDLINE_MAX + 100], whole[1000];

	(void)state;
	memset(longer, 'x', sizeof(longer) - 1);
	memset(whole, 'w', sizeof(whole) - 1);
	mb_begin();
	mb_mmap(24, qemu_map, ARRAY_SIZE(qemu_map));
	mb_module(0x2000000, 0x2000800, whole);
	mb_module(0x2001000, 0x2001800, longer);
	mb_finish();
	assert_int_equal(parse(), 0);
	assert_int_equal(bi.module_count, 2);
	assert_string_equal(bi.modules[0].cmdline, whole);
	assert_int_equal(bi.modules[0].cmdline_len, sizeof(whole) - 1);
	assert_int_equal(strlen(bi.modules[1].cmdline), BOOT_MOD_CMDLINE_MAX - 1);
	assert_int_equal(bi.modules[1].cmdline_len, sizeof(longer) - 1);
	assert_true(bi.warnings & BOOT_WARN_STRING_CLIPPED);
}

static void test_too_many_mmap_entries(void **state)
{
	static struct mm_entry e[300];

	(void)state;
	/* Alternating types so nothing merges: more ranges than boot_info holds. */
	for (uint32_t i = 0; i < ARRAY_SIZE(e); i++)
		e[i] = (struct mm_entry){ (uint64_t)i * 0x10000, 0x10000, i % 2 ? 2 : 1 };
	mb_begin();
	mb_mmap(24, e, ARRAY_SIZE(e));
	mb_finish();
	assert_int_equal(parse(), 0);
	assert_int_equal(bi.warnings, BOOT_WARN_MMAP_CLIPPED);
	assert_int_equal(bi.mmap_count, BOOT_MAX_MMAP);
	assert_true(memmap_is_normal(bi.mmap, bi.mmap_count));
	expect_range(0, 0, 0x10000, MEM_USABLE);
}

static void test_mmap_partial_entry(void **state)
{
	uint8_t *t;

	(void)state;
	mb_begin();
	t = mb_tag(MB2_TAG_MMAP, 16 + 24 + 20);
	put32(t + 8, 24);
	put64(t + 16, 0x100000);
	put64(t + 24, 0x100000);
	put32(t + 32, 1);
	put64(t + 40, 0x900000); /* a second entry cut short: must not be read */
	mb_finish();
	assert_int_equal(parse(), 0);
	assert_int_equal(bi.warnings, BOOT_WARN_BAD_TAG);
	assert_int_equal(bi.mmap_count, 1);
	/* An absurd entry_size larger than the tag itself. */
	put32(t + 8, 0xfffffff8);
	assert_int_equal(parse(), MB2_ERR_NO_MEM);
	assert_int_equal(bi.warnings, BOOT_WARN_BAD_TAG);
}

static void test_rsdp_v1_only(void **state)
{
	uint32_t off;

	(void)state;
	mb_begin();
	mb_mmap(24, qemu_map, 1);
	off = mb_rsdp(false, true, true);
	mb_finish();
	assert_int_equal(parse(), 0);
	assert_int_equal(bi.acpi_rsdp, (uint64_t)(uintptr_t)(parsed_copy + off));
	assert_int_equal(memcmp((const void *)(uintptr_t)bi.acpi_rsdp, "RSD PTR ", 8), 0);
}

static void test_rsdp_bad_checksums(void **state)
{
	uint32_t v1;

	(void)state;
	mb_begin();
	mb_mmap(24, qemu_map, 1);
	mb_rsdp(false, false, true);
	mb_finish();
	assert_int_equal(parse(), 0);
	assert_int_equal(bi.acpi_rsdp, 0);
	assert_int_equal(bi.warnings, BOOT_WARN_RSDP_INVALID);

	/* A v2 whose extended checksum fails loses to a good v1. */
	mb_begin();
	mb_mmap(24, qemu_map, 1);
	mb_rsdp(true, true, false);
	v1 = mb_rsdp(false, true, true);
	mb_finish();
	assert_int_equal(parse(), 0);
	assert_int_equal(bi.acpi_rsdp, (uint64_t)(uintptr_t)(parsed_copy + v1));
	assert_int_equal(bi.warnings, BOOT_WARN_RSDP_INVALID);

	/* A tag too short for the structure it claims to hold. */
	mb_begin();
	mb_mmap(24, qemu_map, 1);
	memcpy(mb_tag(MB2_TAG_ACPI_NEW, 8 + 20) + 8, "RSD PTR ", 8);
	mb_finish();
	assert_int_equal(parse(), 0);
	assert_int_equal(bi.acpi_rsdp, 0);
	assert_int_equal(bi.warnings, BOOT_WARN_RSDP_INVALID);
}

static void test_framebuffer(void **state)
{
	uint8_t *t;

	(void)state;
	mb_begin();
	mb_mmap(24, qemu_map, 1);
	t = mb_tag(MB2_TAG_FRAMEBUFFER, 32);
	put64(t + 8, 0xfd000000);
	put32(t + 16, 4096);
	put32(t + 20, 1024);
	put32(t + 24, 768);
	t[28] = 32;
	t[29] = 1;
	mb_finish();
	assert_int_equal(parse(), 0);
	assert_int_equal(bi.fb.addr, 0xfd000000);
	assert_int_equal(bi.fb.pitch, 4096);
	assert_int_equal(bi.fb.width, 1024);
	assert_int_equal(bi.fb.height, 768);
	assert_int_equal(bi.fb.bpp, 32);
}

/* Random corruption of a valid blob: the parser must never read outside it (ASan) nor loop. */
static void test_mutations_stay_in_bounds(void **state)
{
	static uint64_t orig[4096];
	uint32_t len;
	uint64_t rng = 12345;

	(void)state;
	build_grub_like();
	mb_efi(48, efi_map, ARRAY_SIZE(efi_map));
	mb_finish();
	memcpy(orig, words, sizeof(orig));
	len = blob_len;
	for (int round = 0; round < 20000; round++) {
		memcpy(words, orig, len);
		for (int k = 0; k < 1 + round % 4; k++) {
			rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
			/* Bias towards the 32-bit size fields, where the damage is interesting. */
			uint32_t at = (uint32_t)(rng >> 33) % len;
			uint32_t v = (uint32_t)(rng >> 17);

			if (rng & 1)
				put32(blob + (at & ~3u), v % (len + 64));
			else
				blob[at] = (uint8_t)v;
		}
		if (parse() == 0)
			assert_true(memmap_is_normal(bi.mmap, bi.mmap_count));
		assert_true(bi.mmap_count <= BOOT_MAX_MMAP && bi.module_count <= BOOT_MAX_MODULES);
		assert_true(strnlen(bi.cmdline, sizeof(bi.cmdline)) < sizeof(bi.cmdline));
	}
}

/* ---- boot_info_print ---- */

static const char expected_print[] =
	"hv: boot: source multiboot2, loader \"GRUB 2.06\"\n"
	"hv: boot: cmdline \"loglevel=3 hvmem=16M\"\n"
	"hv: boot: memory map, 6 ranges\n"
	"hv: boot: mem [0x0000000000000000-0x000000000009fbff] usable\n"
	"hv: boot: mem [0x000000000009fc00-0x000000000009ffff] reserved\n"
	"hv: boot: mem [0x00000000000f0000-0x00000000000fffff] reserved\n"
	"hv: boot: mem [0x0000000000100000-0x0000000007fdffff] usable\n"
	"hv: boot: mem [0x0000000007fe0000-0x0000000007ffffff] reserved\n"
	"hv: boot: mem [0x00000000fffc0000-0x00000000ffffffff] reserved\n"
	"hv: boot: usable RAM 130559 KiB\n"
	"hv: boot: 2 modules\n"
	"hv: boot: module 0 [0x1000000-0x1012345) 74565 bytes \"/boot/guest.elf console=ttyS0\"\n"
	"hv: boot: module 1 [0x1013000-0x1013100) 256 bytes \"\"\n"
	"hv: boot: ACPI RSDP at 0x%llx\n";

static void test_print_format(void **state)
{
	char want[sizeof(expected_print) + 64];

	(void)state;
	build_grub_like();
	mb_finish();
	assert_int_equal(parse(), 0);
	fake_console_reset();
	boot_info_print(&bi);
	snprintf(want, sizeof(want), expected_print, (unsigned long long)bi.acpi_rsdp);
	assert_string_equal(fake_console, want);
}

static void test_print_same_for_uefi(void **state)
{
	static struct boot_info uefi;
	static char mb2_out[4096];
	const char *a, *b;

	(void)state;
	build_grub_like();
	mb_finish();
	assert_int_equal(parse(), 0);
	/* The same machine described by a UEFI loader: only the source line may differ. */
	uefi = bi;
	uefi.source = BOOT_SRC_UEFI;
	fake_console_reset();
	boot_info_print(&bi);
	hv_strlcpy(mb2_out, fake_console, sizeof(mb2_out));
	fake_console_reset();
	boot_info_print(&uefi);
	a = strchr(mb2_out, '\n');
	b = strchr(fake_console, '\n');
	assert_non_null(a);
	assert_non_null(b);
	assert_string_equal(a, b);
	assert_non_null(strstr(fake_console, "source UEFI"));
}

static void test_print_warnings_and_fb(void **state)
{
	(void)state;
	memset(&bi, 0, sizeof(bi));
	memset(bi.loader_name, 'x', sizeof(bi.loader_name)); /* unterminated: printing stays inside */
	bi.warnings = BOOT_WARN_MMAP_CLIPPED | BOOT_WARN_RSDP_INVALID;
	bi.fb.addr = 0xfd000000;
	bi.fb.width = 800;
	bi.fb.height = 600;
	bi.fb.bpp = 32;
	bi.fb.pitch = 3200;
	fake_console_reset();
	boot_info_print(&bi);
	assert_non_null(strstr(fake_console, "hv: boot: source unknown"));
	assert_non_null(strstr(fake_console, "hv: boot: ACPI RSDP not found\n"));
	assert_non_null(strstr(fake_console, "hv: boot: framebuffer 0xfd000000 800x600 32 bpp pitch 3200\n"));
	assert_non_null(strstr(fake_console, "hv: boot: warnings 0x21: mmap-clipped rsdp-invalid\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grub_like),
		cmocka_unit_test(test_mmap_larger_entries),
		cmocka_unit_test(test_mmap_unsorted_overlapping),
		cmocka_unit_test(test_efi_mmap_only),
		cmocka_unit_test(test_efi_mmap_loses_to_e820),
		cmocka_unit_test(test_basic_mem_fallback),
		cmocka_unit_test(test_no_memory_information),
		cmocka_unit_test(test_bad_headers),
		cmocka_unit_test(test_truncated_tag),
		cmocka_unit_test(test_tag_smaller_than_header),
		cmocka_unit_test(test_missing_end_tag),
		cmocka_unit_test(test_unterminated_and_long_strings),
		cmocka_unit_test(test_too_many_modules),
		cmocka_unit_test(test_long_module_cmdlines),
		cmocka_unit_test(test_too_many_mmap_entries),
		cmocka_unit_test(test_mmap_partial_entry),
		cmocka_unit_test(test_rsdp_v1_only),
		cmocka_unit_test(test_rsdp_bad_checksums),
		cmocka_unit_test(test_framebuffer),
		cmocka_unit_test(test_mutations_stay_in_bounds),
		cmocka_unit_test(test_print_format),
		cmocka_unit_test(test_print_same_for_uefi),
		cmocka_unit_test(test_print_warnings_and_fb),
	};
	int ret = cmocka_run_group_tests(tests, NULL, NULL);

	free(parsed_copy);
	return ret;
}
