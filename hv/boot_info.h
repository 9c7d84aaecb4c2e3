/* The one description of the machine every boot path (multiboot2, UEFI) fills for the hypervisor. */
#ifndef HV_BOOT_INFO_H
#define HV_BOOT_INFO_H

#include "hv/types.h"

#define BOOT_INFO_MAGIC     0x4f464e49544f4f42ULL /* "BOOTINFO" */
#define BOOT_MAX_MMAP       128
#define BOOT_MAX_MODULES    64
#define BOOT_CMDLINE_MAX    512
#define BOOT_MOD_CMDLINE_MAX 4096 /* L1's command line is module 0's: Linux takes up to 2048 bytes */

/* Memory range types use the E820 numbering, which multiboot2 and Linux share. */
enum boot_mem_type {
	MEM_USABLE       = 1,
	MEM_RESERVED     = 2,
	MEM_ACPI_RECLAIM = 3,
	MEM_ACPI_NVS     = 4,
	MEM_BAD          = 5,
};

struct boot_mem_range {
	uint64_t base;
	uint64_t len;
	uint32_t type; /* enum boot_mem_type */
	uint32_t pad;
};

/*
 * Modules are the guest's. Before any guest loader runs, the core moves them
 * to the top of guest RAM below 4 GiB (hv/modules.c), because GRUB places
 * them just above 1 MiB, where Multiboot kernels are linked.
 */
struct boot_module {
	uint64_t start; /* physical, inclusive */
	uint64_t end;   /* physical, exclusive */
	uint32_t cmdline_len; /* as given: more than BOOT_MOD_CMDLINE_MAX - 1 means cmdline was cut */
	uint32_t pad;
	char cmdline[BOOT_MOD_CMDLINE_MAX];
};

enum boot_source {
	BOOT_SRC_MULTIBOOT2 = 1,
	BOOT_SRC_UEFI       = 2,
};

struct boot_framebuffer {
	uint64_t addr; /* 0: none */
	uint32_t width, height, pitch;
	uint8_t bpp;
	uint8_t pad[3];
};

struct boot_info {
	uint64_t magic;  /* BOOT_INFO_MAGIC */
	uint32_t source; /* enum boot_source */
	uint32_t mmap_count;
	char loader_name[64];
	char cmdline[BOOT_CMDLINE_MAX];
	struct boot_mem_range mmap[BOOT_MAX_MMAP]; /* sorted by base, not overlapping */
	uint32_t module_count;
	uint32_t modules_dropped; /* given beyond BOOT_MAX_MODULES: not passed on */
	struct boot_module modules[BOOT_MAX_MODULES];
	char first_dropped[64];   /* the first dropped module's command line (cut), to name it */
	uint64_t acpi_rsdp; /* physical address of the RSDP; 0 if none was found */
	struct boot_framebuffer fb;
	uint32_t warnings; /* BOOT_WARN_*: what a boot path had to clip or ignore */
	uint32_t pad2;
};

/* boot_info.warnings: the boot information was usable but not as given. */
#define BOOT_WARN_MMAP_CLIPPED    BIT(0) /* more memory ranges than BOOT_MAX_MMAP */
#define BOOT_WARN_MODULES_CLIPPED BIT(1) /* more modules than BOOT_MAX_MODULES */
#define BOOT_WARN_STRING_CLIPPED  BIT(2) /* a string was too long or not terminated */
#define BOOT_WARN_BAD_TAG         BIT(3) /* an entry with impossible sizes was ignored */
#define BOOT_WARN_TRUNCATED       BIT(4) /* the information ended early (no end marker, overrun) */
#define BOOT_WARN_RSDP_INVALID    BIT(5) /* an ACPI RSDP failed its signature or checksum */
#define BOOT_WARN_MMAP_FALLBACK   BIT(6) /* no memory map: built from mem_lower/mem_upper */

/* Prints the boot information with printk, one "hv: " line per item, the same way for every boot path. */
void boot_info_print(const struct boot_info *bi);

/*
 * The image header the UEFI loader looks for in the first 32 KiB of the
 * hypervisor's loaded image (in section .hvhdr, 16-byte aligned). The loader
 * calls entry64(boot_info) with the SysV ABI: long mode, interrupts off, boot
 * services exited, the image, boot_info and the low 4 GiB identity-mapped.
 */
#define HV_IMAGE_MAGIC 0x3147414d49564821ULL /* "!HVIMAG1" */
struct hv_image_header {
	uint64_t magic;
	uint64_t entry64;     /* physical address of hv_entry64(struct boot_info *) */
	uint64_t image_start; /* physical; the ELF's lowest loaded address */
	uint64_t image_end;   /* physical; end of .bss, exclusive */
};

#endif
