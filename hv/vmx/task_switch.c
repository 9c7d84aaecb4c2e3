/* Task switching as SDM Vol. 3 7.3 describes it, on a copy of L1's state: the accesses, checks and state save before the commit point (pure). */
#include "hv/vmx/task_switch_impl.h"
#include "hv/vmx/vmx_defs.h"
#include "hv/nested/events.h"
#include "hv/x86.h"

static bool vector_has_error_code(uint8_t v)
{
	return v == DF_VECTOR || v == TS_VECTOR || v == NP_VECTOR || v == SS_VECTOR || v == GP_VECTOR ||
	       v == PF_VECTOR || v == AC_VECTOR;
}

bool ts_fault(struct ts_ctx *c, uint8_t vector, uint32_t code)
{
	c->r->outcome = TS_FAULT;
	c->r->vector = vector;
	c->r->has_error_code = vector_has_error_code(vector);
	c->r->error_code = c->r->has_error_code ? code : 0;
	return false;
}

/* #TS/#NP/#SS/#GP naming a selector: index and TI, plus EXT (SDM 6.13). */
bool ts_sel_fault(struct ts_ctx *c, uint8_t vector, uint16_t sel)
{
	return ts_fault(c, vector, (sel & 0xfffcu) | c->ext);
}

static bool mem_result(struct ts_ctx *c, int rc, const struct l1_fault *f)
{
	if (rc == L1_MEM_OK)
		return true;
	if (rc == L1_MEM_PAGE_FAULT) {
		c->r->cr2 = f->linear;
		return ts_fault(c, PF_VECTOR, f->error_code);
	}
	c->r->outcome = TS_NOT_RAM;
	c->r->bad_gpa = f->gpa;
	return false;
}

/* Linear addresses are 32 bits wide outside IA-32e mode; they wrap at 4 GiB. */
bool ts_read(struct ts_ctx *c, uint32_t lin, void *buf, size_t len)
{
	struct l1_fault f = { 0, 0, 0 };

	return mem_result(c, c->m->read(&c->pg, lin, buf, len, GUEST_ACCESS_READ, &f), &f);
}

bool ts_write(struct ts_ctx *c, uint32_t lin, const void *buf, size_t len)
{
	struct l1_fault f = { 0, 0, 0 };

	return mem_result(c, c->m->write(&c->pg, lin, buf, len, GUEST_ACCESS_WRITE, &f), &f);
}

/* The descriptor a selector names in the GDT or the current LDT; out of the table's limit: #TS(selector). */
bool ts_fetch_desc(struct ts_ctx *c, uint16_t sel, struct desc *d)
{
	const struct ts_seg *ldtr = &c->s->seg[TS_LDTR];
	uint32_t base = c->s->gdtr_base, limit = c->s->gdtr_limit;
	uint8_t raw[8];

	if (sel & 4) {
		if (ldtr->ar & TS_AR_UNUSABLE)
			return ts_sel_fault(c, TS_VECTOR, sel);
		base = ldtr->base, limit = ldtr->limit;
	}
	if ((uint32_t)(sel | 7) > limit)
		return ts_sel_fault(c, TS_VECTOR, sel);
	d->addr = base + (sel & ~7u);
	if (!ts_read(c, d->addr, raw, sizeof(raw)))
		return false;
	d->lo = rd32(raw), d->hi = rd32(raw + 4);
	return true;
}

static bool write_desc_hi(struct ts_ctx *c, const struct desc *d)
{
	uint8_t raw[4];

	wr32(raw, d->hi);
	return ts_write(c, d->addr + 4, raw, sizeof(raw));
}

/* Loading a segment sets its descriptor's accessed bit (SDM 3.4.5.1); the VMCS wants it set too (SDM 27.3.1.2). */
bool ts_load_seg(struct ts_ctx *c, enum ts_sreg r, uint16_t sel, struct desc *d)
{
	if (!(d->hi & (TYPE_ACCESS << 8))) {
		d->hi |= TYPE_ACCESS << 8;
		if (!write_desc_hi(c, d))
			return false;
	}
	c->s->seg[r] = (struct ts_seg){ .sel = sel, .base = desc_base(d), .limit = desc_limit(d), .ar = desc_ar(d) };
	return true;
}

