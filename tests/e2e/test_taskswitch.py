"""Issue 8 items 7 and 11: task switches (exit reason 9) emulated as SDM 7.3 says, and RF=1 in the EFLAGS image of
faults the hypervisor injects; each guest booted bare and as L1 in Bochs, outputs compared."""
from runner import guest_pair_test

TESTS = [
    guest_pair_test("faultrf", name="guest-faultrf"),
    guest_pair_test("taskswitch", name="guest-taskswitch"),
]
