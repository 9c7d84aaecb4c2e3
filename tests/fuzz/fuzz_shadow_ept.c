/* libFuzzer target: random EPT12 tables in a fake L1 memory, random L2 faults, L1 writes, INVEPTs and EPT01 changes through the shadow EPT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv/nested/shadow_ept.h"

/*
 * Invariants, checked after every operation:
 *  - no crash (ASan/UBSan); L1 memory is touched only through the
 *    callbacks, at 8-aligned addresses, at most 4 reads and 4 writes per
 *    fault (walks terminate); pool pages only through the pool;
 *  - every shadow leaf maps a host frame that EPT01 gives for an L1
 *    address, with rights within EPT01's (EPT01 changes are followed by
 *    shadow_ept_drop_all) and within EPT12's AND as an independent walk
 *    found them when the leaf was installed (L1 may change EPT12 later
 *    without INVEPT: the SDM lets that stay unseen), and never without
 *    write permission missing from dirty tracking: a writable leaf under
 *    EPTP[6] had EPT12's dirty flag set;
 *  - no entry of the shadow is misconfigured (write without read, a large
 *    page, a reserved memory type);
 *  - an INSTALLED fault leaves a leaf that allows the access; an
 *    L1_VIOLATION's qualification is the access and the rights the
 *    reference walk found;
 *  - pool accounting balances: pages the pool lent == stats.pages == pages
 *    reachable from the roots; shadow_ept_release gives every page back.
 */
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "invariant failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

/* ---- the input as a PRNG seed and an operation stream ------------------------------------- */

struct input {
	const uint8_t *p;
	size_t n;
	uint64_t rng;
};

static uint8_t byte(struct input *in)
{
	uint8_t b = 0;

	if (in->n) {
		b = *in->p++;
		in->n--;
	}
	return b;
}

static uint64_t rnd(struct input *in)
{
	in->rng ^= in->rng << 13;
	in->rng ^= in->rng >> 7;
	in->rng ^= in->rng << 17;
	return in->rng;
}

/* ---- L1 memory: 32 pages at 0 ----------------------------------------------------------- */

#define L1_PAGES 32
#define L1_SIZE  (L1_PAGES * 4096ULL)
#define BIG_BASE 0x40000000ULL          /* [1 GiB, 2 GiB): more L1 RAM (no EPT12 table there) */
#define DEV_BASE 0x80000000ULL          /* 2 MiB of L1 device memory: UC */
#define HPA_BASE 0x500000000ULL
#define HPA_OF(gpa1) (HPA_BASE + (gpa1))

static uint64_t l1[L1_PAGES * 512];
static unsigned int reads, writes;
static bool race; /* another vCPU of L1 rewrites the next entry we update (an ignored bit, 11) */

static bool l1_read64(void *ctx, uint64_t gpa1, uint64_t *val)
{
	(void)ctx;
	CHECK(!(gpa1 & 7));
	reads++;
	if (gpa1 >= L1_SIZE)
		return false;
	*val = l1[gpa1 / 8];
	return true;
}

static enum ept12_cmpxchg_result l1_cmpxchg64(void *ctx, uint64_t gpa1, uint64_t old, uint64_t new_val)
{
	(void)ctx;
	CHECK(!(gpa1 & 7));
	writes++;
	if (gpa1 >= L1_SIZE)
		return EPT12_CMPXCHG_NOT_L1;
	if (race)
		l1[gpa1 / 8] ^= BIT(11);
	race = false;
	if (l1[gpa1 / 8] != old)
		return EPT12_CMPXCHG_CHANGED;
	CHECK((new_val & ~old) && !((new_val ^ old) & ~(EPT_ACCESSED | EPT_DIRTY))); /* only A/D flags, set */
	l1[gpa1 / 8] = new_val;
	return EPT12_CMPXCHG_OK;
}

/* ---- EPT01: L1 pages the hypervisor maps, with rights that change ---------------------- */

static uint8_t l1_rights[L1_PAGES];
static uint32_t hv_pages; /* bit i: L1 page i is the hypervisor's */

