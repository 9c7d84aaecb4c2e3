#!/usr/bin/env python3
"""End-to-end test runner: boots images in Bochs or QEMU with a timeout, captures serial and 0xE9 output, judges.

Usage
  tests/runner.py [-k SUBSTR] [--list] [NAME ...]   run the e2e tests (all, or those named / matching)
  tests/runner.py boot IMAGE [--live] [--emulator bochs|qemu] [--firmware bios|uefi]
                  [--timeout S] [--megs M] [--model M] [--cpus N]
                                                    boot one image and print its serial output

Output: one line per test, "PASS name" or "FAIL name: reason", then
"e2e summary: passed=N failed=N" (deliberately not the "N passed, N failed"
format, which only tests/run-all.sh prints). Exit status 1 if any test failed.
Every run's files (serial.txt, e9.txt, bochs.log, the config) are kept in
build/e2e/TEST/RUN/ for diagnosis; the runs themselves happen in temp dirs.

Declaring tests (the interface other test files use)
  Any file tests/e2e/*.py (not starting with "_") is imported and must define
  TESTS, a list of runner.Test. In such a file, `import runner` gives this
  module (tests/ is on sys.path and this script registers itself as "runner").

  Test(name, runs, check, needs=())
    name   unique, short, no spaces (used in PASS/FAIL lines and log paths)
    runs   dict {run_name: Run}; the runs boot one after the other
    check  function(results) -> None if the test passed, else a one-line
           reason string; results is {run_name: Result}. An exception in
           check counts as a failure with the exception as reason.
    needs  files that must exist before running (e.g. images); a missing one
           fails the test with a clear reason instead of booting anything.

  Run(image, emulator="bochs", firmware="bios", model="tigerlake", cpus=1,
      megs=256, timeout=120, bochs_lines=(), qemu_args=(), ignore_bad_msrs=True,
      stop_on=None)
    bochs_lines  extra bochsrc lines; qemu_args extra QEMU arguments.
    stop_on      a regex (bytes) for serial output after which the machine can
                 never end by itself (e.g. Linux halted instead of powering
                 off): the run is stopped there like a timeout, with a note.
    ignore_bad_msrs  Bochs' default (True) reads unknown MSRs as 0; False makes
                 them #GP as on hardware (Bochs tigerlake then #GPs on
                 IA32_MISC_ENABLE too).
    firmware     "bios", or "uefi" (QEMU only: OVMF).

  Result (what check() receives)
    exit_code   the emulator's exit status (None if killed by the timeout)
    timed_out   True if the run hit its timeout or was stopped early (GRUB prompt)
    note        why the runner stopped it early, else None
    serial      COM1 output with GRUB's terminal escapes and CRs removed
    e9          port 0xE9 output (Bochs: its stdout, debugger chatter included)
    lines       serial split in lines
    hv_lines    the lines starting with "hv" (the hypervisor's console)
    guest_lines every other line after the first "TEST-BEGIN" (loader noise before it dropped)
    body        guest lines strictly between "TEST-BEGIN" and "TEST-END"
    end_status  the N of the guest's "TEST-END N" line, or None
    began       True if a "TEST-BEGIN" line was seen
    bochs_log   Bochs' log text ("" under QEMU)
    logdir      where the run's files were kept

  Helpers for check functions: expect_exit(res, status), body_diff(a, b),
  check_guest_run(...), and the guest_pair_test(...) factory, which builds
  the common "boot a guest bare and under the hypervisor, compare" test.

Output conventions the guests and the hypervisor follow
  hypervisor lines start with "hv"; guest lines never do. Guest lines that
  may legitimately differ under the hypervisor start with "~" and are left
  out of comparisons. A guest prints "TEST-BEGIN name" first and
  "TEST-END status" last, then writes the status to port 0xf4.
"""
import argparse
import difflib
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
E2E_DIR = os.path.join(ROOT, "tests", "e2e")
LOG_ROOT = os.path.join(BUILD, "e2e")

BOCHS_BIOS = "/usr/share/bochs/BIOS-bochs-latest"
VGA_BIOS = "/usr/share/vgabios/vgabios.bin"
OVMF_CANDIDATES = ("/usr/share/ovmf/OVMF.fd", "/usr/share/OVMF/OVMF.fd")

# hv/panic.h's statuses, for tests that expect them.
HV_EXIT_OK = 0x00
HV_EXIT_PANIC = 0x70
HV_EXIT_NO_VMX = 0x71
HV_EXIT_BAD_MODULE = 0x72
HV_EXIT_GUEST_DIED = 0x73

