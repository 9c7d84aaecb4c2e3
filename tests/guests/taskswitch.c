/* Hardware task switches (SDM 7.3): JMP/CALL through a TSS and a task gate, IRET with NT, INT n/#DE/#PF through IDT task gates, a 16-bit TSS, the T flag, #NP/#TS in the new task. */
#include "guest.h"

const char guest_name[] = "taskswitch";

/* GDT selectors. 0x08/0x10 are the library's flat code and data (its IDT uses 0x08). */
enum {
	SEL_CODE = 0x08, SEL_DATA = 0x10, SEL_DATA_NP = 0x18,
	SEL_MAIN = 0x20, SEL_A = 0x28, SEL_DE = 0x30, SEL_PF = 0x38, SEL_T16 = 0x40, SEL_TF = 0x48,
	SEL_BADNP = 0x50, SEL_BADLDT = 0x58, SEL_GATE_A = 0x60, SEL_CODE16T = 0x68, SEL_STACK16 = 0x70,
	SEL_LDT = 0x78, SEL_BADPF = 0x80, SEL_V86 = 0x88, SEL_COLLECT = 0x90, SEL_DF = 0x98, SEL_PAE = 0xa0, SEL_CODE_NP = 0xa8, SEL_BOTHNP = 0xb0,
	GDT_ENTRIES = 23,
};
#define LDT_SEL_DATA 0x04 /* LDT index 0, TI=1, RPL 0 */
#define VEC_INT 0x40
#define VEC_IRQ 0x41
#define VEC_IRQ_BAD 0x42
#define VEC_V86_OUT 0x43
#define V86_CODE 0x7000u /* real-mode CS:IP 0700:0000 */
#define APIC_BASE 0xfee00000u /* the xAPIC page (4 MiB page 0xfec00000 in both page directories) */

#define EFLAGS_NT (1u << 14)
#define CR0_TS 0x8u
#define CR0_PG 0x80000000u
#define CR4_PSE 0x10u
#define PDE_4M 0x83u /* present, writable, 4 MiB page */
#define MARKER_LIN 0x01000000u   /* 16 MiB: identity under pd_main, 20 MiB under pd_task */
#define MARKER_OTHER 0x01400000u
#define UNMAPPED 0x40000000u

struct tss32 {
	uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
	uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
	uint32_t es, cs, ss, ds, fs, gs, ldt;
	uint16_t trap, iomap;
} __attribute__((packed, aligned(128)));

struct tss16 {
	uint16_t link, sp0, ss0, sp1, ss1, sp2, ss2, ip, flags;
	uint16_t ax, cx, dx, bx, sp, bp, si, di, es, cs, ss, ds, ldt;
} __attribute__((packed, aligned(64)));

struct dtr {
	uint16_t limit;
	uint32_t base;
} __attribute__((packed));

static uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(8)));
static uint64_t ldt[1] __attribute__((aligned(8)));
static uint64_t idt[256] __attribute__((aligned(8)));
static struct tss32 tss_main, tss_a, tss_de, tss_pf, tss_tf, tss_badnp, tss_badldt, tss_v86, tss_collect, tss_df, tss_pae, tss_bothnp;
static struct tss16 tss_t16;
static uint8_t stacks[11][4096] __attribute__((aligned(16)));
static uint32_t pd_main[1024] __attribute__((aligned(4096)));
static uint32_t pd_task[1024] __attribute__((aligned(4096)));
static uint64_t pdpt_main[4] __attribute__((aligned(32)));
static uint64_t pdpt_task[4] __attribute__((aligned(32)));
static uint64_t pd_pae_main[512] __attribute__((aligned(4096)));
static uint64_t pd_pae_task[512] __attribute__((aligned(4096)));
static uint32_t ldt_words[8] = { 0, 0, 0, 0, 0xcafe0004u, 0, 0, 0 };

static uint64_t seg_desc(uint32_t base, uint32_t limit, uint32_t access, uint32_t flags)
{
	uint32_t lo = (limit & 0xffff) | base << 16;
	uint32_t hi = ((base >> 16) & 0xff) | access << 8 | (limit & 0xf0000) | flags << 20 | (base & 0xff000000u);
	return (uint64_t)hi << 32 | lo;
}

