/* Translating an L1 linear address through L1's own page tables (pure; memory reads through a callback). */
#ifndef HV_VMX_GUEST_WALK_H
#define HV_VMX_GUEST_WALK_H

#include "hv/types.h"

struct guest_paging {
	uint64_t cr0, cr3, cr4, efer;
};

/* Reads 8 bytes of guest-physical memory; false if gpa is not memory L1 may use. */
typedef bool (*guest_read64_fn)(uint64_t gpa, uint64_t *val);

/*
 * The guest-physical address of linear, by the paging mode CR0/CR4/EFER
 * select (SDM 4.1.1): none, 32-bit (with PSE 4 MiB pages), PAE, or 4-level.
 * False if a level is not present, a table is not readable, or the mode is
 * 5-level paging (not offered to L1).
 */
bool guest_linear_to_phys(const struct guest_paging *p, uint64_t linear, guest_read64_fn read64, uint64_t *gpa);

#endif
