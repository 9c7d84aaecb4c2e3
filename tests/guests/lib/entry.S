/* Guest entry: Multiboot v1 header, own GDT and stack, then guest_start(); plus the exception stubs. */
#define MB1_HEADER_MAGIC 0x1BADB002
#define MB1_HEADER_FLAGS 0x00000003 /* page-aligned modules, memory information */

	.section .multiboot, "a"
	.align 4
	.long MB1_HEADER_MAGIC
	.long MB1_HEADER_FLAGS
	.long -(MB1_HEADER_MAGIC + MB1_HEADER_FLAGS)

	.text
	.globl _start
_start:
	cli
	/* The loader's GDT may be gone (Multiboot says so), so switch to ours before any segment load. */
	movl %eax, %esi
	movl %ebx, %edi
	lgdt gdt_desc
	ljmp $0x08, $1f
1:	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	movw %ax, %ss
	movl $stack_top, %esp
	cld
	pushl %edi
	pushl %esi
	call guest_start
2:	cli
	hlt
	jmp 2b

/* Exception stubs: push a zero error code where the CPU pushes none, so every frame looks alike. */
.macro ISR_NOERR vec
	.globl isr\vec
isr\vec:
	pushl $0
	pushl $\vec
	jmp isr_common
.endm
.macro ISR_ERR vec
	.globl isr\vec
isr\vec:
	pushl $\vec
	jmp isr_common
.endm

ISR_NOERR 0
ISR_NOERR 1
ISR_NOERR 2
ISR_NOERR 3
ISR_NOERR 4
ISR_NOERR 5
ISR_NOERR 6
ISR_NOERR 7
ISR_ERR 8
ISR_NOERR 9
ISR_ERR 10
ISR_ERR 11
ISR_ERR 12
ISR_ERR 13
ISR_ERR 14
ISR_NOERR 15
ISR_NOERR 16
ISR_ERR 17
ISR_NOERR 18
ISR_NOERR 19
ISR_NOERR 20
ISR_ERR 21
ISR_NOERR 22
ISR_NOERR 23
ISR_NOERR 24
ISR_NOERR 25
ISR_NOERR 26
ISR_NOERR 27
ISR_NOERR 28
ISR_ERR 29
ISR_ERR 30
ISR_NOERR 31

isr_common:
	pushal
	/* A faulting segment load leaves DS intact, but reload it anyway so C code runs on known segments. */
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	pushl %esp
	call exception_handler
	addl $4, %esp
	popal
	addl $8, %esp
	iret

	.section .rodata
	.globl isr_table
	.align 4
isr_table:
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.long isr\v
	.endr

	.data
	.align 8
	/* Selector 0x18 is a data segment marked not present: loading it raises #NP for the faults test. */
	.globl gdt
gdt:
	.quad 0
	.quad 0x00cf9a000000ffff /* 0x08: code, flat 4 GiB */
	.quad 0x00cf92000000ffff /* 0x10: data, flat 4 GiB */
	.quad 0x00cf12000000ffff /* 0x18: data, not present */
gdt_end:
gdt_desc:
	.word gdt_end - gdt - 1
	.long gdt

	.bss
	.align 16
stack:
	.skip 16384
stack_top:
