#!/usr/bin/env python3
"""Boots a Linux test ISO in Bochs (tigerlake), follows its serial output and times the markers; library and CLI."""
import argparse
import os
import re
import subprocess
import sys
import time

BOCHSRC = """megs: {megs}
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
cpu: model=tigerlake, count={cpus}, ips=4000000, reset_on_triple_fault=0
ata0-master: type=cdrom, path={iso}, status=inserted
boot: cdrom
display_library: rfb, options="timeout=0"
log: {log}
com1: enabled=1, mode=file, dev={serial}
port_e9_hack: enabled=1
clock: sync=none, time0=local
mouse: enabled=0
speaker: enabled=0
sound: driver=dummy
magic_break: enabled=1
panic: action=fatal
error: action=report
info: action=report
debug: action=ignore
"""

# Milestones timed from Bochs' start (wall seconds), by the first serial line matching each.
MILESTONES = {
    "init": re.compile(rb"LT: init=reached"),
    "poweroff": re.compile(rb"LT: poweroff=now"),
}


class Run:
    """The outcome of one boot: serial text, exit status, wall times."""

    def __init__(self):
        self.serial = ""
        self.returncode = None
        self.timed_out = False
        self.wall = 0.0
        self.times = {}

    def markers(self):
        """The init script's "LT: key=value" markers as a dict (first occurrence wins)."""
        out = {}
        for m in re.finditer(r"^LT: ([a-z_0-9-]+)=(.*?)\r?$", self.serial, re.M):
            out.setdefault(m.group(1), m.group(2))
        return out

    def lines(self, pattern):
        return [l for l in self.serial.splitlines() if re.search(pattern, l)]


def run(iso, workdir, timeout=240, megs=512, cpus=1, echo=False):
    """Runs ISO in Bochs until it ends or TIMEOUT seconds pass; files go to WORKDIR."""
    os.makedirs(workdir, exist_ok=True)
    serial = os.path.join(workdir, "serial.txt")
    rc_file = os.path.join(workdir, "bochs.rc")
    conf = os.path.join(workdir, "bochsrc")
    with open(conf, "w") as f:
        f.write(BOCHSRC.format(megs=megs, cpus=cpus, iso=os.path.abspath(iso),
                               log=os.path.join(workdir, "bochs.log"), serial=serial))
    with open(rc_file, "w") as f:
        f.write("continue\nquit\n")
    if os.path.exists(serial):
        os.unlink(serial)
    res = Run()
    start = time.monotonic()
    with open(os.path.join(workdir, "bochs.out"), "wb") as out:
        proc = subprocess.Popen(["bochs", "-q", "-f", conf, "-rc", rc_file],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        pos = 0
        try:
            while proc.poll() is None:
                now = time.monotonic() - start
                if now > timeout:
                    res.timed_out = True
                    proc.kill()
                    break
                pos = _follow(serial, pos, res, now, echo)
                time.sleep(0.2)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    res.wall = time.monotonic() - start
    _follow(serial, pos, res, res.wall, echo)
    res.returncode = proc.returncode
    with open(serial, "rb") if os.path.exists(serial) else open(os.devnull, "rb") as f:
        res.serial = f.read().decode("utf-8", "replace")
    return res


def _follow(serial, pos, res, now, echo):
    """Reads new serial bytes, stamps milestones seen for the first time, echoes if asked."""
    try:
        with open(serial, "rb") as f:
            f.seek(pos)
            data = f.read()
    except FileNotFoundError:
        return pos
    if not data:
        return pos
    if echo:
        sys.stdout.write(data.decode("utf-8", "replace"))
        sys.stdout.flush()
    seen = open(serial, "rb").read(pos + len(data))
    for name, pat in MILESTONES.items():
        if name not in res.times and pat.search(seen):
            res.times[name] = now
    return pos + len(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("iso")
    ap.add_argument("workdir")
    ap.add_argument("--timeout", type=int, default=240)
    ap.add_argument("--megs", type=int, default=512)
    ap.add_argument("--cpus", type=int, default=1)
    ap.add_argument("--quiet", action="store_true", help="do not echo the console")
    a = ap.parse_args()
    r = run(a.iso, a.workdir, a.timeout, a.megs, a.cpus, echo=not a.quiet)
    print("\nbochs_run: exit=%s timed_out=%s wall=%.1fs init=%s poweroff=%s" % (
        r.returncode, r.timed_out, r.wall,
        "%.1fs" % r.times["init"] if "init" in r.times else "-",
        "%.1fs" % r.times["poweroff"] if "poweroff" in r.times else "-"))
    return 0 if "poweroff" in r.times and not r.timed_out else 1


if __name__ == "__main__":
    sys.exit(main())
