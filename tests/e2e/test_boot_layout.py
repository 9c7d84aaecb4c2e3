"""Issue 8 item 6: the hypervisor lives at the top of RAM, out of L1's way: a kernel linked
at 2 MiB loads and runs as L1 exactly as bare, with mem_upper up to the hypervisor's range."""
from hv_layout import hv_ranges
from runner import guest_pair_test


def _link2m_extra(results):
    hvr = hv_ranges(results["hv"].hv_lines)
    if any(b < 0x800000 for b, _ in hvr):
        return "the hypervisor still keeps memory below 8 MiB: %s" % hvr
    return None


TESTS = [guest_pair_test("link2m", name="guest-link2m", extra_check=_link2m_extra)]
