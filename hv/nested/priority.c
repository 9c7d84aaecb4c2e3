/* The one function that picks L2's next event by priority (SDM 6.9 with the VMX events spliced in). */
#include "hv/nested/events.h"
#include "hv/x86.h"

/*
 * Priority, highest first. Section numbers are those of the SDM edition the
 * project cites (Vol. 3C ch. 24 VMCS, 25 VMX non-root, 26 VM entry, 27 VM
 * exit; Vol. 3A ch. 6 interrupts).
 *
 *  #  event pending                    what happens                     SDM
 *  -  (L1's VM-entry in progress,      BLOCKED: retry after the entry   26.5, 26.6
 *      or an injection already set
 *      up for the coming entry)
 *  1  triple fault in L2               VM-exit 2 (always)               25.2, 6.15 Table 6-5
 *  2  exception raised while another   exception VM-exit / inject L2    6.9 (delivery is not an
 *     event was being delivered, or                                      instruction boundary), 27.2.3
 *     a fault of an instruction L0
 *     carried out (not restartable)
 *  3  #DB task-switch trap (BT)        exception VM-exit / inject L2    6.9 prio 2
 *  4  SMI (not in SMM)                 caller's SMM emulation           6.9 prio 3, 34.14
 *  5  INIT (not in wait-for-SIPI)      VM-exit 3                        6.9 prio 3, 25.2
 *  6  SIPI                             VM-exit 4 in wait-for-SIPI,      25.2
 *                                      otherwise discarded
 *     -- in wait-for-SIPI nothing below is recognized                   25.2, 25.5.1, 24.4.2
 *  7  MTF (no fault pending: MTF       VM-exit 37                       25.5.2
 *     follows a fault's delivery)
 *  8  #DB debug trap (B0-B3, BS)       exception VM-exit / inject L2    6.9 prio 4, 25.5.2
 *  9  VMX-preemption timer             VM-exit 52                       25.5.1 (after debug
 *                                                                        traps, before NMI)
 * 10  NMI (not blocked)                VM-exit 0 if NMI exiting,        6.9 prio 5, 25.2, 25.4.1
 *                                      else inject L2
 * 11  external interrupt (not blocked) VM-exit 1 if ext-int exiting,    6.9 prio 6, 25.2, 25.4.1
 *                                      else inject L2
 * 12  restartable fault (GD #DB, ...)  exception VM-exit / inject L2    6.9 prio 7-10
 *
 * Rows 4-11 are new events: while an event whose delivery was cut short
 * waits for re-injection they are blocked (recognized only at an instruction
 * boundary, after that delivery); exceptions are not, they arise from the
 * delivery itself. A fault queued by L0 was raised inside its instruction,
 * so the hardware would deliver it before the boundary where rows 4-11 are
 * recognized: it sits at row 2. Only a fault the queuer marked restartable
 * (the instruction had no effect yet and raises it again when re-executed,
 * RIP at it) sits at row 12 and loses to rows 4-11, which then drop it (see
 * events.c): e.g. L1 sees an INIT exit with RIP at a MOV DR whose GD #DB
 * L0 held.
 * Blocking by MOV SS of debug traps is left to the hardware.
 */

struct pick {
	const struct nested_vcpu *nv;
	uint32_t activity;
	uint32_t intr_state;
	uint64_t rflags;
	bool waiting;  /* something was skipped until after the coming entry */
};

static struct nested_choice choose(enum nested_action a, enum nested_source s)
{
	return (struct nested_choice){ .action = a, .source = s };
}

/* New events wait while a cut-short delivery must be redone first (rows 4-11). */
static bool new_event_allowed(struct pick *p)
{
	if (!p->nv->ev.reinject.valid)
		return true;
	p->waiting = true;
	return false;
}

static bool any_event_pending(const struct nested_events *ev)
{
	return ev->exception.ev.valid || ev->exception_vmexit.ev.valid || ev->triple_fault ||
	       ev->nmi_pending || ev->intr_pending || ev->init_pending || ev->sipi_pending ||
	       ev->smi_pending || ev->mtf_pending || ev->preemption_timer_expired;
}

/*
 * Row 2: an exception that must be delivered before the next instruction
 * boundary: raised during another event's delivery, or a fault of an
 * instruction that is not restartable.
 */
bool nested_exception_must_deliver(const struct nested_exception *ex)
{
	return ex->during_delivery ||
	       (nested_exception_priority(ex) == EXC_PRIO_INSTRUCTION && !ex->restartable);
}

/* An exception of the given priority class, urgent (row 2) or not, exit slot first. */
static bool pick_exception(const struct pick *p, enum exception_priority prio, bool urgent,
			   struct nested_choice *c)
{
	const struct nested_events *ev = &p->nv->ev;

	if (ev->exception_vmexit.ev.valid &&
	    nested_exception_priority(&ev->exception_vmexit) == prio &&
	    nested_exception_must_deliver(&ev->exception_vmexit) == urgent) {
		*c = choose(NESTED_ACT_VMEXIT, NESTED_SRC_EXCEPTION_VMEXIT);
		return true;
	}
	if (ev->exception.ev.valid && nested_exception_priority(&ev->exception) == prio &&
	    nested_exception_must_deliver(&ev->exception) == urgent) {
		*c = choose(NESTED_ACT_INJECT, NESTED_SRC_EXCEPTION);
		return true;
	}
	return false;
}

static bool instruction_fault_pending(const struct nested_events *ev)
{
	return (ev->exception.ev.valid &&
		nested_exception_priority(&ev->exception) == EXC_PRIO_INSTRUCTION) ||
	       (ev->exception_vmexit.ev.valid &&
		nested_exception_priority(&ev->exception_vmexit) == EXC_PRIO_INSTRUCTION);
}

