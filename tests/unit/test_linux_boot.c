/* Host tests for the Linux loader's pure parts: setup header checks, layout (placement, relocation, refusals), boot_params, GDT, page tables, entry state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hv/loader/linux_boot.h"

#define IMG_SIZE 0x10000 /* a synthetic bzImage: 3 setup sectors + boot sector, then "kernel" */

/* ---- helpers ----------------------------------------------------------- */

static void put16(uint8_t *p, uint32_t off, uint16_t v) { memcpy(p + off, &v, 2); }
static void put32(uint8_t *p, uint32_t off, uint32_t v) { memcpy(p + off, &v, 4); }
static void put64(uint8_t *p, uint32_t off, uint64_t v) { memcpy(p + off, &v, 8); }
static uint8_t get8(const uint8_t *p, uint32_t off) { return p[off]; }

static uint16_t get16(const uint8_t *p, uint32_t off)
{
	uint16_t v;

	memcpy(&v, p + off, 2);
	return v;
}

static uint32_t get32(const uint8_t *p, uint32_t off)
{
	uint32_t v;

	memcpy(&v, p + off, 4);
	return v;
}

static uint64_t get64(const uint8_t *p, uint32_t off)
{
	uint64_t v;

	memcpy(&v, p + off, 8);
	return v;
}

/* A header like Debian's 6.1 kernel: protocol 2.15, relocatable, 2 MiB aligned, pref 16 MiB, init_size 64 MiB. */
static uint8_t *make_image(void)
{
	uint8_t *img = calloc(1, IMG_SIZE);

	assert_non_null(img);
	img[LX_SETUP_SECTS] = 3;
	put32(img, LX_SYSSIZE, (IMG_SIZE - 4 * 512) / 16);
	put16(img, LX_BOOT_FLAG, 0xaa55);
	img[LX_JUMP] = 0xeb;
	img[LX_JUMP + 1] = 0x6a; /* header ends at 0x26c */
	put32(img, LX_HEADER, LX_MAGIC); /* "HdrS" */
	put16(img, LX_VERSION, 0x020f);
	img[LX_LOADFLAGS] = LX_LOADED_HIGH;
	put32(img, LX_CODE32_START, 0x100000);
	put32(img, LX_INITRD_ADDR_MAX, 0x7fffffff);
	put32(img, LX_KERNEL_ALIGNMENT, 0x200000);
	img[LX_RELOCATABLE] = 1;
	put16(img, LX_XLOADFLAGS, 0x7f);
	put32(img, LX_CMDLINE_SIZE, 2047);
	put64(img, LX_PREF_ADDRESS, MiB(16));
	put32(img, LX_INIT_SIZE, (uint32_t)MiB(64));
	return img;
}

static int parse(const uint8_t *img, uint64_t size, struct linux_kernel *k)
{
	return linux_parse_header(img, size, k);
}

static struct linux_kernel good_kernel(void)
{
	uint8_t *img = make_image();
	struct linux_kernel k;

	assert_int_equal(parse(img, IMG_SIZE, &k), 0);
	free(img);
	return k;
}

static void map_add(struct mem_map *m, uint64_t base, uint64_t len, uint32_t type)
{
	m->r[m->count++] = (struct boot_mem_range){ .base = base, .len = len, .type = type };
}

/* Bochs-like 512 MiB machine: low RAM, BIOS holes, RAM from 1 MiB, hypervisor 2-8 MiB reserved. */
static void pc_map(struct mem_map *m)
{
	memset(m, 0, sizeof(*m));
	map_add(m, 0, 0x9f000, MEM_USABLE);
	map_add(m, 0x9f000, 0x1000, MEM_RESERVED);
	map_add(m, 0xe8000, 0x18000, MEM_RESERVED);
	map_add(m, MiB(1), MiB(1), MEM_USABLE);
	map_add(m, MiB(2), MiB(6), MEM_RESERVED);
	map_add(m, MiB(8), MiB(504) - 0x10000, MEM_USABLE);
	map_add(m, MiB(512) - 0x10000, 0x10000, MEM_ACPI_RECLAIM);
}

