/* The nested event core: per-vCPU event state and every event decision between L2, L1 and the hypervisor. */
#ifndef HV_NESTED_EVENTS_H
#define HV_NESTED_EVENTS_H

/*
 * Model. L1 runs L2 through vmcs12; the hypervisor (L0) really runs L2 on
 * vmcs02. This core never executes a VMX instruction: it sees vmcs02 (and the
 * two L2 registers outside any VMCS, DR6 and CR2) only through
 * struct nested_l2_ops, and vmcs12 as plain memory. In the hypervisor the
 * ops are VMREAD/VMWRITE and register moves; in the host tests they are a
 * second struct vmcs12 used as a fake vmcs02.
 *
 * Life of events for a vCPU running L2 (the wiring calls, in this order):
 *
 *   L1 executes VMLAUNCH/VMRESUME:
 *     err = nested_enter_l2(nv)      check and copy L1's VM-entry event
 *                                    (vmcs12 -> vmcs02; never routed back to
 *                                    L1's intercepts), mark the entry in progress.
 *   Anything raises an event for L2 (while handling an exit, i.e. before
 *   nested_prepare_entry sets up the next entry):
 *     nested_queue_exception(nv, &ex)    routed at queue time (exception
 *                                    bitmap, #PF mask/match), merged per
 *                                    SDM Table 6-5 (#DF, triple fault);
 *                                    RIP stays at a faulting instruction,
 *                                    the payload (DR6 bits / CR2) rides along;
 *                                    .restartable only if re-executing the
 *                                    instruction raises it again (else it is
 *                                    delivered before any boundary event)
 *     nv->ev.nmi_pending = true, .intr_pending/.intr_vector, .init_pending,
 *     .sipi_pending/.sipi_vector, .smi_pending, .mtf_pending,
 *     .preemption_timer_expired      plain flags, set by their sources
 *   Before every VM-entry to L2 (vmcs02):
 *     c = nested_prepare_entry(nv)   picks the next event by priority
 *                                    (nested_pick_event) and performs it:
 *                                    injects one event into vmcs02, or
 *                                    synthesizes a VM-exit to L1 (vmcs12
 *                                    written, L2 state captured; then run L1
 *                                    on vmcs01), or says BLOCKED: something
 *                                    waits for the coming entry to finish,
 *                                    so ask for an exit right after it
 *                                    (e.g. preemption timer 0 / NMI window).
 *                                    SMI: the caller's SMM emulation takes it.
 *                                    c.dropped lists what the choice ended
 *                                    (restartable faults preempted at an
 *                                    instruction boundary, L2-only events at
 *                                    an exit; trap-like #DBs from either
 *                                    exception slot go to vmcs12's pending
 *                                    debug exceptions).
 *                                    Injections are made valid for the
 *                                    VM-entry checks: no error code for a
 *                                    real-mode L2, 16-bit error codes,
 *                                    blocking by NMI cleared for an NMI.
 *                                    The same in two steps:
 *                                    nested_pick_event (pure) then
 *                                    nested_apply_choice.
 *   After every hardware VM-exit from L2:
 *     nested_l2_exited(nv)           the entry is complete; an event whose
 *                                    delivery was cut short (IDT-vectoring
 *                                    info) is kept for re-injection, or goes
 *                                    to L1 with the next synthesized exit.
 *   An exit L1 must see (reflection):
 *     nested_vmexit_to_l1(nv, &x)    writes the synthesized VM-exit (the
 *                                    same function every exit above uses).
 *
 * Not modelled here: NMI-/interrupt-window and TPR-threshold exits (they
 * follow from L1's controls merged into vmcs02 by the wiring), virtual-NMI
 * blocking details, MOV-SS blocking of debug traps, SMM itself.
 *
 * All functions assume the vCPU is in guest mode (L2) unless said otherwise.
 *
 * SDM section numbers in hv/nested/ follow the edition the project cites:
 * Vol. 3A ch. 6 (interrupts, exceptions) and 17 (debug); Vol. 3C ch. 24
 * VMCS, 25 VMX non-root operation, 26 VM entries, 27 VM exits, 30 VMX
 * instructions, 34 SMM; Appendix A/B/C.
 */

#include "hv/types.h"
#include "hv/vmx/vmx_defs.h"
#include "hv/nested/vmcs12.h"
#include "hv/nested/vmcs_batch.h"

/* vmcs02 and L2's DR6/CR2, as the core sees them. */
struct nested_l2_ops {
	uint64_t (*vmcs02_read)(void *ctx, uint32_t field);
	void (*vmcs02_write)(void *ctx, uint32_t field, uint64_t val);
	/*
	 * Many fields in one call (the round trip's capture and vmcs02 writes);
	 * NULL: one vmcs02_read/vmcs02_write per field. Batched reads never
	 * include GUEST_CR0/GUEST_CR4, whose L2 view vmcs02_read computes.
	 */
	void (*vmcs02_read_many)(void *ctx, const uint16_t *enc, uint64_t *val, uint32_t n);
	void (*vmcs02_write_batch)(void *ctx, const struct vmcs_batch *b);
	uint64_t (*read_dr6)(void *ctx);
	void (*write_dr6)(void *ctx, uint64_t dr6);
	void (*write_cr2)(void *ctx, uint64_t cr2);
	uint64_t (*read_cr2)(void *ctx);
	void *ctx;
};

