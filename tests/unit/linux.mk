# Host tests for the Linux loader's pure parts: setup header checks, layout, boot_params, GDT, page tables, entry state.
UNIT_TESTS += test_linux_boot
test_linux_boot_SRCS := tests/unit/test_linux_boot.c hv/loader/linux_boot.c
# linux_probe/linux_load end to end, over guest RAM mapped at its identity addresses in the test process.
UNIT_TESTS += test_linux_loader
test_linux_loader_SRCS := tests/unit/test_linux_loader.c hv/loader/linux_loader.c hv/loader/linux_boot.c hv/memmap.c
