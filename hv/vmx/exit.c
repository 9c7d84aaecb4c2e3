/* L1's VM exits: one dispatcher table indexed by basic exit reason, one handler per reason, and the reports. */
#include "hv/vmx/vmx_internal.h"
#include "hv/vmx/vmx_asm.h"
#include "hv/acpi.h"
#include "hv/console.h"
#include "hv/mm.h"
#include "hv/panic.h"
#include "hv/percpu.h"
#include "hv/x86.h"

#define TEST_EXIT_PORT     0xf4 /* QEMU isa-debug-exit convention, 4 ports wide */
#define TEST_EXIT_PORT_END 0xf8
#define POST_CODE_PORT     0x80
#define X2APIC_MSR_ICR_WRITE 0x830 /* intercepted only while L1 has AP vCPUs (apic_access.c) */

struct cpuid_policy vmx_cpuid_policy = { .hypervisor_bit = true };

typedef void (*exit_handler_t)(struct vcpu *v, struct guest_regs *r);

/*
 * The single-step trap after an emulated instruction: a pending debug
 * exception with BS set, delivered by the CPU right after VM entry (SDM
 * 26.6.3), so L1's #DB arrives with DR6.BS exactly as if it ran natively.
 */
void vmx_single_step_trap(void)
{
	vmcs_write(GUEST_PENDING_DBG_EXCEPTIONS, vmcs_read(GUEST_PENDING_DBG_EXCEPTIONS) | PENDING_DBG_BS);
}

/* SDM 26.6.1: event injection. Real mode (unrestricted guest, CR0.PE=0) delivers no error code (SDM 26.2.1.3). */
void vmx_inject_hw_exception(unsigned int vector, bool has_error_code, uint32_t error_code)
{
	uint32_t info = vector | (INTR_TYPE_HW_EXCEPTION << INTR_INFO_TYPE_SHIFT) | INTR_INFO_VALID;

	if (has_error_code && (vmcs_read(GUEST_CR0) & X86_CR0_PE)) {
		info |= INTR_INFO_DELIVER_CODE;
		vmcs_write(VM_ENTRY_EXCEPTION_ERROR_CODE, error_code);
	}
	vmcs_write(VM_ENTRY_INTR_INFO_FIELD, info);
}

static void print_vcpu_exit_counters(const struct vcpu *v, const char *label)
{
	char line[600];
	int n = hv_snprintf(line, sizeof(line), "%s", label);
	uint64_t total = 0;

	for (uint32_t r = 0; r < EXIT_REASON_MAX; r++) {
		if (!v->exits[r])
			continue;
		total += v->exits[r];
		if (n < (int)sizeof(line))
			n += hv_snprintf(line + n, sizeof(line) - (size_t)n, " %s=%llu", vmx_exit_reason_short(r),
					 (unsigned long long)v->exits[r]);
	}
	printk("%s total=%llu\n", line, (unsigned long long)total);
}

