/* When an NMI owed to L1 may be injected (pure): now, at the NMI window, or not before a SIPI; and how many stay owed. */
#ifndef HV_VMX_NMI_INJECT_H
#define HV_VMX_NMI_INJECT_H

#include "hv/types.h"

/* What the next VM entry must do with an NMI the hypervisor holds for L1. */
enum nmi_step {
	NMI_STEP_NONE,        /* no NMI is owed */
	NMI_STEP_INJECT,      /* inject it with this entry (and leave the HLT state) */
	NMI_STEP_AT_WINDOW,   /* set NMI-window exiting and inject at that exit */
	NMI_STEP_HOLD,        /* wait-for-SIPI: keep it until the vCPU is started */
};

/*
 * At most two NMIs are owed to L1: one the CPU has taken for it (an NMI exit,
 * or the hypervisor's own NMI handler) and not yet delivered, and one that
 * arrived after it and must follow it, as the CPU latches one NMI while it
 * delivers or blocks another (SDM 6.7.1). Further ones merge.
 */
#define NMI_OWED_MAX 2u

/* The vCPU state the choice depends on, as the VMCS holds it before the entry. */
struct nmi_entry_view {
	bool owed;                 /* an NMI for L1 is pending in the hypervisor */
	uint32_t activity;         /* guest activity state */
	uint32_t interruptibility; /* guest interruptibility state (bit 3: virtual-NMI blocking) */
	uint32_t entry_intr_info;  /* VM-entry interruption information: another event already injected */
	uint64_t pending_dbg;      /* guest pending debug exceptions */
};

enum nmi_step nmi_next_step(const struct nmi_entry_view *v);
uint32_t nmi_owed_after_entry(const struct nmi_entry_view *v, enum nmi_step step, uint32_t owed);

#endif
