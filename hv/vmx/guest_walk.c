/* Walks L1's page tables for one access: no paging, 32-bit, PAE, 4-level, with reserved bits and access rights (SDM 4.3-4.8) (pure). */
#include "hv/vmx/guest_walk.h"
#include "hv/x86.h"

#define PTE_P     BIT(0)
#define PTE_RW    BIT(1)
#define PTE_US    BIT(2)
#define PTE_A     BIT(5)
#define PTE_D     BIT(6)
#define PTE_PS    BIT(7)
#define PTE_XD    BIT(63)
#define ADDR_MASK 0x000ffffffffff000ULL

/* What one walk accumulates: rights are the AND (R/W, U/S) or OR (XD) over every level (SDM 4.6). */
struct walk {
	const struct guest_paging *p;
	unsigned int access;
	guest_read64_fn read64;
	guest_write64_fn write64;
	uint64_t rsvd_addr;   /* address bits at or above MAXPHYADDR: up to bit 51 (4-level), 62 (PAE) */
	bool rw, us, xd;
	uint64_t entries[5];  /* guest-physical addresses of the entries used, for the A/D flags */
	bool entry32[5];
	int n;
	uint64_t *gpa;
	uint32_t *ec;
};

static bool nxe(const struct walk *w)
{
	return (w->p->efer & X86_EFER_NXE) && (w->p->cr4 & X86_CR4_PAE);
}

/* The #PF error code (SDM 4.7): I/D only where execute rights exist (NXE with PAE/4-level, or SMEP). */
static int fault(struct walk *w, uint32_t why)
{
	uint32_t ec = why | (w->access & GUEST_ACCESS_WRITE);

	if (w->p->cpl == 3)
		ec |= PF_EC_U;
	if ((w->access & GUEST_ACCESS_FETCH) && (nxe(w) || (w->p->cr4 & X86_CR4_SMEP)))
		ec |= PF_EC_I;
	*w->ec = ec;
	return GUEST_WALK_PAGE_FAULT;
}

static int read_entry(struct walk *w, uint64_t gpa, bool is32, uint64_t *e)
{
	uint64_t v;

	if (!w->read64(gpa & ~7ULL, &v)) {
		*w->gpa = gpa;
		return GUEST_WALK_BAD_TABLE;
	}
	*e = is32 ? (uint32_t)(v >> ((gpa & 4) * 8)) : v;
	w->entries[w->n] = gpa;
	w->entry32[w->n++] = is32;
	return GUEST_WALK_OK;
}

/* A present entry's rights join the walk's (SDM 4.6: the most restrictive R/W and U/S, any XD). */
static void join_rights(struct walk *w, uint64_t e)
{
	w->rw = w->rw && (e & PTE_RW);
	w->us = w->us && (e & PTE_US);
	w->xd = w->xd || (nxe(w) && (e & PTE_XD));
}

/* Access rights of the final translation (SDM 4.6.1). */
static bool access_allowed(const struct walk *w)
{
	const struct guest_paging *p = w->p;
	bool user = p->cpl == 3, write = w->access & GUEST_ACCESS_WRITE, fetch = w->access & GUEST_ACCESS_FETCH;

	if (user && !w->us)
		return false;
	if (write && !w->rw && (user || (p->cr0 & X86_CR0_WP)))
		return false;
	if (fetch && w->xd)
		return false;
	if (!user && w->us) {
		if (fetch && (p->cr4 & X86_CR4_SMEP))
			return false;
		if (!fetch && (p->cr4 & X86_CR4_SMAP) && !p->rflags_ac)
			return false;
	}
	return true;
}

/* SDM 4.8: accessed in every entry used, dirty in the one that maps the page, on a write. */
static void set_accessed_dirty(struct walk *w)
{
	for (int i = 0; w->write64 && i < w->n; i++) {
		uint64_t flags = PTE_A | ((i == w->n - 1 && (w->access & GUEST_ACCESS_WRITE)) ? PTE_D : 0), v;
		uint64_t at = w->entries[i] & ~7ULL;

		if (w->entry32[i])
			flags <<= (w->entries[i] & 4) * 8;
		if (w->read64(at, &v) && (v & flags) != flags)
			w->write64(at, flags);
	}
}

static int finish(struct walk *w, uint64_t gpa)
{
	if (!access_allowed(w))
		return fault(w, PF_EC_P);
	set_accessed_dirty(w);
	*w->gpa = gpa;
	return GUEST_WALK_OK;
}

