/* Loading vmcs12's host-state area into L1 at a synthesized VM exit (SDM 27.5.1-27.5.3). */
#include "hv/nested/host_state.h"
#include "hv/vmx/vmx_defs.h"
#include "hv/x86.h"

/* Segment access rights in the VMCS format (SDM 24.4.1). */
#define AR_UNUSABLE   BIT(16)
#define AR_CODE_64    (0xb | BIT(4) | BIT(7) | BIT(13) | BIT(15))          /* exec/read accessed, S, P, L, G */
#define AR_CODE_32    (0xb | BIT(4) | BIT(7) | BIT(14) | BIT(15))          /* ... D instead of L */
#define AR_DATA       (0x3 | BIT(4) | BIT(7) | BIT(14) | BIT(15))          /* read/write accessed, S, P, B, G */
#define AR_TSS_BUSY   (0xb | BIT(7))                                       /* busy TSS, P */

/* The CR0 bits a VM exit leaves as they were (SDM 27.5.1). */
#define CR0_KEPT (X86_CR0_ET | X86_CR0_CD | X86_CR0_NW | 0xffffffff00000000ULL | 0x1ff80000ULL | BIT(17) | 0xffc0ULL)

uint64_t nested_host_cr0(uint64_t host_cr0, uint64_t l2_cr0)
{
	return (host_cr0 & ~CR0_KEPT) | (l2_cr0 & CR0_KEPT);
}

static void put(struct l1_host_load *out, uint32_t enc, uint64_t val)
{
	vmcs_batch_put(&out->plain, enc, val);
}

/* CR4.PAE is set by a 64-bit host; CR4.PCIDE is loaded, so a 32-bit host clears it (SDM 27.5.1). */
static uint64_t host_cr4(const struct vmcs12 *v, const struct l2_at_exit *l2, bool host64)
{
	uint64_t cr4 = v->host_cr4 | l2->cr4_fixed0;

	return host64 ? cr4 | X86_CR4_PAE : cr4 & ~(uint64_t)X86_CR4_PCIDE;
}

/* IA32_EFER (SDM 27.5.1): loaded under "load IA32_EFER", else LMA and LME follow the host address-space size. */
static uint64_t host_efer(const struct vmcs12 *v, const struct l2_at_exit *l2, bool host64)
{
	uint64_t efer = l2->efer & ~(uint64_t)(X86_EFER_LMA | X86_EFER_LME);

	if (v->vm_exit_controls & VM_EXIT_LOAD_IA32_EFER)
		return v->host_ia32_efer;
	return host64 ? efer | X86_EFER_LMA | X86_EFER_LME : efer;
}

/*
 * The rest of the control registers and MSRs; "load IA32_PERF_GLOBAL_CTRL"
 * is never offered (vmx_policy.c), so the entry checks refused it already.
 */
static void load_control_registers(const struct vmcs12 *v, struct l1_host_load *out)
{
	put(out, GUEST_CR3, v->host_cr3);
	put(out, GUEST_DR7, 0x400);
	put(out, GUEST_IA32_DEBUGCTL, 0);
	put(out, GUEST_SYSENTER_CS, v->host_ia32_sysenter_cs);
	put(out, GUEST_SYSENTER_ESP, v->host_ia32_sysenter_esp);
	put(out, GUEST_SYSENTER_EIP, v->host_ia32_sysenter_eip);
	out->load_pat = v->vm_exit_controls & VM_EXIT_LOAD_IA32_PAT;
	out->pat = v->host_ia32_pat;
}

static void load_segment(struct l1_host_load *out, uint32_t idx, uint16_t sel, uint64_t base, uint32_t ar)
{
	put(out, GUEST_ES_SELECTOR + 2 * idx, sel);
	put(out, GUEST_ES_BASE + 2 * idx, base);
	put(out, GUEST_ES_LIMIT + 2 * idx, 0xffffffff);
	put(out, GUEST_ES_AR_BYTES + 2 * idx, ar);
}

/* SDM 27.5.2: selectors from the host fields; flat attributes; a null data selector leaves its register unusable. */
static void load_segments(const struct vmcs12 *v, bool host64, struct l1_host_load *out)
{
	const uint16_t data_sel[6] = { v->host_es_selector, 0, v->host_ss_selector, v->host_ds_selector,
				       v->host_fs_selector, v->host_gs_selector };
	const uint64_t base[6] = { 0, 0, 0, 0, v->host_fs_base, v->host_gs_base };

	for (uint32_t i = 0; i < 6; i++) {
		if (i == 1)
			load_segment(out, i, v->host_cs_selector, 0, host64 ? AR_CODE_64 : AR_CODE_32);
		else
			load_segment(out, i, data_sel[i], base[i], data_sel[i] ? AR_DATA : AR_DATA | AR_UNUSABLE);
	}
	put(out, GUEST_TR_SELECTOR, v->host_tr_selector);
	put(out, GUEST_TR_BASE, v->host_tr_base);
	put(out, GUEST_TR_LIMIT, 0x67);
	put(out, GUEST_TR_AR_BYTES, AR_TSS_BUSY);
	put(out, GUEST_LDTR_SELECTOR, 0);
	put(out, GUEST_LDTR_BASE, 0);
	put(out, GUEST_LDTR_LIMIT, 0);
	put(out, GUEST_LDTR_AR_BYTES, AR_UNUSABLE);
	put(out, GUEST_GDTR_BASE, v->host_gdtr_base);
	put(out, GUEST_GDTR_LIMIT, 0xffff);
	put(out, GUEST_IDTR_BASE, v->host_idtr_base);
	put(out, GUEST_IDTR_LIMIT, 0xffff);
}

void nested_host_load_plain(const struct vmcs12 *vmcs12, struct l1_host_load *out)
{
	bool host64 = vmcs12->vm_exit_controls & VM_EXIT_HOST_ADDR_SPACE_SIZE;

	out->plain.n = 0;
	load_control_registers(vmcs12, out);
	load_segments(vmcs12, host64, out);
	put(out, GUEST_RSP, vmcs12->host_rsp);
	put(out, GUEST_RIP, vmcs12->host_rip);
	put(out, GUEST_RFLAGS, X86_RFLAGS_FIXED);
	put(out, GUEST_ACTIVITY_STATE, 0);
	put(out, GUEST_PENDING_DBG_EXCEPTIONS, 0);
}

void nested_host_load_regs(const struct vmcs12 *vmcs12, const struct l2_at_exit *l2, struct l1_host_load *out)
{
	bool host64 = vmcs12->vm_exit_controls & VM_EXIT_HOST_ADDR_SPACE_SIZE;

	out->cr0 = nested_host_cr0(vmcs12->host_cr0, l2->cr0);
	out->cr4 = host_cr4(vmcs12, l2, host64);
	out->efer = host_efer(vmcs12, l2, host64);
	out->interruptibility = l2->nmi_exit ? GUEST_INTR_STATE_NMI : 0;
}

void nested_host_load(const struct vmcs12 *vmcs12, const struct l2_at_exit *l2, struct l1_host_load *out)
{
	nested_host_load_plain(vmcs12, out);
	nested_host_load_regs(vmcs12, l2, out);
}
