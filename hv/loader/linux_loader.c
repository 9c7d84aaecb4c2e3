/* The Linux bzImage loader for L1: places kernel, initrd and boot data in guest memory and returns the 64-bit entry state. */
#include "hv/loader/guest_boot.h"
#include "hv/loader/linux_boot.h"
#include "hv/acpi.h"
#include "hv/memmap.h"
#include "hv/console.h"
#include "hv/mm.h"
#include "hv/string.h"

/*
 * Why the 64-bit entry (boot.rst, "64-bit Boot Protocol") and not the 32-bit
 * one: every x86-64 kernel has it (XLF_KERNEL_64), the guest never runs with
 * paging off, so the first guest instruction needs neither unrestricted guest
 * nor a real-mode or paging-off path in VMX non-root, and it is how current
 * boot loaders enter the kernel. The cost is the identity page tables and GDT
 * we build below, six pages and one.
 */

static void lx_report(const char *what, int err)
{
	printk("hv: linux: %s: %s\n", what, linux_err_str(err));
}

/* True for a bzImage we can boot; a Linux kernel we cannot boot says why here. */
bool linux_probe(const void *image, uint64_t size)
{
	struct linux_kernel k;
	int err = linux_parse_header(image, size, &k);

	if (err == -LXE_NO_MAGIC || err == -LXE_TRUNCATED)
		return false; /* not Linux at all: the caller names the module's format problem */
	if (err) {
		lx_report("unsupported kernel", err);
		if (err == -LXE_OLD_PROTOCOL)
			printk("hv: linux: the kernel speaks boot protocol %u.%02u\n",
			       k.version >> 8, k.version & 0xff);
		return false;
	}
	return true;
}

static struct lx_range lx_module_range(const struct boot_module *m)
{
	return (struct lx_range){ m->start, m->end - m->start };
}

/* The hypervisor's own memory, as the memory manager knows it. */
static bool lx_overlaps_hv(paddr_t pa, uint64_t len)
{
	return mm_range_overlaps_hv(pa, len);
}

/* Moves the initrd (first: its new place avoids the kernel module) and then the kernel. */
static void lx_copy_images(const struct linux_kernel *k, const struct linux_layout_in *in,
			   const struct linux_layout *lay)
{
	if (lay->initrd_moved)
		memmove(phys_to_virt(lay->initrd.base), phys_to_virt(in->initrd_src.base),
			lay->initrd.len);
	/* memmove: the module may overlap the load address (GRUB puts modules low). */
	memmove(phys_to_virt(lay->kernel.base),
		(const uint8_t *)phys_to_virt(in->kernel_src.base) + k->pm_offset, k->pm_size);
}

/* boot_params, command line, GDT and page tables, all in the boot data block. */
static int lx_build_data(const struct guest_load_ctx *ctx, const struct linux_kernel *k,
			 const struct linux_layout *lay, const char *args, const void *image)
{
	static struct mem_map l1_map; /* the guest map with the RSDP's page reserved (the loader runs once) */
	uint8_t *data = phys_to_virt(lay->data);
	struct linux_zp_in zin = { .image = image, .k = k, .lay = lay, .map = ctx->guest_map };
	uint64_t gdt[LX_GDT_ENTRIES];
	int err;

	memset(data, 0, LX_DATA_SIZE);
	/*
	 * The RSDP goes to L1 as a copy in the boot data block, in a page its e820
	 * reserves: the boot loader's own copy (GRUB's Multiboot2 information) may
	 * sit where the kernel decompresses itself. Without one L1 scans the BIOS area.
	 */
	if (acpi_boot_rsdp.len) {
		l1_map = *ctx->guest_map;
		memcpy(data + LX_DATA_ACPI, acpi_boot_rsdp.bytes, acpi_boot_rsdp.len);
		if (memmap_reserve(&l1_map, lay->data + LX_DATA_ACPI, PAGE_SIZE) == 0) {
			zin.map = &l1_map;
			zin.acpi_rsdp = lay->data + LX_DATA_ACPI;
		}
	}
	err = linux_build_zero_page(data + LX_DATA_ZERO_PAGE, &zin);
	if (err)
		return err;
	memcpy(data + LX_DATA_CMDLINE, args, strlen(args) + 1);
	linux_build_gdt(gdt);
	memcpy(data + LX_DATA_GDT, gdt, sizeof(gdt));
	linux_build_page_tables(data + LX_DATA_PML4, lay->data + LX_DATA_PML4);
	return 0;
}

