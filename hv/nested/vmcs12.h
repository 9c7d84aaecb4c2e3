/* vmcs12: the in-memory VMCS of L1 (SDM 24.2, Appendix B), its one field table and VMREAD/VMWRITE emulation helpers. */
#ifndef HV_NESTED_VMCS12_H
#define HV_NESTED_VMCS12_H

/*
 * API
 *   struct vmcs12                 L1's VMCS, one named member per field of
 *                                 hv/nested/vmcs12_fields.h (typed access:
 *                                 vmcs12->guest_rip).
 *   vmcs12_field_lookup(enc)      encoding -> table entry in O(1), NULL if
 *                                 the encoding names no field. A "high"
 *                                 encoding (64-bit field, access type 1)
 *                                 returns the entry of its full field.
 *   vmcs12_read / vmcs12_write    access by encoding, truncated to the
 *                                 field's width (16, 32, 64, natural = 64);
 *                                 high accesses see bits 63:32.
 *   vmcs12_vmread / vmcs12_vmwrite  VMREAD/VMWRITE emulation: return 0 or
 *                                 the VM-instruction error (SDM 30.4):
 *                                 12 unsupported component (unknown or the
 *                                 feature is not exposed to L1), 13 VMWRITE
 *                                 to a read-only field (unless L1 is offered
 *                                 "VMWRITE to any field", IA32_VMX_MISC[29]).
 *   vmcs12_fields / vmcs12_nr_fields  the table itself (tests, exit capture).
 */

#include "hv/types.h"
#include "hv/vmx/vmcs_fields.h"
#include "hv/nested/vmcs12_fields.h"

/* The VMX feature that makes a field exist (SDM Appendix B footnotes); 0 = always. */
enum vmcs12_feature {
	VMCS12_F_VPID                = BIT(0),
	VMCS12_F_POSTED_INTR         = BIT(1),
	VMCS12_F_EPT_VE              = BIT(2),
	VMCS12_F_VIRT_INTR_DELIVERY  = BIT(3),
	VMCS12_F_PML                 = BIT(4),
	VMCS12_F_TPR_SHADOW          = BIT(5),
	VMCS12_F_APIC_ACCESS         = BIT(6),
	VMCS12_F_VMFUNC              = BIT(7),
	VMCS12_F_EPT                 = BIT(8),
	VMCS12_F_VMCS_SHADOWING      = BIT(9),
	VMCS12_F_XSAVES              = BIT(10),
	VMCS12_F_ENCLS               = BIT(11),
	VMCS12_F_TSC_SCALING         = BIT(12),
	VMCS12_F_PAT                 = BIT(13),
	VMCS12_F_EFER                = BIT(14),
	VMCS12_F_PERF_GLOBAL         = BIT(15),
	VMCS12_F_BNDCFGS             = BIT(16),
	VMCS12_F_SECONDARY           = BIT(17),
	VMCS12_F_PLE                 = BIT(18),
	VMCS12_F_PREEMPTION_TIMER    = BIT(19),
};
#define VMCS12_F_ALL 0xfffffu

/*
 * Layout: the SDM leaves the VMCS region format to the implementation except
 * for the first 8 bytes (revision identifier, abort indicator; SDM 24.2).
 * The rest is ours; it must fit the 4 KiB region L1 allocates.
 */
#define VMCS12_LAUNCHED 1u

struct vmcs12 {
	uint32_t revision_id;
	uint32_t abort_indicator;
	uint32_t launch_state;   /* VMCS12_LAUNCHED or 0 ("clear"): kept in the region, as the hardware does (SDM 25.1) */
	uint32_t reserved;
#define VMCS12_MEMBER(ctype, enc, member, feat) ctype member;
	VMCS12_FIELD_LIST(VMCS12_MEMBER)
#undef VMCS12_MEMBER
};
STATIC_ASSERT(sizeof(struct vmcs12) <= 4096, "vmcs12 must fit a 4 KiB VMCS region");

struct vmcs12_field {
	uint16_t encoding;
	uint16_t offset;     /* into struct vmcs12 */
	uint8_t width;       /* enum vmcs_width */
	bool read_only;      /* VM-exit information fields, SDM 24.9 */
	uint32_t feature;    /* enum vmcs12_feature, 0 = always present */
	bool round_trip;     /* VMCS12_ROUND_TRIP_LIST: write-shadowed, copied into vmcs12 at every entry */
	bool rare;           /* VMCS12_RARE_LIST: left in vmcs02 by an exit until needed */
	const char *name;
};

extern const struct vmcs12_field vmcs12_fields[];
extern const size_t vmcs12_nr_fields;

const struct vmcs12_field *vmcs12_field_lookup(uint32_t encoding);
bool vmcs12_field_exists(const struct vmcs12_field *f, uint32_t features);
/* Copy lists go by width: 0 for 16-bit, 1 for 32-bit, 2 for 64-bit and natural-width fields. */
static inline unsigned int vmcs12_width_slot(uint8_t width)
{
	return width == VMCS_WIDTH_16 ? 0 : width == VMCS_WIDTH_32 ? 1 : 2;
}

/* By encoding; unknown encodings read as 0 and ignore writes. */
uint64_t vmcs12_read(const struct vmcs12 *vmcs12, uint32_t encoding);
void vmcs12_write(struct vmcs12 *vmcs12, uint32_t encoding, uint64_t val);

/* By table entry and width; the value is truncated to the field's width. */
uint64_t vmcs12_read_field(const struct vmcs12 *vmcs12, const struct vmcs12_field *f);
void vmcs12_write_field(struct vmcs12 *vmcs12, const struct vmcs12_field *f, uint64_t val);

int vmcs12_vmread(const struct vmcs12 *vmcs12, uint32_t encoding, uint32_t features,
		  uint64_t *val);
int vmcs12_vmwrite(struct vmcs12 *vmcs12, uint32_t encoding, uint64_t val,
		   uint32_t features, bool vmwrite_any_field);

#endif
