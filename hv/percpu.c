/* Per-CPU state: the array of per-CPU structs and bringing up the boot CPU's tables. */
#include "hv/percpu.h"
#include "hv/cpu_tables.h"
#include "hv/x86.h"

struct percpu percpu_area[MAX_CPUS] __aligned(64);
uint32_t nr_cpus_online;
static bool percpu_ready;

static uint32_t current_apic_id(void)
{
	uint32_t a, b, c, d;

	cpuid(1, 0, &a, &b, &c, &d);
	return b >> 24;
}

void percpu_init_boot_cpu(void)
{
	struct percpu *cpu = &percpu_area[0];

	cpu->self = cpu;
	cpu->cpu_id = 0;
	cpu->apic_id = current_apic_id();
	cpu_tables_init(cpu);
	idt_init();
	idt_load();
	/* After the segment reloads above: loading GS zeroes the GS base. */
	wrmsr(MSR_IA32_GS_BASE, (uint64_t)cpu);
	nr_cpus_online = 1;
	percpu_ready = true;
}

uint32_t this_cpu_id_safe(void)
{
	return percpu_ready ? this_cpu()->cpu_id : 0;
}
