/* Host tests for the decoder of instructions writing a memory-mapped register, and its ALU flags against the host CPU's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "hv/vmx/mmio_decode.h"

static struct mmio_insn ok(const uint8_t *b, size_t n, unsigned int bits)
{
	struct mmio_insn in;

	assert_int_equal(mmio_decode(b, n, bits, &in), MMIO_DECODE_OK);
	return in;
}
#define OK32(...) ({ static const uint8_t _b[] = { __VA_ARGS__ }; ok(_b, sizeof(_b), 32); })
#define OK64(...) ({ static const uint8_t _b[] = { __VA_ARGS__ }; ok(_b, sizeof(_b), 64); })
#define OK16(...) ({ static const uint8_t _b[] = { __VA_ARGS__ }; ok(_b, sizeof(_b), 16); })

static void test_movs_of_every_width(void **state)
{
	struct mmio_insn in;

	(void)state;
	in = OK32(0xa3, 0x00, 0x03, 0xe0, 0xfe);                 /* mov %eax,0xfee00300 */
	assert_true(in.op == MMIO_MOV && in.len == 5 && in.size == 4 && in.reg == 0 && !in.has_imm);
	in = OK32(0x89, 0x15, 0x10, 0x03, 0xe0, 0xfe);           /* mov %edx,0xfee00310 */
	assert_true(in.len == 6 && in.reg == 2 && in.size == 4);
	in = OK32(0xc7, 0x05, 0x00, 0x03, 0xe0, 0xfe, 0x00, 0x45, 0x00, 0x00);
	assert_true(in.has_imm && in.imm == 0x4500 && in.len == 10);
	in = OK32(0x89, 0x4c, 0x24, 0x10);                       /* mov %ecx,0x10(%esp) */
	assert_true(in.reg == 1 && in.len == 4);
	in = OK32(0x89, 0x04, 0x8d, 0x00, 0x03, 0xe0, 0xfe);     /* mov %eax,0xfee00300(,%ecx,4) */
	assert_int_equal(in.len, 7);
	in = OK32(0x3e, 0x89, 0x98, 0x00, 0x03, 0x00, 0x00);     /* ds: mov %ebx,0x300(%eax) */
	assert_true(in.reg == 3 && in.len == 7);
	in = OK32(0x88, 0x60, 0x10);                             /* mov %ah,0x10(%eax) */
	assert_true(in.size == 1 && in.high_byte && in.reg == 0 && in.len == 3);
	in = OK32(0x66, 0x89, 0x18);                             /* mov %bx,(%eax) */
	assert_true(in.size == 2 && in.reg == 3 && in.len == 3);
	in = OK32(0x66, 0xc7, 0x00, 0x34, 0x12);                 /* movw $0x1234,(%eax) */
	assert_true(in.size == 2 && in.imm == 0x1234 && in.len == 5);
	in = OK32(0xc6, 0x40, 0x80, 0xff);                       /* movb $0xff,-0x80(%eax) */
	assert_true(in.size == 1 && in.imm == ~0ULL && in.len == 4);
	in = OK32(0xa2, 0x80, 0x00, 0xe0, 0xfe);                 /* mov %al,0xfee00080 */
	assert_true(in.size == 1 && in.len == 5);
	in = OK64(0x44, 0x89, 0x02);                             /* mov %r8d,(%rdx) */
	assert_true(in.reg == 8 && in.len == 3 && in.size == 4);
	in = OK64(0x48, 0x89, 0x02);                             /* mov %rax,(%rdx) */
	assert_true(in.size == 8 && in.len == 3);
	in = OK64(0x48, 0xc7, 0x02, 0xff, 0xff, 0xff, 0xff);     /* movq $-1,(%rdx) */
	assert_true(in.size == 8 && in.imm == ~0ULL && in.len == 7);
	in = OK64(0x40, 0x88, 0x30);                             /* mov %sil,(%rax): REX makes 6 SIL */
	assert_true(!in.high_byte && in.reg == 6);
	in = OK64(0x89, 0x05, 0x00, 0x03, 0x00, 0x00);           /* mov %eax,0x300(%rip) */
	assert_int_equal(in.len, 6);
	in = OK64(0xa3, 0x00, 0x03, 0xe0, 0xfe, 0, 0, 0, 0);     /* movabs %eax,0xfee00300 */
	assert_int_equal(in.len, 9);
	in = OK64(0x67, 0xa3, 0x00, 0x03, 0xe0, 0xfe);           /* addr32 movabs */
	assert_int_equal(in.len, 6);
	/* 16-bit code: 16-bit operands and addressing by default, 66/67 give 32-bit ones. */
	in = OK16(0x89, 0x47, 0x10);                             /* mov %ax,0x10(%bx) */
	assert_true(in.size == 2 && in.len == 3);
	in = OK16(0x66, 0x67, 0x89, 0x80, 0x00, 0x03, 0x00, 0x00); /* mov %eax,0x300(%eax) */
	assert_true(in.size == 4 && in.len == 8);
	in = OK16(0x89, 0x06, 0x00, 0x03);                       /* mov %ax,0x300 */
	assert_int_equal(in.len, 4);
}

