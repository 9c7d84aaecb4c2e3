/* Builds the VT-d legacy-mode structures: root and context tables, second-level identity tables; decodes faults (pure). */
#include "hv/iommu/vtd_tables.h"
#include "hv/iommu/vtd_regs.h"

enum iopt_region { IOPT_HOLE, IOPT_MAPPED, IOPT_MIXED };

static uint64_t overlap(uint64_t b1, uint64_t e1, uint64_t b2, uint64_t e2)
{
	uint64_t b = MAX(b1, b2), e = MIN(e1, e2);

	return e > b ? e - b : 0;
}

static uint64_t hole_bytes(const struct mem_map *holes, uint64_t base, uint64_t end)
{
	uint64_t sum = 0;

	for (uint32_t i = 0; i < holes->count; i++)
		sum += overlap(base, end, holes->r[i].base, holes->r[i].base + holes->r[i].len);
	return sum;
}

bool iopt_range_hits_hole(const struct mem_map *holes, uint64_t base, uint64_t end)
{
	return hole_bytes(holes, base, end) != 0;
}

/* A 4 KiB page is never mixed: touching a hole makes it a hole, so no byte of the hypervisor leaks. */
static enum iopt_region classify(const struct iopt_layout *l, uint64_t base, uint64_t end)
{
	uint64_t h;

	if (base >= l->limit)
		return IOPT_HOLE;
	if (end > l->limit)
		return IOPT_MIXED;
	h = hole_bytes(l->holes, base, end);
	if (!h)
		return IOPT_MAPPED;
	return h == end - base || end - base <= PAGE_SIZE ? IOPT_HOLE : IOPT_MIXED;
}

static bool leaf_allowed(const struct iopt_layout *l, unsigned int level)
{
	return level == 1 || (level == 2 && l->allow_2m) || (level == 3 && l->allow_1g);
}

/* Fills the table of `level` covering 512 entries from base (spec 9.8: SL-PML4E .. SL-PTE). */
static int fill(const struct iopt_layout *l, paddr_t (*alloc_frame)(void), uint64_t *table, uint64_t base,
		unsigned int level)
{
	uint64_t size = 1ULL << (PAGE_SHIFT + 9 * (level - 1));

	for (unsigned int i = 0; i < 512; i++) {
		uint64_t b = base + i * size;
		enum iopt_region kind = classify(l, b, b + size);
		paddr_t sub;

		if (kind == IOPT_HOLE)
			continue;
		if (kind == IOPT_MAPPED && leaf_allowed(l, level)) {
			table[i] = b | VTD_SL_R | VTD_SL_W | (level > 1 ? VTD_SL_PS : 0);
			continue;
		}
		sub = alloc_frame();
		if (!sub)
			return -1;
		table[i] = sub | VTD_SL_R | VTD_SL_W;
		if (fill(l, alloc_frame, phys_to_virt(sub), b, level - 1) < 0)
			return -1;
	}
	return 0;
}

int iopt_build_identity(const struct iopt_layout *l, paddr_t (*alloc_frame)(void), paddr_t *top_out)
{
	paddr_t top;

	if ((l->levels != 3 && l->levels != 4) || !IS_ALIGNED(l->limit, GiB(1)) ||
	    l->limit > (1ULL << (PAGE_SHIFT + 9 * l->levels)))
		return -1;
	top = alloc_frame();
	if (!top)
		return -1;
	*top_out = top;
	return fill(l, alloc_frame, phys_to_virt(top), 0, l->levels);
}

