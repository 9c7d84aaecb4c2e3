#!/usr/bin/env python3
"""`make bench`: boots the bench guest bare and as L1 in Bochs and prints the cost table (TSC ticks = emulated instructions)."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import runner  # noqa: E402

OPS = (("cpuid", "CPUID (leaf 0, always exits)"),
       ("out80", "OUT 0x80 (intercepted I/O)"),
       ("in3fd", "IN 0x3fd (passed-through I/O)"),
       ("ipi", "IPI round trip, 2 CPUs (xAPIC)"))
# Which guest measures which operations, and on how many CPUs.
GUESTS = (("bench", 1), ("benchipi", 2))
LINE = re.compile(r"^~bench op=(\w+) min=(\d+) median=(\d+) max=(\d+)")


def measure_guest(kind, guest, cpus):
    """Boots one bench image; returns ({op: median ticks}, None) or ({}, reason)."""
    run = runner.Run(runner.guest_image(kind, guest), cpus=cpus, timeout=180)
    if not os.path.exists(run.image):
        return {}, "missing %s" % os.path.relpath(run.image, runner.ROOT)
    res = runner.boot(run, os.path.join(runner.LOG_ROOT, guest, kind))
    why = runner.check_guest_run(run, res, 0, under_hv=(kind == "hv"))
    costs = {}
    for line in res.guest_lines:
        m = LINE.match(line)
        if m:
            costs[m.group(1)] = int(m.group(3))
    return costs, why


def measure(kind):
    """Every bench guest of one kind: ({op: median ticks}, None or the reasons runs failed)."""
    costs, whys = {}, []
    for guest, cpus in GUESTS:
        c, why = measure_guest(kind, guest, cpus)
        costs.update(c)
        if why:
            whys.append("%s: %s" % (guest, why))
    return costs, "; ".join(whys) or None


COUNTERS = re.compile(r"^hv: (exits|L2 exits reflected to L1|L2 exits handled):(.*) total=(\d+)$")


def measure_nested(kind, guest="nestbench"):
    """Boots the nested bench (a small L1 hypervisor timing its L2's CPUID); returns (median, counters, reason)."""
    run = runner.Run(runner.guest_image(kind, guest), timeout=300)
    if not os.path.exists(run.image):
        return None, {}, "missing %s" % os.path.relpath(run.image, runner.ROOT)
    res = runner.boot(run, os.path.join(runner.LOG_ROOT, "bench", "nested-%s-%s" % (kind, guest)))
    why = runner.check_guest_run(run, res, 0, under_hv=(kind == "hv"))
    median, counters = None, {}
    for line in res.guest_lines:
        m = LINE.match(line)
        if m and m.group(1) == "l2cpuid":
            median = int(m.group(3))
    for line in res.hv_lines:
        m = COUNTERS.match(line)
        if m:
            counters[m.group(1)] = (int(m.group(3)), {k: int(n) for k, n in (kv.split("=") for kv in m.group(2).split())})
    return median, counters, why


# The hypervisor under the test L1 with VMCS shadowing (the default) and without (vmcs_shadow=off).
NESTED_HV = (("with VMCS shadowing", "nestbench"), ("without (vmcs_shadow=off)", "nestbench-noshadow"))


def exits_per_reflected(counters):
    """(hypervisor exits per reflected L2 exit in the timed loop, L1's set-up exits, reflected)."""
    reflected = counters.get("L2 exits reflected to L1", (0, {}))[0]
    per, setup = runner.round_trip_exits(counters.get("exits", (0, {}))[1], reflected)
    return per, setup, reflected


def nested_table(single_cpuid):
    """The nested figures, in the same run as the single-level ones."""
    bare, _, bare_why = measure_nested("bare")
    whys = [("bare", bare_why)]
    print()
    print("%-32s %10s %12s %9s" % ("nested (L2 under a test L1)", "L1 bare", "L1 under hv", "ratio"))
    for label, guest in NESTED_HV:
        hv, counters, hv_why = measure_nested("hv", guest)
        whys.append(("hv " + guest, hv_why))
        if bare and hv:
            print("%-32s %10d %12d %9s" % ("L2 CPUID round trip", bare, hv, "%.1fx" % (hv / bare)) + ", " + label)
        per, setup, reflected = exits_per_reflected(counters)
        if per:
            print("  hypervisor exits per reflected L2 exit: %.2f (%d reflected; L1's %d set-up exits apart)"
                  % (per, reflected, setup))
        if bare and hv and single_cpuid:
            cost = hv - bare
            print("  hypervisor instructions per reflected L2 CPUID (with the L1 exits it causes): %d, %.1fx the "
                  "single-level CPUID exit (%d)" % (cost, cost / single_cpuid, single_cpuid))
    for kind, why in whys:
        if why:
            print("bench: the nested %s run failed: %s" % (kind, why))
    return 1 if any(why for _, why in whys) else 0


EPT_BENCH = re.compile(r"^~bench (l2-ept-touch|l2-ept-touch-mapped|l1-touch) pages=(\d+) tsc=(\d+)$")


def measure_ept(kind):
    """Boots the nested-EPT touch bench; returns ({figure: (pages, tsc)}, hypervisor exit total, reason)."""
    run = runner.Run(runner.guest_image(kind, "vmxept-bench"), timeout=300)
    if not os.path.exists(run.image):
        return {}, 0, "missing %s" % os.path.relpath(run.image, runner.ROOT)
    res = runner.boot(run, os.path.join(runner.LOG_ROOT, "bench", "ept-%s" % kind))
    why = runner.check_guest_run(run, res, 0, under_hv=(kind == "hv"))
    figs = {m.group(1): (int(m.group(2)), int(m.group(3)))
            for m in (EPT_BENCH.match(l) for l in res.guest_lines) if m}
    exits = 0
    for line in res.hv_lines:
        m = COUNTERS.match(line)
        if m:
            exits += int(m.group(3))
    return figs, exits, why


def ept_table():
    """Issue 10's figures: an L2 EPT fault that L1 resolves, and L2's memory-touch throughput against L1's."""
    bare, _, bare_why = measure_ept("bare")
    hv, exits, hv_why = measure_ept("hv")
    print()
    print("nested EPT (L2 touching pages under a test L1's EPT)")
    if "l2-ept-touch" in bare and "l2-ept-touch" in hv:
        pages = hv["l2-ept-touch"][0]
        per = (hv["l2-ept-touch"][1] - bare["l2-ept-touch"][1]) / pages
        print("  L2 EPT fault resolved by L1: %d ticks per page bare, %d under hv; hypervisor instructions per fault "
              "%d; hypervisor exits per fault %.2f (whole run, set-up included: %d exits / %d pages)"
              % (bare["l2-ept-touch"][1] // pages, hv["l2-ept-touch"][1] // pages, per, exits / pages, exits, pages))
    if "l2-ept-touch-mapped" in hv and "l1-touch" in hv:
        l2, l1 = hv["l2-ept-touch-mapped"][1], hv["l1-touch"][1]
        print("  touching %d mapped pages: L2 %d ticks (one VM entry and exit included), L1 %d ticks: L2 at %.2fx L1's "
              "time (bare: L2 %d, L1 %d)" % (hv["l1-touch"][0], l2, l1, l2 / l1 if l1 else 0,
                                             bare.get("l2-ept-touch-mapped", (0, 0))[1], bare.get("l1-touch", (0, 0))[1]))
    for kind, why in (("bare", bare_why), ("hv", hv_why)):
        if why:
            print("bench: the nested-EPT %s run failed: %s" % (kind, why))
    return 1 if bare_why or hv_why else 0


def cell(costs, op):
    return str(costs[op]) if op in costs else "n/a"


def main():
    bare, bare_why = measure("bare")
    hv, hv_why = measure("hv")
    print("%-32s %10s %12s %9s" % ("operation", "bare", "under hv", "ratio"))
    for op, label in OPS:
        ratio = "%.1fx" % (hv[op] / bare[op]) if op in bare and op in hv and bare[op] else "n/a"
        print("%-32s %10s %12s %9s" % (label, cell(bare, op), cell(hv, op), ratio))
    if "cpuid" in bare and "cpuid" in hv:
        print("hypervisor instructions per CPUID exit: %d" % (hv["cpuid"] - bare["cpuid"]))
    if "out80" in bare and "out80" in hv:
        print("hypervisor instructions per intercepted OUT exit: %d" % (hv["out80"] - bare["out80"]))
    print("(median of 501 samples each, in TSC ticks; in Bochs one tick is one emulated instruction)")
    for kind, why in (("bare", bare_why), ("hv", hv_why)):
        if why:
            print("bench: the %s run failed: %s" % (kind, why))
    single = hv["cpuid"] - bare["cpuid"] if "cpuid" in bare and "cpuid" in hv else None
    nested_rc = nested_table(single)
    ept_rc = ept_table()
    return 1 if bare_why or hv_why or nested_rc or ept_rc else 0


if __name__ == "__main__":
    sys.exit(main())
