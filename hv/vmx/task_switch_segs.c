/* The new task's LDTR and segment registers, checked in the order of SDM Table 7-1 (the P6 order; the SDM calls the exact order model specific) (pure). */
#include "hv/vmx/task_switch_impl.h"
#include "hv/vmx/vmx_defs.h"
#include "hv/x86.h"

/* The loaded selectors and, once found in their table, their descriptors. */
struct new_segs {
	const uint16_t *sel; /* ES, CS, SS, DS, FS, GS, LDT */
	struct desc d[7];
	bool found[7];
};

/*
 * The descriptor a non-null selector names, if the selector lies inside its
 * table (the GDT, or the new LDT once it is known present); "not found" is
 * not a fault here: the row of Table 7-1 that needs it decides.
 */
static bool find_desc(struct ts_ctx *c, struct new_segs *n, int r)
{
	const struct ts_seg *ldtr = &c->s->seg[TS_LDTR];
	uint16_t sel = n->sel[r];
	uint32_t base = c->s->gdtr_base, limit = c->s->gdtr_limit;
	uint8_t raw[8];

	n->found[r] = false;
	if (!(sel & 0xfffc))
		return true;
	if (sel & 4) {
		if (ldtr->ar & TS_AR_UNUSABLE)
			return true;
		base = ldtr->base, limit = ldtr->limit;
	}
	if ((uint32_t)(sel | 7) > limit)
		return true;
	n->d[r].addr = base + (sel & ~7u);
	if (!ts_read(c, n->d[r].addr, raw, sizeof(raw)))
		return false;
	n->d[r].lo = rd32(raw), n->d[r].hi = rd32(raw + 4);
	n->found[r] = true;
	return true;
}

static uint32_t ar_of(const struct new_segs *n, int r) { return desc_ar(&n->d[r]); }
static bool is_code(uint32_t ar) { return (ar & DESC_S) && (ar & TYPE_CODE); }
static bool sel_fault(struct ts_ctx *c, uint8_t vector, const struct new_segs *n, int r)
{
	return ts_sel_fault(c, vector, n->sel[r]);
}

/* Row 5: the LDT selector is null, or names an LDT descriptor in the GDT; it is usable for TI=1 lookups once present. */
static bool check_ldt_selector(struct ts_ctx *c, struct new_segs *n)
{
	uint32_t ar;

	if (!(n->sel[TS_LDTR] & 0xfffc))
		return true;
	if (n->sel[TS_LDTR] & 4)
		return sel_fault(c, TS_VECTOR, n, TS_LDTR);
	if (!find_desc(c, n, TS_LDTR))
		return false;
	ar = ar_of(n, TS_LDTR);
	if (!n->found[TS_LDTR] || (ar & DESC_S) || (ar & 0xf) != TYPE_LDT)
		return sel_fault(c, TS_VECTOR, n, TS_LDTR);
	if (ar & DESC_P)
		c->s->seg[TS_LDTR] = (struct ts_seg){ .sel = n->sel[TS_LDTR], .base = desc_base(&n->d[TS_LDTR]),
						      .limit = desc_limit(&n->d[TS_LDTR]), .ar = ar };
	return true;
}

/* Row 10: the LDT is present (#TS, not #NP). */
static bool check_ldt_present(struct ts_ctx *c, struct new_segs *n)
{
	return !(n->sel[TS_LDTR] & 0xfffc) || (ar_of(n, TS_LDTR) & DESC_P) || sel_fault(c, TS_VECTOR, n, TS_LDTR);
}

/* Rows 6-13: CS DPL/RPL, SS valid/present/DPL = CPL, LDT present, CS valid/present, SS DPL = RPL. */
static bool check_cs_ss(struct ts_ctx *c, struct new_segs *n, unsigned int cpl)
{
	uint32_t cs, ss;

	if (!find_desc(c, n, TS_CS) || !find_desc(c, n, TS_SS))
		return false;
	cs = ar_of(n, TS_CS), ss = ar_of(n, TS_SS);
	if (n->found[TS_CS] && is_code(cs) && ((cs & TYPE_CONFORM) ? ar_dpl(cs) > cpl : ar_dpl(cs) != cpl))
		return sel_fault(c, TS_VECTOR, n, TS_CS);                             /* 6 */
	if (!n->found[TS_SS] || !(ss & DESC_S) || (ss & TYPE_CODE) || !(ss & TYPE_WRITE))
		return sel_fault(c, TS_VECTOR, n, TS_SS);                             /* 7 */
	if (!(ss & DESC_P))
		return sel_fault(c, SS_VECTOR, n, TS_SS);                             /* 8 */
	if (ar_dpl(ss) != cpl)
		return sel_fault(c, TS_VECTOR, n, TS_SS);                             /* 9 */
	if (!check_ldt_present(c, n))
		return false;                                                         /* 10 */
	if (!n->found[TS_CS] || !is_code(cs))
		return sel_fault(c, TS_VECTOR, n, TS_CS);                             /* 11 */
	if (!(cs & DESC_P))
		return sel_fault(c, NP_VECTOR, n, TS_CS);                             /* 12 */
	if (ar_dpl(ss) != (n->sel[TS_SS] & 3u))
		return sel_fault(c, TS_VECTOR, n, TS_SS);                             /* 13 */
	return true;
}

