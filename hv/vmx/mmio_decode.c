/* Decodes the instructions that write a memory-mapped register (MOV, ALU, XCHG, NOT/NEG/INC/DEC, STOS, MOVS) and computes their flags (pure). */
#include "hv/vmx/mmio_decode.h"
#include "hv/x86.h"

#define RFLAGS_CF X86_RFLAGS_CF
#define RFLAGS_PF X86_RFLAGS_PF
#define RFLAGS_AF X86_RFLAGS_AF
#define RFLAGS_ZF X86_RFLAGS_ZF
#define RFLAGS_SF X86_RFLAGS_SF
#define RFLAGS_OF X86_RFLAGS_OF
#define RFLAGS_ARITH X86_RFLAGS_ARITH

struct prefixes {
	unsigned int opsize, addrsize; /* bytes after 66/67 and REX.W */
	uint8_t rex;
	bool rep;
	int seg; /* -1: none */
};

static int segment_prefix(uint8_t b)
{
	switch (b) {
	case 0x26: return SEG_ES;
	case 0x2e: return SEG_CS;
	case 0x36: return SEG_SS;
	case 0x3e: return SEG_DS;
	case 0x64: return SEG_FS;
	case 0x65: return SEG_GS;
	}
	return -1;
}

/* Legacy prefixes in any order, then REX in 64-bit mode right before the opcode (SDM Vol. 2 2.1, 2.2.1). */
static size_t read_prefixes(const uint8_t *b, size_t n, unsigned int cs_bits, struct prefixes *p)
{
	unsigned int def = cs_bits == 16 ? 2 : 4;
	bool op66 = false, ad67 = false;
	size_t i = 0;

	*p = (struct prefixes){ .seg = -1 };
	for (; i < n; i++) {
		if (b[i] == 0x66)
			op66 = true;
		else if (b[i] == 0x67)
			ad67 = true;
		else if (b[i] == 0xf3 || b[i] == 0xf2)
			p->rep = true;
		else if (b[i] == 0xf0)
			continue;
		else if (segment_prefix(b[i]) >= 0)
			p->seg = segment_prefix(b[i]);
		else
			break;
	}
	if (cs_bits == 64 && i < n && (b[i] & 0xf0) == 0x40)
		p->rex = b[i++];
	p->opsize = (p->rex & 8) ? 8 : op66 ? 6 - def : def;
	p->addrsize = cs_bits == 64 ? (ad67 ? 4 : 8) : ad67 ? 6 - def : def;
	return i;
}

/* Bytes of ModRM + SIB + displacement (SDM Vol. 2 Tables 2-1 to 2-3); register forms have no memory operand. */
static int modrm_len(const uint8_t *b, size_t n, size_t at, unsigned int addrsize)
{
	uint8_t mod, rm;
	int len = 1;

	if (at >= n)
		return MMIO_DECODE_TRUNCATED;
	mod = b[at] >> 6;
	rm = b[at] & 7;
	if (mod == 3)
		return MMIO_DECODE_UNSUPPORTED;
	if (addrsize == 2) /* 16-bit addressing: no SIB; disp16 alone at mod 0, rm 6 */
		return len + (mod == 1 ? 1 : mod == 2 || (mod == 0 && rm == 6) ? 2 : 0);
	if (rm == 4) {
		if (at + 1 >= n)
			return MMIO_DECODE_TRUNCATED;
		len++;
		if (mod == 0 && (b[at + 1] & 7) == 5)
			len += 4; /* SIB without a base: disp32 */
	} else if (mod == 0 && rm == 5) {
		len += 4; /* disp32 (RIP-relative in 64-bit mode) */
	}
	return len + (mod == 1 ? 1 : mod == 2 ? 4 : 0);
}

