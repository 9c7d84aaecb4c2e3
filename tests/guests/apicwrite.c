/* Writes the local APIC with every instruction form (MOVs, ALU, XCHG, XADD, CMPXCHG, BTx, NOT/NEG/INC/DEC, STOS/MOVS; odd widths one per run) and prints the registers. */
#include "guest.h"

const char guest_name[] = "apicwrite";

#define APIC      0xfee00000u
#define TPR       0x080
#define LDR       0x0d0
#define DFR       0x0e0
#define SVR       0x0f0
#define IRR1      0x210
#define ICR_LOW   0x300
#define ICR_HIGH  0x310
#define LINT0     0x350
#define LINT1     0x360
#define LVT_ERR   0x370
#define TMR_INIT  0x380
#define TMR_DIV   0x3e0
#define ARITH_FLAGS 0x8d5u /* CF PF AF ZF SF OF */
#define LOGIC_FLAGS 0x8c5u /* AF is undefined after AND/OR/XOR */

static volatile uint32_t *reg(uint32_t off) { return (volatile uint32_t *)(APIC + off); }
static uint32_t rd(uint32_t off) { return *reg(off); }
static void wr(uint32_t off, uint32_t v) { *reg(off) = v; }

static uint32_t flags_now(void)
{
	uint32_t f;

	__asm__ volatile("pushfl; popl %0" : "=r"(f));
	return f;
}

/* Known contents first: the firmware and the hypervisor leave the boot CPU's APIC differently. */
static void reset_regs(void)
{
	wr(SVR, 0x1ff);
	wr(TPR, 0);
	wr(LDR, 0);
	wr(DFR, 0xffffffff);
	wr(LINT0, 0x10000);
	wr(LINT1, 0x10000);
	wr(LVT_ERR, 0x10000);
	wr(TMR_DIV, 0);
	wr(ICR_HIGH, 0);
	wr(TMR_INIT, 0);
}

static void show(const char *what)
{
	printf("%s: tpr=%08x ldr=%08x lint0=%08x lint1=%08x err=%08x init=%08x div=%08x icrh=%08x svr=%08x\n", what,
	       rd(TPR), rd(LDR), rd(LINT0), rd(LINT1), rd(LVT_ERR), rd(TMR_INIT), rd(TMR_DIV), rd(ICR_HIGH), rd(SVR));
}

static void movs_of_every_form(void)
{
	uint32_t zero = 0, base = APIC;

	__asm__ volatile("movl %0, 0xfee00080" : : "a"(0x21u) : "memory");                  /* A3 moffs */
	show("mov-moffs");
	__asm__ volatile("movl %0, 0xd0(%1,%2,1)" : : "r"(0x03000000u), "r"(base), "r"(zero) : "memory"); /* SIB */
	show("mov-sib");
	__asm__ volatile("movl $0x0000b, %%es:0x3e0(%0)" : : "r"(base) : "memory");       /* C7, ES prefix, disp32 */
	show("mov-imm-es");
	__asm__ volatile("movl %1, 0x50(%0)" : : "r"(base + 0x300), "r"(0x1f2u) : "memory"); /* disp8 */
	show("mov-disp8");
	__asm__ volatile("movl %0, 0xfee00000(,%1,4)" : : "r"(0x12345678u), "r"(TMR_INIT / 4) : "memory"); /* SIB no base */
	show("mov-sib-nobase");
	__asm__ volatile("lock orl $0, 0xfee00080" ::: "memory");
	show("lock-or");
}

#define ALU(name, insn, mask, in_flags, val)                                                    \
	do {                                                                                    \
		uint32_t f;                                                                     \
		__asm__ volatile("pushl %2; popfl; " insn " %1, 0xfee00380; pushfl; popl %0"    \
				 : "=r"(f) : "r"(val), "r"(in_flags) : "memory", "cc");          \
		printf(name ": init=%08x flags=%03x\n", rd(TMR_INIT), f & (mask));              \
	} while (0)

