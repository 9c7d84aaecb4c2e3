/* Host tests for l1_mem's RAM rule and guest_walk: every paging mode, not-present and reserved bits at each level, access rights, #PF error codes, A/D flags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "hv/vmx/l1_mem.h"
#include "hv/vmx/guest_walk.h"
#include "hv/x86.h"

/* ---- l1_ram_covers ------------------------------------------------------------------ */

static void test_ram_covers(void **state)
{
	struct mem_map m = { .count = 5, .r = {
		{ 0x0, 0x9f000, MEM_USABLE },
		{ 0x100000, 0x100000, MEM_USABLE },
		{ 0x200000, 0x1000, MEM_ACPI_RECLAIM },
		{ 0x201000, 0x1000, MEM_RESERVED },
		{ 0x300000, 0x1000, MEM_ACPI_NVS },
	} };

	(void)state;
	assert_true(l1_ram_covers(&m, 0x1000, 0x1000));
	assert_true(l1_ram_covers(&m, 0x9e000, 0x1000));
	assert_false(l1_ram_covers(&m, 0x9e000, 0x1001));       /* runs into the hole below 1 MiB */
	assert_false(l1_ram_covers(&m, 0xa0000, 1));             /* VGA: not in the map */
	assert_true(l1_ram_covers(&m, 0x1ff000, 0x2000));        /* usable then ACPI data: both RAM */
	assert_false(l1_ram_covers(&m, 0x200800, 0x1000));       /* ACPI data then reserved */
	assert_false(l1_ram_covers(&m, 0x201000, 4));            /* reserved (MMIO, the hypervisor's) */
	assert_true(l1_ram_covers(&m, 0x300ff8, 8));             /* ACPI NVS */
	assert_false(l1_ram_covers(&m, 0x300ff8, 9));            /* past the end of the map */
	assert_false(l1_ram_covers(&m, 0x100000000ULL, 1));     /* 4 GiB: nothing there */
	assert_false(l1_ram_covers(&m, 0x1000, 0));              /* empty */
	assert_false(l1_ram_covers(&m, ~0ULL - 3, 8));           /* wraps */
}

/* ---- guest memory for the walks ----------------------------------------------------- */

#define GMEM_PAGES 64
static uint64_t gmem[GMEM_PAGES * 512];
static int writes;

static bool gread64(uint64_t gpa, uint64_t *val)
{
	if (gpa + 8 > sizeof(gmem) || (gpa & 7))
		return false;
	*val = gmem[gpa / 8];
	return true;
}

static bool gwrite64(uint64_t gpa, uint64_t bits)
{
	if (gpa + 8 > sizeof(gmem) || (gpa & 7))
		return false;
	gmem[gpa / 8] |= bits;
	writes++;
	return true;
}

static void put32(uint64_t gpa, uint32_t v)
{
	memcpy((uint8_t *)gmem + gpa, &v, 4);
}

static uint32_t get32(uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, (uint8_t *)gmem + gpa, 4);
	return v;
}

#define E(gpa) gmem[(gpa) / 8]
#define P  0x1ULL
#define RW 0x2ULL
#define US 0x4ULL
#define A  0x20ULL
#define D  0x40ULL
#define PS 0x80ULL
#define XD (1ULL << 63)

/* Result of one walk: GUEST_WALK_OK with *gpa, or the #PF error code (or another result as a negative). */
static int64_t walk(const struct guest_paging *p, uint64_t lin, unsigned int access, uint64_t *gpa)
{
	uint32_t ec = 0xdead;
	int r = guest_walk(p, lin, access, gread64, gwrite64, gpa, &ec);

	if (r == GUEST_WALK_PAGE_FAULT)
		return ec;
	return r == GUEST_WALK_OK ? -1 : -2 - r;
}
#define OK (-1)

