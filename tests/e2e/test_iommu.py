"""Issue 12's QEMU tests: VT-d programmed before the no-VT-x stop, DMA into the hypervisor blocked, into L1 allowed.

QEMU's q35 has a VT-d unit (-device intel-iommu) and a DMA-capable test device (-device edu); Bochs has
neither. The hypervisor's debug_dma_test option makes it drive edu itself, then it stops as on any CPU
without VT-x (QEMU TCG has none). A run with iommu=off on the same machine is the control: there the same
DMAs and the forged interrupt get through, so the checks below are not vacuous.
"""
import os
import re
import struct

import runner
from runner import Run, Test, find_line, exit_code_for

HV_EXIT_NO_IOMMU = 0x74
VTD = ["-machine", "q35", "-device", "intel-iommu,intremap=on"]
EDU = ["-device", "edu,dma_mask=0xffffffff"]


def _image(variant):
    return os.path.join(runner.BUILD, "iso", "hv-%s.iso" % variant)


def _run(variant, qemu_args, firmware="bios"):
    return Run(_image(variant), emulator="qemu", firmware=firmware, qemu_args=qemu_args, timeout=90)


def _stopped_for_no_vmx(run, res):
    """None if the run ended as on a CPU without VT-x, else why not."""
    if res.timed_out:
        return "timed out: " + res.describe()
    if not find_line(res.hv_lines, r"^hv: VT-x is not available"):
        return "no 'VT-x is not available' line: " + res.describe()
    if res.exit_code != exit_code_for(run, runner.HV_EXIT_NO_VMX):
        return "exit code %s, expected HV_EXIT_NO_VMX: %s" % (res.exit_code, res.describe())
    return None


def _index(lines, pattern):
    rx = re.compile(pattern)
    return next((i for i, l in enumerate(lines) if rx.search(l)), -1)


def _dma_blocked_test(firmware):
    run = _run("hellodma", VTD + EDU, firmware)

    def check(results):
        res = results["qemu"]
        why = _stopped_for_no_vmx(run, res)
        if why:
            return why
        hv = res.hv_lines
        on = _index(hv, r"^hv: iommu: DMA remapping on in 1 unit\(s\)")
        novmx = _index(hv, r"^hv: VT-x is not available")
        if on < 0 or on > novmx:
            return "VT-d was not programmed before the no-VT-x stop: " + res.describe()
        if find_line(hv, r"DMA is unprotected"):
            return "said DMA is unprotected with a VT-d unit present"
        if not find_line(hv, r"^hv: dma test: device write into L1 memory at 0x[0-9a-f]+: allowed, the bytes arrived$"):
            return "the DMA into L1's memory did not arrive"
        w = find_line(hv, r"^hv: dma test: device write into hypervisor memory at (0x[0-9a-f]+): ")
        if not w or not re.search(r": blocked, 1 fault\(s\) reported, the bytes did not change$", w):
            return "the DMA write into the hypervisor was not blocked and reported: %r" % w
        addr = re.search(r"at (0x[0-9a-f]+):", w).group(1)
        fault = r"^hv: iommu: DMA fault: device 00:0[0-9a-f]\.0 write at %s: write to a page not writable" % addr
        if not find_line(hv, fault):
            return "no fault line naming the device, %s and the reason" % addr
        if not find_line(hv, r"^hv: dma test: device read of hypervisor memory at %s: blocked, 1 fault\(s\) reported" % addr):
            return "the DMA read of hypervisor memory was not blocked"
        if not find_line(hv, r"^hv: iommu: DMA fault: device 00:0[0-9a-f]\.0 read at %s: read of a page not readable" % addr):
            return "no fault line for the blocked read"
        if not find_line(hv, r"^hv: dma test: device interrupt in compatibility format: delivered"):
            return "the control interrupt (compatibility format) was not delivered"
        if not find_line(hv, r"^hv: dma test: device interrupt in remappable format, entry 0: blocked, not delivered$"):
            return "the forged remappable-format interrupt was not blocked"
        return None

    needs = [run.image] + ([runner.ovmf_path() or runner.OVMF_CANDIDATES[0]] if firmware == "uefi" else [])
    return Test("iommu-dma-blocked-qemu" + ("-uefi" if firmware == "uefi" else ""), {"qemu": run}, check, needs=needs)


