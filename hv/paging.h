/* The hypervisor's own page tables: an identity map of all physical memory. */
#ifndef HV_PAGING_H
#define HV_PAGING_H

#include "hv/boot_info.h"

/* Extends the boot identity map (low 4 GiB) to the highest address in the memory map. */
void paging_map_all_ram(const struct boot_info *bi);

#endif
