/* Boot entries: the multiboot2 header and 32-bit entry (GRUB), the 64-bit entry (our UEFI loader), both into long mode on our own tables. */

#include "boot/asm.h"

#define MB2_MAGIC        0xe85250d6
#define MB2_ARCH_I386    0
#define MB2_BOOT_MAGIC   0x36d76289

#define PTE_P   0x1
#define PTE_W   0x2
#define PTE_PS  0x80

#define CR0_PE  0x1
#define CR0_WP  0x10000
#define CR0_PG  0x80000000
#define CR4_PAE 0x20
#define EFER_MSR 0xc0000080
#define EFER_LME 0x100
#define EFER_NXE 0x800


	.section .multiboot2, "a"
	.balign 8
mb2_header:
	.long MB2_MAGIC
	.long MB2_ARCH_I386
	.long mb2_header_end - mb2_header
	.long -(MB2_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))
	/* Information request (Multiboot2 spec 3.1.4): mmap, modules, cmdline, ACPI. */
	.balign 8
mb2_info_req:
	.short 1, 0
	.long mb2_info_req_end - mb2_info_req
	.long 1, 3, 6
mb2_info_req_end:
	/* Module alignment tag: modules page-aligned so they can be mapped to L1 as they are. */
	.balign 8
	.short 6, 0
	.long 8
	/* End tag. */
	.balign 8
	.short 0, 0
	.long 8
mb2_header_end:

	/* The header our UEFI loader looks for (struct hv_image_header, hv/boot_info.h). */
	.section .hvhdr, "a"
	.balign 16
	.quad 0x3147414d49564821
	.quad hv_entry64
	.quad __image_start
	.quad __image_end

	.section .text.boot, "ax"
	.code32
	.globl mb2_entry32
mb2_entry32:
	/* GRUB: EAX = magic, EBX = boot information, paging off (Multiboot2 spec 3.3). */
	cli
	cld
	movl %eax, %ebp
	movl %ebx, %esi
	movl $boot_stack_top, %esp

	/* Zero .bss ourselves: it holds the stack and page tables we are about to use. */
	movl $__bss_start, %edi
	movl $__bss_end, %ecx
	subl %edi, %ecx
	xorl %eax, %eax
	rep stosb

	call check_long_mode

	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $boot_pml4, %eax
	movl %eax, %cr3
	movl $EFER_MSR, %ecx
	rdmsr
	orl $EFER_LME, %eax
	movl %eax, %ebx
	/* NX is optional here; set it only where CPUID.80000001H:EDX[20] says it exists. */
	pushl %ebx
	movl $0x80000001, %eax
	cpuid
	popl %ebx
	testl $(1 << 20), %edx
	jz 1f
	orl $EFER_NXE, %ebx
1:	movl %ebx, %eax
	xorl %edx, %edx
	movl $EFER_MSR, %ecx
	wrmsr
	movl %cr0, %eax
	orl $(CR0_PG | CR0_PE | CR0_WP), %eax
	movl %eax, %cr0

	lgdt boot_gdt_ptr
	ljmp $BOOT_CS, $long_mode_from32

/* A CPU without long mode cannot run us: say so on COM1 and stop. */
check_long_mode:
	pushl %ebx
	movl $0x80000000, %eax
	cpuid
	cmpl $0x80000001, %eax
	jb 2f
	movl $0x80000001, %eax
	cpuid
	testl $(1 << 29), %edx
	jz 2f
	popl %ebx
	ret
2:	movl $no_long_mode_msg, %esi
3:	lodsb
	testb %al, %al
	jz 4f
	movw $0x3f8, %dx
	outb %al, %dx
	jmp 3b
4:	cli
	hlt
	jmp 4b

	.code64
long_mode_from32:
	LOAD_BOOT_DATA_SEGMENTS
	movq $boot_stack_top, %rsp
	movl %ebp, %edi          /* multiboot2 magic */
	movl %esi, %esi          /* boot information address, zero-extended */
	xorl %ebp, %ebp          /* ends the stack trace */
	call hv_main_multiboot2
	jmp halt_forever

/*
 * hv_entry64(struct boot_info *bi): our UEFI loader's entry (SysV ABI, long
 * mode, firmware's identity map and stack). Leave both before anything else.
 */
	.globl hv_entry64
hv_entry64:
	cli
	cld
	movq %rdi, %r12
	movq $__bss_start, %rdi
	movq $__bss_end, %rcx
	subq %rdi, %rcx
	xorl %eax, %eax
	rep stosb
	movq $boot_stack_top, %rsp
	movq $boot_pml4, %rax
	movq %rax, %cr3
	lgdt boot_gdt_ptr
	pushq $BOOT_CS
	leaq 1f(%rip), %rax
	pushq %rax
	lretq
1:	LOAD_BOOT_DATA_SEGMENTS
	movq %r12, %rdi
	xorl %ebp, %ebp
	call hv_main_uefi
	jmp halt_forever

halt_forever:
	cli
	hlt
	jmp halt_forever

	.section .rodata
no_long_mode_msg:
	.asciz "hv: this CPU has no long mode (CPUID.80000001H:EDX[29] = 0); the hypervisor needs x86-64\r\n"

	.section .data
	.balign 16
boot_gdt:
	.quad 0
	.quad 0x00af9a000000ffff /* 0x08: 64-bit code */
	.quad 0x00cf92000000ffff /* 0x10: data */
boot_gdt_end:
	.balign 16
boot_gdt_ptr:
	.short boot_gdt_end - boot_gdt - 1
	.quad boot_gdt

/*
 * The boot identity map of the low 4 GiB in 2 MiB pages: enough for the
 * image, the boot information, the modules and the local APIC. It is fixed
 * at link time, so both entries just load CR3; paging.c extends it past 4 GiB.
 */
	.balign 4096
	.globl boot_pml4, boot_pdpt
boot_pml4:
	.quad boot_pdpt + (PTE_P | PTE_W)
	.fill 511, 8, 0
boot_pdpt:
	.quad boot_pd + (PTE_P | PTE_W)
	.quad boot_pd + 0x1000 + (PTE_P | PTE_W)
	.quad boot_pd + 0x2000 + (PTE_P | PTE_W)
	.quad boot_pd + 0x3000 + (PTE_P | PTE_W)
	.fill 508, 8, 0
boot_pd:
	.set pd_index, 0
	.rept 2048
	.quad (pd_index << 21) | (PTE_P | PTE_W | PTE_PS)
	.set pd_index, pd_index + 1
	.endr

	.section .bss
	.balign 4096
	.globl boot_stack_top
boot_stack:
	.skip 16384
boot_stack_top:

	.section .note.GNU-stack, "", @progbits