# GRUB draws with ANSI/VT100 sequences on the serial terminal.
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][A-Za-z0-9]|\x1b[=>78cDEHM]")


class Run:
    """How to boot one image (see the header comment)."""

    def __init__(self, image, emulator="bochs", firmware="bios", model="tigerlake", cpus=1,
                 megs=256, timeout=120, bochs_lines=(), qemu_args=(), ignore_bad_msrs=True, stop_on=None):
        self.image = image
        self.stop_on = re.compile(stop_on) if stop_on else None
        self.ignore_bad_msrs = 1 if ignore_bad_msrs else 0
        self.emulator = emulator
        self.firmware = firmware
        self.model = model
        self.cpus = cpus
        self.megs = megs
        self.timeout = timeout
        self.bochs_lines = list(bochs_lines)
        self.qemu_args = list(qemu_args)


class Result:
    """What one run produced (see the header comment)."""

    def __init__(self, exit_code, timed_out, serial_raw, e9, bochs_log, logdir, note=None):
        self.note = note
        self.exit_code = exit_code
        self.timed_out = timed_out
        self.serial = clean_serial(serial_raw)
        self.e9 = e9
        self.bochs_log = bochs_log
        self.logdir = logdir
        self.lines = self.serial.split("\n")
        self.hv_lines = [l for l in self.lines if l.startswith("hv")]
        self._split_guest()

    def _split_guest(self):
        self.began = False
        self.end_status = None
        self.guest_lines, self.body = [], []
        for line in self.lines:
            if line.startswith("hv"):
                continue
            if not self.began:
                self.began = line.startswith("TEST-BEGIN")
                if self.began:
                    self.guest_lines.append(line)
                continue
            self.guest_lines.append(line)
            m = re.match(r"TEST-END (\d+)\s*$", line)
            if m and self.end_status is None:
                self.end_status = int(m.group(1))
            elif self.end_status is None:
                self.body.append(line)

    def describe(self):
        """A short summary for failure reasons."""
        how = self.note or ("timed out" if self.timed_out else "exit %s" % self.exit_code)
        last = next((l for l in reversed(self.lines) if l.strip()), "")
        return "%s, last line %r (logs: %s)" % (how, last[:120], os.path.relpath(self.logdir, ROOT))


class Test:
    """One e2e test (see the header comment)."""

    def __init__(self, name, runs, check, needs=()):
        self.name = name
        self.runs = runs
        self.check = check
        self.needs = list(needs)


def clean_serial(raw):
    text = raw.decode("latin-1") if isinstance(raw, bytes) else raw
    text = _ESCAPES.sub("", text).replace("\r", "")
    return text


# ---- booting ----------------------------------------------------------------

def bochs_config(run, image, serial, log):
    lines = [
        "megs: %d" % run.megs,
        "romimage: file=%s" % BOCHS_BIOS,
        "vgaromimage: file=%s" % VGA_BIOS,
        "cpu: model=%s, count=%d, ips=4000000, reset_on_triple_fault=0, ignore_bad_msrs=%d"
        % (run.model, run.cpus, run.ignore_bad_msrs),
        "ata0-master: type=cdrom, path=%s, status=inserted" % image,
        "boot: cdrom",
        # No "nogui" in Debian's build: rfb with timeout=0 runs headless.
        'display_library: rfb, options="timeout=0"',
        "log: %s" % log,
        "com1: enabled=1, mode=file, dev=%s" % serial,
        "port_e9_hack: enabled=1",
        "clock: sync=none, time0=local",
        "mouse: enabled=0",
        "speaker: enabled=0",
        "sound: driver=dummy",
        "magic_break: enabled=1",
        "panic: action=fatal",
        "error: action=report",
        "info: action=report",
        "debug: action=ignore",
    ]
    return "\n".join(lines + run.bochs_lines) + "\n"


def bochs_command(run, workdir):
    cfg = os.path.join(workdir, "bochsrc")
    with open(cfg, "w") as f:
        f.write(bochs_config(run, os.path.abspath(run.image), os.path.join(workdir, "serial.txt"),
                             os.path.join(workdir, "bochs.log")))
    rc = os.path.join(workdir, "rc")
    # Debian's Bochs has its debugger built in: without these it stops at a prompt.
    with open(rc, "w") as f:
        f.write("continue\nquit\n")
    return ["bochs", "-q", "-f", cfg, "-rc", rc]


def ovmf_path():
    return next((p for p in OVMF_CANDIDATES if os.path.exists(p)), None)


