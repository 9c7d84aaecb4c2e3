/* Builds L1's EPT: identity map, RAM write-back, MMIO and holes' neighbours uncached, hypervisor memory absent (pure). */
#include "hv/vmx/ept.h"

enum region_kind {
	REGION_HOLE,  /* not mapped at all */
	REGION_WB,
	REGION_UC,
	REGION_MIXED, /* needs a smaller page */
};

bool ept_mem_type_is_ram(uint32_t type)
{
	return type == MEM_USABLE || type == MEM_ACPI_RECLAIM || type == MEM_ACPI_NVS;
}

static uint64_t overlap_len(uint64_t b1, uint64_t e1, uint64_t b2, uint64_t e2)
{
	uint64_t b = MAX(b1, b2), e = MIN(e1, e2);

	return e > b ? e - b : 0;
}

/*
 * What [base, end) is. A 4 KiB page is never MIXED: touching a hole makes it
 * a hole (the hypervisor's memory must never leak), touching RAM makes it
 * WB (a RAM range that ends inside the page still needs its bytes), else UC.
 */
static enum region_kind classify(const struct ept_layout *l, uint64_t base, uint64_t end)
{
	bool page = end - base <= PAGE_SIZE;
	uint64_t ram = 0;

	if (end > l->limit)
		return base >= l->limit ? REGION_HOLE : REGION_MIXED;
	for (uint32_t i = 0; i < l->holes->count; i++) {
		const struct boot_mem_range *h = &l->holes->r[i];
		uint64_t o = overlap_len(base, end, h->base, h->base + h->len);

		if (o == end - base || (o && page))
			return REGION_HOLE;
		if (o)
			return REGION_MIXED;
	}
	for (uint32_t i = 0; i < l->ram->count; i++) {
		const struct boot_mem_range *r = &l->ram->r[i];

		if (ept_mem_type_is_ram(r->type))
			ram += overlap_len(base, end, r->base, r->base + r->len);
	}
	if (ram == end - base || (ram && page))
		return REGION_WB;
	return ram ? REGION_MIXED : REGION_UC;
}

#define EPT_MAX_GPA_BITS      48 /* a 4-level EPT walk (SDM 29.3.2) */
#define EPT_LIMIT_WITHOUT_1G  GiB(64)

uint64_t ept_identity_limit(const struct mem_map *map, unsigned int maxphyaddr, bool allow_1g)
{
	uint64_t top = GiB(4), width = 1ULL << MIN(maxphyaddr, EPT_MAX_GPA_BITS);

	for (uint32_t i = 0; i < map->count; i++)
		top = MAX(top, map->r[i].base + map->r[i].len);
	top = ALIGN_UP(top, GiB(1));
	if (!allow_1g)
		return MIN(MAX(top, EPT_LIMIT_WITHOUT_1G), width);
	return MIN(MAX(top, width), 1ULL << EPT_MAX_GPA_BITS);
}

static bool leaf_allowed(const struct ept_layout *l, int level)
{
	return level == 1 || (level == 2 && l->allow_2m) || (level == 3 && l->allow_1g);
}

/* Fills the table of `level` (4 = PML4 ... 1 = PT) covering [base, base + 512 entries). */
static int fill_table(const struct ept_layout *l, paddr_t (*alloc_frame)(void), uint64_t *table, uint64_t base, int level)
{
	uint64_t entry_size = 1ULL << (PAGE_SHIFT + 9 * (level - 1));

	for (unsigned int i = 0; i < 512; i++) {
		uint64_t b = base + i * entry_size;
		enum region_kind kind;
		paddr_t sub;

		if (b >= l->limit)
			break;
		kind = classify(l, b, b + entry_size);
		if (kind == REGION_HOLE)
			continue;
		if (kind != REGION_MIXED && leaf_allowed(l, level)) {
			uint64_t mt = kind == REGION_WB ? EPT_MT_WB : EPT_MT_UC;

			table[i] = b | EPT_RWX | (mt << EPT_MT_SHIFT) | (level > 1 ? EPT_LARGE : 0);
			continue;
		}
		sub = alloc_frame();
		if (!sub)
			return -1;
		table[i] = sub | EPT_RWX;
		if (fill_table(l, alloc_frame, phys_to_virt(sub), b, level - 1) < 0)
			return -1;
	}
	return 0;
}

