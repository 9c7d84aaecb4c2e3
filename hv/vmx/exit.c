/* L1's VM exits: one dispatcher table indexed by basic exit reason, one handler per reason, and the reports. */
#include "hv/vmx/vmx_internal.h"
#include "hv/vmx/vmx_asm.h"
#include "hv/vmx/nested.h"
#include "hv/iommu/iommu.h"
#include "hv/console.h"
#include "hv/mm.h"
#include "hv/panic.h"
#include "hv/percpu.h"
#include "hv/x86.h"

#define X2APIC_MSR_ICR_WRITE 0x830 /* intercepted only while L1 has AP vCPUs (apic_access.c) */

struct cpuid_policy vmx_cpuid_policy = { .hypervisor_bit = true };
int64_t vmx_debug_panic_post = -1;

typedef void (*exit_handler_t)(struct vcpu *v, struct guest_regs *r);

/*
 * A debug trap an emulated instruction owes (single step, I/O breakpoint):
 * a pending debug exception, delivered by the CPU right after VM entry (SDM
 * 26.6.3), so L1's #DB arrives with DR6 exactly as if it ran natively.
 */
void vmx_pending_debug_trap(uint64_t bits)
{
	struct vcpu *v = this_cpu()->vcpu;

	/* For L2 the event core holds the trap: an exit to L1 at this boundary must not lose it (SDM 27.3.4). */
	if (unlikely(v && vmx_in_l2(v))) {
		vmx_nested_queue_debug_trap(v, bits);
		return;
	}
	vmcs_write(GUEST_PENDING_DBG_EXCEPTIONS, vmcs_read(GUEST_PENDING_DBG_EXCEPTIONS) | bits);
}

/* RFLAGS.TF is set: BS is owed unless IA32_DEBUGCTL.BTF limits single steps to branches (emulate.c). */
void vmx_single_step_trap(void)
{
	if (emulate_single_step_due(vmcs_read(GUEST_RFLAGS), vmcs_read(GUEST_IA32_DEBUGCTL), false))
		vmx_pending_debug_trap(PENDING_DBG_BS);
}

/*
 * SDM 26.6.1: event injection. Real mode (unrestricted guest, CR0.PE=0) delivers no error code (SDM 26.2.1.3).
 * Injection pushes RFLAGS.RF as the guest-state area holds it, whatever the event (SDM 27.6.1.1), and an exit
 * for an instruction saves RF = 0 (SDM 28.3.3); a fault the CPU raised itself pushes RF = 1 (SDM 6.12.1,
 * 17.3.1.1), so RF is set here for fault-class vectors, as KVM does. Delivery through a gate clears RF again.
 */
void vmx_inject_hw_exception(unsigned int vector, bool has_error_code, uint32_t error_code)
{
	struct vcpu *v = this_cpu()->vcpu;
	uint32_t info = vector | (INTR_TYPE_HW_EXCEPTION << INTR_INFO_TYPE_SHIFT) | INTR_INFO_VALID;

	if (emulate_exception_is_fault(vector))
		vmcs_write(GUEST_RFLAGS, vmcs_read(GUEST_RFLAGS) | X86_RFLAGS_RF);
	/*
	 * While L2 runs, L1 may intercept the exception: the event core routes it
	 * (SDM 25.2); an exception exit saves RF as the delivery would have pushed it (SDM 27.3.3).
	 */
	if (unlikely(v && vmx_in_l2(v))) {
		vmx_nested_queue_exception(v, (uint8_t)vector, has_error_code, error_code);
		return;
	}
	if (has_error_code && (vmcs_read(GUEST_CR0) & X86_CR0_PE)) {
		info |= INTR_INFO_DELIVER_CODE;
		vmcs_write(VM_ENTRY_EXCEPTION_ERROR_CODE, error_code);
	}
	vmcs_write(VM_ENTRY_INTR_INFO_FIELD, info);
}

static void print_counters(const uint64_t *exits, const char *label)
{
	char line[600];
	int n = hv_snprintf(line, sizeof(line), "%s", label);
	uint64_t total = 0;

	for (uint32_t r = 0; r < EXIT_REASON_MAX; r++) {
		if (!exits[r])
			continue;
		total += exits[r];
		if (n < (int)sizeof(line))
			n += hv_snprintf(line + n, sizeof(line) - (size_t)n, " %s=%llu", vmx_exit_reason_short(r),
					 (unsigned long long)exits[r]);
	}
	printk("%s total=%llu\n", line, (unsigned long long)total);
}

