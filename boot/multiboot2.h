/* Multiboot2 boot information: the parser that turns GRUB's tag list into struct boot_info. */
#ifndef BOOT_MULTIBOOT2_H
#define BOOT_MULTIBOOT2_H

#include "hv/types.h"
#include "hv/boot_info.h"

/* Multiboot2 spec 3.3: EAX on entry from a compliant loader. */
#define MB2_BOOTLOADER_MAGIC 0x36d76289

/* Multiboot2 spec 3.6: tag types of the boot information. */
enum mb2_tag_type {
	MB2_TAG_END          = 0,
	MB2_TAG_CMDLINE      = 1,
	MB2_TAG_LOADER_NAME  = 2,
	MB2_TAG_MODULE       = 3,
	MB2_TAG_BASIC_MEM    = 4,
	MB2_TAG_BOOTDEV      = 5,
	MB2_TAG_MMAP         = 6,
	MB2_TAG_FRAMEBUFFER  = 8,
	MB2_TAG_ACPI_OLD     = 14,
	MB2_TAG_ACPI_NEW     = 15,
	MB2_TAG_EFI_MMAP     = 17,
};

/* mb2_parse() errors: nothing usable could be taken from the information. */
#define MB2_ERR_NULL   (-1) /* no boot information pointer */
#define MB2_ERR_SIZE   (-2) /* total_size too small, too large or misaligned pointer */
#define MB2_ERR_NO_MEM (-3) /* neither a memory map nor basic memory information */

/* Largest total_size accepted: GRUB's information is a few KiB; more means garbage. */
#define MB2_MAX_TOTAL_SIZE MiB(16)

/*
 * Fills out (zeroed first; magic and source set) from the boot information
 * at mbi, reading nothing outside [mbi, mbi + total_size). Malformed tags are
 * skipped or clipped and reported in out->warnings; the result is 0, or a
 * negative MB2_ERR_* when the information is unusable as a whole.
 */
int mb2_parse(const void *mbi, struct boot_info *out);

/* Translates a UEFI memory descriptor type into the E820 numbering (ACPI 6.5, 15.4). */
uint32_t mb2_efi_type_to_e820(uint32_t efi_type);

#endif
