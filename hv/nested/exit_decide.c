/* Who handles an exit of L2: one function, per exit reason, from vmcs12's controls (SDM 25.1.2, 25.1.3, 25.2). */
#include "hv/nested/exit_decide.h"
#include "hv/nested/events.h"
#include "hv/x86.h"

static bool proc(const struct vmcs12 *v, uint32_t bit)
{
	return v->cpu_based_vm_exec_control & bit;
}

static bool secondary(const struct vmcs12 *v, uint32_t bit)
{
	return proc(v, CPU_BASED_ACTIVATE_SECONDARY) && (v->secondary_vm_exec_control & bit);
}

/* One bit of a bitmap in L1's memory; a bitmap L1 placed outside its RAM reads as all ones (every access exits). */
static bool bitmap_bit(uint64_t base, uint32_t bit, nested_read_byte_fn read_byte, void *ctx)
{
	uint8_t b;

	if (!read_byte(ctx, base + bit / 8, &b))
		return true;
	return b & (1u << (bit % 8));
}

/* SDM 25.1.3 "I/O instructions": unconditional exiting, or any bit of the accessed ports in bitmap A/B; a wrap past 0xffff exits. */
static bool l1_wants_io(const struct vmcs12 *v, uint64_t qual, nested_read_byte_fn read_byte, void *ctx)
{
	uint32_t port = (uint32_t)(qual >> 16) & 0xffff, size = (uint32_t)(qual & 7) + 1;

	if (!proc(v, CPU_BASED_USE_IO_BITMAPS))
		return proc(v, CPU_BASED_UNCOND_IO_EXITING);
	if (port + size > 0x10000)
		return true;
	for (uint32_t p = port; p < port + size; p++)
		if (bitmap_bit(p < 0x8000 ? v->io_bitmap_a : v->io_bitmap_b, p & 0x7fff, read_byte, ctx))
			return true;
	return false;
}

/* SDM 25.1.3 "RDMSR"/"WRMSR": without MSR bitmaps every access exits; MSRs outside the two bitmap ranges always exit. */
static bool l1_wants_msr(const struct vmcs12 *v, uint32_t msr, bool write, nested_read_byte_fn read_byte, void *ctx)
{
	uint32_t offset = write ? 2048 : 0;

	if (!proc(v, CPU_BASED_USE_MSR_BITMAPS))
		return true;
	if (msr >= 0xc0000000u && msr <= 0xc0001fffu)
		offset += 1024;
	else if (msr > 0x1fffu)
		return true;
	return bitmap_bit(v->msr_bitmap + offset, msr & 0x1fff, read_byte, ctx);
}

/* MOV to CR0/CR4 exits to L1 if it changes a bit L1 owns from what L1's read shadow shows (SDM 25.1.3). */
static bool l1_owned_bits_change(uint64_t mask, uint64_t shadow, uint64_t val)
{
	return ((val ^ shadow) & mask) != 0;
}

/* SDM 25.1.3 "MOV to CR3": unless the value is one of the first CR3-target-count target values. */
static bool l1_wants_cr3_load(const struct vmcs12 *v, uint64_t val)
{
	const uint64_t targets[4] = { v->cr3_target_value0, v->cr3_target_value1, v->cr3_target_value2,
				      v->cr3_target_value3 };

	if (!proc(v, CPU_BASED_CR3_LOAD_EXITING))
		return false;
	for (uint32_t i = 0; i < v->cr3_target_count && i < 4; i++)
		if (targets[i] == val)
			return false;
	return true;
}

/* Control-register accesses by the exit qualification (SDM Table 28-3). */
static bool l1_wants_cr(const struct vmcs12 *v, const struct l2_exit *x)
{
	uint32_t cr = x->qualification & 15, type = (x->qualification >> 4) & 3;

	switch (type) {
	case 0: /* MOV to CR */
		if (cr == 0)
			return l1_owned_bits_change(v->cr0_guest_host_mask, v->cr0_read_shadow, x->cr_value);
		if (cr == 4)
			return l1_owned_bits_change(v->cr4_guest_host_mask, v->cr4_read_shadow, x->cr_value);
		if (cr == 3)
			return l1_wants_cr3_load(v, x->cr_value);
		return cr == 8 && proc(v, CPU_BASED_CR8_LOAD_EXITING);
	case 1: /* MOV from CR */
		if (cr == 3)
			return proc(v, CPU_BASED_CR3_STORE_EXITING);
		return cr == 8 && proc(v, CPU_BASED_CR8_STORE_EXITING);
	case 2: /* CLTS: if L1 owns TS and its shadow says TS=1 */
		return (v->cr0_guest_host_mask & X86_CR0_TS) && (v->cr0_read_shadow & X86_CR0_TS);
	default: /* LMSW: PE/MP/EM/TS that L1 owns change, or PE set where L1's shadow has it clear */
		return l1_owned_bits_change(v->cr0_guest_host_mask & 0xf, v->cr0_read_shadow, x->cr_value) ||
		       ((v->cr0_guest_host_mask & X86_CR0_PE) && !(v->cr0_read_shadow & X86_CR0_PE) &&
			(x->cr_value & X86_CR0_PE));
	}
}

/* Exception or NMI exits (SDM 25.2): NMIs by NMI exiting, exceptions by the exception bitmap with #PF mask/match. */
static bool l1_wants_exception_or_nmi(const struct vmcs12 *v, const struct l2_exit *x)
{
	uint32_t type = (x->intr_info & INTR_INFO_TYPE_MASK) >> INTR_INFO_TYPE_SHIFT;
	uint8_t vector = (uint8_t)(x->intr_info & INTR_INFO_VECTOR_MASK);

	if (type == INTR_TYPE_NMI)
		return v->pin_based_vm_exec_control & PIN_BASED_NMI_EXITING;
	return nested_l1_wants_exception(v, vector, x->intr_error_code);
}