static const struct guest_paging p32 = { .cr0 = X86_CR0_PE | X86_CR0_PG, .cr3 = 0x1000, .cr4 = X86_CR4_PSE };
static const struct guest_paging ppae = { .cr0 = X86_CR0_PE | X86_CR0_PG, .cr3 = 0x1000, .cr4 = X86_CR4_PAE };
static const struct guest_paging p64 = { .cr0 = X86_CR0_PE | X86_CR0_PG, .cr3 = 0x1000, .cr4 = X86_CR4_PAE,
					  .efer = X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE };

/* 4-level: 0x1000 PML4 -> 0x2000 PDPT -> 0x3000 PD -> 0x4000 PT, linear 0x40201000 (indices 0, 1, 1, 1) -> 0x9000. */
static void build_4level(uint64_t flags)
{
	memset(gmem, 0, sizeof(gmem));
	E(0x1000) = 0x2000 | flags;
	E(0x2000 + 8) = 0x3000 | flags;
	E(0x3000 + 8) = 0x4000 | flags;
	E(0x4000 + 8) = 0x9000 | flags;
}
#define LIN64 0x40201000ULL

/* PAE: PDPTE 1 (in memory at 0x1008) -> PD 0x3000 -> PT 0x4000, linear 0x40201000 -> 0x9000. */
static void build_pae(uint64_t flags)
{
	memset(gmem, 0, sizeof(gmem));
	E(0x1000 + 8) = 0x3000 | P;
	E(0x3000 + 8) = 0x4000 | flags;
	E(0x4000 + 8) = 0x9000 | flags;
}

/* 32-bit: PD 0x1000, PDE 1 -> PT 0x2000, PTE 1 -> 0x9000 for linear 0x00401000; PDE 2 a 4 MiB page. */
static void build_32(uint32_t flags)
{
	memset(gmem, 0, sizeof(gmem));
	put32(0x1000 + 4, 0x2000 | flags);
	put32(0x2000 + 4, 0x9000 | flags);
}

/* ---- modes and not-present at each level ------------------------------------------- */

static void test_no_paging(void **state)
{
	struct guest_paging p = { .cr0 = X86_CR0_PE };
	uint64_t gpa;

	(void)state;
	assert_int_equal(walk(&p, 0x1234567890ULL, GUEST_ACCESS_WRITE, &gpa), OK);
	assert_int_equal(gpa, 0x34567890); /* outside IA-32e mode linear addresses are 32 bits */
}

static void test_32bit_not_present_each_level(void **state)
{
	struct guest_paging p = p32;
	uint64_t gpa;

	(void)state;
	build_32(P | RW | US);
	assert_int_equal(walk(&p, 0x00401abc, GUEST_ACCESS_READ, &gpa), OK);
	assert_int_equal(gpa, 0x9abc);
	put32(0x2000 + 4, 0x9000);                                   /* PTE not present */
	assert_int_equal(walk(&p, 0x00401abc, GUEST_ACCESS_WRITE, &gpa), PF_EC_W);
	p.cpl = 3;
	assert_int_equal(walk(&p, 0x00401abc, GUEST_ACCESS_READ, &gpa), PF_EC_U);
	put32(0x1000 + 4, 0x2000);                                   /* PDE not present */
	assert_int_equal(walk(&p, 0x00401abc, GUEST_ACCESS_FETCH, &gpa), PF_EC_U); /* no I/D without NXE/SMEP */
	/* 4 MiB page with PSE-36 bits: 0x00800000 -> 0x3_01c00000. */
	put32(0x1000 + 8, 0x01c00000 | (0x3 << 13) | PS | P | RW | US);
	assert_int_equal(walk(&p, 0x00812345, GUEST_ACCESS_READ, &gpa), OK);
	assert_int_equal(gpa, 0x301c12345ULL);
}

