/* libFuzzer target: random event sequences and vmcs12 controls through the nested event core, checking its invariants. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv/x86.h"
#include "tests/fuzz/nested_harness.h"

/*
 * Invariants checked after every operation:
 *  - no crash (ASan/UBSan);
 *  - no event lost or duplicated: the number of events the core holds
 *    (pending slots and flags, the re-injection and in-flight slots) changes
 *    by exactly what the operation accounts for: +1 per accepted event,
 *    -1 per event delivered, turned into a VM-exit, handed to L1 as
 *    IDT-vectoring information, merged (Table 6-5), discarded or dropped
 *    as the core reports it;
 *  - DR6.BD never reaches vmcs12's pending debug exceptions;
 *  - a trap-like #DB never vanishes at an exit: its B0-B3/BS/RTM conditions
 *    held in either exception slot are in vmcs12's pending debug exceptions
 *    afterwards (B0-B3 with bit 12), or they are the exit itself (a #DB
 *    exception exit with them in its qualification);
 *  - no event of the next instruction boundary (SMI, INIT, SIPI, MTF,
 *    timer, NMI, interrupt) is chosen while a fault that is not restartable
 *    (or an exception raised during delivery) is held: it is delivered first;
 *  - every event the core writes into vmcs02 passes the VM-entry checks on
 *    event injection (SDM 26.2.1.3), and an NMI goes in with blocking by
 *    NMI clear (SDM 26.3.1.5);
 *  - at most one event is injected into vmcs02 per VM-entry;
 *  - nested_pick_event does not change the state; outside guest mode no
 *    L2-only event is held and nothing is decided.
 */

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "invariant failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

struct input {
	const uint8_t *p;
	size_t n;
};

static uint8_t byte(struct input *in)
{
	uint8_t b = 0;

	if (in->n) {
		b = *in->p++;
		in->n--;
	}
	return b;
}

static uint32_t u32(struct input *in)
{
	uint32_t v = byte(in);

	v |= (uint32_t)byte(in) << 8;
	v |= (uint32_t)byte(in) << 16;
	return v | (uint32_t)byte(in) << 24;
}

static int held(const struct nested_events *ev)
{
	return ev->exception.ev.valid + ev->exception_vmexit.ev.valid + ev->reinject.valid +
	       ev->inflight.valid + ev->triple_fault + ev->nmi_pending + ev->intr_pending +
	       ev->init_pending + ev->sipi_pending + ev->smi_pending + ev->mtf_pending +
	       ev->preemption_timer_expired;
}

static int popcount(uint32_t v)
{
	return __builtin_popcount(v);
}

static struct fake_l2 f;

static void set_controls(struct input *in)
{
	uint8_t b = byte(in);

	f.l1_vmcs12.exception_bitmap = u32(in);
	f.l1_vmcs12.page_fault_error_code_mask = byte(in) & 0x1f;
	f.l1_vmcs12.page_fault_error_code_match = byte(in) & 0x1f;
	f.l1_vmcs12.pin_based_vm_exec_control = (b & 1 ? PIN_BASED_NMI_EXITING : 0) |
						(b & 2 ? PIN_BASED_EXT_INTR_EXITING : 0);
	f.l1_vmcs12.vm_exit_controls = (b & 4 ? VM_EXIT_ACK_INTR_ON_EXIT : 0) |
				       (b & 8 ? VM_EXIT_SAVE_DEBUG_CONTROLS : 0) |
				       (b & 16 ? VM_EXIT_SAVE_PREEMPTION_TIMER : 0);
	f.nv.vmx_misc = b & 32 ? VMX_MISC_ZERO_LEN_INJECTION : 0;
}