static uint64_t gate_desc(uint16_t sel, uint32_t off, uint32_t access)
{
	uint32_t lo = (off & 0xffff) | (uint32_t)sel << 16, hi = (off & 0xffff0000u) | access << 8;
	return (uint64_t)hi << 32 | lo;
}

static bool busy(uint16_t sel) { return (gdt[sel >> 3] >> 41) & 1; }
static uint16_t str(void) { uint16_t v; __asm__ volatile("str %0" : "=r"(v)); return v; }
static uint32_t eflags_now(void) { uint32_t f; __asm__ volatile("pushfl; popl %0" : "=r"(f)); return f; }
static uint32_t read_cr3_now(void) { uint32_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static void clts(void) { __asm__ volatile("clts"); }
static uint32_t read_dr7(void) { uint32_t v; __asm__ volatile("mov %%dr7, %0" : "=r"(v)); return v; }
static void write_dr(int n, uint32_t v)
{
	if (n == 0) __asm__ volatile("mov %0, %%dr0" : : "r"(v));
	if (n == 6) __asm__ volatile("mov %0, %%dr6" : : "r"(v));
	if (n == 7) __asm__ volatile("mov %0, %%dr7" : : "r"(v));
}

/* What the tasks saw, printed by the main task. */
static volatile struct {
	uint32_t runs, eflags, link, tr, cr0, marker, fs_word, dr7, main_busy, self_busy;
	uint32_t main_eip, main_eax, main_ebx, main_esi, main_edi, main_eflags;
} seen_a;
static volatile uint32_t ret_label, resume_label, a_eoi;

static void task_a_body(void)
{
	for (;;) {
		seen_a.runs++;
		seen_a.eflags = eflags_now();
		seen_a.link = tss_a.link;
		seen_a.tr = str();
		seen_a.cr0 = read_cr0();
		seen_a.marker = *(volatile uint32_t *)MARKER_LIN;
		__asm__ volatile("movl %%fs:16, %0" : "=r"(seen_a.fs_word));
		seen_a.dr7 = read_dr7();
		seen_a.main_busy = busy(SEL_MAIN);
		seen_a.self_busy = busy(SEL_A);
		seen_a.main_eip = tss_main.eip, seen_a.main_eflags = tss_main.eflags;
		seen_a.main_eax = tss_main.eax, seen_a.main_ebx = tss_main.ebx;
		seen_a.main_esi = tss_main.esi, seen_a.main_edi = tss_main.edi;
		if (a_eoi)
			*(volatile uint32_t *)(APIC_BASE + 0xb0) = 0;
		if (seen_a.eflags & EFLAGS_NT)
			__asm__ volatile("iret" : : : "memory");
		else
			__asm__ volatile("ljmp $0x20, $0" : : : "memory");
	}
}

static void print_seen_a(const char *how)
{
	printf("%s: runs=%u nt=%u link=0x%x tr=0x%x ts=%u marker=0x%x fs:16=0x%x dr7.L0=%u busy main=%u a=%u\n", how,
	       seen_a.runs, !!(seen_a.eflags & EFLAGS_NT), seen_a.link, seen_a.tr, !!(seen_a.cr0 & CR0_TS),
	       seen_a.marker, seen_a.fs_word, seen_a.dr7 & 1, seen_a.main_busy, seen_a.self_busy);
	printf("%s: main saved eip=%s eflags.nt=%u\n", how, seen_a.main_eip == ret_label ? "after-insn" : "WRONG",
	       !!(seen_a.main_eflags & EFLAGS_NT));
	printf("%s: back in main: tr=0x%x ts=%u nt=%u busy main=%u a=%u\n", how, str(), !!(read_cr0() & CR0_TS),
	       !!(eflags_now() & EFLAGS_NT), busy(SEL_MAIN), busy(SEL_A));
	clts();
	seen_a.runs = 0;
}

/* Exception handler tasks: their error code (if any) is on their stack; they move main past the faulting instruction. */
static volatile uint32_t exc_runs, exc_err, exc_link, exc_nt, exc_cr2, exc_esp, exc_main_rf;
void exc_task_body(void);
void exc_task_body(void)
{
	exc_runs++;
	exc_link = str() == SEL_DE ? tss_de.link : tss_pf.link;
	exc_nt = !!(eflags_now() & EFLAGS_NT);
	exc_cr2 = read_cr2();
	exc_main_rf = (tss_main.eflags >> 16) & 1; /* a fault saves RF=1 in the old TSS (SDM 17.3.1.1) */
	tss_main.eip = resume_label;
}
void de_task(void);
void pf_task(void);
__asm__(".text\n"
	"de_task:\n\t"
	"call exc_task_body\n\t"
	"iret\n\t"
	"jmp de_task\n"
	"pf_task:\n\t"
	"popl exc_err\n\t"
	"movl %esp, exc_esp\n\t"
	"call exc_task_body\n\t"
	"iret\n\t"
	"jmp pf_task\n");

/* The 16-bit task: its code segment's base is t16_stub, so IP 0 enters it; it records, then returns with IRET. */
volatile uint32_t t16_seen[10];
void t16_stub(void);
void t16_after_iret(void);
__asm__(".text\n"
	"t16_stub:\n\t"
	"movl %eax, t16_seen\n\t"
	"movl %ecx, t16_seen+4\n\t"
	"movl %esi, t16_seen+8\n\t"
	"movl %esp, t16_seen+12\n\t"
	"movw %fs, t16_seen+16\n\t"
	"movw %ss, t16_seen+20\n\t"
	"pushfl\n\t"
	"popl t16_seen+24\n\t"
	"iret\n"
	"t16_after_iret:\n\t"
	"jmp t16_stub\n");

/* #DB from the T flag: recorded by an interrupt gate in the new task, which then runs. */
static volatile uint32_t db_dr6, db_eip, db_tr, tf_runs;
void db_stub(void);
__asm__(".text\n"
	"db_stub:\n\t"
	"pushl %eax\n\t"
	"movl %dr6, %eax\n\t"
	"movl %eax, db_dr6\n\t"
	"movl 4(%esp), %eax\n\t"
	"movl %eax, db_eip\n\t"
	"strw db_tr\n\t"
	"popl %eax\n\t"
	"iret\n");

static void tf_task_body(void)
{
	for (;;) {
		tf_runs++;
		__asm__ volatile("iret" : : : "memory");
	}
}

static void bad_task_body(void)
{
	printf("bad task ran\n");
	for (;;)
		__asm__ volatile("hlt");
}

static void init_tss(struct tss32 *t, void (*entry)(void), int stack, uint32_t cr3)
{
	memset(t, 0, sizeof(*t));
	t->eip = (uint32_t)entry;
	t->esp = (uint32_t)&stacks[stack][4096 - 16];
	t->ss0 = SEL_DATA, t->esp0 = t->esp;
	t->eflags = 0x2;
	t->cs = SEL_CODE;
	t->ss = t->ds = t->es = t->fs = t->gs = SEL_DATA;
	t->cr3 = cr3;
	t->iomap = sizeof(*t);
}

static void set_tss(uint16_t sel, void *t, uint32_t size, uint32_t type)
{
	gdt[sel >> 3] = seg_desc((uint32_t)t, size - 1, 0x80 | type, 0);
}

static void setup_paging(void)
{
	for (uint32_t i = 0; i < 8; i++)
		pd_main[i] = pd_task[i] = (i << 22) | PDE_4M;
	pd_task[MARKER_LIN >> 22] = MARKER_OTHER | PDE_4M;
	pd_main[0] |= 0x4; /* user: the virtual-8086 task runs at CPL 3 in the first MiB */
	pd_main[APIC_BASE >> 22] = pd_task[APIC_BASE >> 22] = (APIC_BASE & 0xffc00000u) | PDE_4M | 0x18; /* PCD PWT */
	*(volatile uint32_t *)MARKER_LIN = 0x11110000;
	*(volatile uint32_t *)MARKER_OTHER = 0x22220000;
	__asm__ volatile("mov %%cr4, %%eax; orl %0, %%eax; mov %%eax, %%cr4" : : "i"(CR4_PSE) : "eax");
	write_cr3((uint32_t)pd_main);
	write_cr0(read_cr0() | CR0_PG);
}

static void setup_tables(void)
{
	struct dtr lib_idt, d;

	gdt[1] = seg_desc(0, 0xfffff, 0x9a, 0xc);
	gdt[2] = seg_desc(0, 0xfffff, 0x92, 0xc);
	gdt[3] = seg_desc(0, 0xfffff, 0x12, 0xc);
	init_tss(&tss_main, NULL, 0, (uint32_t)pd_main);
	init_tss(&tss_a, task_a_body, 1, (uint32_t)pd_task);
	tss_a.ldt = SEL_LDT, tss_a.fs = LDT_SEL_DATA;
	init_tss(&tss_de, de_task, 2, (uint32_t)pd_main);
	init_tss(&tss_pf, pf_task, 3, (uint32_t)pd_main);
	init_tss(&tss_tf, tf_task_body, 4, (uint32_t)pd_main);
	tss_tf.trap = 1;
	init_tss(&tss_badnp, bad_task_body, 5, (uint32_t)pd_main);
	tss_badnp.ds = SEL_DATA_NP;
	init_tss(&tss_badldt, bad_task_body, 6, (uint32_t)pd_main);
	tss_badldt.ldt = SEL_DATA;
	tss_t16 = (struct tss16){ .ip = 0, .flags = 0x2, .ax = 0x1616, .cx = 0x2727, .si = 0x3838, .sp = 0xff0,
				  .es = SEL_DATA, .cs = SEL_CODE16T, .ss = SEL_STACK16, .ds = SEL_DATA };
	set_tss(SEL_MAIN, &tss_main, sizeof(tss_main), 0x9);
	set_tss(SEL_A, &tss_a, sizeof(tss_a), 0x9);
	set_tss(SEL_DE, &tss_de, sizeof(tss_de), 0x9);
	set_tss(SEL_PF, &tss_pf, sizeof(tss_pf), 0x9);
	set_tss(SEL_T16, &tss_t16, sizeof(tss_t16), 0x1);
	set_tss(SEL_TF, &tss_tf, sizeof(tss_tf), 0x9);
	set_tss(SEL_BADNP, &tss_badnp, sizeof(tss_badnp), 0x9);
	set_tss(SEL_BADLDT, &tss_badldt, sizeof(tss_badldt), 0x9);
	gdt[SEL_BADPF >> 3] = seg_desc(UNMAPPED, 0x67, 0x89, 0); /* a TSS in an unmapped page */
	set_tss(SEL_V86, &tss_v86, sizeof(tss_v86), 0x9);
	set_tss(SEL_COLLECT, &tss_collect, sizeof(tss_collect), 0x9);
	set_tss(SEL_DF, &tss_df, sizeof(tss_df), 0x9);
	set_tss(SEL_PAE, &tss_pae, sizeof(tss_pae), 0x9);
	set_tss(SEL_BOTHNP, &tss_bothnp, sizeof(tss_bothnp), 0x9);
	gdt[SEL_CODE_NP >> 3] = seg_desc(0, 0xfffff, 0x1a, 0xc);
	gdt[SEL_GATE_A >> 3] = gate_desc(SEL_A, 0, 0x85);
	gdt[SEL_CODE16T >> 3] = seg_desc((uint32_t)t16_stub, 0xfffff, 0x9a, 0xc);
	gdt[SEL_STACK16 >> 3] = seg_desc((uint32_t)stacks[7], 0xfff, 0x92, 0x0);
	ldt[0] = seg_desc((uint32_t)ldt_words, 0xfff, 0x92, 0x4);
	gdt[SEL_LDT >> 3] = seg_desc((uint32_t)ldt, sizeof(ldt) - 1, 0x82, 0);

	/* The library's exception gates, then the task gates and the #DB gate of this test. */
	__asm__ volatile("sidt %0" : "=m"(lib_idt));
	memcpy(idt, (void *)lib_idt.base, lib_idt.limit + 1);
	idt[0] = gate_desc(SEL_DE, 0, 0x85);
	idt[1] = gate_desc(SEL_CODE, (uint32_t)db_stub, 0x8e);
	idt[14] = gate_desc(SEL_PF, 0, 0x85);
	idt[VEC_INT] = gate_desc(SEL_A, 0, 0x85);
	idt[VEC_IRQ] = gate_desc(SEL_A, 0, 0x85);
	idt[VEC_IRQ_BAD] = gate_desc(SEL_BADNP, 0, 0x85);
	idt[VEC_V86_OUT] = gate_desc(SEL_COLLECT, 0, 0xe5); /* DPL 3: INT n from virtual-8086 mode */
	idt[8] = gate_desc(SEL_DF, 0, 0x85);
	d = (struct dtr){ sizeof(gdt) - 1, (uint32_t)gdt };
	__asm__ volatile("lgdt %0" : : "m"(d));
	d = (struct dtr){ sizeof(idt) - 1, (uint32_t)idt };
	__asm__ volatile("lidt %0" : : "m"(d));
	__asm__ volatile("ltr %w0" : : "r"((uint16_t)SEL_MAIN));
}

/* Each switch records the return address (the instruction after it) for the task to compare. */
#define SWITCH(insn) __asm__ volatile("movl $1f, ret_label\n\t" insn "\n1:" \
	: : "a"(0xaaaa0001), "b"(0xbbbb0002), "S"(0x55550003), "D"(0xdddd0004) : "memory")

