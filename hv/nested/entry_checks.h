/* The VM-entry consistency checks on vmcs12 as ONE table: SDM section, when a row applies, its predicate, its outcome. */
#ifndef HV_NESTED_ENTRY_CHECKS_H
#define HV_NESTED_ENTRY_CHECKS_H

/*
 * VMLAUNCH/VMRESUME check L1's VMCS row by row, in SDM order; the first
 * row that applies and fails decides the outcome (the SDM leaves the order
 * of checks within a class open; the classes come in this order: controls,
 * host state -> VMfailValid; guest state, MSR loading -> failed-entry exit).
 * Outcome: VM-instruction error 7 (control fields, SDM 26.2.1) or 8 (host
 * state, 26.2.2) with VMfailValid; or a VM-exit with reason 33 (guest
 * state) / 34 (MSR loading) and bit 31 set, with the qualification of the
 * row. This issue fills in the 26.2.1 control rows (26.2.1.1 execution,
 * 26.2.1.2 exit, 26.2.1.3 entry controls) for the features L1 is offered;
 * the host-state, guest-state and MSR-load rows join the same table.
 *
 * Pure: the capability MSRs come from the offer (vmx_policy.h), L1's memory
 * only through what the caller read for the table (ctx->vtpr).
 */

#include "hv/types.h"
#include "hv/nested/vmcs12.h"
#include "hv/nested/vmx_policy.h"

struct entry_check_ctx {
	const struct vmcs12 *vmcs12;
	const struct vmx_offer *offer;  /* the capability MSRs L1 was given */
	uint8_t maxphyaddr;             /* L1's physical-address width (CPUID 80000008H:EAX[7:0]) */
	/*
	 * Byte 80H of the virtual-APIC page (VTPR), read by the caller through
	 * the checked L1 accessor when "use TPR shadow" is 1 (SDM 26.2.1.1).
	 */
	uint8_t vtpr;
};

enum entry_check_outcome {
	ENTRY_FAIL_CONTROL = 7,    /* VMfailValid, VM-instruction error 7 */
	ENTRY_FAIL_HOST = 8,       /* VMfailValid, VM-instruction error 8 */
	ENTRY_FAIL_GUEST = 33,     /* VM-exit "invalid guest state" */
	ENTRY_FAIL_MSR_LOAD = 34,  /* VM-exit "MSR loading", qualification = entry index */
};

struct entry_check {
	const char *sdm;    /* section */
	const char *what;   /* the rule, for reports and tests */
	bool (*applies)(const struct entry_check_ctx *c);  /* NULL: always */
	bool (*ok)(const struct entry_check_ctx *c);
	uint8_t outcome;    /* enum entry_check_outcome */
	uint8_t qualification;  /* for reason 33 (SDM 27.2.1: 0, 2 PDPTE, 3 NMI injection, 4 link pointer) */
};

extern const struct entry_check nested_entry_checks[];
extern const size_t nested_entry_checks_count;

/* The first row that applies and fails, or NULL if vmcs12 passes every row. */
const struct entry_check *nested_entry_check_first_failure(const struct entry_check_ctx *c);

#endif
