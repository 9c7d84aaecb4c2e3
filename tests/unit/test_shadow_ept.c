/* Host tests for the shadow EPT: composition EPT12 AND EPT01, dirty tracking, PML, memory never L1's, pool exhaustion, INVEPT, LRU roots. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "hv/nested/shadow_ept.h"

#define R  EPT_READ
#define W  EPT_WRITE
#define X  EPT_EXEC
#define WB (6ULL << 3)
#define AC EPT_ACCESSED
#define DI EPT_DIRTY

/* ---- L1 memory (256 KiB at 0): EPT12 tables from page 1 up, data pages from 0x20000 --------- */

#define L1_SIZE   0x40000ULL
#define HV_PAGE   0x3e000ULL      /* inside L1's range but the hypervisor's: EPT01 does not map it */
#define TRAP_PAGE 0x3f000ULL      /* read-only for L1 (like the xAPIC trap) */
#define BIG_BASE  0x40000000ULL   /* [1 GiB, 2 GiB): more L1 RAM, for large EPT12 pages */
#define DEV_BASE  0x80000000ULL   /* [2 GiB, +2 MiB): L1 device memory, UC in EPT01 */
#define HPA_OF(gpa1) (0x500000000ULL + (gpa1))

static uint64_t l1[L1_SIZE / 8];
static uint64_t next_table;
static int l1_writes;

static bool l1_read64(void *ctx, uint64_t gpa1, uint64_t *val)
{
	(void)ctx;
	if (gpa1 + 8 > L1_SIZE || (gpa1 & 7))
		return false;
	*val = l1[gpa1 / 8];
	return true;
}

static uint64_t race_at;

static enum ept12_cmpxchg_result l1_cmpxchg64(void *ctx, uint64_t gpa1, uint64_t old, uint64_t new_val)
{
	(void)ctx;
	if (gpa1 + 8 > L1_SIZE || (gpa1 & 7))
		return EPT12_CMPXCHG_NOT_L1;
	if (gpa1 == race_at)
		l1[gpa1 / 8] |= BIT(11);
	if (l1[gpa1 / 8] != old)
		return EPT12_CMPXCHG_CHANGED;
	l1[gpa1 / 8] = new_val;
	l1_writes++;
	return EPT12_CMPXCHG_OK;
}

static uint64_t new_l1_table(void)
{
	uint64_t t = next_table;

	next_table += 0x1000;
	assert_true(next_table <= 0x20000);
	return t;
}

/* L1 maps gpa2 -> gpa1 with a leaf at level (1..3) in the EPT12 at pml4; tables get R|W|X. */
static void ept12_map(uint64_t pml4, uint64_t gpa2, unsigned int level, uint64_t gpa1, uint64_t bits)
{
	uint64_t table = pml4;

	for (unsigned int l = 4; l > level; l--) {
		uint64_t *e = &l1[(table + (((gpa2 >> (12 + 9 * (l - 1))) & 511) << 3)) / 8];

		if (!(*e & EPT_RWX))
			*e = new_l1_table() | R | W | X;
		table = *e & EPT_ADDR_MASK;
	}
	l1[(table + (((gpa2 >> (12 + 9 * (level - 1))) & 511) << 3)) / 8] =
		gpa1 | bits | (level > 1 ? EPT_LARGE : 0);
}

/* The address of the leaf entry of gpa2 in EPT12 (after ept12_map). */
static uint64_t *ept12_leaf(uint64_t pml4, uint64_t gpa2)
{
	uint64_t table = pml4;

	for (unsigned int l = 4;; l--) {
		uint64_t *e = &l1[(table + (((gpa2 >> (12 + 9 * (l - 1))) & 511) << 3)) / 8];

		if (l == 1 || (*e & EPT_LARGE))
			return e;
		table = *e & EPT_ADDR_MASK;
	}
}

/* ---- EPT01: what the hypervisor gives L1 --------------------------------------------------- */

static unsigned int trap_rights = R;
static int ept01_calls;