static bool overlaps(struct lx_range a, struct lx_range b)
{
	return a.len && b.len && a.base < b.base + b.len && b.base < a.base + a.len;
}

static struct lx_range fake_hv;

static bool fake_overlaps_hv(paddr_t pa, uint64_t len)
{
	return pa < fake_hv.base + fake_hv.len && fake_hv.base < pa + len;
}

static struct linux_layout_in layout_in(const struct mem_map *m, uint64_t ksrc, uint64_t isrc,
					uint64_t ilen)
{
	struct linux_layout_in in = {
		.map = m,
		.overlaps_hv = fake_overlaps_hv,
		.kernel_src = { ksrc, MiB(8) },
		.has_initrd = ilen != 0,
		.initrd_src = { isrc, ilen },
	};

	fake_hv = (struct lx_range){ MiB(2), MiB(6) };
	return in;
}

/* ---- probe / header ---------------------------------------------------- */

static void test_parse_good(void **state)
{
	struct linux_kernel k = good_kernel();

	(void)state;
	assert_int_equal(k.version, 0x020f);
	assert_int_equal(k.setup_size, 4 * 512);
	assert_int_equal(k.hdr_end, 0x26c);
	assert_int_equal(k.pm_offset, 2048);
	assert_int_equal(k.pm_size, IMG_SIZE - 2048);
	assert_int_equal(k.alignment, MiB(2));
	assert_int_equal(k.pref_address, MiB(16));
	assert_int_equal(k.mem_size, MiB(64));
	assert_int_equal(k.cmdline_max, 2047);
	assert_int_equal(k.initrd_max, 0x7fffffff);
	assert_true(k.relocatable);
}

static void test_parse_bad_magic(void **state)
{
	uint8_t *img = make_image();
	struct linux_kernel k;

	(void)state;
	put32(img, LX_HEADER, LX_MAGIC ^ 0x10000000); /* "HdrC" */
	assert_int_equal(parse(img, IMG_SIZE, &k), -LXE_NO_MAGIC);
	memset(img, 0, IMG_SIZE); /* e.g. a Multiboot ELF: zeros there */
	assert_int_equal(parse(img, IMG_SIZE, &k), -LXE_NO_MAGIC);
	free(img);
}

static void test_parse_truncated(void **state)
{
	uint8_t *img = make_image();
	struct linux_kernel k;

	(void)state;
	assert_int_equal(parse(img, 0, &k), -LXE_TRUNCATED);
	assert_int_equal(parse(img, 0x205, &k), -LXE_TRUNCATED);
	/* Header whole, but the image ends inside it or inside the setup sectors. */
	assert_int_equal(parse(img, 0x240, &k), -LXE_BAD_HEADER_LEN);
	assert_int_equal(parse(img, 2048, &k), -LXE_BAD_HEADER_LEN);
	/* Setup whole, kernel shorter than syssize says. */
	assert_int_equal(parse(img, IMG_SIZE - 16, &k), -LXE_BAD_SYSSIZE);
	free(img);
}

static void test_parse_old_protocol(void **state)
{
	uint8_t *img = make_image();
	struct linux_kernel k;

	(void)state;
	put16(img, LX_VERSION, 0x0206);
	assert_int_equal(parse(img, IMG_SIZE, &k), -LXE_OLD_PROTOCOL);
	assert_int_equal(k.version, 0x0206);
	put16(img, LX_VERSION, 0x020b);
	assert_int_equal(parse(img, IMG_SIZE, &k), -LXE_OLD_PROTOCOL);
	put16(img, LX_VERSION, 0x020c);
	assert_int_equal(parse(img, IMG_SIZE, &k), 0);
	free(img);
}

static void test_parse_flags(void **state)
{
	uint8_t *img = make_image();
	struct linux_kernel k;

	(void)state;
	put16(img, LX_BOOT_FLAG, 0);
	assert_int_equal(parse(img, IMG_SIZE, &k), -LXE_BOOT_FLAG);
	put16(img, LX_BOOT_FLAG, 0xaa55);
	img[LX_LOADFLAGS] = 0;
	assert_int_equal(parse(img, IMG_SIZE, &k), -LXE_NOT_BZIMAGE);
	img[LX_LOADFLAGS] = LX_LOADED_HIGH;
	put16(img, LX_XLOADFLAGS, 0x7e);
	assert_int_equal(parse(img, IMG_SIZE, &k), -LXE_NOT_64BIT);
	free(img);
}

