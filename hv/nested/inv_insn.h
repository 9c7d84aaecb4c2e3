/* L1's INVEPT and INVVPID: their checks and what they invalidate (pure), and the EPTP validity rule they share with VM entry. */
#ifndef HV_NESTED_INV_INSN_H
#define HV_NESTED_INV_INSN_H

#include "hv/types.h"
#include "hv/nested/vmx_insn.h"

/*
 * An EPT pointer L1 may use (SDM 25.6.11, 26.2.1.1): a memory type and
 * page-walk length IA32_VMX_EPT_VPID_CAP offers (UC or WB; 4 levels), bit 6
 * (A/D flags) only if offered, bits 11:7 and those at and above MAXPHYADDR
 * clear. The same rule makes INVEPT fail and VM entry fail (7).
 */
bool nested_eptp_valid(uint64_t eptp, uint64_t ept_vpid_cap, unsigned int maxphyaddr);

/* The register operand's types (SDM 31.3). */
enum { NESTED_INVEPT_SINGLE = 1, NESTED_INVEPT_ALL = 2 };
enum { NESTED_INVVPID_ADDR = 0, NESTED_INVVPID_SINGLE = 1, NESTED_INVVPID_ALL = 2, NESTED_INVVPID_SINGLE_GLOBALS = 3 };

/* What the instruction asks the hypervisor to drop. */
enum nested_inv_scope {
	NESTED_INV_NONE,
	NESTED_INV_EPT_SINGLE,   /* mappings derived from one EPTP (eptp) */
	NESTED_INV_EPT_ALL,      /* every EPTP */
	NESTED_INV_VPID_ADDR,    /* one linear address of one VPID (vpid, addr) */
	NESTED_INV_VPID_SINGLE,  /* one VPID, with or without global translations */
	NESTED_INV_VPID_ALL,     /* every VPID but 0 */
};

struct nested_inv {
	bool invvpid;            /* INVVPID, else INVEPT */
	uint64_t type;           /* the register operand (32 bits outside 64-bit mode) */
	uint64_t desc[2];        /* the 128-bit memory operand */
};

struct nested_inv_result {
	struct nested_insn_result r;
	enum nested_inv_scope scope;
	uint64_t eptp;
	uint16_t vpid;
	uint64_t addr;
};

/*
 * SDM 31.3 INVEPT / INVVPID "Operation", after the #UD/#GP checks
 * (nested_insn_fault) and the operand read: an unsupported type, an invalid
 * EPTP, reserved descriptor bits, VPID 0 or a non-canonical address give
 * VMfail(28) -- VMfailInvalid without a current VMCS.
 */
struct nested_inv_result nested_inv_execute(struct nested_vmx *n, uint64_t ept_vpid_cap,
					    const struct nested_inv *inv);

#endif