static void ept01(void *ctx, uint64_t gpa1, struct shadow_ept_l1_page *out)
{
	(void)ctx;
	ept01_calls++;
	assert_int_equal(gpa1 & 0xfff, 0);
	*out = (struct shadow_ept_l1_page){ .mapped = true, .hpa = HPA_OF(gpa1), .rwx = R | W | X, .memtype = 6 };
	if (gpa1 == HV_PAGE || (gpa1 >= L1_SIZE && gpa1 < BIG_BASE) || gpa1 >= DEV_BASE + 0x200000)
		out->mapped = false;
	if (gpa1 == TRAP_PAGE)
		out->rwx = trap_rights;
	if (gpa1 >= DEV_BASE)
		out->memtype = EPT_MT_UC;
}

/* ---- the pool: POOL_MAX pages, a limit the test sets ------------------------------------- */

#define POOL_MAX 64
#define POOL_HPA 0x100000000ULL
static uint64_t pool[POOL_MAX][512] __attribute__((aligned(4096)));
static bool pool_used[POOL_MAX];
static unsigned int pool_limit, pool_in_use;

static uint64_t pool_alloc(void *ctx)
{
	(void)ctx;
	if (pool_in_use >= pool_limit)
		return 0;
	for (unsigned int i = 0; i < POOL_MAX; i++)
		if (!pool_used[i]) {
			pool_used[i] = true;
			pool_in_use++;
			memset(pool[i], 0, sizeof(pool[i]));
			return POOL_HPA + i * 0x1000ULL;
		}
	return 0;
}

static unsigned int pool_index(uint64_t hpa)
{
	unsigned int i = (unsigned int)((hpa - POOL_HPA) / 0x1000);

	assert_true(hpa >= POOL_HPA && i < POOL_MAX && !(hpa & 0xfff));
	return i;
}

static void pool_free(void *ctx, uint64_t hpa)
{
	unsigned int i = pool_index(hpa);

	(void)ctx;
	assert_true(pool_used[i]);
	pool_used[i] = false;
	pool_in_use--;
}

static uint64_t *pool_table(void *ctx, uint64_t hpa)
{
	unsigned int i = pool_index(hpa);

	(void)ctx;
	assert_true(pool_used[i]);
	return pool[i];
}

static const struct shadow_ept_ops ops = {
	.mem = { .read64 = l1_read64, .cmpxchg64 = l1_cmpxchg64 },
	.ept01 = ept01, .alloc_table = pool_alloc, .free_table = pool_free, .table = pool_table,
};
static const struct ept12_caps caps = { .maxphyaddr = 39, .exec_only = true, .page_2m = true, .page_1g = true };

#define PML4A   0x1000ULL
#define EPTP_OF(pml4) ((pml4) | (3 << 3) | 6)
#define EPTP    EPTP_OF(PML4A)
#define EPTP_AD (EPTP | EPTP_AD_ENABLE)

static struct shadow_ept se;

static int setup(void **state)
{
	(void)state;
	memset(l1, 0, sizeof(l1));
	memset(pool_used, 0, sizeof(pool_used));
	pool_in_use = 0;
	pool_limit = POOL_MAX;
	next_table = 0x2000; /* 0x1000 is PML4A; more PML4s are taken from here */
	l1_writes = 0;
	ept01_calls = 0;
	race_at = 0;
	trap_rights = R;
	shadow_ept_init(&se, &caps, &ops);
	return 0;
}

/* The shadow leaf of gpa2 under eptp12's root (0 if none). */
static uint64_t shadow_leaf_of(uint64_t eptp12, uint64_t gpa2)
{
	uint64_t pml4 = 0, *t;

	for (unsigned int i = 0; i < SHADOW_EPT_ROOTS; i++)
		if (se.root[i].valid && se.root[i].eptp12 == eptp12)
			pml4 = se.root[i].pml4;
	if (!pml4)
		return 0;
	t = pool_table(NULL, pml4);
	for (unsigned int l = 4; l > 1; l--) {
		uint64_t e = t[(gpa2 >> (12 + 9 * (l - 1))) & 511];

		if (!(e & EPT_RWX))
			return 0;
		t = pool_table(NULL, e & EPT_ADDR_MASK);
	}
	return t[(gpa2 >> 12) & 511];
}