static void ept01(void *ctx, uint64_t gpa1, struct shadow_ept_l1_page *out)
{
	(void)ctx;
	CHECK(!(gpa1 & 0xfff));
	*out = (struct shadow_ept_l1_page){ .mapped = true, .hpa = HPA_OF(gpa1), .rwx = EPT_RWX, .memtype = EPT_MT_WB };
	if (gpa1 < L1_SIZE) {
		out->mapped = !(hv_pages & (1u << (gpa1 >> 12)));
		out->rwx = l1_rights[gpa1 >> 12];
	} else if (gpa1 >= DEV_BASE && gpa1 < DEV_BASE + 0x200000) {
		out->memtype = EPT_MT_UC;
	} else if (gpa1 < BIG_BASE || gpa1 >= BIG_BASE + 0x40000000ULL) {
		out->mapped = false;
	}
}

/* ---- the pool ------------------------------------------------------------------------- */

#define POOL_MAX 48
#define POOL_HPA 0x100000000ULL
static uint64_t pool[POOL_MAX][512];
static bool pool_used[POOL_MAX];
static unsigned int pool_limit, pool_in_use;

static uint64_t pool_alloc(void *ctx)
{
	(void)ctx;
	for (unsigned int i = 0; pool_in_use < pool_limit && i < POOL_MAX; i++)
		if (!pool_used[i]) {
			pool_used[i] = true;
			pool_in_use++;
			memset(pool[i], 0, sizeof(pool[i]));
			return POOL_HPA + i * 4096ULL;
		}
	return 0;
}

static unsigned int pool_index(uint64_t hpa)
{
	CHECK(hpa >= POOL_HPA && hpa < POOL_HPA + POOL_MAX * 4096ULL && !(hpa & 0xfff));
	CHECK(pool_used[(hpa - POOL_HPA) / 4096]);
	return (unsigned int)((hpa - POOL_HPA) / 4096);
}

static void pool_free(void *ctx, uint64_t hpa)
{
	(void)ctx;
	pool_used[pool_index(hpa)] = false;
	pool_in_use--;
}

static uint64_t *pool_table(void *ctx, uint64_t hpa)
{
	(void)ctx;
	return pool[pool_index(hpa)];
}

static const struct shadow_ept_ops ops = {
	.mem = { .read64 = l1_read64, .cmpxchg64 = l1_cmpxchg64 },
	.ept01 = ept01, .alloc_table = pool_alloc, .free_table = pool_free, .table = pool_table,
};

/* ---- random EPT12 entries, dense in the first 8 slots of each L1 page -------------------- */

#define SLOTS 8

static const unsigned int valid_rights[] = { EPT_READ, EPT_READ | EPT_WRITE, EPT_READ | EPT_EXEC, EPT_RWX, EPT_EXEC };

static uint64_t random_addr(struct input *in, uint64_t r)
{
	switch ((r >> 12) & 7) {
	case 0: case 1: case 2: case 3: case 4:
		return (rnd(in) % L1_PAGES) << 12;
	case 5:
		return BIG_BASE + (rnd(in) & 0x3fe00000ULL) + ((r & BIT(40)) ? (rnd(in) & 0x1ff000ULL) : 0);
	case 6:
		return DEV_BASE + (rnd(in) & 0x1ff000ULL);
	default:
		return rnd(in) & 0x000ffffffffff000ULL;
	}
}

/* Mostly well-formed: table pointers into L1, leaves anywhere; now and then a wrong value or any bit flipped. */
static uint64_t random_entry(struct input *in)
{
	uint64_t r = rnd(in), e;
	unsigned int kind = r & 15;

	if (kind < 2)
		return r & ~(uint64_t)EPT_RWX;                 /* not present, junk elsewhere */
	if (kind == 15)
		return rnd(in);
	e = valid_rights[(r >> 20) % 5] | (r & EPT_ACCESSED);
	if (kind < 10) {
		e |= (rnd(in) % L1_PAGES) << 12;                 /* a table in L1 memory */
	} else {
		e |= random_addr(in, r) | (r & (EPT_IGNORE_PAT | EPT_DIRTY));
		e |= ((r & (3ULL << 24)) ? EPT_MT_WB : (r >> 26) & 7) << EPT_MT_SHIFT;
		e |= (r & BIT(30)) ? EPT_LARGE : 0;
	}
	if ((r & (15ULL << 31)) == 0)
		e ^= BIT(rnd(in) % 64);                          /* any bit, reserved or not */
	return e;
}

