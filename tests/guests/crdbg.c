/* Debug traps of instructions a hypervisor emulates (I/O breakpoints, single step with and without BTF) and CR0 loads that must #GP. */
#include "guest.h"

const char guest_name[] = "crdbg";

#define POST 0x80
#define CR0_NE 0x20u
#define CR0_PG 0x80000000u
#define CR4_DE 0x08u
#define CR4_PAE 0x20u
#define MSR_DEBUGCTL 0x1d9
#define DEBUGCTL_BTF 0x2u
#define SEL_CODE64 0x18
#define MAX_DB 16

/* ---- #DB capture: a trap handler that records EIP and DR6 and returns ---- */
static volatile uint32_t db_count, db_eip[MAX_DB], db_dr6[MAX_DB];

void db_record(const uint32_t *frame);
void db_record(const uint32_t *frame)
{
	uint32_t dr6;

	__asm__ volatile("mov %%dr6, %0" : "=r"(dr6));
	if (db_count < MAX_DB) {
		db_eip[db_count] = frame[8]; /* after the 8 registers of pushal */
		db_dr6[db_count] = dr6;
	}
	db_count++;
	__asm__ volatile("mov %0, %%dr6" : : "r"(0xffff0ff0u));
}

extern const char db_stub[];
__asm__(".text\n.globl db_stub\n"
	"db_stub:\n\tpushal\n\tpushl %esp\n\tcall db_record\n\taddl $4, %esp\n\tpopal\n\tiret\n");

struct idt_ptr32 { uint16_t limit; uint32_t base; } __attribute__((packed));

static void install_db_handler(void)
{
	struct idt_ptr32 p;
	uint8_t *gate;
	uint32_t h = (uint32_t)db_stub;

	__asm__ volatile("sidt %0" : "=m"(p));
	gate = (uint8_t *)p.base + 8;
	gate[0] = (uint8_t)h, gate[1] = (uint8_t)(h >> 8);
	gate[6] = (uint8_t)(h >> 16), gate[7] = (uint8_t)(h >> 24);
}

/* Prints the #DBs seen since the last call, EIPs relative to base, DR6 condition bits (B0-B3, BD, BS, BT). */
static void db_report(const char *what, uint32_t base)
{
	printf("%s: %u #DB", what, db_count);
	for (uint32_t i = 0; i < db_count && i < MAX_DB; i++)
		printf(" [eip+%u dr6=%x]", db_eip[i] - base, db_dr6[i] & 0xe00f);
	printf("\n");
	db_count = 0;
}

static void set_dr7(uint32_t v) { __asm__ volatile("mov %0, %%dr7" : : "r"(v)); }
static void set_dr0(uint32_t v) { __asm__ volatile("mov %0, %%dr0" : : "r"(v)); }
static void write_cr4(uint32_t v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }

/* Item 13: DR7 I/O breakpoints (R/W0 = 10b, LEN0 = 1 byte, L0) on port 0x80 (SDM 17.2.4). */
static void io_breakpoints(void)
{
	uint32_t base, ecx;
	const char *src;

	write_cr4(read_cr4() | CR4_DE);
	set_dr0(POST);
	set_dr7(0x1u | (2u << 16));
	db_count = 0;
	__asm__ volatile("movl $1f, %0\n\toutb %%al, $0x80\n1:" : "=&r"(base) : "a"(0x42) : "memory");
	db_report("io bp outb 0x80", base);
	__asm__ volatile("movl $1f, %0\n\tinb $0x80, %%al\n1:" : "=&r"(base) : : "eax", "memory");
	db_report("io bp inb 0x80", base);
	__asm__ volatile("movl $1f, %0\n\tmovw $0x7f, %%dx\n\toutw %%ax, %%dx\n1:" : "=&r"(base) : "a"(0x1100) : "edx", "memory");
	db_report("io bp outw 0x7f (covers 0x80)", base);
	__asm__ volatile("movl $1f, %0\n\toutb %%al, $0x81\n1:" : "=&r"(base) : "a"(0) : "memory");
	db_report("io bp outb 0x81 (misses)", base);
	ecx = 3;
	src = "abc";
	__asm__ volatile("movl $1f, %0\n1:\n\trep outsb\n" : "=&r"(base), "+c"(ecx), "+S"(src) : "d"(POST) : "memory");
	db_report("io bp rep outsb x3", base);
	/* CR4.DE clear: R/W = 10b is no I/O breakpoint. */
	write_cr4(read_cr4() & ~CR4_DE);
	__asm__ volatile("movl $1f, %0\n\toutb %%al, $0x80\n1:" : "=&r"(base) : "a"(0x42) : "memory");
	db_report("io bp with CR4.DE=0", base);
	set_dr7(0);
}

/*
 * Single step over emulated instructions (OUT to an intercepted port, CPUID),
 * a taken jump and a REP OUTSB (a trap after each iteration). With
 * IA32_DEBUGCTL.BTF, TF traps on branches only (SDM 17.4.3): Bochs 2.7 has
 * no IA32_DEBUGCTL (cpu/msr.cc, BX_CPU_C::wrmsr: 0x1d9 falls to the default
 * case, "WRMSR: Unknown register", ignored), so there the BTF run shows
 * every step, bare and as L1 alike; the BTF rule itself is host-tested
 * (tests/unit/test_vmx_emulate.c).
 */
