/* An SMP guest: finds its APs in the ACPI MADT, starts each with INIT-SIPI-SIPI, and each AP reports its APIC ID and runs a CPUID loop. */
#include "guest.h"

const char guest_name[] = "smp";

#define TRAMPOLINE_PA  0x8000u        /* SIPI vector 0x08 */
#define LAPIC_BASE     0xfee00000u
#define LAPIC_ID       0x020
#define LAPIC_SVR      0x0f0
#define LAPIC_ICR_LOW  0x300
#define LAPIC_ICR_HIGH 0x310
#define ICR_INIT_ASSERT 0x00004500u
#define ICR_STARTUP     0x00004600u
#define ICR_PENDING     (1u << 12)
#define MAX_APS        16
#define CPUID_LOOPS    1000
#define AP_STACK_SIZE  4096
#define CPUID1_ECX_VMX        (1u << 5)
#define MSR_APIC_BASE         0x1b
#define APIC_BASE_EXTD        (1u << 10)
#define X2APIC_ID             0x802
#define X2APIC_ICR            0x830
#define CPUID1_ECX_HYPERVISOR (1u << 31)

struct ap_report {
	volatile uint32_t apic_id;
	volatile uint32_t sum;
	volatile uint32_t done;
};

static struct ap_report reports[MAX_APS];
volatile uint32_t ap_next_index;
uint8_t ap_stacks[MAX_APS][AP_STACK_SIZE] __attribute__((aligned(16)));

/*
 * Real-mode start-up code, copied to TRAMPOLINE_PA: load a flat GDT, enter
 * protected mode and jump to ap_entry32 in the image (SDM 9.4.4.1, 9.9.1).
 */
__asm__(
	".pushsection .rodata\n"
	".code16\n"
	"tramp_start:\n"
	"	cli\n"
	"	xorw %ax, %ax\n"
	"	movw %ax, %ds\n"
	"	lgdtl 0x8000 + (tramp_gdtr - tramp_start)\n"
	"	movl %cr0, %eax\n"
	"	orl $1, %eax\n"
	"	movl %eax, %cr0\n"
	"	ljmpl $0x08, $ap_entry32\n"
	"	.balign 8\n"
	"tramp_gdt:\n"
	"	.quad 0, 0x00cf9a000000ffff, 0x00cf92000000ffff\n"
	"tramp_gdtr:\n"
	"	.short 23\n"
	"	.long 0x8000 + (tramp_gdt - tramp_start)\n"
	"tramp_end:\n"
	".code32\n"
	".popsection\n"
	".text\n"
	"ap_entry32:\n"
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
	"	pushl %eax\n"
	"	call ap_main\n");

extern const char tramp_start[], tramp_end[];

static uint32_t lapic_read(uint32_t reg) { return *(volatile uint32_t *)(LAPIC_BASE + reg); }
static void lapic_write(uint32_t reg, uint32_t v) { *(volatile uint32_t *)(LAPIC_BASE + reg) = v; }

/* "x2apic" on the command line: the BSP drives its APIC through MSRs (SDM 11.12), the APs stay xAPIC. */
static bool use_x2apic;

static bool contains(const char *s, const char *word)
{
	for (; *s; s++) {
		size_t i = 0;

		while (word[i] && s[i] == word[i]) /* stops at s's terminator too: it never equals a word byte */
			i++;
		if (!word[i])
			return true;
	}
	return false;
}

static bool enable_x2apic(void)
{
	uint64_t base;

	return rdmsr_safe(MSR_APIC_BASE, &base) && wrmsr_safe(MSR_APIC_BASE, base | APIC_BASE_EXTD);
}

static uint32_t bsp_apic_id(void)
{
	uint64_t id = 0;

	if (use_x2apic)
		return rdmsr_safe(X2APIC_ID, &id) ? (uint32_t)id : ~0u;
	return lapic_read(LAPIC_ID) >> 24;
}

