/* Host tests: the decisions behind L1's emulated CR0/CR4 writes, XSETBV and IN results. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "hv/vmx/vmx_internal.h"
#include "hv/x86.h"

#define CR0_PROT (X86_CR0_PE | X86_CR0_ET)
#define CR0_LINUX (X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE | X86_CR0_WP | X86_CR0_AM | X86_CR0_PG)

static void test_cr0_long_mode_activation(void **state)
{
	uint64_t efer = X86_EFER_LME;

	(void)state;
	/* 32-bit protected mode, PAE on, LME set: paging on activates IA-32e mode. */
	assert_true(emulate_cr0_write(CR0_PROT, CR0_LINUX, X86_CR4_PAE, false, &efer));
	assert_int_equal(efer, X86_EFER_LME | X86_EFER_LMA);
	/* Paging off again deactivates it. */
	assert_true(emulate_cr0_write(CR0_LINUX, CR0_PROT, X86_CR4_PAE, false, &efer));
	assert_int_equal(efer, X86_EFER_LME);
	/* Without PAE: #GP, EFER untouched. */
	assert_false(emulate_cr0_write(CR0_PROT, CR0_LINUX, 0, false, &efer));
	assert_int_equal(efer, X86_EFER_LME);
}

static void test_cr0_without_lme(void **state)
{
	uint64_t efer = 0;

	(void)state;
	assert_true(emulate_cr0_write(CR0_PROT, CR0_PROT | X86_CR0_PG | X86_CR0_NE, 0, false, &efer));
	assert_int_equal(efer, 0);
	/* A write that keeps paging on changes nothing in EFER. */
	efer = X86_EFER_LME | X86_EFER_LMA;
	assert_true(emulate_cr0_write(CR0_LINUX, CR0_LINUX | X86_CR0_CD, X86_CR4_PAE, false, &efer));
	assert_int_equal(efer, X86_EFER_LME | X86_EFER_LMA);
}

static void test_cr0_invalid(void **state)
{
	uint64_t efer = 0;

	(void)state;
	assert_false(emulate_cr0_write(CR0_PROT, X86_CR0_PG | X86_CR0_ET, 0, false, &efer));      /* PG without PE */
	assert_false(emulate_cr0_write(CR0_PROT, CR0_PROT | X86_CR0_NW, 0, false, &efer));        /* NW without CD */
	assert_true(emulate_cr0_write(CR0_PROT, CR0_PROT | X86_CR0_NW | X86_CR0_CD, 0, false, &efer));
	assert_false(emulate_cr0_write(CR0_PROT, CR0_PROT | BIT(32), 0, false, &efer));           /* bits 63:32 */
	/* Real mode (unrestricted guest) is a valid target. */
	assert_true(emulate_cr0_write(CR0_PROT, X86_CR0_ET, 0, false, &efer));
}

/* Leaving paging: #GP in 64-bit mode or with PCIDE, allowed from compatibility mode (SDM 9.8.5.4). */
static void test_cr0_clear_pg(void **state)
{
	uint64_t efer = X86_EFER_LME | X86_EFER_LMA;

	(void)state;
	assert_false(emulate_cr0_write(CR0_LINUX, CR0_LINUX & ~X86_CR0_PG, X86_CR4_PAE, true, &efer));
	/* Other bits toggled in the same write (the write that exits) change nothing. */
	assert_false(emulate_cr0_write(CR0_LINUX & ~X86_CR0_NE, (CR0_LINUX | X86_CR0_CD) & ~X86_CR0_PG, X86_CR4_PAE, true, &efer));
	assert_int_equal(efer, X86_EFER_LME | X86_EFER_LMA);
	assert_false(emulate_cr0_write(CR0_LINUX, CR0_LINUX & ~X86_CR0_PG, X86_CR4_PAE | X86_CR4_PCIDE, false, &efer));
	assert_int_equal(efer, X86_EFER_LME | X86_EFER_LMA);
	/* Compatibility mode: IA-32e mode ends. */
	assert_true(emulate_cr0_write(CR0_LINUX, CR0_LINUX & ~X86_CR0_PG, X86_CR4_PAE, false, &efer));
	assert_int_equal(efer, X86_EFER_LME);
	/* 64-bit mode, paging kept: fine. */
	efer = X86_EFER_LME | X86_EFER_LMA;
	assert_true(emulate_cr0_write(CR0_LINUX, CR0_LINUX | X86_CR0_TS, X86_CR4_PAE, true, &efer));
	/* WP cannot be cleared with CET. */
	assert_false(emulate_cr0_write(CR0_LINUX, CR0_LINUX & ~X86_CR0_WP, X86_CR4_PAE | X86_CR4_CET, true, &efer));
}

