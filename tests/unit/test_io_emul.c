/* Host tests: I/O exit decoding, the hypervisor's byte lanes, INS/OUTS addressing with its wraps and faults, I/O breakpoints. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "hv/vmx/io_emul.h"
#include "hv/vmx/vmx_defs.h"

#define AR_DATA_RW   0xc093u /* present, data read/write, 4K granular, 32-bit */
#define AR_DATA_RO   0xc091u
#define AR_DATA_DOWN 0x4097u /* expand-down read/write, B=1 */
#define AR_CODE_XO   0xc099u /* execute-only code */
#define AR_CODE_RX   0xc09bu
#define AR_UNUSABLE  0x10000u

static void test_decode(void **state)
{
	struct io_exit io;

	(void)state;
	/* REP OUTSW to port 0x80, 16-bit address size, FS override. */
	io_exit_decode((0x80ULL << 16) | BIT(5) | BIT(4) | 1, (4u << 15) | (0u << 7), &io);
	assert_int_equal(io.port, 0x80);
	assert_int_equal(io.size, 2);
	assert_true(io.string && io.rep && !io.in);
	assert_int_equal(io.addr_size, 2);
	assert_int_equal(io.seg, IO_SEG_FS);
	/* INSD, 64-bit addresses: ES whatever the segment field holds. */
	io_exit_decode((0xf4ULL << 16) | BIT(4) | BIT(3) | 3, (3u << 15) | (2u << 7), &io);
	assert_true(io.in && io.string && !io.rep);
	assert_int_equal(io.size, 4);
	assert_int_equal(io.addr_size, 8);
	assert_int_equal(io.seg, IO_SEG_ES);
	/* Plain OUT AL, imm8. */
	io_exit_decode((0xf4ULL << 16) | BIT(6), 0, &io);
	assert_false(io.string || io.in);
	assert_int_equal(io.size, 1);
}

static void test_decode_prefixes(void **state)
{
	struct io_exit io = { .in = false };
	const uint8_t outsb_fs_a16[] = { 0xf3, 0x64, 0x67, 0x6e };
	const uint8_t rex_outsd[] = { 0xf3, 0x48, 0x6f };
	const uint8_t not_io[] = { 0xf3, 0xa4 };

	(void)state;
	assert_true(io_decode_string_prefixes(outsb_fs_a16, sizeof(outsb_fs_a16), 32, &io));
	assert_int_equal(io.addr_size, 2);
	assert_int_equal(io.seg, IO_SEG_FS);
	assert_true(io_decode_string_prefixes(outsb_fs_a16, sizeof(outsb_fs_a16), 16, &io));
	assert_int_equal(io.addr_size, 4);
	assert_true(io_decode_string_prefixes(outsb_fs_a16, sizeof(outsb_fs_a16), 64, &io));
	assert_int_equal(io.addr_size, 4);
	assert_true(io_decode_string_prefixes(rex_outsd, sizeof(rex_outsd), 64, &io));
	assert_int_equal(io.addr_size, 8);
	assert_int_equal(io.seg, IO_SEG_DS);
	assert_false(io_decode_string_prefixes(rex_outsd, sizeof(rex_outsd), 32, &io)); /* 0x48 is DEC there */
	assert_false(io_decode_string_prefixes(not_io, sizeof(not_io), 32, &io));
	io.in = true;
	assert_true(io_decode_string_prefixes(outsb_fs_a16, sizeof(outsb_fs_a16), 32, &io));
	assert_int_equal(io.seg, IO_SEG_ES); /* INS ignores segment overrides */
}

/* Item 17: every byte of an access is checked, not only the first port. */
static void test_emulated_bytes(void **state)
{
	(void)state;
	assert_int_equal(io_emulated_bytes(0xf4, 1), 1);
	assert_int_equal(io_emulated_bytes(0xf3, 2), 2);   /* OUTW 0xf3 covers 0xf4 */
	assert_int_equal(io_emulated_bytes(0xf2, 4), 0xc); /* 0xf4, 0xf5 */
	assert_int_equal(io_emulated_bytes(0x7e, 4), 0x4); /* 0x80 */
	assert_int_equal(io_emulated_bytes(0xf8, 4), 0);
	assert_int_equal(io_emulated_bytes(0x70, 4), 0);
	assert_int_equal(io_emulated_bytes(0xffff, 2), 0);  /* wraps to port 0 */
}