static void test_parse_sizes(void **state)
{
	uint8_t *img = make_image();
	struct linux_kernel k;

	(void)state;
	img[LX_SETUP_SECTS] = 0; /* means 4: the kernel now starts 512 bytes later */
	assert_int_equal(parse(img, IMG_SIZE, &k), -LXE_BAD_SYSSIZE);
	put32(img, LX_SYSSIZE, (IMG_SIZE - 5 * 512) / 16);
	assert_int_equal(parse(img, IMG_SIZE, &k), 0);
	assert_int_equal(k.setup_size, 5 * 512);
	img[LX_SETUP_SECTS] = 3;
	img[LX_JUMP + 1] = 0x40; /* header would end before init_size */
	assert_int_equal(parse(img, IMG_SIZE, &k), -LXE_BAD_HEADER_LEN);
	img[LX_JUMP + 1] = 0x6a;
	put32(img, LX_SYSSIZE, 0);
	assert_int_equal(parse(img, IMG_SIZE, &k), -LXE_BAD_SYSSIZE);
	put32(img, LX_SYSSIZE, 0x100);
	put32(img, LX_INIT_SIZE, 0x100); /* smaller than the image: the image wins */
	assert_int_equal(parse(img, IMG_SIZE, &k), 0);
	assert_int_equal(k.mem_size, IMG_SIZE - 2048);
	free(img);
}

static void test_parse_placement_fields(void **state)
{
	uint8_t *img = make_image();
	struct linux_kernel k;

	(void)state;
	put32(img, LX_KERNEL_ALIGNMENT, 0x300000);
	assert_int_equal(parse(img, IMG_SIZE, &k), -LXE_BAD_ALIGN);
	put32(img, LX_KERNEL_ALIGNMENT, 0x200);
	assert_int_equal(parse(img, IMG_SIZE, &k), -LXE_BAD_ALIGN);
	put32(img, LX_KERNEL_ALIGNMENT, 0x200000);
	put64(img, LX_PREF_ADDRESS, GiB(4) - MiB(32));
	assert_int_equal(parse(img, IMG_SIZE, &k), -LXE_BAD_INIT_SIZE);
	free(img);
}

static void test_err_strings(void **state)
{
	(void)state;
	for (int e = 1; e < LXE_COUNT; e++) {
		assert_non_null(linux_err_str(-e));
		assert_string_not_equal(linux_err_str(-e), "unknown error");
	}
	assert_string_equal(linux_err_str(-LXE_COUNT), "unknown error");
}

/* ---- layout ------------------------------------------------------------ */

static void test_layout_simple(void **state)
{
	struct linux_kernel k = good_kernel();
	struct mem_map m;
	struct linux_layout_in in;
	struct linux_layout lay;

	(void)state;
	pc_map(&m);
	in = layout_in(&m, MiB(8), MiB(100), MiB(2)); /* initrd clear of [16M, 80M) */
	assert_int_equal(linux_plan_layout(&k, &in, &lay), 0);
	assert_int_equal(lay.kernel.base, MiB(16));
	assert_int_equal(lay.kernel.len, MiB(64));
	assert_int_equal(lay.initrd.base, MiB(100));
	assert_int_equal(lay.initrd.len, MiB(2));
	assert_false(lay.initrd_moved);
	assert_int_equal(lay.data, 0x10000);
}

static void test_layout_initrd_overlaps_kernel(void **state)
{
	struct linux_kernel k = good_kernel();
	struct mem_map m;
	struct linux_layout_in in;
	struct linux_layout lay;

	(void)state;
	pc_map(&m);
	/*
	 * RAM ends at 83 MiB: the kernel cannot keep clear of an initrd at
	 * [17M, 20M), so it takes 16 MiB and the initrd moves up, clear of the
	 * kernel and of the kernel module at [8M, 16M).
	 */
	m.r[5].len = MiB(83) - MiB(8);
	in = layout_in(&m, MiB(8), MiB(17), MiB(3));
	assert_int_equal(linux_plan_layout(&k, &in, &lay), 0);
	assert_int_equal(lay.kernel.base, MiB(16));
	assert_true(lay.initrd_moved);
	assert_int_equal(lay.initrd.base, MiB(80));
	assert_int_equal(lay.initrd.len, MiB(3));
	assert_false(overlaps(lay.initrd, lay.kernel));
	assert_false(overlaps(lay.initrd, in.kernel_src));
}