static void test_pdptes(void **state)
{
	uint64_t ok[4] = { 0x1001, 0x2001, 0, 0x3000 | 0x1e6 }; /* the last is not present: its bits do not count */
	uint64_t bad[4] = { 0x1001, 0x2003, 0, 0 };            /* bit 1 (R/W) is reserved in a PDPTE */

	(void)state;
	assert_true(emulate_pdptes_valid(ok, 36));
	assert_false(emulate_pdptes_valid(bad, 36));
	bad[1] = 0x2001 | BIT(7);
	assert_false(emulate_pdptes_valid(bad, 36));
	bad[1] = 0x2001 | BIT(36);                              /* above MAXPHYADDR */
	assert_false(emulate_pdptes_valid(bad, 36));
	assert_true(emulate_pdptes_valid(bad, 40));
	bad[1] = 0x2001 | BIT(63);                              /* no XD in a PAE PDPTE */
	assert_false(emulate_pdptes_valid(bad, 52));
}

/* SDM 4.4.1: which CR0/CR4 changes load the PDPTEs under PAE paging. */
static void test_pdpte_load(void **state)
{
	uint64_t pg = CR0_PROT | X86_CR0_PG;

	(void)state;
	assert_true(emulate_pdpte_load(CR0_PROT, pg, X86_CR4_PAE, X86_CR4_PAE, 0));          /* paging on */
	assert_true(emulate_pdpte_load(pg, pg, 0, X86_CR4_PAE, 0));                          /* PAE on */
	assert_true(emulate_pdpte_load(pg, pg | X86_CR0_CD, X86_CR4_PAE, X86_CR4_PAE, 0));
	assert_true(emulate_pdpte_load(pg, pg, X86_CR4_PAE, X86_CR4_PAE | X86_CR4_PGE, 0));
	assert_false(emulate_pdpte_load(pg, pg | X86_CR0_TS, X86_CR4_PAE, X86_CR4_PAE, 0));  /* TS: no load */
	assert_false(emulate_pdpte_load(pg, pg, X86_CR4_PAE, X86_CR4_PAE | X86_CR4_OSFXSR, 0));
	assert_false(emulate_pdpte_load(CR0_PROT, pg, X86_CR4_PAE, X86_CR4_PAE, X86_EFER_LMA | X86_EFER_LME));
	assert_false(emulate_pdpte_load(pg, CR0_PROT, X86_CR4_PAE, X86_CR4_PAE, 0));         /* paging off */
}

static void test_single_step(void **state)
{
	(void)state;
	assert_true(emulate_single_step_due(X86_RFLAGS_TF, 0, false));
	assert_false(emulate_single_step_due(0, 0, false));
	assert_false(emulate_single_step_due(X86_RFLAGS_TF, DEBUGCTL_BTF, false)); /* BTF: branches only */
	assert_true(emulate_single_step_due(X86_RFLAGS_TF, DEBUGCTL_BTF, true));
	assert_false(emulate_single_step_due(0, DEBUGCTL_BTF, true));
}

static void test_cr4(void **state)
{
	uint64_t fixed1 = 0x3767ff;

	(void)state;
	assert_true(emulate_cr4_write(X86_CR4_PAE | X86_CR4_OSFXSR, 0, fixed1, false, false));
	assert_false(emulate_cr4_write(X86_CR4_VMXE, 0, fixed1, false, false)); /* nested=off: VT-x hidden */
	assert_true(emulate_cr4_write(X86_CR4_VMXE, 0, fixed1, true, false));   /* offered */
	assert_false(emulate_cr4_write(0, 0, fixed1, true, true));              /* VMXE cleared in VMX operation */
	assert_true(emulate_cr4_write(X86_CR4_VMXE, 0, fixed1, true, true));
	assert_false(emulate_cr4_write(BIT(23), 0, fixed1, true, false));       /* not supported in VMX operation */
	assert_false(emulate_cr4_write(0, X86_EFER_LMA, fixed1, false, false)); /* PAE must stay on in IA-32e mode */
	assert_true(emulate_cr4_write(X86_CR4_PAE, X86_EFER_LMA | X86_EFER_LME, fixed1, false, false));
}

