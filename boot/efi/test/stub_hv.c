/* Stand-in hypervisor for testing the UEFI loader alone: reports the boot_info it received on COM1, then ends QEMU. */
#include "hv/boot_info.h"
#include "boot/efi/bi_dump.h"

#define COM1            0x3f8
#define DEBUG_EXIT_PORT 0xf4
#define STUB_EXIT       0x42 /* QEMU exits with (0x42 << 1) | 1 = 133 */

void stub_entry64(struct boot_info *bi);

/*
 * The loader finds this in the first 32 KiB. Like the hypervisor's
 * (boot/entry.S), it holds link-time addresses as constants, first in the
 * image (linker.ld: mb2_header at the image start): the loader puts the
 * position-independent image wherever it likes. The stub needs no
 * relocation: it holds no absolute address.
 */
__asm__(".section .multiboot2, \"a\"\n"
	".balign 16\n"
	".globl mb2_header\n"
	"mb2_header:\n"
	".quad 0x3147414d49564821\n" /* HV_IMAGE_MAGIC */
	".quad 0x200000 + (stub_entry64 - mb2_header)\n"
	".quad 0x200000\n"
	".quad 0x200000 + (__image_end - mb2_header)\n"
	".previous\n");

/* linker.ld names mb2_entry32 as the ELF entry; the stub has no multiboot2 path. */
__attribute__((naked, used)) void mb2_entry32(void)
{
	__asm__ volatile("cli; hlt");
}

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static void put(const char *s)
{
	for (; *s; s++) {
		while (!(inb(COM1 + 5) & 0x20))
			;
		outb(COM1, (uint8_t)*s);
	}
}

static void line(const char *l, void *ctx)
{
	(void)ctx;
	put("stub: ");
	put(l);
	put("\r\n");
}

/* A .bss variable: nonzero here would mean the loader did not zero .bss. */
uint64_t stub_bss_probe[64]; /* global, so the compiler cannot assume it is zero */

static bool bss_is_zero(void)
{
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(stub_bss_probe); i++)
		if (stub_bss_probe[i])
			return false;
	return true;
}

static uint64_t read_rflags(void)
{
	uint64_t f;

	__asm__ volatile("pushfq; popq %0" : "=r"(f));
	return f;
}

void stub_entry64(struct boot_info *bi)
{
	put("stub: entered from the UEFI loader\r\n");
	put(bi->magic == BOOT_INFO_MAGIC ? "stub: boot_info magic ok\r\n" : "stub: boot_info magic BAD\r\n");
	put(bss_is_zero() ? "stub: bss zeroed\r\n" : "stub: bss NOT zeroed\r\n");
	put(read_rflags() & BIT(9) ? "stub: interrupts ENABLED\r\n" : "stub: interrupts disabled\r\n");
	bi_dump(bi, line, NULL);
	outb(DEBUG_EXIT_PORT, STUB_EXIT);
	for (;;)
		__asm__ volatile("cli; hlt");
}
