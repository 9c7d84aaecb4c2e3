/* Host tests for the DMAR parser: a QEMU-like and a server-like table, then every kind of broken table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hv/iommu/dmar.h"

static uint8_t tab[4096];
static size_t tab_len;
static size_t cur; /* offset of the structure scopes are appended to */

static void put16(size_t at, uint16_t v) { memcpy(tab + at, &v, 2); }
static void put32(size_t at, uint32_t v) { memcpy(tab + at, &v, 4); }
static void put64(size_t at, uint64_t v) { memcpy(tab + at, &v, 8); }

static void begin(uint8_t haw_bits, uint8_t flags)
{
	memset(tab, 0, sizeof(tab));
	memcpy(tab, "DMAR", 4);
	tab[8] = 1;
	memcpy(tab + 10, "BOCHS ", 6);
	tab[36] = (uint8_t)(haw_bits - 1);
	tab[37] = flags;
	tab_len = 48;
}

static size_t add_struct(uint16_t type, uint16_t fixed_len)
{
	cur = tab_len;
	put16(cur, type);
	put16(cur + 2, fixed_len);
	tab_len += fixed_len;
	return cur;
}

static void add_drhd(uint8_t flags, uint8_t size, uint16_t seg, uint64_t base)
{
	size_t s = add_struct(0, 16);

	tab[s + 4] = flags;
	tab[s + 5] = size;
	put16(s + 6, seg);
	put64(s + 8, base);
}

static void add_rmrr(uint16_t seg, uint64_t base, uint64_t limit)
{
	size_t s = add_struct(1, 24);

	put16(s + 6, seg);
	put64(s + 8, base);
	put64(s + 16, limit);
}

/* A scope with `hops` (device, function) pairs, all dev.fn; appended to the current structure. */
static void add_scope_path(uint8_t type, uint8_t id, uint8_t bus, int hops, uint8_t dev, uint8_t fn)
{
	uint8_t len = (uint8_t)(6 + 2 * hops);
	uint16_t slen;

	tab[tab_len] = type;
	tab[tab_len + 1] = len;
	tab[tab_len + 4] = id;
	tab[tab_len + 5] = bus;
	for (int i = 0; i < hops; i++) {
		tab[tab_len + 6 + 2 * i] = dev;
		tab[tab_len + 7 + 2 * i] = fn;
	}
	tab_len += len;
	memcpy(&slen, tab + cur + 2, 2);
	put16(cur + 2, (uint16_t)(slen + len));
}

static void add_scope(uint8_t type, uint8_t id, uint8_t bus, uint8_t dev, uint8_t fn)
{
	add_scope_path(type, id, bus, 1, dev, fn);
}

static void finish(void)
{
	uint8_t sum = 0;

	put32(4, (uint32_t)tab_len);
	tab[9] = 0;
	for (size_t i = 0; i < tab_len; i++)
		sum += tab[i];
	tab[9] = (uint8_t)-sum;
}

static enum dmar_error parse(struct dmar_info *info)
{
	return dmar_parse(tab, tab_len, info);
}

static struct dmar_info info;

/* What QEMU's q35 with intel-iommu,intremap=on builds: one include-all unit with the I/O APIC in scope. */
static void qemu_like(void)
{
	begin(39, 1);
	add_drhd(1, 0, 0, 0xfed90000);
	add_scope(3, 0, 0xff, 0x1f, 0x7);
	finish();
}

static void test_qemu_table(void **state)
{
	(void)state;
	qemu_like();
	assert_int_equal(parse(&info), DMAR_OK);
	assert_int_equal(info.haw, 39);
	assert_int_equal(info.flags, 1);
	assert_int_equal(info.unit_count, 1);
	assert_true(info.unit[0].include_all);
	assert_int_equal(info.unit[0].base, 0xfed90000);
	assert_int_equal(info.unit[0].size, 4096);
	assert_int_equal(info.unit[0].scope_count, 1);
	assert_int_equal(info.scope[0].type, DMAR_SCOPE_IOAPIC);
	assert_int_equal(info.scope[0].start_bus, 0xff);
	assert_int_equal(info.scope[0].dev[0], 0x1f);
	assert_int_equal(info.scope[0].fn[0], 7);
	assert_int_equal(info.rmrr_count, 0);
}

