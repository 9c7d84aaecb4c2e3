/* Host tests for task-switch emulation (hv/vmx/task_switch.c, SDM 7.3) on a fake flat L1 memory, and the fault class behind RF. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "hv/vmx/task_switch.h"
#include "hv/vmx/vmx_defs.h"
#include "hv/vmx/vmx_internal.h"
#include "hv/x86.h"

#define MEM_SIZE  0x10000u
#define GDT       0x1000u
#define OLD_TSS   0x2000u
#define NEW_TSS   0x3000u
#define LDT_BASE  0x4000u
#define STACK_TOP 0x9000u
#define PF_NONE   0xffffffffu

enum { SEL_CODE = 0x08, SEL_DATA = 0x10, SEL_NP = 0x18, SEL_OLD = 0x20, SEL_NEW = 0x28, SEL_LDT = 0x30,
       SEL_CODE3 = 0x38, SEL_DATA3 = 0x40, SEL_NEW16 = 0x48, SEL_CONF = 0x50, SEL_EXEC = 0x58 };

static uint8_t mem[MEM_SIZE];
static uint32_t pf_page = PF_NONE; /* a linear page whose accesses fault */
static unsigned int writes;

static int check(uint64_t lin, size_t len, unsigned int access, struct l1_fault *f)
{
	if (pf_page != PF_NONE && lin < pf_page + 4096 && lin + len > pf_page) {
		f->linear = lin > pf_page ? lin : pf_page;
		f->error_code = access;
		return L1_MEM_PAGE_FAULT;
	}
	if (lin + len > MEM_SIZE) {
		f->gpa = lin;
		return L1_MEM_NOT_RAM;
	}
	return L1_MEM_OK;
}

static int fake_read(const struct guest_paging *p, uint64_t lin, void *buf, size_t len, unsigned int access,
		     struct l1_fault *f)
{
	int r = check(lin, len, access, f);

	(void)p;
	if (r == L1_MEM_OK)
		memcpy(buf, mem + lin, len);
	return r;
}

static int fake_write(const struct guest_paging *p, uint64_t lin, const void *buf, size_t len, unsigned int access,
		      struct l1_fault *f)
{
	int r = check(lin, len, access, f);

	(void)p;
	if (r == L1_MEM_OK) {
		memcpy(mem + lin, buf, len);
		writes++;
	}
	return r;
}

static int fake_read_phys(uint64_t gpa, void *buf, size_t len)
{
	if (gpa + len > MEM_SIZE)
		return L1_MEM_NOT_RAM;
	memcpy(buf, mem + gpa, len);
	return L1_MEM_OK;
}

static const struct ts_mem fake_mem = { fake_read, fake_write, fake_read_phys };

static uint32_t rd32(uint32_t a) { uint32_t v; memcpy(&v, mem + a, 4); return v; }
static uint16_t rd16(uint32_t a) { uint16_t v; memcpy(&v, mem + a, 2); return v; }
static void wr32(uint32_t a, uint32_t v) { memcpy(mem + a, &v, 4); }
static void wr16(uint32_t a, uint16_t v) { memcpy(mem + a, &v, 2); }

static void set_desc(uint16_t sel, uint32_t base, uint32_t limit, uint32_t access, uint32_t flags)
{
	uint32_t table = (sel & 4) ? LDT_BASE : GDT;

	wr32(table + (sel & ~7u), (limit & 0xffff) | base << 16);
	wr32(table + (sel & ~7u) + 4, ((base >> 16) & 0xff) | access << 8 | (limit & 0xf0000) | flags << 20 |
					(base & 0xff000000u));
}

static bool busy(uint16_t sel) { return (rd32(GDT + sel + 4) >> 9) & 1; }
static bool accessed(uint16_t sel) { return (rd32(GDT + (sel & ~7u) + 4) >> 8) & 1; }

/* A new 32-bit task at NEW_TSS: flat CPL-0 segments (not yet accessed), EIP 0x5000, ESP STACK_TOP. */
static void new_tss32(void)
{
	uint32_t t = NEW_TSS;

	memset(mem + t, 0, 0x68);
	wr32(t + 0x1c, 0x7000);
	wr32(t + 0x20, 0x5000);
	wr32(t + 0x24, 0x2 | X86_RFLAGS_IF);
	for (int i = 0; i < 8; i++)
		wr32(t + 0x28 + 4 * i, 0x1000 * (i + 1) + i);
	wr32(t + 0x38, STACK_TOP);
	wr32(t + 0x48, SEL_DATA); /* ES */
	wr32(t + 0x4c, SEL_CODE);
	wr32(t + 0x50, SEL_DATA);
	wr32(t + 0x54, SEL_DATA);
	wr32(t + 0x58, 0);        /* FS null */
	wr32(t + 0x5c, SEL_DATA);
	wr32(t + 0x60, 0);        /* no LDT */
	wr16(t + 0x66, 0x68);
}

