/* L1's EPT walked for L2's accesses: present, misconfigured and reserved entries per level, permissions, A/D flags (SDM 29.3) (pure). */
#include "hv/nested/ept12_walk.h"

#define EPT12_LEVELS   4
#define EPT12_GPA_BITS 48 /* a 4-level EPT translates bits 47:0 (SDM 29.3.2) */

/* An entry is present when any of bits 2:0 is set (SDM 29.3.2; no mode-based execute offered). */
static bool present(uint64_t e)
{
	return (e & EPT_RWX) != 0;
}

/* Does a present entry at this level map a page (bit 7 in a PDPTE or PDE; a PTE always)? */
static bool maps_page(uint64_t e, unsigned int level)
{
	return level == 1 || ((level == 2 || level == 3) && (e & EPT_LARGE));
}

/* Bits 51:MAXPHYADDR, reserved in every entry (SDM 29.3.3.1, "a bit in the range 51:12 beyond the width"). */
static uint64_t reserved_addr_bits(const struct ept12_caps *caps)
{
	unsigned int width = caps->maxphyaddr && caps->maxphyaddr < 52 ? caps->maxphyaddr : 52;

	return (BIT(52) - 1) & ~(BIT(width) - 1);
}

/*
 * Reserved bits of a present entry (SDM Tables 29-1 to 29-6): bits 7:3 of
 * an entry that references a table (so bit 7 of a PML4E, and bit 7 of a
 * PDE/PDPTE when L1 is not offered that page size), bits 20:12 of a 2 MiB
 * and 29:12 of a 1 GiB leaf. Bochs 2.7 leaves bit 12 of large leaves
 * unchecked (cpu/paging.cc, translate_guest_physical: ppf &= ...ffffe000);
 * this follows the SDM.
 */
static bool reserved_bits_set(const struct ept12_caps *caps, uint64_t e, unsigned int level)
{
	if (e & reserved_addr_bits(caps))
		return true;
	if (level == 4 || !(e & EPT_LARGE) || level == 1)
		return level != 1 && (e & 0xf8);
	if (level == 3)
		return !caps->page_1g || (e & 0x3ffff000ULL);
	return !caps->page_2m || (e & 0x1ff000ULL);
}

/* SDM 29.3.3.1: write without read, execute-only when not offered, reserved bits, leaf memory type 2, 3 or 7. */
static bool misconfigured(const struct ept12_caps *caps, uint64_t e, unsigned int level)
{
	unsigned int xwr = e & EPT_RWX, mt = (unsigned int)((e & EPT_MT_MASK) >> EPT_MT_SHIFT);

	if ((xwr & (EPT_READ | EPT_WRITE)) == EPT_WRITE)
		return true;
	if (xwr == EPT_EXEC && !caps->exec_only)
		return true;
	if (reserved_bits_set(caps, e, level))
		return true;
	return maps_page(e, level) && (mt == 2 || mt == 3 || mt == 7);
}

/*
 * EPT violation: bits 2:0 the access, bits 5:3 the AND of bits 2:0 over
 * the entries used, a not-present one included (SDM Table 28-7). The
 * caller adds bits 7 and 8 (guest-linear address) and 12 (NMI unblocking).
 */
static enum ept12_status violation(struct ept12_walk *w, unsigned int rwx)
{
	w->rwx = rwx;
	w->qual = (uint32_t)(w->access | (rwx << 3));
	return w->status = EPT12_VIOLATION;
}

static void take_leaf(struct ept12_walk *w, uint64_t e, unsigned int level, uint64_t gpa2)
{
	uint64_t offset = BIT(12 + 9 * (level - 1)) - 1;

	w->gpa1 = (e & EPT_ADDR_MASK & ~offset) | (gpa2 & offset);
	w->memtype = (unsigned int)((e & EPT_MT_MASK) >> EPT_MT_SHIFT);
	w->ignore_pat = (e & EPT_IGNORE_PAT) != 0;
	w->dirty = (e & EPT_DIRTY) != 0;
}

