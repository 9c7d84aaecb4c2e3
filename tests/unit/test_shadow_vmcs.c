/* Host tests for VMCS shadowing (hv/nested/shadow_vmcs.c): bitmaps derived from the field table, nothing unsafe shadowed, the exit copy list complete. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "hv/nested/shadow_vmcs.h"
#include "hv/vmx/vmx_defs.h"
#include "tests/fuzz/nested_harness.h"

static uint8_t rd[SHADOW_BITMAP_SIZE], wr[SHADOW_BITMAP_SIZE];
static struct shadow_plan plan;

/* A feature set for these tests: tigerlake's offer before EPT, VPID and PML were added (no APIC virtualization, VMFUNC, shadowing). */
#define OFFER_TODAY (VMCS12_F_TPR_SHADOW | VMCS12_F_SECONDARY | VMCS12_F_PAT | VMCS12_F_EFER | \
		     VMCS12_F_PREEMPTION_TIMER | VMCS12_F_PLE | VMCS12_F_XSAVES)

static const uint32_t feature_sets[] = { 0, OFFER_TODAY, VMCS12_F_ALL, VMCS12_F_ALL & ~VMCS12_F_EPT };

/* A CPU whose shadow VMCS lacks a few fields, one of them only in its high half. */
static bool fake_hw_has(void *ctx, uint32_t enc)
{
	(void)ctx;
	return enc != GUEST_SMBASE && enc != (EXECUTIVE_VMCS_POINTER | 1u) && enc != GUEST_RSP;
}

static bool bit(const uint8_t *bm, uint32_t n)
{
	return (bm[n >> 3] >> (n & 7)) & 1;
}

static const struct shadow_hw all_hw = { NULL, NULL, true };

static bool hw_holds(const struct vmcs12_field *f, const struct shadow_hw *hw)
{
	if (f->read_only && !hw->vmwrite_any_field)
		return false;
	return !hw->has || (hw->has(NULL, f->encoding) && (f->width != VMCS_WIDTH_64 || hw->has(NULL, f->encoding | 1u)));
}

/* Every one of the 32768 bits is what the table says for its encoding (full or high), nothing else. */
static void test_bitmaps_exactly_from_table(void **state)
{
	static const struct shadow_hw hws[] = { { NULL, NULL, true }, { fake_hw_has, NULL, true },
						{ NULL, NULL, false }, { fake_hw_has, NULL, false } };

	(void)state;
	for (size_t s = 0; s < sizeof(feature_sets) / sizeof(feature_sets[0]); s++) {
		for (size_t h = 0; h < sizeof(hws) / sizeof(hws[0]); h++) {
			shadow_plan_make(feature_sets[s], &hws[h], &plan, rd, wr);
			for (uint32_t n = 0; n < 0x8000; n++) {
				const struct vmcs12_field *f = vmcs12_field_lookup(n);
				enum shadow_access a = f ? shadow_field_access(f, feature_sets[s]) : SHADOW_NONE;
				bool hw = f && hw_holds(f, &hws[h]);

				assert_int_equal(bit(rd, n), !(a >= SHADOW_READ && hw));
				assert_int_equal(bit(wr, n), !(a == SHADOW_READ_WRITE && hw));
			}
		}
	}
}

/* The copy lists are the shadowed fields in table order; what L1 can write without exit is copied back. */
static void test_copy_lists(void **state)
{
	static const struct shadow_hw hw = { fake_hw_has, NULL, true };
	size_t m = 0, w = 0, x = 0;

	(void)state;
	shadow_plan_make(OFFER_TODAY, &hw, &plan, rd, wr);

	for (size_t i = 0; i < vmcs12_nr_fields; i++) {
		const struct vmcs12_field *f = &vmcs12_fields[i];
		bool mirrored = !bit(rd, f->encoding), writable = !bit(wr, f->encoding);

		assert_false(writable && !mirrored);
		if (mirrored)
			assert_int_equal(plan.mirrored[m++], i);
		if (writable)
			assert_int_equal(plan.read_write[w++], i);
		if (mirrored && shadow_exit_writes(f))
			assert_int_equal(plan.exit_written[x++], i);
	}
	assert_int_equal(plan.nr_mirrored, m);
	assert_int_equal(plan.nr_read_write, w);
	assert_int_equal(plan.nr_exit_written, x);
	assert_true(w > 0 && w < m); /* today: the read-only fields are mirrored but not writable */
}

/*
 * The fields whose VMWRITE needs a decision at write time (SDM 30.3: error 13,
 * or MISC[29]) are the exit-information fields of SDM Appendix B.2.2, B.3.2
 * and B.4.2, listed here independently of the encodings' type bits. They are
 * read-shadowed, never write-shadowed. The other read-only-shadowed fields
 * are exactly those outside the round trip's list and L2's rare state.
 */