static struct ts_state st;

static int setup(void **state)
{
	(void)state;
	memset(mem, 0, sizeof(mem));
	pf_page = PF_NONE;
	writes = 0;
	set_desc(SEL_CODE, 0, 0xfffff, 0x9a, 0xc);
	set_desc(SEL_DATA, 0, 0xfffff, 0x92, 0xc);
	set_desc(SEL_NP, 0, 0xfffff, 0x12, 0xc);
	set_desc(SEL_OLD, OLD_TSS, 0x67, 0x8b, 0);   /* busy: the current task */
	set_desc(SEL_NEW, NEW_TSS, 0x67, 0x89, 0);   /* available */
	set_desc(SEL_LDT, LDT_BASE, 0xf, 0x82, 0);
	set_desc(SEL_CODE3, 0, 0xfffff, 0xfa, 0xc);
	set_desc(SEL_DATA3, 0, 0xfffff, 0xf2, 0xc);
	set_desc(SEL_NEW16, NEW_TSS, 0x2b, 0x81, 0);
	set_desc(SEL_CONF, 0, 0xfffff, 0x9e, 0xc);
	set_desc(SEL_EXEC, 0, 0xfffff, 0x98, 0xc);
	set_desc(0x04, 0x100, 0xfff, 0x92, 0x4); /* LDT entry 0: data, base 0x100 */
	new_tss32();
	st = (struct ts_state){
		.gpr = { 1, 2, 3, 4, 0x8000, 6, 7, 8 },
		.eip = 0x600, .eflags = 0x2 | X86_RFLAGS_RF,
		.gdtr_base = GDT, .gdtr_limit = 0x5f,
		.cr0 = X86_CR0_PE | X86_CR0_ET, .dr7 = 0x400 | 0x3 | 0x100,
	};
	for (int i = TS_ES; i <= TS_GS; i++)
		st.seg[i] = (struct ts_seg){ SEL_DATA, 0, 0xffffffff, 0xc093 };
	st.seg[TS_CS] = (struct ts_seg){ SEL_CODE, 0, 0xffffffff, 0xc09b };
	st.seg[TS_LDTR] = (struct ts_seg){ 0, 0, 0, TS_AR_UNUSABLE };
	st.seg[TS_TR] = (struct ts_seg){ SEL_OLD, OLD_TSS, 0x67, 0x8b };
	return 0;
}

static struct ts_result run(uint16_t sel, enum ts_source src, uint32_t len)
{
	struct ts_request q = { .selector = sel, .source = src, .insn_len = len };
	struct ts_result r;

	task_switch(&st, &q, &fake_mem, &r);
	return r;
}

static struct ts_result run_event(uint16_t sel, uint8_t vector, uint8_t type, bool has_err, uint32_t err, uint32_t len)
{
	struct ts_request q = { .selector = sel, .source = TS_FROM_IDT, .insn_len = len,
				.event = { true, vector, type, has_err, err } };
	struct ts_result r;

	task_switch(&st, &q, &fake_mem, &r);
	return r;
}