def qemu_command(run, workdir):
    cmd = ["qemu-system-x86_64", "-M", "pc", "-m", str(run.megs), "-smp", str(run.cpus),
           "-display", "none", "-monitor", "none", "-net", "none", "-no-reboot",
           "-serial", "file:" + os.path.join(workdir, "serial.txt"),
           "-debugcon", "file:" + os.path.join(workdir, "e9.txt"),
           "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
           "-cdrom", os.path.abspath(run.image), "-boot", "d"]
    if run.firmware == "uefi":
        cmd += ["-bios", ovmf_path() or OVMF_CANDIDATES[0]]
    return cmd + run.qemu_args


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def _tail(path, n):
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - n))
            return f.read()
    except OSError:
        return b""


class LiveTail(threading.Thread):
    """Copies the serial file to our stdout while the emulator writes it (for `make run`)."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.stop = threading.Event()
        self.pos = 0

    def pump(self, final=False):
        data = _read(self.path)[self.pos:]
        # Hold back a trailing, possibly incomplete escape sequence until its end arrives.
        esc = data.rfind(b"\x1b", max(0, len(data) - 16))
        if esc >= 0 and not final and not _ESCAPES.match(data[esc:].decode("latin-1")):
            data = data[:esc]
        if data:
            self.pos += len(data)
            sys.stdout.write(clean_serial(data))
            sys.stdout.flush()

    def run(self):
        while not self.stop.wait(0.1):
            self.pump()


# GRUB drops to its prompt when it cannot boot (a missing or truncated file): waiting for the timeout is pointless.
GRUB_PROMPT = re.compile(rb"grub> ")


def supervise(cmd, out, workdir, limit, stop_on=None):
    """Runs cmd in its own process group, killing the group on the limit, when GRUB gives up or
    when the serial output matches stop_on. Returns (exit code, None) or (None, why it was stopped)."""
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                            cwd=workdir, start_new_session=True)
    serial = os.path.join(workdir, "serial.txt")
    deadline = time.time() + limit
    note = None
    while proc.poll() is None:
        time.sleep(0.2)
        stopped = stop_on.search(_tail(serial, 4096)) if stop_on else None
        if time.time() > deadline:
            note = "timed out after %ds" % limit
        elif GRUB_PROMPT.search(_tail(serial, 4096)):
            note = "GRUB could not boot the image and fell to its prompt"
        elif stopped:
            note = "stopped at %r: the machine cannot end by itself" % stopped.group(0).decode("latin-1")
        if note:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return None, note
    return proc.returncode, None


def boot(run, logdir, live=False):
    """Boots run.image once in a fresh temp dir; returns a Result and keeps the files in logdir."""
    workdir = tempfile.mkdtemp(prefix="hv-e2e-")
    try:
        cmd = bochs_command(run, workdir) if run.emulator == "bochs" else qemu_command(run, workdir)
        # timeout(1) first, then a Python-side limit in case timeout itself is stuck.
        full = ["timeout", "--kill-after=5", str(run.timeout)] + cmd
        tail = LiveTail(os.path.join(workdir, "serial.txt")) if live else None
        if tail:
            tail.start()
        with open(os.path.join(workdir, "stdout.txt"), "wb") as out:
            code, note = supervise(full, out, workdir, run.timeout + 20, run.stop_on)
        if tail:
            tail.stop.set()
            tail.join()
            tail.pump(final=True)
        timed_out = code in (124, 137) or note is not None
        e9_file = "stdout.txt" if run.emulator == "bochs" else "e9.txt"
        res = Result(None if timed_out else code, timed_out, _read(os.path.join(workdir, "serial.txt")),
                     _read(os.path.join(workdir, e9_file)).decode("latin-1"),
                     _read(os.path.join(workdir, "bochs.log")).decode("latin-1"), logdir, note)
        keep_logs(workdir, logdir, cmd)
        return res
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def keep_logs(workdir, logdir, cmd):
    if os.path.isdir(logdir):
        shutil.rmtree(logdir, ignore_errors=True)
    os.makedirs(logdir, exist_ok=True)
    for name in ("serial.txt", "e9.txt", "stdout.txt", "bochs.log", "bochsrc"):
        src = os.path.join(workdir, name)
        if os.path.exists(src):
            shutil.copy(src, logdir)
    with open(os.path.join(logdir, "command.txt"), "w") as f:
        f.write(" ".join(cmd) + "\n")


# ---- judging helpers ------------------------------------------------------------

def exit_code_for(run, status):
    """The emulator's exit status when the machine ends with `status` (hv/panic.h machine_exit)."""
    if run.emulator == "qemu":
        return (status << 1) | 1
    # Bochs: the magic breakpoint (status 0) quits with 0; the 0x8900 "Shutdown" port with 1.
    return 0 if status == 0 else 1


