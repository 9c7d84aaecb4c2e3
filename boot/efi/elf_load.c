/* Validation of the hypervisor ELF64, its load plan, and the search for its image header. */
#include "boot/efi/elf_load.h"

/* ELF64 file and program headers as the System V gABI (ch. 4 and 5) lays them out. */
struct elf64_ehdr {
	uint8_t  ident[16];
	uint16_t type;
	uint16_t machine;
	uint32_t version;
	uint64_t entry;
	uint64_t phoff;
	uint64_t shoff;
	uint32_t flags;
	uint16_t ehsize;
	uint16_t phentsize;
	uint16_t phnum;
	uint16_t shentsize;
	uint16_t shnum;
	uint16_t shstrndx;
};

struct elf64_phdr {
	uint32_t type;
	uint32_t flags;
	uint64_t offset;
	uint64_t vaddr;
	uint64_t paddr;
	uint64_t filesz;
	uint64_t memsz;
	uint64_t align;
};

#define EI_CLASS     4
#define EI_DATA      5
#define ELFCLASS64   2
#define ELFDATA2LSB  1
#define ET_EXEC      2
#define EM_X86_64    62
#define PT_LOAD      1

static bool has_magic(const uint8_t *p)
{
	return p[0] == 0x7f && p[1] == 'E' && p[2] == 'L' && p[3] == 'F';
}

static enum elf_err check_ident(const struct elf64_ehdr *eh)
{
	if (eh->ident[EI_CLASS] != ELFCLASS64)
		return ELF_ERR_CLASS;
	if (eh->ident[EI_DATA] != ELFDATA2LSB)
		return ELF_ERR_ENDIAN;
	if (eh->machine != EM_X86_64)
		return ELF_ERR_MACHINE;
	if (eh->type != ET_EXEC)
		return ELF_ERR_TYPE;
	return ELF_OK;
}

/* Is [off, off+len) inside a file of size bytes, without overflowing? */
static bool in_file(uint64_t off, uint64_t len, size_t size)
{
	return off <= size && len <= size - off;
}

static enum elf_err check_seg(const struct elf64_phdr *ph, size_t size, uint64_t lo, uint64_t hi)
{
	if (ph->filesz > ph->memsz)
		return ELF_ERR_SEG_SIZE;
	if (!in_file(ph->offset, ph->filesz, size))
		return ELF_ERR_TRUNCATED;
	if (ph->vaddr != ph->paddr)
		return ELF_ERR_SEG_VADDR;
	if (ph->paddr < lo || ph->paddr > hi || ph->memsz > hi - ph->paddr)
		return ELF_ERR_SEG_RANGE;
	return ELF_OK;
}

/* Inserts seg into plan->segs keeping them sorted by address; rejects overlaps. */
static enum elf_err add_seg(struct elf_plan *plan, const struct elf64_phdr *ph)
{
	struct elf_seg s = { ph->paddr, ph->offset, ph->filesz, ph->memsz };
	uint32_t i = plan->seg_count;

	if (plan->seg_count >= ELF_MAX_SEGS)
		return ELF_ERR_TOO_MANY_SEGS;
	while (i > 0 && plan->segs[i - 1].paddr > s.paddr) {
		plan->segs[i] = plan->segs[i - 1];
		i--;
	}
	plan->segs[i] = s;
	plan->seg_count++;
	if (i > 0 && plan->segs[i - 1].paddr + plan->segs[i - 1].memsz > s.paddr)
		return ELF_ERR_SEG_OVERLAP;
	if (i + 1 < plan->seg_count && s.paddr + s.memsz > plan->segs[i + 1].paddr)
		return ELF_ERR_SEG_OVERLAP;
	return ELF_OK;
}

/*
 * Two segments may share a page (a segment need not start page-aligned), so
 * the pages to allocate are the union of each segment's page span: one
 * AllocatePages call per run, each page allocated exactly once.
 */
static void plan_runs(struct elf_plan *plan)
{
	uint32_t i;

	plan->run_count = 0;
	for (i = 0; i < plan->seg_count; i++) {
		const struct elf_seg *s = &plan->segs[i];
		uint64_t base = ALIGN_DOWN(s->paddr, PAGE_SIZE);
		uint64_t end = ALIGN_UP(s->paddr + s->memsz, PAGE_SIZE);
		struct page_run *last = plan->run_count ? &plan->runs[plan->run_count - 1] : NULL;

		if (end == base)
			continue; /* empty segment: nothing to allocate */
		if (last && base <= last->base + last->pages * PAGE_SIZE) {
			uint64_t last_end = last->base + last->pages * PAGE_SIZE;
			last->pages = (MAX(end, last_end) - last->base) / PAGE_SIZE;
			continue;
		}
		plan->runs[plan->run_count++] = (struct page_run){ base, (end - base) / PAGE_SIZE };
	}
}

static enum elf_err collect_segs(const uint8_t *file, size_t size, const struct elf64_ehdr *eh,
				 uint64_t lo, uint64_t hi, struct elf_plan *plan)
{
	uint32_t i;
	enum elf_err e;

	if (eh->phentsize != sizeof(struct elf64_phdr) ||
	    !in_file(eh->phoff, (uint64_t)eh->phnum * sizeof(struct elf64_phdr), size))
		return ELF_ERR_PHDR;
	for (i = 0; i < eh->phnum; i++) {
		struct elf64_phdr ph;

		__builtin_memcpy(&ph, file + eh->phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.type != PT_LOAD)
			continue;
		e = check_seg(&ph, size, lo, hi);
		if (e == ELF_OK)
			e = add_seg(plan, &ph);
		if (e != ELF_OK)
			return e;
	}
	return plan->seg_count ? ELF_OK : ELF_ERR_NO_LOAD;
}