/* A self-IPI through an IDT task gate: an external event, so the saved EIP is where it hit (after STI's shadow). */
static void external_interrupt(void)
{
	volatile uint32_t *apic = (volatile uint32_t *)APIC_BASE;

	outb(0x21, 0xff); /* the legacy PIC's IRQs (BIOS vectors 8-15) stay out of the way */
	outb(0xa1, 0xff);
	apic[0xf0 / 4] = 0x1ff; /* software enable, spurious vector 0xff */
	apic[0x80 / 4] = 0;     /* TPR */
	a_eoi = 1;
	apic[0x300 / 4] = 0x40000 | VEC_IRQ; /* fixed, self */
	__asm__ volatile("movl $1f, ret_label\n\tsti\n\tnop\n1:\tcli" : : : "memory");
	a_eoi = 0;
	print_seen_a("self-IPI");
}

static void direct_switches(void)
{
	write_dr(0, UNMAPPED);
	write_dr(7, 0x3); /* L0 and G0: a task switch clears L0 only (SDM 17.2.4) */
	SWITCH("ljmp $0x28, $0");
	print_seen_a("jmp tss");
	printf("jmp tss: main saved eax=0x%x ebx=0x%x esi=0x%x edi=0x%x\n", seen_a.main_eax, seen_a.main_ebx,
	       seen_a.main_esi, seen_a.main_edi);
	printf("dr7 after: L0=%u G0=%u\n", read_dr7() & 1, (read_dr7() >> 1) & 1);
	write_dr(7, 0);
	SWITCH("lcall $0x28, $0");
	print_seen_a("call tss");
	SWITCH("lcall $0x60, $0");
	print_seen_a("call gate");
	SWITCH("ljmp $0x60, $0");
	print_seen_a("jmp gate");
	SWITCH("int $0x40");
	print_seen_a("int 0x40");
	external_interrupt();
}

