/* The synthesized VM-exit to L1: L2 state captured into vmcs12 plus the exit information (SDM 27.2, 27.3). */
#include "hv/nested/events.h"

/*
 * Guest-state fields a VM-exit does not save, or whose vmcs02 value is the
 * hypervisor's and not L2's (the wiring keeps those in sync itself, e.g.
 * L1's VMCS link pointer, its PML index and virtual-interrupt status).
 * SDM 27.3.1-27.3.4: DR7/DEBUGCTL, PAT, EFER and the preemption timer are
 * saved only under their "save" VM-exit controls.
 */
static bool exit_saves_field(const struct vmcs12 *vmcs12, uint32_t enc)
{
	uint32_t ctl = vmcs12->vm_exit_controls;

	switch (enc) {
	case VMCS_LINK_POINTER: case GUEST_PML_INDEX: case GUEST_INTR_STATUS:
		return false;
	case GUEST_DR7: case GUEST_IA32_DEBUGCTL:
		return ctl & VM_EXIT_SAVE_DEBUG_CONTROLS;
	case GUEST_IA32_PAT:
		return ctl & VM_EXIT_SAVE_IA32_PAT;
	case GUEST_IA32_EFER:
		return ctl & VM_EXIT_SAVE_IA32_EFER;
	case VMX_PREEMPTION_TIMER_VALUE:
		return ctl & VM_EXIT_SAVE_PREEMPTION_TIMER;
	default:
		return true;
	}
}

/*
 * The guest-state fields an exit copies unconditionally, by width, for the
 * offered features: built once (nested_vmexit_init, or at the first exit on
 * the host), then every exit is a tight VMREAD-and-store loop. The fields
 * exit_saves_field() decides on are copied apart.
 */
struct capture_list {
	uint32_t features;
	bool ready;
	uint16_t n[3];
	struct { uint16_t enc, off; } f[3][96];
};
static struct capture_list capture;

static const uint16_t capture_special[] = {
	GUEST_DR7, GUEST_IA32_DEBUGCTL, GUEST_IA32_PAT, GUEST_IA32_EFER, VMX_PREEMPTION_TIMER_VALUE,
};

static bool capture_is_special(uint32_t enc)
{
	if (enc == VMCS_LINK_POINTER || enc == GUEST_PML_INDEX || enc == GUEST_INTR_STATUS)
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(capture_special); i++)
		if (capture_special[i] == enc)
			return true;
	return false;
}

static unsigned int width_slot(uint8_t width)
{
	return width == VMCS_WIDTH_16 ? 0 : width == VMCS_WIDTH_32 ? 1 : 2;
}

void nested_vmexit_init(uint32_t features)
{
	struct capture_list *c = &capture;

	*c = (struct capture_list){ .features = features };
	for (size_t i = 0; i < vmcs12_nr_fields; i++) {
		const struct vmcs12_field *f = &vmcs12_fields[i];
		unsigned int w = width_slot(f->width);

		if (vmcs_field_type(f->encoding) != VMCS_TYPE_GUEST || !vmcs12_field_exists(f, features) ||
		    capture_is_special(f->encoding) || c->n[w] >= ARRAY_SIZE(c->f[w]))
			continue;
		c->f[w][c->n[w]].enc = f->encoding;
		c->f[w][c->n[w]++].off = f->offset;
	}
	__atomic_store_n(&c->ready, true, __ATOMIC_RELEASE);
}

/* L2's state, as the hardware left it in vmcs02, becomes vmcs12's guest-state area (SDM 27.3). */
static void capture_l2_state(struct nested_vcpu *nv)
{
	const struct nested_l2_ops *l2 = &nv->l2;
	uint8_t *v12 = (uint8_t *)nv->vmcs12;
	const struct capture_list *c = &capture;

	if (!__atomic_load_n(&c->ready, __ATOMIC_ACQUIRE) || c->features != nv->vmcs12_features)
		nested_vmexit_init(nv->vmcs12_features); /* the host tests' feature sets vary */
	for (unsigned int i = 0; i < c->n[0]; i++)
		*(uint16_t *)(v12 + c->f[0][i].off) = (uint16_t)l2->vmcs02_read(l2->ctx, c->f[0][i].enc);
	for (unsigned int i = 0; i < c->n[1]; i++)
		*(uint32_t *)(v12 + c->f[1][i].off) = (uint32_t)l2->vmcs02_read(l2->ctx, c->f[1][i].enc);
	for (unsigned int i = 0; i < c->n[2]; i++)
		*(uint64_t *)(v12 + c->f[2][i].off) = l2->vmcs02_read(l2->ctx, c->f[2][i].enc);
	for (size_t i = 0; i < ARRAY_SIZE(capture_special); i++) {
		const struct vmcs12_field *f = vmcs12_field_lookup(capture_special[i]);

		if (vmcs12_field_exists(f, nv->vmcs12_features) && exit_saves_field(nv->vmcs12, f->encoding))
			vmcs12_write_field(nv->vmcs12, f, l2->vmcs02_read(l2->ctx, f->encoding));
	}
}

