/* The hypervisor's GDT, TSS and IDT: one GDT/TSS per CPU, one shared IDT. */
#ifndef HV_CPU_TABLES_H
#define HV_CPU_TABLES_H

#include "hv/types.h"
#include "hv/percpu.h"

#define HV_CS  0x08
#define HV_DS  0x10
#define HV_TSS 0x18

/* Interrupt stack table slots (SDM 7.14.5): faults that must not use a possibly broken stack. */
#define IST_DF  1
#define IST_NMI 2
#define IST_MC  3
#define IST_STACK_SIZE 4096

struct desc_ptr {
	uint16_t limit;
	uint64_t base;
} __packed;

void cpu_tables_init(struct percpu *cpu);
void idt_init(void);
void idt_load(void);

#endif
