/* Decodes the 32-bit MOVs L1 uses on memory-mapped APIC registers: opcode, ModRM/SIB/displacement lengths, source (pure). */
#include "hv/vmx/mmio_decode.h"

static bool is_segment_prefix(uint8_t b)
{
	return b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0x64 || b == 0x65;
}

/* Length of ModRM + SIB + displacement for 32/64-bit addressing (SDM Vol. 2 2.1.5, Tables 2-2 and 2-3). */
static int modrm_len(const uint8_t *b, size_t n, size_t at)
{
	uint8_t modrm, mod, rm;
	int len = 1;

	if (at >= n)
		return MMIO_DECODE_TRUNCATED;
	modrm = b[at];
	mod = modrm >> 6;
	rm = modrm & 7;
	if (mod == 3)
		return MMIO_DECODE_UNSUPPORTED; /* a register operand: no memory access to emulate */
	if (rm == 4) {
		if (at + 1 >= n)
			return MMIO_DECODE_TRUNCATED;
		len++;
		if (mod == 0 && (b[at + 1] & 7) == 5)
			len += 4; /* SIB with no base: disp32 */
	} else if (mod == 0 && rm == 5) {
		len += 4; /* disp32 (RIP-relative in 64-bit mode) */
	}
	if (mod == 1)
		len += 1;
	else if (mod == 2)
		len += 4;
	return len;
}

static uint32_t le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

enum mmio_decode_error mmio_decode_mov(const uint8_t *b, size_t n, bool long64, struct mmio_insn *out)
{
	size_t i = 0;
	uint8_t rex = 0, op;
	int mlen;

	n = MIN(n, (size_t)X86_MAX_INSN_LEN);
	while (i < n && is_segment_prefix(b[i]))
		i++;
	if (i < n && long64 && (b[i] & 0xf0) == 0x40)
		rex = b[i++];
	if (i >= n)
		return MMIO_DECODE_TRUNCATED;
	if (rex & 0x8)
		return MMIO_DECODE_UNSUPPORTED; /* REX.W: a 64-bit access */
	op = b[i++];
	switch (op) {
	case 0xa1:
	case 0xa3: {
		size_t moffs = long64 ? 8 : 4;

		if (i + moffs > n)
			return MMIO_DECODE_TRUNCATED;
		*out = (struct mmio_insn){ .op = op == 0xa3 ? MMIO_STORE_EAX : MMIO_LOAD_EAX, .len = (uint8_t)(i + moffs) };
		return MMIO_DECODE_OK;
	}
	case 0x89:
	case 0x8b:
	case 0xc7:
		break;
	default:
		return MMIO_DECODE_UNSUPPORTED;
	}
	mlen = modrm_len(b, n, i);
	if (mlen < 0)
		return (enum mmio_decode_error)mlen;
	*out = (struct mmio_insn){ .reg = (uint8_t)(((b[i] >> 3) & 7) | ((rex & 0x4) ? 8 : 0)) };
	if (op == 0xc7) {
		if ((b[i] >> 3) & 7)
			return MMIO_DECODE_UNSUPPORTED; /* only /0 is MOV */
		if (i + (size_t)mlen + 4 > n)
			return MMIO_DECODE_TRUNCATED;
		out->op = MMIO_STORE_IMM;
		out->imm = le32(b + i + mlen);
		out->reg = 0;
		out->len = (uint8_t)(i + (size_t)mlen + 4);
		return MMIO_DECODE_OK;
	}
	if (i + (size_t)mlen > n)
		return MMIO_DECODE_TRUNCATED;
	out->op = op == 0x89 ? MMIO_STORE_REG : MMIO_LOAD_REG;
	out->len = (uint8_t)(i + (size_t)mlen);
	return MMIO_DECODE_OK;
}
