/* Carrying out the chosen event: the VM-exit to L1 or the injection into L2 it stands for, and the per-entry driver. */
#include "hv/nested/events.h"

/*
 * Exception VM-exit (SDM 27.2.1-27.2.2). The error code is the one the
 * exception would push: none in real mode, 16 bits otherwise. Bit 12 (NMI
 * unblocking due to IRET) is passed on from the exit that raised the fault.
 * The #DB qualification is its DR6 bits; the #PF qualification is the
 * faulting address: the payload, or, for a #PF queued without one, L2's CR2,
 * which already holds it (a #PF VM-exit itself never writes CR2).
 */
static struct nested_exit exception_exit(const struct nested_vcpu *nv,
					 const struct nested_exception *ex)
{
	struct nested_event e = ex->ev;
	struct nested_exit x = { .reason = EXIT_REASON_EXCEPTION_NMI, .insn_len = e.insn_len };
	bool hw = e.type == INTR_TYPE_HW_EXCEPTION;

	if (e.has_error_code && nested_l2_real_mode(nv))
		e.has_error_code = false;
	x.intr_info = nested_event_to_intr_info(&e);
	if (hw && e.nmi_unblocked_iret && e.vector != DF_VECTOR)
		x.intr_info |= INTR_INFO_NMI_UNBLOCK_IRET;
	x.intr_error_code = e.has_error_code ? e.error_code & 0xffff : 0;
	if (hw && ex->has_payload && e.vector == DB_VECTOR)
		x.qualification = ex->payload & (DR6_B0_B3 | DR6_BD | DR6_BS | DR6_RTM);
	else if (hw && e.vector == PF_VECTOR)
		x.qualification = ex->has_payload ? ex->payload : nv->l2.read_cr2(nv->l2.ctx);
	return x;
}

/* An exception reaches L2: only now does its payload land in DR6 or CR2 (SDM 17.2.3, 4.7). */
static void deliver_exception_l2(struct nested_vcpu *nv, struct nested_exception *ex)
{
	const struct nested_l2_ops *l2 = &nv->l2;

	if (ex->has_payload && ex->ev.type == INTR_TYPE_HW_EXCEPTION) {
		if (ex->ev.vector == DB_VECTOR) {
			l2->write_dr6(l2->ctx, nested_dr6_after_db(l2->read_dr6(l2->ctx), ex->payload));
			/* SDM 18.2.4: entering the #DB handler clears DR7.GD, so the handler may use the DRs. */
			if (ex->payload & DR6_BD)
				l2->vmcs02_write(l2->ctx, GUEST_DR7,
						 l2->vmcs02_read(l2->ctx, GUEST_DR7) & ~(uint64_t)DR7_GD);
		}
		else if (ex->ev.vector == PF_VECTOR)
			l2->write_cr2(l2->ctx, ex->payload);
	}
	nested_inject_l2(nv, &ex->ev);
	ex->ev.valid = false;
}

/* A restartable fault of the instruction at RIP (row 12): re-executing the instruction raises it again. */
static bool restartable_fault(const struct nested_exception *ex)
{
	return ex->ev.valid && nested_exception_priority(ex) == EXC_PRIO_INSTRUCTION &&
	       !nested_exception_must_deliver(ex);
}

/*
 * An event chosen at an instruction boundary preempts a restartable fault
 * of the instruction at RIP (priority.c, rows 4-11 over row 12): the fault
 * is dropped, L2 raises it again when it re-executes the instruction, and an
 * MTF that would have followed its delivery goes with it. Any other fault
 * sits at row 2 and has been delivered before such an event is chosen.
 */
static uint32_t drop_instruction_faults(struct nested_events *ev)
{
	uint32_t dropped = 0;

	if (restartable_fault(&ev->exception)) {
		ev->exception.ev.valid = false;
		dropped |= NESTED_DROPPED_EXCEPTION;
	}
	if (restartable_fault(&ev->exception_vmexit)) {
		ev->exception_vmexit.ev.valid = false;
		dropped |= NESTED_DROPPED_EXCEPTION_VMEXIT;
	}
	if (dropped && ev->mtf_pending) {
		ev->mtf_pending = false;
		dropped |= NESTED_DROPPED_MTF;
	}
	return dropped;
}

static struct nested_event make_event(uint8_t type, uint8_t vector)
{
	return (struct nested_event){ .valid = true, .type = type, .vector = vector };
}

/* NMI: a VM-exit with NMI interruption info (SDM 27.2.2), or injected. Either way it is consumed. */
static struct nested_exit nmi_event(struct nested_vcpu *nv, const struct nested_choice *c)
{
	struct nested_event e = make_event(INTR_TYPE_NMI, NMI_VECTOR);
	struct nested_exit x = { .reason = EXIT_REASON_EXCEPTION_NMI };

