/* Decides how NMIs owed to L1 reach it: injected only where the CPU itself would deliver one, one latched behind it (pure). */
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

/* L1 blocks NMIs (its handler runs, SDM 24.4.2 virtual-NMI blocking) or one is already being injected. */
static bool nmi_in_progress(const struct nmi_entry_view *v)
{
	uint32_t info = v->entry_intr_info;

	return (v->interruptibility & GUEST_INTR_STATE_NMI) ||
	       ((info & INTR_INFO_VALID) && (info & INTR_INFO_TYPE_MASK) == (uint32_t)INTR_TYPE_NMI << INTR_INFO_TYPE_SHIFT);
}

/*
 * How many of `owed` NMIs stay owed after this entry. An injected one is
 * delivered and blocks NMIs until L1's IRET, so one more may follow it at
 * the window. While L1 blocks NMIs, or one is being injected, or the vCPU
 * waits for SIPI, only one can wait: the CPU's latch holds one (SDM 6.7.1),
 * later ones merge with it. Otherwise two: the first was taken for L1 before
 * the second arrived and is delivered first (it only waits for the window).
 */
uint32_t nmi_owed_after_entry(const struct nmi_entry_view *v, enum nmi_step step, uint32_t owed)
{
	uint32_t cap = NMI_OWED_MAX;

	if (owed == 0 || step == NMI_STEP_NONE)
		return 0;
	if (step == NMI_STEP_INJECT)
		return owed > 1 ? 1 : 0;
	if (step == NMI_STEP_HOLD || nmi_in_progress(v))
		cap = 1;
	return owed < cap ? owed : cap;
}
