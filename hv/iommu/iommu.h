/* DMA protection with VT-d: L1's devices reach L1's memory only (see hv/iommu/README.md). */
#ifndef HV_IOMMU_IOMMU_H
#define HV_IOMMU_IOMMU_H

#include "hv/boot_info.h"
#include "hv/percpu.h"

/*
 * iommu=on|off|required (default on). Finds the units in the ACPI DMAR
 * table, takes their registers from L1, programs every unit (identity map
 * of L1's memory, hypervisor excluded; interrupt remapping) and hides the
 * table from L1. Without remapping hardware it says once that DMA is
 * unprotected, or with iommu=required stops (HV_EXIT_NO_IOMMU).
 * Call after the memory split and module moves, before L1's EPT is built.
 */
void iommu_init(const struct boot_info *bi);

/* Prints and clears the fault records of every unit; the number printed. */
unsigned int iommu_report_faults(void);

/* debug_dma_test: DMA from QEMU's edu device into the hypervisor and into L1's memory, results printed. */
void iommu_debug_dma_test(const struct boot_info *bi);

/*
 * Fault polling from the VM-exit path: every IOMMU_POLL_EVERY exits of a CPU
 * (the fault interrupt stays masked: L1 owns interrupt delivery). Without an
 * active unit the exit path pays one compare.
 */
#define IOMMU_POLL_EVERY 64
extern bool iommu_polling;
void iommu_poll_tick(void);
static inline void iommu_poll_on_exit(void)
{
	if (unlikely(iommu_polling))
		iommu_poll_tick();
}

#endif
