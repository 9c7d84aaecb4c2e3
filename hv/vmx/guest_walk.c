/* Walks L1's page tables for one linear address: no paging, 32-bit, PAE, 4-level (SDM 4.3, 4.4, 4.5) (pure). */
#include "hv/vmx/guest_walk.h"
#include "hv/x86.h"

#define PTE_P     BIT(0)
#define PTE_PS    BIT(7)
#define ADDR_MASK 0x000ffffffffff000ULL

static bool read32(guest_read64_fn read64, uint64_t gpa, uint32_t *val)
{
	uint64_t v;

	if (!read64(gpa & ~7ULL, &v))
		return false;
	*val = (uint32_t)(v >> ((gpa & 4) * 8));
	return true;
}

/* 32-bit paging, SDM 4.3: a PDE maps 4 MiB when PS and CR4.PSE, bits 20:13 extend it above 4 GiB (PSE-36). */
static bool walk32(const struct guest_paging *p, uint32_t lin, guest_read64_fn read64, uint64_t *gpa)
{
	uint32_t pde, pte;

	if (!read32(read64, (p->cr3 & 0xfffff000u) + ((lin >> 22) << 2), &pde) || !(pde & PTE_P))
		return false;
	if ((pde & PTE_PS) && (p->cr4 & X86_CR4_PSE)) {
		*gpa = (pde & 0xffc00000u) | ((uint64_t)((pde >> 13) & 0xff) << 32) | (lin & 0x3fffff);
		return true;
	}
	if (!read32(read64, (pde & 0xfffff000u) + (((lin >> 12) & 0x3ff) << 2), &pte) || !(pte & PTE_P))
		return false;
	*gpa = (pte & 0xfffff000u) | (lin & 0xfff);
	return true;
}

/* One level of the 64-bit-entry formats: the next table, or the final address when the entry maps a page. */
static bool walk_level(uint64_t table, uint64_t lin, int level, guest_read64_fn read64, uint64_t *next, bool *leaf)
{
	uint64_t shift = 12 + 9 * (uint64_t)(level - 1), e;

	if (!read64((table & ADDR_MASK) + (((lin >> shift) & 511) << 3), &e) || !(e & PTE_P))
		return false;
	*leaf = level == 1 || ((level == 2 || level == 3) && (e & PTE_PS));
	if (*leaf)
		*next = (e & ADDR_MASK & ~((1ULL << shift) - 1)) | (lin & ((1ULL << shift) - 1));
	else
		*next = e & ADDR_MASK;
	return true;
}

bool guest_linear_to_phys(const struct guest_paging *p, uint64_t linear, guest_read64_fn read64, uint64_t *gpa)
{
	bool long_mode = p->efer & X86_EFER_LMA, leaf = false;
	uint64_t table, pdpte;
	int level;

	if (!(p->cr0 & X86_CR0_PG)) {
		*gpa = long_mode ? linear : (uint32_t)linear;
		return true;
	}
	if (!(p->cr4 & X86_CR4_PAE))
		return walk32(p, (uint32_t)linear, read64, gpa);
	if (p->cr4 & X86_CR4_LA57)
		return false;
	if (long_mode) {
		table = p->cr3;
		level = 4;
	} else {
		/* PAE: CR3 points at four PDPTEs (SDM 4.4.1). */
		if (!read64((p->cr3 & 0xffffffe0u) + (((uint32_t)linear >> 30) << 3), &pdpte) || !(pdpte & PTE_P))
			return false;
		table = pdpte;
		linear = (uint32_t)linear;
		level = 2;
	}
	for (; level >= 1 && !leaf; level--)
		if (!walk_level(table, linear, level, read64, &table, &leaf))
			return false;
	*gpa = table;
	return leaf;
}
