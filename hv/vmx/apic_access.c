/* L1's start-up IPIs through its own local APIC: the xAPIC page is trapped while a vCPU waits for SIPI, x2APIC ICR writes always; INITs are filtered. */
#include "hv/vmx/vmx_internal.h"
#include "hv/vmx/vmx_asm.h"
#include "hv/vmx/apic_icr.h"
#include "hv/vmx/nested.h"
#include "hv/vmx/ept.h"
#include "hv/console.h"
#include "hv/lapic.h"
#include "hv/mm.h"
#include "hv/percpu.h"
#include "hv/spinlock.h"
#include "hv/string.h"
#include "hv/x86.h"

#define APIC_BASE_ADDR_MASK 0xffffff000ULL
#define APIC_BASE_X2APIC    BIT(10)
#define XAPIC_ICR_LOW       0x300
#define XAPIC_ICR_HIGH      0x310
#define X2APIC_MSR_ICR      0x830
#define EPT_TRAPPED         (EPT_READ | EPT_EXEC) /* reads and fetches native, writes exit */

static uint64_t xapic_page; /* L1's xAPIC page, trapped while a vCPU waits for SIPI; 0: never trapped */
static spinlock_t trap_lock = SPINLOCK_INIT;
static bool trapped;        /* the page is read-only in the shared EPT (under trap_lock) */
uint32_t vmx_apic_trap_gen; /* bumped at each change; a vCPU that saw an older one flushes its EPT TLB */

static struct vcpu *vcpu_by_apic_id(uint32_t apic_id)
{
	for (uint32_t i = 0; i < MAX_CPUS; i++) {
		struct vcpu *v = percpu_area[i].vcpu;

		if (v && v->apic_id == apic_id)
			return v;
	}
	return NULL;
}

static bool in_vmx_operation(const struct vcpu *v)
{
	return v->nested && __atomic_load_n(&v->nested->vmx.vmxon, __ATOMIC_RELAXED);
}

static bool vcpu_waits_for_sipi(uint32_t apic_id)
{
	const struct vcpu *v = vcpu_by_apic_id(apic_id);

	return v && v->waiting_for_sipi;
}

static bool vcpu_in_vmx(uint32_t apic_id)
{
	const struct vcpu *v = vcpu_by_apic_id(apic_id);

	return v && in_vmx_operation(v);
}

/* An INIT for this vCPU never reaches the hardware: it changes nothing, or the hypervisor latched it. */
static bool init_stays_off_hw(uint32_t apic_id)
{
	return vcpu_waits_for_sipi(apic_id) || vcpu_in_vmx(apic_id);
}

/* The xAPIC page is trapped while some vCPU waits for SIPI or is in VMX operation (its INITs are ours). */
static bool trap_wanted(void)
{
	for (uint32_t i = 0; i < MAX_CPUS; i++) {
		const struct vcpu *v = percpu_area[i].vcpu;

		if (v && (v->waiting_for_sipi || in_vmx_operation(v)))
			return true;
	}
	return false;
}

static uint32_t vcpu_apic_ids(uint32_t ids[MAX_CPUS])
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < MAX_CPUS; i++)
		if (percpu_area[i].vcpu)
			ids[n++] = percpu_area[i].vcpu->apic_id;
	return n;
}

/* INITs for vCPUs in VMX operation are latched for them (apic_icr.h says why); each folds it in at its next entry or exit. */
static void latch_inits(uint32_t low, uint32_t dest)
{
	uint32_t ids[MAX_CPUS], targets[MAX_CPUS], n = vcpu_apic_ids(ids);
	struct icr_write w = { low, dest };
	int t = icr_init_latch_targets(&w, this_cpu()->apic_id, ids, n, vcpu_in_vmx, targets);

	for (int i = 0; i < t; i++)
		vmx_nested_post_init(vcpu_by_apic_id(targets[i]));
}

