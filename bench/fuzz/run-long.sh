#!/bin/bash
# NAME
#	run-long.sh - the long libFuzzer runs of every parser (issue 11, "Hostile input")
# SUMMARY
#	bench/fuzz/run-long.sh BUILD_FUZZ_DIR [TARGET...]
# DESCRIPTION
#	Runs each libFuzzer target of a fuzz build (scripts/build --fuzz) for
#	SECONDS seconds (default 600) from its seed corpus, JOBS targets at a
#	time (default 2, under nice 19 so that other work on the machine keeps
#	its share), with the options of its ctest smoke run (dictionary, max_len).
#	The corpus each run grows is kept in OUT/TARGET/corpus, so a second run
#	goes on where the first stopped; the seeds in the source tree are only
#	read. Crash, leak, timeout and OOM artifacts go to OUT/TARGET/.
#
#	Prints, and writes to OUT/results.md, one row per target: seconds run,
#	executions (libFuzzer's stat::number_of_executed_units), executions per
#	second, edge coverage (cov) and features (ft) at the end, corpus files,
#	peak RSS, and the number of artifacts (crashes). Exits 1 when any target
#	left an artifact or did not finish its run.
#
#	Environment: SECONDS_PER_TARGET (600), JOBS (2), OUT (/tmp/forcetls-fuzz-long).
# SEE ALSO
#	tests/fuzz/README.md, docs/RELIABILITY.md
set -u
BUILD=$(cd "${1:?usage: run-long.sh BUILD_FUZZ_DIR [TARGET...]}" && pwd) || exit 2
shift
SRC=$(cd "$(dirname "$0")/../.." && pwd)
SECS=${SECONDS_PER_TARGET:-600}
JOBS=${JOBS:-2}
OUT=${OUT:-/tmp/forcetls-fuzz-long}
mkdir -p "$OUT"

# TARGET -> "BINARY SEEDS OPTIONS"
where() {
	local t=$1 d
	for d in tests/fuzz tests/milter_unit; do
		if [ -x "$BUILD/$d/$t" ]; then
			case $d in
			tests/fuzz) echo "$BUILD/$d/$t $SRC/$d/corpus/$t -dict=$SRC/tests/fuzz/tlsmaps.dict -max_len=4096" ;;
			*) echo "$BUILD/$d/$t $SRC/$d/corpus/$t -max_len=16384" ;;
			esac
			return 0
		fi
	done
	return 1
}

if [ $# -eq 0 ]; then
	set -- $(cd "$BUILD" && find tests -maxdepth 2 -type f -name 'fuzz_*' -perm -u+x -printf '%f\n' | sort)
fi
[ $# -gt 0 ] || { echo "run-long.sh: no fuzz_* targets under $BUILD (scripts/build --fuzz)" >&2; exit 2; }

run_one() {
	local t=$1 bin seeds opts env=
	read -r bin seeds opts <<<"$(where "$t")" || { echo "$t: not built" >"$OUT/$t.row"; return; }
	mkdir -p "$OUT/$t/corpus"
	[ "$t" = fuzz_config ] && env="LSAN_OPTIONS=suppressions=$SRC/tests/fuzz/lsan-libconfig.supp"
	local t0=$(date +%s)
	# shellcheck disable=SC2086
	env $env nice -n 19 "$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$OUT/$t/" $opts \
		"$OUT/$t/corpus" "$seeds" >"$OUT/$t.log" 2>&1
	local rc=$? t1 execs cov ft rss files arts
	t1=$(date +%s)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/$t.log" | tail -1)
	rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$OUT/$t.log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$OUT/$t.log" | tail -1 | cut -d' ' -f2)
	ft=$(grep -o 'ft: [0-9]*' "$OUT/$t.log" | tail -1 | cut -d' ' -f2)
	files=$(find "$OUT/$t/corpus" -type f | wc -l)
	arts=$(find "$OUT/$t" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' \
		-o -name 'timeout-*' -o -name 'oom-*' -o -name 'slow-unit-*' \) | wc -l)
	printf '| %s | %s | %s | %s | %s | %s | %s | %s MB | %s | %s |\n' "$t" "$((t1 - t0))" \
		"${execs:-?}" "$(( ${execs:-0} / ( (t1 - t0) > 0 ? (t1 - t0) : 1 ) ))" "${cov:-?}" \
		"${ft:-?}" "$files" "${rss:-?}" "$arts" "$rc" >"$OUT/$t.row"
}

running=0
for t in "$@"; do
	run_one "$t" &
	running=$((running + 1))
	if [ $running -ge "$JOBS" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait

{
	echo "fuzz runs of ${SECS} s each, $JOBS at a time, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores"
	echo
	echo '| target | s | executions | exec/s | cov | ft | corpus | peak RSS | artifacts | rc |'
	echo '|---|---|---|---|---|---|---|---|---|---|'
	for t in "$@"; do cat "$OUT/$t.row"; done
} >"$OUT/results.md"
cat "$OUT/results.md"
bad=0
for t in "$@"; do
	row=$(cat "$OUT/$t.row")
	case $row in *"not built"*) bad=1 ;; esac
	[ "$(echo "$row" | awk -F' [|] ' '{print $9}')" = 0 ] || bad=1
	[ "$(echo "$row" | awk -F' [|] ' '{print $10}' | tr -d ' |')" = 0 ] || bad=1
done
exit $bad
