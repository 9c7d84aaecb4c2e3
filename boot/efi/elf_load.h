/* Validation of the hypervisor ELF64 and the plan for loading it; pure C, no EFI headers. */
#ifndef HVBOOT_ELF_LOAD_H
#define HVBOOT_ELF_LOAD_H

#include "hv/types.h"
#include "hv/boot_info.h"

#define ELF_MAX_SEGS   16 /* PT_LOAD segments we accept; the hypervisor has 4 */
#define HV_HDR_SCAN    KiB(32) /* the image header sits in the first 32 KiB (boot_info.h) */

struct elf_seg {
	uint64_t paddr;  /* where the bytes go (identity-mapped: also the address used) */
	uint64_t offset; /* in the file */
	uint64_t filesz;
	uint64_t memsz;  /* > filesz: the rest is .bss, zeroed */
};

/* A run of whole pages to allocate at a fixed address. */
struct page_run {
	uint64_t base;
	uint64_t pages;
};

struct elf_plan {
	uint64_t image_start; /* lowest segment address */
	uint64_t image_end;   /* highest segment end, exclusive */
	uint32_t seg_count;
	struct elf_seg segs[ELF_MAX_SEGS];
	uint32_t run_count;   /* page runs sorted by base, not overlapping nor touching */
	struct page_run runs[ELF_MAX_SEGS];
};

enum elf_err {
	ELF_OK = 0,
	ELF_ERR_TRUNCATED,     /* file shorter than a header or a segment claims */
	ELF_ERR_MAGIC,
	ELF_ERR_CLASS,         /* not ELFCLASS64 */
	ELF_ERR_ENDIAN,        /* not little-endian */
	ELF_ERR_MACHINE,       /* not EM_X86_64 */
	ELF_ERR_TYPE,          /* not ET_EXEC */
	ELF_ERR_PHDR,          /* odd program header size or table outside the file */
	ELF_ERR_NO_LOAD,       /* no PT_LOAD segment */
	ELF_ERR_TOO_MANY_SEGS,
	ELF_ERR_SEG_SIZE,      /* filesz > memsz */
	ELF_ERR_SEG_RANGE,     /* a segment outside [lo, hi) */
	ELF_ERR_SEG_OVERLAP,
	ELF_ERR_SEG_VADDR,     /* vaddr != paddr: the image must be identity-mapped */
};

/* Checks file[size] is an x86-64 ELF64 executable whose PT_LOAD segments fit [lo, hi). */
enum elf_err elf_plan_load(const void *file, size_t size, uint64_t lo, uint64_t hi, struct elf_plan *plan);

/*
 * Copies every segment and zeroes its .bss. dest points at plan->image_start:
 * the real address in the loader (identity mapping), a buffer in the tests.
 */
void elf_apply(const struct elf_plan *plan, const void *file, void *dest);

enum hdr_err {
	HDR_OK = 0,
	HDR_ERR_NOT_FOUND,
	HDR_ERR_ENTRY,   /* entry64 outside the loaded image */
	HDR_ERR_BOUNDS,  /* image_start/image_end disagree with the ELF */
};

/* Finds the 16-byte aligned struct hv_image_header in the loaded image at dest. */
enum hdr_err hv_find_header(const struct elf_plan *plan, const void *dest, struct hv_image_header *out);

const char *elf_strerror(enum elf_err code);
const char *hdr_strerror(enum hdr_err code);

#endif
