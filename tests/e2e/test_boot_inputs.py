"""Issue 8 items 2 and 5: what the boot loader hands over cannot bring the hypervisor down,
and what it cannot take is said, not dropped."""
import re

from runner import find_line, guest_pair_test


def _acpiclobber_extra(results):
    """The guest's fake RSDP must really have landed on GRUB's copy, or the test proves nothing."""
    hv = results["hv"]
    copy = find_line(hv.hv_lines, r"^hv: boot: ACPI RSDP at 0x[0-9a-f]+")
    plant = find_line(hv.guest_lines, r"^~plant: fake RSDP at 0x[0-9a-f]+")
    if not copy or not plant:
        return "missing the hypervisor's RSDP line or the guest's plant line: " + hv.describe()
    at = lambda line: int(re.search(r"0x([0-9a-f]+)", line).group(1), 16)
    if at(copy) != at(plant):
        return ("GRUB's RSDP copy is at %#x, the guest plants at %#x: set RSDP_COPY in "
                "tests/guests/acpiclobber.ld" % (at(copy), at(plant)))
    return None


TESTS = [
    guest_pair_test("acpiclobber", name="guest-acpiclobber", extra_check=_acpiclobber_extra),
]
