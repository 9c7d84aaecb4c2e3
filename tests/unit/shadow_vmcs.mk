# Host tests for VMCS shadowing (hv/nested/shadow_vmcs.c): the bitmaps and copy lists against the vmcs12 field table, the exit copy list against the event core.
UNIT_TESTS += test_shadow_vmcs
test_shadow_vmcs_SRCS := tests/unit/test_shadow_vmcs.c $(wildcard hv/nested/*.c) tests/fuzz/nested_harness.c
$(BUILD)/unit/test_shadow_vmcs: tests/fuzz/nested_harness.h
