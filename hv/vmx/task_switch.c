/* Task switching as SDM Vol. 3 7.3 describes it, on a copy of L1's state: checks, busy flags, back link, state save and load (pure). */
#include "hv/vmx/task_switch.h"
#include "hv/vmx/vmx_defs.h"
#include "hv/nested/events.h"
#include "hv/x86.h"

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

static uint32_t rd16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | rd16(p + 2) << 16; }
static void wr16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void wr32(uint8_t *p, uint32_t v) { wr16(p, v); wr16(p + 2, v >> 16); }

static bool vector_has_error_code(uint8_t v)
{
	return v == DF_VECTOR || v == TS_VECTOR || v == NP_VECTOR || v == SS_VECTOR || v == GP_VECTOR ||
	       v == PF_VECTOR || v == AC_VECTOR;
}

static bool fault(struct ts_ctx *c, uint8_t vector, uint32_t code)
{
	c->r->outcome = TS_FAULT;
	c->r->vector = vector;
	c->r->has_error_code = vector_has_error_code(vector);
	c->r->error_code = c->r->has_error_code ? code : 0;
	return false;
}

/* #TS/#NP/#SS/#GP naming a selector: index and TI, plus EXT (SDM 6.13). */
static bool sel_fault(struct ts_ctx *c, uint8_t vector, uint16_t sel)
{
	return fault(c, vector, (sel & 0xfffcu) | c->ext);
}

static bool mem_result(struct ts_ctx *c, int rc, const struct l1_fault *f)
{
	if (rc == L1_MEM_OK)
		return true;
	if (rc == L1_MEM_PAGE_FAULT) {
		c->r->cr2 = f->linear;
		return fault(c, PF_VECTOR, f->error_code);
	}
	c->r->outcome = TS_NOT_RAM;
	c->r->bad_gpa = f->gpa;
	return false;
}

/* Linear addresses are 32 bits wide outside IA-32e mode; they wrap at 4 GiB. */
static bool lread(struct ts_ctx *c, uint32_t lin, void *buf, size_t len)
{
	struct l1_fault f = { 0, 0, 0 };

	return mem_result(c, c->m->read(&c->pg, lin, buf, len, GUEST_ACCESS_READ, &f), &f);
}

static bool lwrite(struct ts_ctx *c, uint32_t lin, const void *buf, size_t len)
{
	struct l1_fault f = { 0, 0, 0 };

	return mem_result(c, c->m->write(&c->pg, lin, buf, len, GUEST_ACCESS_WRITE, &f), &f);
}

static uint32_t desc_base(const struct desc *d) { return (d->lo >> 16) | (d->hi & 0xff) << 16 | (d->hi & 0xff000000u); }
static uint32_t desc_ar(const struct desc *d) { return (d->hi >> 8) & 0xf0ffu; }
static unsigned int ar_dpl(uint32_t ar) { return (ar >> 5) & 3; }

static uint32_t desc_limit(const struct desc *d)
{
	uint32_t limit = (d->lo & 0xffff) | (d->hi & 0xf0000);

	return (d->hi & BIT(23)) ? limit << 12 | 0xfff : limit;
}

/* The descriptor a selector names in the GDT or the current LDT; out of the table's limit: #TS(selector). */
static bool fetch_desc(struct ts_ctx *c, uint16_t sel, struct desc *d)
{
	const struct ts_seg *ldtr = &c->s->seg[TS_LDTR];
	uint32_t base = c->s->gdtr_base, limit = c->s->gdtr_limit;
	uint8_t raw[8];

	if (sel & 4) {
		if (ldtr->ar & TS_AR_UNUSABLE)
			return sel_fault(c, TS_VECTOR, sel);
		base = ldtr->base, limit = ldtr->limit;
	}
	if ((uint32_t)(sel | 7) > limit)
		return sel_fault(c, TS_VECTOR, sel);
	d->addr = base + (sel & ~7u);
	if (!lread(c, d->addr, raw, sizeof(raw)))
		return false;
	d->lo = rd32(raw), d->hi = rd32(raw + 4);
	return true;
}