static void test_read_modify_write_forms(void **state)
{
	struct mmio_insn in;

	(void)state;
	in = OK32(0x09, 0x03);                                   /* or %eax,(%ebx) */
	assert_true(in.op == MMIO_ALU && in.alu == ALU_OR && in.reg == 0 && in.len == 2);
	in = OK32(0x81, 0x60, 0x20, 0xff, 0x00, 0x00, 0x00);     /* andl $0xff,0x20(%eax) */
	assert_true(in.alu == ALU_AND && in.has_imm && in.imm == 0xff && in.len == 7);
	in = OK32(0x83, 0x30, 0xff);                             /* xorl $-1,(%eax) */
	assert_true(in.alu == ALU_XOR && in.imm == ~0ULL && in.size == 4 && in.len == 3);
	in = OK32(0x80, 0x00, 0x01);                             /* addb $1,(%eax) */
	assert_true(in.alu == ALU_ADD && in.size == 1 && in.len == 3);
	in = OK32(0x66, 0x81, 0x28, 0x00, 0x01);                 /* subw $0x100,(%eax) */
	assert_true(in.alu == ALU_SUB && in.size == 2 && in.imm == 0x100 && in.len == 5);
	in = OK32(0xf0, 0x11, 0x08);                             /* lock adc %ecx,(%eax) */
	assert_true(in.alu == ALU_ADC && in.reg == 1 && in.len == 3);
	in = OK32(0x87, 0x03);                                   /* xchg %eax,(%ebx) */
	assert_true(in.op == MMIO_XCHG && in.len == 2);
	in = OK32(0xf7, 0x10);                                   /* notl (%eax) */
	assert_true(in.op == MMIO_NOT && in.len == 2);
	in = OK32(0xf6, 0x18);                                   /* negb (%eax) */
	assert_true(in.op == MMIO_NEG && in.size == 1);
	in = OK32(0xff, 0x00);                                   /* incl (%eax) */
	assert_true(in.op == MMIO_INC && in.size == 4);
	in = OK32(0xfe, 0x08);                                   /* decb (%eax) */
	assert_true(in.op == MMIO_DEC && in.size == 1);
}

