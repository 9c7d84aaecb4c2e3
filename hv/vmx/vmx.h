/* Entry points from the hypervisor core into VMX root operation. */
#ifndef HV_VMX_VMX_H
#define HV_VMX_VMX_H

#include "hv/types.h"
#include "hv/boot_info.h"

/*
 * Checks that this CPU can do what the hypervisor needs (VT-x present,
 * IA32_FEATURE_CONTROL allowing VMX outside SMX, the required controls) and
 * enters VMX root operation. On failure prints one line naming what is
 * missing and returns a negative value; the core then ends the machine with
 * HV_EXIT_NO_VMX.
 */
int vmx_cpu_init(void);

/* An NMI without a stop request hit VMX root on this CPU: owe it to the vCPU (exit_nmi.c). */
struct percpu;
void vmx_nmi_in_root(struct percpu *cpu);
/* The panic's stop for vCPUs in wait-for-SIPI, where NMIs are held: a SIPI each. */
void vmx_stop_vcpus_waiting_for_sipi(void);

/* Loads the L1 guest from the first boot module and runs it; never returns. */
__noreturn void vmx_run_l1(const struct boot_info *bi);

#endif