static bool write_desc_hi(struct ts_ctx *c, const struct desc *d)
{
	uint8_t raw[4];

	wr32(raw, d->hi);
	return lwrite(c, d->addr + 4, raw, sizeof(raw));
}

/* Loading a segment sets its descriptor's accessed bit (SDM 3.4.5.1); the VMCS wants it set too (SDM 27.3.1.2). */
static bool load_seg(struct ts_ctx *c, enum ts_sreg r, uint16_t sel, struct desc *d)
{
	if (!(d->hi & (TYPE_ACCESS << 8))) {
		d->hi |= TYPE_ACCESS << 8;
		if (!write_desc_hi(c, d))
			return false;
	}
	c->s->seg[r] = (struct ts_seg){ .sel = sel, .base = desc_base(d), .limit = desc_limit(d), .ar = desc_ar(d) };
	return true;
}

/* ---- before the commit point: a fault here leaves L1's state as it was (SDM 7.3 steps 1-8) ---- */

static bool tss_is_32bit(uint32_t ar) { return ar & TYPE_CODE; }

/* The old TSS must hold the state about to be saved: #TS(old TSS) otherwise. */
static bool check_old_tss(struct ts_ctx *c)
{
	const struct ts_seg *tr = &c->s->seg[TS_TR];
	uint32_t min = tss_is_32bit(tr->ar) ? TSS_OLD_MIN_LIMIT32 : TSS_OLD_MIN_LIMIT16;

	return tr->limit >= min || sel_fault(c, TS_VECTOR, tr->sel);
}

/*
 * The CPU checked the new TSS descriptor before the exit (SDM 26.4.2); it is
 * read again from L1's memory, so it is checked again as SDM Table 7-1 does:
 * a TSS type, busy for IRET and available otherwise, present, limit.
 */
static bool check_new_tss(struct ts_ctx *c, const struct desc *d)
{
	uint32_t ar = desc_ar(d), type = ar & 0xf;
	bool want_busy = c->q->source == TS_FROM_IRET;
	uint16_t sel = c->q->selector;

	if ((ar & DESC_S) || (type & ~(TYPE_CODE | TYPE_BUSY)) != 1 || (sel & 4))
		return sel_fault(c, GP_VECTOR, sel);
	if (!!(type & TYPE_BUSY) != want_busy)
		return sel_fault(c, want_busy ? TS_VECTOR : GP_VECTOR, sel);
	if (!(ar & DESC_P))
		return sel_fault(c, NP_VECTOR, sel);
	if (desc_limit(d) < (tss_is_32bit(ar) ? TSS32_SIZE : TSS16_SIZE) - 1u)
		return sel_fault(c, TS_VECTOR, sel);
	return true;
}

/* The EIP saved for the old task: past the instruction that switched (CALL, JMP, IRET, INT n/INT3/INTO/INT1; SDM 28.3.3). */
static uint32_t old_task_eip(const struct ts_ctx *c)
{
	const struct ts_event *e = &c->q->event;
	bool by_insn = c->q->source != TS_FROM_IDT ||
		       (e->valid && (e->type == INTR_TYPE_SW_INTR || e->type == INTR_TYPE_SW_EXCEPTION ||
				     e->type == INTR_TYPE_PRIV_SW_EXC));

	return c->s->eip + (by_insn ? c->q->insn_len : 0);
}

/* SDM 7.3 step 8: the dynamic fields of the old TSS, written in one access so a #PF leaves it untouched. */
static bool save_old_task(struct ts_ctx *c)
{
	const struct ts_state *s = c->s;
	const struct ts_seg *tr = &s->seg[TS_TR];
	uint32_t eflags = s->eflags;
	uint8_t buf[TSS32_DYN_END - TSS32_EIP];

	if (c->q->source == TS_FROM_IRET)
		eflags &= ~(uint32_t)X86_RFLAGS_NT; /* step 7: IRET clears NT in the saved image */
	if (tss_is_32bit(tr->ar)) {
		if (!lread(c, tr->base + TSS32_EIP, buf, sizeof(buf)))
			return false;
		wr32(buf, old_task_eip(c));
		wr32(buf + 4, eflags);
		for (int i = 0; i < 8; i++)
			wr32(buf + 8 + 4 * i, s->gpr[i]);
		for (int i = TS_ES; i <= TS_GS; i++)
			wr16(buf + TSS32_SEGS - TSS32_EIP + 4 * i, s->seg[i].sel);
		return lwrite(c, tr->base + TSS32_EIP, buf, sizeof(buf));
	}
	wr16(buf, old_task_eip(c));
	wr16(buf + 2, eflags);
	for (int i = 0; i < 8; i++)
		wr16(buf + 4 + 2 * i, s->gpr[i]);
	for (int i = TS_ES; i <= TS_DS; i++)
		wr16(buf + TSS16_SEGS - TSS16_IP + 2 * i, s->seg[i].sel);
	return lwrite(c, tr->base + TSS16_IP, buf, TSS16_DYN_END - TSS16_IP);
}

