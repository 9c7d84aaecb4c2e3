/* RFLAGS.RF in the EFLAGS image of faults: 1 for every fault (SDM 6.12.1, 17.3.1.1), also those a hypervisor injects for instructions it emulates. */
#include "guest.h"

const char guest_name[] = "faultrf";

struct gate {
	uint16_t off_lo, sel;
	uint8_t zero, attr;
	uint16_t off_hi;
} __attribute__((packed));

struct dtr {
	uint16_t limit;
	uint32_t base;
} __attribute__((packed));

volatile uint32_t rf_seen_eflags, rf_seen_vector, rf_resume;

/* #UD and #GP handlers that record the pushed EFLAGS and continue at rf_resume. */
void rf_ud_stub(void);
void rf_gp_stub(void);
__asm__(".text\n"
	"rf_gp_stub:\n\t"
	"movl $13, rf_seen_vector\n\t"
	"addl $4, %esp\n\t" /* the error code */
	"jmp 1f\n"
	"rf_ud_stub:\n\t"
	"movl $6, rf_seen_vector\n"
	"1:\tpushl %eax\n\t"
	"movl 12(%esp), %eax\n\t"
	"movl %eax, rf_seen_eflags\n\t"
	"movl rf_resume, %eax\n\t"
	"movl %eax, 4(%esp)\n\t"
	"popl %eax\n\t"
	"iret\n");

static void set_gate(unsigned int v, void (*fn)(void))
{
	struct dtr idtr;
	struct gate *idt;

	__asm__ volatile("sidt %0" : "=m"(idtr));
	idt = (struct gate *)idtr.base;
	idt[v].off_lo = (uint16_t)(uint32_t)fn;
	idt[v].off_hi = (uint16_t)((uint32_t)fn >> 16);
}

/* Runs one faulting instruction with resume at the label after it, then prints the vector and RF. */
#define RF_PROBE(what, asm_body, ...) do {                                                  \
	rf_seen_vector = 0xff;                                                             \
	__asm__ volatile("movl $1f, rf_resume\n\t" asm_body "\n1:" : : __VA_ARGS__);       \
	printf("%s: vector=%u rf=%u\n", what, rf_seen_vector, (rf_seen_eflags >> 16) & 1); \
} while (0)

int guest_main(const struct mb_info *mbi)
{
	(void)mbi;
	set_gate(6, rf_ud_stub);
	set_gate(13, rf_gp_stub);
	/* The CPU's own fault: a selector beyond the GDT limit. */
	RF_PROBE("#GP mov ds, 0x1234", "movw %%ds, %%dx\n\tmovw %%cx, %%ds\n\tmovw %%dx, %%ds", "c"(0x1234) : "edx", "memory");
	/* Faults a hypervisor raises for instructions it intercepts. */
	RF_PROBE("#GP wrmsr IA32_FEATURE_CONTROL (locked)", "wrmsr", "c"(0x3a), "a"(0), "d"(0) : "memory");
	RF_PROBE("#GP mov cr4 reserved bit 31", "movl %%cr4, %%eax\n\torl $0x80000000, %%eax\n\tmovl %%eax, %%cr4", "i"(0) : "eax", "memory");
	RF_PROBE("#UD vmcall", "vmcall", "i"(0) : "memory");
	__asm__ volatile("movl %%cr4, %%eax\n\torl $0x40000, %%eax\n\tmovl %%eax, %%cr4" : : : "eax", "memory"); /* OSXSAVE */
	RF_PROBE("#GP xsetbv xcr0=0", "xsetbv", "c"(0), "a"(0), "d"(0) : "memory");
	return GUEST_OK;
}