/* The boot vCPU's counters first (the line tests and users look for), then each AP's. */
void vmx_print_exit_counters(void)
{
	char label[32];

	if (percpu_area[0].vcpu)
		print_vcpu_exit_counters(percpu_area[0].vcpu, "hv: exits:");
	for (uint32_t i = 1; i < MAX_CPUS; i++) {
		const struct vcpu *ap = percpu_area[i].vcpu;

		if (!ap || !ap->launched)
			continue;
		hv_snprintf(label, sizeof(label), "hv: exits on CPU %u:", i);
		print_vcpu_exit_counters(ap, label);
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

static void set_in_result(struct guest_regs *r, unsigned int size, uint32_t val)
{
	r->rax = emulate_in_result(r->rax, size, val);
}

/* A port L1 owns: the access goes to the device as L1 issued it. */
static void io_pass_through(struct guest_regs *r, uint16_t port, unsigned int size, bool in)
{
	if (in)
		set_in_result(r, size, size == 1 ? inb(port) : size == 2 ? inw(port) : inl(port));
	else if (size == 1)
		outb(port, (uint8_t)r->rax);
	else if (size == 2)
		outw(port, (uint16_t)r->rax);
	else
		outl(port, (uint32_t)r->rax);
}

/* Exit qualification for I/O, SDM 28.2.1 (Table 28-5). */
static void handle_io(struct vcpu *v, struct guest_regs *r)
{
	uint64_t q = vmcs_read(EXIT_QUALIFICATION);
	uint16_t port = (uint16_t)(q >> 16);
	unsigned int size = (unsigned int)(q & 7) + 1;
	bool in = q & BIT(3);

	if (q & BIT(4)) { /* INS/OUTS to an intercepted port: nothing of ours speaks them */
		handle_unhandled(v, r);
		return;
	}
	if (port >= TEST_EXIT_PORT && port < TEST_EXIT_PORT_END) {
		if (in) {
			set_in_result(r, size, 0xffffffffu); /* write-only device */
		} else {
			printk("hv: guest requested exit status %llu\n", (unsigned long long)(r->rax & 0xff));
			vmx_print_exit_counters();
			machine_exit((uint8_t)r->rax);
		}
	} else if (port == POST_CODE_PORT) {
		/* The POST-code port: a harmless intercepted device (the benchmark's "intercepted write"). */
		if (in)
			set_in_result(r, size, v->port80);
		else
			v->port80 = (uint8_t)r->rax;
	} else {
		if (port == v->pm1a_cnt_port && !in && (r->rax & ACPI_PM1_SLP_EN)) {
			/* SLP_EN (ACPI 6.5, 4.8.3.2.1): L1 powers off or sleeps; the write below may end the machine. */
			printk("hv: L1 entered ACPI sleep state (SLP_TYP %llu) at RIP %#llx\n",
			       (unsigned long long)((r->rax >> 10) & 7), (unsigned long long)vmcs_read(GUEST_RIP));
			vmx_print_exit_counters();
		}
		io_pass_through(r, port, size, in);
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
	uint32_t msr = (uint32_t)r->rcx;
	uint64_t val;

	(void)v;
	if (msr != MSR_IA32_FEATURE_CONTROL) {
		vmx_inject_hw_exception(GP_VECTOR, true, 0); /* VMX MSRs: VT-x is hidden from L1 */
		return;
	}
	/* Locked, VMX off: consistent with CPUID.1:ECX.VMX = 0 (SDM 24.7). */
	val = (rdmsr(MSR_IA32_FEATURE_CONTROL) & ~(FEATURE_CONTROL_VMX_IN_SMX | FEATURE_CONTROL_VMX_OUTSIDE_SMX)) |
	      FEATURE_CONTROL_LOCKED;
	r->rax = (uint32_t)val;
	r->rdx = val >> 32;
	vmx_skip_instruction();
}

static uint64_t max_phys_addr_mask(void)
{
	uint32_t a, b, c, d;

	cpuid(0x80000000, 0, &a, &b, &c, &d);
	if (a < 0x80000008)
		return (1ULL << 36) - 1;
	cpuid(0x80000008, 0, &a, &b, &c, &d);
	return (1ULL << (a & 0xff)) - 1;
}

/*
 * L1 owns its local APIC, but the APIC page decodes before memory: moved
 * onto the hypervisor's memory it would shadow the hypervisor's own
 * accesses. Reserved bits and invalid mode changes get the #GP the CPU
 * gives (SDM 10.12.5), so the host WRMSR below cannot fault.
 */
static bool apic_base_write_ok(uint64_t val)
{
	uint64_t reserved = 0x2ffULL | ~max_phys_addr_mask();
	uint64_t old = rdmsr(MSR_IA32_APIC_BASE), mode_bits = BIT(11) | BIT(10);
	uint64_t new_mode = val & mode_bits, old_mode = old & mode_bits;

	if (val & reserved & ~BIT(8))
		return false;
	if (new_mode == BIT(10) || (old_mode == mode_bits && new_mode == BIT(11)))
		return false;
	return !mm_range_overlaps_hv(val & ~0xfffULL & max_phys_addr_mask(), PAGE_SIZE);
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
	/* IA32_FEATURE_CONTROL is locked; VMX MSRs are read-only (and hidden); the rest do not exist. */
	vmx_inject_hw_exception(GP_VECTOR, true, 0);
}

static void handle_hlt(struct vcpu *v, struct guest_regs *r)
{
	vmx_apic_trap_check(v);
	vmx_skip_instruction();
	/*
	 * An AP parked with interrupts off still wakes on INIT or NMI from the
	 * boot CPU, so it halts for real. The boot CPU halted so is L1's end:
	 * nothing else will wake it, and a silent hang helps nobody.
	 */
	if (v->is_bsp && !(vmcs_read(GUEST_RFLAGS) & X86_RFLAGS_IF)) {
		printk("hv: L1 halted with interrupts disabled at RIP %#llx: nothing can wake it; stopping L1\n",
		       (unsigned long long)vmcs_read(GUEST_RIP));
		vmx_stop_guest(v, r, HV_EXIT_GUEST_DIED);
	}
	/* Halt in VMX non-root; L1's own interrupts (not intercepted) wake it (SDM 26.6.5). */
	vmcs_write(GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_HLT);
}

/* VMCALL, and VMX instructions while nested VMX is not offered: #UD as on a CPU without VT-x. */
static void handle_ud(struct vcpu *v, struct guest_regs *r)
{
	(void)v, (void)r;
	vmx_inject_hw_exception(UD_VECTOR, false, 0);
}

/* INVD: dropping caches without write-back is never safe to pass on; treat it as WBINVD-free no-op. */
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
	if (v->is_bsp) {
		printk("hv: L1 sent INIT to its boot CPU at RIP %#llx (a reset); stopping L1\n",
		       (unsigned long long)vmcs_read(GUEST_RIP));
		vmx_stop_guest(v, r, HV_EXIT_GUEST_DIED);
	}
	vmx_vcpu_load_init_state(v);
	vmx_apic_trap_update(v);
}

/* A SIPI reaches only a vCPU in wait-for-SIPI (SDM 25.2); the vector is the exit qualification's low byte. */
static void handle_sipi(struct vcpu *v, struct guest_regs *r)
{
	(void)r;
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
	[EXIT_REASON_EXTERNAL_INTERRUPT] = handle_external_interrupt,
	[EXIT_REASON_TRIPLE_FAULT]       = handle_triple_fault,
	[EXIT_REASON_INIT_SIGNAL]        = handle_init,
	[EXIT_REASON_SIPI]               = handle_sipi,
	[EXIT_REASON_CPUID]              = handle_cpuid,
	[EXIT_REASON_GETSEC]             = handle_ud,
	[EXIT_REASON_HLT]                = handle_hlt,
	[EXIT_REASON_INVD]               = handle_invd,
	[EXIT_REASON_VMCALL]             = handle_ud,
	[EXIT_REASON_VMCLEAR]            = handle_ud,
	[EXIT_REASON_VMLAUNCH]           = handle_ud,
	[EXIT_REASON_VMPTRLD]            = handle_ud,
	[EXIT_REASON_VMPTRST]            = handle_ud,
	[EXIT_REASON_VMREAD]             = handle_ud,
	[EXIT_REASON_VMRESUME]           = handle_ud,
	[EXIT_REASON_VMWRITE]            = handle_ud,
	[EXIT_REASON_VMOFF]              = handle_ud,
	[EXIT_REASON_VMON]               = handle_ud,
	[EXIT_REASON_CR_ACCESS]          = handle_cr_access,
	[EXIT_REASON_IO_INSTRUCTION]     = handle_io,
	[EXIT_REASON_MSR_READ]           = handle_rdmsr,
	[EXIT_REASON_MSR_WRITE]          = handle_wrmsr,
	[EXIT_REASON_EPT_VIOLATION]      = handle_ept_violation,
	[EXIT_REASON_EPT_MISCONFIG]      = handle_ept_misconfig,
	[EXIT_REASON_INVEPT]             = handle_ud,
	[EXIT_REASON_INVVPID]            = handle_ud,
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

/*
 * An NMI that hit the hypervisor (hv_trap counts it) belonged to L1, which
 * owns the platform's NMI sources. Inject it once nothing blocks NMIs and no
 * other event is being injected (SDM 26.3.1.5); otherwise a later exit retries.
 */
__attribute__((cold, noinline)) static void forward_pending_nmi(void)
{
	struct percpu *cpu = this_cpu();
	uint64_t blocked = GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS | GUEST_INTR_STATE_NMI;

	if ((vmcs_read(VM_ENTRY_INTR_INFO_FIELD) & INTR_INFO_VALID) || (vmcs_read(GUEST_INTERRUPTIBILITY_INFO) & blocked))
		return;
	cpu->nmi_pending--;
	vmcs_write(VM_ENTRY_INTR_INFO_FIELD, NMI_VECTOR | (INTR_TYPE_NMI << INTR_INFO_TYPE_SHIFT) | INTR_INFO_VALID);
	if (vmcs_read(GUEST_ACTIVITY_STATE) == GUEST_ACTIVITY_HLT)
		vmcs_write(GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_ACTIVE);
}

/* Called by vmx_exit_stub with the guest's GPRs; returning resumes L1. */
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
		forward_pending_nmi();
}

/* AP vCPUs exit here (their HOST_RIP is vmx_exit_stub_ap): the common dispatch, then the wait-for-SIPI fix. */
void vmx_handle_exit_ap(struct guest_regs *regs, struct vcpu *v)
{
	vmx_handle_exit(regs, v);
	vmx_vcpu_fix_sipi_blocking();
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
