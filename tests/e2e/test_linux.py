"""Issue 5's Linux tests: Debian's kernel booted bare and as L1 under the hypervisor in Bochs, compared; KVM inside L1."""
import os
import re

import runner
from runner import Run, Test, find_line, markers

LINUX_DIR = os.path.join(runner.BUILD, "linux")
BARE_ISO = os.path.join(LINUX_DIR, "bare.iso")   # GRUB linux/initrd, clearcpuid=fsrm (make linux-images)
HV_ISO = os.path.join(LINUX_DIR, "hv-linux.iso")  # hv.elf + module2 vmlinuz/initrd (make linux-iso)
MEGS = 512
# A boot takes about 50 s bare in Bochs; the bound catches hangs, not slowness.
TIMEOUT = 400
BOUND_S = 300
SMP_TIMEOUT = 700  # Bochs emulates both CPUs in turn: a 2-CPU boot takes about twice as long
SMP_BOUND_S = 600

# Nested VMX is offered with EPT, VPID, unrestricted guest, PML and virtualized APIC accesses: KVM in L1 must
# load with the parameters it gets on bare Bochs and run the test VMs (on the shadow EPT). One expected
# difference: VMCS shadowing is the hypervisor's own (for L1's VMREAD/VMWRITE), not offered to L1, so KVM in
# L1 has enable_shadow_vmcs=N (it would only serve an L3).
KVM_PARAMS = "ept=Y unrestricted_guest=Y vpid=Y pml=Y enable_apicv=N flexpriority=Y enable_shadow_vmcs=Y"
KVM_PARAMS_L1 = KVM_PARAMS.replace("enable_shadow_vmcs=Y", "enable_shadow_vmcs=N")
KVMTEST_EXITS = ["KVMTEST: exit 0: IO (2) port=0x10 size=1",
                 "KVMTEST: exit 1: IO (2) port=0x11 size=4",
                 "KVMTEST: exit 2: HLT (5)"]
# kvmtest's second VM (tests/linux/kvmtest_vm2.c): 2 vCPUs in long mode, each writing and reading back 512
# fresh pages (an EPT fault per page in KVM; nested, each is reflected to L1's KVM and then fills the shadow
# EPT). The sums are the program's own fold of the values written: the same on any correct CPU.
KVMTEST_VM2 = ["KVMTEST: vm2 created: 2 vCPUs in long mode, 4-KiB paging, 512 pages each",
               "KVMTEST: vm2 vcpu0 pages=512 sum=0x20a10197dc3b8116 hlt",
               "KVMTEST: vm2 vcpu1 pages=512 sum=0xcb25c94753231c57 hlt",
               "KVMTEST: vm2 PASS (2 vCPUs in long mode wrote and read back 512 pages each)"]
POWER_OFF = "ACPI control: soft power off"  # Bochs' log line when the guest enters S5

RUNS = {"bare": Run(BARE_ISO, megs=MEGS, timeout=TIMEOUT),
        "l1": Run(HV_ISO, megs=MEGS, timeout=TIMEOUT),
        "l1_smp": Run(HV_ISO, megs=MEGS, timeout=SMP_TIMEOUT, cpus=2)}


def _boot(name):
    """The three tests share one bare and one L1 boot; booted here rather than in Test.runs so that
    each one is timed and reused."""
    return runner.boot_once(RUNS[name], os.path.join(runner.LOG_ROOT, "linux", name))


def _uptime(mk, key):
    m = re.search(r"uptime=([0-9.]+)", mk.get(key, ""))
    return m.group(1) if m else "-"


def _reached_init_and_off(name, res, bound=BOUND_S):
    """None if Linux reached /init and powered the machine off (ACPI S5) within the bound, else why."""
    mk = markers(res)
    if res.timed_out:
        return "%s: timed out: %s" % (name, res.describe())
    if "init" not in mk:
        return "%s: never reached /init: %s" % (name, res.describe())
    if "poweroff" not in mk or POWER_OFF not in res.bochs_log:
        return "%s: did not power off cleanly (%s): %s" % (
            name, "poweroff=" + mk.get("poweroff", "-"), res.describe())
    if res.exit_code != 1:  # Bochs quits with 1 on ACPI soft-off
        return "%s: Bochs exit code %s after power-off, expected 1" % (name, res.exit_code)
    if res.wall > bound:
        return "%s: took %.0f s, more than %d s" % (name, res.wall, bound)
    return None


def kvmtest_lines(res, prefix="KVMTEST:"):
    return [l.strip() for l in res.lines if l.startswith(prefix)]