static void test_write_exits_are_exactly_exit_information(void **state)
{
	static const uint32_t must_exit[] = {
		GUEST_PHYSICAL_ADDRESS, VM_INSTRUCTION_ERROR, VM_EXIT_REASON, VM_EXIT_INTR_INFO,
		VM_EXIT_INTR_ERROR_CODE, IDT_VECTORING_INFO_FIELD, IDT_VECTORING_ERROR_CODE,
		VM_EXIT_INSTRUCTION_LEN, VMX_INSTRUCTION_INFO, EXIT_QUALIFICATION, EXIT_IO_RCX,
		EXIT_IO_RSI, EXIT_IO_RDI, EXIT_IO_RIP, GUEST_LINEAR_ADDRESS,
	};
	size_t read_only = 0;

	(void)state;
	shadow_plan_make(VMCS12_F_ALL, &all_hw, &plan, rd, wr);
	for (size_t i = 0; i < sizeof(must_exit) / sizeof(must_exit[0]); i++) {
		const struct vmcs12_field *f = vmcs12_field_lookup(must_exit[i]);

		assert_non_null(f);
		assert_int_equal(shadow_field_access(f, VMCS12_F_ALL), SHADOW_READ);
		assert_true(bit(wr, must_exit[i]));
		assert_false(bit(rd, must_exit[i]));
		if (f->width == VMCS_WIDTH_64) {
			assert_true(bit(wr, must_exit[i] | 1u));
			assert_false(bit(rd, must_exit[i] | 1u));
		}
	}
	for (size_t i = 0; i < vmcs12_nr_fields; i++)
		read_only += vmcs12_fields[i].read_only;
	assert_int_equal(read_only, sizeof(must_exit) / sizeof(must_exit[0]));
	for (size_t i = 0; i < vmcs12_nr_fields; i++) {
		const struct vmcs12_field *f = &vmcs12_fields[i];
		enum shadow_access a = shadow_field_access(f, VMCS12_F_ALL);

		if (!f->read_only)
			assert_int_equal(a, f->rare ? SHADOW_NONE : f->round_trip ? SHADOW_READ_WRITE : SHADOW_READ);
	}
}

/*
 * The two lists of vmcs12_fields.h: every entry names a field of the table
 * (a typo would silently drop it), the round trip's are writable fields,
 * the rare ones guest state an exit saves; no field is in both, and a rare
 * field is shadowed in neither bitmap (its access exits and copies it).
 */
static void test_round_trip_and_rare_lists(void **state)
{
#define COUNT_LISTED(unused, enc) + 1
	static const size_t listed_round_trip = 0 VMCS12_ROUND_TRIP_LIST(COUNT_LISTED, 0);
	static const size_t listed_rare = 0 VMCS12_RARE_LIST(COUNT_LISTED, 0);
#undef COUNT_LISTED
	size_t round_trip = 0, rare = 0;

	(void)state;
	shadow_plan_make(VMCS12_F_ALL, &all_hw, &plan, rd, wr);
	for (size_t i = 0; i < vmcs12_nr_fields; i++) {
		const struct vmcs12_field *f = &vmcs12_fields[i];

		round_trip += f->round_trip;
		rare += f->rare;
		assert_false(f->round_trip && f->rare);
		if (f->round_trip)
			assert_false(f->read_only);
		if (!f->rare)
			continue;
		assert_int_equal(vmcs_field_type(f->encoding), VMCS_TYPE_GUEST);
		assert_true(shadow_exit_writes(f));
		assert_true(bit(rd, f->encoding) && bit(wr, f->encoding));
	}
	assert_int_equal(round_trip, listed_round_trip);
	assert_int_equal(rare, listed_rare);
}

/* A field whose feature L1 is not offered is in neither bitmap (both encodings), whatever else is offered. */
static void test_nonexistent_fields_never_shadowed(void **state)
{
	(void)state;
	for (unsigned b = 0; b < 20; b++) {
		uint32_t features = VMCS12_F_ALL & ~(1u << b);

		shadow_plan_make(features, &all_hw, &plan, rd, wr);
		for (size_t i = 0; i < vmcs12_nr_fields; i++) {
			const struct vmcs12_field *f = &vmcs12_fields[i];

			if (!(f->feature & (1u << b)))
				continue;
			assert_true(bit(rd, f->encoding) && bit(wr, f->encoding));
			assert_true(bit(rd, f->encoding | 1u) && bit(wr, f->encoding | 1u));
		}
	}
	shadow_plan_make(0, &all_hw, &plan, rd, wr);
	for (size_t i = 0; i < vmcs12_nr_fields; i++)
		assert_int_equal(!bit(rd, vmcs12_fields[i].encoding),
				 vmcs12_fields[i].feature == 0 && !vmcs12_fields[i].rare);
}

