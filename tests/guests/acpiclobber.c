/*
 * A kernel with a segment over the copy of the RSDP that GRUB leaves in its
 * multiboot2 information (RAM the hypervisor gives L1): the segment holds a
 * valid-looking ACPI 2.0 RSDP whose XSDT is at 512 GiB, where nothing is
 * mapped. The hypervisor must have read ACPI before loading L1 and must not
 * follow that pointer later; L1 runs as bare.
 */
#include "guest.h"

const char guest_name[] = "acpiclobber";

/* acpiclobber.ld puts this where GRUB put the RSDP copy (the hypervisor's "ACPI RSDP at" line). */
__attribute__((section(".rsdp_plant"), used, aligned(8)))
const uint8_t fake_rsdp[36] = {
	'R', 'S', 'D', ' ', 'P', 'T', 'R', ' ',
	0x01,                               /* checksum of bytes 0-19 */
	'H', 'V', 'T', 'E', 'S', 'T',       /* OEM ID */
	0x02,                               /* revision: ACPI 2.0, the XSDT counts */
	0x00, 0x00, 0x00, 0x00,             /* RSDT: none */
	0x24, 0x00, 0x00, 0x00,             /* length 36 */
	0x00, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, /* XSDT at 512 GiB */
	0x5c,                               /* extended checksum */
	0x00, 0x00, 0x00,
};

static bool sums_to_zero(const uint8_t *p, uint32_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s == 0;
}

int guest_main(const struct mb_info *mbi)
{
	(void)mbi;
	printf("~plant: fake RSDP at 0x%x\n", (uint32_t)fake_rsdp);
	printf("plant: checksums valid: %s\n", sums_to_zero(fake_rsdp, 20) && sums_to_zero(fake_rsdp, 36) ? "yes" : "no");
	printf("acpiclobber: L1 runs with its segment over the RSDP copy\n");
	return GUEST_OK;
}