static void test_pae_not_present_each_level(void **state)
{
	struct guest_paging p = ppae;
	uint64_t gpa;

	(void)state;
	build_pae(P | RW);
	assert_int_equal(walk(&p, LIN64 + 0x12, GUEST_ACCESS_READ, &gpa), OK);
	assert_int_equal(gpa, 0x9012);
	E(0x4000 + 8) = 0x9000;
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_READ, &gpa), 0);
	E(0x3000 + 8) = 0x4000;
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_WRITE, &gpa), PF_EC_W);
	E(0x1000 + 8) = 0;
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_READ, &gpa), 0);
	/* The PDPTE registers the CPU loaded win over memory (SDM 4.4.1). */
	build_pae(P | RW);
	p.pdptes_loaded = true;
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_READ, &gpa), 0); /* register PDPTE 1 is 0 */
	p.pdpte[1] = 0x3000 | P;
	E(0x1000 + 8) = 0;
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_READ, &gpa), OK);
	assert_int_equal(gpa, 0x9000);
}

static void test_4level_not_present_each_level(void **state)
{
	static const uint64_t entry[4] = { 0x1000, 0x2000 + 8, 0x3000 + 8, 0x4000 + 8 };
	struct guest_paging p = p64;
	uint64_t gpa;

	(void)state;
	for (int level = 0; level < 4; level++) {
		build_4level(P | RW | US);
		assert_int_equal(walk(&p, LIN64 + 0x345, GUEST_ACCESS_READ, &gpa), OK);
		assert_int_equal(gpa, 0x9345);
		E(entry[level]) &= ~P;
		assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_FETCH, &gpa), PF_EC_I);
	}
	/* A paging structure outside L1 RAM is reported, not read. */
	build_4level(P | RW);
	E(0x1000) = 0x7fff0000000ULL | P;
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_READ, &gpa), -2 - GUEST_WALK_BAD_TABLE);
	/* 5-level paging is not offered. */
	p.cr4 |= X86_CR4_LA57;
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_READ, &gpa), -2 - GUEST_WALK_UNSUPPORTED);
}

/* ---- reserved bits ------------------------------------------------------------------ */

static void test_reserved_bits(void **state)
{
	struct guest_paging p = p64;
	uint64_t gpa;

	(void)state;
	/* XD without EFER.NXE is reserved, at any level. */
	p.efer &= ~(uint64_t)X86_EFER_NXE;
	build_4level(P | RW);
	E(0x3000 + 8) |= XD;
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_WRITE, &gpa), PF_EC_P | PF_EC_W | PF_EC_RSVD);
	p.efer |= X86_EFER_NXE;
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_WRITE, &gpa), OK);
	/* PS in a PML4E. */
	build_4level(P | RW);
	E(0x1000) |= PS;
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_READ, &gpa), PF_EC_P | PF_EC_RSVD);
	/* 1 GiB page: bits 29:13 reserved; 2 MiB page: bits 20:13. */
	build_4level(P | RW);
	E(0x2000 + 8) = 0x40000000ULL | PS | P;
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_READ, &gpa), OK);
	assert_int_equal(gpa, 0x40201000);
	E(0x2000 + 8) |= 1ULL << 13;
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_READ, &gpa), PF_EC_P | PF_EC_RSVD);
	build_4level(P | RW);
	E(0x3000 + 8) = 0x600000ULL | PS | P | (1ULL << 12); /* bit 12 is PAT, not reserved */
	assert_int_equal(walk(&p, LIN64 + 5, GUEST_ACCESS_READ, &gpa), OK);
	assert_int_equal(gpa, 0x601005);
	E(0x3000 + 8) |= 1ULL << 20;
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_READ, &gpa), PF_EC_P | PF_EC_RSVD);
	/* Address bits at or above MAXPHYADDR; bits 62:52 are ignored in 4-level entries. */
	p.maxphyaddr = 39;
	build_4level(P | RW);
	E(0x4000 + 8) |= 1ULL << 39;
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_READ, &gpa), PF_EC_P | PF_EC_RSVD);
	E(0x4000 + 8) = 0x9000 | P | (1ULL << 55);
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_READ, &gpa), OK);
	/* PAE entries reserve bits 62:MAXPHYADDR. */
	p = ppae;
	build_pae(P | RW);
	E(0x4000 + 8) |= 1ULL << 55;
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_READ, &gpa), PF_EC_P | PF_EC_RSVD);
	/* 32-bit 4 MiB pages: bit 21 and PSE-36 bits above MAXPHYADDR. */
	p = p32;
	p.maxphyaddr = 36;
	build_32(P | RW);
	put32(0x1000 + 8, 0x00c00000 | (1u << 21) | PS | P);
	assert_int_equal(walk(&p, 0x00800000, GUEST_ACCESS_READ, &gpa), PF_EC_P | PF_EC_RSVD);
	put32(0x1000 + 8, 0x00c00000 | (0x10u << 13) | PS | P); /* address bit 36 */
	assert_int_equal(walk(&p, 0x00800000, GUEST_ACCESS_READ, &gpa), PF_EC_P | PF_EC_RSVD);
	put32(0x1000 + 8, 0x00c00000 | (0x8u << 13) | PS | P);  /* address bit 35: fine */
	assert_int_equal(walk(&p, 0x00800000, GUEST_ACCESS_READ, &gpa), OK);
	assert_int_equal(gpa, 0x800c00000ULL);
}

