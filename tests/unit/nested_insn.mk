# Host tests for L1's VMX instructions and their memory operand (hv/nested/vmx_insn.c, vmx_operand.c).
UNIT_TESTS += test_nested_vmx_insn
test_nested_vmx_insn_SRCS := tests/unit/test_nested_vmx_insn.c hv/nested/vmx_insn.c hv/nested/vmx_operand.c \
	hv/nested/vmcs12.c hv/string.c

# Who handles an L2 exit (hv/nested/exit_decide.c).
UNIT_TESTS += test_nested_exit_owner
test_nested_exit_owner_SRCS := tests/unit/test_nested_exit_owner.c hv/nested/exit_decide.c hv/nested/routing.c hv/nested/exception_class.c \
	hv/nested/vmcs12.c hv/string.c

# vmcs02 merge and the host-state load of a synthesized exit.
UNIT_TESTS += test_nested_vmcs02
test_nested_vmcs02_SRCS := tests/unit/test_nested_vmcs02.c hv/nested/vmcs02.c hv/nested/host_state.c hv/nested/l2_access.c \
	hv/nested/vmcs12.c hv/string.c

# The VM-entry consistency-check table.
UNIT_TESTS += test_nested_entry_checks
test_nested_entry_checks_SRCS := tests/unit/test_nested_entry_checks.c hv/nested/entry_checks.c hv/nested/entry.c \
	hv/nested/inv_insn.c \
	hv/nested/exception_class.c hv/nested/vmcs12.c hv/string.c

# L1's MSR lists: the SDM's failures and what the hypervisor replays.
UNIT_TESTS += test_nested_msr_lists
test_nested_msr_lists_SRCS := tests/unit/test_nested_msr_lists.c hv/nested/msr_lists.c

# L1's INVEPT/INVVPID and the EPTP rule (hv/nested/inv_insn.c).
UNIT_TESTS += test_nested_inv
test_nested_inv_SRCS := tests/unit/test_nested_inv.c hv/nested/inv_insn.c
