/* Host tests for L1's VMX instructions (hv/nested/vmx_insn.c) and their memory operand (vmx_operand.c), against the SDM's pseudo-code. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "hv/nested/vmx_insn.h"
#include "hv/nested/vmx_operand.h"
#include "hv/vmx/vmx_defs.h"

/* L1 RAM in the tests: [RAM_BASE, RAM_BASE + RAM_SIZE); everything else is "not RAM". */
#define RAM_BASE 0x100000ULL
#define RAM_SIZE 0x10000ULL
#define REV      0x4856u
#define VMXON_PA (RAM_BASE)
#define VMCS_A   (RAM_BASE + 0x1000)
#define VMCS_B   (RAM_BASE + 0x2000)
#define MMIO_PA  0xfee00000ULL

static uint8_t ram[RAM_SIZE];

static bool in_ram(uint64_t gpa, size_t len)
{
	return gpa >= RAM_BASE && gpa + len <= RAM_BASE + RAM_SIZE && gpa + len >= gpa;
}

static bool fake_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	(void)ctx;
	if (!in_ram(gpa, len))
		return false;
	memcpy(buf, ram + (gpa - RAM_BASE), len);
	return true;
}

static bool fake_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
	(void)ctx;
	if (!in_ram(gpa, len))
		return false;
	memcpy(ram + (gpa - RAM_BASE), buf, len);
	return true;
}

static struct nested_vmx n;

static void put_revision(uint64_t pa, uint32_t rev)
{
	memcpy(ram + (pa - RAM_BASE), &rev, 4);
}

static int setup(void **state)
{
	(void)state;
	memset(ram, 0, sizeof(ram));
	memset(&n, 0, sizeof(n));
	n.current_vmptr = NESTED_NO_VMCS;
	n.revision = REV;
	n.maxphyaddr = 39;
	n.features = 0;
	n.mem = (struct nested_mem_ops){ fake_read, fake_write, NULL };
	put_revision(VMXON_PA, REV);
	put_revision(VMCS_A, REV);
	put_revision(VMCS_B, REV);
	return 0;
}

static struct nested_insn_result exec(enum nested_insn_op op, uint64_t ptr)
{
	struct nested_insn insn = { .op = op, .pointer = ptr, .long_mode = true };

	return nested_insn_execute(&n, &insn);
}

static struct nested_insn_result exec_field(enum nested_insn_op op, uint64_t field, uint64_t value, bool lm)
{
	struct nested_insn insn = { .op = op, .field = field, .value = value, .long_mode = lm };

	return nested_insn_execute(&n, &insn);
}

#define assert_outcome(r, o, e) do { assert_int_equal((r).outcome, (o)); assert_int_equal((r).error, (e)); } while (0)

static void vmxon_ok(void)
{
	assert_outcome(exec(NESTED_VMXON, VMXON_PA), VMX_SUCCEED, 0);
}

