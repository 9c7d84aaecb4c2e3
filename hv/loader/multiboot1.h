/* The Multiboot (version 1) loader's pure parts: header and image parsing, placement checks, the guest's info structure. */
#ifndef HV_LOADER_MULTIBOOT1_H
#define HV_LOADER_MULTIBOOT1_H

#include "hv/types.h"
#include "hv/boot_info.h"
#include "hv/mm.h"

/* Multiboot Specification 0.6.96, sections 3.1 and 3.3. */
#define MB1_HEADER_MAGIC     0x1badb002u
#define MB1_BOOTLOADER_MAGIC 0x2badb002u
#define MB1_SEARCH_BYTES     8192u

#define MB1_HDR_PAGE_ALIGN   BIT(0)
#define MB1_HDR_MEMINFO      BIT(1)
#define MB1_HDR_VIDEO        BIT(2)
#define MB1_HDR_AOUT_KLUDGE  BIT(16)

#define MB1_INFO_MEM         BIT(0)
#define MB1_INFO_CMDLINE     BIT(2)
#define MB1_INFO_MODS        BIT(3)
#define MB1_INFO_MMAP        BIT(6)
#define MB1_INFO_LOADER_NAME BIT(9)

struct mb1_header {
	uint32_t magic, flags, checksum;
	uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr; /* flag 16 */
	uint32_t mode_type, width, height, depth;                               /* flag 2 */
} __packed;

/* The boot information structure, spec 3.3. */
struct mb1_info {
	uint32_t flags;
	uint32_t mem_lower, mem_upper;
	uint32_t boot_device;
	uint32_t cmdline;
	uint32_t mods_count, mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length, mmap_addr;
	uint32_t drives_length, drives_addr;
	uint32_t config_table;
	uint32_t boot_loader_name;
	uint32_t apm_table;
	uint32_t vbe_control_info, vbe_mode_info;
	uint16_t vbe_mode, vbe_interface_seg, vbe_interface_off, vbe_interface_len;
	uint64_t framebuffer_addr;
	uint32_t framebuffer_pitch, framebuffer_width, framebuffer_height;
	uint8_t framebuffer_bpp, framebuffer_type;
	uint8_t color_info[6];
} __packed;

struct mb1_mmap_entry {
	uint32_t size; /* of the rest of the entry: 20 */
	uint64_t base_addr, length;
	uint32_t type;
} __packed;

struct mb1_module {
	uint32_t mod_start, mod_end, string, reserved;
} __packed;

#define MB1_MAX_SEGMENTS 16

/* One piece of the image to place in guest memory: filesz bytes from the file, then zeros up to memsz. */
struct mb1_segment {
	uint64_t dest, file_off, filesz, memsz;
};

struct mb1_image {
	uint32_t header_flags;
	uint32_t entry;
	const char *format; /* "ELF32", "ELF64" or "a.out kludge" */
	unsigned int nseg;
	struct mb1_segment seg[MB1_MAX_SEGMENTS];
};

/* Finds a valid header (magic, checksum) 4-aligned in the first 8 KiB; its offset or -1. */
long mb1_find_header(const void *image, uint64_t size);

/* Parses the image into segments and an entry point; 0, or -1 with the reason in err. */
int mb1_parse(const void *image, uint64_t size, struct mb1_image *out, char *err, size_t errsz);

/*
 * Checks that every segment lies in usable guest RAM and touches neither the
 * hypervisor's memory nor any boot module; 0, or -1 with the reason in err.
 */
int mb1_check_placement(const struct mb1_image *img, const struct mem_map *guest_map, const struct mem_map *hv,
			const struct boot_info *bi, char *err, size_t errsz);

/* What the guest's info structure is built from. */
struct mb1_info_input {
	const struct mem_map *guest_map;
	const struct boot_module *mods[BOOT_MAX_MODULES]; /* the guest's modules, the kernel excluded */
	unsigned int nmods;
	const char *cmdline;
	const char *loader_name;
};

size_t mb1_info_size(const struct mb1_info_input *in);

/* Writes the info structure and everything it points to into buf, which the guest sees at buf_gpa. */
void mb1_build_info(const struct mb1_info_input *in, void *buf, uint32_t buf_gpa);

/*
 * Finds size bytes of usable guest RAM below 4 GiB, at or above 64 KiB,
 * touching no segment and no boot module; false if there is none.
 */
bool mb1_find_info_spot(uint64_t size, const struct mem_map *guest_map, const struct mb1_image *img,
			const struct boot_info *bi, uint64_t *gpa);

#endif