static struct shadow_ept_result fault_pml(uint64_t eptp12, uint64_t gpa2, unsigned int access, const struct ept_pml *pml)
{
	struct shadow_ept_fault f = { .eptp12 = eptp12, .gpa2 = gpa2, .access = access, .pml = pml };

	return shadow_ept_fault(&se, &f);
}

static struct shadow_ept_result fault(uint64_t eptp12, uint64_t gpa2, unsigned int access)
{
	return fault_pml(eptp12, gpa2, access, NULL);
}

/* ---- composition ---------------------------------------------------------------------- */

static void test_install_4k(void **state)
{
	struct shadow_ept_result r;
	bool invept = false;

	(void)state;
	assert_int_not_equal(shadow_ept_root(&se, EPTP, &invept), 0);
	assert_false(invept);
	ept12_map(PML4A, 0x7654000, 1, 0x21000, R | W | X | WB);
	r = fault(EPTP, 0x7654321, EPT12_ACCESS_READ);
	assert_int_equal(r.status, SHADOW_EPT_INSTALLED);
	assert_false(r.invept);
	assert_false(r.pml_log);
	assert_int_equal(shadow_leaf_of(EPTP, 0x7654000), HPA_OF(0x21000) | R | W | X | WB);
	assert_int_equal(se.stats.pages, 4);
	assert_int_equal(pool_in_use, 4);
	/* Its neighbour in the same table costs no page. */
	ept12_map(PML4A, 0x7655000, 1, 0x22000, R | WB);
	assert_int_equal(fault(EPTP, 0x7655000, EPT12_ACCESS_READ).status, SHADOW_EPT_INSTALLED);
	assert_int_equal(shadow_leaf_of(EPTP, 0x7655000), HPA_OF(0x22000) | R | WB);
	assert_int_equal(pool_in_use, 4);
	assert_int_equal(l1_writes, 0); /* EPTP[6] clear: L1's entries untouched */
}

static void test_large_l1_pages_become_4k(void **state)
{
	(void)state;
	ept12_map(PML4A, 0x200000, 2, BIG_BASE + 0x400000, R | W | WB);   /* 2 MiB */
	ept12_map(PML4A, 0x80000000ULL, 3, BIG_BASE, R | X | WB);          /* 1 GiB */
	assert_int_equal(fault(EPTP, 0x2ab123, EPT12_ACCESS_WRITE).status, SHADOW_EPT_INSTALLED);
	assert_int_equal(shadow_leaf_of(EPTP, 0x2ab000), HPA_OF(BIG_BASE + 0x4ab000) | R | W | WB);
	assert_int_equal(shadow_leaf_of(EPTP, 0x2aa000), 0); /* only the page that faulted */
	assert_int_equal(fault(EPTP, 0x8123f000ULL, EPT12_ACCESS_FETCH).status, SHADOW_EPT_INSTALLED);
	assert_int_equal(shadow_leaf_of(EPTP, 0x8123f000ULL), HPA_OF(BIG_BASE + 0x123f000) | R | X | WB);
}

