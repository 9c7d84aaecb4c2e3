/* Emulation of L1's control-register writes that touch host-owned bits (CR0.NE, CR4.VMXE, ...) and of XSETBV. */
#include "hv/vmx/vmx_internal.h"
#include "hv/vmx/l1_mem.h"
#include "hv/vmx/nested.h"
#include "hv/vmx/vmx_asm.h"
#include "hv/console.h"
#include "hv/mm.h"
#include "hv/string.h"
#include "hv/x86.h"

static inline uint64_t host_read_cr8(void) { uint64_t v; __asm__ volatile("mov %%cr8, %0" : "=r"(v)); return v; }
static inline void host_write_cr8(uint64_t v) { __asm__ volatile("mov %0, %%cr8" : : "r"(v) : "memory"); }

/* Flush L1's linear and combined mappings after an emulated CR write the CPU did not see (SDM 29.4.3.1). */
void vmx_flush_guest_tlb(const struct vcpu *v)
{
	if (!v->vpid)
		return; /* VPID 0: every VM entry and exit already flushes (SDM 29.4.3.1) */
	if (vmx_caps.ept_vpid & VMX_VPID_INVVPID_SINGLE)
		invvpid(INVVPID_SINGLE_CONTEXT, v->vpid, 0);
	else
		invvpid(INVVPID_ALL_CONTEXT, 0, 0);
}

/*
 * PAE paging without long mode: with EPT the CPU takes the PDPTEs from the
 * VMCS on entry (SDM 26.3.2.4), so a CR write the CPU did not execute loads
 * them here, as the CPU would (SDM 4.4.1): a present PDPTE with reserved
 * bits set makes the MOV #GP (false, nothing loaded) rather than fail the
 * VM entry. Only L1 RAM is read (l1_mem.c): the hypervisor's memory is not
 * L1's and MMIO is not the hypervisor's to read; not-present PDPTEs then
 * give L1 a #PF instead.
 */
static bool read_pdptes(uint64_t cr3, uint64_t pdpte[4])
{
	if (l1_read_phys(cr3 & 0xffffffe0ULL, pdpte, 4 * sizeof(pdpte[0])) != L1_MEM_OK)
		memset(pdpte, 0, 4 * sizeof(pdpte[0]));
	return emulate_pdptes_valid(pdpte, vmx_max_phys_addr_bits());
}

static void load_pdptes(const uint64_t pdpte[4])
{
	vmcs_write(GUEST_PDPTE0, pdpte[0]);
	vmcs_write(GUEST_PDPTE1, pdpte[1]);
	vmcs_write(GUEST_PDPTE2, pdpte[2]);
	vmcs_write(GUEST_PDPTE3, pdpte[3]);
}

/* 64-bit mode: IA-32e mode active and CS.L (SDM 2.2.1). */
static bool in_64bit_mode(void)
{
	return (vmcs_read(GUEST_IA32_EFER) & X86_EFER_LMA) && (vmcs_read(GUEST_CS_AR_BYTES) & BIT(13));
}

/* MOV to CR0: the checks and IA-32e (de)activation are emulate_cr0_write's; this applies them to vmcs01. */
static bool apply_cr0_write(struct vcpu *v, uint64_t val)
{
	uint64_t old = vmx_guest_cr(GUEST_CR0, CR0_READ_SHADOW, v->cr0_mask);
	uint64_t cr4 = vmx_guest_cr(GUEST_CR4, CR4_READ_SHADOW, v->cr4_mask);
	uint64_t efer = vmcs_read(GUEST_IA32_EFER), pdpte[4];
	bool new_pdptes = false;

	if (!emulate_cr0_write(old, val, cr4, in_64bit_mode(), &efer))
		return false;
	if (emulate_pdpte_load(old, val, cr4, cr4, efer)) {
		if (!read_pdptes(vmcs_read(GUEST_CR3), pdpte))
			return false;
		new_pdptes = true;
	}
	/* The IA-32e mode guest entry control must follow EFER.LMA (SDM 26.3.1.1). */
	v->ctl.entry = (efer & X86_EFER_LMA) ? v->ctl.entry | VM_ENTRY_IA32E_MODE
					     : v->ctl.entry & ~(uint32_t)VM_ENTRY_IA32E_MODE;
	vmcs_write(GUEST_IA32_EFER, efer);
	vmcs_write(VM_ENTRY_CONTROLS, v->ctl.entry);
	vmcs_write(CR0_READ_SHADOW, val);
	vmcs_write(GUEST_CR0, vmx_apply_fixed(val, vmx_caps.cr0_fixed0 & v->cr0_mask, vmx_caps.cr0_fixed1));
	if (new_pdptes)
		load_pdptes(pdpte);
	vmx_flush_guest_tlb(v);
	return true;
}

