/* Shadow EPT roots, pool and faults: EPT12 walked and A/D-updated, composed with EPT01, one 4 KiB leaf per violation (pure). */
#include "hv/nested/shadow_ept.h"

#define SHADOW_LEVELS 4
#define EP4TA_MASK    0x000ffffffffff000ULL /* bits 51:12 of an EPTP name the EPT (SDM "INVEPT") */

void shadow_ept_init(struct shadow_ept *se, const struct ept12_caps *caps, const struct shadow_ept_ops *ops)
{
	*se = (struct shadow_ept){ .caps = *caps, .ops = ops };
}

static uint64_t *table_of(const struct shadow_ept *se, uint64_t hpa)
{
	return se->ops->table(se->ops->ctx, hpa);
}

/* Frees every table below this one (level 4 = PML4 ... 2 = PD; leaves are 4 KiB only) and clears its entries. */
static void free_below(struct shadow_ept *se, uint64_t *table, unsigned int level)
{
	for (unsigned int i = 0; level > 1 && i < 512; i++) {
		uint64_t child = table[i] & EPT_ADDR_MASK;

		if (!(table[i] & EPT_RWX))
			continue;
		free_below(se, table_of(se, child), level - 1);
		se->ops->free_table(se->ops->ctx, child);
		se->stats.pages--;
		table[i] = 0;
	}
}

/* A root keeps its PML4 (vmcs02's EPTP stays valid) and loses every translation. */
static void empty_root(struct shadow_ept *se, struct shadow_ept_root *r)
{
	uint64_t *pml4 = table_of(se, r->pml4);

	free_below(se, pml4, SHADOW_LEVELS);
	for (unsigned int i = 0; i < 512; i++)
		pml4[i] = 0;
}

static void empty_all(struct shadow_ept *se)
{
	for (unsigned int i = 0; i < SHADOW_EPT_ROOTS; i++)
		if (se->root[i].valid)
			empty_root(se, &se->root[i]);
}

static struct shadow_ept_root *find_root(struct shadow_ept *se, uint64_t eptp12)
{
	for (unsigned int i = 0; i < SHADOW_EPT_ROOTS; i++)
		if (se->root[i].valid && se->root[i].eptp12 == eptp12)
			return &se->root[i];
	return NULL;
}

/* A free slot, else the least recently used one. */
static struct shadow_ept_root *slot_for_new_root(struct shadow_ept *se)
{
	struct shadow_ept_root *lru = &se->root[0];

	for (unsigned int i = 0; i < SHADOW_EPT_ROOTS; i++) {
		if (!se->root[i].valid)
			return &se->root[i];
		if (se->root[i].last_use < lru->last_use)
			lru = &se->root[i];
	}
	return lru;
}

/* The least recently used valid root, for a PML4 page when the pool has none. */
static struct shadow_ept_root *lru_valid_root(struct shadow_ept *se)
{
	struct shadow_ept_root *lru = NULL;

	for (unsigned int i = 0; i < SHADOW_EPT_ROOTS; i++)
		if (se->root[i].valid && (!lru || se->root[i].last_use < lru->last_use))
			lru = &se->root[i];
	return lru;
}

/*
 * A new root: a free slot with a fresh PML4, or an evicted root's PML4.
 * Reusing a PML4 reuses its EPTP02, which the hardware may still have
 * translations cached for: *invept asks for INVEPT before the next entry.
 */
static struct shadow_ept_root *new_root(struct shadow_ept *se, uint64_t eptp12, bool *invept)
{
	struct shadow_ept_root *r = slot_for_new_root(se);
	uint64_t pml4 = r->valid ? 0 : se->ops->alloc_table(se->ops->ctx);

	if (!r->valid && !pml4)
		r = lru_valid_root(se);
	if (!r)
		return NULL;
	if (pml4) {
		se->stats.pages++;
		r->pml4 = pml4;
	} else {
		empty_root(se, r);
		se->stats.evictions++;
		*invept = true;
	}
	r->valid = true;
	r->eptp12 = eptp12;
	return r;
}

static struct shadow_ept_root *get_root(struct shadow_ept *se, uint64_t eptp12, bool *invept)
{
	struct shadow_ept_root *r = find_root(se, eptp12);

	if (!r)
		r = new_root(se, eptp12, invept);
	if (r)
		r->last_use = ++se->clock;
	return r;
}

uint64_t shadow_ept_root(struct shadow_ept *se, uint64_t eptp12, bool *invept)
{
	struct shadow_ept_root *r = get_root(se, eptp12, invept);

	return r ? r->pml4 : 0;
}

/* Writes leaf for gpa2 under root, adding the tables it needs; false when the pool gave none (what was added stays, reachable). */
static bool install_leaf(struct shadow_ept *se, const struct shadow_ept_root *r, uint64_t gpa2, uint64_t leaf)
{
	uint64_t *table = table_of(se, r->pml4);

	for (unsigned int level = SHADOW_LEVELS; level > 1; level--) {
		uint64_t *e = &table[(gpa2 >> (12 + 9 * (level - 1))) & 511];

		if (!(*e & EPT_RWX)) {
			uint64_t page = se->ops->alloc_table(se->ops->ctx);

			if (!page)
				return false;
			se->stats.pages++;
			*e = page | EPT_RWX; /* a table's rights are the leaf's to restrict */
		}
		table = table_of(se, *e & EPT_ADDR_MASK);
	}
	table[(gpa2 >> 12) & 511] = leaf;
	return true;
}

