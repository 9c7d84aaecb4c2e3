/* The decisions behind emulated instructions (CR writes, XSETBV, APIC MSR writes, IN results): pure, so the host tests check them. */
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

/* XCR0 state components, SDM Vol. 1 13.3. */
#define XCR0_X87      BIT(0)
#define XCR0_SSE      BIT(1)
#define XCR0_AVX      BIT(2)
#define XCR0_BNDREGS  BIT(3)
#define XCR0_BNDCSR   BIT(4)
#define XCR0_AVX512   (BIT(5) | BIT(6) | BIT(7)) /* opmask, ZMM_Hi256, Hi16_ZMM */
#define XCR0_TILECFG  BIT(17)
#define XCR0_TILEDATA BIT(18)

/* Whether a group of XCR0 bits is all set or all clear. */
static bool all_or_none(uint64_t val, uint64_t group)
{
	return (val & group) == 0 || (val & group) == group;
}

/*
 * The XCR0 values XSETBV accepts (SDM Vol. 2C XSETBV, Vol. 1 13.3): only
 * supported components, x87 always on, AVX only with SSE, MPX's BNDREGS and
 * BNDCSR together, AVX-512's three components together and only with AVX,
 * AMX's TILECFG and TILEDATA together. The CPU #GPs on anything else, so
 * the hypervisor's own XSETBV of this value cannot fault.
 */
bool emulate_xcr0_valid(uint64_t val, uint64_t supported)
{
	if ((val & ~supported) || !(val & XCR0_X87))
		return false;
	if ((val & XCR0_AVX) && !(val & XCR0_SSE))
		return false;
	if (!all_or_none(val, XCR0_BNDREGS | XCR0_BNDCSR) || !all_or_none(val, XCR0_TILECFG | XCR0_TILEDATA))
		return false;
	return !(val & XCR0_AVX512) || ((val & XCR0_AVX512) == XCR0_AVX512 && (val & XCR0_AVX));
}

/* XSETBV, SDM Vol. 2C: #GP unless CPL 0, ECX 0 (XCR0) and a valid XCR0 value. */
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
	return cpl == 0 && ecx == 0 && emulate_xcr0_valid(val, supported);
}

/* MOV to CR8 (SDM Vol. 2B "MOV-Move to/from Control Registers"): bits 63:4 are reserved, #GP if set. */
bool emulate_cr8_write_ok(uint64_t val)
{
	return (val >> 4) == 0;
}

#define APIC_BASE_EXTD BIT(10)
#define APIC_BASE_EN   BIT(11)

/*
 * WRMSR to IA32_APIC_BASE (SDM 11.4.4, 11.12.5 and its Figure "Local x2APIC
 * State Transitions"): bits 7:0 and 9, and the address bits from MAXPHYADDR
 * up, are reserved (bit 8, the BSP flag, is not: a write of it is ignored);
 * EXTD is reserved without x2APIC (CPUID.1:ECX[21]). Of the mode changes,
 * EXTD without EN is invalid, and x2APIC is reached only from xAPIC and left
 * only by disabling the APIC. Each of these is a #GP.
 */
bool emulate_apic_base_write_ok(uint64_t old, uint64_t val, unsigned int maxphyaddr, bool x2apic_supported)
{
	uint64_t above = maxphyaddr < 64 ? ~((1ULL << maxphyaddr) - 1) : 0;
	uint64_t reserved = 0xffULL | BIT(9) | (x2apic_supported ? 0 : APIC_BASE_EXTD) | above;
	uint64_t modes = APIC_BASE_EN | APIC_BASE_EXTD;
	uint64_t from = old & modes, to = val & modes;

	if (val & reserved)
		return false;
	if (to == from)
		return true;
	if (to == APIC_BASE_EXTD)
		return false;
	if (to == modes && from != APIC_BASE_EN)
		return false; /* disabled -> x2APIC */
	return !(from == modes && to == APIC_BASE_EN); /* x2APIC -> xAPIC */
}

/*
 * WRMSR to the x2APIC ICR (SDM 11.12.9, Figure "Interrupt Command Register
 * (ICR) in x2APIC Mode"): bits 13, 17:16 and 31:20 are reserved and #GP
 * when set. Bit 12 (the delivery status of xAPIC mode) is reserved too, but
 * Intel CPUs ignore it rather than fault, so it is let through.
 */
bool emulate_x2apic_icr_write_ok(uint64_t val)
{
	return (val & (BIT(13) | BIT(16) | BIT(17) | 0xfff00000ULL)) == 0;
}

/*
 * CR0 after INIT (SDM Vol. 3A 10.1.1, Table 10-1): ET set, CD and NW
 * unchanged, every other bit clear. Only power-up and RESET set CD and NW
 * (60000010H); an INIT leaves the caches as software configured them.
 */
uint64_t emulate_cr0_after_init(uint64_t cr0_before)
{
	return (cr0_before & (X86_CR0_CD | X86_CR0_NW)) | X86_CR0_ET;
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