/* L1's own exits; with nested VMX also L2's, those the hypervisor handled and those reflected to L1. */
static void print_vcpu_exit_counters(const struct vcpu *v, const char *label, const char *l2_label)
{
	char l2[48];

	print_counters(v->exits, label);
	if (!v->nested)
		return;
	hv_snprintf(l2, sizeof(l2), "%s handled:", l2_label);
	print_counters(v->nested->l2_handled, l2);
	hv_snprintf(l2, sizeof(l2), "%s reflected to L1:", l2_label);
	print_counters(v->nested->l2_reflected, l2);
}

/* The boot vCPU's counters first (the line tests and users look for), then each AP's. */
void vmx_print_exit_counters(void)
{
	char label[32];

	if (percpu_area[0].vcpu)
		print_vcpu_exit_counters(percpu_area[0].vcpu, "hv: exits:", "hv: L2 exits");
	for (uint32_t i = 1; i < MAX_CPUS; i++) {
		const struct vcpu *ap = percpu_area[i].vcpu;

		if (!ap || !ap->launched)
			continue;
		char l2_label[32];

		hv_snprintf(label, sizeof(label), "hv: exits on CPU %u:", i);
		hv_snprintf(l2_label, sizeof(l2_label), "hv: L2 exits on CPU %u", i);
		print_vcpu_exit_counters(ap, label, l2_label);
	}
}

static void dump_segment(const char *name, enum vmcs_field sel)
{
	uint32_t idx = (uint32_t)(sel - GUEST_ES_SELECTOR);

	printk("hv:   %s %04llx base %#llx limit %#llx ar %#llx\n", name, (unsigned long long)vmcs_read(sel),
	       (unsigned long long)vmcs_read((enum vmcs_field)(GUEST_ES_BASE + idx)),
	       (unsigned long long)vmcs_read((enum vmcs_field)(GUEST_ES_LIMIT + idx)),
	       (unsigned long long)vmcs_read((enum vmcs_field)(GUEST_ES_AR_BYTES + idx)));
}

static void dump_guest_state(const struct guest_regs *r)
{
	printk("hv: L1 state: rip %#llx rsp %#llx rflags %#llx cr0 %#llx (reads %#llx) cr3 %#llx cr4 %#llx (reads %#llx) efer %#llx\n",
	       (unsigned long long)vmcs_read(GUEST_RIP), (unsigned long long)vmcs_read(GUEST_RSP),
	       (unsigned long long)vmcs_read(GUEST_RFLAGS), (unsigned long long)vmcs_read(GUEST_CR0),
	       (unsigned long long)vmcs_read(CR0_READ_SHADOW), (unsigned long long)vmcs_read(GUEST_CR3),
	       (unsigned long long)vmcs_read(GUEST_CR4), (unsigned long long)vmcs_read(CR4_READ_SHADOW),
	       (unsigned long long)vmcs_read(GUEST_IA32_EFER));
	printk("hv:   rax %#llx rbx %#llx rcx %#llx rdx %#llx rsi %#llx rdi %#llx rbp %#llx\n",
	       (unsigned long long)r->rax, (unsigned long long)r->rbx, (unsigned long long)r->rcx,
	       (unsigned long long)r->rdx, (unsigned long long)r->rsi, (unsigned long long)r->rdi,
	       (unsigned long long)r->rbp);
	printk("hv:   r8 %#llx r9 %#llx r10 %#llx r11 %#llx r12 %#llx r13 %#llx r14 %#llx r15 %#llx\n",
	       (unsigned long long)r->r8, (unsigned long long)r->r9, (unsigned long long)r->r10,
	       (unsigned long long)r->r11, (unsigned long long)r->r12, (unsigned long long)r->r13,
	       (unsigned long long)r->r14, (unsigned long long)r->r15);
	dump_segment("cs", GUEST_CS_SELECTOR);
	dump_segment("ss", GUEST_SS_SELECTOR);
	dump_segment("ds", GUEST_DS_SELECTOR);
	dump_segment("tr", GUEST_TR_SELECTOR);
	printk("hv:   gdtr %#llx/%#llx idtr %#llx/%#llx interruptibility %#llx activity %llu idt-vectoring %#llx\n",
	       (unsigned long long)vmcs_read(GUEST_GDTR_BASE), (unsigned long long)vmcs_read(GUEST_GDTR_LIMIT),
	       (unsigned long long)vmcs_read(GUEST_IDTR_BASE), (unsigned long long)vmcs_read(GUEST_IDTR_LIMIT),
	       (unsigned long long)vmcs_read(GUEST_INTERRUPTIBILITY_INFO),
	       (unsigned long long)vmcs_read(GUEST_ACTIVITY_STATE),
	       (unsigned long long)vmcs_read(IDT_VECTORING_INFO_FIELD));
}

