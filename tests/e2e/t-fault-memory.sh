#!/bin/bash
# t-fault-memory.sh - fault matrix (issue 11), resources: forcetls-milter under memory
# pressure, in lib-fault.sh's world (both daemons decide every message) with relay mode
# (mw_relay_setup) and relay_spool_threshold 16 MB, so that the milter keeps every
# message (flagged or not: relay mode copies every body) in memory.
#
# usage: t-fault-memory.sh TLSMAPS [EXAMPLES_DIR]
#        (FTLS_MILTER and FTLS_POLICYD in the environment: the programs under test)
#
# Two caps, each with load fX (8 flagged "[encrypt]" messages of 500 kB to forced-plain.test
# and open-plain.test, 4 sessions) and uX (8 unflagged 500 kB messages to forced-tls.test,
# open-tls.test and cidr.test, 4 sessions) at once:
#   1. RLIMIT_AS: the milter restarted under prlimit --as = its idle size + 3 MB
#      (MALLOC_ARENA_MAX=1 and 1 MB thread stacks, so that the cap hits the message
#      copies): allocations fail. The clients get 4xx (451 4.3.0 from the milter, which
#      logs "out of memory", or 451 4.7.1 from Postfix's milter_default_action = tempfail
#      when libmilter cannot start a worker thread for a session and Postfix times the
#      session out; which comes first is the allocator's race, and at least one of the two
#      must show). The milter keeps running; none of
#      that mail is accepted unmarked or sent in clear. Cap lifted (restart): every
#      message arrives, flagged ones at the gateway, forced ones over TLS with
#      X-TLSLevel: Require: ROW fault-memory-as, fault-memory-as-unflagged.
#   2. A memory cgroup (v2 memory.max, else v1 memory.limit_in_bytes) the milter is
#      moved into, limited to what it uses there + 1 MB: the kernel OOM-kills it (the
#      cgroup counts the kill).
#      Postfix tempfails (milter_default_action = tempfail), the clients retry; the
#      milter restarted outside the cgroup: every message arrives as above: ROW
#      fault-memory-oom, fault-memory-oom-unflagged. Skipped (phase 2 only) when no
#      memory cgroup can be created here.
# Phase 1 is skipped for an ASan build of the milter (see there).
# FAULT_MEMORY_SIZE overrides the message size (500 kB: fault-load.py builds larger
# messages slowly).
# The cgroup is removed at exit, whatever happens (and one left by a killed run is
# removed by the next run).
set -u
. "$(dirname "$0")/lib-fault.sh"
FTLS_TLSMAPS=${FTLS_TLSMAPS:-$1}
EXAMPLES=${2:-${FTLS_EXAMPLES:-}}
N=8
SIZE=${FAULT_MEMORY_SIZE:-500000}
MILTER_BIN=${FTLS_MILTER:-}
AS_EXTRA_MB=3
CG_EXTRA_MB=1
command -v prlimit >/dev/null || e2e_skip "prlimit not installed (util-linux)"

fw_world_hook() {
	mw_relay_setup '[ "gateway.test:10025" ]'
	mw_conf_set "$W/forcetls.conf" milter relay_spool_threshold 16777216 ||
		e2e_fail "examples/forcetls.conf: no relay_spool_threshold"
	chmod 644 "$W/forcetls.conf"
	# The milter under the address-space cap written in $W/milter.as (bytes; empty: none).
	: >"$W/milter.as"
	cat >"$W/milter-mem" <<EOF
#!/bin/sh
# forcetls-milter, under RLIMIT_AS when $W/milter.as holds a size
as=\$(cat "$W/milter.as")
[ -n "\$as" ] || exec "$FTLS_MILTER" "\$@"
exec env MALLOC_ARENA_MAX=1 prlimit --as="\$as" --stack=1048576 -- "$FTLS_MILTER" "\$@"
EOF
	chmod 755 "$W/milter-mem"
	FTLS_MILTER=$W/milter-mem
}
fw_world fault-memory

