/* Queue-time routing of L2's exceptions: to L1 (exception bitmap, SDM 25.2) or to L2, merged per SDM Table 6-5. */
#include "hv/nested/events.h"

/*
 * Does L1 intercept this exception of L2 (SDM 25.2 "Exceptions")? Bit n of
 * the exception bitmap for vector n; for #PF the bit is combined with the
 * error-code mask/match test: with bit 14 set, a #PF exits iff
 * (PFEC & MASK) == MATCH; with bit 14 clear, iff it differs. Only vectors
 * 0-31 are exceptions; NMIs (vector 2) are governed by "NMI exiting", never
 * by the bitmap.
 */
bool nested_l1_wants_exception(const struct vmcs12 *vmcs12, uint8_t vector, uint32_t error_code)
{
	bool bit;

	if (vector >= 32 || vector == NMI_VECTOR)
		return false;
	bit = vmcs12->exception_bitmap & BIT(vector);
	if (vector != PF_VECTOR)
		return bit;
	return bit == ((error_code & vmcs12->page_fault_error_code_mask) ==
		       vmcs12->page_fault_error_code_match);
}

/*
 * The events the exception bitmap governs (SDM 25.2): hardware exceptions,
 * privileged software exceptions (ICEBP) and software exceptions (INT3,
 * INTO), types 3, 5 and 6. INT n (type 4) never exits through the bitmap,
 * whatever its vector; neither do NMIs and external interrupts.
 */
bool nested_l1_intercepts_event(const struct vmcs12 *vmcs12, const struct nested_event *e)
{
	switch (e->type) {
	case INTR_TYPE_HW_EXCEPTION: case INTR_TYPE_PRIV_SW_EXC: case INTR_TYPE_SW_EXCEPTION:
		return nested_l1_wants_exception(vmcs12, e->vector, e->error_code);
	default:
		return false;
	}
}

/* Only hardware exceptions have a class; INT n, NMIs and interrupts count as benign (SDM Table 6-4). */
static enum exception_class event_class(const struct nested_event *e)
{
	return e->type == INTR_TYPE_HW_EXCEPTION ? nested_exception_class(e->vector) : EXC_BENIGN;
}

/* The DR6 conditions a #DB payload may carry (SDM 17.2.3). */
#define DR6_PAYLOAD_BITS (DR6_B0_B3 | DR6_BD | DR6_BS | DR6_BT | DR6_RTM)

/* The class of the event a new exception interrupts: only hardware exceptions have one (SDM Table 6-4). */
static bool first_event_class(const struct nested_events *ev, enum exception_class *cls)
{
	const struct nested_event *first = ev->reinject.valid ? &ev->reinject :
		ev->exception.ev.valid ? &ev->exception.ev : NULL;

	if (!first)
		return false;
	*cls = event_class(first);
	return true;
}

static void drop_first_event(struct nested_events *ev)
{
	if (ev->reinject.valid)
		ev->reinject.valid = false;
	else
		ev->exception.ev.valid = false;
}

/* Exit to L1 or pend for L2: the one place an exception of L2 is routed. */
static enum nested_queue_result route_exception(struct nested_vcpu *nv,
						const struct nested_exception *ex)
{
	if (nested_l1_intercepts_event(nv->vmcs12, &ex->ev)) {
		nv->ev.exception_vmexit = *ex;
		return NESTED_QUEUED_VMEXIT;
	}
	nv->ev.exception = *ex;
	return NESTED_QUEUED_L2;
}

static void make_double_fault(struct nested_exception *df)
{
	*df = (struct nested_exception){
		.ev = { .valid = true, .type = INTR_TYPE_HW_EXCEPTION, .vector = DF_VECTOR,
			.has_error_code = true, .error_code = 0 },
		.during_delivery = true,
	};
}

/*
 * Queue an exception raised in L2 (by hardware, reflected, or by the
 * hypervisor's emulation). L1's intercepts are checked first, before any
 * #DF merging: a second exception L1 intercepts is a VM-exit whose
 * IDT-vectoring information names the first event (SDM 27.2.3), and a triple
 * fault happens only if the exception during #DF delivery does not itself
 * exit (SDM 25.2). Otherwise the new exception meets the event being
 * delivered per SDM Table 6-5. Events L1 injects through VM-entry never come
 * here (nested_enter_l2 puts them straight into vmcs02).
 */
enum nested_queue_result nested_queue_exception(struct nested_vcpu *nv,
						const struct nested_exception *ex)
{
	struct nested_events *ev = &nv->ev;
	struct nested_exception e = *ex;
	enum exception_class first;

	/* Exceptions come from handling a VM-exit, before the next entry is set up. */
	if (ev->exception_vmexit.ev.valid || ev->triple_fault || ev->inflight.valid)
		return NESTED_QUEUE_BUSY;
	e.ev.valid = true;
	e.during_delivery = ev->reinject.valid;
	if (e.ev.vector == DB_VECTOR)
		e.payload &= DR6_PAYLOAD_BITS;
	if (nested_l1_intercepts_event(nv->vmcs12, &e.ev) || !first_event_class(ev, &first))
		return route_exception(nv, &e);

	switch (nested_double_fault_outcome(first, event_class(&e.ev))) {
	case DF_SERIAL:
		/* The first event's delivery is abandoned; a re-executed instruction raises it again. */
		drop_first_event(ev);
		return route_exception(nv, &e);
	case DF_DOUBLE_FAULT:
		drop_first_event(ev);
		make_double_fault(&e);
		route_exception(nv, &e);
		return NESTED_QUEUED_DOUBLE_FAULT;
	default:
		drop_first_event(ev);
		ev->triple_fault = true;
		return NESTED_QUEUED_TRIPLE_FAULT;
	}
}
