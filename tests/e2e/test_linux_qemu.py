"""Issue 11's real stack: Linux L1 in Bochs runs QEMU/KVM, which boots the same Debian kernel as L2; bare vs under the hypervisor."""
import os
import re

import runner
from runner import Run, Test, find_line, markers

LINUX_DIR = os.path.join(runner.BUILD, "linux")
BARE_ISO = os.path.join(LINUX_DIR, "bare-qemu.iso")      # make linux-qemu-images
HV_ISO = os.path.join(LINUX_DIR, "hv-linux-qemu.iso")    # make linux-qemu-iso
MEGS = 512
# Bochs emulates L1 and L2 (and the hypervisor) on one host thread: a run takes 6-9 min on a busy 2-core
# machine; the bound catches hangs, not slowness.
TIMEOUT = 1500
# After these L1 can never end Bochs: stop there rather than wait for the timeout. "System halted" is
# `poweroff -f` without ACPI; a panic of L2 ends only QEMU (-no-reboot, panic=-1), but L2 must not panic.
STOP_ON = rb"reboot: System halted|Kernel panic - not syncing"
# kvm_intel's parameters in L1, as tests/e2e/test_linux.py expects them (bare; nested: the hypervisor keeps VMCS
# shadowing to itself, so enable_shadow_vmcs=N is the one expected difference).
KVM_PARAMS = {"bare": "ept=Y unrestricted_guest=Y vpid=Y pml=Y enable_apicv=N flexpriority=Y enable_shadow_vmcs=Y"}
KVM_PARAMS["nested"] = KVM_PARAMS["bare"].replace("enable_shadow_vmcs=Y", "enable_shadow_vmcs=N")
POWER_OFF = "ACPI control: soft power off"  # Bochs' log line when L1 enters S5
# L2's markers that must be the same bare and nested (uptimes differ by nature).
L2_KEYS = ("init", "kernel", "cpus", "cpu_model", "memtotal_kb", "cpu_hypervisor", "clocksource", "hello", "poweroff")

RUNS = {"bare": Run(BARE_ISO, megs=MEGS, timeout=TIMEOUT, stop_on=STOP_ON),
        "nested": Run(HV_ISO, megs=MEGS, timeout=TIMEOUT, stop_on=STOP_ON)}


def _boot(name):
    """Each image boots once per runner process (the nested test compares against the bare boot)."""
    return runner.boot_once(RUNS[name], os.path.join(runner.LOG_ROOT, "linux_qemu", name))


def _uptime(value):
    m = re.search(r"uptime=([0-9.]+)", value or "")
    return float(m.group(1)) if m else None


def _stage(res):
    """How far the stack got, for failure messages: the last L1/L2 marker and the last console line."""
    l1, l2 = markers(res, "LT"), markers(res, "L2")
    last_l2 = next((l for l in reversed(res.lines) if l.startswith("L2: ")), "no L2 marker")
    qemu = [l[len("LT: qemu="):] for l in res.lines if l.startswith("LT: qemu=")]
    return "L1 /init %s, qemu %s, L2 markers %d, last %r (%s)" % (
        "yes" if "init" in l1 else "no", " -> ".join(qemu) or "-", len(l2), last_l2, res.describe())


def _stack_ran(name, res):
    """None if L1 loaded KVM, QEMU booted L2 to its /init and exited 0, and L1 powered off; else why."""
    l1, l2 = markers(res, "LT"), markers(res, "L2")
    if res.timed_out:
        return "%s: did not end by itself (%.0f s): %s" % (name, res.wall, _stage(res))
    if "init" not in l1:
        return "%s: L1 never reached /init: %s" % (name, res.describe())
    if l1.get("kvm_intel_params") != KVM_PARAMS[name]:
        return "%s: kvm_intel parameters %r, expected %r" % (name, l1.get("kvm_intel_params"), KVM_PARAMS[name])
    if not find_line(res.lines, r"^KVMTEST: PASS"):
        return "%s: kvmtest: %s" % (name, find_line(res.lines, r"^KVMTEST: ") or "no output")
    if not l1.get("qemu", "").startswith("start"):
        return "%s: QEMU not started: %s" % (name, l1.get("qemu", "no marker"))
    for key in ("init", "hello", "poweroff"):
        if key not in l2:
            return "%s: L2 printed no %s marker: %s" % (name, key, _stage(res))
    ended = [l for l in res.lines if l.startswith("LT: qemu=exit")]
    if not ended or not re.match(r"^LT: qemu=exit status=0 ", ended[0]):
        return "%s: QEMU did not exit cleanly: %s" % (name, ended[0] if ended else _stage(res))
    if "poweroff" not in l1 or POWER_OFF not in res.bochs_log or res.exit_code != 1:
        return "%s: L1 did not power off (exit code %s): %s" % (name, res.exit_code, res.describe())
    return None


def _figures(name, res):
    """Wall time, L1 and L2 guest uptime at /init (Bochs' TSC: emulated instructions), QEMU's run in L1 uptime."""
    l1, l2 = markers(res, "LT"), markers(res, "L2")
    l1_init, l2_init = _uptime(l1.get("init")), _uptime(l2.get("init"))
    q0 = _uptime(l1.get("qemu"))
    q1 = _uptime(next((l for l in res.lines if l.startswith("LT: qemu=exit")), ""))
    ratio = "%.3f" % (l2_init / l1_init) if l1_init and l2_init else "-"
    print("  %s: wall %.1f s; uptime at /init L1 %s s, L2 %s s (L2/L1 %s, TSC %s); QEMU ran %s s of L1 uptime"
          % (name, res.wall, l1_init, l2_init, ratio, l1.get("tsc", "?"),
             "%.2f" % (q1 - q0) if q0 is not None and q1 else "-"))


def _check_bare(_results):
    bare = _boot("bare")
    why = _stack_ran("bare", bare)
    if why:
        return why
    l2 = markers(bare, "L2")
    print("  L2: %s, cpus=%s, memtotal_kb=%s" % (l2.get("cpu_model"), l2.get("cpus"), l2.get("memtotal_kb")))
    _figures("bare", bare)
    return None


def _l2_differs(bare, nested):
    """None if L2 printed the same markers in both runs (uptimes aside), else the first difference."""
    bm, nm = markers(bare, "L2"), markers(nested, "L2")
    for key in L2_KEYS:
        b, n = (re.sub(r" uptime=[0-9.]+", "", m.get(key, "-")) for m in (bm, nm))
        if b != n:
            return "L2 marker %s differs: bare %r, nested %r" % (key, bm.get(key), nm.get(key))
    return None


def _check_nested(_results):
    nested = _boot("nested")
    bad = find_line(nested.hv_lines, runner.HV_BAD)
    if bad:
        return "hypervisor: %r (%s)" % (bad, _stage(nested))
    bare = _boot("bare")
    why_bare = _stack_ran("bare", bare)
    why = _stack_ran("nested", nested)
    _figures("bare", bare)
    _figures("nested", nested)
    print("  wall nested/bare %.2f" % (nested.wall / bare.wall))
    if why:
        # Say whether the L2 part itself matched bare: it tells an L1 problem from a nested one.
        if not why_bare and "init" in markers(nested, "L2"):
            why += "; L2 itself: %s" % (_l2_differs(bare, nested) or "same markers as bare")
        return why
    if why_bare:
        return "the bare reference failed: " + why_bare
    return _l2_differs(bare, nested)


TESTS = [
    Test("linux_qemu_l2_bare", {}, _check_bare, needs=[BARE_ISO]),
    Test("linux_qemu_l2_nested", {}, _check_nested, needs=[BARE_ISO, HV_ISO]),
]
