/* Text dump of a struct boot_info for the loader's serial log (works after ExitBootServices). */
#include "boot/efi/bi_dump.h"

size_t fmt_hex(char *buf, uint64_t v, unsigned digits)
{
	static const char hex[] = "0123456789abcdef";
	unsigned n = 1, i;

	while (n < 16 && (v >> (4 * n)))
		n++;
	if (n < digits)
		n = MIN(digits, 16u);
	buf[0] = '0';
	buf[1] = 'x';
	for (i = 0; i < n; i++)
		buf[2 + i] = hex[(v >> (4 * (n - 1 - i))) & 0xf];
	buf[2 + n] = '\0';
	return 2 + n;
}

size_t fmt_dec(char *buf, uint64_t v)
{
	char tmp[20];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = '\0';
	return n;
}

/* A line under construction; text past BI_LINE_MAX is cut, never overrun. */
struct line {
	char buf[BI_LINE_MAX];
	size_t n;
};

static void put(struct line *l, const char *s)
{
	while (*s && l->n + 1 < sizeof(l->buf))
		l->buf[l->n++] = *s++;
	l->buf[l->n] = '\0';
}

static void put_hex(struct line *l, uint64_t v, unsigned digits)
{
	char tmp[24];

	fmt_hex(tmp, v, digits);
	put(l, tmp);
}

static void put_dec(struct line *l, uint64_t v)
{
	char tmp[24];

	fmt_dec(tmp, v);
	put(l, tmp);
}

static void start(struct line *l, const char *label)
{
	l->n = 0;
	put(l, "hvboot: ");
	put(l, label);
}

/* A string field copied from the struct: it is bounded by its array, whatever its contents. */
static void put_field(struct line *l, const char *s, size_t size)
{
	char tmp[BI_LINE_MAX];
	size_t i;

	for (i = 0; i + 1 < size && i + 1 < sizeof(tmp) && s[i]; i++)
		tmp[i] = s[i];
	tmp[i] = '\0';
	put(l, tmp);
}

static const char *type_name(uint32_t type)
{
	switch (type) {
	case MEM_USABLE:       return "usable";
	case MEM_RESERVED:     return "reserved";
	case MEM_ACPI_RECLAIM: return "acpi-reclaim";
	case MEM_ACPI_NVS:     return "acpi-nvs";
	case MEM_BAD:          return "bad";
	}
	return "unknown";
}

static void dump_mmap(const struct boot_info *bi, struct line *l, bi_line_fn out, void *ctx)
{
	uint64_t usable = 0;
	uint32_t i;

	for (i = 0; i < bi->mmap_count && i < BOOT_MAX_MMAP; i++) {
		const struct boot_mem_range *r = &bi->mmap[i];

		start(l, "mmap ");
		put_hex(l, r->base, 16);
		put(l, "-");
		put_hex(l, r->base + r->len - 1, 16);
		put(l, " ");
		put(l, type_name(r->type));
		out(l->buf, ctx);
		if (r->type == MEM_USABLE)
			usable += r->len;
	}
	start(l, "mmap ranges=");
	put_dec(l, bi->mmap_count);
	put(l, " usable_kib=");
	put_dec(l, usable >> 10);
	out(l->buf, ctx);
}

static void dump_modules(const struct boot_info *bi, struct line *l, bi_line_fn out, void *ctx)
{
	uint32_t i;

	for (i = 0; i < bi->module_count && i < BOOT_MAX_MODULES; i++) {
		const struct boot_module *m = &bi->modules[i];

		start(l, "module ");
		put_dec(l, i);
		put(l, " ");
		put_hex(l, m->start, 8);
		put(l, "-");
		put_hex(l, m->end, 8);
		put(l, " cmdline=\"");
		put_field(l, m->cmdline, sizeof(m->cmdline));
		put(l, "\"");
		out(l->buf, ctx);
	}
}

void bi_dump(const struct boot_info *bi, bi_line_fn out, void *ctx)
{
	struct line l;

	start(&l, "boot_info source=");
	put(&l, bi->source == BOOT_SRC_UEFI ? "uefi" : "multiboot2");
	put(&l, " loader=\"");
	put_field(&l, bi->loader_name, sizeof(bi->loader_name));
	put(&l, "\"");
	out(l.buf, ctx);
	start(&l, "cmdline=\"");
	put_field(&l, bi->cmdline, sizeof(bi->cmdline));
	put(&l, "\"");
	out(l.buf, ctx);
	dump_mmap(bi, &l, out, ctx);
	dump_modules(bi, &l, out, ctx);
	start(&l, "acpi_rsdp=");
	put_hex(&l, bi->acpi_rsdp, 0);
	put(&l, " fb=");
	put_hex(&l, bi->fb.addr, 0);
	put(&l, " ");
	put_dec(&l, bi->fb.width);
	put(&l, "x");
	put_dec(&l, bi->fb.height);
	put(&l, " pitch=");
	put_dec(&l, bi->fb.pitch);
	put(&l, " bpp=");
	put_dec(&l, bi->fb.bpp);
	out(l.buf, ctx);
}
