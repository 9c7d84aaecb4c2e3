/* Conversion of the final UEFI memory map into the E820-typed boot_info map; pure C, no EFI headers. */
#ifndef HVBOOT_MMAP_CONV_H
#define HVBOOT_MMAP_CONV_H

#include "hv/types.h"
#include "hv/boot_info.h"

/* EFI_MEMORY_DESCRIPTOR (UEFI 2.10 §7.2.3); the firmware's stride is desc_size, never sizeof. */
struct efi_mdesc {
	uint32_t type;
	uint32_t pad;
	uint64_t phys_start;
	uint64_t virt_start;
	uint64_t pages; /* 4 KiB pages (EFI_PAGE_SIZE), whatever the CPU's page size */
	uint64_t attr;
};

/* EFI_MEMORY_TYPE values (UEFI 2.10 §7.2.1, Table 7-5). */
enum efi_mem_type {
	EFI_RESERVED_MEMORY = 0,
	EFI_LOADER_CODE,
	EFI_LOADER_DATA,
	EFI_BOOT_SERVICES_CODE,
	EFI_BOOT_SERVICES_DATA,
	EFI_RUNTIME_SERVICES_CODE,
	EFI_RUNTIME_SERVICES_DATA,
	EFI_CONVENTIONAL_MEMORY,
	EFI_UNUSABLE_MEMORY,
	EFI_ACPI_RECLAIM_MEMORY,
	EFI_ACPI_MEMORY_NVS,
	EFI_MEMORY_MAPPED_IO,
	EFI_MEMORY_MAPPED_IO_PORT_SPACE,
	EFI_PAL_CODE,
	EFI_PERSISTENT_MEMORY,
	EFI_UNACCEPTED_MEMORY,
};

enum mmap_err {
	MMAP_OK = 0,
	MMAP_ERR_DESC_SIZE, /* desc_size smaller than the UEFI 2.0 descriptor */
	MMAP_ERR_OVERFLOW,  /* more merged ranges than the output holds */
};

/* The E820 type (enum boot_mem_type) of an EFI memory type once boot services are gone. */
uint32_t efi_type_to_e820(uint32_t efi_type);

/*
 * Converts map[map_size] (descriptors desc_size bytes apart) into out[cap]:
 * sorted by base, adjacent ranges of one type merged, empty ones dropped.
 * The map is read only (no allocation, no mutation: it runs after
 * ExitBootServices). Overlaps, which the spec forbids, resolve to the more
 * restrictive type when the later range is. *count gets the ranges written.
 */
enum mmap_err efi_mmap_to_e820(const void *map, size_t map_size, size_t desc_size,
			       struct boot_mem_range *out, uint32_t cap, uint32_t *count);

const char *mmap_strerror(enum mmap_err code);

#endif