static void exception_switches(void)
{
	uint32_t zero = 0, v = 0;

	__asm__ volatile("movl $1f, resume_label\n\tdivl %[z]\n1:" : [z] "+r"(zero) : "a"(1), "d"(0) : "memory");
	printf("#DE task gate: runs=%u link=0x%x nt=%u tr=0x%x busy de=%u main rf=%u\n", exc_runs, exc_link, exc_nt,
	       str(), busy(SEL_DE), exc_main_rf);
	clts();
	__asm__ volatile("movl $1f, resume_label\n\tmovl %[v], (%[a])\n1:" : : [a] "r"(UNMAPPED + 8), [v] "r"(v)
			 : "memory");
	printf("#PF task gate: runs=%u err=0x%x cr2=0x%08x link=0x%x nt=%u esp=%s busy pf=%u main rf=%u\n", exc_runs,
	       exc_err, exc_cr2, exc_link, exc_nt, exc_esp == tss_pf.esp0 ? "top" : "WRONG", busy(SEL_PF), exc_main_rf);
	clts();
	/* Reading the new TSS faults before the commit point: main's state and busy flag stay, #PF goes to the #PF task. */
	__asm__ volatile("movl $1f, resume_label\n\tljmp $0x80, $0\n1:" : : : "memory");
	printf("#PF reading new TSS: runs=%u err=0x%x cr2=0x%08x link=0x%x tr=0x%x busy main=%u badpf=%u main rf=%u\n",
	       exc_runs, exc_err, exc_cr2, exc_link, str(), busy(SEL_MAIN), busy(SEL_BADPF), exc_main_rf);
	clts();
}

