/* The application processors' start-up code: copied below 1 MiB, it takes an AP from real mode to long mode on the BSP's page tables. */

#include "boot/asm.h"

#define TR_OFF(sym) ((sym) - ap_trampoline_start)

	.section .text.boot, "ax"
	.code16
	.balign 16
	.globl ap_trampoline_start, ap_trampoline_end
	.globl ap_tr_pm32, ap_tr_gdt, ap_tr_gdt_ptr, ap_tr_jmp32, ap_tr_jmp64, ap_tr_cr3, ap_tr_efer, ap_tr_stack, ap_tr_percpu
ap_trampoline_start:
	/* SIPI: CS = vector << 8, IP = 0 (SDM 9.4.4.1). */
	cli
	cld
	movw %cs, %ax
	movw %ax, %ds
	xorl %ebx, %ebx
	movw %ax, %bx
	shll $4, %ebx                    /* EBX: the trampoline's linear address, kept to the end */
	lgdtl TR_OFF(ap_tr_gdt_ptr)
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl *TR_OFF(ap_tr_jmp32)

	.code32
ap_tr_pm32:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl %cr4, %eax
	orl $0x20, %eax                  /* PAE */
	movl %eax, %cr4
	movl TR_OFF(ap_tr_cr3)(%ebx), %eax
	movl %eax, %cr3
	movl $0xc0000080, %ecx
	movl TR_OFF(ap_tr_efer)(%ebx), %eax
	xorl %edx, %edx
	wrmsr                            /* LME (and NXE) as the BSP has them */
	movl %cr0, %eax
	orl $0x80010001, %eax            /* PG, WP, PE */
	movl %eax, %cr0
	ljmpl *TR_OFF(ap_tr_jmp64)(%ebx)

	/* Data the BSP fills in before each SIPI. */
	.balign 8
ap_tr_gdt:
	.quad 0
	.quad 0x00af9a000000ffff         /* 0x08: 64-bit code */
	.quad 0x00cf92000000ffff         /* 0x10: data */
	.quad 0x00cf9a000000ffff         /* 0x18: 32-bit code */
ap_tr_gdt_ptr:
	.short 4 * 8 - 1
	.long 0                          /* linear address of ap_tr_gdt */
	.balign 8
ap_tr_jmp32:
	.long 0                          /* linear address of ap_tr_pm32 */
	.short 0x18
	.balign 8
ap_tr_jmp64:
	.long 0                          /* ap_entry64 */
	.short 0x08
	.balign 8
ap_tr_cr3:
	.quad 0
ap_tr_efer:
	.quad 0
ap_tr_stack:
	.quad 0
ap_tr_percpu:
	.quad 0
ap_trampoline_end:

	.section .text.boot, "ax"
	.code64
	.globl ap_entry64
ap_entry64:
	LOAD_BOOT_DATA_SEGMENTS
	movl %ebx, %ebx
	movq TR_OFF(ap_tr_stack)(%rbx), %rsp
	movq TR_OFF(ap_tr_percpu)(%rbx), %rdi
	xorl %ebp, %ebp
	call ap_main
1:	cli
	hlt
	jmp 1b

	.section .note.GNU-stack, "", @progbits
