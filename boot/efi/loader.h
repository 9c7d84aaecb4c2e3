/* Shared declarations of the GNU-EFI side of the loader (the parts that talk to firmware). */
#ifndef HVBOOT_LOADER_H
#define HVBOOT_LOADER_H

#include <efi.h>
#include <efilib.h>
#include "hv/boot_info.h"
#include "boot/efi/cfg.h"
#include "boot/efi/elf_load.h"

#define HVBOOT_NAME     "hvboot (GNU-EFI)"
#define HVBOOT_CFG_PATH "\\EFI\\BOOT\\HV.CFG"
#define BELOW_4G        0xffffffffULL

/* ---- output: UEFI console and COM1 (efi_out.c) ---- */
void out_line(const CHAR16 *line);  /* ConOut and COM1, before ExitBootServices */
void serial_line(const char *line); /* COM1 only: the one output left after ExitBootServices */

/* Prints "hvboot: error: ..." on ConOut and COM1 (UnicodeSPrint format: %a ASCII, %r status). */
#define LOG_ERR(...) do {                                                   \
		CHAR16 log_buf_[384];                                       \
		UnicodeSPrint(log_buf_, sizeof(log_buf_), L"hvboot: error: " __VA_ARGS__); \
		out_line(log_buf_);                                         \
	} while (0)
#define LOG_INFO(...) do {                                                  \
		CHAR16 log_buf_[384];                                       \
		UnicodeSPrint(log_buf_, sizeof(log_buf_), L"hvboot: " __VA_ARGS__); \
		out_line(log_buf_);                                         \
	} while (0)

/* ---- page bookkeeping, so an error path hands every page back (efi_file.c) ---- */
EFI_STATUS pages_alloc(EFI_ALLOCATE_TYPE how, EFI_MEMORY_TYPE type, UINTN pages, UINT64 *addr);
/* pages at the highest address below 4 GiB, the first aligned to align (a power of two, >= 4 KiB). */
EFI_STATUS pages_alloc_high(EFI_MEMORY_TYPE type, UINTN pages, UINT64 align, UINT64 *addr);
void pages_free_all(void);

/* ---- files on the loader's own volume (efi_file.c) ---- */
EFI_STATUS volume_open(EFI_HANDLE image, EFI_FILE_HANDLE *root);
/* Reads a whole file into pool memory (caller FreePool()s it). */
EFI_STATUS file_read_pool(EFI_FILE_HANDLE root, const char *path, void **buf, UINTN *size);
/* Reads a whole file into fresh EfiLoaderData pages below 4 GiB. */
EFI_STATUS file_read_pages(EFI_FILE_HANDLE root, const char *path, UINT64 *addr, UINT64 *size);

/* ---- firmware tables (efi_sysinfo.c) ---- */
UINT64 find_acpi_rsdp(void);
void find_framebuffer(struct boot_framebuffer *fb);

/* ---- the hand-off (efi_handoff.c): returns only on an error before ExitBootServices ---- */
EFI_STATUS exit_and_enter(EFI_HANDLE image, struct boot_info *bi, UINT64 entry64, const struct hv_cfg *cfg);

#endif
