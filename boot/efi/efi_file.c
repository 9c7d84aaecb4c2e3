/* Loader file access on its own volume and the page allocations it makes (freed on errors). */
#include "boot/efi/loader.h"

#define MAX_RUNS 40 /* hypervisor page runs + boot_info + one per module, with room */

/* Every AllocatePages the loader made, so an error can return the firmware its memory. */
static struct {
	UINT64 base;
	UINTN pages;
} runs[MAX_RUNS];
static UINTN run_count;

EFI_STATUS pages_alloc(EFI_ALLOCATE_TYPE how, EFI_MEMORY_TYPE type, UINTN pages, UINT64 *addr)
{
	EFI_PHYSICAL_ADDRESS a = *addr;
	EFI_STATUS st;

	if (run_count >= MAX_RUNS)
		return EFI_OUT_OF_RESOURCES;
	st = BS->AllocatePages(how, type, pages, &a);
	if (EFI_ERROR(st))
		return st;
	runs[run_count].base = a;
	runs[run_count].pages = pages;
	run_count++;
	*addr = a;
	return EFI_SUCCESS;
}

EFI_STATUS pages_alloc_high(EFI_MEMORY_TYPE type, UINTN pages, UINT64 align, UINT64 *addr)
{
	UINTN extra = (UINTN)(align / EFI_PAGE_SIZE) - 1;
	EFI_PHYSICAL_ADDRESS probe = BELOW_4G;
	EFI_STATUS st;

	/*
	 * AllocatePages has no alignment (UEFI 2.10 §7.2.1): take the range the
	 * firmware gives for the size plus the alignment, give it back, then take
	 * its aligned part at that address. Nothing allocates in between.
	 */
	st = BS->AllocatePages(AllocateMaxAddress, type, pages + extra, &probe);
	if (EFI_ERROR(st))
		return st;
	BS->FreePages(probe, pages + extra);
	*addr = ALIGN_DOWN(probe + (UINT64)extra * EFI_PAGE_SIZE, align);
	return pages_alloc(AllocateAddress, type, pages, addr);
}

void pages_free_all(void)
{
	while (run_count) {
		run_count--;
		BS->FreePages(runs[run_count].base, runs[run_count].pages);
	}
}

EFI_STATUS volume_open(EFI_HANDLE image, EFI_FILE_HANDLE *root)
{
	EFI_LOADED_IMAGE *li = NULL;
	EFI_STATUS st;

	/* The volume we were loaded from (UEFI 2.10 §9.1, EFI_LOADED_IMAGE_PROTOCOL.DeviceHandle). */
	st = BS->HandleProtocol(image, &LoadedImageProtocol, (void **)&li);
	if (EFI_ERROR(st))
		return st;
	*root = LibOpenRoot(li->DeviceHandle);
	return *root ? EFI_SUCCESS : EFI_NOT_FOUND;
}

/* The config keeps ASCII paths; EFI_FILE_PROTOCOL.Open takes UCS-2 (UEFI 2.10 §13.5). */
static void to_ucs2(CHAR16 *dst, UINTN cap, const char *src)
{
	UINTN i;

	for (i = 0; src[i] && i + 1 < cap; i++)
		dst[i] = (CHAR16)(unsigned char)src[i];
	dst[i] = 0;
}

static EFI_STATUS open_file(EFI_FILE_HANDLE root, const char *path, EFI_FILE_HANDLE *fh, UINT64 *size)
{
	CHAR16 wpath[CFG_PATH_MAX];
	EFI_FILE_INFO *info;
	EFI_STATUS st;

	to_ucs2(wpath, CFG_PATH_MAX, path);
	st = root->Open(root, fh, wpath, EFI_FILE_MODE_READ, 0);
	if (EFI_ERROR(st))
		return st;
	info = LibFileInfo(*fh);
	if (!info) {
		(*fh)->Close(*fh);
		return EFI_DEVICE_ERROR;
	}
	*size = info->FileSize;
	FreePool(info);
	return EFI_SUCCESS;
}

/* EFI_FILE_PROTOCOL.Read may return fewer bytes than asked: loop until the file is in. */
static EFI_STATUS read_exact(EFI_FILE_HANDLE fh, void *buf, UINT64 size)
{
	UINT64 done = 0;
	EFI_STATUS st;

	while (done < size) {
		UINTN chunk = size - done;

		st = fh->Read(fh, &chunk, (UINT8 *)buf + done);
		if (EFI_ERROR(st))
			return st;
		if (chunk == 0)
			return EFI_END_OF_FILE; /* the file shrank under us */
		done += chunk;
	}
	return EFI_SUCCESS;
}

EFI_STATUS file_read_pool(EFI_FILE_HANDLE root, const char *path, void **buf, UINTN *size)
{
	EFI_FILE_HANDLE fh;
	UINT64 fsize;
	EFI_STATUS st;

	st = open_file(root, path, &fh, &fsize);
	if (EFI_ERROR(st))
		return st;
	*buf = AllocatePool(fsize ? fsize : 1);
	if (!*buf) {
		fh->Close(fh);
		return EFI_OUT_OF_RESOURCES;
	}
	st = read_exact(fh, *buf, fsize);
	fh->Close(fh);
	if (EFI_ERROR(st)) {
		FreePool(*buf);
		*buf = NULL;
		return st;
	}
	*size = fsize;
	return EFI_SUCCESS;
}

EFI_STATUS file_read_pages(EFI_FILE_HANDLE root, const char *path, UINT64 *addr, UINT64 *size)
{
	EFI_FILE_HANDLE fh;
	UINT64 fsize, a = BELOW_4G;
	EFI_STATUS st;

	st = open_file(root, path, &fh, &fsize);
	if (EFI_ERROR(st))
		return st;
	/* Modules are data the hypervisor parses, so EfiLoaderData; below 4 GiB so 32-bit
	 * code (and the multiboot2 path's consumers) can reach them too. */
	st = pages_alloc(AllocateMaxAddress, EfiLoaderData, EFI_SIZE_TO_PAGES(fsize ? fsize : 1), &a);
	if (!EFI_ERROR(st))
		st = read_exact(fh, (void *)(UINTN)a, fsize);
	fh->Close(fh);
	if (EFI_ERROR(st))
		return st;
	*addr = a;
	*size = fsize;
	return EFI_SUCCESS;
}
