/* Host tests of the command-line parser (whole-word keys, quoting, last-wins, numbers with size suffixes) and of the option check that reports what the hypervisor does not take. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "hv/cmdline.h"
#include "hv/options.h"
#include "hv/string.h"

static void test_str_basic(void **state)
{
	char buf[32];

	(void)state;
	assert_true(cmdline_get_str("serial=com2 loglevel=3", "serial", buf, sizeof(buf)));
	assert_string_equal(buf, "com2");
	assert_true(cmdline_get_str("serial=com2 loglevel=3", "loglevel", buf, sizeof(buf)));
	assert_string_equal(buf, "3");
	assert_false(cmdline_get_str("serial=com2", "e9", buf, sizeof(buf)));
}

static void test_str_whole_word(void **state)
{
	char buf[32];

	(void)state;
	/* A key is the whole part before '=': neither a suffix nor a prefix of it matches. */
	assert_false(cmdline_get_str("loglevel=3", "level", buf, sizeof(buf)));
	assert_false(cmdline_get_str("loglevel=3", "log", buf, sizeof(buf)));
	assert_false(cmdline_get_str("xserial=1 serialx=2", "serial", buf, sizeof(buf)));
	/* "=" inside a value belongs to the value. */
	assert_true(cmdline_get_str("a=b=c", "a", buf, sizeof(buf)));
	assert_string_equal(buf, "b=c");
	assert_false(cmdline_get_str("a=b=c", "a=b", buf, sizeof(buf)));
}

static void test_str_last_wins_and_blanks(void **state)
{
	char buf[32];

	(void)state;
	assert_true(cmdline_get_str("  x=1\tx=2 \n x=3  ", "x", buf, sizeof(buf)));
	assert_string_equal(buf, "3");
	assert_true(cmdline_get_str("x=", "x", buf, sizeof(buf)));
	assert_string_equal(buf, "");
	/* A bare word has no value. */
	assert_false(cmdline_get_str("x", "x", buf, sizeof(buf)));
}

static void test_str_quotes(void **state)
{
	char buf[32];

	(void)state;
	assert_true(cmdline_get_str("a=1 msg=\"hello world\" b=2", "msg", buf, sizeof(buf)));
	assert_string_equal(buf, "hello world");
	assert_true(cmdline_get_str("a=1 msg=\"hello world\" b=2", "b", buf, sizeof(buf)));
	assert_string_equal(buf, "2");
	/* A quote left open runs to the end of the line rather than reading past it. */
	assert_true(cmdline_get_str("msg=\"open to the end", "msg", buf, sizeof(buf)));
	assert_string_equal(buf, "open to the end");
	/* A key inside a quoted value is not a key. */
	assert_false(cmdline_get_str("msg=\"b=2\"", "b", buf, sizeof(buf)));
}

static void test_str_limits(void **state)
{
	char buf[4];

	(void)state;
	assert_true(cmdline_get_str("k=abc", "k", buf, sizeof(buf)));
	assert_string_equal(buf, "abc");
	assert_false(cmdline_get_str("k=abcd", "k", buf, sizeof(buf)));
	assert_false(cmdline_get_str("k=abc", "k", buf, 0));
	assert_false(cmdline_get_str(NULL, "k", buf, sizeof(buf)));
	assert_false(cmdline_get_str("k=abc", "", buf, sizeof(buf)));
	assert_false(cmdline_get_str("", "k", buf, sizeof(buf)));
}

static void test_u64(void **state)
{
	uint64_t v = 0;

	(void)state;
	assert_true(cmdline_get_u64("n=42", "n", &v));
	assert_int_equal(v, 42);
	assert_true(cmdline_get_u64("n=0x1F", "n", &v));
	assert_int_equal(v, 0x1f);
	assert_true(cmdline_get_u64("n=64M", "n", &v));
	assert_int_equal(v, 64ULL << 20);
	assert_true(cmdline_get_u64("n=512k", "n", &v));
	assert_int_equal(v, 512ULL << 10);
	assert_true(cmdline_get_u64("n=2G", "n", &v));
	assert_int_equal(v, 2ULL << 30);
	assert_true(cmdline_get_u64("n=0x10M", "n", &v));
	assert_int_equal(v, 16ULL << 20);
	assert_true(cmdline_get_u64("n=18446744073709551615", "n", &v));
	assert_true(v == UINT64_MAX);
}

static void test_u64_malformed(void **state)
{
	uint64_t v = 7;

	(void)state;
	assert_false(cmdline_get_u64("n=", "n", &v));
	assert_false(cmdline_get_u64("n=abc", "n", &v));
	assert_false(cmdline_get_u64("n=0x", "n", &v));
	assert_false(cmdline_get_u64("n=12Q", "n", &v));
	assert_false(cmdline_get_u64("n=12MB", "n", &v));
	assert_false(cmdline_get_u64("n=-1", "n", &v));
	assert_false(cmdline_get_u64("n=18446744073709551616", "n", &v));
	assert_false(cmdline_get_u64("n=17179869184G", "n", &v));
	assert_false(cmdline_get_u64("n", "n", &v));
	assert_false(cmdline_get_u64("m=1", "n", &v));
	assert_int_equal(v, 7);
}

