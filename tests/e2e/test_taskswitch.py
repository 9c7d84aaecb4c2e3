"""Issue 8 items 7 and 11: task switches (exit reason 9) emulated as SDM 7.3 says, and RF=1 in the EFLAGS image of
faults the hypervisor injects; each guest booted bare and as L1 in Bochs, outputs compared."""
from runner import guest_pair_test, find_line


def _table_7_1_order(results):
    """The one "~" line: with CS and DS both bad, L1 gets SDM Table 7-1's (P6) order, bare Bochs its own."""
    if not find_line(results["hv"].guest_lines, r"^~#NP with CS and DS not present: err=0xa8 "):
        return "hv: a task with CS and DS not present did not fault on CS first (SDM Table 7-1 order)"
    return None


TESTS = [
    guest_pair_test("faultrf", name="guest-faultrf"),
    guest_pair_test("taskswitch", name="guest-taskswitch", extra_check=_table_7_1_order),
]
