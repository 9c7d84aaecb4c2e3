/* Boot entries: the multiboot2 header and 32-bit entry (GRUB), the 64-bit entry (our UEFI loader); both relocate the image where it was loaded and enter long mode on our own tables. */

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

#define HV_LINK_BASE      0x200000 /* linker.ld: the link address; the image runs wherever it is loaded */
#define MB2_TAG_LOAD_BASE 21       /* Multiboot2 spec 3.6.16: image load base physical address */
#define OFF(sym) ((sym) - mb2_header)


	.section .multiboot2, "a"
	.balign 8
	.globl mb2_header
mb2_header:
	.long MB2_MAGIC
	.long MB2_ARCH_I386
	.long mb2_header_end - mb2_header
	.long -(MB2_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))
	/* Information request (Multiboot2 spec 3.1.4): mmap, modules, cmdline, load base, ACPI. */
	.balign 8
mb2_info_req:
	.short 1, 0
	.long mb2_info_req_end - mb2_info_req
	.long 1, 3, 6, MB2_TAG_LOAD_BASE
mb2_info_req_end:
	/* Module alignment tag: modules page-aligned so they can be mapped to L1 as they are. */
	.balign 8
	.short 6, 0
	.long 8
	/*
	 * Relocatable tag (spec 3.1.11): the image is position independent, so
	 * GRUB may put it anywhere in [2 MiB, 4 GiB), 2 MiB aligned; "high" keeps
	 * it at the top of RAM, out of the way of L1, which owns the rest.
	 */
	.balign 8
	.short 10, 0
	.long 24
	.long HV_LINK_BASE       /* min_addr: never below the link address, so the delta is >= 0 */
	.long 0xffffffff         /* max_addr: the boot page tables map the low 4 GiB */
	.long 0x200000           /* align */
	.long 2                  /* preference: highest */
	/* End tag. */
	.balign 8
	.short 0, 0
	.long 8
mb2_header_end:

/*
 * Offsets from the image start (mb2_header, first in the image: linker.ld)
 * for the 32-bit entry: the image is position independent and 32-bit code
 * cannot name an address, only base + offset.
 */
	.balign 4
off_stack_top:  .long boot_stack_top - mb2_header
off_bss_start:  .long __bss_start - mb2_header
off_bss_end:    .long __bss_end - mb2_header
off_rela_start: .long __rela_start - mb2_header
off_rela_end:   .long __rela_end - mb2_header
off_pml4:       .long boot_pml4 - mb2_header
off_gdt_ptr:    .long boot_gdt_ptr - mb2_header
off_lm64:       .long long_mode_from32 - mb2_header
off_msg:        .long no_long_mode_msg - mb2_header

	/*
	 * The header our UEFI loader looks for (struct hv_image_header,
	 * hv/boot_info.h): link-time addresses, as constants (no relocation:
	 * the loader reads them before the image relocates itself).
	 */
	.balign 16
	.quad 0x3147414d49564821
	.quad HV_LINK_BASE + (hv_entry64 - mb2_header)
	.quad HV_LINK_BASE + (__image_start - mb2_header)
	.quad HV_LINK_BASE + (__image_end - mb2_header)

	.section .text.boot, "ax"
	.code32
	.globl mb2_entry32
mb2_entry32:
	/* GRUB: EAX = magic, EBX = boot information, paging off, no stack (Multiboot2 spec 3.3). */
	cli
	cld
	movl %eax, %ebp
	movl %ebx, %esi

	/* EDI: where the image is, from GRUB's load base tag; without one, where it was linked. */
	movl $HV_LINK_BASE, %edi
	cmpl $MB2_BOOT_MAGIC, %eax
	jne 3f
	movl (%ebx), %ecx
	addl %ebx, %ecx                  /* ECX: end of the boot information */
	leal 8(%ebx), %edx               /* EDX: first tag */
1:	leal 12(%edx), %eax
	cmpl %ecx, %eax
	ja 3f
	movl (%edx), %eax
	testl %eax, %eax
	jz 3f                            /* end tag */
	cmpl $MB2_TAG_LOAD_BASE, %eax
	je 2f
	movl 4(%edx), %eax
	cmpl $8, %eax
	jb 3f                            /* malformed: stop, keep the link address */
	addl $7, %eax
	andl $~7, %eax
	addl %eax, %edx
	jmp 1b