/* The guest cannot go on: report, count, end the machine. The hypervisor itself is fine. */
__noreturn void vmx_stop_guest(struct vcpu *v, struct guest_regs *regs, uint8_t status)
{
	if (regs)
		dump_guest_state(regs);
	vmx_print_exit_counters();
	printk("hv: L1 stopped by its vCPU on CPU %u; ending the machine with status %#x\n", v->cpu_id, status);
	machine_exit(status);
}

__attribute__((cold, noinline)) static void handle_unhandled(struct vcpu *v, struct guest_regs *r)
{
	uint32_t reason = (uint32_t)vmcs_read(VM_EXIT_REASON);

	printk("hv: L1 exit the hypervisor does not handle: reason %u (%s), qualification %#llx, intr info %#llx\n",
	       VMX_EXIT_REASON_BASIC(reason), vmx_exit_reason_name(VMX_EXIT_REASON_BASIC(reason)),
	       (unsigned long long)vmcs_read(EXIT_QUALIFICATION), (unsigned long long)vmcs_read(VM_EXIT_INTR_INFO));
	vmx_stop_guest(v, r, HV_EXIT_GUEST_DIED);
}

/* The leaves the policy changes; out[] holds the host's answer. */
__attribute__((noinline)) static void cpuid_filtered(struct guest_regs *r, uint32_t leaf, uint32_t out[4])
{
	struct cpuid_guest_view g = { 0, false };

	if (leaf == 1 || leaf == 7)
		g.cr4 = vmcs_read(GUEST_CR4);
	else if (leaf == 0x80000001)
		g.in_64bit_mode = (vmcs_read(GUEST_CS_AR_BYTES) & BIT(13)) && (vmcs_read(GUEST_IA32_EFER) & X86_EFER_LMA);
	cpuid_apply_policy(&vmx_cpuid_policy, leaf, (uint32_t)r->rcx, &g, out);
	r->rax = out[0], r->rbx = out[1], r->rcx = out[2], r->rdx = out[3];
}

/*
 * The benchmarked exit: most leaves pass straight through without reading any
 * guest state. CPUID writes the guest's registers directly (64-bit CPUID
 * zero-extends, which a 32-bit L1 cannot observe and a 64-bit L1 expects).
 */
static void handle_cpuid(struct vcpu *v, struct guest_regs *r)
{
	uint32_t leaf = (uint32_t)r->rax, out[4];

	(void)v;
	if (likely(!cpuid_policy_applies(leaf))) {
		__asm__ volatile("cpuid" : "=a"(r->rax), "=b"(r->rbx), "=c"(r->rcx), "=d"(r->rdx)
				 : "a"((uint64_t)leaf), "c"((uint64_t)(uint32_t)r->rcx));
	} else {
		cpuid(leaf, (uint32_t)r->rcx, &out[0], &out[1], &out[2], &out[3]);
		cpuid_filtered(r, leaf, out);
	}
	vmx_skip_instruction();
}

/*
 * Only MSRs the bitmap intercepts, or that lie outside its two ranges,
 * exit. Outside the ranges no x86 MSR exists on Intel: #GP as the CPU would
 * give, never a host RDMSR that could fault in the hypervisor.
 */
