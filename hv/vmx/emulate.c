/* The decisions behind emulated instructions (CR writes, XSETBV, IN results): pure, so the host tests check them. */
#include "hv/vmx/vmx_internal.h"
#include "hv/x86.h"

/*
 * MOV to CR0, SDM Vol. 2B "MOV-Move to/from Control Registers" and 9.8.5:
 * #GP for bits 63:32, PG without PE, NW without CD, turning paging on with
 * EFER.LME but without CR4.PAE, clearing PG in 64-bit mode (CS.L) or with
 * CR4.PCIDE (SDM 4.10.1), and clearing WP with CR4.CET (SDM 2.5). Turning
 * paging on with LME activates IA-32e mode (EFER.LMA); turning it off (from
 * compatibility mode) deactivates it.
 */
bool emulate_cr0_write(uint64_t old_cr0, uint64_t val, uint64_t cr4, bool cs_long, uint64_t *efer)
{
	bool clears_pg = !(val & X86_CR0_PG) && (old_cr0 & X86_CR0_PG);

	if ((val >> 32) || ((val & X86_CR0_PG) && !(val & X86_CR0_PE)) ||
	    ((val & X86_CR0_NW) && !(val & X86_CR0_CD)))
		return false;
	if (clears_pg && (cs_long || (cr4 & X86_CR4_PCIDE)))
		return false;
	if (!(val & X86_CR0_WP) && (cr4 & X86_CR4_CET))
		return false;
	if ((val & X86_CR0_PG) && !(old_cr0 & X86_CR0_PG) && (*efer & X86_EFER_LME)) {
		if (!(cr4 & X86_CR4_PAE))
			return false;
		*efer |= X86_EFER_LMA;
	} else if (clears_pg) {
		*efer &= ~X86_EFER_LMA;
	}
	return true;
}

/* MOV to CR4: VMXE stays hidden (no VT-x for L1), bits VMX operation cannot hold are reserved, PAE stays on in IA-32e mode. */
bool emulate_cr4_write(uint64_t val, uint64_t efer, uint64_t cr4_fixed1)
{
	return !(val & X86_CR4_VMXE) && !(val & ~cr4_fixed1) && (!(efer & X86_EFER_LMA) || (val & X86_CR4_PAE));
}

/* PAE paging outside IA-32e mode: the one mode whose PDPTEs the CPU takes from the VMCS (SDM 26.3.2.4). */
bool emulate_pae_paging(uint64_t cr0, uint64_t cr4, uint64_t efer)
{
	return (cr0 & X86_CR0_PG) && (cr4 & X86_CR4_PAE) && !(efer & X86_EFER_LMA);
}

/*
 * SDM 4.4.1: with PAE paging the result, MOV to CR0 or CR4 loads the PDPTEs
 * when it changes CR0.CD, NW or PG, or CR4.PAE, PGE, PSE or SMEP; other
 * changes (TS, say) keep the PDPTEs the CPU holds.
 */
bool emulate_pdpte_load(uint64_t old_cr0, uint64_t cr0, uint64_t old_cr4, uint64_t cr4, uint64_t efer)
{
	uint64_t cr0_bits = X86_CR0_CD | X86_CR0_NW | X86_CR0_PG;
	uint64_t cr4_bits = X86_CR4_PAE | X86_CR4_PGE | X86_CR4_PSE | X86_CR4_SMEP;

	return emulate_pae_paging(cr0, cr4, efer) && (((old_cr0 ^ cr0) & cr0_bits) || ((old_cr4 ^ cr4) & cr4_bits));
}

/* A present PDPTE with bits 2:1, 8:5 or 63:MAXPHYADDR set makes the load #GP (SDM 4.4.1, Table 4-8). */
bool emulate_pdptes_valid(const uint64_t pdpte[4], unsigned int maxphyaddr)
{
	uint64_t reserved = 0x1e6ULL | ~((1ULL << maxphyaddr) - 1);

	for (int i = 0; i < 4; i++)
		if ((pdpte[i] & 1) && (pdpte[i] & reserved))
			return false;
	return true;
}

/*
 * Is the single-step #DB owed after an emulated instruction (SDM 17.3.1.4)?
 * With IA32_DEBUGCTL.BTF, TF traps only on branches, interrupts and
 * exceptions (SDM 17.4.3), and none of the hypervisor's emulated
 * instructions is a branch; pending BS with BTF set would also fail the VM
 * entry in the HLT state (SDM 26.3.1.5).
 */
bool emulate_single_step_due(uint64_t rflags, uint64_t debugctl, bool branch)
{
	return (rflags & X86_RFLAGS_TF) && (branch || !(debugctl & DEBUGCTL_BTF));
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
