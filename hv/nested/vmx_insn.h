/* L1's VMX instructions (VMXON ... VMRESUME): their operation as the SDM's pseudo-code states it, on a cached vmcs12 (pure). */
#ifndef HV_NESTED_VMX_INSN_H
#define HV_NESTED_VMX_INSN_H

/*
 * The wiring (hv/vmx) turns an L1 VM exit for a VMX instruction into calls
 * here, in the SDM's order (Vol. 3C ch. 31, each instruction's "Operation"):
 *
 *   1. f = nested_insn_fault(n, op, &l1)   #UD and #GP(0) conditions the
 *                                          hardware left to us (the CPU
 *                                          already took the #UD cases that
 *                                          do not depend on VMX state).
 *   2. read the 64-bit memory operand (or the registers) through the
 *      checked accessor; a fault there goes to L1.
 *   3. r = nested_insn_execute(n, &insn)   the operation itself: VMsucceed,
 *                                          VMfailInvalid or VMfailValid(n),
 *                                          a value to store (VMPTRST,
 *                                          VMREAD to memory), or "enter L2".
 *   4. store the value if any, set RFLAGS with vmx_result_rflags(), skip
 *      the instruction (or enter L2).
 *
 * vmcs12 lives in L1's memory at the VMPTRLD address, but every VMREAD and
 * VMWRITE acts on the cached copy in struct nested_vmx: L1's page is read
 * once at VMPTRLD and written back at VMCLEAR, at a VMPTRLD of another
 * VMCS and at VMXOFF (so L1 changing the page under us is never a
 * check-then-use race). The launch state is kept in the region itself
 * (struct vmcs12.launch_state), so any number of VMCSs can be active.
 */

#include "hv/types.h"
#include "hv/nested/vmcs12.h"

#define NESTED_NO_VMCS (~0ULL)

/* L1's memory, through the hypervisor's one checked accessor (false: not L1 RAM, nothing touched). */
struct nested_mem_ops {
	bool (*read_phys)(void *ctx, uint64_t gpa, void *buf, size_t len);
	bool (*write_phys)(void *ctx, uint64_t gpa, const void *buf, size_t len);
	void *ctx;
};

/* L1's VMX operation: allocated when L1 first executes VMXON. */
struct nested_vmx {
	bool vmxon;                /* L1 is in VMX operation (its root mode) */
	uint64_t vmxon_ptr;
	uint64_t current_vmptr;    /* NESTED_NO_VMCS when invalid */
	uint32_t revision;         /* the VMCS revision identifier L1 is offered */
	unsigned int maxphyaddr;   /* L1's physical-address width */
	uint32_t features;         /* enum vmcs12_feature: which fields exist for L1 */
	bool vmwrite_any_field;    /* IA32_VMX_MISC[29] as offered */
	struct nested_mem_ops mem;
	struct vmcs12 vmcs12;      /* the cache of the current VMCS */
};

enum nested_insn_op {
	NESTED_VMXON, NESTED_VMXOFF, NESTED_VMCLEAR, NESTED_VMPTRLD, NESTED_VMPTRST,
	NESTED_VMREAD, NESTED_VMWRITE, NESTED_VMLAUNCH, NESTED_VMRESUME,
	NESTED_INVEPT, NESTED_INVVPID, /* checks here, operation in inv_insn.c */
};

/* L1's state at the instruction, as far as the #UD/#GP conditions need it. */
struct nested_l1_state {
	unsigned int cpl;
	bool cr4_vmxe;          /* as L1 believes it (read shadow) */
	bool cr_fixed_ok;       /* L1's CR0/CR4 satisfy the fixed bits it is offered (VMXON) */
	bool feature_control_ok;/* IA32_FEATURE_CONTROL locked with VMX outside SMX (VMXON) */
	bool mov_ss_blocking;   /* VMLAUNCH/VMRESUME: VMfailValid 26 */
};

/* Vector of the fault to give L1 before the operation (0: none). */
uint8_t nested_insn_fault(const struct nested_vmx *n, enum nested_insn_op op, const struct nested_l1_state *l1);

/* The decoded operands. */
struct nested_insn {
	enum nested_insn_op op;
	uint64_t pointer;      /* VMXON, VMCLEAR, VMPTRLD: the 64-bit memory operand */
	uint64_t field;        /* VMREAD/VMWRITE: the field-encoding register (all its bits) */
	uint64_t value;        /* VMWRITE: the source operand, zero-extended */
	bool long_mode;        /* 64-bit mode: operands are 64 bits wide */
	bool mov_ss_blocking;
};

enum nested_outcome { VMX_SUCCEED, VMX_FAIL_INVALID, VMX_FAIL_VALID };

struct nested_insn_result {
	enum nested_outcome outcome;
	uint32_t error;        /* VM-instruction error for VMfailValid (also written into vmcs12) */
	bool store;            /* VMPTRST, VMREAD: store value to the destination operand */
	uint64_t value;
	bool enter_l2;         /* VMLAUNCH/VMRESUME passed the pre-entry checks: check vmcs12 and enter */
};

struct nested_insn_result nested_insn_execute(struct nested_vmx *n, const struct nested_insn *insn);

/* RFLAGS after a VMX instruction (SDM 31.2): CF, PF, AF, ZF, SF, OF set by the outcome. */
uint64_t vmx_result_rflags(uint64_t rflags, enum nested_outcome outcome);

/* Write the cached vmcs12 back to L1's memory (VMXOFF, switches; also before L1 may look at it). */
void nested_vmcs12_flush(struct nested_vmx *n);
/*
 * Does the instruction read or write L2's rare state in vmcs12 (a VMREAD or
 * VMWRITE of a VMCS12_RARE_LIST field), or flush or leave vmcs12 (VMCLEAR,
 * VMPTRLD, VMXOFF)? Then the wiring copies it from vmcs02 first.
 */
bool nested_insn_needs_rare(const struct nested_insn *insn);

#endif
