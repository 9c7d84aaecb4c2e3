/* Multiboot2 boot information parser: GRUB's tag list into struct boot_info, defensively. */
#include "boot/multiboot2.h"
#include "hv/memmap.h"
#include "hv/string.h"

/*
 * Layout (Multiboot2 spec 3.6.1): u32 total_size (including the end tag),
 * u32 reserved, then tags, each starting on an 8-byte boundary with u32 type
 * and u32 size (header included, padding excluded), ended by a type-0 tag
 * of size 8. All fields are read with memcpy so that nothing here depends
 * on the loader having aligned what it should have.
 */
#define MB2_HDR_SIZE 8
#define MB2_TAG_HDR  8

/* What the tag walk remembers until every tag has been seen. */
struct mb2_state {
	bool have_mmap;          /* tag 6 wins over tag 17 and tag 4 */
	const uint8_t *efi_mmap; /* tag 17, used only without tag 6 */
	uint32_t efi_mmap_size;
	bool have_basic;
	uint32_t mem_lower, mem_upper; /* KiB, tag 4 */
	uint64_t rsdp_old, rsdp_new;   /* address of a valid copy, 0 if none */
};

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void warn(struct boot_info *bi, uint32_t what)
{
	bi->warnings |= what;
}

/* Copies a string that should end inside [src, src+max), clipping to the destination. */
static void copy_string(struct boot_info *bi, char *dst, size_t dst_size,
			const uint8_t *src, size_t max)
{
	size_t n = strnlen((const char *)src, max);

	if (n == max || n >= dst_size)
		warn(bi, BOOT_WARN_STRING_CLIPPED);
	n = MIN(n, dst_size - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Adds one firmware range; a range running past 2^64 is clipped, not dropped. */
static void add_range(struct boot_info *bi, uint64_t base, uint64_t len, uint32_t type)
{
	int err;

	if (!len)
		return;
	len = MIN(len, UINT64_MAX - base);
	if (!len)
		return;
	err = memranges_add(bi->mmap, &bi->mmap_count, BOOT_MAX_MMAP, base, len, type);
	if (err == MEMMAP_ENOSPC)
		warn(bi, BOOT_WARN_MMAP_CLIPPED);
}

/* Tag 3 (spec 3.6.6): u32 mod_start, u32 mod_end (exclusive), then the module's string. */
static void parse_module(struct boot_info *bi, const uint8_t *t, uint32_t size)
{
	struct boot_module *m;
	uint32_t start, end;

	if (size < MB2_TAG_HDR + 8) {
		warn(bi, BOOT_WARN_BAD_TAG);
		return;
	}
	start = rd32(t + 8);
	end = rd32(t + 12);
	if (end < start) {
		warn(bi, BOOT_WARN_BAD_TAG);
		return;
	}
	if (bi->module_count >= BOOT_MAX_MODULES) {
		warn(bi, BOOT_WARN_MODULES_CLIPPED);
		if (!bi->modules_dropped++) {
			size_t n = strnlen((const char *)t + 16, MIN(size - 16, sizeof(bi->first_dropped) - 1));

			memcpy(bi->first_dropped, t + 16, n);
			bi->first_dropped[n] = '\0';
		}
		return;
	}
	m = &bi->modules[bi->module_count++];
	m->start = start;
	m->end = end;
	m->cmdline_len = (uint32_t)strnlen((const char *)t + 16, size - 16);
	copy_string(bi, m->cmdline, sizeof(m->cmdline), t + 16, size - 16);
}

/* Tag 4 (spec 3.6.8): KiB of lower memory from 0 and of upper memory from 1 MiB. */
static void parse_basic_mem(struct boot_info *bi, struct mb2_state *st,
			    const uint8_t *t, uint32_t size)
{
	if (size < MB2_TAG_HDR + 8) {
		warn(bi, BOOT_WARN_BAD_TAG);
		return;
	}
	st->have_basic = true;
	st->mem_lower = rd32(t + 8);
	st->mem_upper = rd32(t + 12);
}

/*
 * Tag 6 (spec 3.6.8): u32 entry_size, u32 entry_version, then entries of
 * entry_size bytes (the stride: later versions may grow them) that start
 * with u64 base_addr, u64 length, u32 type. Types share the E820 numbering.
 */
static void parse_mmap(struct boot_info *bi, struct mb2_state *st,
		       const uint8_t *t, uint32_t size)
{
	uint32_t esize, off;

	if (size < MB2_TAG_HDR + 8 || rd32(t + 8) < 24) {
		warn(bi, BOOT_WARN_BAD_TAG);
		return;
	}
	esize = rd32(t + 8);
	st->have_mmap = true;
	for (off = 16; size - off >= esize; off += esize) {
		const uint8_t *e = t + off;

		add_range(bi, rd64(e), rd64(e + 8), memmap_canon_type(rd32(e + 16)));
	}
	if (off != size)
		warn(bi, BOOT_WARN_BAD_TAG); /* a partial entry at the end: ignored */
}

/* Tag 8 (spec 3.6.12): u64 addr, u32 pitch, u32 width, u32 height, u8 bpp, u8 type. */
static void parse_framebuffer(struct boot_info *bi, const uint8_t *t, uint32_t size)
{
	if (size < MB2_TAG_HDR + 22) {
		warn(bi, BOOT_WARN_BAD_TAG);
		return;
	}
	bi->fb.addr = rd64(t + 8);
	bi->fb.pitch = rd32(t + 16);
	bi->fb.width = rd32(t + 20);
	bi->fb.height = rd32(t + 24);
	bi->fb.bpp = t[28];
}

static bool bytes_sum_to_zero(const uint8_t *p, size_t n)
{
	uint8_t sum = 0;

	while (n--)
		sum = (uint8_t)(sum + *p++);
	return sum == 0;
}

/*
 * An RSDP (ACPI 6.5, 5.2.5.3): "RSD PTR " signature, a checksum over the
 * first 20 bytes (ACPI 1.0 part) and, from revision 2 on, a length and an
 * extended checksum over all of it. avail bounds what the tag holds.
 */
static bool rsdp_valid(const uint8_t *r, uint32_t avail, bool v2)
{
	uint32_t len;

	if (avail < 20 || memcmp(r, "RSD PTR ", 8) != 0 || !bytes_sum_to_zero(r, 20))
		return false;
	if (!v2)
		return true;
	if (avail < 36 || r[15] < 2)
		return false;
	len = rd32(r + 20);
	return len >= 36 && len <= avail && bytes_sum_to_zero(r, len);
}

/*
 * Tags 14 and 15 (spec 3.6.13/3.6.14) hold a copy of the RSDP, not its
 * address; the hypervisor is identity-mapped, so the copy's own address is
 * a physical address a guest can be pointed at.
 */
static void parse_rsdp(struct boot_info *bi, struct mb2_state *st,
		       const uint8_t *t, uint32_t size, bool v2)
{
	const uint8_t *r = t + MB2_TAG_HDR;

	if (!rsdp_valid(r, size - MB2_TAG_HDR, v2)) {
		warn(bi, BOOT_WARN_RSDP_INVALID);
		return;
	}
	if (v2)
		st->rsdp_new = (uint64_t)(uintptr_t)r;
	else
		st->rsdp_old = (uint64_t)(uintptr_t)r;
}

static void parse_tag(struct boot_info *bi, struct mb2_state *st,
		      const uint8_t *t, uint32_t type, uint32_t size)
{
	switch (type) {
	case MB2_TAG_CMDLINE:
		copy_string(bi, bi->cmdline, sizeof(bi->cmdline), t + 8, size - 8);
		break;
	case MB2_TAG_LOADER_NAME:
		copy_string(bi, bi->loader_name, sizeof(bi->loader_name), t + 8, size - 8);
		break;
	case MB2_TAG_MODULE:
		parse_module(bi, t, size);
		break;
	case MB2_TAG_BASIC_MEM:
		parse_basic_mem(bi, st, t, size);
		break;
	case MB2_TAG_MMAP:
		parse_mmap(bi, st, t, size);
		break;
	case MB2_TAG_FRAMEBUFFER:
		parse_framebuffer(bi, t, size);
		break;
	case MB2_TAG_ACPI_OLD:
	case MB2_TAG_ACPI_NEW:
		parse_rsdp(bi, st, t, size, type == MB2_TAG_ACPI_NEW);
		break;
	case MB2_TAG_EFI_MMAP:
		st->efi_mmap = t;
		st->efi_mmap_size = size;
		break;
	default:
		break; /* spec 3.6: unknown tags must be ignored */
	}
}

uint32_t mb2_efi_type_to_e820(uint32_t efi_type)
{
	/* UEFI 2.10 7.2 types; ACPI 6.5 table 15.6 maps them to address range types. */
	switch (efi_type) {
	case 1:  /* EfiLoaderCode */
	case 2:  /* EfiLoaderData */
	case 3:  /* EfiBootServicesCode: free once boot services have exited */
	case 4:  /* EfiBootServicesData */
	case 7:  /* EfiConventionalMemory */
		return MEM_USABLE;
	case 8:  /* EfiUnusableMemory */
		return MEM_BAD;
	case 9:  /* EfiACPIReclaimMemory */
		return MEM_ACPI_RECLAIM;
	case 10: /* EfiACPIMemoryNVS */
		return MEM_ACPI_NVS;
	default: /* reserved, runtime services, MMIO, PAL code, persistent, unaccepted */
		return MEM_RESERVED;
	}
}

#define EFI_MEMORY_SP BIT(18) /* UEFI 2.8+: specific-purpose memory, not general RAM */
#define EFI_DESC_MIN  40      /* u32 Type, pad, u64 PhysicalStart, VirtualStart, NumberOfPages, Attribute */

/* Tag 17 (spec 3.6.15): u32 descriptor_size, u32 descriptor_version, then the UEFI map. */
static void parse_efi_mmap(struct boot_info *bi, const uint8_t *t, uint32_t size)
{
	uint32_t dsize, off;

	if (size < MB2_TAG_HDR + 8 || rd32(t + 8) < EFI_DESC_MIN) {
		warn(bi, BOOT_WARN_BAD_TAG);
		return;
	}
	dsize = rd32(t + 8);
	for (off = 16; size - off >= dsize; off += dsize) {
		const uint8_t *d = t + off;
		uint64_t base = rd64(d + 8);
		uint64_t pages = rd64(d + 24);
		uint32_t type = mb2_efi_type_to_e820(rd32(d));

		if (rd64(d + 32) & EFI_MEMORY_SP)
			type = MEM_RESERVED;
		pages = MIN(pages, (UINT64_MAX - base) >> PAGE_SHIFT);
		add_range(bi, base, pages << PAGE_SHIFT, type);
	}
	if (off != size)
		warn(bi, BOOT_WARN_BAD_TAG);
}

/* Only tag 4: what the spec promises is low memory from 0 and upper memory from 1 MiB. */
static void basic_mem_fallback(struct boot_info *bi, const struct mb2_state *st)
{
	add_range(bi, 0, KiB(MIN(st->mem_lower, 640u)), MEM_USABLE);
	add_range(bi, MiB(1), KiB((uint64_t)st->mem_upper), MEM_USABLE);
	warn(bi, BOOT_WARN_MMAP_FALLBACK);
}

/* Walks the tags; returns false if it had to stop before an end tag. */
static bool walk_tags(const uint8_t *mbi, uint32_t total, struct boot_info *bi,
		      struct mb2_state *st)
{
	uint32_t off = MB2_HDR_SIZE;

	while (total - off >= MB2_TAG_HDR) {
		uint32_t type = rd32(mbi + off);
		uint32_t size = rd32(mbi + off + 4);

		if (size < MB2_TAG_HDR || size > total - off)
			return false;
		if (type == MB2_TAG_END)
			return true;
		parse_tag(bi, st, mbi + off, type, size);
		/* The next tag starts 8-aligned; a last tag may end unpadded at total_size. */
		if (ALIGN_UP((uint64_t)size, 8) >= total - off)
			return false;
		off += (uint32_t)ALIGN_UP(size, 8);
	}
	return false;
}

int mb2_parse(const void *mbi, struct boot_info *out)
{
	const uint8_t *p = mbi;
	struct mb2_state st = { 0 };
	uint32_t total;

	if (!out)
		return MB2_ERR_NULL;
	memset(out, 0, sizeof(*out));
	out->magic = BOOT_INFO_MAGIC;
	out->source = BOOT_SRC_MULTIBOOT2;
	if (!p)
		return MB2_ERR_NULL;
	total = rd32(p);
	/* Spec 3.6.1: the structure is 8-aligned and holds at least its header and the end tag. */
	if (((uintptr_t)p & 7) || total < MB2_HDR_SIZE + MB2_TAG_HDR || total > MB2_MAX_TOTAL_SIZE)
		return MB2_ERR_SIZE;
	if (!walk_tags(p, total, out, &st))
		warn(out, BOOT_WARN_TRUNCATED);
	if (!st.have_mmap && st.efi_mmap)
		parse_efi_mmap(out, st.efi_mmap, st.efi_mmap_size);
	if (!out->mmap_count && st.have_basic)
		basic_mem_fallback(out, &st);
	out->acpi_rsdp = st.rsdp_new ? st.rsdp_new : st.rsdp_old;
	return out->mmap_count ? 0 : MB2_ERR_NO_MEM;
}
