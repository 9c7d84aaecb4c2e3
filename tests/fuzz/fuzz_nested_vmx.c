/* libFuzzer target: random VMX instruction sequences of L1, random vmcs12s through the entry checks and the vmcs02 merge. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv/nested/entry_checks.h"
#include "hv/nested/exit_decide.h"
#include "hv/nested/vmcs02.h"
#include "hv/nested/vmx_insn.h"
#include "hv/vmx/vmx_defs.h"
#include "hv/x86.h"

/*
 * Invariants:
 *  - no crash (ASan/UBSan);
 *  - L1's memory is touched only inside L1's RAM (the fake accessor aborts
 *    on any other address the model actually hands it for a write: the
 *    model must ask through the accessor and accept "not RAM");
 *  - the VMXON pointer and the current VMCS pointer are always page-aligned
 *    RAM holding L1's revision at the time they were taken, or none;
 *  - VMfailValid happens only with a current VMCS and records its error;
 *  - a vmcs12 the entry checks accept gives a vmcs02 whose pin, primary,
 *    secondary and entry controls stay within the hardware's allowed-1
 *    settings, that uses our bitmaps and EPT, never L1's addresses for them;
 *  - the exit decision is a pure function of its inputs (asked twice, same answer).
 */
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "invariant failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

#define RAM_BASE 0x100000ULL
#define RAM_SIZE 0x8000ULL
#define REV      0x4876c001u

static uint8_t ram[RAM_SIZE];

static bool in_ram(uint64_t gpa, size_t len)
{
	return gpa >= RAM_BASE && len <= RAM_SIZE && gpa - RAM_BASE <= RAM_SIZE - len;
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

static bool read_byte(void *ctx, uint64_t gpa, uint8_t *val)
{
	return fake_read(ctx, gpa, val, 1);
}

struct input {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct input *in, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes && in->n; i++, in->n--)
		v |= (uint64_t)*in->p++ << (8 * i);
	return v;
}

/* Addresses the fuzzer picks: mostly page-aligned RAM, sometimes anything. */
static uint64_t pick_pa(struct input *in)
{
	uint8_t k = (uint8_t)take(in, 1);

	if (k < 200)
		return RAM_BASE + (uint64_t)(k % (RAM_SIZE / 4096)) * 4096;
	return take(in, 8);
}

static void check_vmx_state(const struct nested_vmx *n)
{
	uint32_t rev;

	if (!n->vmxon) {
		CHECK(n->current_vmptr == NESTED_NO_VMCS);
		return;
	}
	CHECK((n->vmxon_ptr & 0xfff) == 0 && in_ram(n->vmxon_ptr, 4096));
	if (n->current_vmptr != NESTED_NO_VMCS) {
		CHECK((n->current_vmptr & 0xfff) == 0 && in_ram(n->current_vmptr, 4096));
		CHECK(n->current_vmptr != n->vmxon_ptr);
		CHECK(n->vmcs12.revision_id == REV || fake_read(NULL, n->current_vmptr, &rev, 4));
	}
}

static void run_instructions(struct input *in, struct nested_vmx *n)
{
	while (in->n > 2) {
		struct nested_insn insn = { .op = (enum nested_insn_op)(take(in, 1) % 9), .long_mode = take(in, 1) & 1 };
		struct nested_insn_result r;
		bool had_vmcs = n->current_vmptr != NESTED_NO_VMCS;
		uint8_t poke = (uint8_t)take(in, 1);

		/* L1 writes its memory between instructions: revisions, garbage, a VMCS page. */
		if (poke & 1) {
			uint64_t pa = pick_pa(in);
			uint32_t rev = (poke & 2) ? REV : (uint32_t)take(in, 4);

			fake_write(NULL, pa, &rev, 4);
		}
		insn.pointer = pick_pa(in);
		insn.field = take(in, (poke & 4) ? 8 : 2);
		insn.value = take(in, 8);
		insn.mov_ss_blocking = (poke & 8) != 0;
		if (!n->vmxon && insn.op != NESTED_VMXON)
			continue; /* #UD: nested_insn_fault's, not the operation's */
		r = nested_insn_execute(n, &insn);
		if (r.outcome == VMX_FAIL_VALID) {
			CHECK(had_vmcs || n->current_vmptr != NESTED_NO_VMCS);
			CHECK(r.error && n->vmcs12.vm_instruction_error == r.error);
		}
		check_vmx_state(n);
	}
}

static void l0_write(void *ctx, uint32_t field, uint64_t val)
{
	vmcs12_write(ctx, field, val);
}