static void task16(void)
{
	__asm__ volatile("lcall $0x40, $0" : : : "memory");
	printf("16-bit task: ax=0x%x cx=0x%x si=0x%x sp=0x%x fs=0x%x ss=0x%x nt=%u\n", t16_seen[0] & 0xffff,
	       t16_seen[1] & 0xffff, t16_seen[2] & 0xffff, t16_seen[3] & 0xffff, t16_seen[4] & 0xffff,
	       t16_seen[5] & 0xffff, !!(t16_seen[6] & EFLAGS_NT));
	printf("16-bit task: saved ip=%s flags.nt=%u ax=0x%x link=0x%x busy t16=%u main=%u\n",
	       tss_t16.ip == (uint32_t)t16_after_iret - (uint32_t)t16_stub ? "after-iret" : "WRONG",
	       !!(tss_t16.flags & EFLAGS_NT), tss_t16.ax, tss_t16.link, busy(SEL_T16), busy(SEL_MAIN));
	clts();
}

static void trap_flag(void)
{
	write_dr(6, 0);
	__asm__ volatile("lcall $0x48, $0" : : : "memory");
	printf("T flag: #DB dr6.BT=%u dr6.BS=%u at=%s tr=0x%x; task runs=%u\n", (db_dr6 >> 15) & 1, (db_dr6 >> 14) & 1,
	       db_eip == (uint32_t)tf_task_body ? "task-entry" : "WRONG", db_tr, tf_runs);
	clts();
}

