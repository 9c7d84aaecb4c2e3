/* Builds and loads each CPU's GDT and TSS and the shared IDT. */
#include "hv/cpu_tables.h"
#include "hv/string.h"

struct tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __packed;
STATIC_ASSERT(sizeof(struct tss64) == 104, "TSS layout (SDM 8.7)");

struct idt_gate {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t ist;
	uint8_t type_attr;
	uint16_t offset_mid;
	uint32_t offset_hi;
	uint32_t reserved;
} __packed;

extern const uint64_t trap_entry_table[32];

static struct idt_gate idt[256] __aligned(16);
static uint8_t ist_stacks[MAX_CPUS][3][IST_STACK_SIZE] __aligned(16);

static uint64_t tss_desc_low(uint64_t base, uint32_t limit)
{
	return (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ULL << 40) |
	       ((uint64_t)((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
}

void cpu_tables_init(struct percpu *cpu)
{
	uint64_t *gdt = (uint64_t *)cpu->gdt;
	struct tss64 *tss = (struct tss64 *)cpu->tss;
	struct desc_ptr gdtr = { .limit = 5 * 8 - 1, .base = (uint64_t)gdt };

	memset(cpu->gdt, 0, sizeof(cpu->gdt));
	memset(tss, 0, sizeof(*tss));
	gdt[1] = 0x00af9a000000ffffULL; /* HV_CS: 64-bit code */
	gdt[2] = 0x00cf92000000ffffULL; /* HV_DS */
	gdt[3] = tss_desc_low((uint64_t)tss, sizeof(*tss) - 1);
	gdt[4] = (uint64_t)tss >> 32;
	tss->ist[IST_DF - 1] = (uint64_t)ist_stacks[cpu->cpu_id][0] + IST_STACK_SIZE;
	tss->ist[IST_NMI - 1] = (uint64_t)ist_stacks[cpu->cpu_id][1] + IST_STACK_SIZE;
	tss->ist[IST_MC - 1] = (uint64_t)ist_stacks[cpu->cpu_id][2] + IST_STACK_SIZE;
	tss->iomap_base = sizeof(*tss); /* no I/O permission bitmap */

	__asm__ volatile("lgdt %0" : : "m"(gdtr));
	__asm__ volatile(
		"pushq %[cs]\n\t"
		"leaq 1f(%%rip), %%rax\n\t"
		"pushq %%rax\n\t"
		"lretq\n"
		"1:\n\t"
		"movw %w[ds], %%ax\n\t"
		"movw %%ax, %%ds\n\t"
		"movw %%ax, %%es\n\t"
		"movw %%ax, %%ss\n\t"
		"xorl %%eax, %%eax\n\t"
		"movw %%ax, %%fs\n\t"
		"movw %%ax, %%gs\n\t"
		: : [cs] "i"(HV_CS), [ds] "r"((uint64_t)HV_DS) : "rax", "memory");
	__asm__ volatile("ltr %w0" : : "r"((uint16_t)HV_TSS));
}

static void set_gate(unsigned int vec, uint64_t handler, uint8_t ist)
{
	struct idt_gate *g = &idt[vec];

	g->offset_lo = handler & 0xffff;
	g->selector = HV_CS;
	g->ist = ist;
	g->type_attr = 0x8e; /* present, DPL 0, 64-bit interrupt gate: IF cleared on entry */
	g->offset_mid = (handler >> 16) & 0xffff;
	g->offset_hi = handler >> 32;
	g->reserved = 0;
}

void idt_init(void)
{
	for (unsigned int v = 0; v < 32; v++) {
		uint8_t ist = v == 8 ? IST_DF : v == 2 ? IST_NMI : v == 18 ? IST_MC : 0;

		set_gate(v, trap_entry_table[v], ist);
	}
}

void idt_load(void)
{
	struct desc_ptr idtr = { .limit = sizeof(idt) - 1, .base = (uint64_t)idt };

	__asm__ volatile("lidt %0" : : "m"(idtr));
}
