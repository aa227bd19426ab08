#!/bin/bash
# NAME
#	reload-under-load.sh - forcetls-policyd reloads its table under load, no lookup fails
# SUMMARY
#	bench/policyd/reload-under-load.sh BUILD_DIR
# DESCRIPTION
#	Builds nothing: BUILD_DIR must hold policyd/forcetls-policyd and
#	bench/policyd/loadgen. Starts forcetls-policyd on a table of N domains
#	(common.sh bp_gen) and drives it with two loadgen processes at once,
#	RELOAD_CONNS connections each: socketmap lookups and policy delegation
#	requests, every reply checked against the exact answer expected.
#	Meanwhile, every RELOAD_INTERVAL seconds, the table file is replaced
#	(atomic rename; every other version carries EXTRA more entries that none
#	of the requests touch, so each reload really loads a different table
#	with the same answers) and the daemon gets SIGHUP.
#
#	Passes (exit 0) when both loadgens report errors=0 (no failed, refused,
#	unexpected or missing answer, no dropped connection), the daemon logged
#	no failed reload, and it reloaded at least once per second of load.
#	Prints the loadgen lines, the number of SIGHUPs sent, reloads done (from
#	the daemon's log) and the time one reload of the table takes.
#
#	Environment: RELOAD_CONNS (64), RELOAD_DURATION (10 s), RELOAD_INTERVAL
#	(0.1 s), N (100000), KEYS (20000), EXTRA (1000), SERVER_CPU (1),
#	LOADGEN_CPU (0), PORT_BASE (20040), POLICYD (another binary), KEEP=1
#	keeps the work directory.
# SEE ALSO
#	bench/policyd/RESULTS.md, run-policyd-bench.sh, loadgen.c
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "$1" && pwd)
RELOAD_CONNS=${RELOAD_CONNS:-64}
RELOAD_DURATION=${RELOAD_DURATION:-10}
RELOAD_INTERVAL=${RELOAD_INTERVAL:-0.1}
N=${N:-100000}
KEYS=${KEYS:-20000}
EXTRA=${EXTRA:-1000}
SERVER_CPU=${SERVER_CPU:-1}
LOADGEN_CPU=${LOADGEN_CPU:-0}
PORT_BASE=${PORT_BASE:-20040}
POLICYD=${POLICYD:-$BUILD/policyd/forcetls-policyd}
LOADGEN=$BUILD/bench/policyd/loadgen
# Reload log lines, before issue 7 and after (reload.h): either binary can be measured.
OK_RE='reloaded \(SIGHUP\)|reload \(SIGHUP\): ok'
FAIL_RE='reload \(SIGHUP\) failed|reload \(SIGHUP\): refused'
. "$HERE/common.sh"

for f in "$POLICYD" "$LOADGEN"; do
	if [ ! -x "$f" ]; then
		echo "$0: $f: not built (cmake --build $BUILD --target forcetls-policyd loadgen)" >&2
		exit 2
	fi
done

W=$(mktemp -d /tmp/policyd-reload.XXXXXX)
chmod 755 "$W"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	if [ "${KEEP:-0}" = 1 ]; then
		echo "work directory kept: $W" >&2
	else
		rm -rf "$W"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

