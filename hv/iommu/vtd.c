/* Programs one VT-d remapping unit through its registers (VT-d spec 10.4, 6.5, 7.2): the only code touching them. */
#include "hv/iommu/vtd.h"
#include "hv/iommu/vtd_regs.h"
#include "hv/iommu/vtd_tables.h"
#include "hv/console.h"
#include "hv/delay.h"
#include "hv/mm.h"
#include "hv/x86.h"

#define VTD_WAIT_US   200000 /* a status bit that has not flipped after 200 ms never will */
#define VTD_WAIT_STEP 10

static uint32_t rd32(const struct vtd_unit *u, uint32_t off) { return *(volatile uint32_t *)(u->regs + off); }
static uint64_t rd64(const struct vtd_unit *u, uint32_t off) { return *(volatile uint64_t *)(u->regs + off); }
static void wr32(struct vtd_unit *u, uint32_t off, uint32_t v) { *(volatile uint32_t *)(u->regs + off) = v; }
static void wr64(struct vtd_unit *u, uint32_t off, uint64_t v) { *(volatile uint64_t *)(u->regs + off) = v; }

/* Polls a 32- or 64-bit register until (value & mask) == want; false after VTD_WAIT_US. */
static bool wait_reg(const struct vtd_unit *u, uint32_t off, bool wide, uint64_t mask, uint64_t want)
{
	for (uint32_t t = 0; t < VTD_WAIT_US; t += VTD_WAIT_STEP) {
		uint64_t v = wide ? rd64(u, off) : rd32(u, off);

		if ((v & mask) == want)
			return true;
		udelay(VTD_WAIT_STEP);
	}
	return false;
}

/*
 * GCMD takes the whole state each write: keep TE/QIE/IRE/CFI as GSTS reports
 * them and add or drop one bit (spec 11.4.4), then wait for GSTS to agree.
 * States show in GSTS as set; SRTP and SIRTP report completion by setting
 * their status bit, WBF by clearing it.
 */
static bool gcmd_try(struct vtd_unit *u, uint32_t bit, bool on)
{
	uint32_t state = rd32(u, VTD_GSTS) & VTD_GSTS_STATE;
	bool one_shot = !(bit & VTD_GSTS_STATE);
	uint32_t want = bit == VTD_GCMD_WBF ? 0 : one_shot || on ? bit : 0;

	wr32(u, VTD_GCMD, on ? state | bit : state & ~bit);
	return wait_reg(u, VTD_GSTS, false, bit, want);
}

static int gcmd(struct vtd_unit *u, uint32_t bit, bool on, const char *what)
{
	if (gcmd_try(u, bit, on))
		return 0;
	printk("hv: iommu: unit %u at %#llx did not %s (GSTS %#x)\n", u->index, (unsigned long long)u->base, what,
	       rd32(u, VTD_GSTS));
	return -1;
}

int vtd_probe(struct vtd_unit *u, paddr_t base, unsigned int index)
{
	uint32_t ver;
	uint32_t iotlb_end, frcd_end;

	u->base = base;
	u->regs = phys_to_virt(base); /* the boot map covers the low 4 GiB; DRHD bases live there */
	u->index = index;
	if (base + PAGE_SIZE > GiB(4)) {
		printk("hv: iommu: unit %u's registers at %#llx are above 4 GiB, outside the hypervisor's map\n", index,
		       (unsigned long long)base);
		return -1;
	}
	ver = rd32(u, VTD_VER);
	u->cap = rd64(u, VTD_CAP);
	u->ecap = rd64(u, VTD_ECAP);
	if (ver == 0xffffffff || !ver || u->cap == ~0ULL || !VTD_CAP_SAGAW(u->cap)) {
		printk("hv: iommu: unit %u at %#llx does not answer like a VT-d unit (VER %#x CAP %#llx)\n", index,
		       (unsigned long long)base, ver, (unsigned long long)u->cap);
		return -1;
	}
	iotlb_end = (uint32_t)VTD_ECAP_IRO(u->ecap) + 16;
	frcd_end = (uint32_t)VTD_CAP_FRO(u->cap) + 16 * VTD_CAP_NFR(u->cap);
	u->reg_span = (uint32_t)ALIGN_UP(MAX(iotlb_end, frcd_end), PAGE_SIZE);
	pr_info("hv: iommu: unit %u at %#llx: version %u.%u, CAP %#llx, ECAP %#llx%s%s\n", index,
		(unsigned long long)base, (ver >> 4) & 0xf, ver & 0xf, (unsigned long long)u->cap,
		(unsigned long long)u->ecap, u->ecap & VTD_ECAP_QI ? ", queued invalidation" : "",
		u->ecap & VTD_ECAP_IR ? ", interrupt remapping" : "");
	return 0;
}

