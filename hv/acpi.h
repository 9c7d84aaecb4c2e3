/* ACPI table lookup: the RSDP/XSDT walk and the MADT's list of CPUs (ACPI 6.5 ch. 5.2). */
#ifndef HV_ACPI_H
#define HV_ACPI_H

#include "hv/types.h"
#include "hv/boot_info.h"

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

/*
 * Where firmware tables may be read: the boot memory map. A table is read
 * only if it lies entirely in the first MiB (the BIOS areas ACPI 5.2.5.1
 * names), in RAM or ACPI memory of the map, or in a reserved range below
 * 4 GiB; never in a hole, bad memory or past what the hypervisor maps.
 */
struct acpi_mem {
	const struct boot_mem_range *r; /* sorted, non-overlapping (boot_info.mmap) */
	uint32_t count;
};
bool acpi_mem_allows(const struct acpi_mem *mem, paddr_t pa, uint64_t len);

/* Finds the table with this signature through the RSDP at rsdp_pa (XSDT preferred); every pointer is checked first. */
const void *acpi_find_table(const struct acpi_mem *mem, paddr_t rsdp_pa, const char sig[4], enum acpi_error *err);
/* Lists the CPUs the MADT reports as usable. */
enum acpi_error acpi_find_cpus(const struct acpi_mem *mem, paddr_t rsdp_pa, struct acpi_cpus *out);
const char *acpi_strerror(enum acpi_error err);
/*
 * The PM1a control register's I/O port from the FADT (ACPI 5.2.9): where a
 * guest writes SLP_TYP|SLP_EN to power off. 0 if there is no FADT or the
 * register is not in I/O space.
 */
uint16_t acpi_pm1a_control_port(const struct acpi_mem *mem, paddr_t rsdp_pa);

/*
 * Everything the hypervisor takes from ACPI, read once at boot before any
 * L1 image or module is written to memory (L1 may overwrite the RSDP copy
 * GRUB left in RAM it gives L1): nothing reads the tables afterwards.
 */
struct acpi_facts {
	paddr_t rsdp;               /* 0: none found */
	enum acpi_error cpus_err;   /* ACPI_OK: cpus is valid */
	struct acpi_cpus cpus;
	uint16_t pm1a_cnt_port;     /* 0: unknown */
};
void acpi_read_facts(const struct acpi_mem *mem, paddr_t rsdp_pa, struct acpi_facts *out);
#define ACPI_PM1_SLP_EN BIT(13)
/* Scans the BIOS areas (EBDA, 0xE0000-0xFFFFF) for an RSDP; 0 if none (kernel only). */
paddr_t acpi_scan_bios_rsdp(void);

#ifndef HV_HOST_TEST
/* Kernel only: reads the facts from the boot information's RSDP (or the BIOS areas') into acpi_boot_facts. */
void acpi_init(const struct boot_info *bi);
extern struct acpi_facts acpi_boot_facts;
#endif

/*
 * The RSDP as the boot handed it over, copied at acpi_init: a boot loader's
 * copy (GRUB's, in its Multiboot2 information) lies in memory L1 is given and
 * reuses, so the Linux loader passes L1 this copy, in its own reserved page.
 * len 0: none found (L1 then scans the BIOS area itself).
 */
struct acpi_rsdp_copy {
	uint32_t len;       /* 20 (ACPI 1.0) or 36 (2.0+) */
	uint8_t bytes[36];
};
extern struct acpi_rsdp_copy acpi_boot_rsdp;

#endif
