/* One VT-d remapping unit driven through its registers: probe, enable, fault records (kernel). */
#ifndef HV_IOMMU_VTD_H
#define HV_IOMMU_VTD_H

#include "hv/types.h"

struct vtd_unit {
	paddr_t base;
	volatile uint8_t *regs;
	uint64_t cap, ecap;
	uint32_t reg_span;    /* bytes of registers actually used: IOTLB and fault records included */
	uint64_t *queue;      /* invalidation queue (one page) once queued invalidation is on */
	uint32_t queue_tail;  /* next free descriptor */
	bool intremap;        /* interrupt remapping enabled */
	unsigned int index;
};

/* Reads the capabilities; -1 (with the reason printed) if the registers do not look like a VT-d unit. */
int vtd_probe(struct vtd_unit *u, paddr_t base, unsigned int index);

/*
 * Turns off what firmware left on, points the unit at the root table,
 * invalidates its caches, enables translation and, when irt is not 0 and
 * the unit has interrupt remapping and queued invalidation, interrupt
 * remapping with that table. -1 with the reason printed on a timeout.
 */
int vtd_enable(struct vtd_unit *u, paddr_t root, paddr_t irt, paddr_t queue);

/* Prints and clears this unit's fault records (spec 7.2.1); the number printed. */
unsigned int vtd_report_faults(struct vtd_unit *u);

#endif
