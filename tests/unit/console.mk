# Host tests for the console's formatter and line tagging.
UNIT_TESTS += test_printf
test_printf_SRCS := tests/unit/test_printf.c hv/printf.c