/* Exits L1 asks for with one control bit. */
static bool l1_wants_by_control(const struct vmcs12 *v, uint32_t reason)
{
	switch (reason) {
	case EXIT_REASON_EXTERNAL_INTERRUPT: return v->pin_based_vm_exec_control & PIN_BASED_EXT_INTR_EXITING;
	case EXIT_REASON_INTERRUPT_WINDOW: return proc(v, CPU_BASED_INTR_WINDOW_EXITING);
	case EXIT_REASON_NMI_WINDOW: return proc(v, CPU_BASED_NMI_WINDOW_EXITING);
	case EXIT_REASON_HLT: return proc(v, CPU_BASED_HLT_EXITING);
	case EXIT_REASON_INVLPG: return proc(v, CPU_BASED_INVLPG_EXITING);
	case EXIT_REASON_RDPMC: return proc(v, CPU_BASED_RDPMC_EXITING);
	case EXIT_REASON_RDTSC: case EXIT_REASON_RDTSCP: return proc(v, CPU_BASED_RDTSC_EXITING);
	case EXIT_REASON_DR_ACCESS: return proc(v, CPU_BASED_MOV_DR_EXITING);
	case EXIT_REASON_MWAIT: return proc(v, CPU_BASED_MWAIT_EXITING);
	case EXIT_REASON_MONITOR: return proc(v, CPU_BASED_MONITOR_EXITING);
	case EXIT_REASON_PAUSE: return proc(v, CPU_BASED_PAUSE_EXITING) || secondary(v, SECONDARY_PAUSE_LOOP_EXITING);
	case EXIT_REASON_MONITOR_TRAP_FLAG: return proc(v, CPU_BASED_MONITOR_TRAP_FLAG);
	case EXIT_REASON_TPR_BELOW_THRESHOLD: return proc(v, CPU_BASED_TPR_SHADOW);
	case EXIT_REASON_APIC_ACCESS: return secondary(v, SECONDARY_VIRT_APIC_ACCESSES);
	case EXIT_REASON_PREEMPTION_TIMER: return v->pin_based_vm_exec_control & PIN_BASED_PREEMPTION_TIMER;
	case EXIT_REASON_GDTR_IDTR: case EXIT_REASON_LDTR_TR: return secondary(v, SECONDARY_DESC_TABLE_EXITING);
	case EXIT_REASON_WBINVD: return secondary(v, SECONDARY_WBINVD_EXITING);
	case EXIT_REASON_RDRAND: return secondary(v, SECONDARY_RDRAND_EXITING);
	case EXIT_REASON_RDSEED: return secondary(v, SECONDARY_RDSEED_EXITING);
	case EXIT_REASON_INVPCID: return proc(v, CPU_BASED_INVLPG_EXITING) && secondary(v, SECONDARY_ENABLE_INVPCID);
	default: return false;
	}
}

/* Instructions and events that exit unconditionally in VMX non-root operation (SDM 25.1.2, 25.2). */
static bool always_exits(uint32_t reason)
{
	switch (reason) {
	case EXIT_REASON_TRIPLE_FAULT: case EXIT_REASON_INIT_SIGNAL: case EXIT_REASON_SIPI:
	case EXIT_REASON_TASK_SWITCH: case EXIT_REASON_CPUID: case EXIT_REASON_GETSEC:
	case EXIT_REASON_INVD: case EXIT_REASON_XSETBV: case EXIT_REASON_VMCALL:
	case EXIT_REASON_VMCLEAR: case EXIT_REASON_VMLAUNCH: case EXIT_REASON_VMPTRLD:
	case EXIT_REASON_VMPTRST: case EXIT_REASON_VMREAD: case EXIT_REASON_VMRESUME:
	case EXIT_REASON_VMWRITE: case EXIT_REASON_VMOFF: case EXIT_REASON_VMON:
	case EXIT_REASON_INVEPT: case EXIT_REASON_INVVPID: case EXIT_REASON_VMFUNC:
	case EXIT_REASON_INVALID_GUEST_STATE: case EXIT_REASON_MSR_LOAD_FAIL:
		return true;
	default:
		return false;
	}
}

enum nested_exit_owner nested_l2_exit_owner(const struct vmcs12 *vmcs12, const struct l2_exit *x,
					    nested_read_byte_fn read_byte, void *ctx)
{
	bool l1;

	switch (x->reason) {
	case EXIT_REASON_EXCEPTION_NMI:
		l1 = l1_wants_exception_or_nmi(vmcs12, x);
		break;
	case EXIT_REASON_IO_INSTRUCTION:
		l1 = l1_wants_io(vmcs12, x->qualification, read_byte, ctx);
		break;
	case EXIT_REASON_MSR_READ: case EXIT_REASON_MSR_WRITE:
		l1 = l1_wants_msr(vmcs12, x->msr, x->reason == EXIT_REASON_MSR_WRITE, read_byte, ctx);
		break;
	case EXIT_REASON_CR_ACCESS:
		l1 = l1_wants_cr(vmcs12, x);
		break;
	case EXIT_REASON_EPT_VIOLATION: case EXIT_REASON_EPT_MISCONFIG:
		/* Without L1's EPT, L2 runs on the hypervisor's; with it, the shadow EPT decides first (nested_ept.c). */
		l1 = false;
		break;
	default:
		l1 = always_exits(x->reason) || l1_wants_by_control(vmcs12, x->reason);
		break;
	}
	return l1 ? NESTED_EXIT_L1 : NESTED_EXIT_L0;
}
