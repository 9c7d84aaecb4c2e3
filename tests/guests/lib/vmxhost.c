/* The test L1 hypervisors' host side: paging and a GDT with a TSS, the control MSRs, and a VMCS for a 32-bit L2. */
#include "vmxlib.h"

#define CR0_NE  (1u << 5)
#define CR0_PG  (1u << 31)
#define CR4_PSE (1u << 4)

struct vmx_host_caps vmx_host;

static uint32_t page_dir[1024] __attribute__((aligned(4096)));
static uint8_t tss[104] __attribute__((aligned(16)));
static uint64_t gdt[8] __attribute__((aligned(8))) = {
	0, 0x00cf9a000000ffffull, 0x00cf92000000ffffull, 0, 0, 0 /* 0x28: TSS */, 0, 0,
};

struct dt_ptr {
	uint16_t limit;
	uint32_t base;
} __attribute__((packed));

static inline void write_cr4(uint32_t v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }

/* Flat 4 GiB of 4 MiB pages (CR4.PSE) except one unmapped 4 MiB hole; our GDT with a TSS (VMX wants a usable TR). */
void vmx_host_setup_cpu(uint32_t hole)
{
	uint32_t base = (uint32_t)tss;
	struct dt_ptr g = { sizeof(gdt) - 1, (uint32_t)gdt };

	for (uint32_t i = 0; i < 1024; i++)
		page_dir[i] = (i << 22) | 0x83;
	if (hole)
		page_dir[hole >> 22] = 0;
	gdt[5] = 103 | ((uint64_t)(base & 0xffffff) << 16) | (0x89ull << 40) | ((uint64_t)(base >> 24) << 56);
	__asm__ volatile("lgdt %0\n\tljmp $0x08, $1f\n1:\tmovw $0x10, %%ax\n\tmovw %%ax, %%ds\n\tmovw %%ax, %%es\n\t"
			 "movw %%ax, %%ss\n\tmovw %%ax, %%fs\n\tmovw %%ax, %%gs\n\tmovw $0x28, %%ax\n\tltr %%ax"
			 : : "m"(g) : "eax", "memory");
	write_cr4(read_cr4() | CR4_PSE);
	write_cr3((uint32_t)page_dir);
	write_cr0(read_cr0() | CR0_PG | CR0_NE);
}

void vmx_host_set_vmxe(bool on)
{
	write_cr4(on ? read_cr4() | VMX_CR4_VMXE : read_cr4() & ~VMX_CR4_VMXE);
}

uint64_t vmx_rdmsr(uint32_t msr)
{
	uint64_t v = 0;

	if (!rdmsr_safe(msr, &v))
		printf("rdmsr 0x%x: fault vector=%u\n", msr, last_fault.vector);
	return v;
}

static void split(uint32_t msr, uint32_t *lo, uint32_t *hi)
{
	uint64_t v = vmx_rdmsr(msr);

	*lo = (uint32_t)v;
	*hi = (uint32_t)(v >> 32);
}

bool vmx_host_read_caps(void)
{
	uint32_t r[4];
	bool true_ctls;

	cpuid(1, 0, r);
	if (!(r[2] & (1u << 5)))
		return false;
	cpuid(0x80000008, 0, r);
	vmx_host.maxphyaddr = r[0] & 0xff;
	vmx_host.basic = vmx_rdmsr(0x480);
	vmx_host.revision = (uint32_t)vmx_host.basic & 0x7fffffff;
	true_ctls = (vmx_host.basic >> 55) & 1; /* guest.h's bool is an int: no truncation of bit 55 */
	split(true_ctls ? 0x48d : 0x481, &vmx_host.pin_lo, &vmx_host.pin_hi);
	split(true_ctls ? 0x48e : 0x482, &vmx_host.proc_lo, &vmx_host.proc_hi);
	split(true_ctls ? 0x48f : 0x483, &vmx_host.exit_lo, &vmx_host.exit_hi);
	split(true_ctls ? 0x490 : 0x484, &vmx_host.entry_lo, &vmx_host.entry_hi);
	return true;
}

uint32_t vmx_adjust(uint32_t want, uint32_t lo, uint32_t hi)
{
	return (want | lo) & hi;
}

