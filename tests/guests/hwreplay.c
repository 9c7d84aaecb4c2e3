/* Hostile values for what the hypervisor replays on the hardware (IA32_APIC_BASE, the x2APIC ICR, XCR0, CR8): L1 must get the #GP bare Bochs gives. */
#include "guest.h"

const char guest_name[] = "hwreplay";

#define MSR_APIC_BASE   0x1b
#define APIC_BASE_EXTD  (1ull << 10)
#define APIC_BASE_EN    (1ull << 11)
#define X2APIC_ICR      0x830
#define CPUID1_ECX_XSAVE  (1u << 26)
#define CPUID1_ECX_X2APIC (1u << 21)
#define CR4_OSXSAVE     (1u << 18)
#define NO_SUCH_APIC_ID 0x55ull /* a fixed IPI to it goes nowhere, bare or as L1 */

static void write_cr4(uint32_t v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }

/* One WRMSR and what became of it, in the same words bare and as L1. */
static void try_wrmsr(const char *prefix, const char *what, uint32_t msr, uint64_t val)
{
	if (wrmsr_safe(msr, val))
		printf("%swrmsr %s (0x%llx): ok\n", prefix, what, val);
	else
		printf("%swrmsr %s (0x%llx): faulted vector=%u err=0x%x\n", prefix, what, val, last_fault.vector,
		       last_fault.error);
}

static uint32_t max_phys_bits(void)
{
	uint32_t r[4];

	cpuid(0x80000000, 0, r);
	if (r[0] < 0x80000008)
		return 36;
	cpuid(0x80000008, 0, r);
	return r[0] & 0xff;
}

/* SDM 11.12.5: reserved bits and invalid mode changes; the APIC is never disabled (Bochs ignores later writes). */
static void apic_base_writes(void)
{
	uint64_t base = 0, now = 0;
	uint32_t r[4];

	rdmsr_safe(MSR_APIC_BASE, &base);
	printf("apic base 0x%llx\n", base);
	try_wrmsr("", "apic base unchanged", MSR_APIC_BASE, base);
	try_wrmsr("", "apic base reserved bit 0", MSR_APIC_BASE, base | 1);
	try_wrmsr("", "apic base reserved bit 9", MSR_APIC_BASE, base | (1u << 9));
	try_wrmsr("", "apic base bit MAXPHYADDR", MSR_APIC_BASE, base | (1ull << max_phys_bits()));
	try_wrmsr("", "apic base EXTD without EN", MSR_APIC_BASE, (base & ~APIC_BASE_EN) | APIC_BASE_EXTD);
	cpuid(1, 0, r);
	if (!(r[2] & CPUID1_ECX_X2APIC)) {
		printf("no x2APIC\n");
		return;
	}
	try_wrmsr("", "apic base xAPIC -> x2APIC", MSR_APIC_BASE, base | APIC_BASE_EXTD);
	try_wrmsr("", "apic base x2APIC -> xAPIC", MSR_APIC_BASE, base);
	try_wrmsr("", "apic base x2APIC -> EXTD without EN", MSR_APIC_BASE, (base & ~APIC_BASE_EN) | APIC_BASE_EXTD);
	rdmsr_safe(MSR_APIC_BASE, &now);
	printf("apic base now 0x%llx\n", now);
}

/*
 * x2APIC ICR writes (the hypervisor traps them while L1 has AP vCPUs). A
 * fixed IPI to an APIC ID nobody has is harmless either way. Reserved bits
 * #GP on Intel CPUs (SDM 11.12.9); Bochs 2.7 sends the IPI without checking
 * them (cpu/apic.cc, bx_local_apic_c::write_x2apic, case BX_LAPIC_ICR_LO), so
 * that line is "~" and the test checks the #GP as L1 on its own.
 */
static void x2apic_icr_writes(void)
{
	uint64_t base = 0;

	rdmsr_safe(MSR_APIC_BASE, &base);
	if (!(base & APIC_BASE_EXTD)) {
		printf("not in x2APIC mode\n");
		return;
	}
	try_wrmsr("", "x2apic icr fixed ipi to nobody", X2APIC_ICR, NO_SUCH_APIC_ID << 32 | 0x40);
	try_wrmsr("~", "x2apic icr reserved bit 13", X2APIC_ICR, NO_SUCH_APIC_ID << 32 | 1u << 13 | 0x40);
	try_wrmsr("~", "x2apic icr reserved bit 31", X2APIC_ICR, NO_SUCH_APIC_ID << 32 | 1u << 31 | 0x40);
}

