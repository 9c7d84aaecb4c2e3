/* Pure parts of the Linux loader: setup header checks, memory layout, boot_params, GDT, page tables and entry state (Documentation/arch/x86/boot.rst). */
#include "hv/loader/linux_boot.h"
#include "hv/string.h"

#define LX_NO_ADDR  (~0ULL)
#define LX_LOW_DATA_MIN  0x10000ULL  /* above the IVT/BDA page the kernel reads (EBDA pointer) */
#define LX_LOW_DATA_MAX  0xa0000ULL  /* conventional memory ends at the VGA hole */
#define LX_HIGH_MIN      MiB(1)
#define PTE_P   BIT(0)
#define PTE_RW  BIT(1)
#define PTE_PS  BIT(7)

static const char *const lx_err_text[LXE_COUNT] = {
	[LXE_OK] = "ok",
	[LXE_TRUNCATED] = "image too short to hold a Linux setup header",
	[LXE_NO_MAGIC] = "no \"HdrS\" magic at offset 0x202: not a Linux bzImage",
	[LXE_BOOT_FLAG] = "boot_flag at 0x1fe is not 0xAA55",
	[LXE_OLD_PROTOCOL] = "boot protocol older than 2.12 (needed for xloadflags and the 64-bit entry)",
	[LXE_NOT_BZIMAGE] = "loadflags.LOADED_HIGH clear: a zImage, only bzImages are supported",
	[LXE_NOT_64BIT] = "xloadflags.XLF_KERNEL_64 clear: the kernel has no 64-bit entry point",
	[LXE_BAD_HEADER_LEN] = "setup header length or setup_sects inconsistent with the image size",
	[LXE_BAD_SYSSIZE] = "image shorter than setup_sects and syssize say",
	[LXE_BAD_ALIGN] = "kernel_alignment is not a power of two of at least 4 KiB",
	[LXE_BAD_INIT_SIZE] = "pref_address or init_size unusable (not below 4 GiB)",
	[LXE_CMDLINE_TOO_LONG] = "command line longer than the kernel's cmdline_size",
	[LXE_INITRD_EMPTY] = "initrd module is empty",
	[LXE_NO_ROOM_KERNEL] = "no usable guest RAM at pref_address or above for init_size bytes",
	[LXE_NO_ROOM_INITRD] = "no usable guest RAM below initrd_addr_max for the initrd",
	[LXE_NO_ROOM_DATA] = "no usable guest RAM below 4 GiB for boot_params, GDT and page tables",
	[LXE_E820_TOO_MANY] = "more than 128 e820 entries",
};

const char *linux_err_str(int err)
{
	if (err < 0)
		err = -err;
	if (err >= LXE_COUNT)
		return "unknown error";
	return lx_err_text[err];
}

/* Little-endian field access by offset; memcpy because the fields are unaligned. */
static uint8_t rd8(const uint8_t *p, uint32_t off) { return p[off]; }

