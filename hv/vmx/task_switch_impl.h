/* What task_switch.c and task_switch_load.c share: the context of one switch, descriptor decoding, TSS layouts (not an interface). */
#ifndef HV_VMX_TASK_SWITCH_IMPL_H
#define HV_VMX_TASK_SWITCH_IMPL_H

#include "hv/vmx/task_switch.h"

#define RFLAGS_VALID 0x3f7fd5u /* EFLAGS bits a POPF/IRET/TSS load can set (reserved 1, 3, 5, 15, 31:22 excluded) */
#define DR7_LOCAL_ENABLES 0x155u /* L0-L3 and LE: cleared on every task switch (SDM 17.2.4) */

/* Descriptor type fields (SDM 3.4.5, 3.5). */
#define DESC_S       0x10u
#define DESC_P       0x80u
#define TYPE_CODE    0x8u
#define TYPE_CONFORM 0x4u /* code */
#define TYPE_READ    0x2u /* code */
#define TYPE_WRITE   0x2u /* data */
#define TYPE_ACCESS  0x1u
#define TYPE_BUSY    0x2u /* TSS */
#define TYPE_LDT     0x2u

/* 32-bit and 16-bit TSS layouts (SDM Figures 7-2 and 7-11): the offsets used here. */
#define TSS32_CR3   0x1c
#define TSS32_EIP   0x20
#define TSS32_SEGS  0x48 /* ES, CS, SS, DS, FS, GS, LDT: 4 bytes apart */
#define TSS32_T     0x64
#define TSS32_SIZE  0x68
#define TSS32_DYN_END 0x60 /* EIP .. GS: what a switch saves */
#define TSS16_IP    0x0e
#define TSS16_SEGS  0x22 /* ES, CS, SS, DS, LDT: 2 bytes apart */
#define TSS16_SIZE  0x2c
#define TSS16_DYN_END 0x2a
#define TSS_OLD_MIN_LIMIT32 0x5f /* the old TSS must hold what is saved (Bochs cpu/tasking.cc uses these) */
#define TSS_OLD_MIN_LIMIT16 0x29

struct ts_ctx {
	struct ts_state *s;
	const struct ts_request *q;
	const struct ts_mem *m;
	struct ts_result *r;
	struct guest_paging pg;
	uint32_t ext;    /* the EXT bit of error codes (SDM 6.13) */
	bool new32;      /* the new TSS is a 32-bit TSS */
	uint8_t tss[TSS32_SIZE];
};

struct desc {
	uint32_t lo, hi;
	uint32_t addr; /* linear address of the descriptor */
};

static inline uint32_t rd16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static inline uint32_t rd32(const uint8_t *p) { return rd16(p) | rd16(p + 2) << 16; }
static inline void wr16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void wr32(uint8_t *p, uint32_t v) { wr16(p, v); wr16(p + 2, v >> 16); }

static inline uint32_t desc_base(const struct desc *d) { return (d->lo >> 16) | (d->hi & 0xff) << 16 | (d->hi & 0xff000000u); }
/* Descriptor bits 47:40 and 55:52 in the VMCS layout; L (bit 13) is ignored outside IA-32e mode, where task switches happen. */
static inline uint32_t desc_ar(const struct desc *d) { return (d->hi >> 8) & 0xd0ffu; }
static inline unsigned int ar_dpl(uint32_t ar) { return (ar >> 5) & 3; }

static inline uint32_t desc_limit(const struct desc *d)
{
	uint32_t limit = (d->lo & 0xffff) | (d->hi & 0xf0000);

	return (d->hi & BIT(23)) ? limit << 12 | 0xfff : limit;
}

/* task_switch.c: faults, memory and descriptor accesses of the switch */
bool ts_fault(struct ts_ctx *c, uint8_t vector, uint32_t code);
bool ts_sel_fault(struct ts_ctx *c, uint8_t vector, uint16_t sel);
bool ts_read(struct ts_ctx *c, uint32_t lin, void *buf, size_t len);
bool ts_write(struct ts_ctx *c, uint32_t lin, const void *buf, size_t len);
bool ts_fetch_desc(struct ts_ctx *c, uint16_t sel, struct desc *d);
bool ts_load_seg(struct ts_ctx *c, enum ts_sreg r, uint16_t sel, struct desc *d);

/* task_switch_load.c: the commit point and the new task's state (SDM 7.3 steps 11-13) */
bool ts_switch_in(struct ts_ctx *c, const struct desc *new_desc);

/* task_switch_segs.c: LDTR and the segment registers with SDM Table 7-1's checks */
bool ts_load_segments(struct ts_ctx *c, const uint16_t sels[7]);

#endif
