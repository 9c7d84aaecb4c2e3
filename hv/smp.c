/* Brings the application processors up with INIT-SIPI-SIPI (SDM 9.4.4, MP spec B.4) into VMX root, then parks them. */
#include "hv/smp.h"
#include "hv/acpi.h"
#include "hv/console.h"
#include "hv/cpu_tables.h"
#include "hv/delay.h"
#include "hv/lapic.h"
#include "hv/mm.h"
#include "hv/string.h"
#include "hv/x86.h"
#include "hv/vmx/vmx.h"

extern char ap_trampoline_start[], ap_trampoline_end[], ap_tr_pm32[], ap_tr_gdt[], ap_tr_gdt_ptr[];
extern char ap_tr_jmp32[], ap_tr_jmp64[], ap_tr_cr3[], ap_tr_efer[], ap_tr_stack[], ap_tr_percpu[];
extern char ap_entry64[];

#define LOW_MEM_END        0x9f000 /* below the EBDA */
#define INIT_DELAY_US      10000   /* MP spec B.4.1: 10 ms after INIT */
#define SIPI_DELAY_US      200     /* and 200 us after each SIPI */
#define AP_START_TIMEOUT_MS 1000
#define CPUID1_ECX_MONITOR BIT(3)

static paddr_t tramp_pa;

/* The trampoline's copy of a variable: where the AP will read it. */
static uintptr_t tramp_offset(const char *sym)
{
	return (uintptr_t)sym - (uintptr_t)ap_trampoline_start;
}

static void *tramp_var(const char *sym)
{
	return phys_to_virt(tramp_pa + tramp_offset(sym));
}

/* The SIPI vector addresses a 4 KiB page below 1 MiB; it must be RAM nobody else uses yet. */
static paddr_t find_trampoline_page(const struct boot_info *bi)
{
	for (uint32_t i = 0; i < bi->mmap_count; i++) {
		const struct boot_mem_range *r = &bi->mmap[i];
		paddr_t start = ALIGN_UP(MAX(r->base, 0x1000), PAGE_SIZE);

		if (r->type == MEM_USABLE && start + PAGE_SIZE <= MIN(r->base + r->len, LOW_MEM_END))
			return start;
	}
	return 0;
}

static void prepare_trampoline(void)
{
	size_t size = tramp_offset(ap_trampoline_end);

	memcpy(phys_to_virt(tramp_pa), ap_trampoline_start, size);
	*(uint32_t *)tramp_var(ap_tr_gdt_ptr + 2) = (uint32_t)(tramp_pa + tramp_offset(ap_tr_gdt));
	*(uint32_t *)tramp_var(ap_tr_jmp32) = (uint32_t)(tramp_pa + tramp_offset(ap_tr_pm32));
	*(uint32_t *)tramp_var(ap_tr_jmp64) = (uint32_t)(uintptr_t)ap_entry64;
	*(uint64_t *)tramp_var(ap_tr_cr3) = read_cr3();
	*(uint64_t *)tramp_var(ap_tr_efer) = rdmsr(MSR_IA32_EFER) & (X86_EFER_LME | X86_EFER_NXE);
}

static bool monitor_mwait_available(void)
{
	uint32_t a, b, c, d;

	cpuid(1, 0, &a, &b, &c, &d);
	return c & CPUID1_ECX_MONITOR;
}

/* A parked AP sleeps until run_fn is written (MONITOR/MWAIT, SDM 8.10.4), so an idle AP costs nothing. */
__noreturn static void ap_park(struct percpu *cpu)
{
	bool mwait = monitor_mwait_available();

	for (;;) {
		void (*fn)(struct percpu *) = __atomic_exchange_n(&cpu->run_fn, NULL, __ATOMIC_ACQ_REL);

		if (fn) {
			fn(cpu);
			continue;
		}
		if (mwait) {
			__asm__ volatile("monitor" : : "a"(&cpu->run_fn), "c"(0), "d"(0));
			if (!cpu->run_fn)
				__asm__ volatile("mwait" : : "a"(0), "c"(0));
		} else {
			cpu_relax();
		}
	}
}

void smp_run_on(struct percpu *cpu, void (*fn)(struct percpu *cpu))
{
	__atomic_store_n(&cpu->run_fn, fn, __ATOMIC_RELEASE);
}