/* JMP: old busy cleared, new busy set, no link, NT as the TSS has it; old state saved past the JMP (SDM 7.3, Table 7-2). */
static void test_jmp_32(void **state)
{
	struct ts_result r;

	(void)state;
	r = run(SEL_NEW, TS_FROM_JMP, 7);
	assert_int_equal(r.outcome, TS_DONE);
	assert_true(r.committed);
	assert_false(busy(SEL_OLD));
	assert_true(busy(SEL_NEW));
	assert_int_equal(rd16(NEW_TSS), 0);
	assert_int_equal(rd32(OLD_TSS + 0x20), 0x607);
	assert_int_equal(rd32(OLD_TSS + 0x24), 0x2 | X86_RFLAGS_RF);
	assert_int_equal(rd32(OLD_TSS + 0x28), 1);
	assert_int_equal(rd32(OLD_TSS + 0x38), 0x8000);
	assert_int_equal(rd16(OLD_TSS + 0x4c), SEL_CODE);
	assert_int_equal(st.eip, 0x5000);
	assert_int_equal(st.eflags, 0x2 | X86_RFLAGS_IF);
	assert_int_equal(st.gpr[0], 0x1000);
	assert_int_equal(st.gpr[4], STACK_TOP);
	assert_int_equal(st.gpr[7], 0x8007);
	assert_int_equal(st.seg[TS_TR].sel, SEL_NEW);
	assert_int_equal(st.seg[TS_TR].ar, 0x8b);
	assert_int_equal(st.seg[TS_CS].ar, 0xc09b);
	assert_int_equal(st.seg[TS_SS].ar, 0xc093);
	assert_int_equal(st.seg[TS_FS].ar, TS_AR_UNUSABLE);
	assert_int_equal(st.seg[TS_CS].limit, 0xffffffff);
	assert_true(accessed(SEL_CODE) && accessed(SEL_DATA));
	assert_true(st.cr0 & X86_CR0_TS);
	assert_int_equal(st.dr7, 0x400 | 0x2); /* L0 and LE cleared, G0 kept */
	assert_int_equal(st.cr3, 0);            /* paging off: CR3 not loaded */
	assert_false(r.cr3_loaded);
	assert_false(r.debug_trap);
}

/* CALL: link = old TR, NT set, old stays busy. IRET back: old (now the callee) busy cleared, NT cleared in its saved image. */
static void test_call_then_iret(void **state)
{
	struct ts_result r;

	(void)state;
	r = run(SEL_NEW, TS_FROM_CALL, 7);
	assert_int_equal(r.outcome, TS_DONE);
	assert_true(busy(SEL_OLD) && busy(SEL_NEW));
	assert_int_equal(rd16(NEW_TSS), SEL_OLD);
	assert_true(st.eflags & X86_RFLAGS_NT);
	st.eip = 0x5100;
	r = run(SEL_OLD, TS_FROM_IRET, 1);
	assert_int_equal(r.outcome, TS_DONE);
	assert_true(busy(SEL_OLD));
	assert_false(busy(SEL_NEW));
	assert_int_equal(rd32(NEW_TSS + 0x20), 0x5101);
	assert_false(rd32(NEW_TSS + 0x24) & X86_RFLAGS_NT);
	assert_int_equal(st.eip, 0x607);
	assert_false(st.eflags & X86_RFLAGS_NT);
	assert_int_equal(st.seg[TS_TR].sel, SEL_OLD);
}

/* An exception through a task gate: saved EIP not advanced, its error code pushed on the new stack. */
static void test_exception_pushes_error_code(void **state)
{
	struct ts_result r;

	(void)state;
	r = run_event(SEL_NEW, GP_VECTOR, INTR_TYPE_HW_EXCEPTION, true, 0x1234, 0);
	assert_int_equal(r.outcome, TS_DONE);
	assert_int_equal(rd32(OLD_TSS + 0x20), 0x600);
	assert_int_equal(rd16(NEW_TSS), SEL_OLD);
	assert_true(st.eflags & X86_RFLAGS_NT);
	assert_int_equal(st.gpr[4], STACK_TOP - 4);
	assert_int_equal(rd32(STACK_TOP - 4), 0x1234);
}