/* A server-like table: a graphics unit, an include-all unit, RMRRs, and structures the parser skips. */
static void test_server_table(void **state)
{
	(void)state;
	begin(46, 0);
	add_drhd(0, 1, 0, 0xfed90000);
	add_scope(1, 0, 0, 2, 0);
	add_drhd(1, 0, 0, 0xfed91000);
	add_scope(3, 8, 0xf0, 0x1f, 0);
	add_scope(4, 0, 0, 0x1f, 0);
	add_rmrr(0, 0x7c000000, 0x7fffffff);
	add_scope(1, 0, 0, 2, 0);
	add_scope_path(2, 0, 0, 2, 0x1c, 4); /* a bridge two hops deep */
	add_struct(2, 8);          /* ATSR without scopes */
	add_struct(3, 20);         /* RHSA */
	add_struct(0x77, 12);      /* a type this code does not know */
	finish();
	assert_int_equal(parse(&info), DMAR_OK);
	assert_int_equal(info.unit_count, 2);
	assert_int_equal(info.unit[0].size, 8192);
	assert_false(info.unit[0].include_all);
	assert_int_equal(info.unit[0].scope_count, 1);
	assert_int_equal(info.unit[1].first_scope, 1);
	assert_int_equal(info.unit[1].scope_count, 2);
	assert_int_equal(info.scope[2].type, DMAR_SCOPE_HPET);
	assert_int_equal(info.rmrr_count, 1);
	assert_int_equal(info.rmrr[0].base, 0x7c000000);
	assert_int_equal(info.rmrr[0].end, 0x80000000);
	assert_int_equal(info.rmrr[0].scope_count, 2);
	assert_int_equal(info.scope[4].path_len, 2);
	assert_int_equal(info.skipped, 3);
}

static void test_bad_checksum(void **state)
{
	(void)state;
	qemu_like();
	tab[20] ^= 1;
	assert_int_equal(parse(&info), DMAR_ERR_CHECKSUM);
}

static void test_bad_signature(void **state)
{
	(void)state;
	qemu_like();
	memcpy(tab, "DMAX", 4);
	finish();
	assert_int_equal(parse(&info), DMAR_ERR_SIGNATURE);
}

static void test_bad_lengths(void **state)
{
	(void)state;
	qemu_like();
	assert_int_equal(dmar_parse(tab, 47, &info), DMAR_ERR_LENGTH);           /* fewer bytes than a header */
	assert_int_equal(dmar_parse(tab, tab_len - 1, &info), DMAR_ERR_LENGTH);  /* header says more than there is */
	put32(4, 40);
	assert_int_equal(dmar_parse(tab, tab_len, &info), DMAR_ERR_LENGTH);     /* shorter than the header */
	put32(4, 0x7fffffff);
	assert_int_equal(dmar_parse(tab, 0xffffffffu, &info), DMAR_ERR_LENGTH); /* absurdly large */
}

static void test_bad_haw(void **state)
{
	(void)state;
	begin(31, 0);
	add_drhd(1, 0, 0, 0xfed90000);
	finish();
	assert_int_equal(parse(&info), DMAR_ERR_HAW);
	tab[36] = 64; /* 65 bits */
	finish();
	assert_int_equal(parse(&info), DMAR_ERR_HAW);
}

