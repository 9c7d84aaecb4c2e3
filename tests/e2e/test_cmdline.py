"""The hypervisor's command-line options as a user sees them: log levels and the console port."""
import os

import runner
from runner import Run, Test, find_line


def _image(variant):
    return os.path.join(runner.BUILD, "iso", "hv-%s.iso" % variant)


def _guest_ok(res):
    if res.timed_out:
        return "timed out: " + res.describe()
    if res.end_status != 0 or not find_line(res.guest_lines, r"^Goodbye\.$"):
        return "the demo guest did not run to its end: " + res.describe()
    return None


def _loglevel_test():
    runs = {"quiet": Run(_image("hellolog0")), "debug": Run(_image("hellolog3"))}

    def check(results):
        for name, res in results.items():
            why = _guest_ok(res)
            if why:
                return "%s: %s" % (name, why)
        info_line = r"^hv: module 0 moved "
        if find_line(results["quiet"].hv_lines, info_line):
            return "loglevel=0 still printed an info line"
        if not find_line(results["debug"].hv_lines, info_line):
            return "loglevel=3 did not print the info line %r" % info_line
        if not find_line(results["quiet"].hv_lines, r"^hv: machine exit, status 0"):
            return "loglevel=0 must not hide the machine-exit report"
        return None

    return Test("cmdline-loglevel", runs, check, needs=[r.image for r in runs.values()])


def _serial_none_test():
    run = Run(_image("hellonoserial"))

    def check(results):
        res = results["hv"]
        why = _guest_ok(res)
        if why:
            return why
        if res.hv_lines:
            return "serial=none, yet the hypervisor wrote to COM1: %r" % res.hv_lines[0]
        if "hv: machine exit, status 0" not in res.e9:
            return "the port 0xE9 copy of the console is missing its lines"
        return None

    return Test("cmdline-serial-none", {"hv": run}, check, needs=[run.image])


def _serial_bad_test():
    run = Run(_image("hellobadserial"))

    def check(results):
        res = results["hv"]
        why = _guest_ok(res)
        if why:
            return why
        if not find_line(res.hv_lines, r"serial=com9 not understood .*keeping COM1"):
            return "no clear message for serial=com9: " + res.describe()
        return None

    return Test("cmdline-serial-bad", {"hv": run}, check, needs=[run.image])


TESTS = [_loglevel_test(), _serial_none_test(), _serial_bad_test()]