def expect_exit(run, res, status):
    """None if the run ended with `status`, else a reason."""
    if res.timed_out:
        return "timed out: " + res.describe()
    want = exit_code_for(run, status)
    if res.exit_code != want:
        return "exit code %s, expected %s (status 0x%x): %s" % (res.exit_code, want, status, res.describe())
    return None


def compared(lines):
    """The lines a bare/hypervisor comparison looks at: everything but "~" lines."""
    return [l.rstrip() for l in lines if not l.startswith("~")]


def body_diff(bare, hv):
    """None if the two guest bodies agree outside "~" lines, else the first difference."""
    a, b = compared(bare), compared(hv)
    if a == b:
        return None
    diff = [l for l in difflib.unified_diff(a, b, "bare", "hv", n=0, lineterm="")
            if not l.startswith(("---", "+++", "@@"))]
    return "guest output differs (bare '-', hv '+'): " + " | ".join(diff[:4])


HV_BAD = re.compile(r"\bpanic\b|PANIC", re.I)


def check_guest_run(run, res, status=0, under_hv=False):
    """The usual judgement of one guest run: it began, ended with `status` the right way."""
    if not res.began:
        return "guest never started: " + res.describe()
    if res.end_status is None:
        return "guest never reached TEST-END: " + res.describe()
    if res.end_status != status:
        return "guest ended with status %d, expected %d: %s" % (res.end_status, status, res.describe())
    if under_hv:
        if any(l.startswith("~exit device absent") for l in res.guest_lines):
            return "the hypervisor did not end the machine on the port 0xf4 write"
        bad = next((l for l in res.hv_lines if HV_BAD.search(l)), None)
        if bad:
            return "hypervisor: %r" % bad
    return expect_exit(run, res, status)


def guest_image(kind, guest):
    return os.path.join(BUILD, "iso", "%s-%s.iso" % (kind, guest))


_booted = {}


def boot_once(run, log_dir):
    """Boots `run` once per runner process, timed (res.wall seconds): the tests that compare with one
    Linux boot share it (a boot costs minutes)."""
    if log_dir not in _booted:
        start = time.monotonic()
        res = boot(run, log_dir)
        res.wall = time.monotonic() - start
        _booted[log_dir] = res
    return _booted[log_dir]


def markers(res, prefix="LT"):
    """The guest's "PREFIX: key=value" lines, first occurrence wins ("LT" from the Linux images' /init,
    tests/linux/init.sh; "L2" from the QEMU stack's L2, tests/linux/l2-init.sh)."""
    out = {}
    for line in res.lines:
        m = re.match(r"^%s: ([a-z_0-9-]+)=(.*?)\s*$" % prefix, line)
        if m:
            out.setdefault(m.group(1), m.group(2))
    return out


def round_trip_exits(l1_exits, reflected):
    """Hypervisor exits per reflected L2 exit in a loop of round trips: (per round trip, set-up exits).

    l1_exits is L1's own exits by reason. A reason that happens at least once
    every other round trip belongs to the loop (VMRESUME, and every VMREAD or
    VMWRITE that exits per round trip); the rest is the test L1's set-up
    (VMXON, VMPTRLD, VMWRITEs of fields outside the round trip's list)."""
    if not reflected:
        return None, 0
    in_loop = sum(n for n in l1_exits.values() if 2 * n >= reflected)
    return (in_loop + reflected) / reflected, sum(l1_exits.values()) - in_loop


def nested_oracle_check(results, check_bare, hv_run, must_have=()):
    """A test L1 hypervisor bare (the oracle, judged by check_bare) and under the hypervisor: the hv run ends
    well, has every must_have line, and agrees with bare line by line outside "~" lines."""
    why = check_bare({"bare": results["bare"]})
    if why:
        return "bare: " + why
    hv = results["hv"]
    why = check_guest_run(hv_run, hv, 0, True)
    if why:
        bad = find_line(hv.body, r"^FAIL")
        return "hv: %s%s" % (why, " (first: %s)" % bad if bad else "")
    for pattern in must_have:
        if not find_line(hv.body, pattern):
            return "nested transcript lacks %r: %s" % (pattern, hv.describe())
    return body_diff(results["bare"].body, hv.body)


