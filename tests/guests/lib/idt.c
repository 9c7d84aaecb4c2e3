/* Exception capture: every vector 0-31 is recorded; a probe's resume address lets the guest carry on. */
#include "guest.h"

struct idt_gate {
	uint16_t off_lo, sel;
	uint8_t zero, attr;
	uint16_t off_hi;
} __attribute__((packed));

struct idt_ptr {
	uint16_t limit;
	uint32_t base;
} __attribute__((packed));

/* What isr_common leaves on the stack: pushal, then vector and error code, then the CPU's frame. */
struct fault_frame {
	uint32_t edi, esi, ebp, esp_ignored, ebx, edx, ecx, eax;
	uint32_t vector, error;
	uint32_t eip, cs, eflags;
};

extern const uint32_t isr_table[32];
static struct idt_gate idt[32];

volatile struct fault_info last_fault;
volatile uint32_t fault_resume;
volatile uint32_t fault_count;

void idt_init(void)
{
	for (int v = 0; v < 32; v++) {
		idt[v].off_lo = (uint16_t)isr_table[v];
		idt[v].off_hi = (uint16_t)(isr_table[v] >> 16);
		idt[v].sel = 0x08;
		idt[v].zero = 0;
		idt[v].attr = 0x8e; /* present, ring 0, 32-bit interrupt gate */
	}
	struct idt_ptr p = { sizeof(idt) - 1, (uint32_t)idt };
	__asm__ volatile("lidt %0" : : "m"(p));
}

/* Only #PF defines CR2; reporting it elsewhere would print stale values. */
static uint32_t fault_cr2(uint32_t vector)
{
	return vector == 14 ? read_cr2() : 0;
}

void exception_handler(struct fault_frame *f);

void exception_handler(struct fault_frame *f)
{
	last_fault.vector = f->vector;
	last_fault.error = f->error;
	last_fault.cr2 = fault_cr2(f->vector);
	last_fault.eip = f->eip;
	fault_count++;
	if (fault_resume) {
		f->eip = fault_resume;
		fault_resume = 0;
		return;
	}
	/* #BP and #OF are traps: returning resumes after the instruction, nothing to skip. */
	if (f->vector == 3)
		return;
	printf("unexpected exception: vector=%u err=0x%x eip=0x%08x cr2=0x%08x\n",
	       f->vector, f->error, f->eip, last_fault.cr2);
	guest_exit(GUEST_UNEXPECTED_FAULT);
}

void fault_print(const char *what)
{
	printf("%s: vector=%u err=0x%x cr2=0x%08x\n", what, last_fault.vector, last_fault.error, last_fault.cr2);
}

bool rdmsr_safe(uint32_t msr, uint64_t *val)
{
	uint32_t lo = 0, hi = 0;
	bool faulted = FAULT_PROBE("rdmsr", , "+a"(lo), "+d"(hi) : "c"(msr) : "memory");
	*val = ((uint64_t)hi << 32) | lo;
	return !faulted;
}

bool wrmsr_safe(uint32_t msr, uint64_t val)
{
	return !FAULT_PROBE("wrmsr", : "c"(msr), "a"((uint32_t)val), "d"((uint32_t)(val >> 32)) : "memory");
}
