/* The decisions behind emulated instructions (CR writes, XSETBV, IN results): pure, so the host tests check them. */
#include "hv/vmx/vmx_internal.h"
#include "hv/x86.h"

/*
 * MOV to CR0, SDM Vol. 2B "MOV-Move to/from Control Registers" and 9.8.5:
 * #GP for bits 63:32, PG without PE, NW without CD, and turning paging on
 * with EFER.LME but without CR4.PAE. Turning paging on with LME activates
 * IA-32e mode (EFER.LMA); turning it off deactivates it.
 */
bool emulate_cr0_write(uint64_t old_cr0, uint64_t val, uint64_t cr4, uint64_t *efer)
{
	if ((val >> 32) || ((val & X86_CR0_PG) && !(val & X86_CR0_PE)) ||
	    ((val & X86_CR0_NW) && !(val & X86_CR0_CD)))
		return false;
	if ((val & X86_CR0_PG) && !(old_cr0 & X86_CR0_PG) && (*efer & X86_EFER_LME)) {
		if (!(cr4 & X86_CR4_PAE))
			return false;
		*efer |= X86_EFER_LMA;
	} else if (!(val & X86_CR0_PG) && (old_cr0 & X86_CR0_PG)) {
		*efer &= ~X86_EFER_LMA;
	}
	return true;
}

/*
 * MOV to CR4: VMXE only when nested VMX is offered, and it cannot be
 * cleared in VMX operation (SDM 24.8: #GP); bits VMX operation cannot hold
 * are reserved; PAE stays on in IA-32e mode.
 */
bool emulate_cr4_write(uint64_t val, uint64_t efer, uint64_t cr4_fixed1, bool vmxe_allowed, bool in_vmx_operation)
{
	bool vmxe = val & X86_CR4_VMXE;

	if ((vmxe && !vmxe_allowed) || (!vmxe && in_vmx_operation))
		return false;
	return !(val & ~(cr4_fixed1 | X86_CR4_VMXE)) && (!(efer & X86_EFER_LMA) || (val & X86_CR4_PAE));
}

/* PAE paging outside IA-32e mode: the one mode whose PDPTEs the CPU takes from the VMCS (SDM 26.3.2.4). */
bool emulate_pae_paging(uint64_t cr0, uint64_t cr4, uint64_t efer)
{
	return (cr0 & X86_CR0_PG) && (cr4 & X86_CR4_PAE) && !(efer & X86_EFER_LMA);
}

/* XSETBV, SDM Vol. 2C: #GP unless CPL 0, ECX 0, x87 on, AVX needs SSE, AVX-512 state all or nothing and with AVX. */
bool emulate_xsetbv_ok(unsigned int cpl, uint32_t ecx, uint64_t val, uint64_t supported)
{
	uint64_t avx512 = val & 0xe0;

	if (cpl != 0 || ecx != 0 || !(val & 1) || (val & ~supported))
		return false;
	if ((val & 4) && !(val & 2))
		return false;
	return !avx512 || (avx512 == 0xe0 && (val & 4));
}

/* The RAX an IN leaves: 8- and 16-bit results merge, a 32-bit result zero-extends (SDM 3.4.1.1). */
uint64_t emulate_in_result(uint64_t rax, unsigned int size, uint32_t val)
{
	if (size == 4)
		return val;
	if (size == 2)
		return (rax & ~0xffffULL) | (val & 0xffff);
	return (rax & ~0xffULL) | (val & 0xff);
}

/*
 * Exceptions of the fault class (SDM 6.5, Table 6-1): the processor pushes
 * EFLAGS with RF set for them (SDM 6.12.1, 17.3.1.1), so that a restarted
 * instruction does not hit its instruction breakpoint again. #DB counts as a
 * trap here: the hypervisor only injects the trap-like ones (the TSS T flag).
 */
bool emulate_exception_is_fault(unsigned int vector)
{
	switch (vector) {
	case DE_VECTOR: case BR_VECTOR: case UD_VECTOR: case NM_VECTOR: case TS_VECTOR: case NP_VECTOR:
	case SS_VECTOR: case GP_VECTOR: case PF_VECTOR: case MF_VECTOR: case AC_VECTOR: case XM_VECTOR:
	case VE_VECTOR: case CP_VECTOR:
		return true;
	default:
		return false;
	}
}
