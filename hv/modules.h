/* Boot modules belong to the guest: the core moves them out of the way of the guest's load addresses. */
#ifndef HV_MODULES_H
#define HV_MODULES_H

#include "hv/boot_info.h"
#include "hv/mm.h"

/*
 * Plans new homes for the modules at the top of the guest's RAM below limit,
 * page-aligned, in their order, none overlapping any module's current place
 * or the avoid range (e.g. the RSDP copy inside the loader's information).
 * Returns false (new_start untouched) if they do not fit, with *unplaced the
 * index of the module that found no room (the later ones placed above it).
 */
bool modules_plan_high(const struct mem_map *guest, const struct boot_module *mods, uint32_t n,
		       uint64_t limit, uint64_t avoid_base, uint64_t avoid_len, uint64_t *new_start,
		       uint32_t *unplaced);

/*
 * GRUB puts modules just above 1 MiB, exactly where Multiboot kernels load,
 * so before any guest loader runs the core moves every module high (SDM-free:
 * Multiboot leaves module placement to the loader). A module guest RAM
 * cannot hold is named and the machine ends with the bad-module status.
 */
void modules_move_high(struct boot_info *bi);

#endif
