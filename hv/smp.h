/* Starting the application processors and handing them work. */
#ifndef HV_SMP_H
#define HV_SMP_H

#include "hv/boot_info.h"
#include "hv/percpu.h"

enum ap_boot_state {
	AP_OFFLINE = 0,
	AP_STARTING,   /* INIT-SIPI-SIPI sent */
	AP_ALIVE,      /* running our code on its own tables */
	AP_READY,      /* in VMX root and parked */
	AP_NO_VMX,     /* alive but could not enter VMX root */
};

/*
 * Finds the CPUs in the ACPI MADT and starts every one but the boot CPU,
 * each on its own stack, tables and per-CPU data, into VMX root. A CPU that
 * does not come up is reported by APIC ID and the others go on.
 */
void smp_boot_aps(const struct boot_info *bi);
/* Hands fn to a parked AP, which runs it on its own stack. */
void smp_run_on(struct percpu *cpu, void (*fn)(struct percpu *cpu));

#endif
