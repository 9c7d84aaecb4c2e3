"""Issue 4's hypervisor-level SMP test: every emulated CPU is started and takes VMX root."""
import re

import runner
from runner import Run, Test, guest_image, find_line, guest_pair_test


def _all_cpus_in_vmx_root(ncpus):
    run = Run(guest_image("hv", "hello"), cpus=ncpus)

    def check(results):
        res = results["hv"]
        if res.timed_out:
            return "timed out: " + res.describe()
        listed = find_line(res.hv_lines, r"SMP: the MADT lists %d usable CPU\(s\)" % ncpus)
        if not listed:
            return "the hypervisor did not find %d CPUs in the MADT: %s" % (ncpus, res.describe())
        ids = set()
        for line in res.hv_lines:
            m = re.match(r"hv: CPU (\d+) \(APIC ID (\d+)\) is in VMX root$", line)
            if m:
                ids.add(int(m.group(2)))
        if len(ids) != ncpus:
            return "%d of %d CPUs reported VMX root (APIC IDs %s)" % (len(ids), ncpus, sorted(ids))
        if not find_line(res.hv_lines, r"SMP: %d of %d CPU\(s\) in VMX root" % (ncpus, ncpus)):
            return "no 'all CPUs in VMX root' summary: " + res.describe()
        bad = find_line(res.hv_lines, runner.HV_BAD)
        if bad:
            return "hypervisor: %r" % bad
        return None

    return Test("smp-vmx-root-%dcpu" % ncpus, {"hv": run}, check, needs=[run.image])


TESTS = [_all_cpus_in_vmx_root(2), _all_cpus_in_vmx_root(4)]


def _panic_stops_every_cpu(ncpus):
    """debug_panic_cpu=1: CPU 1 panics; every other CPU must report where it was and stop."""
    run = Run(runner.os.path.join(runner.BUILD, "iso", "hv-smppanic.iso"), cpus=ncpus)

    def check(results):
        res = results["hv"]
        if res.timed_out:
            return "timed out (a CPU kept running?): " + res.describe()
        if not find_line(res.hv_lines, r"PANIC on CPU 1: debug_panic_cpu=1"):
            return "CPU 1 did not panic: " + res.describe()
        stopped = set()
        for line in res.hv_lines:
            m = re.match(r"hv: CPU (\d+) \(APIC ID \d+\) stopped by the panic, it was at RIP 0x[0-9a-f]+ \(in the hypervisor\)$",
                         line)
            if m:
                stopped.add(int(m.group(1)))
        if stopped != set(range(ncpus)) - {1}:
            return "CPUs that reported stopping: %s, expected %s" % (sorted(stopped), sorted(set(range(ncpus)) - {1}))
        if not find_line(res.hv_lines, r"^hv:     #0 0x[0-9a-f]+$"):
            return "the panic printed no stack frame: " + res.describe()
        if res.exit_code != runner.exit_code_for(run, runner.HV_EXIT_PANIC):
            return "exit code %s, expected the panic status: %s" % (res.exit_code, res.describe())
        return None

    return Test("smp-panic-stops-all-%dcpu" % ncpus, {"hv": run}, check, needs=[run.image])


TESTS += [_panic_stops_every_cpu(4)]


def _l1_aps_started(results):
    """Under the hypervisor each AP must have been an L1 vCPU started by L1's own SIPI."""
    hv = results["hv"]
    if not find_line(hv.hv_lines, r"^hv: L1 has \d+ vCPU\(s\)"):
        return "hv: the hypervisor gave L1 no AP vCPUs: " + hv.describe()
    if not find_line(hv.hv_lines, r"^hv: exits on CPU 1: .*SIPI=1"):
        return "hv: CPU 1's vCPU shows no SIPI exit: " + hv.describe()
    return None


# The SMP guest bare and as L1 with 2 and 4 CPUs: APs started, APIC IDs and CPUID-loop results must match.
TESTS += [guest_pair_test("smp", name="guest-smp-%dcpu" % n, cpus=n, extra_check=_l1_aps_started) for n in (2, 4)]
# The same with the BSP in x2APIC mode: L1's INIT/SIPI go through the x2APIC ICR MSR.
TESTS += [guest_pair_test("smpx2apic", name="guest-smp-x2apic-2cpu", cpus=2, extra_check=_l1_aps_started)]
