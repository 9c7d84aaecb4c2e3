# Host tests of VMX root's pure logic: controls, names, EPT construction, the Multiboot v1 loader.
UNIT_TESTS += test_vmx_caps
test_vmx_caps_SRCS := tests/unit/test_vmx_caps.c hv/vmx/vmx_caps.c hv/vmx/vmx_names.c
UNIT_TESTS += test_ept
test_ept_SRCS := tests/unit/test_ept.c hv/vmx/ept.c
UNIT_TESTS += test_multiboot1
test_multiboot1_SRCS := tests/unit/test_multiboot1.c hv/loader/multiboot1.c hv/printf.c hv/string.c
UNIT_TESTS += test_vmx_policy
test_vmx_policy_SRCS := tests/unit/test_vmx_policy.c hv/vmx/cpuid.c hv/vmx/vmx_bitmap.c
UNIT_TESTS += test_vmx_emulate
test_vmx_emulate_SRCS := tests/unit/test_vmx_emulate.c hv/vmx/emulate.c