static void test_permissions_never_exceed(void **state)
{
	static const unsigned int accesses[] = { EPT12_ACCESS_READ, EPT12_ACCESS_WRITE, EPT12_ACCESS_FETCH };

	(void)state;
	for (unsigned int l1r = 1; l1r < 8; l1r++)
		for (unsigned int l0r = 0; l0r < 8; l0r++)
			for (unsigned int i = 0; i < 3; i++) {
				unsigned int acc = accesses[i];
				struct shadow_ept_result r;
				uint64_t leaf;

				if ((l1r & (R | W)) == W || (l0r & (R | W)) == W)
					continue; /* write without read: misconfigured in EPT12, never given by EPT01 */
				setup(NULL);
				trap_rights = l0r;
				ept12_map(PML4A, 0x5000, 1, TRAP_PAGE, l1r | WB);
				r = fault(EPTP, 0x5000, acc);
				leaf = shadow_leaf_of(EPTP, 0x5000);
				if (acc & ~l1r) {
					assert_int_equal(r.status, SHADOW_EPT_L1_VIOLATION);
					assert_int_equal(r.qual, acc | (l1r << 3));
					assert_int_equal(leaf, 0);
				} else if (acc & ~l0r) {
					assert_int_equal(r.status, SHADOW_EPT_L0_FAULT);
					assert_int_equal(r.gpa1, TRAP_PAGE);
					assert_int_equal(r.access, acc);
					assert_int_equal(leaf, 0);
				} else {
					assert_int_equal(r.status, SHADOW_EPT_INSTALLED);
					assert_int_equal(leaf & EPT_RWX, l1r & l0r);
					assert_int_equal(leaf & EPT_ADDR_MASK, HPA_OF(TRAP_PAGE));
				}
			}
}

static void test_l1_verdicts_pass_through(void **state)
{
	struct shadow_ept_result r;

	(void)state;
	/* Not present in EPT12: L1's violation, nothing installed, no page taken. */
	r = fault(EPTP, 0x9000, EPT12_ACCESS_WRITE);
	assert_int_equal(r.status, SHADOW_EPT_L1_VIOLATION);
	assert_int_equal(r.qual, EPT12_ACCESS_WRITE);
	assert_int_equal(pool_in_use, 0);
	/* Misconfigured (memory type 7). */
	ept12_map(PML4A, 0x9000, 1, 0x23000, R | (7ULL << 3));
	assert_int_equal(fault(EPTP, 0x9000, EPT12_ACCESS_READ).status, SHADOW_EPT_L1_MISCONFIG);
	/* A table of EPT12 outside L1's memory. */
	*ept12_leaf(PML4A, 0x9000) = 0;
	l1[0x1000 / 8] = 0x7000000ULL | R | W | X;
	r = fault(EPTP, 0x9000, EPT12_ACCESS_READ);
	assert_int_equal(r.status, SHADOW_EPT_L1_TABLE_NOT_RAM);
	assert_int_equal(r.gpa1, 0x7000000ULL);
	assert_int_equal(shadow_leaf_of(EPTP, 0x9000), 0);
	assert_int_equal(ept01_calls, 0);
}

static void test_not_l1_memory_never_mapped(void **state)
{
	struct shadow_ept_result r;

	(void)state;
	ept12_map(PML4A, 0x1000, 1, HV_PAGE, R | W | X | WB);
	ept12_map(PML4A, 0x2000, 1, 0x100000, R | W | X | WB);        /* above L1's RAM */
	ept12_map(PML4A, 0x3000, 1, 0x7ffff000ULL + 0x1000000, R | WB); /* in EPT01's gap */
	r = fault(EPTP, 0x1234, EPT12_ACCESS_READ);
	assert_int_equal(r.status, SHADOW_EPT_L0_FAULT);
	assert_int_equal(r.gpa1, HV_PAGE | 0x234);
	assert_int_equal(fault(EPTP, 0x2000, EPT12_ACCESS_WRITE).status, SHADOW_EPT_L0_FAULT);
	assert_int_equal(fault(EPTP, 0x3000, EPT12_ACCESS_READ).status, SHADOW_EPT_L0_FAULT);
	for (uint64_t gpa2 = 0x1000; gpa2 <= 0x3000; gpa2 += 0x1000)
		assert_int_equal(shadow_leaf_of(EPTP, gpa2), 0);
	/* The read-only trap page: readable for L2, its writes are the hypervisor's. */
	ept12_map(PML4A, 0x4000, 1, TRAP_PAGE, R | W | WB);
	assert_int_equal(fault(EPTP, 0x4000, EPT12_ACCESS_READ).status, SHADOW_EPT_INSTALLED);
	assert_int_equal(shadow_leaf_of(EPTP, 0x4000), HPA_OF(TRAP_PAGE) | R | WB);
	assert_int_equal(fault(EPTP, 0x4000, EPT12_ACCESS_WRITE).status, SHADOW_EPT_L0_FAULT);
}