/* Whether the hardware may see this ICR write (apic_icr.c decides). */
static bool icr_passes(uint32_t low, uint32_t dest)
{
	uint32_t ids[MAX_CPUS], n = vcpu_apic_ids(ids);
	struct icr_write w = { low, dest };

	latch_inits(low, dest);
	return !icr_write_is_dropped(&w, this_cpu()->apic_id, ids, n, init_stays_off_hw);
}

/* A broadcast SIPI goes out as one physical SIPI per waiting vCPU (apic_icr.h says why); false for other writes. */
static bool sipi_sent_per_cpu(uint32_t low)
{
	uint32_t ids[MAX_CPUS], targets[MAX_CPUS], n = vcpu_apic_ids(ids);
	struct icr_write w = { low, 0 };
	int t = icr_sipi_per_cpu_targets(&w, this_cpu()->apic_id, ids, n, vcpu_waits_for_sipi, targets);

	if (t < 0)
		return false;
	for (int i = 0; i < t; i++)
		lapic_send_ipi(targets[i], low & ~(ICR_SHORTHAND_MASK | ICR_DEST_LOGICAL));
	return true;
}

/*
 * With AP vCPUs or nested VMX, L1's INITs must be seen before they reach the
 * hardware while any vCPU waits for SIPI or is in VMX operation (apic_icr.h
 * says why), so the xAPIC page
 * starts read-only in the shared EPT (reads stay native) and x2APIC ICR
 * writes exit. Call before any vCPU is launched: each flushes its EPT
 * translations at launch.
 */
void vmx_virtualize_icr(struct vcpu *bsp)
{
	uint64_t page = rdmsr(MSR_IA32_APIC_BASE) & APIC_BASE_ADDR_MASK;

	if (ept_restrict_page(bsp->ept_pml4, page, EPT_TRAPPED, frame_alloc) < 0) {
		printk("hv: cannot trap L1's xAPIC page at %#llx; L1's INIT IPIs go to the hardware unfiltered\n",
		       (unsigned long long)page);
		return;
	}
	xapic_page = page;
	trapped = true;
	msr_bitmap_intercept(phys_to_virt(bsp->msr_bitmap), X2APIC_MSR_ICR, false, true);
}

/* This CPU drops EPT translations older than the trap's last change (SDM 29.4.3.1: INVEPT is per CPU). */
void vmx_apic_trap_sync(struct vcpu *v)
{
	v->ept_gen = __atomic_load_n(&vmx_apic_trap_gen, __ATOMIC_ACQUIRE);
	invept(vmx_caps.ept_vpid & VMX_EPT_INVEPT_SINGLE ? INVEPT_SINGLE_CONTEXT : INVEPT_ALL_CONTEXT, v->eptp);
}

/*
 * After v entered or left wait-for-SIPI: the page is trapped exactly while
 * some vCPU waits, so once every AP runs, L1's IPIs and EOIs are native
 * stores. Untrapping reaches another CPU at its next write to the page (an
 * EPT violation, retried); re-trapping at its next HLT or EPT-violation exit
 * (vmx_apic_trap_check), and until then that CPU may still write natively,
 * as README's "Not done yet" states: forcing an exit needs a hypervisor IPI.
 */
void vmx_apic_trap_update(struct vcpu *v)
{
	bool want;

	if (!xapic_page)
		return;
	spin_lock(&trap_lock);
	want = trap_wanted();
	if (want != trapped) {
		/* The page was split to 4 KiB when first trapped: this never allocates or fails. */
		ept_restrict_page(v->ept_pml4, xapic_page, want ? EPT_TRAPPED : EPT_RWX, frame_alloc);
		trapped = want;
		__atomic_add_fetch(&vmx_apic_trap_gen, 1, __ATOMIC_RELEASE);
	}
	spin_unlock(&trap_lock);
	vmx_apic_trap_sync(v);
}

