/* Host tests for the Linux loader end to end (linux_probe, linux_load) over fake "physical" memory mapped at its identity addresses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <cmocka.h>

#include "hv/console.h"
#include "hv/mm.h"
#include "hv/loader/guest_boot.h"
#include "hv/loader/linux_boot.h"
#include "hv/acpi.h"

/*
 * The loader writes guest memory through phys_to_virt(), the identity. The
 * tests map the guest's RAM at those very addresses in this process: low
 * memory [64K, 636K) and [1M, 41M); the kernel (init_size 4 MiB) goes at
 * 16 MiB. Where the host refuses such a mapping, the tests are skipped.
 */
#define LOW_BASE   0x10000ULL
#define LOW_END    0x9f000ULL
#define HIGH_BASE  MiB(1)
#define HIGH_END   MiB(41)
#define KMOD_AT    MiB(4)   /* where "GRUB" put the kernel module */
#define INITRD_AT  MiB(30)
#define IMG_SIZE   0x20000  /* 4 setup sectors' worth + 120 KiB of "kernel" */
#define INITRD_LEN 0x3000

static bool mapped;
static char log_buf[4096];
static struct boot_info bi;
static struct mem_map gmap;
static struct lx_range fake_hv = { MiB(2), MiB(1) }; /* the hypervisor's image, say */

/* ---- fakes for the hypervisor services the loader calls ---------------- */

/* The RSDP the hypervisor copied at boot (hv/acpi.c): revision 2, 36 bytes. */
struct acpi_rsdp_copy acpi_boot_rsdp = { 36, "RSD PTR \x42OEMID \x02" };

void printk(const char *fmt, ...)
{
	size_t n = strlen(log_buf);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(log_buf + n, sizeof(log_buf) - n, fmt, ap);
	va_end(ap);
}

bool mm_range_overlaps_hv(paddr_t pa, uint64_t len)
{
	return pa < fake_hv.base + fake_hv.len && fake_hv.base < pa + len;
}

static bool map_at(uint64_t base, uint64_t end)
{
	void *p = mmap((void *)(uintptr_t)base, end - base, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_NORESERVE, -1, 0);

	return p == (void *)(uintptr_t)base;
}

static int setup_memory(void **state)
{
	(void)state;
	mapped = map_at(LOW_BASE, LOW_END) && map_at(HIGH_BASE, HIGH_END);
	if (!mapped)
		fprintf(stderr, "test_linux_loader: cannot map low addresses here; end-to-end tests skipped\n");
	return 0;
}

/* ---- the machine: a synthetic bzImage and initrd as GRUB would leave them -- */

static void put16(uint8_t *p, uint32_t off, uint16_t v) { memcpy(p + off, &v, 2); }
static void put32(uint8_t *p, uint32_t off, uint32_t v) { memcpy(p + off, &v, 4); }
static void put64(uint8_t *p, uint32_t off, uint64_t v) { memcpy(p + off, &v, 8); }

static uint8_t *kmod(void) { return (uint8_t *)(uintptr_t)KMOD_AT; }

static void write_image(void)
{
	uint8_t *img = kmod();

	memset(img, 0, IMG_SIZE);
	img[LX_SETUP_SECTS] = 3;
	put32(img, LX_SYSSIZE, (IMG_SIZE - 2048) / 16);
	put16(img, LX_BOOT_FLAG, 0xaa55);
	img[LX_JUMP + 1] = 0x6a;
	put32(img, LX_HEADER, LX_MAGIC);
	put16(img, LX_VERSION, 0x020f);
	img[LX_LOADFLAGS] = LX_LOADED_HIGH;
	put32(img, LX_INITRD_ADDR_MAX, 0x7fffffff);
	put32(img, LX_KERNEL_ALIGNMENT, (uint32_t)MiB(2));
	img[LX_RELOCATABLE] = 1;
	put16(img, LX_XLOADFLAGS, LX_XLF_KERNEL_64 | LX_XLF_ABOVE_4G);
	put32(img, LX_CMDLINE_SIZE, 2047);
	put64(img, LX_PREF_ADDRESS, MiB(16));
	put32(img, LX_INIT_SIZE, (uint32_t)MiB(4));
	for (uint32_t i = 2048; i < IMG_SIZE; i++)
		img[i] = (uint8_t)(i * 7 + 1); /* the "kernel": a recognisable pattern */
}

static void write_initrd(uint64_t at)
{
	memset((void *)(uintptr_t)at, 0x5a, INITRD_LEN);
	memcpy((void *)(uintptr_t)at, "070701", 6);
}

