/* Host tests for the UEFI loader's EFI->E820 map conversion (boot/efi/mmap_conv.c) and boot_info dump (bi_dump.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "boot/efi/mmap_conv.h"
#include "boot/efi/bi_dump.h"

/* Firmware descriptors are often larger than the struct (OVMF: 48 bytes): test with that stride. */
#define STRIDE 48
#define MAXD   64

static uint8_t map[MAXD * STRIDE];
static size_t nd;
static struct boot_mem_range out[BOOT_MAX_MMAP];
static uint32_t count;

static void reset(void)
{
	memset(map, 0xee, sizeof(map)); /* junk in the padding must not matter */
	nd = 0;
}

static void desc(uint32_t type, uint64_t base, uint64_t pages)
{
	struct efi_mdesc d = { type, 0, base, 0, pages, 0xf };

	memcpy(map + nd++ * STRIDE, &d, sizeof(d));
}

static enum mmap_err convert(uint32_t cap)
{
	return efi_mmap_to_e820(map, nd * STRIDE, STRIDE, out, cap, &count);
}

static void expect(uint32_t i, uint64_t base, uint64_t len, uint32_t type)
{
	assert_true(i < count);
	assert_int_equal(out[i].base, base);
	assert_int_equal(out[i].len, len);
	assert_int_equal(out[i].type, type);
}

static void test_type_mapping(void **state)
{
	static const uint32_t want[] = {
		[EFI_RESERVED_MEMORY] = MEM_RESERVED,
		[EFI_LOADER_CODE] = MEM_USABLE,
		[EFI_LOADER_DATA] = MEM_USABLE,
		[EFI_BOOT_SERVICES_CODE] = MEM_USABLE,
		[EFI_BOOT_SERVICES_DATA] = MEM_USABLE,
		[EFI_RUNTIME_SERVICES_CODE] = MEM_RESERVED,
		[EFI_RUNTIME_SERVICES_DATA] = MEM_RESERVED,
		[EFI_CONVENTIONAL_MEMORY] = MEM_USABLE,
		[EFI_UNUSABLE_MEMORY] = MEM_BAD,
		[EFI_ACPI_RECLAIM_MEMORY] = MEM_ACPI_RECLAIM,
		[EFI_ACPI_MEMORY_NVS] = MEM_ACPI_NVS,
		[EFI_MEMORY_MAPPED_IO] = MEM_RESERVED,
		[EFI_MEMORY_MAPPED_IO_PORT_SPACE] = MEM_RESERVED,
		[EFI_PAL_CODE] = MEM_RESERVED,
		[EFI_PERSISTENT_MEMORY] = MEM_RESERVED,
		[EFI_UNACCEPTED_MEMORY] = MEM_RESERVED,
	};
	uint32_t t;

	(void)state;
	for (t = 0; t < sizeof(want) / sizeof(want[0]); t++)
		assert_int_equal(efi_type_to_e820(t), want[t]);
	assert_int_equal(efi_type_to_e820(0x70000000), MEM_RESERVED); /* OEM range */
	assert_int_equal(efi_type_to_e820(0x80000000), MEM_RESERVED); /* OS loader range */
}

static void test_sort_and_merge(void **state)
{
	(void)state;
	reset();
	desc(EFI_CONVENTIONAL_MEMORY, 0x100000, 0x100);   /* 1M..2M */
	desc(EFI_LOADER_CODE, 0x200000, 0x600);           /* 2M..8M: the hypervisor */
	desc(EFI_ACPI_MEMORY_NVS, 0x800000, 8);
	desc(EFI_CONVENTIONAL_MEMORY, 0, 0xa0);            /* out of order */
	desc(EFI_BOOT_SERVICES_DATA, 0x808000, 8);
	desc(EFI_RUNTIME_SERVICES_DATA, 0x810000, 0x10);
	desc(EFI_RUNTIME_SERVICES_CODE, 0x820000, 0x10);  /* merges with the runtime data */
	desc(EFI_MEMORY_MAPPED_IO, 0xffc00000, 0x400);
	assert_int_equal(convert(BOOT_MAX_MMAP), MMAP_OK);
	assert_int_equal(count, 6);
	expect(0, 0, 0xa0000, MEM_USABLE);
	expect(1, 0x100000, 0x700000, MEM_USABLE); /* hole at 640K..1M keeps these apart */
	expect(2, 0x800000, 0x8000, MEM_ACPI_NVS);
	expect(3, 0x808000, 0x8000, MEM_USABLE);
	expect(4, 0x810000, 0x20000, MEM_RESERVED);
	expect(5, 0xffc00000, 0x400000, MEM_RESERVED);
}

