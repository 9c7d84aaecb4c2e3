/* The memory operand of an L1 VMX instruction: effective address, segmentation and its faults (SDM 3.7.5, 5.3, 28.2.5). */
#include "hv/nested/vmx_operand.h"
#include "hv/x86.h"

#define AR_TYPE_ACCESSED BIT(0)
#define AR_TYPE_RW       BIT(1) /* data: writable; code: readable */
#define AR_TYPE_EXPDOWN  BIT(2) /* data only */
#define AR_TYPE_CODE     BIT(3)
#define AR_DB            BIT(14)
#define AR_G             BIT(15)
#define AR_UNUSABLE      BIT(16)

static uint64_t address_mask(unsigned int addr_size)
{
	return addr_size == 2 ? ~0ULL : addr_size == 1 ? 0xffffffffULL : 0xffffULL;
}

/* base + index * scale + displacement, wrapped to the address size (SDM Table 28-13 fields). */
static uint64_t effective_address(const struct vmx_operand_ctx *c)
{
	uint32_t info = c->insn_info;
	uint64_t ea = c->displacement;

	if (!(info & BIT(27)))
		ea += c->gpr[(info >> 23) & 15];
	if (!(info & BIT(22)))
		ea += c->gpr[(info >> 18) & 15] << (info & 3);
	return ea & address_mask((info >> 7) & 7);
}

/* Protected-mode segment checks for [off, off + size) (SDM 5.3: limit checking, 5.4.1 type checking). */
static bool segment_allows(const struct vmx_segment *s, uint64_t off, unsigned int size, bool write)
{
	uint32_t type = s->ar & 15;
	uint64_t last = off + size - 1;

	if (s->ar & AR_UNUSABLE)
		return false;
	if (type & AR_TYPE_CODE) {
		if (write || !(type & AR_TYPE_RW))
			return false;
	} else if (write && !(type & AR_TYPE_RW)) {
		return false;
	}
	if (!(type & AR_TYPE_CODE) && (type & AR_TYPE_EXPDOWN)) {
		/* Expand-down: valid offsets are limit+1 .. 0xffff or 0xffffffff by the B flag. */
		uint64_t top = (s->ar & AR_DB) ? 0xffffffffULL : 0xffffULL;

		return off > s->limit && last <= top && last >= off;
	}
	return last <= s->limit && last >= off;
}

bool vmx_operand_linear(const struct vmx_operand_ctx *c, unsigned int size, bool write, uint64_t *linear,
			struct vmx_operand_fault *fault)
{
	unsigned int sreg = (c->insn_info >> 15) & 7;
	uint64_t off = effective_address(c);
	const struct vmx_segment *s;

	fault->vector = 0;
	if (sreg > SEG_GS) {
		fault->vector = 6; /* not produced by hardware; treated as an undecodable operand */
		return false;
	}
	s = &c->seg[sreg];
	if (c->mode64) {
		uint64_t la = off + ((sreg == SEG_FS || sreg == SEG_GS) ? s->base : 0);

		if (!x86_canonical(la) || !x86_canonical(la + size - 1)) {
			fault->vector = sreg == SEG_SS ? 12 : 13;
			return false;
		}
		*linear = la;
		return true;
	}
	if (!segment_allows(s, off, size, write)) {
		fault->vector = sreg == SEG_SS ? 12 : 13;
		return false;
	}
	*linear = (uint32_t)(s->base + off);
	return true;
}
