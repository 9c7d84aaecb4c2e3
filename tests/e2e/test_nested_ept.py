"""Nested EPT, VPID and unrestricted guest: the test L1 hypervisor tests/guests/vmxept.c bare on Bochs' VT-x
(tigerlake, the oracle) and as L1 under ours, transcripts compared line by line ("~" lines excepted).

vmxept-bare asserts the SDM-defined values inside the guest (a "FAIL ..." line for each broken one) and here.
vmxept-nested runs it as L1 under the hypervisor, which offers EPT, VPID, unrestricted guest and PML (L2 on the
shadow EPT); were anything not offered, L1 would print "FAIL not offered as on tigerlake: ..." or "...: not offered,
skipped", and the comparison would fail.
"""
import runner
from runner import Run, Test, guest_image, check_guest_run, find_line

END = r"^vmxept done: 0 failures$"

# A few of the SDM values the guest checks itself, checked again here so that a guest that silently skipped
# its cases cannot pass.
SDM_LINES = [
    r"^proc2: ept=1 vpid=1 unrestricted=1 pml=1$",
    r"^entry eptp memory type 2: vmfail-valid 7$",
    r"^entry vpid enabled, vpid 0: vmfail-valid 7$",
    r"^map 1g leaf: vmcall eax=0x4b345054$",
    r"^leaf write r--: ept violation qual=0x18a gpa=0x600800 linear=0x600800$",
    r"^leaf fetch --x: vmcall ",
    r"^leaf read --x: ept violation qual=0x1a1 ",
    r"^walk through --- page table: ept violation qual=0x81 ",
    r"^pae: mov cr3 to an unmapped pdpt: ept violation qual=0x1 gpa=0x601000$",
    r"^misconfig leaf memory type 7: ept misconfig qual=0x0 gpa=0x600400$",
    r"^misconfig pml4e bit 7: ept misconfig ",
    r"^invept type 0: vmfail-valid 28$",
    r"^invvpid individual-address non-canonical: vmfail-valid 28$",
    r"^invvpid single-context-retaining-globals: ok$",
    r"^invept type 0 without current vmcs: vmfail-invalid$",
    r"^real mode: 20 out exits, first qual=0xe90040 len=2, text \"hello from real mode\"$",
    r"^real mode: switched to protected mode: exit reason=0xa ",
    r"^pml: l2 writes 3 more pages with index 1: exit reason=0x3e qual=0x0 ",
    r"^bench: l2 ept violations=256$",
]


def _check_bare(results):
    res = results["bare"]
    why = check_guest_run(RUNS["bare"], res, 0, False)
    if why:
        return why
    bad = find_line(res.body, r"^FAIL")
    if bad:
        return "bare Bochs: %s" % bad
    for pattern in SDM_LINES + [END]:
        if not find_line(res.body, pattern):
            return "bare Bochs transcript lacks %r: %s" % (pattern, res.describe())
    return None


def _check_nested(results):
    return runner.nested_oracle_check(results, _check_bare, RUNS["hv"])


RUNS = {"bare": Run(guest_image("bare", "vmxept")), "hv": Run(guest_image("hv", "vmxept"))}
TESTS = [
    Test("vmxept-bare", {"bare": RUNS["bare"]}, _check_bare, needs=[RUNS["bare"].image]),
    Test("vmxept-nested", RUNS, _check_nested, needs=[r.image for r in RUNS.values()]),
]
