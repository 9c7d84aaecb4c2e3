/* Page-modification logging as SDM 29.3.6 states it: log-full before any A/D update, one 4 KiB-aligned entry per dirty flag set (pure). */
#include "hv/nested/ept_pml.h"

enum ept_pml_action ept_pml_decide(const struct ept_pml *pml, bool ad_pending, bool dirty_pending, uint64_t gpa2,
				   struct ept_pml_entry *entry)
{
	if (!pml || !pml->enabled || !ad_pending)
		return EPT_PML_NONE;
	if (pml->index >= EPT_PML_ENTRIES)
		return EPT_PML_FULL;
	if (!dirty_pending)
		return EPT_PML_NONE;
	entry->where = pml->address + 8ULL * pml->index;
	entry->value = gpa2 & ~0xfffULL;
	entry->new_index = (uint16_t)(pml->index - 1);
	return EPT_PML_LOG;
}