static void test_empty_and_invalid_descriptors(void **state)
{
	(void)state;
	reset();
	assert_int_equal(convert(BOOT_MAX_MMAP), MMAP_OK);
	assert_int_equal(count, 0);
	desc(EFI_CONVENTIONAL_MEMORY, 0x1000, 0);                    /* empty */
	desc(EFI_CONVENTIONAL_MEMORY, 0xfffffffffffff000ULL, 2);     /* wraps */
	desc(EFI_CONVENTIONAL_MEMORY, 0x2000, 1);
	assert_int_equal(convert(BOOT_MAX_MMAP), MMAP_OK);
	assert_int_equal(count, 1);
	expect(0, 0x2000, 0x1000, MEM_USABLE);
	/* A trailing partial descriptor (map_size not a multiple of desc_size) is ignored. */
	assert_int_equal(efi_mmap_to_e820(map, nd * STRIDE + 20, STRIDE, out, BOOT_MAX_MMAP, &count), MMAP_OK);
	assert_int_equal(count, 1);
}

static void test_desc_size_too_small(void **state)
{
	(void)state;
	reset();
	desc(EFI_CONVENTIONAL_MEMORY, 0, 1);
	assert_int_equal(efi_mmap_to_e820(map, STRIDE, 32, out, BOOT_MAX_MMAP, &count), MMAP_ERR_DESC_SIZE);
	assert_int_equal(count, 0);
}

static void test_exact_struct_stride(void **state)
{
	struct efi_mdesc d[2] = {
		{ EFI_CONVENTIONAL_MEMORY, 0, 0x5000, 0, 1, 0 },
		{ EFI_ACPI_RECLAIM_MEMORY, 0, 0x1000, 0, 1, 0 },
	};

	(void)state;
	assert_int_equal(efi_mmap_to_e820(d, sizeof(d), sizeof(d[0]), out, BOOT_MAX_MMAP, &count), MMAP_OK);
	assert_int_equal(count, 2);
	expect(0, 0x1000, 0x1000, MEM_ACPI_RECLAIM);
	expect(1, 0x5000, 0x1000, MEM_USABLE);
}

static void test_overflow(void **state)
{
	uint32_t i;

	(void)state;
	reset();
	for (i = 0; i < 10; i++)
		desc(i % 2 ? EFI_ACPI_MEMORY_NVS : EFI_CONVENTIONAL_MEMORY, i * 0x1000ULL, 1);
	assert_int_equal(convert(10), MMAP_OK);
	assert_int_equal(count, 10);
	assert_int_equal(convert(9), MMAP_ERR_OVERFLOW);
	assert_int_equal(count, 9);
}

static void test_many_descriptors_merge_into_few(void **state)
{
	uint32_t i;

	(void)state;
	/* More descriptors than the output holds, but they merge: fine (OVMF's map is like this). */
	reset();
	for (i = 0; i < MAXD; i++)
		desc(EFI_BOOT_SERVICES_CODE + i % 2, (MAXD - 1 - i) * 0x1000ULL, 1);
	assert_int_equal(convert(1), MMAP_OK);
	assert_int_equal(count, 1);
	expect(0, 0, MAXD * 0x1000ULL, MEM_USABLE);
}

static void test_overlap_stricter_wins(void **state)
{
	(void)state;
	/* Reserved inside usable (a firmware bug): usable is cut around it. */
	reset();
	desc(EFI_CONVENTIONAL_MEMORY, 0x0, 0x10);
	desc(EFI_RESERVED_MEMORY, 0x4000, 2);
	assert_int_equal(convert(BOOT_MAX_MMAP), MMAP_OK);
	assert_int_equal(count, 3);
	expect(0, 0x0, 0x4000, MEM_USABLE);
	expect(1, 0x4000, 0x2000, MEM_RESERVED);
	expect(2, 0x6000, 0xa000, MEM_USABLE);
	/* Usable starting inside reserved: only the part past it stays usable. */
	reset();
	desc(EFI_RESERVED_MEMORY, 0x0, 4);
	desc(EFI_CONVENTIONAL_MEMORY, 0x2000, 4);
	assert_int_equal(convert(BOOT_MAX_MMAP), MMAP_OK);
	assert_int_equal(count, 2);
	expect(0, 0x0, 0x4000, MEM_RESERVED);
	expect(1, 0x4000, 0x2000, MEM_USABLE);
	/* Same start, same type: merged. Same start, stricter type: takes it all. */
	reset();
	desc(EFI_CONVENTIONAL_MEMORY, 0x0, 4);
	desc(EFI_UNUSABLE_MEMORY, 0x0, 4);
	assert_int_equal(convert(BOOT_MAX_MMAP), MMAP_OK);
	assert_int_equal(count, 1);
	expect(0, 0x0, 0x4000, MEM_BAD);
	reset();
	desc(EFI_CONVENTIONAL_MEMORY, 0x0, 4);
	desc(EFI_LOADER_DATA, 0x1000, 8);
	assert_int_equal(convert(BOOT_MAX_MMAP), MMAP_OK);
	assert_int_equal(count, 1);
	expect(0, 0x0, 0x9000, MEM_USABLE);
}