/* 32-bit paging, SDM 4.3: a PDE maps 4 MiB when PS and CR4.PSE; bits 20:13 extend it above 4 GiB (PSE-36). */
static int walk32(struct walk *w, uint32_t lin)
{
	unsigned int width = w->p->maxphyaddr && w->p->maxphyaddr < 40 ? w->p->maxphyaddr : 40;
	uint64_t pde, pte;
	int r;

	if ((r = read_entry(w, (w->p->cr3 & 0xfffff000u) + ((lin >> 22) << 2), true, &pde)))
		return r;
	if (!(pde & PTE_P))
		return fault(w, 0);
	join_rights(w, pde);
	if ((pde & PTE_PS) && (w->p->cr4 & X86_CR4_PSE)) {
		/* Bit 21 and the PSE-36 bits at or above MAXPHYADDR are reserved. */
		uint64_t rsvd = BIT(21) | (((1ULL << 21) - 1) & ~((1ULL << (13 + width - 32)) - 1));

		if (pde & rsvd)
			return fault(w, PF_EC_P | PF_EC_RSVD);
		return finish(w, (pde & 0xffc00000u) | ((uint64_t)((pde >> 13) & 0xff) << 32) | (lin & 0x3fffff));
	}
	if ((r = read_entry(w, (pde & 0xfffff000u) + (((lin >> 12) & 0x3ff) << 2), true, &pte)))
		return r;
	if (!(pte & PTE_P))
		return fault(w, 0);
	join_rights(w, pte);
	return finish(w, (pte & 0xfffff000u) | (lin & 0xfff));
}

/* Reserved bits of a present 64-bit-format entry at level (4 PML4E .. 1 PTE), SDM Tables 4-14 to 4-20. */
static bool reserved_bits(const struct walk *w, uint64_t e, int level)
{
	if ((e & w->rsvd_addr) || (!nxe(w) && (e & PTE_XD)))
		return true;
	if (level == 4 && (e & PTE_PS))
		return true;
	if (level == 3 && (e & PTE_PS) && (e & 0x3fffe000ULL)) /* 1 GiB page: bits 29:13 */
		return true;
	return level == 2 && (e & PTE_PS) && (e & 0x1fe000ULL); /* 2 MiB page: bits 20:13 */
}

/* PAE and 4-level paging from a table at level down to the page (SDM 4.4, 4.5). */
static int walk64(struct walk *w, uint64_t table, uint64_t lin, int level)
{
	for (;; level--) {
		uint64_t shift = 12 + 9 * (uint64_t)(level - 1), e;
		int r = read_entry(w, (table & ADDR_MASK) + (((lin >> shift) & 511) << 3), false, &e);

		if (r)
			return r;
		if (!(e & PTE_P))
			return fault(w, 0);
		if (reserved_bits(w, e, level))
			return fault(w, PF_EC_P | PF_EC_RSVD);
		join_rights(w, e);
		if (level == 1 || ((level == 2 || level == 3) && (e & PTE_PS)))
			return finish(w, (e & ADDR_MASK & ~((1ULL << shift) - 1)) | (lin & ((1ULL << shift) - 1)));
		table = e;
	}
}

int guest_walk(const struct guest_paging *p, uint64_t linear, unsigned int access, guest_read64_fn read64,
	       guest_write64_fn write64, uint64_t *gpa, uint32_t *pf_error_code)
{
	unsigned int width = p->maxphyaddr && p->maxphyaddr < 52 ? p->maxphyaddr : 52;
	/* PAE entries reserve bits 62:MAXPHYADDR; 4-level ones only up to 51 (62:52 are ignored or keys). */
	uint64_t top = (p->efer & X86_EFER_LMA) ? (1ULL << 52) - 1 : (1ULL << 63) - 1;
	struct walk w = { .p = p, .access = access, .read64 = read64, .write64 = write64,
			  .rsvd_addr = top & ~((1ULL << width) - 1),
			  .rw = true, .us = true, .gpa = gpa, .ec = pf_error_code };
	uint64_t pdpte;
	int r;

	if (!(p->cr0 & X86_CR0_PG)) {
		*gpa = (p->efer & X86_EFER_LMA) ? linear : (uint32_t)linear;
		return GUEST_WALK_OK;
	}
	if (!(p->cr4 & X86_CR4_PAE))
		return walk32(&w, (uint32_t)linear);
	if (p->cr4 & X86_CR4_LA57)
		return GUEST_WALK_UNSUPPORTED;
	if (p->efer & X86_EFER_LMA)
		return walk64(&w, p->cr3, linear, 4);
	/*
	 * PAE: CR3 points at four PDPTEs (SDM 4.4.1) that the processor loaded
	 * into registers at the last CR3 load; with EPT the VMCS holds them. Only
	 * without those does the walk read them from memory again.
	 */
	linear = (uint32_t)linear;
	if (p->pdptes_loaded) {
		pdpte = p->pdpte[linear >> 30];
	} else {
		if ((r = read_entry(&w, (p->cr3 & 0xffffffe0u) + ((linear >> 30) << 3), false, &pdpte)))
			return r;
		w.n = 0; /* PDPTEs have no accessed flag to set by the walk */
	}
	if (!(pdpte & PTE_P))
		return fault(&w, 0);
	return walk64(&w, pdpte, linear, 2);
}

bool guest_linear_to_phys(const struct guest_paging *p, uint64_t linear, guest_read64_fn read64, uint64_t *gpa)
{
	struct guest_paging sup = *p;
	uint32_t ec;

	sup.cpl = 0;
	sup.cr4 &= ~(uint64_t)X86_CR4_SMAP;
	return guest_walk(&sup, linear, GUEST_ACCESS_READ, read64, NULL, gpa, &ec) == GUEST_WALK_OK;
}