static void test_pae_paging(void **state)
{
	(void)state;
	assert_true(emulate_pae_paging(X86_CR0_PG | X86_CR0_PE, X86_CR4_PAE, 0));
	assert_false(emulate_pae_paging(X86_CR0_PG | X86_CR0_PE, X86_CR4_PAE, X86_EFER_LMA));
	assert_false(emulate_pae_paging(X86_CR0_PE, X86_CR4_PAE, 0));
	assert_false(emulate_pae_paging(X86_CR0_PG | X86_CR0_PE, 0, 0));
}

static void test_xsetbv(void **state)
{
	uint64_t supported = 0x2e7; /* x87, SSE, AVX, AVX-512 (5-7), PKRU */

	(void)state;
	assert_true(emulate_xsetbv_ok(0, 0, 0x7, supported));
	assert_true(emulate_xsetbv_ok(0, 0, 0x1, supported));
	assert_true(emulate_xsetbv_ok(0, 0, 0xe7, supported));
	assert_false(emulate_xsetbv_ok(3, 0, 0x7, supported));   /* CPL 3 */
	assert_false(emulate_xsetbv_ok(0, 1, 0x7, supported));   /* ECX != 0 */
	assert_false(emulate_xsetbv_ok(0, 0, 0x6, supported));   /* x87 off */
	assert_false(emulate_xsetbv_ok(0, 0, 0x5, supported));   /* AVX without SSE */
	assert_false(emulate_xsetbv_ok(0, 0, 0x27, supported));  /* part of the AVX-512 state */
	assert_false(emulate_xsetbv_ok(0, 0, 0xe3, supported));  /* AVX-512 without AVX */
	assert_false(emulate_xsetbv_ok(0, 0, 0x8 | 0x3, supported)); /* unsupported component */
	assert_false(emulate_xsetbv_ok(0, 0, 0x100000007ULL, supported)); /* EDX bit: unsupported */
}

/* The combinations the CPU rejects even among supported components (SDM Vol. 1 13.3). */
static void test_xcr0_combinations(void **state)
{
	uint64_t all = 0x607ff; /* x87 .. Hi16_ZMM, PKRU, TILECFG, TILEDATA */

	(void)state;
	assert_true(emulate_xcr0_valid(0x1b, all));    /* x87, SSE, BNDREGS, BNDCSR */
	assert_false(emulate_xcr0_valid(0x0b, all));   /* BNDREGS without BNDCSR */
	assert_false(emulate_xcr0_valid(0x13, all));   /* BNDCSR without BNDREGS */
	assert_true(emulate_xcr0_valid(0x600e7, all)); /* AMX tiles, both parts */
	assert_false(emulate_xcr0_valid(0x200e7, all));
	assert_false(emulate_xcr0_valid(0x400e7, all));
	assert_false(emulate_xcr0_valid(0x47, all));   /* ZMM_Hi256 alone */
	assert_false(emulate_xcr0_valid(0xc7, all));   /* two of the three AVX-512 parts */
	assert_false(emulate_xcr0_valid(0xe1, all));   /* AVX-512 without SSE and AVX */
	assert_false(emulate_xcr0_valid(0x0, all));
	assert_true(emulate_xcr0_valid(0x3, all));
}

static void test_cr8(void **state)
{
	(void)state;
	assert_true(emulate_cr8_write_ok(0));
	assert_true(emulate_cr8_write_ok(0xf));
	assert_false(emulate_cr8_write_ok(0x10));
	assert_false(emulate_cr8_write_ok(1ULL << 63));
}

#define EN   (1ULL << 11)
#define EXTD (1ULL << 10)
#define BASE 0xfee00000ULL