/* Into a 16-bit TSS the error code is pushed as a word; INT3 (a software exception) saves the EIP past it, without EXT. */
static void test_16bit_push_and_int3(void **state)
{
	struct ts_result r;
	uint32_t t = NEW_TSS;

	(void)state;
	memset(mem + t, 0, 0x2c);
	wr16(t + 0x0e, 0x100);
	wr16(t + 0x1a, 0x0ff0);
	wr16(t + 0x22, SEL_DATA);
	wr16(t + 0x24, SEL_CODE);
	wr16(t + 0x26, SEL_DATA);
	wr16(t + 0x28, SEL_DATA);
	set_desc(SEL_DATA, 0, 0xfffff, 0x92, 0x8); /* B=0: a 16-bit stack, SP wraps inside 64 KiB */
	r = run_event(SEL_NEW16, GP_VECTOR, INTR_TYPE_HW_EXCEPTION, true, 0xabcd, 0);
	assert_int_equal(r.outcome, TS_DONE);
	assert_int_equal(st.gpr[4], 0xffff0fee); /* SP - 2; ESP's upper half (0xffff from the 16-bit TSS) kept */
	assert_int_equal(rd16(0x0fee), 0xabcd);
	assert_int_equal(rd16(0x0ff0), 0);
	setup(NULL);
	r = run_event(SEL_NEW, BP_VECTOR, INTR_TYPE_SW_EXCEPTION, false, 0, 1);
	assert_int_equal(r.outcome, TS_DONE);
	assert_int_equal(rd32(OLD_TSS + 0x20), 0x601);
	setup(NULL);
	wr32(NEW_TSS + 0x54, SEL_NP);
	r = run_event(SEL_NEW, BP_VECTOR, INTR_TYPE_SW_EXCEPTION, false, 0, 1);
	assert_int_equal(r.error_code, SEL_NP); /* no EXT for INT3 */
	setup(NULL);
	wr32(NEW_TSS + 0x54, SEL_NP);
	r = run_event(SEL_NEW, DB_VECTOR, INTR_TYPE_PRIV_SW_EXC, false, 0, 1);
	assert_int_equal(r.error_code, SEL_NP | 1); /* INT1 is not a software interrupt: EXT */
}

/* INT n through a task gate: the saved EIP is past the INT; nothing pushed. */
static void test_int_n(void **state)
{
	struct ts_result r;

	(void)state;
	r = run_event(SEL_NEW, 0x40, INTR_TYPE_SW_INTR, false, 0, 2);
	assert_int_equal(r.outcome, TS_DONE);
	assert_int_equal(rd32(OLD_TSS + 0x20), 0x602);
	assert_int_equal(st.gpr[4], STACK_TOP);
}

/* A 16-bit TSS: words only, FS/GS null, no CR3, no T flag; upper register halves as Bochs sets them. */
static void test_16bit_tss(void **state)
{
	struct ts_result r;
	uint32_t t = NEW_TSS;

	(void)state;
	memset(mem + t, 0, 0x2c);
	wr16(t + 0x0e, 0x1234);
	wr16(t + 0x10, 0x0202);
	wr16(t + 0x12, 0xaaaa);
	wr16(t + 0x1a, 0x0ff0);
	wr16(t + 0x22, SEL_DATA);
	wr16(t + 0x24, SEL_CODE);
	wr16(t + 0x26, SEL_DATA);
	wr16(t + 0x28, SEL_DATA);
	st.seg[TS_FS].sel = SEL_DATA;
	r = run(SEL_NEW16, TS_FROM_CALL, 7);
	assert_int_equal(r.outcome, TS_DONE);
	assert_int_equal(st.eip, 0x1234);
	assert_int_equal(st.eflags, 0x0202 | X86_RFLAGS_NT);
	assert_int_equal(st.gpr[0], 0xffffaaaa);
	assert_int_equal(st.gpr[4], 0xffff0ff0);
	assert_int_equal(st.seg[TS_FS].sel, 0);
	assert_int_equal(st.seg[TS_FS].ar, TS_AR_UNUSABLE);
	assert_int_equal(st.seg[TS_TR].ar, 0x83);
	/* Back with IRET: the 16-bit TSS gets word-sized state. */
	st.gpr[0] = 0x12345678;
	r = run(SEL_OLD, TS_FROM_IRET, 1);
	assert_int_equal(r.outcome, TS_DONE);
	assert_int_equal(rd16(t + 0x0e), 0x1235);
	assert_int_equal(rd16(t + 0x12), 0x5678);
	assert_int_equal(rd16(t + 0x24), SEL_CODE);
}

/* The old TSS too small for the state to save: #TS(old TSS), nothing written (pre-commit). */
static void test_old_tss_limit(void **state)
{
	struct ts_result r;

	(void)state;
	st.seg[TS_TR].limit = 0x50;
	r = run(SEL_NEW, TS_FROM_JMP, 7);
	assert_int_equal(r.outcome, TS_FAULT);
	assert_int_equal(r.vector, TS_VECTOR);
	assert_int_equal(r.error_code, SEL_OLD);
	assert_false(r.committed);
	assert_int_equal(writes, 0);
	assert_int_equal(st.eip, 0x600);
}

