/* Decoding the MOV instructions that access a memory-mapped register, enough to emulate them (pure). */
#ifndef HV_VMX_MMIO_DECODE_H
#define HV_VMX_MMIO_DECODE_H

#include "hv/types.h"

#define X86_MAX_INSN_LEN 15

enum mmio_op {
	MMIO_STORE_REG, /* 89 /r:   mov r/m32, r32 */
	MMIO_STORE_IMM, /* C7 /0 id: mov r/m32, imm32 */
	MMIO_LOAD_REG,  /* 8B /r:   mov r32, r/m32 */
	MMIO_STORE_EAX, /* A3:      mov moffs32, eax */
	MMIO_LOAD_EAX,  /* A1:      mov eax, moffs32 */
};

struct mmio_insn {
	enum mmio_op op;
	uint8_t len;  /* bytes, prefixes included */
	uint8_t reg;  /* register number (x86 encoding, REX.R applied) for *_REG; 0 (eax) for *_EAX */
	uint32_t imm; /* MMIO_STORE_IMM */
};

enum mmio_decode_error {
	MMIO_DECODE_OK = 0,
	MMIO_DECODE_TRUNCATED = -1,   /* ran past the bytes given */
	MMIO_DECODE_UNSUPPORTED = -2, /* another instruction, operand size or addressing form */
};

/*
 * Decodes a 32-bit MOV to or from memory at b (n bytes readable) in 32-bit
 * protected mode (long64 false: 32-bit operands and addresses by default) or
 * 64-bit mode. Segment prefixes are skipped; operand-size, address-size,
 * REX.W, LOCK and REP forms are unsupported (a 32-bit APIC register is only
 * accessed with plain 32-bit MOVs, SDM 11.4.1).
 */
enum mmio_decode_error mmio_decode_mov(const uint8_t *b, size_t n, bool long64, struct mmio_insn *out);

#endif
