/* Local APIC access for the hypervisor's own IPIs (SDM ch. 11); it never changes the APIC's mode (see platform notes on Bochs). */
#include "hv/lapic.h"
#include "hv/mm.h"
#include "hv/x86.h"

#define APIC_BASE_X2APIC  BIT(10)
#define APIC_BASE_ADDR    0xffffff000ULL
#define XAPIC_ID          0x020
#define XAPIC_ICR_LOW     0x300
#define XAPIC_ICR_HIGH    0x310
#define XAPIC_ICR_PENDING BIT(12)
#define X2APIC_MSR_ID     0x802
#define X2APIC_MSR_ICR    0x830
#define ICR_SPIN_LIMIT    1000000

static volatile uint32_t *xapic_regs;

void lapic_init(void)
{
	xapic_regs = phys_to_virt(rdmsr(MSR_IA32_APIC_BASE) & APIC_BASE_ADDR);
}

/* Read every time: L1 owns the APIC and may switch it to x2APIC after we started. */
bool lapic_x2apic_mode(void)
{
	return rdmsr(MSR_IA32_APIC_BASE) & APIC_BASE_X2APIC;
}

static uint32_t xapic_read(uint32_t reg)
{
	return xapic_regs[reg / 4];
}

static void xapic_write(uint32_t reg, uint32_t val)
{
	xapic_regs[reg / 4] = val;
}

uint32_t lapic_id(void)
{
	return lapic_x2apic_mode() ? (uint32_t)rdmsr(X2APIC_MSR_ID) : xapic_read(XAPIC_ID) >> 24;
}

bool lapic_send_ipi(uint32_t dest_apic_id, uint32_t icr_low)
{
	if (lapic_x2apic_mode()) {
		/* x2APIC: one MSR write, no delivery-status bit (SDM 11.12.9). */
		wrmsr(X2APIC_MSR_ICR, ((uint64_t)dest_apic_id << 32) | icr_low);
		return true;
	}
	xapic_write(XAPIC_ICR_HIGH, dest_apic_id << 24);
	xapic_write(XAPIC_ICR_LOW, icr_low);
	for (int i = 0; i < ICR_SPIN_LIMIT; i++)
		if (!(xapic_read(XAPIC_ICR_LOW) & XAPIC_ICR_PENDING))
			return true;
	return false;
}
