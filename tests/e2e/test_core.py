"""Issue 2's guest tests: each test guest booted bare and as L1 under the hypervisor in Bochs, then compared."""
import re

import runner
from hv_layout import hv_ranges, layout_check
from runner import Run, Test, guest_pair_test, guest_image, check_guest_run, body_diff, find_line, exit_code_for


def _both_have(results, pattern):
    """None if every run printed a guest line matching pattern, else a reason."""
    for rname, res in results.items():
        if not find_line(res.guest_lines, pattern):
            return "%s: no guest line matching %r" % (rname, pattern)
    return None


def _memmap_extra(results):
    why = _both_have(results, r'^cmdline: "test=memmap alpha beta=2 gamma=x,y"$')
    why = why or _both_have(results, r'^module 0: size=\d+ fnv=[0-9a-f]{8} cmdline="module-arg one two"$')
    if why:
        return why
    return layout_check(results)


def _bench_extra(results):
    costs = {}
    for op in ("cpuid", "out80", "in3fd"):
        why = _both_have(results, r"^~bench op=%s min=\d+ median=\d+" % op)
        if why:
            return why
        costs[op] = [int(re.search(r"median=(\d+)", find_line(results[r].guest_lines, r"^~bench op=%s " % op)).group(1))
                     for r in ("bare", "hv")]
    # Informational, like `make bench`: the runner passes indented lines through.
    print("  bench (median ticks bare/L1): " + ", ".join("%s %d/%d" % (op, c[0], c[1]) for op, c in costs.items()))
    return None


TRIPLE_IN_BOCHS = "exception with no resolution"  # Bochs' log line when the machine itself triple-faults


def _hv_common(run, res):
    """What every under-hypervisor run must show even when the guest dies: no hang, no host crash."""
    if res.timed_out:
        return "timed out: " + res.describe()
    if not res.began:
        return "guest never started: " + res.describe()
    if TRIPLE_IN_BOCHS in res.bochs_log:
        return "the machine itself triple-faulted (the hypervisor died): " + res.describe()
    bad = find_line(res.hv_lines, runner.HV_BAD)
    if bad:
        return "hypervisor: %r" % bad
    if find_line(res.guest_lines, r"^~exit device absent"):
        return "the hypervisor did not end the machine on the port 0xf4 write"
    return None


def _hvmem_test():
    runs = {"bare": Run(guest_image("bare", "hvmem")), "hv": Run(guest_image("hv", "hvmem"))}

    def check(results):
        bare, hv = results["bare"], results["hv"]
        why = check_guest_run(runs["bare"], bare, 0)
        if why or not find_line(bare.body, r"^probe: all accesses completed, 0 mismatches$"):
            return "bare: " + (why or "accesses to the top of RAM did not all succeed: " + bare.describe())
        why = _hv_common(runs["hv"], hv)
        if why:
            return "hv: " + why
        # Probes below the hypervisor's memory are L1's RAM; none inside it may complete.
        mine = hv_ranges(hv.hv_lines)
        for line in hv.guest_lines:
            m = re.match(r"^~probe: 0x([0-9a-f]+) read", line)
            if (m and any(b <= int(m.group(1), 16) < e for b, e in mine)) or line.startswith("probe: all accesses"):
                return "hv: the guest reached the hypervisor's memory: %r" % line
        ept = find_line(hv.hv_lines, r"EPT violation.* GPA 0x[0-9a-f]+")
        gpa = int(re.search(r"GPA 0x([0-9a-f]+)", ept).group(1), 16) if ept else None
        if gpa is None or not any(b <= gpa < e for b, e in hv_ranges(hv.hv_lines)):
            return "hv: no hypervisor line reporting an EPT violation inside its own memory: " + hv.describe()
        if hv.exit_code != exit_code_for(runs["hv"], runner.HV_EXIT_GUEST_DIED):
            return "hv: exit code %s, expected the guest-died status: %s" % (hv.exit_code, hv.describe())
        return None

    return Test("guest-hvmem", runs, check, needs=[r.image for r in runs.values()])


