#!/bin/sh
# Runs libFuzzer targets: each replays its seeds (tests/fuzz/corpus/TARGET)
# and what earlier runs found (the cache), then fuzzes for SECONDS.
#
#   tests/fuzz/run.sh SECONDS TARGET...
#
# Prints "PASS: fuzz/TARGET: N runs in S s" or "FAIL: fuzz/TARGET: ..." with
# the crashing input kept under $ARKVM_CACHE/fuzz/artifacts (the warnings
# arkvm prints about the guest are silenced: -close_fd_mask). Inputs that
# reach new code are kept in $ARKVM_CACHE/fuzz/corpus/TARGET, never in the
# repository: a finding is turned into a seed by hand, with its fix.
set -u
cd "$(dirname "$0")/../.."
seconds=$1; shift
cache=${ARKVM_CACHE:-$HOME/.cache/arkvm}/fuzz
mkdir -p "$cache/artifacts"
status=0
for t in "$@"; do
	seeds=tests/fuzz/corpus/$t
	found=$cache/corpus/$t
	mkdir -p "$seeds" "$found"
	log=$cache/$t.log
	build/fuzz/fuzz_$t -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
		-rss_limit_mb=2048 -close_fd_mask=3 -artifact_prefix="$cache/artifacts/$t-" \
		"$found" "$seeds" > "$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	if [ $rc -eq 0 ]; then
		echo "PASS: fuzz/$t: ${runs:-?} runs in $seconds s, corpus $(ls "$found" | wc -l) + $(ls "$seeds" | wc -l) seeds"
	else
		artifact=$(sed -n 's/.*Test unit written to \(.*\)/\1/p' "$log" | tail -n 1)
		echo "FAIL: fuzz/$t: libFuzzer exited $rc; input ${artifact:-none}; log $log"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|    #[0-9] )' "$log" | head -n 12
		status=1
	fi
done
exit $status
