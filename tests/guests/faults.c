/* Exceptions taken and handled inside the guest (#DE, #BP, #UD, #NP, #GP, #PF): vector, error code, CR2. */
#include "guest.h"

const char guest_name[] = "faults";

#define PTE_P 0x001u
#define PTE_W 0x002u
#define CR0_PG 0x80000000u
#define CR0_WP 0x00010000u
#define RO_PAGE 0x1fe000u       /* mapped read-only */
#define ABSENT_PAGE 0x1ff000u   /* PTE not present */
#define UNMAPPED 0x40000000u    /* PDE not present */

static uint32_t page_dir[1024] __attribute__((aligned(4096)));
static uint32_t page_table[1024] __attribute__((aligned(4096)));

static void divide_error(void)
{
	uint32_t zero = 0;
	bool f = FAULT_PROBE("divl %[z]", , [z] "+r"(zero) : "a"(1), "d"(0) : "memory");
	fault_print(f ? "#DE div by zero" : "#DE div by zero (no fault)");
}

static void breakpoint(void)
{
	uint32_t before = fault_count;
	__asm__ volatile("int3" : : : "memory");
	printf("#BP int3: %s vector=%u\n", fault_count != before ? "taken" : "missed", last_fault.vector);
}

static void invalid_opcode(void)
{
	bool f = FAULT_PROBE("ud2", : : "memory");
	fault_print(f ? "#UD ud2" : "#UD ud2 (no fault)");
	/* VMXON outside VMX operation with CR4.VMXE clear is #UD, bare and under a nested hypervisor alike. */
	static uint64_t region;
	f = FAULT_PROBE("vmxon %[r]", : [r] "m"(region) : "memory");
	fault_print(f ? "#UD vmxon with CR4.VMXE=0" : "vmxon (no fault)");
}

static void segment_faults(void)
{
	bool f = FAULT_PROBE("movw %%ds, %%ax\n\tmovw $0x1234, %%cx\n\tmovw %%cx, %%ds\n\tmovw %%ax, %%ds", : : "eax", "ecx", "memory");
	fault_print(f ? "#GP selector beyond GDT limit" : "selector load (no fault)");
	f = FAULT_PROBE("movw $0x18, %%cx\n\tmovw %%cx, %%es", : : "ecx", "memory");
	fault_print(f ? "#NP not-present segment" : "not-present segment (no fault)");
	__asm__ volatile("movw $0x10, %%cx\n\tmovw %%cx, %%es" : : : "ecx");
}

static void msr_and_cr_faults(void)
{
	uint64_t v;
	bool ok = rdmsr_safe(0x12345678, &v);
	fault_print(ok ? "rdmsr bogus (no fault)" : "#GP rdmsr bogus MSR");
	ok = wrmsr_safe(0x12345678, 0);
	fault_print(ok ? "wrmsr bogus (no fault)" : "#GP wrmsr bogus MSR");
	/* Setting a reserved CR4 bit must #GP; a hypervisor intercepting CR4 must not accept it. */
	uint32_t cr4 = read_cr4() | (1u << 31);
	bool f = FAULT_PROBE("mov %[v], %%cr4", : [v] "r"(cr4) : "memory");
	fault_print(f ? "#GP reserved CR4 bit" : "reserved CR4 bit (no fault)");
	printf("cr4 after: 0x%08x\n", read_cr4());
}

/* Identity-maps the first 2 MiB with 4 KiB pages (hypervisor memory at 2 MiB stays unmapped). */
static void paging_on(void)
{
	for (uint32_t i = 0; i < 512; i++)
		page_table[i] = (i << 12) | PTE_P | PTE_W;
	page_table[RO_PAGE >> 12] = RO_PAGE | PTE_P;
	page_table[ABSENT_PAGE >> 12] = 0;
	page_dir[0] = (uint32_t)page_table | PTE_P | PTE_W;
	write_cr3((uint32_t)page_dir);
	write_cr0(read_cr0() | CR0_PG | CR0_WP);
}

static void paging_off(void)
{
	write_cr0(read_cr0() & ~(CR0_PG | CR0_WP));
}

/* Only PG, WP and PE are ours; CD/NW are whatever the loader left (GRUB: caches off, the hypervisor: on). */
static void print_cr0(const char *when)
{
	uint32_t cr0 = read_cr0();
	printf("%s: cr0 pg=%u wp=%u pe=%u\n", when, !!(cr0 & CR0_PG), !!(cr0 & CR0_WP), cr0 & 1);
	printf("~%s: cr0=0x%08x\n", when, cr0);
}

static void page_faults(void)
{
	uint32_t v = 0;
	paging_on();
	print_cr0("paging on");
	bool f = FAULT_PROBE("movl (%[a]), %[v]", , [v] "+r"(v) : [a] "r"(UNMAPPED) : "memory");
	fault_print(f ? "#PF read, PDE not present" : "read unmapped (no fault)");
	f = FAULT_PROBE("movl %[v], (%[a])", : [a] "r"(UNMAPPED + 4), [v] "r"(v) : "memory");
	fault_print(f ? "#PF write, PDE not present" : "write unmapped (no fault)");
	f = FAULT_PROBE("movl (%[a]), %[v]", , [v] "+r"(v) : [a] "r"(ABSENT_PAGE + 8) : "memory");
	fault_print(f ? "#PF read, PTE not present" : "read absent page (no fault)");
	f = FAULT_PROBE("movl (%[a]), %[v]", , [v] "+r"(v) : [a] "r"(RO_PAGE) : "memory");
	printf("read-only page read: %s\n", f ? "faulted" : "ok");
	f = FAULT_PROBE("movl %[v], (%[a])", : [a] "r"(RO_PAGE + 0x10), [v] "r"(v) : "memory");
	fault_print(f ? "#PF write, read-only page, CR0.WP=1" : "write read-only (no fault)");
	paging_off();
	print_cr0("paging off");
}

int guest_main(const struct mb_info *mbi)
{
	(void)mbi;
	divide_error();
	breakpoint();
	invalid_opcode();
	segment_faults();
	msr_and_cr_faults();
	page_faults();
	printf("faults taken: %u\n", fault_count);
	return GUEST_OK;
}