static void lx_print_layout(const struct linux_kernel *k, const struct linux_layout *lay,
			    const char *args)
{
	printk("hv: linux: boot protocol %u.%02u, 64-bit entry at %#llx, kernel %#llx-%#llx\n",
	       k->version >> 8, k->version & 0xff,
	       (unsigned long long)(lay->kernel.base + LX_ENTRY64_OFFSET),
	       (unsigned long long)lay->kernel.base,
	       (unsigned long long)(lay->kernel.base + lay->kernel.len));
	if (lay->initrd.len)
		printk("hv: linux: initrd %#llx-%#llx (%llu bytes, %s)\n",
		       (unsigned long long)lay->initrd.base,
		       (unsigned long long)(lay->initrd.base + lay->initrd.len),
		       (unsigned long long)lay->initrd.len, lay->initrd_moved ? "moved" : "in place");
	else
		printk("hv: linux: no initrd module\n");
	printk("hv: linux: boot_params %#llx, command line \"%s\"\n",
	       (unsigned long long)lay->data, args);
}

/* The module's inputs to the layout: the kernel module and, when present, the next one as the initrd. */
static void lx_layout_inputs(const struct guest_load_ctx *ctx, struct linux_layout_in *in)
{
	const struct boot_info *bi = ctx->bi;

	memset(in, 0, sizeof(*in));
	in->map = ctx->guest_map;
	in->overlaps_hv = lx_overlaps_hv;
	in->kernel_src = lx_module_range(&bi->modules[ctx->kernel_idx]);
	if (ctx->kernel_idx + 1 < bi->module_count) {
		in->has_initrd = true;
		in->initrd_src = lx_module_range(&bi->modules[ctx->kernel_idx + 1]);
	}
}

/* The boot protocol has one initrd: every module after it is named, not silently dropped. */
static void lx_warn_unpassed(const struct guest_load_ctx *ctx)
{
	const struct boot_info *bi = ctx->bi;

	for (uint32_t i = ctx->kernel_idx + 2; i < bi->module_count; i++)
		printk("hv: warning: linux: module %u (\"%.60s\") is not passed to L1: Linux takes one initrd (module %u)\n",
		       i, bi->modules[i].cmdline, ctx->kernel_idx + 1);
}

int linux_load(const struct guest_load_ctx *ctx, struct guest_boot_state *out)
{
	const struct boot_module *mod = &ctx->bi->modules[ctx->kernel_idx];
	const void *image = phys_to_virt(mod->start);
	struct linux_layout_in in;
	struct linux_layout lay;
	struct linux_kernel k;
	const char *args = linux_cmdline_args(mod->cmdline);
	int err;

	err = linux_parse_header(image, mod->end - mod->start, &k);
	if (err) {
		lx_report("kernel module", err);
		return err;
	}
	if (strlen(args) > k.cmdline_max || strlen(args) > LX_CMDLINE_MAX) {
		lx_report("command line", -LXE_CMDLINE_TOO_LONG);
		return -LXE_CMDLINE_TOO_LONG;
	}
	lx_layout_inputs(ctx, &in);
	err = linux_plan_layout(&k, &in, &lay);
	if (err) {
		lx_report("memory layout", err);
		return err;
	}
	/* boot_params first: it copies the setup header from the module, which the kernel's move may overwrite. */
	err = lx_build_data(ctx, &k, &lay, args, image);
	if (err) {
		lx_report("boot_params", err);
		return err;
	}
	lx_copy_images(&k, &in, &lay);
	lx_print_layout(&k, &lay, args);
	lx_warn_unpassed(ctx);
	linux_entry_state(&lay, out);
	return 0;
}
