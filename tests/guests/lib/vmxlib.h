/* A tiny 32-bit VMX host for the test L1 hypervisor: VMCS encodings, VMX instructions with their outcome, and L2 runs. */
#ifndef VMXLIB_H
#define VMXLIB_H

#include "guest.h"

/* VMCS field encodings (SDM Appendix B). 64-bit fields are written as two halves from 32-bit code. */
enum vmcs_enc {
	VPID_CTL = 0x0000,
	G_ES_SEL = 0x800, G_CS_SEL = 0x802, G_SS_SEL = 0x804, G_DS_SEL = 0x806, G_FS_SEL = 0x808,
	G_GS_SEL = 0x80a, G_LDTR_SEL = 0x80c, G_TR_SEL = 0x80e, G_PML_INDEX = 0x812,
	H_ES_SEL = 0xc00, H_CS_SEL = 0xc02, H_SS_SEL = 0xc04, H_DS_SEL = 0xc06, H_FS_SEL = 0xc08,
	H_GS_SEL = 0xc0a, H_TR_SEL = 0xc0c,
	IO_BITMAP_A = 0x2000, IO_BITMAP_B = 0x2002, MSR_BITMAP = 0x2004,
	EXIT_MSR_STORE_ADDR = 0x2006, EXIT_MSR_LOAD_ADDR = 0x2008, ENTRY_MSR_LOAD_ADDR = 0x200a,
	PML_ADDR = 0x200e, TSC_OFFSET = 0x2010, EPT_POINTER = 0x201a,
	G_PHYS_ADDR = 0x2400,
	VMCS_LINK = 0x2800, G_DEBUGCTL = 0x2802, G_PDPTE0 = 0x280a,
	PIN_CTL = 0x4000, PROC_CTL = 0x4002, EXC_BITMAP = 0x4004, PF_MASK = 0x4006, PF_MATCH = 0x4008,
	CR3_TARGET_COUNT = 0x400a, EXIT_CTL = 0x400c, EXIT_MSR_STORE_COUNT = 0x400e,
	EXIT_MSR_LOAD_COUNT = 0x4010, ENTRY_CTL = 0x4012, ENTRY_MSR_LOAD_COUNT = 0x4014,
	ENTRY_INTR_INFO = 0x4016, ENTRY_EXC_ERR = 0x4018, ENTRY_INSN_LEN = 0x401a, TPR_THRESHOLD = 0x401c,
	PROC_CTL2 = 0x401e,
	INSN_ERROR = 0x4400, EXIT_REASON = 0x4402, EXIT_INTR_INFO = 0x4404, EXIT_INTR_ERR = 0x4406,
	IDT_VEC_INFO = 0x4408, IDT_VEC_ERR = 0x440a, EXIT_INSN_LEN = 0x440c, EXIT_INSN_INFO = 0x440e,
	G_ES_LIMIT = 0x4800, G_CS_LIMIT = 0x4802, G_SS_LIMIT = 0x4804, G_DS_LIMIT = 0x4806,
	G_FS_LIMIT = 0x4808, G_GS_LIMIT = 0x480a, G_LDTR_LIMIT = 0x480c, G_TR_LIMIT = 0x480e,
	G_GDTR_LIMIT = 0x4810, G_IDTR_LIMIT = 0x4812,
	G_ES_AR = 0x4814, G_CS_AR = 0x4816, G_SS_AR = 0x4818, G_DS_AR = 0x481a, G_FS_AR = 0x481c,
	G_GS_AR = 0x481e, G_LDTR_AR = 0x4820, G_TR_AR = 0x4822,
	G_INTERRUPTIBILITY = 0x4824, G_ACTIVITY = 0x4826, G_SYSENTER_CS = 0x482a, PREEMPT_TIMER = 0x482e,
	H_SYSENTER_CS = 0x4c00,
	CR0_MASK = 0x6000, CR4_MASK = 0x6002, CR0_SHADOW = 0x6004, CR4_SHADOW = 0x6006,
	EXIT_QUAL = 0x6400, G_LINEAR = 0x640a,
	G_CR0 = 0x6800, G_CR3 = 0x6802, G_CR4 = 0x6804,
	G_ES_BASE = 0x6806, G_CS_BASE = 0x6808, G_SS_BASE = 0x680a, G_DS_BASE = 0x680c,
	G_FS_BASE = 0x680e, G_GS_BASE = 0x6810, G_LDTR_BASE = 0x6812, G_TR_BASE = 0x6814,
	G_GDTR_BASE = 0x6816, G_IDTR_BASE = 0x6818, G_DR7 = 0x681a, G_RSP = 0x681c, G_RIP = 0x681e,
	G_RFLAGS = 0x6820, G_PENDING_DBG = 0x6822, G_SYSENTER_ESP = 0x6824, G_SYSENTER_EIP = 0x6826,
	H_CR0 = 0x6c00, H_CR3 = 0x6c02, H_CR4 = 0x6c04, H_FS_BASE = 0x6c06, H_GS_BASE = 0x6c08,
	H_TR_BASE = 0x6c0a, H_GDTR_BASE = 0x6c0c, H_IDTR_BASE = 0x6c0e, H_SYSENTER_ESP = 0x6c10,
	H_SYSENTER_EIP = 0x6c12, H_RSP = 0x6c14, H_RIP = 0x6c16,
};