/* A #PF reading the new TSS: CR2 is the address, nothing changed. */
static void test_new_tss_page_fault(void **state)
{
	struct ts_result r;

	(void)state;
	pf_page = NEW_TSS;
	r = run(SEL_NEW, TS_FROM_CALL, 7);
	assert_int_equal(r.outcome, TS_FAULT);
	assert_int_equal(r.vector, PF_VECTOR);
	assert_int_equal(r.cr2, NEW_TSS);
	assert_int_equal(writes, 0);
	assert_false(r.committed);
}

/* The CPU's pre-exit checks hold again on the descriptor read (SDM Table 7-1): JMP to a busy TSS is #GP, IRET to an available one #TS. */
static void test_new_tss_type(void **state)
{
	struct ts_result r;

	(void)state;
	r = run(SEL_OLD, TS_FROM_JMP, 7);
	assert_int_equal(r.vector, GP_VECTOR);
	assert_int_equal(r.error_code, SEL_OLD);
	r = run(SEL_NEW, TS_FROM_IRET, 1);
	assert_int_equal(r.vector, TS_VECTOR);
	assert_int_equal(r.error_code, SEL_NEW);
	assert_int_equal(writes, 0);
}

/* After the commit point: DS not present is #NP(DS) in the new task, which keeps its EIP and TR. */
static void test_data_not_present(void **state)
{
	struct ts_result r;

	(void)state;
	wr32(NEW_TSS + 0x54, SEL_NP);
	r = run(SEL_NEW, TS_FROM_JMP, 7);
	assert_int_equal(r.outcome, TS_FAULT);
	assert_int_equal(r.vector, NP_VECTOR);
	assert_int_equal(r.error_code, SEL_NP);
	assert_true(r.committed);
	assert_int_equal(st.eip, 0x5000);
	assert_int_equal(st.seg[TS_TR].sel, SEL_NEW);
	assert_int_equal(st.seg[TS_DS].sel, SEL_NP);
	assert_int_equal(st.seg[TS_DS].ar, TS_AR_UNUSABLE);
	assert_int_equal(st.seg[TS_CS].ar, 0xc09b); /* CS and SS were loaded before DS */
}

/* A bad LDT (not an LDT descriptor) is #TS(LDT); CS/SS are not loaded yet and the task runs at CPL 3 (Bochs). */
static void test_bad_ldt(void **state)
{
	struct ts_result r;

	(void)state;
	wr32(NEW_TSS + 0x60, SEL_DATA);
	r = run(SEL_NEW, TS_FROM_JMP, 7);
	assert_int_equal(r.vector, TS_VECTOR);
	assert_int_equal(r.error_code, SEL_DATA);
	assert_int_equal((st.seg[TS_SS].ar >> 5) & 3, 3);
	assert_int_equal(st.seg[TS_CS].ar & 0xf, 0xf); /* conforming, DPL 0: VM entry accepts it */
	assert_int_equal((st.seg[TS_CS].ar >> 5) & 3, 0);
	/* TI=1 and an LDT selector beyond the GDT are #TS too. */
	setup(NULL);
	wr32(NEW_TSS + 0x60, SEL_LDT | 4);
	assert_int_equal(run(SEL_NEW, TS_FROM_JMP, 7).error_code, SEL_LDT | 4); /* index and TI */
	setup(NULL);
	wr32(NEW_TSS + 0x60, 0x400);
	assert_int_equal(run(SEL_NEW, TS_FROM_JMP, 7).error_code, 0x400);
}

/* A good LDT is loaded, and a selector with TI=1 takes its descriptor from it. */
static void test_ldt_load(void **state)
{
	struct ts_result r;

	(void)state;
	wr32(NEW_TSS + 0x60, SEL_LDT);
	wr32(NEW_TSS + 0x58, 0x04);
	r = run(SEL_NEW, TS_FROM_JMP, 7);
	assert_int_equal(r.outcome, TS_DONE);
	assert_int_equal(st.seg[TS_LDTR].base, LDT_BASE);
	assert_int_equal(st.seg[TS_LDTR].ar, 0x82);
	assert_int_equal(st.seg[TS_FS].base, 0x100);
	assert_int_equal(st.seg[TS_FS].ar, 0x4093);
	assert_true((rd32(LDT_BASE + 4) >> 8) & 1);
}