bool iopt_translate(paddr_t top, unsigned int levels, uint64_t addr, uint64_t *hpa, bool *writable)
{
	const uint64_t *table = phys_to_virt(top);
	bool w = true;

	if (levels < 3 || levels > 4 || addr >> (PAGE_SHIFT + 9 * levels))
		return false;
	for (unsigned int lvl = levels; lvl >= 1; lvl--) {
		unsigned int shift = PAGE_SHIFT + 9 * (lvl - 1);
		uint64_t e = table[(addr >> shift) & 511];

		if (!(e & (VTD_SL_R | VTD_SL_W)))
			return false;
		w = w && (e & VTD_SL_W);
		if (lvl == 1 || (e & VTD_SL_PS)) {
			uint64_t off = (1ULL << shift) - 1;

			*hpa = (e & VTD_SL_ADDR & ~off) | (addr & off);
			*writable = w;
			return true;
		}
		table = phys_to_virt(e & VTD_SL_ADDR);
	}
	return false;
}

unsigned int vtd_pick_levels(uint64_t cap, uint64_t limit)
{
	uint64_t sagaw = VTD_CAP_SAGAW(cap);

	if ((sagaw & VTD_SAGAW_3LEVEL) && (limit <= GiB(512) || !(sagaw & VTD_SAGAW_4LEVEL)))
		return 3;
	if (sagaw & VTD_SAGAW_4LEVEL)
		return 4;
	return 0;
}

void vtd_fill_root_table(uint64_t root[512], paddr_t context_table)
{
	for (unsigned int bus = 0; bus < 256; bus++) {
		root[2 * bus] = (context_table & VTD_SL_ADDR) | VTD_ENTRY_PRESENT;
		root[2 * bus + 1] = 0;
	}
}

void vtd_fill_context_table(uint64_t ctx[512], paddr_t sl_top, unsigned int levels, uint16_t domain)
{
	uint64_t aw = levels == 4 ? VTD_CTX_AW_4LEVEL : VTD_CTX_AW_3LEVEL;

	for (unsigned int devfn = 0; devfn < 256; devfn++) {
		ctx[2 * devfn] = (sl_top & VTD_SL_ADDR) | VTD_CTX_TT_UNTRANSLATED | VTD_ENTRY_PRESENT;
		ctx[2 * devfn + 1] = aw | ((uint64_t)domain << VTD_CTX_DID_SHIFT);
	}
}

void vtd_decode_fault(uint64_t lo, uint64_t hi, struct vtd_fault *f)
{
	uint16_t sid = VTD_FRCD_SID(hi);

	f->bus = (uint8_t)(sid >> 8);
	f->dev = (sid >> 3) & 31;
	f->fn = sid & 7;
	f->reason = VTD_FRCD_FR(hi);
	f->read = (hi & VTD_FRCD_READ) != 0;
	f->addr = lo & ~0xfffULL;
}

const char *vtd_fault_reason_name(uint8_t reason)
{
	static const char *const dma[] = {
		[0x1] = "root entry not present", [0x2] = "context entry not present",
		[0x3] = "invalid context entry", [0x4] = "address beyond the address width",
		[0x5] = "write to a page not writable (not mapped for the device)",
		[0x6] = "read of a page not readable (not mapped for the device)",
		[0x7] = "paging entry unreadable", [0x8] = "root table unreadable",
		[0x9] = "context table unreadable", [0xa] = "reserved bit in a root entry",
		[0xb] = "reserved bit in a context entry", [0xc] = "reserved bit in a paging entry",
		[0xd] = "translation type blocked by the context entry",
	};
	static const char *const intr[] = {
		[0x0] = "reserved bit in an interrupt request", [0x1] = "interrupt index beyond the table",
		[0x2] = "interrupt remapping entry not present", [0x3] = "interrupt remapping table unreadable",
		[0x4] = "reserved bit in an interrupt remapping entry",
		[0x5] = "compatibility-format interrupt blocked", [0x6] = "interrupt source-id check failed",
	};

	if (reason < ARRAY_SIZE(dma) && dma[reason])
		return dma[reason];
	if (reason >= 0x20 && reason - 0x20 < (int)ARRAY_SIZE(intr))
		return intr[reason - 0x20];
	return "unlisted fault reason";
}
