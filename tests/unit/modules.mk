# Host tests for moving boot modules out of the guest's way.
UNIT_TESTS += test_modules
test_modules_SRCS := tests/unit/test_modules.c hv/modules.c hv/memmap.c