static void test_memory_type(void **state)
{
	(void)state;
	ept12_map(PML4A, 0x1000, 1, DEV_BASE, R | W | WB);                          /* WB over device memory */
	ept12_map(PML4A, 0x2000, 1, 0x24000, R | W | (4ULL << 3) | EPT_IGNORE_PAT); /* WT, ignore PAT */
	assert_int_equal(fault(EPTP, 0x1000, EPT12_ACCESS_READ).status, SHADOW_EPT_INSTALLED);
	assert_int_equal(shadow_leaf_of(EPTP, 0x1000), HPA_OF(DEV_BASE) | R | W | (EPT_MT_UC << 3));
	assert_int_equal(fault(EPTP, 0x2000, EPT12_ACCESS_READ).status, SHADOW_EPT_INSTALLED);
	assert_int_equal(shadow_leaf_of(EPTP, 0x2000), HPA_OF(0x24000) | R | W | (4ULL << 3) | EPT_IGNORE_PAT);
}

/* ---- accessed/dirty flags and PML ---------------------------------------------------------- */

static void test_dirty_clear_installs_read_only(void **state)
{
	struct ept_pml pml = { .enabled = true, .address = 0x30000, .index = 511 };
	struct shadow_ept_result r;
	uint64_t *leaf12;

	(void)state;
	ept12_map(PML4A, 0x6000, 1, 0x25000, R | W | X | WB);
	leaf12 = ept12_leaf(PML4A, 0x6000);
	r = fault_pml(EPTP_AD, 0x6000, EPT12_ACCESS_READ, &pml);
	assert_int_equal(r.status, SHADOW_EPT_INSTALLED);
	assert_false(r.pml_log);                      /* an accessed flag is not logged */
	assert_int_equal(*leaf12 & (AC | DI), AC);
	assert_int_equal(shadow_leaf_of(EPTP_AD, 0x6000), HPA_OF(0x25000) | R | X | WB);
	assert_int_equal(l1[PML4A / 8] & AC, AC);
	/* The first write faults again: dirty flag set, logged, now writable. */
	r = fault_pml(EPTP_AD, 0x6abc, EPT12_ACCESS_WRITE, &pml);
	assert_int_equal(r.status, SHADOW_EPT_INSTALLED);
	assert_int_equal(*leaf12 & (AC | DI), AC | DI);
	assert_true(r.pml_log);
	assert_int_equal(r.pml_entry.where, 0x30000 + 8 * 511);
	assert_int_equal(r.pml_entry.value, 0x6000);
	assert_int_equal(r.pml_entry.new_index, 510);
	assert_int_equal(shadow_leaf_of(EPTP_AD, 0x6000), HPA_OF(0x25000) | R | W | X | WB);
	/* A page whose dirty flag L1 left set is writable at once, nothing logged. */
	ept12_map(PML4A, 0x7000, 1, 0x26000, R | W | WB | AC | DI);
	r = fault_pml(EPTP_AD, 0x7000, EPT12_ACCESS_READ, &pml);
	assert_false(r.pml_log);
	assert_int_equal(shadow_leaf_of(EPTP_AD, 0x7000), HPA_OF(0x26000) | R | W | WB);
}

static void test_ad_off_no_flags(void **state)
{
	(void)state;
	ept12_map(PML4A, 0x6000, 1, 0x25000, R | W | WB);
	assert_int_equal(fault(EPTP, 0x6000, EPT12_ACCESS_READ).status, SHADOW_EPT_INSTALLED);
	assert_int_equal(shadow_leaf_of(EPTP, 0x6000), HPA_OF(0x25000) | R | W | WB);
	assert_int_equal(l1_writes, 0);
}