static const char xy[] = "xy";

static void single_step(const char *what, uint32_t debugctl)
{
	uint32_t base;

	if (!wrmsr_safe(MSR_DEBUGCTL, debugctl))
		printf("%s: wrmsr DEBUGCTL faulted\n", what);
	db_count = 0;
	__asm__ volatile("movl $1f, %0\n\t"
			 "xorl %%eax, %%eax\n\t"
			 "pushfl\n\torl $0x100, (%%esp)\n\tpopfl\n"
			 "1:\toutb %%al, $0x80\n\t"
			 "cpuid\n\t"
			 "nop\n\t"
			 "jmp 2f\n\t"
			 "nop\n"
			 "2:\tmovl $2, %%ecx\n\t"
			 "movl %[xy], %%esi\n\t"
			 "movw $0x80, %%dx\n\t"
			 "rep outsb\n\t"
			 "pushfl\n\tandl $~0x100, (%%esp)\n\tpopfl\n\t"
			 "nop\n"
			 : "=&r"(base) : [xy] "i"(xy) : "eax", "ebx", "ecx", "edx", "esi", "memory", "cc");
	wrmsr_safe(MSR_DEBUGCTL, 0);
	db_report(what, base);
}

/* ---- Item 12: CR0 loads the CPU refuses with #GP ---- */
static uint64_t pdpt[4] __attribute__((aligned(32)));
static uint64_t pae_pd[512] __attribute__((aligned(4096)));

/* Paging on with PAE: a present PDPTE with a reserved bit (bit 1) makes the MOV #GP (SDM 4.4.1). NE toggled: the write exits under a hypervisor. */
static void pae_pdptes(void)
{
	uint32_t cr0 = read_cr0(), v;
	bool f;

	pae_pd[0] = 0x83; /* 2 MiB page at 0, present, writable */
	pdpt[0] = (uint32_t)pae_pd | 1;
	pdpt[1] = (uint32_t)pae_pd | 1 | 2; /* R/W is reserved in a PAE PDPTE */
	write_cr3((uint32_t)pdpt);
	write_cr4(read_cr4() | CR4_PAE);
	v = (cr0 ^ CR0_NE) | CR0_PG;
	f = FAULT_PROBE("mov %[v], %%cr0", : [v] "r"(v) : "memory");
	printf("pae pg on, reserved pdpte bit: %s vector=%u err=0x%x pg=%u\n", f ? "fault" : "no fault", last_fault.vector,
	       last_fault.error, !!(read_cr0() & CR0_PG));
	if (!f)
		write_cr0(cr0);
	pdpt[1] = 0;
	f = FAULT_PROBE("mov %[v], %%cr0", : [v] "r"(v) : "memory");
	printf("pae pg on, valid pdptes: %s pg=%u\n", f ? "fault" : "no fault", !!(read_cr0() & CR0_PG));
	write_cr0(cr0);
	write_cr4(read_cr4() & ~CR4_PAE);
}

/* 64-bit mode: identity map of 2 MiB, a 64-bit code segment, an IDT whose #GP handler resumes past the fault. */
extern uint64_t pml4[512];
uint64_t pml4[512] __attribute__((aligned(4096)));
static uint64_t lm_pdpt[512] __attribute__((aligned(4096)));
static uint64_t lm_pd[512] __attribute__((aligned(4096)));
static uint64_t gdt[4] __attribute__((aligned(8)));
static uint64_t idt64[2 * 32] __attribute__((aligned(16)));
struct idt_ptr64 { uint16_t limit; uint64_t base; } __attribute__((packed));
extern struct idt_ptr64 idt64_desc;
struct idt_ptr64 idt64_desc;
extern struct idt_ptr32 saved_idt;
struct idt_ptr32 saved_idt;
extern volatile uint32_t lm_gp_count, lm_gp_error, lm_no_fault, lm_reached64;
extern volatile uint64_t lm_gp_resume, lm_rsi64, lm_rsi32, lm_rcx32;
extern const char lm_str[];
volatile uint64_t lm_rsi64, lm_rsi32, lm_rcx32;
const char lm_str[] = "LMX";
volatile uint32_t lm_gp_count, lm_gp_error, lm_no_fault, lm_reached64;
volatile uint64_t lm_gp_resume;
extern const char gp64_handler[];
uint32_t long_mode_cr0_test(uint32_t cr0_to_write, uint32_t cr0_compat);