/* SS checks in order (SDM Table 7-1): null/type #TS, not present #SS, DPL vs CPL and RPL #TS. */
static void test_ss_checks(void **state)
{
	(void)state;
	wr32(NEW_TSS + 0x50, 0);
	assert_int_equal(run(SEL_NEW, TS_FROM_JMP, 7).vector, TS_VECTOR);
	setup(NULL);
	wr32(NEW_TSS + 0x50, SEL_CODE);
	assert_int_equal(run(SEL_NEW, TS_FROM_JMP, 7).error_code, SEL_CODE);
	setup(NULL);
	set_desc(SEL_NP, 0, 0xfffff, 0x12, 0xc);
	wr32(NEW_TSS + 0x50, SEL_NP);
	assert_int_equal(run(SEL_NEW, TS_FROM_JMP, 7).vector, SS_VECTOR);
	setup(NULL);
	wr32(NEW_TSS + 0x50, SEL_DATA3 | 3);
	assert_int_equal(run(SEL_NEW, TS_FROM_JMP, 7).vector, TS_VECTOR);
}

/* CS: data is #TS, non-conforming DPL != RPL #TS, conforming DPL <= RPL loads, not present #NP. */
static void test_cs_checks(void **state)
{
	struct ts_result r;

	(void)state;
	wr32(NEW_TSS + 0x4c, SEL_DATA);
	assert_int_equal(run(SEL_NEW, TS_FROM_JMP, 7).error_code, SEL_DATA);
	setup(NULL);
	wr32(NEW_TSS + 0x4c, SEL_CODE3);
	r = run(SEL_NEW, TS_FROM_JMP, 7);
	assert_int_equal(r.error_code, SEL_CODE3); /* non-conforming DPL 3 != RPL 0 */
	setup(NULL);
	wr32(NEW_TSS + 0x4c, SEL_CONF);
	assert_int_equal(run(SEL_NEW, TS_FROM_JMP, 7).outcome, TS_DONE);
	setup(NULL);
	set_desc(SEL_CODE, 0, 0xfffff, 0x1a, 0xc);
	r = run(SEL_NEW, TS_FROM_JMP, 7);
	assert_int_equal(r.vector, NP_VECTOR);
	assert_int_equal(r.error_code, SEL_CODE);
}

/* Data segments: execute-only code is #TS; a DPL-0 segment for a CPL-3 task is #TS. */
static void test_data_checks(void **state)
{
	(void)state;
	wr32(NEW_TSS + 0x48, SEL_EXEC);
	assert_int_equal(run(SEL_NEW, TS_FROM_JMP, 7).error_code, SEL_EXEC);
	setup(NULL);
	wr32(NEW_TSS + 0x4c, SEL_CODE3 | 3);
	wr32(NEW_TSS + 0x50, SEL_DATA3 | 3);
	wr32(NEW_TSS + 0x54, SEL_DATA3 | 3);
	wr32(NEW_TSS + 0x5c, SEL_DATA3 | 3);
	assert_int_equal(run(SEL_NEW, TS_FROM_JMP, 7).error_code, SEL_DATA);
}

/* Several bad segments: the first row of SDM Table 7-1 (P6 order) that fails decides. */
static void test_table_7_1_order(void **state)
{
	(void)state;
	wr32(NEW_TSS + 0x4c, SEL_CODE3);          /* row 6: CS DPL 3 != RPL 0 */
	wr32(NEW_TSS + 0x50, SEL_NP);             /* row 8: SS not present */
	assert_int_equal(run(SEL_NEW, TS_FROM_JMP, 7).error_code, SEL_CODE3);
	setup(NULL);
	set_desc(SEL_LDT, LDT_BASE, 0xf, 0x02, 0); /* row 10: LDT not present */
	wr32(NEW_TSS + 0x60, SEL_LDT);
	wr32(NEW_TSS + 0x50, SEL_NP);
	assert_int_equal(run(SEL_NEW, TS_FROM_JMP, 7).vector, SS_VECTOR);
	setup(NULL);
	set_desc(SEL_CODE, 0, 0xfffff, 0x1a, 0xc); /* row 12: CS not present, before row 16: DS not present */
	wr32(NEW_TSS + 0x54, SEL_NP);
	assert_int_equal(run(SEL_NEW, TS_FROM_JMP, 7).error_code, SEL_CODE);
	setup(NULL);
	wr32(NEW_TSS + 0x54, SEL_NP);             /* row 16 for DS comes after row 15 for ES */
	wr32(NEW_TSS + 0x48, SEL_EXEC);
	assert_int_equal(run(SEL_NEW, TS_FROM_JMP, 7).error_code, SEL_EXEC);
	setup(NULL);
	set_desc(SEL_CODE, 0, 0xfffff, 0x1a, 0xc); /* row 12 before row 13: SS DPL 0 != RPL 3 */
	wr32(NEW_TSS + 0x50, SEL_DATA | 3);
	assert_int_equal(run(SEL_NEW, TS_FROM_JMP, 7).error_code, SEL_CODE);
}

