/* The Multiboot (version 1) loader for L1: finds the header, loads ELF32/ELF64/a.out-kludge images, builds the info structure. */
#include "hv/loader/multiboot1.h"
#include "hv/loader/guest_boot.h"
#include "hv/console.h"
#include "hv/string.h"

#ifdef HV_HOST_TEST
/* The host tests give the loader a buffer standing in for guest-physical memory. */
void *test_guest_phys(paddr_t pa);
#define guest_ptr(pa) test_guest_phys(pa)
#else
/* Guest memory is identity-mapped host memory (the hypervisor maps all RAM). */
#define guest_ptr(pa) phys_to_virt(pa)
#endif

#define ELF_MAGIC   0x464c457fu /* "\x7fELF" */
#define ELFCLASS32  1
#define ELFCLASS64  2
#define ET_EXEC     2
#define EM_386      3
#define EM_X86_64   62
#define PT_LOAD     1

struct elf_ident {
	uint32_t magic;
	uint8_t class, data, version, osabi;
	uint8_t pad[8];
	uint16_t type, machine;
} __packed;

struct elf32_ehdr {
	struct elf_ident id;
	uint32_t version, entry, phoff, shoff, flags;
	uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
} __packed;

struct elf32_phdr {
	uint32_t type, offset, vaddr, paddr, filesz, memsz, flags, align;
} __packed;

struct elf64_ehdr {
	struct elf_ident id;
	uint32_t version;
	uint64_t entry, phoff, shoff;
	uint32_t flags;
	uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
} __packed;

struct elf64_phdr {
	uint32_t type, flags;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
} __packed;

/* A program header of either class, widened. */
struct elf_seg {
	uint32_t type;
	uint64_t offset, vaddr, paddr, filesz, memsz;
};

#define ERR(...) do { hv_snprintf(err, errsz, __VA_ARGS__); return -1; } while (0)

long mb1_find_header(const void *image, uint64_t size)
{
	const uint8_t *p = image;
	uint64_t end = MIN(size, (uint64_t)MB1_SEARCH_BYTES);

	for (uint64_t off = 0; off + 12 <= end; off += 4) {
		uint32_t w[3];

		memcpy(w, p + off, sizeof(w));
		if (w[0] == MB1_HEADER_MAGIC && (uint32_t)(w[0] + w[1] + w[2]) == 0)
			return (long)off;
	}
	return -1;
}

/* Spec 3.1.3: the a.out kludge's address fields say where the file goes. */
static int parse_aout(uint64_t size, uint64_t hdr_off, const struct mb1_header *h,
		      struct mb1_image *out, char *err, size_t errsz)
{
	uint64_t file_off, load_end, mem_end;

	if (hdr_off + 32 > size)
		ERR("Multiboot header with flag 16 (a.out kludge) is cut off by the end of the file");
	if (h->header_addr < h->load_addr || h->header_addr - h->load_addr > hdr_off)
		ERR("a.out kludge: header_addr %#x and load_addr %#x do not match the header's file offset %#llx",
		    h->header_addr, h->load_addr, (unsigned long long)hdr_off);
	file_off = hdr_off - (h->header_addr - h->load_addr);
	load_end = h->load_end_addr ? h->load_end_addr : h->load_addr + (size - file_off);
	if (load_end < h->load_addr || file_off + (load_end - h->load_addr) > size)
		ERR("a.out kludge: load_end_addr %#x lies outside the file (load_addr %#x, file size %#llx)",
		    h->load_end_addr, h->load_addr, (unsigned long long)size);
	mem_end = h->bss_end_addr ? h->bss_end_addr : load_end;
	if (mem_end < load_end)
		ERR("a.out kludge: bss_end_addr %#x is below the end of the loaded image %#llx",
		    h->bss_end_addr, (unsigned long long)load_end);
	if (mem_end > GiB(4))
		ERR("a.out kludge: the image ends above 4 GiB");
	out->format = "a.out kludge";
	out->entry = h->entry_addr;
	out->nseg = 1;
	out->seg[0] = (struct mb1_segment){ h->load_addr, file_off, load_end - h->load_addr, mem_end - h->load_addr };
	return 0;
}

