/* Exceptions taken by the hypervisor itself: the frame the entry stubs build, and the handler. */
#ifndef HV_TRAPS_H
#define HV_TRAPS_H

#include "hv/types.h"

struct trap_frame {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t vector, error_code;
	uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};

void hv_trap(struct trap_frame *f);
/* Prints return addresses by walking the frame-pointer chain from rbp. */
void print_stack_trace(uint64_t rbp);

#endif