/* Faults while delivering an event: EXT in the error code; contributory on contributory is #DF; on #DF shutdown. */
static void test_event_faults(void **state)
{
	struct ts_result r;

	(void)state;
	wr32(NEW_TSS + 0x54, SEL_NP);
	r = run_event(SEL_NEW, 0x30, INTR_TYPE_EXT_INTR, false, 0, 0);
	assert_int_equal(r.vector, NP_VECTOR);
	assert_int_equal(r.error_code, SEL_NP | 1);
	setup(NULL);
	wr32(NEW_TSS + 0x54, SEL_NP);
	r = run_event(SEL_NEW, 0x30, INTR_TYPE_SW_INTR, false, 0, 2);
	assert_int_equal(r.error_code, SEL_NP);
	setup(NULL);
	wr32(NEW_TSS + 0x54, SEL_NP);
	r = run_event(SEL_NEW, GP_VECTOR, INTR_TYPE_HW_EXCEPTION, true, 0, 0);
	assert_int_equal(r.outcome, TS_FAULT);
	assert_int_equal(r.vector, DF_VECTOR);
	assert_int_equal(r.error_code, 0);
	setup(NULL);
	wr32(NEW_TSS + 0x54, SEL_NP);
	r = run_event(SEL_NEW, DF_VECTOR, INTR_TYPE_HW_EXCEPTION, true, 0, 0);
	assert_int_equal(r.outcome, TS_SHUTDOWN);
	setup(NULL);
	wr32(NEW_TSS + 0x54, SEL_NP);
	r = run_event(SEL_NEW, PF_VECTOR, INTR_TYPE_HW_EXCEPTION, true, 2, 0); /* #PF then contributory: #DF */
	assert_int_equal(r.vector, DF_VECTOR);
}

/* With paging, a 32-bit TSS loads CR3; in PAE mode its PDPTEs, a reserved bit giving #GP(0) after the commit point. */
static void test_cr3_and_pdptes(void **state)
{
	struct ts_result r;

	(void)state;
	st.cr0 |= X86_CR0_PG;
	r = run(SEL_NEW, TS_FROM_JMP, 7);
	assert_int_equal(r.outcome, TS_DONE);
	assert_true(r.cr3_loaded);
	assert_false(r.pae);
	assert_int_equal(st.cr3, 0x7000);
	setup(NULL);
	st.cr0 |= X86_CR0_PG;
	st.cr4 |= X86_CR4_PAE;
	st.maxphyaddr = 36;
	wr32(0x7000, 0x8001);
	r = run(SEL_NEW, TS_FROM_JMP, 7);
	assert_int_equal(r.outcome, TS_DONE);
	assert_true(r.pae);
	assert_int_equal(st.pdpte[0], 0x8001);
	setup(NULL);
	st.cr0 |= X86_CR0_PG;
	st.cr4 |= X86_CR4_PAE;
	wr32(0x7008, 0x8001 | 0x20); /* PDPTE bit 5 is reserved */
	r = run(SEL_NEW, TS_FROM_JMP, 7);
	assert_int_equal(r.vector, GP_VECTOR);
	assert_int_equal(r.error_code, 0);
	assert_true(r.committed);
	assert_false(r.cr3_loaded); /* CR3 and the VMCS PDPTEs keep their valid old values */
	assert_int_equal(st.cr3, 0);
}

/* A descriptor's L bit means nothing outside IA-32e mode and stays out of the VMCS access rights. */
static void test_l_bit_dropped(void **state)
{
	(void)state;
	set_desc(SEL_CODE, 0, 0xfffff, 0x9a, 0xe); /* G, D and L */
	assert_int_equal(run(SEL_NEW, TS_FROM_JMP, 7).outcome, TS_DONE);
	assert_int_equal(st.seg[TS_CS].ar, 0xc09b);
}

