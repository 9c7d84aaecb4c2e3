/* A small vsnprintf for the hypervisor: %d %i %u %x %X %o %p %s %c %% with flags, width, precision, h/hh/l/ll/z. */
#include <stdarg.h>
#include "hv/console.h"
#include "hv/string.h"

struct fmt_out {
	char *buf;
	size_t size;
	size_t len; /* what would have been written, as C99 snprintf counts */
};

/* The argument list travels by pointer inside a struct, the portable way to share a va_list. */
struct fmt_args {
	va_list ap;
};

struct fmt_spec {
	bool left, zero, plus, space, alt;
	int width;
	int prec; /* -1: none */
	int base;
	bool upper;
};

static void put(struct fmt_out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void pad(struct fmt_out *o, char c, int n)
{
	while (n-- > 0)
		put(o, c);
}

static void put_str(struct fmt_out *o, const struct fmt_spec *s, const char *str)
{
	size_t n;

	if (!str)
		str = "(null)";
	n = s->prec >= 0 ? strnlen(str, (size_t)s->prec) : strlen(str);
	if (!s->left)
		pad(o, ' ', s->width - (int)n);
	for (size_t i = 0; i < n; i++)
		put(o, str[i]);
	if (s->left)
		pad(o, ' ', s->width - (int)n);
}

static void put_num(struct fmt_out *o, const struct fmt_spec *s, uint64_t v, bool neg)
{
	const char *digits = s->upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int n = 0, prefix_len = 0, zeros, total;
	const char *prefix = "";
	bool is_zero = v == 0;

	do {
		tmp[n++] = digits[v % (unsigned)s->base];
		v /= (unsigned)s->base;
	} while (v);
	if (s->prec == 0 && n == 1 && tmp[0] == '0')
		n = 0;
	if (neg)
		prefix = "-";
	else if (s->plus)
		prefix = "+";
	else if (s->space)
		prefix = " ";
	else if (s->alt && s->base == 16 && !is_zero) /* C: "0x" only for a nonzero value */
		prefix = s->upper ? "0X" : "0x";
	else if (s->alt && s->base == 8 && !(n && tmp[n - 1] == '0'))
		prefix = "0";
	prefix_len = (int)strlen(prefix);
	zeros = s->prec > n ? s->prec - n : 0;
	total = prefix_len + zeros + n;
	if (s->zero && !s->left && s->prec < 0 && s->width > total) {
		zeros += s->width - total;
		total = s->width;
	}
	if (!s->left)
		pad(o, ' ', s->width - total);
	for (int i = 0; i < prefix_len; i++)
		put(o, prefix[i]);
	pad(o, '0', zeros);
	while (n)
		put(o, tmp[--n]);
	if (s->left)
		pad(o, ' ', s->width - total);
}

static const char *parse_flags(const char *f, struct fmt_spec *s)
{
	for (;; f++) {
		switch (*f) {
		case '-': s->left = true; break;
		case '0': s->zero = true; break;
		case '+': s->plus = true; break;
		case ' ': s->space = true; break;
		case '#': s->alt = true; break;
		default: return f;
		}
	}
}

static const char *parse_int(const char *f, int *out, struct fmt_args *a)
{
	if (*f == '*') {
		*out = va_arg(a->ap, int);
		return f + 1;
	}
	*out = 0;
	while (*f >= '0' && *f <= '9')
		*out = *out * 10 + (*f++ - '0');
	return f;
}

/* Reads an integer argument of the given length modifier ('H' = hh, 'L' = ll). */
static uint64_t fetch_arg(char len, bool is_signed, bool *neg, struct fmt_args *a)
{
	int64_t sv;

	*neg = false;
	if (!is_signed) {
		switch (len) {
		case 'H': return (uint8_t)va_arg(a->ap, unsigned int);
		case 'h': return (uint16_t)va_arg(a->ap, unsigned int);
		case 'l': return va_arg(a->ap, unsigned long);
		case 'L': return va_arg(a->ap, unsigned long long);
		case 'z': return va_arg(a->ap, size_t);
		default: return va_arg(a->ap, unsigned int);
		}
	}
	switch (len) {
	case 'H': sv = (int8_t)va_arg(a->ap, int); break; /* NOLINT(bugprone-signed-char-misuse): %hhd is signed by definition */
	case 'h': sv = (int16_t)va_arg(a->ap, int); break;
	case 'l': sv = va_arg(a->ap, long); break;
	case 'L': sv = va_arg(a->ap, long long); break;
	case 'z': sv = (int64_t)va_arg(a->ap, size_t); break;
	default: sv = va_arg(a->ap, int); break;
	}
	*neg = sv < 0;
	return *neg ? (uint64_t)0 - (uint64_t)sv : (uint64_t)sv;
}

static const char *parse_length(const char *f, char *len)
{
	*len = 0;
	if (f[0] == 'h' && f[1] == 'h') { *len = 'H'; return f + 2; }
	if (f[0] == 'l' && f[1] == 'l') { *len = 'L'; return f + 2; }
	if (*f == 'h' || *f == 'l' || *f == 'z') { *len = *f; return f + 1; }
	return f;
}

/* Formats one conversion starting after '%'; returns the rest of the format. */
static const char *format_one(struct fmt_out *o, const char *f, struct fmt_args *a)
{
	struct fmt_spec s = { .prec = -1, .base = 10 };
	char len;
	bool neg;
	uint64_t v;

	f = parse_flags(f, &s);
	f = parse_int(f, &s.width, a);
	if (s.width < 0) {
		s.left = true;
		s.width = -s.width;
	}
	if (*f == '.')
		f = parse_int(f + 1, &s.prec, a);
	f = parse_length(f, &len);
	switch (*f) {
	case 'd': case 'i':
		v = fetch_arg(len, true, &neg, a);
		put_num(o, &s, v, neg);
		break;
	case 'u': case 'x': case 'X': case 'o':
		s.base = *f == 'u' ? 10 : *f == 'o' ? 8 : 16;
		s.upper = *f == 'X';
		put_num(o, &s, fetch_arg(len, false, &neg, a), false);
		break;
	case 'p':
		s.base = 16;
		s.alt = true;
		put_num(o, &s, (uintptr_t)va_arg(a->ap, void *), false);
		break;
	case 's':
		put_str(o, &s, va_arg(a->ap, const char *));
		break;
	case 'c': {
		char c[2] = { (char)va_arg(a->ap, int), 0 };
		s.prec = 1;
		put_str(o, &s, c);
		break;
	}
	case '%':
		put(o, '%');
		break;
	case '\0':
		return f;
	default:
		put(o, '%');
		put(o, *f);
		break;
	}
	return f + 1;
}

int hv_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct fmt_out o = { .buf = buf, .size = size, .len = 0 };
	struct fmt_args a;

	va_copy(a.ap, ap);
	while (*fmt) {
		if (*fmt != '%') {
			put(&o, *fmt++);
			continue;
		}
		fmt = format_one(&o, fmt + 1, &a);
	}
	va_end(a.ap);
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

int hv_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = hv_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