/* Busy flags and back link (SDM 7.3 steps 6, 10 and Table 7-2); what the source of the switch decides. */
static bool update_links(struct ts_ctx *c, struct desc *new_desc)
{
	enum ts_source src = c->q->source;
	uint8_t link[2];
	struct desc old;

	if (src == TS_FROM_JMP || src == TS_FROM_IRET) {
		if (!fetch_desc(c, c->s->seg[TS_TR].sel & ~4u, &old))
			return false;
		old.hi &= ~(TYPE_BUSY << 8);
		if (!write_desc_hi(c, &old))
			return false;
	}
	if (src == TS_FROM_CALL || src == TS_FROM_IDT) {
		wr16(link, c->s->seg[TS_TR].sel);
		if (!lwrite(c, desc_base(new_desc), link, sizeof(link)))
			return false;
	}
	if (src == TS_FROM_IRET)
		return true;
	if (!fetch_desc(c, c->q->selector, new_desc)) /* again: it may be the descriptor just written */
		return false;
	new_desc->hi |= TYPE_BUSY << 8;
	return write_desc_hi(c, new_desc);
}

static bool switch_out(struct ts_ctx *c, struct desc *new_desc)
{
	if (!check_old_tss(c) || !fetch_desc(c, c->q->selector, new_desc) || !check_new_tss(c, new_desc))
		return false;
	c->new32 = tss_is_32bit(desc_ar(new_desc));
	/* Read once before anything is written (a #PF changes nothing), and again after: old and new may be one TSS. */
	if (!lread(c, desc_base(new_desc), c->tss, c->new32 ? TSS32_SIZE : TSS16_SIZE))
		return false;
	return save_old_task(c) && update_links(c, new_desc) &&
	       lread(c, desc_base(new_desc), c->tss, c->new32 ? TSS32_SIZE : TSS16_SIZE);
}

/* ---- the commit point and after: faults are delivered in the new task (SDM 7.3 steps 11-13) ---- */

/*
 * TR, CR0.TS, DR7, EIP, EFLAGS, the GPRs and the selectors (SDM 7.3 step 12).
 * A selector is loaded before its descriptor is checked; until then a data
 * segment is unusable and CS/SS keep their old cache, so a fault in between
 * leaves a state VM entry accepts.
 */