static bool xsetbv_safe(uint32_t xcr, uint64_t val)
{
	return !FAULT_PROBE("xsetbv", : "c"(xcr), "a"((uint32_t)val), "d"((uint32_t)(val >> 32)) : "memory");
}

static uint32_t xgetbv0(void)
{
	uint32_t lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return lo;
}

static void try_xsetbv(const char *what, uint32_t xcr, uint64_t val)
{
	if (xsetbv_safe(xcr, val))
		printf("xsetbv %s (xcr%u 0x%llx): ok, xcr0 now 0x%x\n", what, xcr, val, xgetbv0());
	else
		printf("xsetbv %s (xcr%u 0x%llx): faulted vector=%u err=0x%x\n", what, xcr, val, last_fault.vector,
		       last_fault.error);
}

/* XSETBV (SDM Vol. 2C; always a VM exit): the XCR0 combinations the CPU rejects. */
static void xcr0_writes(void)
{
	uint32_t r[4];

	cpuid(1, 0, r);
	if (!(r[2] & CPUID1_ECX_XSAVE)) {
		printf("no XSAVE\n");
		return;
	}
	write_cr4(read_cr4() | CR4_OSXSAVE);
	cpuid(0xd, 0, r);
	printf("xcr0 supported 0x%x:0x%x\n", r[3], r[0]);
	try_xsetbv("x87+sse+avx", 0, 0x7);
	try_xsetbv("x87 off", 0, 0x6);
	try_xsetbv("avx without sse", 0, 0x5);
	try_xsetbv("bndregs alone", 0, 0xb);
	try_xsetbv("bndcsr alone", 0, 0x13);
	try_xsetbv("opmask alone", 0, 0x27);
	try_xsetbv("avx-512 without avx", 0, 0xe3);
	try_xsetbv("avx-512 two of three", 0, 0x67);
	try_xsetbv("avx-512 whole", 0, 0xe7);
	try_xsetbv("edx bit", 0, 0x100000003ull);
	try_xsetbv("xcr1", 1, 0x3);
	try_xsetbv("back to x87+sse", 0, 0x3);
}

/*
 * MOV to CR8 exists only in 64-bit mode: a short trip there with identity
 * paging (first GiB), a GDT whose 0x08/0x10 match the library's plus a
 * 64-bit code segment 0x18, and an IDT with only #GP, whose handler records
 * the error code and resumes at cr8_resume. Bits 63:4 of CR8 are reserved
 * (#GP). The hypervisor lets L1 own its TPR (no CR8 exits on this CPU), but
 * where a CPU forces CR8 exiting it replays the write, so it checks first.
 */
struct cr8_case {
	uint64_t value, readback;
	uint32_t faulted, error;
};
struct cr8_case cr8_cases[] = { { 0x1, 0, 0, 0 }, { 0xf, 0, 0, 0 }, { 0x10, 0, 0, 0 }, { 1ull << 63, 0, 0, 0 } };
const uint32_t cr8_ncases = sizeof(cr8_cases) / sizeof(cr8_cases[0]);
volatile uint32_t cr8_resume, cr8_fault_error;
uint64_t lm_pml4[512] __attribute__((aligned(4096)));
uint64_t lm_pdpt[512] __attribute__((aligned(4096)));
uint64_t lm_pd[512] __attribute__((aligned(4096)));
uint64_t lm_idt[2 * 14] __attribute__((aligned(16)));
const uint64_t lm_gdt[4] __attribute__((aligned(8))) = { 0, 0x00cf9a000000ffffull, 0x00cf92000000ffffull,
							 0x00af9a000000ffffull };
void cr8_long_mode_probe(void);
extern const char lm_gp_handler[];

