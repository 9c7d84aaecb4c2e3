/* Exceptions in the hypervisor: a full diagnostic on the console, then a stop; NMIs are recorded for the guest. */
#include "hv/traps.h"
#include "hv/console.h"
#include "hv/mm.h"
#include "hv/panic.h"
#include "hv/percpu.h"
#include "hv/x86.h"
#include "hv/vmx/vmx.h"

#define X86_NMI_VECTOR 2

extern char __image_start[], __image_end[];

static const char *const vector_names[32] = {
	"#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
	"#BR bound range", "#UD invalid opcode", "#NM device not available",
	"#DF double fault", "coprocessor segment overrun", "#TS invalid TSS",
	"#NP segment not present", "#SS stack fault", "#GP general protection",
	"#PF page fault", "reserved 15", "#MF x87 error", "#AC alignment check",
	"#MC machine check", "#XM SIMD error", "#VE virtualization exception",
	"#CP control protection", "reserved 22", "reserved 23", "reserved 24",
	"reserved 25", "reserved 26", "reserved 27", "#HV hypervisor injection",
	"#VC VMM communication", "#SX security exception", "reserved 31",
};

/* Boot stacks are in the image, AP and exit stacks in the pool: a frame pointer elsewhere is garbage. */
static bool on_hv_stack(uint64_t addr)
{
	return (addr >= (uint64_t)__image_start && addr + 16 <= (uint64_t)__image_end) ||
	       mm_range_is_hv_owned(addr, 16);
}

void print_stack_trace(uint64_t rbp)
{
	printk("hv:   stack trace (return addresses; resolve with addr2line -e build/hv.elf):\n");
	for (int depth = 0; depth < 16 && rbp && IS_ALIGNED(rbp, 8) && on_hv_stack(rbp); depth++) {
		const uint64_t *frame = (const uint64_t *)rbp;

		printk("hv:     #%d %#llx\n", depth, (unsigned long long)frame[1]);
		rbp = frame[0];
	}
}

static void print_frame(const struct trap_frame *f)
{
	printk("hv:   RIP=%016llx CS=%04llx RFLAGS=%016llx\n",
	       (unsigned long long)f->rip, (unsigned long long)f->cs, (unsigned long long)f->rflags);
	printk("hv:   RSP=%016llx SS=%04llx error code=%#llx\n",
	       (unsigned long long)f->rsp, (unsigned long long)f->ss, (unsigned long long)f->error_code);
	printk("hv:   RAX=%016llx RBX=%016llx RCX=%016llx RDX=%016llx\n",
	       (unsigned long long)f->rax, (unsigned long long)f->rbx, (unsigned long long)f->rcx, (unsigned long long)f->rdx);
	printk("hv:   RSI=%016llx RDI=%016llx RBP=%016llx\n",
	       (unsigned long long)f->rsi, (unsigned long long)f->rdi, (unsigned long long)f->rbp);
	printk("hv:   R8 =%016llx R9 =%016llx R10=%016llx R11=%016llx\n",
	       (unsigned long long)f->r8, (unsigned long long)f->r9, (unsigned long long)f->r10, (unsigned long long)f->r11);
	printk("hv:   R12=%016llx R13=%016llx R14=%016llx R15=%016llx\n",
	       (unsigned long long)f->r12, (unsigned long long)f->r13, (unsigned long long)f->r14, (unsigned long long)f->r15);
	printk("hv:   CR0=%016llx CR2=%016llx CR3=%016llx CR4=%016llx\n",
	       (unsigned long long)read_cr0(), (unsigned long long)read_cr2(),
	       (unsigned long long)read_cr3(), (unsigned long long)read_cr4());
}

void hv_trap(struct trap_frame *f)
{
	const char *name = f->vector < 32 ? vector_names[f->vector] : "?";

	/*
	 * An NMI in VMX root: the hypervisor's stop if another CPU asked for it
	 * first (panic.c), else L1's, which owns the platform's NMI sources: owed
	 * to the vCPU (exit_nmi.c).
	 */
	if (f->vector == X86_NMI_VECTOR) {
		struct percpu *cpu = this_cpu();

		if (__atomic_fetch_and(&cpu->nmi_requests, ~NMI_REQ_STOP, __ATOMIC_SEQ_CST) & NMI_REQ_STOP)
			panic_stop_this_cpu(f->rip, "in the hypervisor");
		vmx_nmi_in_root(cpu);
		return;
	}
	printk("hv: EXCEPTION in the hypervisor on CPU %u: vector %llu (%s)\n",
	       this_cpu_id_safe(), (unsigned long long)f->vector, name);
	print_frame(f);
	print_stack_trace(f->rbp);
	panic("unexpected %s at RIP %#llx", name, (unsigned long long)f->rip);
}
