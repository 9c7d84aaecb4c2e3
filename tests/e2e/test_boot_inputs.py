"""Issue 8 items 2 and 5: what the boot loader hands over cannot bring the hypervisor down,
and what it cannot take is said, not dropped."""
import os
import re

import runner
from runner import Run, Test, check_guest_run, expect_exit, find_line, guest_image, guest_pair_test, HV_BAD


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


def _badopts_test():
    """Every word the hypervisor does not take is named in a warning, and the guest still runs."""
    run = Run(guest_image("hv", "badopts"))
    expected = {
        "loglevel=abc": r"'loglevel=abc' ignored: expects loglevel=0\.\.3",
        "loglevel=-1": r"'loglevel=-1' ignored: expects loglevel=0\.\.3",
        "e9=maybe": r"'e9=maybe' ignored: expects on or off",
        "frobnicate": r"'frobnicate' ignored: is not an option",
        "colour=blue": r"'colour=blue' ignored: is not an option",
        "hvmem=4G": r"'hvmem=4G' not taken as given .*below 4G.*using 32768 KiB",
    }

    def check(results):
        res = results["hv"]
        why = check_guest_run(run, res, 0, under_hv=True)
        if why:
            return why
        for word, pattern in expected.items():
            if not find_line(res.hv_lines, r"^hv: warning: command line: " + pattern):
                return "no warning naming %r: %s" % (word, res.describe())
        if not find_line(res.hv_lines, r"^hv: mm: pool \[0x[0-9a-f]+-0x[0-9a-f]+\) 32768 KiB"):
            return "hvmem=4G was not refused for the default 32 MiB pool: " + res.describe()
        return None

    return Test("boot-bad-options", {"hv": run}, check, needs=[run.image])


LONG = re.compile(r"long-0{300}")


def _memmapmods_extra(results):
    """L1 sees all 19 modules and the 300-byte command lines whole (the pair comparison proves them equal to bare)."""
    hv = results["hv"]
    if not find_line(hv.guest_lines, r"^modules: 19$"):
        return "L1 does not see the 19 modules: " + hv.describe()
    if not find_line(hv.guest_lines, r'^cmdline: "test=memmap long-0{300}"$'):
        return "L1's own 300-byte command line did not arrive whole"
    if not find_line(hv.guest_lines, r'^module 6: size=\d+ fnv=[0-9a-f]{8} cmdline="mod7 long-0{300}-7"$'):
        return "module 7's 300-byte command line did not arrive whole"
    if find_line(hv.hv_lines, r"^hv: warning"):
        return "a warning although everything was passed: %r" % find_line(hv.hv_lines, r"^hv: warning")
    return None


def _manymods_test():
    """69 modules: the 64 the hypervisor keeps reach L1 (63 after the kernel), the rest are named."""
    run = Run(guest_image("hv", "manymods"))

    def check(results):
        res = results["hv"]
        why = check_guest_run(run, res, 0, under_hv=True)
        if why:
            return why
        if not find_line(res.hv_lines, r'^hv: warning: boot: 6 module\(s\) beyond the first 64 are not passed to L1, '
                                       r'from "mod64 arg64" on$'):
            return "no warning naming the modules left out: " + res.describe()
        if not find_line(res.guest_lines, r"^modules: 63$"):
            return "L1 does not see the 63 modules after its kernel: " + res.describe()
        return None

    return Test("boot-too-many-modules", {"hv": run}, check, needs=[run.image])


def _bigmodule_test():
    """A module guest RAM cannot hold: the bad-module status, the module named, no panic."""
    run = Run(guest_image("hv", "bigmodule"), megs=64)

    def check(results):
        res = results["hv"]
        if res.timed_out:
            return "timed out: " + res.describe()
        bad = find_line(res.hv_lines, HV_BAD)
        if bad:
            return "hypervisor: %r" % bad
        if not find_line(res.hv_lines, r'^hv: boot module 1 \("bigmodule forty-mib", 40960 KiB\) does not fit'):
            return "no line naming the module too large: " + res.describe()
        if res.began:
            return "the guest ran although its module could not be placed"
        why = expect_exit(run, res, runner.HV_EXIT_BAD_MODULE)
        if why or not find_line(res.hv_lines, r"status 0x72\b"):
            return why or "the hypervisor did not report status 0x72: " + res.describe()
        return None

    return Test("boot-module-too-large", {"hv": run}, check, needs=[run.image])


TESTS = [
    guest_pair_test("acpiclobber", name="guest-acpiclobber", extra_check=_acpiclobber_extra),
    _badopts_test(),
    guest_pair_test("memmapmods", name="guest-memmap-many-modules", extra_check=_memmapmods_extra),
    _manymods_test(),
    _bigmodule_test(),
]
