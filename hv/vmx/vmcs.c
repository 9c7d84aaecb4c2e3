/* Builds vmcs01, the VMCS L1 runs on: controls, host state from this CPU, guest state from the loader's boot state. */
#include "hv/vmx/vmx_internal.h"
#include "hv/vmx/vmx_asm.h"
#include "hv/console.h"
#include "hv/percpu.h"
#include "hv/x86.h"

/* Segment access rights, SDM 25.4.1 (Table 25-2). */
#define AR_CODE32      0xc09bu /* G, D, P, S, execute/read accessed */
#define AR_CODE64      0xa09bu /* G, L, P, S, execute/read accessed */
#define AR_DATA        0xc093u /* G, D/B, P, S, read/write accessed */
#define AR_TSS32_BUSY  0x008bu
#define AR_UNUSABLE    BIT(16)

/* Multiboot leaves no GDT the guest may rely on; these are GRUB's selectors for its flat segments. */
#define DEFAULT_CS_SEL 0x10
#define DEFAULT_DS_SEL 0x18

#define GUEST_PAT_RESET 0x0007040600070406ULL /* SDM 11.12.4 */

struct desc_ptr {
	uint16_t limit;
	uint64_t base;
} __packed;

static uint16_t read_sel_cs(void) { uint16_t s; __asm__ volatile("mov %%cs, %0" : "=r"(s)); return s; }
static uint16_t read_sel_ss(void) { uint16_t s; __asm__ volatile("mov %%ss, %0" : "=r"(s)); return s; }
static uint16_t read_sel_ds(void) { uint16_t s; __asm__ volatile("mov %%ds, %0" : "=r"(s)); return s; }
static uint16_t read_sel_es(void) { uint16_t s; __asm__ volatile("mov %%es, %0" : "=r"(s)); return s; }
static uint16_t read_sel_fs(void) { uint16_t s; __asm__ volatile("mov %%fs, %0" : "=r"(s)); return s; }
static uint16_t read_sel_gs(void) { uint16_t s; __asm__ volatile("mov %%gs, %0" : "=r"(s)); return s; }
static uint16_t read_sel_tr(void) { uint16_t s; __asm__ volatile("str %0" : "=r"(s)); return s; }

/* The 64-bit TSS descriptor's base, SDM 8.2.3 (Figure 8-4). */
static uint64_t tss_base(const struct desc_ptr *gdt, uint16_t tr)
{
	const uint32_t *d = (const uint32_t *)(gdt->base + (tr & ~7u));

	return ((d[0] >> 16) & 0xffff) | ((uint64_t)(d[1] & 0xff) << 16) | ((uint64_t)(d[1] & 0xff000000u)) |
	       ((uint64_t)d[2] << 32);
}

/* SDM 25.5, 26.2.3: the state the CPU loads on every VM exit. Selectors need RPL=TI=0. */
static void setup_host_state(const struct vcpu *v)
{
	struct desc_ptr gdt, idt;
	uint16_t tr = read_sel_tr();

	__asm__ volatile("sgdt %0" : "=m"(gdt));
	__asm__ volatile("sidt %0" : "=m"(idt));
	vmcs_write(HOST_CR0, read_cr0());
	vmcs_write(HOST_CR3, read_cr3());
	vmcs_write(HOST_CR4, read_cr4());
	vmcs_write(HOST_CS_SELECTOR, read_sel_cs() & ~7u);
	vmcs_write(HOST_SS_SELECTOR, read_sel_ss() & ~7u);
	vmcs_write(HOST_DS_SELECTOR, read_sel_ds() & ~7u);
	vmcs_write(HOST_ES_SELECTOR, read_sel_es() & ~7u);
	vmcs_write(HOST_FS_SELECTOR, read_sel_fs() & ~7u);
	vmcs_write(HOST_GS_SELECTOR, read_sel_gs() & ~7u);
	vmcs_write(HOST_TR_SELECTOR, tr & ~7u);
	vmcs_write(HOST_FS_BASE, rdmsr(MSR_IA32_FS_BASE));
	vmcs_write(HOST_GS_BASE, rdmsr(MSR_IA32_GS_BASE)); /* this CPU's percpu */
	vmcs_write(HOST_TR_BASE, tss_base(&gdt, tr));
	vmcs_write(HOST_GDTR_BASE, gdt.base);
	vmcs_write(HOST_IDTR_BASE, idt.base);
	vmcs_write(HOST_IA32_SYSENTER_CS, rdmsr(MSR_IA32_SYSENTER_CS));
	vmcs_write(HOST_IA32_SYSENTER_ESP, rdmsr(MSR_IA32_SYSENTER_ESP));
	vmcs_write(HOST_IA32_SYSENTER_EIP, rdmsr(MSR_IA32_SYSENTER_EIP));
	if (v->ctl.exit & VM_EXIT_LOAD_IA32_EFER)
		vmcs_write(HOST_IA32_EFER, rdmsr(MSR_IA32_EFER));
	if (v->ctl.exit & VM_EXIT_LOAD_IA32_PAT)
		vmcs_write(HOST_IA32_PAT, rdmsr(MSR_IA32_PAT));
	vmcs_write(HOST_RSP, v->exit_stack_top - 16);
	vmcs_write(HOST_RIP, (uint64_t)(uintptr_t)vmx_exit_stub);
}

