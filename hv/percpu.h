/* Per-CPU state: one struct per physical CPU, reached through GS base. */
#ifndef HV_PERCPU_H
#define HV_PERCPU_H

#include "hv/types.h"

#define MAX_CPUS 64
#define HV_STACK_SIZE (16 * 1024)

struct vcpu;

/* Why the hypervisor itself sent a CPU an NMI; an NMI without a request is L1's. */
#define NMI_REQ_STOP BIT(0) /* a panic elsewhere: report and halt */

struct percpu {
	struct percpu *self;   /* at offset 0: %gs:0 yields this struct */
	uint32_t cpu_id;       /* dense index, 0 = boot CPU */
	uint32_t apic_id;
	bool vmx_on;
	volatile uint32_t nmi_pending;  /* NMIs of L1's owed to this CPU's vCPU, at most 2 (hv/vmx/nmi_inject.h) */
	volatile uint32_t nmi_requests; /* NMI_REQ_*: set by another CPU before it sends this one an NMI */
	paddr_t vmxon_region;
	struct vcpu *vcpu;     /* the guest vCPU this CPU runs, if any */
	volatile uint32_t boot_state; /* enum ap_boot_state, written by the AP while it starts */
	void (*volatile run_fn)(struct percpu *cpu); /* work handed to a parked AP (smp_run_on) */
	uint8_t gdt[16 * 8] __aligned(16);
	uint8_t tss[104] __aligned(16);
};

extern struct percpu percpu_area[MAX_CPUS];
extern uint32_t nr_cpus_online;

void percpu_init_boot_cpu(void);
/* This CPU's index, or 0 before per-CPU state exists (usable from any trap). */
uint32_t this_cpu_id_safe(void);

#ifndef HV_HOST_TEST
static inline struct percpu *this_cpu(void)
{
	struct percpu *p;
	__asm__ volatile("movq %%gs:0, %0" : "=r"(p));
	return p;
}
#endif

#endif
