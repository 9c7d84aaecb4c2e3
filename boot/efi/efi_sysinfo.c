/* Machine facts the firmware knows: the ACPI RSDP and the GOP framebuffer. */
#include "boot/efi/loader.h"

static EFI_GUID acpi20_guid = ACPI_20_TABLE_GUID;
static EFI_GUID acpi10_guid = ACPI_TABLE_GUID;

/* An RSDP starts with "RSD PTR " (ACPI 6.5 §5.2.5.3); anything else is not one. */
static bool looks_like_rsdp(const void *p)
{
	static const char sig[8] = { 'R', 'S', 'D', ' ', 'P', 'T', 'R', ' ' };
	const char *s = p;
	UINTN i;

	for (i = 0; i < sizeof(sig); i++)
		if (s[i] != sig[i])
			return false;
	return true;
}

static UINT64 table_with_guid(EFI_GUID *guid)
{
	UINTN i;

	for (i = 0; i < ST->NumberOfTableEntries; i++) {
		EFI_CONFIGURATION_TABLE *t = &ST->ConfigurationTable[i];

		if (CompareGuid(&t->VendorGuid, guid) == 0 && t->VendorTable &&
		    looks_like_rsdp(t->VendorTable))
			return (UINT64)(UINTN)t->VendorTable;
	}
	return 0;
}

UINT64 find_acpi_rsdp(void)
{
	/* The system table lists the ACPI 2.0+ RSDP (with the XSDT) and maybe a 1.0 one
	 * (UEFI 2.10 §4.6.1); the 2.0 one describes the same tables and more. */
	UINT64 rsdp = table_with_guid(&acpi20_guid);

	return rsdp ? rsdp : table_with_guid(&acpi10_guid);
}

void find_framebuffer(struct boot_framebuffer *fb)
{
	EFI_GRAPHICS_OUTPUT_PROTOCOL *gop = NULL;
	EFI_GRAPHICS_OUTPUT_MODE_INFORMATION *info;

	__builtin_memset(fb, 0, sizeof(*fb));
	if (EFI_ERROR(LibLocateProtocol(&GraphicsOutputProtocol, (void **)&gop)) || !gop || !gop->Mode)
		return;
	info = gop->Mode->Info;
	/* PixelBltOnly has no linear framebuffer at all (UEFI 2.10 §12.9.1). */
	if (!info || info->PixelFormat == PixelBltOnly || !gop->Mode->FrameBufferBase)
		return;
	/* The other formats (RGBX, BGRX, bit mask within 32 bits) are 4 bytes a pixel. */
	fb->addr = gop->Mode->FrameBufferBase;
	fb->width = info->HorizontalResolution;
	fb->height = info->VerticalResolution;
	fb->pitch = info->PixelsPerScanLine * 4;
	fb->bpp = 32;
}
