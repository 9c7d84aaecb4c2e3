/* ACPI table lookup: the RSDP/XSDT walk and the MADT's list of CPUs (ACPI 6.5 ch. 5.2). */
#ifndef HV_ACPI_H
#define HV_ACPI_H

#include "hv/types.h"

#define ACPI_MAX_CPUS 64

struct acpi_cpu {
	uint32_t apic_id;
	uint32_t acpi_uid;
	bool x2apic; /* listed by a Local x2APIC structure */
};

struct acpi_cpus {
	uint32_t count;
	uint32_t skipped_disabled; /* present but neither enabled nor online-capable */
	uint32_t dropped;          /* beyond ACPI_MAX_CPUS */
	uint64_t lapic_base;       /* from the MADT (or its 64-bit override) */
	struct acpi_cpu cpu[ACPI_MAX_CPUS];
};

enum acpi_error {
	ACPI_OK = 0,
	ACPI_ERR_NO_RSDP = -1,
	ACPI_ERR_BAD_RSDP = -2,
	ACPI_ERR_BAD_ROOT = -3,
	ACPI_ERR_NO_MADT = -4,
	ACPI_ERR_BAD_MADT = -5,
};

/* Finds the table with this signature through the RSDP at rsdp_pa (XSDT preferred). */
const void *acpi_find_table(paddr_t rsdp_pa, const char sig[4], enum acpi_error *err);
/* Lists the CPUs the MADT reports as usable. */
enum acpi_error acpi_find_cpus(paddr_t rsdp_pa, struct acpi_cpus *out);
const char *acpi_strerror(enum acpi_error err);
/*
 * The PM1a control register's I/O port from the FADT (ACPI 5.2.9): where a
 * guest writes SLP_TYP|SLP_EN to power off. 0 if there is no FADT or the
 * register is not in I/O space.
 */
uint16_t acpi_pm1a_control_port(paddr_t rsdp_pa);
#define ACPI_PM1_SLP_EN BIT(13)
/* Scans the BIOS areas (EBDA, 0xE0000-0xFFFFF) for an RSDP; 0 if none (kernel only). */
paddr_t acpi_scan_bios_rsdp(void);

#endif