static void fill_l1(struct input *in)
{
	memset(l1, 0, sizeof(l1));
	for (unsigned int p = 0; p < L1_PAGES; p++)
		for (unsigned int i = 0; i < SLOTS; i++)
			l1[p * 512 + i] = random_entry(in);
}

static uint64_t pick_gpa2(struct input *in)
{
	uint64_t r = rnd(in), gpa2 = r & 0xfff;

	if ((r & 0xf000) == 0)
		return rnd(in); /* anywhere, bits above 47 included */
	for (unsigned int level = 4; level >= 1; level--)
		gpa2 |= (rnd(in) % SLOTS) << (12 + 9 * (level - 1));
	return gpa2;
}

/* ---- an independent walk of EPT12 for the rights and the leaf (misconfigurations not modelled) -- */

struct ref {
	bool translated;
	unsigned int rwx;  /* AND over the entries read */
	uint64_t gpa1, leaf;
	bool table_outside;
};

static struct ref ref_walk(uint64_t eptp12, uint64_t gpa2)
{
	struct ref f = { .rwx = EPT_RWX };
	uint64_t table = eptp12 & 0x000ffffffffff000ULL;

	if (gpa2 >> 48) {
		f.rwx = 0;
		return f;
	}
	for (int level = 4; level >= 1; level--) {
		uint64_t at = table + (((gpa2 >> (12 + 9 * (level - 1))) & 511) * 8), e;
		uint64_t size = 1ULL << (12 + 9 * (level - 1));

		if (at >= L1_SIZE) {
			f.table_outside = true;
			return f;
		}
		e = l1[at / 8];
		f.rwx &= (unsigned int)(e & EPT_RWX);
		if (!(e & EPT_RWX))
			return f;
		if (level == 1 || (e & EPT_LARGE)) {
			f.translated = true;
			f.leaf = e;
			f.gpa1 = (e & 0x000ffffffffff000ULL & ~(size - 1)) | (gpa2 & (size - 1));
			return f;
		}
		table = e & 0x000ffffffffff000ULL;
	}
	return f;
}

/* ---- what was installed, for the EPT12 half of the rights invariant --------------------- */

#define RECORDS 8192
#define MAX_OPS 2000

struct record {
	uint64_t eptp12, gpa2pg, gpa1pg;
	unsigned int rwx12;
	bool dirty12, used;
};

static struct record records[RECORDS];

static struct record *record_of(uint64_t eptp12, uint64_t gpa2pg, bool create)
{
	unsigned int h = (unsigned int)(((gpa2pg >> 12) * 31 + eptp12 * 7) % RECORDS);

	for (unsigned int i = 0; i < RECORDS; i++, h = (h + 1) % RECORDS) {
		struct record *r = &records[h];

		if (r->used && r->eptp12 == eptp12 && r->gpa2pg == gpa2pg)
			return r;
		if (!r->used) {
			if (!create)
				return NULL;
			*r = (struct record){ .eptp12 = eptp12, .gpa2pg = gpa2pg, .used = true };
			return r;
		}
	}
	CHECK(!"record table full");
	return NULL;
}

/* ---- the invariants over the whole shadow ------------------------------------------------ */

static struct shadow_ept se;

static bool memtype_valid(uint64_t mt)
{
	return mt == 0 || mt == 1 || mt == 4 || mt == 5 || mt == 6;
}

static void check_leaf(const struct shadow_ept_root *root, uint64_t gpa2pg, uint64_t leaf)
{
	unsigned int rwx = (unsigned int)(leaf & EPT_RWX);
	uint64_t hpa = leaf & EPT_ADDR_MASK, gpa1 = hpa - HPA_BASE;
	struct shadow_ept_l1_page p;
	const struct record *rec = record_of(root->eptp12, gpa2pg, false);

	CHECK((rwx & (EPT_READ | EPT_WRITE)) != EPT_WRITE);
	CHECK(!(leaf & EPT_LARGE) && memtype_valid((leaf & EPT_MT_MASK) >> EPT_MT_SHIFT));
	CHECK(!(leaf & ~(EPT_ADDR_MASK | EPT_RWX | EPT_MT_MASK | EPT_IGNORE_PAT)));
	CHECK(hpa >= HPA_BASE);
	ept01(NULL, gpa1, &p);
	CHECK(p.mapped && p.hpa == hpa && !(rwx & ~p.rwx));            /* EPT01 gave this frame, these rights */
	CHECK(rec && rec->gpa1pg == gpa1 && !(rwx & ~rec->rwx12));       /* EPT12 allowed them when installed */
	CHECK(!((root->eptp12 & EPTP_AD_ENABLE) && (rwx & EPT_WRITE)) || rec->dirty12);
}

