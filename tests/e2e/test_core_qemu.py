"""Issue 2's QEMU tests: GRUB boot paths (BIOS and UEFI) and the clear failure on a CPU without VT-x."""
import os

import runner
from runner import Run, Test, guest_image, check_guest_run, find_line, exit_code_for

HV_ISO = os.path.join(runner.BUILD, "hv.iso")


def _novmx_test(firmware):
    run = Run(HV_ISO, emulator="qemu", firmware=firmware, timeout=90)

    def check(results):
        res = results["qemu"]
        if res.timed_out:
            return "timed out: " + res.describe()
        said = find_line(res.hv_lines, r"(?i)(vt-x|vmx).*(not |unavailable|no |missing|unsupported|absent|without)"
                                       r"|(no |without |missing ).*(vt-x|vmx)")
        if not said:
            return "no hypervisor line saying VT-x is unavailable: " + res.describe()
        want = exit_code_for(run, runner.HV_EXIT_NO_VMX)
        if res.exit_code != want:
            return "exit code %s, expected %d (HV_EXIT_NO_VMX): %s" % (res.exit_code, want, res.describe())
        return None

    needs = [HV_ISO] + ([runner.ovmf_path() or runner.OVMF_CANDIDATES[0]] if firmware == "uefi" else [])
    return Test("qemu-novmx-" + firmware, {"qemu": run}, check, needs=needs)


def _grub_test(firmware):
    run = Run(guest_image("bare", "hello"), emulator="qemu", firmware=firmware, timeout=90)

    def check(results):
        res = results["qemu"]
        why = check_guest_run(run, res, 0)
        if why:
            return why
        if not find_line(res.body, r'^command line: "test=hello\s*"$'):
            return "the guest did not get its command line from GRUB: " + res.describe()
        return None

    needs = [run.image] + ([runner.ovmf_path() or runner.OVMF_CANDIDATES[0]] if firmware == "uefi" else [])
    return Test("qemu-grub-" + firmware, {"qemu": run}, check, needs=needs)


TESTS = [
    _grub_test("bios"),
    _grub_test("uefi"),
    _novmx_test("bios"),
    _novmx_test("uefi"),
]
