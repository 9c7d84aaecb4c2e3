/* Host tests for the UEFI loader's ELF64 validation, load plan and image-header search (boot/efi/elf_load.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <elf.h>
#include <cmocka.h>
#include "boot/efi/elf_load.h"

#define LO 0x200000ULL
#define HI 0x800000ULL
#define FILE_SIZE 0x10000

/* A synthetic ELF built in memory: header, program headers at 64, segment bytes from 0x1000. */
static uint8_t file[FILE_SIZE];
static struct elf_plan plan;

static Elf64_Ehdr *ehdr(void)
{
	return (Elf64_Ehdr *)file;
}

static Elf64_Phdr *phdr(int i)
{
	return (Elf64_Phdr *)(file + sizeof(Elf64_Ehdr)) + i;
}

static void make_elf(void)
{
	Elf64_Ehdr *e = ehdr();

	memset(file, 0, sizeof(file));
	memcpy(e->e_ident, ELFMAG, SELFMAG);
	e->e_ident[EI_CLASS] = ELFCLASS64;
	e->e_ident[EI_DATA] = ELFDATA2LSB;
	e->e_ident[EI_VERSION] = EV_CURRENT;
	e->e_type = ET_EXEC;
	e->e_machine = EM_X86_64;
	e->e_version = EV_CURRENT;
	e->e_phoff = sizeof(Elf64_Ehdr);
	e->e_phentsize = sizeof(Elf64_Phdr);
	e->e_ehsize = sizeof(Elf64_Ehdr);
}

static void add_seg(uint32_t type, uint64_t paddr, uint64_t off, uint64_t filesz, uint64_t memsz)
{
	Elf64_Phdr *p = phdr(ehdr()->e_phnum++);

	p->p_type = type;
	p->p_offset = off;
	p->p_vaddr = paddr;
	p->p_paddr = paddr;
	p->p_filesz = filesz;
	p->p_memsz = memsz;
	p->p_align = 0x1000;
}

/* The hypervisor's shape: text at 2 MiB, rodata sharing text's last page, data+bss. */
static void make_hv_like(void)
{
	make_elf();
	add_seg(PT_LOAD, LO, 0x1000, 0x1800, 0x1800);
	add_seg(PT_LOAD, LO + 0x1800, 0x2800, 0x100, 0x100);
	add_seg(PT_LOAD, LO + 0x4000, 0x3000, 0x200, 0x3000);
	add_seg(PT_GNU_STACK, 0, 0, 0, 0);
	memset(file + 0x1000, 0xaa, 0x1800);
	memset(file + 0x2800, 0xbb, 0x100);
	memset(file + 0x3000, 0xcc, 0x200);
}

static enum elf_err plan_it(void)
{
	return elf_plan_load(file, sizeof(file), LO, HI, &plan);
}

static void test_valid_plan(void **state)
{
	(void)state;
	make_hv_like();
	assert_int_equal(plan_it(), ELF_OK);
	assert_int_equal(plan.seg_count, 3);
	assert_int_equal(plan.image_start, LO);
	assert_int_equal(plan.image_end, LO + 0x7000);
	/* Text and rodata share the page at LO+0x1000: one run of 2 pages, then data+bss. */
	assert_int_equal(plan.run_count, 2);
	assert_int_equal(plan.runs[0].base, LO);
	assert_int_equal(plan.runs[0].pages, 2);
	assert_int_equal(plan.runs[1].base, LO + 0x4000);
	assert_int_equal(plan.runs[1].pages, 3);
}

static void test_apply_copies_and_zeroes_bss(void **state)
{
	uint8_t *img;

	(void)state;
	make_hv_like();
	assert_int_equal(plan_it(), ELF_OK);
	img = malloc(plan.image_end - plan.image_start);
	memset(img, 0x55, plan.image_end - plan.image_start);
	elf_apply(&plan, file, img);
	assert_int_equal(img[0], 0xaa);
	assert_int_equal(img[0x17ff], 0xaa);
	assert_int_equal(img[0x1800], 0xbb);
	assert_int_equal(img[0x18ff], 0xbb);
	assert_int_equal(img[0x1900], 0x55); /* the gap is not ours: untouched */
	assert_int_equal(img[0x4000], 0xcc);
	assert_int_equal(img[0x41ff], 0xcc);
	assert_int_equal(img[0x4200], 0);    /* .bss */
	assert_int_equal(img[0x6fff], 0);
	free(img);
}

