# L1's broadcast SIPIs sent as one SIPI per waiting vCPU (issue 8 item 10).
UNIT_TESTS += test_icr_sipi
test_icr_sipi_SRCS := tests/unit/test_icr_sipi.c hv/vmx/apic_icr.c
