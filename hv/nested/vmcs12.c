/* The vmcs12 field table, its O(1) encoding lookup and width-truncating accessors. */
#include "hv/nested/vmcs12.h"
#include "hv/string.h"
#include "hv/vmx/vmx_defs.h"

/* Index of every field in the table, in list order. */
enum vmcs12_field_idx {
#define VMCS12_IDX(ctype, enc, member, feat) VMCS12_IDX_##member,
	VMCS12_FIELD_LIST(VMCS12_IDX)
#undef VMCS12_IDX
	VMCS12_NR_FIELDS
};

#define VMCS12_IS(enc, listed) || (enc) == (listed)
/* Natural-width fields are 64 bits here: the hypervisor only exposes 64-bit VMX (SDM A.1, IA32_VMX_BASIC[48] = 0). */
#define VMCS12_ENTRY(ctype, enc, member, feat)					\
	[VMCS12_IDX_##member] = {						\
		.encoding = (enc),						\
		.offset = (uint16_t)offsetof(struct vmcs12, member),		\
		.width = (uint8_t)(((enc) >> 13) & 3),				\
		.read_only = (((enc) >> 10) & 3) == VMCS_TYPE_READ_ONLY,	\
		.feature = (feat),						\
		.round_trip = (0 VMCS12_ROUND_TRIP_LIST(VMCS12_IS, enc)),	\
		.rare = (0 VMCS12_RARE_LIST(VMCS12_IS, enc)),			\
		.name = #enc,							\
	},
const struct vmcs12_field vmcs12_fields[] = {
	VMCS12_FIELD_LIST(VMCS12_ENTRY)
};
#undef VMCS12_ENTRY
#undef VMCS12_IS
const size_t vmcs12_nr_fields = VMCS12_NR_FIELDS;

/* The member's C type must match the width its encoding declares (SDM 24.11.2). */
#define VMCS12_WIDTH_OK(ctype, enc, member, feat)				\
	STATIC_ASSERT(sizeof(ctype) == ((((enc) >> 13) & 3) == VMCS_WIDTH_16 ? 2 :	\
			(((enc) >> 13) & 3) == VMCS_WIDTH_32 ? 4 : 8),		\
		      #enc " has the wrong C type");
VMCS12_FIELD_LIST(VMCS12_WIDTH_OK)
#undef VMCS12_WIDTH_OK

/*
 * O(1) lookup: an encoding is width (14:13), type (11:10), index (9:1) and
 * access type (0) (SDM 24.11.2). Width and type pick one of 16 rows, the
 * index a column; no field of Appendix B has an index above 31. Two fields
 * landing in one slot would be a duplicate designated initializer, which
 * -Wextra (-Woverride-init) turns into a build error.
 */
#define VMCS12_INDEX_LIMIT 32
#define VMCS12_SLOT(enc) (((((enc) >> 13) & 3) << 2 | (((enc) >> 10) & 3)) * VMCS12_INDEX_LIMIT + \
			  (((enc) >> 1) & 0x1ff))
#define VMCS12_SLOT_ENTRY(ctype, enc, member, feat) [VMCS12_SLOT(enc)] = VMCS12_IDX_##member + 1,
static const uint8_t vmcs12_slot_to_field[16 * VMCS12_INDEX_LIMIT] = {
	VMCS12_FIELD_LIST(VMCS12_SLOT_ENTRY)
};
#undef VMCS12_SLOT_ENTRY
STATIC_ASSERT(VMCS12_NR_FIELDS < 255, "slot table stores field index + 1 in a byte");

/* Bits 31:15 and 12 of an encoding are reserved (SDM 24.11.2). */
#define VMCS_ENCODING_RESERVED 0xffff9000u

const struct vmcs12_field *vmcs12_field_lookup(uint32_t encoding)
{
	uint32_t index = (encoding >> 1) & 0x1ff;
	uint8_t slot;

	if ((encoding & VMCS_ENCODING_RESERVED) || index >= VMCS12_INDEX_LIMIT)
		return NULL;
	/* Access type "high" exists only for 64-bit fields. */
	if (vmcs_field_is_high(encoding) && vmcs_field_width(encoding) != VMCS_WIDTH_64)
		return NULL;
	slot = vmcs12_slot_to_field[VMCS12_SLOT(encoding & ~1u)];
	return slot ? &vmcs12_fields[slot - 1] : NULL;
}

bool vmcs12_field_exists(const struct vmcs12_field *f, uint32_t features)
{
	return f && (f->feature & ~features) == 0;
}

uint64_t vmcs12_read_field(const struct vmcs12 *vmcs12, const struct vmcs12_field *f)
{
	const uint8_t *p = (const uint8_t *)vmcs12 + f->offset;
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;

	switch (f->width) {
	case VMCS_WIDTH_16:
		__builtin_memcpy(&v16, p, sizeof(v16));
		return v16;
	case VMCS_WIDTH_32:
		__builtin_memcpy(&v32, p, sizeof(v32));
		return v32;
	default:
		__builtin_memcpy(&v64, p, sizeof(v64));
		return v64;
	}
}

void vmcs12_write_field(struct vmcs12 *vmcs12, const struct vmcs12_field *f, uint64_t val)
{
	uint8_t *p = (uint8_t *)vmcs12 + f->offset;
	uint16_t v16 = (uint16_t)val;
	uint32_t v32 = (uint32_t)val;

	switch (f->width) {
	case VMCS_WIDTH_16:
		__builtin_memcpy(p, &v16, sizeof(v16));
		break;
	case VMCS_WIDTH_32:
		__builtin_memcpy(p, &v32, sizeof(v32));
		break;
	default:
		__builtin_memcpy(p, &val, sizeof(val));
		break;
	}
}

uint64_t vmcs12_read(const struct vmcs12 *vmcs12, uint32_t encoding)
{
	const struct vmcs12_field *f = vmcs12_field_lookup(encoding);
	uint64_t v;

	if (!f)
		return 0;
	v = vmcs12_read_field(vmcs12, f);
	return vmcs_field_is_high(encoding) ? v >> 32 : v;
}

void vmcs12_write(struct vmcs12 *vmcs12, uint32_t encoding, uint64_t val)
{
	const struct vmcs12_field *f = vmcs12_field_lookup(encoding);

	if (!f)
		return;
	/* A high access writes bits 63:32 and keeps the low half (SDM 30.3, VMWRITE). */
	if (vmcs_field_is_high(encoding))
		val = (vmcs12_read_field(vmcs12, f) & 0xffffffffULL) | (val << 32);
	vmcs12_write_field(vmcs12, f, val);
}

int vmcs12_vmread(const struct vmcs12 *vmcs12, uint32_t encoding, uint32_t features,
		  uint64_t *val)
{
	if (!vmcs12_field_exists(vmcs12_field_lookup(encoding), features))
		return VMXERR_UNSUPPORTED_VMCS_COMPONENT;
	*val = vmcs12_read(vmcs12, encoding);
	return 0;
}

int vmcs12_vmwrite(struct vmcs12 *vmcs12, uint32_t encoding, uint64_t val,
		   uint32_t features, bool vmwrite_any_field)
{
	const struct vmcs12_field *f = vmcs12_field_lookup(encoding);

	if (!vmcs12_field_exists(f, features))
		return VMXERR_UNSUPPORTED_VMCS_COMPONENT;
	/* Exit-information fields are writable only with IA32_VMX_MISC[29] (SDM 30.3, A.6). */
	if (f->read_only && !vmwrite_any_field)
		return VMXERR_VMWRITE_READ_ONLY_COMPONENT;
	vmcs12_write(vmcs12, encoding, val);
	return 0;
}