static void test_layout_kernel_moves_above_initrd(void **state)
{
	struct linux_kernel k = good_kernel();
	struct mem_map m;
	struct linux_layout_in in;
	struct linux_layout lay;

	(void)state;
	pc_map(&m);
	in = layout_in(&m, MiB(8), MiB(20), MiB(5)); /* initrd sits in [16M, 80M) */
	assert_int_equal(linux_plan_layout(&k, &in, &lay), 0);
	/* Relocatable: the next 2 MiB-aligned place after the initrd, initrd untouched. */
	assert_int_equal(lay.kernel.base, MiB(26));
	assert_false(lay.initrd_moved);
	assert_int_equal(lay.initrd.base, MiB(20));
}

static void test_layout_hv_in_the_way(void **state)
{
	struct linux_kernel k = good_kernel();
	struct mem_map m;
	struct linux_layout_in in;
	struct linux_layout lay;

	(void)state;
	pc_map(&m);
	in = layout_in(&m, MiB(8), MiB(200), MiB(1));
	/* The map says usable, but the hypervisor's pool sits at 17-18 MiB. */
	fake_hv = (struct lx_range){ MiB(17), MiB(1) };
	assert_int_equal(linux_plan_layout(&k, &in, &lay), 0);
	assert_int_equal(lay.kernel.base, MiB(18));
	/* The map itself reserves 16-20 MiB. */
	fake_hv = (struct lx_range){ 0, 0 };
	m.r[5].len = MiB(8);
	map_add(&m, MiB(16), MiB(4), MEM_RESERVED);
	map_add(&m, MiB(20), MiB(400), MEM_USABLE);
	assert_int_equal(linux_plan_layout(&k, &in, &lay), 0);
	assert_int_equal(lay.kernel.base, MiB(20));
}

static void test_layout_initrd_in_hv_memory_moves(void **state)
{
	struct linux_kernel k = good_kernel();
	struct mem_map m;
	struct linux_layout_in in;
	struct linux_layout lay;

	(void)state;
	pc_map(&m);
	in = layout_in(&m, MiB(100), MiB(3), MiB(1)); /* initrd inside the reserved 2-8 MiB */
	assert_int_equal(linux_plan_layout(&k, &in, &lay), 0);
	assert_true(lay.initrd_moved);
	/* Highest usable place below initrd_addr_max: the top of RAM. */
	assert_int_equal(lay.initrd.base, MiB(512) - 0x10000 - MiB(1));
}

static void test_layout_initrd_above_max_moves(void **state)
{
	uint8_t *img = make_image();
	struct linux_kernel k;
	struct mem_map m;
	struct linux_layout_in in;
	struct linux_layout lay;

	(void)state;
	put32(img, LX_INITRD_ADDR_MAX, (uint32_t)MiB(200) - 1);
	assert_int_equal(parse(img, IMG_SIZE, &k), 0);
	free(img);
	pc_map(&m);
	in = layout_in(&m, MiB(8), MiB(300), MiB(2));
	assert_int_equal(linux_plan_layout(&k, &in, &lay), 0);
	assert_true(lay.initrd_moved);
	assert_int_equal(lay.initrd.base, MiB(198));
	assert_true(lay.initrd.base + lay.initrd.len - 1 <= k.initrd_max);
}

