/* NMIs between CPUs: each counted once (running, halted, cli;hlt, while one is in its handler, under single-step); "panic" parks CPUs for the all-CPU stop test. */
#include "guest.h"

const char guest_name[] = "nmi";

#define TRAMPOLINE_PA   0x8000u /* SIPI vector 0x08 */
#define LAPIC_BASE      0xfee00000u
#define LAPIC_ID        0x020
#define LAPIC_SVR       0x0f0
#define LAPIC_ICR_LOW   0x300
#define LAPIC_ICR_HIGH  0x310
#define ICR_NMI         0x00004400u
#define ICR_INIT_ASSERT 0x00004500u
#define ICR_STARTUP     0x00004600u
#define ICR_PENDING     (1u << 12)
#define MAX_CPUS        4
#define AP_STACK_SIZE   4096
#define EFLAGS_TF       0x100u
#define NMIS_PER_PHASE  5
#define STEP_NMIS       40
#define PANIC_POST_CODE 0xdb /* the image under the hypervisor has debug_panic_post=219 */

/* What the handlers count, by APIC ID (Bochs numbers its CPUs 0..N-1 as the MADT lists them). */
static volatile uint32_t nmi_count[MAX_CPUS];
static volatile uint32_t db_count;
static volatile uint32_t hold_first_nmi, in_handler, release;
static volatile uint32_t phase, ap_step, bsp_halting, ap_done;
static volatile uint32_t ap_alive[MAX_CPUS];
static volatile uint32_t idt_limit_base[2];
volatile uint32_t ap_next_index;
uint8_t ap_stacks[MAX_CPUS][AP_STACK_SIZE] __attribute__((aligned(16)));
static bool panic_mode;

/* Real-mode start-up code as in smp.c, plus the BSP's IDT for the AP (its NMI handler). */
__asm__(
	".pushsection .rodata\n"
	".code16\n"
	"nmi_tramp_start:\n"
	"	cli\n"
	"	xorw %ax, %ax\n"
	"	movw %ax, %ds\n"
	"	lgdtl 0x8000 + (nmi_tramp_gdtr - nmi_tramp_start)\n"
	"	movl %cr0, %eax\n"
	"	orl $1, %eax\n"
	"	movl %eax, %cr0\n"
	"	ljmpl $0x08, $nmi_ap_entry32\n"
	/* Real-mode NMI handler (IVT vector 2 points here): an NMI held while waiting for SIPI lands first. */
	"nmi_tramp_rm_nmi:\n"
	"	lock incw %cs:(nmi_tramp_rm_count - nmi_tramp_start)\n"
	"	iret\n"
	"nmi_tramp_rm_count:\n"
	"	.short 0\n"
	"	.balign 8\n"
	"nmi_tramp_gdt:\n"
	"	.quad 0, 0x00cf9a000000ffff, 0x00cf92000000ffff\n"
	"nmi_tramp_gdtr:\n"
	"	.short 23\n"
	"	.long 0x8000 + (nmi_tramp_gdt - nmi_tramp_start)\n"
	"nmi_tramp_end:\n"
	".code32\n"
	".popsection\n"
	".text\n"
	"nmi_ap_entry32:\n"
	"	movw $0x10, %ax\n"
	"	movw %ax, %ds\n"
	"	movw %ax, %es\n"
	"	movw %ax, %ss\n"
	"	movl $1, %eax\n"
	"	lock xaddl %eax, ap_next_index\n"
	"	movl %eax, %ecx\n"
	"	incl %ecx\n"
	"	shll $12, %ecx\n"
	"	addl $ap_stacks, %ecx\n"
	"	movl %ecx, %esp\n"
	"	lidt idt_limit_base + 2\n"
	"	call nmi_ap_main\n"
	/* The handlers: all registers saved, the C part gets the frame. */
	"nmi_stub:\n"
	"	pushal\n"
	"	cld\n"
	"	pushl %esp\n"
	"	call nmi_handler\n"
	"	addl $4, %esp\n"
	"	popal\n"
	"	iret\n"
	"db_stub:\n"
	"	incl db_count\n"
	"	iret\n");

