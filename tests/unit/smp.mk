# Host tests for CPU discovery (ACPI MADT).
UNIT_TESTS += test_acpi
test_acpi_SRCS := tests/unit/test_acpi.c hv/acpi.c
