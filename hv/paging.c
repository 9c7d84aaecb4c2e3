/* Extends the boot-time identity map past 4 GiB so the hypervisor can reach all of RAM. */
#include "hv/paging.h"
#include "hv/console.h"
#include "hv/mm.h"
#include "hv/panic.h"
#include "hv/x86.h"

#define PTE_P  BIT(0)
#define PTE_W  BIT(1)
#define PTE_PS BIT(7)
#define CPUID_80000001_EDX_PDPE1GB BIT(26)

extern uint64_t boot_pdpt[512];

static uint64_t highest_ram_end(const struct boot_info *bi)
{
	uint64_t end = 0;

	for (uint32_t i = 0; i < bi->mmap_count; i++)
		if (bi->mmap[i].type != MEM_RESERVED)
			end = MAX(end, bi->mmap[i].base + bi->mmap[i].len);
	return end;
}

static bool has_1g_pages(void)
{
	uint32_t a, b, c, d;

	cpuid(0x80000001, 0, &a, &b, &c, &d);
	return d & CPUID_80000001_EDX_PDPE1GB;
}

/* One PDPT entry: a 1 GiB page where the CPU has them (SDM 4.5.4), else a page directory of 2 MiB pages. */
static uint64_t map_gigabyte(uint64_t base, bool gb_pages)
{
	uint64_t *pd;
	paddr_t pa;

	if (gb_pages)
		return base | PTE_P | PTE_W | PTE_PS;
	pa = frame_alloc();
	if (!pa)
		panic("out of hypervisor memory mapping RAM at %#llx; boot with a larger hvmem=", (unsigned long long)base);
	pd = phys_to_virt(pa);
	for (int i = 0; i < 512; i++)
		pd[i] = (base + ((uint64_t)i << 21)) | PTE_P | PTE_W | PTE_PS;
	return pa | PTE_P | PTE_W;
}

void paging_map_all_ram(const struct boot_info *bi)
{
	uint64_t end = highest_ram_end(bi);
	bool gb_pages = has_1g_pages();

	if (end > GiB(512))
		panic("RAM ends at %#llx, beyond the 512 GiB the hypervisor maps", (unsigned long long)end);
	for (uint64_t gb = 4; gb < (end + GiB(1) - 1) / GiB(1); gb++)
		boot_pdpt[gb] = map_gigabyte(GiB(gb), gb_pages);
	write_cr3(read_cr3()); /* the new entries were not-present before: a flush is enough */
}