static void set_l2_state(struct input *in)
{
	uint8_t b = byte(in);
	static const uint64_t dbg[] = { 0, DR6_BS, 0x1 | PENDING_DBG_BP_ENABLED, PENDING_DBG_RTM };

	f.vmcs02.guest_activity_state = b & 3;
	f.vmcs02.guest_interruptibility_info = (b >> 2) & 0xf;
	f.vmcs02.guest_rflags = 2 | ((b & 0x40) ? X86_RFLAGS_IF : 0);
	f.vmcs02.guest_pending_dbg_exceptions = dbg[(b >> 6) & 3];
	/*
	 * Sometimes a real-mode L2 (unrestricted guest, CR0.PE=0): no error
	 * codes. L2 cannot change mode while an event is in flight or waits
	 * for re-injection (nothing of L2 runs in between).
	 */
	b = byte(in);
	f.cr2 = (uint64_t)(b >> 3) << 12;
	if (f.nv.ev.inflight.valid || f.nv.ev.reinject.valid)
		return;
	f.vmcs02.cpu_based_vm_exec_control = b & 3 ? CPU_BASED_ACTIVATE_SECONDARY : 0;
	f.vmcs02.secondary_vm_exec_control = b & 2 ? SECONDARY_UNRESTRICTED_GUEST : 0;
	f.vmcs02.guest_cr0 = (b & 6) == 6 ? 0 : X86_CR0_PE;
}

/* A #DB payload from any mix of B0-B3, BD, BS, BT (and junk, which the core must filter). */
static struct nested_exception random_exception(struct input *in)
{
	uint8_t v = byte(in), t = byte(in), pl = byte(in);
	struct nested_exception ex = fake_exception(v & 31, u32(in) & 0xffff, 0, false);

	if (ex.ev.vector == NMI_VECTOR)
		ex.ev.vector = UD_VECTOR;
	if (ex.ev.vector == DB_VECTOR && (t & 1)) {
		ex.has_payload = true;
		ex.payload = (pl & 0xf) | (pl & 0x10 ? DR6_BD : 0) | (pl & 0x20 ? DR6_BS : 0) |
			     (pl & 0x40 ? DR6_BT : 0) | (pl & 0x80 ? 0xff0ULL : 0);
	} else if (ex.ev.vector == PF_VECTOR) {
		ex.has_payload = true;
		ex.payload = (uint64_t)pl << 12;
	}
	if ((t & 6) == 2 && (ex.ev.vector == BP_VECTOR || ex.ev.vector == OF_VECTOR)) {
		ex.ev.type = INTR_TYPE_SW_EXCEPTION;
		ex.ev.insn_len = 1;
	} else if ((t & 6) == 4) {
		/* INT n with n < 32: never through the exception bitmap. */
		ex.ev.type = INTR_TYPE_SW_INTR;
		ex.ev.has_error_code = false;
		ex.ev.insn_len = 2;
	}
	ex.restartable = t & 8;
	ex.ev.nmi_unblocked_iret = t & 16;
	if (t & 32)
		ex.has_payload = false;
	return ex;
}

static void op_queue(struct input *in)
{
	struct nested_exception ex = random_exception(in);
	bool had_first = f.nv.ev.reinject.valid || f.nv.ev.exception.ev.valid;
	int before = held(&f.nv.ev), d;
	enum nested_queue_result r = nested_queue_exception(&f.nv, &ex);

	d = held(&f.nv.ev) - before;
	switch (r) {
	case NESTED_QUEUE_BUSY:
		CHECK(d == 0);
		break;
	case NESTED_QUEUED_DOUBLE_FAULT:
	case NESTED_QUEUED_TRIPLE_FAULT:
		CHECK(had_first && d == 0); /* first + second -> one #DF / one shutdown */
		break;
	default:
		CHECK(d == 1 || (had_first && d == 0)); /* serial: the first's delivery is abandoned */
		break;
	}
}

/* The pending-debug-exceptions value a held trap-like #DB stands for (SDM 24.4.2 Table 24-4), by hand. */
static uint64_t trap_bits(const struct nested_exception *ex)
{
	uint64_t v;

	if (!ex->ev.valid || ex->ev.type != INTR_TYPE_HW_EXCEPTION || ex->ev.vector != DB_VECTOR ||
	    !ex->has_payload)
		return 0;
	v = ex->payload & (0xfULL | DR6_BS | DR6_RTM);
	return (v & 0xf) ? v | PENDING_DBG_BP_ENABLED : v;
}