static void handle_rdmsr(struct vcpu *v, struct guest_regs *r)
{
	uint64_t val;

	(void)v;
	/* IA32_FEATURE_CONTROL and the VMX MSRs: what the nested VMX policy offers L1 (hv/nested/vmx_policy.c). */
	if (vmx_offer_rdmsr(&vmx_l1_offer, (uint32_t)r->rcx, &val) != VMX_MSR_OK) {
		vmx_inject_hw_exception(GP_VECTOR, true, 0);
		return;
	}
	r->rax = (uint32_t)val;
	r->rdx = val >> 32;
	vmx_skip_instruction();
}

/*
 * L1 owns its local APIC, but the APIC page decodes before memory: moved
 * onto the hypervisor's memory it would shadow the hypervisor's own
 * accesses. Reserved bits and invalid mode changes get the #GP the CPU
 * gives (emulate_apic_base_write_ok), so the host WRMSR below cannot fault.
 */
static bool apic_base_write_ok(uint64_t val)
{
	uint32_t a, b, c, d;

	cpuid(1, 0, &a, &b, &c, &d);
	if (!emulate_apic_base_write_ok(rdmsr(MSR_IA32_APIC_BASE), val, vmx_max_phys_addr_bits(), c & BIT(21)))
		return false;
	return !mm_range_overlaps_hv(val & ~0xfffULL, PAGE_SIZE);
}

static void handle_wrmsr(struct vcpu *v, struct guest_regs *r)
{
	uint32_t msr = (uint32_t)r->rcx;
	uint64_t val = (r->rdx << 32) | (uint32_t)r->rax;

	(void)v;
	if (msr == X2APIC_MSR_ICR_WRITE && vmx_x2apic_icr_write(val)) {
		vmx_skip_instruction();
		return;
	}
	if (msr == MSR_IA32_APIC_BASE && apic_base_write_ok(val)) {
		wrmsr(msr, val);
		vmx_skip_instruction();
		return;
	}
	/* IA32_FEATURE_CONTROL is locked; VMX MSRs are read-only; the rest do not exist. */
	(void)vmx_offer_wrmsr(&vmx_l1_offer, msr);
	vmx_inject_hw_exception(GP_VECTOR, true, 0);
}

/*
 * Halt in VMX non-root (SDM 26.6.5), whatever IF says: L1's own interrupts
 * (not intercepted) wake it, and with interrupts off an NMI (an NMI exit,
 * injected into L1 at once), INIT or SMI still does, as on the CPU.
 */
static void handle_hlt(struct vcpu *v, struct guest_regs *r)
{
	(void)r;
	vmx_apic_trap_check(v);
	vmx_skip_instruction();
	vmcs_write(GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_HLT);
	v->hlt_resume_rip = vmcs_read(GUEST_RIP);
}

/* VMCALL in L1 (no hypervisor below answers it) and VM functions (not offered): #UD as on the hardware. */
static void handle_ud(struct vcpu *v, struct guest_regs *r)
{
	(void)v, (void)r;
	vmx_inject_hw_exception(UD_VECTOR, false, 0);
}

/* INVD: dropping caches without write-back is never safe to pass on; treat it as WBINVD-free no-op. */
/* VMXON ... VMRESUME: nested VMX (hv/vmx/nested_insn_exit.c); #UD with nested=off. */
static void handle_vmx_instruction(struct vcpu *v, struct guest_regs *r)
{
	vmx_nested_insn_exit(v, r);
}

/* INVEPT/INVVPID: #UD while L1 is offered neither EPT nor VPID (SDM 31.3: #UD without the capability). */
static void handle_invept_invvpid(struct vcpu *v, struct guest_regs *r)
{
	vmx_nested_inv_exit(v, r);
}

static void handle_invd(struct vcpu *v, struct guest_regs *r)
{
	(void)v, (void)r;
	vmx_skip_instruction();
}

static void handle_external_interrupt(struct vcpu *v, struct guest_regs *r)
{
	/* Not enabled (L1 takes its interrupts directly); if it ever happens, the interrupt stays pending for L1. */
	(void)v, (void)r;
}

static void handle_triple_fault(struct vcpu *v, struct guest_regs *r)
{
	printk("hv: L1 triple fault at RIP %#llx; stopping L1 (the hypervisor is unharmed)\n",
	       (unsigned long long)vmcs_read(GUEST_RIP));
	vmx_stop_guest(v, r, HV_EXIT_GUEST_DIED);
}

