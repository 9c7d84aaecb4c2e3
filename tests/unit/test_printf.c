/* Host tests for hv_vsnprintf: every conversion the hypervisor uses, checked against the C library's output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "hv/console.h"

/* Formats with both implementations and insists on identical text and length. */
#define CHECK_SAME(...) do { \
	char ours[256], libc[256]; \
	int n1 = hv_snprintf(ours, sizeof(ours), __VA_ARGS__); \
	int n2 = snprintf(libc, sizeof(libc), __VA_ARGS__); \
	assert_string_equal(ours, libc); \
	assert_int_equal(n1, n2); \
} while (0)

static void test_integers(void **state)
{
	(void)state;
	CHECK_SAME("%d %i %u", -42, 17, 4000000000u);
	CHECK_SAME("%x %X %#x %#X %o %#o", 0xbeef, 0xbeef, 0x1f, 0x1f, 8, 8);
	CHECK_SAME("%lld %llu %llx", -9223372036854775807LL - 1, 18446744073709551615ULL, 0x123456789abcdefULL);
	CHECK_SAME("%ld %lu %zu %zx", -5L, 5UL, (size_t)123, (size_t)0xfff);
	CHECK_SAME("%hhu %hhd %hu %hd", 300, 200, 70000, 40000);
	CHECK_SAME("%#x %#o %d", 0, 0, 0);
}

static void test_width_precision_flags(void **state)
{
	(void)state;
	CHECK_SAME("[%8d] [%-8d] [%08d] [%+d] [% d]", 42, 42, -42, 42, 42);
	CHECK_SAME("[%016llx] [%#018llx] [%.5d] [%8.3d]", 0xabcULL, 0xabcULL, 7, 7);
	CHECK_SAME("[%*d] [%-*d] [%.*s]", 6, 1, 6, 1, 3, "abcdef");
	CHECK_SAME("[%.0d] [%5.0d]", 0, 0);
	CHECK_SAME("[%10s] [%-10s] [%.2s] [%c] [%%]", "hv", "hv", "hypervisor", 'x');
}

static void test_pointer_and_null(void **state)
{
	char buf[64];

	(void)state;
	hv_snprintf(buf, sizeof(buf), "%p", (void *)0x1234);
	assert_string_equal(buf, "0x1234");
	const char *volatile null_str = NULL; /* hidden from the compiler's format check */

	hv_snprintf(buf, sizeof(buf), "%s", null_str);
	assert_string_equal(buf, "(null)");
}

static void test_truncation(void **state)
{
	char buf[8];

	(void)state;
	assert_int_equal(hv_snprintf(buf, sizeof(buf), "%s", "0123456789"), 10);
	assert_string_equal(buf, "0123456");
	assert_int_equal(hv_snprintf(buf, 1, "%d", 12345), 5);
	assert_string_equal(buf, "");
	assert_int_equal(hv_snprintf(NULL, 0, "%x", 0xabcd), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_width_precision_flags),
		cmocka_unit_test(test_pointer_and_null),
		cmocka_unit_test(test_truncation),
	};

	return cmocka_run_group_tests_name("printf", tests, NULL, NULL);
}
