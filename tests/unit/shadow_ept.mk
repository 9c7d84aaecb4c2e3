# Host tests of the shadow EPT for L2 (hv/nested): L1's EPT walked entry by entry, the shadow tables, PML.
UNIT_TESTS += test_ept12_walk
test_ept12_walk_SRCS := tests/unit/test_ept12_walk.c hv/nested/ept12_walk.c
UNIT_TESTS += test_shadow_ept
test_shadow_ept_SRCS := tests/unit/test_shadow_ept.c hv/nested/shadow_ept.c hv/nested/ept12_walk.c hv/nested/ept_pml.c
