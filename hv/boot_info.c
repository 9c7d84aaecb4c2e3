/* Prints struct boot_info in one stable format, whichever loader filled it (tests diff the outputs). */
#include "hv/boot_info.h"
#include "hv/console.h"
#include "hv/memmap.h"
#include "hv/string.h"

/* Bounded: a UEFI loader's strings are not trusted to be terminated. */
#define BSTR(a) (int)strnlen((a), sizeof(a)), (a)

static const char *const warning_names[] = {
	"mmap-clipped", "modules-clipped", "string-clipped", "bad-tag",
	"truncated", "rsdp-invalid", "mmap-fallback",
};

static const char *source_name(uint32_t source)
{
	switch (source) {
	case BOOT_SRC_MULTIBOOT2: return "multiboot2";
	case BOOT_SRC_UEFI:       return "UEFI";
	default:                  return "unknown";
	}
}

static void print_mmap(const struct boot_info *bi)
{
	uint32_t n = MIN(bi->mmap_count, (uint32_t)BOOT_MAX_MMAP);
	uint64_t usable = 0;

	printk("hv: boot: memory map, %u ranges\n", n);
	for (uint32_t i = 0; i < n; i++) {
		const struct boot_mem_range *r = &bi->mmap[i];

		/* Inclusive end, as Linux prints the E820 map, so the two are easy to compare. */
		printk("hv: boot: mem [0x%016llx-0x%016llx] %s\n", (unsigned long long)r->base,
		       (unsigned long long)(r->base + r->len - 1), memmap_type_name(r->type));
		if (r->type == MEM_USABLE)
			usable += r->len;
	}
	printk("hv: boot: usable RAM %llu KiB\n", (unsigned long long)(usable >> 10));
}

static void print_modules(const struct boot_info *bi)
{
	uint32_t n = MIN(bi->module_count, (uint32_t)BOOT_MAX_MODULES);

	printk("hv: boot: %u modules\n", n);
	for (uint32_t i = 0; i < n; i++) {
		const struct boot_module *m = &bi->modules[i];

		printk("hv: boot: module %u [0x%llx-0x%llx) %llu bytes \"%.*s\"\n", i,
		       (unsigned long long)m->start, (unsigned long long)m->end,
		       (unsigned long long)(m->end >= m->start ? m->end - m->start : 0),
		       BSTR(m->cmdline));
	}
}

/* What cannot be passed on whole is named, module by module. */
static void print_module_losses(const struct boot_info *bi)
{
	uint32_t n = MIN(bi->module_count, (uint32_t)BOOT_MAX_MODULES);

	for (uint32_t i = 0; i < n; i++)
		if (bi->modules[i].cmdline_len >= BOOT_MOD_CMDLINE_MAX)
			printk("hv: warning: boot: module %u's command line of %u bytes is cut to its first %u: \"%.40s...\"\n",
			       i, bi->modules[i].cmdline_len, BOOT_MOD_CMDLINE_MAX - 1, bi->modules[i].cmdline);
	if (bi->modules_dropped)
		printk("hv: warning: boot: %u module(s) beyond the first %u are not passed to L1, from \"%.*s\" on\n",
		       bi->modules_dropped, BOOT_MAX_MODULES, BSTR(bi->first_dropped));
}

static void print_warnings(uint32_t warnings)
{
	if (!warnings)
		return;
	printk("hv: boot: warnings 0x%x:", warnings);
	for (size_t i = 0; i < ARRAY_SIZE(warning_names); i++)
		if (warnings & BIT(i))
			printk(" %s", warning_names[i]);
	printk("\n");
}

void boot_info_print(const struct boot_info *bi)
{
	printk("hv: boot: source %s, loader \"%.*s\"\n", source_name(bi->source), BSTR(bi->loader_name));
	printk("hv: boot: cmdline \"%.*s\"\n", BSTR(bi->cmdline));
	print_mmap(bi);
	print_modules(bi);
	if (bi->acpi_rsdp)
		printk("hv: boot: ACPI RSDP at 0x%llx\n", (unsigned long long)bi->acpi_rsdp);
	else
		printk("hv: boot: ACPI RSDP not found\n");
	if (bi->fb.addr)
		printk("hv: boot: framebuffer 0x%llx %ux%u %u bpp pitch %u\n",
		       (unsigned long long)bi->fb.addr, bi->fb.width, bi->fb.height,
		       (unsigned int)bi->fb.bpp, bi->fb.pitch);
	print_module_losses(bi);
	print_warnings(bi->warnings);
}
