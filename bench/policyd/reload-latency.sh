#!/bin/bash
# NAME
#	reload-latency.sh - the longest reply delay while forcetls-policyd reloads a big table
# SUMMARY
#	bench/policyd/reload-latency.sh BUILD_DIR LABEL=POLICYD [LABEL=POLICYD ...]
# DESCRIPTION
#	For each POLICYD binary, in the same run: starts it on a table of N
#	domains (common.sh bp_gen, default 1,000,000), drives it with loadgen
#	(CONNS connections, each looping socketmap lookups, every reply
#	checked) for DURATION seconds, and meanwhile reloads the table every
#	RELOAD_EVERY seconds with SIGHUP (a reload in every version of
#	forcetls-policyd), renaming a table of N or N+EXTRA entries into place
#	first so that each reload really builds a new table. Then it runs the
#	same load without reloads, as a baseline.
#
#	Prints one line per binary and mode: reloads done, loadgen's request
#	rate, p99, p99.9 and max latency (send to complete reply). The max is
#	"the longest reply delay seen by a client". Issue 7's target: no reply
#	delayed by more than 10 ms while a 1,000,000-entry table reloads.
#
#	Run as root, the daemon and loadgen run at nice PRIO (default -5), so
#	that other work on a shared machine (compilers at nice 0..10) disturbs
#	both versions less; the same for every binary.
#
#	Environment: N (1000000), KEYS (20000), EXTRA (1000), CONNS (4),
#	DURATION (10), RELOAD_EVERY (2), PORT_BASE (20060), PRIO (-5 as root,
#	else 0), KEEP=1 keeps the work directory.
# SEE ALSO
#	docs/BENCHMARKS.md, reload-under-load.sh, loadgen.c
set -eu

if [ $# -lt 2 ]; then
	echo "usage: $0 BUILD_DIR LABEL=POLICYD [LABEL=POLICYD ...]" >&2
	exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "$1" && pwd)
shift
N=${N:-1000000}
KEYS=${KEYS:-20000}
EXTRA=${EXTRA:-1000}
CONNS=${CONNS:-4}
DURATION=${DURATION:-10}
RELOAD_EVERY=${RELOAD_EVERY:-2}
PORT_BASE=${PORT_BASE:-20060}
PRIO=${PRIO:-$([ "$(id -u)" = 0 ] && echo -5 || echo 0)}
LOADGEN=$BUILD/bench/policyd/loadgen
. "$HERE/common.sh"

[ -x "$LOADGEN" ] || {
	echo "$0: $LOADGEN: not built" >&2
	exit 2
}
W=$(mktemp -d /tmp/policyd-reload-latency.XXXXXX)
chmod 755 "$W"
DPID=
cleanup() {
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null
	wait 2>/dev/null || true
	if [ "${KEEP:-0}" = 1 ]; then echo "work directory kept: $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT

bp_gen "$W" "$N" "$KEYS"
cp "$W/table" "$W/table.a"
{
	cat "$W/table"
	awk -v n="$EXTRA" 'BEGIN { for (i = 0; i < n; i++) printf "x%d.extra.example verify\n", i }'
} >"$W/table.b"
chmod 644 "$W"/*
printf 'policyd = {\n  user = "%s";\n  watch_table = false;\n};\n' \
	"$([ "$(id -u)" = 0 ] && echo nobody)" >"$W/policyd.conf"
SM=$PORT_BASE POL=$((PORT_BASE + 1))

# run LABEL POLICYD MODE: MODE is reload or baseline.
run() {
	local label=$1 bin=$2 mode=$3 v=b n0 n1
	cp "$W/table.a" "$W/table"
	nice -n "$PRIO" "$bin" --foreground --config "$W/policyd.conf" --table "$W/table" \
		--socketmap-listen inet:127.0.0.1:$SM --policy-listen inet:127.0.0.1:$POL \
		>"$W/$label.log" 2>&1 &
	DPID=$!
	local i=0
	until bp_wait_port 127.0.0.1 $SM 1 && bp_wait_ready "$LOADGEN" 127.0.0.1:$SM "$W/sm-policyd.txt"; do
		i=$((i + 1))
		[ $i -lt 60 ] && kill -0 $DPID 2>/dev/null || {
			echo "$0: $label does not answer" >&2
			cat "$W/$label.log" >&2
			exit 1
		}
	done
	n0=$(grep -Ec 'reloaded \(SIGHUP\)|reload \(SIGHUP\): ok' "$W/$label.log" || true)
	nice -n "$PRIO" "$LOADGEN" -P socketmap -a 127.0.0.1:$SM -f "$W/sm-policyd.txt" -c "$CONNS" -w 0.5 \
		-d "$DURATION" -l "$label-$mode" >"$W/lg.out" 2>"$W/lg.err" &
	local lg=$!
	sleep 1
	while kill -0 $lg 2>/dev/null; do
		if [ "$mode" = reload ]; then
			cp "$W/table.$v" "$W/table.new"
			mv "$W/table.new" "$W/table"
			v=$([ $v = a ] && echo b || echo a)
			kill -HUP $DPID
		fi
		sleep "$RELOAD_EVERY"
	done
	wait $lg || true
	n1=$(grep -Ec 'reloaded \(SIGHUP\)|reload \(SIGHUP\): ok' "$W/$label.log" || true)
	kill $DPID
	wait $DPID 2>/dev/null || true
	DPID=
	sed -n "s/^loadgen label=\([^ ]*\) .* rps=\([^ ]*\) .* p99_us=\([^ ]*\) p999_us=\([^ ]*\) max_us=\([^ ]*\) errors=\([^ ]*\) .* over10ms=\([0-9]*\).*/\1: reloads=$((n1 - n0)) rps=\2 p99_ms=\3 p999_ms=\4 max_ms=\5 over_10ms=\7 errors=\6/p" \
		"$W/lg.out" | awk '{
			for (i = 1; i <= NF; i++) if ($i ~ /_ms=/) { split($i, kv, "="); $i = sprintf("%s=%.2f", kv[1], kv[2] / 1000) }
			print
		}'
	[ -s "$W/lg.err" ] && head -5 "$W/lg.err" >&2
	return 0
}

echo "table: $N entries (+$EXTRA every other reload); $CONNS connections; ${DURATION}s;" \
	"a reload every ${RELOAD_EVERY}s; $(nproc) CPUs; nice $PRIO"
for spec in "$@"; do
	run "${spec%%=*}" "${spec#*=}" reload
done
for spec in "$@"; do
	run "${spec%%=*}" "${spec#*=}" baseline
done