/* A fault after the commit point belongs to the new task; the library's handler resumes there, which goes back to main. */
#define BAD_SWITCH(sel) __asm__ volatile("movl $1f, fault_resume\n\tljmp $" sel ", $0\n\tjmp 2f\n"      \
					 "1:\tljmp $0x20, $0\n2:\tmovl $0, fault_resume" : : : "memory")

/* Leaves a task chain for main: both busy flags cleared, main resumes at resume_label (used where IRET cannot return). */
static void back_to_main(uint16_t chained)
{
	gdt[SEL_MAIN >> 3] &= ~(1ull << 41);
	gdt[chained >> 3] &= ~(1ull << 41);
	tss_main.eip = resume_label;
	__asm__ volatile("ljmp $0x20, $0" : : : "memory");
}

/* A virtual-8086 task (EFLAGS.VM in its TSS) runs INT 0x43, a DPL-3 task gate to a collector task. */
static volatile uint32_t v86_seen[4];
static void collect_task_body(void)
{
	for (;;) {
		v86_seen[0] = tss_v86.eflags, v86_seen[1] = tss_v86.cs, v86_seen[2] = tss_v86.eip;
		v86_seen[3] = tss_collect.link;
		back_to_main(SEL_V86);
	}
}

static void v8086_task(void)
{
	static const uint8_t code[] = { 0xcd, VEC_V86_OUT, 0xeb, 0xfe }; /* int 0x43; jmp $ */

	memcpy((void *)V86_CODE, code, sizeof(code));
	memset(&tss_v86, 0, sizeof(tss_v86));
	tss_v86.eflags = 0x23002; /* VM, IOPL 3 */
	tss_v86.cs = tss_v86.ss = V86_CODE >> 4;
	tss_v86.esp = 0xff0;
	tss_v86.cr3 = (uint32_t)pd_main;
	tss_v86.iomap = sizeof(tss_v86);
	init_tss(&tss_collect, collect_task_body, 8, (uint32_t)pd_main);
	__asm__ volatile("movl $1f, resume_label\n\tlcall $0x88, $0\n1:" : : : "memory");
	printf("v8086 task: vm=%u iopl=%u cs=0x%x eip=0x%x collector link=0x%x\n", (v86_seen[0] >> 17) & 1,
	       (v86_seen[0] >> 12) & 3, v86_seen[1], v86_seen[2], v86_seen[3]);
	clts();
}