/*
 * Firmware may leave the unit running (pre-boot DMA protection). Translation
 * stays on, so no device gets a window without it: the root table is simply
 * replaced below. The invalidation queue and interrupt remapping go off:
 * register-based invalidation needs QIE clear (spec 6.5.2).
 */
static int turn_off_firmware_state(struct vtd_unit *u)
{
	uint32_t sts = rd32(u, VTD_GSTS);

	if ((sts & VTD_GCMD_IRE) && gcmd(u, VTD_GCMD_IRE, false, "turn off the firmware's interrupt remapping"))
		return -1;
	if ((sts & VTD_GCMD_QIE) && gcmd(u, VTD_GCMD_QIE, false, "turn off the firmware's invalidation queue"))
		return -1;
	/* Protected memory regions (spec 10.4.16, present with CAP.PLMR/PHMR) off: the tables protect instead. */
	if ((u->cap & (VTD_CAP_PLMR | VTD_CAP_PHMR)) && (rd32(u, VTD_PMEN) & VTD_PMEN_EPM)) {
		wr32(u, VTD_PMEN, 0);
		if (!wait_reg(u, VTD_PMEN, false, VTD_PMEN_PRS, 0)) {
			printk("hv: iommu: unit %u did not turn off its protected memory regions\n", u->index);
			return -1;
		}
	}
	return 0;
}

/* Register-based global invalidation of the context cache, then the IOTLB (spec 6.5.1, 11.4.7, 11.4.8). */
static int invalidate_by_register(struct vtd_unit *u)
{
	uint32_t iotlb = (uint32_t)VTD_ECAP_IRO(u->ecap) + 8;
	uint64_t drain = (u->cap & BIT(54) ? VTD_IOTLB_DW : 0) | (u->cap & BIT(55) ? VTD_IOTLB_DR : 0);

	wr64(u, VTD_CCMD, VTD_CCMD_ICC | VTD_CCMD_GLOBAL);
	if (!wait_reg(u, VTD_CCMD, true, VTD_CCMD_ICC, 0)) {
		printk("hv: iommu: unit %u: the context-cache invalidation did not complete\n", u->index);
		return -1;
	}
	wr64(u, iotlb, VTD_IOTLB_IVT | VTD_IOTLB_GLOBAL | drain);
	if (!wait_reg(u, iotlb, true, VTD_IOTLB_IVT, 0)) {
		printk("hv: iommu: unit %u: the IOTLB invalidation did not complete\n", u->index);
		return -1;
	}
	return 0;
}

static volatile uint32_t qi_done; /* the wait descriptor's status write lands here */

/* Queues one descriptor pair and a wait descriptor, then polls for the status write (spec 6.5.2.8). */
static int qi_submit(struct vtd_unit *u, uint64_t lo, uint64_t hi)
{
	uint64_t *q = u->queue;
	uint32_t t = u->queue_tail;

	qi_done = 0;
	q[2 * t] = lo;
	q[2 * t + 1] = hi;
	t = (t + 1) % VTD_QI_ENTRIES;
	q[2 * t] = VTD_QI_WAIT | VTD_QI_WAIT_SW | VTD_QI_WAIT_DATA(1);
	q[2 * t + 1] = virt_to_phys((const void *)&qi_done);
	t = (t + 1) % VTD_QI_ENTRIES;
	u->queue_tail = t;
	__asm__ volatile("sfence" ::: "memory");
	wr64(u, VTD_IQT, (uint64_t)t << 4);
	for (uint32_t us = 0; us < VTD_WAIT_US; us += VTD_WAIT_STEP) {
		if (qi_done == 1)
			return 0;
		if (rd32(u, VTD_FSTS) & VTD_FSTS_IQE)
			break;
		udelay(VTD_WAIT_STEP);
	}
	printk("hv: iommu: unit %u: queued invalidation did not complete (FSTS %#x)\n", u->index, rd32(u, VTD_FSTS));
	return -1;
}

static int enable_queue(struct vtd_unit *u, paddr_t queue)
{
	u->queue = phys_to_virt(queue);
	u->queue_tail = 0;
	wr64(u, VTD_IQT, 0);
	wr64(u, VTD_IQA, queue); /* QS 0: 256 descriptors of 128 bits */
	return gcmd(u, VTD_GCMD_QIE, true, "enable queued invalidation");
}

