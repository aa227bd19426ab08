#!/bin/bash
# NAME
#	run-policyd-bench.sh - forcetls-policyd against its peers, same data, same run
# SUMMARY
#	bench/policyd/run-policyd-bench.sh BUILD_DIR
# DESCRIPTION
#	Builds nothing: BUILD_DIR must hold policyd/forcetls-policyd and
#	bench/policyd/{loadgen,constserver} (cmake --build BUILD_DIR --target
#	forcetls-policyd loadgen constserver; a Release build for real figures).
#	Installs the peers first (scripts/install-deps --bench; needs root) unless
#	NO_INSTALL=1.
#
#	Servers, each on its own loopback port:
#	  socketmap: forcetls-policyd; constserver (a bare epoll server answering
#	    a constant: this machine's limit); postfix-mta-sts-resolver answering
#	    from its cache (mta-sts-cached.py: the package's responder, its
#	    internal cache filled beforehand with an "enforce" policy per domain);
#	  policy delegation: forcetls-policyd; constserver; postfwd (the Debian
#	    package's postfwd2) with the equivalent rule, the client range and no
#	    encryption_protocol.
#	The data (common.sh bp_gen): a table of N domains plus 10.1.0.0/16
#	direction=in; KEYS socketmap keys with the exact answer each server
#	must give; 1000 Postfix 3.7-style RCPT policy requests, 1 in 8 to be
#	refused. Every reply is checked by loadgen (constserver's constant
#	answers only for form: -x).
#
#	Each server runs pinned to CPU SERVER_CPU and loadgen (one thread) to
#	CPU LOADGEN_CPU, so that the two never compete for a core on a 2-core
#	machine. For each connection count of CONNS, each server is measured
#	RUNS times, the servers interleaved (so that noise from elsewhere on the
#	machine falls on all alike); each figure is the median of its RUNS
#	values. Besides req/s and latency, the server's CPU time (utime + stime
#	from /proc, all its processes) is divided by the replies loadgen got:
#	CPU us per request does not depend on what else the machine runs, while
#	req/s and p99 do, so on a busy machine it is the figure to compare.
#
#	Environment: CONNS ("1 16 64 256"), RUNS (3), DURATION (2 s measured),
#	WARMUP (0.5 s), N (100000), KEYS (20000), SERVER_CPU (1), LOADGEN_CPU (0),
#	PORT_BASE (20028; six ports from it), POLICYD (another forcetls-policyd
#	binary), KEEP=1 keeps the work directory, NO_INSTALL=1.
#
#	Output: every loadgen line on stderr as it comes (with cpu_ticks=);
#	then on stdout, per protocol, a Markdown table (server x connections:
#	req/s, p50, p99, CPU us per request) and the targets of issue 3
#	checked: forcetls-policyd >= 85% of the constant server's req/s at 16
#	and 64 connections (also given as the ratio of CPU per request), p99
#	<= 1.5x the constant server's there, and >= 10x postfwd's req/s. Exit 0
#	if every loadgen run had errors=0 (the targets are reported, not
#	enforced), 1 otherwise.
# SEE ALSO
#	bench/policyd/RESULTS.md, bench/policyd/loadgen.c, reload-under-load.sh
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
BUILD=$(cd "$1" && pwd)
CONNS=${CONNS:-"1 16 64 256"}
RUNS=${RUNS:-3}
DURATION=${DURATION:-2}
WARMUP=${WARMUP:-0.5}
N=${N:-100000}
KEYS=${KEYS:-20000}
SERVER_CPU=${SERVER_CPU:-1}
LOADGEN_CPU=${LOADGEN_CPU:-0}
PORT_BASE=${PORT_BASE:-20028}
POLICYD=${POLICYD:-$BUILD/policyd/forcetls-policyd}
LOADGEN=$BUILD/bench/policyd/loadgen
CONST=$BUILD/bench/policyd/constserver
. "$HERE/common.sh"

for f in "$POLICYD" "$LOADGEN" "$CONST"; do
	if [ ! -x "$f" ]; then
		echo "$0: $f: not built (cmake --build $BUILD --target forcetls-policyd loadgen constserver)" >&2
		exit 2
	fi
done
if [ "${NO_INSTALL:-0}" != 1 ]; then
	"$SRC/scripts/install-deps" --bench
fi
for f in /usr/sbin/postfwd2 /usr/bin/mta-sts-daemon; do
	[ -x $f ] || { echo "$0: $f missing: run scripts/install-deps --bench" >&2; exit 2; }
done

W=$(mktemp -d /tmp/policyd-bench.XXXXXX)
chmod 755 "$W"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	if [ -f "$W/postfwd.pid" ]; then
		local m i=0
		m=$(cat "$W/postfwd.pid")
		postfwd2 --kill --pidfile "$W/postfwd.pid" >/dev/null 2>&1
		while kill -0 "$m" 2>/dev/null && [ $i -lt 50 ]; do
			sleep 0.1
			i=$((i + 1))
		done
	fi
	wait 2>/dev/null || true
	if [ "${KEEP:-0}" = 1 ]; then
		echo "work directory kept: $W" >&2
	else
		rm -rf "$W"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