/* CMPXCHG (equal and not), XADD, BTS/BTR/BTC by register and immediate, MOVNTI, rotates and shifts (SDM Vol. 2). */
static void two_byte_forms(void)
{
	uint32_t acc, f, v;
	uint8_t cf;

	wr(TMR_INIT, 0x1000);
	acc = 0x1000;
	__asm__ volatile("lock cmpxchgl %2, 0xfee00380; pushfl; popl %1" : "+a"(acc), "=r"(f) : "r"(0x2000u) : "memory", "cc");
	printf("cmpxchg-equal: acc=%08x init=%08x flags=%03x\n", acc, rd(TMR_INIT), f & ARITH_FLAGS);
	acc = 0x1000;
	__asm__ volatile("cmpxchgl %2, 0xfee00380; pushfl; popl %1" : "+a"(acc), "=r"(f) : "r"(0x3000u) : "memory", "cc");
	printf("cmpxchg-differ: acc=%08x init=%08x flags=%03x\n", acc, rd(TMR_INIT), f & ARITH_FLAGS);
	v = 0xfffff000u;
	__asm__ volatile("xaddl %0, 0xfee00380; pushfl; popl %1" : "+r"(v), "=r"(f) : : "memory", "cc");
	printf("xadd: reg=%08x init=%08x flags=%03x\n", v, rd(TMR_INIT), f & ARITH_FLAGS);
	__asm__ volatile("btsl %1, 0xfee00380; setc %0" : "=q"(cf) : "r"(12u) : "memory", "cc");
	printf("bts: cf=%u init=%08x\n", cf, rd(TMR_INIT));
	__asm__ volatile("btrl $12, 0xfee00380; setc %0" : "=q"(cf) : : "memory", "cc");
	printf("btr: cf=%u init=%08x\n", cf, rd(TMR_INIT));
	__asm__ volatile("btcl %1, 0xfee00380; setc %0" : "=q"(cf) : "r"(31u) : "memory", "cc");
	printf("btc: cf=%u init=%08x\n", cf, rd(TMR_INIT));
	__asm__ volatile("movnti %0, 0xfee00380" : : "r"(0x13579bdfu) : "memory");
	printf("movnti: init=%08x\n", rd(TMR_INIT));
	/* Rotates and shifts; OF is defined for 1-bit counts only, AF never. */
	__asm__ volatile("shll $4, 0xfee00380; pushfl; popl %0" : "=r"(f) : : "memory", "cc");
	printf("shl: init=%08x flags=%03x\n", rd(TMR_INIT), f & 0xc5u);
	__asm__ volatile("sarl $1, 0xfee00380; pushfl; popl %0" : "=r"(f) : : "memory", "cc");
	printf("sar: init=%08x flags=%03x\n", rd(TMR_INIT), f & 0x8c5u);
	__asm__ volatile("rorl %%cl, 0xfee00380; pushfl; popl %0" : "=r"(f) : "c"(9u) : "memory", "cc");
	printf("ror: init=%08x cf=%u\n", rd(TMR_INIT), f & 1u);
	__asm__ volatile("stc; rcll $1, 0xfee00380; pushfl; popl %0" : "=r"(f) : : "memory", "cc");
	printf("rcl: init=%08x flags=%03x\n", rd(TMR_INIT), f & 0x801u);
}

static void read_modify_writes(void)
{
	uint32_t base = APIC, old;

	wr(TMR_INIT, 0x80000001);
	ALU("add", "addl", ARITH_FLAGS, 0x2u, 0x7fffffffu);
	ALU("adc", "adcl", ARITH_FLAGS, 0x3u, 0xffffffffu);
	ALU("sub", "subl", ARITH_FLAGS, 0x2u, 0x1u);
	ALU("sbb", "sbbl", ARITH_FLAGS, 0x3u, 0x7ffffffeu);
	ALU("or", "orl", LOGIC_FLAGS, 0x2u, 0x00f000f0u);
	ALU("and", "andl", LOGIC_FLAGS, 0x2u, 0x0ff00f00u);
	ALU("xor", "xorl", LOGIC_FLAGS, 0x2u, 0x0ff00f00u);
	__asm__ volatile("orl $0x100, 0x3e0(%0)" : : "r"(base) : "memory");   /* 81 /1 */
	__asm__ volatile("andl $-2, 0x3e0(%0)" : : "r"(base) : "memory");     /* 83 /4 */
	show("or-and-imm");
	old = 0x0a000000u;
	__asm__ volatile("xchgl %0, 0xfee000d0" : "+r"(old) : : "memory");
	printf("xchg: old=%08x ", old);
	show("now");
	__asm__ volatile("incl 0xfee00380" ::: "memory");
	printf("inc: init=%08x flags=%03x\n", rd(TMR_INIT), flags_now() & ARITH_FLAGS);
	__asm__ volatile("decl 0xfee00380; decl 0xfee00380" ::: "memory");
	printf("dec: init=%08x flags=%03x\n", rd(TMR_INIT), flags_now() & ARITH_FLAGS);
	two_byte_forms();
	__asm__ volatile("notl 0xfee00380" ::: "memory");
	printf("not: init=%08x\n", rd(TMR_INIT));
	__asm__ volatile("negl 0xfee00380" ::: "memory");
	printf("neg: init=%08x flags=%03x\n", rd(TMR_INIT), flags_now() & ARITH_FLAGS);
}

/*
 * Byte, word and misaligned writes are model-specific (SDM 11.4.1); Bochs 2.7
 * panics on them and ends (cpu/apic.cc, bx_local_apic_c::write), whatever the
 * panic action. So each runs alone, chosen by "odd=NAME" on the command line,
 * and the test checks that bare and as L1 Bochs stops on the same access.
 */
