/* The pending-debug-exceptions rule: which #DB conditions are trap-like and survive a VM-exit (SDM 6.9, 17.2.4, 27.3.4). */
#include "hv/nested/events.h"

/*
 * The DR6 condition bits a pending #DB carries that are trap-like, i.e. that
 * stay pending across an instruction boundary and so must be handed to L1 in
 * vmcs12's pending-debug-exceptions field if a VM-exit to L1 wins over the
 * #DB (SDM 27.3.4).
 *
 * The payload is the to-be-DR6 of the #DB. We infer the class of the #DB
 * from it:
 *  - BD (general detect, DR7.GD=1 and a MOV DR) is always FAULT-like
 *    (SDM 17.2.4): RIP still points at the MOV DR, which raises the #DB again
 *    when it re-executes. So BD is cleared here. Left in, it would make L1
 *    see a pending #DB that never happened (and bit 13 is reserved in the
 *    pending-debug-exceptions field, so L1's next VM-entry would fail).
 *  - BS (single step, RFLAGS.TF) and BT (task switch, TSS T flag) are traps.
 *  - B0-B3 are treated as traps (data or I/O breakpoints).
 *
 * What the payload cannot tell apart, honestly:
 *  - Code breakpoints (instruction fetch, fault-like) and data breakpoints
 *    (trap-like) set the same B0-B3 bits. A code-breakpoint #DB that is
 *    pending from our point of view (raised, not yet delivered) would be
 *    recorded as pending and then raised again when L2 re-executes the
 *    instruction (RF=0): a duplicate #DB. The hypervisor never queues code
 *    breakpoint #DBs itself (the hardware delivers them to L2 directly or as
 *    a #DB VM-exit that is reflected, i.e. already delivered), so the case
 *    does not arise today; a caller that starts emulating instruction fetch
 *    breakpoints must queue them without B0-B3 in the payload or extend this.
 *  - ICEBP (INT1) is trap-like but sets no DR6 bit; it is queued as a
 *    privileged software exception with an instruction length and RIP at the
 *    ICEBP, so it is re-executed, never recorded as pending.
 *  - A payload mixing BD with trap bits is classed by its trap bits.
 * nested_queue_exception keeps only DR6 condition bits in a #DB payload
 * (B0-B3, BD, BS, BT, RTM), so nothing else can reach vmcs12 through here.
 */
uint64_t pending_dbg_traps(const struct nested_exception *ex)
{
	if (!ex->ev.valid || ex->ev.vector != DB_VECTOR ||
	    ex->ev.type != INTR_TYPE_HW_EXCEPTION || !ex->has_payload)
		return 0;
	/* General Detect #DBs are fault-like. */
	return ex->payload & ~DR6_BD;
}

/*
 * The value a synthesized VM-exit puts into vmcs12's pending debug
 * exceptions for a #DB that is still pending for L2 (SDM 27.3.4, Table 24-4):
 * B0-B3 with bit 12 "enabled breakpoint" (a queued breakpoint #DB comes from
 * a breakpoint that matched and was enabled in DR7; without bit 12 or BS the
 * field holds no valid pending #DB and L1's VM-entry would drop it, SDM
 * 26.6.3), BS, RTM. BT has no bit in the field: a task-switch #DB has SDM 6.9
 * priority 2, above every event that synthesizes an exit, so it is delivered
 * before any such exit and is never pending at one.
 */
uint64_t nested_pending_dbg_for_exit(const struct nested_exception *ex)
{
	uint64_t val = pending_dbg_traps(ex) & ~DR6_BT;

	if (val & PENDING_DBG_B0_B3)
		val |= PENDING_DBG_BP_ENABLED;
	return val;
}

/*
 * Where a pending exception sits in SDM 6.9's order. BT wins over SMI/INIT
 * (priority 2); other debug traps come after MTF (SDM 25.5.2: "MTF VM exits
 * take priority over debug-trap exceptions") and before the preemption timer
 * (SDM 25.5.1); everything else, GD #DB included, is the fault or software
 * exception of the instruction at RIP (priority 7-10).
 */
enum exception_priority nested_exception_priority(const struct nested_exception *ex)
{
	uint64_t traps = pending_dbg_traps(ex);

	if (traps & DR6_BT)
		return EXC_PRIO_TASK_SWITCH_TRAP;
	if (traps)
		return EXC_PRIO_DEBUG_TRAP;
	return EXC_PRIO_INSTRUCTION;
}

/*
 * DR6 after delivering a #DB with this payload (SDM 17.2.3): B0-B3 are
 * replaced, BD/BS/BT are sticky, bit 16 (RTM) is active-low, so a payload
 * RTM bit clears it.
 */
uint64_t nested_dr6_after_db(uint64_t dr6, uint64_t payload)
{
	dr6 &= ~DR6_B0_B3;
	dr6 |= DR6_FIXED_1 | DR6_RTM;
	dr6 |= payload & (DR6_B0_B3 | DR6_BD | DR6_BS | DR6_BT);
	if (payload & DR6_RTM)
		dr6 &= ~DR6_RTM;
	return dr6;
}

/*
 * Does a VM-exit with this reason keep the pending debug exceptions (SDM
 * 27.3.4)? Every other exit saves the field as 0. Kept for: INIT; SMI;
 * a machine-check exception; "TPR below threshold", "virtualized EOI",
 * "APIC write" and MTF (exits that follow an instruction that completed);
 * and any exit not caused by a #DB while MOV SS blocks debug exceptions.
 */
bool nested_exit_keeps_pending_dbg(uint32_t reason, uint32_t exit_intr_info, uint32_t intr_state)
{
	uint8_t vector = (uint8_t)(exit_intr_info & INTR_INFO_VECTOR_MASK);
	bool exception = VMX_EXIT_REASON_BASIC(reason) == EXIT_REASON_EXCEPTION_NMI &&
			 (exit_intr_info & INTR_INFO_VALID) &&
			 (exit_intr_info & INTR_INFO_TYPE_MASK) >> INTR_INFO_TYPE_SHIFT != INTR_TYPE_NMI;

	switch (VMX_EXIT_REASON_BASIC(reason)) {
	case EXIT_REASON_INIT_SIGNAL: case EXIT_REASON_IO_SMI: case EXIT_REASON_OTHER_SMI:
	case EXIT_REASON_TPR_BELOW_THRESHOLD: case EXIT_REASON_EOI_INDUCED:
	case EXIT_REASON_APIC_WRITE: case EXIT_REASON_MONITOR_TRAP_FLAG:
		return true;
	default:
		break;
	}
	if (exception && vector == MC_VECTOR)
		return true;
	return (intr_state & GUEST_INTR_STATE_MOV_SS) && !(exception && vector == DB_VECTOR);
}
