# Host tests for the nested engine (hv/nested): vmcs12, routing, #DB rule, #DF table, IDT-vectoring, priority, entry, the seed, the review fixes, the entry-check table.
NESTED_CORE_SRCS := $(wildcard hv/nested/*.c) tests/fuzz/nested_harness.c
NESTED_UNIT_TESTS := test_events_routing test_events_debug test_events_double_fault \
	test_events_idt_vectoring test_events_priority test_events_entry test_nested_seed_gd_db \
	test_events_review
UNIT_TESTS += test_vmcs12 $(NESTED_UNIT_TESTS)
test_vmcs12_SRCS := tests/unit/test_vmcs12.c hv/nested/vmcs12.c
$(foreach t,$(NESTED_UNIT_TESTS),$(eval $(t)_SRCS := tests/unit/$(t).c $(NESTED_CORE_SRCS)))
# The generic rule tracks hv/ headers only; the harness header lives with the fuzzer.
$(addprefix $(BUILD)/unit/,$(NESTED_UNIT_TESTS)): tests/fuzz/nested_harness.h
# The VMX capability policy (what L1 is offered), against the VMX MSRs measured on Bochs 2.7 and Linux 6.1's kvm_intel.
UNIT_TESTS += test_nested_vmx_policy
test_nested_vmx_policy_SRCS := tests/unit/test_nested_vmx_policy.c hv/nested/vmx_policy.c hv/nested/vmcs12.c
