/* hvboot: the GNU-EFI loader that reads HV.CFG, loads the hypervisor and its modules, and enters it. */
#include "boot/efi/loader.h"

#define HV_LINK_LO  0x200000ULL /* linker.ld: HV_LINK_BASE */
#define HV_LINK_HI  0x800000ULL /* linker.ld: HV_LINK_BASE + HV_IMAGE_MAX */
#define HV_ALIGN    0x200000ULL /* boot/entry.S: the multiboot2 relocatable tag's alignment */

/* Large structures live in .data, not on the firmware's stack. */
static struct hv_cfg cfg;
static struct elf_plan plan;

static EFI_STATUS load_config(EFI_FILE_HANDLE root)
{
	struct cfg_error ce;
	void *text;
	UINTN size;
	EFI_STATUS st;

	st = file_read_pool(root, HVBOOT_CFG_PATH, &text, &size);
	if (EFI_ERROR(st)) {
		LOG_ERR(L"cannot read config %a: %r", HVBOOT_CFG_PATH, st);
		return st;
	}
	cfg_parse(text, size, &cfg, &ce);
	FreePool(text);
	if (ce.code != CFG_OK) {
		LOG_ERR(L"config %a line %d: %a", HVBOOT_CFG_PATH, (INT32)ce.line, cfg_strerror(ce.code));
		return EFI_LOAD_ERROR;
	}
	return EFI_SUCCESS;
}

/*
 * The image is position independent (it relocates itself on entry): it goes
 * at the top of RAM below 4 GiB, out of L1's way, as GRUB puts it
 * (EfiLoaderCode: executable).
 */
static EFI_STATUS place_image(const void *file, UINTN size, UINT64 *entry64)
{
	struct hv_image_header hdr;
	UINT64 base, pages;
	enum elf_err ee;
	enum hdr_err he;
	EFI_STATUS st;

	ee = elf_plan_load(file, size, HV_LINK_LO, HV_LINK_HI, &plan);
	if (ee != ELF_OK) {
		LOG_ERR(L"hypervisor %a: bad ELF: %a", cfg.hypervisor, elf_strerror(ee));
		return EFI_LOAD_ERROR;
	}
	pages = EFI_SIZE_TO_PAGES(plan.image_end - ALIGN_DOWN(plan.image_start, PAGE_SIZE));
	st = pages_alloc_high(EfiLoaderCode, pages, HV_ALIGN, &base);
	if (EFI_ERROR(st)) {
		LOG_ERR(L"no %ld free pages below 4 GiB for the hypervisor: %r", pages, st);
		return st;
	}
	base += plan.image_start & (PAGE_SIZE - 1);
	elf_apply(&plan, file, (void *)(UINTN)base);
	he = hv_find_header(&plan, (void *)(UINTN)base, &hdr);
	if (he != HDR_OK) {
		LOG_ERR(L"hypervisor %a: %a", cfg.hypervisor, hdr_strerror(he));
		return EFI_LOAD_ERROR;
	}
	*entry64 = base + (hdr.entry64 - plan.image_start);
	LOG_INFO(L"hypervisor %a loaded at 0x%lx-0x%lx (linked at 0x%lx)", cfg.hypervisor, base,
		 base + (plan.image_end - plan.image_start), plan.image_start);
	return EFI_SUCCESS;
}

static EFI_STATUS load_hypervisor(EFI_FILE_HANDLE root, UINT64 *entry64)
{
	void *file;
	UINTN size;
	EFI_STATUS st;

	st = file_read_pool(root, cfg.hypervisor, &file, &size);
	if (EFI_ERROR(st)) {
		LOG_ERR(L"cannot open hypervisor %a: %r", cfg.hypervisor, st);
		return st;
	}
	st = place_image(file, size, entry64);
	FreePool(file);
	return st;
}

static void copy_str(char *dst, UINTN cap, const char *src)
{
	UINTN i;

	for (i = 0; src[i] && i + 1 < cap; i++)
		dst[i] = src[i];
	dst[i] = '\0';
}

static EFI_STATUS load_modules(EFI_FILE_HANDLE root, struct boot_info *bi)
{
	UINT32 i;
	EFI_STATUS st;

	for (i = 0; i < cfg.module_count; i++) {
		struct boot_module *bm = &bi->modules[i];
		UINT64 addr, size;

		st = file_read_pages(root, cfg.modules[i].path, &addr, &size);
		if (EFI_ERROR(st)) {
			LOG_ERR(L"cannot load module %a: %r", cfg.modules[i].path, st);
			return st;
		}
		bm->start = addr;
		bm->end = addr + size;
		copy_str(bm->cmdline, sizeof(bm->cmdline), cfg.modules[i].args);
		bm->cmdline_len = (UINT32)strlena((CHAR8 *)cfg.modules[i].args);
		bi->module_count = i + 1;
	}
	return EFI_SUCCESS;
}

/* boot_info outlives the loader: its own LoaderData pages below 4 GiB (boot_info.h contract). */
static EFI_STATUS make_boot_info(struct boot_info **out)
{
	UINT64 a = BELOW_4G;
	struct boot_info *bi;
	EFI_STATUS st;

	st = pages_alloc(AllocateMaxAddress, EfiLoaderData, EFI_SIZE_TO_PAGES(sizeof(*bi)), &a);
	if (EFI_ERROR(st)) {
		LOG_ERR(L"no memory below 4 GiB for boot_info: %r", st);
		return st;
	}
	bi = (struct boot_info *)(UINTN)a;
	__builtin_memset(bi, 0, sizeof(*bi));
	bi->magic = BOOT_INFO_MAGIC;
	bi->source = BOOT_SRC_UEFI;
	copy_str(bi->loader_name, sizeof(bi->loader_name), HVBOOT_NAME);
	copy_str(bi->cmdline, sizeof(bi->cmdline), cfg.cmdline);
	*out = bi;
	return EFI_SUCCESS;
}

static EFI_STATUS boot(EFI_HANDLE image)
{
	EFI_FILE_HANDLE root;
	struct boot_info *bi;
	UINT64 entry64 = 0;
	EFI_STATUS st;

	st = volume_open(image, &root);
	if (EFI_ERROR(st)) {
		LOG_ERR(L"cannot open the loader's volume: %r", st);
		return st;
	}
	st = load_config(root);
	if (!EFI_ERROR(st))
		st = load_hypervisor(root, &entry64);
	if (!EFI_ERROR(st))
		st = make_boot_info(&bi);
	if (!EFI_ERROR(st))
		st = load_modules(root, bi);
	root->Close(root);
	if (EFI_ERROR(st))
		return st;
	bi->acpi_rsdp = find_acpi_rsdp();
	find_framebuffer(&bi->fb);
	LOG_INFO(L"hypervisor %a entry64=0x%lx, %d module(s), RSDP 0x%lx; exiting boot services",
		 cfg.hypervisor, entry64, (INT32)bi->module_count, bi->acpi_rsdp);
	return exit_and_enter(image, bi, entry64, &cfg);
}

/* GNU-EFI's crt0 calls this with the SysV ABI (platform.md), after relocating us. */
EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
	EFI_STATUS st;

	InitializeLib(image, systab);
	/* The boot manager arms a 5-minute watchdog for us (UEFI 2.10 §7.5 SetWatchdogTimer). */
	BS->SetWatchdogTimer(0, 0, 0, NULL);
	st = boot(image);
	/* Only reached on an error: hand the firmware back every page we took. */
	pages_free_all();
	LOG_ERR(L"not booting; returning %r to the firmware", st);
	return st;
}