void nested_l2_read_many(const struct nested_l2_ops *l2, const uint16_t *enc, uint64_t *val, uint32_t n);
void nested_l2_write_batch(const struct nested_l2_ops *l2, struct vmcs_batch *b); /* and empties it */

/* One event in interruption-information terms (SDM 24.8.3, 24.9.2, 24.9.3). */
struct nested_event {
	bool valid;
	uint8_t type;          /* enum intr_type */
	uint8_t vector;
	bool has_error_code;
	uint32_t error_code;
	uint32_t insn_len;     /* software interrupts/exceptions and ICEBP */
	bool nmi_unblocked_iret; /* exit info bit 12: a fault of an IRET that had unblocked NMIs (SDM 27.2.2) */
};

/* An exception with its payload, applied only when it is delivered to L2. */
struct nested_exception {
	struct nested_event ev;  /* ev.valid: pending */
	bool has_payload;
	uint64_t payload;        /* #DB: DR6 bits that it sets; #PF: CR2 */
	/* Raised while another event was being delivered: no instruction boundary, so nothing may preempt it. */
	bool during_delivery;
	/*
	 * Set by the queuer only if the faulting instruction had no effect yet
	 * (RIP at it, nothing written: e.g. the DR7.GD check of MOV DR), so
	 * re-executing it raises the same fault. Only such a fault may be
	 * dropped when an event of the next instruction boundary (NMI,
	 * interrupt, INIT, SMI, timer) or an exit to L1 wins; any other
	 * queued fault (e.g. a REP string instruction L0 carried out in part)
	 * is delivered first, as the hardware delivers a fault before the
	 * boundary after its instruction.
	 */
	bool restartable;
};

struct nested_events {
	bool guest_mode;                          /* L2 runs on vmcs02 */
	bool nested_run_pending;                  /* L1's VM-entry to L2 not yet complete */
	struct nested_exception exception;        /* pending for L2 */
	struct nested_exception exception_vmexit; /* decided: becomes an exception VM-exit to L1 */
	struct nested_event reinject;             /* delivery cut short by an exit L0 handled */
	struct nested_event inflight;             /* written to vmcs02 for the coming entry */
	bool triple_fault;                        /* L2 shut down: VM-exit reason 2 */
	bool nmi_pending;
	bool intr_pending;
	uint8_t intr_vector;
	bool init_pending;
	bool sipi_pending;
	uint8_t sipi_vector;
	bool smi_pending;
	bool mtf_pending;                         /* an MTF VM-exit to L1 is pending */
	bool preemption_timer_expired;            /* L1's preemption timer for L2 hit 0 */
};

struct nested_vcpu {
	struct nested_events ev;
	struct vmcs12 *vmcs12;
	struct nested_l2_ops l2;
	uint32_t vmcs12_features;  /* enum vmcs12_feature exposed to L1 */
	uint64_t vmx_misc;         /* IA32_VMX_MISC as L1 reads it */
	bool any_error_code;       /* IA32_VMX_BASIC[56] as L1 reads it */
	bool rare_in_vmcs02;       /* L2's rare state is newer in vmcs02 than in vmcs12 (VMCS12_RARE_LIST) */
};

/* ---- routing and exception classes (routing.c, exception_class.c) ---- */

bool nested_l1_wants_exception(const struct vmcs12 *vmcs12, uint8_t vector, uint32_t error_code);
bool nested_l1_intercepts_event(const struct vmcs12 *vmcs12, const struct nested_event *e);
bool nested_exception_has_error_code(uint8_t vector);

enum exception_class { EXC_BENIGN, EXC_CONTRIBUTORY, EXC_PAGE_FAULT, EXC_DOUBLE_FAULT };
enum exception_class nested_exception_class(uint8_t vector);

enum double_fault_outcome { DF_SERIAL, DF_DOUBLE_FAULT, DF_TRIPLE_FAULT };
enum double_fault_outcome nested_double_fault_outcome(enum exception_class first,
						      enum exception_class second);

enum nested_queue_result {
	NESTED_QUEUED_L2,           /* pending for L2 */
	NESTED_QUEUED_VMEXIT,       /* will be an exception VM-exit to L1 */
	NESTED_QUEUED_DOUBLE_FAULT, /* merged with the event in delivery into #DF (then routed) */
	NESTED_QUEUED_TRIPLE_FAULT, /* L2 shuts down: VM-exit reason 2 to L1 */
	NESTED_QUEUE_BUSY,          /* not queued: an exception VM-exit or triple fault is already
				       decided, or an injection is set up for the coming entry
				       (queue after nested_l2_exited) */
};
enum nested_queue_result nested_queue_exception(struct nested_vcpu *nv,
						const struct nested_exception *ex);

/* ---- the pending-debug-exceptions rule (pending_dbg.c) ---- */