static bool elf_seg_at(const uint8_t *img, uint64_t phoff, unsigned int i, bool is64, struct elf_seg *s)
{
	if (is64) {
		struct elf64_phdr ph;

		memcpy(&ph, img + phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		*s = (struct elf_seg){ ph.type, ph.offset, ph.vaddr, ph.paddr, ph.filesz, ph.memsz };
	} else {
		struct elf32_phdr ph;

		memcpy(&ph, img + phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		*s = (struct elf_seg){ ph.type, ph.offset, ph.vaddr, ph.paddr, ph.filesz, ph.memsz };
	}
	return true;
}

/* ELF header fields of either class: entry, program header table offset, entry size and count. */
static int elf_header(const uint8_t *img, uint64_t size, bool is64, uint64_t *entry, uint64_t *phoff,
		      unsigned int *phnum, char *err, size_t errsz)
{
	uint64_t phentsize, want = is64 ? sizeof(struct elf64_phdr) : sizeof(struct elf32_phdr);

	if (size < (is64 ? sizeof(struct elf64_ehdr) : sizeof(struct elf32_ehdr)))
		ERR("ELF header is cut off by the end of the file");
	if (is64) {
		struct elf64_ehdr eh;

		memcpy(&eh, img, sizeof(eh));
		*entry = eh.entry, *phoff = eh.phoff, *phnum = eh.phnum, phentsize = eh.phentsize;
	} else {
		struct elf32_ehdr eh;

		memcpy(&eh, img, sizeof(eh));
		*entry = eh.entry, *phoff = eh.phoff, *phnum = eh.phnum, phentsize = eh.phentsize;
	}
	if (phentsize != want)
		ERR("ELF program header size %llu, expected %llu", (unsigned long long)phentsize, (unsigned long long)want);
	if (*phoff > size || *phnum * want > size - *phoff)
		ERR("ELF program headers lie outside the file");
	return 0;
}

/* Spec 3.1.2 without flag 16: the ELF program headers say where the file goes (physical addresses, as GRUB does). */
static int parse_elf(const uint8_t *img, uint64_t size, struct mb1_image *out, char *err, size_t errsz)
{
	struct elf_ident id;
	uint64_t entry, phoff;
	unsigned int phnum;
	bool is64, entry_mapped = false;

	memcpy(&id, img, MIN(size, sizeof(id)));
	if (size < sizeof(id) || id.magic != ELF_MAGIC)
		ERR("Multiboot header without flag 16 (a.out kludge), and the file is not ELF");
	is64 = id.class == ELFCLASS64;
	if ((id.class != ELFCLASS32 && !is64) || id.data != 1 || id.type != ET_EXEC ||
	    id.machine != (is64 ? EM_X86_64 : EM_386))
		ERR("ELF file is not a little-endian x86 executable (class %u, type %u, machine %u)",
		    id.class, id.type, id.machine);
	if (elf_header(img, size, is64, &entry, &phoff, &phnum, err, errsz) < 0)
		return -1;
	out->format = is64 ? "ELF64" : "ELF32";
	out->nseg = 0;
	out->entry = (uint32_t)entry;
	for (unsigned int i = 0; i < phnum; i++) {
		struct elf_seg s;

		elf_seg_at(img, phoff, i, is64, &s);
		if (s.type != PT_LOAD || s.memsz == 0)
			continue;
		if (s.filesz > s.memsz || s.offset > size || s.filesz > size - s.offset)
			ERR("ELF segment %u (file offset %#llx, size %#llx) lies outside the file", i,
			    (unsigned long long)s.offset, (unsigned long long)s.filesz);
		if (s.paddr >= GiB(4) || s.memsz > GiB(4) - s.paddr)
			ERR("ELF segment %u at %#llx ends above 4 GiB: Multiboot kernels load below 4 GiB", i,
			    (unsigned long long)s.paddr);
		if (out->nseg == MB1_MAX_SEGMENTS)
			ERR("ELF file has more than %u loadable segments", MB1_MAX_SEGMENTS);
		out->seg[out->nseg++] = (struct mb1_segment){ s.paddr, s.offset, s.filesz, s.memsz };
		/* The entry is a virtual address; GRUB turns it physical through the segment holding it. */
		if (!entry_mapped && entry >= s.vaddr && entry - s.vaddr < s.memsz) {
			out->entry = (uint32_t)(entry - s.vaddr + s.paddr);
			entry_mapped = true;
		}
	}
	if (out->nseg == 0)
		ERR("ELF file has no loadable segment");
	if (!entry_mapped && entry >= GiB(4))
		ERR("ELF entry point %#llx is above 4 GiB", (unsigned long long)entry);
	return 0;
}

int mb1_parse(const void *image, uint64_t size, struct mb1_image *out, char *err, size_t errsz)
{
	const uint8_t *img = image;
	long off = mb1_find_header(image, size);
	struct mb1_header h;
	uint32_t unknown;

	memset(out, 0, sizeof(*out));
	if (off < 0)
		ERR("no Multiboot header (magic %#x with a valid checksum) in the first 8 KiB", MB1_HEADER_MAGIC);
	memset(&h, 0, sizeof(h));
	memcpy(&h, img + off, MIN(sizeof(h), size - (uint64_t)off));
	/* Spec 3.1.2: a loader must refuse a kernel requiring a feature (bits 0-15) it does not know. */
	unknown = h.flags & 0xffffu & ~(uint32_t)(MB1_HDR_PAGE_ALIGN | MB1_HDR_MEMINFO | MB1_HDR_VIDEO);
	if (unknown)
		ERR("Multiboot header requires features this loader does not know (flags %#x)", unknown);
	out->header_flags = h.flags;
	if (h.flags & MB1_HDR_AOUT_KLUDGE)
		return parse_aout(size, (uint64_t)off, &h, out, err, errsz);
	return parse_elf(img, size, out, err, errsz);
}

static bool ranges_overlap(uint64_t b1, uint64_t e1, uint64_t b2, uint64_t e2)
{
	return b1 < e2 && b2 < e1;
}

/* Is [base, end) covered by usable ranges of the (sorted) map? */
static bool is_usable(const struct mem_map *map, uint64_t base, uint64_t end)
{
	uint64_t covered = base;

	for (uint32_t i = 0; i < map->count && covered < end; i++) {
		const struct boot_mem_range *r = &map->r[i];

		if (r->type != MEM_USABLE || r->base > covered || r->base + r->len <= covered)
			continue;
		covered = r->base + r->len;
	}
	return covered >= end;
}

int mb1_check_placement(const struct mb1_image *img, const struct mem_map *guest_map, const struct mem_map *hv,
			const struct boot_info *bi, char *err, size_t errsz)
{
	for (unsigned int s = 0; s < img->nseg; s++) {
		uint64_t b = img->seg[s].dest, e = b + img->seg[s].memsz;

		for (uint32_t i = 0; i < hv->count; i++)
			if (ranges_overlap(b, e, hv->r[i].base, hv->r[i].base + hv->r[i].len))
				ERR("segment %u (%#llx-%#llx) overlaps the hypervisor's memory (%#llx-%#llx)", s,
				    (unsigned long long)b, (unsigned long long)e, (unsigned long long)hv->r[i].base,
				    (unsigned long long)(hv->r[i].base + hv->r[i].len));
		for (uint32_t m = 0; m < bi->module_count; m++)
			if (ranges_overlap(b, e, bi->modules[m].start, bi->modules[m].end))
				ERR("segment %u (%#llx-%#llx) overlaps boot module %u (%#llx-%#llx), which is still to be read",
				    s, (unsigned long long)b, (unsigned long long)e, m,
				    (unsigned long long)bi->modules[m].start, (unsigned long long)bi->modules[m].end);
		if (!is_usable(guest_map, b, e))
			ERR("segment %u (%#llx-%#llx) is not usable guest RAM (see the memory map above)", s,
			    (unsigned long long)b, (unsigned long long)e);
	}
	return 0;
}

static size_t str_size(const char *s)
{
	return strlen(s ? s : "") + 1;
}

/* Layout: info, mmap, module list, then the strings; every part 8-byte aligned. */
size_t mb1_info_size(const struct mb1_info_input *in)
{
	size_t n = ALIGN_UP(sizeof(struct mb1_info), 8);

	n += ALIGN_UP((size_t)in->guest_map->count * sizeof(struct mb1_mmap_entry), 8);
	n += (size_t)in->nmods * sizeof(struct mb1_module);
	n += str_size(in->cmdline) + str_size(in->loader_name);
	for (unsigned int i = 0; i < in->nmods; i++)
		n += str_size(in->mods[i]->cmdline);
	return ALIGN_UP(n, 8);
}

/* Spec 3.3: mem_lower is the RAM from 0 (at most 640 KiB), mem_upper the RAM from 1 MiB up to the first hole, in KiB. */
static void mb1_mem_sizes(const struct mem_map *map, uint32_t *lower, uint32_t *upper)
{
	uint64_t low_end = 0, up_end = MiB(1);

	for (uint32_t i = 0; i < map->count; i++) {
		const struct boot_mem_range *r = &map->r[i];

		if (r->type != MEM_USABLE)
			continue;
		if (r->base <= low_end && r->base + r->len > low_end)
			low_end = r->base + r->len;
		if (r->base <= up_end && r->base + r->len > up_end)
			up_end = r->base + r->len;
	}
	*lower = (uint32_t)(MIN(low_end, KiB(640)) / 1024);
	*upper = (uint32_t)(MIN(up_end - MiB(1), GiB(4) - KiB(1)) / 1024);
}

static uint32_t put_string(char *buf, size_t *pos, uint32_t buf_gpa, const char *s)
{
	uint32_t gpa = buf_gpa + (uint32_t)*pos;
	size_t n = str_size(s);

	memcpy(buf + *pos, s ? s : "", n);
	*pos += n;
	return gpa;
}

void mb1_build_info(const struct mb1_info_input *in, void *buf, uint32_t buf_gpa)
{
	char *base = buf;
	struct mb1_info *mbi = buf;
	struct mb1_mmap_entry *mm;
	struct mb1_module *mods;
	size_t pos = ALIGN_UP(sizeof(*mbi), 8);
	uint32_t lower, upper;

	memset(buf, 0, mb1_info_size(in));
	mbi->flags = MB1_INFO_MEM | MB1_INFO_CMDLINE | MB1_INFO_MODS | MB1_INFO_MMAP | MB1_INFO_LOADER_NAME;
	mb1_mem_sizes(in->guest_map, &lower, &upper);
	mbi->mem_lower = lower;
	mbi->mem_upper = upper;
	mm = (struct mb1_mmap_entry *)(base + pos);
	mbi->mmap_addr = buf_gpa + (uint32_t)pos;
	mbi->mmap_length = in->guest_map->count * (uint32_t)sizeof(*mm);
	for (uint32_t i = 0; i < in->guest_map->count; i++) {
		const struct boot_mem_range *r = &in->guest_map->r[i];
		struct mb1_mmap_entry e = { sizeof(e) - sizeof(e.size), r->base, r->len, r->type };

		memcpy(&mm[i], &e, sizeof(e));
	}
	pos += ALIGN_UP((size_t)in->guest_map->count * sizeof(*mm), 8);
	mods = (struct mb1_module *)(base + pos);
	mbi->mods_addr = buf_gpa + (uint32_t)pos;
	mbi->mods_count = in->nmods;
	pos += (size_t)in->nmods * sizeof(*mods);
	mbi->cmdline = put_string(base, &pos, buf_gpa, in->cmdline);
	mbi->boot_loader_name = put_string(base, &pos, buf_gpa, in->loader_name);
	for (unsigned int i = 0; i < in->nmods; i++) {
		struct mb1_module m = { (uint32_t)in->mods[i]->start, (uint32_t)in->mods[i]->end, 0, 0 };

		m.string = put_string(base, &pos, buf_gpa, in->mods[i]->cmdline);
		memcpy(&mods[i], &m, sizeof(m));
	}
}

/* The end of whatever [b, e) collides with (a segment or a module), or 0 if it is free. */
static uint64_t collision_end(uint64_t b, uint64_t e, const struct mb1_image *img, const struct boot_info *bi)
{
	for (unsigned int s = 0; s < img->nseg; s++)
		if (ranges_overlap(b, e, img->seg[s].dest, img->seg[s].dest + img->seg[s].memsz))
			return img->seg[s].dest + img->seg[s].memsz;
	for (uint32_t m = 0; m < bi->module_count; m++)
		if (ranges_overlap(b, e, bi->modules[m].start, bi->modules[m].end))
			return bi->modules[m].end;
	return 0;
}

bool mb1_find_info_spot(uint64_t size, const struct mem_map *guest_map, const struct mb1_image *img,
			const struct boot_info *bi, uint64_t *gpa)
{
	for (uint32_t i = 0; i < guest_map->count; i++) {
		const struct boot_mem_range *r = &guest_map->r[i];
		uint64_t c = ALIGN_UP(MAX(r->base, KiB(64)), PAGE_SIZE), end = MIN(r->base + r->len, GiB(4));
		uint64_t hit;

		if (r->type != MEM_USABLE)
			continue;
		while (c + size <= end) {
			hit = collision_end(c, c + size, img, bi);
			if (!hit) {
				*gpa = c;
				return true;
			}
			c = ALIGN_UP(hit, PAGE_SIZE);
		}
	}
	return false;
}

bool multiboot1_probe(const void *image, uint64_t size)
{
	return mb1_find_header(image, size) >= 0;
}

static void copy_segments(const struct mb1_image *img, const uint8_t *file)
{
	for (unsigned int s = 0; s < img->nseg; s++) {
		const struct mb1_segment *seg = &img->seg[s];
		uint8_t *dst = guest_ptr(seg->dest);

		memcpy(dst, file + seg->file_off, seg->filesz);
		memset(dst + seg->filesz, 0, seg->memsz - seg->filesz); /* BSS, spec 3.1.3 */
	}
}

/* The guest's modules are every boot module but the kernel; their addresses must fit the 32-bit fields. */
static int collect_modules(const struct guest_load_ctx *ctx, struct mb1_info_input *in)
{
	const struct boot_info *bi = ctx->bi;

	in->nmods = 0;
	for (unsigned int m = 0; m < bi->module_count; m++) {
		if (m == ctx->kernel_idx)
			continue;
		if (bi->modules[m].end > GiB(4)) {
			pr_err("hv: L1 module %u (%#llx-%#llx) lies above 4 GiB, out of a Multiboot v1 kernel's reach\n", m,
			       (unsigned long long)bi->modules[m].start, (unsigned long long)bi->modules[m].end);
			return -1;
		}
		in->mods[in->nmods++] = &bi->modules[m];
	}
	return 0;
}

static void set_entry_state(const struct mb1_image *img, uint64_t mbi_gpa, struct guest_boot_state *out)
{
	/* Spec 3.2: EAX magic, EBX info, protected mode, paging off, flat segments, IF clear. */
	memset(out, 0, sizeof(*out));
	out->mode = GUEST_MODE_PROT32;
	out->rip = img->entry;
	out->rax = MB1_BOOTLOADER_MAGIC;
	out->rbx = mbi_gpa;
}

int multiboot1_load(const struct guest_load_ctx *ctx, struct guest_boot_state *out)
{
	const struct boot_module *kmod = &ctx->bi->modules[ctx->kernel_idx];
	const uint8_t *file = guest_ptr(kmod->start);
	struct mb1_info_input in = { .guest_map = ctx->guest_map, .cmdline = kmod->cmdline, .loader_name = "hv" };
	struct mb1_image img;
	char err[200];
	uint64_t mbi_gpa;
	size_t mbi_size;

	if (mb1_parse(file, kmod->end - kmod->start, &img, err, sizeof(err)) < 0 ||
	    mb1_check_placement(&img, ctx->guest_map, mm_hv_ranges(), ctx->bi, err, sizeof(err)) < 0) {
		pr_err("hv: L1 kernel (module %u, '%s'): %s\n", ctx->kernel_idx, kmod->cmdline, err);
		return -1;
	}
	if (collect_modules(ctx, &in) < 0)
		return -1;
	mbi_size = mb1_info_size(&in);
	if (!mb1_find_info_spot(mbi_size, ctx->guest_map, &img, ctx->bi, &mbi_gpa)) {
		pr_err("hv: no free guest RAM below 4 GiB for the L1 kernel's Multiboot information (%zu bytes)\n", mbi_size);
		return -1;
	}
	if (img.header_flags & MB1_HDR_VIDEO)
		pr_warn("hv: L1 kernel asks for a video mode (Multiboot header flag 2); it keeps the current text mode\n");
	copy_segments(&img, file);
	mb1_build_info(&in, guest_ptr(mbi_gpa), (uint32_t)mbi_gpa);
	set_entry_state(&img, mbi_gpa, out);
	pr_info("hv: L1 kernel: Multiboot %s, %u segment(s) from %#llx, entry %#x, info at %#llx, %u module(s)\n",
		img.format, img.nseg, (unsigned long long)img.seg[0].dest, img.entry, (unsigned long long)mbi_gpa,
		in.nmods);
	return 0;
}
