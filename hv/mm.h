/* Physical memory: the frame allocator and the split between hypervisor and guest memory. */
#ifndef HV_MM_H
#define HV_MM_H

#include "hv/types.h"
#include "hv/boot_info.h"

#define MEM_MAP_MAX 160

/* An E820-style map (sorted, non-overlapping); used for the guest's view too. */
struct mem_map {
	uint32_t count;
	struct boot_mem_range r[MEM_MAP_MAX];
};

/*
 * The hypervisor identity-maps physical memory, so a frame's physical address
 * is also its address in the hypervisor. frame_alloc() returns a zeroed 4 KiB
 * frame or 0 when the pool is exhausted (callers report that, never crash).
 */
void mm_init(const struct boot_info *bi);
paddr_t frame_alloc(void);
paddr_t frame_alloc_contig(size_t npages, uint64_t align); /* zeroed */
void frame_free(paddr_t pa);
void frame_free_contig(paddr_t pa, size_t npages); /* what frame_alloc_contig returned */
void mm_print_state(void);

static inline void *phys_to_virt(paddr_t pa) { return (void *)(uintptr_t)pa; }
static inline paddr_t virt_to_phys(const void *va) { return (paddr_t)(uintptr_t)va; }

/* Is [pa, pa+len) entirely memory the hypervisor owns (image or pool)? */
bool mm_range_is_hv_owned(paddr_t pa, uint64_t len);
/* Does [pa, pa+len) intersect hypervisor memory? */
bool mm_range_overlaps_hv(paddr_t pa, uint64_t len);
/* The machine's memory map minus the hypervisor's memory (marked reserved). */
const struct mem_map *mm_guest_map(void);
/* The hypervisor's own ranges (image, pool, claimed device registers), for EPT and DMA exclusion and reports. */
const struct mem_map *mm_hv_ranges(void);
/*
 * Takes [base, base+len) (page-rounded outwards) from L1 for good: device
 * registers only the hypervisor drives (VT-d units). Call before L1's EPT is
 * built; the range joins mm_hv_ranges() and is reserved in L1's map. 0 or -1.
 */
int mm_claim_for_hv(paddr_t base, uint64_t len);

#endif
