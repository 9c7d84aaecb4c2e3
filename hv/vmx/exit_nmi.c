/* NMIs with NMI exiting: the hypervisor's own stop requests, and L1's NMIs delivered to L1 exactly once each (kernel). */
#include "hv/vmx/vmx_internal.h"
#include "hv/vmx/vmx_asm.h"
#include "hv/vmx/nmi_inject.h"
#include "hv/vmx/vmx.h"
#include "hv/lapic.h"
#include "hv/panic.h"
#include "hv/percpu.h"
#include "hv/x86.h"

/*
 * After a VM exit caused by an NMI, NMIs stay blocked in VMX root until the
 * next IRET (SDM 27.1: "an NMI causes subsequent NMIs to be blocked, but only
 * after the VM exit completes"). Bochs 2.7 also leaves them masked after a
 * SIPI exit (cpu/event.cc deliver_SIPI: VMexit before unmask_event), and its
 * VM entry does not unmask them. An IRET to the next instruction unblocks
 * them; where nothing was blocked it changes nothing.
 */
static void unblock_nmis_in_root(void)
{
	__asm__ volatile("movl %%ss, %%eax\n\t"
			 "pushq %%rax\n\t"
			 "pushq %%rsp\n\t"
			 "addq $8, (%%rsp)\n\t"
			 "pushfq\n\t"
			 "movl %%cs, %%eax\n\t"
			 "pushq %%rax\n\t"
			 "leaq 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "iretq\n"
			 "1:"
			 ::: "rax", "memory", "cc");
}

/* The request another CPU left before its NMI or SIPI (panic.c); taken once. */
static bool stop_requested(struct percpu *cpu)
{
	return __atomic_fetch_and(&cpu->nmi_requests, ~NMI_REQ_STOP, __ATOMIC_SEQ_CST) & NMI_REQ_STOP;
}

/* Whether a stop request waits for this CPU (not taken): an NMI exit of L2 then is the hypervisor's, not L1's. */
bool vmx_nmi_stop_pending(void)
{
	return __atomic_load_n(&this_cpu()->nmi_requests, __ATOMIC_SEQ_CST) & NMI_REQ_STOP;
}

/*
 * Counts NMIs owed to L1, at most NMI_OWED_MAX (nmi_inject.h). The hypervisor's
 * NMI handler may run between the load and the exchange on this CPU: the
 * exchange then fails and the loop counts on the new value.
 */
