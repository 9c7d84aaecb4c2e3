"""Issue 8 items 8, 12, 13, 17: string I/O and straddling accesses to intercepted ports, debug traps of emulated
instructions, CR0 loads that must #GP; each guest booted bare and as L1 in Bochs and compared."""
import runner
from runner import guest_pair_test, find_line


def _strio_straddle(results):
    """Bochs does not split a wide access over ports (strio.c says where), so the L1 run alone shows item 17."""
    hv = results["hv"]
    for pattern in (r"^~outw 0x7f=0x5a00: post=0x5a$", r"^~inw 0x7f: high byte 0x5a$"):
        if not find_line(hv.guest_lines, pattern):
            return "hv: the byte of a straddling access on port 0x80 did not reach the hypervisor's port (%r missing)" % pattern
    if not find_line(hv.hv_lines, r"^hv: guest requested exit status 0$"):
        return "hv: the word written at 0xf3 did not reach the test-exit port 0xf4: " + hv.describe()
    return None


TESTS = [
    guest_pair_test("strio", name="guest-strio", extra_check=_strio_straddle),
    guest_pair_test("crdbg", name="guest-crdbg"),
]