static void test_paging_structure_access(void **state)
{
	struct shadow_ept_fault f = { .eptp12 = EPTP_AD, .gpa2 = 0x6000, .access = EPT12_ACCESS_READ,
				      .paging_structure = true };
	struct shadow_ept_result r;

	(void)state;
	ept12_map(PML4A, 0x6000, 1, 0x25000, R | WB);
	r = shadow_ept_fault(&se, &f);
	assert_int_equal(r.status, SHADOW_EPT_L1_VIOLATION);
	assert_int_equal(r.qual, 0x0b); /* read and write (SDM Table 28-7 note), readable */
	*ept12_leaf(PML4A, 0x6000) |= W;
	r = shadow_ept_fault(&se, &f);
	assert_int_equal(r.status, SHADOW_EPT_INSTALLED);
	assert_int_equal(*ept12_leaf(PML4A, 0x6000) & (AC | DI), AC | DI);
}

static void test_pml_decide(void **state)
{
	struct ept_pml pml = { .enabled = true, .address = 0x30000, .index = 0 };
	struct ept_pml_entry e = { 0 };

	(void)state;
	assert_int_equal(ept_pml_decide(NULL, true, true, 0x1234, &e), EPT_PML_NONE);
	assert_int_equal(ept_pml_decide(&pml, true, true, 0x123456789abcULL, &e), EPT_PML_LOG);
	assert_int_equal(e.where, 0x30000);
	assert_int_equal(e.value, 0x123456789000ULL);
	assert_int_equal(e.new_index, 0xffff);      /* 0 -> FFFFH (SDM 29.3.6) */
	assert_int_equal(pml.index, 0);             /* the caller stores it */
	pml.index = 0xffff;
	assert_int_equal(ept_pml_decide(&pml, true, false, 0x1000, &e), EPT_PML_FULL); /* an accessed flag too */
	assert_int_equal(ept_pml_decide(&pml, false, false, 0x1000, &e), EPT_PML_NONE); /* no flag to set */
	pml.index = 512;
	assert_int_equal(ept_pml_decide(&pml, true, true, 0x1000, &e), EPT_PML_FULL);
	pml.index = 7;
	assert_int_equal(ept_pml_decide(&pml, true, false, 0x1000, &e), EPT_PML_NONE);
	pml.enabled = false;
	pml.index = 0xffff;
	assert_int_equal(ept_pml_decide(&pml, true, true, 0x1000, &e), EPT_PML_NONE);
}

static void test_pml_full_sets_nothing(void **state)
{
	struct ept_pml pml = { .enabled = true, .address = 0x30000, .index = 0xffff };
	uint64_t before[2];

	(void)state;
	ept12_map(PML4A, 0x6000, 1, 0x25000, R | W | WB);
	before[0] = l1[PML4A / 8];
	before[1] = *ept12_leaf(PML4A, 0x6000);
	assert_int_equal(fault_pml(EPTP_AD, 0x6000, EPT12_ACCESS_READ, &pml).status, SHADOW_EPT_L1_PML_FULL);
	assert_int_equal(l1[PML4A / 8], before[0]);
	assert_int_equal(*ept12_leaf(PML4A, 0x6000), before[1]);
	assert_int_equal(shadow_leaf_of(EPTP_AD, 0x6000), 0);
	/* With every flag already set no flag is needed: no log-full event. */
	assert_int_equal(fault(EPTP_AD, 0x6000, EPT12_ACCESS_WRITE).status, SHADOW_EPT_INSTALLED);
	assert_int_equal(fault_pml(EPTP_AD, 0x6000, EPT12_ACCESS_WRITE, &pml).status, SHADOW_EPT_INSTALLED);
}