static void commit(struct ts_ctx *c, const struct desc *new_desc, uint16_t sels[7])
{
	struct ts_state *s = c->s;
	const uint8_t *t = c->tss;
	uint32_t eflags;

	s->seg[TS_TR] = (struct ts_seg){ .sel = c->q->selector, .base = desc_base(new_desc),
					 .limit = desc_limit(new_desc), .ar = desc_ar(new_desc) | TYPE_BUSY };
	s->cr0 |= X86_CR0_TS;
	s->dr7 &= ~(uint64_t)DR7_LOCAL_ENABLES;
	if (c->new32) {
		s->eip = rd32(t + TSS32_EIP);
		eflags = rd32(t + TSS32_EIP + 4);
		for (int i = 0; i < 8; i++)
			s->gpr[i] = rd32(t + TSS32_EIP + 8 + 4 * i);
		for (int i = 0; i < 7; i++)
			sels[i] = (uint16_t)rd16(t + TSS32_SEGS + 4 * i);
	} else {
		s->eip = rd16(t + TSS16_IP);
		eflags = rd16(t + TSS16_IP + 2);
		/* The SDM leaves the upper halves undefined; Bochs (the oracle, cpu/tasking.cc) sets them to 0xffff. */
		for (int i = 0; i < 8; i++)
			s->gpr[i] = 0xffff0000u | rd16(t + TSS16_IP + 4 + 2 * i);
		for (int i = 0; i < 4; i++)
			sels[i] = (uint16_t)rd16(t + TSS16_SEGS + 2 * i);
		sels[TS_FS] = sels[TS_GS] = 0; /* a 16-bit TSS has no FS/GS: null selectors */
		sels[TS_LDTR] = (uint16_t)rd16(t + TSS16_SEGS + 8);
	}
	eflags = (eflags & RFLAGS_VALID) | X86_RFLAGS_FIXED;
	if (c->q->source == TS_FROM_CALL || c->q->source == TS_FROM_IDT)
		eflags |= X86_RFLAGS_NT; /* step 9 */
	s->eflags = eflags;
	for (int i = TS_ES; i <= TS_LDTR; i++) {
		s->seg[i].sel = sels[i];
		if (i != TS_CS && i != TS_SS)
			s->seg[i].ar = TS_AR_UNUSABLE;
	}
	c->r->committed = true;
}

/* PAE paging takes the PDPTEs with CR3 (SDM 4.4.1); a present one with reserved bits set: #GP(0). */
static bool load_pdptes(struct ts_ctx *c)
{
	unsigned int maxphy = c->s->maxphyaddr ? c->s->maxphyaddr : 52;
	uint64_t reserved = 0x1e6ULL | (maxphy < 64 ? ~0ULL << maxphy : 0);

	c->r->pae = true;
	/* Not L1 RAM: the hypervisor reads no MMIO for L1; not-present PDPTEs then give #PF (as exit_cr.c does). */
	if (c->m->read_phys(c->s->cr3 & 0xffffffe0u, c->s->pdpte, sizeof(c->s->pdpte)) != L1_MEM_OK)
		for (int i = 0; i < 4; i++)
			c->s->pdpte[i] = 0;
	for (int i = 0; i < 4; i++)
		if ((c->s->pdpte[i] & 1) && (c->s->pdpte[i] & reserved))
			return fault(c, GP_VECTOR, c->ext);
	return true;
}

/* A 32-bit TSS loads CR3 only with paging on (SDM 7.3 step 12); the descriptor reads after it use the new paging. */
static bool load_cr3(struct ts_ctx *c)
{
	struct ts_state *s = c->s;

	if (!c->new32 || !(s->cr0 & X86_CR0_PG))
		return true;
	s->cr3 = rd32(c->tss + TSS32_CR3);
	c->pg.cr3 = s->cr3;
	c->r->cr3_loaded = true;
	if ((s->cr4 & X86_CR4_PAE) && !(s->efer & X86_EFER_LMA))
		return load_pdptes(c);
	return true;
}

/* The new LDT: in the GDT, an LDT descriptor, present; every failure is #TS(LDT selector) (SDM Table 7-1). */
static bool load_ldt(struct ts_ctx *c, uint16_t sel)
{
	struct desc d;
	uint32_t ar;

	if (!(sel & 0xfffc))
		return true; /* a null LDT selector leaves LDTR unusable */
	if (sel & 4)
		return sel_fault(c, TS_VECTOR, sel);
	if (!fetch_desc(c, sel, &d))
		return false;
	ar = desc_ar(&d);
	if ((ar & DESC_S) || (ar & 0xf) != TYPE_LDT || !(ar & DESC_P))
		return sel_fault(c, TS_VECTOR, sel);
	c->s->seg[TS_LDTR] = (struct ts_seg){ .sel = sel, .base = desc_base(&d), .limit = desc_limit(&d), .ar = ar };
	return true;
}

