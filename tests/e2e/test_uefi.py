"""UEFI boot paths in QEMU+OVMF: our GNU-EFI loader (boot/efi) and GRUB's multiboot2, and the boot info each hands over.

Images (built by `make images-hv`, see boot/efi/efi.mk):
  build/esp.img                the ESP: BOOTX64.EFI, HV.CFG, hv.elf, the hello guest
  build/efi-test/esp.img       the same loader with a stand-in hypervisor (boot/efi/test/stub_hv.c)
  build/efi-test/esp-nohv.img  the real HV.CFG but no hv.elf; startup.nsh powers off from the shell
  build/hv.iso                 GRUB (BIOS+UEFI hybrid), multiboot2 + module2 (tests/images.mk)
  build/efi-test/cmp-esp.img, cmp-grub.iso
                               one ESP/ISO pair with a real command line and two modules
OVMF boots a FAT image given as the CD (-cdrom, as the runner passes images) like a USB stick.

Tests:
  uefi-loader-stub      the loader alone: the stand-in sees the boot_info the loader dumped just
                        before the jump, byte for byte, with .bss zeroed and interrupts off;
                        its HV.CFG spoils the first map key, so the ExitBootServices retry runs
  uefi-loader-hv        (a) loader -> hypervisor: the hypervisor's "hv: boot:" lines say UEFI and
                        agree with the loader's own dump; clear no-VT-x message; HV_EXIT_NO_VMX
  uefi-vs-grub          (b) the same hypervisor via our loader and via GRUB-EFI multiboot2:
                        the boot info must describe the same machine (see _compare)
  uefi-vs-grub-args     (b) again with the cmp pair, whose arguments are known and not empty
  uefi-loader-missing-hv (c) no hypervisor file: a specific loader error, control back to the
                        firmware (its boot manager reaches the shell), no hypervisor output

What must agree between our loader and GRUB-EFI (_compare), and why only that:
  - the hypervisor command line, and each module's command line (blank-normalized: GRUB
    re-joins its argv) and byte size: both read the same files with the same arguments;
  - an ACPI RSDP is present in both (GRUB passes a copy inside its MBI, so addresses differ);
  - usable RAM within 2% (or 4 MiB): the firmware is the same, but each loader's own
    allocations and GRUB's map conversion shift page-sized pieces between types;
  - every ACPI data/NVS range below 4 GiB that one map has is also in the other (the firmware
    placed those before either loader ran), and neither map has overlapping ranges.
  The exact range lists differ (GRUB splits and types boot-services memory its own way).
"""
import os
import re

import runner
from runner import Run, Test, find_line, exit_code_for

ESP = os.path.join(runner.BUILD, "esp.img")
STUB_ESP = os.path.join(runner.BUILD, "efi-test", "esp.img")
NOHV_ESP = os.path.join(runner.BUILD, "efi-test", "esp-nohv.img")
HV_ISO = os.path.join(runner.BUILD, "hv.iso")
CMP_ESP = os.path.join(runner.BUILD, "efi-test", "cmp-esp.img")
CMP_ISO = os.path.join(runner.BUILD, "efi-test", "cmp-grub.iso")
GUEST = os.path.join(runner.BUILD, "guests", "hello.elf")
STUB_MODULE = os.path.join(runner.BUILD, "efi-test", "HV.CFG")  # the stub ESP loads it as its module
STUB_EXIT = 0x42
LOADER_NAME = "hvboot (GNU-EFI)"
NO_VTX = (r"(?i)(vt-x|vmx).*(not |unavailable|no |missing|unsupported|absent|without)"
          r"|(no |without |missing ).*(vt-x|vmx)")  # one (?i) at the start: Python 3.11 rejects more

# Both dumps name types differently; compare in E820 numbers.
LOADER_TYPES = {"usable": 1, "reserved": 2, "acpi-reclaim": 3, "acpi-nvs": 4, "bad": 5}
HV_TYPES = {"usable": 1, "reserved": 2, "ACPI data": 3, "ACPI NVS": 4, "unusable": 5}


def _ovmf():
    return runner.ovmf_path() or runner.OVMF_CANDIDATES[0]


def _uefi_run(image, timeout=90):
    return Run(image, emulator="qemu", firmware="uefi", timeout=timeout)


def _dedup(lines):
    """Before ExitBootServices the loader's lines reach COM1 twice (ConOut's serial terminal and
    our direct write); keep each consecutive line once."""
    out = []
    for l in lines:
        if not out or out[-1] != l:
            out.append(l)
    return out


