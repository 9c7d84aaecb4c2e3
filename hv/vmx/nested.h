/* Nested VMX, the executing side: L1's VMX instruction exits, the switch to vmcs02 and back (decisions are hv/nested's). */
#ifndef HV_VMX_NESTED_H
#define HV_VMX_NESTED_H

#include "hv/types.h"
#include "hv/vmx/vcpu.h"
#include "hv/nested/events.h"
#include "hv/nested/vmx_insn.h"
#include "hv/nested/vmx_policy.h"
#include "hv/nested/shadow_ept.h"
#include "hv/nested/vmcs02.h"
#include "hv/nested/host_state.h"
#include "hv/vmx/nested_shadow.h"

/*
 * A vCPU's nested state, allocated when its L1 first executes VMXON (struct
 * vcpu only holds the pointer). The frames: this struct (with the cached
 * vmcs12), vmcs02, and vmcs02's merged I/O and MSR bitmaps.
 */
struct vmx_nested {
	struct nested_vmx vmx;     /* VMX operation and the vmcs12 cache (hv/nested/vmx_insn.h) */
	struct nested_vcpu core;   /* the event core; core.vmcs12 points at vmx.vmcs12 */
	paddr_t vmcs02;
	bool vmcs02_ready;         /* host state written (once) */
	bool vmcs02_launched;      /* vmcs02's launch state: the exit stub's VMLAUNCH or VMRESUME */
	bool entering;             /* L1's VMLAUNCH/VMRESUME is between our checks and the hardware entry */
	bool launching;            /* ... and it is a VMLAUNCH: a failed entry leaves vmcs12 clear */
	bool immediate_exit;       /* vmcs02's preemption timer is ours, at 0 (vmcs02_l0.immediate_exit) */
	bool init_posted;          /* an INIT latched by another CPU (or an ICR write), folded into core.ev */
	struct shadow_ept ept02;   /* L2's EPT when L1 enables EPT (nested_ept.c) */
	struct shadow_ept_ops ept02_ops;
	unsigned int ept02_pages;  /* its table pages, bounded */
	uint32_t ept01_gen;        /* vmx_apic_trap_gen the shadow was built against */
	bool ept02_flush;          /* INVEPT before the next entry */
	uint16_t vpid12_last;      /* vmcs12's VPID at the last entry: a new one flushes vpid02 */
	/* vmcs02 dirty tracking: only hot fields are rewritten unless one of these says otherwise. */
	/* vmcs02's items to rewrite (vmcs02_hot_items); VMCS02_COLD: all (L1 wrote a cold field, loaded a VMCS, reset) */
	uint32_t vmcs02_dirty;
	uint64_t vmcs02_for;       /* the vmcs12 (L1's pointer) vmcs02 was last prepared from */
	struct vmcs02_l0 l0_last;  /* the hypervisor's needs at that prepare */
	/* Entry-check classes (enum nested_check_reads) unchanged since every row last held; 0: check all. */
	uint8_t checks_unchanged;
	bool checks_l1_ia32e;      /* L1's IA-32e mode at that entry */
	struct l1_host_load host_load; /* L1's state at an exit to it; its plain half is kept while ... */
	bool host_load_valid;      /* ... vmcs12's host state and controls are unchanged (vmx_nested_fields_changed) */
	paddr_t io_bitmap_a, io_bitmap_b, msr_bitmap; /* vmcs02's: L1's ORed with ours */
	int io_merged;             /* enum vmcs02_bitmap_source the I/O bitmaps hold if it needs no re-merge, else -1 */
	uint64_t l2_handled[EXIT_REASON_MAX];   /* L2 exits the hypervisor handled itself, per reason */
	uint64_t l2_reflected[EXIT_REASON_MAX]; /* L2 exits synthesized to L1, per reason */
	struct vmx_shadow shadow;  /* VMCS shadowing of vmcs12 for L1's VMREAD/VMWRITE (nested_shadow.c) */
};

/* What VMX L1 sees (hv/nested/vmx_policy.c), computed once on the boot CPU. */
extern struct vmx_offer vmx_l1_offer;
void vmx_nested_init(const char *cmdline);

static inline bool vmx_in_l2(const struct vcpu *v)
{
	return v->nested && v->nested->core.ev.guest_mode;
}

/* VMXON ... VMRESUME executed by L1 (exit reasons 19-27); VMLAUNCH/VMRESUME may switch to vmcs02. */
void vmx_nested_insn_exit(struct vcpu *v, struct guest_regs *r);
/* Any exit while L2 runs on vmcs02: handled here or reflected to L1 (hv/nested/exit_decide.c decides). */
void vmx_nested_l2_exit(struct vcpu *v, struct guest_regs *r);
/* The hardware refused vmcs02 (VMfailValid on our VMLAUNCH/VMRESUME): L1's instruction fails the same way. */
__noreturn void vmx_nested_entry_refused(struct vcpu *v, struct guest_regs *r);
/* vmcs12 changed: entry-check classes to re-run (0xff: a VMCS loaded, cleared, launched) and vmcs02 items to rewrite. */
void vmx_nested_fields_changed(struct vmx_nested *n, uint8_t classes, uint32_t vmcs02_items);
/* L2's rare state, left in vmcs02 by the last exit to L1, into vmcs12 (VMCS12_RARE_LIST). */
void vmx_nested_capture_rare(struct vcpu *v);
/* An exception the hypervisor raises while L2 runs goes through the event core (L1 may intercept it). */
void vmx_nested_queue_exception(struct vcpu *v, uint8_t vector, bool has_error_code, uint32_t error_code);
/* The General Detect #DB of a MOV DR the hypervisor intercepted for L2: fault-like, restartable (DR6.BD). */
void vmx_nested_queue_gd_fault(struct vcpu *v);
/* nested_dr_exits=on: the hypervisor intercepts L2's MOV DR (as KVM does for lazy debug-register switching). */
extern bool vmx_nested_dr_exits;
/* A trap-like #DB (DR6 bits) owed by an instruction the hypervisor emulated for L2. */
void vmx_nested_queue_debug_trap(struct vcpu *v, uint64_t dr6_bits);

/*
 * INIT while L1 is in VMX root operation is blocked (SDM 24.8, 25.2): latched
 * in the event core, it becomes an INIT VM exit as soon as L1 enters L2, or
 * L1's own INIT after VMXOFF. True if latched (the INIT exit is consumed).
 */
bool vmx_nested_latch_init(struct vcpu *v);
/* An INIT for v, which is in VMX operation, from any CPU: v takes it at its next VM entry or exit of L2. */
void vmx_nested_post_init(struct vcpu *v);
/* After an exiting VMX instruction of L1's: does vmcs02 need a full prepare at the next entry? */
void vmx_nested_note_insn(struct vcpu *v, const struct nested_insn *insn, enum nested_outcome outcome);
/* After a successful VMXOFF: an INIT latched in VMX root now reaches L1. */
void vmx_nested_after_vmxoff(struct vcpu *v, struct guest_regs *r);
/* INVEPT/INVVPID executed by L1 (exit reasons 50, 53). */
void vmx_nested_inv_exit(struct vcpu *v, struct guest_regs *r);
void vmx_nested_invvpid(struct vcpu *v);
/* INIT delivered to L1 itself (exit.c). */
void vmx_l1_init(struct vcpu *v, struct guest_regs *r);

#endif