void shadow_ept_invept_single(struct shadow_ept *se, uint64_t eptp12)
{
	for (unsigned int i = 0; i < SHADOW_EPT_ROOTS; i++)
		if (se->root[i].valid && !((se->root[i].eptp12 ^ eptp12) & EP4TA_MASK))
			empty_root(se, &se->root[i]);
	se->stats.invepts++;
}

void shadow_ept_invept_all(struct shadow_ept *se)
{
	empty_all(se);
	se->stats.invepts++;
}

void shadow_ept_drop_all(struct shadow_ept *se)
{
	empty_all(se);
	se->stats.drops++;
}

void shadow_ept_release(struct shadow_ept *se)
{
	empty_all(se);
	for (unsigned int i = 0; i < SHADOW_EPT_ROOTS; i++) {
		if (!se->root[i].valid)
			continue;
		se->ops->free_table(se->ops->ctx, se->root[i].pml4);
		se->stats.pages--;
		se->root[i] = (struct shadow_ept_root){ 0 };
	}
}

/*
 * Rights EPT12 AND EPT01; without write while EPTP12[6] is set and the
 * leaf's dirty flag clear, so the first write faults and sets it (SDM
 * 29.3.5) and PML logs it (29.3.6); never write without read (that would
 * be a misconfiguration, SDM 29.3.3.1). EPT12's memory type and ignore-PAT
 * (SDM 29.3.7), but device memory (UC in EPT01) stays UC.
 */
uint64_t shadow_ept_leaf(const struct ept12_walk *w, const struct shadow_ept_l1_page *p)
{
	unsigned int rwx = w->rwx & p->rwx & EPT_RWX;
	uint64_t mt = p->memtype == EPT_MT_UC ? EPT_MT_UC : w->memtype;

	if (w->ad && !w->dirty)
		rwx &= ~(unsigned int)EPT_WRITE;
	if (!(rwx & EPT_READ))
		rwx &= ~(unsigned int)EPT_WRITE;
	return (p->hpa & EPT_ADDR_MASK) | rwx | (mt << EPT_MT_SHIFT) | (w->ignore_pat ? EPT_IGNORE_PAT : 0);
}

/* EPT12's verdict for L1, if it is not a translation. */
static bool l1_outcome(const struct ept12_walk *w, struct shadow_ept_result *res)
{
	switch (w->status) {
	case EPT12_OK:
		return false;
	case EPT12_VIOLATION:
		res->status = SHADOW_EPT_L1_VIOLATION;
		res->qual = w->qual;
		break;
	case EPT12_MISCONFIG:
		res->status = SHADOW_EPT_L1_MISCONFIG;
		break;
	case EPT12_RETRY:
		res->status = SHADOW_EPT_RETRY;
		break;
	case EPT12_NOT_L1_MEM:
	default:
		res->status = SHADOW_EPT_L1_TABLE_NOT_RAM;
		res->gpa1 = w->table_gpa1;
		break;
	}
	return true;
}

/* The access as EPT12 allows it: PML log-full first, then the A/D flags, then the log entry (SDM 29.3.6). */
static bool set_flags_and_log(struct shadow_ept *se, const struct shadow_ept_fault *f, struct ept12_walk *w,
			      struct shadow_ept_result *res)
{
	bool pending = ept12_ad_pending(w);
	enum ept_pml_action pml = ept_pml_decide(f->pml, pending, ept12_dirty_pending(w), f->gpa2, &res->pml_entry);

	if (pml == EPT_PML_FULL) {
		res->status = SHADOW_EPT_L1_PML_FULL;
		return false;
	}
	if (pending && ept12_set_ad(w, &se->ops->mem) != EPT12_OK)
		return !l1_outcome(w, res); /* L1 changed an entry (RETRY) or it left L1 memory */
	res->pml_log = pml == EPT_PML_LOG;
	return true;
}

/* Installs leaf; with the pool empty, every root is emptied and it is tried once more. */
static void install(struct shadow_ept *se, const struct shadow_ept_fault *f, uint64_t leaf, struct shadow_ept_result *res)
{
	bool invept = false;
	const struct shadow_ept_root *r = get_root(se, f->eptp12, &invept);

	if (!r || !install_leaf(se, r, f->gpa2, leaf)) {
		empty_all(se);
		se->stats.pool_flushes++;
		invept = true;
		r = get_root(se, f->eptp12, &invept);
		if (!r || !install_leaf(se, r, f->gpa2, leaf)) {
			res->status = SHADOW_EPT_NO_MEMORY_FLUSHED;
			res->invept = true;
			return;
		}
	}
	res->invept = invept;
	res->status = SHADOW_EPT_INSTALLED;
	se->stats.installs++;
}

struct shadow_ept_result shadow_ept_fault(struct shadow_ept *se, const struct shadow_ept_fault *f)
{
	struct ept12_access a = { .gpa2 = f->gpa2, .access = f->access, .paging_structure = f->paging_structure };
	struct shadow_ept_result res = { .status = SHADOW_EPT_RETRY };
	struct shadow_ept_l1_page p = { 0 };
	struct ept12_walk w;

	se->stats.faults++;
	ept12_walk(&se->caps, f->eptp12, &a, &se->ops->mem, &w);
	if (l1_outcome(&w, &res) || !set_flags_and_log(se, f, &w, &res))
		return res;
	se->ops->ept01(se->ops->ctx, w.gpa1 & ~0xfffULL, &p);
	if (!p.mapped || (w.access & ~p.rwx)) {
		res.status = SHADOW_EPT_L0_FAULT;
		res.gpa1 = w.gpa1;
		res.access = w.access;
		return res;
	}
	install(se, f, shadow_ept_leaf(&w, &p), &res);
	return res;
}