/* #GP through a task gate whose task faults (#NP): contributory on contributory, #DF through its own task gate. */
static volatile uint32_t df_seen[3];
static void df_task_body(void)
{
	for (;;) {
		__asm__ volatile("popl %0" : "=m"(df_seen[0]));
		df_seen[1] = tss_df.link, df_seen[2] = tss_badnp.cs;
		back_to_main(SEL_BADNP);
	}
}

static void double_fault(void)
{
	uint64_t gp_gate = idt[13];

	init_tss(&tss_badnp, bad_task_body, 5, (uint32_t)pd_main);
	tss_badnp.ds = SEL_DATA_NP;
	init_tss(&tss_df, df_task_body, 9, (uint32_t)pd_main);
	idt[13] = gate_desc(SEL_BADNP, 0, 0x85);
	__asm__ volatile("movl $1f, resume_label\n\tmovw %%ds, %%dx\n\tmovw %%cx, %%ds\n\tmovw %%dx, %%ds\n1:"
			 : : "c"(0x1234) : "edx", "memory");
	__asm__ volatile("movw %0, %%ds" : : "r"((uint16_t)SEL_DATA));
	idt[13] = gp_gate;
	printf("#DF task gate: err=0x%x link=0x%x (the #GP's task) tr=0x%x\n", df_seen[0], df_seen[1], str());
	clts();
}

/* PAE paging: the new task's CR3 brings its own PDPTEs, which the CPU caches at the switch (SDM 4.4.1). */
static volatile uint32_t pae_marker;
static void pae_task_body(void)
{
	for (;;) {
		pae_marker = *(volatile uint32_t *)MARKER_LIN;
		__asm__ volatile("ljmp $0x20, $0" : : : "memory");
	}
}

static void pae_switch(void)
{
	for (uint32_t i = 0; i < 16; i++)
		pd_pae_main[i] = pd_pae_task[i] = ((uint64_t)i << 21) | 0x83;
	pd_pae_task[MARKER_LIN >> 21] = MARKER_OTHER | 0x83;
	pdpt_main[0] = (uint32_t)pd_pae_main | 1;
	pdpt_task[0] = (uint32_t)pd_pae_task | 1;
	write_cr0(read_cr0() & ~CR0_PG);
	__asm__ volatile("mov %%cr4, %%eax; orl $0x20, %%eax; mov %%eax, %%cr4" : : : "eax");
	write_cr3((uint32_t)pdpt_main);
	write_cr0(read_cr0() | CR0_PG);
	tss_main.cr3 = (uint32_t)pdpt_main;
	init_tss(&tss_pae, pae_task_body, 10, (uint32_t)pdpt_task);
	__asm__ volatile("ljmp $0xa0, $0" : : : "memory");
	printf("PAE task: marker=0x%x, main: marker=0x%x cr3=%s\n", pae_marker, *(volatile uint32_t *)MARKER_LIN,
	       read_cr3_now() == (uint32_t)pdpt_main ? "main's" : "WRONG");
	clts();
	write_cr0(read_cr0() & ~CR0_PG);
	__asm__ volatile("mov %%cr4, %%eax; andl $~0x20, %%eax; mov %%eax, %%cr4" : : : "eax");
}

