#!/bin/bash
# t-fault-reloads.sh - fault matrix (issue 11): back-to-back reload signals to both
# daemons under load, in lib-fault.sh's world, with tables.watch_table = false (so that
# only the signals reload: a lost signal cannot hide behind the watch).
#
# usage: t-fault-reloads.sh TLSMAPS [EXAMPLES_DIR]
#        (FTLS_MILTER and FTLS_POLICYD in the environment: the programs under test)
#
# Proves, while 800 messages flow (4 sessions):
#   - policyd: 3 bursts of 10 SIGHUPs within 50 ms, two SIGHUPs back to back, a burst
#     mixing SIGHUP, SIGUSR1 and SIGUSR2; the milter: 3 bursts of 10 SIGUSR1, a burst
#     mixing SIGUSR1 and SIGUSR2; both at once: each daemon still runs, every burst ends
#     in a reload logged ok (coalesced: fewer reloads than signals), no client saw a 4xx,
#     policyd still answers (postmap -q over its socket);
#   - a new table (open-plain.test added) renamed in, then a burst to each: the last
#     reload of each is ok with 16 entries, never lost in the coalescing; new
#     open-plain.test mail is marked Require and stays queued (4.7.4);
#   - ROW fault-reloads (the 800) and fault-reloads-newtable: lost=0 forced_clear=0.
set -u
. "$(dirname "$0")/lib-fault.sh"
FTLS_TLSMAPS=${FTLS_TLSMAPS:-$1}
EXAMPLES=${2:-${FTLS_EXAMPLES:-}}
fw_world_hook() {
	mw_conf_set "$W/forcetls.conf" tables watch_table false && chmod 644 "$W/forcetls.conf" ||
		e2e_fail "examples/forcetls.conf: no tables.watch_table"
}
fw_world fault-reloads

# fw__bursts DAEMON ROUNDS N SIG...: ROUNDS bursts, 0.3 s apart, then the reloads must be
# done, the daemon running and its last reload ok.
fw__bursts() {
	local d=$1 rounds=$2 n=$3 r before after
	shift 3
	before=$(grep -c 'reload (' "$W/$d.log")
	for r in $(seq 1 "$rounds"); do
		fw_burst "$d" "$n" "$@" || e2e_fail "$d: cannot signal it (burst $r of $*)"
		sleep 0.3
	done
	fw_reload_quiet "$d" 30 || e2e_fail "$d: still reloading 30 s after the bursts"
	e2e_running "$d" || e2e_fail "forcetls-$d died after bursts of $*"
	after=$(grep -c 'reload (' "$W/$d.log")
	e2e_log "$d: $rounds x $n signals ($*): $((after - before)) reloads"
	[ "$after" -gt "$before" ] || case " $* " in *" HUP "* | *" USR1 "*) e2e_fail "$d: no reload after bursts of $*" ;; esac
	fw_last_reload "$d" | grep -q 'reload ([A-Z0-9]*): ok ' || e2e_fail "$d: last reload not ok: $(fw_last_reload "$d")"
}
pd_answers() { # DOMAIN LEVEL: policyd's socketmap answers LEVEL ("": NOTFOUND)
	local got rc
	got=$(e2e_postmap -q "$1" "socketmap:unix:$MW_POLICYD_SOCK:forcetls" 2>&1)
	rc=$?
	[ $rc -le 1 ] && [ "${got%% *}" = "$2" ] || e2e_fail "policyd answered '$got' (postmap exit $rc) for $1, expected '$2'"
}

fw_load a 800 --deadline 150
e2e_wait_until 60 fw_rx_at_least 20 || e2e_fail "the load did not start delivering"
fw__bursts policyd 3 10 HUP
fw__bursts policyd 1 2 HUP
fw__bursts policyd 2 10 HUP USR1 USR2
fw__bursts milter 3 10 USR1
fw__bursts milter 2 10 USR1 USR2
for r in 1 2 3; do
	fw_burst policyd 10 HUP USR1 &
	fw_burst milter 10 USR1
	wait $!
	sleep 0.3
done
fw__bursts policyd 1 1 USR1
fw__bursts milter 1 1 USR1
pd_answers forced-tls.test encrypt
pd_answers open-plain.test ""
fw_load_running a || e2e_log "(the load had finished before the last burst)"
fw_load_wait a 180 || e2e_fail "the load did not finish"
fw_settle 90 || e2e_log "not settled after 90 s (fw_count says what is missing)"
fw_count a fault-reloads || e2e_fail "ROW fault-reloads: a message lost, unmarked or forced in clear"
[ "$(fw_row_get tempfailed)" -eq 0 ] || e2e_fail "a client got a 4xx during the reloads"

# A new table, then bursts: the last reload must have read it.
cp "$FW_DIR/table.good" "$FW_DIR/table.next"
echo "open-plain.test                     encrypt" >>"$FW_DIR/table.next"
fw_table_write atomic "$FW_DIR/table.next" || e2e_fail "cannot rename the new table in"
fw__bursts policyd 1 10 HUP USR1
fw__bursts milter 1 10 USR1
for d in policyd milter; do
	fw_last_reload $d | grep -q ', 4 entries (was 3)$\|, 4 entries (was 4)$' ||
		e2e_fail "$d: the last reload did not load the new table: $(fw_last_reload $d)"
done
pd_answers open-plain.test encrypt
FW_FORCED=$FW_FORCED,open-plain.test
FW_MARKED=$FW_MARKED,open-plain.test
fw_load b 50 --rcpt o1@open-plain.test --rcpt f1@forced-tls.test
fw_load_wait b 60 || e2e_fail "load b did not finish"
fw_settle 60 --expect-queued forced-plain.test open-plain.test || e2e_log "b: not settled after 60 s"
fw_count b fault-reloads-newtable || e2e_fail "ROW fault-reloads-newtable: a message lost, unmarked or in clear"
[ "$(fw_row_get queued)" -eq 25 ] || e2e_fail "b: queued $(fw_row_get queued), expected the 25 open-plain.test"
e2e_wait_deferred o1@open-plain.test 30 '4\.7\.4' || e2e_fail "open-plain.test not deferred 4.7.4"
mw_finish