/* ---- access rights ------------------------------------------------------------------ */

static void test_rw_and_wp(void **state)
{
	struct guest_paging p = p64;
	uint64_t gpa;

	(void)state;
	build_4level(P | RW | US);
	E(0x3000 + 8) &= ~RW; /* one read-only level makes the page read-only */
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_READ, &gpa), OK);
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_WRITE, &gpa), OK); /* CR0.WP=0: supervisor writes anyway */
	p.cr0 |= X86_CR0_WP;
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_WRITE, &gpa), PF_EC_P | PF_EC_W);
	p.cr0 &= ~(uint64_t)X86_CR0_WP;
	p.cpl = 3;
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_WRITE, &gpa), PF_EC_P | PF_EC_W | PF_EC_U);
	/* 32-bit paging: the same rule. */
	p = p32;
	p.cr0 |= X86_CR0_WP;
	build_32(P | US);
	assert_int_equal(walk(&p, 0x00401000, GUEST_ACCESS_WRITE, &gpa), PF_EC_P | PF_EC_W);
}

static void test_us(void **state)
{
	struct guest_paging p = p64;
	uint64_t gpa;

	(void)state;
	build_4level(P | RW | US);
	E(0x2000 + 8) &= ~US;
	p.cpl = 3;
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_READ, &gpa), PF_EC_P | PF_EC_U);
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_FETCH, &gpa), PF_EC_P | PF_EC_U | PF_EC_I);
	p.cpl = 0;
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_READ, &gpa), OK);
}

static void test_xd_smep_smap(void **state)
{
	struct guest_paging p = p64;
	uint64_t gpa;

	(void)state;
	build_4level(P | RW);
	E(0x2000 + 8) |= XD;
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_READ, &gpa), OK);
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_FETCH, &gpa), PF_EC_P | PF_EC_I);
	/* PAE with NXE: XD works the same way. */
	p = ppae;
	p.efer = X86_EFER_NXE;
	build_pae(P | RW);
	E(0x4000 + 8) |= XD;
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_FETCH, &gpa), PF_EC_P | PF_EC_I);
	/* SMEP: supervisor fetch from a user page; the I/D flag is set even without NXE. */
	p = p32;
	p.cr4 |= X86_CR4_SMEP;
	build_32(P | RW | US);
	assert_int_equal(walk(&p, 0x00401000, GUEST_ACCESS_FETCH, &gpa), PF_EC_P | PF_EC_I);
	assert_int_equal(walk(&p, 0x00401000, GUEST_ACCESS_READ, &gpa), OK);
	p.cpl = 3;
	assert_int_equal(walk(&p, 0x00401000, GUEST_ACCESS_FETCH, &gpa), OK);
	/* SMAP: supervisor data access to a user page unless RFLAGS.AC; fetches are SMEP's. */
	p = p64;
	p.cr4 |= X86_CR4_SMAP;
	build_4level(P | RW | US);
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_READ, &gpa), PF_EC_P);
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_WRITE, &gpa), PF_EC_P | PF_EC_W);
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_FETCH, &gpa), OK);
	p.rflags_ac = true;
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_WRITE, &gpa), OK);
	p.cpl = 3;
	p.rflags_ac = false;
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_READ, &gpa), OK);
}

