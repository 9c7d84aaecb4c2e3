/* Host tests for the EPT12 walker: every page size, access x permission qualifications, each misconfiguration, execute-only, A/D flags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "hv/nested/ept12_walk.h"

/* ---- L1 memory: 64 pages at guest-physical 0; tables at 0x1000 (PML4) .. 0x4000 (PT) --- */

#define L1_PAGES 64
static uint64_t l1[L1_PAGES * 512];
static int cmpxchgs;           /* compare-and-exchange calls */
static uint64_t race_at;       /* nonzero: L1 (another vCPU) rewrites this entry before our cmpxchg */

static bool in_l1(uint64_t gpa1)
{
	return gpa1 + 8 <= sizeof(l1) && !(gpa1 & 7);
}

static bool read64(void *ctx, uint64_t gpa1, uint64_t *val)
{
	(void)ctx;
	if (!in_l1(gpa1))
		return false;
	*val = l1[gpa1 / 8];
	return true;
}

static enum ept12_cmpxchg_result cmpxchg64(void *ctx, uint64_t gpa1, uint64_t old, uint64_t new_val)
{
	(void)ctx;
	cmpxchgs++;
	if (!in_l1(gpa1))
		return EPT12_CMPXCHG_NOT_L1;
	if (race_at == gpa1)
		l1[gpa1 / 8] ^= EPT_EXEC;
	if (l1[gpa1 / 8] != old)
		return EPT12_CMPXCHG_CHANGED;
	l1[gpa1 / 8] = new_val;
	return EPT12_CMPXCHG_OK;
}

static const struct ept12_mem mem = { .read64 = read64, .cmpxchg64 = cmpxchg64 };
static const struct ept12_caps caps = { .maxphyaddr = 39, .exec_only = true, .page_2m = true, .page_1g = true };

#define E(gpa1) l1[(gpa1) / 8]
#define R  EPT_READ
#define W  EPT_WRITE
#define X  EPT_EXEC
#define WB (6ULL << 3)
#define AC EPT_ACCESSED
#define DI EPT_DIRTY
#define EPTP    (0x1000ULL | (3 << 3) | 6)
#define EPTP_AD (EPTP | EPTP_AD_ENABLE)

/* gpa2 with indices 1 (PML4), 2 (PDPT), 3 (PD), 4 (PT) and a page offset. */
#define GPA2 ((1ULL << 39) | (2ULL << 30) | (3ULL << 21) | (4ULL << 12) | 0x567)
static const uint64_t at[5] = { 0, 0x4000 + 4 * 8, 0x3000 + 3 * 8, 0x2000 + 2 * 8, 0x1000 + 1 * 8 }; /* by level */

/* A 4 KiB mapping of GPA2 to 0x80000: upper rights on the three tables, leaf as given. */
static void build(uint64_t upper, uint64_t leaf)
{
	memset(l1, 0, sizeof(l1));
	cmpxchgs = 0;
	race_at = 0;
	E(at[4]) = 0x2000 | upper;
	E(at[3]) = 0x3000 | upper;
	E(at[2]) = 0x4000 | upper;
	E(at[1]) = 0x80000 | leaf;
}

static enum ept12_status walk(uint64_t eptp, unsigned int access, struct ept12_walk *w)
{
	struct ept12_access a = { .gpa2 = GPA2, .access = access };

	return ept12_walk(&caps, eptp, &a, &mem, w);
}

/* ---- translations at every page size ---------------------------------------------- */