/*
 * INIT (SDM 25.2: an exit that changes no state). An AP goes back to the INIT
 * state and waits for SIPI, as hardware would. On the boot CPU INIT is a
 * reset into the firmware, which L1 does not own: report it and stop.
 */
static void handle_init(struct vcpu *v, struct guest_regs *r)
{
	if (vmx_nested_latch_init(v))
		return; /* L1 is in VMX root operation: INIT waits (nested_run.c) */
	vmx_l1_init(v, r);
}

/* INIT reaches L1 itself: an AP goes back to wait-for-SIPI, the boot CPU would reset. */
void vmx_l1_init(struct vcpu *v, struct guest_regs *r)
{
	if (v->is_bsp) {
		printk("hv: L1 sent INIT to its boot CPU at RIP %#llx (a reset); stopping L1\n",
		       (unsigned long long)vmcs_read(GUEST_RIP));
		vmx_stop_guest(v, r, HV_EXIT_GUEST_DIED);
	}
	vmx_vcpu_load_init_state(v, false);
	vmx_apic_trap_update(v);
}

/* A SIPI reaches only a vCPU in wait-for-SIPI (SDM 25.2); the vector is the exit qualification's low byte. */
static void handle_sipi(struct vcpu *v, struct guest_regs *r)
{
	(void)r;
	vmx_sipi_exit_check_stop();
	vmx_vcpu_start_at_sipi(v, (uint8_t)vmcs_read(EXIT_QUALIFICATION));
	vmx_apic_trap_update(v);
}

static const char *ept_access_name(uint64_t q)
{
	static const char *const names[8] = { "no", "read", "write", "read-write", "instruction-fetch",
					      "read/fetch", "write/fetch", "read-write/fetch" };

	return names[q & 7];
}

/* Exit qualification, SDM 28.2.1 (Table 28-7). Our EPT maps everything but the hypervisor's memory. */
static void handle_ept_violation(struct vcpu *v, struct guest_regs *r)
{
	uint64_t q = vmcs_read(EXIT_QUALIFICATION), gpa = vmcs_read(GUEST_PHYSICAL_ADDRESS);
	bool hv = mm_range_overlaps_hv(gpa & ~0xfffULL, PAGE_SIZE);

	/* Bit 1: a write (SDM Table 28-7); the one page L1 may not write is its xAPIC page. */
	vmx_apic_trap_check(v);
	if ((q & BIT(1)) && vmx_apic_page_write(v, r, gpa))
		return;

	printk("hv: L1 EPT violation: %s access to GPA %#llx (%s) at RIP %#llx",
	       ept_access_name(q), (unsigned long long)gpa,
	       hv ? "hypervisor memory" : "outside the guest's physical address space",
	       (unsigned long long)vmcs_read(GUEST_RIP));
	if (q & BIT(7))
		printk(", linear address %#llx", (unsigned long long)vmcs_read(GUEST_LINEAR_ADDRESS));
	printk("; stopping L1 (the hypervisor is unharmed)\n");
	vmx_stop_guest(v, r, HV_EXIT_GUEST_DIED);
}

static void handle_ept_misconfig(struct vcpu *v, struct guest_regs *r)
{
	printk("hv: EPT misconfiguration at GPA %#llx (a bug in the hypervisor's EPT for L1, EPTP %#llx)\n",
	       (unsigned long long)vmcs_read(GUEST_PHYSICAL_ADDRESS), (unsigned long long)v->eptp);
	vmx_stop_guest(v, r, HV_EXIT_GUEST_DIED);
}

