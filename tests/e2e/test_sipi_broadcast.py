"""Issue 8 item 10: L1 starts its APs with a broadcast (all-excluding-self) INIT and SIPI; every AP must start, as bare."""
from runner import find_line, guest_pair_test


def _every_ap_by_sipi_exit(ncpus):
    def check(results):
        hv = results["hv"]
        for cpu in range(1, ncpus):
            if not find_line(hv.hv_lines, r"^hv: exits on CPU %d: .*SIPI=1" % cpu):
                return "hv: CPU %d's vCPU shows no SIPI exit: %s" % (cpu, hv.describe())
        return None
    return check


# Three CPUs. Bochs 2.7 deviation the hypervisor works around: a broadcast SIPI to vCPUs waiting for SIPI
# reached the first AP only, because cpu/event.cc BX_CPU_C::deliver_SIPI calls VMexit(VMX_VMEXIT_SIPI), which
# longjmps and never returns to the APIC bus delivery loop (cpu/apic.cc, via bx_local_apic_c::startup_msg).
TESTS = [guest_pair_test("smpbcast", name="guest-smp-broadcast-sipi-3cpu", cpus=3,
                         extra_check=_every_ap_by_sipi_exit(3))]