static void setup_host_state(void)
{
	struct dt_ptr g, i;

	__asm__ volatile("sgdt %0" : "=m"(g));
	__asm__ volatile("sidt %0" : "=m"(i));
	vmw(H_CR0, read_cr0());
	vmw(H_CR3, (uint32_t)page_dir);
	vmw(H_CR4, read_cr4());
	vmw(H_CS_SEL, 0x08);
	vmw(H_SS_SEL, 0x10);
	vmw(H_DS_SEL, 0x10);
	vmw(H_ES_SEL, 0x10);
	vmw(H_FS_SEL, 0x10);
	vmw(H_GS_SEL, 0x10);
	vmw(H_TR_SEL, 0x28);
	vmw(H_FS_BASE, 0);
	vmw(H_GS_BASE, 0);
	vmw(H_TR_BASE, (uint32_t)tss);
	vmw(H_GDTR_BASE, g.base);
	vmw(H_IDTR_BASE, i.base);
	vmw(H_SYSENTER_CS, 0);
	vmw(H_SYSENTER_ESP, 0);
	vmw(H_SYSENTER_EIP, 0);
	vmw(H_RIP, (uint32_t)vmx_exit_stub);
}

/* Guest state (SDM 26.3.1): L2 in 32-bit protected mode with L1's paging, flat segments, the TSS as busy TR. */
static void setup_guest_state(const struct l2_setup *s)
{
	struct dt_ptr g;

	__asm__ volatile("sgdt %0" : "=m"(g));
	vmw(G_CR0, read_cr0());
	vmw(G_CR3, (uint32_t)page_dir);
	vmw(G_CR4, read_cr4());
	vmw(CR0_SHADOW, read_cr0());
	vmw(CR4_SHADOW, read_cr4());
	for (uint32_t i = 0; i < 6; i++) {
		vmw(G_ES_SEL + 2 * i, i == 1 ? 0x08 : 0x10);
		vmw(G_ES_BASE + 2 * i, 0);
		vmw(G_ES_LIMIT + 2 * i, 0xffffffff);
		vmw(G_ES_AR + 2 * i, i == 1 ? 0xc09b : 0xc093);
	}
	vmw(G_LDTR_SEL, 0);
	vmw(G_LDTR_BASE, 0);
	vmw(G_LDTR_LIMIT, 0);
	vmw(G_LDTR_AR, 0x10000);
	vmw(G_TR_SEL, 0x28);
	vmw(G_TR_BASE, (uint32_t)tss);
	vmw(G_TR_LIMIT, 103);
	vmw(G_TR_AR, 0x8b);
	vmw(G_GDTR_BASE, g.base);
	vmw(G_GDTR_LIMIT, g.limit);
	vmw(G_IDTR_BASE, s->idt_base);
	vmw(G_IDTR_LIMIT, s->idt_limit);
	vmw(G_DR7, 0x400);
	vmw(G_RSP, s->rsp);
	vmw(G_RIP, s->rip);
	vmw(G_RFLAGS, 0x2);
	vmw(G_ACTIVITY, 0);
	vmw(G_INTERRUPTIBILITY, 0);
	vmw(G_PENDING_DBG, 0);
	vmw64(G_DEBUGCTL, 0);
	vmw(G_SYSENTER_CS, 0);
	vmw(G_SYSENTER_ESP, 0);
	vmw(G_SYSENTER_EIP, 0);
}

void vmx_host_setup_vmcs(const struct l2_setup *s)
{
	vmw(PIN_CTL, vmx_adjust(0, vmx_host.pin_lo, vmx_host.pin_hi));
	vmw(PROC_CTL, vmx_adjust(0, vmx_host.proc_lo, vmx_host.proc_hi));
	vmw(EXIT_CTL, vmx_adjust(0, vmx_host.exit_lo, vmx_host.exit_hi));
	vmw(ENTRY_CTL, vmx_adjust(0, vmx_host.entry_lo, vmx_host.entry_hi));
	vmw(EXC_BITMAP, 0);
	vmw(PF_MASK, 0);
	vmw(PF_MATCH, 0);
	vmw(CR3_TARGET_COUNT, 0);
	vmw(EXIT_MSR_STORE_COUNT, 0);
	vmw(EXIT_MSR_LOAD_COUNT, 0);
	vmw(ENTRY_MSR_LOAD_COUNT, 0);
	vmw(ENTRY_INTR_INFO, 0);
	vmw(CR0_MASK, 0);
	vmw(CR4_MASK, 0);
	vmw64(IO_BITMAP_A, s->io_bitmap_a);
	vmw64(IO_BITMAP_B, s->io_bitmap_b);
	vmw64(MSR_BITMAP, s->msr_bitmap);
	vmw64(VMCS_LINK, ~0ull);
	setup_host_state();
	setup_guest_state(s);
}