static void test_page_sizes(void **state)
{
	struct ept12_walk w;

	(void)state;
	build(R | W | X, R | W | X | WB | EPT_IGNORE_PAT);
	assert_int_equal(walk(EPTP, EPT12_ACCESS_READ, &w), EPT12_OK);
	assert_int_equal(w.gpa1, 0x80567);
	assert_int_equal(w.level, 1);
	assert_int_equal(w.rwx, R | W | X);
	assert_int_equal(w.memtype, 6);
	assert_true(w.ignore_pat);
	assert_int_equal(w.n, 4);
	assert_int_equal(cmpxchgs, 0); /* the walk never writes */

	E(at[2]) = 0x40000000ULL | R | X | EPT_LARGE | (0ULL << 3); /* 2 MiB, UC */
	assert_int_equal(walk(EPTP, EPT12_ACCESS_FETCH, &w), EPT12_OK);
	assert_int_equal(w.gpa1, 0x40000000ULL | (4ULL << 12) | 0x567);
	assert_int_equal(w.level, 2);
	assert_int_equal(w.rwx, R | X);
	assert_int_equal(w.memtype, 0);
	assert_false(w.ignore_pat);
	assert_int_equal(w.n, 3);

	E(at[3]) = 0x40000000ULL | R | W | EPT_LARGE | (5ULL << 3); /* 1 GiB, WP */
	assert_int_equal(walk(EPTP, EPT12_ACCESS_WRITE, &w), EPT12_OK);
	assert_int_equal(w.gpa1, 0x40000000ULL | (3ULL << 21) | (4ULL << 12) | 0x567);
	assert_int_equal(w.level, 3);
	assert_int_equal(w.memtype, 5);
	assert_int_equal(w.n, 2);

	/* Bit 7 of a PTE is ignored; bits 62:52 and 63 (suppress #VE, not offered) too. */
	build(R | W | X | (0x7ffULL << 52), R | EPT_LARGE | WB | BIT(63) | BIT(11) | BIT(10));
	assert_int_equal(walk(EPTP, EPT12_ACCESS_READ, &w), EPT12_OK);
	assert_int_equal(w.gpa1, 0x80567);
}

/* ---- violations: each access against each combination of rights ------------------- */

static bool valid_rights(unsigned int rwx)
{
	return rwx && (rwx & (R | W)) != W; /* present, not write-only or write/execute */
}

static void test_access_x_permissions(void **state)
{
	static const unsigned int accesses[] = { EPT12_ACCESS_READ, EPT12_ACCESS_WRITE, EPT12_ACCESS_FETCH,
						 EPT12_ACCESS_READ | EPT12_ACCESS_WRITE };
	struct ept12_walk w;

	(void)state;
	for (unsigned int upper = 0; upper < 8; upper++)
		for (unsigned int leaf = 0; leaf < 8; leaf++)
			for (unsigned int i = 0; i < 4; i++) {
				unsigned int combined = upper & leaf, acc = accesses[i];

				if (!valid_rights(upper) || !valid_rights(leaf))
					continue;
				build(upper, leaf | WB);
				E(at[3]) = 0x3000 | R | W | X; /* one upper level with all rights */
				if (acc & ~combined) {
					assert_int_equal(walk(EPTP, acc, &w), EPT12_VIOLATION);
					assert_int_equal(w.qual, acc | (combined << 3)); /* SDM Table 28-7 bits 5:0 */
				} else {
					assert_int_equal(walk(EPTP, acc, &w), EPT12_OK);
					assert_int_equal(w.rwx, combined);
				}
			}
	/* Hand-checked: a read-only PDPTE denies a write to a RWX page: qualification 0b001010. */
	build(R | W | X, R | W | X | WB);
	E(at[3]) = 0x3000 | R;
	assert_int_equal(walk(EPTP, EPT12_ACCESS_WRITE, &w), EPT12_VIOLATION);
	assert_int_equal(w.qual, 0x0a);
	/* An execute-only page: fetch allowed, read denied with qualification 0b100001. */
	build(R | W | X, X | WB);
	assert_int_equal(walk(EPTP, EPT12_ACCESS_FETCH, &w), EPT12_OK);
	assert_int_equal(walk(EPTP, EPT12_ACCESS_READ, &w), EPT12_VIOLATION);
	assert_int_equal(w.qual, 0x21);
}

static void test_not_present_each_level(void **state)
{
	struct ept12_walk w;

	(void)state;
	for (unsigned int level = 1; level <= 4; level++) {
		build(R | W | X, R | W | X | WB);
		E(at[level]) &= ~(uint64_t)(R | W | X);
		E(at[level]) |= 0xfff0000000000ff8ULL; /* reserved bits of a not-present entry do not matter */
		assert_int_equal(walk(EPTP_AD, EPT12_ACCESS_WRITE, &w), EPT12_VIOLATION);
		assert_int_equal(w.qual, EPT12_ACCESS_WRITE); /* bits 5:3: the AND includes the not-present entry */
		assert_int_equal(w.level, level);
		assert_int_equal(w.n, 5 - level);
		assert_int_equal(cmpxchgs, 0);
	}
	/* Beyond the 48 bits a 4-level EPT translates. */
	{
		struct ept12_access a = { .gpa2 = BIT(48) | GPA2, .access = EPT12_ACCESS_READ };

		build(R | W | X, R | W | X | WB);
		assert_int_equal(ept12_walk(&caps, EPTP, &a, &mem, &w), EPT12_VIOLATION);
		assert_int_equal(w.qual, EPT12_ACCESS_READ);
	}
}

