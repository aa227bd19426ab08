#!/bin/bash
# t-fault-sendmail.sh - fault matrix (issue 11) on a real Sendmail 8.17 (lib-sendmail.sh's
# world from examples/sendmail/forcetls.mc: forcetls-milter with F=T, forcetls-policyd
# as the live access map), through lib-fault.sh (fw_world --sendmail).
#
# usage: t-fault-sendmail.sh TLSMAPS [EXAMPLES_DIR]
#        (FTLS_MILTER and FTLS_POLICYD in the environment: the programs under test)
#
# Proves, each under a load of 200 messages (4 sessions):
#   - the milter SIGKILLed and restarted 6 s later: Sendmail answers 4xx (F=T), nothing
#     is accepted while it is down, the clients retry, and afterwards every message is
#     accepted, delivered or queued with exactly one X-TLSLevel (unmarked=0),
#     forced-plain.test stays queued (tls_rcpt 454): ROW fault-sendmail-milter-kill;
#   - the table written in place broken: both daemons' watch and their reload signals
#     refuse it, the old decisions go on (forced-plain.test deferred, never in clear):
#     ROW fault-sendmail-table-broken;
#   - back-to-back reloads: bursts of 10 SIGUSR1 (and SIGUSR2) to the milter, 10 SIGHUP
#     and SIGUSR1 to policyd: both run, their last reload is ok, no client saw a 4xx:
#     ROW fault-sendmail-reloads.
set -u
. "$(dirname "$0")/lib-fault.sh"
FTLS_TLSMAPS=${FTLS_TLSMAPS:-$1}
EXAMPLES=${2:-${FTLS_EXAMPLES:-}}
N=200
fw_world fault-sendmail --sendmail

# 1. The milter killed under load.
fw_load kill $N --deadline 150
e2e_wait_until 60 fw_rx_at_least 20 || e2e_fail "the load did not start delivering"
fw_kill milter || e2e_fail "forcetls-milter did not die on SIGKILL"
sleep 1
t0=$(fw_now)
sleep 5
t1=$(fw_now)
fw_restart milter || e2e_fail "forcetls-milter did not start again"
fw_load_wait kill 180 || e2e_fail "kill: the load did not finish"
down=$(fw_accepted_between kill "$t0" "$t1")
fw_settle 120 || e2e_log "kill: not settled after 120 s (fw_count says what is missing)"
fw_count kill fault-sendmail-milter-kill || e2e_fail "ROW fault-sendmail-milter-kill: a message lost, unmarked or forced in clear"
[ "$down" -eq 0 ] || e2e_fail "$down messages accepted while forcetls-milter was down"
[ "$(fw_row_get tempfailed)" -gt 0 ] || e2e_fail "no client got a 4xx while the milter was down"
grep -o '"replies": \[[^]]*' "$FW_DIR/kill.jsonl" | grep -o '[a-z]* 4[0-9][0-9] [^"]*' | sort | uniq -c | head -3 >&2
[ "$(fw_row_get queued)" -eq $((N / 5)) ] || e2e_fail "kill: queued $(fw_row_get queued), expected $((N / 5)) (forced-plain.test)"

# 2. The table broken in place, then the reload signals.
rp=$(grep -c 'reload (watch): refused' "$W/policyd.log")
rm_=$(grep -c 'reload (watch): refused' "$W/milter.log")
fw__refused() { [ "$(grep -c 'reload (watch): refused' "$W/$1.log")" -gt "$2" ]; }
fw_load broken $N --deadline 120
e2e_wait_until 60 fw_rx_at_least $(($(fw_rx_total) + 10)) || e2e_fail "broken: the load did not start delivering"
fw_table_write broken || e2e_fail "cannot write the table"
e2e_wait_until 20 fw__refused policyd "$rp" || e2e_fail "policyd's watch did not refuse the broken table"
e2e_wait_until 20 fw__refused milter "$rm_" || e2e_fail "the milter's watch did not refuse the broken table"
[ "$(fw_reload policyd)" = refused ] || e2e_fail "policyd's SIGHUP reload of the broken table was not refused"
[ "$(fw_reload milter)" = refused ] || e2e_fail "the milter's SIGUSR1 reload of the broken table was not refused"
fw_load_wait broken 150 || e2e_fail "broken: the load did not finish"
fw_settle 120 || e2e_log "broken: not settled after 120 s"
fw_count broken fault-sendmail-table-broken || e2e_fail "ROW fault-sendmail-table-broken: a message lost, unmarked or forced in clear"
[ "$(fw_row_get queued)" -eq $((N / 5)) ] || e2e_fail "broken: queued $(fw_row_get queued), expected $((N / 5))"
[ "$(fw_row_get tempfailed)" -eq 0 ] || e2e_fail "broken: a client got a 4xx"
fw_table_write atomic "$FW_DIR/table.good" || e2e_fail "cannot restore the table"

# 3. Back-to-back reloads.
fw_load reloads $N --deadline 120
e2e_wait_until 60 fw_rx_at_least $(($(fw_rx_total) + 10)) || e2e_fail "reloads: the load did not start delivering"
for r in 1 2 3; do
	fw_burst milter 10 USR1 USR1 USR2 || e2e_fail "cannot signal the milter"
	fw_burst policyd 10 HUP USR1 || e2e_fail "cannot signal policyd"
	sleep 0.3
done
for d in milter policyd; do
	fw_reload_quiet $d 30 || e2e_fail "$d: still reloading 30 s after the bursts"
	e2e_running $d || e2e_fail "forcetls-$d died under back-to-back reloads"
	fw_last_reload $d | grep -q 'reload ([A-Z0-9]*): ok ' || e2e_fail "$d: last reload not ok: $(fw_last_reload $d)"
done
[ "$(fw_reload milter)" = ok ] && [ "$(fw_reload policyd)" = ok ] || e2e_fail "a final reload is not ok"
fw_load_wait reloads 150 || e2e_fail "reloads: the load did not finish"
fw_settle 120 || e2e_log "reloads: not settled after 120 s"
fw_count reloads fault-sendmail-reloads || e2e_fail "ROW fault-sendmail-reloads: a message lost, unmarked or forced in clear"
[ "$(fw_row_get tempfailed)" -eq 0 ] || e2e_fail "reloads: a client got a 4xx"
mw_finish