	nv->ev.nmi_pending = false;
	if (c->action == NESTED_ACT_VMEXIT)
		x.intr_info = nested_event_to_intr_info(&e);
	else
		nested_inject_l2(nv, &e);
	return x;
}

/* External interrupt: with "acknowledge interrupt on exit" the exit carries and consumes it (SDM 27.2.2); otherwise L1 takes it later. */
static struct nested_exit intr_event(struct nested_vcpu *nv, const struct nested_choice *c)
{
	struct nested_event e = make_event(INTR_TYPE_EXT_INTR, nv->ev.intr_vector);
	struct nested_exit x = { .reason = EXIT_REASON_EXTERNAL_INTERRUPT };

	if (c->action != NESTED_ACT_VMEXIT) {
		nested_inject_l2(nv, &e);
		nv->ev.intr_pending = false;
	} else if (nv->vmcs12->vm_exit_controls & VM_EXIT_ACK_INTR_ON_EXIT) {
		x.intr_info = nested_event_to_intr_info(&e);
		nv->ev.intr_pending = false;
	}
	return x;
}

/* The exit a boundary event of rows 1 and 5-9 stands for; clears its flag. */
static struct nested_exit signal_exit(struct nested_events *ev, enum nested_source s)
{
	struct nested_exit x = { 0 };

	switch (s) {
	case NESTED_SRC_TRIPLE_FAULT:
		ev->triple_fault = false;
		x.reason = EXIT_REASON_TRIPLE_FAULT;
		break;
	case NESTED_SRC_INIT:
		ev->init_pending = false;
		x.reason = EXIT_REASON_INIT_SIGNAL;
		break;
	case NESTED_SRC_SIPI:
		ev->sipi_pending = false;
		x.reason = EXIT_REASON_SIPI;
		x.qualification = ev->sipi_vector; /* SDM 27.2.1 */
		break;
	case NESTED_SRC_MTF:
		ev->mtf_pending = false;
		x.reason = EXIT_REASON_MONITOR_TRAP_FLAG;
		break;
	default:
		ev->preemption_timer_expired = false;
		x.reason = EXIT_REASON_PREEMPTION_TIMER;
		break;
	}
	return x;
}

/* Injections and hand-offs that do not leave L2. */
static void apply_in_l2(struct nested_vcpu *nv, struct nested_choice *c)
{
	struct nested_events *ev = &nv->ev;

	switch (c->source) {
	case NESTED_SRC_EXCEPTION:
		if (nested_exception_priority(&ev->exception) != EXC_PRIO_INSTRUCTION)
			c->dropped |= drop_instruction_faults(ev);
		deliver_exception_l2(nv, &ev->exception);
		break;
	case NESTED_SRC_SIPI: /* discarded outside wait-for-SIPI (SDM 25.2) */
		ev->sipi_pending = false;
		break;
	case NESTED_SRC_SMI:
		ev->smi_pending = false;
		c->dropped |= drop_instruction_faults(ev);
		break;
	case NESTED_SRC_NMI:
		c->dropped |= drop_instruction_faults(ev);
		nmi_event(nv, c);
		break;
	default:
		c->dropped |= drop_instruction_faults(ev);
		intr_event(nv, c);
		break;
	}
}

/* Carry out a choice of nested_pick_event. */
void nested_apply_choice(struct nested_vcpu *nv, struct nested_choice *c)
{
	struct nested_exit x;

	c->dropped = 0;
	if (c->action == NESTED_ACT_NONE || c->action == NESTED_ACT_BLOCKED)
		return;
	if (c->action != NESTED_ACT_VMEXIT) {
		apply_in_l2(nv, c);
		return;
	}
	if (c->source == NESTED_SRC_EXCEPTION_VMEXIT) {
		x = exception_exit(nv, &nv->ev.exception_vmexit);
		nv->ev.exception_vmexit.ev.valid = false;
	} else if (c->source == NESTED_SRC_NMI) {
		x = nmi_event(nv, c);
	} else if (c->source == NESTED_SRC_INTR) {
		x = intr_event(nv, c);
	} else {
		x = signal_exit(&nv->ev, c->source);
	}
	c->dropped |= nested_vmexit_to_l1(nv, &x);
}

/*
 * Before every VM-entry to L2: at most one event goes into vmcs02. The
 * chosen event first (an exception VM-exit may still carry a cut-short
 * event to L1 as IDT-vectoring information); if nothing was injected, a
 * cut-short event is re-injected unchanged.
 */
struct nested_choice nested_prepare_entry(struct nested_vcpu *nv)
{
	struct nested_choice c = nested_pick_event(nv);

	nested_apply_choice(nv, &c);
	if (c.action != NESTED_ACT_VMEXIT && nv->ev.guest_mode && nested_reinject_event(nv)) {
		if (c.action == NESTED_ACT_NONE)
			c = (struct nested_choice){ .action = NESTED_ACT_INJECT,
						    .source = NESTED_SRC_REINJECT };
	}
	return c;
}