def _dma_control_test():
    """iommu=off on the same machine: the DMAs and the interrupt get through, so the test above can fail."""
    run = _run("hellodmaoff", VTD + EDU)

    def check(results):
        res = results["qemu"]
        why = _stopped_for_no_vmx(run, res)
        if why:
            return why
        hv = res.hv_lines
        said = [l for l in hv if "DMA is unprotected" in l]
        if len(said) != 1 or "iommu=off" not in said[0]:
            return "expected one 'DMA is unprotected' line naming iommu=off, got %r" % said
        for pattern in (r"device write into hypervisor memory at 0x[0-9a-f]+: NOT blocked",
                        r"device read of hypervisor memory at 0x[0-9a-f]+: NOT blocked",
                        r"device interrupt in remappable format, entry 0: delivered, NOT blocked"):
            if not find_line(hv, pattern):
                return "the unprotected control run did not show %r" % pattern
        return None

    return Test("iommu-dma-control-qemu", {"qemu": run}, check, needs=[run.image])


def _no_dmar_test():
    run = _run("hello", ["-machine", "q35"])

    def check(results):
        res = results["qemu"]
        why = _stopped_for_no_vmx(run, res)
        if why:
            return why
        said = [l for l in res.hv_lines if "DMA is unprotected" in l]
        if len(said) != 1 or "no ACPI DMAR table" not in said[0]:
            return "expected exactly one 'DMA is unprotected' line naming the missing DMAR table, got %r" % said
        return None

    return Test("iommu-none-unprotected-qemu", {"qemu": run}, check, needs=[run.image])


def _required_test(with_vtd):
    run = _run("helloiommureq", (VTD if with_vtd else ["-machine", "q35"]))

    def check(results):
        res = results["qemu"]
        if with_vtd:
            why = _stopped_for_no_vmx(run, res)
            if why:
                return why
            if not find_line(res.hv_lines, r"^hv: iommu: DMA remapping on in 1 unit"):
                return "iommu=required with a VT-d unit did not turn it on: " + res.describe()
            return None
        if res.timed_out:
            return "timed out: " + res.describe()
        if not find_line(res.hv_lines, r"^hv: iommu=required, but there is no ACPI DMAR table .*: refusing to start"):
            return "no refusal line: " + res.describe()
        if find_line(res.hv_lines, r"VT-x"):
            return "went on past the refusal"
        if res.exit_code != exit_code_for(run, HV_EXIT_NO_IOMMU):
            return "exit code %s, expected HV_EXIT_NO_IOMMU (0x74): %s" % (res.exit_code, res.describe())
        return None

    name = "iommu-required-%s-qemu" % ("vtd" if with_vtd else "refused")
    return Test(name, {"qemu": run}, check, needs=[run.image])


def _dmar_table(body):
    """An ACPI DMAR table (VT-d spec 8.1) around body, with a valid ACPI checksum: only the inside is broken."""
    length = 48 + len(body)
    t = bytearray(b"DMAR" + struct.pack("<IBB6s8sI4sI", length, 1, 0, b"HVTEST", b"BROKEN  ", 1, b"HVTS", 1)
                  + bytes([38, 1]) + bytes(10) + body)
    t[9] = (-sum(t)) & 0xff
    return bytes(t)


# Broken tables QEMU hands to the firmware as they are (-acpitable): the hypervisor must refuse them and go on.
_BROKEN = {
    # A PCI endpoint scope claiming 32 bytes inside a DRHD that holds 8 of them.
    "scope-overrun": (struct.pack("<HHBBHQ", 0, 24, 1, 0, 0, 0xfed90000) + bytes([1, 0x20, 0, 0, 0, 0, 2, 0]),
                      r"malformed at offset 48: a device scope's length is malformed or runs past its structure"),
    # A structure of length 2: a parser trusting it would never advance.
    "struct-len-2": (struct.pack("<HH", 0, 2) + bytes(12),
                     r"malformed at offset 48: a structure's length is too small or runs past the table"),
}


def _broken_dmar_test(name):
    body, said_re = _BROKEN[name]
    path = os.path.join(runner.BUILD, "iommu", "dmar-%s.bin" % name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(_dmar_table(body))
    run = _run("hello", ["-machine", "q35", "-acpitable", "file=" + path])

    def check(results):
        res = results["qemu"]
        why = _stopped_for_no_vmx(run, res)
        if why:
            return "the hypervisor did not survive the broken DMAR table: " + why
        said = [l for l in res.hv_lines if "DMA is unprotected" in l]
        if len(said) != 1 or not re.search(said_re, said[0]):
            return "expected one 'DMA is unprotected' line naming the defect, got %r" % said
        return None

    return Test("iommu-broken-dmar-%s-qemu" % name, {"qemu": run}, check, needs=[run.image, path])


TESTS = [
    _dma_blocked_test("bios"),
    _dma_blocked_test("uefi"),
    _dma_control_test(),
    _no_dmar_test(),
    _required_test(False),
    _required_test(True),
    _broken_dmar_test("scope-overrun"),
    _broken_dmar_test("struct-len-2"),
]
