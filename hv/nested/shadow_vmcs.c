/* VMCS shadowing for L1: the shadowed fields, the VMREAD/VMWRITE bitmaps and the copy lists, from the one vmcs12 field table (pure). */
#include "hv/nested/shadow_vmcs.h"
#include "hv/string.h"

enum shadow_access shadow_field_access(const struct vmcs12_field *f, uint32_t features)
{
	/* L2's rare state may still be in vmcs02 only: L1's access exits, which copies it first. */
	if (!vmcs12_field_exists(f, features) || f->rare)
		return SHADOW_NONE;
	/* VMWRITE of exit information fails (13) unless IA32_VMX_MISC[29]: the exit decides (SDM 30.3). */
	if (f->read_only)
		return SHADOW_READ;
	/* Every entry copies the write-shadowed fields back: only the round trip's are worth it. */
	return f->round_trip ? SHADOW_READ_WRITE : SHADOW_READ;
}

bool shadow_exit_writes(const struct vmcs12_field *f)
{
	switch (vmcs_field_type(f->encoding)) {
	case VMCS_TYPE_READ_ONLY:
		return true;
	case VMCS_TYPE_GUEST:
		return f->encoding != VMCS_LINK_POINTER; /* not saved by an exit (SDM 27.3) */
	default:
		return f->encoding == VM_ENTRY_INTR_INFO_FIELD;
	}
}

/* Bit 0 = no exit for this encoding (SDM 24.6.15: encoding bits 14:0 index the bitmap). */
static void let_through(uint8_t *bitmap, uint32_t encoding)
{
	bitmap[(encoding & 0x7fff) >> 3] &= (uint8_t)~(1u << (encoding & 7));
}

/* The hardware must hold both encodings of a 64-bit field (full and high), and let the hypervisor write it. */
static bool hw_holds(const struct vmcs12_field *f, const struct shadow_hw *hw)
{
	if (f->read_only && !hw->vmwrite_any_field)
		return false;
	if (!hw->has)
		return true;
	if (!hw->has(hw->ctx, f->encoding))
		return false;
	return f->width != VMCS_WIDTH_64 || hw->has(hw->ctx, f->encoding | 1u);
}

void shadow_plan_make(uint32_t features, const struct shadow_hw *hw, struct shadow_plan *plan,
		      uint8_t *vmread_bitmap, uint8_t *vmwrite_bitmap)
{
	memset(plan, 0, sizeof(*plan));
	memset(vmread_bitmap, 0xff, SHADOW_BITMAP_SIZE);
	memset(vmwrite_bitmap, 0xff, SHADOW_BITMAP_SIZE);
	for (size_t i = 0; i < vmcs12_nr_fields; i++) {
		const struct vmcs12_field *f = &vmcs12_fields[i];
		enum shadow_access a = shadow_field_access(f, features);

		if (a == SHADOW_NONE || !hw_holds(f, hw))
			continue;
		plan->mirrored[plan->nr_mirrored++] = (uint8_t)i;
		if (shadow_exit_writes(f))
			plan->exit_written[plan->nr_exit_written++] = (uint8_t)i;
		let_through(vmread_bitmap, f->encoding);
		if (f->width == VMCS_WIDTH_64)
			let_through(vmread_bitmap, f->encoding | 1u);
		if (a != SHADOW_READ_WRITE)
			continue;
		plan->read_write[plan->nr_read_write++] = (uint8_t)i;
		let_through(vmwrite_bitmap, f->encoding);
		if (f->width == VMCS_WIDTH_64)
			let_through(vmwrite_bitmap, f->encoding | 1u);
	}
}

bool shadow_bitmap_exits(const uint8_t *bitmap, uint64_t field, bool long_mode)
{
	if (!long_mode)
		field = (uint32_t)field; /* the operand is a 32-bit register */
	if (field >> 15)
		return true;
	return (bitmap[field >> 3] >> (field & 7)) & 1;
}