/* The PM1a control register's high byte (SLP_EN, SLP_TYP) in whatever lane a write carries it. */
static void test_byte_lane(void **state)
{
	(void)state;
	assert_int_equal(io_write_byte_at(0x404, 2, 0x3400, 0x405), 0x34);
	assert_int_equal(io_write_byte_at(0x405, 1, 0x20, 0x405), 0x20);  /* the high byte alone */
	assert_int_equal(io_write_byte_at(0x404, 1, 0x20, 0x405), -1);    /* the low byte only */
	assert_int_equal(io_write_byte_at(0x402, 4, 0x20000000, 0x405), 0x20);
	assert_int_equal(io_write_byte_at(0xffff, 2, 0xab00, 0), 0xab);   /* wraps at 64 Ki */
}

static struct string_io prot32(uint32_t base, uint32_t limit, uint32_t ar, bool write)
{
	return (struct string_io){ .size = 1, .addr_size = 4, .write = write, .protected_mode = true,
				   .seg = { .base = base, .limit = limit, .ar = ar } };
}

static void test_linear_limits(void **state)
{
	struct string_io s = prot32(0x1000, 0xfff, AR_DATA_RW & ~0x8000u, false);
	uint64_t la = 0;

	(void)state;
	assert_int_equal(string_io_linear(&s, 0xfff, &la), STRIO_OK);
	assert_int_equal(la, 0x1fff);
	assert_int_equal(string_io_linear(&s, 0x1000, &la), GP_VECTOR);
	s.size = 2;
	assert_int_equal(string_io_linear(&s, 0xfff, &la), GP_VECTOR); /* the last byte counts */
	s.seg_is_ss = true;
	assert_int_equal(string_io_linear(&s, 0xfff, &la), SS_VECTOR);
	/* Upper bits of RSI beyond the address size are ignored; the linear address wraps at 4 GiB. */
	s = prot32(0xfffff000, 0xffffffff, AR_DATA_RW, false);
	assert_int_equal(string_io_linear(&s, 0xabcd00002000ULL, &la), STRIO_OK);
	assert_int_equal(la, 0x1000);
}

static void test_linear_expand_down(void **state)
{
	struct string_io s = prot32(0, 0xfff, AR_DATA_DOWN, true);
	uint64_t la;

	(void)state;
	assert_int_equal(string_io_linear(&s, 0x800, &la), GP_VECTOR);
	assert_int_equal(string_io_linear(&s, 0x1000, &la), STRIO_OK);
	assert_int_equal(string_io_linear(&s, 0xffffffff, &la), STRIO_OK);
	s.size = 2;
	assert_int_equal(string_io_linear(&s, 0xffffffff, &la), GP_VECTOR);
	s.seg.ar &= ~(uint32_t)BIT(14); /* B=0: the top is 64K */
	s.addr_size = 2;
	s.size = 1;
	assert_int_equal(string_io_linear(&s, 0xffff, &la), STRIO_OK);
}

static void test_linear_types(void **state)
{
	struct string_io s = prot32(0, 0xffffffff, AR_DATA_RO, true);
	uint64_t la;

	(void)state;
	assert_int_equal(string_io_linear(&s, 0, &la), GP_VECTOR); /* INS into read-only data */
	s.write = false;
	assert_int_equal(string_io_linear(&s, 0, &la), STRIO_OK);
	s.seg.ar = AR_CODE_XO;
	assert_int_equal(string_io_linear(&s, 0, &la), GP_VECTOR); /* OUTS from execute-only code */
	s.seg.ar = AR_CODE_RX;
	assert_int_equal(string_io_linear(&s, 0, &la), STRIO_OK);
	s.write = true;
	assert_int_equal(string_io_linear(&s, 0, &la), GP_VECTOR); /* INS into code */
	s.seg.ar = AR_UNUSABLE;
	assert_int_equal(string_io_linear(&s, 0, &la), GP_VECTOR);
	/* Real mode: no type checks, the limit still applies. */
	s.protected_mode = false;
	s.seg.ar = AR_DATA_RO;
	s.seg.limit = 0xffff;
	assert_int_equal(string_io_linear(&s, 0xffff, &la), STRIO_OK);
	s.size = 2;
	assert_int_equal(string_io_linear(&s, 0xffff, &la), GP_VECTOR);
}

