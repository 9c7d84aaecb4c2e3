"""L1's accesses to its trapped xAPIC page (2 CPUs, the AP left waiting for SIPI so the page stays trapped):
every writing instruction form, and instructions whose fetch meets memory the hypervisor must not read."""
import re

import runner
from runner import Run, Test, find_line, guest_image, guest_pair_test


def _trapped(results):
    if not find_line(results["hv"].hv_lines, r"^hv: exits: .*EPT_VIOLATION=\d+"):
        return "hv: no EPT violation counted: the xAPIC page was not trapped"
    return None


# Aligned 32-bit forms: MOVs in several addressing forms, ALU with flags, XCHG, INC/DEC/NOT/NEG, STOS/MOVS,
# software-disabled APIC, a self-IPI.
TESTS = [guest_pair_test("apicwrite", name="guest-apicwrite-2cpu", cpus=2, extra_check=_trapped)]

# Bochs 2.7 ends on any APIC write that is not an aligned 32-bit store (cpu/apic.cc, bx_local_apic_c::write:
# BX_PANIC "APIC write with len=%d (should be 4)" / "APIC write at unaligned address", fatal whatever the
# panic action). SDM 11.4.1 leaves such accesses model-specific, so the oracle is Bochs' own end: as L1 the
# hypervisor must do the same store at the same width and address, and Bochs must stop on the same access.
APIC_PANIC = re.compile(r">>PANIC<< (APIC write .*)")
STOP_RIP = re.compile(r"^\(0\)\.\[\d+\] \[0x([0-9a-f]+)\]", re.M)


def _odd_write_test(variant):
    runs = {kind: Run(guest_image(kind, "apicodd-" + variant), cpus=2, timeout=90) for kind in ("bare", "hv")}

    def check(results):
        panics = {}
        for kind, res in results.items():
            if res.timed_out:
                return "%s: timed out: %s" % (kind, res.describe())
            m = APIC_PANIC.search(res.bochs_log)
            if not m:
                return "%s: Bochs did not stop on an APIC write: %s" % (kind, res.describe())
            panics[kind] = m.group(1)
            if find_line(res.guest_lines, r"odd write survived"):
                return "%s: the odd write did not end Bochs" % kind
        if panics["bare"] != panics["hv"]:
            return "different APIC writes: bare %r, hv %r" % (panics["bare"], panics["hv"])
        bad = find_line(results["hv"].hv_lines, r"does not emulate|stopping L1|" + runner.HV_BAD.pattern)
        if bad:
            return "hv: %r" % bad
        why = runner.body_diff([l for l in results["bare"].guest_lines if l.strip()],
                               [l for l in results["hv"].guest_lines if l.strip()])
        if why:
            return why
        # Bochs prints where CPU 0 was: as L1 that must be the hypervisor's store, not L1's own instruction.
        where = {k: STOP_RIP.search(r.e9) for k, r in results.items()}
        if not all(where.values()) or where["bare"].group(1) == where["hv"].group(1):
            return "hv: the odd write was not the hypervisor's (Bochs stopped at %s)" % (
                where["hv"].group(0) if where["hv"] else "?")
        return None

    return Test("guest-apicodd-%s-2cpu" % variant, runs, check, needs=[r.image for r in runs.values()])


TESTS += [_odd_write_test(v) for v in ("memset", "incw", "movb-ah", "repstosl", "sete")]

# Issue 8's crash input: the hypervisor fetched 15 bytes at L1's RIP through phys_to_virt, so a MOV ending a
# page whose next page L1 maps at 4 GiB faulted in VMX root (and one mapping device memory read it).
TESTS += [guest_pair_test("apicfetch", name="guest-apicfetch-2cpu", cpus=2, extra_check=_trapped)]


def _straddle_check(results):
    """Bare, the MOV runs; as L1 its second byte is in RAM the map reserves: a stop naming that address."""
    bare, hv = results["bare"], results["hv"]
    if not find_line(bare.guest_lines, r"straddling into reserved RAM: single-steps=1 eip=40001001 tpr=00000020"):
        return "bare: the straddling MOV did not run: " + bare.describe()
    if not find_line(hv.hv_lines, r"the instruction at linear 0x40001000 is guest-physical 0x9f000, which is not L1 RAM"):
        return "hv: no stop naming the reserved page: " + hv.describe()
    if find_line(hv.hv_lines, runner.HV_BAD) or not find_line(hv.hv_lines, r"^hv: machine exit, status 0x73$"):
        return "hv: not a clean L1 stop: " + hv.describe()
    return None


_straddle_runs = {k: Run(guest_image(k, "apicfetch-straddle"), cpus=2) for k in ("bare", "hv")}
TESTS += [Test("guest-apicfetch-straddle-2cpu", _straddle_runs, _straddle_check,
               needs=[r.image for r in _straddle_runs.values()])]


def _ipis_native(results):
    """Once every AP runs, nothing waits for SIPI: L1's IPIs and EOIs must not exit (issue 8, IPI speed)."""
    hv = results["hv"]
    for cpu, line in (("0", find_line(hv.hv_lines, r"^hv: exits: ")),
                      ("1", find_line(hv.hv_lines, r"^hv: exits on CPU 1: "))):
        m = re.search(r"EPT_VIOLATION=(\d+)", line or "")
        if line is None or (m and int(m.group(1)) > 3):
            return "hv: CPU %s's APIC writes still exit after the AP started: %r" % (cpu, line)
    return None


# 501 IPI round trips between the two CPUs (make bench's figure); the "~bench" line may differ.
TESTS += [guest_pair_test("benchipi", name="guest-benchipi-2cpu", cpus=2, extra_check=_ipis_native)]