/* One exception slot at an exit: its trap-like #DB conditions go to vmcs12, the exception ends. */
static uint32_t slot_to_pending_dbg(struct nested_vcpu *nv, struct nested_exception *ex,
				    uint32_t if_trap, uint32_t if_not)
{
	uint64_t traps = nested_pending_dbg_for_exit(ex);

	if (!ex->ev.valid)
		return 0;
	nv->vmcs12->guest_pending_dbg_exceptions |= traps;
	ex->ev.valid = false;
	return traps ? if_trap : if_not;
}

/*
 * SDM 27.3.4 at every synthesized exit. First the hardware's own pending
 * debug exceptions, as captured from vmcs02: saved as 0 unless the exit
 * reason is one that keeps them (nested_exit_keeps_pending_dbg). Then the
 * seed rule over EVERY slot a #DB can wait in (pending for L2, or decided
 * as an exception exit that this exit overtakes): its trap-like conditions
 * (never BD) are added, so a data breakpoint or single step L0 raised
 * reaches L1 whether or not L1 intercepts #DB. The exceptions themselves end
 * with the exit: trap-like #DBs live on in that field, a fault-like one (GD
 * #DB included) is raised again when L2 re-executes the instruction at RIP.
 */
static uint32_t save_pending_dbg(struct nested_vcpu *nv, const struct nested_exit *x)
{
	struct vmcs12 *vmcs12 = nv->vmcs12;

	if (!nested_exit_keeps_pending_dbg(x->reason, x->intr_info,
					   vmcs12->guest_interruptibility_info))
		vmcs12->guest_pending_dbg_exceptions = 0;
	return slot_to_pending_dbg(nv, &nv->ev.exception, NESTED_DROPPED_DB_TO_PENDING,
				   NESTED_DROPPED_EXCEPTION) |
	       slot_to_pending_dbg(nv, &nv->ev.exception_vmexit, NESTED_DROPPED_DB_VMEXIT_TO_PENDING,
				   NESTED_DROPPED_EXCEPTION_VMEXIT);
}

/* An event cut short in L2 goes to L1 in the IDT-vectoring fields (SDM 27.2.3). */
static void save_idt_vectoring(struct nested_vcpu *nv)
{
	struct nested_events *ev = &nv->ev;
	struct vmcs12 *vmcs12 = nv->vmcs12;
	const struct nested_event *e = ev->reinject.valid ? &ev->reinject : &ev->inflight;

	vmcs12->idt_vectoring_info_field = nested_event_to_intr_info(e);
	vmcs12->idt_vectoring_error_code = e->valid && e->has_error_code ? e->error_code : 0;
	if (e->valid && e->insn_len)
		vmcs12->vm_exit_instruction_len = e->insn_len;
	/* An injection set up but never entered is withdrawn from vmcs02: it now belongs to L1. */
	if (ev->inflight.valid)
		nv->l2.vmcs02_write(nv->l2.ctx, VM_ENTRY_INTR_INFO_FIELD, 0);
	ev->reinject.valid = false;
	ev->inflight.valid = false;
}

/* Everything that only made sense while L2 ran ends with the exit; L1-level events (NMI, interrupt, INIT, SIPI, SMI) stay. */
static uint32_t leave_guest_mode(struct nested_events *ev)
{
	uint32_t dropped = 0;

	if (ev->exception_vmexit.ev.valid)
		dropped |= NESTED_DROPPED_EXCEPTION_VMEXIT;
	if (ev->mtf_pending)
		dropped |= NESTED_DROPPED_MTF;
	if (ev->preemption_timer_expired)
		dropped |= NESTED_DROPPED_TIMER;
	if (ev->triple_fault)
		dropped |= NESTED_DROPPED_TRIPLE_FAULT;
	ev->exception_vmexit.ev.valid = false;
	ev->mtf_pending = false;
	ev->preemption_timer_expired = false;
	ev->triple_fault = false;
	ev->nested_run_pending = false;
	ev->guest_mode = false;
	return dropped;
}

/*
 * Synthesize a VM-exit from L2 to L1 into vmcs12 (the caller then switches
 * to vmcs01 and loads L1's host state). Writes the exit reason,
 * qualification, exit interruption information and error code, instruction
 * length, IDT-vectoring information, and L2's guest state including
 * interruptibility (blocking by SMI saved as 0 outside SMM, SDM 27.3.4),
 * activity state and pending debug exceptions. The valid bit of vmcs12's
 * VM-entry interruption information is cleared (SDM 27.2).
 * Returns the NESTED_DROPPED_* events the exit ended.
 */
uint32_t nested_vmexit_to_l1(struct nested_vcpu *nv, const struct nested_exit *x)
{
	struct vmcs12 *vmcs12 = nv->vmcs12;
	uint32_t dropped;

	capture_l2_state(nv);
	dropped = save_pending_dbg(nv, x);
	vmcs12->vm_exit_instruction_len = x->insn_len;
	save_idt_vectoring(nv);
	vmcs12->vm_exit_reason = x->reason;
	vmcs12->exit_qualification = x->qualification;
	vmcs12->vm_exit_intr_info = x->intr_info;
	vmcs12->vm_exit_intr_error_code = x->intr_error_code;
	vmcs12->guest_interruptibility_info &= ~(uint32_t)GUEST_INTR_STATE_SMI;
	vmcs12->vm_entry_intr_info_field &= ~(uint32_t)INTR_INFO_VALID;
	return dropped | leave_guest_mode(&nv->ev);
}