SM=$PORT_BASE POL=$((PORT_BASE + 1))
bp_gen "$W" "$N" "$KEYS"
cp "$W/table" "$W/table.a"
{
	cat "$W/table"
	awk -v n="$EXTRA" 'BEGIN { for (i = 0; i < n; i++) printf "x%d.extra.example verify\n", i }'
} >"$W/table.b"
chmod 644 "$W"/*
printf 'policyd = {\n  user = "%s";\n  watch_table = false;\n};\n' \
	"$([ "$(id -u)" = 0 ] && echo nobody)" >"$W/policyd.conf"

taskset -c "$SERVER_CPU" "$POLICYD" --foreground --config "$W/policyd.conf" --table "$W/table" \
	--socketmap-listen inet:127.0.0.1:$SM --policy-listen inet:127.0.0.1:$POL \
	>"$W/policyd.log" 2>&1 &
DPID=$!
PIDS+=("$DPID")
for p in $SM $POL; do
	bp_wait_port 127.0.0.1 $p 20 || {
		echo "$0: forcetls-policyd does not listen on $p" >&2
		cat "$W/policyd.log" >&2
		exit 1
	}
done
bp_wait_ready "$LOADGEN" 127.0.0.1:$SM "$W/sm-policyd.txt" || {
	echo "$0: forcetls-policyd does not answer" >&2
	cat "$W/policyd.log" >&2
	exit 1
}

# One reload alone, timed through the log: the loop is blocked that long.
t0=$(date +%s%N)
kill -HUP $DPID
i=0
while ! grep -Eq "$OK_RE" "$W/policyd.log" && [ $i -lt 200 ]; do
	sleep 0.01
	i=$((i + 1))
done
t1=$(date +%s%N)
echo "one reload of $(($(wc -l <"$W/table") - 1)) entries, signal to log line:" \
	"$(((t1 - t0) / 1000000)) ms"

taskset -c "$LOADGEN_CPU" "$LOADGEN" -P socketmap -a 127.0.0.1:$SM -f "$W/sm-policyd.txt" \
	-c "$RELOAD_CONNS" -w 0.5 -d "$RELOAD_DURATION" -l reload-socketmap \
	>"$W/lg-sm.out" 2>"$W/lg-sm.err" &
LG1=$!
taskset -c "$LOADGEN_CPU" "$LOADGEN" -P policy -a 127.0.0.1:$POL -f "$W/policy.txt" \
	-c "$RELOAD_CONNS" -w 0.5 -d "$RELOAD_DURATION" -l reload-policy \
	>"$W/lg-pol.out" 2>"$W/lg-pol.err" &
LG2=$!
PIDS+=("$LG1" "$LG2")

before=$(grep -Ec "$OK_RE" "$W/policyd.log" || true)
hups=0
v=b
sleep 0.3
while kill -0 $LG1 2>/dev/null || kill -0 $LG2 2>/dev/null; do
	cp "$W/table.$v" "$W/table.new"
	mv "$W/table.new" "$W/table"
	v=$([ $v = a ] && echo b || echo a)
	kill -HUP $DPID
	hups=$((hups + 1))
	sleep "$RELOAD_INTERVAL"
done
rc1=0 rc2=0
wait $LG1 || rc1=$?
wait $LG2 || rc2=$?
sleep 0.5
reloads=$(($(grep -Ec "$OK_RE" "$W/policyd.log" || true) - before))
failed=$(grep -Ec "$FAIL_RE" "$W/policyd.log" || true)

cat "$W/lg-sm.out" "$W/lg-pol.out"
for f in "$W/lg-sm.err" "$W/lg-pol.err"; do
	[ -s "$f" ] && head -20 "$f" >&2
done
errors=$(cat "$W/lg-sm.out" "$W/lg-pol.out" | sed -n 's/.* errors=\([0-9]*\).*/\1/p' |
	awk '{ s += $1 } END { print s + 0 }')
nlines=$(cat "$W/lg-sm.out" "$W/lg-pol.out" | grep -c '^loadgen ' || true)
echo "SIGHUPs sent: $hups; reloads done: $reloads; failed reloads: $failed;" \
	"loadgen errors (failed, unexpected or missing answers): $errors"
if ! kill -0 $DPID 2>/dev/null; then
	echo "FAIL: forcetls-policyd died" >&2
	tail -20 "$W/policyd.log" >&2
	exit 1
fi
min_reloads=${RELOAD_DURATION%.*}
if [ "$nlines" -ne 2 ] || [ "$errors" -ne 0 ] || [ $rc1 -ne 0 ] || [ $rc2 -ne 0 ] ||
	[ "$failed" -ne 0 ] || [ "$reloads" -lt "$min_reloads" ]; then
	echo "FAIL" >&2
	exit 1
fi
echo "PASS: zero failed lookups across $reloads reloads under load"