static void owe_nmis(struct percpu *cpu, uint32_t n)
{
	uint32_t old = __atomic_load_n(&cpu->nmi_pending, __ATOMIC_SEQ_CST);
	uint32_t want;

	do {
		want = old + n < NMI_OWED_MAX ? old + n : NMI_OWED_MAX;
	} while (!__atomic_compare_exchange_n(&cpu->nmi_pending, &old, want, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
}

static void set_nmi_window(bool on)
{
	uint64_t proc = vmcs_read(CPU_BASED_VM_EXEC_CONTROL);
	uint64_t want = on ? proc | CPU_BASED_NMI_WINDOW_EXITING : proc & ~(uint64_t)CPU_BASED_NMI_WINDOW_EXITING;

	if (want != proc)
		vmcs_write(CPU_BASED_VM_EXEC_CONTROL, want);
}

/*
 * An NMI taken in VMX root (hv_trap) while this CPU runs a vCPU: L1's, owed
 * to it. The NMI window makes the next VM entry come back at once if L1 can
 * take it, so an NMI that lands after the last check before VMRESUME is not
 * left waiting for some later exit. Every other writer of the control reads
 * and writes it back whole, and re-checks nmi_pending afterwards.
 */
void vmx_nmi_in_root(struct percpu *cpu)
{
	owe_nmis(cpu, 1);
	if (cpu->vcpu && cpu->vcpu->launched)
		set_nmi_window(true);
}

/* The hypervisor's stop reached this vCPU: report where L1 was, then halt (never returns). */
static void stop_vcpu(const char *where)
{
	panic_stop_this_cpu(vmcs_read(GUEST_RIP), where);
}

/*
 * For the stop report. An NMI exit out of HLT saves the HLT activity state
 * (SDM 27.3.4); Bochs 2.7 leaves HLT before the exit (cpu/event.cc
 * handleWaitForEvent sets BX_ACTIVITY_STATE_ACTIVE for a pending NMI) and
 * saves "active", so a RIP still just past L1's last HLT counts as halted too.
 */
static bool vcpu_was_halted(const struct vcpu *v)
{
	return vmcs_read(GUEST_ACTIVITY_STATE) == GUEST_ACTIVITY_HLT ||
	       (v->hlt_resume_rip && vmcs_read(GUEST_RIP) == v->hlt_resume_rip);
}

/* An event whose delivery the exit interrupted is delivered again (SDM 27.2.3, IDT-vectoring information). */
static void reinject_vectored_event(void)
{
	uint32_t idt = (uint32_t)vmcs_read(IDT_VECTORING_INFO_FIELD);

	if (!(idt & INTR_INFO_VALID))
		return;
	vmcs_write(VM_ENTRY_INTR_INFO_FIELD, idt & ~(uint32_t)INTR_INFO_NMI_UNBLOCK_IRET);
	if (idt & INTR_INFO_DELIVER_CODE)
		vmcs_write(VM_ENTRY_EXCEPTION_ERROR_CODE, vmcs_read(IDT_VECTORING_ERROR_CODE));
	vmcs_write(VM_ENTRY_INSTRUCTION_LEN, vmcs_read(VM_EXIT_INSTRUCTION_LEN));
}

/*
 * Exit reason 0 with an NMI (exception bitmap 0: nothing else exits here). A
 * stop request means the hypervisor's own NMI; anything else is L1's and is
 * owed to it. The IRET that unblocks NMIs in root may take the next NMI at
 * once (hv_trap), before this one reached L1: it is owed too, and follows
 * this one (nmi_owed_after_entry).
 */
void vmx_handle_nmi_exit(struct vcpu *v, struct guest_regs *r)
{
	struct percpu *cpu = this_cpu();

	(void)r;
	reinject_vectored_event();
	if (stop_requested(cpu))
		stop_vcpu(vcpu_was_halted(v) ? "L1 halted" : "running L1");
	owe_nmis(cpu, 1);
	unblock_nmis_in_root();
}

/* NMI-window exit (SDM 25.2): L1 can take its NMI now; vmx_deliver_pending_nmi() after the handler injects it. */
void vmx_handle_nmi_window(struct vcpu *v, struct guest_regs *r)
{
	(void)v, (void)r;
	set_nmi_window(false);
}

/* A SIPI exit may be the hypervisor's stop for a vCPU waiting for SIPI, where NMIs are held (panic.c). */
void vmx_sipi_exit_check_stop(void)
{
	if (stop_requested(this_cpu()))
		stop_vcpu("L1 waiting for SIPI");
	unblock_nmis_in_root();
}

/*
 * Before every VM entry that has an NMI owed to L1 (nmi_inject.c decides).
 * The count is taken first: an NMI arriving in root meanwhile (hv_trap) adds
 * to it, with the window, and follows, as the CPU's latch would. What stays
 * owed after an injection waits for the NMI window, which opens after L1's
 * IRET (the injected NMI sets virtual-NMI blocking, SDM 26.6.1.2).
 */
void vmx_deliver_pending_nmi(void)
{
	struct percpu *cpu = this_cpu();
	uint32_t owed = __atomic_exchange_n(&cpu->nmi_pending, 0, __ATOMIC_SEQ_CST);
	struct nmi_entry_view view = {
		.owed = owed != 0,
		.activity = (uint32_t)vmcs_read(GUEST_ACTIVITY_STATE),
		.interruptibility = (uint32_t)vmcs_read(GUEST_INTERRUPTIBILITY_INFO),
		.entry_intr_info = (uint32_t)vmcs_read(VM_ENTRY_INTR_INFO_FIELD),
		.pending_dbg = vmcs_read(GUEST_PENDING_DBG_EXCEPTIONS),
	};
	enum nmi_step step = nmi_next_step(&view);
	uint32_t still_owed = nmi_owed_after_entry(&view, step, owed);

	if (step == NMI_STEP_INJECT) {
		vmcs_write(VM_ENTRY_INTR_INFO_FIELD, NMI_VECTOR | (INTR_TYPE_NMI << INTR_INFO_TYPE_SHIFT) | INTR_INFO_VALID);
		if (view.activity == GUEST_ACTIVITY_HLT)
			vmcs_write(GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_ACTIVE); /* the NMI ends HLT as on the CPU */
	}
	if (!still_owed)
		return;
	owe_nmis(cpu, still_owed);
	if (step != NMI_STEP_HOLD)
		set_nmi_window(true);
}

/*
 * The panic's stop for vCPUs in wait-for-SIPI: NMIs are held there (SDM
 * 25.2), a SIPI is a VM exit (vmx_sipi_exit_check_stop). One SIPI per CPU:
 * Bochs 2.7 ends a broadcast at the first SIPI exit (apic_icr.h).
 */
void vmx_stop_vcpus_waiting_for_sipi(void)
{
	for (uint32_t i = 0; i < MAX_CPUS; i++) {
		const struct vcpu *v = percpu_area[i].vcpu;

		if (v && v->launched && v->waiting_for_sipi && &percpu_area[i] != this_cpu())
			lapic_send_ipi(v->apic_id, ICR_DM_STARTUP);
	}
}
