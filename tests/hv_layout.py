"""Where the hypervisor's memory may be, as L1 sees it: the bare memory map minus the
hypervisor's ranges ("hv: mm: hv [..]" lines), and those ranges at the top of RAM, so
that L1's RAM from 1 MiB is one contiguous range (mem_upper) up to them."""
import re

_MMAP = re.compile(r"^~mmap base=0x([0-9a-f]+) len=0x([0-9a-f]+) type=(\d+)")
_HV = re.compile(r"^hv: mm: hv \[0x([0-9a-f]+)-0x([0-9a-f]+)\]")
_UPPER = re.compile(r"^~mem_upper: (\d+) KiB")
MIB = 1 << 20
RESERVED = 2


def guest_map(lines):
    """The memory map a guest printed, as [base, end, type] lists."""
    out = []
    for line in lines:
        m = _MMAP.match(line)
        if m:
            base, length = int(m.group(1), 16), int(m.group(2), 16)
            out.append([base, base + length, int(m.group(3))])
    return out


def hv_ranges(hv_lines):
    return [(int(m.group(1), 16), int(m.group(2), 16) + 1) for m in map(_HV.match, hv_lines) if m]


def paint(ranges, base, end, typ):
    """ranges with [base, end) set to typ, sorted, adjacent equal types merged."""
    out = []
    for b, e, t in ranges:
        if e <= base or b >= end:
            out.append([b, e, t])
            continue
        if b < base:
            out.append([b, base, t])
        if e > end:
            out.append([end, e, t])
    out.append([base, end, typ])
    out.sort()
    merged = []
    for r in out:
        if merged and merged[-1][1] == r[0] and merged[-1][2] == r[2]:
            merged[-1][1] = r[1]
        else:
            merged.append(r)
    return merged


def upper_end(ranges):
    """End of the usable RAM contiguous from 1 MiB (what Multiboot's mem_upper counts)."""
    end = MIB
    for b, e, t in ranges:
        if t == 1 and b <= end < e:
            end = e
    return end


def _fmt(ranges):
    return " ".join("%x-%x:%d" % tuple(r) for r in ranges)


def layout_check(results):
    """None if L1's map is the bare map minus exactly the hypervisor's ranges, and those sit at
    the top of L1's contiguous RAM from 1 MiB (mem_upper); else a reason."""
    bare, hv = results["bare"], results["hv"]
    hvr = hv_ranges(hv.hv_lines)
    if not hvr:
        return "hv: no 'hv: mm: hv [..]' line naming the hypervisor's memory"
    expected = guest_map(bare.guest_lines)
    if not expected:
        return "bare: the guest printed no memory map"
    for b, e in hvr:
        expected = paint(expected, b, e, RESERVED)
    got = guest_map(hv.guest_lines)
    if got != expected:
        return "L1's map is not the bare map minus the hypervisor's ranges: got %s, expected %s" % (
            _fmt(got), _fmt(expected))
    if upper_end(expected) != min(b for b, _ in hvr):
        return "the hypervisor's memory %s is not at the top of L1's RAM from 1 MiB (which ends at %#x)" % (
            hvr, upper_end(expected))
    m = next(filter(None, map(_UPPER.match, hv.guest_lines)), None)
    if not m or int(m.group(1)) * 1024 != upper_end(expected) - MIB:
        return "L1's mem_upper %s KiB, expected %d KiB" % (m and m.group(1), (upper_end(expected) - MIB) // 1024)
    return None