/* SS: a writable data segment with DPL = CPL = RPL; not present is #SS (SDM Table 7-1). */
static bool load_ss(struct ts_ctx *c, uint16_t sel, unsigned int cpl)
{
	struct desc d;
	uint32_t ar;

	if (!(sel & 0xfffc))
		return sel_fault(c, TS_VECTOR, sel);
	if (!fetch_desc(c, sel, &d))
		return false;
	ar = desc_ar(&d);
	if (!(ar & DESC_S) || (ar & TYPE_CODE) || !(ar & TYPE_WRITE))
		return sel_fault(c, TS_VECTOR, sel);
	if (!(ar & DESC_P))
		return sel_fault(c, SS_VECTOR, sel);
	if (ar_dpl(ar) != cpl || ar_dpl(ar) != (sel & 3u))
		return sel_fault(c, TS_VECTOR, sel);
	return load_seg(c, TS_SS, sel, &d);
}

/* CS: code, DPL = RPL (non-conforming) or DPL <= RPL (conforming); not present is #NP. */
static bool load_cs(struct ts_ctx *c, uint16_t sel)
{
	struct desc d;
	uint32_t ar;

	if (!(sel & 0xfffc))
		return sel_fault(c, TS_VECTOR, sel);
	if (!fetch_desc(c, sel, &d))
		return false;
	ar = desc_ar(&d);
	if (!(ar & DESC_S) || !(ar & TYPE_CODE))
		return sel_fault(c, TS_VECTOR, sel);
	if ((ar & TYPE_CONFORM) ? ar_dpl(ar) > (sel & 3u) : ar_dpl(ar) != (sel & 3u))
		return sel_fault(c, TS_VECTOR, sel);
	if (!(ar & DESC_P))
		return sel_fault(c, NP_VECTOR, sel);
	return load_seg(c, TS_CS, sel, &d);
}

/* DS, ES, FS, GS: null is allowed; data or readable code, DPL >= CPL and RPL unless conforming; not present is #NP. */
static bool load_data_seg(struct ts_ctx *c, enum ts_sreg r, uint16_t sel, unsigned int cpl)
{
	struct desc d;
	uint32_t ar;

	if (!(sel & 0xfffc))
		return true;
	if (!fetch_desc(c, sel, &d))
		return false;
	ar = desc_ar(&d);
	if (!(ar & DESC_S) || ((ar & TYPE_CODE) && !(ar & TYPE_READ)))
		return sel_fault(c, TS_VECTOR, sel);
	if ((!(ar & TYPE_CODE) || !(ar & TYPE_CONFORM)) && ((sel & 3u) > ar_dpl(ar) || cpl > ar_dpl(ar)))
		return sel_fault(c, TS_VECTOR, sel);
	if (!(ar & DESC_P))
		return sel_fault(c, NP_VECTOR, sel);
	return load_seg(c, r, sel, &d);
}

/* A virtual-8086 task (EFLAGS.VM from the TSS): segments as in real mode, CPL 3 (SDM 20.2.1). */
static void load_v86_segs(struct ts_ctx *c, const uint16_t sels[7])
{
	for (int i = TS_ES; i <= TS_GS; i++)
		c->s->seg[i] = (struct ts_seg){ .sel = sels[i], .base = (uint32_t)sels[i] << 4, .limit = 0xffff, .ar = 0xf3 };
}

/*
 * Until SS is loaded the new task runs at CPL 3, so that a fault with no
 * usable stack switches to the new TSS's ring-0 stack (what Bochs does,
 * cpu/tasking.cc "set CPL to 3 to force a privilege level change"). The
 * VMCS says CPL 3 with SS.DPL 3 (SDM 27.3.1.2); CS, whose descriptor is not
 * loaded yet, is marked conforming with DPL 0, which VM entry accepts with
 * any selector RPL and SS.DPL.
 */
static void fault_before_ss(struct ts_ctx *c)
{
	c->s->seg[TS_CS].ar = (c->s->seg[TS_CS].ar & ~(3u << 5)) | TYPE_CODE | TYPE_CONFORM | TYPE_READ | TYPE_ACCESS;
	c->s->seg[TS_SS].ar |= 3u << 5;
}