/* The access as EPT sees it: with EPTP[6], L2's paging-structure accesses are writes, reported as read and write (SDM Table 28-7 note). */
static unsigned int effective_access(const struct ept12_access *a, bool ad)
{
	unsigned int access = a->access & (EPT12_ACCESS_READ | EPT12_ACCESS_WRITE | EPT12_ACCESS_FETCH);

	if (ad && a->paging_structure)
		access |= EPT12_ACCESS_READ | EPT12_ACCESS_WRITE;
	return access;
}

enum ept12_status ept12_walk(const struct ept12_caps *caps, uint64_t eptp, const struct ept12_access *a,
			     const struct ept12_mem *mem, struct ept12_walk *w)
{
	uint64_t table = eptp & EPT_ADDR_MASK & ~reserved_addr_bits(caps);
	unsigned int rwx = EPT_RWX;

	*w = (struct ept12_walk){ .ad = (eptp & EPTP_AD_ENABLE) != 0 };
	w->access = effective_access(a, w->ad);
	if (a->gpa2 >> EPT12_GPA_BITS)
		return violation(w, 0); /* beyond what 4-level EPT translates: nothing maps it */
	for (unsigned int level = EPT12_LEVELS; level >= 1; level--) {
		uint64_t at = table + (((a->gpa2 >> (12 + 9 * (level - 1))) & 511) << 3), e;

		w->level = level;
		if (!mem->read64(mem->ctx, at, &e)) {
			w->table_gpa1 = at;
			return w->status = EPT12_NOT_L1_MEM;
		}
		w->entry_gpa1[w->n] = at;
		w->entry[w->n++] = e;
		rwx &= (unsigned int)(e & EPT_RWX);
		if (!present(e))
			return violation(w, rwx);
		if (misconfigured(caps, e, level))
			return w->status = EPT12_MISCONFIG;
		if (maps_page(e, level)) {
			take_leaf(w, e, level, a->gpa2);
			break;
		}
		table = e & EPT_ADDR_MASK;
	}
	w->rwx = rwx;
	if (w->access & ~rwx)
		return violation(w, rwx);
	return w->status = EPT12_OK;
}

/* SDM 29.3.5: the accessed flag in every entry used; the dirty flag in the leaf on a write. */
static uint64_t ad_bits_wanted(const struct ept12_walk *w, unsigned int i)
{
	bool leaf = i + 1 == w->n;

	return EPT_ACCESSED | ((leaf && (w->access & EPT12_ACCESS_WRITE)) ? EPT_DIRTY : 0);
}

bool ept12_ad_pending(const struct ept12_walk *w)
{
	for (unsigned int i = 0; w->status == EPT12_OK && w->ad && i < w->n; i++)
		if ((w->entry[i] & ad_bits_wanted(w, i)) != ad_bits_wanted(w, i))
			return true;
	return false;
}

bool ept12_dirty_pending(const struct ept12_walk *w)
{
	return w->status == EPT12_OK && w->ad && (w->access & EPT12_ACCESS_WRITE) && !w->dirty;
}

enum ept12_status ept12_set_ad(struct ept12_walk *w, const struct ept12_mem *mem)
{
	for (unsigned int i = 0; w->status == EPT12_OK && w->ad && i < w->n; i++) {
		uint64_t want = w->entry[i] | ad_bits_wanted(w, i);

		if (want == w->entry[i])
			continue;
		switch (mem->cmpxchg64(mem->ctx, w->entry_gpa1[i], w->entry[i], want)) {
		case EPT12_CMPXCHG_OK:
			for (unsigned int j = i; j < w->n; j++) /* an entry L1 made its own table's entry too */
				if (w->entry_gpa1[j] == w->entry_gpa1[i])
					w->entry[j] = want;
			break;
		case EPT12_CMPXCHG_CHANGED:
			return w->status = EPT12_RETRY;
		case EPT12_CMPXCHG_NOT_L1:
		default:
			w->table_gpa1 = w->entry_gpa1[i];
			return w->status = EPT12_NOT_L1_MEM;
		}
	}
	if (w->status == EPT12_OK && w->ad && (w->access & EPT12_ACCESS_WRITE))
		w->dirty = true;
	return w->status;
}