/* Checks a table and what is below it; returns the pages it and its children hold. */
static unsigned int check_table(const struct shadow_ept_root *root, uint64_t hpa, int level, uint64_t base)
{
	const uint64_t *t = pool_table(NULL, hpa);
	unsigned int pages = 1;

	for (uint64_t i = 0; i < 512; i++) {
		uint64_t gpa2 = base | (i << (12 + 9 * (level - 1)));

		if (!(t[i] & EPT_RWX)) {
			CHECK(t[i] == 0);
			continue;
		}
		if (level == 1) {
			check_leaf(root, gpa2, t[i]);
			continue;
		}
		CHECK((t[i] & ~EPT_ADDR_MASK) == EPT_RWX);
		pages += check_table(root, t[i] & EPT_ADDR_MASK, level - 1, gpa2);
	}
	return pages;
}

static void check_all(void)
{
	unsigned int pages = 0;

	for (unsigned int i = 0; i < SHADOW_EPT_ROOTS; i++)
		if (se.root[i].valid)
			pages += check_table(&se.root[i], se.root[i].pml4, 4, 0);
	CHECK(pages == se.stats.pages && pages == pool_in_use);
}

/* The leaf of gpa2 under eptp12's root, 0 if none. */
static uint64_t shadow_leaf(uint64_t eptp12, uint64_t gpa2)
{
	for (unsigned int i = 0; i < SHADOW_EPT_ROOTS; i++) {
		const uint64_t *t;

		if (!se.root[i].valid || se.root[i].eptp12 != eptp12)
			continue;
		t = pool_table(NULL, se.root[i].pml4);
		for (int level = 4; level > 1; level--) {
			uint64_t e = t[(gpa2 >> (12 + 9 * (level - 1))) & 511];

			if (!(e & EPT_RWX))
				return 0;
			t = pool_table(NULL, e & EPT_ADDR_MASK);
		}
		return t[(gpa2 >> 12) & 511];
	}
	return 0;
}

/* ---- operations ---------------------------------------------------------------------------- */

static uint64_t eptps[6];
static struct ept_pml pml;

static void after_install(const struct shadow_ept_fault *f, unsigned int access)
{
	struct ref ref = ref_walk(f->eptp12, f->gpa2);
	uint64_t leaf = shadow_leaf(f->eptp12, f->gpa2);
	struct record *rec = record_of(f->eptp12, f->gpa2 & ~0xfffULL, true);

	CHECK(ref.translated && !(access & ~ref.rwx));
	CHECK((leaf & access) == access);
	rec->gpa1pg = ref.gpa1 & ~0xfffULL;
	rec->rwx12 = ref.rwx;
	rec->dirty12 = (ref.leaf & EPT_DIRTY) != 0;
	CHECK(!((f->eptp12 & EPTP_AD_ENABLE) && (access & EPT_WRITE)) || rec->dirty12);
	CHECK((leaf & EPT_ADDR_MASK) == HPA_OF(rec->gpa1pg));
}

static void check_result(const struct shadow_ept_fault *f, const struct shadow_ept_result *r)
{
	bool ad = f->eptp12 & EPTP_AD_ENABLE;
	unsigned int access = f->access | ((ad && f->paging_structure) ? EPT_READ | EPT_WRITE : 0);
	struct ref ref;

	CHECK(reads <= 4 && writes <= 4);
	if (r->pml_log) {
		CHECK(f->pml && f->pml->enabled && f->pml->index < 512 && ad && (access & EPT_WRITE));
		CHECK(r->pml_entry.where == f->pml->address + 8ULL * f->pml->index);
		CHECK(r->pml_entry.value == (f->gpa2 & ~0xfffULL));
		pml.index = r->pml_entry.new_index;
	}
	switch (r->status) {
	case SHADOW_EPT_INSTALLED:
		after_install(f, access);
		break;
	case SHADOW_EPT_L1_VIOLATION:
		ref = ref_walk(f->eptp12, f->gpa2);
		CHECK(!ref.table_outside && r->qual == (access | (ref.rwx << 3)));
		CHECK(!ref.translated || (access & ~ref.rwx));
		break;
	case SHADOW_EPT_L1_PML_FULL:
		CHECK(f->pml && f->pml->enabled && f->pml->index >= 512 && ad);
		break;
	case SHADOW_EPT_L1_TABLE_NOT_RAM:
		CHECK(r->gpa1 >= L1_SIZE);
		break;
	default:
		break;
	}
}