__asm__(
	".data\n"
	".balign 8\n"
	"lm_gdt_desc: .short 31\n .long lm_gdt\n"
	"lm_idt_desc: .short 14 * 16 - 1\n .long lm_idt, 0\n"
	"saved_gdt: .short 0\n .long 0\n"
	"saved_idt: .short 0\n .long 0\n"
	".text\n"
	".code32\n"
	".globl cr8_long_mode_probe\n"
	"cr8_long_mode_probe:\n"
	"	pushl %ebx\n"
	"	sgdt saved_gdt\n"
	"	sidt saved_idt\n"
	"	lgdt lm_gdt_desc\n"
	"	ljmp $0x08, $1f\n"
	"1:	movl %cr4, %eax\n"
	"	orl $0x20, %eax\n"              /* PAE */
	"	movl %eax, %cr4\n"
	"	movl $lm_pml4, %eax\n"
	"	movl %eax, %cr3\n"
	"	movl $0xc0000080, %ecx\n"       /* EFER.LME */
	"	rdmsr\n"
	"	orl $0x100, %eax\n"
	"	wrmsr\n"
	"	movl %cr0, %eax\n"
	"	orl $0x80000000, %eax\n"
	"	movl %eax, %cr0\n"
	"	ljmp $0x18, $2f\n"
	".code64\n"
	/* ELF32 has no 64-bit relocations: symbols only as 32-bit immediates, memory through registers. */
	"2:	movl $lm_idt_desc, %edx\n"
	"	lidt (%rdx)\n"
	"	movl $cr8_cases, %ebx\n"
	"	movl $cr8_ncases, %edx\n"
	"	movl (%rdx), %ecx\n"
	"3:	movl $cr8_resume, %edx\n"
	"	movl $4f, (%rdx)\n"
	"	movq (%rbx), %rax\n"
	"	movq %rax, %cr8\n"
	"	movq %cr8, %rax\n"
	"	movq %rax, 8(%rbx)\n"
	"	jmp 5f\n"
	"4:	movl $1, 16(%rbx)\n"
	"	movl $cr8_fault_error, %edx\n"
	"	movl (%rdx), %eax\n"
	"	movl %eax, 20(%rbx)\n"
	"5:	addq $24, %rbx\n"
	"	decl %ecx\n"
	"	jnz 3b\n"
	"	xorl %eax, %eax\n"
	"	movq %rax, %cr8\n"
	"	pushq $0x08\n"
	"	movl $6f, %eax\n"
	"	pushq %rax\n"
	"	lretq\n"
	".globl lm_gp_handler\n"
	"lm_gp_handler:\n"
	"	movq (%rsp), %rax\n"
	"	movl $cr8_fault_error, %edx\n"
	"	movl %eax, (%rdx)\n"
	"	addq $8, %rsp\n"
	"	movl $cr8_resume, %edx\n"
	"	movl (%rdx), %eax\n"
	"	movq %rax, (%rsp)\n"
	"	iretq\n"
	".code32\n"
	"6:	movl %cr0, %eax\n"
	"	andl $0x7fffffff, %eax\n"
	"	movl %eax, %cr0\n"
	"	movl $0xc0000080, %ecx\n"
	"	rdmsr\n"
	"	andl $~0x100, %eax\n"
	"	wrmsr\n"
	"	movl %cr4, %eax\n"
	"	andl $~0x20, %eax\n"
	"	movl %eax, %cr4\n"
	"	lgdt saved_gdt\n"
	"	ljmp $0x08, $7f\n"
	"7:	lidt saved_idt\n"
	"	popl %ebx\n"
	"	ret\n");

static void cr8_writes(void)
{
	uint32_t gp = (uint32_t)lm_gp_handler;

	for (uint32_t i = 0; i < 512; i++)
		lm_pd[i] = ((uint64_t)i << 21) | 0x83; /* 2 MiB, writable, present */
	lm_pdpt[0] = (uint32_t)lm_pd | 3;
	lm_pml4[0] = (uint32_t)lm_pdpt | 3;
	/* 64-bit interrupt gate (SDM 6.14.1): offset 15:0, selector 0x18, type 0xe present; offset 31:16; offset 63:32 = 0. */
	lm_idt[2 * 13] = (gp & 0xffff) | (0x18ull << 16) | (0x8e00ull << 32) | ((uint64_t)(gp >> 16) << 48);
	lm_idt[2 * 13 + 1] = 0;
	cr8_long_mode_probe();
	for (uint32_t i = 0; i < cr8_ncases; i++) {
		if (cr8_cases[i].faulted)
			printf("mov cr8 0x%llx: faulted vector=13 err=0x%x\n", cr8_cases[i].value, cr8_cases[i].error);
		else
			printf("mov cr8 0x%llx: ok, reads 0x%llx\n", cr8_cases[i].value, cr8_cases[i].readback);
	}
}

int guest_main(const struct mb_info *mbi)
{
	(void)mbi;
	apic_base_writes();
	x2apic_icr_writes();
	xcr0_writes();
	cr8_writes();
	return GUEST_OK;
}