extern const char nmi_tramp_start[], nmi_tramp_end[], nmi_tramp_rm_nmi[], nmi_tramp_rm_count[], nmi_stub[], db_stub[];

/* Offsets in the trampoline, which runs at TRAMPOLINE_PA with CS = TRAMPOLINE_PA >> 4. */
#define TRAMP_OFF(sym) ((uint32_t)((sym) - nmi_tramp_start))

struct nmi_frame {
	uint32_t edi, esi, ebp, esp, ebx, edx, ecx, eax;
	uint32_t eip, cs, eflags;
};

static uint32_t lapic_read(uint32_t reg) { return *(volatile uint32_t *)(LAPIC_BASE + reg); }
static void lapic_write(uint32_t reg, uint32_t v) { *(volatile uint32_t *)(LAPIC_BASE + reg) = v; }
static uint32_t my_apic_id(void) { return lapic_read(LAPIC_ID) >> 24; }
static void pause(void) { __asm__ volatile("pause" ::: "memory"); }

static void send_ipi(uint32_t apic_id, uint32_t icr)
{
	lapic_write(LAPIC_ICR_HIGH, apic_id << 24);
	lapic_write(LAPIC_ICR_LOW, icr);
	for (uint32_t spin = 0; spin < 1000000u && (lapic_read(LAPIC_ICR_LOW) & ICR_PENDING); spin++)
		;
}

/* The first NMI of phase 3 stays in its handler (NMIs blocked) until the AP has sent more. */
__attribute__((used)) void nmi_handler(struct nmi_frame *f);
__attribute__((used)) void nmi_handler(struct nmi_frame *f)
{
	uint32_t id = my_apic_id();

	(void)f;
	if (id < MAX_CPUS)
		nmi_count[id]++;
	if (hold_first_nmi && id == 0) {
		hold_first_nmi = 0;
		in_handler = 1;
		while (!release)
			pause();
	}
}

/* PIT channel 2 one-shot, as in smp.c. */
static void udelay(uint32_t us)
{
	while (us) {
		uint32_t chunk = us > 50000 ? 50000 : us;
		uint32_t count = chunk * 1193u / 1000u + 2;
		uint8_t b = inb(0x61);

		outb(0x61, (uint8_t)(b & ~3u));
		outb(0x43, 0xb0);
		outb(0x42, (uint8_t)count);
		outb(0x42, (uint8_t)(count >> 8));
		outb(0x61, (uint8_t)((b & ~2u) | 1u));
		for (uint32_t spin = 0; spin < 10000000u && !(inb(0x61) & 0x20); spin++)
			;
		outb(0x61, b);
		us -= chunk;
	}
}

/* Waits up to about a second for *p to reach want (timing differs under the hypervisor, results must not). */
/*
 * Spins rather than using the PIT: the two CPUs wait at once in phase 3, and
 * two CPUs programming the one PIT channel 2 stall each other's count
 * (udelay has no lock), which can keep both waiting for good. The bound is
 * in iterations (about a second of Bochs), since only the outcome matters.
 */
static bool wait_for(volatile uint32_t *p, uint32_t want)
{
	for (uint32_t i = 0; i < 20000000u && *p < want; i++)
		pause();
	return *p >= want;
}

/* NMIs to cpu one at a time, each after the previous one was counted; how many were counted. */
static uint32_t send_nmis(uint32_t cpu, uint32_t n, uint32_t gap_us)
{
	uint32_t base = nmi_count[cpu];

	for (uint32_t k = 1; k <= n; k++) {
		udelay(gap_us);
		send_ipi(cpu, ICR_NMI);
		if (!wait_for(&nmi_count[cpu], base + k))
			break;
	}
	return nmi_count[cpu] - base;
}