def _triplefault_test():
    runs = {"bare": Run(guest_image("bare", "triplefault")), "hv": Run(guest_image("hv", "triplefault"))}

    def check(results):
        bare, hv = results["bare"], results["hv"]
        if bare.timed_out or bare.exit_code != 1 or TRIPLE_IN_BOCHS not in bare.bochs_log:
            return "bare: expected Bochs to stop on a triple fault with exit code 1: " + bare.describe()
        if not find_line(bare.body, r"^triplefault: loading"):
            return "bare: the guest did not get to its triple fault: " + bare.describe()
        why = _hv_common(runs["hv"], hv)
        if why:
            return "hv: " + why
        if not find_line(hv.hv_lines, r"(?i)triple"):
            return "hv: no hypervisor line reporting the triple fault: " + hv.describe()
        if hv.exit_code != exit_code_for(runs["hv"], runner.HV_EXIT_GUEST_DIED):
            return "hv: exit code %s, expected the guest-died status: %s" % (hv.exit_code, hv.describe())
        return body_diff(bare.body, hv.body)

    return Test("guest-triplefault", runs, check, needs=[r.image for r in runs.values()])


def _refusal_test(name, run, pattern, status_hex):
    """One clear hypervisor line matching pattern, then a failure exit with the given status."""

    def check(results):
        res = results["hv"]
        if res.timed_out:
            return "timed out: " + res.describe()
        if not find_line(res.hv_lines, pattern):
            return "no hypervisor line matching %r: %s" % (pattern, res.describe())
        bad = find_line(res.hv_lines, runner.HV_BAD)
        if bad:
            return "hypervisor: %r" % bad
        if res.began:
            return "the guest ran although the hypervisor should have refused"
        # Bochs can only say "nonzero"; the status itself is on the hypervisor's last line.
        if res.exit_code != exit_code_for(run, 1):
            return "exit code %s, expected a failure exit: %s" % (res.exit_code, res.describe())
        if not find_line(res.hv_lines, r"(?i)status %s\b" % status_hex):
            return "the hypervisor did not report status %s: %s" % (status_hex, res.describe())
        return None

    return Test(name, {"hv": run}, check, needs=[run.image])


def _cpu_refusal_test(short, model, pattern):
    """A Bochs CPU model lacking a feature the hypervisor needs: it must name it and exit HV_EXIT_NO_VMX."""
    return _refusal_test("hv-refuses-" + short, Run(guest_image("hv", "hello"), model=model), pattern, "0x71")


def _bad_module_test(kind, pattern):
    """The hypervisor given no usable guest: one clear line, then HV_EXIT_BAD_MODULE (no hang, no panic)."""
    return _refusal_test("hv-" + kind, Run(guest_image("hv", kind)), pattern, "0x72")


TESTS = [
    guest_pair_test("cpuid", name="guest-cpuid"),
    guest_pair_test("memmap", name="guest-memmap", extra_check=_memmap_extra),
    guest_pair_test("serial", name="guest-serial"),
    # Unknown MSRs must #GP as on hardware, not read as 0 (Bochs' default).
    guest_pair_test("faults", name="guest-faults", ignore_bad_msrs=False),
    guest_pair_test("msr", name="guest-msr", ignore_bad_msrs=False),
    _hvmem_test(),
    _triplefault_test(),
    guest_pair_test("hello", name="guest-hello"),
    guest_pair_test("bench", name="guest-bench", extra_check=_bench_extra),
    _bad_module_test("nomodule", r"(?i)\bno (guest|module)"),
    _bad_module_test("badmodule", r"(?i)module.*(neither|not a|unknown|unsupported|invalid)"),
    _cpu_refusal_test("penryn-no-ept", "core2_penryn_t9600", r"(?i)\bEPT\b"),
    _cpu_refusal_test("lynnfield-no-ug", "corei5_lynnfield_750", r"(?i)unrestricted guest"),
    _cpu_refusal_test("ryzen-no-vmx", "ryzen", r"(?i)(VT-x|VMX).*(not available|unavailable|absent|missing)"),
    # Older Intel models that still have everything required: the demo guest must run the same.
    guest_pair_test("hello", name="guest-hello-sandybridge", model="corei7_sandy_bridge_2600k"),
    guest_pair_test("hello", name="guest-hello-haswell", model="corei7_haswell_4770"),
]
