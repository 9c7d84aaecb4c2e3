/* VM-entry to L2: checking and injecting L1's VM-entry event (vmcs12 -> vmcs02) and injecting events into L2. */
#include "hv/nested/events.h"
#include "hv/x86.h"

uint32_t nested_event_to_intr_info(const struct nested_event *e)
{
	if (!e->valid)
		return 0;
	return e->vector | (uint32_t)e->type << INTR_INFO_TYPE_SHIFT |
	       (e->has_error_code ? (uint32_t)INTR_INFO_DELIVER_CODE : 0) | (uint32_t)INTR_INFO_VALID;
}

static bool type_has_insn_len(uint8_t type)
{
	return type == INTR_TYPE_SW_INTR || type == INTR_TYPE_PRIV_SW_EXC ||
	       type == INTR_TYPE_SW_EXCEPTION;
}

struct nested_event nested_event_from_intr_info(uint32_t info, uint32_t error_code,
						uint32_t insn_len)
{
	struct nested_event e = {
		.valid = info & INTR_INFO_VALID,
		.type = (uint8_t)((info & INTR_INFO_TYPE_MASK) >> INTR_INFO_TYPE_SHIFT),
		.vector = (uint8_t)(info & INTR_INFO_VECTOR_MASK),
		.has_error_code = info & INTR_INFO_DELIVER_CODE,
		/* Defined only in exit information (SDM 27.2.2); reserved at entry, undefined in IDT-vectoring. */
		.nmi_unblocked_iret = info & INTR_INFO_NMI_UNBLOCK_IRET,
	};

	e.error_code = e.has_error_code ? error_code : 0;
	e.insn_len = type_has_insn_len(e.type) ? insn_len : 0;
	return e;
}

/* Does a hardware exception of this vector need "deliver error code" at VM-entry (SDM 26.2.1.3)? */
static bool entry_needs_error_code(const struct vmcs12 *vmcs12, uint8_t type, uint8_t vector)
{
	bool unrestricted = (vmcs12->cpu_based_vm_exec_control & CPU_BASED_ACTIVATE_SECONDARY) &&
			    (vmcs12->secondary_vm_exec_control & SECONDARY_UNRESTRICTED_GUEST);
	bool protected_mode = !unrestricted || (vmcs12->guest_cr0 & X86_CR0_PE);

	return type == INTR_TYPE_HW_EXCEPTION && protected_mode &&
	       nested_exception_has_error_code(vector);
}

/* The vector each interruption type allows (SDM 26.2.1.3). */
static bool entry_vector_ok(uint8_t type, uint8_t vector)
{
	switch (type) {
	case INTR_TYPE_NMI:
		return vector == NMI_VECTOR;
	case INTR_TYPE_HW_EXCEPTION:
		return vector <= 31;
	case INTR_TYPE_OTHER_EVENT:
		return vector == 0; /* pending MTF VM-exit */
	case INTR_TYPE_EXT_INTR: case INTR_TYPE_SW_INTR:
	case INTR_TYPE_PRIV_SW_EXC: case INTR_TYPE_SW_EXCEPTION:
		return true;
	default:
		return false; /* type 1 is reserved */
	}
}

/*
 * The VM-entry checks on L1's event injection (SDM 26.2.1.3): reserved bits,
 * type/vector pairs, the error-code bit, and the instruction length of
 * software events, which may be 0 only if IA32_VMX_MISC[30] as offered to
 * L1 says so. Returns 0 or VMXERR_ENTRY_INVALID_CONTROL_FIELD.
 */
int nested_check_entry_event(const struct vmcs12 *vmcs12, uint64_t vmx_misc)
{
	return nested_check_entry_event_caps(vmcs12, vmx_misc, false);
}

/*
 * The same with IA32_VMX_BASIC[56] as offered: when set, a hardware
 * exception may be injected with or without an error code whatever its
 * vector (SDM A.1, 26.2.1.3; CET-capable processors).
 */
int nested_check_entry_event_caps(const struct vmcs12 *vmcs12, uint64_t vmx_misc, bool any_error_code)
{
	uint32_t info = vmcs12->vm_entry_intr_info_field;
	uint8_t type = (uint8_t)((info & INTR_INFO_TYPE_MASK) >> INTR_INFO_TYPE_SHIFT);
	uint8_t vector = (uint8_t)(info & INTR_INFO_VECTOR_MASK);
	bool has_code = info & INTR_INFO_DELIVER_CODE;
	uint32_t len = vmcs12->vm_entry_instruction_len;
	uint32_t min_len = (vmx_misc & VMX_MISC_ZERO_LEN_INJECTION) ? 0 : 1;

	if (!(info & INTR_INFO_VALID))
		return 0;
	if ((info & 0x7ffff000u) || !entry_vector_ok(type, vector) ||
	    (!any_error_code && has_code != entry_needs_error_code(vmcs12, type, vector)) ||
	    (has_code && (vmcs12->vm_entry_exception_error_code & 0xffff0000u)))
		return VMXERR_ENTRY_INVALID_CONTROL_FIELD;
	if (type_has_insn_len(type) && (len < min_len || len > 15))
		return VMXERR_ENTRY_INVALID_CONTROL_FIELD;
	return 0;
}