/* SDM 31.3 VMXON: #UD with CR4.VMXE=0, #GP(0) at CPL>0 or bad fixed bits or FEATURE_CONTROL, then the address checks. */
static void test_vmxon_faults_and_failures(void **state)
{
	struct nested_l1_state l1 = { .cpl = 0, .cr4_vmxe = true, .cr_fixed_ok = true, .feature_control_ok = true };

	(void)state;
	l1.cr4_vmxe = false;
	assert_int_equal(nested_insn_fault(&n, NESTED_VMXON, &l1), 6);
	l1.cr4_vmxe = true;
	l1.cpl = 3;
	assert_int_equal(nested_insn_fault(&n, NESTED_VMXON, &l1), 13);
	l1.cpl = 0;
	l1.cr_fixed_ok = false;
	assert_int_equal(nested_insn_fault(&n, NESTED_VMXON, &l1), 13);
	l1.cr_fixed_ok = true;
	l1.feature_control_ok = false;
	assert_int_equal(nested_insn_fault(&n, NESTED_VMXON, &l1), 13);
	l1.feature_control_ok = true;
	assert_int_equal(nested_insn_fault(&n, NESTED_VMXON, &l1), 0);
	/* Every other VMX instruction outside VMX operation: #UD. */
	for (int op = NESTED_VMXOFF; op <= NESTED_VMRESUME; op++)
		assert_int_equal(nested_insn_fault(&n, (enum nested_insn_op)op, &l1), 6);
	put_revision(VMXON_PA, REV ^ 1);
	assert_outcome(exec(NESTED_VMXON, VMXON_PA), VMX_FAIL_INVALID, 0);
	put_revision(VMXON_PA, REV | (1u << 31));
	assert_outcome(exec(NESTED_VMXON, VMXON_PA), VMX_FAIL_INVALID, 0);
	put_revision(VMXON_PA, REV);
	assert_outcome(exec(NESTED_VMXON, VMXON_PA + 8), VMX_FAIL_INVALID, 0);
	assert_outcome(exec(NESTED_VMXON, 1ULL << 39), VMX_FAIL_INVALID, 0);
	/* Not L1 RAM (MMIO, the hypervisor's memory): no revision L1 could have written. */
	assert_outcome(exec(NESTED_VMXON, MMIO_PA), VMX_FAIL_INVALID, 0);
	assert_false(n.vmxon);
	vmxon_ok();
	assert_true(n.vmxon);
	assert_int_equal(n.current_vmptr, NESTED_NO_VMCS);
	/* In VMX root: CPL>0 is #GP, CPL 0 VMfail(15), VMfailInvalid without a current VMCS. */
	l1.cpl = 1;
	assert_int_equal(nested_insn_fault(&n, NESTED_VMXON, &l1), 13);
	assert_int_equal(nested_insn_fault(&n, NESTED_VMCLEAR, &l1), 13);
	l1.cpl = 0;
	assert_int_equal(nested_insn_fault(&n, NESTED_VMCLEAR, &l1), 0);
	assert_outcome(exec(NESTED_VMXON, VMXON_PA), VMX_FAIL_INVALID, 0);
	assert_outcome(exec(NESTED_VMPTRLD, VMCS_A), VMX_SUCCEED, 0);
	assert_outcome(exec(NESTED_VMXON, VMXON_PA), VMX_FAIL_VALID, VMXERR_VMXON_IN_ROOT);
	assert_int_equal(n.vmcs12.vm_instruction_error, VMXERR_VMXON_IN_ROOT);
}

/* SDM 31.3 VMCLEAR/VMPTRLD error numbers (2, 3, 9, 10, 11) with a current VMCS, VMfailInvalid without. */
static void test_pointer_errors(void **state)
{
	(void)state;
	vmxon_ok();
	assert_outcome(exec(NESTED_VMCLEAR, VMCS_A + 4), VMX_FAIL_INVALID, 0);
	assert_outcome(exec(NESTED_VMPTRLD, VMXON_PA), VMX_FAIL_INVALID, 0);
	assert_outcome(exec(NESTED_VMPTRLD, VMCS_A), VMX_SUCCEED, 0);
	assert_outcome(exec(NESTED_VMCLEAR, VMCS_B + 4), VMX_FAIL_VALID, VMXERR_VMCLEAR_INVALID_ADDR);
	assert_outcome(exec(NESTED_VMCLEAR, 1ULL << 39), VMX_FAIL_VALID, VMXERR_VMCLEAR_INVALID_ADDR);
	assert_outcome(exec(NESTED_VMCLEAR, VMXON_PA), VMX_FAIL_VALID, VMXERR_VMCLEAR_VMXON_PTR);
	assert_outcome(exec(NESTED_VMPTRLD, VMCS_B + 4), VMX_FAIL_VALID, VMXERR_VMPTRLD_INVALID_ADDR);
	assert_outcome(exec(NESTED_VMPTRLD, VMXON_PA), VMX_FAIL_VALID, VMXERR_VMPTRLD_VMXON_PTR);
	put_revision(VMCS_B, REV ^ 2);
	assert_outcome(exec(NESTED_VMPTRLD, VMCS_B), VMX_FAIL_VALID, VMXERR_VMPTRLD_INCORRECT_REVISION);
	put_revision(VMCS_B, REV | (1u << 31)); /* a shadow VMCS: refused while VMCS shadowing is not offered */
	assert_outcome(exec(NESTED_VMPTRLD, VMCS_B), VMX_FAIL_VALID, VMXERR_VMPTRLD_INCORRECT_REVISION);
	assert_outcome(exec(NESTED_VMPTRLD, MMIO_PA), VMX_FAIL_VALID, VMXERR_VMPTRLD_INCORRECT_REVISION);
	assert_int_equal(n.current_vmptr, VMCS_A);
	assert_int_equal(exec(NESTED_VMPTRST, 0).value, VMCS_A);
}

