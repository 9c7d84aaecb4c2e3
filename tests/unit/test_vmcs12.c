/* Host tests for vmcs12: the field table, O(1) lookup, width truncation and VMREAD/VMWRITE error reporting. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "hv/nested/vmcs12.h"
#include "hv/vmx/vmx_defs.h"

static struct vmcs12 v;

static uint64_t width_mask(uint8_t width)
{
	return width == VMCS_WIDTH_16 ? 0xffffULL : width == VMCS_WIDTH_32 ? 0xffffffffULL : ~0ULL;
}

/* Every field of vmcs_fields.h is in the table, once, with its encoding's width and type. */
static void test_table_covers_every_encoding(void **state)
{
	(void)state;
	assert_int_equal(vmcs12_nr_fields, 155);
	for (size_t i = 0; i < vmcs12_nr_fields; i++) {
		const struct vmcs12_field *f = &vmcs12_fields[i];

		assert_ptr_equal(vmcs12_field_lookup(f->encoding), f);
		assert_int_equal(f->width, vmcs_field_width(f->encoding));
		assert_int_equal(f->read_only, vmcs_field_type(f->encoding) == VMCS_TYPE_READ_ONLY);
		for (size_t j = i + 1; j < vmcs12_nr_fields; j++)
			assert_int_not_equal(f->encoding, vmcs12_fields[j].encoding);
	}
}

/* Fields do not overlap in struct vmcs12 and stay after the revision id / abort indicator. */
static void test_offsets_disjoint(void **state)
{
	static uint8_t owner[sizeof(struct vmcs12)];

	(void)state;
	memset(owner, 0, sizeof(owner));
	for (size_t i = 0; i < vmcs12_nr_fields; i++) {
		const struct vmcs12_field *f = &vmcs12_fields[i];
		size_t size = f->width == VMCS_WIDTH_16 ? 2 : f->width == VMCS_WIDTH_32 ? 4 : 8;

		assert_true(f->offset >= 8);
		assert_true(f->offset + size <= sizeof(struct vmcs12));
		for (size_t b = 0; b < size; b++) {
			assert_int_equal(owner[f->offset + b], 0);
			owner[f->offset + b] = 1;
		}
	}
}

/* Every encoding round-trips, truncated to its width, without touching any other field. */
static void test_round_trip_with_truncation(void **state)
{
	(void)state;
	for (size_t i = 0; i < vmcs12_nr_fields; i++) {
		const struct vmcs12_field *f = &vmcs12_fields[i];
		uint64_t pattern = 0xa5a5a5a5a5a5a5a5ULL ^ (i * 0x0101010101010101ULL);
		struct vmcs12 before;

		memset(&v, 0x5a, sizeof(v));
		vmcs12_write(&v, f->encoding, pattern);
		assert_int_equal(vmcs12_read(&v, f->encoding), pattern & width_mask(f->width));
		assert_int_equal(vmcs12_read_field(&v, f), pattern & width_mask(f->width));
		/* Writing back the old bytes restores the whole struct: nothing else was touched. */
		memset(&before, 0x5a, sizeof(before));
		vmcs12_write_field(&v, f, vmcs12_read_field(&before, f));
		assert_memory_equal(&v, &before, sizeof(v));
	}
}

/* Typed members and the table agree (the table's offsets are the members'). */
static void test_members_match_table(void **state)
{
	(void)state;
	memset(&v, 0, sizeof(v));
	vmcs12_write(&v, GUEST_RIP, 0x1234567890ULL);
	vmcs12_write(&v, GUEST_CS_SELECTOR, 0x12345);
	vmcs12_write(&v, EXCEPTION_BITMAP, 0x1ffffffffULL);
	assert_int_equal(v.guest_rip, 0x1234567890ULL);
	assert_int_equal(v.guest_cs_selector, 0x2345);
	assert_int_equal(v.exception_bitmap, 0xffffffffu);
	v.guest_pending_dbg_exceptions = 0x4000;
	assert_int_equal(vmcs12_read(&v, GUEST_PENDING_DBG_EXCEPTIONS), 0x4000);
}