enum elf_err elf_plan_load(const void *file, size_t size, uint64_t lo, uint64_t hi, struct elf_plan *plan)
{
	struct elf64_ehdr eh;
	const struct elf_seg *last;
	enum elf_err e;

	__builtin_memset(plan, 0, sizeof(*plan));
	/* The magic first: a short text file is "not an ELF", not "a truncated ELF". */
	if (size < 4 || !has_magic(file))
		return ELF_ERR_MAGIC;
	if (size < sizeof(eh))
		return ELF_ERR_TRUNCATED;
	__builtin_memcpy(&eh, file, sizeof(eh)); /* the buffer need not be aligned */
	e = check_ident(&eh);
	if (e == ELF_OK)
		e = collect_segs(file, size, &eh, lo, hi, plan);
	if (e != ELF_OK)
		return e;
	last = &plan->segs[plan->seg_count - 1];
	plan->image_start = plan->segs[0].paddr;
	plan->image_end = last->paddr + last->memsz;
	plan_runs(plan);
	return ELF_OK;
}

void elf_apply(const struct elf_plan *plan, const void *file, void *dest)
{
	uint32_t i;

	for (i = 0; i < plan->seg_count; i++) {
		const struct elf_seg *s = &plan->segs[i];
		uint8_t *to = (uint8_t *)dest + (s->paddr - plan->image_start);

		__builtin_memcpy(to, (const uint8_t *)file + s->offset, s->filesz);
		__builtin_memset(to + s->filesz, 0, s->memsz - s->filesz);
	}
}

/* Is [a, a+len) inside one loaded segment? Gaps between segments hold no bytes of ours. */
static bool in_segments(const struct elf_plan *plan, uint64_t a, uint64_t len)
{
	uint32_t i;

	for (i = 0; i < plan->seg_count; i++) {
		const struct elf_seg *s = &plan->segs[i];

		if (a >= s->paddr && a - s->paddr <= s->memsz && len <= s->memsz - (a - s->paddr))
			return true;
	}
	return false;
}

static enum hdr_err check_header(const struct elf_plan *plan, const struct hv_image_header *h)
{
	if (!in_segments(plan, h->entry64, 1))
		return HDR_ERR_ENTRY;
	if (h->image_start != plan->image_start || h->image_end <= h->image_start ||
	    h->image_end > ALIGN_UP(plan->image_end, PAGE_SIZE))
		return HDR_ERR_BOUNDS;
	return HDR_OK;
}

enum hdr_err hv_find_header(const struct elf_plan *plan, const void *dest, struct hv_image_header *out)
{
	uint64_t off, limit = MIN(HV_HDR_SCAN, plan->image_end - plan->image_start);
	const uint64_t first = ALIGN_UP(plan->image_start, 16) - plan->image_start;

	for (off = first; off + sizeof(*out) <= limit; off += 16) {
		uint64_t magic;

		if (!in_segments(plan, plan->image_start + off, sizeof(*out)))
			continue; /* a gap between segments: never copied, never ours */
		__builtin_memcpy(&magic, (const uint8_t *)dest + off, sizeof(magic));
		if (magic != HV_IMAGE_MAGIC)
			continue;
		__builtin_memcpy(out, (const uint8_t *)dest + off, sizeof(*out));
		return check_header(plan, out);
	}
	return HDR_ERR_NOT_FOUND;
}

const char *elf_strerror(enum elf_err code)
{
	switch (code) {
	case ELF_OK:                return "no error";
	case ELF_ERR_TRUNCATED:     return "file truncated";
	case ELF_ERR_MAGIC:         return "not an ELF file (bad magic)";
	case ELF_ERR_CLASS:         return "not a 64-bit ELF";
	case ELF_ERR_ENDIAN:        return "not a little-endian ELF";
	case ELF_ERR_MACHINE:       return "not an x86-64 ELF";
	case ELF_ERR_TYPE:          return "not an executable ELF (ET_EXEC)";
	case ELF_ERR_PHDR:          return "bad program header table";
	case ELF_ERR_NO_LOAD:       return "no PT_LOAD segment";
	case ELF_ERR_TOO_MANY_SEGS: return "too many PT_LOAD segments";
	case ELF_ERR_SEG_SIZE:      return "segment file size exceeds its memory size";
	case ELF_ERR_SEG_RANGE:     return "segment outside the hypervisor window [0x200000, 0x800000)";
	case ELF_ERR_SEG_OVERLAP:   return "overlapping PT_LOAD segments";
	case ELF_ERR_SEG_VADDR:     return "segment virtual address differs from its physical address";
	}
	return "unknown error";
}

const char *hdr_strerror(enum hdr_err code)
{
	switch (code) {
	case HDR_OK:            return "no error";
	case HDR_ERR_NOT_FOUND: return "no hv_image_header (magic !HVIMAG1) in the first 32 KiB";
	case HDR_ERR_ENTRY:     return "hv_image_header entry64 outside the loaded image";
	case HDR_ERR_BOUNDS:    return "hv_image_header image_start/image_end disagree with the ELF";
	}
	return "unknown error";
}