static void test_two_byte_forms(void **state)
{
	struct mmio_insn in;

	(void)state;
	in = OK32(0xf0, 0x0f, 0xb1, 0x0b);                       /* lock cmpxchg %ecx,(%ebx) */
	assert_true(in.op == MMIO_CMPXCHG && in.reg == 1 && in.size == 4 && in.len == 4);
	in = OK32(0x0f, 0xc0, 0x63, 0x10);                       /* xadd %ah,0x10(%ebx) */
	assert_true(in.op == MMIO_XADD && in.size == 1 && in.high_byte && in.reg == 0 && in.len == 4);
	in = OK32(0x0f, 0x94, 0x40, 0x80);                       /* sete -0x80(%eax) */
	assert_true(in.op == MMIO_SETCC && in.alu == 4 && in.size == 1 && in.len == 4);
	in = OK32(0x0f, 0xab, 0x10);                             /* bts %edx,(%eax) */
	assert_true(in.op == MMIO_BTS && in.reg == 2 && in.size == 4 && in.len == 3);
	in = OK32(0x66, 0x0f, 0xb3, 0x10);                       /* btr %dx,(%eax) */
	assert_true(in.op == MMIO_BTR && in.size == 2);
	in = OK32(0x0f, 0xba, 0x38, 0x05);                       /* btcl $5,(%eax) */
	assert_true(in.op == MMIO_BTC && in.has_imm && in.imm == 5 && in.len == 4);
	in = OK64(0x48, 0x0f, 0xc3, 0x07);                       /* movnti %rax,(%rdi) */
	assert_true(in.op == MMIO_MOV && in.size == 8 && in.len == 4);
	in = OK32(0xd1, 0x20);                                   /* shll (%eax) */
	assert_true(in.op == MMIO_SHIFT && in.alu == SH_SHL && in.has_imm && in.imm == 1 && in.len == 2);
	in = OK32(0xd2, 0x78, 0x10);                             /* sarb %cl,0x10(%eax) */
	assert_true(in.alu == SH_SAR && !in.has_imm && in.reg == 1 && !in.high_byte && in.size == 1 && in.len == 3);
	in = OK32(0xc1, 0x08, 0x05);                             /* rorl $5,(%eax) */
	assert_true(in.alu == SH_ROR && in.imm == 5 && in.len == 3);
}

static void test_string_forms(void **state)
{
	struct mmio_insn in;

	(void)state;
	in = OK32(0xf3, 0xaa);                                   /* rep stosb */
	assert_true(in.op == MMIO_STOS && in.rep && in.size == 1 && in.addr_size == 4 && in.len == 2);
	in = OK32(0xab);                                         /* stosl */
	assert_true(in.op == MMIO_STOS && !in.rep && in.size == 4 && in.len == 1);
	in = OK32(0xf3, 0x66, 0xa5);                             /* rep movsw */
	assert_true(in.op == MMIO_MOVS && in.size == 2 && in.src_seg == SEG_DS);
	in = OK32(0x64, 0xa5);                                   /* movsl %fs:(%esi),%es:(%edi) */
	assert_int_equal(in.src_seg, SEG_FS);
	in = OK64(0xf3, 0x48, 0xab);                             /* rep stosq */
	assert_true(in.size == 8 && in.addr_size == 8 && in.len == 3);
	in = OK64(0x67, 0xf3, 0xa4);                             /* rep movsb with 32-bit addresses */
	assert_true(in.addr_size == 4 && in.size == 1);
	in = OK16(0xf3, 0xab);                                   /* rep stosw */
	assert_true(in.size == 2 && in.addr_size == 2);
}

