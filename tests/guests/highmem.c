/* Physical addresses above the top of RAM and 4 GiB (4 GiB, 512 GiB, the last 2 MiB below MAXPHYADDR) read through PAE paging, as a 64-bit BAR would be. */
#include "guest.h"

const char guest_name[] = "highmem";

#define PTE_P      1ull
#define PTE_RW     2ull
#define PDE_PS     (1ull << 7)
#define CR0_PG     (1u << 31)
#define CR4_PAE    (1u << 5)
#define HIGH_WINDOW 0x40000000u /* linear 1 GiB: PDPTE 1's 2 MiB pages map the high addresses */

static uint64_t pdpt[4] __attribute__((aligned(32)));
static uint64_t pd_low[512] __attribute__((aligned(4096)));
static uint64_t pd_high[512] __attribute__((aligned(4096)));

static void write_cr4(uint32_t v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }

static uint32_t max_phys_bits(void)
{
	uint32_t r[4];

	cpuid(0x80000000, 0, r);
	if (r[0] < 0x80000008)
		return 36;
	cpuid(0x80000008, 0, r);
	return r[0] & 0xff;
}

/* PAE paging (SDM 4.4): the first GiB identity-mapped, the second a window of 2 MiB pages onto the given addresses. */
static void paging_on(const uint64_t *phys, uint32_t n)
{
	for (uint32_t i = 0; i < 512; i++)
		pd_low[i] = ((uint64_t)i << 21) | PDE_PS | PTE_RW | PTE_P;
	for (uint32_t i = 0; i < n; i++)
		pd_high[i] = phys[i] | PDE_PS | PTE_RW | PTE_P;
	pdpt[0] = (uint32_t)pd_low | PTE_P;
	pdpt[1] = (uint32_t)pd_high | PTE_P;
	write_cr4(read_cr4() | CR4_PAE);
	write_cr3((uint32_t)pdpt);
	write_cr0(read_cr0() | CR0_PG);
}

static void paging_off(void)
{
	write_cr0(read_cr0() & ~CR0_PG);
	write_cr4(read_cr4() & ~CR4_PAE);
}

static void probe(uint64_t pa, uint32_t slot)
{
	volatile uint32_t *p = (volatile uint32_t *)(HIGH_WINDOW + (slot << 21) + 0x1230);
	uint32_t before, after;

	if (FAULT_PROBE("movl (%[p]), %[v]", , [v] "=r"(before) : [p] "r"(p) : "memory")) {
		fault_print("read");
		return;
	}
	*p = 0x12345678u;
	after = *p;
	printf("phys 0x%llx: read 0x%08x, after writing 0x12345678 reads 0x%08x\n", pa + 0x1230, before, after);
}

int guest_main(const struct mb_info *mbi)
{
	uint32_t bits = max_phys_bits();
	uint64_t top = (1ull << bits) - (2ull << 20);
	const uint64_t phys[] = { 1ull << 32, 512ull << 30, top };

	printf("maxphyaddr %u\n", bits);
	printf("~usable RAM %llu MiB\n", mbi_usable_bytes(mbi) >> 20);
	paging_on(phys, 3);
	for (uint32_t i = 0; i < 3; i++)
		probe(phys[i], i);
	paging_off();
	printf("highmem: done\n");
	return GUEST_OK;
}
