/* Decoding the instructions that can write a memory-mapped register, enough to emulate them on the device (pure). */
#ifndef HV_VMX_MMIO_DECODE_H
#define HV_VMX_MMIO_DECODE_H

#include "hv/types.h"

#define X86_MAX_INSN_LEN 15

/*
 * What the instruction does to its memory operand. The operand's address is
 * not decoded: the EPT violation reports it (SDM 28.2.3.3), so only the
 * length, the operand size and the source matter, whatever the addressing form.
 */
enum mmio_op {
	MMIO_MOV,  /* 88/89 /r, C6/C7 /0, A2/A3: store the source */
	MMIO_ALU,  /* 00-31 /r, 80/81/83 /0-6: mem = mem op source, flags (CMP never writes: not here) */
	MMIO_XCHG, /* 86/87 /r: swap with a register */
	MMIO_NOT,  /* F6/F7 /2 */
	MMIO_NEG,  /* F6/F7 /3 */
	MMIO_INC,  /* FE/FF /0 */
	MMIO_DEC,  /* FE/FF /1 */
	MMIO_STOS, /* AA/AB, with REP */
	MMIO_MOVS, /* A4/A5, with REP */
	MMIO_CMPXCHG, /* 0F B0/B1 /r */
	MMIO_XADD,    /* 0F C0/C1 /r */
	MMIO_SETCC,   /* 0F 90-9F: the byte is 1 if condition cc holds */
	MMIO_BTS,     /* 0F AB /r, 0F BA /5 ib: CF = the bit, then set */
	MMIO_BTR,     /* 0F B3 /r, 0F BA /6 ib: ... cleared */
	MMIO_BTC,     /* 0F BB /r, 0F BA /7 ib: ... complemented */
	MMIO_SHIFT,   /* C0/C1 ib, D0/D1 (by 1), D2/D3 (by CL): rotate or shift kind in alu */
};

/* Group 2's operations in ModRM.reg order (SDM Vol. 2 Table A-6); 6 is SAL, the same as SHL. */
enum mmio_shift { SH_ROL, SH_ROR, SH_RCL, SH_RCR, SH_SHL, SH_SHR, SH_SAL, SH_SAR };

/* The ALU operations in their ModRM.reg / opcode-bits-5:3 order (SDM Vol. 2 Table A-6). */
enum mmio_alu { ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND, ALU_SUB, ALU_XOR, ALU_CMP };

/* Segment registers in their Sreg encoding order: ES CS SS DS FS GS. */
enum mmio_seg { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS };

struct mmio_insn {
	enum mmio_op op;
	uint8_t len;       /* bytes, prefixes included */
	uint8_t size;      /* operand bytes: 1, 2, 4 or 8 */
	uint8_t addr_size; /* address bytes: 2, 4 or 8 (RSI/RDI/RCX width of string instructions) */
	uint8_t alu;       /* enum mmio_alu for MMIO_ALU; the condition (0-15) for MMIO_SETCC */
	bool has_imm;      /* the source is imm, not reg */
	uint8_t reg;       /* source register (x86 number, REX applied); with high_byte: AH CH DH BH = 0..3 */
	bool high_byte;    /* an 8-bit operand naming AH/CH/DH/BH (no REX prefix) */
	uint64_t imm;      /* sign-extended to 64 bits */
	bool rep;          /* F3 or F2 on STOS/MOVS: RCX counts */
	uint8_t src_seg;   /* MOVS source segment (DS unless overridden) */
};

enum mmio_decode_error {
	MMIO_DECODE_OK = 0,
	MMIO_DECODE_TRUNCATED = -1,   /* ran past the bytes given */
	MMIO_DECODE_UNSUPPORTED = -2, /* an instruction this decoder does not emulate */
};

/*
 * Decodes the instruction at b (n bytes readable) for a code segment of
 * cs_bits 16, 32 or 64 (64-bit mode). Prefixes: operand and address size,
 * segment, LOCK (atomicity is the emulation's, one CPU at a time), REP on
 * string instructions, REX in 64-bit mode.
 */
enum mmio_decode_error mmio_decode(const uint8_t *b, size_t n, unsigned int cs_bits, struct mmio_insn *out);

/*
 * The ALU result of dst op src at size bytes, and *rflags with CF PF AF ZF SF
 * OF as the instruction leaves them (SDM Vol. 2: ADD ... XOR; AF is 0 after
 * AND/OR/XOR, which the SDM leaves undefined). INC/DEC/NEG use ADD/SUB with
 * mmio_unary(). Pure, so the host test compares it with the CPU's own flags.
 */
uint64_t mmio_alu_exec(unsigned int alu, unsigned int size, uint64_t dst, uint64_t src, uint64_t *rflags);
/* NOT, NEG, INC, DEC (INC/DEC keep CF; NOT changes no flag). */
uint64_t mmio_unary_exec(enum mmio_op op, unsigned int size, uint64_t dst, uint64_t *rflags);
/* Whether condition cc (the low nibble of Jcc/SETcc, SDM Vol. 1 Table B-1) holds for rflags. */
bool mmio_condition(unsigned int cc, uint64_t rflags);
/*
 * BTS/BTR/BTC on dst at size bytes, bit index (bit offset modulo 8*size: the
 * exit already names the operand the offset selected): the new value; CF =
 * the old bit, the other flags kept (Bochs leaves them, the SDM calls OF SF AF PF undefined).
 */
uint64_t mmio_bit_exec(enum mmio_op op, unsigned int size, uint64_t dst, uint64_t index, uint64_t *rflags);
/*
 * Rotates and shifts (SDM Vol. 2 "RCL/RCR/ROL/ROR", "SAL/SAR/SHL/SHR"): the
 * count is masked to 5 bits (6 with 64-bit operands); a count of 0 changes
 * no flag. OF follows the SDM's count-1 rule for every count (undefined
 * otherwise); shifts leave AF 0 (undefined), rotates touch only CF and OF.
 */
uint64_t mmio_shift_exec(unsigned int kind, unsigned int size, uint64_t dst, uint64_t count, uint64_t *rflags);

#endif