int ept_build_identity(const struct ept_layout *layout, paddr_t (*alloc_frame)(void), paddr_t *pml4_out)
{
	paddr_t pml4 = alloc_frame();

	if (!pml4)
		return -1;
	*pml4_out = pml4;
	return fill_table(layout, alloc_frame, phys_to_virt(pml4), 0, 4);
}

uint64_t ept_make_eptp(paddr_t pml4, unsigned int memtype)
{
	/* Page-walk length minus one in bits 5:3; A/D flags left off (SDM 25.6.11). */
	return (pml4 & EPT_ADDR_MASK) | (3ULL << EPTP_WALK_SHIFT) | ((uint64_t)memtype << EPTP_MT_SHIFT);
}

bool ept_translate_rights(paddr_t pml4, uint64_t gpa, struct ept_translation *t)
{
	const uint64_t *table = phys_to_virt(pml4);
	unsigned int rights = EPT_RWX;

	for (int lvl = 4; lvl >= 1; lvl--) {
		unsigned int shift = PAGE_SHIFT + 9 * (lvl - 1);
		uint64_t e = table[(gpa >> shift) & 511];

		rights &= (unsigned int)(e & EPT_RWX);
		if (!rights)
			return false;
		if (lvl == 1 || (e & EPT_LARGE)) {
			uint64_t offset_mask = (1ULL << shift) - 1;

			t->hpa = (e & EPT_ADDR_MASK & ~offset_mask) | (gpa & offset_mask);
			t->memtype = (unsigned int)((e & EPT_MT_MASK) >> EPT_MT_SHIFT);
			t->level = (unsigned int)lvl;
			t->rights = rights;
			return true;
		}
		table = phys_to_virt(e & EPT_ADDR_MASK);
	}
	return false;
}

bool ept_translate(paddr_t pml4, uint64_t gpa, uint64_t *hpa, unsigned int *memtype, unsigned int *level)
{
	struct ept_translation t;

	if (!ept_translate_rights(pml4, gpa, &t))
		return false;
	*hpa = t.hpa;
	*memtype = t.memtype;
	*level = t.level;
	return true;
}

/* Replaces a large-page entry of `level` by a table of the next level with the same mapping (SDM 29.3.2). */
static int split_large_entry(uint64_t *entry, int level, paddr_t (*alloc_frame)(void))
{
	uint64_t child_size = 1ULL << (PAGE_SHIFT + 9 * (level - 2));
	uint64_t attrs = *entry & (EPT_RWX | EPT_MT_MASK | EPT_IGNORE_PAT);
	uint64_t base = *entry & EPT_ADDR_MASK;
	paddr_t sub = alloc_frame();
	uint64_t *t;

	if (!sub)
		return -1;
	t = phys_to_virt(sub);
	for (unsigned int i = 0; i < 512; i++)
		t[i] = (base + i * child_size) | attrs | (level - 1 > 1 ? EPT_LARGE : 0);
	*entry = sub | EPT_RWX;
	return 0;
}

int ept_restrict_page(paddr_t pml4, uint64_t gpa, uint64_t rights, paddr_t (*alloc_frame)(void))
{
	uint64_t *table = phys_to_virt(pml4);

	for (int level = 4; level >= 1; level--) {
		uint64_t *e = &table[(gpa >> (PAGE_SHIFT + 9 * (level - 1))) & 511];

		if (!(*e & EPT_RWX))
			return -1;
		if (level == 1) {
			*e = (*e & ~(uint64_t)EPT_RWX) | (rights & EPT_RWX);
			return 0;
		}
		if ((*e & EPT_LARGE) && split_large_entry(e, level, alloc_frame) < 0)
			return -1;
		table = phys_to_virt(*e & EPT_ADDR_MASK);
	}
	return -1;
}
