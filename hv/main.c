/* The hypervisor's C entry points (multiboot2 and UEFI) and its start-up sequence. */
#include "hv/acpi.h"
#include "hv/boot_info.h"
#include "hv/cmdline.h"
#include "hv/console.h"
#include "hv/iommu/iommu.h"
#include "hv/mm.h"
#include "hv/modules.h"
#include "hv/options.h"
#include "hv/paging.h"
#include "hv/panic.h"
#include "hv/percpu.h"
#include "hv/smp.h"
#include "hv/string.h"
#include "hv/x86.h"
#include "hv/vmx/vmx.h"
#include "boot/multiboot2.h"

#define MB2_BOOTLOADER_MAGIC 0x36d76289

static struct boot_info boot_info;

static uint16_t serial_port_from_name(const char *name)
{
	static const struct { const char *name; uint16_t port; } ports[] = {
		{ "com1", 0x3f8 }, { "com2", 0x2f8 }, { "com3", 0x3e8 }, { "com4", 0x2e8 },
		{ "none", 0 }, { "0x3f8", 0x3f8 }, { "0x2f8", 0x2f8 }, { "0x3e8", 0x3e8 }, { "0x2e8", 0x2e8 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(ports); i++)
		if (!strcmp(name, ports[i].name))
			return ports[i].port;
	return 0xffff;
}

/* Console options first, so everything after them is printed where the user asked. */
static void apply_console_options(const char *cmdline)
{
	char val[16];
	uint64_t level;
	bool e9;

	if (cmdline_get_str(cmdline, "serial", val, sizeof(val))) {
		uint16_t port = serial_port_from_name(val);

		if (port == 0xffff)
			printk("hv: serial=%s not understood (com1..com4, 0x3f8, 0x2f8, 0x3e8, 0x2e8, none); keeping COM1\n", val);
		else
			console_set_serial_port(port);
	}
	/* A value not understood changes nothing; report_options() names it. */
	if (cmdline_get_str(cmdline, "loglevel", val, sizeof(val)) && options_loglevel(val, &level))
		console_set_level((enum log_level)level);
	if (cmdline_get_str(cmdline, "e9", val, sizeof(val)) && options_bool(val, &e9))
		console_set_e9(e9);
}

static void report_option(void *ctx, const char *word, size_t len, const char *why)
{
	(void)ctx;
	pr_warn("hv: warning: command line: '%.*s' ignored: %s\n", (int)len, word, why);
}

/* Every word the hypervisor does not take as given is said, once the console is where the user asked. */
static void report_options(const char *cmdline)
{
	options_check(cmdline, report_option, NULL);
}

static void debug_panic(struct percpu *cpu)
{
	panic("debug_panic_cpu=%u on the command line asked this CPU to panic", cpu->cpu_id);
}

/* debug_panic_cpu=N: a test of the all-CPU stop; CPU N panics once every CPU is up. */
static void maybe_debug_panic(void)
{
	uint64_t n;

	if (!cmdline_get_u64(boot_info.cmdline, "debug_panic_cpu", &n))
		return;
	if (n >= nr_cpus_online) {
		printk("hv: debug_panic_cpu=%llu: there is no such CPU online; ignored\n", (unsigned long long)n);
		return;
	}
	if (n == 0)
		debug_panic(this_cpu());
	smp_run_on(&percpu_area[n], debug_panic);
	for (;;)
		cpu_relax(); /* until that CPU's NMI stops this one */
}

__noreturn static void hv_start(void)
{
	apply_console_options(boot_info.cmdline);
	report_options(boot_info.cmdline);
	printk("hv: starting; booted by %s (%s)\n", boot_info.loader_name[0] ? boot_info.loader_name : "an unnamed loader",
	       boot_info.source == BOOT_SRC_UEFI ? "UEFI" : "multiboot2");
	boot_info_print(&boot_info);
	mm_init(&boot_info);
	mm_print_state();
	paging_map_all_ram(&boot_info);
	/* Before anything is written to memory L1 owns: GRUB's RSDP copy is there. */
	acpi_init(&boot_info);
	modules_move_high(&boot_info);
	/* DMA protection first: before any check that can stop here, and before L1's EPT (it leaves the units out). */
	iommu_init(&boot_info);
	iommu_debug_dma_test(&boot_info);

	if (vmx_cpu_init() < 0) {
		printk("hv: this machine cannot run the hypervisor's guests; stopping\n");
		machine_exit(HV_EXIT_NO_VMX);
	}
	printk("hv: CPU 0 (APIC ID %u) is in VMX root\n", this_cpu()->apic_id);
	smp_boot_aps(&boot_info);
	maybe_debug_panic();
	if (boot_info.module_count == 0) {
		printk("hv: no guest given: add a module line (GRUB: module2 /boot/guest.elf ARGS) after the hypervisor\n");
		machine_exit(HV_EXIT_BAD_MODULE);
	}
	vmx_run_l1(&boot_info);
}

/* From boot/entry.S after GRUB: EAX and EBX as the Multiboot2 spec (3.3) leaves them. */
__noreturn void hv_main_multiboot2(uint32_t magic, uint64_t mbi);
__noreturn void hv_main_multiboot2(uint32_t magic, uint64_t mbi)
{
	int err;

	percpu_init_boot_cpu();
	console_init();
	if (magic != MB2_BOOTLOADER_MAGIC) {
		printk("hv: not started by a multiboot2 loader (EAX=%#x, expected %#x); boot hv.elf with GRUB's multiboot2 command\n",
		       magic, MB2_BOOTLOADER_MAGIC);
		machine_exit(HV_EXIT_PANIC);
	}
	err = mb2_parse((const void *)(uintptr_t)mbi, &boot_info);
	if (err < 0)
		panic("the multiboot2 boot information at %#llx is malformed (error %d)", (unsigned long long)mbi, err);
	hv_start();
}

/* From boot/entry.S after our UEFI loader (boot/efi/): it filled the boot_info. */
__noreturn void hv_main_uefi(const struct boot_info *bi);
__noreturn void hv_main_uefi(const struct boot_info *bi)
{
	percpu_init_boot_cpu();
	console_init();
	if (!bi || bi->magic != BOOT_INFO_MAGIC)
		panic("the UEFI loader passed no valid boot information (%p)", (const void *)bi);
	boot_info = *bi;
	hv_start();
}