uint64_t pending_dbg_traps(const struct nested_exception *ex);
uint64_t nested_pending_dbg_for_exit(const struct nested_exception *ex);
uint64_t nested_dr6_after_db(uint64_t dr6, uint64_t payload);
bool nested_exit_keeps_pending_dbg(uint32_t reason, uint32_t exit_intr_info, uint32_t intr_state);

enum exception_priority {
	EXC_PRIO_TASK_SWITCH_TRAP, /* #DB with BT, SDM 6.9 priority 2 */
	EXC_PRIO_DEBUG_TRAP,       /* #DB with B0-B3/BS, SDM 6.9 priority 4 */
	EXC_PRIO_INSTRUCTION,      /* faults, GD, INT3/INTO/ICEBP, SDM 6.9 priority 7-10 */
};
enum exception_priority nested_exception_priority(const struct nested_exception *ex);

/* ---- priority (priority.c) ---- */

enum nested_action {
	NESTED_ACT_NONE,     /* nothing can be delivered now */
	NESTED_ACT_BLOCKED,  /* something waits for the coming entry: retry after it */
	NESTED_ACT_VMEXIT,   /* synthesize a VM-exit to L1 */
	NESTED_ACT_INJECT,   /* inject into L2 through vmcs02 */
	NESTED_ACT_SMI,      /* hand the SMI to the caller's SMM emulation */
	NESTED_ACT_DISCARD,  /* dropped by architecture (SIPI outside wait-for-SIPI) */
};

enum nested_source {
	NESTED_SRC_NONE,
	NESTED_SRC_TRIPLE_FAULT,
	NESTED_SRC_EXCEPTION_VMEXIT,
	NESTED_SRC_EXCEPTION,
	NESTED_SRC_SMI,
	NESTED_SRC_INIT,
	NESTED_SRC_SIPI,
	NESTED_SRC_MTF,
	NESTED_SRC_PREEMPTION_TIMER,
	NESTED_SRC_NMI,
	NESTED_SRC_INTR,
	NESTED_SRC_REINJECT,
};

/* What nested_prepare_entry dropped because the event it chose preempts them. */
#define NESTED_DROPPED_EXCEPTION        BIT(0) /* fault-like: the instruction re-executes */
#define NESTED_DROPPED_EXCEPTION_VMEXIT BIT(1)
#define NESTED_DROPPED_MTF              BIT(2)
#define NESTED_DROPPED_TIMER            BIT(3)
#define NESTED_DROPPED_DB_TO_PENDING    BIT(4) /* trap-like #DB moved to vmcs12 pending debug exceptions */
#define NESTED_DROPPED_TRIPLE_FAULT     BIT(5) /* an exit to L1 for another reason ended L2 first */
#define NESTED_DROPPED_DB_VMEXIT_TO_PENDING BIT(6) /* the same for a trap-like #DB decided for L1 */

struct nested_choice {
	enum nested_action action;
	enum nested_source source;
	uint32_t dropped;  /* NESTED_DROPPED_*, filled in when the choice is carried out */
};

struct nested_choice nested_pick_event(const struct nested_vcpu *nv);
bool nested_exception_must_deliver(const struct nested_exception *ex);

/* ---- doing it (events.c, entry.c, vmexit.c) ---- */

struct nested_choice nested_prepare_entry(struct nested_vcpu *nv);
void nested_apply_choice(struct nested_vcpu *nv, struct nested_choice *c);

int nested_check_entry_event(const struct vmcs12 *vmcs12, uint64_t vmx_misc);
int nested_check_entry_event_caps(const struct vmcs12 *vmcs12, uint64_t vmx_misc, bool any_error_code);
int nested_enter_l2(struct nested_vcpu *nv);
void nested_l2_exited(struct nested_vcpu *nv);
bool nested_reinject_event(struct nested_vcpu *nv);
void nested_inject_l2(struct nested_vcpu *nv, const struct nested_event *e);
bool nested_l2_real_mode(const struct nested_vcpu *nv);

uint32_t nested_event_to_intr_info(const struct nested_event *e);
struct nested_event nested_event_from_intr_info(uint32_t info, uint32_t error_code,
						uint32_t insn_len);

/* A VM-exit to L1 as the core writes it into vmcs12. */
struct nested_exit {
	uint32_t reason;
	uint64_t qualification;
	uint32_t intr_info;        /* VM-exit interruption information */
	uint32_t intr_error_code;
	uint32_t insn_len;
};
uint32_t nested_vmexit_to_l1(struct nested_vcpu *nv, const struct nested_exit *x);
/* Once, before any vCPU's first exit: the exit's field lists for the features L1 is offered. */
void nested_vmexit_init(uint32_t vmcs12_features);
/*
 * L2's rare state (VMCS12_RARE_LIST), left in vmcs02 by the last exit, into
 * vmcs12: before anything reads or writes those vmcs12 fields or vmcs12
 * leaves (the wiring: L1's VMREAD/VMWRITE of one, VMCLEAR, VMPTRLD, VMXOFF,
 * a full vmcs02 prepare). vmcs02 must be readable through nv->l2.
 */
void nested_capture_rare(struct nested_vcpu *nv);

#endif
