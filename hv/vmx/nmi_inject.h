/* When an NMI owed to L1 may be injected (pure): now, at the NMI window, or not before a SIPI. */
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

/* The vCPU state the choice depends on, as the VMCS holds it before the entry. */
struct nmi_entry_view {
	bool owed;                 /* an NMI for L1 is pending in the hypervisor */
	uint32_t activity;         /* guest activity state */
	uint32_t interruptibility; /* guest interruptibility state (bit 3: virtual-NMI blocking) */
	uint32_t entry_intr_info;  /* VM-entry interruption information: another event already injected */
	uint64_t pending_dbg;      /* guest pending debug exceptions */
};

enum nmi_step nmi_next_step(const struct nmi_entry_view *v);

#endif
