/* The local APIC as the hypervisor uses it: its ID, and INIT/SIPI/NMI IPIs, in xAPIC or x2APIC mode. */
#ifndef HV_LAPIC_H
#define HV_LAPIC_H

#include "hv/types.h"

/* ICR delivery modes and flags, SDM 11.6.1. */
#define ICR_DM_NMI        (4u << 8)
#define ICR_DM_INIT       (5u << 8)
#define ICR_DM_STARTUP    (6u << 8)
#define ICR_LEVEL_ASSERT  BIT(14)
#define ICR_ALL_BUT_SELF  (3u << 18)

void lapic_init(void);
bool lapic_x2apic_mode(void);
uint32_t lapic_id(void);
/* Sends an IPI; false if the xAPIC never reported the previous one delivered. */
bool lapic_send_ipi(uint32_t dest_apic_id, uint32_t icr_low);

#endif