/*
 * CR0/CR4 bits VMX fixes are host-owned: the guest reads its own value from
 * the read shadow and a write that changes them exits (SDM 25.6.6). With
 * unrestricted guest, PE and PG are the guest's (SDM 26.3.1.1).
 */
static void setup_cr_masks(struct vcpu *v)
{
	uint64_t cr0_fixed = vmx_caps.cr0_fixed0 & ~(X86_CR0_PE | X86_CR0_PG);

	v->cr0_mask = cr0_fixed | (~vmx_caps.cr0_fixed1 & 0xffffffffULL);
	v->cr4_mask = vmx_caps.cr4_fixed0 | (~vmx_caps.cr4_fixed1 & 0xffffffffULL);
	vmcs_write(CR0_GUEST_HOST_MASK, v->cr0_mask);
	vmcs_write(CR4_GUEST_HOST_MASK, v->cr4_mask);
}

static void setup_controls(struct vcpu *v, const struct guest_boot_state *gs)
{
	v->ctl = vmx_base_controls;
	if (gs->mode == GUEST_MODE_LONG64)
		v->ctl.entry |= VM_ENTRY_IA32E_MODE;
	vmcs_write(PIN_BASED_VM_EXEC_CONTROL, v->ctl.pin);
	vmcs_write(CPU_BASED_VM_EXEC_CONTROL, v->ctl.proc);
	vmcs_write(SECONDARY_VM_EXEC_CONTROL, v->ctl.proc2);
	vmcs_write(VM_EXIT_CONTROLS, v->ctl.exit);
	vmcs_write(VM_ENTRY_CONTROLS, v->ctl.entry);
	vmcs_write(EXCEPTION_BITMAP, 0); /* L1 handles its own exceptions */
	vmcs_write(PAGE_FAULT_ERROR_CODE_MASK, 0);
	vmcs_write(PAGE_FAULT_ERROR_CODE_MATCH, 0);
	vmcs_write(CR3_TARGET_COUNT, 0);
	vmcs_write(VM_EXIT_MSR_STORE_COUNT, 0);
	vmcs_write(VM_EXIT_MSR_LOAD_COUNT, 0);
	vmcs_write(VM_ENTRY_MSR_LOAD_COUNT, 0);
	vmcs_write(VM_ENTRY_INTR_INFO_FIELD, 0);
	vmcs_write(IO_BITMAP_A, v->io_bitmap_a);
	vmcs_write(IO_BITMAP_B, v->io_bitmap_b);
	vmcs_write(MSR_BITMAP, v->msr_bitmap);
	vmcs_write(EPT_POINTER, v->eptp);
	if (v->ctl.proc2 & SECONDARY_ENABLE_VPID)
		vmcs_write(VIRTUAL_PROCESSOR_ID, v->vpid);
	setup_cr_masks(v);
}

void vmcs_write_guest_segment(enum vmcs_field sel, uint16_t selector, uint64_t base, uint32_t limit, uint32_t ar)
{
	/* The selector, base, limit and AR fields of one register are 2 apart in each width group (App. B). */
	uint32_t idx = (uint32_t)(sel - GUEST_ES_SELECTOR);

	vmcs_write(sel, selector);
	vmcs_write((enum vmcs_field)(GUEST_ES_BASE + idx), base);
	vmcs_write((enum vmcs_field)(GUEST_ES_LIMIT + idx), limit);
	vmcs_write((enum vmcs_field)(GUEST_ES_AR_BYTES + idx), ar);
}

/* A flat 4 GiB segment, as Multiboot and Linux's entries expect. */
static void write_segment(enum vmcs_field sel, uint16_t selector, uint32_t ar)
{
	vmcs_write_guest_segment(sel, selector, 0, 0xffffffff, ar);
}

