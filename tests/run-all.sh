#!/usr/bin/env bash
# What `make test` runs: builds, host unit tests, the fuzz smoke test, every e2e test; ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-python3}
LOGS=$BUILD/test-logs
mkdir -p "$LOGS"
passed=0
failed=0

pass() { passed=$((passed + 1)); echo "PASS $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1: $2"; }

# A build step counts as a test: a broken build must fail `make test` even if nothing else notices.
build() {
	local name=$1 rc=0; shift
	if timeout 1200 $MAKE -j2 "$@" >"$LOGS/build-$name.log" 2>&1; then
		pass "build-$name"
	else
		rc=1
		fail "build-$name" "make $* failed: $(grep -m1 -E 'error:|undefined reference|\*\*\*' "$LOGS/build-$name.log" | cut -c1-200) (log: $LOGS/build-$name.log)"
	fi
	return $rc
}

# Sums cmocka's "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s), listed below:" lines of one binary.
run_unit() {
	local bin=$1 name log rc np nf
	name=unit/$(basename "$bin")
	log="$LOGS/$(basename "$bin").log"
	CMOCKA_MESSAGE_OUTPUT=stdout timeout 300 "$bin" >"$log" 2>&1
	rc=$?
	np=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	nf=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	# A crash, sanitizer report or timeout can leave no failure count: still one failure.
	if [ "$rc" -ne 0 ] && [ "$nf" -eq 0 ]; then nf=1; fi
	passed=$((passed + np))
	failed=$((failed + nf))
	if [ "$nf" -eq 0 ]; then
		echo "PASS $name ($np tests)"
	else
		echo "FAIL $name: $nf failed, $np passed, exit $rc: $(grep -m3 -E '^\[  FAILED  \] [a-z_]|ERROR|runtime error' "$log" | tr '\n' ' ' | cut -c1-200) (log: $log)"
	fi
}

run_units() {
	local bins
	bins=$($MAKE -s --no-print-directory print-unit-bins 2>/dev/null)
	for bin in $bins; do
		if [ -x "$bin" ]; then
			run_unit "$bin"
		else
			fail "unit/$(basename "$bin")" "not built (see $LOGS/build-unit.log)"
		fi
	done
}

run_fuzz_smoke() {
	$MAKE -n fuzz-smoke >/dev/null 2>&1 || return 0
	if timeout 900 $MAKE fuzz-smoke >"$LOGS/fuzz-smoke.log" 2>&1; then
		pass fuzz-smoke
	else
		fail fuzz-smoke "make fuzz-smoke failed: $(tail -n 3 "$LOGS/fuzz-smoke.log" | tr '\n' ' ' | cut -c1-200)"
	fi
}

# The runner prints PASS/FAIL lines itself; count them as they go by. The bound leaves room for the
# QEMU/KVM L2 Linux tests (tests/e2e/test_linux_qemu.py, up to ~15 min of the run).
run_e2e() {
	local line
	while IFS= read -r line; do
		case "$line" in
		"PASS "*) passed=$((passed + 1)); echo "$line" ;;
		"FAIL "*) failed=$((failed + 1)); echo "$line" ;;
		*) echo "$line" ;;
		esac
	done < <(timeout 5400 "$PYTHON" tests/runner.py 2>&1; echo "runner exit status $?")
}

build unit unit
build guests guests images-bare
build hv hv && build hv-images images-hv
run_units
run_fuzz_smoke
run_e2e
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