class BootInfo:
    """One boot_info as printed by the loader ("hvboot: ...") or by the hypervisor ("hv: boot: ...")."""

    def __init__(self):
        self.source = self.loader = self.cmdline = None
        self.mmap = []      # (base, end_inclusive, e820 type)
        self.modules = []   # (start, end, cmdline)
        self.rsdp = None
        self.usable_kib = None

    def usable(self):
        return sum(e - b + 1 for b, e, t in self.mmap if t == 1)

    def problems(self):
        """Structural faults of the map: unsorted, overlapping, unknown types."""
        for (b0, e0, t0), (b1, e1, t1) in zip(self.mmap, self.mmap[1:]):
            if b1 <= e0:
                return "ranges overlap or are unsorted: %#x-%#x and %#x-%#x" % (b0, e0, b1, e1)
        if any(t is None for _, _, t in self.mmap):
            return "a range of unknown type"
        return None


def parse_loader(lines):
    """The loader's pre-jump dump (boot/efi/bi_dump.c format), with an optional prefix such as "stub: "."""
    bi = BootInfo()
    for l in lines:
        m = re.match(r'hvboot: boot_info source=(\S+) loader="(.*)"$', l)
        if m:
            bi.source, bi.loader = m.group(1), m.group(2)
        m = re.match(r'hvboot: cmdline="(.*)"$', l)
        if m:
            bi.cmdline = m.group(1)
        m = re.match(r"hvboot: mmap (0x[0-9a-f]+)-(0x[0-9a-f]+) (\S+)$", l)
        if m:
            bi.mmap.append((int(m.group(1), 16), int(m.group(2), 16), LOADER_TYPES.get(m.group(3))))
        m = re.match(r"hvboot: mmap ranges=\d+ usable_kib=(\d+)", l)
        if m:
            bi.usable_kib = int(m.group(1))
        m = re.match(r'hvboot: module \d+ (0x[0-9a-f]+)-(0x[0-9a-f]+) cmdline="(.*)"$', l)
        if m:
            bi.modules.append((int(m.group(1), 16), int(m.group(2), 16), m.group(3)))
        m = re.match(r"hvboot: acpi_rsdp=(0x[0-9a-f]+)", l)
        if m:
            bi.rsdp = int(m.group(1), 16)
    return bi


def parse_hv(lines):
    """The hypervisor's boot_info_print() lines (hv/boot_info.c format)."""
    bi = BootInfo()
    for l in lines:
        m = re.match(r'hv: boot: source (\S+), loader "(.*)"$', l)
        if m:
            bi.source, bi.loader = m.group(1), m.group(2)
        m = re.match(r'hv: boot: cmdline "(.*)"$', l)
        if m:
            bi.cmdline = m.group(1)
        m = re.match(r"hv: boot: mem \[(0x[0-9a-f]+)-(0x[0-9a-f]+)\] (.+?)\s*$", l)
        if m:
            bi.mmap.append((int(m.group(1), 16), int(m.group(2), 16), HV_TYPES.get(m.group(3))))
        m = re.match(r"hv: boot: usable RAM (\d+) KiB", l)
        if m:
            bi.usable_kib = int(m.group(1))
        m = re.match(r'hv: boot: module \d+ \[(0x[0-9a-f]+)-(0x[0-9a-f]+)\) \d+ bytes "(.*)"$', l)
        if m:
            bi.modules.append((int(m.group(1), 16), int(m.group(2), 16), m.group(3)))
        m = re.match(r"hv: boot: ACPI RSDP at (0x[0-9a-f]+)", l)
        if m:
            bi.rsdp = int(m.group(1), 16)
    return bi


def _words(s):
    return " ".join(s.split())


def _check_loader_dump(bi, cmdline, module_args, module_size):
    """The loader's own view: what HV.CFG asked for, and a sane map."""
    if bi.source != "uefi" or bi.loader != LOADER_NAME:
        return "loader dump: source %r loader %r" % (bi.source, bi.loader)
    if bi.cmdline != cmdline:
        return "loader dump: cmdline %r, expected %r" % (bi.cmdline, cmdline)
    if len(bi.modules) != 1 or bi.modules[0][2] != module_args:
        return "loader dump: modules %r, expected one with %r" % (bi.modules, module_args)
    start, end, _ = bi.modules[0]
    if end - start != module_size or start % 4096 or end > 1 << 32:
        return "loader dump: module [%#x-%#x) is not %d bytes, page-aligned, below 4 GiB" % (start, end, module_size)
    if not bi.mmap or bi.problems():
        return "loader dump: memory map: %s" % (bi.problems() or "empty")
    for (b0, e0, t0), (b1, e1, t1) in zip(bi.mmap, bi.mmap[1:]):
        if e0 + 1 == b1 and t0 == t1:
            return "loader dump: adjacent ranges of one type not merged at %#x" % b1
    if not any(b <= 0x200000 and e >= 0x7fffff and t == 1 for b, e, t in bi.mmap):
        return "loader dump: the hypervisor window 2-8 MiB is not inside one usable range"
    if not bi.rsdp:
        return "loader dump: no ACPI RSDP"
    if bi.usable_kib != bi.usable() >> 10:
        return "loader dump: usable_kib %s disagrees with its ranges" % bi.usable_kib
    return None