static void test_unsorted_segments_are_sorted(void **state)
{
	(void)state;
	make_elf();
	add_seg(PT_LOAD, LO + 0x10000, 0x2000, 0x10, 0x10);
	add_seg(PT_LOAD, LO, 0x1000, 0x10, 0x10);
	assert_int_equal(plan_it(), ELF_OK);
	assert_int_equal(plan.segs[0].paddr, LO);
	assert_int_equal(plan.runs[0].base, LO);
	assert_int_equal(plan.runs[1].base, LO + 0x10000);
	assert_int_equal(plan.image_end, LO + 0x10010);
}

static void test_bad_headers(void **state)
{
	(void)state;
	make_hv_like();
	file[0] = 0;
	assert_int_equal(plan_it(), ELF_ERR_MAGIC);
	make_hv_like();
	file[EI_CLASS] = ELFCLASS32;
	assert_int_equal(plan_it(), ELF_ERR_CLASS);
	make_hv_like();
	file[EI_DATA] = ELFDATA2MSB;
	assert_int_equal(plan_it(), ELF_ERR_ENDIAN);
	make_hv_like();
	ehdr()->e_machine = EM_386;
	assert_int_equal(plan_it(), ELF_ERR_MACHINE);
	make_hv_like();
	ehdr()->e_type = ET_DYN;
	assert_int_equal(plan_it(), ELF_ERR_TYPE);
	make_hv_like();
	assert_int_equal(elf_plan_load(file, sizeof(Elf64_Ehdr) - 1, LO, HI, &plan), ELF_ERR_TRUNCATED);
	assert_int_equal(elf_plan_load(file, 3, LO, HI, &plan), ELF_ERR_MAGIC);
	assert_int_equal(elf_plan_load("not an elf file\n", 16, LO, HI, &plan), ELF_ERR_MAGIC);
	make_hv_like();
	ehdr()->e_phentsize = 48;
	assert_int_equal(plan_it(), ELF_ERR_PHDR);
	make_hv_like();
	ehdr()->e_phoff = FILE_SIZE - 8;
	assert_int_equal(plan_it(), ELF_ERR_PHDR);
	make_hv_like();
	ehdr()->e_phoff = UINT64_MAX - 8; /* offset + size would wrap */
	assert_int_equal(plan_it(), ELF_ERR_PHDR);
}

static void test_no_load(void **state)
{
	(void)state;
	make_elf();
	add_seg(PT_NOTE, LO, 0x1000, 0x10, 0x10);
	assert_int_equal(plan_it(), ELF_ERR_NO_LOAD);
}

static void test_segment_range(void **state)
{
	(void)state;
	make_elf();
	add_seg(PT_LOAD, LO - 0x1000, 0x1000, 0x10, 0x10);
	assert_int_equal(plan_it(), ELF_ERR_SEG_RANGE);
	make_elf();
	add_seg(PT_LOAD, HI - 0x1000, 0x1000, 0x10, 0x1001); /* ends one byte past 8 MiB */
	assert_int_equal(plan_it(), ELF_ERR_SEG_RANGE);
	make_elf();
	add_seg(PT_LOAD, HI - 0x1000, 0x1000, 0x10, 0x1000); /* ends exactly at 8 MiB */
	assert_int_equal(plan_it(), ELF_OK);
	make_elf();
	add_seg(PT_LOAD, LO, 0x1000, 0x10, UINT64_MAX); /* would wrap */
	assert_int_equal(plan_it(), ELF_ERR_SEG_RANGE);
}

