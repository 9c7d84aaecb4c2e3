"""Issue 8 item 6: the hypervisor lives at the top of RAM, out of L1's way: a kernel linked
at 2 MiB loads and runs as L1 exactly as bare, with mem_upper up to the hypervisor's range;
under UEFI (our loader and GRUB-EFI) the hypervisor's memory is one range high in RAM too."""
import os

import runner
from hv_layout import hv_ranges
from runner import Run, Test, guest_pair_test

KERNELS_END = 0x1000000  # Multiboot kernels link at 1-2 MiB, Linux at 16 MiB: nothing of ours below


def _link2m_extra(results):
    hvr = hv_ranges(results["hv"].hv_lines)
    if any(b < KERNELS_END for b, _ in hvr):
        return "the hypervisor still keeps memory below 16 MiB: %s" % hvr
    return None


def _uefi_layout_test(name, image):
    """QEMU has no VMX, so the hypervisor stops after placing its memory: enough to see where."""
    run = Run(image, emulator="qemu", firmware="uefi", timeout=90)

    def check(results):
        res = results["qemu"]
        if res.timed_out:
            return "timed out: " + res.describe()
        hvr = hv_ranges(res.hv_lines)
        if len(hvr) != 1:
            return "the hypervisor's memory is not one range (image right above the pool): %s" % hvr
        if hvr[0][0] < KERNELS_END:
            return "the hypervisor keeps memory below 16 MiB: %#x-%#x" % hvr[0]
        return None

    return Test(name, {"qemu": run}, check, needs=[image, runner.ovmf_path() or runner.OVMF_CANDIDATES[0]])


TESTS = [
    guest_pair_test("link2m", name="guest-link2m", extra_check=_link2m_extra),
    _uefi_layout_test("uefi-loader-layout", os.path.join(runner.BUILD, "esp.img")),
    _uefi_layout_test("uefi-grub-layout", os.path.join(runner.BUILD, "efi-test", "cmp-grub.iso")),
]