static void test_layout_refusals(void **state)
{
	struct linux_kernel k = good_kernel();
	struct mem_map m;
	struct linux_layout_in in;
	struct linux_layout lay;

	(void)state;
	pc_map(&m);
	m.r[5].len = MiB(60); /* RAM ends at 68 MiB: no 64 MiB above 16 MiB */
	m.count = 6;
	in = layout_in(&m, MiB(8), MiB(50), MiB(1));
	assert_int_equal(linux_plan_layout(&k, &in, &lay), -LXE_NO_ROOM_KERNEL);
	pc_map(&m);
	in = layout_in(&m, MiB(8), MiB(3), MiB(480)); /* an initrd too big for what is left */
	assert_int_equal(linux_plan_layout(&k, &in, &lay), -LXE_NO_ROOM_INITRD);
	in = layout_in(&m, MiB(8), MiB(100), 0);
	in.has_initrd = true;
	assert_int_equal(linux_plan_layout(&k, &in, &lay), -LXE_INITRD_EMPTY);
}

static void test_layout_not_relocatable(void **state)
{
	uint8_t *img = make_image();
	struct linux_kernel k;
	struct mem_map m;
	struct linux_layout_in in;
	struct linux_layout lay;

	(void)state;
	img[LX_RELOCATABLE] = 0;
	assert_int_equal(parse(img, IMG_SIZE, &k), 0);
	free(img);
	pc_map(&m);
	in = layout_in(&m, MiB(8), MiB(100), MiB(1));
	assert_int_equal(linux_plan_layout(&k, &in, &lay), 0);
	assert_int_equal(lay.kernel.base, MiB(16));
	fake_hv = (struct lx_range){ MiB(40), MiB(1) }; /* inside [16M, 80M): nowhere else to go */
	assert_int_equal(linux_plan_layout(&k, &in, &lay), -LXE_NO_ROOM_KERNEL);
}

static void test_layout_no_initrd_data_high(void **state)
{
	struct linux_kernel k = good_kernel();
	struct mem_map m;
	struct linux_layout_in in;
	struct linux_layout lay;

	(void)state;
	pc_map(&m);
	m.r[0].type = MEM_RESERVED; /* no conventional memory for the boot data */
	in = layout_in(&m, MiB(8), 0, 0);
	assert_int_equal(linux_plan_layout(&k, &in, &lay), 0);
	assert_int_equal(lay.initrd.len, 0);
	assert_int_equal(lay.data, MiB(1));
	/* [1M, 2M) gone too: the data goes past the kernel module, below the kernel. */
	m.r[3].type = MEM_RESERVED;
	assert_int_equal(linux_plan_layout(&k, &in, &lay), 0);
	assert_int_equal(lay.data, MiB(80)); /* past the module [8M, 16M) and the kernel [16M, 80M) */
}

static void test_layout_split_map_coalesced(void **state)
{
	struct linux_kernel k = good_kernel();
	struct mem_map m;
	struct linux_layout_in in;
	struct linux_layout lay;

	(void)state;
	memset(&m, 0, sizeof(m));
	map_add(&m, 0, 0x9f000, MEM_USABLE);
	for (uint64_t a = MiB(1); a < MiB(256); a += MiB(4))
		map_add(&m, a, MiB(4), MEM_USABLE); /* RAM split into 4 MiB entries */
	in = layout_in(&m, MiB(100), MiB(50), MiB(1));
	fake_hv = (struct lx_range){ 0, 0 };
	assert_int_equal(linux_plan_layout(&k, &in, &lay), 0);
	assert_int_equal(lay.kernel.base, MiB(52)); /* [52M, 116M) spans 17 map entries */
	assert_int_equal(lay.data, 0x10000);
	assert_false(overlaps(lay.kernel, in.initrd_src));
}

/* ---- command line ------------------------------------------------------ */

static void test_cmdline_args(void **state)
{
	(void)state;
	assert_string_equal(linux_cmdline_args("linux console=ttyS0 quiet"), "console=ttyS0 quiet");
	assert_string_equal(linux_cmdline_args("  linux\tro"), "ro");
	assert_string_equal(linux_cmdline_args("linux"), "");
	assert_string_equal(linux_cmdline_args(""), "");
	assert_string_equal(linux_cmdline_args("linuxfoo=1"), "linuxfoo=1");
	assert_string_equal(linux_cmdline_args("console=ttyS0 linux"), "console=ttyS0 linux");
}

/* ---- boot_params ------------------------------------------------------- */