/* VMREAD/VMWRITE act on the cache; it reaches L1's page at VMCLEAR, at a switch and at VMXOFF, never before. */
static void test_cache_write_back(void **state)
{
	struct vmcs12 in_memory;
	struct nested_insn_result r;

	(void)state;
	vmxon_ok();
	assert_outcome(exec_field(NESTED_VMREAD, GUEST_RIP, 0, true), VMX_FAIL_INVALID, 0);
	assert_outcome(exec(NESTED_VMCLEAR, VMCS_A), VMX_SUCCEED, 0);
	assert_outcome(exec(NESTED_VMPTRLD, VMCS_A), VMX_SUCCEED, 0);
	assert_outcome(exec_field(NESTED_VMWRITE, GUEST_RIP, 0x1234, true), VMX_SUCCEED, 0);
	memcpy(&in_memory, ram + (VMCS_A - RAM_BASE), sizeof(in_memory));
	assert_int_equal(in_memory.guest_rip, 0);
	/* L1 scribbling on the page changes nothing while the VMCS is current. */
	memset(ram + (VMCS_A - RAM_BASE) + 64, 0xff, 512);
	r = exec_field(NESTED_VMREAD, GUEST_RIP, 0, true);
	assert_outcome(r, VMX_SUCCEED, 0);
	assert_true(r.store);
	assert_int_equal(r.value, 0x1234);
	/* Switching to B writes A back. */
	assert_outcome(exec(NESTED_VMPTRLD, VMCS_B), VMX_SUCCEED, 0);
	memcpy(&in_memory, ram + (VMCS_A - RAM_BASE), sizeof(in_memory));
	assert_int_equal(in_memory.guest_rip, 0x1234);
	assert_int_equal(in_memory.revision_id, REV);
	/* VMCLEAR of the current VMCS writes it back and leaves no current VMCS. */
	assert_outcome(exec_field(NESTED_VMWRITE, GUEST_RSP, 0x5678, true), VMX_SUCCEED, 0);
	assert_outcome(exec(NESTED_VMCLEAR, VMCS_B), VMX_SUCCEED, 0);
	assert_int_equal(n.current_vmptr, NESTED_NO_VMCS);
	memcpy(&in_memory, ram + (VMCS_B - RAM_BASE), sizeof(in_memory));
	assert_int_equal(in_memory.guest_rsp, 0x5678);
	assert_int_equal(exec(NESTED_VMPTRST, 0).value, NESTED_NO_VMCS);
	/* VMXOFF writes the current one back too. */
	assert_outcome(exec(NESTED_VMPTRLD, VMCS_A), VMX_SUCCEED, 0);
	assert_outcome(exec_field(NESTED_VMWRITE, GUEST_RIP, 0x9abc, true), VMX_SUCCEED, 0);
	assert_outcome(exec(NESTED_VMXOFF, 0), VMX_SUCCEED, 0);
	memcpy(&in_memory, ram + (VMCS_A - RAM_BASE), sizeof(in_memory));
	assert_int_equal(in_memory.guest_rip, 0x9abc);
	assert_false(n.vmxon);
}