static void test_refused(void **state)
{
	static const uint8_t reg_form[] = { 0x89, 0xc0 }, cmp[] = { 0x39, 0x03 }, cmp_imm[] = { 0x83, 0x38, 0x01 };
	static const uint8_t c7_1[] = { 0xc7, 0x08, 0, 0, 0, 0 }, push[] = { 0xff, 0x30 }, cmpxchg8b[] = { 0x0f, 0xc7, 0x0b };
	static const uint8_t op82_64[] = { 0x82, 0x00, 0x01 }, trunc[] = { 0x89, 0x15, 0x10, 0x03 };
	static const uint8_t prefixes_only[] = { 0x66, 0x67, 0xf0 }, bt[] = { 0x0f, 0xba, 0x20, 0x01 };
	static const uint8_t movdqa[] = { 0x66, 0x0f, 0x7f, 0x00 };
	struct mmio_insn in;

	(void)state;
	assert_int_equal(mmio_decode(reg_form, sizeof(reg_form), 32, &in), MMIO_DECODE_UNSUPPORTED);
	assert_int_equal(mmio_decode(cmp, sizeof(cmp), 32, &in), MMIO_DECODE_UNSUPPORTED);
	assert_int_equal(mmio_decode(cmp_imm, sizeof(cmp_imm), 32, &in), MMIO_DECODE_UNSUPPORTED);
	assert_int_equal(mmio_decode(c7_1, sizeof(c7_1), 32, &in), MMIO_DECODE_UNSUPPORTED);
	assert_int_equal(mmio_decode(push, sizeof(push), 32, &in), MMIO_DECODE_UNSUPPORTED);
	assert_int_equal(mmio_decode(cmpxchg8b, sizeof(cmpxchg8b), 32, &in), MMIO_DECODE_UNSUPPORTED);
	assert_int_equal(mmio_decode(op82_64, sizeof(op82_64), 64, &in), MMIO_DECODE_UNSUPPORTED);
	assert_int_equal(mmio_decode(op82_64, sizeof(op82_64), 32, &in), MMIO_DECODE_OK);
	assert_int_equal(mmio_decode(trunc, sizeof(trunc), 32, &in), MMIO_DECODE_TRUNCATED);
	assert_int_equal(mmio_decode(trunc, 0, 32, &in), MMIO_DECODE_TRUNCATED);
	assert_int_equal(mmio_decode(prefixes_only, sizeof(prefixes_only), 32, &in), MMIO_DECODE_TRUNCATED);
	assert_int_equal(mmio_decode(bt, sizeof(bt), 32, &in), MMIO_DECODE_UNSUPPORTED);     /* BT only reads */
	assert_int_equal(mmio_decode(movdqa, sizeof(movdqa), 32, &in), MMIO_DECODE_UNSUPPORTED); /* SSE stores */
}

/* ---- flags against the host CPU ------------------------------------------------------- */

#define ARITH 0x8d5ULL /* CF PF AF ZF SF OF */

/* The host's result and flags for op at one width, with CF in as given. */
#define NATIVE(insn, sfx, type)                                                                               \
	do {                                                                                                  \
		type d = (type)dst;                                                                           \
		__asm__ volatile("push %[f]; popf; " insn sfx " %[s], %[d]; pushf; pop %[f]"                 \
				 : [d] "+r"(d), [f] "+r"(f) : [s] "r"((type)src) : "cc");                     \
		res = (uint64_t)d;                                                                            \
	} while (0)

static uint64_t native(unsigned int alu, unsigned int size, uint64_t dst, uint64_t src, uint64_t *flags)
{
	uint64_t f = *flags, res = 0;

#define ONE(name)                                                             \
	switch (size) {                                                       \
	case 1: NATIVE(name, "b", uint8_t); break;                            \
	case 2: NATIVE(name, "w", uint16_t); break;                           \
	case 4: NATIVE(name, "l", uint32_t); break;                           \
	default: NATIVE(name, "q", uint64_t); break;                          \
	}
	switch (alu) {
	case ALU_ADD: ONE("add"); break;
	case ALU_OR:  ONE("or"); break;
	case ALU_ADC: ONE("adc"); break;
	case ALU_SBB: ONE("sbb"); break;
	case ALU_AND: ONE("and"); break;
	case ALU_SUB: ONE("sub"); break;
	default:      ONE("xor"); break;
	}
	*flags = f;
	return res;
}

static uint64_t rnd(void)
{
	uint64_t v = 0;

	for (int i = 0; i < 4; i++)
		v = v << 16 ^ (uint64_t)(rand() & 0xffff);
	/* Edge values often: 0, all ones, the sign bit. */
	switch (rand() & 7) {
	case 0: return 0;
	case 1: return ~0ULL;
	case 2: return 1ULL << (rand() & 63);
	case 3: return v & 0xff;
	}
	return v;
}