static void test_input_untouched(void **state)
{
	uint8_t copy[sizeof(map)];

	(void)state;
	reset();
	desc(EFI_CONVENTIONAL_MEMORY, 0x5000, 1);
	desc(EFI_CONVENTIONAL_MEMORY, 0x1000, 1);
	memcpy(copy, map, sizeof(map));
	assert_int_equal(convert(BOOT_MAX_MMAP), MMAP_OK);
	assert_memory_equal(copy, map, sizeof(map));
	assert_string_not_equal(mmap_strerror(MMAP_ERR_OVERFLOW), "unknown error");
	assert_string_not_equal(mmap_strerror(MMAP_ERR_DESC_SIZE), "unknown error");
}

/* ---- bi_dump ---- */

static void test_fmt(void **state)
{
	char b[32];

	(void)state;
	assert_int_equal(fmt_hex(b, 0, 0), 3);
	assert_string_equal(b, "0x0");
	fmt_hex(b, 0xabc, 8);
	assert_string_equal(b, "0x00000abc");
	fmt_hex(b, UINT64_MAX, 4);
	assert_string_equal(b, "0xffffffffffffffff");
	fmt_hex(b, 1, 99);
	assert_string_equal(b, "0x0000000000000001");
	assert_int_equal(fmt_dec(b, 0), 1);
	assert_string_equal(b, "0");
	fmt_dec(b, UINT64_MAX);
	assert_string_equal(b, "18446744073709551615");
}

struct lines {
	char text[64][BI_LINE_MAX];
	int n;
};

static void collect(const char *line, void *ctx)
{
	struct lines *l = ctx;

	assert_true(strlen(line) < BI_LINE_MAX);
	snprintf(l->text[l->n++], BI_LINE_MAX, "%s", line);
}

static void test_dump(void **state)
{
	struct boot_info *bi = calloc(1, sizeof(*bi));
	struct lines *l = calloc(1, sizeof(*l));

	(void)state;
	bi->source = BOOT_SRC_UEFI;
	strcpy(bi->loader_name, "hvboot (GNU-EFI)");
	memset(bi->cmdline, 'x', sizeof(bi->cmdline)); /* unterminated: must stay bounded */
	bi->mmap_count = 2;
	bi->mmap[0] = (struct boot_mem_range){ 0, 0xa0000, MEM_USABLE, 0 };
	bi->mmap[1] = (struct boot_mem_range){ 0xa0000, 0x60000, MEM_RESERVED, 0 };
	bi->module_count = 1;
	bi->modules[0] = (struct boot_module){ .start = 0x1000000, .end = 0x1000800, .cmdline = "test=hello" };
	bi->acpi_rsdp = 0xf77d014;
	bi_dump(bi, collect, l);
	assert_int_equal(l->n, 7);
	assert_string_equal(l->text[0], "hvboot: boot_info source=uefi loader=\"hvboot (GNU-EFI)\"");
	assert_int_equal(strlen(l->text[1]), strlen("hvboot: cmdline=\"\"") + BOOT_CMDLINE_MAX - 1);
	assert_string_equal(l->text[2], "hvboot: mmap 0x0000000000000000-0x000000000009ffff usable");
	assert_string_equal(l->text[3], "hvboot: mmap 0x00000000000a0000-0x00000000000fffff reserved");
	assert_string_equal(l->text[4], "hvboot: mmap ranges=2 usable_kib=640");
	assert_string_equal(l->text[5], "hvboot: module 0 0x01000000-0x01000800 cmdline=\"test=hello\"");
	assert_string_equal(l->text[6], "hvboot: acpi_rsdp=0xf77d014 fb=0x0 0x0 pitch=0 bpp=0");
	free(bi);
	free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_type_mapping),
		cmocka_unit_test(test_sort_and_merge),
		cmocka_unit_test(test_empty_and_invalid_descriptors),
		cmocka_unit_test(test_desc_size_too_small),
		cmocka_unit_test(test_exact_struct_stride),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_many_descriptors_merge_into_few),
		cmocka_unit_test(test_overlap_stricter_wins),
		cmocka_unit_test(test_input_untouched),
		cmocka_unit_test(test_fmt),
		cmocka_unit_test(test_dump),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
