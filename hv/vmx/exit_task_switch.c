/* Task-switch exits (reason 9): L1's state from vmcs01 into task_switch.c and back, then the fault or #DB it owes (kernel). */
#include "hv/vmx/vmx_internal.h"
#include "hv/vmx/task_switch.h"
#include "hv/console.h"
#include "hv/panic.h"
#include "hv/x86.h"

#define DR6_BT BIT(15)

/* L1's DR7 lives in the VMCS with the debug-controls entry control, else in the register itself (SDM 27.3.2.1). */
static uint64_t guest_dr7(const struct vcpu *v)
{
	uint64_t dr7;

	if (v->ctl.entry & VM_ENTRY_LOAD_DEBUG_CONTROLS)
		return vmcs_read(GUEST_DR7);
	__asm__ volatile("mov %%dr7, %0" : "=r"(dr7));
	return dr7;
}

static void set_guest_dr7(const struct vcpu *v, uint64_t dr7)
{
	if (v->ctl.entry & VM_ENTRY_LOAD_DEBUG_CONTROLS)
		vmcs_write(GUEST_DR7, dr7);
	else
		__asm__ volatile("mov %0, %%dr7" : : "r"(dr7));
}

static void read_state(const struct vcpu *v, const struct guest_regs *r, struct ts_state *s)
{
	const uint64_t *gpr = (const uint64_t *)r;

	for (int i = 0; i < 8; i++)
		s->gpr[i] = (uint32_t)(i == 4 ? vmcs_read(GUEST_RSP) : gpr[i]);
	s->eip = (uint32_t)vmcs_read(GUEST_RIP);
	s->eflags = (uint32_t)vmcs_read(GUEST_RFLAGS);
	for (int i = 0; i < TS_NSREG; i++)
		s->seg[i] = (struct ts_seg){
			.sel = (uint16_t)vmcs_read((enum vmcs_field)(GUEST_ES_SELECTOR + 2 * i)),
			.base = (uint32_t)vmcs_read((enum vmcs_field)(GUEST_ES_BASE + 2 * i)),
			.limit = (uint32_t)vmcs_read((enum vmcs_field)(GUEST_ES_LIMIT + 2 * i)),
			.ar = (uint32_t)vmcs_read((enum vmcs_field)(GUEST_ES_AR_BYTES + 2 * i)),
		};
	s->gdtr_base = (uint32_t)vmcs_read(GUEST_GDTR_BASE);
	s->gdtr_limit = (uint32_t)vmcs_read(GUEST_GDTR_LIMIT);
	/* CR0/CR4 as L1 set them (host-owned bits from the read shadows): they choose L1's paging mode. */
	s->cr0 = vmx_guest_cr(GUEST_CR0, CR0_READ_SHADOW, v->cr0_mask);
	s->cr3 = vmcs_read(GUEST_CR3);
	s->cr4 = (vmcs_read(GUEST_CR4) & ~v->cr4_mask) | (vmcs_read(CR4_READ_SHADOW) & v->cr4_mask);
	s->efer = vmcs_read(GUEST_IA32_EFER);
	s->dr7 = guest_dr7(v);
	s->maxphyaddr = vmx_max_phys_addr_bits();
}

/* The new task's state into vmcs01 (segment access rights are already in the VMCS format, SDM 25.4.1). */
static void write_state(struct vcpu *v, struct guest_regs *r, const struct ts_state *s, const struct ts_result *res)
{
	uint64_t *gpr = (uint64_t *)r;

	for (int i = 0; i < 8; i++) {
		if (i == 4)
			vmcs_write(GUEST_RSP, s->gpr[i]);
		else
			gpr[i] = s->gpr[i];
	}
	vmcs_write(GUEST_RIP, s->eip);
	vmcs_write(GUEST_RFLAGS, s->eflags);
	for (int i = 0; i < TS_NSREG; i++)
		vmcs_write_guest_segment((enum vmcs_field)(GUEST_ES_SELECTOR + 2 * i), s->seg[i].sel, s->seg[i].base,
					 s->seg[i].limit, s->seg[i].ar);
	/* CR0.TS is L1's unless the host owns it; then L1 reads it from the shadow. */
	vmcs_write(GUEST_CR0, vmcs_read(GUEST_CR0) | X86_CR0_TS);
	if (v->cr0_mask & X86_CR0_TS)
		vmcs_write(CR0_READ_SHADOW, vmcs_read(CR0_READ_SHADOW) | X86_CR0_TS);
	set_guest_dr7(v, s->dr7);
	if (res->cr3_loaded) {
		/* With EPT the CPU takes the PDPTEs from the VMCS on entry (SDM 27.3.2.4); MOV to CR3 would flush the TLB. */
		vmcs_write(GUEST_CR3, s->cr3);
		if (res->pae) {
			vmcs_write(GUEST_PDPTE0, s->pdpte[0]);
			vmcs_write(GUEST_PDPTE1, s->pdpte[1]);
			vmcs_write(GUEST_PDPTE2, s->pdpte[2]);
			vmcs_write(GUEST_PDPTE3, s->pdpte[3]);
		}
		vmx_flush_guest_tlb(v);
	}
}