/* ---- misconfigurations (SDM 29.3.3.1) ------------------------------------------------ */

static enum ept12_status walk_with(const struct ept12_caps *c, unsigned int access, struct ept12_walk *w)
{
	struct ept12_access a = { .gpa2 = GPA2, .access = access };

	return ept12_walk(c, EPTP, &a, &mem, w);
}

static void expect_misconfig(unsigned int level, uint64_t entry, const struct ept12_caps *c)
{
	struct ept12_walk w;

	build(R | W | X, R | W | X | WB);
	E(at[level]) = entry;
	assert_int_equal(walk_with(c, EPT12_ACCESS_READ, &w), EPT12_MISCONFIG);
	assert_int_equal(w.level, level);
}

static void expect_ok(unsigned int level, uint64_t entry, unsigned int access)
{
	struct ept12_walk w;

	build(R | W | X, R | W | X | WB);
	E(at[level]) = entry;
	assert_int_equal(walk(EPTP, access, &w), EPT12_OK);
}

static void test_misconfig_rights(void **state)
{
	static const uint64_t next[5] = { 0, 0x80000 | WB, 0x4000, 0x3000, 0x2000 };
	struct ept12_caps no_xo = caps;

	(void)state;
	no_xo.exec_only = false;
	for (unsigned int level = 1; level <= 4; level++) {
		expect_misconfig(level, next[level] | W, &caps);         /* write-only */
		expect_misconfig(level, next[level] | W | X, &caps);     /* write/execute */
		expect_misconfig(level, next[level] | X, &no_xo);        /* execute-only, not offered */
		expect_ok(level, next[level] | X, EPT12_ACCESS_FETCH);   /* execute-only, offered */
	}
}

static void test_misconfig_reserved(void **state)
{
	struct ept12_caps no_big = caps;

	(void)state;
	no_big.page_2m = no_big.page_1g = false;
	/* Bits 51:MAXPHYADDR (39) in every entry. */
	expect_misconfig(4, 0x2000 | BIT(39) | R | W | X, &caps);
	expect_misconfig(3, 0x3000 | BIT(51) | R | W | X, &caps);
	expect_misconfig(2, 0x4000 | BIT(45) | R | W | X, &caps);
	expect_misconfig(1, 0x80000 | BIT(39) | R | WB, &caps);
	expect_ok(1, 0x80000 | BIT(38) | R | WB, EPT12_ACCESS_READ);
	/* Bits 7:3 of entries that reference tables, bit 7 of a PML4E. */
	for (unsigned int bit = 3; bit <= 7; bit++)
		expect_misconfig(4, 0x2000 | BIT(bit) | R | W | X, &caps);
	for (unsigned int bit = 3; bit <= 6; bit++) {
		expect_misconfig(3, 0x3000 | BIT(bit) | R | W | X, &caps);
		expect_misconfig(2, 0x4000 | BIT(bit) | R | W | X, &caps);
	}
	/* Large leaves: bits 29:12 (1 GiB) and 20:12 (2 MiB); bit 12 too, which Bochs 2.7 does not check. */
	expect_misconfig(3, 0x40000000ULL | BIT(12) | EPT_LARGE | R | WB, &caps);
	expect_misconfig(3, 0x40000000ULL | BIT(29) | EPT_LARGE | R | WB, &caps);
	expect_misconfig(2, 0x200000ULL | BIT(12) | EPT_LARGE | R | WB, &caps);
	expect_misconfig(2, 0x200000ULL | BIT(20) | EPT_LARGE | R | WB, &caps);
	expect_ok(3, 0x40000000ULL | EPT_LARGE | R | WB, EPT12_ACCESS_READ);
	expect_ok(2, 0x200000ULL | EPT_LARGE | R | WB, EPT12_ACCESS_READ);
	/* Page sizes L1 is not offered. */
	expect_misconfig(3, 0x40000000ULL | EPT_LARGE | R | WB, &no_big);
	expect_misconfig(2, 0x200000ULL | EPT_LARGE | R | WB, &no_big);
}

