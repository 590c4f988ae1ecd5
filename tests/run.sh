#!/bin/sh
# make test: the native unit tests (ASan + UBSan, then ThreadSanitizer), make install and the
# man page (tests/install-check.sh), the fuzz targets (their seeds replayed, then
# FUZZ_TEST_SECONDS of fuzzing each), then the arm64 lab.
# Every test prints "PASS: name" or "FAIL: name"; the last line counts them.
set -u
cd "$(dirname "$0")/.."
log=build/test.log
mkdir -p build
: > "$log"

step() {
	# Runs a step, keeps its whole output in the log, shows its verdict lines,
	# and turns a step that fails without a verdict into a FAIL of its own.
	name=$1; shift
	echo "== $name"
	out=build/test-$name.out
	"$@" > "$out" 2>&1
	rc=$?
	cat "$out" >> "$log"
	grep -E '^(PASS|FAIL): ' "$out"
	if [ $rc -ne 0 ] && ! grep -q '^FAIL: ' "$out"; then
		echo "FAIL: $name: exited $rc (see $out)"
		echo "FAIL: $name: exited $rc" >> "$log"
	fi
}

step unit make --no-print-directory unit
step install tests/install-check.sh
step tsan make --no-print-directory tsan
step fuzz-build make --no-print-directory fuzz-build
if [ -x build/fuzz/fuzz_cli ]; then
	step fuzz tests/fuzz/run.sh "${FUZZ_TEST_SECONDS:-10}" \
		$(make --no-print-directory -s print-fuzz-targets)
fi
step build make --no-print-directory STATIC=1 TEST_HOOKS=1 all build/arm64/api-call \
	build/arm64/uffd-server build/arm64/vsock-tool build/arm64/pmu-tool
if [ -x build/arm64/arkvm ]; then
	step lab env ARKVM_BIN=build/arm64/arkvm ARKVM_GUEST_TOOLS="build/arm64/vsock-tool build/arm64/pmu-tool" \
		LAB_FILES="build/arm64/api-call build/arm64/uffd-server build/arm64/vsock-tool configs/vm-minimal.json" \
		tests/lab/lab.sh test
fi

passed=$(grep -c '^PASS: ' "$log")
failed=$(grep -c '^FAIL: ' "$log")
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
