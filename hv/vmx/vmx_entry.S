/* VM-entry and VM-exit stubs: the guest's GPRs go to and from struct guest_regs on the exit stack, nothing else. */

/*
 * HOST_RSP points 16 bytes below the exit stack's top; the vcpu pointer sits
 * at top-8. On a VM exit the CPU loads RSP/RIP from the host-state area
 * (SDM 28.5.1) and leaves every GPR as the guest had it: push them in the
 * order of struct guest_regs (rax lowest), call the C dispatcher, pop them
 * and VMRESUME. 16 pushes keep RSP 16-byte aligned for the call (SysV ABI).
 */
.macro POP_GUEST_REGS
	pop %rax
	pop %rcx
	pop %rdx
	pop %rbx
	add $8, %rsp
	pop %rbp
	pop %rsi
	pop %rdi
	pop %r8
	pop %r9
	pop %r10
	pop %r11
	pop %r12
	pop %r13
	pop %r14
	pop %r15
.endm

/* One stub per C entry: the boot vCPU's exits stay free of the APs' extra step. */
.macro EXIT_STUB name, handler
	.globl \name
	.type \name, @function
\name:
	push %r15
	push %r14
	push %r13
	push %r12
	push %r11
	push %r10
	push %r9
	push %r8
	push %rdi
	push %rsi
	push %rbp
	sub $8, %rsp            /* the rsp slot: RSP is in the VMCS */
	push %rbx
	push %rdx
	push %rcx
	push %rax
	mov %rsp, %rdi          /* struct guest_regs * */
	mov 136(%rsp), %rsi     /* struct vcpu * at top-8 */
	call \handler
	POP_GUEST_REGS
	vmresume
	/* VMRESUME failed (SDM 31.2): the registers are still on the stack below. */
	sub $128, %rsp
	mov %rsp, %rdi
	mov 136(%rsp), %rsi
	call vmx_resume_failed  /* does not return */
	ud2
	.size \name, . - \name
.endm

	.text
EXIT_STUB vmx_exit_stub, vmx_handle_exit
EXIT_STUB vmx_exit_stub_ap, vmx_handle_exit_ap
/* vmcs02's HOST_RIP: L2's exits never pass through L1's dispatcher, which therefore pays nothing for nesting. */
EXIT_STUB vmx_exit_stub_l2, vmx_handle_exit_l2

/*
 * int vmx_launch(struct guest_regs *regs): loads the guest's GPRs and
 * executes VMLAUNCH. On success the guest runs and every exit arrives at
 * vmx_exit_stub on the exit stack; this only returns (-1) when VMLAUNCH
 * fails. vmx_resume_regs() is the same with VMRESUME, for resuming a guest
 * from outside the exit stub's path.
 */
.macro ENTER_GUEST name, insn
	.globl \name
	.type \name, @function
\name:
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rdi, %rax
	mov 8(%rax), %rcx
	mov 16(%rax), %rdx
	mov 24(%rax), %rbx
	mov 40(%rax), %rbp
	mov 48(%rax), %rsi
	mov 56(%rax), %rdi
	mov 64(%rax), %r8
	mov 72(%rax), %r9
	mov 80(%rax), %r10
	mov 88(%rax), %r11
	mov 96(%rax), %r12
	mov 104(%rax), %r13
	mov 112(%rax), %r14
	mov 120(%rax), %r15
	mov 0(%rax), %rax
	\insn
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	mov $-1, %eax
	ret
	.size \name, . - \name
.endm

ENTER_GUEST vmx_launch, vmlaunch
ENTER_GUEST vmx_resume_regs, vmresume

	.section .note.GNU-stack, "", @progbits