static void test_segment_sizes(void **state)
{
	(void)state;
	make_elf();
	add_seg(PT_LOAD, LO, 0x1000, 0x20, 0x10);
	assert_int_equal(plan_it(), ELF_ERR_SEG_SIZE);
	make_elf();
	add_seg(PT_LOAD, LO, FILE_SIZE - 0x10, 0x20, 0x20); /* bytes beyond the end of the file */
	assert_int_equal(plan_it(), ELF_ERR_TRUNCATED);
	make_elf();
	add_seg(PT_LOAD, LO, UINT64_MAX, 0x20, 0x20);
	assert_int_equal(plan_it(), ELF_ERR_TRUNCATED);
}

static void test_overlap_and_vaddr(void **state)
{
	(void)state;
	make_elf();
	add_seg(PT_LOAD, LO, 0x1000, 0x100, 0x100);
	add_seg(PT_LOAD, LO + 0xff, 0x2000, 0x10, 0x10);
	assert_int_equal(plan_it(), ELF_ERR_SEG_OVERLAP);
	make_elf();
	add_seg(PT_LOAD, LO + 0xff, 0x2000, 0x10, 0x10);
	add_seg(PT_LOAD, LO, 0x1000, 0x100, 0x100); /* inserted before: overlaps its successor */
	assert_int_equal(plan_it(), ELF_ERR_SEG_OVERLAP);
	make_elf();
	add_seg(PT_LOAD, LO, 0x1000, 0x100, 0x100);
	phdr(0)->p_vaddr = 0xffffffff80000000ULL + LO;
	assert_int_equal(plan_it(), ELF_ERR_SEG_VADDR);
}

static void test_too_many_segments(void **state)
{
	int i;

	(void)state;
	make_elf();
	for (i = 0; i <= ELF_MAX_SEGS; i++)
		add_seg(PT_LOAD, LO + (uint64_t)i * 0x2000, 0x1000, 0x10, 0x10);
	assert_int_equal(plan_it(), ELF_ERR_TOO_MANY_SEGS);
}

static void test_empty_segment_allocates_nothing(void **state)
{
	(void)state;
	make_elf();
	add_seg(PT_LOAD, LO, 0x1000, 0x10, 0x10);
	add_seg(PT_LOAD, LO + 0x3000, 0, 0, 0); /* what ld emits for an empty .bss */
	assert_int_equal(plan_it(), ELF_OK);
	assert_int_equal(plan.run_count, 1);
	assert_int_equal(plan.runs[0].pages, 1);
}

/* ---- the image header ---- */

static uint8_t *loaded(void)
{
	uint8_t *img = calloc(1, plan.image_end - plan.image_start);

	elf_apply(&plan, file, img);
	return img;
}

/* Puts a header at file offset 0x1000 + off, i.e. at image offset off in the first segment. */
static void put_header(uint64_t off, uint64_t entry, uint64_t start, uint64_t end)
{
	struct hv_image_header h = { HV_IMAGE_MAGIC, entry, start, end };

	memcpy(file + 0x1000 + off, &h, sizeof(h));
}

static void big_text(void)
{
	make_elf();
	add_seg(PT_LOAD, LO, 0x1000, 0x9000, 0x9000);
	add_seg(PT_LOAD, LO + 0xa000, 0xa000, 0x100, 0x1000);
}

static void test_header_found(void **state)
{
	struct hv_image_header h;
	uint8_t *img;

	(void)state;
	big_text();
	put_header(0x30, LO + 0x60, LO, LO + 0xb000);
	assert_int_equal(plan_it(), ELF_OK);
	img = loaded();
	assert_int_equal(hv_find_header(&plan, img, &h), HDR_OK);
	assert_int_equal(h.entry64, LO + 0x60);
	assert_int_equal(h.image_end, LO + 0xb000);
	free(img);
}

