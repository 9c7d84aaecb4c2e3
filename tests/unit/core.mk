# Host tests for the core's pure logic: multiboot2 parsing, memory maps, the frame pool and its placement, the command line.
CORE_UNIT_COMMON := tests/unit/fakes_core.c hv/string.c
UNIT_TESTS += test_cmdline test_memmap test_multiboot2 test_mm_pool
test_cmdline_SRCS    := tests/unit/test_cmdline.c hv/cmdline.c hv/options.c $(CORE_UNIT_COMMON)
test_memmap_SRCS     := tests/unit/test_memmap.c hv/memmap.c $(CORE_UNIT_COMMON)
test_multiboot2_SRCS := tests/unit/test_multiboot2.c boot/multiboot2.c hv/boot_info.c hv/memmap.c $(CORE_UNIT_COMMON)
test_mm_pool_SRCS    := tests/unit/test_mm_pool.c hv/mm.c hv/memmap.c hv/cmdline.c $(CORE_UNIT_COMMON)
# The generic rule tracks hv/ headers only.
$(BUILD)/unit/test_multiboot2: boot/multiboot2.h