def guest_pair_test(guest, name=None, status=0, extra_check=None, **run_kw):
    """A test booting `guest` bare and under the hypervisor in Bochs: both end with
    `status`, and their outputs agree outside "~" lines. extra_check(results)
    may add more (returns None or a reason)."""
    runs = {"bare": Run(guest_image("bare", guest), **run_kw),
            "hv": Run(guest_image("hv", guest), **run_kw)}

    def check(results):
        for rname, under_hv in (("bare", False), ("hv", True)):
            why = check_guest_run(runs[rname], results[rname], status, under_hv)
            if why:
                return "%s: %s" % (rname, why)
        why = body_diff(results["bare"].body, results["hv"].body)
        if why:
            return why
        return extra_check(results) if extra_check else None

    return Test(name or guest, runs, check, needs=[r.image for r in runs.values()])


def find_line(lines, pattern):
    rx = re.compile(pattern)
    return next((l for l in lines if rx.search(l)), None)


# ---- running tests --------------------------------------------------------------

def load_tests():
    sys.modules.setdefault("runner", sys.modules[__name__])
    tests, seen = [], set()
    for fname in sorted(os.listdir(E2E_DIR)):
        if not fname.endswith(".py") or fname.startswith("_"):
            continue
        path = os.path.join(E2E_DIR, fname)
        spec = importlib.util.spec_from_file_location("e2e_" + fname[:-3], path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        for t in getattr(mod, "TESTS", []):
            if t.name in seen:
                raise SystemExit("runner: duplicate test name %s in %s" % (t.name, fname))
            seen.add(t.name)
            tests.append(t)
    return tests


def run_test(test):
    missing = [p for p in test.needs if not os.path.exists(p)]
    if missing:
        return "missing %s (did its build fail?)" % os.path.relpath(missing[0], ROOT)
    results = {}
    for rname, run in test.runs.items():
        results[rname] = boot(run, os.path.join(LOG_ROOT, test.name, rname))
    try:
        return test.check(results)
    except Exception as e:  # a broken check must fail its test, not the whole suite
        return "check raised %s: %s" % (type(e).__name__, e)


def select(tests, names, substr):
    out = []
    for t in tests:
        if names and t.name not in names:
            continue
        if substr and substr not in t.name:
            continue
        out.append(t)
    return out


def cmd_tests(args):
    tests = select(load_tests(), args.names, args.k)
    if args.list:
        for t in tests:
            print(t.name)
        return 0
    passed = failed = 0
    for t in tests:
        start = time.time()
        reason = run_test(t)
        if reason is None:
            passed += 1
            print("PASS %s (%.1fs)" % (t.name, time.time() - start), flush=True)
        else:
            failed += 1
            print("FAIL %s: %s" % (t.name, " ".join(str(reason).split())), flush=True)
    print("e2e summary: passed=%d failed=%d" % (passed, failed))
    return 1 if failed else 0


def cmd_boot(args):
    run = Run(args.image, emulator=args.emulator, firmware=args.firmware, model=args.model,
              cpus=args.cpus, megs=args.megs, timeout=args.timeout)
    res = boot(run, os.path.join(LOG_ROOT, "boot", os.path.basename(args.image)), live=args.live)
    if not args.live:
        sys.stdout.write(res.serial)
    how = res.note or ("timed out after %ds" % args.timeout if res.timed_out else "exit code %s" % res.exit_code)
    print("\n[runner: %s ended, %s; logs in %s]" % (run.emulator, how, os.path.relpath(res.logdir, ROOT)))
    return 0 if not res.timed_out else 1


def main(argv):
    if argv and argv[0] == "boot":
        p = argparse.ArgumentParser(prog="runner.py boot")
        p.add_argument("image")
        p.add_argument("--live", action="store_true", help="show the serial console while it runs")
        p.add_argument("--emulator", choices=("bochs", "qemu"), default="bochs")
        p.add_argument("--firmware", choices=("bios", "uefi"), default="bios")
        p.add_argument("--timeout", type=int, default=120)
        p.add_argument("--megs", type=int, default=256)
        p.add_argument("--model", default="tigerlake")
        p.add_argument("--cpus", type=int, default=1)
        return cmd_boot(p.parse_args(argv[1:]))
    p = argparse.ArgumentParser(prog="runner.py")
    p.add_argument("names", nargs="*")
    p.add_argument("-k", help="only tests whose name contains this")
    p.add_argument("--list", action="store_true")
    return cmd_tests(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