static exit_handler_t exit_handlers[EXIT_REASON_MAX] = {
	[EXIT_REASON_EXCEPTION_NMI]      = vmx_handle_nmi_exit,
	[EXIT_REASON_EXTERNAL_INTERRUPT] = handle_external_interrupt,
	[EXIT_REASON_TRIPLE_FAULT]       = handle_triple_fault,
	[EXIT_REASON_TASK_SWITCH]        = handle_task_switch,
	[EXIT_REASON_INIT_SIGNAL]        = handle_init,
	[EXIT_REASON_DR_ACCESS]          = handle_dr_access,
	[EXIT_REASON_SIPI]               = handle_sipi,
	[EXIT_REASON_NMI_WINDOW]         = vmx_handle_nmi_window,
	[EXIT_REASON_CPUID]              = handle_cpuid,
	[EXIT_REASON_GETSEC]             = handle_ud,
	[EXIT_REASON_HLT]                = handle_hlt,
	[EXIT_REASON_INVD]               = handle_invd,
	[EXIT_REASON_VMCALL]             = handle_ud,
	[EXIT_REASON_VMCLEAR]            = handle_vmx_instruction,
	[EXIT_REASON_VMLAUNCH]           = handle_vmx_instruction,
	[EXIT_REASON_VMPTRLD]            = handle_vmx_instruction,
	[EXIT_REASON_VMPTRST]            = handle_vmx_instruction,
	[EXIT_REASON_VMREAD]             = handle_vmx_instruction,
	[EXIT_REASON_VMRESUME]           = handle_vmx_instruction,
	[EXIT_REASON_VMWRITE]            = handle_vmx_instruction,
	[EXIT_REASON_VMOFF]              = handle_vmx_instruction,
	[EXIT_REASON_VMON]               = handle_vmx_instruction,
	[EXIT_REASON_CR_ACCESS]          = handle_cr_access,
	[EXIT_REASON_IO_INSTRUCTION]     = handle_io,
	[EXIT_REASON_MSR_READ]           = handle_rdmsr,
	[EXIT_REASON_MSR_WRITE]          = handle_wrmsr,
	[EXIT_REASON_EPT_VIOLATION]      = handle_ept_violation,
	[EXIT_REASON_EPT_MISCONFIG]      = handle_ept_misconfig,
	[EXIT_REASON_INVEPT]             = handle_invept_invvpid,
	[EXIT_REASON_INVVPID]            = handle_invept_invvpid,
	[EXIT_REASON_VMFUNC]             = handle_ud,
	[EXIT_REASON_XSETBV]             = handle_xsetbv,
};

/* Every reason without a handler gets the report-and-stop one, so the dispatcher never tests for NULL. */
void vmx_exit_handlers_init(void)
{
	for (uint32_t r = 0; r < EXIT_REASON_MAX; r++)
		if (!exit_handlers[r])
			exit_handlers[r] = handle_unhandled;
}

/* SDM 27.8: a VM entry that failed after loading guest state arrives as an exit with bit 31 set. */
__noreturn __attribute__((cold, noinline)) static void entry_failed(struct vcpu *v, struct guest_regs *r, uint32_t reason)
{
	uint32_t basic = VMX_EXIT_REASON_BASIC(reason);
	uint64_t q = vmcs_read(EXIT_QUALIFICATION);

	printk("hv: VM entry into L1 failed: exit reason %u (%s), qualification %llu: %s\n", basic,
	       vmx_exit_reason_name(basic), (unsigned long long)q, vmx_entry_failure_qual_name(basic, q));
	vmx_stop_guest(v, r, HV_EXIT_GUEST_DIED);
}

/* The hypervisor's own handling of an exit of L2 (exit_decide.c said it is ours): the same handlers as L1's. */
void vmx_nested_handle_l0_exit(struct vcpu *v, struct guest_regs *r, uint32_t basic)
{
	if (basic < EXIT_REASON_MAX)
		exit_handlers[basic](v, r);
	else
		handle_unhandled(v, r);
}

/* Called by vmx_exit_stub with L1's GPRs; returning resumes the current VMCS (vmcs01, or vmcs02 after L1's entry). */
void vmx_handle_exit(struct guest_regs *regs, struct vcpu *v)
{
	uint32_t reason = (uint32_t)vmcs_read(VM_EXIT_REASON);
	uint32_t basic = VMX_EXIT_REASON_BASIC(reason);
	exit_handler_t handler;

	if (unlikely(reason & VMX_EXIT_REASON_FAILED_ENTRY))
		entry_failed(v, regs, reason);
	if (unlikely(basic >= EXIT_REASON_MAX)) {
		handle_unhandled(v, regs);
		return;
	}
	v->exits[basic]++;
	handler = exit_handlers[basic];
	handler(v, regs);
	if (unlikely(this_cpu()->nmi_pending))
		vmx_deliver_pending_nmi(); /* an NMI of L1's taken in this exit or before (exit_nmi.c) */
	iommu_poll_on_exit();
}

