/* Host tests for the UEFI loader's HV.CFG parser (boot/efi/cfg.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "boot/efi/cfg.h"

static struct hv_cfg cfg;

static enum cfg_err parse(const char *text, struct cfg_error *err)
{
	return cfg_parse(text, strlen(text), &cfg, err);
}

static void test_all_keys(void **state)
{
	struct cfg_error err;

	(void)state;
	assert_int_equal(parse("hypervisor=\\hv.elf\ncmdline=serial=0x3f8 log=2\n"
			       "module=\\guest.elf test=hello a=b\nverbose=yes\ntest_stale_map_key=1\n", &err), CFG_OK);
	assert_int_equal(err.code, CFG_OK);
	assert_string_equal(cfg.hypervisor, "\\hv.elf");
	assert_string_equal(cfg.cmdline, "serial=0x3f8 log=2");
	assert_int_equal(cfg.module_count, 1);
	assert_string_equal(cfg.modules[0].path, "\\guest.elf");
	assert_string_equal(cfg.modules[0].args, "test=hello a=b");
	assert_true(cfg.verbose);
	assert_true(cfg.stale_key_test);
}

static void test_crlf_comments_blanks(void **state)
{
	(void)state;
	assert_int_equal(parse("# a comment\r\n\r\n   \t\r\n  hypervisor = \\hv.elf  \r\n"
			       "\tcmdline =  x  y \r\n# module=\\nope\r\n", NULL), CFG_OK);
	assert_string_equal(cfg.hypervisor, "\\hv.elf");
	assert_string_equal(cfg.cmdline, "x  y");
	assert_int_equal(cfg.module_count, 0);
	assert_false(cfg.verbose);
	assert_false(cfg.stale_key_test);
}

static void test_paths_normalized(void **state)
{
	(void)state;
	assert_int_equal(parse("hypervisor=/boot/hv.elf\nmodule=EFI/g.elf\n", NULL), CFG_OK);
	assert_string_equal(cfg.hypervisor, "\\boot\\hv.elf");
	assert_string_equal(cfg.modules[0].path, "\\EFI\\g.elf");
	assert_string_equal(cfg.modules[0].args, "");
}

static void test_no_trailing_newline_and_length_bound(void **state)
{
	const char text[] = "hypervisor=\\a.elf\ncmdline=abcdefXXXX";

	(void)state;
	/* Only the first len bytes count: the cmdline is cut at "abcdef". */
	assert_int_equal(cfg_parse(text, sizeof(text) - 1 - 4, &cfg, NULL), CFG_OK);
	assert_string_equal(cfg.cmdline, "abcdef");
}

static void test_many_modules(void **state)
{
	char text[8192] = "hypervisor=\\hv.elf\n";
	char line[64];
	struct cfg_error err;
	int i;

	(void)state;
	for (i = 0; i < BOOT_MAX_MODULES; i++) {
		snprintf(line, sizeof(line), "module=\\m%d.elf arg%d\n", i, i);
		strcat(text, line);
	}
	assert_int_equal(parse(text, &err), CFG_OK);
	assert_int_equal(cfg.module_count, BOOT_MAX_MODULES);
	assert_string_equal(cfg.modules[15].path, "\\m15.elf");
	assert_string_equal(cfg.modules[15].args, "arg15");
	strcat(text, "module=\\one-too-many\n");
	assert_int_equal(parse(text, &err), CFG_ERR_TOO_MANY_MODULES);
	assert_int_equal(err.line, BOOT_MAX_MODULES + 2);
}

