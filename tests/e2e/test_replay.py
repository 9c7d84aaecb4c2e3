"""Issue 8 item 3: hostile values for what the hypervisor replays on the hardware; L1 gets the #GP bare Bochs gives, the hypervisor lives."""
from runner import guest_pair_test, find_line


def _icr_reserved_gp(results):
    """The x2APIC ICR's reserved bits #GP as L1 (as on Intel CPUs); bare Bochs does not check them (see the guest)."""
    for bit in (13, 31):
        if not find_line(results["hv"].guest_lines, r"^~wrmsr x2apic icr reserved bit %d .*faulted vector=13 err=0x0$" % bit):
            return "hv: the x2APIC ICR write with reserved bit %d did not give L1 #GP(0)" % bit
    return None


# Two CPUs: the hypervisor traps x2APIC ICR writes only while L1 has AP vCPUs.
TESTS = [guest_pair_test("hwreplay", name="guest-hwreplay-2cpu", cpus=2, extra_check=_icr_reserved_gp)]