static void test_race_retries(void **state)
{
	(void)state;
	ept12_map(PML4A, 0x6000, 1, 0x25000, R | W | WB);
	race_at = (uint64_t)(ept12_leaf(PML4A, 0x6000) - l1) * 8;
	assert_int_equal(fault(EPTP_AD, 0x6000, EPT12_ACCESS_READ).status, SHADOW_EPT_RETRY);
	assert_int_equal(shadow_leaf_of(EPTP_AD, 0x6000), 0);
	race_at = 0;
	assert_int_equal(fault(EPTP_AD, 0x6000, EPT12_ACCESS_READ).status, SHADOW_EPT_INSTALLED);
}

/* ---- pool, roots, invalidation ------------------------------------------------------------ */

static void test_pool_exhaustion_flushes(void **state)
{
	struct shadow_ept_result r;

	(void)state;
	pool_limit = 5;
	ept12_map(PML4A, 0x1000, 1, 0x21000, R | WB);
	ept12_map(PML4A, 0x8000000000ULL, 1, 0x22000, R | WB); /* another PML4 slot: 3 more tables */
	assert_int_equal(fault(EPTP, 0x1000, EPT12_ACCESS_READ).status, SHADOW_EPT_INSTALLED);
	assert_int_equal(pool_in_use, 4);
	r = fault(EPTP, 0x8000000000ULL, EPT12_ACCESS_READ);
	assert_int_equal(r.status, SHADOW_EPT_INSTALLED);
	assert_true(r.invept);
	assert_int_equal(se.stats.pool_flushes, 1);
	assert_int_equal(shadow_leaf_of(EPTP, 0x1000), 0);   /* flushed */
	assert_int_not_equal(shadow_leaf_of(EPTP, 0x8000000000ULL), 0);
	assert_int_equal(pool_in_use, 4);
	assert_int_equal(se.stats.pages, pool_in_use);
	/* Too small for one translation: flushed, nothing mapped, no crash. */
	pool_limit = 3;
	r = fault(EPTP, 0x1000, EPT12_ACCESS_READ);
	assert_int_equal(r.status, SHADOW_EPT_NO_MEMORY_FLUSHED);
	assert_true(r.invept);
	assert_int_equal(se.stats.pool_flushes, 2);
	assert_int_equal(se.stats.pages, pool_in_use);
	assert_int_equal(shadow_leaf_of(EPTP, 0x1000), 0);
	/* No page at all: no root. */
	shadow_ept_release(&se);
	assert_int_equal(pool_in_use, 0);
	pool_limit = 0;
	{
		bool invept = false;

		assert_int_equal(shadow_ept_root(&se, EPTP, &invept), 0);
		assert_int_equal(fault(EPTP, 0x1000, EPT12_ACCESS_READ).status, SHADOW_EPT_NO_MEMORY_FLUSHED);
	}
}

/* Four more EPT12 PML4s sharing the first one's lower tables. */
static uint64_t other_pml4(unsigned int i)
{
	uint64_t pml4 = 0x18000 + i * 0x1000ULL;

	memcpy(&l1[pml4 / 8], &l1[PML4A / 8], 4096);
	return pml4;
}

static void test_lru_roots(void **state)
{
	uint64_t eptp[5];
	bool invept = false;

	(void)state;
	ept12_map(PML4A, 0x1000, 1, 0x21000, R | WB);
	for (unsigned int i = 0; i < 5; i++)
		eptp[i] = EPTP_OF(other_pml4(i));
	for (unsigned int i = 0; i < 4; i++)
		assert_int_equal(fault(eptp[i], 0x1000, EPT12_ACCESS_READ).status, SHADOW_EPT_INSTALLED);
	assert_int_equal(pool_in_use, 16);
	shadow_ept_root(&se, eptp[0], &invept);     /* eptp[1] is now the least recently used */
	assert_false(invept);
	assert_int_not_equal(shadow_ept_root(&se, eptp[4], &invept), 0);
	assert_true(invept);                        /* its PML4 page is reused: INVEPT */
	assert_int_equal(se.stats.evictions, 1);
	assert_int_not_equal(shadow_leaf_of(eptp[0], 0x1000), 0);
	assert_int_equal(shadow_leaf_of(eptp[1], 0x1000), 0);   /* evicted */
	assert_int_not_equal(shadow_leaf_of(eptp[2], 0x1000), 0);
	assert_int_not_equal(shadow_leaf_of(eptp[3], 0x1000), 0);
	assert_int_equal(pool_in_use, 13);
	assert_int_equal(se.stats.pages, pool_in_use);
}

