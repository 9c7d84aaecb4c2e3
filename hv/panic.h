/* Fatal stops and the one way the hypervisor ends the (emulated) machine. */
#ifndef HV_PANIC_H
#define HV_PANIC_H

#include "hv/types.h"

/* Prints the message, stops every CPU and ends the machine with failure. */
__noreturn void panic(const char *fmt, ...) __printf(1, 2);
bool panic_in_progress(void);
/* Another CPU panicked and sent us its NMI (or SIPI): report where we were (rip, and what ran) and stop. */
__noreturn void panic_stop_this_cpu(uint64_t rip, const char *where);

/*
 * Ends the machine with a status: QEMU's isa-debug-exit (port 0xf4, exit
 * (status<<1)|1), else Bochs (magic breakpoint for 0, the 0x8900 "Shutdown"
 * port otherwise), else halts forever with interrupts off (real hardware).
 */
__noreturn void machine_exit(uint8_t status);

#define HV_ASSERT(c) do { if (unlikely(!(c))) panic("assertion failed: %s (%s:%d)", #c, __FILE__, __LINE__); } while (0)

/* machine_exit() statuses the hypervisor itself uses (a guest's own status passes through). */
enum hv_exit_status {
	HV_EXIT_OK         = 0,
	HV_EXIT_PANIC      = 0x70,
	HV_EXIT_NO_VMX     = 0x71,
	HV_EXIT_BAD_MODULE = 0x72,
	HV_EXIT_GUEST_DIED = 0x73, /* triple fault, failed entry or an unhandled exit in L1 */
	HV_EXIT_NO_IOMMU   = 0x74, /* iommu=required and no usable DMA remapping hardware */
};
#endif
