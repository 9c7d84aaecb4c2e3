/* COM1 output and a small printf (no libgcc: 64-bit numbers are divided by hand). */
#include <stdarg.h>
#include "guest.h"

#define COM1 0x3f8
#define LSR_THRE 0x20

void serial_init(void)
{
	/* 115200 8N1 with FIFOs: the settings GRUB and the hypervisor use, so reprogramming changes nothing. */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x80);
	outb(COM1 + 0, 0x01);
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03);
	outb(COM1 + 2, 0xc7);
	outb(COM1 + 4, 0x03);
}

static void serial_raw(char c)
{
	while (!(inb(COM1 + 5) & LSR_THRE))
		;
	outb(COM1, (uint8_t)c);
}

void putc_serial(char c)
{
	if (c == '\n')
		serial_raw('\r');
	serial_raw(c);
}

void puts_serial(const char *s)
{
	while (*s)
		putc_serial(*s++);
}

/* Divides *n by base in place and returns the remainder, bit by bit (no __udivdi3 in a -m32 freestanding build). */
static unsigned divmod64(uint64_t *n, unsigned base)
{
	uint64_t q = 0, r = 0;
	for (int i = 63; i >= 0; i--) {
		r = (r << 1) | ((*n >> i) & 1);
		if (r >= base) {
			r -= base;
			q |= 1ULL << i;
		}
	}
	*n = q;
	return (unsigned)r;
}

struct fmt_spec {
	bool left, zero;
	int width;
};

static void emit_padded(const char *s, int len, const struct fmt_spec *sp)
{
	int pad = sp->width > len ? sp->width - len : 0;
	if (!sp->left)
		while (pad-- > 0)
			putc_serial(sp->zero ? '0' : ' ');
	for (int i = 0; i < len; i++)
		putc_serial(s[i]);
	if (sp->left)
		while (pad-- > 0)
			putc_serial(' ');
}

static void emit_number(uint64_t v, unsigned base, bool neg, const struct fmt_spec *sp)
{
	char buf[24];
	int i = sizeof(buf);
	do {
		unsigned d = divmod64(&v, base);
		buf[--i] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
	} while (v);
	if (neg)
		buf[--i] = '-';
	emit_padded(&buf[i], (int)sizeof(buf) - i, sp);
}

/* Reads flags and width; returns the pointer past them. */
static const char *parse_spec(const char *f, struct fmt_spec *sp)
{
	sp->left = sp->zero = false;
	sp->width = 0;
	for (;; f++) {
		if (*f == '-')
			sp->left = true;
		else if (*f == '0')
			sp->zero = true;
		else
			break;
	}
	while (*f >= '0' && *f <= '9')
		sp->width = sp->width * 10 + (*f++ - '0');
	return f;
}

static uint64_t fetch_unsigned(va_list *ap, int longs)
{
	return longs >= 2 ? va_arg(*ap, uint64_t) : (uint64_t)va_arg(*ap, uint32_t);
}

int printf(const char *fmt, ...)
{
	va_list ap;
	struct fmt_spec sp;
	va_start(ap, fmt);
	for (const char *f = fmt; *f; f++) {
		if (*f != '%') {
			putc_serial(*f);
			continue;
		}
		f = parse_spec(f + 1, &sp);
		int longs = 0;
		while (*f == 'l')
			longs++, f++;
		switch (*f) {
		case 'd': {
			long long v = longs >= 2 ? va_arg(ap, long long) : (long long)va_arg(ap, int);
			emit_number(v < 0 ? (uint64_t)-v : (uint64_t)v, 10, v < 0, &sp);
			break;
		}
		case 'u': emit_number(fetch_unsigned(&ap, longs), 10, false, &sp); break;
		case 'x': emit_number(fetch_unsigned(&ap, longs), 16, false, &sp); break;
		case 'p': emit_number((uint32_t)va_arg(ap, void *), 16, false, &sp); break;
		case 'c': { char c = (char)va_arg(ap, int); emit_padded(&c, 1, &sp); break; }
		case 's': { const char *s = va_arg(ap, const char *); if (!s) s = "(null)"; emit_padded(s, (int)strlen(s), &sp); break; }
		case '%': putc_serial('%'); break;
		default: putc_serial('?'); break;
		}
		if (!*f)
			break;
	}
	va_end(ap);
	return 0;
}

void *memset(void *d, int c, size_t n)
{
	uint8_t *p = d;
	while (n--)
		*p++ = (uint8_t)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	uint8_t *p = d;
	const uint8_t *q = s;
	while (n--)
		*p++ = *q++;
	return d;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (uint8_t)*a - (uint8_t)*b;
}