static uint16_t rd16(const uint8_t *p, uint32_t off)
{
	uint16_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

static uint32_t rd32(const uint8_t *p, uint32_t off)
{
	uint32_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

static uint64_t rd64(const uint8_t *p, uint32_t off)
{
	uint64_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

static void wr8(uint8_t *p, uint32_t off, uint8_t v) { p[off] = v; }
static void wr16(uint8_t *p, uint32_t off, uint16_t v) { memcpy(p + off, &v, sizeof(v)); }
static void wr32(uint8_t *p, uint32_t off, uint32_t v) { memcpy(p + off, &v, sizeof(v)); }
static void wr64(uint8_t *p, uint32_t off, uint64_t v) { memcpy(p + off, &v, sizeof(v)); }

static bool is_pow2(uint64_t v) { return v && !(v & (v - 1)); }

/* Magic, boot flag and protocol version: is this a kernel we can enter at all? */
static int lx_check_identity(const uint8_t *img, uint64_t size, struct linux_kernel *k)
{
	if (size < LX_VERSION + 2)
		return -LXE_TRUNCATED;
	if (rd32(img, LX_HEADER) != LX_MAGIC)
		return -LXE_NO_MAGIC;
	if (rd16(img, LX_BOOT_FLAG) != LX_BOOT_FLAG_VALUE)
		return -LXE_BOOT_FLAG;
	k->version = rd16(img, LX_VERSION);
	/* 2.12 brings xloadflags; every field we read later (up to init_size, 2.10) is older. */
	if (k->version < LX_MIN_VERSION)
		return -LXE_OLD_PROTOCOL;
	return 0;
}

/*
 * Sizes: the header ends at 0x202 + the jump's offset byte (boot.rst, "64-bit
 * Boot Protocol"); setup_sects 0 means 4 (boot.rst, "Details of Harder
 * Fileds"); the protected-mode kernel follows the setup sectors and is at
 * least syssize 16-byte paragraphs long (2.04+: 32-bit syssize).
 */
static int lx_check_sizes(const uint8_t *img, uint64_t size, struct linux_kernel *k)
{
	uint32_t sects = rd8(img, LX_SETUP_SECTS);

	k->hdr_end = LX_HEADER + rd8(img, LX_JUMP + 1);
	if (k->hdr_end < LX_INIT_SIZE + 4 || k->hdr_end > size || k->hdr_end > LX_ZP_SIZE)
		return -LXE_BAD_HEADER_LEN;
	if (sects == 0)
		sects = 4;
	k->setup_size = (sects + 1) * 512;
	if (k->setup_size < k->hdr_end || k->setup_size >= size)
		return -LXE_BAD_HEADER_LEN;
	k->pm_offset = k->setup_size;
	k->pm_size = size - k->setup_size;
	if ((uint64_t)rd32(img, LX_SYSSIZE) * 16 > k->pm_size || rd32(img, LX_SYSSIZE) == 0)
		return -LXE_BAD_SYSSIZE;
	return 0;
}

/* Where and how the kernel may be placed (boot.rst fields of 2.05 to 2.12). */
static int lx_check_placement(const uint8_t *img, struct linux_kernel *k)
{
	uint32_t init_size = rd32(img, LX_INIT_SIZE);

	k->loadflags = rd8(img, LX_LOADFLAGS);
	k->xloadflags = rd16(img, LX_XLOADFLAGS);
	if (!(k->loadflags & LX_LOADED_HIGH))
		return -LXE_NOT_BZIMAGE;
	if (!(k->xloadflags & LX_XLF_KERNEL_64))
		return -LXE_NOT_64BIT;
	k->relocatable = rd8(img, LX_RELOCATABLE) != 0;
	k->alignment = rd32(img, LX_KERNEL_ALIGNMENT);
	if (!is_pow2(k->alignment) || k->alignment < PAGE_SIZE)
		return -LXE_BAD_ALIGN;
	k->pref_address = rd64(img, LX_PREF_ADDRESS);
	k->mem_size = MAX((uint64_t)init_size, k->pm_size);
	if (k->pref_address >= LX_IDENT_MAP_LIMIT ||
	    k->mem_size > LX_IDENT_MAP_LIMIT - k->pref_address)
		return -LXE_BAD_INIT_SIZE;
	k->cmdline_max = rd32(img, LX_CMDLINE_SIZE);
	k->initrd_max = rd32(img, LX_INITRD_ADDR_MAX);
	return 0;
}

int linux_parse_header(const void *image, uint64_t size, struct linux_kernel *k)
{
	const uint8_t *img = image;
	int err;

	memset(k, 0, sizeof(*k));
	err = lx_check_identity(img, size, k);
	if (!err)
		err = lx_check_sizes(img, size, k);
	if (!err)
		err = lx_check_placement(img, k);
	return err;
}

/* ---- layout ---------------------------------------------------------- */

static uint64_t r_end(const struct lx_range *r) { return r->base + r->len; }

static bool r_overlap(const struct lx_range *a, const struct lx_range *b)
{
	return a->len && b->len && a->base < r_end(b) && b->base < r_end(a);
}

/* A search for a free block: usable RAM in [lo, hi), aligned, avoiding given ranges and the hypervisor. */
struct lx_search {
	const struct mem_map *map;
	lx_overlaps_fn overlaps_hv;
	uint64_t lo, hi;
	uint64_t size, align;
	const struct lx_range *avoid;
	unsigned int navoid;
};

/*
 * The next run of contiguous usable map entries from index *i, clipped to
 * [lo, hi): the map may split one RAM region into adjacent entries.
 */
static bool lx_next_usable(const struct lx_search *s, uint32_t *i, uint64_t *base, uint64_t *end)
{
	const struct mem_map *m = s->map;

	while (*i < m->count) {
		const struct boot_mem_range *r = &m->r[(*i)++];
		uint64_t b = r->base, e = r->base + r->len;

		if (r->type != MEM_USABLE || !r->len)
			continue;
		while (*i < m->count && m->r[*i].type == MEM_USABLE && m->r[*i].base == e)
			e += m->r[(*i)++].len;
		b = MAX(b, s->lo);
		e = MIN(e, s->hi);
		if (b < e) {
			*base = b;
			*end = e;
			return true;
		}
	}
	return false;
}

/* The first avoided range [a, a+size) hits, or NULL. */
static const struct lx_range *lx_conflict(const struct lx_search *s, uint64_t a)
{
	struct lx_range c = { a, s->size };

	for (unsigned int j = 0; j < s->navoid; j++)
		if (r_overlap(&c, &s->avoid[j]))
			return &s->avoid[j];
	return NULL;
}

static bool lx_hv_hit(const struct lx_search *s, uint64_t a)
{
	return s->overlaps_hv && s->overlaps_hv(a, s->size);
}

/* Lowest fitting address in [base, end), or LX_NO_ADDR. */
static uint64_t lx_fit_low(const struct lx_search *s, uint64_t base, uint64_t end)
{
	uint64_t a = ALIGN_UP(base, s->align);

	while (a >= base && a < end && s->size <= end - a) {
		const struct lx_range *c = lx_conflict(s, a);

		if (c)
			a = ALIGN_UP(r_end(c), s->align);
		else if (lx_hv_hit(s, a))
			a += s->align;
		else
			return a;
	}
	return LX_NO_ADDR;
}

/* Highest fitting address in [base, end), or LX_NO_ADDR. */
static uint64_t lx_fit_high(const struct lx_search *s, uint64_t base, uint64_t end)
{
	uint64_t a;

	if (end - base < s->size)
		return LX_NO_ADDR;
	a = ALIGN_DOWN(end - s->size, s->align);
	while (a >= base) {
		const struct lx_range *c = lx_conflict(s, a);

		if (c) {
			if (c->base < s->size + base)
				break;
			a = ALIGN_DOWN(c->base - s->size, s->align);
		} else if (lx_hv_hit(s, a)) {
			if (a < s->align + base)
				break;
			a -= s->align;
		} else {
			return a;
		}
	}
	return LX_NO_ADDR;
}

static uint64_t lx_find(const struct lx_search *s, bool highest)
{
	uint64_t base, end, a, best = LX_NO_ADDR;
	uint32_t i = 0;

	if (!s->size || s->lo >= s->hi)
		return LX_NO_ADDR;
	while (lx_next_usable(s, &i, &base, &end)) {
		a = highest ? lx_fit_high(s, base, end) : lx_fit_low(s, base, end);
		if (a == LX_NO_ADDR)
			continue;
		if (!highest)
			return a;
		best = a;
	}
	return best;
}

/*
 * The kernel goes at pref_address or, if relocatable, at the lowest
 * kernel_alignment-aligned address above it with init_size bytes free
 * (boot.rst, "pref_address", "init_size", "relocatable_kernel"). Never lower:
 * the 64-bit decompressor moves itself up to LOAD_PHYSICAL_ADDR (which
 * pref_address is) when started below it, over whatever is there.
 */
static uint64_t lx_place_kernel(const struct linux_kernel *k, const struct linux_layout_in *in,
				const struct lx_range *avoid, unsigned int navoid)
{
	struct lx_search s = {
		.map = in->map, .overlaps_hv = in->overlaps_hv,
		.lo = k->pref_address, .hi = LX_IDENT_MAP_LIMIT,
		.size = k->mem_size, .align = k->alignment,
		.avoid = avoid, .navoid = navoid,
	};

	if (!k->relocatable) {
		s.hi = k->pref_address + k->mem_size;
		s.align = PAGE_SIZE;
	}
	s.lo = ALIGN_UP(s.lo, s.align);
	return lx_find(&s, false);
}

/* Is [r) inside usable guest RAM, clear of the hypervisor? */
static bool lx_in_ram(const struct linux_layout_in *in, const struct lx_range *r)
{
	struct lx_search s = {
		.map = in->map, .overlaps_hv = in->overlaps_hv,
		.lo = r->base, .hi = r_end(r), .size = r->len, .align = 1,
	};

	return lx_find(&s, false) == r->base;
}

/* The initrd stays where the boot loader put it when the kernel can have it there. */
static bool lx_initrd_can_stay(const struct linux_kernel *k, const struct linux_layout_in *in,
			       const struct lx_range *kernel)
{
	const struct lx_range *r = &in->initrd_src;

	return !r_overlap(r, kernel) && r_end(r) - 1 <= k->initrd_max && lx_in_ram(in, r);
}

/*
 * Otherwise it moves as high as initrd_addr_max allows (as GRUB does, leaving
 * low memory to the kernel), clear of the kernel's destination and of the
 * kernel module, which is copied after the initrd.
 */
static uint64_t lx_place_initrd(const struct linux_kernel *k, const struct linux_layout_in *in,
				const struct lx_range *kernel)
{
	const struct lx_range avoid[] = { *kernel, in->kernel_src };
	struct lx_search s = {
		.map = in->map, .overlaps_hv = in->overlaps_hv,
		.lo = LX_HIGH_MIN, .hi = MIN(k->initrd_max + 1, LX_IDENT_MAP_LIMIT),
		.size = in->initrd_src.len, .align = PAGE_SIZE,
		.avoid = avoid, .navoid = ARRAY_SIZE(avoid),
	};

	return lx_find(&s, true);
}

/*
 * boot_params, the command line, GDT and page tables go in conventional
 * memory when it is free (where boot loaders traditionally put them, away
 * from the kernel's way), else anywhere below 4 GiB (cmd_line_ptr and the
 * identity map's limit), never over the kernel or initrd, old or new place.
 */
static uint64_t lx_place_data(const struct linux_layout_in *in, const struct linux_layout *lay)
{
	const struct lx_range avoid[] = { lay->kernel, in->kernel_src, in->initrd_src, lay->initrd };
	struct lx_search s = {
		.map = in->map, .overlaps_hv = in->overlaps_hv,
		.lo = LX_LOW_DATA_MIN, .hi = LX_LOW_DATA_MAX,
		.size = LX_DATA_SIZE, .align = PAGE_SIZE,
		.avoid = avoid, .navoid = ARRAY_SIZE(avoid),
	};
	uint64_t a = lx_find(&s, false);

	if (a != LX_NO_ADDR)
		return a;
	s.lo = LX_HIGH_MIN;
	s.hi = LX_IDENT_MAP_LIMIT;
	return lx_find(&s, false);
}

/* Kernel first (keeping clear of the initrd if it can), then the initrd, then the boot data. */
static int lx_plan_kernel_initrd(const struct linux_kernel *k, const struct linux_layout_in *in,
				 struct linux_layout *out)
{
	uint64_t a = lx_place_kernel(k, in, &in->initrd_src, in->has_initrd ? 1 : 0);

	if (a == LX_NO_ADDR)
		a = lx_place_kernel(k, in, NULL, 0);
	if (a == LX_NO_ADDR)
		return -LXE_NO_ROOM_KERNEL;
	out->kernel = (struct lx_range){ a, k->mem_size };
	if (!in->has_initrd)
		return 0;
	out->initrd = in->initrd_src;
	if (lx_initrd_can_stay(k, in, &out->kernel))
		return 0;
	a = lx_place_initrd(k, in, &out->kernel);
	if (a == LX_NO_ADDR)
		return -LXE_NO_ROOM_INITRD;
	out->initrd.base = a;
	out->initrd_moved = true;
	return 0;
}

int linux_plan_layout(const struct linux_kernel *k, const struct linux_layout_in *in,
		      struct linux_layout *out)
{
	int err;

	memset(out, 0, sizeof(*out));
	if (in->has_initrd && !in->initrd_src.len)
		return -LXE_INITRD_EMPTY;
	err = lx_plan_kernel_initrd(k, in, out);
	if (err)
		return err;
	out->data = lx_place_data(in, out);
	return out->data == LX_NO_ADDR ? -LXE_NO_ROOM_DATA : 0;
}

/* ---- command line ---------------------------------------------------- */

static bool is_space(char c) { return c == ' ' || c == '\t'; }

const char *linux_cmdline_args(const char *s)
{
	while (is_space(*s))
		s++;
	/* GRUB's module2 passes "linux ARGS" as written after the file name: drop the tag word. */
	if (strncmp(s, "linux", 5) == 0 && (s[5] == '\0' || is_space(s[5]))) {
		s += 5;
		while (is_space(*s))
			s++;
	}
	return s;
}

/* ---- boot_params ----------------------------------------------------- */

struct lx_e820 {
	uint64_t base, len;
	uint32_t type;
};

/* One boot_e820_entry: u64 addr, u64 size, u32 type, packed (20 bytes). */
static void lx_put_e820(uint8_t *zp, int n, const struct lx_e820 *e)
{
	uint32_t off = LX_ZP_E820_TABLE + (uint32_t)n * 20;

	wr64(zp, off, e->base);
	wr64(zp, off + 8, e->len);
	wr32(zp, off + 16, e->type);
}

/* Adjacent entries of one type become one, so a map split by the hypervisor's bookkeeping still fits. */
int linux_build_e820(uint8_t *zp, const struct mem_map *map)
{
	struct lx_e820 cur = { 0, 0, 0 };
	int n = 0;

	for (uint32_t i = 0; i < map->count; i++) {
		const struct boot_mem_range *r = &map->r[i];

		if (!r->len)
			continue;
		if (cur.len && r->type == cur.type && r->base == cur.base + cur.len) {
			cur.len += r->len;
			continue;
		}
		if (cur.len) {
			if (n >= LX_ZP_E820_MAX)
				return -LXE_E820_TOO_MANY;
			lx_put_e820(zp, n++, &cur);
		}
		cur = (struct lx_e820){ r->base, r->len, r->type };
	}
	if (cur.len) {
		if (n >= LX_ZP_E820_MAX)
			return -LXE_E820_TOO_MANY;
		lx_put_e820(zp, n++, &cur);
	}
	wr8(zp, LX_ZP_E820_ENTRIES, (uint8_t)n);
	return n;
}

/* Fields a boot loader writes in the setup header copy (boot.rst, "Loading The Rest of The Kernel"). */
static void lx_fill_header(uint8_t *zp, const struct linux_zp_in *in)
{
	const struct linux_layout *lay = in->lay;
	uint64_t cmdline = lay->data + LX_DATA_CMDLINE;

	wr8(zp, LX_TYPE_OF_LOADER, LX_LOADER_ID);
	/* The heap only matters to the real-mode setup we skip; declaring it is what loaders do. */
	wr8(zp, LX_LOADFLAGS, (uint8_t)(in->k->loadflags | LX_CAN_USE_HEAP));
	wr16(zp, LX_HEAP_END_PTR, LX_HEAP_END);
	wr32(zp, LX_CODE32_START, (uint32_t)lay->kernel.base);
	wr32(zp, LX_CMD_LINE_PTR, (uint32_t)cmdline);
	wr32(zp, LX_ZP_EXT_CMD_LINE, (uint32_t)(cmdline >> 32));
	wr32(zp, LX_RAMDISK_IMAGE, (uint32_t)lay->initrd.base);
	wr32(zp, LX_RAMDISK_SIZE, (uint32_t)lay->initrd.len);
	wr32(zp, LX_ZP_EXT_RAMDISK_IMG, (uint32_t)(lay->initrd.base >> 32));
	wr32(zp, LX_ZP_EXT_RAMDISK_SZ, (uint32_t)(lay->initrd.len >> 32));
}

/*
 * boot.rst, "64-bit Boot Protocol": zero the page, copy the setup header from
 * the image at 0x1f1 up to its end, then fill in the loader's fields and the
 * additional boot_params fields (e820 table, ACPI RSDP for 2.14+).
 */
int linux_build_zero_page(uint8_t *zp, const struct linux_zp_in *in)
{
	const uint8_t *img = in->image;
	int n;

	memset(zp, 0, LX_ZP_SIZE);
	memcpy(zp + LX_HDR_START, img + LX_HDR_START, in->k->hdr_end - LX_HDR_START);
	lx_fill_header(zp, in);
	if (in->k->version >= 0x020e)
		wr64(zp, LX_ZP_ACPI_RSDP, in->acpi_rsdp);
	n = linux_build_e820(zp, in->map);
	return n < 0 ? n : 0;
}

/*
 * boot.rst, "64-bit Boot Protocol": __BOOT_CS (0x10) 64-bit code, __BOOT_DS
 * (0x18) flat read/write data, both DPL 0, present, accessed (the accessed
 * bit is what the CPU would set on the first load; VM entry requires it for
 * CS, SDM vol. 3C 26.3.1.2).
 */
void linux_build_gdt(uint64_t gdt[LX_GDT_ENTRIES])
{
	gdt[0] = 0;
	gdt[1] = 0;
	gdt[LX_BOOT_CS >> 3] = 0x00af9b000000ffffULL; /* G, L, P, type 0xb: execute/read, accessed */
	gdt[LX_BOOT_DS >> 3] = 0x00cf93000000ffffULL; /* G, D/B, P, type 0x3: read/write, accessed */
}

/*
 * Four-level tables mapping [0, 4 GiB) 1:1 with 2 MiB pages (SDM vol. 3A
 * 4.5): one PML4, one PDPT, four page directories. This covers the kernel's
 * init_size range, the zero page and the command line, which is what the
 * 64-bit protocol requires; the kernel builds its own tables right away.
 */
void linux_build_page_tables(uint8_t *tables, uint64_t tables_pa)
{
	uint64_t *pml4 = (uint64_t *)(void *)tables;
	uint64_t *pdpt = (uint64_t *)(void *)(tables + PAGE_SIZE);
	uint64_t *pd = (uint64_t *)(void *)(tables + 2 * PAGE_SIZE);

	memset(tables, 0, LX_PT_SIZE);
	pml4[0] = (tables_pa + PAGE_SIZE) | PTE_P | PTE_RW;
	for (uint64_t g = 0; g < 4; g++)
		pdpt[g] = (tables_pa + (2 + g) * PAGE_SIZE) | PTE_P | PTE_RW;
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = (i * MiB(2)) | PTE_P | PTE_RW | PTE_PS;
}

/*
 * boot.rst, "64-bit Boot Protocol": 64-bit mode with paging on, the GDT
 * loaded, CS = __BOOT_CS, DS/ES/SS = __BOOT_DS, interrupts off, RSI = the
 * boot_params address, entry at the load address + 0x200. A stack is not
 * required; one is given so an early fault has somewhere to push.
 */
void linux_entry_state(const struct linux_layout *lay, struct guest_boot_state *out)
{
	memset(out, 0, sizeof(*out));
	out->mode = GUEST_MODE_LONG64;
	out->rip = lay->kernel.base + LX_ENTRY64_OFFSET;
	out->rsi = lay->data + LX_DATA_ZERO_PAGE;
	out->rsp = lay->data + LX_DATA_STACK_TOP;
	out->cr3 = lay->data + LX_DATA_PML4;
	out->gdt_base = lay->data + LX_DATA_GDT;
	out->gdt_limit = LX_GDT_ENTRIES * 8 - 1;
	out->cs_sel = LX_BOOT_CS;
	out->ds_sel = LX_BOOT_DS;
}