static void test_invept(void **state)
{
	uint64_t a = EPTP, a_ad = EPTP_AD, b;

	(void)state;
	ept12_map(PML4A, 0x1000, 1, 0x21000, R | WB);
	b = EPTP_OF(other_pml4(0));
	assert_int_equal(fault(a, 0x1000, EPT12_ACCESS_READ).status, SHADOW_EPT_INSTALLED);
	assert_int_equal(fault(a_ad, 0x1000, EPT12_ACCESS_READ).status, SHADOW_EPT_INSTALLED);
	assert_int_equal(fault(b, 0x1000, EPT12_ACCESS_READ).status, SHADOW_EPT_INSTALLED);
	/* Single-context names the EPT by bits 51:12: both roots of PML4A go, not b's. */
	shadow_ept_invept_single(&se, PML4A | 0x1e);
	assert_int_equal(shadow_leaf_of(a, 0x1000), 0);
	assert_int_equal(shadow_leaf_of(a_ad, 0x1000), 0);
	assert_int_not_equal(shadow_leaf_of(b, 0x1000), 0);
	assert_int_equal(pool_in_use, 3 + 3);
	/* L1 changed its EPT12 and invalidated: the next fault sees the change. */
	*ept12_leaf(PML4A, 0x1000) = 0x22000 | R | WB;
	assert_int_equal(fault(a, 0x1000, EPT12_ACCESS_READ).status, SHADOW_EPT_INSTALLED);
	assert_int_equal(shadow_leaf_of(a, 0x1000), HPA_OF(0x22000) | R | WB);
	shadow_ept_invept_all(&se);
	assert_int_equal(shadow_leaf_of(a, 0x1000), 0);
	assert_int_equal(shadow_leaf_of(b, 0x1000), 0);
	assert_int_equal(pool_in_use, 3);           /* the three roots' PML4s: vmcs02's EPTP stays valid */
	assert_int_equal(fault(b, 0x1000, EPT12_ACCESS_READ).status, SHADOW_EPT_INSTALLED);
	shadow_ept_drop_all(&se);
	assert_int_equal(shadow_leaf_of(b, 0x1000), 0);
	assert_int_equal(se.stats.drops, 1);
	assert_int_equal(se.stats.invepts, 2);
	shadow_ept_release(&se);
	assert_int_equal(pool_in_use, 0);
	assert_int_equal(se.stats.pages, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_install_4k, setup),
		cmocka_unit_test_setup(test_large_l1_pages_become_4k, setup),
		cmocka_unit_test_setup(test_permissions_never_exceed, setup),
		cmocka_unit_test_setup(test_l1_verdicts_pass_through, setup),
		cmocka_unit_test_setup(test_not_l1_memory_never_mapped, setup),
		cmocka_unit_test_setup(test_memory_type, setup),
		cmocka_unit_test_setup(test_dirty_clear_installs_read_only, setup),
		cmocka_unit_test_setup(test_ad_off_no_flags, setup),
		cmocka_unit_test_setup(test_paging_structure_access, setup),
		cmocka_unit_test_setup(test_pml_decide, setup),
		cmocka_unit_test_setup(test_pml_full_sets_nothing, setup),
		cmocka_unit_test_setup(test_race_retries, setup),
		cmocka_unit_test_setup(test_pool_exhaustion_flushes, setup),
		cmocka_unit_test_setup(test_lru_roots, setup),
		cmocka_unit_test_setup(test_invept, setup),
	};

	return cmocka_run_group_tests_name("shadow_ept", tests, NULL, NULL);
}
