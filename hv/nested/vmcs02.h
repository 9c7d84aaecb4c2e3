/* vmcs02: the VMCS the hardware runs L2 on, merged from L1's vmcs12 and what the hypervisor keeps for itself (pure). */
#ifndef HV_NESTED_VMCS02_H
#define HV_NESTED_VMCS02_H

#include "hv/types.h"
#include "hv/nested/vmcs12.h"
#include "hv/nested/events.h"

/*
 * What the hypervisor needs in every vmcs02, filled by the wiring from
 * vmcs01 and the hardware's capabilities. L1's controls are ORed with
 * ours and then limited to what the hardware allows, so no control the
 * hardware lacks is ever written (the consistency checks already refused
 * any control L1 was not offered).
 */
struct vmcs02_l0 {
	uint32_t pin, proc, proc2;      /* the hypervisor's own controls for L2 */
	uint32_t exit_controls;         /* the hypervisor's: L1's exit controls are emulated in software */
	uint32_t entry_controls;        /* the hypervisor's forced entry controls (e.g. load EFER) */
	uint32_t pin_allowed1, proc_allowed1, proc2_allowed1, entry_allowed1;
	uint64_t io_bitmap_a, io_bitmap_b, msr_bitmap; /* host-physical: the merged bitmaps */
	uint64_t eptp;                  /* vmcs01's EPT, or with L1's EPT the shadow EPT02 (nested_ept.c) */
	uint32_t proc2_emulated;        /* L1's secondary controls emulated in software, never on vmcs02 (PML) */
	uint16_t vpid02;                /* L2's VPID when L1 enables VPID (0: the hardware has none: VPID off) */
	uint64_t cr0_mask, cr4_mask;    /* the CR bits the hypervisor owns for L1 (vmcs01's masks) */
	uint64_t tsc_offset;            /* vmcs01's TSC offset (L1's time) */
	/* L1's state at VMLAUNCH that L2 inherits unless vmcs12 loads its own (SDM 26.3.2.1). */
	uint64_t l1_efer, l1_pat, l1_dr7, l1_debugctl;
	/*
	 * An event waits for L1's entry to complete (e.g. an INIT latched in VMX
	 * root): vmcs02's preemption timer at 0 makes the hardware exit after the
	 * entry and its injection, before L2's first instruction (SDM 26.7.4).
	 */
	bool immediate_exit;
};

/* The L1 controls the merged I/O bitmap must honour, with the hypervisor's ports ORed in by the wiring. */
enum vmcs02_bitmap_source {
	VMCS02_BITMAP_NONE,   /* L1 takes no I/O exit: only the hypervisor's ports */
	VMCS02_BITMAP_ALL,    /* L1 takes every I/O exit (unconditional I/O exiting) */
	VMCS02_BITMAP_L1,     /* L1's own bitmaps */
};
enum vmcs02_bitmap_source vmcs02_io_bitmap_source(const struct vmcs12 *vmcs12);
/* Does vmcs02 use MSR bitmaps? Without them in vmcs12 every MSR access exits to L1 anyway. */
bool vmcs02_uses_msr_bitmap(const struct vmcs12 *vmcs12);

/*
 * Writes every vmcs02 field that depends on vmcs12 (controls, guest state,
 * CR masks and shadows, TSC offset, event injection is the event core's)
 * through ops->vmcs02_write. Host state is the hypervisor's and written
 * once when vmcs02 is created.
 */
/*
 * What to write (vmcs02_hot_items): VMCS02_COLD, every control and guest
 * field (a new vmcs12, L1 wrote a field that is not hot, or the
 * hypervisor's own needs changed); else only the hot items named -- vmcs02
 * holds the rest already.
 */
#define VMCS02_COLD    BIT(31)
#define VMCS02_HOT_ALL (BIT(17) - 1)
void vmcs02_prepare(const struct vmcs12 *vmcs12, uint32_t features, const struct vmcs02_l0 *l0,
		    const struct nested_l2_ops *ops, uint32_t items);
/* The hypervisor's needs unchanged since the last prepare (field by field: padding never counts). */
bool vmcs02_l0_same(const struct vmcs02_l0 *a, const struct vmcs02_l0 *b);
/*
 * The hot items of vmcs02 a vmcs12 field feeds (VMCS02_COLD: a change needs
 * a full prepare; 0: it never reaches vmcs02, e.g. host state).
 */
uint32_t vmcs02_hot_items(uint32_t enc);
/* The items a synthesized exit to L1 may leave different between vmcs12 and vmcs02. */
uint32_t vmcs02_hot_after_exit(void);
/* Once at boot (before any vCPU prepares a vmcs02): the hot fields of the features L1 is offered. */
void vmcs02_init(uint32_t vmcs12_features);

/* L2's CR0/CR4 as vmcs12 must record them: bits only the hypervisor owns come from the read shadow (SDM 27.3.1). */
uint64_t vmcs02_l2_cr(uint64_t real, uint64_t shadow, uint64_t l0_mask, uint64_t vmcs12_mask);

#endif