def _hv_cmdline_from_cfg():
    """HV.CFG's cmdline= as built (build/efi/HV.CFG), so the test follows ESP_HV_ARGS."""
    try:
        with open(os.path.join(runner.BUILD, "efi", "HV.CFG")) as f:
            for line in f:
                if line.strip().startswith("cmdline="):
                    return line.strip()[len("cmdline="):].strip()
    except OSError:
        pass
    return ""


# ---- (0) the loader alone --------------------------------------------------------

def _stub_test():
    run = _uefi_run(STUB_ESP, timeout=60)

    def check(results):
        res = results["qemu"]
        if res.timed_out or res.exit_code != exit_code_for(run, STUB_EXIT):
            return "the stand-in did not end the run with 0x%x: %s" % (STUB_EXIT, res.describe())
        # HV.CFG's test_stale_map_key: the first ExitBootServices must fail and the retry succeed.
        for want in ("stub: boot_info magic ok", "stub: bss zeroed", "stub: interrupts disabled",
                     "hvboot: ExitBootServices attempts=2"):
            if want not in res.lines:
                return "missing %r: %s" % (want, res.describe())
        before = [l for l in res.lines if l.startswith("hvboot: ")
                  and not l.startswith(("hvboot: entering", "hvboot: ExitBootServices"))]
        # The loader's dump starts at its "boot_info" line (earlier lines are the ConOut progress note).
        first = next((i for i, l in enumerate(before) if l.startswith("hvboot: boot_info ")), None)
        if first is None:
            return "no loader dump before the jump: " + res.describe()
        before = before[first:]
        after = [l[len("stub: "):] for l in res.lines if l.startswith("stub: hvboot: ")]
        if before != after:
            return "boot_info changed across the jump: loader %d lines, stand-in %d lines" % (len(before), len(after))
        return _check_loader_dump(parse_loader(before), "stub-args one=1", "stub-module-args two=2",
                                  os.path.getsize(STUB_MODULE))

    return Test("uefi-loader-stub", {"qemu": run}, check, needs=[STUB_ESP, _ovmf()])


# ---- (a) loader -> hypervisor ----------------------------------------------------

def _check_novmx(run, res):
    if res.timed_out:
        return "timed out: " + res.describe()
    if not find_line([l for l in res.lines if l.startswith("hv:")], NO_VTX):
        return "no hypervisor line saying VT-x is unavailable: " + res.describe()
    want = exit_code_for(run, runner.HV_EXIT_NO_VMX)
    if res.exit_code != want:
        return "exit code %s, expected %d (HV_EXIT_NO_VMX): %s" % (res.exit_code, want, res.describe())
    return None


def _check_loader_hv(run, res):
    why = _check_novmx(run, res)
    if why:
        return why
    loader = parse_loader(_dedup(res.lines))
    why = _check_loader_dump(loader, _hv_cmdline_from_cfg(), "test=hello", os.path.getsize(GUEST))
    if why:
        return why
    hv = parse_hv(res.lines)
    if hv.source != "UEFI" or hv.loader != LOADER_NAME:
        return "hypervisor says source %r loader %r, expected UEFI %r" % (hv.source, hv.loader, LOADER_NAME)
    for what in ("cmdline", "mmap", "modules", "rsdp"):
        if getattr(hv, what) != getattr(loader, what):
            return "hypervisor's %s %r differs from what the loader handed over %r" % (
                what, getattr(hv, what), getattr(loader, what))
    return None


def _loader_hv_test():
    run = _uefi_run(ESP)
    return Test("uefi-loader-hv", {"qemu": run}, lambda r: _check_loader_hv(run, r["qemu"]),
                needs=[ESP, GUEST, _ovmf()])


# ---- (b) our loader vs GRUB-EFI multiboot2 ---------------------------------------

def _acpi_ranges(bi):
    return {(b, e, t) for b, e, t in bi.mmap if t in (3, 4) and e < 1 << 32}