/* Field encodings: unsupported (12), bits 63:32 in 64-bit mode (12), read-only (13 unless MISC[29]), 32-bit operands. */
static void test_vmread_vmwrite_errors(void **state)
{
	struct nested_insn_result r;

	(void)state;
	vmxon_ok();
	assert_outcome(exec(NESTED_VMPTRLD, VMCS_A), VMX_SUCCEED, 0);
	assert_outcome(exec_field(NESTED_VMREAD, 0x7ffe, 0, true), VMX_FAIL_VALID, VMXERR_UNSUPPORTED_VMCS_COMPONENT);
	assert_outcome(exec_field(NESTED_VMREAD, (1ULL << 32) | GUEST_RIP, 0, true), VMX_FAIL_VALID,
		       VMXERR_UNSUPPORTED_VMCS_COMPONENT);
	/* Outside 64-bit mode the operand is 32 bits: the same bits are not there. */
	assert_outcome(exec_field(NESTED_VMREAD, (1ULL << 32) | GUEST_RIP, 0, false), VMX_SUCCEED, 0);
	/* A field of a feature L1 is not offered (EPT pointer) does not exist for L1. */
	assert_outcome(exec_field(NESTED_VMWRITE, EPT_POINTER, 0, true), VMX_FAIL_VALID,
		       VMXERR_UNSUPPORTED_VMCS_COMPONENT);
	assert_outcome(exec_field(NESTED_VMWRITE, VM_EXIT_REASON, 1, true), VMX_FAIL_VALID,
		       VMXERR_VMWRITE_READ_ONLY_COMPONENT);
	n.vmwrite_any_field = true;
	assert_outcome(exec_field(NESTED_VMWRITE, VM_EXIT_REASON, 1, true), VMX_SUCCEED, 0);
	/* 32-bit mode: a 64-bit field written in full gets bits 63:32 cleared, read gives the low half. */
	assert_outcome(exec_field(NESTED_VMWRITE, TSC_OFFSET, 0xffffffff00000001ULL, false), VMX_SUCCEED, 0);
	assert_int_equal(n.vmcs12.tsc_offset, 1);
	assert_outcome(exec_field(NESTED_VMWRITE, TSC_OFFSET + 1, 0x22, false), VMX_SUCCEED, 0);
	r = exec_field(NESTED_VMREAD, TSC_OFFSET, 0, false);
	assert_int_equal(r.value, 1);
	r = exec_field(NESTED_VMREAD, TSC_OFFSET, 0, true);
	assert_int_equal(r.value, 0x2200000001ULL);
}

/* VMLAUNCH/VMRESUME before the entry checks: invalid pointer, MOV-SS blocking (26), launch state (4, 5). */
static void test_launch_state(void **state)
{
	struct nested_insn insn = { .op = NESTED_VMLAUNCH, .long_mode = true };
	struct nested_insn_result r;

	(void)state;
	vmxon_ok();
	assert_outcome(nested_insn_execute(&n, &insn), VMX_FAIL_INVALID, 0);
	assert_outcome(exec(NESTED_VMCLEAR, VMCS_A), VMX_SUCCEED, 0);
	assert_outcome(exec(NESTED_VMPTRLD, VMCS_A), VMX_SUCCEED, 0);
	insn.op = NESTED_VMRESUME;
	assert_outcome(nested_insn_execute(&n, &insn), VMX_FAIL_VALID, VMXERR_VMRESUME_NONLAUNCHED_VMCS);
	insn.op = NESTED_VMLAUNCH;
	insn.mov_ss_blocking = true;
	assert_outcome(nested_insn_execute(&n, &insn), VMX_FAIL_VALID, VMXERR_ENTRY_EVENTS_BLOCKED_BY_MOV_SS);
	insn.mov_ss_blocking = false;
	r = nested_insn_execute(&n, &insn);
	assert_true(r.enter_l2);
	n.vmcs12.launch_state = VMCS12_LAUNCHED; /* what a successful entry records */
	assert_outcome(nested_insn_execute(&n, &insn), VMX_FAIL_VALID, VMXERR_VMLAUNCH_NONCLEAR_VMCS);
	insn.op = NESTED_VMRESUME;
	assert_true(nested_insn_execute(&n, &insn).enter_l2);
	/* The launch state lives in the region: B is clear while A is launched; VMCLEAR of A (not current) clears it. */
	assert_outcome(exec(NESTED_VMCLEAR, VMCS_B), VMX_SUCCEED, 0);
	assert_outcome(exec(NESTED_VMPTRLD, VMCS_B), VMX_SUCCEED, 0);
	insn.op = NESTED_VMLAUNCH;
	assert_true(nested_insn_execute(&n, &insn).enter_l2);
	assert_outcome(exec(NESTED_VMCLEAR, VMCS_A), VMX_SUCCEED, 0);
	assert_outcome(exec(NESTED_VMPTRLD, VMCS_A), VMX_SUCCEED, 0);
	assert_true(nested_insn_execute(&n, &insn).enter_l2);
}

