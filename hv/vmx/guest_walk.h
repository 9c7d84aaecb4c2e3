/* Translating an L1 linear address through L1's own page tables, with the architecture's permission checks (pure; memory through callbacks). */
#ifndef HV_VMX_GUEST_WALK_H
#define HV_VMX_GUEST_WALK_H

#include "hv/types.h"

struct guest_paging {
	uint64_t cr0, cr3, cr4, efer;
	unsigned int cpl;     /* the CPL of the access; implicit supervisor accesses pass 0 */
	bool rflags_ac;       /* RFLAGS.AC, for SMAP (SDM 4.6.1) */
	unsigned int maxphyaddr; /* physical-address width for reserved-bit checks; 0: 52 */
	bool pdptes_loaded;   /* PAE paging: pdpte[] are the processor's PDPTE registers (SDM 4.4.1) */
	uint64_t pdpte[4];
};

/*
 * The kind of access, in the bit positions of the #PF error code (SDM 4.7),
 * so a fault's error code is the access bits plus P/RSVD.
 */
#define GUEST_ACCESS_READ  0u
#define GUEST_ACCESS_WRITE (1u << 1)
#define GUEST_ACCESS_FETCH (1u << 4)

#define PF_EC_P    (1u << 0)
#define PF_EC_W    (1u << 1)
#define PF_EC_U    (1u << 2)
#define PF_EC_RSVD (1u << 3)
#define PF_EC_I    (1u << 4)

/* Reads 8 bytes of guest-physical memory; false if gpa is not memory L1 may use. */
typedef bool (*guest_read64_fn)(uint64_t gpa, uint64_t *val);
/* ORs bits into the 8 bytes at gpa atomically, as the CPU sets accessed/dirty flags (SDM 4.8); NULL: the walk sets none. */
typedef bool (*guest_write64_fn)(uint64_t gpa, uint64_t bits);

enum guest_walk_result {
	GUEST_WALK_OK = 0,
	GUEST_WALK_PAGE_FAULT, /* *pf_error_code is the #PF error code */
	GUEST_WALK_BAD_TABLE,  /* a paging structure is not in L1 RAM (the hardware would read MMIO); *gpa names it */
	GUEST_WALK_UNSUPPORTED,/* 5-level paging, never offered to L1 */
};

/*
 * The guest-physical address of linear for this access by the paging mode
 * CR0/CR4/EFER select (SDM 4.1.1): none, 32-bit (PSE, PSE-36), PAE, or
 * 4-level; not-present entries, reserved bits (SDM 4.3-4.5) and access
 * rights (R/W with CR0.WP, U/S, XD with EFER.NXE, SMEP, SMAP: SDM 4.6) give
 * a #PF error code. With write64, accessed flags (and dirty on a write) are
 * set as the processor sets them (SDM 4.8).
 */
int guest_walk(const struct guest_paging *p, uint64_t linear, unsigned int access, guest_read64_fn read64,
	       guest_write64_fn write64, uint64_t *gpa, uint32_t *pf_error_code);

/* A supervisor read translation (no flags written): true with *gpa when guest_walk says OK. */
bool guest_linear_to_phys(const struct guest_paging *p, uint64_t linear, guest_read64_fn read64, uint64_t *gpa);

#endif