/* SDM 25.1.3: with bits 63:15 (31:15 outside 64-bit mode) of the field operand set, the access always exits. */
static void test_high_encoding_bits_always_exit(void **state)
{
	(void)state;
	shadow_plan_make(VMCS12_F_ALL, &all_hw, &plan, rd, wr);
	for (size_t i = 0; i < vmcs12_nr_fields; i++) {
		uint32_t enc = vmcs12_fields[i].encoding;

		if (vmcs12_fields[i].rare)
			continue; /* never shadowed */
		assert_false(shadow_bitmap_exits(rd, enc, true));
		assert_false(shadow_bitmap_exits(rd, enc, false));
		for (unsigned k = 15; k < 64; k++) {
			uint64_t field = enc | (1ULL << k);

			assert_true(shadow_bitmap_exits(rd, field, true));
			assert_true(shadow_bitmap_exits(wr, field, true));
			/* Outside 64-bit mode the operand is 32 bits: bits 63:32 do not exist. */
			assert_int_equal(shadow_bitmap_exits(rd, field, false), k < 32);
		}
	}
	/* Encodings that name no field, and the reserved bit 12, exit. */
	assert_true(shadow_bitmap_exits(rd, 0x7ffe, false));
	assert_true(shadow_bitmap_exits(rd, GUEST_RIP | 0x1000u, false));
	assert_true(shadow_bitmap_exits(wr, GUEST_RIP | 1u, false)); /* "high" of a natural-width field */
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void randomize(struct vmcs12 *v)
{
	for (size_t i = 0; i < vmcs12_nr_fields; i++)
		vmcs12_write_field(v, &vmcs12_fields[i], rnd() >> (rnd() & 63));
}

/*
 * The exit copy list is complete: whatever the event core's synthesized exit
 * (nested_vmexit_to_l1) writes into vmcs12 is in shadow_exit_writes, over
 * random vmcs12/vmcs02 contents, exit controls, injections cut short and
 * queued exceptions. The wiring's own exit writes (nested_run.c: exit reason,
 * qualification and entry interruption information of a failed entry; VMX
 * instruction information and guest linear address; the VM-instruction
 * error) are exit information or named in the rule, checked at the end.
 */
static void test_exit_writes_cover_the_synthesized_exit(void **state)
{
	static struct fake_l2 f;
	static struct vmcs12 before;

	(void)state;
	for (int iter = 0; iter < 3000; iter++) {
		struct nested_exit x = { (uint32_t)rnd() % 70, rnd(), (uint32_t)rnd(), (uint32_t)rnd(), (uint32_t)rnd() & 15 };

		fake_l2_init(&f);
		randomize(&f.l1_vmcs12);
		randomize(&f.vmcs02);
		if (rnd() & 1)
			f.l1_vmcs12.vm_entry_intr_info_field = INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION << 8 | 14;
		if ((rnd() & 1) && nested_enter_l2(&f.nv) == 0)
			fake_l2_run(&f, rnd() & 1);
		else
			fake_l2_running(&f);
		if (rnd() & 1) {
			struct nested_exception db = fake_db(DR6_BS);

			nested_queue_exception(&f.nv, &db);
		}
		before = f.l1_vmcs12;
		nested_vmexit_to_l1(&f.nv, &x);
		for (size_t i = 0; i < vmcs12_nr_fields; i++) {
			const struct vmcs12_field *fld = &vmcs12_fields[i];

			if (vmcs12_read_field(&before, fld) != vmcs12_read_field(&f.l1_vmcs12, fld) &&
			    !shadow_exit_writes(fld))
				fail_msg("the exit wrote %s, which is not pushed to the shadow after an exit", fld->name);
		}
	}
	static const uint32_t wiring_writes[] = { VM_EXIT_REASON, EXIT_QUALIFICATION, VM_ENTRY_INTR_INFO_FIELD,
						  VMX_INSTRUCTION_INFO, GUEST_LINEAR_ADDRESS, VM_INSTRUCTION_ERROR };
	for (size_t i = 0; i < sizeof(wiring_writes) / sizeof(wiring_writes[0]); i++)
		assert_true(shadow_exit_writes(vmcs12_field_lookup(wiring_writes[i])));
	assert_false(shadow_exit_writes(vmcs12_field_lookup(VMCS_LINK_POINTER)));
	assert_false(shadow_exit_writes(vmcs12_field_lookup(HOST_RIP)));
	assert_false(shadow_exit_writes(vmcs12_field_lookup(CPU_BASED_VM_EXEC_CONTROL)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bitmaps_exactly_from_table),
		cmocka_unit_test(test_copy_lists),
		cmocka_unit_test(test_write_exits_are_exactly_exit_information),
		cmocka_unit_test(test_round_trip_and_rare_lists),
		cmocka_unit_test(test_nonexistent_fields_never_shadowed),
		cmocka_unit_test(test_high_encoding_bits_always_exit),
		cmocka_unit_test(test_exit_writes_cover_the_synthesized_exit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
