/* Port I/O emulation decisions: exit decoding, the hypervisor's byte lanes, INS/OUTS address arithmetic and checks, I/O breakpoints (pure). */
#include "hv/vmx/io_emul.h"
#include "hv/x86.h"
#include "hv/vmx/vmx_defs.h"

#define AR_TYPE_CODE      BIT(3) /* type bit 3: code segment */
#define AR_TYPE_RW        BIT(1) /* data: writable; code: readable */
#define AR_TYPE_EXPDOWN   BIT(2) /* data: expand-down */
#define AR_DB             BIT(14)
#define AR_UNUSABLE       BIT(16)

void io_exit_decode(uint64_t q, uint32_t info, struct io_exit *io)
{
	unsigned int asz = (info >> 7) & 7;

	io->size = (unsigned int)(q & 7) + 1;
	io->in = q & BIT(3);
	io->string = q & BIT(4);
	io->rep = q & BIT(5);
	io->port = (uint16_t)(q >> 16);
	io->addr_size = asz == 0 ? 2 : asz == 1 ? 4 : 8;
	/* INS stores through ES whatever the prefixes say; the field is undefined for it (SDM Table 28-8). */
	io->seg = io->in ? IO_SEG_ES : (enum io_seg)((info >> 15) & 7);
	if (io->seg > IO_SEG_GS)
		io->seg = IO_SEG_DS;
}

/* Legacy prefixes and REX in front of 6C-6F (SDM Vol. 2 2.1.1, 2.2.1). */
bool io_decode_string_prefixes(const uint8_t *b, size_t len, unsigned int cs_bits, struct io_exit *io)
{
	static const uint8_t seg_prefix[] = { 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65 }; /* ES CS SS DS FS GS */
	bool addr_override = false;
	enum io_seg seg = IO_SEG_DS;

	for (size_t i = 0; i < len; i++) {
		uint8_t c = b[i];
		bool prefix = false;

		for (unsigned int s = 0; s < ARRAY_SIZE(seg_prefix); s++)
			if (c == seg_prefix[s])
				seg = (enum io_seg)s, prefix = true;
		if (c == 0x67)
			addr_override = true, prefix = true;
		if (c == 0x66 || c == 0xf2 || c == 0xf3 || c == 0xf0)
			prefix = true;
		if (cs_bits == 64 && (c & 0xf0) == 0x40)
			continue; /* REX: only valid last, but it changes nothing INS/OUTS use */
		if (prefix)
			continue;
		if (c < 0x6c || c > 0x6f)
			return false;
		if (cs_bits == 64)
			io->addr_size = addr_override ? 4 : 8;
		else
			io->addr_size = ((cs_bits == 32) != addr_override) ? 4 : 2;
		io->seg = io->in ? IO_SEG_ES : seg;
		return true;
	}
	return false;
}

int io_write_byte_at(uint16_t port, unsigned int size, uint32_t value, uint16_t at)
{
	if (!io_covers(port, size, at))
		return -1;
	return (int)((value >> (8 * (uint16_t)(at - port))) & 0xff);
}

static uint64_t addr_mask(unsigned int addr_size)
{
	return addr_size == 8 ? ~0ULL : addr_size == 4 ? 0xffffffffULL : 0xffffULL;
}

/*
 * Segment checks of one element (SDM 5.3, 5.4.1 and 3.4.5.1): an unusable
 * segment, a segment type that cannot be read (execute-only code) or
 * written (code, read-only data), and offsets outside the limit (expand-up:
 * 0..limit; expand-down: limit+1..64K or 4G by the B flag).
 */
static bool segment_allows(const struct string_io *s, uint64_t off)
{
	const struct io_segment *g = &s->seg;
	uint64_t last = off + s->size - 1;
	bool code = g->ar & AR_TYPE_CODE;

	if (s->protected_mode) {
		if (g->ar & AR_UNUSABLE)
			return false;
		if (s->write ? (code || !(g->ar & AR_TYPE_RW)) : (code && !(g->ar & AR_TYPE_RW)))
			return false;
	}
	if (!code && (g->ar & AR_TYPE_EXPDOWN))
		return off > g->limit && last <= ((g->ar & AR_DB) ? 0xffffffffULL : 0xffffULL);
	return last <= g->limit;
}

int string_io_linear(const struct string_io *s, uint64_t offset_reg, uint64_t *linear)
{
	uint64_t off = offset_reg & addr_mask(s->addr_size);
	int fault = s->seg_is_ss ? SS_VECTOR : GP_VECTOR;

	if (s->long64) {
		/* 64-bit mode: no limits or types; only FS and GS have a base; canonical or #GP/#SS (SDM 3.3.7.1). */
		uint64_t la = off + s->seg.base;

		if (!x86_canonical(la) || !x86_canonical(la + s->size - 1))
			return fault;
		*linear = la;
		return STRIO_OK;
	}
	if (!segment_allows(s, off))
		return fault;
	*linear = (uint32_t)(s->seg.base + off);
	return STRIO_OK;
}

uint64_t string_io_reg_add(uint64_t reg, unsigned int addr_size, int64_t delta)
{
	uint64_t m = addr_mask(addr_size), v = (reg + (uint64_t)delta) & m;

	return addr_size == 2 ? (reg & ~m) | v : v;
}

uint64_t string_io_count(bool rep, uint64_t rcx, unsigned int addr_size)
{
	return rep ? rcx & addr_mask(addr_size) : 1;
}

/* LENn (SDM 17.2.5): 00 one byte, 01 two, 11 four, 10 eight. */
static unsigned int bp_len(uint64_t dr7, unsigned int n)
{
	static const unsigned int lens[4] = { 1, 2, 8, 4 };

	return lens[(dr7 >> (18 + 4 * n)) & 3];
}

uint32_t io_breakpoint_hits(uint64_t cr4, uint64_t dr7, const uint64_t dr[4], uint16_t port, unsigned int size)
{
	uint32_t hits = 0;

	if (!(cr4 & BIT(3))) /* CR4.DE: without it R/W = 10b is undefined, never an I/O breakpoint */
		return 0;
	for (unsigned int n = 0; n < 4; n++) {
		unsigned int len = bp_len(dr7, n);
		uint64_t start = dr[n] & ~(uint64_t)(len - 1);

		if (!((dr7 >> (2 * n)) & 3) || ((dr7 >> (16 + 4 * n)) & 3) != 2)
			continue;
		if (start < (uint64_t)port + size && port < start + len)
			hits |= 1u << n;
	}
	return hits;
}