/* ---- accessed and dirty flags ------------------------------------------------------- */

static void test_accessed_dirty(void **state)
{
	struct guest_paging p = p64;
	uint64_t gpa;
	uint32_t ec;

	(void)state;
	build_4level(P | RW);
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_READ, &gpa), OK);
	assert_true((E(0x1000) & A) && (E(0x2000 + 8) & A) && (E(0x3000 + 8) & A) && (E(0x4000 + 8) & A));
	assert_false(E(0x4000 + 8) & D);
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_WRITE, &gpa), OK);
	assert_true(E(0x4000 + 8) & D);
	assert_false(E(0x3000 + 8) & D); /* only the entry that maps the page */
	/* Already set: nothing is written again. */
	writes = 0;
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_WRITE, &gpa), OK);
	assert_int_equal(writes, 0);
	/* A faulting access sets nothing. */
	build_4level(P);
	p.cr0 |= X86_CR0_WP;
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_WRITE, &gpa), PF_EC_P | PF_EC_W);
	assert_false(E(0x1000) & A);
	/* Without a writer the walk only reads. */
	build_4level(P | RW);
	assert_int_equal(guest_walk(&p, LIN64, GUEST_ACCESS_WRITE, gread64, NULL, &gpa, &ec), GUEST_WALK_OK);
	assert_false(E(0x4000 + 8) & A);
	/* A 2 MiB page: dirty goes into the PDE. */
	E(0x3000 + 8) = 0x600000ULL | PS | P | RW;
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_WRITE, &gpa), OK);
	assert_int_equal(E(0x3000 + 8) & (A | D), A | D);
	/* 32-bit entries: the flags land in the right half of the 8-byte word, the neighbour untouched. */
	p = p32;
	build_32(P | RW);
	put32(0x1000, 0x5000 | P);
	assert_int_equal(walk(&p, 0x00401000, GUEST_ACCESS_WRITE, &gpa), OK);
	assert_int_equal(get32(0x1000 + 4), 0x2000 | P | RW | A);
	assert_int_equal(get32(0x2000 + 4), 0x9000 | P | RW | A | D);
	assert_int_equal(get32(0x1000), 0x5000 | P);
	/* PAE: the PDPTE has no accessed flag to set. */
	p = ppae;
	build_pae(P | RW);
	assert_int_equal(walk(&p, LIN64, GUEST_ACCESS_READ, &gpa), OK);
	assert_int_equal(E(0x1000 + 8), 0x3000 | P);
	assert_true(E(0x3000 + 8) & A);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ram_covers),
		cmocka_unit_test(test_no_paging),
		cmocka_unit_test(test_32bit_not_present_each_level),
		cmocka_unit_test(test_pae_not_present_each_level),
		cmocka_unit_test(test_4level_not_present_each_level),
		cmocka_unit_test(test_reserved_bits),
		cmocka_unit_test(test_rw_and_wp),
		cmocka_unit_test(test_us),
		cmocka_unit_test(test_xd_smep_smap),
		cmocka_unit_test(test_accessed_dirty),
	};

	return cmocka_run_group_tests_name("l1_mem", tests, NULL, NULL);
}