/* ---- before the commit point: a fault here leaves L1's registers as they were (SDM 7.3 steps 1-8) ---- */

static bool tss_is_32bit(uint32_t ar) { return ar & TYPE_CODE; }

/* The old TSS must hold the state about to be saved: #TS(old TSS) otherwise. */
static bool check_old_tss(struct ts_ctx *c)
{
	const struct ts_seg *tr = &c->s->seg[TS_TR];
	uint32_t min = tss_is_32bit(tr->ar) ? TSS_OLD_MIN_LIMIT32 : TSS_OLD_MIN_LIMIT16;

	return tr->limit >= min || ts_sel_fault(c, TS_VECTOR, tr->sel);
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
		return ts_sel_fault(c, GP_VECTOR, sel);
	if (!!(type & TYPE_BUSY) != want_busy)
		return ts_sel_fault(c, want_busy ? TS_VECTOR : GP_VECTOR, sel);
	if (!(ar & DESC_P))
		return ts_sel_fault(c, NP_VECTOR, sel);
	if (desc_limit(d) < (tss_is_32bit(ar) ? TSS32_SIZE : TSS16_SIZE) - 1u)
		return ts_sel_fault(c, TS_VECTOR, sel);
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
		if (!ts_read(c, tr->base + TSS32_EIP, buf, sizeof(buf)))
			return false;
		wr32(buf, old_task_eip(c));
		wr32(buf + 4, eflags);
		for (int i = 0; i < 8; i++)
			wr32(buf + 8 + 4 * i, s->gpr[i]);
		for (int i = TS_ES; i <= TS_GS; i++)
			wr16(buf + (TSS32_SEGS - TSS32_EIP) + 4 * i, s->seg[i].sel);
		return ts_write(c, tr->base + TSS32_EIP, buf, sizeof(buf));
	}
	wr16(buf, old_task_eip(c));
	wr16(buf + 2, eflags);
	for (int i = 0; i < 8; i++)
		wr16(buf + 4 + 2 * i, s->gpr[i]);
	for (int i = TS_ES; i <= TS_DS; i++)
		wr16(buf + (TSS16_SEGS - TSS16_IP) + 2 * i, s->seg[i].sel);
	return ts_write(c, tr->base + TSS16_IP, buf, TSS16_DYN_END - TSS16_IP);
}

/* Busy flags and back link (SDM 7.3 steps 6, 10 and Table 7-2); what the source of the switch decides. */
static bool update_links(struct ts_ctx *c, struct desc *new_desc)
{
	enum ts_source src = c->q->source;
	uint8_t link[2];
	struct desc old;

	if (src == TS_FROM_JMP || src == TS_FROM_IRET) {
		if (!ts_fetch_desc(c, c->s->seg[TS_TR].sel & ~4u, &old))
			return false;
		old.hi &= ~(TYPE_BUSY << 8);
		if (!write_desc_hi(c, &old))
			return false;
	}
	if (src == TS_FROM_CALL || src == TS_FROM_IDT) {
		wr16(link, c->s->seg[TS_TR].sel);
		if (!ts_write(c, desc_base(new_desc), link, sizeof(link)))
			return false;
	}
	if (src == TS_FROM_IRET)
		return true;
	if (!ts_fetch_desc(c, c->q->selector, new_desc)) /* again: it may be the descriptor just written */
		return false;
	new_desc->hi |= TYPE_BUSY << 8;
	return write_desc_hi(c, new_desc);
}

static bool switch_out(struct ts_ctx *c, struct desc *new_desc)
{
	if (!check_old_tss(c) || !ts_fetch_desc(c, c->q->selector, new_desc) || !check_new_tss(c, new_desc))
		return false;
	c->new32 = tss_is_32bit(desc_ar(new_desc));
	/* Read once before anything is written (a #PF changes nothing), and again after: old and new may be one TSS. */
	if (!ts_read(c, desc_base(new_desc), c->tss, c->new32 ? TSS32_SIZE : TSS16_SIZE))
		return false;
	return save_old_task(c) && update_links(c, new_desc) &&
	       ts_read(c, desc_base(new_desc), c->tss, c->new32 ? TSS32_SIZE : TSS16_SIZE);
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
		ts_switch_in(&c, &new_desc);
	combine_with_event(&c);
}