__asm__(".text\n"
	".globl long_mode_cr0_test\n"
	"long_mode_cr0_test:\n\t"
	"pushal\n\t"
	"movl 36(%esp), %ebx\n\t"     /* CR0 value to try in 64-bit mode */
	"movl 40(%esp), %ebp\n\t"     /* CR0 value for leaving IA-32e mode from compatibility mode */
	"movl %cr4, %eax\n\torl $0x20, %eax\n\tmovl %eax, %cr4\n\t"
	"movl $pml4, %eax\n\tmovl %eax, %cr3\n\t"
	"movl $0xc0000080, %ecx\n\trdmsr\n\torl $0x100, %eax\n\twrmsr\n\t"
	"movl %cr0, %eax\n\torl $0x80000000, %eax\n\tmovl %eax, %cr0\n\t"
	"ljmp $0x18, $1f\n"
	".code64\n"
	"1:\tmovl %esp, %esp\n\t"
	"movl $1, lm_reached64(%rip)\n\t"
	"lidt idt64_desc(%rip)\n\t"
	/* REP OUTSB in 64-bit mode: 64-bit RSI/RCX; then 32-bit addresses (0x67): ESI used, RSI's upper half cleared. */
	"leaq lm_str(%rip), %rsi\n\tmovl $3, %ecx\n\tmovw $0x80, %dx\n\trep outsb\n\t"
	"leaq lm_str(%rip), %rax\n\tsubq %rax, %rsi\n\tmovq %rsi, lm_rsi64(%rip)\n\t"
	"movabsq $0xabcd000000000000, %rsi\n\torq %rax, %rsi\n\tmovl $2, %ecx\n\t"
	"addr32 rep outsb\n\t"
	"movq %rsi, lm_rsi32(%rip)\n\tmovq %rcx, lm_rcx32(%rip)\n\t"
	"leaq 2f(%rip), %rax\n\tmovq %rax, lm_gp_resume(%rip)\n\t"
	"movl %ebx, %eax\n\t"
	"movq %rax, %cr0\n\t"         /* clears PG in 64-bit mode: #GP */
	"movl $1, lm_no_fault(%rip)\n"
	"2:\tljmp *compat_ptr(%rip)\n"
	".code32\n"
	"3:\tmovl %ebp, %cr0\n\t"     /* compatibility mode: leaving IA-32e mode is allowed */
	"movl $0xc0000080, %ecx\n\trdmsr\n\tandl $~0x100, %eax\n\twrmsr\n\t"
	"movl %cr4, %eax\n\tandl $~0x20, %eax\n\tmovl %eax, %cr4\n\t"
	"lidt saved_idt\n\t"
	"popal\n\t"
	"ret\n"
	".code64\n"
	".globl gp64_handler\n"
	"gp64_handler:\n\t"
	"incl lm_gp_count(%rip)\n\t"
	"popq %rax\n\tmovl %eax, lm_gp_error(%rip)\n\t"
	"movq lm_gp_resume(%rip), %rax\n\tmovq %rax, (%rsp)\n\t"
	"iretq\n"
	".code32\n"
	".data\n"
	"compat_ptr:\t.long 3b\n\t.word 0x08\n"
	".text\n");

static void long_mode(void)
{
	struct { uint16_t limit; uint32_t base; } __attribute__((packed)) d = { sizeof(gdt) - 1, (uint32_t)gdt };
	uint32_t h = (uint32_t)gp64_handler, cr0 = read_cr0();

	lm_pd[0] = 0x83;
	lm_pdpt[0] = (uint32_t)lm_pd | 3;
	pml4[0] = (uint32_t)lm_pdpt | 3;
	gdt[1] = 0x00cf9a000000ffffULL;
	gdt[2] = 0x00cf92000000ffffULL;
	gdt[3] = 0x00af9a000000ffffULL; /* 0x18: 64-bit code */
	__asm__ volatile("lgdt %0" : : "m"(d));
	idt64[2 * 13] = (h & 0xffff) | ((uint64_t)SEL_CODE64 << 16) | (0x8eULL << 40) | ((uint64_t)(h >> 16) << 48);
	idt64[2 * 13 + 1] = 0;
	idt64_desc.limit = sizeof(idt64) - 1;
	idt64_desc.base = (uint32_t)idt64;
	__asm__ volatile("sidt %0" : "=m"(saved_idt));
	/* PG cleared with NE toggled (so that the write exits under a hypervisor): #GP in 64-bit mode, allowed in compatibility mode. */
	long_mode_cr0_test((cr0 & ~CR0_PG) ^ CR0_NE, (cr0 & ~CR0_PG) ^ CR0_NE);
	printf("64-bit mode reached: %u\n", lm_reached64);
	printf("64-bit rep outsb x3: rsi+%llu; a32 rep outsb x2: rsi=str+%lld rcx=%llu post=0x%02x\n",
	       (unsigned long long)lm_rsi64, (long long)(lm_rsi32 - (uint32_t)lm_str), (unsigned long long)lm_rcx32, inb(POST));
	printf("mov cr0 clearing pg in 64-bit mode: %s #GP err=0x%x\n", lm_no_fault ? "no fault" : lm_gp_count == 1 ? "one" : "unexpected",
	       lm_gp_error);
	printf("after leaving ia-32e mode: pg=%u\n", !!(read_cr0() & CR0_PG));
	write_cr0(cr0);
}

int guest_main(const struct mb_info *mbi)
{
	(void)mbi;
	install_db_handler();
	io_breakpoints();
	single_step("single step", 0);
	single_step("single step with BTF", DEBUGCTL_BTF);
	pae_pdptes();
	long_mode();
	return GUEST_OK;
}
