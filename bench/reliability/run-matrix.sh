#!/bin/bash
# NAME
#	run-matrix.sh - the fault matrix (issue 11): every tests/e2e/t-fault-*.sh, one table
# SUMMARY
#	bench/reliability/run-matrix.sh BUILD_DIR OUT.md [NAME_PATTERN]
# DESCRIPTION
#	Runs each tests/e2e/t-fault-*.sh (those matching NAME_PATTERN, a shell glob on
#	the name without t- and .sh, default "*"), one after the other, with the programs
#	of BUILD_DIR (tlsmaps/cli/tlsmaps, policyd/forcetls-policyd,
#	milter/forcetls-milter) and FTLS_FAULT_REPORT set, so that every fw_count of
#	tests/e2e/lib-fault.sh appends its ROW line there. Then it prints, and writes to
#	OUT.md, a Markdown table: one line per ROW (row, MTA, the command that runs its
#	test, the result, the counts), and a line with "-" counts for a test that
#	printed no ROW (skipped, or failed before counting). A row's result is FAIL when
#	its own counts show a loss, forced mail in clear, a refused, unmarked or
#	misrouted message, or fewer accepted than sent; otherwise its test's result
#	(PASS, FAIL, or SKIP for exit 77). Each test's output is kept in
#	LOGDIR/NAME.log. Needs root (the tests' network namespaces), like ctest -L e2e.
#	Exits 1 when any line is FAIL.
#
#	Environment: LOGDIR (/tmp/forcetls-fault-matrix), TEST_TIMEOUT (300 s per test).
# EXAMPLE
#	bench/reliability/run-matrix.sh build /tmp/fault-matrix.md
#	bench/reliability/run-matrix.sh build-asan /tmp/fault-matrix-asan.md 'table*'
# SEE ALSO
#	tests/e2e/README.md ("Fault matrix"), tests/e2e/lib-fault.sh
set -u
BUILD=$(cd "${1:?usage: run-matrix.sh BUILD_DIR OUT.md [NAME_PATTERN]}" && pwd) || exit 2
OUT=${2:?usage: run-matrix.sh BUILD_DIR OUT.md [NAME_PATTERN]}
PAT=${3:-*}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
LOGDIR=${LOGDIR:-/tmp/forcetls-fault-matrix}
mkdir -p "$LOGDIR"
FIELDS="sent accepted tempfailed refused delivered_tls delivered_clear gateway queued bounced lost forced_clear unmarked misrouted dup"

# field NAME LINE: the number after " NAME=" in a ROW line ("-" if none).
field() { local v; v=$(sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$2"); echo "${v:--}"; }

row_bad() { # LINE: its own counts show a failure
	local f
	for f in lost forced_clear refused unmarked misrouted; do
		[ "$(field $f "$1")" = 0 ] || return 0
	done
	[ "$(field accepted "$1")" = "$(field sent "$1")" ] || return 0
	return 1
}

{
	printf '| row | MTA | command | result |'
	for f in $FIELDS; do printf ' %s |' "$f"; done
	printf '\n|---|---|---|---|'
	for f in $FIELDS; do printf -- '---:|'; done
	printf '\n'
} >"$OUT.tmp"

fail=0
for t in "$SRC"/tests/e2e/t-fault-*.sh; do
	[ -e "$t" ] || continue
	name=$(basename "$t" .sh)
	name=${name#t-}
	# shellcheck disable=SC2254 # (PAT is a glob)
	case $name in $PAT) ;; *) continue ;; esac
	rows=$LOGDIR/$name.rows
	: >"$rows"
	cmd="tests/e2e/t-$name.sh $BUILD/tlsmaps/cli/tlsmaps examples"
	echo "run-matrix: $name ..." >&2
	t0=$(date +%s)
	FTLS_FAULT_REPORT=$rows FTLS_TLSMAPS=$BUILD/tlsmaps/cli/tlsmaps FTLS_EXAMPLES=$SRC/examples \
		FTLS_POLICYD=$BUILD/policyd/forcetls-policyd FTLS_MILTER=$BUILD/milter/forcetls-milter \
		timeout "${TEST_TIMEOUT:-300}" bash "$t" "$BUILD/tlsmaps/cli/tlsmaps" "$SRC/examples" \
		>"$LOGDIR/$name.log" 2>&1
	rc=$?
	case $rc in 0) res=PASS ;; 77) res=SKIP ;; *) res=FAIL ;; esac
	echo "run-matrix: $name: $res (exit $rc, $(($(date +%s) - t0)) s, log $LOGDIR/$name.log)" >&2
	[ $res = FAIL ] && fail=1
	if [ ! -s "$rows" ]; then
		printf '| %s | - | `%s` | %s |' "$name" "$cmd" "$res"
		for f in $FIELDS; do printf ' - |'; done
		printf '\n'
	fi >>"$OUT.tmp"
	while read -r line; do
		r=$res
		row_bad "$line" && r=FAIL fail=1
		set -- $line
		printf '| %s | %s | `%s` | %s |' "$2" "$(sed -n 's/.* mta=\([a-z]*\).*/\1/p' <<<"$line")" "$cmd" "$r"
		for f in $FIELDS; do printf ' %s |' "$(field $f "$line")"; done
		printf '\n'
	done <"$rows" >>"$OUT.tmp"
done
mv "$OUT.tmp" "$OUT"
cat "$OUT"
exit $fail