P_SM=$PORT_BASE P_POL=$((PORT_BASE + 1)) C_SM=$((PORT_BASE + 2)) C_POL=$((PORT_BASE + 3))
STS=$((PORT_BASE + 4)) PFW=$((PORT_BASE + 5))

echo "generating $N entries, $KEYS keys in $W" >&2
bp_gen "$W" "$N" "$KEYS"
chmod 644 "$W"/*
# As root the daemon drops to "nobody"; the table file watch is off (reloads are
# reload-under-load.sh's subject). Rejections are logged, as in production.
printf 'policyd = {\n  user = "%s";\n  watch_table = false;\n};\n' \
	"$([ "$(id -u)" = 0 ] && echo nobody)" >"$W/policyd.conf"
printf 'host: 127.0.0.1\nport: %s\ncache_grace: 31536000\n' $STS >"$W/sts.yml"

taskset -c "$SERVER_CPU" "$POLICYD" --foreground --config "$W/policyd.conf" --table "$W/table" \
	--socketmap-listen inet:127.0.0.1:$P_SM --policy-listen inet:127.0.0.1:$P_POL \
	>"$W/policyd.log" 2>&1 &
PIDS+=($!)
PID_POLICYD=$!
taskset -c "$SERVER_CPU" "$CONST" -s 127.0.0.1:$C_SM -p 127.0.0.1:$C_POL >"$W/const.log" 2>&1 &
PIDS+=($!)
PID_CONST=$!
# The package's own interpreter: the responder is a Debian python3 module.
taskset -c "$SERVER_CPU" /usr/bin/python3 "$HERE/mta-sts-cached.py" "$W/sts.yml" "$W/domains.txt" \
	>"$W/sts.log" 2>&1 &
PIDS+=($!)
PID_STS=$!
for p in $P_SM $P_POL $C_SM $C_POL $STS; do
	bp_wait_port 127.0.0.1 $p 20 || {
		echo "$0: nothing listens on 127.0.0.1:$p" >&2
		cat "$W"/*.log >&2
		exit 1
	}
done
bp_wait_ready "$LOADGEN" 127.0.0.1:$P_SM "$W/sm-policyd.txt" || {
	echo "$0: forcetls-policyd does not answer" >&2
	cat "$W/policyd.log" >&2
	exit 1
}

# postfwd2 preforks one process per connection: at least CONNS of them are started
# before measuring (its max_requests counts connections, not lookups). Net::Server
# wants max_spare_servers < max_servers, or the policy server exits.
start_postfwd() {
	local c=$1
	[ -f "$W/postfwd.pid" ] && postfwd2 --kill --pidfile "$W/postfwd.pid" >/dev/null 2>&1
	local i=0
	while (exec 3<>"/dev/tcp/127.0.0.1/$PFW") 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	rm -f "$W/postfwd.pid"
	taskset -c "$SERVER_CPU" postfwd2 -f "$W/postfwd.cf" --interface 127.0.0.1 --port $PFW \
		-u nobody -g nogroup --pidfile "$W/postfwd.pid" \
		--min_servers $((c + 4)) --max_servers $((c + 16)) --min_spare_servers 2 \
		--max_spare_servers $((c + 8)) 2>"$W/postfwd.err" ||
		{ cat "$W/postfwd.err" >&2; exit 1; }
	bp_wait_port 127.0.0.1 $PFW 20 || { echo "$0: postfwd2 does not listen" >&2; exit 1; }
	# until all the children are up
	local want=$((c + 4))
	i=0
	while [ "$(pgrep -c -f '^ postfwd2::policy::child' || true)" -lt $want ] && [ $i -lt 200 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	# its master (pid file), cache and policy daemons, and the policy children
	local m k
	m=$(cat "$W/postfwd.pid")
	PID_PFW=$m
	for k in $(pgrep -P "$m" || true); do
		PID_PFW="$PID_PFW $k $(pgrep -d ' ' -P "$k" || true)"
	done
}

# CPU time (utime + stime, clock ticks) of processes: the server's cost per request
# does not depend on what else runs on the machine, unlike its req/s.
cpu_ticks() {
	local t=0 p
	for p in "$@"; do
		[ -r /proc/$p/stat ] || continue
		t=$((t + $(sed 's/.*) //' /proc/$p/stat | awk '{ print $12 + $13 }')))
	done
	echo $t
}

: >"$W/results"
run() {	# LABEL PROTO PORT FILE CONNS PIDS [loadgen options]
	local label=$1 proto=$2 port=$3 file=$4 c=$5 pids=$6 line t0 t1
	shift 6
	t0=$(cpu_ticks $pids)
	line=$(taskset -c "$LOADGEN_CPU" "$LOADGEN" -P "$proto" -a 127.0.0.1:$port -f "$W/$file" \
		-c "$c" -d "$DURATION" -w "$WARMUP" -l "$label" "$@" 2>>"$W/loadgen.err") || true
	t1=$(cpu_ticks $pids)
	line="$line cpu_ticks=$((t1 - t0)) clk_tck=$(getconf CLK_TCK)"
	echo "$line" >&2
	echo "$line" >>"$W/results"
}

for c in $CONNS; do
	start_postfwd "$c"

	for _ in $(seq "$RUNS"); do
		run forcetls-policyd socketmap $P_SM sm-policyd.txt "$c" "$PID_POLICYD"
		run constserver socketmap $C_SM sm-policyd.txt "$c" "$PID_CONST" -x
		run mta-sts-resolver socketmap $STS sm-sts.txt "$c" "$PID_STS"
		run forcetls-policyd policy $P_POL policy.txt "$c" "$PID_POLICYD"
		run constserver policy $C_POL policy.txt "$c" "$PID_CONST" -x
		run postfwd policy $PFW policy.txt "$c" "$PID_PFW"
	done
done
if [ -s "$W/loadgen.err" ]; then
	echo "loadgen diagnostics:" >&2
	head -40 "$W/loadgen.err" >&2
fi

# Medians per (proto, server, conns), each figure on its own; tables and targets.
awk -v runs="$RUNS" -v conns="$CONNS" '
function kv(s,   a, i, n, p) { n = split(s, a, " "); for (i = 1; i <= n; i++) { p = index(a[i], "="); v[substr(a[i], 1, p - 1)] = substr(a[i], p + 1) } }
$1 == "loadgen" {
	delete v; kv($0)
	k = v["proto"] SUBSEP v["label"] SUBSEP v["conns"]
	j = ++n[k]
	rps[k, j] = v["rps"] + 0; p50[k, j] = v["p50_us"] + 0; p99[k, j] = v["p99_us"] + 0
	cpu[k, j] = v["replies"] > 0 ? 1e6 * v["cpu_ticks"] / v["clk_tck"] / v["replies"] : 0
	err[k] += v["errors"]; allerr += v["errors"]
}
function median(arr, k,   i, j, t, x) {
	for (i = 1; i <= n[k]; i++) x[i] = arr[k, i]
	for (i = 1; i <= n[k]; i++) for (j = i + 1; j <= n[k]; j++)
		if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }
	return n[k] % 2 ? x[(n[k] + 1) / 2] : (x[n[k] / 2] + x[n[k] / 2 + 1]) / 2
}
function table(proto, peer,   s, k, nc, cl, i, lab) {
	nc = split(conns, cl, " ")
	printf "\n### %s: req/s, p50 ms, p99 ms, server CPU us per request (medians of %d runs)\n\n", proto, runs
	printf "| server |"; for (i = 1; i <= nc; i++) printf " %s conns |", cl[i]; print ""
	printf "|---|"; for (i = 1; i <= nc; i++) printf "---|"; print ""
	split("forcetls-policyd constserver " peer, lab, " ")
	for (s = 1; s <= 3; s++) {
		printf "| %s |", lab[s]
		for (i = 1; i <= nc; i++) {
			k = proto SUBSEP lab[s] SUBSEP cl[i]
			if (!(k in n)) { printf " - |"; continue }
			R[k] = median(rps, k); Q[k] = median(p99, k); C[k] = median(cpu, k)
			printf " %d / %.2f / %.2f / %.1f%s |", R[k], median(p50, k) / 1000, Q[k] / 1000, C[k], err[k] ? " (" err[k] " errors)" : ""
		}
		print ""
	}
}
function verdict(ok) { return ok ? "MET" : "MISSED" }
function check(proto, peer,   c, f, k, x, tc, kf, kc, kp) {
	split("16 64", tc, " ")
	for (x = 1; x <= 2; x++) {
		c = tc[x]
		kf = proto SUBSEP "forcetls-policyd" SUBSEP c; kc = proto SUBSEP "constserver" SUBSEP c
		kp = proto SUBSEP peer SUBSEP c
		if (!(kc in R) || !(kf in R)) continue
		printf "- %s, %s conns: req/s %.0f%% of constserver'"'"'s (target >= 85%%): %s", proto, c, 100 * R[kf] / R[kc], verdict(R[kf] >= 0.85 * R[kc])
		if (C[kf] > 0)
			printf "; by CPU per request %.0f%%: %s", 100 * C[kc] / C[kf], verdict(C[kc] >= 0.85 * C[kf])
		print ""
		printf "- %s, %s conns: p99 %.2fx constserver'"'"'s (target <= 1.5x): %s\n", proto, c, Q[kf] / Q[kc], verdict(Q[kf] <= 1.5 * Q[kc])
		if (peer == "postfwd" && (kp in R) && R[kp] > 0)
			printf "- %s, %s conns: %.1fx postfwd'"'"'s req/s (target >= 10x): %s\n", proto, c, R[kf] / R[kp], verdict(R[kf] >= 10 * R[kp])
	}
}
END {
	table("socketmap", "mta-sts-resolver"); table("policy", "postfwd")
	print "\n### Targets\n"
	check("socketmap", "mta-sts-resolver"); check("policy", "postfwd")
	printf "\nloadgen errors over all runs: %d\n", allerr
	exit allerr ? 1 : 0
}' "$W/results"