def _vm2_works(name, res):
    """None if kvmtest's long-mode 2-vCPU VM printed exactly its expected lines."""
    got = kvmtest_lines(res, "KVMTEST: vm2")
    if got != KVMTEST_VM2:
        fails = kvmtest_lines(res, "KVMTEST: FAIL")
        return "%s: kvmtest vm2 lines %s, expected %s%s" % (
            name, got, KVMTEST_VM2, (" (%s)" % " | ".join(fails)) if fails else "")
    return None


def _kvm_works(name, res, params=KVM_PARAMS):
    """None if kvm_intel loaded with the expected parameters and kvmtest saw exactly its exits in both VMs."""
    mk = markers(res)
    for mod in ("irqbypass", "kvm", "kvm-intel"):
        if mk.get("insmod_" + mod) != "ok":
            return "%s: insmod %s: %s" % (name, mod, mk.get("insmod_" + mod, "no marker"))
    if mk.get("kvm_intel_params") != params:
        return "%s: kvm_intel parameters %r, expected %r" % (name, mk.get("kvm_intel_params"), params)
    got = [l.strip() for l in res.lines if l.startswith("KVMTEST: exit")]
    if got != KVMTEST_EXITS:
        return "%s: kvmtest exits %s, expected %s" % (name, got, KVMTEST_EXITS)
    if not find_line(res.lines, r"^KVMTEST: PASS"):
        return "%s: kvmtest: %s" % (name, find_line(res.lines, r"^KVMTEST: FAIL") or "no verdict")
    return _vm2_works(name, res)


def _hv_kept_kib(res):
    """KiB the hypervisor keeps from the guest, from its "hv: mm: image/pool [...) N KiB" lines."""
    kib = [int(m.group(1)) for l in res.hv_lines
           for m in [re.match(r"^hv: mm: (?:image|pool) \[.*\) (\d+) KiB", l)] if m]
    return sum(kib) if kib else None


def _compare_memory(bare_mk, l1_mk, l1):
    """L1 sees bare's MemTotal less what the hypervisor keeps (2 MiB slack for the kernel's own rounding)."""
    b, h = int(bare_mk["memtotal_kb"]), int(l1_mk["memtotal_kb"])
    kept = _hv_kept_kib(l1)
    diff = b - h
    print("  memory: bare MemTotal %d KiB, L1 %d KiB, difference %d KiB, hypervisor keeps %s KiB"
          % (b, h, diff, kept if kept is not None else "?"))
    if diff < 0:
        return "L1 has more memory (%d KiB) than bare (%d KiB)" % (h, b)
    if kept is None:
        return None if diff < b // 4 else "L1 lost %d KiB of %d without the hypervisor saying why" % (diff, b)
    if abs(diff - kept) > 2048:
        return "L1 MemTotal %d KiB: bare %d KiB minus the hypervisor's %d KiB is off by %d KiB" % (
            h, b, kept, diff - kept)
    return None


def _compare_devices(bare_mk, l1_mk):
    for key in ("cpus", "pci", "serial", "block"):
        if bare_mk.get(key) != l1_mk.get(key):
            return "%s differs: bare %r, L1 %r" % (key, bare_mk.get(key), l1_mk.get(key))
    return None


def _report_times(bare, l1):
    bm, lm = markers(bare), markers(l1)
    print("  wall: bare %.1f s, L1 %.1f s (ratio %.2f); guest uptime at /init bare %s s, L1 %s s;"
          " at power-off bare %s s, L1 %s s"
          % (bare.wall, l1.wall, l1.wall / bare.wall if bare.wall else 0,
             _uptime(bm, "init"), _uptime(lm, "init"), _uptime(bm, "poweroff"), _uptime(lm, "poweroff")))
    exits = [l for l in l1.hv_lines if l.startswith("hv: exits:")]
    print("  L1 exits: %s" % (" | ".join(exits) if exits else
                              "no \"hv: exits:\" line (L1's ACPI power-off ends Bochs before the hypervisor reports)"))


def _check_bare(_results):
    bare = _boot("bare")
    why = _reached_init_and_off("bare", bare)
    why = why or _kvm_works("bare", bare)
    if why:
        return why
    mk = markers(bare)
    print("  bare: wall %.1f s, cpus=%s memtotal_kb=%s, /init at uptime %s s, kvmtest %s"
          % (bare.wall, mk.get("cpus"), mk.get("memtotal_kb"), _uptime(mk, "init"), _kvmtest_time(bare)))
    return None