static void test_flags(void **state)
{
	(void)state;
	assert_true(cmdline_has_flag("quiet debug", "debug"));
	assert_true(cmdline_has_flag("debug=1", "debug"));
	assert_true(cmdline_has_flag("debug=on", "debug"));
	assert_true(cmdline_has_flag("debug=\"yes\"", "debug"));
	assert_false(cmdline_has_flag("debug=0", "debug"));
	assert_false(cmdline_has_flag("debug=off", "debug"));
	assert_false(cmdline_has_flag("nodebug debugx", "debug"));
	assert_false(cmdline_has_flag("debug debug=0", "debug")); /* the last word wins */
	assert_true(cmdline_has_flag("debug=0 debug", "debug"));
	assert_false(cmdline_has_flag(NULL, "debug"));
}

static void test_has_key(void **state)
{
	(void)state;
	assert_true(cmdline_has_key("hvmem=junk", "hvmem"));
	assert_true(cmdline_has_key("a hvmem", "hvmem"));
	assert_false(cmdline_has_key("hvmemx=1", "hvmem"));
}

/* What options_check reported, one "word|why" per line. */
static char reported[1024];

static void collect(void *ctx, const char *word, size_t len, const char *why)
{
	size_t n = strlen(reported);

	(void)ctx;
	snprintf(reported + n, sizeof(reported) - n, "%.*s|%s\n", (int)len, word, why);
}

static unsigned int check(const char *cmdline)
{
	reported[0] = '\0';
	return options_check(cmdline, collect, NULL);
}

static void test_options_known_and_valid(void **state)
{
	(void)state;
	assert_int_equal(check(""), 0);
	assert_int_equal(check("serial=com2 loglevel=3 e9=off hvmem=64M hide_hypervisor debug_panic_cpu=1"), 0);
	assert_int_equal(check("loglevel=0 e9=on e9=1 e9=0 hide_hypervisor=off hide_hypervisor=yes"), 0);
	/* serial= and hvmem= values are judged where they are used, which say what they use instead. */
	assert_int_equal(check("serial=com9 hvmem=4G"), 0);
}

static void test_options_reported(void **state)
{
	(void)state;
	assert_int_equal(check("loglevel=abc"), 1);
	assert_non_null(strstr(reported, "loglevel=abc|expects loglevel=0..3"));
	assert_int_equal(check("loglevel=-1"), 1);
	assert_non_null(strstr(reported, "loglevel=-1|"));
	assert_int_equal(check("loglevel=4 loglevel"), 2);
	assert_int_equal(check("e9=maybe"), 1);
	assert_non_null(strstr(reported, "e9=maybe|expects on or off"));
	assert_int_equal(check("e9"), 1);
	assert_int_equal(check("hide_hypervisor=perhaps debug_panic_cpu=x debug_panic_cpu"), 3);
	/* Every unknown word, bare or with a value, quoted values whole. */
	assert_int_equal(check("frobnicate loglevel=2 color=\"dark blue\" Loglevel=2"), 3);
	assert_string_equal(reported,
			    "frobnicate|is not an option of the hypervisor (the README lists them)\n"
			    "color=\"dark blue\"|is not an option of the hypervisor (the README lists them)\n"
			    "Loglevel=2|is not an option of the hypervisor (the README lists them)\n");
}

static void test_options_values(void **state)
{
	uint64_t level;
	bool on;

	(void)state;
	assert_true(options_loglevel("3", &level));
	assert_int_equal(level, 3);
	assert_false(options_loglevel("4", &level));
	assert_false(options_loglevel("-1", &level));
	assert_false(options_loglevel("", &level));
	assert_true(options_bool("off", &on));
	assert_false(on);
	assert_true(options_bool("true", &on));
	assert_true(on);
	assert_false(options_bool("maybe", &on));
}

static void test_next_word(void **state)
{
	const char *p = "  a=1 \"b c\"=2\td";
	struct cmdline_word w;

	(void)state;
	assert_true(cmdline_next(&p, &w));
	assert_int_equal(w.key_len, 1);
	assert_int_equal(w.val_len, 1);
	assert_true(cmdline_next(&p, &w));
	assert_int_equal(w.key_len, 5);
	assert_true(cmdline_next(&p, &w));
	assert_null(w.val);
	assert_false(cmdline_next(&p, &w));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_str_basic),
		cmocka_unit_test(test_str_whole_word),
		cmocka_unit_test(test_str_last_wins_and_blanks),
		cmocka_unit_test(test_str_quotes),
		cmocka_unit_test(test_str_limits),
		cmocka_unit_test(test_u64),
		cmocka_unit_test(test_u64_malformed),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_has_key),
		cmocka_unit_test(test_options_known_and_valid),
		cmocka_unit_test(test_options_reported),
		cmocka_unit_test(test_options_values),
		cmocka_unit_test(test_next_word),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
