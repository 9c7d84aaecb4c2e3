/* VT-d translation structures for L1's devices: legacy root/context tables and second-level identity tables (pure). */
#ifndef HV_IOMMU_VTD_TABLES_H
#define HV_IOMMU_VTD_TABLES_H

#include "hv/types.h"
#include "hv/mm.h"

struct iopt_layout {
	const struct mem_map *holes; /* never mapped: the hypervisor's memory, the units' registers */
	uint64_t limit;              /* map [0, limit); a multiple of 1 GiB */
	unsigned int levels;         /* 3 (39-bit) or 4 (48-bit) second-level tables */
	bool allow_2m, allow_1g;     /* CAP.SLLPS */
};

/*
 * Builds a read/write identity map of [0, limit) minus the holes in zeroed
 * frames from alloc_frame (0 = exhausted), with the largest pages allowed,
 * down to 4 KiB at a hole's edge; a 4 KiB page touching a hole stays
 * unmapped. Returns 0 and the top table's address, or -1 (frames ran out).
 */
int iopt_build_identity(const struct iopt_layout *l, paddr_t (*alloc_frame)(void), paddr_t *top_out);

/* Walks the tables: true with the address and whether writes are allowed, if addr is mapped. */
bool iopt_translate(paddr_t top, unsigned int levels, uint64_t addr, uint64_t *hpa, bool *writable);

/* The page-table depth for a unit with this CAP that must reach limit: 4 if offered and needed or only, else 3; 0 if neither. */
unsigned int vtd_pick_levels(uint64_t cap, uint64_t limit);

/*
 * Every bus of the root table points at one context table whose 256
 * entries (device.function) all use the same domain and second-level
 * tables: one identity domain for every requester (spec 3.4.2, 9.1, 9.3).
 */
void vtd_fill_root_table(uint64_t root[512], paddr_t context_table);
void vtd_fill_context_table(uint64_t ctx[512], paddr_t sl_top, unsigned int levels, uint16_t domain);

/* Is any byte of [base, end) inside the holes? (An RMRR there cannot be honoured.) */
bool iopt_range_hits_hole(const struct mem_map *holes, uint64_t base, uint64_t end);

/* A fault record (spec 11.4.9.5) in readable form. */
struct vtd_fault {
	uint8_t bus, dev, fn;
	uint8_t reason;
	bool read;
	uint64_t addr; /* page address for DMA faults; for interrupt requests, the interrupt index in 63:48 */
};
void vtd_decode_fault(uint64_t lo, uint64_t hi, struct vtd_fault *f);
/* The reason code's meaning, spec Appendix A (Table A-1). */
const char *vtd_fault_reason_name(uint8_t reason);

#endif