/* SDM 11.12.5: the x2APIC state transitions and the reserved bits of IA32_APIC_BASE. */
static void test_apic_base(void **state)
{
	uint64_t xapic = BASE | EN | (1 << 8), x2apic = xapic | EXTD, disabled = BASE;

	(void)state;
	assert_true(emulate_apic_base_write_ok(xapic, xapic, 40, true));
	assert_true(emulate_apic_base_write_ok(xapic, 0xfed00000ULL | EN, 40, true)); /* relocation */
	assert_true(emulate_apic_base_write_ok(xapic, x2apic, 40, true));
	assert_true(emulate_apic_base_write_ok(x2apic, x2apic, 40, true));
	assert_true(emulate_apic_base_write_ok(x2apic, disabled, 40, true));
	assert_true(emulate_apic_base_write_ok(disabled, xapic, 40, true));
	assert_true(emulate_apic_base_write_ok(xapic, disabled, 40, true));
	/* Invalid transitions. */
	assert_false(emulate_apic_base_write_ok(disabled, x2apic, 40, true));
	assert_false(emulate_apic_base_write_ok(x2apic, xapic, 40, true));
	assert_false(emulate_apic_base_write_ok(xapic, BASE | EXTD, 40, true));
	assert_false(emulate_apic_base_write_ok(x2apic, BASE | EXTD, 40, true));
	/* x2APIC on a CPU without it: EXTD is reserved. */
	assert_false(emulate_apic_base_write_ok(xapic, x2apic, 40, false));
	assert_true(emulate_apic_base_write_ok(xapic, xapic, 40, false));
	/* Reserved bits: 7:0, 9, MAXPHYADDR and up. */
	assert_false(emulate_apic_base_write_ok(xapic, xapic | 1, 40, true));
	assert_false(emulate_apic_base_write_ok(xapic, xapic | (1 << 9), 40, true));
	assert_false(emulate_apic_base_write_ok(xapic, xapic | (1ULL << 40), 40, true));
	assert_true(emulate_apic_base_write_ok(xapic, xapic | (1ULL << 40), 46, true));
	assert_false(emulate_apic_base_write_ok(xapic, xapic | (1ULL << 63), 52, true));
}

static void test_x2apic_icr(void **state)
{
	(void)state;
	assert_true(emulate_x2apic_icr_write_ok(0x0000000100004500ULL)); /* INIT to APIC ID 1 */
	assert_true(emulate_x2apic_icr_write_ok(0xffffffff000c4608ULL)); /* SIPI, all but self */
	assert_true(emulate_x2apic_icr_write_ok(0x0000000500001040ULL)); /* bit 12: ignored by Intel CPUs */
	assert_false(emulate_x2apic_icr_write_ok(0x0000000100002040ULL)); /* bit 13 */
	assert_false(emulate_x2apic_icr_write_ok(0x0000000100010040ULL)); /* bit 16 */
	assert_false(emulate_x2apic_icr_write_ok(0x0000000100020040ULL)); /* bit 17 */
	assert_false(emulate_x2apic_icr_write_ok(0x0000000100100040ULL)); /* bit 20 */
	assert_false(emulate_x2apic_icr_write_ok(0x0000000180000040ULL)); /* bit 31 */
}

/* SDM Table 10-1: INIT keeps CD and NW, sets ET, clears the rest (power-up's 60000010H is not INIT's). */
static void test_cr0_after_init(void **state)
{
	(void)state;
	assert_int_equal(emulate_cr0_after_init(0x80050033ULL), 0x10);                   /* a running OS: PG, WP, NE, ... */
	assert_int_equal(emulate_cr0_after_init(0x80050033ULL | X86_CR0_CD), 0x40000010); /* caches off: stays off */
	assert_int_equal(emulate_cr0_after_init(0x60000010ULL), 0x60000010);
	assert_int_equal(emulate_cr0_after_init(0), 0x10);
}

static void test_in_result(void **state)
{
	(void)state;
	assert_int_equal(emulate_in_result(0x1122334455667788ULL, 1, 0xab), 0x11223344556677abULL);
	assert_int_equal(emulate_in_result(0x1122334455667788ULL, 2, 0xabcd), 0x112233445566abcdULL);
	assert_int_equal(emulate_in_result(0x1122334455667788ULL, 4, 0xdeadbeef), 0xdeadbeefULL);
	assert_int_equal(emulate_in_result(0, 1, 0xffffffffu), 0xff);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cr0_long_mode_activation),
		cmocka_unit_test(test_cr0_without_lme),
		cmocka_unit_test(test_cr0_invalid),
		cmocka_unit_test(test_cr0_clear_pg),
		cmocka_unit_test(test_pdptes),
		cmocka_unit_test(test_pdpte_load),
		cmocka_unit_test(test_single_step),
		cmocka_unit_test(test_cr4),
		cmocka_unit_test(test_pae_paging),
		cmocka_unit_test(test_xsetbv),
		cmocka_unit_test(test_xcr0_combinations),
		cmocka_unit_test(test_cr8),
		cmocka_unit_test(test_apic_base),
		cmocka_unit_test(test_x2apic_icr),
		cmocka_unit_test(test_cr0_after_init),
		cmocka_unit_test(test_in_result),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
