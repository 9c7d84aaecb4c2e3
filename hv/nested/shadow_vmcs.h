/* VMCS shadowing for L1 (SDM 24.10, 25.1.3): which vmcs12 fields L1's VMREAD/VMWRITE reach without an exit, the bitmaps, what to copy when (pure). */
#ifndef HV_NESTED_SHADOW_VMCS_H
#define HV_NESTED_SHADOW_VMCS_H

/*
 * The hypervisor may mirror L1's current vmcs12 in a shadow VMCS of its own
 * (never L1's memory) that vmcs01's VMCS link pointer names; with "VMCS
 * shadowing" on, L1's VMREAD/VMWRITE of a field whose bit is 0 in the VMREAD
 * or VMWRITE bitmap act on that shadow VMCS without a VM exit (SDM 25.1.3,
 * 30.3). Everything is derived from the one field table (vmcs12_fields.h):
 *
 *   - A field that does not exist for L1 (its feature is not offered) or that
 *     the hardware's shadow VMCS lacks is never shadowed: VMREAD/VMWRITE of it
 *     exit and fail with VMfailValid(12) as without shadowing. (Executed in
 *     VMX non-root, the hardware would write that error into the *working*
 *     VMCS, vmcs01, where L1 never sees it: Bochs cpu/vmx.cc, VMfail().)
 *   - A read-only field (VM-exit information, SDM 24.9) is read-shadowed only:
 *     VMWRITE to it must fail with 13, or succeed only if L1 is offered
 *     "VMWRITE to any field" (IA32_VMX_MISC[29]); the exit decides, and a
 *     successful write is copied into the shadow. Filling it in the shadow at
 *     all needs the hardware's own MISC[29] (the hypervisor VMWRITEs it there,
 *     SDM 30.3); without that it is not shadowed.
 *   - L2's rare state (VMCS12_RARE_LIST) is not shadowed at all: after an
 *     exit it may live in vmcs02 only, and L1's exiting access copies it.
 *   - The round trip's fields (VMCS12_ROUND_TRIP_LIST) are read- and
 *     write-shadowed: what L1 writes there is used only by its next VM entry,
 *     which first copies the shadow into vmcs12 and then checks vmcs12
 *     completely (entry_checks.c), so any value L1 can write is acceptable
 *     until then. Every other field is read-shadowed: its VMWRITE exits (and
 *     the written value is copied into the shadow), so an entry copies only
 *     the short list back.
 *
 * Copies: shadow -> vmcs12 of the read/write fields before anything uses
 * vmcs12 (L1's VMLAUNCH/VMRESUME, VMCLEAR of the current VMCS, a VMPTRLD that
 * switches, VMXOFF); vmcs12 -> shadow of every shadowed field when a VMCS
 * becomes current, and of the fields a VM exit writes after each exit (or
 * failed entry) to L1; a single field after an exiting VMX instruction wrote
 * it (the VM-instruction error, a read-only field under MISC[29]).
 */

#include "hv/types.h"
#include "hv/nested/vmcs12.h"

enum shadow_access {
	SHADOW_NONE,        /* VMREAD and VMWRITE exit */
	SHADOW_READ,        /* VMREAD without exit, VMWRITE exits */
	SHADOW_READ_WRITE,  /* both without exit */
};

/* One 4 KiB bitmap: bit n (byte n/8, bit n%8) for field encoding bits 14:0 = n; 1 = exit (SDM 24.6.15). */
#define SHADOW_BITMAP_SIZE 4096u

#define SHADOW_COUNT_FIELD(ctype, enc, member, feat) + 1
enum { SHADOW_MAX_FIELDS = 0 VMCS12_FIELD_LIST(SHADOW_COUNT_FIELD) };
#undef SHADOW_COUNT_FIELD

/* Whether the hardware's shadow VMCS has this encoding (the wiring probes the CPU). */
typedef bool (*shadow_hw_has_fn)(void *ctx, uint32_t encoding);

/* The copy lists, as indices into vmcs12_fields[], in table order. */
struct shadow_plan {
	uint8_t read_write[SHADOW_MAX_FIELDS];   /* shadow -> vmcs12: what L1 may have written */
	uint8_t mirrored[SHADOW_MAX_FIELDS];     /* vmcs12 -> shadow when a VMCS becomes current */
	uint8_t exit_written[SHADOW_MAX_FIELDS]; /* vmcs12 -> shadow after an exit or failed entry to L1 */
	uint16_t nr_read_write, nr_mirrored, nr_exit_written;
};

/* The rule above for one field, given the fields that exist for L1 (enum vmcs12_feature). */
enum shadow_access shadow_field_access(const struct vmcs12_field *f, uint32_t features);

/*
 * The fields an exit to L1 writes into vmcs12: every exit-information field
 * (SDM 27.2, the VM-instruction error included), every guest-state field
 * but the VMCS link pointer (27.3), and the VM-entry interruption
 * information, whose valid bit an exit clears (27.2). A failed entry writes
 * a subset of these (26.8).
 */
bool shadow_exit_writes(const struct vmcs12_field *f);

/* What the hardware's shadow VMCS can hold. */
struct shadow_hw {
	shadow_hw_has_fn has;      /* NULL: every field of the table */
	void *ctx;
	bool vmwrite_any_field;    /* the hardware's IA32_VMX_MISC[29]: the hypervisor can fill read-only fields */
};

/*
 * The plan and both bitmaps (SHADOW_BITMAP_SIZE bytes each) for the fields
 * that exist for L1 and in the hardware. A 64-bit field is reached by two
 * encodings (full, and high with bit 0 set, SDM 24.11.2): both get the
 * field's bit, and the hardware must have both.
 */
void shadow_plan_make(uint32_t features, const struct shadow_hw *hw, struct shadow_plan *plan,
		      uint8_t *vmread_bitmap, uint8_t *vmwrite_bitmap);

/*
 * The hardware's decision for VMREAD/VMWRITE in VMX non-root with VMCS
 * shadowing on (SDM 25.1.3): an exit if bits 63:15 of the field operand (31:15
 * outside 64-bit mode) are not all 0, else the bitmap's bit for bits 14:0.
 */
bool shadow_bitmap_exits(const uint8_t *bitmap, uint64_t field, bool long_mode);

#endif
