# Host tests for the Linux loader's pure parts: setup header checks, layout, boot_params, GDT, page tables, entry state.
UNIT_TESTS += test_linux_boot
test_linux_boot_SRCS := tests/unit/test_linux_boot.c hv/vmx/linux_boot.c