static void test_zero_page(void **state)
{
	uint8_t *img = make_image();
	uint8_t zp[LX_ZP_SIZE];
	struct linux_kernel k;
	struct mem_map m;
	struct linux_layout lay = {
		.kernel = { MiB(16), MiB(64) }, .initrd = { MiB(300), 123456 }, .data = 0x10000,
	};
	struct linux_zp_in zin = { .image = img, .k = &k, .lay = &lay, .map = &m, .acpi_rsdp = 0xf5a20 };

	(void)state;
	img[0x26c] = 0x5a; /* just past the header: must not be copied */
	assert_int_equal(parse(img, IMG_SIZE, &k), 0);
	pc_map(&m);
	memset(zp, 0xcc, sizeof(zp));
	assert_int_equal(linux_build_zero_page(zp, &zin), 0);
	assert_memory_equal(zp + LX_HEADER, "HdrS", 4);
	assert_int_equal(get16(zp, LX_VERSION), 0x020f);
	assert_int_equal(get8(zp, LX_SETUP_SECTS), 3);
	assert_int_equal(get8(zp, 0x1ef), 0); /* sentinel */
	assert_int_equal(get8(zp, LX_TYPE_OF_LOADER), 0xff);
	assert_int_equal(get8(zp, LX_LOADFLAGS), LX_LOADED_HIGH | LX_CAN_USE_HEAP);
	assert_int_equal(get16(zp, LX_HEAP_END_PTR), 0xde00);
	assert_int_equal(get32(zp, LX_CODE32_START), MiB(16));
	assert_int_equal(get32(zp, LX_CMD_LINE_PTR), 0x11000);
	assert_int_equal(get32(zp, LX_ZP_EXT_CMD_LINE), 0);
	assert_int_equal(get32(zp, LX_RAMDISK_IMAGE), MiB(300));
	assert_int_equal(get32(zp, LX_RAMDISK_SIZE), 123456);
	assert_int_equal(get32(zp, LX_ZP_EXT_RAMDISK_IMG), 0);
	assert_int_equal(get64(zp, LX_ZP_ACPI_RSDP), 0xf5a20);
	assert_int_equal(get32(zp, LX_PREF_ADDRESS), MiB(16)); /* copied, untouched */
	assert_int_equal(get8(zp, 0x26c), 0); /* nothing past the header's end */
	assert_int_equal(get8(zp, 0x100), 0); /* the rest zeroed */
	free(img);
}

static void test_zero_page_e820(void **state)
{
	uint8_t *img = make_image();
	uint8_t zp[LX_ZP_SIZE];
	struct linux_kernel k;
	struct mem_map m;
	struct linux_layout lay = { .kernel = { MiB(16), MiB(64) }, .data = 0x10000 };
	struct linux_zp_in zin = { .image = img, .k = &k, .lay = &lay, .map = &m };

	(void)state;
	assert_int_equal(parse(img, IMG_SIZE, &k), 0);
	pc_map(&m);
	assert_int_equal(linux_build_zero_page(zp, &zin), 0);
	assert_int_equal(get8(zp, LX_ZP_E820_ENTRIES), m.count);
	for (uint32_t i = 0; i < m.count; i++) {
		uint32_t off = LX_ZP_E820_TABLE + i * 20;

		assert_int_equal(get64(zp, off), m.r[i].base);
		assert_int_equal(get64(zp, off + 8), m.r[i].len);
		assert_int_equal(get32(zp, off + 16), m.r[i].type);
	}
	/* The hypervisor's range is there as reserved, so the kernel never touches it. */
	assert_int_equal(get64(zp, LX_ZP_E820_TABLE + 4 * 20), MiB(2));
	assert_int_equal(get32(zp, LX_ZP_E820_TABLE + 4 * 20 + 16), MEM_RESERVED);
	assert_int_equal(get32(zp, LX_RAMDISK_IMAGE), 0);
	assert_int_equal(get32(zp, LX_RAMDISK_SIZE), 0);
	free(img);
}

