/* The synthesized VM-exit to L1: L2 state captured into vmcs12 plus the exit information (SDM 27.2, 27.3). */
#include "hv/nested/events.h"
#include "hv/string.h"

#define SAVED_ALWAYS 0u
#define SAVED_NEVER  ~0u

/*
 * The VM-exit control under which an exit saves a guest-state field (SDM
 * 27.3.1-27.3.4: DR7/DEBUGCTL, PAT, EFER and the preemption timer only under
 * their "save" controls), SAVED_ALWAYS, or SAVED_NEVER for the fields an
 * exit does not save or whose vmcs02 value is the hypervisor's, not L2's
 * (the wiring keeps L1's VMCS link pointer, PML index and virtual-interrupt
 * status itself). The one place that decides what an exit saves.
 */
static uint32_t exit_save_control(uint32_t enc)
{
	switch (enc) {
	case VMCS_LINK_POINTER: case GUEST_PML_INDEX: case GUEST_INTR_STATUS:
		return SAVED_NEVER;
	case GUEST_DR7: case GUEST_IA32_DEBUGCTL:
		return VM_EXIT_SAVE_DEBUG_CONTROLS;
	case GUEST_IA32_PAT:
		return VM_EXIT_SAVE_IA32_PAT;
	case GUEST_IA32_EFER:
		return VM_EXIT_SAVE_IA32_EFER;
	case VMX_PREEMPTION_TIMER_VALUE:
		return VM_EXIT_SAVE_PREEMPTION_TIMER;
	default:
		return SAVED_ALWAYS;
	}
}

/*
 * The guest-state fields of the offered features an exit saves, as lists
 * built once (nested_vmexit_init, or at the first exit on the host), so
 * that an exit reads a width's fields in one batch and stores them: the
 * eager list at every exit, the rare one (VMCS12_RARE_LIST) when needed,
 * and the fields under a save control one by one. CR0/CR4 are read apart:
 * their L2 view is computed by the wiring's vmcs02_read.
 */
#define CAPTURE_MAX 64
struct capture_list {
	uint16_t n[3];
	uint16_t enc[3][CAPTURE_MAX], off[3][CAPTURE_MAX];
};
static struct {
	uint32_t features;
	bool ready;
	struct capture_list eager, rare;
	uint16_t n_controlled;
	const struct vmcs12_field *controlled[8];
	uint32_t control[8];
} capture;

static void capture_add(struct capture_list *c, const struct vmcs12_field *f)
{
	unsigned int w = vmcs12_width_slot(f->width);

	if (c->n[w] < CAPTURE_MAX) {
		c->enc[w][c->n[w]] = f->encoding;
		c->off[w][c->n[w]++] = f->offset;
	}
}

void nested_vmexit_init(uint32_t features)
{
	memset(&capture, 0, sizeof(capture));
	capture.features = features;
	for (size_t i = 0; i < vmcs12_nr_fields; i++) {
		const struct vmcs12_field *f = &vmcs12_fields[i];
		uint32_t ctl = exit_save_control(f->encoding);

		if (vmcs_field_type(f->encoding) != VMCS_TYPE_GUEST || !vmcs12_field_exists(f, features) ||
		    ctl == SAVED_NEVER || f->encoding == GUEST_CR0 || f->encoding == GUEST_CR4)
			continue;
		if (ctl == SAVED_ALWAYS) {
			capture_add(f->rare ? &capture.rare : &capture.eager, f);
		} else if (capture.n_controlled < ARRAY_SIZE(capture.controlled)) {
			capture.controlled[capture.n_controlled] = f;
			capture.control[capture.n_controlled++] = ctl;
		}
	}
	__atomic_store_n(&capture.ready, true, __ATOMIC_RELEASE);
}

static void capture_lists_for(uint32_t features)
{
	if (!__atomic_load_n(&capture.ready, __ATOMIC_ACQUIRE) || capture.features != features)
		nested_vmexit_init(features); /* the host tests' feature sets vary */
}

/* One list's fields from vmcs02 into vmcs12, a width at a time. */
static void capture_list(struct nested_vcpu *nv, const struct capture_list *c)
{
	uint8_t *v12 = (uint8_t *)nv->vmcs12;
	uint64_t val[CAPTURE_MAX];

	nested_l2_read_many(&nv->l2, c->enc[0], val, c->n[0]);
	for (unsigned int i = 0; i < c->n[0]; i++)
		*(uint16_t *)(v12 + c->off[0][i]) = (uint16_t)val[i];
	nested_l2_read_many(&nv->l2, c->enc[1], val, c->n[1]);
	for (unsigned int i = 0; i < c->n[1]; i++)
		*(uint32_t *)(v12 + c->off[1][i]) = (uint32_t)val[i];
	nested_l2_read_many(&nv->l2, c->enc[2], val, c->n[2]);
	for (unsigned int i = 0; i < c->n[2]; i++)
		*(uint64_t *)(v12 + c->off[2][i]) = val[i];
}

/*
 * L2's state, as the hardware left it in vmcs02, becomes vmcs12's
 * guest-state area (SDM 27.3); the rare part stays in vmcs02 until
 * nested_capture_rare(). vmcs02 holds it unchanged meanwhile: L2 does not
 * run, and the next entry rewrites only other fields unless L1 wrote one,
 * which copied it first.
 */
static void capture_l2_state(struct nested_vcpu *nv)
{
	const struct nested_l2_ops *l2 = &nv->l2;
	struct vmcs12 *v12 = nv->vmcs12;

	capture_lists_for(nv->vmcs12_features);
	capture_list(nv, &capture.eager);
	nv->rare_in_vmcs02 = true;
	v12->guest_cr0 = l2->vmcs02_read(l2->ctx, GUEST_CR0);
	v12->guest_cr4 = l2->vmcs02_read(l2->ctx, GUEST_CR4);
	for (unsigned int i = 0; i < capture.n_controlled; i++)
		if (v12->vm_exit_controls & capture.control[i])
			vmcs12_write_field(v12, capture.controlled[i],
					   l2->vmcs02_read(l2->ctx, capture.controlled[i]->encoding));
}

void nested_capture_rare(struct nested_vcpu *nv)
{
	if (!nv->rare_in_vmcs02)
		return;
	capture_lists_for(nv->vmcs12_features);
	capture_list(nv, &capture.rare);
	nv->rare_in_vmcs02 = false;
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
