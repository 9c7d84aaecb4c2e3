/* IDT-vectoring: saving an event whose delivery a VM-exit cut short, and re-injecting it unchanged (SDM 24.9.3, 27.2.3). */
#include "hv/nested/events.h"

/*
 * Every hardware VM-exit from L2 comes here first. The entry has completed
 * (so nested_run_pending ends) and whatever was injected was either
 * delivered or, if the exit happened during its delivery, is reported in
 * vmcs02's IDT-vectoring information (with error code, and the instruction
 * length for software interrupts/exceptions, SDM 27.2.3-27.2.4). That event
 * is kept: re-injected unchanged if the hypervisor handles the exit itself
 * (nested_reinject_event), or handed to L1 in vmcs12's IDT-vectoring fields
 * if the exit goes to L1 (nested_vmexit_to_l1).
 */
void nested_l2_exited(struct nested_vcpu *nv)
{
	const struct nested_l2_ops *l2 = &nv->l2;
	uint32_t idt = (uint32_t)l2->vmcs02_read(l2->ctx, IDT_VECTORING_INFO_FIELD);

	nv->ev.nested_run_pending = false;
	nv->ev.inflight.valid = false;
	if (!(idt & INTR_INFO_VALID))
		return;
	nv->ev.reinject = nested_event_from_intr_info(
		idt, (uint32_t)l2->vmcs02_read(l2->ctx, IDT_VECTORING_ERROR_CODE),
		(uint32_t)l2->vmcs02_read(l2->ctx, VM_EXIT_INSTRUCTION_LEN));
	nv->ev.reinject.nmi_unblocked_iret = false; /* bit 12 is undefined in IDT-vectoring information */
}

/* Put a cut-short event back into vmcs02, unchanged. False if there is none or an injection is already set up. */
bool nested_reinject_event(struct nested_vcpu *nv)
{
	struct nested_event e = nv->ev.reinject;

	if (!e.valid || nv->ev.inflight.valid)
		return false;
	nv->ev.reinject.valid = false;
	nested_inject_l2(nv, &e);
	return true;
}
