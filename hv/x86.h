/* x86 registers, MSR numbers and the privileged instructions the hypervisor core uses. */
#ifndef HV_X86_H
#define HV_X86_H

#include "hv/types.h"

#define X86_CR0_PE BIT(0)
#define X86_CR0_MP BIT(1)
#define X86_CR0_EM BIT(2)
#define X86_CR0_TS BIT(3)
#define X86_CR0_ET BIT(4)
#define X86_CR0_NE BIT(5)
#define X86_CR0_WP BIT(16)
#define X86_CR0_AM BIT(18)
#define X86_CR0_NW BIT(29)
#define X86_CR0_CD BIT(30)
#define X86_CR0_PG BIT(31)

#define X86_CR4_VME        BIT(0)
#define X86_CR4_PVI        BIT(1)
#define X86_CR4_TSD        BIT(2)
#define X86_CR4_DE         BIT(3)
#define X86_CR4_PSE        BIT(4)
#define X86_CR4_PAE        BIT(5)
#define X86_CR4_MCE        BIT(6)
#define X86_CR4_PGE        BIT(7)
#define X86_CR4_PCE        BIT(8)
#define X86_CR4_OSFXSR     BIT(9)
#define X86_CR4_OSXMMEXCPT BIT(10)
#define X86_CR4_UMIP       BIT(11)
#define X86_CR4_LA57       BIT(12)
#define X86_CR4_VMXE       BIT(13)
#define X86_CR4_SMXE       BIT(14)
#define X86_CR4_FSGSBASE   BIT(16)
#define X86_CR4_PCIDE      BIT(17)
#define X86_CR4_OSXSAVE    BIT(18)
#define X86_CR4_SMEP       BIT(20)
#define X86_CR4_SMAP       BIT(21)
#define X86_CR4_CET        BIT(23)

#define X86_EFER_SCE BIT(0)
#define X86_EFER_LME BIT(8)
#define X86_EFER_LMA BIT(10)
#define X86_EFER_NXE BIT(11)

#define X86_RFLAGS_CF     BIT(0)
#define X86_RFLAGS_FIXED  BIT(1)
#define X86_RFLAGS_PF     BIT(2)
#define X86_RFLAGS_AF     BIT(4)
#define X86_RFLAGS_ZF     BIT(6)
#define X86_RFLAGS_SF     BIT(7)
#define X86_RFLAGS_TF     BIT(8)
#define X86_RFLAGS_DF     BIT(10)
#define X86_RFLAGS_IF     BIT(9)
#define X86_RFLAGS_OF     BIT(11)
/* The six arithmetic status flags. */
#define X86_RFLAGS_ARITH  (X86_RFLAGS_CF | X86_RFLAGS_PF | X86_RFLAGS_AF | X86_RFLAGS_ZF | X86_RFLAGS_SF | X86_RFLAGS_OF)
#define X86_RFLAGS_NT     BIT(14)
#define X86_RFLAGS_RF     BIT(16)
#define X86_RFLAGS_VM     BIT(17)

#define MSR_IA32_APIC_BASE          0x1b
#define MSR_IA32_FEATURE_CONTROL    0x3a
#define MSR_IA32_TSC_ADJUST         0x3b
#define MSR_IA32_SYSENTER_CS        0x174
#define MSR_IA32_SYSENTER_ESP       0x175
#define MSR_IA32_SYSENTER_EIP       0x176
#define MSR_IA32_MISC_ENABLE        0x1a0
#define MSR_IA32_PAT                0x277
#define MSR_IA32_DEBUGCTL           0x1d9
#define DEBUGCTL_BTF                BIT(1) /* single-step on branches (SDM 17.4.1) */
#define MSR_IA32_VMX_BASIC          0x480
#define MSR_IA32_VMX_PINBASED_CTLS  0x481
#define MSR_IA32_VMX_PROCBASED_CTLS 0x482
#define MSR_IA32_VMX_EXIT_CTLS      0x483
#define MSR_IA32_VMX_ENTRY_CTLS     0x484
#define MSR_IA32_VMX_MISC           0x485
#define MSR_IA32_VMX_CR0_FIXED0     0x486
#define MSR_IA32_VMX_CR0_FIXED1     0x487
#define MSR_IA32_VMX_CR4_FIXED0     0x488
#define MSR_IA32_VMX_CR4_FIXED1     0x489
#define MSR_IA32_VMX_VMCS_ENUM      0x48a
#define MSR_IA32_VMX_PROCBASED_CTLS2 0x48b
#define MSR_IA32_VMX_EPT_VPID_CAP   0x48c
#define MSR_IA32_VMX_TRUE_PINBASED_CTLS  0x48d
#define MSR_IA32_VMX_TRUE_PROCBASED_CTLS 0x48e
#define MSR_IA32_VMX_TRUE_EXIT_CTLS      0x48f
#define MSR_IA32_VMX_TRUE_ENTRY_CTLS     0x490
#define MSR_IA32_VMX_VMFUNC         0x491
#define MSR_IA32_EFER               0xc0000080
#define MSR_IA32_STAR               0xc0000081
#define MSR_IA32_LSTAR              0xc0000082
#define MSR_IA32_CSTAR              0xc0000083
#define MSR_IA32_FMASK              0xc0000084
#define MSR_IA32_FS_BASE            0xc0000100
#define MSR_IA32_GS_BASE            0xc0000101
#define MSR_IA32_KERNEL_GS_BASE     0xc0000102

#define FEATURE_CONTROL_LOCKED          BIT(0)
#define FEATURE_CONTROL_VMX_IN_SMX      BIT(1)
#define FEATURE_CONTROL_VMX_OUTSIDE_SMX BIT(2)

#define CPUID1_ECX_VMX BIT(5)

/* A canonical 48-bit linear address: bits 63:47 all equal (SDM 3.3.7.1). */
static inline bool x86_canonical(uint64_t la)
{
	return (uint64_t)((int64_t)(la << 16) >> 16) == la;
}

/* IA32_PAT: every entry a memory type the CPU has, 0, 1, 4, 5, 6 or 7 (SDM 11.12.2); else WRMSR and VM entry fail. */
static inline bool x86_pat_valid(uint64_t pat)
{
	for (int i = 0; i < 8; i++) {
		uint8_t t = (uint8_t)(pat >> (8 * i));

		if (t == 2 || t == 3 || t > 7)
			return false;
	}
	return true;
}

#ifndef HV_HOST_TEST
static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t val)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)val), "d"((uint32_t)(val >> 32)) : "memory");
}

static inline void cpuid(uint32_t leaf, uint32_t subleaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(subleaf));
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

#define DEFINE_CR_ACCESSORS(n) \
	static inline uint64_t read_cr##n(void) { uint64_t v; __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v)); return v; } \
	static inline void write_cr##n(uint64_t v) { __asm__ volatile("mov %0, %%cr" #n : : "r"(v) : "memory"); }
DEFINE_CR_ACCESSORS(0)
DEFINE_CR_ACCESSORS(2)
DEFINE_CR_ACCESSORS(3)
DEFINE_CR_ACCESSORS(4)
#undef DEFINE_CR_ACCESSORS

static inline uint64_t read_rflags(void)
{
	uint64_t f;
	__asm__ volatile("pushfq; popq %0" : "=r"(f));
	return f;
}

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
static inline void irq_disable(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void halt(void) { __asm__ volatile("hlt" ::: "memory"); }
#endif /* HV_HOST_TEST */

#endif
