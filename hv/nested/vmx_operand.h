/* The memory operand of an L1 VMX instruction: its linear address from the VM-exit instruction information (pure). */
#ifndef HV_NESTED_VMX_OPERAND_H
#define HV_NESTED_VMX_OPERAND_H

#include "hv/types.h"

/* A segment as the VMCS guest-state area holds it (SDM 24.4.1): access rights in the VMCS format. */
struct vmx_segment {
	uint64_t base;
	uint32_t limit;
	uint32_t ar;
};

enum vmx_seg_reg { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS };

/* What the operand's address depends on, read from the VMCS at the exit. */
struct vmx_operand_ctx {
	uint32_t insn_info;   /* VM-exit instruction information (SDM 28.2.5, Table 28-13) */
	uint64_t displacement;/* the exit qualification: the sign-extended displacement */
	const uint64_t *gpr;  /* L1's 16 general registers, x86 encoding order */
	struct vmx_segment seg[6];
	bool mode64;          /* IA32_EFER.LMA and CS.L: 64-bit mode */
};

/* Fields of the instruction information for VMX instructions (SDM Table 28-13). */
static inline unsigned int vmx_info_reg1(uint32_t info) { return (info >> 3) & 15; }
static inline bool vmx_info_is_reg(uint32_t info) { return info & BIT(10); }
static inline unsigned int vmx_info_reg2(uint32_t info) { return (info >> 28) & 15; }

/* A fault the operand access raises for L1 (vector 0: none). */
struct vmx_operand_fault {
	uint8_t vector;      /* 13 #GP or 12 #SS, error code 0 */
};

/*
 * The linear address of a size-byte memory operand: base + index * scale +
 * displacement truncated to the address size, then the segment (SDM 3.7.5,
 * 5.3): in 64-bit mode only FS/GS bases apply and the address must be
 * canonical; otherwise the segment must be usable, readable (writable for a
 * write) and the whole access within its limit (expand-down handled).
 * A violation is #SS(0) for SS, else #GP(0) (SDM Vol. 3C ch. 31, "Protected
 * Mode Exceptions"). False with *fault set when the access faults.
 */
bool vmx_operand_linear(const struct vmx_operand_ctx *c, unsigned int size, bool write, uint64_t *linear,
			struct vmx_operand_fault *fault);

#endif
