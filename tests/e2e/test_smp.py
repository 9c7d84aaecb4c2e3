"""Issue 4's hypervisor-level SMP test: every emulated CPU is started and takes VMX root."""
import re

import runner
from runner import Run, Test, guest_image, find_line


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
