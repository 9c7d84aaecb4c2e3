"""VMCS shadowing (vmcs_shadow=on|off): L1 sees the same VMX either way; with it, its VMREAD/VMWRITE do not exit."""
import re

import runner
from runner import Run, Test, guest_image, check_guest_run, body_diff, find_line

SHADOW_ON = r"^hv: VMCS shadowing on: L1 reads \d+ and writes \d+ vmcs12 fields without exits$"
SHADOW_OFF = r"^hv: VMCS shadowing off \(vmcs_shadow=off\): every VMREAD/VMWRITE of L1 exits$"
SHADOW_LACKING = r"^hv: VMCS shadowing off \(the CPU lacks it\): every VMREAD/VMWRITE of L1 exits$"
COUNTERS = re.compile(r"^hv: (exits|L2 exits reflected to L1):(.*) total=(\d+)$")


def _counters(res):
    """{"exits": (total, {reason: n}), "L2 exits reflected to L1": ...} from the hypervisor's last lines."""
    out = {}
    for line in res.hv_lines:
        m = COUNTERS.match(line)
        if m:
            out[m.group(1)] = (int(m.group(3)), {k: int(v) for k, v in (kv.split("=") for kv in m.group(2).split())})
    return out


def _check_noshadow(results):
    """The test L1 hypervisor with every VMREAD/VMWRITE exiting: the transcript is bare Bochs' line by line."""
    for rname, under_hv in (("bare", False), ("noshadow", True)):
        why = check_guest_run(RUNS[rname], results[rname], 0, under_hv)
        if why:
            return "%s: %s" % (rname, why)
    hv = results["noshadow"]
    if not find_line(hv.hv_lines, SHADOW_OFF):
        return "the hypervisor did not report VMCS shadowing off: " + hv.describe()
    if not _counters(hv).get("exits", (0, {}))[1].get("VMREAD"):
        return "vmcs_shadow=off, yet no VMREAD of L1 exited"
    return body_diff(results["bare"].body, hv.body)


def _per_reflected(res):
    """(hypervisor exits per reflected L2 exit in the timed loop, set-up exits, L1's exits by reason)."""
    c = _counters(res)
    reflected = c.get("L2 exits reflected to L1", (0, {}))[0]
    per_reason = c.get("exits", (0, {}))[1]
    per, setup = runner.round_trip_exits(per_reason, reflected)
    return per, setup, per_reason


def _check_bench_exits(results):
    """An L2 CPUID round trip costs 2 hypervisor exits with shadowing (the L2 exit, L1's VMRESUME), ~6 without."""
    for rname in ("shadow", "noshadow"):
        why = check_guest_run(BENCH[rname], results[rname], 0, True)
        if why:
            return "%s: %s" % (rname, why)
    if not find_line(results["shadow"].hv_lines, SHADOW_ON):
        return "the hypervisor did not report VMCS shadowing on by default: " + results["shadow"].describe()
    per, setup, reasons = _per_reflected(results["shadow"])
    if per is None or per > 2.0:
        return "with shadowing, %s hypervisor exits per reflected L2 exit (want 2; exits %s)" % (per, reasons)
    # Only the set-up's VMWRITEs of fields outside the round trip's list exit (VMCS12_ROUND_TRIP_LIST).
    if reasons.get("VMREAD") or setup > 120:
        return "with shadowing, L1's VMREAD/VMWRITE exit beyond its set-up (%d set-up exits): %s" % (setup, reasons)
    per_off, _, _ = _per_reflected(results["noshadow"])
    if per_off is None or per_off < 6:
        return "vmcs_shadow=off: %s exits per reflected L2 exit, expected every VMREAD/VMWRITE to exit" % per_off
    return None


def _check_cpu_without(results):
    """Bochs' Sandy Bridge has no VMCS shadowing: the default falls back to exiting VMREAD/VMWRITE."""
    res = results["sandybridge"]
    why = check_guest_run(OLD_CPU["sandybridge"], res, 0, True)
    if why:
        return why
    if not find_line(res.hv_lines, SHADOW_LACKING):
        return "the hypervisor did not report a CPU without VMCS shadowing: " + res.describe()
    per, _, reasons = _per_reflected(res)
    if per is None or per < 6 or not reasons.get("VMREAD"):
        return "without VMCS shadowing in the CPU, %s exits per reflected L2 exit (exits %s)" % (per, reasons)
    return None


RUNS = {"bare": Run(guest_image("bare", "vmxtest")), "noshadow": Run(guest_image("hv", "vmxtest-noshadow"))}
BENCH = {"shadow": Run(guest_image("hv", "nestbench"), timeout=300),
         "noshadow": Run(guest_image("hv", "nestbench-noshadow"), timeout=300)}
OLD_CPU = {"sandybridge": Run(guest_image("hv", "nestbench"), model="corei7_sandy_bridge_2600k", timeout=300)}
TESTS = [
    Test("vmxtest-nested-noshadow", RUNS, _check_noshadow, needs=[r.image for r in RUNS.values()]),
    Test("nestbench-shadow-exits", BENCH, _check_bench_exits, needs=[r.image for r in BENCH.values()]),
    Test("nestbench-cpu-without-shadowing", OLD_CPU, _check_cpu_without, needs=[OLD_CPU["sandybridge"].image]),
]