/* The AP's side of each phase the BSP announces in `phase`. */
static void ap_phases(void)
{
	uint32_t counted;

	wait_for(&phase, 1); /* 1: the BSP runs; NMIs to it */
	counted = send_nmis(0, NMIS_PER_PHASE, 0);
	ap_step = 1;
	(void)counted;
	wait_for(&phase, 2); /* 2: this AP halts with IF=0; each of the BSP's NMIs wakes it */
	while (nmi_count[1] < NMIS_PER_PHASE)
		__asm__ volatile("cli; hlt" ::: "memory");
	/* 3: the BSP's first NMI waits in its handler; two more arrive meanwhile and merge into one */
	wait_for(&in_handler, 1);
	send_ipi(0, ICR_NMI);
	send_ipi(0, ICR_NMI);
	udelay(2000);
	ap_step = nmi_count[0]; /* still the first: blocked NMIs wait */
	release = 1;
	wait_for(&phase, 4); /* 4: the BSP halts with IF=0 */
	wait_for(&bsp_halting, 1);
	udelay(2000);
	send_ipi(0, ICR_NMI);
	wait_for(&phase, 5); /* 5: NMIs while the BSP single-steps CPUID */
	send_nmis(0, STEP_NMIS, 150);
	ap_done = 1;
	for (;;)
		__asm__ volatile("cli; hlt");
}

__attribute__((noreturn, used)) void nmi_ap_main(void);
__attribute__((noreturn, used)) void nmi_ap_main(void)
{
	uint32_t id = my_apic_id();

	if (id < MAX_CPUS)
		ap_alive[id] = 1;
	if (!panic_mode)
		ap_phases();
	/* Panic mode: APIC ID 1 halts (IF=0), APIC ID 2 keeps running L1. */
	for (;;) {
		if (id == 1)
			__asm__ volatile("cli; hlt");
		pause();
	}
}

static bool start_ap_nmi_first(uint32_t apic_id, bool nmi_first)
{
	send_ipi(apic_id, ICR_INIT_ASSERT);
	udelay(10000);
	if (nmi_first) { /* held while the AP waits for SIPI, taken once it starts */
		send_ipi(apic_id, ICR_NMI);
		udelay(1000);
	}
	for (int i = 0; i < 2 && !ap_alive[apic_id]; i++) {
		send_ipi(apic_id, ICR_STARTUP | (TRAMPOLINE_PA >> 12));
		udelay(200);
	}
	return wait_for(&ap_alive[apic_id], 1);
}

struct idt_gate {
	uint16_t off_lo, sel;
	uint8_t zero, attr;
	uint16_t off_hi;
} __attribute__((packed));

/* The library's IDT with our NMI and #DB handlers; the APs load the same one. */
static void hook_idt(void)
{
	struct idt_gate *idt;

	__asm__ volatile("sidt %0" : "=m"(*(uint8_t(*)[6])((uint8_t *)idt_limit_base + 2)));
	idt = (struct idt_gate *)idt_limit_base[1]; /* sidt stored limit:base at byte 2 */
	idt[2].off_lo = (uint16_t)(uint32_t)nmi_stub;
	idt[2].off_hi = (uint16_t)((uint32_t)nmi_stub >> 16);
	idt[1].off_lo = (uint16_t)(uint32_t)db_stub;
	idt[1].off_hi = (uint16_t)((uint32_t)db_stub >> 16);
}

/* CPUID (an exit under the hypervisor) and three more instructions single-stepped: four #DB traps. */
static void stepped_cpuid(void)
{
	uint32_t a = 0, b, c = 0, d;

	__asm__ volatile("pushfl\n\t"
			 "orl %[tf], (%%esp)\n\t"
			 "popfl\n\t"
			 "cpuid\n\t"
			 "pushfl\n\t"
			 "andl %[notf], (%%esp)\n\t"
			 "popfl"
			 : "+a"(a), "=b"(b), "+c"(c), "=d"(d)
			 : [tf] "i"(EFLAGS_TF), [notf] "i"(~EFLAGS_TF)
			 : "memory", "cc");
}

static bool start_ap(uint32_t apic_id)
{
	return start_ap_nmi_first(apic_id, false);
}

