/* Host tests for L1's INIT/SIPI virtualization: which ICR writes are dropped, and walking L1's page tables (more in test_l1_mem.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "hv/vmx/apic_icr.h"
#include "hv/vmx/guest_walk.h"
#include "hv/x86.h"

/* ---- ICR filter --------------------------------------------------------------------- */

static const uint32_t vcpu_ids[] = { 0, 1, 2, 3 };
static bool waiting[4];

static bool waits(uint32_t apic_id)
{
	return apic_id < 4 && waiting[apic_id];
}

static bool dropped(uint32_t low, uint32_t dest)
{
	struct icr_write w = { low, dest };

	return icr_write_is_dropped(&w, 0, vcpu_ids, 4, waits);
}

static void test_init_to_waiting_vcpu_is_dropped(void **state)
{
	(void)state;
	memset(waiting, 0, sizeof(waiting));
	waiting[1] = true;
	assert_true(dropped(ICR_DELIVERY_INIT | ICR_LEVEL_ASSERT, 1));
	/* A running AP gets its INIT: it must go back to wait-for-SIPI. */
	assert_false(dropped(ICR_DELIVERY_INIT | ICR_LEVEL_ASSERT, 2));
	/* Unknown APIC IDs are the hardware's business. */
	assert_false(dropped(ICR_DELIVERY_INIT | ICR_LEVEL_ASSERT, 9));
	/* Logical destinations are left to the hardware. */
	assert_false(dropped(ICR_DELIVERY_INIT | ICR_LEVEL_ASSERT | ICR_DEST_LOGICAL, 1));
}

static void test_init_deassert_always_dropped(void **state)
{
	(void)state;
	memset(waiting, 0, sizeof(waiting));
	assert_true(dropped(ICR_DELIVERY_INIT, 2));
	assert_true(dropped(ICR_DELIVERY_INIT | (ICR_TO_ALL << ICR_SHORTHAND_SHIFT), 0));
}

static void test_other_delivery_modes_pass(void **state)
{
	(void)state;
	memset(waiting, 1, sizeof(waiting));
	assert_false(dropped(ICR_DELIVERY_STARTUP | 0x08, 1));
	assert_false(dropped(0x30, 1));                  /* fixed interrupt */
	assert_false(dropped((4u << 8) | ICR_LEVEL_ASSERT, 1)); /* NMI */
}

static void test_broadcast_init(void **state)
{
	uint32_t all_but_self = ICR_DELIVERY_INIT | ICR_LEVEL_ASSERT | (ICR_TO_ALL_BUT_SELF << ICR_SHORTHAND_SHIFT);
	uint32_t all = ICR_DELIVERY_INIT | ICR_LEVEL_ASSERT | (ICR_TO_ALL << ICR_SHORTHAND_SHIFT);

	(void)state;
	memset(waiting, 0, sizeof(waiting));
	waiting[1] = waiting[2] = waiting[3] = true;
	assert_true(dropped(all_but_self, 0));
	/* Including self: the sender is not waiting, so INIT must reach it. */
	assert_false(dropped(all, 0));
	waiting[3] = false;
	assert_false(dropped(all_but_self, 0));
}

/* ---- L1 page walk ------------------------------------------------------------------- */

/* A small guest-physical memory: 64 pages from address 0. */
static uint64_t gmem[64 * 512];

static bool gread64(uint64_t gpa, uint64_t *val)
{
	if (gpa + 8 > sizeof(gmem) || (gpa & 7))
		return false;
	*val = gmem[gpa / 8];
	return true;
}

static void put32(uint64_t gpa, uint32_t v)
{
	memcpy((uint8_t *)gmem + gpa, &v, 4);
}

static void test_walk_no_paging_and_32bit(void **state)
{
	struct guest_paging p = { .cr0 = X86_CR0_PE };
	uint64_t gpa;

	(void)state;
	memset(gmem, 0, sizeof(gmem));
	assert_true(guest_linear_to_phys(&p, 0x12345678, gread64, &gpa));
	assert_int_equal(gpa, 0x12345678);
	/* 32-bit paging: PD at 0x1000, PT at 0x2000 mapping 0x00403000 -> 0x7000; a 4 MiB page at 0x00800000. */
	p = (struct guest_paging){ .cr0 = X86_CR0_PE | X86_CR0_PG, .cr3 = 0x1000, .cr4 = X86_CR4_PSE };
	put32(0x1000 + 1 * 4, 0x2000 | 1);
	put32(0x2000 + 3 * 4, 0x7000 | 1);
	put32(0x1000 + 2 * 4, 0x01c00000 | 0x80 | 1);
	assert_true(guest_linear_to_phys(&p, 0x00403abc, gread64, &gpa));
	assert_int_equal(gpa, 0x7abc);
	assert_true(guest_linear_to_phys(&p, 0x00812345, gread64, &gpa));
	assert_int_equal(gpa, 0x01c12345);
	/* Not present. */
	assert_false(guest_linear_to_phys(&p, 0x00c00000, gread64, &gpa));
	/* Without CR4.PSE the PS bit is ignored: the PDE points at a page table. */
	p.cr4 = 0;
	put32(0x1000 + 2 * 4, 0x3000 | 0x80 | 1);
	put32(0x3000 + 0x12 * 4, 0x9000 | 1);
	assert_true(guest_linear_to_phys(&p, 0x00812345, gread64, &gpa));
	assert_int_equal(gpa, 0x9345);
}