/* 64-bit fields have a high access type (encoding | 1): bits 63:32 only (SDM 24.11.2). */
static void test_high_access(void **state)
{
	(void)state;
	for (size_t i = 0; i < vmcs12_nr_fields; i++) {
		const struct vmcs12_field *f = &vmcs12_fields[i];
		uint32_t high = f->encoding | 1u;

		memset(&v, 0, sizeof(v));
		if (f->width != VMCS_WIDTH_64) {
			assert_null(vmcs12_field_lookup(high));
			continue;
		}
		assert_ptr_equal(vmcs12_field_lookup(high), f);
		vmcs12_write(&v, f->encoding, 0x1111111122222222ULL);
		assert_int_equal(vmcs12_read(&v, high), 0x11111111ULL);
		vmcs12_write(&v, high, 0xffffffff33333333ULL);
		assert_int_equal(vmcs12_read(&v, f->encoding), 0x3333333322222222ULL);
	}
}

/* Reserved bits, out-of-range indexes and holes are unknown: VMREAD/VMWRITE fail with error 12. */
static void test_unknown_encodings(void **state)
{
	static const uint32_t bad[] = {
		0x0001, 0x0006, 0x0814, 0x0c0e, 0x2030, 0x2034, 0x2402, 0x2814, 0x2c06,
		0x4024, 0x4410, 0x482c, 0x4830, 0x4c02, 0x6010, 0x640c, 0x6828, 0x6c18,
		0x1000 | GUEST_RIP, 0x8000 | GUEST_RIP, 0x10000u | VM_EXIT_REASON, 0xffffffffu,
		0x0040, 0x6880 /* index 64 */, 0x4403 /* high of a 32-bit field */,
		0x6401 /* high of a natural-width field */, 0x0801 /* high of a 16-bit field */,
	};
	uint64_t val = 77;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_null(vmcs12_field_lookup(bad[i]));
		assert_int_equal(vmcs12_vmread(&v, bad[i], VMCS12_F_ALL, &val),
				 VMXERR_UNSUPPORTED_VMCS_COMPONENT);
		assert_int_equal(val, 77);
		assert_int_equal(vmcs12_vmwrite(&v, bad[i], 1, VMCS12_F_ALL, true),
				 VMXERR_UNSUPPORTED_VMCS_COMPONENT);
		assert_int_equal(vmcs12_read(&v, bad[i]), 0);
	}
}

/* Every read-only field: VMWRITE fails with 13 unless "VMWRITE to any field"; VMREAD always works. */
static void test_read_only_fields(void **state)
{
	unsigned n = 0;

	(void)state;
	for (size_t i = 0; i < vmcs12_nr_fields; i++) {
		const struct vmcs12_field *f = &vmcs12_fields[i];
		uint64_t val = 0;
		int want = f->read_only ? VMXERR_VMWRITE_READ_ONLY_COMPONENT : 0;

		memset(&v, 0, sizeof(v));
		assert_int_equal(vmcs12_vmwrite(&v, f->encoding, 5, VMCS12_F_ALL, false), want);
		assert_int_equal(vmcs12_read(&v, f->encoding), f->read_only ? 0 : 5);
		assert_int_equal(vmcs12_vmwrite(&v, f->encoding, 6, VMCS12_F_ALL, true), 0);
		assert_int_equal(vmcs12_vmread(&v, f->encoding, VMCS12_F_ALL, &val), 0);
		assert_int_equal(val, 6);
		n += f->read_only;
	}
	assert_int_equal(n, 15); /* B.2.2 (1), B.3.2 (8), B.4.2 (6) */
}

/* A field whose feature is not offered to L1 does not exist for it (error 12). */
static void test_feature_gating(void **state)
{
	uint64_t val;

	(void)state;
	for (size_t i = 0; i < vmcs12_nr_fields; i++) {
		const struct vmcs12_field *f = &vmcs12_fields[i];
		int want = f->feature ? VMXERR_UNSUPPORTED_VMCS_COMPONENT : 0;

		assert_int_equal(vmcs12_vmread(&v, f->encoding, 0, &val), want);
		assert_int_equal(vmcs12_vmwrite(&v, f->encoding, 0, VMCS12_F_ALL & ~f->feature, true),
				 want);
		assert_true(vmcs12_field_exists(f, f->feature));
	}
	assert_false(vmcs12_field_exists(vmcs12_field_lookup(EPT_POINTER), VMCS12_F_VPID));
	assert_true(vmcs12_field_exists(vmcs12_field_lookup(EPT_POINTER), VMCS12_F_EPT));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_covers_every_encoding),
		cmocka_unit_test(test_offsets_disjoint),
		cmocka_unit_test(test_round_trip_with_truncation),
		cmocka_unit_test(test_members_match_table),
		cmocka_unit_test(test_high_access),
		cmocka_unit_test(test_unknown_encodings),
		cmocka_unit_test(test_read_only_fields),
		cmocka_unit_test(test_feature_gating),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