static void test_misconfig_memtype(void **state)
{
	(void)state;
	for (uint64_t mt = 0; mt < 8; mt++) {
		bool bad = mt == 2 || mt == 3 || mt == 7;

		if (bad) {
			expect_misconfig(1, 0x80000 | (mt << 3) | R, &caps);
			expect_misconfig(2, 0x200000 | (mt << 3) | EPT_LARGE | R, &caps);
			expect_misconfig(3, 0x40000000ULL | (mt << 3) | EPT_LARGE | R, &caps);
		} else {
			expect_ok(1, 0x80000 | (mt << 3) | R, EPT12_ACCESS_READ);
			expect_ok(2, 0x200000 | (mt << 3) | EPT_LARGE | R, EPT12_ACCESS_READ);
			expect_ok(3, 0x40000000ULL | (mt << 3) | EPT_LARGE | R, EPT12_ACCESS_READ);
		}
	}
}

static void test_misconfig_before_violation(void **state)
{
	struct ept12_walk w;

	(void)state;
	/* A reserved bit in the leaf wins over the missing write right (violations need a translation). */
	build(R | W | X, R | WB | BIT(40));
	assert_int_equal(walk(EPTP, EPT12_ACCESS_WRITE, &w), EPT12_MISCONFIG);
	/* A read-only PML4E and a misconfigured PTE: still a misconfiguration. */
	build(R, R | W | (2ULL << 3));
	assert_int_equal(walk(EPTP, EPT12_ACCESS_WRITE, &w), EPT12_MISCONFIG);
}

/* ---- accessed and dirty flags (SDM 29.3.5) --------------------------------------------- */

static enum ept12_status walk_set_ad(uint64_t eptp, unsigned int access, bool paging, struct ept12_walk *w)
{
	struct ept12_access a = { .gpa2 = GPA2, .access = access, .paging_structure = paging };

	if (ept12_walk(&caps, eptp, &a, &mem, w) != EPT12_OK)
		return w->status;
	return ept12_set_ad(w, &mem);
}

static void test_ad_read_write(void **state)
{
	struct ept12_walk w;

	(void)state;
	build(R | W | X, R | W | X | WB);
	assert_int_equal(walk(EPTP_AD, EPT12_ACCESS_READ, &w), EPT12_OK);
	assert_true(ept12_ad_pending(&w));
	assert_false(ept12_dirty_pending(&w));
	assert_int_equal(ept12_set_ad(&w, &mem), EPT12_OK);
	for (unsigned int level = 1; level <= 4; level++)
		assert_int_equal(E(at[level]) & (AC | DI), AC);
	assert_false(w.dirty);
	assert_int_equal(cmpxchgs, 4);
	/* Again: nothing to set, nothing written. */
	assert_int_equal(walk_set_ad(EPTP_AD, EPT12_ACCESS_READ, false, &w), EPT12_OK);
	assert_false(ept12_ad_pending(&w));
	assert_int_equal(cmpxchgs, 4);
	/* A write: the dirty flag in the leaf only. */
	assert_int_equal(walk(EPTP_AD, EPT12_ACCESS_WRITE, &w), EPT12_OK);
	assert_true(ept12_dirty_pending(&w));
	assert_int_equal(ept12_set_ad(&w, &mem), EPT12_OK);
	assert_int_equal(cmpxchgs, 5);
	assert_true(w.dirty);
	assert_int_equal(E(at[1]) & (AC | DI), AC | DI);
	for (unsigned int level = 2; level <= 4; level++)
		assert_int_equal(E(at[level]) & (AC | DI), AC);
	/* A 2 MiB leaf gets its dirty flag; a fetch sets none. */
	build(R | W | X, R | W | X | WB);
	E(at[2]) = 0x200000 | EPT_LARGE | R | W | X | WB;
	assert_int_equal(walk_set_ad(EPTP_AD, EPT12_ACCESS_FETCH, false, &w), EPT12_OK);
	assert_int_equal(E(at[2]) & (AC | DI), AC);
	assert_int_equal(walk_set_ad(EPTP_AD, EPT12_ACCESS_WRITE, false, &w), EPT12_OK);
	assert_int_equal(E(at[2]) & (AC | DI), AC | DI);
	assert_int_equal(E(at[1]) & (AC | DI), 0); /* the old PTE is not used */
}

