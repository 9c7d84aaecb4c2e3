/* Cost of an IPI round trip between two CPUs in TSC ticks: the BSP sends a fixed IPI, the AP's handler sends one back, the BSP's handler counts it. */
#include "guest.h"

const char guest_name[] = "benchipi";

#define SAMPLES       501
#define TRAMPOLINE_PA 0x8000u  /* SIPI vector 0x08 */
#define APIC          0xfee00000u
#define APIC_ID       0x020
#define APIC_EOI      0x0b0
#define APIC_SVR      0x0f0
#define ICR_LOW       0x300
#define ICR_HIGH      0x310
#define PING_VECTOR   0x40
#define PONG_VECTOR   0x41
#define ICR_INIT_ALL_BUT_SELF    0x000c4500u
#define ICR_STARTUP_ALL_BUT_SELF 0x000c4600u

static volatile uint32_t *reg(uint32_t off) { return (volatile uint32_t *)(APIC + off); }

volatile uint32_t ap_up, ap_apic_id, bsp_apic_id, pongs;
uint8_t ap_stack[4096] __attribute__((aligned(16)));

struct gate {
	uint16_t off_lo, sel;
	uint8_t zero, attr;
	uint16_t off_hi;
} __attribute__((packed));
static struct gate idt[256];
static struct { uint16_t limit; uint32_t base; } __attribute__((packed)) idtr = { sizeof(idt) - 1, (uint32_t)idt };

/*
 * Real-mode start-up code copied to TRAMPOLINE_PA: a flat GDT, protected
 * mode, then ap_entry32 in the image (SDM 9.4.4.1).
 */
__asm__(".pushsection .rodata\n"
	".code16\n"
	"bi_tramp_start:\n"
	"	cli\n"
	"	xorw %ax, %ax\n"
	"	movw %ax, %ds\n"
	"	lgdtl 0x8000 + (bi_tramp_gdtr - bi_tramp_start)\n"
	"	movl %cr0, %eax\n"
	"	orl $1, %eax\n"
	"	movl %eax, %cr0\n"
	"	ljmpl $0x08, $bi_ap_entry32\n"
	"	.balign 8\n"
	"bi_tramp_gdt:\n"
	"	.quad 0, 0x00cf9a000000ffff, 0x00cf92000000ffff\n"
	"bi_tramp_gdtr:\n"
	"	.short 23\n"
	"	.long 0x8000 + (bi_tramp_gdt - bi_tramp_start)\n"
	"bi_tramp_end:\n"
	".code32\n"
	".popsection\n"
	".text\n"
	"bi_ap_entry32:\n"
	"	movw $0x10, %ax\n"
	"	movw %ax, %ds\n"
	"	movw %ax, %es\n"
	"	movw %ax, %ss\n"
	"	movl $ap_stack + 4096, %esp\n"
	"	call ap_main\n"
	/* The AP's handler: answer the ping to the BSP, then EOI. */
	"ping_handler:\n"
	"	pushl %eax\n"
	"	movl bsp_apic_id, %eax\n"
	"	shll $24, %eax\n"
	"	movl %eax, 0xfee00310\n"
	"	movl $0x41, 0xfee00300\n"
	"	movl $0, 0xfee000b0\n"
	"	popl %eax\n"
	"	iret\n"
	/* The BSP's handler: count the pong, EOI. */
	"pong_handler:\n"
	"	incl pongs\n"
	"	movl $0, 0xfee000b0\n"
	"	iret\n");
extern const char bi_tramp_start[], bi_tramp_end[], ping_handler[], pong_handler[];

static void set_gate(unsigned int v, const void *fn)
{
	idt[v] = (struct gate){ (uint16_t)(uint32_t)fn, 0x08, 0, 0x8e, (uint16_t)((uint32_t)fn >> 16) };
}

/* The library's exception gates, plus the two IPI vectors. */
static void build_idt(void)
{
	struct { uint16_t limit; uint32_t base; } __attribute__((packed)) lib;

	__asm__ volatile("sidt %0" : "=m"(lib));
	memcpy(idt, (const void *)lib.base, lib.limit + 1u);
	set_gate(PING_VECTOR, ping_handler);
	set_gate(PONG_VECTOR, pong_handler);
}

__attribute__((noreturn, used)) void ap_main(void);
__attribute__((noreturn, used)) void ap_main(void)
{
	__asm__ volatile("lidt %0" : : "m"(idtr));
	*reg(APIC_SVR) = 0x1ff;
	ap_apic_id = *reg(APIC_ID) >> 24;
	__atomic_store_n(&ap_up, 1, __ATOMIC_RELEASE);
	for (;;)
		__asm__ volatile("sti; pause" ::: "memory"); /* spin, so the AP takes its IPI without a HLT exit */
}

static void tsc_delay(uint32_t ticks)
{
	uint64_t end = rdtsc() + ticks;

	while (rdtsc() < end)
		;
}

static bool start_ap(void)
{
	memcpy((void *)TRAMPOLINE_PA, bi_tramp_start, (size_t)(bi_tramp_end - bi_tramp_start));
	*reg(ICR_LOW) = ICR_INIT_ALL_BUT_SELF;
	tsc_delay(100000);
	for (int i = 0; i < 2 && !ap_up; i++) {
		*reg(ICR_LOW) = ICR_STARTUP_ALL_BUT_SELF | (TRAMPOLINE_PA >> 12);
		tsc_delay(1000000);
	}
	for (int i = 0; i < 100 && !ap_up; i++)
		tsc_delay(1000000);
	return ap_up;
}

static uint32_t round_trip(void)
{
	uint32_t before = pongs, lo0, lo1;

	__asm__ volatile("lfence; rdtsc; lfence" : "=a"(lo0) : : "edx");
	*reg(ICR_LOW) = PING_VECTOR;
	while (__atomic_load_n(&pongs, __ATOMIC_ACQUIRE) == before)
		;
	__asm__ volatile("lfence; rdtsc" : "=a"(lo1) : : "edx");
	return lo1 - lo0;
}

static void sort(uint32_t *v, unsigned int n)
{
	for (unsigned int i = 1; i < n; i++) {
		uint32_t x = v[i];
		unsigned int j = i;

		for (; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

int guest_main(const struct mb_info *mbi)
{
	static uint32_t v[SAMPLES];

	(void)mbi;
	outb(0x21, 0xff); /* PIC masked: only the APIC's IPIs interrupt */
	outb(0xa1, 0xff);
	build_idt();
	__asm__ volatile("lidt %0" : : "m"(idtr));
	*reg(APIC_SVR) = 0x1ff;
	bsp_apic_id = *reg(APIC_ID) >> 24;
	if (!start_ap()) {
		printf("benchipi: the AP did not start\n");
		return GUEST_FAIL;
	}
	*reg(ICR_HIGH) = ap_apic_id << 24;
	__asm__ volatile("sti");
	for (unsigned int i = 0; i < SAMPLES; i++)
		v[i] = round_trip();
	__asm__ volatile("cli");
	sort(v, SAMPLES);
	printf("~bench op=ipi min=%u median=%u max=%u n=%u\n", v[0], v[SAMPLES / 2], v[SAMPLES - 1], SAMPLES);
	printf("bench op=ipi measured, %u pongs\n", pongs);
	return GUEST_OK;
}