/* After an exit to L1: no trap-like #DB the core held has vanished. */
static void check_traps_kept(uint64_t l2_slot, uint64_t exit_slot, bool exit_is_that_db)
{
	uint64_t pending = f.l1_vmcs12.guest_pending_dbg_exceptions;

	CHECK((pending & l2_slot) == l2_slot);
	if (exit_is_that_db && exit_slot) {
		CHECK(f.l1_vmcs12.vm_exit_reason == EXIT_REASON_EXCEPTION_NMI);
		CHECK((f.l1_vmcs12.vm_exit_intr_info & 0x7ff) == (DB_VECTOR | INTR_TYPE_HW_EXCEPTION << 8));
		exit_slot &= ~PENDING_DBG_BP_ENABLED;
		CHECK((f.l1_vmcs12.exit_qualification & exit_slot) == exit_slot);
	} else {
		CHECK((pending & exit_slot) == exit_slot);
	}
}

/* What the hardware would refuse at VM-entry if the core had written it (SDM 26.2.1.3, 26.3.1.5). */
static void check_vmcs02_injection(void)
{
	uint32_t info = f.vmcs02.vm_entry_intr_info_field;

	if (!(info & INTR_INFO_VALID))
		return;
	CHECK(nested_check_entry_event(&f.vmcs02, VMX_MISC_ZERO_LEN_INJECTION) == 0);
	if (((info & INTR_INFO_TYPE_MASK) >> INTR_INFO_TYPE_SHIFT) == INTR_TYPE_NMI)
		CHECK(!(f.vmcs02.guest_interruptibility_info & GUEST_INTR_STATE_NMI));
}

static bool boundary_event(enum nested_source s)
{
	return s == NESTED_SRC_SMI || s == NESTED_SRC_INIT || s == NESTED_SRC_SIPI || s == NESTED_SRC_MTF ||
	       s == NESTED_SRC_PREEMPTION_TIMER || s == NESTED_SRC_NMI || s == NESTED_SRC_INTR;
}

static bool must_deliver_held(const struct nested_exception *ex)
{
	return ex->ev.valid && nested_exception_must_deliver(ex);
}

static void op_prepare_entry(void)
{
	struct nested_events snap;
	bool urgent = must_deliver_held(&f.nv.ev.exception) || must_deliver_held(&f.nv.ev.exception_vmexit);
	int before = held(&f.nv.ev), consumed;
	uint64_t l2_traps = trap_bits(&f.nv.ev.exception);
	uint64_t exit_traps = trap_bits(&f.nv.ev.exception_vmexit);
	bool entry_pending = f.nv.ev.nested_run_pending;
	struct nested_choice peek, c;

	/* Byte copy and byte compare, padding included: picking must not write the state at all. */
	memcpy(&snap, &f.nv.ev, sizeof(snap));
	peek = nested_pick_event(&f.nv);
	CHECK(memcmp(&snap, &f.nv.ev, sizeof(snap)) == 0); // NOLINT(bugprone-suspicious-memory-comparison)
	c = nested_prepare_entry(&f.nv);
	if (peek.action != NESTED_ACT_NONE || c.source != NESTED_SRC_REINJECT)
		CHECK(c.action == peek.action && c.source == peek.source);
	CHECK(f.injections <= 1);
	CHECK(!urgent || !boundary_event(c.source));
	switch (c.action) {
	case NESTED_ACT_VMEXIT:
		consumed = !(c.source == NESTED_SRC_INTR && f.nv.ev.intr_pending);
		consumed += (f.l1_vmcs12.idt_vectoring_info_field & INTR_INFO_VALID) != 0;
		CHECK(!f.nv.ev.guest_mode);
		CHECK(!(f.l1_vmcs12.vm_entry_intr_info_field & INTR_INFO_VALID));
		check_traps_kept(l2_traps, exit_traps, c.source == NESTED_SRC_EXCEPTION_VMEXIT);
		break;
	case NESTED_ACT_INJECT:
		CHECK(f.vmcs02.vm_entry_intr_info_field & INTR_INFO_VALID);
		/* L1's own event (written at its VM-entry) is checked against vmcs12, not here. */
		if (!entry_pending)
			check_vmcs02_injection();
		consumed = 0; /* moved into the in-flight slot */
		break;
	case NESTED_ACT_SMI:
	case NESTED_ACT_DISCARD:
		consumed = 1;
		break;
	default:
		consumed = 0;
		break;
	}
	CHECK(held(&f.nv.ev) == before - consumed - popcount(c.dropped));
}