static void test_ad_disabled_or_violation(void **state)
{
	struct ept12_walk w;

	(void)state;
	build(R | W | X, R | W | X | WB);
	assert_int_equal(walk_set_ad(EPTP, EPT12_ACCESS_WRITE, false, &w), EPT12_OK);
	assert_false(ept12_ad_pending(&w));
	assert_false(ept12_dirty_pending(&w));
	assert_int_equal(cmpxchgs, 0);
	for (unsigned int level = 1; level <= 4; level++)
		assert_int_equal(E(at[level]) & (AC | DI), 0);
	/* A violation sets nothing (the translation is not used). */
	build(R | W | X, R | WB);
	assert_int_equal(walk_set_ad(EPTP_AD, EPT12_ACCESS_WRITE, false, &w), EPT12_VIOLATION);
	assert_false(ept12_ad_pending(&w));
	assert_int_equal(cmpxchgs, 0);
	assert_int_equal(ept12_set_ad(&w, &mem), EPT12_VIOLATION);
	assert_int_equal(cmpxchgs, 0);
}

static void test_ad_paging_structure_is_write(void **state)
{
	struct ept12_walk w;

	(void)state;
	/* With EPTP[6], L2's page walk writes: dirty flag set, and a read-only page is a violation with bits 0 and 1. */
	build(R | W | X, R | W | WB);
	assert_int_equal(walk_set_ad(EPTP_AD, EPT12_ACCESS_READ, true, &w), EPT12_OK);
	assert_int_equal(E(at[1]) & (AC | DI), AC | DI);
	build(R | W | X, R | WB);
	assert_int_equal(walk_set_ad(EPTP_AD, EPT12_ACCESS_READ, true, &w), EPT12_VIOLATION);
	assert_int_equal(w.qual, EPT12_ACCESS_READ | EPT12_ACCESS_WRITE | (R << 3));
	/* Without it, a read like any other. */
	assert_int_equal(walk_set_ad(EPTP, EPT12_ACCESS_READ, true, &w), EPT12_OK);
	assert_int_equal(E(at[1]) & (AC | DI), 0);
}

static void test_ad_race_and_alias(void **state)
{
	struct ept12_walk w;

	(void)state;
	/* L1 changes the PDE between our read and our update: retry, nothing more written. */
	build(R | W | X, R | W | X | WB);
	race_at = at[2];
	assert_int_equal(walk_set_ad(EPTP_AD, EPT12_ACCESS_WRITE, false, &w), EPT12_RETRY);
	assert_int_equal(E(at[1]) & (AC | DI), 0);
	assert_int_equal(E(at[4]) & AC, AC);
	/* A PML4E that points at its own table (index 1 -> 0x1000, then index 1 again is the same entry). */
	memset(l1, 0, sizeof(l1));
	race_at = 0;
	E(0x1000 + 8) = 0x1000 | R | W | X;
	{
		struct ept12_access a = { .gpa2 = (1ULL << 39) | (1ULL << 30) | (3ULL << 21) | (4ULL << 12),
					  .access = EPT12_ACCESS_READ };

		E(0x1000 + 3 * 8) = 0x4000 | R | W | X; /* the PD is the PML4 table again: index 3 */
		E(0x4000 + 4 * 8) = 0x90000 | R | WB;
		assert_int_equal(ept12_walk(&caps, EPTP_AD, &a, &mem, &w), EPT12_OK);
		assert_int_equal(w.gpa1, 0x90000);
		assert_int_equal(ept12_set_ad(&w, &mem), EPT12_OK);
		assert_int_equal(E(0x1000 + 8) & AC, AC);
		assert_int_equal(E(0x4000 + 4 * 8) & AC, AC);
	}
}

static void test_table_not_in_l1(void **state)
{
	struct ept12_walk w;

	(void)state;
	build(R | W | X, R | W | X | WB);
	E(at[3]) = 0x7fff000ULL | R | W | X; /* a PD outside L1's 256 KiB */
	assert_int_equal(walk(EPTP, EPT12_ACCESS_READ, &w), EPT12_NOT_L1_MEM);
	assert_int_equal(w.table_gpa1, 0x7fff000ULL + 3 * 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_page_sizes),
		cmocka_unit_test(test_access_x_permissions),
		cmocka_unit_test(test_not_present_each_level),
		cmocka_unit_test(test_misconfig_rights),
		cmocka_unit_test(test_misconfig_reserved),
		cmocka_unit_test(test_misconfig_memtype),
		cmocka_unit_test(test_misconfig_before_violation),
		cmocka_unit_test(test_ad_read_write),
		cmocka_unit_test(test_ad_disabled_or_violation),
		cmocka_unit_test(test_ad_paging_structure_is_write),
		cmocka_unit_test(test_ad_race_and_alias),
		cmocka_unit_test(test_table_not_in_l1),
	};

	return cmocka_run_group_tests_name("ept12_walk", tests, NULL, NULL);
}
