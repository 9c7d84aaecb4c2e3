/* EPT for L1: an identity map of the machine's physical address space minus the hypervisor's memory (SDM 29.3). */
#ifndef HV_VMX_EPT_H
#define HV_VMX_EPT_H

#include "hv/types.h"
#include "hv/mm.h"

/* EPT paging-structure entry bits, SDM 29.3.2 (Tables 29-1 to 29-6). */
#define EPT_READ         BIT(0)
#define EPT_WRITE        BIT(1)
#define EPT_EXEC         BIT(2)
#define EPT_RWX          (EPT_READ | EPT_WRITE | EPT_EXEC)
#define EPT_MT_SHIFT     3
#define EPT_MT_MASK      (7ULL << EPT_MT_SHIFT)
#define EPT_IGNORE_PAT   BIT(6)
#define EPT_LARGE        BIT(7)
#define EPT_ADDR_MASK    0x000ffffffffff000ULL

/* Memory types, SDM 11.3 / 29.3.7. */
#define EPT_MT_UC 0
#define EPT_MT_WB 6

/* EPTP fields, SDM 25.6.11. */
#define EPTP_MT_SHIFT    0
#define EPTP_WALK_SHIFT  3
#define EPTP_AD_ENABLE   BIT(6)

struct ept_layout {
	const struct mem_map *ram;   /* ranges of type usable/ACPI get WB, everything else UC */
	const struct mem_map *holes; /* never mapped: the hypervisor's own memory */
	uint64_t limit;              /* map [0, limit); a multiple of 1 GiB */
	bool allow_1g, allow_2m;     /* large pages the CPU supports (IA32_VMX_EPT_VPID_CAP[17,16]) */
};

/*
 * Where L1's identity map ends: L1 sees the whole physical-address width
 * (MAXPHYADDR, capped at the 48 bits a 4-level EPT translates), so 64-bit
 * PCI BARs and any address the platform decodes work as bare; the map's
 * own top if that is higher. Without 1 GiB pages the tables for a wide
 * address space would not fit the pool: [0, max(top of the map, 64 GiB)).
 */
uint64_t ept_identity_limit(const struct mem_map *map, unsigned int maxphyaddr, bool allow_1g);

/*
 * Builds the identity map in zeroed frames from alloc_frame (0 = exhausted),
 * using the largest page that covers a uniform region and splitting down to
 * 4 KiB around holes and memory-type boundaries. Returns 0 and the PML4's
 * physical address, or -1 when frames ran out.
 */
int ept_build_identity(const struct ept_layout *layout, paddr_t (*alloc_frame)(void), paddr_t *pml4_out);

/*
 * Gives the 4 KiB page at gpa these access rights (EPT_READ/WRITE/EXEC),
 * splitting the large pages above it; the rest of the map is unchanged.
 * -1 if gpa is not mapped or frames ran out. The caller flushes (INVEPT).
 */
int ept_restrict_page(paddr_t pml4, uint64_t gpa, uint64_t rights, paddr_t (*alloc_frame)(void));

/* The EPT pointer for a 4-level table at pml4 (SDM 25.6.11). */
uint64_t ept_make_eptp(paddr_t pml4, unsigned int memtype);

struct ept_translation {
	uint64_t hpa;
	unsigned int memtype, level, rights; /* rights: EPT_READ/WRITE/EXEC of every level walked */
};
bool ept_translate_rights(paddr_t pml4, uint64_t gpa, struct ept_translation *t);

/* Walks the tables: true with the host address, memory type and leaf level (1 = 4 KiB) if gpa is mapped. */
bool ept_translate(paddr_t pml4, uint64_t gpa, uint64_t *hpa, unsigned int *memtype, unsigned int *level);

/* The memory type a range of the map gets: WB for RAM types, UC otherwise. */
bool ept_mem_type_is_ram(uint32_t type);

#endif