/* Each AP: who it is, a CPUID loop whose result must match across runs, then halt for good. */
__attribute__((noreturn, used)) void ap_main(uint32_t idx);
__attribute__((noreturn, used)) void ap_main(uint32_t idx)
{
	uint32_t r[4], sum = 0;

	if (idx < MAX_APS) {
		for (uint32_t i = 0; i < CPUID_LOOPS; i++) {
			cpuid(i & 1, 0, r);
			/* CPUID.1:ECX's hypervisor-present and VMX bits legitimately differ under a hypervisor. */
			if (i & 1)
				r[2] &= ~(CPUID1_ECX_HYPERVISOR | CPUID1_ECX_VMX);
			sum = (sum << 1 | sum >> 31) ^ r[0] ^ r[2];
		}
		reports[idx].apic_id = lapic_read(LAPIC_ID) >> 24;
		reports[idx].sum = sum;
		__atomic_store_n(&reports[idx].done, 1, __ATOMIC_RELEASE);
	}
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* PIT channel 2 one-shot (8254 mode 0): the delays INIT-SIPI-SIPI asks for. */
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

static bool bytes_equal(const void *a, const char *b, uint32_t n)
{
	const uint8_t *x = a;

	for (uint32_t i = 0; i < n; i++)
		if (x[i] != (uint8_t)b[i])
			return false;
	return true;
}

static bool sum_ok(const uint8_t *p, uint32_t len)
{
	uint8_t s = 0;

	for (uint32_t i = 0; i < len; i++)
		s += p[i];
	return s == 0;
}

static const uint8_t *find_rsdp(void)
{
	for (uint32_t pa = 0xe0000; pa < 0x100000; pa += 16) {
		const uint8_t *p = (const uint8_t *)pa;

		if (bytes_equal(p, "RSD PTR ", 8) && sum_ok(p, 20))
			return p;
	}
	return NULL;
}

static uint32_t rd32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The MADT through the RSDT (ACPI 5.2.7); the tables sit below 4 GiB on these machines. */
static const uint8_t *find_madt(void)
{
	const uint8_t *rsdp = find_rsdp(), *rsdt;

	if (!rsdp)
		return NULL;
	rsdt = (const uint8_t *)rd32(rsdp + 16);
	if (!bytes_equal(rsdt, "RSDT", 4) || !sum_ok(rsdt, rd32(rsdt + 4)))
		return NULL;
	for (uint32_t off = 36; off + 4 <= rd32(rsdt + 4); off += 4) {
		const uint8_t *t = (const uint8_t *)rd32(rsdt + off);

		if (bytes_equal(t, "APIC", 4) && sum_ok(t, rd32(t + 4)))
			return t;
	}
	return NULL;
}

/* Enabled Local APIC entries (ACPI 5.2.12.2); returns how many APIC IDs were stored. */
static uint32_t madt_apic_ids(const uint8_t *madt, uint32_t *ids, uint32_t max)
{
	uint32_t n = 0, len = rd32(madt + 4);

	for (uint32_t off = 44; off + 2 <= len && madt[off + 1] >= 2; off += madt[off + 1])
		if (madt[off] == 0 && (rd32(madt + off + 4) & 1) && n < max)
			ids[n++] = madt[off + 3];
	return n;
}

static void send_ipi(uint32_t apic_id, uint32_t icr)
{
	if (use_x2apic) {
		wrmsr_safe(X2APIC_ICR, ((uint64_t)apic_id << 32) | icr); /* no delivery-status bit in x2APIC mode */
		return;
	}
	lapic_write(LAPIC_ICR_HIGH, apic_id << 24);
	lapic_write(LAPIC_ICR_LOW, icr);
	for (uint32_t spin = 0; spin < 1000000u && (lapic_read(LAPIC_ICR_LOW) & ICR_PENDING); spin++)
		;
}

/*
 * "broadcast" on the command line: every AP at once with the all-excluding-self
 * shorthand (SDM 11.6.1): INIT, 10 ms, one SIPI, then up to a second for all
 * of them. One SIPI starts every AP waiting for it; the MP spec's second SIPI
 * (B.4) is left out so that a SIPI that reaches only some APs shows.
 */
#define ICR_ALL_BUT_SELF (3u << 18)
static uint32_t start_all_aps(uint32_t aps)
{
	uint32_t done = 0;

	send_ipi(0, ICR_INIT_ASSERT | ICR_ALL_BUT_SELF);
	udelay(10000);
	send_ipi(0, ICR_STARTUP | ICR_ALL_BUT_SELF | (TRAMPOLINE_PA >> 12));
	for (int ms = 0; ms < 1000 && done < aps; ms++) {
		udelay(1000);
		done = 0;
		for (uint32_t i = 0; i < aps && i < MAX_APS; i++)
			done += reports[i].done;
	}
	return done;
}

/* INIT, 10 ms, SIPI, 200 us, SIPI (MP spec B.4); then up to a second for the AP to report. */
static bool start_ap(uint32_t apic_id, uint32_t expect_started)
{
	send_ipi(apic_id, ICR_INIT_ASSERT);
	udelay(10000);
	for (int i = 0; i < 2 && ap_next_index < expect_started; i++) {
		send_ipi(apic_id, ICR_STARTUP | (TRAMPOLINE_PA >> 12));
		udelay(200);
	}
	for (int ms = 0; ms < 1000; ms++) {
		if (ap_next_index >= expect_started && reports[expect_started - 1].done)
			return true;
		udelay(1000);
	}
	return false;
}

static void print_reports(uint32_t n)
{
	/* By APIC ID, so both runs print the same order whatever order the APs finished in. */
	for (uint32_t id = 0; id < 256; id++)
		for (uint32_t i = 0; i < n; i++)
			if (reports[i].done && reports[i].apic_id == id)
				printf("ap apic-id=%u cpuid-loop=%u sum=%08x\n", id, CPUID_LOOPS, reports[i].sum);
}

int guest_main(const struct mb_info *mbi)
{
	uint32_t ids[MAX_APS + 1], n, bsp, started = 0, aps = 0;
	const uint8_t *madt = find_madt();

	if (!madt) {
		printf("smp: no ACPI MADT found\n");
		return GUEST_FAIL;
	}
	n = madt_apic_ids(madt, ids, MAX_APS + 1);
	lapic_write(LAPIC_SVR, lapic_read(LAPIC_SVR) | 0x100); /* software-enable the local APIC */
	use_x2apic = contains(mbi_cmdline(mbi), "x2apic");
	if (use_x2apic && !enable_x2apic()) {
		printf("smp: could not switch the BSP to x2APIC mode\n");
		return GUEST_FAIL;
	}
	bsp = bsp_apic_id();
	printf("smp: MADT lists %u CPU(s); the BSP is APIC ID %u (%s mode)\n", n, bsp, use_x2apic ? "x2APIC" : "xAPIC");
	memcpy((void *)TRAMPOLINE_PA, tramp_start, (size_t)(tramp_end - tramp_start));
	if (contains(mbi_cmdline(mbi), "broadcast")) {
		aps = n - 1;
		printf("smp: starting %u AP(s) with one broadcast INIT and one broadcast SIPI\n", aps);
		started = start_all_aps(aps);
		print_reports(started);
		printf("smp: %u of %u AP(s) started\n", started, aps);
		return started == aps && aps > 0 ? GUEST_OK : GUEST_FAIL;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (ids[i] == bsp)
			continue;
		aps++;
		if (start_ap(ids[i], started + 1))
			started++;
		else
			printf("smp: AP with APIC ID %u did not start\n", ids[i]);
	}
	print_reports(started);
	printf("smp: %u of %u AP(s) started\n", started, aps);
	return started == aps && aps > 0 ? GUEST_OK : GUEST_FAIL;
}