static void machine(const char *cmdline, bool initrd, uint64_t initrd_at)
{
	memset(&bi, 0, sizeof(bi));
	memset(&gmap, 0, sizeof(gmap));
	log_buf[0] = '\0';
	gmap.r[gmap.count++] = (struct boot_mem_range){ .base = 0, .len = LOW_END, .type = MEM_USABLE };
	gmap.r[gmap.count++] = (struct boot_mem_range){ .base = HIGH_BASE, .len = MiB(1), .type = MEM_USABLE };
	gmap.r[gmap.count++] = (struct boot_mem_range){ .base = MiB(2), .len = MiB(1), .type = MEM_RESERVED };
	gmap.r[gmap.count++] = (struct boot_mem_range){ .base = MiB(3), .len = HIGH_END - MiB(3), .type = MEM_USABLE };
	write_image();
	bi.modules[0].start = KMOD_AT;
	bi.modules[0].end = KMOD_AT + IMG_SIZE;
	snprintf(bi.modules[0].cmdline, sizeof(bi.modules[0].cmdline), "%s", cmdline);
	bi.module_count = 1;
	if (initrd) {
		write_initrd(initrd_at);
		bi.modules[1].start = initrd_at;
		bi.modules[1].end = initrd_at + INITRD_LEN;
		bi.module_count = 2;
	}
	bi.acpi_rsdp = 0xf9fa0;
}

static int load(struct guest_boot_state *st)
{
	const struct guest_load_ctx ctx = { .bi = &bi, .kernel_idx = 0, .guest_map = &gmap };

	return linux_load(&ctx, st);
}

static uint32_t zp32(uint64_t zp, uint32_t off)
{
	uint32_t v;

	memcpy(&v, (const uint8_t *)(uintptr_t)zp + off, 4);
	return v;
}

#define NEED_MEMORY() do { if (!mapped) skip(); } while (0)

/* ---- tests --------------------------------------------------------------- */

static void test_probe(void **state)
{
	static uint8_t junk[4096];

	(void)state;
	NEED_MEMORY();
	machine("linux", false, 0);
	assert_true(linux_probe(kmod(), IMG_SIZE));
	assert_string_equal(log_buf, "");
	/* Not Linux at all (a Multiboot ELF, garbage, too short): false, and no word from us. */
	assert_false(linux_probe(junk, sizeof(junk)));
	assert_false(linux_probe(kmod(), 0x100));
	assert_string_equal(log_buf, "");
	/* A Linux kernel we cannot boot: false, and the reason. */
	put16(kmod(), LX_VERSION, 0x0206);
	assert_false(linux_probe(kmod(), IMG_SIZE));
	assert_non_null(strstr(log_buf, "hv: linux: unsupported kernel: boot protocol older than 2.12"));
	assert_non_null(strstr(log_buf, "speaks boot protocol 2.06"));
	log_buf[0] = '\0';
	put16(kmod(), LX_VERSION, 0x020f);
	put16(kmod(), LX_XLOADFLAGS, 0);
	assert_false(linux_probe(kmod(), IMG_SIZE));
	assert_non_null(strstr(log_buf, "XLF_KERNEL_64"));
}

