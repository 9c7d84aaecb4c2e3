/* L1's start-up IPIs through its own local APIC: ICR writes are trapped (xAPIC page via EPT, x2APIC via MSR bitmap) and filtered. */
#include "hv/vmx/vmx_internal.h"
#include "hv/vmx/vmx_asm.h"
#include "hv/vmx/apic_icr.h"
#include "hv/vmx/ept.h"
#include "hv/vmx/l1_mem.h"
#include "hv/vmx/mmio_decode.h"
#include "hv/console.h"
#include "hv/lapic.h"
#include "hv/mm.h"
#include "hv/percpu.h"
#include "hv/string.h"
#include "hv/x86.h"

#define APIC_BASE_ADDR_MASK 0xffffff000ULL
#define APIC_BASE_X2APIC    BIT(10)
#define XAPIC_ICR_LOW       0x300
#define XAPIC_ICR_HIGH      0x310
#define X2APIC_MSR_ICR      0x830

static uint64_t xapic_page; /* L1's xAPIC page, trapped for writes; 0 when nothing is trapped */

static bool vcpu_waits_for_sipi(uint32_t apic_id)
{
	for (uint32_t i = 0; i < MAX_CPUS; i++) {
		const struct vcpu *v = percpu_area[i].vcpu;

		if (v && v->apic_id == apic_id)
			return v->waiting_for_sipi;
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

/* Whether the hardware may see this ICR write (apic_icr.c decides). */
static bool icr_passes(uint32_t low, uint32_t dest)
{
	uint32_t ids[MAX_CPUS], n = vcpu_apic_ids(ids);
	struct icr_write w = { low, dest };

	return !icr_write_is_dropped(&w, this_cpu()->apic_id, ids, n, vcpu_waits_for_sipi);
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
 * With AP vCPUs, L1's INITs must be seen before they reach the hardware
 * (apic_icr.h says why), so the xAPIC page becomes read-only in the shared
 * EPT (reads stay native) and x2APIC ICR writes exit. Call before any vCPU
 * is launched: each flushes its EPT translations at launch.
 */
void vmx_virtualize_icr(struct vcpu *bsp)
{
	uint64_t page = rdmsr(MSR_IA32_APIC_BASE) & APIC_BASE_ADDR_MASK;

	if (ept_restrict_page(bsp->ept_pml4, page, EPT_READ, frame_alloc) < 0) {
		printk("hv: cannot trap L1's xAPIC page at %#llx; L1's INIT IPIs go to the hardware unfiltered\n",
		       (unsigned long long)page);
		return;
	}
	xapic_page = page;
	msr_bitmap_intercept(phys_to_virt(bsp->msr_bitmap), X2APIC_MSR_ICR, false, true);
}

/*
 * The instruction bytes at L1's CS:RIP, read as the CPU fetched them (through
 * the checked accessor); fewer than len when the fetch stops at a page L1
 * cannot reach, which the decoder then refuses.
 */
static size_t fetch_guest_insn(uint8_t *buf, size_t len)
{
	struct guest_paging p;
	struct l1_fault f;
	uint64_t lin = vmcs_read(GUEST_CS_BASE) + vmcs_read(GUEST_RIP);
	size_t got = 0;

	l1_paging_now(&p);
	while (got < len && l1_read_linear(&p, lin + got, buf + got, 1, GUEST_ACCESS_FETCH, &f) == L1_MEM_OK)
		got++;
	return got;
}

static uint64_t *gpr(struct guest_regs *r, unsigned int reg)
{
	return &((uint64_t *)r)[reg & 15];
}

static uint32_t store_value(const struct mmio_insn *in, struct guest_regs *r)
{
	if (in->op == MMIO_STORE_IMM)
		return in->imm;
	if (in->op == MMIO_STORE_EAX)
		return (uint32_t)r->rax;
	return in->reg == 4 ? (uint32_t)vmcs_read(GUEST_RSP) : (uint32_t)*gpr(r, in->reg);
}

/* The write L1 meant, done on the real APIC unless it is an INIT the hardware must not see. */
static void apic_register_write(uint32_t offset, uint32_t val)
{
	volatile uint32_t *regs = phys_to_virt(xapic_page);
	uint32_t high = regs[XAPIC_ICR_HIGH / 4];

	if (offset == XAPIC_ICR_LOW && !icr_passes(val, high >> 24))
		return;
	if (offset == XAPIC_ICR_LOW && sipi_sent_per_cpu(val)) {
		regs[XAPIC_ICR_HIGH / 4] = high; /* L1 reads back the destination it wrote */
		return;
	}
	regs[offset / 4] = val;
}

/*
 * An EPT violation on L1's xAPIC page (SDM 28.2.3.3 gives no instruction
 * length for it): fetch and decode the MOV, do the access, step over it.
 * False for anything else, which the caller reports as before.
 */
bool vmx_apic_page_write(struct vcpu *v, struct guest_regs *r, uint64_t gpa)
{
	uint8_t insn[X86_MAX_INSN_LEN] = { 0 };
	struct mmio_insn in;
	bool long64 = (vmcs_read(GUEST_IA32_EFER) & X86_EFER_LMA) && (vmcs_read(GUEST_CS_AR_BYTES) & BIT(13));
	size_t n;

	(void)v;
	if (!xapic_page || (gpa & ~(PAGE_SIZE - 1)) != xapic_page || (gpa & 3))
		return false;
	n = fetch_guest_insn(insn, sizeof(insn));
	if (mmio_decode_mov(insn, n, long64, &in) != MMIO_DECODE_OK) {
		printk("hv: L1 accessed its APIC at %#llx with an instruction the hypervisor does not emulate "
		       "(bytes %02x %02x %02x %02x)\n", (unsigned long long)gpa, insn[0], insn[1], insn[2], insn[3]);
		return false;
	}
	if (in.op == MMIO_LOAD_REG || in.op == MMIO_LOAD_EAX) {
		*gpr(r, in.op == MMIO_LOAD_EAX ? 0 : in.reg) = *(volatile uint32_t *)phys_to_virt(gpa);
	} else {
		apic_register_write((uint32_t)(gpa & (PAGE_SIZE - 1)), store_value(&in, r));
	}
	vmx_advance_rip(in.len);
	return true;
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