# --- the memory cgroup (made here, in the test's own cgroup; removed at exit) ----------
CG=
CG_V=
cg_procs_kill() { # every process in cgroup dir $1, SIGKILLed, by pid
	local p i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		p=$(cat "$1/cgroup.procs" 2>/dev/null)
		[ -z "$p" ] && return 0
		# shellcheck disable=SC2086
		kill -9 $p 2>/dev/null
		sleep 0.2
	done
}
cg_cleanup() {
	[ -n "$CG" ] && [ -d "$CG" ] || return 0
	cg_procs_kill "$CG"
	rmdir "$CG" 2>/dev/null || echo "e2e: cannot remove cgroup $CG" >&2
}
cg_make() {
	local base own d pid
	if grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
		CG_V=2 own=$(sed -n 's/^0:://p' /proc/self/cgroup) base=/sys/fs/cgroup
	elif [ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
		CG_V=1 own=$(awk -F: '$2 == "memory" { print $3 }' /proc/self/cgroup) base=/sys/fs/cgroup/memory
	else
		return 1
	fi
	# (a run killed before its trap left its cgroup: its processes are gone with its netns)
	for d in "$base$own"/ftls-e2e-mem-*; do
		[ -d "$d" ] || continue
		pid=${d##*-}
		kill -0 "$pid" 2>/dev/null && continue
		cg_procs_kill "$d"
		rmdir "$d" 2>/dev/null
	done
	CG=$base$own/ftls-e2e-mem-$$
	mkdir "$CG" 2>/dev/null || {
		CG=
		return 1
	}
	trap 'rc=$?; cg_cleanup; (exit $rc); e2e_teardown' EXIT
}
cg_limit() { # BYTES | max
	if [ "$CG_V" = 2 ]; then echo "$1" >"$CG/memory.max"; else
		[ "$1" = max ] && set -- -1
		echo "$1" >"$CG/memory.limit_in_bytes"
	fi
}
cg_usage() {
	if [ "$CG_V" = 2 ]; then cat "$CG/memory.current"; else cat "$CG/memory.usage_in_bytes"; fi
}
cg_ooms() { # how many OOM kills the cgroup counted
	if [ "$CG_V" = 2 ]; then sed -n 's/^oom_kill //p' "$CG/memory.events"; else
		sed -n 's/^oom_kill //p' "$CG/memory.oom_control"
	fi
}

# --- helpers ------------------------------------------------------------------------------
GW=${MW_GW/:/_}
FW_ROUTES=(forced-plain.test="$GW" open-plain.test="$GW" forced-tls.test=127.0.0.3_25
	open-tls.test=127.0.0.3_25 "cidr.test=${FW_CIDR_ADDR}_25")
# (in bytes, as an integer: awk's print would write an ASan build's 20 TB as 2.19903e+13)
vm() { awk -v k="$1:" '$1 == k { printf "%.0f\n", $2 * 1024 }' "/proc/$(e2e_pid milter)/status"; }
# (the milter's own reply is logged as "...: 4.3.0 text", Postfix's milter_default_action as
# "...: 451 4.7.1 Service unavailable", once per stage it refuses)
milter_temps() { e2e_log_count 'milter-reject: [A-Z-]+ from [^;]*: (4[0-9][0-9] )?4\.[0-9]+\.[0-9]+ |warning: milter .*(can.t read|unexpected EOF|Connection (reset|refused))'; }
# sessions libmilter accepted and never served: it could not start a worker thread under
# the cap (worker.c: LAUNCH_WORKER fails, the session stays "running" with no thread), so
# Postfix's milter_command_timeout ran out
milter_unserved() { e2e_log_count 'warning: milter .*: can.t read SMFIC_[A-Z]+ reply packet header: Connection timed out'; }
temps_at_least() { [ "$(milter_temps)" -ge "$1" ]; }
loads() { # ID: the two loads of a phase
	fw_load "f$1" $N --conns 4 --size $SIZE --subject "[encrypt] memory" --deadline 200 \
		--rcpt f@forced-plain.test --rcpt o@open-plain.test
	fw_load "u$1" $N --conns 4 --size $SIZE --deadline 200 \
		--rcpt t@forced-tls.test --rcpt o@open-tls.test --rcpt c@cidr.test
}
rows() { # ID ROWNAME: wait for the two loads, settle, the two ROW lines
	fw_load_wait "f$1" 240 && fw_load_wait "u$1" 240 || e2e_fail "$2: the loads did not finish"
	fw_settle 120 --expect-queued none.invalid || e2e_log "$2: not settled after 120 s (fw_count says what is missing)"
	fw_count "f$1" "$2" || e2e_fail "ROW $2: lost, unmarked, misrouted or in clear"
	# a milter killed (mrestart, the OOM kill) after handing a message to the gateway
	# and before answering Postfix makes a second copy when Postfix retries: at least
	# once, never lost (dup counts the extra copies)
	[ $(($(fw_row_get gateway) - $(fw_row_get dup))) -eq $N ] ||
		e2e_fail "$2: the gateway got $(fw_row_get gateway) copies ($(fw_row_get dup) duplicates) of the flagged messages, expected $N messages"
	T1=$(fw_row_get tempfailed)
	fw_count "u$1" "$2-unflagged" || e2e_fail "ROW $2-unflagged: lost, unmarked, misrouted or in clear"
	[ "$(fw_row_get delivered_tls)" -eq $N ] || e2e_fail "$2-unflagged: $(fw_row_get delivered_tls) delivered over TLS, expected $N"
	T2=$(fw_row_get tempfailed)
	[ $((T1 + T2)) -gt 0 ] || e2e_fail "$2: no client got a 4xx under the cap"
}
mrestart() { fw_kill milter && fw_restart milter || e2e_fail "forcetls-milter did not restart"; }

# --- 1. RLIMIT_AS ---------------------------------------------------------------------------
as_phase() { # the cap, the loads under it, the cap lifted, the rows
	# (its idle size measured as it runs under the cap: the same allocator settings)
	echo unlimited >"$W/milter.as"
	mrestart
	e2e_wait_until 10 test -n "$(vm VmSize)" || e2e_fail "no VmSize for the milter"
	echo $(($(vm VmSize) + AS_EXTRA_MB * 1024 * 1024)) >"$W/milter.as"
	e2e_log "RLIMIT_AS: idle VmSize $(($(vm VmSize) / 1024)) kB, cap + $AS_EXTRA_MB MB"
	mrestart
	grep -E '^Max address space' "/proc/$(e2e_pid milter)/limits" | sed 's/^/    /' >&2
	t0=$(milter_temps)
	loads a
	e2e_wait_until 120 temps_at_least $((t0 + 8)) || e2e_fail "RLIMIT_AS: no temporary failures from the milter: $(tail -3 "$W/milter.log")"
	e2e_running milter || e2e_fail "forcetls-milter died under RLIMIT_AS (it must defer, not crash)"
	# Which allocation fails first is the allocator's race: a message copy (the milter logs
	# "out of memory" and answers 4xx) or a thread stack (libmilter leaves the session
	# unserved and Postfix times out and tempfails). Either way the client got a 4xx; one of
	# the two must show.
	oom=$(grep -c 'out of memory' "$W/milter.log")
	[ "$oom" -gt 0 ] || [ "$(milter_unserved)" -gt 0 ] ||
		e2e_fail "RLIMIT_AS: the milter logged no 'out of memory' and Postfix saw no milter timeout"
	e2e_log "RLIMIT_AS: $oom 'out of memory' lines, $(milter_unserved) sessions libmilter left unserved, $(($(milter_temps) - t0)) milter tempfails in the maillog"
	: >"$W/milter.as"
	mrestart
	rows a fault-memory-as
}
# An ASan build reserves its shadow and its allocator's space at start (VmSize about
# 20 TB), so later allocations do not grow the address space and a cap above the idle size
# never bites (ASan does not support ulimit -v): phase 1 only for a build without ASan.
if grep -qa __asan_init "$MILTER_BIN"; then
	e2e_log "RLIMIT_AS: skipped for an ASan build of the milter (its reservations are made at start)"
else
	as_phase
fi

# --- 2. a memory cgroup: OOM kill ---------------------------------------------------------
if ! cg_make; then
	e2e_log "no memory cgroup can be made here: phase 2 (OOM kill) skipped"
else
	e2e_log "memory cgroup v$CG_V: $CG"
	echo "$(e2e_pid milter)" >"$CG/cgroup.procs" || e2e_fail "cannot move the milter into $CG"
	# (what it uses from now on counts: v1 leaves the charges made before in the old group)
	cg_limit $(($(cg_usage) + CG_EXTRA_MB * 1024 * 1024))
	e2e_log "memory cgroup: limit $(($(cg_usage) / 1024)) kB used + $CG_EXTRA_MB MB"
	oom0=$(cg_ooms)
	t0=$(milter_temps)
	pid=$(e2e_pid milter)
	loads b
	e2e_wait_until 120 e2e__gone "$pid" || e2e_fail "the milter was not OOM-killed in its cgroup"
	[ "$(cg_ooms)" -gt "${oom0:-0}" ] || e2e_fail "the milter is gone but the cgroup counted no OOM kill"
	e2e_log "forcetls-milter OOM-killed (cgroup oom_kill $(cg_ooms))"
	e2e_wait_until 60 temps_at_least $((t0 + 4)) || e2e_fail "OOM kill: Postfix did not tempfail"
	cg_limit max
	fw_restart milter || e2e_fail "forcetls-milter did not start again"
	rows b fault-memory-oom
fi
FTLS_MILTER=$MILTER_BIN # mw_finish looks for a sanitizer build in the binary
mw_finish
