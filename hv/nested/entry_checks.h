/* The VM-entry consistency checks on vmcs12: one table of SDM section, predicate and outcome (pure). */
#ifndef HV_NESTED_ENTRY_CHECKS_H
#define HV_NESTED_ENTRY_CHECKS_H

#include "hv/types.h"
#include "hv/nested/vmcs12.h"

/* What L1 is offered, as its IA32_VMX_* MSRs say (the capability policy fills it). */
struct nested_vmx_caps {
	uint32_t pin_allowed0, pin_allowed1;
	uint32_t proc_allowed0, proc_allowed1;
	uint32_t proc2_allowed1;
	uint32_t exit_allowed0, exit_allowed1;
	uint32_t entry_allowed0, entry_allowed1;
	uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
	uint64_t misc;                 /* IA32_VMX_MISC */
	uint64_t ept_vpid_cap;         /* IA32_VMX_EPT_VPID_CAP (0 without EPT and VPID) */
	bool inject_any_error_code;    /* IA32_VMX_BASIC[56] */
	unsigned int maxphyaddr;
};

/*
 * What a row reads (its `applies` and `holds`), by class of input. A row
 * none of whose inputs changed since an entry at which every row held would
 * hold again, so the wiring may name the unchanged classes and the row is
 * skipped; the rows reading L1's memory always run.
 */
enum nested_check_reads {
	READS_CONTROLS = 1, /* execution, exit and entry controls with their addresses (not the event) */
	READS_EVENT = 2,    /* the event to inject: VM-entry interruption information, error code, length */
	READS_HOST = 4,     /* the host-state area */
	READS_GUEST = 8,    /* the guest-state area */
	READS_L1_MODE = 16, /* L1's IA-32e mode (ctx->l1_ia32e) */
	READS_MEMORY = 32,  /* L1's memory (the VTPR): never known unchanged */
};

/* The class of one vmcs12 field, as enum nested_check_reads. */
uint8_t nested_check_field_class(uint32_t encoding);

/* L1 at its VMLAUNCH/VMRESUME. */
struct nested_entry_ctx {
	const struct nested_vmx_caps *caps;
	bool l1_ia32e;   /* IA32_EFER.LMA of L1: the "processor" of SDM 26.2.4 */
	uint8_t vtpr;    /* byte 80H of the virtual-APIC page, read by the wiring through the checked accessor */
	uint8_t unchanged; /* READS_* classes unchanged since all rows last held (0: run every row) */
};

enum nested_entry_outcome {
	ENTRY_OK,
	ENTRY_VMFAIL_CONTROL,  /* VMfailValid 7, SDM 26.2.1 */
	ENTRY_VMFAIL_HOST,     /* VMfailValid 8, SDM 26.2.2-26.2.4 */
	ENTRY_FAIL_GUEST,      /* VM exit 33 with the row's qualification, SDM 26.3.1 / 26.8 */
};

struct nested_entry_check {
	const char *section;   /* SDM section */
	const char *what;      /* what must hold */
	bool (*applies)(const struct vmcs12 *v, const struct nested_entry_ctx *c); /* NULL: always */
	bool (*holds)(const struct vmcs12 *v, const struct nested_entry_ctx *c);
	enum nested_entry_outcome outcome;
	uint32_t qualification; /* for ENTRY_FAIL_GUEST (SDM 26.8: 0 default, 4 VMCS link pointer) */
	uint8_t reads;          /* enum nested_check_reads: every input of applies and holds */
};

extern const struct nested_entry_check nested_entry_checks[];
extern const size_t nested_nr_entry_checks;

/*
 * Runs the table in the SDM's order (controls, host state, guest state);
 * the first row that applies and does not hold decides. Rows that read
 * only classes in c->unchanged are skipped (they held last time). The checks the
 * hardware makes anyway on vmcs02 (guest fields copied unchanged) are left
 * to it; a failure there is passed on to L1 the same way.
 */
const struct nested_entry_check *nested_check_vmentry(const struct vmcs12 *vmcs12, const struct nested_entry_ctx *c);
/* Once at boot, before any entry: which rows read which input class. */
void nested_entry_checks_init(void);

#endif