static void test_zero_page_old_protocol_no_rsdp(void **state)
{
	uint8_t *img = make_image();
	uint8_t zp[LX_ZP_SIZE];
	struct linux_kernel k;
	struct mem_map m;
	struct linux_layout lay = { .kernel = { MiB(16), MiB(64) }, .data = 0x10000 };
	struct linux_zp_in zin = { .image = img, .k = &k, .lay = &lay, .map = &m, .acpi_rsdp = 0xf5a20 };

	(void)state;
	put16(img, LX_VERSION, 0x020d);
	assert_int_equal(parse(img, IMG_SIZE, &k), 0);
	pc_map(&m);
	assert_int_equal(linux_build_zero_page(zp, &zin), 0);
	assert_int_equal(get64(zp, LX_ZP_ACPI_RSDP), 0); /* 2.13 kernels do not read it */
	free(img);
}

static void test_e820_merge_and_overflow(void **state)
{
	uint8_t zp[LX_ZP_SIZE];
	struct mem_map m;

	(void)state;
	memset(&m, 0, sizeof(m));
	memset(zp, 0, sizeof(zp));
	map_add(&m, 0, MiB(1), MEM_USABLE);
	map_add(&m, MiB(1), MiB(1), MEM_USABLE);        /* merges with the first */
	map_add(&m, MiB(2), MiB(1), MEM_RESERVED);
	map_add(&m, MiB(3), 0, MEM_USABLE);             /* empty: dropped */
	map_add(&m, MiB(4), MiB(1), MEM_USABLE);        /* a gap before: kept apart */
	assert_int_equal(linux_build_e820(zp, &m), 3);
	assert_int_equal(get64(zp, LX_ZP_E820_TABLE + 8), MiB(2));
	assert_int_equal(get64(zp, LX_ZP_E820_TABLE + 2 * 20), MiB(4));
	memset(&m, 0, sizeof(m));
	for (uint32_t i = 0; i < 130; i++)
		map_add(&m, i * MiB(1), MiB(1), i % 2 ? MEM_RESERVED : MEM_USABLE);
	assert_int_equal(linux_build_e820(zp, &m), -LXE_E820_TOO_MANY);
	m.count = 128;
	assert_int_equal(linux_build_e820(zp, &m), 128);
}

/* ---- GDT, page tables, entry state ------------------------------------- */

static void test_gdt(void **state)
{
	uint64_t gdt[LX_GDT_ENTRIES];
	uint64_t cs, ds;

	(void)state;
	linux_build_gdt(gdt);
	cs = gdt[LX_BOOT_CS >> 3];
	ds = gdt[LX_BOOT_DS >> 3];
	assert_int_equal(gdt[0], 0);
	assert_true(cs & BIT(47));          /* present */
	assert_int_equal((cs >> 45) & 3, 0); /* DPL 0 */
	assert_int_equal((cs >> 40) & 0xf, 0xb); /* execute/read, accessed */
	assert_true(cs & BIT(44));          /* code/data, not system */
	assert_true(cs & BIT(53));          /* L: 64-bit */
	assert_false(cs & BIT(54));         /* D must be 0 with L */
	assert_true(ds & BIT(47));
	assert_int_equal((ds >> 40) & 0xf, 0x3); /* read/write, accessed */
	assert_true(ds & BIT(54));          /* 32-bit, flat */
	assert_int_equal(ds & 0xffff, 0xffff);
	assert_int_equal((ds >> 48) & 0xf, 0xf);
	assert_true(ds & BIT(55));          /* 4 KiB granularity: 4 GiB limit */
}

/* Walks our tables like the MMU (4-level, 2 MiB leaves) and returns the physical address. */
static uint64_t walk(const uint8_t *tables, uint64_t tables_pa, uint64_t va)
{
	const uint64_t *pml4 = (const uint64_t *)(const void *)tables;
	uint64_t e = pml4[(va >> 39) & 511], pa;

	assert_true(e & 1);
	pa = e & 0x000ffffffffff000ULL;
	e = ((const uint64_t *)(const void *)(tables + (pa - tables_pa)))[(va >> 30) & 511];
	assert_true(e & 1);
	assert_false(e & BIT(7));
	pa = e & 0x000ffffffffff000ULL;
	e = ((const uint64_t *)(const void *)(tables + (pa - tables_pa)))[(va >> 21) & 511];
	assert_true(e & 1);
	assert_true(e & 2);
	assert_true(e & BIT(7));
	return (e & 0x000fffffffe00000ULL) | (va & (MiB(2) - 1));
}