static void odd_write(const char *name)
{
	uint32_t base = APIC, d = APIC + TMR_INIT, c = 4;

	printf("odd write: %s\n", name);
	if (!strcmp(name, "memset"))
		memset((void *)(APIC + TPR), 0x30, 4); /* the library's memset: byte stores */
	else if (!strcmp(name, "incw"))
		__asm__ volatile("incw 0x380(%0)" : : "r"(base) : "memory");
	else if (!strcmp(name, "movb-ah"))
		__asm__ volatile("movb %%ah, 0x81(%0)" : : "r"(base), "a"(0x5500u) : "memory");
	else if (!strcmp(name, "sete"))
		__asm__ volatile("cmpl %%eax, %%eax; sete 0x380(%0)" : : "r"(base) : "memory", "cc");
	else if (!strcmp(name, "repstosl")) /* 0x380 is fine, 0x384 is not: the second element must be the one */
		__asm__ volatile("rep stosl" : "+D"(d), "+c"(c) : "a"(0x11u) : "memory");
	printf("odd write survived: init=%08x\n", rd(TMR_INIT));
}

/* The word after key on the command line, copied into buf; NULL if key is absent. */
static const char *arg_value(const char *s, const char *key, char *buf, size_t size)
{
	for (; *s; s++) {
		size_t i = 0;

		while (key[i] && s[i] == key[i])
			i++;
		if (!key[i]) {
			size_t n = 0;

			for (s += i; s[n] && s[n] != ' ' && n + 1 < size; n++)
				buf[n] = s[n];
			buf[n] = 0;
			return buf;
		}
	}
	return NULL;
}

static void string_stores(void)
{
	uint32_t src[2] = { 0x00000031u, 0xdeadbeefu };
	uint32_t d, c, s;

	d = APIC + LINT0, c = 1;
	__asm__ volatile("cld; rep stosl" : "+D"(d), "+c"(c) : "a"(0x0001003fu) : "memory");
	printf("rep-stosl: edi=+%x ecx=%u ", d - APIC, c);
	show("now");
	d = APIC + LVT_ERR, c = 1;
	__asm__ volatile("std; rep stosl; cld" : "+D"(d), "+c"(c) : "a"(0x00000045u) : "memory");
	printf("rep-stosl-down: edi=+%x ecx=%u ", d - APIC, c);
	show("now");
	d = APIC + TPR, c = 0;
	__asm__ volatile("rep stosb" : "+D"(d), "+c"(c) : "a"(0x10u) : "memory"); /* a count of 0 writes nothing */
	printf("rep-stosb-0: edi=+%x ecx=%u ", d - APIC, c);
	show("now");
	d = APIC + TMR_INIT, c = 1, s = (uint32_t)src;
	__asm__ volatile("rep movsl" : "+D"(d), "+c"(c), "+S"(s) : : "memory");
	printf("rep-movsl: edi=+%x ecx=%u ", d - APIC, c);
	show("now");
	d = APIC + TMR_INIT, s = APIC + LDR;
	__asm__ volatile("movsl" : "+D"(d), "+S"(s) : : "memory"); /* APIC to APIC */
	printf("movsl-apic: edi=+%x esi=+%x ", d - APIC, s - APIC);
	show("now");
	d = APIC + LINT1, c = 1;
	__asm__ volatile("stosl" : "+D"(d), "+c"(c) : "a"(0x00010022u) : "memory");
	printf("stosl: edi=+%x ecx=%u ", d - APIC, c);
	show("now");
}

static void software_disabled(void)
{
	__asm__ volatile("andl $~0x100, 0xfee000f0" ::: "memory");
	__asm__ volatile("movl $0x25, 0xfee00350" ::: "memory"); /* the mask bit stays set (SDM 11.4.7.2) */
	__asm__ volatile("xchgl %%eax, 0xfee00360" : : "a"(0x26u) : "memory");
	show("sw-disabled");
	__asm__ volatile("orl $0x100, 0xfee000f0" ::: "memory");
	show("sw-enabled");
}

/* A self-IPI with interrupts off: it stays pending in the IRR. */
static void self_ipi(void)
{
	__asm__ volatile("movl %0, 0xfee00300" : : "r"(0x00040031u) : "memory");
	printf("self-ipi: irr1=%08x\n", rd(IRR1) & 0x00020000u);
}

int guest_main(const struct mb_info *mbi)
{
	char buf[16];
	const char *odd = arg_value(mbi_cmdline(mbi), "odd=", buf, sizeof(buf));

	__asm__ volatile("cli");
	reset_regs();
	show("start");
	if (odd) {
		odd_write(odd);
		return GUEST_FAIL;
	}
	movs_of_every_form();
	read_modify_writes();
	string_stores();
	software_disabled();
	self_ipi();
	return GUEST_OK;
}