static void test_rflags(void **state)
{
	(void)state;
	assert_int_equal(vmx_result_rflags(0x8d7, VMX_SUCCEED), 0x002);
	assert_int_equal(vmx_result_rflags(0x202, VMX_FAIL_INVALID), 0x203);
	assert_int_equal(vmx_result_rflags(0x203, VMX_FAIL_VALID), 0x242);
}

/* ---- the memory operand ------------------------------------------------------------- */

static uint64_t gpr[16];

static struct vmx_operand_ctx flat32(uint32_t info, uint64_t disp)
{
	struct vmx_operand_ctx c = { .insn_info = info, .displacement = disp, .gpr = gpr };

	for (int i = 0; i < 6; i++)
		c.seg[i] = (struct vmx_segment){ 0, 0xffffffff, 0xc093 };
	c.seg[SEG_CS].ar = 0xc09b;
	return c;
}

#define INFO(scale, asz, seg, idx, base) ((scale) | ((asz) << 7) | ((seg) << 15) | ((idx) << 18) | ((base) << 23))
#define NO_INDEX BIT(22)
#define NO_BASE  BIT(27)

static void test_operand_address_forms(void **state)
{
	struct vmx_operand_fault f;
	struct vmx_operand_ctx c;
	uint64_t la;

	(void)state;
	gpr[3] = 0x1000;  /* rbx */
	gpr[6] = 0x10;    /* rsi */
	/* [ebx + esi*8 + 0x20], 32-bit address size, DS. */
	c = flat32(INFO(3, 1, SEG_DS, 6, 3), 0x20);
	assert_true(vmx_operand_linear(&c, 8, false, &la, &f));
	assert_int_equal(la, 0x1000 + 0x80 + 0x20);
	/* Displacement only, negative (sign-extended) wraps at 32 bits. */
	c = flat32(INFO(0, 1, SEG_DS, 0, 0) | NO_INDEX | NO_BASE, (uint64_t)-16);
	assert_true(vmx_operand_linear(&c, 8, false, &la, &f));
	assert_int_equal(la, 0xfffffff0);
	/* 16-bit address size wraps at 64 KiB. */
	gpr[3] = 0xfff8;
	c = flat32(INFO(0, 0, SEG_DS, 0, 3) | NO_INDEX, 0x10);
	assert_true(vmx_operand_linear(&c, 8, false, &la, &f));
	assert_int_equal(la, 0x8);
	/* The segment base is added outside 64-bit mode. */
	c = flat32(INFO(0, 1, SEG_ES, 0, 0) | NO_INDEX | NO_BASE, 0x100);
	c.seg[SEG_ES].base = 0x200000;
	assert_true(vmx_operand_linear(&c, 8, false, &la, &f));
	assert_int_equal(la, 0x200100);
	/* 64-bit mode: DS base ignored, FS base used, non-canonical is #GP, through SS #SS. */
	c = flat32(INFO(0, 2, SEG_DS, 0, 3) | NO_INDEX, 0);
	c.mode64 = true;
	c.seg[SEG_DS].base = 0x5000;
	gpr[3] = 0xffff800000001000ULL;
	assert_true(vmx_operand_linear(&c, 8, false, &la, &f));
	assert_int_equal(la, 0xffff800000001000ULL);
	c = flat32(INFO(0, 2, SEG_FS, 0, 3) | NO_INDEX, 0);
	c.mode64 = true;
	c.seg[SEG_FS].base = 0x5000;
	gpr[3] = 0x1000;
	assert_true(vmx_operand_linear(&c, 8, false, &la, &f));
	assert_int_equal(la, 0x6000);
	gpr[3] = 0x0000800000000000ULL;
	c = flat32(INFO(0, 2, SEG_DS, 0, 3) | NO_INDEX, 0);
	c.mode64 = true;
	assert_false(vmx_operand_linear(&c, 8, false, &la, &f));
	assert_int_equal(f.vector, 13);
	c = flat32(INFO(0, 2, SEG_SS, 0, 3) | NO_INDEX, 0);
	c.mode64 = true;
	assert_false(vmx_operand_linear(&c, 8, false, &la, &f));
	assert_int_equal(f.vector, 12);
}

