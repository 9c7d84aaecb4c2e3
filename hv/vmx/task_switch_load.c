/* Task switching past the commit point (SDM 7.3 steps 11-13): TR, registers, CR3 and PDPTEs, the error-code push, the T flag (pure). */
#include "hv/vmx/task_switch_impl.h"
#include "hv/vmx/vmx_defs.h"
#include "hv/x86.h"

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

/* PAE paging takes the PDPTEs with CR3 (SDM 4.4.1); a present one with reserved bits set refuses the load. */
static bool pdptes_valid(struct ts_ctx *c, uint32_t cr3, uint64_t pdpte[4])
{
	unsigned int maxphy = c->s->maxphyaddr ? c->s->maxphyaddr : 52;
	uint64_t reserved = 0x1e6ULL | (maxphy < 64 ? ~0ULL << maxphy : 0);

	/* Not L1 RAM: the hypervisor reads no MMIO for L1; not-present PDPTEs then give #PF (as exit_cr.c does). */
	if (c->m->read_phys(cr3 & 0xffffffe0u, pdpte, 4 * sizeof(uint64_t)) != L1_MEM_OK)
		for (int i = 0; i < 4; i++)
			pdpte[i] = 0;
	for (int i = 0; i < 4; i++)
		if ((pdpte[i] & 1) && (pdpte[i] & reserved))
			return false;
	return true;
}

/*
 * A 32-bit TSS loads CR3 only with paging on (SDM 7.3 step 12); the
 * descriptor reads after it use the new paging. PDPTEs with reserved bits
 * give #GP(0) after the commit point with CR3 unchanged, as MOV to CR3 does
 * (SDM 4.4.1; KVM does the same). Bochs 2.7 loads CR3, clears its PDPTE
 * cache and raises #TS(0) (cpu/tasking.cc, "PDPTR check failed"), after
 * which its own delivery faults until shutdown (seen): no oracle here.
 */
static bool load_cr3(struct ts_ctx *c)
{
	struct ts_state *s = c->s;
	uint32_t cr3 = rd32(c->tss + TSS32_CR3);
	uint64_t pdpte[4];
	bool pae = (s->cr4 & X86_CR4_PAE) && !(s->efer & X86_EFER_LMA);

	if (!c->new32 || !(s->cr0 & X86_CR0_PG))
		return true;
	if (pae && !pdptes_valid(c, cr3, pdpte))
		return ts_fault(c, GP_VECTOR, c->ext);
	s->cr3 = c->pg.cr3 = cr3;
	c->r->cr3_loaded = true;
	c->r->pae = pae;
	for (int i = 0; pae && i < 4; i++)
		s->pdpte[i] = pdpte[i];
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
		return ts_fault(c, SS_VECTOR, c->ext);
	wr32(buf, c->q->event.error_code);
	if (!ts_write(c, ss->base + off, buf, size))
		return false;
	s->gpr[4] = big ? off : (esp & 0xffff0000u) | off;
	return true;
}

bool ts_switch_in(struct ts_ctx *c, const struct desc *new_desc)
{
	const struct ts_event *e = &c->q->event;
	uint16_t sels[7];

	commit(c, new_desc, sels);
	if (!load_cr3(c) || !ts_load_segments(c, sels))
		return false;
	if (c->q->source == TS_FROM_IDT && e->valid && e->type == INTR_TYPE_HW_EXCEPTION && e->has_error_code &&
	    !push_error_code(c))
		return false;
	c->r->debug_trap = c->new32 && (rd16(c->tss + TSS32_T) & 1);
	return true;
}
