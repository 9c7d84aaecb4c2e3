# Host tests for CPU discovery (ACPI MADT).
UNIT_TESTS += test_acpi
test_acpi_SRCS := tests/unit/test_acpi.c hv/acpi.c

# L1's INIT/SIPI virtualization: the ICR filter, the MOV decoder and L1's page walk.
UNIT_TESTS += test_apic_virt
test_apic_virt_SRCS := tests/unit/test_apic_virt.c hv/vmx/apic_icr.c hv/vmx/mmio_decode.c hv/vmx/guest_walk.c