/* SDM 25.4.1, Table 24-3: MOV SS blocks NMIs; L1's NMI exiting bypasses L2's NMI/STI blocking. */
static bool nmi_allowed(const struct pick *p, bool *exits)
{
	*exits = p->nv->vmcs12->pin_based_vm_exec_control & PIN_BASED_NMI_EXITING;
	if (p->intr_state & GUEST_INTR_STATE_MOV_SS)
		return false;
	return *exits || !(p->intr_state & (GUEST_INTR_STATE_NMI | GUEST_INTR_STATE_STI));
}

/* SDM 25.2, 25.4.1: shutdown blocks interrupts; RFLAGS.IF only matters when L2 gets them. */
static bool intr_allowed(const struct pick *p, bool *exits)
{
	*exits = p->nv->vmcs12->pin_based_vm_exec_control & PIN_BASED_EXT_INTR_EXITING;
	if (p->activity == GUEST_ACTIVITY_SHUTDOWN ||
	    (p->intr_state & (GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS)))
		return false;
	return *exits || (p->rflags & X86_RFLAGS_IF);
}

/* Rows 1-6: events above the wait-for-SIPI cut. */
static bool pick_high(struct pick *p, struct nested_choice *c)
{
	const struct nested_events *ev = &p->nv->ev;
	bool wfs = p->activity == GUEST_ACTIVITY_WAIT_SIPI;

	if (ev->triple_fault) {
		*c = choose(NESTED_ACT_VMEXIT, NESTED_SRC_TRIPLE_FAULT);
		return true;
	}
	if (pick_exception(p, EXC_PRIO_INSTRUCTION, true, c) ||
	    pick_exception(p, EXC_PRIO_DEBUG_TRAP, true, c) ||
	    pick_exception(p, EXC_PRIO_TASK_SWITCH_TRAP, true, c) ||
	    pick_exception(p, EXC_PRIO_TASK_SWITCH_TRAP, false, c))
		return true;
	if (ev->smi_pending && !(p->intr_state & GUEST_INTR_STATE_SMI) && new_event_allowed(p)) {
		*c = choose(NESTED_ACT_SMI, NESTED_SRC_SMI);
		return true;
	}
	if (ev->init_pending && !wfs && new_event_allowed(p)) {
		*c = choose(NESTED_ACT_VMEXIT, NESTED_SRC_INIT);
		return true;
	}
	if (ev->sipi_pending && new_event_allowed(p)) {
		*c = choose(wfs ? NESTED_ACT_VMEXIT : NESTED_ACT_DISCARD, NESTED_SRC_SIPI);
		return true;
	}
	return false;
}

/* Rows 7-9. */
static bool pick_mtf_traps_timer(struct pick *p, struct nested_choice *c)
{
	const struct nested_events *ev = &p->nv->ev;

	if (ev->mtf_pending && !instruction_fault_pending(ev) && new_event_allowed(p)) {
		*c = choose(NESTED_ACT_VMEXIT, NESTED_SRC_MTF);
		return true;
	}
	if (pick_exception(p, EXC_PRIO_DEBUG_TRAP, false, c))
		return true;
	if (ev->preemption_timer_expired && new_event_allowed(p)) {
		*c = choose(NESTED_ACT_VMEXIT, NESTED_SRC_PREEMPTION_TIMER);
		return true;
	}
	return false;
}

/* Rows 10-12. */
static bool pick_interrupts_faults(struct pick *p, struct nested_choice *c)
{
	const struct nested_events *ev = &p->nv->ev;
	bool exits;

	if (ev->nmi_pending && nmi_allowed(p, &exits) && new_event_allowed(p)) {
		*c = choose(exits ? NESTED_ACT_VMEXIT : NESTED_ACT_INJECT, NESTED_SRC_NMI);
		return true;
	}
	if (ev->intr_pending && intr_allowed(p, &exits) && new_event_allowed(p)) {
		*c = choose(exits ? NESTED_ACT_VMEXIT : NESTED_ACT_INJECT, NESTED_SRC_INTR);
		return true;
	}
	return pick_exception(p, EXC_PRIO_INSTRUCTION, false, c);
}

static struct pick pick_init(const struct nested_vcpu *nv)
{
	const struct nested_l2_ops *l2 = &nv->l2;

	return (struct pick){
		.nv = nv,
		.activity = (uint32_t)l2->vmcs02_read(l2->ctx, GUEST_ACTIVITY_STATE),
		.intr_state = (uint32_t)l2->vmcs02_read(l2->ctx, GUEST_INTERRUPTIBILITY_INFO),
		.rflags = l2->vmcs02_read(l2->ctx, GUEST_RFLAGS),
	};
}

/* Picks, does not act: nested_apply_choice carries the choice out. */
struct nested_choice nested_pick_event(const struct nested_vcpu *nv)
{
	const struct nested_events *ev = &nv->ev;
	struct nested_choice c = choose(NESTED_ACT_NONE, NESTED_SRC_NONE);
	struct pick p;

	if (!ev->guest_mode)
		return c;
	if (ev->nested_run_pending || ev->inflight.valid)
		return any_event_pending(ev) ? choose(NESTED_ACT_BLOCKED, NESTED_SRC_NONE) : c;
	p = pick_init(nv);
	if (pick_high(&p, &c))
		return c;
	if (p.activity != GUEST_ACTIVITY_WAIT_SIPI &&
	    (pick_mtf_traps_timer(&p, &c) || pick_interrupts_faults(&p, &c)))
		return c;
	return p.waiting ? choose(NESTED_ACT_BLOCKED, NESTED_SRC_NONE) : c;
}