static void test_page_tables(void **state)
{
	uint8_t *tables = aligned_alloc(4096, LX_PT_SIZE);
	const uint64_t pa = 0x13000;

	(void)state;
	assert_non_null(tables);
	memset(tables, 0xff, LX_PT_SIZE);
	linux_build_page_tables(tables, pa);
	assert_int_equal(walk(tables, pa, 0), 0);
	assert_int_equal(walk(tables, pa, 0x10000), 0x10000);
	assert_int_equal(walk(tables, pa, MiB(16) + 0x200), MiB(16) + 0x200);
	assert_int_equal(walk(tables, pa, GiB(1) + 0x1234), GiB(1) + 0x1234);
	assert_int_equal(walk(tables, pa, GiB(4) - 8), GiB(4) - 8);
	/* Nothing above 4 GiB: PDPT entry 4 and PML4 entry 1 absent. */
	assert_int_equal(((uint64_t *)(void *)(tables + PAGE_SIZE))[4], 0);
	assert_int_equal(((uint64_t *)(void *)tables)[1], 0);
	free(tables);
}

static void test_entry_state(void **state)
{
	struct linux_layout lay = { .kernel = { MiB(18), MiB(64) }, .data = 0x10000 };
	struct guest_boot_state st;

	(void)state;
	memset(&st, 0xaa, sizeof(st));
	linux_entry_state(&lay, &st);
	assert_int_equal(st.mode, GUEST_MODE_LONG64);
	assert_int_equal(st.rip, MiB(18) + 0x200);
	assert_int_equal(st.rsi, 0x10000);
	assert_int_equal(st.cr3, 0x13000);
	assert_int_equal(st.gdt_base, 0x12000);
	assert_int_equal(st.gdt_limit, 31);
	assert_int_equal(st.cs_sel, 0x10);
	assert_int_equal(st.ds_sel, 0x18);
	assert_int_equal(st.rsp, 0x13000);
	assert_int_equal(st.rax | st.rbx | st.rcx | st.rdx | st.rdi | st.rbp, 0);
	/* The data block's parts do not overlap. */
	assert_true(LX_DATA_CMDLINE >= LX_DATA_ZERO_PAGE + LX_ZP_SIZE);
	assert_true(LX_DATA_GDT >= LX_DATA_CMDLINE + LX_CMDLINE_MAX + 1);
	assert_true(LX_DATA_PML4 + LX_PT_SIZE == LX_DATA_ACPI);
	assert_true(LX_DATA_ACPI + PAGE_SIZE == LX_DATA_SIZE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad_magic),
		cmocka_unit_test(test_parse_truncated),
		cmocka_unit_test(test_parse_old_protocol),
		cmocka_unit_test(test_parse_flags),
		cmocka_unit_test(test_parse_sizes),
		cmocka_unit_test(test_parse_placement_fields),
		cmocka_unit_test(test_err_strings),
		cmocka_unit_test(test_layout_simple),
		cmocka_unit_test(test_layout_initrd_overlaps_kernel),
		cmocka_unit_test(test_layout_kernel_moves_above_initrd),
		cmocka_unit_test(test_layout_hv_in_the_way),
		cmocka_unit_test(test_layout_initrd_in_hv_memory_moves),
		cmocka_unit_test(test_layout_initrd_above_max_moves),
		cmocka_unit_test(test_layout_refusals),
		cmocka_unit_test(test_layout_not_relocatable),
		cmocka_unit_test(test_layout_no_initrd_data_high),
		cmocka_unit_test(test_layout_split_map_coalesced),
		cmocka_unit_test(test_cmdline_args),
		cmocka_unit_test(test_zero_page),
		cmocka_unit_test(test_zero_page_e820),
		cmocka_unit_test(test_zero_page_old_protocol_no_rsdp),
		cmocka_unit_test(test_e820_merge_and_overflow),
		cmocka_unit_test(test_gdt),
		cmocka_unit_test(test_page_tables),
		cmocka_unit_test(test_entry_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