static void write_entry_event(struct nested_vcpu *nv, const struct nested_event *e)
{
	const struct nested_l2_ops *l2 = &nv->l2;

	l2->vmcs02_write(l2->ctx, VM_ENTRY_INTR_INFO_FIELD, nested_event_to_intr_info(e));
	l2->vmcs02_write(l2->ctx, VM_ENTRY_EXCEPTION_ERROR_CODE, e->error_code);
	l2->vmcs02_write(l2->ctx, VM_ENTRY_INSTRUCTION_LEN, e->insn_len);
	nv->ev.inflight = *e;
}

/* L2 in real mode: only with "unrestricted guest" and CR0.PE=0 in the VMCS the hardware enters (SDM 26.2.1.3). */
bool nested_l2_real_mode(const struct nested_vcpu *nv)
{
	const struct nested_l2_ops *l2 = &nv->l2;

	return (l2->vmcs02_read(l2->ctx, CPU_BASED_VM_EXEC_CONTROL) & CPU_BASED_ACTIVATE_SECONDARY) &&
	       (l2->vmcs02_read(l2->ctx, SECONDARY_VM_EXEC_CONTROL) & SECONDARY_UNRESTRICTED_GUEST) &&
	       !(l2->vmcs02_read(l2->ctx, GUEST_CR0) & X86_CR0_PE);
}

/* Set or clear bits of vmcs02's guest interruptibility state. */
static void update_intr_state(struct nested_vcpu *nv, uint32_t set, uint32_t clear)
{
	const struct nested_l2_ops *l2 = &nv->l2;
	uint32_t old = (uint32_t)l2->vmcs02_read(l2->ctx, GUEST_INTERRUPTIBILITY_INFO);
	uint32_t val = (old | set) & ~clear;

	if (val != old)
		l2->vmcs02_write(l2->ctx, GUEST_INTERRUPTIBILITY_INFO, val);
}

/*
 * Inject one event into L2 through vmcs02, in the form the VM-entry checks
 * of SDM 26.2.1.3 and 26.3.1.5 accept:
 *  - no error code in real mode (unrestricted guest, CR0.PE=0), which is
 *    also how #DF is delivered there; otherwise 16 bits (bits 31:16 of the
 *    entry field must be 0, and no exception pushes more);
 *  - an NMI (a fresh one, or one whose delivery an exit cut short, for
 *    which the hardware left blocking by NMI set) needs blocking by NMI
 *    clear;
 *  - a fault of an IRET that had unblocked NMIs (exit information bit 12)
 *    leaves NMIs blocked: the IRET did not complete (SDM 27.2.2).
 * An injected event ends HLT (SDM 26.3.1.5 allows only a few event types
 * with activity HLT; the event wakes the processor anyway), so vmcs02 is
 * set active first.
 */
void nested_inject_l2(struct nested_vcpu *nv, const struct nested_event *e)
{
	const struct nested_l2_ops *l2 = &nv->l2;
	struct nested_event in = *e;

	if (in.has_error_code && nested_l2_real_mode(nv))
		in.has_error_code = false;
	in.error_code = in.has_error_code ? in.error_code & 0xffff : 0;
	if (in.type == INTR_TYPE_NMI)
		update_intr_state(nv, 0, GUEST_INTR_STATE_NMI);
	else if (in.type == INTR_TYPE_HW_EXCEPTION && in.nmi_unblocked_iret && in.vector != DF_VECTOR)
		update_intr_state(nv, GUEST_INTR_STATE_NMI, 0);
	in.nmi_unblocked_iret = false;
	if (l2->vmcs02_read(l2->ctx, GUEST_ACTIVITY_STATE) == GUEST_ACTIVITY_HLT)
		l2->vmcs02_write(l2->ctx, GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_ACTIVE);
	write_entry_event(nv, &in);
}

/* L2 starts anew: nothing of a previous run of L2 survives a VM-exit to L1. */
static void reset_l2_events(struct nested_events *ev)
{
	ev->exception.ev.valid = false;
	ev->exception_vmexit.ev.valid = false;
	ev->reinject.valid = false;
	ev->inflight.valid = false;
	ev->triple_fault = false;
	ev->mtf_pending = false;
	ev->preemption_timer_expired = false;
}

/*
 * L1's VMLAUNCH/VMRESUME, the event part. L1's own event goes to vmcs02
 * exactly as L1 wrote it (with length 0 if L1 was allowed that) and is never
 * checked against L1's intercepts (SDM 26.5: injection is delivery, not an
 * event in L2). Type 7 injects a pending MTF VM-exit (SDM 26.5.2). Until
 * the first VM-exit from L2 the entry is in progress and every other event
 * waits (nested_run_pending). Returns 0 or the VM-instruction error.
 */
int nested_enter_l2(struct nested_vcpu *nv)
{
	const struct vmcs12 *vmcs12 = nv->vmcs12;
	struct nested_event e;
	int err = nested_check_entry_event_caps(vmcs12, nv->vmx_misc, nv->any_error_code);

	if (err)
		return err;
	reset_l2_events(&nv->ev);
	nv->ev.guest_mode = true;
	nv->ev.nested_run_pending = true;
	e = nested_event_from_intr_info(vmcs12->vm_entry_intr_info_field,
					vmcs12->vm_entry_exception_error_code,
					vmcs12->vm_entry_instruction_len);
	if (e.valid && e.type == INTR_TYPE_OTHER_EVENT) {
		nv->ev.mtf_pending = true;
		e.valid = false;
	}
	write_entry_event(nv, &e);
	return 0;
}
