#!/usr/bin/env bash
# The Linux figures for `make bench`: wall seconds from power-on to /init and to power-off, bare vs as L1, and their ratio.
#
# Usage: tests/linux/bench-linux.sh [--bare-only]
# Prints one line per figure, "linux <what> (wall s) bare=<s> l1=<s> ratio=<l1/bare>",
# ("l1=-" when the hypervisor image is missing or Linux did not get that far as L1).
# Builds the images it needs (make linux-images, make linux-iso); each boot takes about a minute.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-python3}
MAKE=${MAKE:-make}
DIR=$BUILD/linux
TIMEOUT=${LINUX_TIMEOUT:-400}

$MAKE -s --no-print-directory linux-images >/dev/null || { echo "bench-linux: building the images failed"; exit 1; }
l1=1
[ "${1:-}" = "--bare-only" ] && l1=0
if [ $l1 = 1 ] && ! $MAKE -s --no-print-directory linux-iso >/dev/null 2>&1; then
	echo "bench-linux: no hypervisor image (make linux-iso failed): bare figures only"
	l1=0
fi

# One boot: prints "init=<s> poweroff=<s>" (or "-") measured by tests/linux/bochs_run.py.
boot() {
	local iso=$1 name=$2 out
	out=$(timeout $((TIMEOUT + 30)) "$PYTHON" tests/linux/bochs_run.py "$iso" "$DIR/bench-$name" \
		--timeout "$TIMEOUT" --megs 512 --quiet 2>&1 | grep '^bochs_run:')
	echo "$out" | sed -n 's/.* init=\([0-9.]*\)s\{0,1\} poweroff=\([0-9.]*\)s\{0,1\}.*/init=\1 poweroff=\2/p'
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && a > 0) printf "%.2f", b / a; else print "-" }'
}

bare=$(boot "$DIR/bare.iso" bare)
hv="init=- poweroff=-"
[ $l1 = 1 ] && hv=$(boot "$DIR/hv-linux.iso" l1)
# Guest uptime runs on the TSC, which in Bochs counts emulated instructions: the deterministic figure.
uptime_at() {
	grep -a "$2=" "$DIR/bench-$1/serial.txt" 2>/dev/null | sed -n 's/.*uptime=\([0-9.]*\).*/\1/p' | head -1
}

for what in init poweroff; do
	b=$(uptime_at bare $what)
	h=$([ $l1 = 1 ] && uptime_at l1 $what)
	label=$([ $what = init ] && echo "boot-to-/init" || echo "boot-to-poweroff")
	echo "linux $label (guest TSC uptime s, deterministic) bare=${b:--} l1=${h:--} ratio=$(ratio "${b:--}" "${h:--}")"
done
for what in init poweroff; do
	b=$(echo "$bare" | sed -n "s/.*$what=\([^ ]*\).*/\1/p")
	h=$(echo "$hv" | sed -n "s/.*$what=\([^ ]*\).*/\1/p")
	label=$([ $what = init ] && echo "boot-to-/init" || echo "boot-to-poweroff")
	echo "linux $label (wall s) bare=${b:--} l1=${h:--} ratio=$(ratio "${b:--}" "${h:--}")"
done