static void test_alu_flags_match_cpu(void **state)
{
	static const unsigned int sizes[] = { 1, 2, 4, 8 };

	(void)state;
	srand(1);
	for (int i = 0; i < 20000; i++) {
		unsigned int alu = (unsigned int)rand() % 7, size = sizes[rand() & 3];
		uint64_t d = rnd(), s = rnd(), fin = 0x2 | ((uint64_t)rand() & 1), fh = fin, fe = fin;
		uint64_t m = size == 8 ? ~0ULL : (1ULL << (8 * size)) - 1;
		uint64_t rh = native(alu, size, d, s, &fh), re = mmio_alu_exec(alu, size, d, s, &fe);
		uint64_t care = (alu == ALU_OR || alu == ALU_AND || alu == ALU_XOR) ? ARITH & ~0x10ULL : ARITH;

		if ((rh & m) != re || (fh & care) != (fe & care))
			fail_msg("alu %u size %u %#llx,%#llx cf %llu: cpu %#llx/%#llx emu %#llx/%#llx", alu, size,
				 (unsigned long long)d, (unsigned long long)s, (unsigned long long)(fin & 1),
				 (unsigned long long)rh, (unsigned long long)fh, (unsigned long long)re,
				 (unsigned long long)fe);
	}
}

static void test_unary(void **state)
{
	uint64_t f = 0x2 | 1; /* CF set */

	(void)state;
	assert_int_equal(mmio_unary_exec(MMIO_INC, 4, 0xffffffff, &f), 0);
	assert_int_equal(f & ARITH, 0x1 | 0x4 | 0x10 | 0x40); /* CF kept, PF, AF, ZF */
	f = 0x2;
	assert_int_equal(mmio_unary_exec(MMIO_DEC, 1, 0x80, &f), 0x7f);
	assert_int_equal(f & 0x800, 0x800); /* OF */
	assert_int_equal(f & 1, 0);
	f = 0x2;
	assert_int_equal(mmio_unary_exec(MMIO_NEG, 2, 1, &f), 0xffff);
	assert_int_equal(f & 1, 1);
	assert_int_equal(mmio_unary_exec(MMIO_NEG, 2, 0, &f), 0);
	assert_int_equal(f & 0x41, 0x40);
	f = 0x2 | 0x800;
	assert_int_equal(mmio_unary_exec(MMIO_NOT, 1, 0x0f, &f), 0xf0);
	assert_int_equal(f, 0x2 | 0x800); /* NOT changes no flag */
}

/* SETcc's conditions against the host's SETcc for every flag combination that matters. */
#define SETCC(cc) ({ uint8_t _r; __asm__ volatile("push %1; popf; set" cc " %0" : "=r"(_r) : "r"(f) : "cc"); _r; })

static void test_conditions_match_cpu(void **state)
{
	(void)state;
	for (uint64_t bits = 0; bits < 32; bits++) {
		uint64_t f = 0x2 | ((bits & 1) ? 0x1 : 0) | ((bits & 2) ? 0x4 : 0) | ((bits & 4) ? 0x40 : 0) |
			     ((bits & 8) ? 0x80 : 0) | ((bits & 16) ? 0x800 : 0);
		uint8_t cpu[16] = { SETCC("o"), SETCC("no"), SETCC("b"), SETCC("ae"), SETCC("e"), SETCC("ne"),
				    SETCC("be"), SETCC("a"), SETCC("s"), SETCC("ns"), SETCC("p"), SETCC("np"),
				    SETCC("l"), SETCC("ge"), SETCC("le"), SETCC("g") };

		for (unsigned int cc = 0; cc < 16; cc++)
			if (cpu[cc] != mmio_condition(cc, f))
				fail_msg("cc %u flags %#llx: cpu %u", cc, (unsigned long long)f, cpu[cc]);
	}
}

static void test_bit_ops(void **state)
{
	uint64_t f = 0x2;

	(void)state;
	assert_int_equal(mmio_bit_exec(MMIO_BTS, 4, 0x10, 36, &f), 0x10); /* index 36 mod 32 = 4: already set */
	assert_int_equal(f, 0x3);
	assert_int_equal(mmio_bit_exec(MMIO_BTR, 2, 0xffff, 0xf, &f), 0x7fff);
	assert_int_equal(f & 1, 1);
	assert_int_equal(mmio_bit_exec(MMIO_BTC, 4, 0, -1, &f), 0x80000000); /* offset -1: bit 31 */
	assert_int_equal(f & 1, 0);
}