static void test_load_in_place(void **state)
{
	struct guest_boot_state st;
	uint64_t zp;

	(void)state;
	NEED_MEMORY();
	machine("linux console=ttyS0 quiet", true, INITRD_AT);
	assert_int_equal(load(&st), 0);
	/* Entry state: 64-bit at 16 MiB + 0x200, boot_params in low memory. */
	assert_int_equal(st.mode, GUEST_MODE_LONG64);
	assert_int_equal(st.rip, MiB(16) + 0x200);
	zp = st.rsi;
	assert_int_equal(zp, LOW_BASE);
	assert_int_equal(st.cr3, zp + LX_DATA_PML4);
	assert_int_equal(st.gdt_base, zp + LX_DATA_GDT);
	/* The protected-mode kernel was copied to the load address. */
	assert_memory_equal((void *)(uintptr_t)MiB(16), kmod() + 2048, IMG_SIZE - 2048);
	/* boot_params: loader fields, command line without the tag, initrd where GRUB put it. */
	assert_int_equal(zp32(zp, LX_HEADER), LX_MAGIC);
	assert_int_equal(*(uint8_t *)(uintptr_t)(zp + LX_TYPE_OF_LOADER), 0xff);
	assert_int_equal(zp32(zp, LX_CMD_LINE_PTR), zp + LX_DATA_CMDLINE);
	assert_string_equal((char *)(uintptr_t)(zp + LX_DATA_CMDLINE), "console=ttyS0 quiet");
	assert_int_equal(zp32(zp, LX_RAMDISK_IMAGE), INITRD_AT);
	assert_int_equal(zp32(zp, LX_RAMDISK_SIZE), INITRD_LEN);
	/*
	 * The RSDP: the hypervisor's copy in the data block, whose page L1's e820
	 * reserves (GRUB's own copy may lie where the kernel decompresses).
	 */
	assert_int_equal(zp32(zp, LX_ZP_ACPI_RSDP), zp + LX_DATA_ACPI);
	assert_memory_equal((void *)(uintptr_t)(zp + LX_DATA_ACPI), acpi_boot_rsdp.bytes, 36);
	assert_int_equal(*(uint8_t *)(uintptr_t)(zp + LX_ZP_E820_ENTRIES), 6);
	{
		const uint8_t *e = (const uint8_t *)(uintptr_t)(zp + LX_ZP_E820_TABLE);
		bool reserved = false;

		for (int i = 0; i < 6; i++, e += 20) {
			uint64_t base, len;
			uint32_t type;

			memcpy(&base, e, 8);
			memcpy(&len, e + 8, 8);
			memcpy(&type, e + 16, 4);
			if (base <= zp + LX_DATA_ACPI && zp + LX_DATA_ACPI + PAGE_SIZE <= base + len)
				reserved = type == 2;
		}
		assert_true(reserved);
	}
	/* The GDT's __BOOT_CS is 64-bit code. */
	assert_int_equal(((uint64_t *)(uintptr_t)st.gdt_base)[2], 0x00af9b000000ffffULL);
	assert_non_null(strstr(log_buf, "initrd 0x1e00000-0x1e03000 (12288 bytes, in place)"));
	assert_non_null(strstr(log_buf, "command line \"console=ttyS0 quiet\""));
}

static void test_load_moves_initrd(void **state)
{
	struct guest_boot_state st;
	uint64_t zp, at;

	(void)state;
	NEED_MEMORY();
	/* The initrd sits in [16M, 20M), and the kernel cannot go elsewhere: RAM ends at 21 MiB. */
	machine("linux", true, MiB(17));
	gmap.r[3].len = MiB(21) - MiB(3);
	assert_int_equal(load(&st), 0);
	zp = st.rsi;
	at = zp32(zp, LX_RAMDISK_IMAGE);
	assert_int_equal(st.rip, MiB(16) + 0x200);
	assert_true(at >= MiB(20) && at + INITRD_LEN <= MiB(21));
	assert_memory_equal((void *)(uintptr_t)at, "070701", 6);
	assert_int_equal(((uint8_t *)(uintptr_t)at)[INITRD_LEN - 1], 0x5a);
	assert_non_null(strstr(log_buf, "moved"));
	assert_string_equal((char *)(uintptr_t)(zp + LX_DATA_CMDLINE), "");
}

static void test_load_refusals(void **state)
{
	struct guest_boot_state st;
	char *line;

	(void)state;
	NEED_MEMORY();
	machine("linux", false, 0);
	put32(kmod(), LX_HEADER, 0);
	assert_true(load(&st) < 0);
	assert_non_null(strstr(log_buf, "hv: linux: kernel module: no \"HdrS\" magic"));

	machine("linux", false, 0);
	put32(kmod(), LX_CMDLINE_SIZE, 8);
	line = bi.modules[0].cmdline; /* "linux xxx...": 200 bytes of arguments */
	memset(line, 'x', 206);
	memcpy(line, "linux ", 6);
	line[206] = '\0';
	assert_int_equal(load(&st), -LXE_CMDLINE_TOO_LONG);
	assert_non_null(strstr(log_buf, "command line longer than the kernel's cmdline_size"));

	machine("linux", false, 0);
	gmap.r[3].len = MiB(18) - MiB(3); /* no 4 MiB at or above 16 MiB */
	assert_int_equal(load(&st), -LXE_NO_ROOM_KERNEL);
	assert_non_null(strstr(log_buf, "memory layout: no usable guest RAM at pref_address"));

	machine("linux", true, INITRD_AT);
	bi.modules[1].end = bi.modules[1].start; /* an empty initrd module */
	assert_int_equal(load(&st), -LXE_INITRD_EMPTY);
	assert_non_null(strstr(log_buf, "initrd module is empty"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probe),
		cmocka_unit_test(test_load_in_place),
		cmocka_unit_test(test_load_moves_initrd),
		cmocka_unit_test(test_load_refusals),
	};

	return cmocka_run_group_tests(tests, setup_memory, NULL);
}