static void test_struct_overruns(void **state)
{
	(void)state;
	qemu_like();
	put16(48 + 2, 200); /* the DRHD claims more than the table holds */
	finish();
	assert_int_equal(parse(&info), DMAR_ERR_STRUCT_LENGTH);
	assert_int_equal(info.err_offset, 48);

	qemu_like();
	put16(48 + 2, 2); /* shorter than a structure header: would loop forever if accepted */
	finish();
	assert_int_equal(parse(&info), DMAR_ERR_STRUCT_LENGTH);

	begin(39, 0);
	add_struct(0, 12); /* a DRHD shorter than its fixed part */
	finish();
	assert_int_equal(parse(&info), DMAR_ERR_STRUCT_LENGTH);

	begin(39, 0);
	add_drhd(1, 0, 0, 0xfed90000);
	add_struct(1, 20); /* an RMRR shorter than its fixed part */
	finish();
	assert_int_equal(parse(&info), DMAR_ERR_STRUCT_LENGTH);

	qemu_like();
	tab_len += 3; /* three stray bytes after the last structure */
	finish();
	assert_int_equal(parse(&info), DMAR_ERR_STRUCT_LENGTH);
}

static void test_scope_overruns(void **state)
{
	(void)state;
	qemu_like();
	tab[48 + 16 + 1] = 10; /* the scope claims 10 bytes, its DRHD holds 8 */
	finish();
	assert_int_equal(parse(&info), DMAR_ERR_SCOPE_LENGTH);

	qemu_like();
	tab[48 + 16 + 1] = 6; /* no path at all */
	finish();
	assert_int_equal(parse(&info), DMAR_ERR_SCOPE_LENGTH);

	qemu_like();
	tab[48 + 16 + 1] = 0; /* would never advance */
	finish();
	assert_int_equal(parse(&info), DMAR_ERR_SCOPE_LENGTH);

	begin(39, 0);
	add_drhd(1, 0, 0, 0xfed90000);
	add_scope(1, 0, 0, 2, 0);
	tab[48 + 16 + 1] = 9;       /* odd: half a path entry */
	put16(48 + 2, 16 + 9);
	tab_len = 48 + 16 + 9;
	finish();
	assert_int_equal(parse(&info), DMAR_ERR_SCOPE_LENGTH);

	begin(39, 0);
	add_drhd(1, 0, 0, 0xfed90000);
	add_scope(1, 0, 0, 2, 0);
	tab_len += 1;                /* one byte left over after the scope: not even a scope header */
	put16(48 + 2, 16 + 8 + 1);
	finish();
	assert_int_equal(parse(&info), DMAR_ERR_SCOPE_LENGTH);
}

static void test_scope_paths(void **state)
{
	(void)state;
	begin(39, 0);
	add_drhd(1, 0, 0, 0xfed90000);
	add_scope(1, 0, 0, 32, 0);
	finish();
	assert_int_equal(parse(&info), DMAR_ERR_SCOPE_PATH);

	begin(39, 0);
	add_drhd(1, 0, 0, 0xfed90000);
	add_scope(1, 0, 0, 3, 8);
	finish();
	assert_int_equal(parse(&info), DMAR_ERR_SCOPE_PATH);

	begin(39, 0);
	add_drhd(1, 0, 0, 0xfed90000);
	add_scope(9, 0, 0, 3, 0);
	finish();
	assert_int_equal(parse(&info), DMAR_ERR_SCOPE_PATH);

	begin(39, 0);
	add_drhd(1, 0, 0, 0xfed90000);
	add_scope_path(2, 0, 0, DMAR_MAX_PATH + 1, 1, 0);
	finish();
	assert_int_equal(parse(&info), DMAR_ERR_SCOPE_PATH);
}

static void test_drhd_base(void **state)
{
	(void)state;
	begin(39, 0);
	add_drhd(1, 0, 0, 0xfed90800);
	finish();
	assert_int_equal(parse(&info), DMAR_ERR_DRHD_BASE);
	begin(39, 0);
	add_drhd(1, 0, 0, 0);
	finish();
	assert_int_equal(parse(&info), DMAR_ERR_DRHD_BASE);
	begin(39, 0);
	add_drhd(1, 15, 0, 0xfffffffffffff000ULL); /* 128 MiB of registers wrapping past 2^64 */
	finish();
	assert_int_equal(parse(&info), DMAR_ERR_DRHD_BASE);
}

