/* A virtual CPU run by VMX root: its VMCS, the structures the VMCS points to, its registers and exit counters. */
#ifndef HV_VMX_VCPU_H
#define HV_VMX_VCPU_H

#include "hv/types.h"
#include "hv/vmx/vmx_caps.h"
#include "hv/vmx/vmx_defs.h"

/*
 * The guest's general-purpose registers in the x86 encoding order (SDM Table
 * 3-1), so the register numbers in exit qualifications index it directly.
 * The exit stub pushes them on the exit stack; rsp lives in the VMCS and its
 * slot here is unused.
 */
struct guest_regs {
	uint64_t rax, rcx, rdx, rbx, rsp_unused, rbp, rsi, rdi;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
};
STATIC_ASSERT(sizeof(struct guest_regs) == 128, "the exit stub pushes 16 registers");

struct vmx_nested;

struct vcpu {
	paddr_t vmcs;               /* vmcs01 for L1 */
	uint32_t cpu_id;            /* the physical CPU that runs it: one vCPU per CPU */
	bool is_bsp;                /* L1's boot CPU (INIT resets it rather than parking it) */
	volatile bool launched;     /* set by its CPU just before the first VMLAUNCH */
	uint32_t apic_id;           /* L1 addresses this vCPU by its CPU's APIC ID */
	volatile bool waiting_for_sipi; /* in the INIT state, wait-for-SIPI activity (read by other CPUs) */
	struct vmx_controls ctl;    /* as written into the VMCS */
	uint64_t cr0_mask, cr4_mask;/* host-owned CR bits (guest/host masks) */
	paddr_t io_bitmap_a, io_bitmap_b, msr_bitmap;
	paddr_t ept_pml4;
	uint64_t eptp;
	uint32_t ept_gen;           /* vmx_apic_trap_gen when this CPU last flushed its EPT translations */
	uint16_t vpid;              /* 0 when VPIDs are off */
	uint8_t port80;             /* last value written to the POST-code port */
	uint64_t hlt_resume_rip;    /* RIP after L1's last HLT (reports: was it halted?) */
	uint16_t pm1a_cnt_port;     /* ACPI PM1a control (FADT), watched for L1's power-off; 0 if none */
	uint64_t exit_stack_top;
	struct guest_regs *regs;    /* on the exit stack */
	uint64_t exits[EXIT_REASON_MAX];
	struct vmx_nested *nested;  /* L1's nested VMX, from its first VMXON (hv/vmx/nested.h) */
};

STATIC_ASSERT(sizeof(struct vcpu) <= PAGE_SIZE, "an AP's vcpu is one frame");

/* Exit stack layout: [top-8] holds the vcpu pointer; HOST_RSP = top-16; the stub pushes guest_regs below it. */
#define VMX_EXIT_STACK_PAGES 4

#endif
