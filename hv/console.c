/* The hypervisor console: COM1 (and port 0xE9 under Bochs/QEMU), every line tagged "hv" so guest output stays separable. */
#include <stdarg.h>
#include "hv/console.h"
#include "hv/spinlock.h"
#include "hv/string.h"
#include "hv/x86.h"

#define UART_THR 0
#define UART_IER 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_DLL 0
#define UART_DLM 1
#define UART_LSR_THRE 0x20
#define UART_SPIN_LIMIT 100000 /* a missing or stuck UART must not hang the hypervisor */

#define DEBUGCON_PORT 0xe9

static uint16_t serial_port = 0x3f8;
static bool e9_enabled;
static bool at_line_start = true;
static enum log_level current_level = LOG_INFO;
static spinlock_t console_lock = SPINLOCK_INIT;

static void uart_init(uint16_t base)
{
	outb(base + UART_IER, 0x00);
	outb(base + UART_LCR, 0x80);	/* divisor latch access */
	outb(base + UART_DLL, 0x01);	/* 115200 baud */
	outb(base + UART_DLM, 0x00);
	outb(base + UART_LCR, 0x03);	/* 8N1 */
	outb(base + UART_FCR, 0xc7);	/* FIFOs on and cleared */
	outb(base + UART_MCR, 0x03);	/* DTR, RTS; no OUT2: the UART raises no interrupts for us */
}

/* Reading 0xE9 returns 0xE9 where the port is the Bochs/QEMU debug console. */
static bool debugcon_present(void)
{
	return inb(DEBUGCON_PORT) == DEBUGCON_PORT;
}

void console_init(void)
{
	if (serial_port) {
		/* Floating bus: no UART at this address. */
		if (inb(serial_port + UART_LSR) == 0xff)
			serial_port = 0;
		else
			uart_init(serial_port);
	}
	e9_enabled = debugcon_present();
}

void console_set_level(enum log_level level) { current_level = level; }
void console_set_e9(bool on) { e9_enabled = on; }

void console_set_serial_port(uint16_t port)
{
	serial_port = port;
	if (port)
		uart_init(port);
}

static void uart_putc(char c)
{
	for (int i = 0; i < UART_SPIN_LIMIT; i++)
		if (inb(serial_port + UART_LSR) & UART_LSR_THRE)
			break;
	outb(serial_port + UART_THR, (uint8_t)c);
}

static void raw_putc(char c)
{
	if (serial_port) {
		if (c == '\n')
			uart_putc('\r');
		uart_putc(c);
	}
	if (e9_enabled)
		outb(DEBUGCON_PORT, (uint8_t)c);
}

void console_write(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (at_line_start && !(len - i >= 2 && s[i] == 'h' && s[i + 1] == 'v')) {
			raw_putc('h');
			raw_putc('v');
			raw_putc(':');
			raw_putc(' ');
		}
		raw_putc(s[i]);
		at_line_start = s[i] == '\n';
	}
}

/* panic() may interrupt a printk on its own CPU: its report must not wait for that lock. */
void console_break_lock(void)
{
	__atomic_store_n(&console_lock.owner, console_lock.next, __ATOMIC_RELEASE);
}

void vprintk(const char *fmt, va_list ap)
{
	char buf[512];
	int n = hv_vsnprintf(buf, sizeof(buf), fmt, ap);

	/* One printk is one unit on the wire, whichever CPU prints. */
	spin_lock(&console_lock);
	console_write(buf, n < (int)sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	spin_unlock(&console_lock);
}

void printk(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintk(fmt, ap);
	va_end(ap);
}

void hv_log(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > current_level)
		return;
	va_start(ap, fmt);
	vprintk(fmt, ap);
	va_end(ap);
}