/* The T flag asks for the #DB trap; a virtual-8086 task gets real-mode style segments. */
static void test_t_flag_and_v86(void **state)
{
	struct ts_result r;

	(void)state;
	wr16(NEW_TSS + 0x64, 1);
	r = run(SEL_NEW, TS_FROM_JMP, 7);
	assert_true(r.debug_trap);
	setup(NULL);
	wr32(NEW_TSS + 0x24, 0x2 | X86_RFLAGS_VM);
	wr32(NEW_TSS + 0x4c, 0x1234);
	r = run(SEL_NEW, TS_FROM_JMP, 7);
	assert_int_equal(r.outcome, TS_DONE);
	assert_int_equal(st.seg[TS_CS].base, 0x12340);
	assert_int_equal(st.seg[TS_CS].ar, 0xf3);
	assert_int_equal(st.seg[TS_CS].limit, 0xffff);
}

/* A TSS outside L1 RAM is reported, never touched. */
static void test_not_ram(void **state)
{
	struct ts_result r;

	(void)state;
	set_desc(SEL_NEW, 0xfff0, 0x67, 0x89, 0);
	r = run(SEL_NEW, TS_FROM_JMP, 7);
	assert_int_equal(r.outcome, TS_NOT_RAM);
	assert_int_equal(r.bad_gpa, 0xfff0);
	assert_int_equal(writes, 0);
}

/* A stack without room for the error code: #SS with EXT, the switch itself done. */
static void test_error_code_stack_fault(void **state)
{
	struct ts_result r;

	(void)state;
	set_desc(SEL_DATA, 0, 0x8ffe, 0x92, 0x4); /* byte granular, limit below STACK_TOP - 1 */
	r = run_event(SEL_NEW, NP_VECTOR, INTR_TYPE_HW_EXCEPTION, true, 8, 0);
	assert_int_equal(r.vector, DF_VECTOR); /* #SS while delivering #NP: both contributory */
	setup(NULL);
	set_desc(SEL_DATA, 0, 0x8ffe, 0x92, 0x4);
	r = run_event(SEL_NEW, 0x30, INTR_TYPE_EXT_INTR, false, 0, 0); /* nothing to push: fine */
	assert_int_equal(r.outcome, TS_DONE);
}

/* Faults push RF=1; traps and aborts do not (SDM 6.5, Table 6-1). */
static void test_fault_class(void **state)
{
	(void)state;
	assert_true(emulate_exception_is_fault(GP_VECTOR));
	assert_true(emulate_exception_is_fault(UD_VECTOR));
	assert_true(emulate_exception_is_fault(PF_VECTOR));
	assert_true(emulate_exception_is_fault(TS_VECTOR));
	assert_false(emulate_exception_is_fault(DB_VECTOR));
	assert_false(emulate_exception_is_fault(BP_VECTOR));
	assert_false(emulate_exception_is_fault(DF_VECTOR));
	assert_false(emulate_exception_is_fault(MC_VECTOR));
	assert_false(emulate_exception_is_fault(NMI_VECTOR));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_jmp_32, setup),
		cmocka_unit_test_setup(test_call_then_iret, setup),
		cmocka_unit_test_setup(test_exception_pushes_error_code, setup),
		cmocka_unit_test_setup(test_int_n, setup),
		cmocka_unit_test_setup(test_16bit_push_and_int3, setup),
		cmocka_unit_test_setup(test_16bit_tss, setup),
		cmocka_unit_test_setup(test_old_tss_limit, setup),
		cmocka_unit_test_setup(test_new_tss_page_fault, setup),
		cmocka_unit_test_setup(test_new_tss_type, setup),
		cmocka_unit_test_setup(test_data_not_present, setup),
		cmocka_unit_test_setup(test_bad_ldt, setup),
		cmocka_unit_test_setup(test_ldt_load, setup),
		cmocka_unit_test_setup(test_ss_checks, setup),
		cmocka_unit_test_setup(test_cs_checks, setup),
		cmocka_unit_test_setup(test_data_checks, setup),
		cmocka_unit_test_setup(test_table_7_1_order, setup),
		cmocka_unit_test_setup(test_event_faults, setup),
		cmocka_unit_test_setup(test_cr3_and_pdptes, setup),
		cmocka_unit_test_setup(test_l_bit_dropped, setup),
		cmocka_unit_test_setup(test_t_flag_and_v86, setup),
		cmocka_unit_test_setup(test_not_ram, setup),
		cmocka_unit_test_setup(test_error_code_stack_fault, setup),
		cmocka_unit_test(test_fault_class),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
