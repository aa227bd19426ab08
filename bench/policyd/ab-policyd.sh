#!/bin/bash
# NAME
#	ab-policyd.sh - two forcetls-policyd binaries, same data, same run
# SUMMARY
#	bench/policyd/ab-policyd.sh BUILD_DIR POLICYD_A POLICYD_B
# DESCRIPTION
#	For a change to the serving path (server.c, socketmap.c, delegation.c):
#	runs POLICYD_A and POLICYD_B side by side (two ports each, pinned to
#	SERVER_CPU) against the data of run-policyd-bench.sh (common.sh bp_gen),
#	and measures each with BUILD_DIR's loadgen (pinned to LOADGEN_CPU) at
#	each connection count of CONNS, both protocols, RUNS times, A and B
#	interleaved. Prints every loadgen line with its cpu_ticks, then per
#	(protocol, connections) the median req/s, p99 and CPU us per request of
#	A and B and B/A. No peers to install: the check that a change does not
#	regress, not the comparison with other servers (run-policyd-bench.sh).
#
#	Environment: CONNS ("16"), RUNS (5), DURATION (2), WARMUP (0.5),
#	N (100000), KEYS (20000), SERVER_CPU (1), LOADGEN_CPU (0),
#	PORT_BASE (20128; four ports from it).
# SEE ALSO
#	run-policyd-bench.sh, common.sh, RESULTS.md
set -eu

if [ $# -ne 3 ]; then
	echo "usage: $0 BUILD_DIR POLICYD_A POLICYD_B" >&2
	exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
LOADGEN=$(cd "$1" && pwd)/bench/policyd/loadgen
A=$2 B=$3
CONNS=${CONNS:-16} RUNS=${RUNS:-5} DURATION=${DURATION:-2} WARMUP=${WARMUP:-0.5}
N=${N:-100000} KEYS=${KEYS:-20000} SERVER_CPU=${SERVER_CPU:-1} LOADGEN_CPU=${LOADGEN_CPU:-0}
PORT_BASE=${PORT_BASE:-20128}
. "$HERE/common.sh"
for f in "$LOADGEN" "$A" "$B"; do
	[ -x "$f" ] || { echo "$0: $f: not built" >&2; exit 2; }
done

W=$(mktemp -d /tmp/policyd-ab.XXXXXX)
chmod 755 "$W"
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$W"' EXIT
bp_gen "$W" "$N" "$KEYS"
chmod 644 "$W"/*
printf 'policyd = {\n  user = "%s";\n  watch_table = false;\n};\n' \
	"$([ "$(id -u)" = 0 ] && echo nobody)" >"$W/policyd.conf"
start() {	# BINARY SM_PORT POL_PORT
	taskset -c "$SERVER_CPU" "$1" --foreground --config "$W/policyd.conf" --table "$W/table" \
		--socketmap-listen inet:127.0.0.1:$2 --policy-listen inet:127.0.0.1:$3 \
		>>"$W/policyd.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 60); do
		bp_wait_ready "$LOADGEN" 127.0.0.1:$2 "$W/sm-policyd.txt" && return
		sleep 0.5
	done
	echo "$0: $1 does not answer" >&2
	cat "$W/policyd.log" >&2
	exit 1
}
start "$A" $PORT_BASE $((PORT_BASE + 1))
PID_A=${PIDS[-1]}
start "$B" $((PORT_BASE + 2)) $((PORT_BASE + 3))
PID_B=${PIDS[-1]}
ticks() { sed 's/.*) //' /proc/"$1"/stat | awk '{ print $12 + $13 }'; }
run() {	# LABEL PROTO PORT FILE CONNS PID
	local t0 t1 line
	t0=$(ticks "$6")
	line=$(taskset -c "$LOADGEN_CPU" "$LOADGEN" -P "$2" -a 127.0.0.1:$3 -f "$W/$4" -c "$5" \
		-d "$DURATION" -w "$WARMUP" -l "$1") || true
	t1=$(ticks "$6")
	echo "$line cpu_ticks=$((t1 - t0)) clk_tck=$(getconf CLK_TCK)" | tee -a "$W/results" >&2
}
for c in $CONNS; do
	for _ in $(seq "$RUNS"); do
		run A socketmap $PORT_BASE sm-policyd.txt "$c" "$PID_A"
		run B socketmap $((PORT_BASE + 2)) sm-policyd.txt "$c" "$PID_B"
		run A policy $((PORT_BASE + 1)) policy.txt "$c" "$PID_A"
		run B policy $((PORT_BASE + 3)) policy.txt "$c" "$PID_B"
	done
done
awk '
function kv(s,   a, i, n, p) { n = split(s, a, " "); for (i = 1; i <= n; i++) { p = index(a[i], "="); v[substr(a[i], 1, p - 1)] = substr(a[i], p + 1) } }
function median(arr, k,   i, j, t, x) {
	for (i = 1; i <= n[k]; i++) x[i] = arr[k, i]
	for (i = 1; i <= n[k]; i++) for (j = i + 1; j <= n[k]; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }
	return n[k] % 2 ? x[(n[k] + 1) / 2] : (x[n[k] / 2] + x[n[k] / 2 + 1]) / 2
}
$1 == "loadgen" {
	delete v; kv($0)
	k = v["proto"] SUBSEP v["conns"] SUBSEP v["label"]; j = ++n[k]
	rps[k, j] = v["rps"] + 0; p99[k, j] = v["p99_us"] + 0
	cpu[k, j] = v["replies"] > 0 ? 1e6 * v["cpu_ticks"] / v["clk_tck"] / v["replies"] : 0
	err += v["errors"]; pc[v["proto"] SUBSEP v["conns"]] = 1
}
END {
	print "| protocol | conns | A req/s | B req/s | B/A | A p99 us | B p99 us | A CPU us/req | B CPU us/req |"
	print "|---|---|---|---|---|---|---|---|---|"
	for (q in pc) {
		split(q, s, SUBSEP); a = q SUBSEP "A"; b = q SUBSEP "B"
		printf "| %s | %s | %.0f | %.0f | %.3f | %.0f | %.0f | %.2f | %.2f |\n", s[1], s[2],
			median(rps, a), median(rps, b), median(rps, b) / median(rps, a),
			median(p99, a), median(p99, b), median(cpu, a), median(cpu, b)
	}
	if (err) { print "loadgen errors: " err; exit 1 }
}' "$W/results"
