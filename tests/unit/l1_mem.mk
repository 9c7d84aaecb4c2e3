# The checked accessor for L1's memory: which guest-physical ranges are L1 RAM, and L1's page walk with its faults.
UNIT_TESTS += test_l1_mem
test_l1_mem_SRCS := tests/unit/test_l1_mem.c hv/vmx/l1_mem.c hv/vmx/guest_walk.c