/* The host's rotate or shift by CL. */
#define NSHIFT(insn, sfx, type)                                                                           \
	do {                                                                                              \
		type d = (type)dst;                                                                       \
		__asm__ volatile("push %[f]; popf; " insn sfx " %%cl, %[d]; pushf; pop %[f]"             \
				 : [d] "+r"(d), [f] "+r"(f) : "c"((uint8_t)count) : "cc");                \
		res = (uint64_t)d;                                                                        \
	} while (0)
#define NSHIFT_ALL(insn)                                                                                  \
	switch (size) {                                                                                   \
	case 1: NSHIFT(insn, "b", uint8_t); break;                                                        \
	case 2: NSHIFT(insn, "w", uint16_t); break;                                                       \
	case 4: NSHIFT(insn, "l", uint32_t); break;                                                       \
	default: NSHIFT(insn, "q", uint64_t); break;                                                      \
	}

static uint64_t native_shift(unsigned int kind, unsigned int size, uint64_t dst, unsigned int count, uint64_t *flags)
{
	uint64_t f = *flags, res = 0;

	switch (kind) {
	case SH_ROL: NSHIFT_ALL("rol"); break;
	case SH_ROR: NSHIFT_ALL("ror"); break;
	case SH_RCL: NSHIFT_ALL("rcl"); break;
	case SH_RCR: NSHIFT_ALL("rcr"); break;
	case SH_SHR: NSHIFT_ALL("shr"); break;
	case SH_SAR: NSHIFT_ALL("sar"); break;
	default:     NSHIFT_ALL("shl"); break;
	}
	*flags = f;
	return res;
}

static void test_shifts_match_cpu(void **state)
{
	static const unsigned int sizes[] = { 1, 2, 4, 8 };

	(void)state;
	srand(2);
	for (int i = 0; i < 20000; i++) {
		unsigned int kind = (unsigned int)rand() & 7, size = sizes[rand() & 3], bits = 8 * size;
		/* Counts of a shift at or past the operand's width leave CF undefined: rotates only. */
		unsigned int count = kind <= SH_RCR ? (unsigned int)rand() % 64 : (unsigned int)rand() % bits;
		uint64_t d = rnd(), fin = 0x2 | ((uint64_t)rand() & 0x8d5), fh = fin, fe = fin;
		uint64_t m = size == 8 ? ~0ULL : (1ULL << bits) - 1;
		uint64_t rh = native_shift(kind, size, d, count, &fh), re = mmio_shift_exec(kind, size, d, count, &fe);
		unsigned int masked = count & (size == 8 ? 63 : 31);
		uint64_t care = ARITH & ~0x10ULL; /* AF is undefined after shifts, untouched by rotates */

		if (masked != 1)
			care &= ~0x800ULL; /* OF is defined for 1-bit counts only */
		if (kind <= SH_RCR)
			care = (care & 0x801) | 0x10; /* rotates: CF (and OF), and the rest untouched, AF included */
		if ((rh & m) != re || (fh & care) != (fe & care))
			fail_msg("shift %u size %u %#llx by %u, flags %#llx: cpu %#llx/%#llx emu %#llx/%#llx", kind, size,
				 (unsigned long long)d, count, (unsigned long long)fin, (unsigned long long)rh,
				 (unsigned long long)fh, (unsigned long long)re, (unsigned long long)fe);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_movs_of_every_width),
		cmocka_unit_test(test_read_modify_write_forms),
		cmocka_unit_test(test_two_byte_forms),
		cmocka_unit_test(test_string_forms),
		cmocka_unit_test(test_conditions_match_cpu),
		cmocka_unit_test(test_bit_ops),
		cmocka_unit_test(test_shifts_match_cpu),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_alu_flags_match_cpu),
		cmocka_unit_test(test_unary),
	};

	return cmocka_run_group_tests_name("mmio_decode", tests, NULL, NULL);
}