def _l1_loaded(l1):
    """None if the hypervisor took the module as Linux and stayed healthy."""
    bad = find_line(l1.hv_lines, runner.HV_BAD)
    if bad:
        return "hypervisor: %r" % bad
    if not find_line(l1.hv_lines, r"^hv: linux: boot protocol"):
        err = find_line(l1.hv_lines, r"^hv: linux:") or "no \"hv: linux:\" line"
        return "the hypervisor did not load the kernel: %s (%s)" % (err, l1.describe())
    return None


def _check_l1(_results):
    bare, l1 = _boot("bare"), _boot("l1")
    why = _reached_init_and_off("bare", bare) or _l1_loaded(l1) or _reached_init_and_off("l1", l1)
    if why:
        return why
    _report_times(bare, l1)
    bm, lm = markers(bare), markers(l1)
    if "clearcpuid" in lm.get("cmdline", ""):
        return "L1 was booted with clearcpuid: the FSRM workaround must not be needed under the hypervisor"
    return _compare_devices(bm, lm) or _compare_memory(bm, lm, l1)


def _kvmtest_time(res):
    """Guest seconds kvmtest took (its start and end markers' uptimes), for the report."""
    mk = markers(res)
    try:
        return "%.2f s" % (float(_uptime(mk, "kvmtest_end")) - float(_uptime(mk, "kvmtest")))
    except ValueError:
        return "-"


def _same_kvmtest_as_bare(bare, l1):
    """None if every KVMTEST line of the nested run is the bare run's (Bochs is the oracle)."""
    why = _reached_init_and_off("bare", bare) or _kvm_works("bare", bare)
    if why:
        return "the bare run to compare with failed: " + why
    b, n = kvmtest_lines(bare), kvmtest_lines(l1)
    if b != n:
        diff = [(x, y) for x, y in zip(b, n) if x != y]
        return "kvmtest output differs nested vs bare: %s" % (diff[:3] or "bare %d lines, nested %d" % (len(b), len(n)))
    return None


def _check_kvm_l1(_results):
    l1 = _boot("l1")
    why = _l1_loaded(l1)
    if why or "init" not in markers(l1):
        return "L1 run unusable: %s" % (why or "never reached /init: " + l1.describe())
    why = _kvm_works("l1", l1, KVM_PARAMS_L1) or _reached_init_and_off("l1", l1)
    why = why or _same_kvmtest_as_bare(_boot("bare"), l1)
    if not why:
        bare = _boot("bare")
        print("  KVM in L1: kvm_intel %s; both /dev/kvm test VMs ran as bare (real mode; 2 vCPUs in long"
              " mode touching 1024 pages); kvmtest took %s of guest uptime nested, %s bare;"
              " boot wall nested %.1f s, bare %.1f s"
              % (markers(l1).get("kvm_intel_params"), _kvmtest_time(l1), _kvmtest_time(bare),
                 l1.wall, bare.wall))
    return why


def _check_l1_smp(_results):
    """Linux as a 2-CPU L1 starts its AP through its own APIC (INIT/SIPI virtualized) and runs on both."""
    l1 = _boot("l1_smp")
    why = _l1_loaded(l1) or _reached_init_and_off("l1_smp", l1, SMP_BOUND_S)
    if why:
        return why
    mk = markers(l1)
    if mk.get("cpus") != "2":
        return "L1 Linux sees cpus=%s with 2 vCPUs: %s" % (mk.get("cpus"), l1.describe())
    ap = find_line(l1.hv_lines, r"^hv: exits on CPU 1: .*SIPI=1")
    if not ap:
        return "CPU 1's vCPU was not started by a SIPI exit: " + l1.describe()
    if not find_line(l1.lines, r"^KVMTEST: PASS"):
        return "the /dev/kvm test VM did not pass in the 2-CPU L1: %s" % (
            find_line(l1.lines, r"^KVMTEST: ") or "no output")
    why = _vm2_works("l1_smp", l1)
    if why:
        return "the long-mode 2-vCPU test VM in the 2-CPU L1: " + why
    print("  L1 SMP: wall %.1f s, /init at uptime %s s, kvmtest %s; %s"
          % (l1.wall, _uptime(mk, "init"), _kvmtest_time(l1), ap))
    return None


TESTS = [
    Test("linux_bare", {}, _check_bare, needs=[BARE_ISO]),
    Test("linux_l1", {}, _check_l1, needs=[BARE_ISO, HV_ISO]),
    Test("linux_l1_smp", {}, _check_l1_smp, needs=[HV_ISO]),
    Test("linux_kvm_l1", {}, _check_kvm_l1,
         needs=[BARE_ISO, HV_ISO]),
]
