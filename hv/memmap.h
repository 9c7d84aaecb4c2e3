/* The pure logic of physical memory management: E820-style map operations, the frame pool bitmap, the pool placement. */
#ifndef HV_MEMMAP_H
#define HV_MEMMAP_H

#include "hv/types.h"
#include "hv/boot_info.h"
#include "hv/mm.h"

#define MEMMAP_ENOSPC (-1) /* the map has no room for the ranges the operation needs */
#define MEMMAP_EINVAL (-2) /* empty range or range wrapping past 2^64 */

/*
 * The array-level primitives work on any array of ranges kept sorted by base
 * and non-overlapping (boot_info.mmap, mem_map.r). Adjacent ranges of the same
 * type are always merged. On MEMMAP_ENOSPC the array is left unchanged.
 *
 * memranges_add: paints [base, base+len) with type; where it overlaps existing
 *   ranges the worse type wins (e.g. reserved beats usable), so the order in
 *   which a firmware's overlapping entries arrive does not matter.
 * memranges_set: paints [base, base+len) with type, overriding what was there.
 * memranges_remove: leaves a hole at [base, base+len).
 */
int memranges_add(struct boot_mem_range *r, uint32_t *count, uint32_t cap,
		  uint64_t base, uint64_t len, uint32_t type);
int memranges_set(struct boot_mem_range *r, uint32_t *count, uint32_t cap,
		  uint64_t base, uint64_t len, uint32_t type);
int memranges_remove(struct boot_mem_range *r, uint32_t *count, uint32_t cap,
		     uint64_t base, uint64_t len);

/* Maps an arbitrary type number onto enum boot_mem_type (unknown: reserved). */
uint32_t memmap_canon_type(uint32_t type);
/* Higher is worse: the rank overlap resolution uses. */
int memmap_type_rank(uint32_t type);
/* "usable", "reserved", "ACPI data", "ACPI NVS", "unusable". */
const char *memmap_type_name(uint32_t type);

void memmap_init(struct mem_map *m);
/* Rebuilds m from the boot map (re-normalising it, whatever the loader left). */
int memmap_from_boot_info(struct mem_map *m, const struct boot_info *bi);
/* Sorts and resolves overlaps of an arbitrary m->r[0..count) in place. */
int memmap_normalize(struct mem_map *m);
int memmap_add(struct mem_map *m, uint64_t base, uint64_t len, uint32_t type);
int memmap_set(struct mem_map *m, uint64_t base, uint64_t len, uint32_t type);
int memmap_reserve(struct mem_map *m, uint64_t base, uint64_t len);
int memmap_remove(struct mem_map *m, uint64_t base, uint64_t len);

/* Sum of the lengths of the ranges of that type. */
uint64_t memmap_total(const struct mem_map *m, uint32_t type);
uint64_t memmap_usable_bytes(const struct mem_map *m);
/* Is all of [base, base+len) covered by ranges of this type? (len 0: false) */
bool memmap_covers(const struct mem_map *m, uint64_t base, uint64_t len, uint32_t type);
/* Does [base, base+len) intersect any range of m, whatever its type? */
bool memmap_overlaps(const struct mem_map *m, uint64_t base, uint64_t len);
/* Is the map sorted, non-overlapping, free of empty/wrapping ranges and merged? */
bool memmap_is_normal(const struct boot_mem_range *r, uint32_t count);

/*
 * Finds the highest base (a multiple of align, a power of two) such that
 * [base, base+size) lies inside one usable range, ends at or below limit and
 * intersects none of avoid[0..navoid). Returns false if there is none.
 */
bool memmap_find_highest(const struct mem_map *m, uint64_t size, uint64_t align,
			 uint64_t limit, const struct boot_mem_range *avoid,
			 uint32_t navoid, uint64_t *base_out);

/* ---- the frame pool (hv/mm.c): a bitmap allocator over one physical range ---- */

/*
 * The bitmap (one bit per 4 KiB frame, set = in use) lives in the pool's
 * own first frames, so the pool needs no memory from elsewhere, whatever
 * hvmem= asks for. map is where the pool's first byte can be written.
 */
struct frame_pool {
	paddr_t base;
	uint64_t nframes;    /* frames in the pool, the bitmap's included */
	uint64_t meta;       /* frames the bitmap itself occupies */
	uint64_t used;       /* allocated frames, the bitmap's excluded */
	uint64_t hint;       /* bitmap word where the last single-frame search ended */
	uint8_t *map;
	uint64_t *bitmap;
};

/* base page-aligned, size a positive multiple of 4 KiB large enough for the bitmap and one frame. */
int frame_pool_init(struct frame_pool *p, paddr_t base, uint64_t size, void *map);
/* npages zeroed frames, the first aligned to align (a power of two; < 4 KiB means 4 KiB); 0 if none. */
paddr_t frame_pool_alloc(struct frame_pool *p, size_t npages, uint64_t align);
/* False, changing nothing, unless all npages frames at pa are allocated frames of the pool. */
bool frame_pool_free(struct frame_pool *p, paddr_t pa, size_t npages);
uint64_t frame_pool_free_frames(const struct frame_pool *p);

/* ---- the placement of the hypervisor's memory (hv/mm.c) ---- */

#define MM_POOL_DEFAULT MiB(32)
#define MM_POOL_MIN     MiB(4)
#define MM_POOL_LIMIT   GiB(4) /* the boot page tables map the low 4 GiB only */
#define MM_LOW_RESERVED MiB(1) /* real-mode memory, BIOS data, EBDA: never ours */

#define MM_ENOMAP (-1) /* the boot information has no usable RAM */
#define MM_ENOMEM (-2) /* no room for the pool */
#define MM_EINVAL (-3) /* bad image bounds or pool size */

struct mm_layout {
	struct mem_map machine; /* the boot map, normalised */
	struct mem_map guest;   /* machine with the image and the pool reserved */
	struct mem_map hv;      /* the image and the pool */
	paddr_t image_start, image_end; /* page-aligned outwards */
	paddr_t pool_base;
	uint64_t pool_size;
};

/*
 * Decides where the pool goes: the highest usable RAM below 4 GiB that avoids
 * the first MiB, the image, every module and the RSDP copy (which multiboot2
 * leaves inside its information, in RAM nobody reserved). 2 MiB alignment is
 * preferred so EPT can keep large pages around the pool.
 */
int mm_plan(struct mm_layout *l, const struct boot_info *bi, paddr_t image_start,
	    paddr_t image_end, uint64_t pool_size);
/* hvmem= (K/M/G suffixes), default 32 MiB, at least 4 MiB (else 4 MiB), below 4 GiB (else the default), page-rounded; *note set when not taken as given. */
uint64_t mm_pool_size_from_cmdline(const char *cmdline, bool *note);
/* mm_init() without the panic, for any image bounds (the host tests' entry). */
int mm_init_at(const struct boot_info *bi, paddr_t image_start, paddr_t image_end);

#endif
