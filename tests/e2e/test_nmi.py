"""Issue 8 items 4 and 15: NMIs with NMI exiting. L1's NMIs between its CPUs are each counted once, bare and
as L1 (running, halted, halted with IF=0 on the boot CPU, held while an NMI handler runs, under single-step);
and a hypervisor panic stops every CPU whatever it runs (L1 running, halted, waiting for SIPI)."""
import os
import re

import runner
from runner import Run, Test, find_line, guest_pair_test


def _nmi_exits_seen(results):
    """Under the hypervisor the NMIs must have been NMI exits (the hypervisor saw them), not L1's directly."""
    hv = results["hv"]
    if not find_line(hv.hv_lines, r"^hv: exits: .*EXC_NMI=\d+"):
        return "hv: the boot vCPU shows no NMI exits: " + hv.describe()
    return None


TESTS = [guest_pair_test("nmi", name="guest-nmi-2cpu", cpus=2, extra_check=_nmi_exits_seen)]

# What each CPU of the "panic" guest was doing (for "L1 halted" under Bochs 2.7 the hypervisor also looks at RIP:
# cpu/event.cc handleWaitForEvent leaves HLT before the NMI exit, which then saves the active state) when the boot CPU's vCPU made the hypervisor panic.
_PANIC_STATES = {1: "L1 halted", 2: "running L1", 3: "L1 waiting for SIPI"}


def _panic_stops_l1_cpus():
    run = Run(os.path.join(runner.BUILD, "iso", "hv-nmipanic.iso"), cpus=4)

    def check(results):
        res = results["hv"]
        if res.timed_out:
            return "timed out (a CPU kept running?): " + res.describe()
        if not find_line(res.hv_lines, r"PANIC on CPU 0: debug_panic_post=219"):
            return "CPU 0 did not panic on L1's POST code: " + res.describe()
        stopped = {}
        for line in res.hv_lines:
            m = re.match(r"hv: CPU (\d+) \(APIC ID \d+\) stopped by the panic, it was at RIP 0x[0-9a-f]+ \((.*)\)$", line)
            if m:
                stopped[int(m.group(1))] = m.group(2)
        if stopped != _PANIC_STATES:
            return "CPUs that reported stopping: %s, expected %s" % (stopped, _PANIC_STATES)
        if res.exit_code != runner.exit_code_for(run, runner.HV_EXIT_PANIC):
            return "exit code %s, expected the panic status: %s" % (res.exit_code, res.describe())
        return None

    return Test("smp-panic-stops-all-l1-4cpu", {"hv": run}, check, needs=[run.image])


TESTS += [_panic_stops_l1_cpus()]