/*
 * Event blocking after the switch: it ends STI/MOV-SS blocking like any
 * instruction, pending single-step traps of the old task are dropped (the
 * new task's TF applies from its first instruction), an NMI delivered
 * through a task gate blocks NMIs and an IRET that completes unblocks them
 * (SDM 6.7.1).
 */
static void update_blocking(const struct ts_request *q, const struct ts_result *res)
{
	uint64_t intr = vmcs_read(GUEST_INTERRUPTIBILITY_INFO) & ~(uint64_t)(GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS);

	if (q->source == TS_FROM_IDT && q->event.valid && q->event.type == INTR_TYPE_NMI)
		intr |= GUEST_INTR_STATE_NMI;
	if (q->source == TS_FROM_IRET && res->committed)
		intr &= ~(uint64_t)GUEST_INTR_STATE_NMI;
	vmcs_write(GUEST_INTERRUPTIBILITY_INFO, intr);
	if (res->committed)
		vmcs_write(GUEST_PENDING_DBG_EXCEPTIONS, 0);
}

static void read_request(struct ts_request *q)
{
	uint64_t qual = vmcs_read(EXIT_QUALIFICATION);
	uint32_t vect = (uint32_t)vmcs_read(IDT_VECTORING_INFO_FIELD);

	*q = (struct ts_request){
		.selector = (uint16_t)qual,
		.source = (enum ts_source)((qual >> 30) & 3),
		.insn_len = (uint32_t)vmcs_read(VM_EXIT_INSTRUCTION_LEN),
	};
	if (q->source == TS_FROM_IDT && (vect & INTR_INFO_VALID)) {
		q->event = (struct ts_event){
			.valid = true,
			.vector = vect & INTR_INFO_VECTOR_MASK,
			.type = (vect & INTR_INFO_TYPE_MASK) >> INTR_INFO_TYPE_SHIFT,
			.has_error_code = vect & INTR_INFO_DELIVER_CODE,
		};
		if (q->event.has_error_code)
			q->event.error_code = (uint32_t)vmcs_read(IDT_VECTORING_ERROR_CODE);
	}
}

__attribute__((cold, noinline)) static void stop_not_ram(struct vcpu *v, struct guest_regs *r, uint64_t gpa)
{
	printk("hv: L1 task switch at RIP %#llx touches GPA %#llx, which is not RAM (TSS, descriptor or page table); stopping L1\n",
	       (unsigned long long)vmcs_read(GUEST_RIP), (unsigned long long)gpa);
	vmx_stop_guest(v, r, HV_EXIT_GUEST_DIED);
}

__attribute__((cold, noinline)) static void stop_shutdown(struct vcpu *v, struct guest_regs *r)
{
	printk("hv: L1 triple fault in a task switch delivering #DF at RIP %#llx; stopping L1 (the hypervisor is unharmed)\n",
	       (unsigned long long)vmcs_read(GUEST_RIP));
	vmx_stop_guest(v, r, HV_EXIT_GUEST_DIED);
}

/* The T flag's #DB is a trap (no RF): DR6.BT set (SDM 17.2.3), then delivered before the new task's first instruction. */
static void inject_task_debug_trap(void)
{
	uint64_t dr6;

	__asm__ volatile("mov %%dr6, %0" : "=r"(dr6));
	__asm__ volatile("mov %0, %%dr6" : : "r"(dr6 | DR6_BT));
	vmx_inject_hw_exception(DB_VECTOR, false, 0);
}

void handle_task_switch(struct vcpu *v, struct guest_regs *r)
{
	static const struct ts_mem mem = { l1_read_linear, l1_write_linear, l1_read_phys };
	struct ts_request q;
	struct ts_state s;
	struct ts_result res;

	read_request(&q);
	read_state(v, r, &s);
	task_switch(&s, &q, &mem, &res);
	if (res.outcome == TS_NOT_RAM)
		stop_not_ram(v, r, res.bad_gpa);
	if (res.outcome == TS_SHUTDOWN)
		stop_shutdown(v, r);
	if (res.committed)
		write_state(v, r, &s, &res);
	update_blocking(&q, &res);
	if (res.outcome == TS_FAULT) {
		if (res.vector == PF_VECTOR)
			write_cr2(res.cr2);
		vmx_inject_hw_exception(res.vector, res.has_error_code, res.error_code);
	} else if (res.debug_trap) {
		inject_task_debug_trap();
	}
}