/* Rows 14-17 for DS, ES, FS, GS in turn: valid, readable, present (#NP), DPL >= CPL and RPL unless conforming code. */
static bool check_data_segs(struct ts_ctx *c, struct new_segs *n, unsigned int cpl)
{
	static const int data[] = { TS_DS, TS_ES, TS_FS, TS_GS };
	unsigned int row, i;

	for (row = 14; row <= 17; row++) {
		for (i = 0; i < ARRAY_SIZE(data); i++) {
			int r = data[i];
			uint32_t ar;

			if (!(n->sel[r] & 0xfffc))
				continue;
			if (row == 14 && !find_desc(c, n, r))
				return false;
			ar = ar_of(n, r);
			if (row == 14 && (!n->found[r] || !(ar & DESC_S)))
				return sel_fault(c, TS_VECTOR, n, r);
			if (row == 15 && (ar & TYPE_CODE) && !(ar & TYPE_READ))
				return sel_fault(c, TS_VECTOR, n, r);
			if (row == 16 && !(ar & DESC_P))
				return sel_fault(c, NP_VECTOR, n, r);
			if (row == 17 && !(is_code(ar) && (ar & TYPE_CONFORM)) &&
			    (cpl > ar_dpl(ar) || (n->sel[r] & 3u) > ar_dpl(ar)))
				return sel_fault(c, TS_VECTOR, n, r);
		}
	}
	return true;
}

/*
 * Until SS is loaded the new task runs at CPL 3, so that a fault with no
 * usable stack switches to the new TSS's ring-0 stack (what Bochs does,
 * cpu/tasking.cc "set CPL to 3 to force a privilege level change"). The
 * VMCS says CPL 3 with SS.DPL 3 (SDM 27.3.1.2); CS, whose descriptor is not
 * loaded yet, is marked conforming with DPL 0, which VM entry accepts with
 * any selector RPL and SS.DPL.
 */
static bool fault_before_ss(struct ts_ctx *c)
{
	c->s->seg[TS_CS].ar = (c->s->seg[TS_CS].ar & ~(3u << 5)) | TYPE_CODE | TYPE_CONFORM | TYPE_READ | TYPE_ACCESS;
	c->s->seg[TS_SS].ar |= 3u << 5;
	return false;
}

/* A virtual-8086 task (EFLAGS.VM from the TSS): segments as in real mode, CPL 3 (SDM 20.2.1). */
static void load_v86_segs(struct ts_ctx *c, const uint16_t *sels)
{
	for (int i = TS_ES; i <= TS_GS; i++)
		c->s->seg[i] = (struct ts_seg){ .sel = sels[i], .base = (uint32_t)sels[i] << 4, .limit = 0xffff, .ar = 0xf3 };
}

/* SDM 7.3 step 13: every check of Table 7-1 first, in its order, then the loads (accessed bits set). */
bool ts_load_segments(struct ts_ctx *c, const uint16_t sels[7])
{
	static const int data[] = { TS_DS, TS_ES, TS_FS, TS_GS };
	struct new_segs n = { .sel = sels };
	unsigned int cpl = sels[TS_CS] & 3u;

	if (!check_ldt_selector(c, &n))
		return fault_before_ss(c);
	if (c->s->eflags & X86_RFLAGS_VM) {
		if (!check_ldt_present(c, &n))
			return fault_before_ss(c);
		load_v86_segs(c, sels);
		return true;
	}
	if (!check_cs_ss(c, &n, cpl))
		return fault_before_ss(c);
	if (!ts_load_seg(c, TS_SS, sels[TS_SS], &n.d[TS_SS]) || !ts_load_seg(c, TS_CS, sels[TS_CS], &n.d[TS_CS]))
		return false;
	if (!check_data_segs(c, &n, cpl))
		return false;
	for (unsigned int i = 0; i < ARRAY_SIZE(data); i++)
		if ((sels[data[i]] & 0xfffc) && !ts_load_seg(c, data[i], sels[data[i]], &n.d[data[i]]))
			return false;
	return true;
}