/*
 * Interrupt remapping with a table of not-present entries: every
 * remappable-format interrupt request is blocked and recorded as a fault.
 * Compatibility-format requests (what L1, unaware of remapping, programs
 * into its devices and I/O APIC) pass (CFI), see the README.
 */
static int enable_intremap(struct vtd_unit *u, paddr_t irt)
{
	wr64(u, VTD_IRTA, irt | VTD_IRT_SIZE_S);
	if (gcmd(u, VTD_GCMD_SIRTP, true, "take the interrupt remapping table"))
		return -1;
	if (qi_submit(u, VTD_QI_IEC, 0)) /* global interrupt-entry-cache invalidation (spec 6.5.2.7) */
		return -1;
	/* With EIME 0 hardware honours CFI (spec 11.4.4); QEMU 7.2 has no CFI and passes them regardless. */
	if (!gcmd_try(u, VTD_GCMD_CFI, true))
		pr_warn("hv: iommu: unit %u does not report CFI set (GSTS %#x): if it blocks compatibility-format interrupts, L1's devices lose theirs\n",
			u->index, rd32(u, VTD_GSTS));
	if (gcmd(u, VTD_GCMD_IRE, true, "enable interrupt remapping"))
		return -1;
	u->intremap = true;
	return 0;
}

int vtd_enable(struct vtd_unit *u, paddr_t root, paddr_t irt, paddr_t queue)
{
	if (turn_off_firmware_state(u))
		return -1;
	wr32(u, VTD_FECTL, VTD_FECTL_IM); /* no fault interrupt: the hypervisor polls the records */
	vtd_report_faults(u);              /* whatever firmware left behind */
	wr64(u, VTD_RTADDR, root);         /* legacy-mode root table (TTM 00, spec 11.4.6) */
	if (gcmd(u, VTD_GCMD_SRTP, true, "take the root table"))
		return -1;
	if ((u->cap & VTD_CAP_RWBF) && gcmd(u, VTD_GCMD_WBF, true, "flush its write buffer"))
		return -1;
	if (invalidate_by_register(u))
		return -1;
	if (gcmd(u, VTD_GCMD_TE, true, "enable DMA translation"))
		return -1;
	if (!irt || !(u->ecap & VTD_ECAP_IR) || !(u->ecap & VTD_ECAP_QI))
		return 0;
	if (enable_queue(u, queue))
		return -1;
	return enable_intremap(u, irt);
}

unsigned int vtd_report_faults(struct vtd_unit *u)
{
	uint32_t fsts = rd32(u, VTD_FSTS);
	unsigned int nfr = VTD_CAP_NFR(u->cap), printed = 0;
	uint32_t fro = (uint32_t)VTD_CAP_FRO(u->cap);

	if (!(fsts & (VTD_FSTS_PPF | VTD_FSTS_PFO)))
		return 0;
	for (unsigned int n = 0, i = VTD_FSTS_FRI(fsts) % nfr; n < nfr; n++, i = (i + 1) % nfr) {
		uint64_t hi = rd64(u, fro + 16 * i + 8), lo;
		struct vtd_fault f;

		if (!(hi & VTD_FRCD_F))
			continue;
		lo = rd64(u, fro + 16 * i);
		vtd_decode_fault(lo, hi, &f);
		if (f.reason >= 0x20)
			printk("hv: iommu: interrupt fault: device %02x:%02x.%x, interrupt index %llu: %s (reason %#x, unit %u)\n",
			       f.bus, f.dev, f.fn, (unsigned long long)(lo >> 48), vtd_fault_reason_name(f.reason), f.reason,
			       u->index);
		else
			printk("hv: iommu: DMA fault: device %02x:%02x.%x %s at %#llx: %s (reason %#x, unit %u)\n", f.bus,
			       f.dev, f.fn, f.read ? "read" : "write", (unsigned long long)f.addr,
			       vtd_fault_reason_name(f.reason), f.reason, u->index);
		wr32(u, fro + 16 * i + 12, (uint32_t)(VTD_FRCD_F >> 32)); /* F is write-1-to-clear */
		printed++;
	}
	if (fsts & VTD_FSTS_PFO) {
		printk("hv: iommu: unit %u: fault records overflowed; later faults were not recorded\n", u->index);
		wr32(u, VTD_FSTS, VTD_FSTS_PFO);
	}
	return printed;
}