static void test_walk_pae_and_4level(void **state)
{
	struct guest_paging pae = { .cr0 = X86_CR0_PE | X86_CR0_PG, .cr3 = 0x1000, .cr4 = X86_CR4_PAE };
	struct guest_paging lm = { .cr0 = X86_CR0_PE | X86_CR0_PG, .cr3 = 0x4000, .cr4 = X86_CR4_PAE,
				   .efer = X86_EFER_LME | X86_EFER_LMA };
	uint64_t gpa;

	(void)state;
	memset(gmem, 0, sizeof(gmem));
	/* PAE: PDPTE 3 -> PD 0x2000; PDE 0x1f7 is a 2 MiB page at 0x3ee00000; PDE 0 -> PT 0x3000. */
	gmem[(0x1000 + 3 * 8) / 8] = 0x2000 | 1;
	gmem[(0x2000 + 0x1f7 * 8) / 8] = 0x3ee00000ULL | 0x80 | 1;
	assert_true(guest_linear_to_phys(&pae, 0xfee00300, gread64, &gpa));
	assert_int_equal(gpa, 0x3ee00300);
	gmem[(0x1000 + 0 * 8) / 8] = 0x2000 | 1;
	gmem[(0x2000 + 0 * 8) / 8] = 0x3000 | 1;
	gmem[(0x3000 + 5 * 8) / 8] = 0xa000 | 1;
	assert_true(guest_linear_to_phys(&pae, 0x5123, gread64, &gpa));
	assert_int_equal(gpa, 0xa123);
	/* 4-level: PML4 0x4000 -> PDPT 0x5000 with a 1 GiB page for 0xffff800000000000+... */
	gmem[(0x4000 + 256 * 8) / 8] = 0x5000 | 1;
	gmem[(0x5000 + 3 * 8) / 8] = 0xc0000000ULL | 0x80 | 1;
	assert_true(guest_linear_to_phys(&lm, 0xffff8000fee00300ULL, gread64, &gpa));
	assert_int_equal(gpa, 0xfee00300);
	/* A table outside guest memory is refused, not read. */
	gmem[(0x4000 + 1 * 8) / 8] = 0x7fff0000000ULL | 1;
	assert_false(guest_linear_to_phys(&lm, 1ULL << 39, gread64, &gpa));
	/* 5-level paging is not offered. */
	lm.cr4 |= X86_CR4_LA57;
	assert_false(guest_linear_to_phys(&lm, 0x1000, gread64, &gpa));
}

/* ---- INITs for vCPUs in VMX operation: latched by the hypervisor --------------------- */

static bool vmx_on[4];

static bool in_vmx(uint32_t apic_id)
{
	return apic_id < 4 && vmx_on[apic_id];
}

static int latched(uint32_t low, uint32_t dest, uint32_t self, uint32_t *out)
{
	struct icr_write w = { low, dest };

	return icr_init_latch_targets(&w, self, vcpu_ids, 4, in_vmx, out);
}

static void test_init_latch_targets(void **state)
{
	uint32_t t[4];

	(void)state;
	memset(vmx_on, 0, sizeof(vmx_on));
	vmx_on[0] = vmx_on[2] = true;
	/* Not an INIT assert: not the latch's business. */
	assert_int_equal(latched(ICR_DELIVERY_STARTUP | 0x10, 2, 0, t), -1);
	assert_int_equal(latched(ICR_DELIVERY_INIT, 2, 0, t), -1);
	/* Physical destination, self by its APIC ID included. */
	assert_int_equal(latched(ICR_DELIVERY_INIT | ICR_LEVEL_ASSERT, 2, 0, t), 1);
	assert_int_equal(t[0], 2);
	assert_int_equal(latched(ICR_DELIVERY_INIT | ICR_LEVEL_ASSERT, 0, 0, t), 1);
	assert_int_equal(t[0], 0);
	assert_int_equal(latched(ICR_DELIVERY_INIT | ICR_LEVEL_ASSERT, 1, 0, t), 0);
	assert_int_equal(latched(ICR_DELIVERY_INIT | ICR_LEVEL_ASSERT, 9, 0, t), 0);
	/* Logical destination and the invalid self shorthand: the hardware's. */
	assert_int_equal(latched(ICR_DELIVERY_INIT | ICR_LEVEL_ASSERT | ICR_DEST_LOGICAL, 2, 0, t), 0);
	assert_int_equal(latched(ICR_DELIVERY_INIT | ICR_LEVEL_ASSERT | (ICR_TO_SELF << ICR_SHORTHAND_SHIFT), 0, 0, t), 0);
	/* Shorthands: all (self included), all but self. */
	assert_int_equal(latched(ICR_DELIVERY_INIT | ICR_LEVEL_ASSERT | (ICR_TO_ALL << ICR_SHORTHAND_SHIFT), 0, 0, t), 2);
	assert_int_equal(t[0], 0);
	assert_int_equal(t[1], 2);
	assert_int_equal(latched(ICR_DELIVERY_INIT | ICR_LEVEL_ASSERT | (ICR_TO_ALL_BUT_SELF << ICR_SHORTHAND_SHIFT), 0, 0, t), 1);
	assert_int_equal(t[0], 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_to_waiting_vcpu_is_dropped),
		cmocka_unit_test(test_init_latch_targets),
		cmocka_unit_test(test_init_deassert_always_dropped),
		cmocka_unit_test(test_other_delivery_modes_pass),
		cmocka_unit_test(test_broadcast_init),
		cmocka_unit_test(test_walk_no_paging_and_32bit),
		cmocka_unit_test(test_walk_pae_and_4level),
	};

	return cmocka_run_group_tests_name("apic_virt", tests, NULL, NULL);
}
