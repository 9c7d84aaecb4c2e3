/* CPUID as L1 sees it: VMX as offered, SMX hidden, a hypervisor leaf, L1's OS bits, FSRM made consistent (pure). */
#include "hv/vmx/vmx_internal.h"
#include "hv/x86.h"

#define CPUID1_ECX_SMX       BIT(6)
#define CPUID1_ECX_OSXSAVE   BIT(27)
#define CPUID1_ECX_HYPERVISOR BIT(31)
#define CPUID7_EBX_INVPCID   BIT(10)
#define CPUID7_ECX_PKU       BIT(3)
#define CPUID7_ECX_OSPKE     BIT(4)
#define CPUID7_ECX_WAITPKG   BIT(5)
#define CPUID7_ECX_RDPID     BIT(22)
#define CPUID7_EDX_FSRM      BIT(4)
#define CPUIDD1_EAX_XSAVES   BIT(3)
#define CPUID81_EDX_SYSCALL  BIT(11)
#define CPUID81_EDX_RDTSCP   BIT(27)
#define X86_CR4_PKE          BIT(22)

/* "hvhvmicroVMX": what the hypervisor calls itself in leaf 0x40000000. */
static const uint32_t hv_signature[3] = { 0x76687668, 0x7263696d, 0x584d566f };

void cpuid_apply_policy(const struct cpuid_policy *p, uint32_t leaf, uint32_t subleaf,
			const struct cpuid_guest_view *g, uint32_t r[4])
{
	enum { A, B, C, D };

	switch (leaf) {
	case 1:
		/* VT-x as the nested VMX policy offers it (SDM 24.6: CPUID.1:ECX[5]). */
		r[C] = p->vmx ? r[C] | (uint32_t)CPUID1_ECX_VMX : r[C] & ~(uint32_t)CPUID1_ECX_VMX;
		/* GETSEC always exits and the hypervisor gives #UD (exit.c), as on a CPU without SMX. */
		r[C] &= ~(uint32_t)CPUID1_ECX_SMX;
		r[C] = p->hypervisor_bit ? r[C] | (uint32_t)CPUID1_ECX_HYPERVISOR : r[C] & ~(uint32_t)CPUID1_ECX_HYPERVISOR;
		/* OSXSAVE mirrors the guest's CR4, not the host's (SDM CPUID, leaf 1 ECX[27]). */
		r[C] = (g->cr4 & X86_CR4_OSXSAVE) ? r[C] | (uint32_t)CPUID1_ECX_OSXSAVE : r[C] & ~(uint32_t)CPUID1_ECX_OSXSAVE;
		break;
	case 7:
		if (subleaf != 0)
			break;
		/*
		 * Bochs advertises FSRM yet leaves IA32_MISC_ENABLE's fast-strings bit
		 * clear; Linux then turns ERMS off but keeps its FSRM memmove, which
		 * loops forever. Hiding FSRM tells the truth (fast strings are off) and
		 * keeps IA32_MISC_ENABLE a plain pass-through; faking the MSR bit
		 * instead would need a read intercept and a lie about a real setting.
		 */
		r[D] &= ~(uint32_t)CPUID7_EDX_FSRM;
		if (p->hide_invpcid)
			r[B] &= ~(uint32_t)CPUID7_EBX_INVPCID;
		if (p->hide_waitpkg)
			r[C] &= ~(uint32_t)CPUID7_ECX_WAITPKG;
		/* RDPID is enabled by the same VM-execution control as RDTSCP (SDM 25.3, "enable RDTSCP"). */
		if (p->hide_rdtscp)
			r[C] &= ~(uint32_t)CPUID7_ECX_RDPID;
		/*
		 * OSPKE mirrors CR4.PKE of the code executing CPUID (SDM CPUID, leaf 07H
		 * ECX[4]): L1's CR4, not the host's, where PKE is off.
		 */
		if ((g->cr4 & X86_CR4_PKE) && (r[C] & CPUID7_ECX_PKU))
			r[C] |= (uint32_t)CPUID7_ECX_OSPKE;
		else
			r[C] &= ~(uint32_t)CPUID7_ECX_OSPKE;
		break;
	case 0xd:
		if (subleaf == 1 && p->hide_xsaves)
			r[A] &= ~(uint32_t)CPUIDD1_EAX_XSAVES;
		break;
	case 0x80000001:
		if (p->hide_rdtscp)
			r[D] &= ~(uint32_t)CPUID81_EDX_RDTSCP;
		/*
		 * Intel reports SYSCALL/SYSRET only to code running in 64-bit mode
		 * (SDM CPUID, leaf 80000001H EDX[11]); the host always is, L1 may not be.
		 */
		if (!g->in_64bit_mode)
			r[D] &= ~(uint32_t)CPUID81_EDX_SYSCALL;
		break;
	default:
		if (p->hypervisor_bit && (leaf & 0xffffff00u) == CPUID_HV_LEAF_BASE) {
			/* The hypervisor range (Linux, KVM and Xen probe it when the hypervisor bit is set). */
			r[A] = leaf == CPUID_HV_LEAF_BASE ? CPUID_HV_LEAF_BASE : 0;
			r[B] = leaf == CPUID_HV_LEAF_BASE ? hv_signature[0] : 0;
			r[C] = leaf == CPUID_HV_LEAF_BASE ? hv_signature[1] : 0;
			r[D] = leaf == CPUID_HV_LEAF_BASE ? hv_signature[2] : 0;
		}
		break;
	}
}
