/* Host tests for queue-time routing: every exception vector x intercept setting x #PF error-code mask/match case. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/fuzz/nested_harness.h"

static struct fake_l2 f;

/* #PF mask/match cases (SDM 25.2); "equal" is (ec & mask) == match, spelled out by hand. */
static const struct pf_case {
	uint32_t mask, match, ec;
	bool equal;
} pf_cases[] = {
	{ 0x0, 0x0, 0x0, true },   /* mask 0, match 0: every #PF "matches" */
	{ 0x0, 0x0, 0x1f, true },
	{ 0x0, 0x1, 0x1, false },  /* mask 0, match != 0: nothing matches */
	{ 0x1, 0x1, 0x1, true },   /* present faults only */
	{ 0x1, 0x1, 0x6, false },
	{ 0x1, 0x0, 0x6, true },   /* not-present faults only */
	{ 0x6, 0x2, 0x3, true },   /* supervisor writes */
	{ 0x6, 0x2, 0x7, false },  /* user writes */
	{ 0xffffffff, 0x10, 0x10, true }, /* instruction fetch, exactly */
	{ 0xffffffff, 0x10, 0x11, false },
};

static void setup_l2(uint32_t bitmap, uint32_t mask, uint32_t match)
{
	fake_l2_init(&f);
	fake_l2_running(&f);
	f.l1_vmcs12.exception_bitmap = bitmap;
	f.l1_vmcs12.page_fault_error_code_mask = mask;
	f.l1_vmcs12.page_fault_error_code_match = match;
}

static uint32_t hw_info(uint8_t vector)
{
	return vector | INTR_TYPE_HW_EXCEPTION << 8 |
	       (nested_exception_has_error_code(vector) ? (uint32_t)INTR_INFO_DELIVER_CODE : 0) |
	       (uint32_t)INTR_INFO_VALID;
}

/* Queue one exception and check where it went: an exception VM-exit to L1 or an injection into L2. */
static void check_routed(uint8_t vector, uint32_t ec, bool want_exit)
{
	struct nested_exception ex = fake_exception(vector, ec, 0xdead000, vector == PF_VECTOR);
	struct nested_choice c;

	assert_int_equal(nested_queue_exception(&f.nv, &ex),
			 want_exit ? NESTED_QUEUED_VMEXIT : NESTED_QUEUED_L2);
	c = nested_prepare_entry(&f.nv);
	if (want_exit) {
		assert_int_equal(c.action, NESTED_ACT_VMEXIT);
		assert_int_equal(f.l1_vmcs12.vm_exit_reason, EXIT_REASON_EXCEPTION_NMI);
		assert_int_equal(f.l1_vmcs12.vm_exit_intr_info, hw_info(vector));
		assert_int_equal(f.l1_vmcs12.vm_exit_intr_error_code,
				 nested_exception_has_error_code(vector) ? ec : 0);
		assert_int_equal(f.l1_vmcs12.exit_qualification, vector == PF_VECTOR ? 0xdead000 : 0);
		assert_int_equal(f.cr2, 0); /* SDM 27.1: a #PF VM-exit does not write CR2 */
		assert_false(f.nv.ev.guest_mode);
	} else {
		assert_int_equal(c.action, NESTED_ACT_INJECT);
		assert_int_equal(f.vmcs02.vm_entry_intr_info_field, hw_info(vector));
		assert_int_equal(f.cr2, vector == PF_VECTOR ? 0xdead000 : 0);
		assert_true(f.nv.ev.guest_mode);
	}
}

static void test_every_vector_every_intercept(void **state)
{
	(void)state;
	for (unsigned vector = 0; vector < 32; vector++) {
		if (vector == NMI_VECTOR || vector == PF_VECTOR)
			continue;
		for (int bit = 0; bit < 2; bit++) {
			/* Every other bit set the other way round: only bit `vector` may matter. */
			uint32_t bitmap = bit ? BIT(vector) : ~(uint32_t)BIT(vector);

			setup_l2(bitmap, 0, 0);
			check_routed((uint8_t)vector, 0x18, bit);
		}
	}
}

static void test_page_fault_mask_match(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(pf_cases); i++) {
		const struct pf_case *pc = &pf_cases[i];

		for (int bit = 0; bit < 2; bit++) {
			uint32_t bitmap = bit ? BIT(PF_VECTOR) : ~(uint32_t)BIT(PF_VECTOR);

			setup_l2(bitmap, pc->mask, pc->match);
			/* Bit 14 set: exit iff equal; clear: exit iff not equal (SDM 25.2). */
			check_routed(PF_VECTOR, pc->ec, bit ? pc->equal : !pc->equal);
		}
	}
}

/* NMIs and vectors >= 32 never go through the exception bitmap. */
static void test_not_exceptions(void **state)
{
	(void)state;
	setup_l2(0xffffffff, 0, 0);
	assert_false(nested_l1_wants_exception(&f.l1_vmcs12, NMI_VECTOR, 0));
	assert_false(nested_l1_wants_exception(&f.l1_vmcs12, 32, 0));
	assert_false(nested_l1_wants_exception(&f.l1_vmcs12, 255, 0));
	assert_true(nested_l1_wants_exception(&f.l1_vmcs12, 31, 0));
}

/* INT3 (software exception) and ICEBP (privileged software exception) follow bits 3 and 1, with their length. */
static void test_software_exceptions(void **state)
{
	static const struct { uint8_t type, vector; } cases[] = {
		{ INTR_TYPE_SW_EXCEPTION, BP_VECTOR },
		{ INTR_TYPE_SW_EXCEPTION, OF_VECTOR },
		{ INTR_TYPE_PRIV_SW_EXC, DB_VECTOR },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		for (int bit = 0; bit < 2; bit++) {
			struct nested_exception ex = {
				.ev = { .type = cases[i].type, .vector = cases[i].vector, .insn_len = 1 },
			};
			uint32_t info = cases[i].vector | (uint32_t)cases[i].type << 8 | (uint32_t)INTR_INFO_VALID;

			setup_l2(bit ? BIT(cases[i].vector) : 0, 0, 0);
			nested_queue_exception(&f.nv, &ex);
			nested_prepare_entry(&f.nv);
			if (bit) {
				assert_int_equal(f.l1_vmcs12.vm_exit_intr_info, info);
				assert_int_equal(f.l1_vmcs12.vm_exit_instruction_len, 1);
			} else {
				assert_int_equal(f.vmcs02.vm_entry_intr_info_field, info);
				assert_int_equal(f.vmcs02.vm_entry_instruction_len, 1);
			}
		}
	}
}

/* Once an exception VM-exit is decided, nothing else is queued over it (no event lost silently). */
static void test_busy_after_decided_exit(void **state)
{
	struct nested_exception gp = fake_exception(GP_VECTOR, 0, 0, false);

	(void)state;
	setup_l2(BIT(GP_VECTOR), 0, 0);
	assert_int_equal(nested_queue_exception(&f.nv, &gp), NESTED_QUEUED_VMEXIT);
	assert_int_equal(nested_queue_exception(&f.nv, &gp), NESTED_QUEUE_BUSY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_vector_every_intercept),
		cmocka_unit_test(test_page_fault_mask_match),
		cmocka_unit_test(test_not_exceptions),
		cmocka_unit_test(test_software_exceptions),
		cmocka_unit_test(test_busy_after_decided_exit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