/* SDM 7.3 step 13, in SDM Table 7-1's order: LDT, SS, CS, then the data segments. */
static bool load_segments(struct ts_ctx *c, const uint16_t sels[7])
{
	unsigned int cpl = sels[TS_CS] & 3u;
	static const enum ts_sreg data[] = { TS_DS, TS_ES, TS_FS, TS_GS };

	if (!load_ldt(c, sels[TS_LDTR])) {
		fault_before_ss(c);
		return false;
	}
	if (c->s->eflags & X86_RFLAGS_VM) {
		load_v86_segs(c, sels);
		return true;
	}
	if (!load_ss(c, sels[TS_SS], cpl)) {
		fault_before_ss(c);
		return false;
	}
	if (!load_cs(c, sels[TS_CS]))
		return false;
	for (unsigned int i = 0; i < ARRAY_SIZE(data); i++)
		if (!load_data_seg(c, data[i], sels[data[i]], cpl))
			return false;
	return true;
}

/* The error code of an exception delivered through a task gate goes on the new task's stack (SDM 6.12.2). */
static bool push_error_code(struct ts_ctx *c)
{
	struct ts_state *s = c->s;
	const struct ts_seg *ss = &s->seg[TS_SS];
	uint32_t size = c->new32 ? 4 : 2, esp = s->gpr[4];
	bool big = ss->ar & BIT(14), expand_down = !(ss->ar & TYPE_CODE) && (ss->ar & 0x4);
	uint32_t off = big ? esp - size : (uint16_t)(esp - size), top = big ? 0xffffffffu : 0xffffu;
	uint8_t buf[4];
	bool inside = expand_down ? off > ss->limit && off <= top - (size - 1)
				  : ss->limit >= size - 1 && off <= ss->limit - (size - 1);

	if (ss->ar & TS_AR_UNUSABLE || !inside)
		return fault(c, SS_VECTOR, c->ext);
	wr32(buf, c->q->event.error_code);
	if (!lwrite(c, ss->base + off, buf, size))
		return false;
	s->gpr[4] = big ? off : (esp & 0xffff0000u) | off;
	return true;
}

static bool switch_in(struct ts_ctx *c, const struct desc *new_desc)
{
	const struct ts_event *e = &c->q->event;
	uint16_t sels[7];

	commit(c, new_desc, sels);
	if (!load_cr3(c) || !load_segments(c, sels))
		return false;
	if (c->q->source == TS_FROM_IDT && e->valid && e->type == INTR_TYPE_HW_EXCEPTION && e->has_error_code &&
	    !push_error_code(c))
		return false;
	c->r->debug_trap = c->new32 && (rd16(c->tss + TSS32_T) & 1);
	return true;
}

/* A fault while the switch delivers an exception combines with it as SDM Table 6-5 says. */
static void combine_with_event(struct ts_ctx *c)
{
	const struct ts_event *e = &c->q->event;
	struct ts_result *r = c->r;

	if (r->outcome != TS_FAULT || c->q->source != TS_FROM_IDT || !e->valid || e->type != INTR_TYPE_HW_EXCEPTION)
		return;
	switch (nested_double_fault_outcome(nested_exception_class(e->vector), nested_exception_class(r->vector))) {
	case DF_DOUBLE_FAULT:
		r->vector = DF_VECTOR, r->has_error_code = true, r->error_code = 0;
		break;
	case DF_TRIPLE_FAULT:
		r->outcome = TS_SHUTDOWN;
		break;
	default:
		break;
	}
}

void task_switch(struct ts_state *s, const struct ts_request *req, const struct ts_mem *mem, struct ts_result *res)
{
	const struct ts_event *e = &req->event;
	struct ts_ctx c = {
		.s = s, .q = req, .m = mem, .r = res,
		.pg = { .cr0 = s->cr0, .cr3 = s->cr3, .cr4 = s->cr4, .efer = s->efer, .cpl = 0,
			.maxphyaddr = s->maxphyaddr },
		/* EXT: the switch delivers an event other than INT n, INT3 or INTO (SDM 6.13). */
		.ext = req->source == TS_FROM_IDT &&
		       !(e->valid && (e->type == INTR_TYPE_SW_INTR || e->type == INTR_TYPE_SW_EXCEPTION)),
	};
	struct desc new_desc;

	*res = (struct ts_result){ .outcome = TS_DONE };
	if (switch_out(&c, &new_desc))
		switch_in(&c, &new_desc);
	combine_with_event(&c);
}