/* AP vCPUs exit here (their HOST_RIP is vmx_exit_stub_ap): the common dispatch, then the wait-for-SIPI fix. */
void vmx_handle_exit_ap(struct guest_regs *regs, struct vcpu *v)
{
	vmx_handle_exit(regs, v);
	if (!vmx_in_l2(v))
		vmx_vcpu_fix_sipi_blocking();
}

/*
 * Every exit of L2 (vmcs02's HOST_RIP is vmx_exit_stub_l2): handled or reflected by hv/vmx/nested_run.c.
 * On an AP vCPU Bochs saves its stale wait-for-SIPI blocking (SMI and NMI) into vmcs02 as into vmcs01:
 * cleared first, or the hypervisor's own resume of vmcs02 (a shadow-EPT fill) fails its entry on
 * "blocking by SMI outside SMM" (SDM 26.3.1.5) and L1 would see L2's stale bits on a reflected exit.
 */
void vmx_handle_exit_l2(struct guest_regs *regs, struct vcpu *v)
{
	if (unlikely(!v->is_bsp))
		vmx_vcpu_fix_sipi_blocking();
	vmx_nested_l2_exit(v, regs);
	vmx_shadow_l1_resumes(v); /* after an exit to L1: what it wrote into vmcs12, to the shadow VMCS */
	/* An NMI of L1's that L1 does not intercept for L2 is delivered to whichever guest runs next. */
	if (unlikely(this_cpu()->nmi_pending))
		vmx_deliver_pending_nmi();
	iommu_poll_on_exit();
}

__noreturn static void entry_instruction_failed(struct vcpu *v, struct guest_regs *r, const char *insn)
{
	uint64_t err;

	if (vmcs_read_checked(VM_INSTRUCTION_ERROR, &err) < 0) {
		printk("hv: %s of L1 failed with VMfailInvalid (no current VMCS)\n", insn);
		vmx_stop_guest(v, NULL, HV_EXIT_GUEST_DIED);
	}
	printk("hv: %s of L1 failed: VM-instruction error %llu (%s)\n", insn, (unsigned long long)err,
	       vmx_instruction_error_name((uint32_t)err));
	printk("hv:   controls: pin %#llx proc %#llx proc2 %#llx exit %#llx entry %#llx; host cr0 %#llx cr4 %#llx\n",
	       (unsigned long long)vmcs_read(PIN_BASED_VM_EXEC_CONTROL),
	       (unsigned long long)vmcs_read(CPU_BASED_VM_EXEC_CONTROL),
	       (unsigned long long)vmcs_read(SECONDARY_VM_EXEC_CONTROL), (unsigned long long)vmcs_read(VM_EXIT_CONTROLS),
	       (unsigned long long)vmcs_read(VM_ENTRY_CONTROLS), (unsigned long long)vmcs_read(HOST_CR0),
	       (unsigned long long)vmcs_read(HOST_CR4));
	vmx_stop_guest(v, r, HV_EXIT_GUEST_DIED);
}

__noreturn void vmx_resume_failed(struct guest_regs *regs, struct vcpu *v)
{
	if (v->nested && v->nested->entering)
		vmx_nested_entry_refused(v, regs);
	entry_instruction_failed(v, regs, "VMRESUME");
}

__noreturn void vmx_launch_failed(struct vcpu *v)
{
	entry_instruction_failed(v, v->regs, "VMLAUNCH");
}

/* A VMWRITE the CPU refused: a field this CPU model lacks (Bochs checks strictly) or a bad value. */
void vmcs_write_failed(enum vmcs_field field, uint64_t val)
{
	uint64_t err = 0;

	vmcs_read_checked(VM_INSTRUCTION_ERROR, &err);
	printk("hv: VMWRITE of VMCS field %#x (value %#llx) failed: VM-instruction error %llu (%s)\n", field,
	       (unsigned long long)val, (unsigned long long)err, vmx_instruction_error_name((uint32_t)err));
}
