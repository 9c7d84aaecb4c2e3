/* The test L1 hypervisor's VMX layer: each VMX instruction with its SDM 31.2 outcome (or fault), and the L2 entry/exit stub. */
#include "vmxlib.h"

struct l2_regs l2;
uint32_t fail_flags __attribute__((used)); /* written by the entry stub */

#define RFLAGS_CF (1u << 0)
#define RFLAGS_ZF (1u << 6)

static uint32_t raw_vmread(uint32_t field)
{
	uint32_t v = 0;

	__asm__ volatile("vmread %1, %0" : "=rm"(v) : "r"(field) : "cc");
	return v;
}

static struct vmx_result outcome(bool faulted, uint32_t flags)
{
	struct vmx_result r = { VMX_OK, 0, 0, 0 };

	if (faulted) {
		r.outcome = VMX_FAULT;
		r.vector = last_fault.vector;
	} else if (flags & RFLAGS_CF) {
		r.outcome = VMX_FAIL_INVALID;
	} else if (flags & RFLAGS_ZF) {
		r.outcome = VMX_FAIL_VALID;
		r.error = raw_vmread(INSN_ERROR);
	}
	return r;
}

/* One VMX instruction with a 64-bit memory operand, its flags captured, a fault recovered. */
#define VMX_MEM_INSN(name)                                                                      \
	struct vmx_result name(uint64_t pa)                                                     \
	{                                                                                       \
		uint32_t flags = 0;                                                             \
		bool f = FAULT_PROBE(#name " %[pa]\n\tpushfl\n\tpopl %[fl]", ,                  \
				     [fl] "+r"(flags) : [pa] "m"(pa) : "cc", "memory");         \
		return outcome(f, flags);                                                       \
	}
VMX_MEM_INSN(vmxon)
VMX_MEM_INSN(vmclear)
VMX_MEM_INSN(vmptrld)

/* INVEPT/INVVPID: the same outcomes as the other VMX instructions (VMfailValid 28 for a bad type or descriptor). */
#define VMX_INV_INSN(name)                                                                      \
	struct vmx_result name(uint32_t type, const struct inv_desc *d)                        \
	{                                                                                       \
		uint32_t flags = 0;                                                             \
		bool f = FAULT_PROBE(#name " %[d], %[t]\n\tpushfl\n\tpopl %[fl]", ,               \
				     [fl] "+r"(flags) : [d] "m"(*d), [t] "r"(type) : "cc", "memory"); \
		return outcome(f, flags);                                                       \
	}
VMX_INV_INSN(invept)
VMX_INV_INSN(invvpid)

struct vmx_result vmxoff(void)
{
	uint32_t flags = 0;
	bool f = FAULT_PROBE("vmxoff\n\tpushfl\n\tpopl %[fl]", , [fl] "+r"(flags) : : "cc", "memory");

	return outcome(f, flags);
}

struct vmx_result vmptrst(void)
{
	uint64_t pa = 0x1111111111111111ull;
	uint32_t flags = 0;
	bool f = FAULT_PROBE("vmptrst %[pa]\n\tpushfl\n\tpopl %[fl]", , [fl] "+r"(flags), [pa] "+m"(pa) : : "cc", "memory");
	struct vmx_result r = outcome(f, flags);

	r.value = (uint32_t)pa;
	if ((pa >> 32) == 0xffffffffu && r.value == 0xffffffffu)
		r.value = 0xffffffffu; /* "no current VMCS": all ones, kept as all ones in the low half */
	return r;
}

struct vmx_result vmread(uint32_t field)
{
	uint32_t flags = 0, v = 0xdeadbeef;
	bool f = FAULT_PROBE("vmread %[fd], %[v]\n\tpushfl\n\tpopl %[fl]", , [fl] "+r"(flags), [v] "+r"(v)
			     : [fd] "r"(field) : "cc", "memory");
	struct vmx_result r = outcome(f, flags);

	r.value = v;
	return r;
}