static void test_operand_segment_checks(void **state)
{
	struct vmx_operand_fault f;
	struct vmx_operand_ctx c;
	uint64_t la;

	(void)state;
	gpr[3] = 0xff9;
	c = flat32(INFO(0, 1, SEG_DS, 0, 3) | NO_INDEX, 0);
	c.seg[SEG_DS].limit = 0xfff;
	/* 8 bytes from 0xff9 end at 0x1000: beyond the limit. */
	assert_false(vmx_operand_linear(&c, 8, false, &la, &f));
	assert_int_equal(f.vector, 13);
	gpr[3] = 0xff8;
	assert_true(vmx_operand_linear(&c, 8, false, &la, &f));
	/* The same through SS is #SS. */
	c = flat32(INFO(0, 1, SEG_SS, 0, 3) | NO_INDEX, 0);
	c.seg[SEG_SS].limit = 0xfff;
	gpr[3] = 0xffc;
	assert_false(vmx_operand_linear(&c, 8, false, &la, &f));
	assert_int_equal(f.vector, 12);
	/* Unusable segment; write to a read-only data segment; write through CS; read of execute-only code. */
	c = flat32(INFO(0, 1, SEG_GS, 0, 3) | NO_INDEX, 0);
	c.seg[SEG_GS].ar = 0x10000;
	gpr[3] = 0;
	assert_false(vmx_operand_linear(&c, 8, false, &la, &f));
	c = flat32(INFO(0, 1, SEG_DS, 0, 3) | NO_INDEX, 0);
	c.seg[SEG_DS].ar = 0xc091;
	assert_true(vmx_operand_linear(&c, 8, false, &la, &f));
	assert_false(vmx_operand_linear(&c, 8, true, &la, &f));
	c = flat32(INFO(0, 1, SEG_CS, 0, 3) | NO_INDEX, 0);
	assert_true(vmx_operand_linear(&c, 8, false, &la, &f));
	assert_false(vmx_operand_linear(&c, 8, true, &la, &f));
	c.seg[SEG_CS].ar = 0xc099;
	assert_false(vmx_operand_linear(&c, 8, false, &la, &f));
	/* Expand-down data, limit 0xfff, 32-bit: offsets 0x1000..0xffffffff are valid, below are not. */
	c = flat32(INFO(0, 1, SEG_DS, 0, 3) | NO_INDEX, 0);
	c.seg[SEG_DS] = (struct vmx_segment){ 0, 0xfff, 0xc097 };
	gpr[3] = 0xff8;
	assert_false(vmx_operand_linear(&c, 8, false, &la, &f));
	gpr[3] = 0x1000;
	assert_true(vmx_operand_linear(&c, 8, false, &la, &f));
	gpr[3] = 0xfffffffc;
	assert_false(vmx_operand_linear(&c, 8, false, &la, &f));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_vmxon_faults_and_failures, setup),
		cmocka_unit_test_setup(test_pointer_errors, setup),
		cmocka_unit_test_setup(test_cache_write_back, setup),
		cmocka_unit_test_setup(test_vmread_vmwrite_errors, setup),
		cmocka_unit_test_setup(test_launch_state, setup),
		cmocka_unit_test(test_rflags),
		cmocka_unit_test(test_operand_address_forms),
		cmocka_unit_test(test_operand_segment_checks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
