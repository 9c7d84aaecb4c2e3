/* Loader output: the UEFI console (ConOut) and the COM1 UART written directly. */
#include "boot/efi/loader.h"

#define COM1      0x3f8
#define UART_LSR  5
#define LSR_THRE  0x20 /* transmit holding register empty */

static inline void outb(UINT16 port, UINT8 v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline UINT8 inb(UINT16 port)
{
	UINT8 v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/*
 * The firmware has already programmed the UART (OVMF runs its terminal on
 * it), so only the transmitter is polled. The wait is bounded and a floating
 * bus (0xff) means no UART: a machine without COM1 must still boot.
 */
static void serial_putc(char c)
{
	unsigned spins = 100000;
	UINT8 lsr;

	while (spins--) {
		lsr = inb(COM1 + UART_LSR);
		if (lsr == 0xff)
			return;
		if (lsr & LSR_THRE)
			break;
	}
	outb(COM1, (UINT8)c);
}

void serial_line(const char *line)
{
	while (*line)
		serial_putc(*line++);
	serial_putc('\r');
	serial_putc('\n');
}

/* COM1 takes bytes: CHAR16 text is cut to 7-bit ASCII ('?' for the rest). */
static void serial_line16(const CHAR16 *line)
{
	char buf[384];
	UINTN i;

	for (i = 0; line[i] && i + 1 < sizeof(buf); i++)
		buf[i] = line[i] < 0x80 ? (char)line[i] : '?';
	buf[i] = '\0';
	serial_line(buf);
}

void out_line(const CHAR16 *line)
{
	/* Simple Text Output wants CR LF (UEFI 2.10 §12.4, OutputString). */
	if (ST && ST->ConOut) {
		ST->ConOut->OutputString(ST->ConOut, (CHAR16 *)line);
		ST->ConOut->OutputString(ST->ConOut, L"\r\n");
	}
	serial_line16(line);
}