static void op_run(struct input *in)
{
	bool inflight = f.nv.ev.inflight.valid;
	int before = held(&f.nv.ev);
	bool cut = byte(in) & 1;

	fake_l2_run(&f, cut);
	CHECK(!f.nv.ev.nested_run_pending && !f.nv.ev.inflight.valid);
	CHECK(held(&f.nv.ev) == before - (inflight && !cut));
	CHECK(!cut || !inflight || f.nv.ev.reinject.valid);
}

static void op_l1_entry(struct input *in)
{
	int before = held(&f.nv.ev);
	uint32_t info = u32(in) & (0x80000fffu | (byte(in) & 1 ? 0x7ffff000u : 0));

	f.l1_vmcs12.vm_entry_intr_info_field = info;
	f.l1_vmcs12.vm_entry_exception_error_code = byte(in);
	f.l1_vmcs12.vm_entry_instruction_len = byte(in) & 15;
	f.l1_vmcs12.guest_cr0 = 1;
	if (nested_enter_l2(&f.nv)) {
		CHECK(!f.nv.ev.guest_mode && held(&f.nv.ev) == before);
		return;
	}
	CHECK(f.injections <= 1);
	CHECK(held(&f.nv.ev) == before + ((info & INTR_INFO_VALID) != 0));
}

static void op_reflect(struct input *in)
{
	struct nested_exit x = { .reason = byte(in) % EXIT_REASON_MAX, .qualification = u32(in) };
	int before = held(&f.nv.ev);
	uint64_t l2_traps = trap_bits(&f.nv.ev.exception);
	uint64_t exit_traps = trap_bits(&f.nv.ev.exception_vmexit);
	uint32_t dropped = nested_vmexit_to_l1(&f.nv, &x);
	int moved = (f.l1_vmcs12.idt_vectoring_info_field & INTR_INFO_VALID) != 0;

	CHECK(held(&f.nv.ev) == before - moved - popcount(dropped));
	check_traps_kept(l2_traps, exit_traps, false);
}

static void raise_signal(uint8_t which, uint8_t arg)
{
	struct nested_events *ev = &f.nv.ev;
	bool *flag[] = { &ev->nmi_pending, &ev->intr_pending, &ev->init_pending, &ev->sipi_pending,
			 &ev->smi_pending, &ev->mtf_pending, &ev->preemption_timer_expired };

	which %= 7;
	/* MTF and the preemption timer only exist while L2 runs. */
	if (which >= 5 && !ev->guest_mode)
		return;
	*flag[which] = true;
	ev->intr_vector = which == 1 ? (uint8_t)(arg | 0x20) : ev->intr_vector;
	ev->sipi_vector = which == 3 ? arg : ev->sipi_vector;
}

static void check_always(void)
{
	const struct nested_events *ev = &f.nv.ev;

	CHECK(!(f.l1_vmcs12.guest_pending_dbg_exceptions & DR6_BD));
	CHECK(!(f.l1_vmcs12.guest_pending_dbg_exceptions & ~(0xfULL | PENDING_DBG_BP_ENABLED |
							      PENDING_DBG_BS | PENDING_DBG_RTM)));
	if (!ev->guest_mode) {
		CHECK(!ev->exception.ev.valid && !ev->exception_vmexit.ev.valid);
		CHECK(!ev->reinject.valid && !ev->inflight.valid && !ev->triple_fault);
		CHECK(!ev->mtf_pending && !ev->preemption_timer_expired && !ev->nested_run_pending);
		CHECK(nested_pick_event(&f.nv).action == NESTED_ACT_NONE);
	}
}

static void step(struct input *in)
{
	uint8_t op = byte(in);
	bool l2 = f.nv.ev.guest_mode;

	switch (op % 10) {
	case 0: raise_signal(byte(in), byte(in)); break;
	case 1: if (l2) op_queue(in); break;
	case 2: op_prepare_entry(); break;
	case 3: if (l2) op_run(in); break;
	case 4: if (!l2) op_l1_entry(in); break;
	case 5: if (l2 && (op & 0x80)) op_reflect(in); break;
	case 6: set_l2_state(in); break;
	case 7: set_controls(in); break;
	default: op_prepare_entry(); if (f.nv.ev.guest_mode) op_run(in); break;
	}
	check_always();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };

	fake_l2_init(&f);
	set_controls(&in);
	fake_l2_running(&f);
	while (in.n)
		step(&in);
	return 0;
}
