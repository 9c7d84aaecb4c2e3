/* The decisions behind L1's port I/O exits: decoding, which bytes are the hypervisor's, string I/O steps, I/O breakpoints (pure). */
#ifndef HV_VMX_IO_EMUL_H
#define HV_VMX_IO_EMUL_H

#include "hv/types.h"

/* Segment registers in the encoding of instruction information (SDM Table 28-8) and of the VMCS fields. */
enum io_seg { IO_SEG_ES, IO_SEG_CS, IO_SEG_SS, IO_SEG_DS, IO_SEG_FS, IO_SEG_GS };

/* One I/O exit: the exit qualification (SDM Table 28-5) and, for INS/OUTS, the instruction information (Table 28-8). */
struct io_exit {
	uint16_t port;
	unsigned int size;      /* 1, 2 or 4 bytes */
	bool in, string, rep;
	unsigned int addr_size; /* string only: 2, 4 or 8 bytes */
	enum io_seg seg;        /* string only: OUTS's source segment; INS always writes through ES */
};

void io_exit_decode(uint64_t qualification, uint32_t insn_info, struct io_exit *io);

/*
 * Without "INS/OUTS instruction information" (IA32_VMX_BASIC bit 54) the
 * address size and segment come from the instruction's prefixes. cs_bits is
 * 16, 32 or 64 (CS.D, CS.L). False if the bytes are not an INS/OUTS.
 */
bool io_decode_string_prefixes(const uint8_t *insn, size_t len, unsigned int cs_bits, struct io_exit *io);

/* The ports the hypervisor answers itself: the test-exit device and the POST-code port. */
#define IO_TEST_EXIT_PORT     0xf4 /* QEMU isa-debug-exit convention, 4 ports wide */
#define IO_TEST_EXIT_PORT_END 0xf8
#define IO_POST_CODE_PORT     0x80

/*
 * Bit i set: byte i of an access of size bytes at port (port + i, wrapping
 * at 64 Ki) is a port the hypervisor emulates. SDM 25.1.3 exits on any byte
 * of an access whose bitmap bit is set, so every byte is checked, not only
 * the first port. Inline: it is on the intercepted-I/O fast path.
 */
static inline unsigned int io_emulated_bytes(uint16_t port, unsigned int size)
{
	unsigned int mask = 0;

	for (unsigned int i = 0; i < size; i++) {
		uint16_t p = (uint16_t)(port + i);

		if (p == IO_POST_CODE_PORT || (p >= IO_TEST_EXIT_PORT && p < IO_TEST_EXIT_PORT_END))
			mask |= 1u << i;
	}
	return mask;
}

/* Does an access of size bytes at port cover port at? */
static inline bool io_covers(uint16_t port, unsigned int size, uint16_t at)
{
	return (uint16_t)(at - port) < size;
}

/* The byte a write of size bytes at port puts on port at (the watched PM1a control register), or -1 if it does not cover it. */
int io_write_byte_at(uint16_t port, unsigned int size, uint32_t value, uint16_t at);

/* A segment as the VMCS holds it (access rights in the VMCS format, SDM 25.4.1). */
struct io_segment {
	uint64_t base;
	uint32_t limit; /* byte granular */
	uint32_t ar;
};

/* What one iteration of INS/OUTS needs to know about the CPU's mode. */
struct string_io {
	unsigned int size, addr_size;
	bool write;          /* INS: the element is stored; OUTS: it is loaded */
	bool long64;         /* 64-bit mode (CS.L with IA-32e) */
	bool protected_mode; /* CR0.PE and not virtual-8086: segment types are checked */
	bool seg_is_ss;      /* limit faults are #SS rather than #GP */
	struct io_segment seg;
};

/* The linear address of the element at offset (the RSI/RDI value), or the fault vector (GP_VECTOR or SS_VECTOR, error code 0). */
enum { STRIO_OK = -1 };
int string_io_linear(const struct string_io *s, uint64_t offset_reg, uint64_t *linear);

/* A register after adding delta at this address size: 16-bit keeps bits 63:16, 32-bit zero-extends (SDM 3.4.1.1). */
uint64_t string_io_reg_add(uint64_t reg, unsigned int addr_size, int64_t delta);

/* The iteration count (CX, ECX or RCX) REP uses; 1 without REP. */
uint64_t string_io_count(bool rep, uint64_t rcx, unsigned int addr_size);

/*
 * DR6 B0-B3 of the I/O breakpoints an access of size bytes at port hits
 * (SDM 17.2.4-17.2.5): CR4.DE set, breakpoint enabled (Ln or Gn), R/Wn =
 * 10b, and the breakpoint's LENn-aligned range overlapping the access.
 */
uint32_t io_breakpoint_hits(uint64_t cr4, uint64_t dr7, const uint64_t dr[4], uint16_t port, unsigned int size);

#endif
