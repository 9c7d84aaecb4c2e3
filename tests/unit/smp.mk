# Host tests for CPU discovery (ACPI MADT).
UNIT_TESTS += test_acpi
test_acpi_SRCS := tests/unit/test_acpi.c hv/acpi.c

# L1's INIT/SIPI virtualization: the ICR filter and L1's page walk (the decoder: apic_write.mk).
UNIT_TESTS += test_apic_virt
test_apic_virt_SRCS := tests/unit/test_apic_virt.c hv/vmx/apic_icr.c hv/vmx/guest_walk.c
