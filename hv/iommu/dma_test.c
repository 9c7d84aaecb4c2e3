/* debug_dma_test: QEMU's edu device DMAs into L1's and the hypervisor's memory; the results show the IOMMU at work (kernel). */
#include "hv/iommu/iommu.h"
#include "hv/cmdline.h"
#include "hv/console.h"
#include "hv/delay.h"
#include "hv/memmap.h"
#include "hv/mm.h"
#include "hv/string.h"
#include "hv/x86.h"

/* edu's registers and DMA engine, QEMU docs/specs/edu.rst. */
#define EDU_VENDOR     0x1234
#define EDU_DEVICE     0x11e8
#define EDU_DMA_SRC    0x80
#define EDU_DMA_DST    0x88
#define EDU_DMA_COUNT  0x90
#define EDU_DMA_CMD    0x98
#define EDU_CMD_RUN    BIT(0)
#define EDU_CMD_TO_RAM BIT(1)
#define EDU_BUF        0x40000ULL /* the device's own 4 KiB buffer, in its DMA address space */
#define EDU_DMA_WAIT_MS 3000      /* edu runs a DMA 100 ms (virtual) after the command */

#define PCI_CMD_MEMORY     BIT(1)
#define PCI_CMD_BUS_MASTER BIT(2)
#define TEST_LEN 64

/* PCI configuration mechanism #1 (ports 0xcf8/0xcfc), bus 0..255, function 0 is enough for edu. */
static uint32_t pci_read32(uint32_t bdf, uint8_t reg)
{
	outl(0xcf8, 0x80000000u | (bdf << 8) | (reg & 0xfc));
	return inl(0xcfc);
}

static void pci_write32(uint32_t bdf, uint8_t reg, uint32_t v)
{
	outl(0xcf8, 0x80000000u | (bdf << 8) | (reg & 0xfc));
	outl(0xcfc, v);
}

static bool find_edu(uint32_t *bdf_out)
{
	for (uint32_t bus = 0; bus < 256; bus++)
		for (uint32_t dev = 0; dev < 32; dev++) {
			uint32_t bdf = (bus << 8) | (dev << 3);

			if (pci_read32(bdf, 0) == (EDU_DEVICE << 16 | EDU_VENDOR)) {
				*bdf_out = bdf;
				return true;
			}
		}
	return false;
}

static volatile uint64_t *edu_regs;

/* One DMA of `len` bytes; true once the engine reports it done (cmd bit 0 clear). */
static bool edu_dma(uint64_t src, uint64_t dst, uint64_t len, bool to_ram)
{
	edu_regs[EDU_DMA_SRC / 8] = src;
	edu_regs[EDU_DMA_DST / 8] = dst;
	edu_regs[EDU_DMA_COUNT / 8] = len;
	edu_regs[EDU_DMA_CMD / 8] = EDU_CMD_RUN | (to_ram ? EDU_CMD_TO_RAM : 0);
	for (unsigned int ms = 0; ms < EDU_DMA_WAIT_MS; ms++) {
		if (!(edu_regs[EDU_DMA_CMD / 8] & EDU_CMD_RUN))
			return true;
		udelay(1000);
	}
	printk("hv: dma test: the edu device did not finish a DMA within %u ms\n", EDU_DMA_WAIT_MS);
	return false;
}

/* A page of L1's RAM the hypervisor may borrow before L1 is loaded: usable, above 1 MiB, below 4 GiB (edu's mask). */
static paddr_t pick_l1_page(const struct boot_info *bi)
{
	const struct mem_map *g = mm_guest_map();

	for (uint32_t i = 0; i < g->count; i++) {
		for (paddr_t pa = MAX(ALIGN_UP(g->r[i].base, PAGE_SIZE), MiB(1));
		     g->r[i].type == MEM_USABLE && pa + PAGE_SIZE <= MIN(g->r[i].base + g->r[i].len, GiB(4));
		     pa += PAGE_SIZE) {
			bool module = false;

			for (uint32_t m = 0; m < bi->module_count; m++)
				module = module || (pa < bi->modules[m].end && pa + PAGE_SIZE > bi->modules[m].start);
			if (!module && !mm_range_overlaps_hv(pa, PAGE_SIZE))
				return pa;
		}
	}
	return 0;
}

