/* Page-modification logging for L2 on behalf of L1: the log-full event and the entry to write (SDM 29.3.6) (pure). */
#ifndef HV_NESTED_EPT_PML_H
#define HV_NESTED_EPT_PML_H

#include "hv/types.h"

/* Exit reason of a page-modification log-full event (SDM Appendix C). */
#define EPT_PML_FULL_EXIT_REASON 62
/* The log holds 512 entries of 8 bytes, filled from index 511 down (SDM 29.3.6). */
#define EPT_PML_ENTRIES 512

/* vmcs12's PML state: "enable PML" (secondary control bit 17), the PML address and the guest PML index. */
struct ept_pml {
	bool enabled;
	uint64_t address;  /* L1 guest-physical, 4 KiB aligned (checked at VM entry) */
	uint16_t index;    /* vmcs12's guest PML index */
};

enum ept_pml_action {
	EPT_PML_NONE, /* nothing to log */
	EPT_PML_FULL, /* a log-full VM exit to L1 (reason 62): no flag set, the access does not happen */
	EPT_PML_LOG,  /* write value (8 bytes) at where in L1 memory, then the guest PML index becomes new_index */
};

struct ept_pml_entry {
	uint64_t where;
	uint64_t value;
	uint16_t new_index;
};

/*
 * SDM 29.3.6, for an access EPT12 allows, before its accessed/dirty flags
 * are set: ad_pending says the access needs an accessed or dirty flag set
 * (ept12_ad_pending); only then is the index examined, and an index
 * outside 0-511 is a log-full event. Otherwise, if the access sets a dirty
 * flag (0 to 1, ept12_dirty_pending), gpa2 with bits 11:0 clear goes at
 * address + 8 * index and the index is decremented (16 bits: 0 wraps to
 * 0xffff, so the next logging access is a log-full event). Call before
 * setting the flags; write the entry and the index only once they are set.
 */
enum ept_pml_action ept_pml_decide(const struct ept_pml *pml, bool ad_pending, bool dirty_pending, uint64_t gpa2,
				   struct ept_pml_entry *entry);

#endif