static uint64_t le(const uint8_t *p, unsigned int bytes)
{
	uint64_t v = 0;

	for (unsigned int i = bytes; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

static uint64_t sign_extend(uint64_t v, unsigned int bytes)
{
	unsigned int shift = 64 - 8 * bytes;

	return bytes >= 8 ? v : (uint64_t)((int64_t)(v << shift) >> shift);
}

/* The ModRM.reg source register; 8-bit operands without REX name AH..BH with 4..7 (SDM Vol. 2 3.1.1.3). */
static void set_reg_source(struct mmio_insn *in, uint8_t modrm, uint8_t rex)
{
	in->reg = (uint8_t)(((modrm >> 3) & 7) | ((rex & 4) ? 8 : 0));
	if (in->size == 1 && !rex && in->reg >= 4 && in->reg < 8) {
		in->high_byte = true;
		in->reg -= 4;
	}
}

/* The ModRM forms: op reads ModRM.reg as a register source, or as an opcode extension followed by imm_bytes. */
static enum mmio_decode_error decode_modrm_form(const uint8_t *b, size_t n, size_t at, const struct prefixes *p,
					       unsigned int imm_bytes, struct mmio_insn *in)
{
	int mlen = modrm_len(b, n, at, p->addrsize);
	size_t end;

	if (mlen < 0)
		return (enum mmio_decode_error)mlen;
	end = at + (size_t)mlen + imm_bytes;
	if (end > n)
		return MMIO_DECODE_TRUNCATED;
	if (imm_bytes) {
		in->has_imm = true;
		in->imm = sign_extend(le(b + at + mlen, imm_bytes), imm_bytes);
	} else if (in->op != MMIO_NOT && in->op != MMIO_NEG && in->op != MMIO_INC && in->op != MMIO_DEC &&
		   in->op != MMIO_SETCC && in->op != MMIO_SHIFT) {
		set_reg_source(in, b[at], p->rex);
	}
	in->len = (uint8_t)end;
	return MMIO_DECODE_OK;
}

/* Opcode groups 1 (80/81/83), 3 (F6/F7), 4/5 (FE/FF) and 11 (C6/C7): ModRM.reg picks the operation. */
static enum mmio_decode_error decode_group(uint8_t op, const uint8_t *b, size_t n, size_t at,
					   const struct prefixes *p, struct mmio_insn *in)
{
	unsigned int ext, iz = in->size == 2 ? 2 : 4;

	if (at >= n)
		return MMIO_DECODE_TRUNCATED;
	ext = (b[at] >> 3) & 7;
	switch (op) {
	case 0x80: case 0x81: case 0x82: case 0x83:
		if (ext == ALU_CMP)
			return MMIO_DECODE_UNSUPPORTED; /* CMP only reads */
		in->op = MMIO_ALU;
		in->alu = (uint8_t)ext;
		return decode_modrm_form(b, n, at, p, op == 0x81 ? iz : 1, in);
	case 0xc6: case 0xc7:
		if (ext)
			return MMIO_DECODE_UNSUPPORTED;
		in->op = MMIO_MOV;
		return decode_modrm_form(b, n, at, p, op == 0xc6 ? 1 : iz, in);
	case 0xf6: case 0xf7:
		if (ext != 2 && ext != 3)
			return MMIO_DECODE_UNSUPPORTED; /* TEST reads; MUL/DIV write registers only */
		in->op = ext == 2 ? MMIO_NOT : MMIO_NEG;
		return decode_modrm_form(b, n, at, p, 0, in);
	default: /* FE, FF */
		if (ext > 1)
			return MMIO_DECODE_UNSUPPORTED; /* CALL/JMP/PUSH read their operand */
		in->op = ext == 0 ? MMIO_INC : MMIO_DEC;
		return decode_modrm_form(b, n, at, p, 0, in);
	}
}

static enum mmio_decode_error decode_string(uint8_t op, size_t at, const struct prefixes *p, struct mmio_insn *in)
{
	in->op = (op & 0xfe) == 0xaa ? MMIO_STOS : MMIO_MOVS;
	in->rep = p->rep;
	in->src_seg = (uint8_t)(p->seg >= 0 ? p->seg : SEG_DS); /* STOS always writes ES:RDI */
	in->len = (uint8_t)at;
	return MMIO_DECODE_OK;
}

/* Two-byte opcodes 0F xx (SDM Vol. 2 Table A-3) that write their memory operand. */
static enum mmio_decode_error decode_0f(const uint8_t *b, size_t n, size_t at, const struct prefixes *p,
					struct mmio_insn *in)
{
	uint8_t op;

	if (at >= n)
		return MMIO_DECODE_TRUNCATED;
	op = b[at++];
	in->size = (uint8_t)((op & 1) ? p->opsize : 1);
	if ((op & 0xf0) == 0x90) {
		in->op = MMIO_SETCC;
		in->alu = op & 0xf;
		in->size = 1;
		return decode_modrm_form(b, n, at, p, 0, in);
	}
	switch (op) {
	case 0xb0: case 0xb1: in->op = MMIO_CMPXCHG; break;
	case 0xc0: case 0xc1: in->op = MMIO_XADD; break;
	case 0xc3: in->op = MMIO_MOV; break; /* MOVNTI: a store with a non-temporal hint */
	case 0xab: in->op = MMIO_BTS; in->size = (uint8_t)p->opsize; break;
	case 0xb3: in->op = MMIO_BTR; in->size = (uint8_t)p->opsize; break;
	case 0xbb: in->op = MMIO_BTC; in->size = (uint8_t)p->opsize; break;
	case 0xba:
		if (at >= n)
			return MMIO_DECODE_TRUNCATED;
		if (((b[at] >> 3) & 7) < 5)
			return MMIO_DECODE_UNSUPPORTED; /* BT only reads */
		in->op = (enum mmio_op)(MMIO_BTS + ((b[at] >> 3) & 7) - 5);
		in->size = (uint8_t)p->opsize;
		return decode_modrm_form(b, n, at, p, 1, in);
	default:
		return MMIO_DECODE_UNSUPPORTED;
	}
	return decode_modrm_form(b, n, at, p, 0, in);
}

/* Group 2: the count is an imm8 (C0/C1), 1 (D0/D1) or CL (D2/D3). */
static enum mmio_decode_error decode_shift(uint8_t op, const uint8_t *b, size_t n, size_t at, const struct prefixes *p,
					   struct mmio_insn *in)
{
	enum mmio_decode_error e;

	if (at >= n)
		return MMIO_DECODE_TRUNCATED;
	in->op = MMIO_SHIFT;
	in->alu = (b[at] >> 3) & 7;
	e = decode_modrm_form(b, n, at, p, op < 0xd0 ? 1 : 0, in);
	if (e || op < 0xd0)
		return e;
	in->has_imm = op < 0xd2;
	in->imm = 1;
	in->reg = 1; /* CL, read at the operand's size: the count mask keeps its low bits only */
	return MMIO_DECODE_OK;
}

enum mmio_decode_error mmio_decode(const uint8_t *b, size_t n, unsigned int cs_bits, struct mmio_insn *in)
{
	struct prefixes p;
	size_t i;
	uint8_t op;

	n = MIN(n, (size_t)X86_MAX_INSN_LEN);
	i = read_prefixes(b, n, cs_bits, &p);
	if (i >= n)
		return MMIO_DECODE_TRUNCATED;
	op = b[i++];
	*in = (struct mmio_insn){ .size = (uint8_t)((op & 1) ? p.opsize : 1), .addr_size = (uint8_t)p.addrsize };
	if (op < 0x40 && (op & 7) < 2 && (op >> 3) != ALU_CMP) { /* ALU r/m, reg */
		in->op = MMIO_ALU;
		in->alu = op >> 3;
		return decode_modrm_form(b, n, i, &p, 0, in);
	}
	switch (op) {
	case 0x88: case 0x89:
		in->op = MMIO_MOV;
		return decode_modrm_form(b, n, i, &p, 0, in);
	case 0x86: case 0x87:
		in->op = MMIO_XCHG;
		return decode_modrm_form(b, n, i, &p, 0, in);
	case 0x82:
		if (cs_bits == 64)
			return MMIO_DECODE_UNSUPPORTED; /* #UD in 64-bit mode */
		/* fall through */
	case 0x80: case 0x81: case 0x83: case 0xc6: case 0xc7: case 0xf6: case 0xf7: case 0xfe: case 0xff:
		return decode_group(op, b, n, i, &p, in);
	case 0xa2: case 0xa3: /* MOV moffs, AL/eAX: the offset is address-size wide */
		if (i + p.addrsize > n)
			return MMIO_DECODE_TRUNCATED;
		in->op = MMIO_MOV;
		in->reg = 0;
		in->len = (uint8_t)(i + p.addrsize);
		return MMIO_DECODE_OK;
	case 0xaa: case 0xab: case 0xa4: case 0xa5:
		return decode_string(op, i, &p, in);
	case 0x0f:
		return decode_0f(b, n, i, &p, in);
	case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3:
		return decode_shift(op, b, n, i, &p, in);
	}
	return MMIO_DECODE_UNSUPPORTED;
}

/* ---- flags ---------------------------------------------------------------------------- */

static bool parity_even(uint64_t v)
{
	uint8_t b = (uint8_t)v;

	b ^= b >> 4;
	b ^= b >> 2;
	b ^= b >> 1;
	return !(b & 1);
}

static uint64_t size_mask(unsigned int size)
{
	return size >= 8 ? ~0ULL : (1ULL << (8 * size)) - 1;
}

/* PF, ZF, SF of a result, with CF/AF/OF given; the other RFLAGS bits are kept. */
static void set_flags(uint64_t *rflags, unsigned int size, uint64_t res, bool cf, bool af, bool of)
{
	uint64_t f = *rflags & ~(uint64_t)RFLAGS_ARITH;

	res &= size_mask(size);
	f |= (cf ? RFLAGS_CF : 0) | (af ? RFLAGS_AF : 0) | (of ? RFLAGS_OF : 0);
	f |= (parity_even(res) ? RFLAGS_PF : 0) | (res ? 0 : RFLAGS_ZF) | ((res >> (8 * size - 1)) & 1 ? RFLAGS_SF : 0);
	*rflags = f;
}

uint64_t mmio_alu_exec(unsigned int alu, unsigned int size, uint64_t dst, uint64_t src, uint64_t *rflags)
{
	unsigned int top = 8 * size - 1;
	uint64_t m = size_mask(size), c = *rflags & RFLAGS_CF, r;

	dst &= m;
	src &= m;
	switch (alu) {
	case ALU_ADD:
	case ALU_ADC:
		r = (dst + src + (alu == ALU_ADC ? c : 0)) & m;
		/* Carry out of the top bit, signed overflow, carry out of bit 3 (SDM Vol. 1 3.4.3.1). */
		set_flags(rflags, size, r, (((dst & src) | ((dst | src) & ~r)) >> top) & 1, (dst ^ src ^ r) & 0x10,
			  (((dst ^ r) & (src ^ r)) >> top) & 1);
		return r;
	case ALU_SUB:
	case ALU_SBB:
	case ALU_CMP:
		r = (dst - src - (alu == ALU_SBB ? c : 0)) & m;
		set_flags(rflags, size, r, (((~dst & src) | (~(dst ^ src) & r)) >> top) & 1, (dst ^ src ^ r) & 0x10,
			  (((dst ^ src) & (dst ^ r)) >> top) & 1);
		return alu == ALU_CMP ? dst : r;
	default:
		r = alu == ALU_OR ? dst | src : alu == ALU_AND ? dst & src : dst ^ src;
		set_flags(rflags, size, r, false, false, false);
		return r;
	}
}

uint64_t mmio_unary_exec(enum mmio_op op, unsigned int size, uint64_t dst, uint64_t *rflags)
{
	uint64_t cf = *rflags & RFLAGS_CF, r;

	switch (op) {
	case MMIO_NOT:
		return ~dst & size_mask(size);
	case MMIO_NEG:
		return mmio_alu_exec(ALU_SUB, size, 0, dst, rflags); /* CF = (dst != 0), as 0 - dst borrows */
	default:
		r = mmio_alu_exec(op == MMIO_INC ? ALU_ADD : ALU_SUB, size, dst, 1, rflags);
		*rflags = (*rflags & ~(uint64_t)RFLAGS_CF) | cf;
		return r;
	}
}

bool mmio_condition(unsigned int cc, uint64_t rflags)
{
	bool cf = rflags & RFLAGS_CF, zf = rflags & RFLAGS_ZF, sf = rflags & RFLAGS_SF, of = rflags & RFLAGS_OF;
	bool pf = rflags & RFLAGS_PF, holds;

	switch (cc >> 1) {
	case 0: holds = of; break;
	case 1: holds = cf; break;
	case 2: holds = zf; break;
	case 3: holds = cf || zf; break;
	case 4: holds = sf; break;
	case 5: holds = pf; break;
	case 6: holds = sf != of; break;
	default: holds = zf || sf != of; break;
	}
	return (cc & 1) ? !holds : holds;
}

uint64_t mmio_bit_exec(enum mmio_op op, unsigned int size, uint64_t dst, uint64_t index, uint64_t *rflags)
{
	uint64_t bit = 1ULL << (index & (8 * size - 1));

	*rflags = (*rflags & ~(uint64_t)RFLAGS_CF) | ((dst & bit) ? RFLAGS_CF : 0);
	if (op == MMIO_BTS)
		return dst | bit;
	if (op == MMIO_BTR)
		return dst & ~bit;
	return dst ^ bit;
}

static uint64_t rotate_left(uint64_t v, unsigned int n, unsigned int bits)
{
	return n ? ((v << n) | (v >> (bits - n))) & size_mask(bits / 8) : v;
}

/* Through-carry rotates, one bit at a time (at most 64 steps): CF is the 9th/17th/33rd/65th bit. */
static uint64_t rotate_carry(bool left, unsigned int bits, uint64_t v, unsigned int count, bool *cf)
{
	for (unsigned int i = 0; i < count; i++) {
		bool out = left ? (v >> (bits - 1)) & 1 : v & 1;

		v = left ? ((v << 1) | *cf) & size_mask(bits / 8) : (v >> 1) | ((uint64_t)*cf << (bits - 1));
		*cf = out;
	}
	return v;
}

static uint64_t shift_value(unsigned int kind, unsigned int bits, uint64_t v, unsigned int count, bool *cf)
{
	uint64_t sv = sign_extend(v, bits / 8);

	switch (kind) {
	case SH_SHL:
	case SH_SAL:
		*cf = count <= bits && ((v >> (bits - count)) & 1);
		return count < bits ? (v << count) & size_mask(bits / 8) : 0;
	case SH_SHR:
		*cf = count <= bits && ((v >> (count - 1)) & 1);
		return count < bits ? v >> count : 0;
	default: /* SAR */
		*cf = ((int64_t)sv >> (count - 1 < 63 ? count - 1 : 63)) & 1;
		return (uint64_t)((int64_t)sv >> (count < 63 ? count : 63)) & size_mask(bits / 8);
	}
}

uint64_t mmio_shift_exec(unsigned int kind, unsigned int size, uint64_t dst, uint64_t count, uint64_t *rflags)
{
	unsigned int bits = 8 * size, n = (unsigned int)(count & (size == 8 ? 63 : 31));
	bool cf = *rflags & RFLAGS_CF, of;
	uint64_t r, msb;

	dst &= size_mask(size);
	if (!n)
		return dst;
	switch (kind) {
	case SH_ROL:
	case SH_ROR:
		r = rotate_left(dst, kind == SH_ROL ? n % bits : (bits - n % bits) % bits, bits);
		msb = (r >> (bits - 1)) & 1;
		cf = kind == SH_ROL ? r & 1 : msb;
		of = kind == SH_ROL ? msb ^ cf : msb ^ ((r >> (bits - 2)) & 1);
		break;
	case SH_RCL:
	case SH_RCR:
		of = kind == SH_RCR && (((dst >> (bits - 1)) & 1) ^ cf);
		r = rotate_carry(kind == SH_RCL, bits, dst, bits < 32 ? n % (bits + 1) : n, &cf);
		if (kind == SH_RCL)
			of = ((r >> (bits - 1)) & 1) ^ cf;
		break;
	default:
		r = shift_value(kind, bits, dst, n, &cf);
		of = kind == SH_SAR ? false : kind == SH_SHR ? (dst >> (bits - 1)) & 1 : ((r >> (bits - 1)) & 1) ^ cf;
		set_flags(rflags, size, r, cf, false, of);
		return r;
	}
	*rflags = (*rflags & ~(uint64_t)(RFLAGS_CF | RFLAGS_OF)) | (cf ? RFLAGS_CF : 0) | (of ? RFLAGS_OF : 0);
	return r;
}
