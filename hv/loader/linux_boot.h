/* Pure parts of the Linux loader: the bzImage setup header, the guest memory layout, boot_params and the 64-bit entry state (host-tested). */
#ifndef HV_LOADER_LINUX_BOOT_H
#define HV_LOADER_LINUX_BOOT_H

#include "hv/types.h"
#include "hv/mm.h"
#include "hv/loader/guest_boot.h"

/*
 * Offsets of the setup header fields, the same in the bzImage file and in
 * boot_params (Documentation/arch/x86/boot.rst, "The Real-Mode Kernel
 * Header"), and of the other boot_params fields we fill
 * (Documentation/arch/x86/zero-page.rst).
 */
#define LX_HDR_START          0x1f1 /* setup_sects: the first header byte */
#define LX_SETUP_SECTS        0x1f1
#define LX_SYSSIZE            0x1f4
#define LX_BOOT_FLAG          0x1fe /* 0xAA55 */
#define LX_JUMP               0x200 /* its second byte + 0x202 is the header's end */
#define LX_HEADER             0x202 /* "HdrS" */
#define LX_VERSION            0x206
#define LX_TYPE_OF_LOADER     0x210
#define LX_LOADFLAGS          0x211
#define LX_CODE32_START       0x214
#define LX_RAMDISK_IMAGE      0x218
#define LX_RAMDISK_SIZE       0x21c
#define LX_HEAP_END_PTR       0x224
#define LX_CMD_LINE_PTR       0x228
#define LX_INITRD_ADDR_MAX    0x22c
#define LX_KERNEL_ALIGNMENT   0x230
#define LX_RELOCATABLE        0x234
#define LX_XLOADFLAGS         0x236
#define LX_CMDLINE_SIZE       0x238
#define LX_PREF_ADDRESS       0x258
#define LX_INIT_SIZE          0x260

#define LX_ZP_ACPI_RSDP       0x070 /* u64, read by protocol 2.14+ kernels */
#define LX_ZP_EXT_RAMDISK_IMG 0x0c0 /* high 32 bits of ramdisk_image */
#define LX_ZP_EXT_RAMDISK_SZ  0x0c4
#define LX_ZP_EXT_CMD_LINE    0x0c8
#define LX_ZP_E820_ENTRIES    0x1e8 /* u8 */
#define LX_ZP_E820_TABLE      0x2d0 /* struct boot_e820_entry[128], 20 bytes each */
#define LX_ZP_E820_MAX        128
#define LX_ZP_SIZE            4096

#define LX_MAGIC              0x53726448u /* "HdrS" read little-endian */
#define LX_BOOT_FLAG_VALUE    0xaa55
#define LX_MIN_VERSION        0x020c /* 2.12: xloadflags, so XLF_KERNEL_64 can be checked */
#define LX_LOADER_ID          0xff   /* boot.rst type_of_loader: "no assigned id" */
#define LX_HEAP_END           0xde00 /* boot.rst "Sample Boot Configuration": 0xe000 - 0x200 */

#define LX_LOADED_HIGH        BIT(0) /* loadflags: protected-mode code at 0x100000 (bzImage) */
#define LX_CAN_USE_HEAP       BIT(7)
#define LX_XLF_KERNEL_64      BIT(0) /* xloadflags: 64-bit entry at load address + 0x200 */
#define LX_XLF_ABOVE_4G       BIT(1)

#define LX_ENTRY64_OFFSET     0x200  /* boot.rst "64-bit Boot Protocol" */
#define LX_BOOT_CS            0x10   /* __BOOT_CS */
#define LX_BOOT_DS            0x18   /* __BOOT_DS */

/* The boot data block the loader builds in guest memory, page by page. */
#define LX_DATA_ZERO_PAGE     0x0000
#define LX_DATA_CMDLINE       0x1000
#define LX_DATA_GDT           0x2000
#define LX_DATA_STACK_TOP     0x3000 /* the stack grows down in the GDT's page */
#define LX_DATA_PML4          0x3000
#define LX_DATA_PDPT          0x4000
#define LX_DATA_PD            0x5000 /* four page directories: 4 GiB of 2 MiB pages */
#define LX_DATA_ACPI          0x9000 /* the RSDP's copy, reserved in L1's e820 (acpi_rsdp_addr points here) */
#define LX_DATA_SIZE          0xa000
#define LX_PT_SIZE            (LX_DATA_ACPI - LX_DATA_PML4)
#define LX_CMDLINE_MAX        (PAGE_SIZE - 1)
#define LX_GDT_ENTRIES        4
#define LX_IDENT_MAP_LIMIT    GiB(4)