static void fill(uint8_t *p, uint8_t seed)
{
	for (unsigned int i = 0; i < TEST_LEN; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static void test_l1_write(uint8_t *l1)
{
	fill(l1, 0x11);
	memset(l1 + 0x800, 0, TEST_LEN);
	if (!edu_dma(virt_to_phys(l1), EDU_BUF, TEST_LEN, false) ||
	    !edu_dma(EDU_BUF, virt_to_phys(l1 + 0x800), TEST_LEN, true))
		return;
	printk("hv: dma test: device write into L1 memory at %#llx: %s\n", (unsigned long long)virt_to_phys(l1 + 0x800),
	       memcmp(l1, l1 + 0x800, TEST_LEN) ? "FAILED, the bytes did not arrive" : "allowed, the bytes arrived");
}

static void test_hv_write(uint8_t *hv)
{
	uint8_t before[TEST_LEN];
	unsigned int faults;

	fill(hv, 0xa5);
	memcpy(before, hv, TEST_LEN);
	if (!edu_dma(EDU_BUF, virt_to_phys(hv), TEST_LEN, true))
		return;
	faults = iommu_report_faults();
	if (memcmp(hv, before, TEST_LEN))
		printk("hv: dma test: device write into hypervisor memory at %#llx: NOT blocked, the bytes changed\n",
		       (unsigned long long)virt_to_phys(hv));
	else
		printk("hv: dma test: device write into hypervisor memory at %#llx: blocked, %u fault(s) reported, the bytes did not change\n",
		       (unsigned long long)virt_to_phys(hv), faults);
}

/* The device reads hypervisor memory into its buffer, then writes the buffer where the test can look. */
static void test_hv_read(uint8_t *hv, uint8_t *l1)
{
	unsigned int faults;

	fill(hv, 0x3c);
	memset(l1 + 0x800, 0, TEST_LEN);
	if (!edu_dma(virt_to_phys(hv), EDU_BUF + 0x800, TEST_LEN, false))
		return;
	faults = iommu_report_faults();
	if (!edu_dma(EDU_BUF + 0x800, virt_to_phys(l1 + 0x800), TEST_LEN, true))
		return;
	if (!memcmp(hv, l1 + 0x800, TEST_LEN))
		printk("hv: dma test: device read of hypervisor memory at %#llx: NOT blocked, the device got the bytes\n",
		       (unsigned long long)virt_to_phys(hv));
	else
		printk("hv: dma test: device read of hypervisor memory at %#llx: blocked, %u fault(s) reported, the device got none of its bytes\n",
		       (unsigned long long)virt_to_phys(hv), faults);
}

/* Is the vector pending in this CPU's local APIC (IRR, SDM 11.8.4)? The hypervisor runs with interrupts off. */
static bool apic_irr_has(uint8_t vector)
{
	uint64_t base = rdmsr(MSR_IA32_APIC_BASE);

	if (base & BIT(10)) /* x2APIC: IRR at MSR 0x820 + n */
		return rdmsr(0x820 + vector / 32) & BIT(vector % 32);
	return ((volatile uint32_t *)phys_to_virt(base & ~0xfffULL))[(0x200 + 0x10 * (vector / 32)) / 4] &
	       BIT(vector % 32);
}

/* The device writes an MSI (data = vector, fixed, to APIC ID 0) at addr; true if the vector became pending. */
static bool device_msi(uint8_t *l1, uint64_t addr, uint8_t vector)
{
	uint32_t data = vector;

	memcpy(l1, &data, 4);
	if (!edu_dma(virt_to_phys(l1), EDU_BUF + 0x100, 4, false) || !edu_dma(EDU_BUF + 0x100, addr, 4, true))
		return false;
	return apic_irr_has(vector);
}

/*
 * A device forging an interrupt: a DMA write into 0xFEEx_xxxx is an
 * interrupt request (VT-d spec 5.1). Remappable format (address bit 4) hits
 * the table's not-present entry 0 and is blocked; compatibility format is
 * what L1 uses and passes (the control, showing delivery works at all).
 */
static void test_forged_msi(uint8_t *l1)
{
	bool compat = device_msi(l1, 0xfee00000, 0x41);
	bool remap = device_msi(l1, 0xfee00010, 0x42);

	printk("hv: dma test: device interrupt in compatibility format: %s\n",
	       compat ? "delivered (L1's format, passed)" : "not delivered");
	printk("hv: dma test: device interrupt in remappable format, entry 0: %s\n",
	       remap ? "delivered, NOT blocked" : "blocked, not delivered");
}

void iommu_debug_dma_test(const struct boot_info *bi)
{
	uint32_t bdf, bar;
	paddr_t hv_page, l1_page;
	static uint8_t saved[PAGE_SIZE];

	if (!cmdline_has_flag(bi->cmdline, "debug_dma_test"))
		return;
	if (!find_edu(&bdf)) {
		printk("hv: dma test: no edu device (QEMU: -device edu,dma_mask=0xffffffff); nothing tested\n");
		return;
	}
	bar = pci_read32(bdf, 0x10) & ~0xfu;
	hv_page = frame_alloc();
	l1_page = pick_l1_page(bi);
	if (!bar || !hv_page || !l1_page || hv_page >= GiB(4)) {
		printk("hv: dma test: edu's BAR0 is unassigned or no test page was found; nothing tested\n");
		return;
	}
	printk("hv: dma test: edu at %02x:%02x.%x, registers at %#x\n", bdf >> 8, (bdf >> 3) & 31, bdf & 7, bar);
	pci_write32(bdf, 0x04, (pci_read32(bdf, 0x04) & 0xffff) | PCI_CMD_MEMORY | PCI_CMD_BUS_MASTER);
	edu_regs = phys_to_virt(bar);
	memcpy(saved, phys_to_virt(l1_page), PAGE_SIZE); /* the hypervisor's own pick, handed back untouched */
	test_l1_write(phys_to_virt(l1_page));
	test_hv_write(phys_to_virt(hv_page));
	test_hv_read(phys_to_virt(hv_page), phys_to_virt(l1_page));
	test_forged_msi(phys_to_virt(l1_page));
	memcpy(phys_to_virt(l1_page), saved, PAGE_SIZE);
	pci_write32(bdf, 0x04, pci_read32(bdf, 0x04) & 0xffff & ~(uint32_t)PCI_CMD_BUS_MASTER);
	frame_free(hv_page);
}
