# When an NMI owed to L1 is injected (issue 8 item 4).
UNIT_TESTS += test_nmi_inject
test_nmi_inject_SRCS := tests/unit/test_nmi_inject.c hv/vmx/nmi_inject.c