/* Every way a module can fail to be a loadable kernel; linux_err_str() says it in words. */
enum linux_err {
	LXE_OK = 0,
	LXE_TRUNCATED,
	LXE_NO_MAGIC,
	LXE_BOOT_FLAG,
	LXE_OLD_PROTOCOL,
	LXE_NOT_BZIMAGE,
	LXE_NOT_64BIT,
	LXE_BAD_HEADER_LEN,
	LXE_BAD_SYSSIZE,
	LXE_BAD_ALIGN,
	LXE_BAD_INIT_SIZE,
	LXE_CMDLINE_TOO_LONG,
	LXE_INITRD_EMPTY,
	LXE_NO_ROOM_KERNEL,
	LXE_NO_ROOM_INITRD,
	LXE_NO_ROOM_DATA,
	LXE_E820_TOO_MANY,
	LXE_COUNT,
};
const char *linux_err_str(int err);

/* What the loader needs from the kernel's setup header, validated. */
struct linux_kernel {
	uint16_t version;        /* boot protocol, 0x020f = 2.15 */
	uint8_t loadflags;
	uint16_t xloadflags;
	bool relocatable;
	uint32_t setup_size;     /* real-mode part: (setup_sects + 1) * 512 */
	uint32_t hdr_end;        /* offset just past the setup header */
	uint64_t pm_offset;      /* protected-mode kernel: file offset and length */
	uint64_t pm_size;
	uint64_t alignment;      /* kernel_alignment (a power of two) */
	uint64_t pref_address;
	uint64_t mem_size;       /* memory the kernel needs at its load address: max(init_size, pm_size) */
	uint32_t cmdline_max;    /* longest command line, without the NUL */
	uint64_t initrd_max;     /* highest address the initrd may occupy */
};

/* Parses and validates a bzImage; returns 0 or -enum linux_err. */
int linux_parse_header(const void *image, uint64_t size, struct linux_kernel *k);

/* A physical range [base, base + len); len 0 is "none". */
struct lx_range {
	uint64_t base;
	uint64_t len;
};

typedef bool (*lx_overlaps_fn)(paddr_t pa, uint64_t len);

struct linux_layout_in {
	const struct mem_map *map;  /* guest RAM: only MEM_USABLE ranges are used */
	lx_overlaps_fn overlaps_hv; /* hypervisor memory, checked besides the map; may be NULL */
	struct lx_range kernel_src; /* the bzImage module as loaded by the boot loader */
	bool has_initrd;
	struct lx_range initrd_src; /* the initrd module when has_initrd */
};

struct linux_layout {
	struct lx_range kernel;  /* [load address, + mem_size) */
	struct lx_range initrd;  /* where the initrd is when the kernel starts; len 0: none */
	bool initrd_moved;
	uint64_t data;           /* the LX_DATA_SIZE boot data block */
};

/* Chooses where the kernel, initrd and boot data go; returns 0 or -enum linux_err. */
int linux_plan_layout(const struct linux_kernel *k, const struct linux_layout_in *in,
		      struct linux_layout *out);

/* The kernel's arguments from a module string: a leading "linux" word is our convention's tag. */
const char *linux_cmdline_args(const char *module_cmdline);

struct linux_zp_in {
	const void *image;
	const struct linux_kernel *k;
	const struct linux_layout *lay;
	const struct mem_map *map;
	uint64_t acpi_rsdp;      /* 0: the kernel scans the BIOS area itself */
};

/* Fills the 4 KiB zero page (boot_params); returns 0 or -enum linux_err. */
int linux_build_zero_page(uint8_t *zp, const struct linux_zp_in *in);
/* The e820 table of boot_params from a memory map; returns the entry count or -LXE_E820_TOO_MANY. */
int linux_build_e820(uint8_t *zp, const struct mem_map *map);
/* The GDT with __BOOT_CS (64-bit code) and __BOOT_DS (flat data). */
void linux_build_gdt(uint64_t gdt[LX_GDT_ENTRIES]);
/* Identity page tables for the low 4 GiB: LX_PT_SIZE bytes at tables (guest-physical tables_pa). */
void linux_build_page_tables(uint8_t *tables, uint64_t tables_pa);
/* The CPU state at startup_64 for a block at layout->data. */
void linux_entry_state(const struct linux_layout *lay, struct guest_boot_state *out);

#endif