__noreturn void ap_main(struct percpu *cpu);
__noreturn void ap_main(struct percpu *cpu)
{
	cpu_tables_init(cpu);
	idt_load();
	wrmsr(MSR_IA32_GS_BASE, (uint64_t)cpu);
	cpu->boot_state = AP_ALIVE;
	if (vmx_cpu_init() == 0) {
		printk("hv: CPU %u (APIC ID %u) is in VMX root\n", cpu->cpu_id, cpu->apic_id);
		__atomic_add_fetch(&nr_cpus_online, 1, __ATOMIC_SEQ_CST);
		__atomic_store_n(&cpu->boot_state, AP_READY, __ATOMIC_RELEASE);
	} else {
		printk("hv: CPU %u (APIC ID %u) cannot enter VMX root; it stays parked\n", cpu->cpu_id, cpu->apic_id);
		__atomic_store_n(&cpu->boot_state, AP_NO_VMX, __ATOMIC_RELEASE);
	}
	ap_park(cpu);
}

static bool wait_for_state_change(struct percpu *cpu, uint32_t from, uint32_t timeout_ms)
{
	for (uint32_t ms = 0; ms < timeout_ms; ms++) {
		if (__atomic_load_n(&cpu->boot_state, __ATOMIC_ACQUIRE) != from)
			return true;
		udelay(1000);
	}
	return false;
}

static void start_ap(uint32_t idx, uint32_t apic_id)
{
	struct percpu *cpu = &percpu_area[idx];
	paddr_t stack = frame_alloc_contig(HV_STACK_SIZE / PAGE_SIZE, PAGE_SIZE);

	if (!stack) {
		printk("hv: SMP: no memory for a stack for APIC ID %u; that CPU stays off\n", apic_id);
		return;
	}
	cpu->self = cpu;
	cpu->cpu_id = idx;
	cpu->apic_id = apic_id;
	*(uint64_t *)tramp_var(ap_tr_stack) = stack + HV_STACK_SIZE;
	*(uint64_t *)tramp_var(ap_tr_percpu) = (uint64_t)cpu;
	cpu->boot_state = AP_STARTING;

	lapic_send_ipi(apic_id, ICR_DM_INIT | ICR_LEVEL_ASSERT);
	udelay(INIT_DELAY_US);
	for (int sipi = 0; sipi < 2 && cpu->boot_state == AP_STARTING; sipi++) {
		lapic_send_ipi(apic_id, ICR_DM_STARTUP | (uint32_t)(tramp_pa >> PAGE_SHIFT));
		udelay(SIPI_DELAY_US);
	}
	if (!wait_for_state_change(cpu, AP_STARTING, AP_START_TIMEOUT_MS)) {
		printk("hv: SMP: CPU with APIC ID %u did not answer INIT-SIPI-SIPI; going on without it\n", apic_id);
		return;
	}
	/* Wait for it to finish VMX bring-up so start-up output stays in order. */
	if (!wait_for_state_change(cpu, AP_ALIVE, AP_START_TIMEOUT_MS))
		printk("hv: SMP: CPU with APIC ID %u hung entering VMX root\n", apic_id);
}

static void print_cpus(const struct acpi_cpus *cpus)
{
	printk("hv: SMP: the MADT lists %u usable CPU(s), APIC IDs:", cpus->count);
	for (uint32_t i = 0; i < cpus->count; i++)
		printk(" %u", cpus->cpu[i].apic_id);
	printk("\n");
	if (cpus->dropped)
		printk("hv: SMP: %u more CPU(s) beyond the %u supported are left off\n", cpus->dropped, ACPI_MAX_CPUS);
}

void smp_boot_aps(const struct boot_info *bi)
{
	/* Read at boot (acpi_init), before anything could overwrite the tables' copies. */
	const struct acpi_cpus *cpus = &acpi_boot_facts.cpus;
	enum acpi_error err = acpi_boot_facts.cpus_err;
	uint32_t bsp_apic_id, next = 1;

	lapic_init();
	bsp_apic_id = lapic_id();
	percpu_area[0].apic_id = bsp_apic_id;
	if (err != ACPI_OK) {
		printk("hv: SMP: %s; running on the boot CPU only\n", acpi_strerror(err));
		return;
	}
	print_cpus(cpus);
	if (cpus->count == 1)
		return;
	tramp_pa = find_trampoline_page(bi);
	if (!tramp_pa) {
		printk("hv: SMP: no free page below 1 MiB for the AP start-up code; running on the boot CPU only\n");
		return;
	}
	prepare_trampoline();
	for (uint32_t i = 0; i < cpus->count; i++) {
		if (cpus->cpu[i].apic_id == bsp_apic_id)
			continue;
		if (next == MAX_CPUS) {
			printk("hv: SMP: APIC ID %u is beyond the %u CPUs supported\n", cpus->cpu[i].apic_id, MAX_CPUS);
			continue;
		}
		start_ap(next++, cpus->cpu[i].apic_id);
	}
	printk("hv: SMP: %u of %u CPU(s) in VMX root\n", nr_cpus_online, cpus->count);
}
