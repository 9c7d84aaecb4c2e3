/* The architectural INIT state of an L1 vCPU and its start at a SIPI vector (SDM 10.1, Table 10-1; SDM 10.4.4, 25.2). */
#include "hv/vmx/vmx_internal.h"
#include "hv/vmx/vmx_asm.h"
#include "hv/x86.h"

/* Real-mode segment rights (SDM 25.4.1): present, S=1, accessed; code execute/read, data read/write. */
#define AR_REAL_CODE  0x009bu
#define AR_REAL_DATA  0x0093u
#define AR_LDT        0x0082u
#define AR_TSS16_BUSY 0x008bu
#define CR0_AT_POWER_UP (X86_CR0_CD | X86_CR0_NW | X86_CR0_ET) /* 60000010H, SDM Table 10-1 */
#define RESET_CS_SEL  0xf000u
#define RESET_CS_BASE 0xffff0000ULL
#define RESET_RIP     0xfff0u

/* Real-mode segments are 64 KiB (SDM Table 10-1). */
static void write_real_segment(enum vmcs_field sel, uint16_t selector, uint64_t base, uint32_t ar)
{
	vmcs_write_guest_segment(sel, selector, base, 0xffff, ar);
}

/* CR0/CR4/EFER after INIT; the host-owned VMX bits stay set underneath the read shadows. */
static void load_init_control_regs(const struct vcpu *v, bool power_up)
{
	uint64_t cr0 = CR0_AT_POWER_UP;

	if (!power_up) /* L1's CR0: its own bits from the register, host-owned ones from the shadow */
		cr0 = emulate_cr0_after_init(vmx_guest_cr(GUEST_CR0, CR0_READ_SHADOW, v->cr0_mask));

	vmcs_write(CR0_READ_SHADOW, cr0);
	vmcs_write(GUEST_CR0, vmx_apply_fixed(cr0, vmx_caps.cr0_fixed0 & v->cr0_mask, vmx_caps.cr0_fixed1));
	vmcs_write(CR4_READ_SHADOW, 0);
	vmcs_write(GUEST_CR4, vmx_apply_fixed(0, vmx_caps.cr4_fixed0, vmx_caps.cr4_fixed1));
	vmcs_write(GUEST_CR3, 0);
	vmcs_write(GUEST_IA32_EFER, 0);
	vmcs_write(VM_ENTRY_CONTROLS, vmcs_read(VM_ENTRY_CONTROLS) & ~(uint64_t)VM_ENTRY_IA32E_MODE);
}

/*
 * What INIT leaves in a processor (SDM Table 10-1): real mode at F000:FFF0,
 * 64 KiB segments, EDX the processor signature; MSRs other than EFER, the
 * caches (and CR0.CD/NW) and the x87/SSE state are untouched by INIT, so they
 * stay as L1 had them. power_up: the vCPU's first state, as after power-up
 * (CD and NW set). An AP then waits for a SIPI in the wait-for-SIPI activity
 * state, where further INITs are blocked (SDM 25.2).
 */
void vmx_vcpu_load_init_state(struct vcpu *v, bool power_up)
{
	static const enum vmcs_field data_segs[] = { GUEST_ES_SELECTOR, GUEST_SS_SELECTOR, GUEST_DS_SELECTOR,
						     GUEST_FS_SELECTOR, GUEST_GS_SELECTOR };
	uint32_t sig, b, c, d;

	load_init_control_regs(v, power_up);
	write_real_segment(GUEST_CS_SELECTOR, RESET_CS_SEL, RESET_CS_BASE, AR_REAL_CODE);
	for (size_t i = 0; i < ARRAY_SIZE(data_segs); i++)
		write_real_segment(data_segs[i], 0, 0, AR_REAL_DATA);
	write_real_segment(GUEST_LDTR_SELECTOR, 0, 0, AR_LDT);
	write_real_segment(GUEST_TR_SELECTOR, 0, 0, AR_TSS16_BUSY);
	vmcs_write(GUEST_GDTR_BASE, 0);
	vmcs_write(GUEST_GDTR_LIMIT, 0xffff);
	vmcs_write(GUEST_IDTR_BASE, 0);
	vmcs_write(GUEST_IDTR_LIMIT, 0xffff);
	vmcs_write(GUEST_DR7, 0x400);
	vmcs_write(GUEST_RSP, 0);
	vmcs_write(GUEST_RIP, RESET_RIP);
	vmcs_write(GUEST_RFLAGS, X86_RFLAGS_FIXED);
	vmcs_write(GUEST_PENDING_DBG_EXCEPTIONS, 0);
	vmcs_write(GUEST_INTERRUPTIBILITY_INFO, 0);
	vmcs_write(VM_ENTRY_INTR_INFO_FIELD, 0);
	vmcs_write(GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_WAIT_SIPI);
	vmcs_write(VMCS_LINK_POINTER, ~0ULL);
	if (v->ctl.entry & VM_ENTRY_LOAD_DEBUG_CONTROLS)
		vmcs_write(GUEST_IA32_DEBUGCTL, 0);
	cpuid(1, 0, &sig, &b, &c, &d);
	*v->regs = (struct guest_regs){ .rdx = sig };
	v->waiting_for_sipi = true;
}

/*
 * A SIPI with vector V starts the AP in real mode at V000:0000 (SDM 10.4.4.1).
 * A CPU waiting for SIPI has NMIs and SMIs blocked, and the exit saves that
 * (Bochs reports 0xc); the start unblocks them, and blocking by SMI outside
 * SMM would fail the next VM entry (SDM 26.3.1.5).
 */
void vmx_vcpu_start_at_sipi(struct vcpu *v, uint8_t vector)
{
	v->waiting_for_sipi = false;
	write_real_segment(GUEST_CS_SELECTOR, (uint16_t)(vector << 8), (uint64_t)vector << 12, AR_REAL_CODE);
	vmcs_write(GUEST_RIP, 0);
	vmcs_write(GUEST_INTERRUPTIBILITY_INFO, 0);
	vmcs_write(GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_ACTIVE);
}


/*
 * Bochs 2.7 masks SMI and NMI when a CPU sleeps in wait-for-SIPI and, in VMX
 * non-root, never unmasks them at the SIPI: every later exit of that vCPU,
 * L1's or its L2's, saves blocking by SMI and by NMI (0xc). Blocking by SMI outside SMM fails
 * the next VM entry (SDM 26.3.1.5), and no NMI is being handled, so both
 * bits are stale. On hardware the field is already right and this is a no-op.
 */
void vmx_vcpu_fix_sipi_blocking(void)
{
	uint64_t intr = vmcs_read(GUEST_INTERRUPTIBILITY_INFO);

	if (intr & GUEST_INTR_STATE_SMI)
		vmcs_write(GUEST_INTERRUPTIBILITY_INFO, intr & ~(GUEST_INTR_STATE_SMI | GUEST_INTR_STATE_NMI));
}