static void test_errors_with_line_numbers(void **state)
{
	struct cfg_error err;

	(void)state;
	assert_int_equal(parse("hypervisor=\\a\nbogus=1\n", &err), CFG_ERR_UNKNOWN_KEY);
	assert_int_equal(err.line, 2);
	assert_int_equal(parse("\n\njust words\nhypervisor=\\a\n", &err), CFG_ERR_NO_EQUALS);
	assert_int_equal(err.line, 3);
	assert_int_equal(parse("hypervisor=\\a\nhypervisor=\\b\n", &err), CFG_ERR_DUPLICATE);
	assert_int_equal(err.line, 2);
	assert_int_equal(parse("cmdline=a\ncmdline=b\nhypervisor=\\a\n", &err), CFG_ERR_DUPLICATE);
	assert_int_equal(parse("verbose=1\nverbose=0\nhypervisor=\\a\n", &err), CFG_ERR_DUPLICATE);
	assert_int_equal(parse("test_stale_map_key=1\ntest_stale_map_key=1\nhypervisor=\\a\n", &err),
			 CFG_ERR_DUPLICATE);
	assert_int_equal(parse("hypervisor=\\a\ntest_stale_map_key=2\n", &err), CFG_ERR_BAD_VALUE);
	assert_int_equal(parse("hypervisor=\n", &err), CFG_ERR_EMPTY_PATH);
	assert_int_equal(err.line, 1);
	assert_int_equal(parse("hypervisor=\\a\nmodule=   \n", &err), CFG_ERR_EMPTY_PATH);
	assert_int_equal(parse("hypervisor=\\a\nverbose=maybe\n", &err), CFG_ERR_BAD_VALUE);
	assert_int_equal(parse("cmdline=x\n", &err), CFG_ERR_NO_HYPERVISOR);
	assert_int_equal(err.line, 0);
	assert_int_equal(parse("", &err), CFG_ERR_NO_HYPERVISOR);
}

static void test_nul_byte(void **state)
{
	const char text[] = "hypervisor=\\a\n\0garbage";
	struct cfg_error err;

	(void)state;
	assert_int_equal(cfg_parse(text, sizeof(text) - 1, &cfg, &err), CFG_ERR_NUL_BYTE);
	assert_int_equal(err.line, 2);
}

static void test_too_long(void **state)
{
	char *text = malloc(BOOT_MOD_CMDLINE_MAX + 64);
	struct cfg_error err;

	(void)state;
	/* BOOT_CMDLINE_MAX - 1 characters fit, BOOT_CMDLINE_MAX do not. */
	strcpy(text, "hypervisor=\\a\ncmdline=");
	memset(text + strlen(text), 'c', BOOT_CMDLINE_MAX - 1);
	text[22 + BOOT_CMDLINE_MAX - 1] = '\0';
	assert_int_equal(parse(text, &err), CFG_OK);
	assert_int_equal(strlen(cfg.cmdline), BOOT_CMDLINE_MAX - 1);
	strcat(text, "c");
	assert_int_equal(parse(text, &err), CFG_ERR_TOO_LONG);
	/* A path of CFG_PATH_MAX - 1 bytes fits only with its leading backslash given. */
	strcpy(text, "hypervisor=");
	memset(text + 11, 'p', CFG_PATH_MAX - 1);
	text[11 + CFG_PATH_MAX - 1] = '\0';
	assert_int_equal(parse(text, &err), CFG_ERR_TOO_LONG);
	text[11] = '\\';
	assert_int_equal(parse(text, &err), CFG_OK);
	/* Module arguments are bounded by the boot_info field. */
	strcpy(text, "hypervisor=\\a\nmodule=\\m ");
	memset(text + strlen(text), 'a', BOOT_MOD_CMDLINE_MAX);
	text[24 + BOOT_MOD_CMDLINE_MAX] = '\0';
	assert_int_equal(parse(text, &err), CFG_ERR_TOO_LONG);
	free(text);
}

static void test_verbose_values(void **state)
{
	(void)state;
	assert_int_equal(parse("hypervisor=\\a\nverbose=on\n", NULL), CFG_OK);
	assert_true(cfg.verbose);
	assert_int_equal(parse("hypervisor=\\a\nverbose=0\n", NULL), CFG_OK);
	assert_false(cfg.verbose);
	assert_int_equal(parse("hypervisor=\\a\nverbose=off\n", NULL), CFG_OK);
	assert_false(cfg.verbose);
}

static void test_strerror(void **state)
{
	int c;

	(void)state;
	for (c = CFG_OK; c <= CFG_ERR_NO_HYPERVISOR; c++)
		assert_string_not_equal(cfg_strerror((enum cfg_err)c), "unknown error");
	assert_string_equal(cfg_strerror((enum cfg_err)999), "unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_keys),
		cmocka_unit_test(test_crlf_comments_blanks),
		cmocka_unit_test(test_paths_normalized),
		cmocka_unit_test(test_no_trailing_newline_and_length_bound),
		cmocka_unit_test(test_many_modules),
		cmocka_unit_test(test_errors_with_line_numbers),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_verbose_values),
		cmocka_unit_test(test_strerror),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
