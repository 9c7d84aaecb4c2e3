/* Port I/O to COM1, which the hypervisor passes through: registers must behave as on bare hardware. */
#include "guest.h"

const char guest_name[] = "serial";

#define COM1 0x3f8
enum uart_reg { RBR = 0, IER = 1, IIR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

static void scratch_roundtrip(void)
{
	static const uint8_t values[] = { 0x00, 0xff, 0x55, 0xaa, 0x5a, 0x01, 0x80 };
	unsigned ok = 0;
	for (unsigned i = 0; i < sizeof(values); i++) {
		outb(COM1 + SCR, values[i]);
		uint8_t got = inb(COM1 + SCR);
		if (got == values[i])
			ok++;
		else
			printf("scratch: wrote 0x%02x read 0x%02x\n", values[i], got);
	}
	printf("scratch: %u/%u round trips ok\n", ok, (unsigned)sizeof(values));
}

/* The divisor latch is visible only with LCR.DLAB set; reading it proves LCR writes reach the UART. */
static void line_control(void)
{
	uint8_t lcr = inb(COM1 + LCR);
	printf("lcr: 0x%02x\n", lcr);
	outb(COM1 + LCR, lcr | 0x80);
	uint8_t dll = inb(COM1 + RBR), dlm = inb(COM1 + IER);
	outb(COM1 + LCR, lcr);
	printf("divisor: %u (dlab read back 0x%02x)\n", dll | (dlm << 8), lcr | 0x80);
	outb(COM1 + LCR, 0x1b); /* 8 data bits, even parity */
	printf("lcr after writing 0x1b: 0x%02x\n", inb(COM1 + LCR));
	outb(COM1 + LCR, lcr);
	printf("lcr restored: 0x%02x\n", inb(COM1 + LCR));
}

/* Waits for the transmitter to drain so LSR reads a stable value. */
static void line_status(void)
{
	unsigned spins = 0;
	while ((inb(COM1 + LSR) & 0x60) != 0x60 && spins < 1000000)
		spins++;
	printf("lsr idle: 0x%02x\n", inb(COM1 + LSR));
	printf("ier: 0x%02x\n", inb(COM1 + IER));
	printf("iir: 0x%02x\n", inb(COM1 + IIR) & 0xcf);
	printf("mcr: 0x%02x\n", inb(COM1 + MCR));
}

/* Writes a line with raw OUTs, bypassing printf, to check byte-at-a-time output. */
static void raw_write(void)
{
	for (const char *s = "raw: written byte by byte\r\n"; *s; s++) {
		while (!(inb(COM1 + LSR) & 0x20))
			;
		outb(COM1, (uint8_t)*s);
	}
}

int guest_main(const struct mb_info *mbi)
{
	(void)mbi;
	scratch_roundtrip();
	line_control();
	line_status();
	raw_write();
	return GUEST_OK;
}