/* Panic mode: park CPUs in each state, then make the hypervisor panic on this CPU (nothing happens bare). */
static int park_and_panic(void)
{
	if (!start_ap(1) || !start_ap(2)) {
		printf("nmi: the APs did not start\n");
		return GUEST_FAIL;
	}
	udelay(5000); /* APIC ID 1 is halted by now; APIC ID 3 was never started and waits for SIPI */
	printf("nmi: APIC ID 1 halted, APIC ID 2 running, APIC ID 3 waiting for SIPI; POST code 0x%x\n", PANIC_POST_CODE);
	outb(0x80, PANIC_POST_CODE);
	printf("nmi: still running after the POST code\n");
	return GUEST_FAIL;
}

static int nmi_phases(void)
{
	uint32_t before, iterations = 0;

	phase = 1;
	wait_for(&ap_step, 1);
	printf("phase 1: the running BSP counted %u of %u NMIs from the AP\n", nmi_count[0], NMIS_PER_PHASE);
	phase = 2;
	printf("phase 2: the AP halted with IF=0 counted %u of %u NMIs from the BSP\n",
	       send_nmis(1, NMIS_PER_PHASE, 1000), NMIS_PER_PHASE);
	before = nmi_count[0];
	hold_first_nmi = 1;
	phase = 3;
	wait_for(&nmi_count[0], before + 2);
	udelay(2000);
	printf("phase 3: while the first NMI's handler ran, the count was %u; after its IRET %u (two more sent, merged)\n",
	       ap_step - before, nmi_count[0] - before);
	before = nmi_count[0];
	phase = 4;
	__asm__ volatile("cli; movl $1, %0; hlt" : "=m"(bsp_halting) : : "memory");
	printf("phase 4: the BSP halted with IF=0 woke by the AP's NMI (%u counted)\n", nmi_count[0] - before);
	before = nmi_count[0];
	db_count = 0;
	phase = 5;
	while (!ap_done) {
		stepped_cpuid();
		iterations++;
	}
	printf("phase 5: single-stepping CPUID while NMIs arrived: %u NMIs counted, #DB traps %s 4 per iteration\n",
	       nmi_count[0] - before, db_count == 4 * iterations ? "exactly" : "NOT");
	printf("~phase 5: %u iterations, %u #DB traps\n", iterations, db_count);
	return nmi_count[0] - before == STEP_NMIS && db_count == 4 * iterations ? GUEST_OK : GUEST_FAIL;
}

int guest_main(const struct mb_info *mbi)
{
	const char *cmd = mbi_cmdline(mbi);

	for (const char *s = cmd; *s; s++)
		if (s[0] == 'p' && s[1] == 'a' && s[2] == 'n' && s[3] == 'i' && s[4] == 'c')
			panic_mode = true;
	lapic_write(LAPIC_SVR, lapic_read(LAPIC_SVR) | 0x100); /* software-enable the local APIC */
	hook_idt();
	memcpy((void *)TRAMPOLINE_PA, nmi_tramp_start, (size_t)(nmi_tramp_end - nmi_tramp_start));
	if (my_apic_id() != 0) {
		printf("nmi: the BSP is not APIC ID 0\n");
		return GUEST_FAIL;
	}
	if (panic_mode)
		return park_and_panic();
	/* Real-mode IVT entry 2 (segment:offset at 0x8) for the AP's first instructions. */
	__asm__ volatile("movl %0, 0x8" : : "r"((TRAMPOLINE_PA >> 4) << 16 | TRAMP_OFF(nmi_tramp_rm_nmi)) : "memory");
	if (!start_ap_nmi_first(1, true)) {
		printf("nmi: the AP did not start\n");
		return GUEST_FAIL;
	}
	printf("phase 0: an NMI sent to the AP waiting for SIPI was taken %u time(s) once it started\n",
	       *(volatile uint16_t *)(TRAMPOLINE_PA + TRAMP_OFF(nmi_tramp_rm_count)));
	return nmi_phases();
}