/* The outcome of one VMX instruction (SDM 31.2: CF=1 VMfailInvalid, ZF=1 VMfailValid) or the fault it raised. */
enum vmx_outcome { VMX_OK, VMX_FAIL_INVALID, VMX_FAIL_VALID, VMX_FAULT };

struct vmx_result {
	enum vmx_outcome outcome;
	uint32_t error;  /* VM-instruction error for VMfailValid */
	uint32_t vector; /* for VMX_FAULT */
	uint32_t value;  /* what VMREAD or VMPTRST returned */
};

/* L2's general registers as the exit stub saves them (pushal order reversed: edi first). */
struct l2_regs {
	uint32_t edi, esi, ebp, esp_unused, ebx, edx, ecx, eax;
};
extern struct l2_regs l2;

struct vmx_result vmxon(uint64_t pa);
struct vmx_result vmxoff(void);
struct vmx_result vmclear(uint64_t pa);
struct vmx_result vmptrld(uint64_t pa);
struct vmx_result vmptrst(void);
struct vmx_result vmread(uint32_t field);
struct vmx_result vmwrite(uint32_t field, uint32_t value);
/* INVEPT / INVVPID (SDM 31.3): the type in a register, a 128-bit descriptor in memory. */
struct inv_desc {
	uint64_t lo, hi;
};
struct vmx_result invept(uint32_t type, const struct inv_desc *d);
struct vmx_result invvpid(uint32_t type, const struct inv_desc *d);
uint32_t vmr(uint32_t field);               /* VMREAD that must succeed */
void vmw(uint32_t field, uint32_t value);   /* VMWRITE that must succeed */
void vmw64(uint32_t field, uint64_t value); /* both halves of a 64-bit field */

/*
 * Enters L2 with the registers in `l2` (VMLAUNCH if !launched, else
 * VMRESUME). VMX_OK means a VM exit happened (L2's registers are back in
 * `l2`); otherwise the instruction's failure.
 */
struct vmx_result vmx_enter(bool launched);
extern uint32_t fail_flags;
/* HOST_RIP of every VMCS: saves L2's registers and returns from vmx_enter(). */
void vmx_exit_stub(void);

/* "vmfail-valid 7", "ok", ... for transcripts. */
const char *vmx_outcome_name(const struct vmx_result *r);
void vmx_print(const char *what, const struct vmx_result *r);


/* ---- vmxhost.c: the host side shared by the test L1 hypervisors ---- */
#define VMX_CR4_VMXE (1u << 13)

struct vmx_host_caps {
	uint64_t basic;
	uint32_t revision, maxphyaddr;
	uint32_t pin_lo, pin_hi, proc_lo, proc_hi, exit_lo, exit_hi, entry_lo, entry_hi; /* allowed 0/1 */
};
extern struct vmx_host_caps vmx_host;

/* Where L2 starts and what its VMCS points at (physical = linear here). */
struct l2_setup {
	uint32_t rip, rsp, idt_base, idt_limit;
	uint32_t io_bitmap_a, io_bitmap_b, msr_bitmap;
};

void vmx_host_setup_cpu(uint32_t hole);
void vmx_host_set_vmxe(bool on);
bool vmx_host_read_caps(void);                 /* false: CPUID shows no VMX */
uint64_t vmx_rdmsr(uint32_t msr);              /* prints a fault, returns 0 then */
uint32_t vmx_adjust(uint32_t want, uint32_t lo, uint32_t hi);
void vmx_host_setup_vmcs(const struct l2_setup *s); /* controls at their defaults, host = this context */

#endif