/*
 * Two faults in one new task: CS and DS both not present. The order of SDM
 * Table 7-1's checks is model specific; the hypervisor uses the table's (P6)
 * order, CS (row 12) before DS (row 16), where Bochs 2.7 loads DS, ES, FS,
 * GS before CS (cpu/tasking.cc, task_switch(): the task_switch_load_selector
 * calls precede the "CS" block), hence the "~" line. The #NP handler leaves
 * for main directly: the frame's CS is the bad one.
 */
static volatile uint32_t np2_err;
void np2_stub(void);
__asm__(".text\n"
	"np2_stub:\n\t"
	"popl %ss:np2_err\n\t" /* DS is not loaded in this task */
	"ljmp $0x20, $0\n");

static void two_faults(void)
{
	uint64_t np_gate = idt[11];

	init_tss(&tss_bothnp, bad_task_body, 5, (uint32_t)pd_main);
	tss_bothnp.cs = SEL_CODE_NP, tss_bothnp.ds = SEL_DATA_NP;
	idt[11] = gate_desc(SEL_CODE, (uint32_t)np2_stub, 0x8e);
	__asm__ volatile("ljmp $0xb0, $0" : : : "memory");
	idt[11] = np_gate;
	printf("~#NP with CS and DS not present: err=0x%x (Table 7-1 order: 0xa8, Bochs: 0x18)\n", np2_err);
	printf("#NP with CS and DS not present: busy bothnp=%u main=%u\n", busy(SEL_BOTHNP), busy(SEL_MAIN));
	clts();
}

static void error_cases(void)
{
	BAD_SWITCH("0x50");
	printf("#NP in new task: vector=%u err=0x%x eip=%s busy badnp=%u main=%u\n", last_fault.vector,
	       last_fault.error, last_fault.eip == (uint32_t)bad_task_body ? "task-entry" : "WRONG", busy(SEL_BADNP),
	       busy(SEL_MAIN));
	printf("#NP in new task: its saved ds=0x%x cs=0x%x\n", tss_badnp.ds, tss_badnp.cs);
	clts();
	/* The same task reached by an interrupt: the #NP error code has EXT set; IRET (NT=1) goes back to main. */
	init_tss(&tss_badnp, bad_task_body, 5, (uint32_t)pd_main);
	tss_badnp.ds = SEL_DATA_NP;
	((volatile uint32_t *)APIC_BASE)[0x300 / 4] = 0x40000 | VEC_IRQ_BAD;
	__asm__ volatile("movl $1f, fault_resume\n\tsti\n\tnop\n\tcli\n\tjmp 2f\n1:\tiret\n2:\tmovl $0, fault_resume"
			 : : : "memory");
	((volatile uint32_t *)APIC_BASE)[0xb0 / 4] = 0;
	printf("#NP in new task (interrupt): vector=%u err=0x%x busy badnp=%u main=%u nt=%u\n", last_fault.vector,
	       last_fault.error, busy(SEL_BADNP), busy(SEL_MAIN), !!(eflags_now() & EFLAGS_NT));
	clts();
	two_faults();
	BAD_SWITCH("0x58");
	printf("#TS in new task: vector=%u err=0x%x eip=%s busy badldt=%u main=%u\n", last_fault.vector,
	       last_fault.error, last_fault.eip == (uint32_t)bad_task_body ? "task-entry" : "WRONG",
	       busy(SEL_BADLDT), busy(SEL_MAIN));
	clts();
}

int guest_main(const struct mb_info *mbi)
{
	(void)mbi;
	setup_paging();
	setup_tables();
	direct_switches();
	exception_switches();
	task16();
	trap_flag();
	error_cases();
	v8086_task();
	double_fault();
	printf("tr=0x%x faults=%u\n", str(), fault_count);
	pae_switch();
	return GUEST_OK;
}
