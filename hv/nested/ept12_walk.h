/* Walking L1's EPT (EPT12) for one access of L2: translation, EPT violation and misconfiguration, accessed/dirty flags (pure). */
#ifndef HV_NESTED_EPT12_WALK_H
#define HV_NESTED_EPT12_WALK_H

/*
 * L1 runs L2 with "enable EPT": vmcs12's EPT pointer names a 4-level EPT in
 * L1's guest-physical memory that translates L2's guest-physical addresses
 * (gpa2) into L1's (gpa1). This walker performs that translation as the
 * processor would (SDM Vol. 3C 29.3.2, Tables 29-1 to 29-6) and says what
 * the processor would do: translate, or cause an EPT violation with the
 * exit qualification's access and permission bits (SDM 28.2.1, Table 28-7,
 * bits 5:0), or an EPT misconfiguration (SDM 29.3.3.1).
 *
 * L1's memory is reached only through struct ept12_mem (the hypervisor's
 * checked accessor for L1 memory; plain arrays in the host tests).
 *
 * Use (shadow_ept.c is the one caller in the hypervisor):
 *   ept12_walk(&caps, eptp12, &access, &mem, &w)   read-only: never writes L1 memory
 *   if w.status == EPT12_OK and ept12_ad_pending(&w):
 *       (PML: a log-full event comes first, see ept_pml.h)
 *       ept12_set_ad(&w, &mem)                      sets the accessed flags of every
 *                                                   entry used, the dirty flag of the
 *                                                   leaf for a write (SDM 29.3.5)
 */

#include "hv/types.h"
#include "hv/vmx/ept.h"

/* Accessed and dirty flags of EPT entries (SDM 29.3.5): bit 8 in every entry, bit 9 in entries that map a page. */
#define EPT_ACCESSED BIT(8)
#define EPT_DIRTY    BIT(9)

/* The kind of access, in the positions of bits 2:0 of the EPT-violation exit qualification (SDM Table 28-7). */
#define EPT12_ACCESS_READ  1u
#define EPT12_ACCESS_WRITE 2u
#define EPT12_ACCESS_FETCH 4u

/* What L1 is offered (IA32_VMX_EPT_VPID_CAP, SDM A.10) and its physical-address width. */
struct ept12_caps {
	unsigned int maxphyaddr; /* L1's MAXPHYADDR: bits 51:maxphyaddr of an entry are reserved */
	bool exec_only;          /* bit 0: execute-only translations */
	bool page_2m, page_1g;   /* bits 16 and 17: bit 7 of a PDE / PDPTE may map a page */
};

enum ept12_cmpxchg_result { EPT12_CMPXCHG_OK, EPT12_CMPXCHG_CHANGED, EPT12_CMPXCHG_NOT_L1 };

/* L1's guest-physical memory, 8 bytes at a time at 8-aligned addresses. */
struct ept12_mem {
	/* false: gpa1 is not memory L1 owns (nothing read) */
	bool (*read64)(void *ctx, uint64_t gpa1, uint64_t *val);
	/* atomically: if the 8 bytes at gpa1 still hold old, store new (CHANGED: they did not, nothing stored) */
	enum ept12_cmpxchg_result (*cmpxchg64)(void *ctx, uint64_t gpa1, uint64_t old, uint64_t new_val);
	void *ctx;
};

/* One access of L2 to a guest-physical address. */
struct ept12_access {
	uint64_t gpa2;
	unsigned int access;   /* EPT12_ACCESS_*: bits 2:0 of the exit qualification the hardware gave */
	/*
	 * The access reads or writes one of L2's own paging-structure entries
	 * during a linear-address translation (qualification bit 7 = 1, bit 8 = 0).
	 * With EPTP[6] such accesses are writes for EPT (SDM 29.3.5, last
	 * paragraphs; 29.3.3.2); loads of PAE PDPTEs by MOV to CR are not
	 * (their bit 7 is 0, so the caller passes false).
	 */
	bool paging_structure;
};

enum ept12_status {
	EPT12_OK,
	EPT12_VIOLATION,   /* qual holds exit-qualification bits 5:0 */
	EPT12_MISCONFIG,   /* level holds the entry's level */
	EPT12_NOT_L1_MEM,  /* an EPT12 table entry is not in L1 memory: table_gpa1 names it */
	EPT12_RETRY,       /* ept12_set_ad: L1 changed an entry under us; nothing more written */
};

struct ept12_walk {
	enum ept12_status status;
	unsigned int access;    /* the access as EPT sees it (paging-structure write rule applied) */
	bool ad;                /* EPTP[6]: accessed and dirty flags enabled */
	/* EPT12_OK */
	uint64_t gpa1;          /* the translation of gpa2 */
	unsigned int level;     /* level of the last entry used: 1 = PTE (4 KiB), 2 = PDE (2 MiB), 3 = PDPTE (1 GiB) */
	unsigned int rwx;       /* EPT_READ/WRITE/EXEC: the AND over every entry used */
	unsigned int memtype;   /* bits 5:3 of the leaf (SDM 29.3.7) */
	bool ignore_pat;        /* bit 6 of the leaf */
	bool dirty;             /* the leaf's dirty flag (after ept12_set_ad: as set) */
	/* EPT12_VIOLATION */
	uint32_t qual;
	/* EPT12_NOT_L1_MEM */
	uint64_t table_gpa1;
	/* the entries used, PML4E first, for the accessed and dirty flags */
	unsigned int n;
	uint64_t entry_gpa1[4], entry[4];
};

/*
 * Translates a->gpa2 through the EPT at eptp (vmcs12's EPT pointer, already
 * checked at VM entry: 4-level walk, WB or UC). Entry by entry from the
 * PML4E: a not-present entry is an EPT violation, a present one with an
 * unsupported value a misconfiguration (SDM 29.3.3.1); at the leaf the
 * access must be allowed by the AND of R/W/X over every entry used
 * (SDM 29.3.3.2). Returns w->status; reads L1 memory only.
 */
enum ept12_status ept12_walk(const struct ept12_caps *caps, uint64_t eptp, const struct ept12_access *a,
			     const struct ept12_mem *mem, struct ept12_walk *w);

/* After EPT12_OK: does the access need an accessed or dirty flag set first (SDM 29.3.5)? */
bool ept12_ad_pending(const struct ept12_walk *w);

/* After EPT12_OK: does the access set the leaf's dirty flag (0 to 1), which PML logs (SDM 29.3.6)? */
bool ept12_dirty_pending(const struct ept12_walk *w);

/*
 * Sets the accessed flag of every entry used and, for a write, the dirty
 * flag of the leaf, each with one compare-and-exchange as the processor's
 * locked update (SDM 29.3.5). EPT12_OK, or EPT12_RETRY when L1 changed an
 * entry since the walk (the caller lets L2 fault again), or
 * EPT12_NOT_L1_MEM. No-op without EPTP[6].
 */
enum ept12_status ept12_set_ad(struct ept12_walk *w, const struct ept12_mem *mem);

#endif