/* CR0/CR4/EFER at the guest's first instruction: what it sees (shadows) and what the CPU runs with. */
static void setup_guest_control_regs(const struct vcpu *v, const struct guest_boot_state *gs)
{
	bool long64 = gs->mode == GUEST_MODE_LONG64;
	uint64_t cr0 = X86_CR0_PE | X86_CR0_ET | (long64 ? X86_CR0_PG : 0);
	uint64_t cr4 = long64 ? X86_CR4_PAE : 0;
	uint64_t efer = long64 ? X86_EFER_LME | X86_EFER_LMA : 0;

	vmcs_write(CR0_READ_SHADOW, cr0);
	vmcs_write(CR4_READ_SHADOW, cr4);
	vmcs_write(GUEST_CR0, vmx_apply_fixed(cr0, vmx_caps.cr0_fixed0 & v->cr0_mask, vmx_caps.cr0_fixed1));
	vmcs_write(GUEST_CR4, vmx_apply_fixed(cr4, vmx_caps.cr4_fixed0, vmx_caps.cr4_fixed1));
	vmcs_write(GUEST_CR3, long64 ? gs->cr3 : 0);
	vmcs_write(GUEST_IA32_EFER, efer);
	if (v->ctl.entry & VM_ENTRY_LOAD_IA32_PAT)
		vmcs_write(GUEST_IA32_PAT, GUEST_PAT_RESET);
}

/* SDM 25.4, 26.3.1: the guest-state area for the boot state's mode, flat segments, interrupts off. */
static void setup_guest_state(const struct vcpu *v, const struct guest_boot_state *gs)
{
	bool custom_gdt = gs->gdt_base != 0;
	uint16_t cs = custom_gdt ? gs->cs_sel : DEFAULT_CS_SEL, ds = custom_gdt ? gs->ds_sel : DEFAULT_DS_SEL;
	static const enum vmcs_field data_segs[] = { GUEST_ES_SELECTOR, GUEST_SS_SELECTOR, GUEST_DS_SELECTOR,
						     GUEST_FS_SELECTOR, GUEST_GS_SELECTOR };

	setup_guest_control_regs(v, gs);
	write_segment(GUEST_CS_SELECTOR, cs, gs->mode == GUEST_MODE_LONG64 ? AR_CODE64 : AR_CODE32);
	for (size_t i = 0; i < ARRAY_SIZE(data_segs); i++)
		write_segment(data_segs[i], ds, AR_DATA);
	write_segment(GUEST_LDTR_SELECTOR, 0, AR_UNUSABLE);
	write_segment(GUEST_TR_SELECTOR, 0, AR_TSS32_BUSY);
	vmcs_write(GUEST_TR_LIMIT, 0x67);
	vmcs_write(GUEST_GDTR_BASE, gs->gdt_base);
	vmcs_write(GUEST_GDTR_LIMIT, gs->gdt_limit);
	vmcs_write(GUEST_IDTR_BASE, 0);
	vmcs_write(GUEST_IDTR_LIMIT, 0);
	vmcs_write(GUEST_DR7, 0x400);
	vmcs_write(GUEST_RSP, gs->rsp);
	vmcs_write(GUEST_RIP, gs->rip);
	vmcs_write(GUEST_RFLAGS, X86_RFLAGS_FIXED);
	vmcs_write(GUEST_PENDING_DBG_EXCEPTIONS, 0);
	vmcs_write(GUEST_SYSENTER_CS, 0);
	vmcs_write(GUEST_SYSENTER_ESP, 0);
	vmcs_write(GUEST_SYSENTER_EIP, 0);
	vmcs_write(GUEST_INTERRUPTIBILITY_INFO, 0);
	vmcs_write(GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_ACTIVE);
	vmcs_write(VMCS_LINK_POINTER, ~0ULL); /* no shadow VMCS, SDM 26.3.1.5 */
	if (v->ctl.entry & VM_ENTRY_LOAD_DEBUG_CONTROLS)
		vmcs_write(GUEST_IA32_DEBUGCTL, 0);
}

static void setup_guest_regs(struct guest_regs *r, const struct guest_boot_state *gs)
{
	*r = (struct guest_regs){ .rax = gs->rax, .rbx = gs->rbx, .rcx = gs->rcx, .rdx = gs->rdx,
				  .rsi = gs->rsi, .rdi = gs->rdi, .rbp = gs->rbp };
}

/* Allocates, clears and loads vmcs01 (SDM 25.11.3), then fills every field L1 needs. */
int vmcs01_setup(struct vcpu *v, const struct guest_boot_state *gs)
{
	v->vmcs = frame_alloc();
	if (!v->vmcs) {
		printk("hv: out of hypervisor frames for L1's VMCS\n");
		return -1;
	}
	*(uint32_t *)phys_to_virt(v->vmcs) = (uint32_t)(vmx_caps.basic & VMX_BASIC_REVISION_MASK);
	if (vmclear(v->vmcs) < 0 || vmptrld(v->vmcs) < 0) {
		printk("hv: VMCLEAR/VMPTRLD of L1's VMCS at %#llx failed\n", (unsigned long long)v->vmcs);
		return -1;
	}
	setup_controls(v, gs);
	setup_host_state(v);
	if (gs->mode == GUEST_MODE_WAIT_SIPI) {
		vmx_vcpu_load_init_state(v, true);
		return 0;
	}
	setup_guest_state(v, gs);
	setup_guest_regs(v->regs, gs);
	return 0;
}
