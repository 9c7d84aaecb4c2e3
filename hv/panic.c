/* Stopping: panic() with a report, and machine_exit(), the one way the hypervisor ends the machine. */
#include <stdarg.h>
#include "hv/panic.h"
#include "hv/console.h"
#include "hv/delay.h"
#include "hv/lapic.h"
#include "hv/percpu.h"
#include "hv/traps.h"
#include "hv/x86.h"
#include "hv/vmx/vmx.h"

#define QEMU_DEBUG_EXIT_PORT 0xf4
#define BOCHS_SHUTDOWN_PORT  0x8900

static volatile bool panicking;
static uint32_t cpus_stopped;

bool panic_in_progress(void)
{
	return panicking;
}

__noreturn static void halt_forever(void)
{
	for (;;) {
		irq_disable();
		halt();
	}
}

__noreturn void machine_exit(uint8_t status)
{
	static const char shutdown[] = "Shutdown";

	printk("hv: machine exit, status %#x\n", status);
	irq_disable();
	/* QEMU isa-debug-exit: ends QEMU with (status << 1) | 1. */
	outb(QEMU_DEBUG_EXIT_PORT, status);
	if (status == 0) {
		/* Bochs magic breakpoint: with the "quit" rc line, exit code 0. */
		__asm__ volatile("xchgw %%bx, %%bx" ::: "memory");
	} else {
		/* Bochs' shutdown port: exit code 1. */
		for (const char *p = shutdown; *p; p++)
			outb(BOCHS_SHUTDOWN_PORT, (uint8_t)*p);
	}
	printk("hv: system halted (no emulator exit device); reset the machine to continue\n");
	halt_forever();
}

__noreturn void panic_stop_this_cpu(uint64_t rip, const char *where)
{
	printk("hv: CPU %u (APIC ID %u) stopped by the panic, it was at RIP %#llx (%s)\n", this_cpu()->cpu_id,
	       this_cpu()->apic_id, (unsigned long long)rip, where);
	__atomic_add_fetch(&cpus_stopped, 1, __ATOMIC_SEQ_CST);
	halt_forever();
}

/*
 * Stops the other CPUs with an NMI: it gets through with interrupts off, and
 * in VMX non-root (NMI exiting) it is an NMI exit. Each CPU's stop request is
 * set first, so that it tells this NMI from L1's own. A vCPU waiting for SIPI
 * holds NMIs; it gets a SIPI too. Then gives them a moment to say where they were.
 */
static void stop_other_cpus(void)
{
	uint32_t others = nr_cpus_online - 1;

	if (nr_cpus_online < 2)
		return;
	for (uint32_t i = 0; i < MAX_CPUS; i++)
		if (percpu_area[i].self && &percpu_area[i] != this_cpu())
			__atomic_or_fetch(&percpu_area[i].nmi_requests, NMI_REQ_STOP, __ATOMIC_SEQ_CST);
	lapic_send_ipi(0, ICR_DM_NMI | ICR_ALL_BUT_SELF);
	vmx_stop_vcpus_waiting_for_sipi();
	for (int ms = 0; ms < 100 && __atomic_load_n(&cpus_stopped, __ATOMIC_SEQ_CST) < others; ms++)
		udelay(1000);
}

__noreturn void panic(const char *fmt, ...)
{
	va_list ap;

	irq_disable();
	if (__atomic_exchange_n(&panicking, true, __ATOMIC_SEQ_CST)) {
		/* A second panic (or one on another CPU): the first one reports. */
		halt_forever();
	}
	console_break_lock();
	printk("hv: PANIC on CPU %u: ", this_cpu_id_safe());
	va_start(ap, fmt);
	vprintk(fmt, ap);
	va_end(ap);
	printk("\n");
	print_stack_trace((uint64_t)__builtin_frame_address(0));
	stop_other_cpus();
	machine_exit(HV_EXIT_PANIC);
}