static void test_linear_64(void **state)
{
	struct string_io s = { .size = 4, .addr_size = 8, .long64 = true, .seg = { .base = 0, .limit = 0, .ar = AR_DATA_RO } };
	uint64_t la;

	(void)state;
	assert_int_equal(string_io_linear(&s, 0x00007ffffffffffcULL, &la), STRIO_OK);
	assert_int_equal(string_io_linear(&s, 0x00007ffffffffffeULL, &la), GP_VECTOR); /* runs off canonical */
	assert_int_equal(string_io_linear(&s, 0xffff800000000000ULL, &la), STRIO_OK);
	s.seg_is_ss = true;
	assert_int_equal(string_io_linear(&s, 0x0000800000000000ULL, &la), SS_VECTOR);
	/* FS base applies; 32-bit address size truncates the offset only. */
	s.seg.base = 0x100000000ULL;
	s.addr_size = 4;
	assert_int_equal(string_io_linear(&s, 0xffffffff00000010ULL, &la), STRIO_OK);
	assert_int_equal(la, 0x100000010ULL);
}

static void test_reg_updates(void **state)
{
	(void)state;
	/* 16-bit: SI wraps inside 64K and bits 63:16 stay. */
	assert_int_equal(string_io_reg_add(0x12340000ffffULL, 2, 1), 0x123400000000ULL);
	assert_int_equal(string_io_reg_add(0x1234ULL << 16, 2, -2), (0x1234ULL << 16) | 0xfffe);
	/* 32-bit: zero-extends. */
	assert_int_equal(string_io_reg_add(0xdead00000000ffffULL, 4, 4), 0x10003);
	assert_int_equal(string_io_reg_add(0, 4, -1), 0xffffffffULL);
	/* 64-bit. */
	assert_int_equal(string_io_reg_add(0, 8, -4), ~3ULL);
	/* Counts: CX/ECX/RCX by address size; 1 without REP. */
	assert_int_equal(string_io_count(true, 0xabcd0003, 2), 3);
	assert_int_equal(string_io_count(true, 0x1ffffffffULL, 4), 0xffffffffULL);
	assert_int_equal(string_io_count(true, 0x1ffffffffULL, 8), 0x1ffffffffULL);
	assert_int_equal(string_io_count(false, 0, 4), 1);
	assert_int_equal(string_io_count(true, 0x10000, 2), 0);
}

#define DR7_IO(n, len) ((1ULL << (2 * (n))) | (2ULL << (16 + 4 * (n))) | ((uint64_t)(len) << (18 + 4 * (n))))

static void test_io_breakpoints(void **state)
{
	uint64_t dr[4] = { 0x80, 0xf2, 0x3f8, 0x70 };
	uint64_t de = BIT(3);

	(void)state;
	assert_int_equal(io_breakpoint_hits(de, DR7_IO(0, 0), dr, 0x80, 1), 1);
	assert_int_equal(io_breakpoint_hits(0, DR7_IO(0, 0), dr, 0x80, 1), 0);  /* CR4.DE clear */
	assert_int_equal(io_breakpoint_hits(de, DR7_IO(0, 0) & ~3ULL, dr, 0x80, 1), 0); /* not enabled */
	assert_int_equal(io_breakpoint_hits(de, DR7_IO(0, 0), dr, 0x7f, 2), 1); /* an access covering the port */
	assert_int_equal(io_breakpoint_hits(de, DR7_IO(0, 0), dr, 0x81, 1), 0);
	/* Two bytes at 0xf2 (LEN 01) cover 0xf2-0xf3; a global enable counts. */
	assert_int_equal(io_breakpoint_hits(de, (DR7_IO(1, 1) & ~(3ULL << 2)) | (2ULL << 2), dr, 0xf3, 1), 2);
	assert_int_equal(io_breakpoint_hits(de, DR7_IO(1, 1), dr, 0xf4, 1), 0);
	/* LEN 11 (4 bytes) aligns the address down: 0x3f8-0x3fb. */
	dr[2] = 0x3fa;
	assert_int_equal(io_breakpoint_hits(de, DR7_IO(2, 3), dr, 0x3f8, 1), 4);
	/* A data-write breakpoint (R/W 01) on the same address is no I/O breakpoint. */
	assert_int_equal(io_breakpoint_hits(de, 1ULL | (1ULL << 16), dr, 0x80, 1), 0);
	assert_int_equal(io_breakpoint_hits(de, DR7_IO(0, 0) | DR7_IO(3, 0), dr, 0x70, 0x11), 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_decode_prefixes),
		cmocka_unit_test(test_emulated_bytes),
		cmocka_unit_test(test_byte_lane),
		cmocka_unit_test(test_linear_limits),
		cmocka_unit_test(test_linear_expand_down),
		cmocka_unit_test(test_linear_types),
		cmocka_unit_test(test_linear_64),
		cmocka_unit_test(test_reg_updates),
		cmocka_unit_test(test_io_breakpoints),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
