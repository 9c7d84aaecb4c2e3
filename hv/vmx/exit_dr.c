/* MOV DR exits: the hypervisor intercepts MOV DR for L2 on request (nested_dr_exits=on) and carries it out, GD check first. */
#include "hv/vmx/vmx_internal.h"
#include "hv/vmx/vmx_asm.h"
#include "hv/vmx/nested.h"
#include "hv/x86.h"

#define DR_QUAL_NUMBER(q)   ((unsigned int)(q) & 7)
#define DR_QUAL_FROM_DR     BIT(4)          /* MOV from DR (SDM Table 28-4) */
#define DR_QUAL_GPR(q)      ((unsigned int)((q) >> 8) & 15)
#define DR7_FIXED_1         BIT(10)
#define DR7_WRITABLE        0xffffffff2fffULL /* bits 11, 12, 14, 15 read as 0 (SDM 18.2.4) */
#define DR6_WRITABLE        0x1e00fULL        /* B0-B3, BD, BS, BT, RTM (SDM 18.2.3) */

static uint64_t read_dr(unsigned int n)
{
	uint64_t v = 0;

	switch (n) {
	case 0: __asm__ volatile("mov %%dr0, %0" : "=r"(v)); break;
	case 1: __asm__ volatile("mov %%dr1, %0" : "=r"(v)); break;
	case 2: __asm__ volatile("mov %%dr2, %0" : "=r"(v)); break;
	case 3: __asm__ volatile("mov %%dr3, %0" : "=r"(v)); break;
	case 6: __asm__ volatile("mov %%dr6, %0" : "=r"(v)); break;
	default: v = vmcs_read(GUEST_DR7); break; /* DR7 lives in the VMCS */
	}
	return v;
}

static void write_dr(unsigned int n, uint64_t v)
{
	switch (n) {
	case 0: __asm__ volatile("mov %0, %%dr0" : : "r"(v)); break;
	case 1: __asm__ volatile("mov %0, %%dr1" : : "r"(v)); break;
	case 2: __asm__ volatile("mov %0, %%dr2" : : "r"(v)); break;
	case 3: __asm__ volatile("mov %0, %%dr3" : : "r"(v)); break;
	case 6: __asm__ volatile("mov %0, %%dr6" : : "r"((v & DR6_WRITABLE) | DR6_FIXED_1)); break;
	default: vmcs_write(GUEST_DR7, (v & DR7_WRITABLE) | DR7_FIXED_1); break;
	}
}

/*
 * MOV DR (SDM Vol. 2 "MOV - Move to/from Debug Registers"). #UD (DR4/DR5
 * with CR4.DE) and #GP at CPL > 0 come before the exit (SDM 25.1.1); the
 * exit comes before the General Detect #DB (SDM 25.1.3), so with DR7.GD
 * set the hypervisor raises that fault itself: DR6.BD, RIP at the MOV, and
 * nothing written (the event core may drop it for an exit to L1 that wins,
 * since the MOV raises it again: it is never a pending debug exception).
 */
void handle_dr_access(struct vcpu *v, struct guest_regs *r)
{
	uint64_t q = vmcs_read(EXIT_QUALIFICATION), val;
	unsigned int n = DR_QUAL_NUMBER(q), gpr = DR_QUAL_GPR(q);
	bool mode64 = (vmcs_read(GUEST_CS_AR_BYTES) & BIT(13)) && (vmcs_read(GUEST_IA32_EFER) & X86_EFER_LMA);

	if (vmcs_read(GUEST_DR7) & DR7_GD) {
		if (vmx_in_l2(v)) {
			vmx_nested_queue_gd_fault(v);
			return;
		}
		write_dr(6, (read_dr(6) & ~(DR6_B0_B3 | DR6_BS | DR6_BT)) | DR6_BD);
		vmcs_write(GUEST_DR7, vmcs_read(GUEST_DR7) & ~DR7_GD); /* SDM 18.2.4: cleared on delivery */
		vmx_inject_hw_exception(DB_VECTOR, false, 0);
		return;
	}
	if (n == 4 || n == 5)
		n += 2; /* aliases of DR6/DR7 while CR4.DE = 0 (SDM 18.2.2) */
	if (q & DR_QUAL_FROM_DR) {
		val = read_dr(n);
		vmx_set_guest_gpr(r, gpr, mode64 ? val : (uint32_t)val);
	} else {
		val = vmx_guest_gpr(r, gpr);
		if (!mode64)
			val = (uint32_t)val;
		if (n >= 6 && (val >> 32)) {
			vmx_inject_hw_exception(GP_VECTOR, true, 0); /* SDM: #GP(0) for bits 63:32 of DR6/DR7 */
			return;
		}
		write_dr(n, val);
	}
	vmx_skip_instruction();
}