/* Does [off, off+size) touch ICR low? Then the 32-bit value the write leaves there, for the filter. */
static bool icr_low_after(uint32_t off, unsigned int size, uint64_t val, uint32_t *icr)
{
	volatile uint32_t *regs = phys_to_virt(xapic_page);
	uint8_t bytes[4];

	if (off + size <= XAPIC_ICR_LOW || off >= XAPIC_ICR_LOW + 4)
		return false;
	*icr = regs[XAPIC_ICR_LOW / 4];
	memcpy(bytes, icr, 4);
	for (uint32_t a = MAX(off, XAPIC_ICR_LOW); a < MIN(off + size, XAPIC_ICR_LOW + 4u); a++)
		bytes[a - XAPIC_ICR_LOW] = (uint8_t)(val >> (8 * (a - off)));
	memcpy(icr, bytes, 4);
	return true;
}

/*
 * L1's store, done on the real APIC at the same offset and width, so the
 * hardware gives it whatever effect it gives L1's own stores (SDM 11.4.1:
 * only aligned 32-bit accesses are defined; Bochs 2.7 panics on the others,
 * cpu/apic.cc bx_local_apic_c::write). Not done: an INIT the hardware must
 * not see.
 */
void vmx_apic_store(uint32_t off, unsigned int size, uint64_t val)
{
	void *p = (uint8_t *)phys_to_virt(xapic_page) + off;
	volatile uint32_t *regs = phys_to_virt(xapic_page);
	uint32_t icr;

	uint32_t high = regs[XAPIC_ICR_HIGH / 4];

	if (icr_low_after(off, size, val, &icr)) {
		if (!icr_passes(icr, high >> 24))
			return;
		if (sipi_sent_per_cpu(icr)) {
			regs[XAPIC_ICR_HIGH / 4] = high; /* L1 reads back the destination it wrote */
			return;
		}
	}
	switch (size) {
	case 1: *(volatile uint8_t *)p = (uint8_t)val; break;
	case 2: *(volatile uint16_t *)p = (uint16_t)val; break;
	case 4: *(volatile uint32_t *)p = (uint32_t)val; break;
	default: *(volatile uint64_t *)p = val; break;
	}
}

/* A read of the real APIC at L1's offset and width (the read half of L1's read-modify-write). */
uint64_t vmx_apic_load(uint32_t off, unsigned int size)
{
	const void *p = (const uint8_t *)phys_to_virt(xapic_page) + off;

	switch (size) {
	case 1: return *(const volatile uint8_t *)p;
	case 2: return *(const volatile uint16_t *)p;
	case 4: return *(const volatile uint32_t *)p;
	default: return *(const volatile uint64_t *)p;
	}
}

bool vmx_apic_page_is(uint64_t gpa)
{
	return xapic_page && (gpa & ~(uint64_t)(PAGE_SIZE - 1)) == xapic_page;
}

/*
 * An EPT violation on L1's xAPIC page. Trapped: the write is emulated
 * (apic_emulate.c). No longer trapped: this CPU still held the read-only
 * translation; drop it and let L1 retry natively. False: not the APIC page.
 */
bool vmx_apic_page_write(struct vcpu *v, struct guest_regs *r, uint64_t gpa)
{
	if (!vmx_apic_page_is(gpa))
		return false;
	if (!__atomic_load_n(&trapped, __ATOMIC_ACQUIRE)) {
		vmx_apic_trap_sync(v);
		return true;
	}
	return vmx_apic_emulate_write(v, r, gpa);
}

/*
 * WRMSR to the x2APIC ICR (SDM 11.12.9): one 64-bit write, destination in the
 * high half. False (L1 gets #GP) outside x2APIC mode, where the MSR does not
 * exist, and with reserved bits set, which would #GP the host's WRMSR.
 */
bool vmx_x2apic_icr_write(uint64_t value)
{
	if (!(rdmsr(MSR_IA32_APIC_BASE) & APIC_BASE_X2APIC) || !emulate_x2apic_icr_write_ok(value))
		return false; /* not in x2APIC mode (the MSR does not exist), or reserved bits: #GP */
	if (icr_passes((uint32_t)value, (uint32_t)(value >> 32)) && !sipi_sent_per_cpu((uint32_t)value))
		wrmsr(X2APIC_MSR_ICR, value);
	return true;
}
