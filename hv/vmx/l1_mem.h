/* The one way the hypervisor reads or writes L1's memory: L1's RAM only, by guest-physical address or through L1's paging. */
#ifndef HV_VMX_L1_MEM_H
#define HV_VMX_L1_MEM_H

#include "hv/types.h"
#include "hv/mm.h"
#include "hv/vmx/guest_walk.h"

/*
 * Every access the hypervisor makes on L1's behalf (instruction fetch for
 * emulation, page-table walks, TSS and descriptor reads, string I/O buffers,
 * PDPTEs, and later vmcs12 and its bitmaps) goes through this file. It only
 * touches L1 RAM: ranges L1's memory map calls usable or ACPI, that are never
 * the hypervisor's and that the hypervisor maps. Anything else is reported to
 * the caller, which gives L1 what the architecture would (a #PF from the walk,
 * MMIO emulation, or a clear stop); the hypervisor never faults on it.
 */
enum l1_mem_result {
	L1_MEM_OK = 0,
	L1_MEM_PAGE_FAULT, /* L1's paging refuses the access: *fault holds the #PF for L1 */
	L1_MEM_NOT_RAM,    /* the guest-physical address is not L1 RAM (MMIO, unbacked, the hypervisor's) */
};

/* Why an access failed, for the caller to deliver or report. */
struct l1_fault {
	uint64_t linear;     /* the faulting linear address (CR2 for a #PF) */
	uint32_t error_code; /* #PF error code (SDM 4.7) */
	uint64_t gpa;        /* L1_MEM_NOT_RAM: the guest-physical address that is not RAM */
};

/* Is [gpa, gpa+len) all L1 RAM in map (no wrap, len > 0)? Pure: the rule the accessor applies. */
bool l1_ram_covers(const struct mem_map *guest_map, uint64_t gpa, uint64_t len);

/* Guest-physical accesses: L1_MEM_OK or L1_MEM_NOT_RAM (nothing is touched then). */
int l1_read_phys(uint64_t gpa, void *buf, size_t len);
int l1_write_phys(uint64_t gpa, const void *buf, size_t len);

/* An 8-aligned locked compare-and-exchange, as the CPU updates paging flags (SDM 4.8, 29.3.5); *changed: old did not match. */
int l1_cmpxchg_phys64(uint64_t gpa, uint64_t old, uint64_t new_val, bool *changed);

/*
 * Linear accesses through L1's paging as the CPU would make them at privilege
 * p->cpl (access is GUEST_ACCESS_* of guest_walk.h). Pages are translated one
 * at a time; nothing is written unless every page of the range translates.
 */
int l1_read_linear(const struct guest_paging *p, uint64_t lin, void *buf, size_t len, unsigned int access,
		   struct l1_fault *fault);
int l1_write_linear(const struct guest_paging *p, uint64_t lin, const void *buf, size_t len, unsigned int access,
		    struct l1_fault *fault);

#ifndef HV_HOST_TEST
/* L1's current paging registers and CPL from the current VMCS (L1's CR0/CR4 bits as L1 set them). */
void l1_paging_now(struct guest_paging *p);
#endif

#endif
