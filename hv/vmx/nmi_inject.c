/* Decides how an NMI owed to L1 reaches it: injected only where the CPU itself would deliver one (pure). */
#include "hv/vmx/nmi_inject.h"
#include "hv/vmx/vmx_defs.h"

/*
 * SDM 26.3.1.5: an NMI may be injected only without blocking by MOV SS,
 * by STI (on some processors) and, with virtual NMIs, without virtual-NMI
 * blocking; L1 in its NMI handler gets the next NMI after its IRET, which
 * the NMI-window exit reports (SDM 25.2). A vCPU waiting for SIPI takes no
 * NMI (SDM 25.2: it is blocked there); it is kept for after the start.
 * An event already being injected goes first and the NMI follows at the
 * window. A pending debug exception (the single-step #DB after an emulated
 * instruction, SDM 26.6.3) would be lost by an injecting entry ("no pending
 * debug exceptions after a vectoring VM entry"), and it has priority over an
 * NMI anyway (SDM 6.9): it is delivered first, the NMI at the window after.
 */
enum nmi_step nmi_next_step(const struct nmi_entry_view *v)
{
	uint32_t blocking = GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS | GUEST_INTR_STATE_NMI;

	if (!v->owed)
		return NMI_STEP_NONE;
	if (v->activity == GUEST_ACTIVITY_WAIT_SIPI)
		return NMI_STEP_HOLD;
	if ((v->entry_intr_info & INTR_INFO_VALID) || (v->interruptibility & blocking) || v->pending_dbg)
		return NMI_STEP_AT_WINDOW;
	return NMI_STEP_INJECT;
}