static void test_header_not_found(void **state)
{
	struct hv_image_header h;
	uint8_t *img;

	(void)state;
	big_text();
	put_header(0x38, LO + 0x60, LO, LO + 0xb000); /* 8-aligned only */
	assert_int_equal(plan_it(), ELF_OK);
	img = loaded();
	assert_int_equal(hv_find_header(&plan, img, &h), HDR_ERR_NOT_FOUND);
	free(img);
	big_text();
	put_header(0x8000, LO + 0x60, LO, LO + 0xb000); /* beyond the first 32 KiB */
	assert_int_equal(plan_it(), ELF_OK);
	img = loaded();
	assert_int_equal(hv_find_header(&plan, img, &h), HDR_ERR_NOT_FOUND);
	free(img);
	big_text();
	put_header(0x7fe0, LO + 0x60, LO, LO + 0xb000); /* the last slot wholly inside 32 KiB */
	assert_int_equal(plan_it(), ELF_OK);
	img = loaded();
	assert_int_equal(hv_find_header(&plan, img, &h), HDR_OK);
	free(img);
	big_text();
	put_header(0x7ff0, LO + 0x60, LO, LO + 0xb000); /* starts inside, ends past 32 KiB */
	assert_int_equal(plan_it(), ELF_OK);
	img = loaded();
	assert_int_equal(hv_find_header(&plan, img, &h), HDR_ERR_NOT_FOUND);
	free(img);
}

static void test_header_in_gap_ignored(void **state)
{
	struct hv_image_header h = { HV_IMAGE_MAGIC, LO, LO, LO + 0x3000 };
	uint8_t *img;

	(void)state;
	make_elf();
	add_seg(PT_LOAD, LO, 0x1000, 0x100, 0x100);
	add_seg(PT_LOAD, LO + 0x2000, 0x2000, 0x100, 0x1000);
	assert_int_equal(plan_it(), ELF_OK);
	img = calloc(1, plan.image_end - plan.image_start);
	memcpy(img + 0x1000, &h, sizeof(h)); /* stale bytes in a gap the loader never wrote */
	elf_apply(&plan, file, img);
	assert_int_equal(hv_find_header(&plan, img, &h), HDR_ERR_NOT_FOUND);
	free(img);
}

static void test_header_bad_fields(void **state)
{
	struct hv_image_header h;
	uint8_t *img;

	(void)state;
	big_text();
	put_header(0x30, LO + 0x9800, LO, LO + 0xb000); /* entry in the gap after text */
	assert_int_equal(plan_it(), ELF_OK);
	img = loaded();
	assert_int_equal(hv_find_header(&plan, img, &h), HDR_ERR_ENTRY);
	free(img);
	big_text();
	put_header(0x30, LO + 0x60, LO + 0x1000, LO + 0xb000);
	assert_int_equal(plan_it(), ELF_OK);
	img = loaded();
	assert_int_equal(hv_find_header(&plan, img, &h), HDR_ERR_BOUNDS);
	free(img);
	big_text();
	put_header(0x30, LO + 0x60, LO, LO + 0xc000); /* claims more than was loaded */
	assert_int_equal(plan_it(), ELF_OK);
	img = loaded();
	assert_int_equal(hv_find_header(&plan, img, &h), HDR_ERR_BOUNDS);
	free(img);
}

static void test_strerror(void **state)
{
	int c;

	(void)state;
	for (c = ELF_OK; c <= ELF_ERR_SEG_VADDR; c++)
		assert_string_not_equal(elf_strerror((enum elf_err)c), "unknown error");
	for (c = HDR_OK; c <= HDR_ERR_BOUNDS; c++)
		assert_string_not_equal(hdr_strerror((enum hdr_err)c), "unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_plan),
		cmocka_unit_test(test_apply_copies_and_zeroes_bss),
		cmocka_unit_test(test_unsorted_segments_are_sorted),
		cmocka_unit_test(test_bad_headers),
		cmocka_unit_test(test_no_load),
		cmocka_unit_test(test_segment_range),
		cmocka_unit_test(test_segment_sizes),
		cmocka_unit_test(test_overlap_and_vaddr),
		cmocka_unit_test(test_too_many_segments),
		cmocka_unit_test(test_empty_segment_allocates_nothing),
		cmocka_unit_test(test_header_found),
		cmocka_unit_test(test_header_not_found),
		cmocka_unit_test(test_header_in_gap_ignored),
		cmocka_unit_test(test_header_bad_fields),
		cmocka_unit_test(test_strerror),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