/* A random vmcs12 through the table; what passes must make a vmcs02 within the hardware's settings. */
static void run_entry(struct input *in)
{
	static const struct nested_vmx_caps caps = {
		.pin_allowed0 = 0x16, .pin_allowed1 = 0x7f, .proc_allowed0 = 0x04006172,
		.proc_allowed1 = 0xfff9fffe & ~(uint32_t)CPU_BASED_MONITOR_TRAP_FLAG,
		.proc2_allowed1 = SECONDARY_ENABLE_RDTSCP | SECONDARY_WBINVD_EXITING,
		.exit_allowed0 = 0x00036dfb, .exit_allowed1 = 0x007fefff, .entry_allowed0 = 0x000011fb,
		.entry_allowed1 = 0x0000d3ff, .cr0_fixed0 = 0x80000021, .cr0_fixed1 = 0xffffffff,
		.cr4_fixed0 = 0x2000, .cr4_fixed1 = 0xf72fff, .misc = 4u << 16, .maxphyaddr = 39,
	};
	const struct nested_entry_ctx ctx = { .caps = &caps, .l1_ia32e = true };
	static struct vmcs12 v12, v02;
	const struct nested_l2_ops ops = { .vmcs02_write = l0_write, .ctx = &v02 };
	const struct vmcs02_l0 l0 = {
		.proc = CPU_BASED_ACTIVATE_SECONDARY, .proc2 = SECONDARY_ENABLE_EPT,
		.exit_controls = VM_EXIT_HOST_ADDR_SPACE_SIZE, .entry_controls = VM_ENTRY_LOAD_IA32_EFER,
		.pin_allowed1 = 0x7f, .proc_allowed1 = 0xfff9fffe, .proc2_allowed1 = 0x2977fff,
		.entry_allowed1 = 0xffff, .io_bitmap_a = 0xa000, .io_bitmap_b = 0xb000, .msr_bitmap = 0xc000,
		.eptp = 0x1e05e, .cr0_mask = X86_CR0_NE, .cr4_mask = X86_CR4_VMXE,
	};
	struct l2_exit x;

	memset(&v12, 0, sizeof(v12));
	for (size_t i = 0; i < vmcs12_nr_fields && in->n; i++)
		if (take(in, 1) & 1)
			vmcs12_write_field(&v12, &vmcs12_fields[i], take(in, 8));
	if (nested_check_vmentry(&v12, &ctx) == NULL) {
		memset(&v02, 0, sizeof(v02));
		vmcs02_prepare(&v12, VMCS12_F_ALL & ~(uint32_t)VMCS12_F_EPT, &l0, &ops, VMCS02_COLD);
		CHECK((v02.pin_based_vm_exec_control & ~l0.pin_allowed1) == 0);
		CHECK((v02.cpu_based_vm_exec_control & ~l0.proc_allowed1) == 0);
		CHECK((v02.secondary_vm_exec_control & ~l0.proc2_allowed1) == 0);
		CHECK((v02.vm_entry_controls & ~l0.entry_allowed1) == 0);
		CHECK(v02.io_bitmap_a == l0.io_bitmap_a && v02.io_bitmap_b == l0.io_bitmap_b &&
		      v02.msr_bitmap == l0.msr_bitmap && v02.ept_pointer == l0.eptp);
		CHECK(v02.cpu_based_vm_exec_control & CPU_BASED_USE_IO_BITMAPS);
		CHECK(v02.vmcs_link_pointer == ~0ULL && v02.vm_entry_msr_load_count == 0);
	}
	x = (struct l2_exit){ .reason = (uint32_t)take(in, 1) % EXIT_REASON_MAX, .qualification = take(in, 8),
			      .intr_info = (uint32_t)take(in, 4), .intr_error_code = (uint32_t)take(in, 4),
			      .msr = (uint32_t)take(in, 4), .cr_value = take(in, 8) };
	CHECK(nested_l2_exit_owner(&v12, &x, read_byte, NULL) == nested_l2_exit_owner(&v12, &x, read_byte, NULL));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct nested_vmx n;
	struct input in = { data, size };

	memset(ram, 0, sizeof(ram));
	memset(&n, 0, sizeof(n));
	n.current_vmptr = NESTED_NO_VMCS;
	n.revision = REV;
	n.maxphyaddr = 39;
	n.mem = (struct nested_mem_ops){ fake_read, fake_write, NULL };
	if (size && (data[0] & 1)) {
		in.p++, in.n--;
		run_entry(&in);
	} else {
		run_instructions(&in, &n);
	}
	return 0;
}