struct vmx_result vmwrite(uint32_t field, uint32_t value)
{
	uint32_t flags = 0;
	bool f = FAULT_PROBE("vmwrite %[v], %[fd]\n\tpushfl\n\tpopl %[fl]", , [fl] "+r"(flags)
			     : [fd] "r"(field), [v] "r"(value) : "cc", "memory");

	return outcome(f, flags);
}

const char *vmx_outcome_name(const struct vmx_result *r)
{
	static const char *const names[] = { "ok", "vmfail-invalid", "vmfail-valid", "fault" };

	return names[r->outcome];
}

void vmx_print(const char *what, const struct vmx_result *r)
{
	if (r->outcome == VMX_FAIL_VALID)
		printf("%s: vmfail-valid %u\n", what, r->error);
	else if (r->outcome == VMX_FAULT)
		printf("%s: fault vector=%u err=0x%x\n", what, r->vector, last_fault.error);
	else
		printf("%s: %s\n", what, vmx_outcome_name(r));
}

uint32_t vmr(uint32_t field)
{
	struct vmx_result r = vmread(field);

	if (r.outcome != VMX_OK) {
		printf("vmread 0x%x failed: ", field);
		vmx_print("vmread", &r);
		guest_exit(GUEST_FAIL);
	}
	return r.value;
}

void vmw(uint32_t field, uint32_t value)
{
	struct vmx_result r = vmwrite(field, value);

	if (r.outcome != VMX_OK) {
		printf("vmwrite 0x%x=0x%x failed: ", field, value);
		vmx_print("vmwrite", &r);
		guest_exit(GUEST_FAIL);
	}
}

void vmw64(uint32_t field, uint64_t value)
{
	vmw(field, (uint32_t)value);
	vmw(field + 1, (uint32_t)(value >> 32));
}

/* Returns 0xffffffff after a VM exit, else RFLAGS after a failed VMLAUNCH/VMRESUME. */
uint32_t vmx_enter_asm(uint32_t launched);

/*
 * L1's registers are pushed and HOST_RSP points at them, so the exit stub
 * (HOST_RIP) only saves L2's registers and pops L1's: one function call
 * from L1's point of view, whichever way it ends.
 */
__asm__(
	"	.text\n"
	"	.globl vmx_enter_asm\n"
	"vmx_enter_asm:\n"
	"	pushal\n"
	"	movl 36(%esp), %eax\n"
	"	movl $0x6c14, %edx\n"   /* HOST_RSP */
	"	vmwrite %esp, %edx\n"
	"	testl %eax, %eax\n"
	"	movl l2+0, %edi\n"
	"	movl l2+4, %esi\n"
	"	movl l2+8, %ebp\n"
	"	movl l2+16, %ebx\n"
	"	movl l2+20, %edx\n"
	"	movl l2+24, %ecx\n"
	"	movl l2+28, %eax\n"
	"	jnz 1f\n"
	"	vmlaunch\n"
	"	jmp 2f\n"
	"1:	vmresume\n"
	"2:	pushfl\n"
	"	popl fail_flags\n"
	"	popal\n"
	"	movl fail_flags, %eax\n"
	"	ret\n"
	"	.globl vmx_exit_stub\n"
	"vmx_exit_stub:\n"
	"	movl %edi, l2+0\n"
	"	movl %esi, l2+4\n"
	"	movl %ebp, l2+8\n"
	"	movl %ebx, l2+16\n"
	"	movl %edx, l2+20\n"
	"	movl %ecx, l2+24\n"
	"	movl %eax, l2+28\n"
	"	popal\n"
	"	movl $0xffffffff, %eax\n"
	"	ret\n");

struct vmx_result vmx_enter(bool launched)
{
	uint32_t flags = vmx_enter_asm(launched);

	if (flags == 0xffffffffu)
		return (struct vmx_result){ VMX_OK, 0, 0, 0 };
	return outcome(false, flags);
}