def _compare(ours, grub):
    """What must agree between the two boot paths (see the module docstring)."""
    if ours.cmdline is None or grub.cmdline is None or _words(ours.cmdline) != _words(grub.cmdline):
        return "command lines differ: UEFI %r, GRUB %r" % (ours.cmdline, grub.cmdline)
    if len(ours.modules) != len(grub.modules) or not ours.modules:
        return "module counts differ: UEFI %d, GRUB %d" % (len(ours.modules), len(grub.modules))
    for i, (a, b) in enumerate(zip(ours.modules, grub.modules)):
        if _words(a[2]) != _words(b[2]):
            return "module %d command lines differ: UEFI %r, GRUB %r" % (i, a[2], b[2])
        if a[1] - a[0] != b[1] - b[0]:
            return "module %d sizes differ: UEFI %d, GRUB %d" % (i, a[1] - a[0], b[1] - b[0])
    if not ours.rsdp or not grub.rsdp:
        return "ACPI RSDP missing: UEFI %r, GRUB %r" % (ours.rsdp, grub.rsdp)
    for name, bi in (("UEFI", ours), ("GRUB", grub)):
        why = bi.problems()
        if why:
            return "%s memory map: %s" % (name, why)
    a, b = ours.usable(), grub.usable()
    if abs(a - b) > max(4 << 20, max(a, b) // 50):
        return "usable RAM differs by more than 2%%: UEFI %d KiB, GRUB %d KiB" % (a >> 10, b >> 10)
    if _acpi_ranges(ours) != _acpi_ranges(grub):
        return "ACPI ranges differ: only UEFI %s, only GRUB %s" % (
            sorted(_acpi_ranges(ours) - _acpi_ranges(grub)), sorted(_acpi_ranges(grub) - _acpi_ranges(ours)))
    return None


def _vs_grub_test(name, esp, iso, expect=None):
    """expect: (cmdline, [module command lines]) both paths must show, when the images fix them."""
    runs = {"loader": _uefi_run(esp), "grub": _uefi_run(iso)}

    def check(results):
        for rname, run in runs.items():
            why = _check_novmx(run, results[rname])
            if why:
                return "%s: %s" % (rname, why)
        ours, grub = parse_hv(results["loader"].lines), parse_hv(results["grub"].lines)
        if ours.source != "UEFI" or grub.source != "multiboot2":
            return "sources %r and %r, expected UEFI and multiboot2" % (ours.source, grub.source)
        if expect:
            got = (_words(ours.cmdline or ""), [_words(m[2]) for m in ours.modules])
            if got != expect:
                return "the hypervisor got %r, expected %r" % (got, expect)
        return _compare(ours, grub)

    return Test(name, runs, check, needs=[esp, iso, _ovmf()])


# ---- (c) the loader's error path ---------------------------------------------------

def _missing_hv_test():
    run = _uefi_run(NOHV_ESP, timeout=60)

    def check(results):
        res = results["qemu"]
        if not find_line(res.lines, r"^hvboot: error: cannot open hypervisor \\hv\.elf: Not Found$"):
            return "no loader message naming the missing file: " + res.describe()
        if not find_line(res.lines, r"^hvboot: error: not booting; returning Not Found to the firmware$"):
            return "the loader did not report returning to the firmware: " + res.describe()
        hv = [l for l in res.lines if l.startswith("hv:")]
        if hv:
            return "hypervisor output although there is no hypervisor: %r" % hv[0]
        # Back in the firmware: its boot manager goes on to the next option, then the shell.
        back = find_line(res.lines, r"BdsDxe: failed to start .*: Not Found")
        if not back:
            return "the firmware did not get control back (no BdsDxe line after the error): " + res.describe()
        if res.timed_out:
            return None  # bounded either way; the shell's startup.nsh normally powers off first
        if res.exit_code != 0 or "startup.nsh: the loader returned to the firmware; powering off" not in res.lines:
            return "expected the shell's power-off (exit 0): " + res.describe()
        return None

    return Test("uefi-loader-missing-hv", {"qemu": run}, check, needs=[NOHV_ESP, _ovmf()])


TESTS = [
    _stub_test(),
    _loader_hv_test(),
    _vs_grub_test("uefi-vs-grub", ESP, HV_ISO),
    # boot/efi/efi.mk's CMP_* variables: a real command line and two modules.
    _vs_grub_test("uefi-vs-grub-args", CMP_ESP, CMP_ISO,
                  ("loglevel=2 compare=uefi-vs-grub", ["test=hello two words", "module-arg one two"])),
    _missing_hv_test(),
]