static bool apply_cr4_write(struct vcpu *v, uint64_t val)
{
	uint64_t cr0 = vmx_guest_cr(GUEST_CR0, CR0_READ_SHADOW, v->cr0_mask);
	uint64_t old = vmx_guest_cr(GUEST_CR4, CR4_READ_SHADOW, v->cr4_mask);
	uint64_t efer = vmcs_read(GUEST_IA32_EFER), pdpte[4];
	bool new_pdptes = emulate_pdpte_load(cr0, cr0, old, val, efer);

	if (!emulate_cr4_write(val, efer, vmx_caps.cr4_fixed1, vmx_l1_offer.cr4_vmxe_allowed,
			       v->nested && v->nested->vmx.vmxon))
		return false;
	if (new_pdptes && !read_pdptes(vmcs_read(GUEST_CR3), pdpte))
		return false;
	vmcs_write(CR4_READ_SHADOW, val);
	vmcs_write(GUEST_CR4, vmx_apply_fixed(val, vmx_caps.cr4_fixed0, vmx_caps.cr4_fixed1));
	if (new_pdptes)
		load_pdptes(pdpte);
	vmx_flush_guest_tlb(v);
	return true;
}

/* CR3 exits only on CPUs without true controls, where CR3-load/store exiting are forced on (SDM A.3.2). */
static bool apply_cr3_write(struct vcpu *v, uint64_t val)
{
	uint64_t cr0 = vmx_guest_cr(GUEST_CR0, CR0_READ_SHADOW, v->cr0_mask);
	uint64_t cr4 = vmx_guest_cr(GUEST_CR4, CR4_READ_SHADOW, v->cr4_mask), pdpte[4];
	bool pae = emulate_pae_paging(cr0, cr4, vmcs_read(GUEST_IA32_EFER));

	if (pae && !read_pdptes(val, pdpte))
		return false;
	vmcs_write(GUEST_CR3, val);
	if (pae)
		load_pdptes(pdpte);
	vmx_flush_guest_tlb(v);
	return true;
}

static bool mov_to_cr(struct vcpu *v, unsigned int cr, uint64_t val)
{
	switch (cr) {
	case 0: return apply_cr0_write(v, val);
	case 3: return apply_cr3_write(v, val);
	case 4: return apply_cr4_write(v, val);
	case 8: /* only with forced CR8 exiting: L1 owns its APIC's TPR; checked so the host write cannot fault */
		if (!emulate_cr8_write_ok(val))
			return false;
		host_write_cr8(val);
		return true;
	default: return false;
	}
}

static uint64_t mov_from_cr(const struct vcpu *v, unsigned int cr)
{
	switch (cr) {
	case 0: return vmx_guest_cr(GUEST_CR0, CR0_READ_SHADOW, v->cr0_mask);
	case 3: return vmcs_read(GUEST_CR3);
	case 4: return vmx_guest_cr(GUEST_CR4, CR4_READ_SHADOW, v->cr4_mask);
	default: return host_read_cr8();
	}
}

/* Exit qualification for control-register accesses, SDM 28.2.1 (Table 28-3). */
void handle_cr_access(struct vcpu *v, struct guest_regs *r)
{
	uint64_t q = vmcs_read(EXIT_QUALIFICATION);
	unsigned int cr = q & 0xf, type = (q >> 4) & 3, gpr = (q >> 8) & 0xf;
	uint64_t cr0;
	bool ok = true;

	switch (type) {
	case 0: /* MOV to CR */
		ok = mov_to_cr(v, cr, vmx_guest_gpr(r, gpr));
		break;
	case 1: /* MOV from CR */
		vmx_set_guest_gpr(r, gpr, mov_from_cr(v, cr));
		break;
	case 2: /* CLTS */
		cr0 = vmx_guest_cr(GUEST_CR0, CR0_READ_SHADOW, v->cr0_mask);
		ok = apply_cr0_write(v, cr0 & ~X86_CR0_TS);
		break;
	default: /* LMSW: loads PE, MP, EM, TS; cannot clear PE (SDM LMSW) */
		cr0 = vmx_guest_cr(GUEST_CR0, CR0_READ_SHADOW, v->cr0_mask);
		ok = apply_cr0_write(v, (cr0 & ~0xeULL) | ((q >> 16) & 0xf) | (cr0 & X86_CR0_PE));
		break;
	}
	if (ok)
		vmx_skip_instruction();
	else
		vmx_inject_hw_exception(GP_VECTOR, true, 0);
}

/* XSETBV always exits (SDM 25.1.2): checked as the SDM's XSETBV operation says, then executed by the host for L1. */
void handle_xsetbv(struct vcpu *v, struct guest_regs *r)
{
	uint64_t val = (r->rdx << 32) | (uint32_t)r->rax;
	uint32_t a, b, c, d;
	unsigned int cpl = (unsigned int)(vmcs_read(GUEST_SS_AR_BYTES) >> 5) & 3;

	(void)v;
	cpuid(0xd, 0, &a, &b, &c, &d);
	if (!emulate_xsetbv_ok(cpl, (uint32_t)r->rcx, val, ((uint64_t)d << 32) | a)) {
		vmx_inject_hw_exception(GP_VECTOR, true, 0);
		return;
	}
	__asm__ volatile("xsetbv" : : "a"((uint32_t)val), "d"((uint32_t)(val >> 32)), "c"(0));
	vmx_skip_instruction();
}