static void do_fault(struct input *in)
{
	uint8_t b = byte(in);
	struct shadow_ept_fault f = {
		.eptp12 = eptps[b % 6], .gpa2 = pick_gpa2(in),
		.access = (b & 0x30) == 0x30 ? EPT_READ | EPT_WRITE : 1u << ((b >> 4) & 3),
		.paging_structure = (b & 0x40) != 0, .pml = (b & 0x80) ? &pml : NULL,
	};
	struct shadow_ept_result r;

	reads = writes = 0;
	race = (rnd(in) & 15) == 0;
	r = shadow_ept_fault(&se, &f);
	check_result(&f, &r);
}

/* The hypervisor changes what L1 has (rights of a page, a page taken or given back), then drops the shadows. */
static void change_ept01(struct input *in)
{
	uint64_t r = rnd(in);
	unsigned int page = (unsigned int)(r % L1_PAGES);

	if (r & BIT(20))
		hv_pages ^= 1u << page;
	else
		l1_rights[page] = (uint8_t)valid_rights[(r >> 8) % 5];
	shadow_ept_drop_all(&se);
}

static void other_op(struct input *in, uint8_t op)
{
	bool invept = false;

	switch (op) {
	case 3:
		l1[(rnd(in) % L1_PAGES) * 512 + rnd(in) % SLOTS] = random_entry(in);
		break;
	case 4:
		shadow_ept_invept_single(&se, eptps[byte(in) % 6] ^ (rnd(in) & 0xfff));
		break;
	case 5:
		shadow_ept_invept_all(&se);
		break;
	case 6:
		change_ept01(in);
		break;
	case 7:
		pool_limit = 1 + byte(in) % POOL_MAX;
		break;
	case 8:
		CHECK(shadow_ept_root(&se, eptps[byte(in) % 6], &invept) || pool_in_use >= pool_limit);
		break;
	case 9:
		pml = (struct ept_pml){ .enabled = byte(in) & 1, .address = (rnd(in) % L1_PAGES) << 12,
					.index = (uint16_t)((rnd(in) & 1) ? 0xfffe + rnd(in) % 3 : rnd(in) % 520) };
		break;
	default:
		shadow_ept_release(&se);
		CHECK(pool_in_use == 0 && se.stats.pages == 0);
		break;
	}
}

static void setup(struct input *in)
{
	uint8_t b = byte(in);
	struct ept12_caps caps = { .maxphyaddr = 36 + b % 12, .exec_only = b & 0x10, .page_2m = b & 0x20,
				   .page_1g = b & 0x40 };

	in->rng = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)byte(in) << 8) ^ byte(in);
	fill_l1(in);
	for (unsigned int p = 0; p < L1_PAGES; p++)
		l1_rights[p] = EPT_RWX;
	hv_pages = 1u << 31;
	memset(pool_used, 0, sizeof(pool_used));
	memset(records, 0, sizeof(records));
	pool_in_use = 0;
	pool_limit = 4 + byte(in) % (POOL_MAX - 4);
	pml = (struct ept_pml){ .enabled = true, .address = 0x1f000, .index = 3 };
	for (unsigned int i = 0; i < 6; i++)
		eptps[i] = ((uint64_t)(i % 3) << 12) | (3 << 3) | EPT_MT_WB | (i >= 3 ? EPTP_AD_ENABLE : 0);
	eptps[2] |= 0x7000000ULL; /* a PML4 outside L1 memory */
	shadow_ept_init(&se, &caps, &ops);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size, 0 };

	setup(&in);
	for (unsigned int n = 0; in.n && n < MAX_OPS; n++) {
		uint8_t op = byte(&in) % 16;

		if (op < 3 || op > 10)
			do_fault(&in);
		else
			other_op(&in, op);
		check_all();
	}
	shadow_ept_release(&se);
	CHECK(pool_in_use == 0 && se.stats.pages == 0);
	return 0;
}