2:	movl 8(%edx), %edi
3:	movl OFF(off_stack_top)(%edi), %esp
	addl %edi, %esp

	/* Apply the image's own relocations (all R_X86_64_RELATIVE, checked at build time). */
	movl %edi, %ebx
	subl $HV_LINK_BASE, %ebx         /* EBX: load address - link address */
	movl OFF(off_rela_start)(%edi), %ecx
	addl %edi, %ecx
	movl OFF(off_rela_end)(%edi), %edx
	addl %edi, %edx
4:	cmpl %edx, %ecx
	jae 5f
	movl (%ecx), %eax                /* r_offset */
	addl %ebx, %eax
	pushl %edx
	movl 16(%ecx), %edx              /* r_addend, low half */
	addl %ebx, %edx
	movl %edx, (%eax)
	movl 20(%ecx), %edx              /* high half, plus the carry (mov leaves the flags) */
	adcl $0, %edx
	movl %edx, 4(%eax)
	popl %edx
	addl $24, %ecx
	jmp 4b

	/* Zero .bss ourselves: it holds the stack and page tables we are about to use. */
5:	movl %edi, %edx                  /* not on the stack: the stack is in .bss */
	movl OFF(off_bss_start)(%edi), %eax
	addl %edi, %eax
	movl OFF(off_bss_end)(%edi), %ecx
	addl %edi, %ecx
	subl %eax, %ecx
	movl %eax, %edi
	xorl %eax, %eax
	rep stosb
	movl %edx, %edi
	movl OFF(off_stack_top)(%edi), %esp
	addl %edi, %esp

	call check_long_mode

	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl OFF(off_pml4)(%edi), %eax
	addl %edi, %eax
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

	movl OFF(off_gdt_ptr)(%edi), %eax
	addl %edi, %eax
	lgdt (%eax)
	/* A far return: a far jump would need the target's address in the instruction. */
	pushl $BOOT_CS
	movl OFF(off_lm64)(%edi), %eax
	addl %edi, %eax
	pushl %eax
	lret

/* A CPU without long mode cannot run us: say so on COM1 and stop. EDI: the image base. */
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
2:	movl OFF(off_msg)(%edi), %esi
	addl %edi, %esi
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
	leaq boot_stack_top(%rip), %rsp
	movl %ebp, %edi          /* multiboot2 magic */
	movl %esi, %esi          /* boot information address, zero-extended */
	xorl %ebp, %ebp          /* ends the stack trace */
	call hv_main_multiboot2
	jmp halt_forever

/*
 * hv_entry64(struct boot_info *bi): our UEFI loader's entry (SysV ABI, long
 * mode, firmware's identity map and stack), wherever the loader put the
 * image. Relocate, then leave the firmware's stack and tables.
 */
	.globl hv_entry64
hv_entry64:
	cli
	cld
	movq %rdi, %r12
	leaq mb2_header(%rip), %rbx
	subq $HV_LINK_BASE, %rbx         /* RBX: load address - link address */
	leaq __rela_start(%rip), %rcx
	leaq __rela_end(%rip), %rdx
1:	cmpq %rdx, %rcx
	jae 2f
	movq (%rcx), %rax
	addq %rbx, %rax
	movq 16(%rcx), %rsi
	addq %rbx, %rsi
	movq %rsi, (%rax)
	addq $24, %rcx
	jmp 1b
2:	leaq __bss_start(%rip), %rdi
	leaq __bss_end(%rip), %rcx
	subq %rdi, %rcx
	xorl %eax, %eax
	rep stosb
	leaq boot_stack_top(%rip), %rsp
	leaq boot_pml4(%rip), %rax
	movq %rax, %cr3
	lgdt boot_gdt_ptr(%rip)
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
 * image, the boot information, the modules and the local APIC. Its pointers
 * are relocated with the image, so both entries just load CR3; paging.c
 * extends it past 4 GiB.
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