static void test_include_all_twice(void **state)
{
	(void)state;
	begin(39, 0);
	add_drhd(1, 0, 0, 0xfed90000);
	add_drhd(1, 0, 1, 0xfed91000); /* another segment: fine */
	finish();
	assert_int_equal(parse(&info), DMAR_OK);
	add_drhd(1, 0, 0, 0xfed92000);
	finish();
	assert_int_equal(parse(&info), DMAR_ERR_INCLUDE_ALL);
}

static void test_rmrr_ranges(void **state)
{
	static const uint64_t bad[][2] = {
		{ 0x1000800, 0x1001fff }, /* base unaligned */
		{ 0x1000000, 0x1000ffe }, /* limit + 1 unaligned */
		{ 0x2000000, 0x1000fff }, /* limit below base */
		{ 0xfffffffffffff000ULL, 0xffffffffffffffffULL }, /* end wraps */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		begin(39, 0);
		add_drhd(1, 0, 0, 0xfed90000);
		add_rmrr(0, bad[i][0], bad[i][1]);
		add_scope(1, 0, 0, 0x14, 0);
		finish();
		assert_int_equal(parse(&info), DMAR_ERR_RMRR_RANGE);
	}
}

static void test_too_many(void **state)
{
	(void)state;
	begin(39, 0);
	for (int i = 0; i <= DMAR_MAX_UNITS; i++)
		add_drhd(0, 0, 0, 0xfed00000 + 0x1000ULL * (uint64_t)i);
	finish();
	assert_int_equal(parse(&info), DMAR_ERR_TOO_MANY);

	begin(39, 0);
	add_drhd(1, 0, 0, 0xfed90000);
	for (int i = 0; i <= DMAR_MAX_SCOPES; i++)
		add_scope(1, 0, (uint8_t)(i / 32), (uint8_t)(i % 32), 0);
	finish();
	assert_int_equal(parse(&info), DMAR_ERR_TOO_MANY);
}

static void test_no_units(void **state)
{
	(void)state;
	begin(39, 0);
	add_rmrr(0, 0x1000000, 0x1000fff);
	add_scope(1, 0, 0, 0x14, 0);
	finish();
	assert_int_equal(parse(&info), DMAR_ERR_NO_UNITS);
}

static void test_hide(void **state)
{
	uint8_t sum = 0;

	(void)state;
	qemu_like();
	dmar_hide(tab);
	assert_memory_equal(tab, "HVDM", 4);
	for (size_t i = 0; i < tab_len; i++)
		sum += tab[i];
	assert_int_equal(sum, 0);
	assert_int_equal(parse(&info), DMAR_ERR_SIGNATURE);
}

static void test_strings(void **state)
{
	(void)state;
	for (int e = DMAR_OK; e <= DMAR_ERR_NO_UNITS; e++)
		assert_string_not_equal(dmar_strerror((enum dmar_error)e), "unknown DMAR error");
	assert_string_equal(dmar_strerror((enum dmar_error)99), "unknown DMAR error");
	assert_string_equal(dmar_scope_type_name(3), "I/O APIC");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qemu_table),
		cmocka_unit_test(test_server_table),
		cmocka_unit_test(test_bad_checksum),
		cmocka_unit_test(test_bad_signature),
		cmocka_unit_test(test_bad_lengths),
		cmocka_unit_test(test_bad_haw),
		cmocka_unit_test(test_struct_overruns),
		cmocka_unit_test(test_scope_overruns),
		cmocka_unit_test(test_scope_paths),
		cmocka_unit_test(test_drhd_base),
		cmocka_unit_test(test_include_all_twice),
		cmocka_unit_test(test_rmrr_ranges),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_no_units),
		cmocka_unit_test(test_hide),
		cmocka_unit_test(test_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
