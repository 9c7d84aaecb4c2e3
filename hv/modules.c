/* Moves the boot modules to the top of guest RAM so guest kernels can load where they are linked. */
#include "hv/modules.h"
#include "hv/memmap.h"
#include "hv/string.h"
#ifndef HV_HOST_TEST
#include "hv/console.h"
#include "hv/panic.h"
#endif

bool modules_plan_high(const struct mem_map *guest, const struct boot_module *mods, uint32_t n,
		       uint64_t limit, uint64_t avoid_base, uint64_t avoid_len, uint64_t *new_start,
		       uint32_t *unplaced)
{
	struct boot_mem_range avoid[2 * BOOT_MAX_MODULES + 1];
	uint64_t plan[BOOT_MAX_MODULES];
	uint32_t navoid = 0;

	*unplaced = 0;
	if (n > BOOT_MAX_MODULES)
		return false;
	for (uint32_t i = 0; i < n; i++)
		avoid[navoid++] = (struct boot_mem_range){ .base = mods[i].start, .len = mods[i].end - mods[i].start };
	if (avoid_len)
		avoid[navoid++] = (struct boot_mem_range){ .base = avoid_base, .len = avoid_len };
	/* Last module highest, so they keep their order in memory. */
	for (uint32_t k = n; k-- > 0;) {
		uint64_t size = ALIGN_UP(mods[k].end - mods[k].start, PAGE_SIZE);

		if (!size) {
			plan[k] = mods[k].start;
			continue;
		}
		if (!memmap_find_highest(guest, size, PAGE_SIZE, limit, avoid, navoid, &plan[k])) {
			*unplaced = k;
			return false;
		}
		avoid[navoid++] = (struct boot_mem_range){ .base = plan[k], .len = size };
		limit = plan[k];
	}
	memcpy(new_start, plan, n * sizeof(plan[0]));
	return true;
}

#ifndef HV_HOST_TEST
#define RSDP_MAX_LEN 36

void modules_move_high(struct boot_info *bi)
{
	uint64_t new_start[BOOT_MAX_MODULES];
	uint32_t k;

	if (!bi->module_count)
		return;
	if (!modules_plan_high(mm_guest_map(), bi->modules, bi->module_count, GiB(4),
			       bi->acpi_rsdp, bi->acpi_rsdp ? RSDP_MAX_LEN : 0, new_start, &k)) {
		/* Not the hypervisor's failure: the input is too large for this machine. */
		pr_err("hv: boot module %u (\"%.60s\", %llu KiB) does not fit in guest RAM below 4 GiB (%llu KiB usable, "
		       "%u module(s) in all, each moved clear of where every module is now); give the machine more memory, "
		       "a smaller module or a smaller hvmem=\n", k, bi->modules[k].cmdline,
		       (unsigned long long)((bi->modules[k].end - bi->modules[k].start) >> 10),
		       (unsigned long long)(memmap_usable_bytes(mm_guest_map()) >> 10), bi->module_count);
		machine_exit(HV_EXIT_BAD_MODULE);
	}
	/* Every destination avoids every source, so the copies cannot clobber each other. */
	for (uint32_t i = 0; i < bi->module_count; i++) {
		struct boot_module *m = &bi->modules[i];
		uint64_t len = m->end - m->start;

		memmove(phys_to_virt(new_start[i]), phys_to_virt(m->start), len);
		pr_info("hv: module %u moved [%#llx-%#llx) -> [%#llx-%#llx)\n", i,
			(unsigned long long)m->start, (unsigned long long)m->end,
			(unsigned long long)new_start[i], (unsigned long long)(new_start[i] + len));
		m->start = new_start[i];
		m->end = new_start[i] + len;
	}
}
#endif
