#!/bin/bash
# t-fault-milter-kill.sh - fault matrix (issue 11): forcetls-milter SIGKILLed under load
# and restarted a few seconds later, with the example's milter_default_action = tempfail
# (examples/postfix/main.cf.milter), in lib-fault.sh's world (both daemons decide).
#
# usage: t-fault-milter-kill.sh TLSMAPS [EXAMPLES_DIR]
#        (FTLS_MILTER and FTLS_POLICYD in the environment: the programs under test)
#
# Proves, with 400 messages from 4 parallel sessions while the milter is down for 6 s:
#   - the clients get 4xx (tempfailed > 0) and nothing is accepted from 1 s after the
#     kill until the restart: no message gets in unmarked;
#   - the clients retry (fault-load.py resends after 1 s), and after the restart every
#     message is accepted and delivered or queued with exactly one X-TLSLevel
#     (Require for forced-tls/forced-plain.test, Try for the others): unmarked=0;
#     forced-plain.test stays queued, nothing forced in clear: ROW fault-milter-kill.
# With milter_default_action = accept (FAULT_DEMO_ACCEPT=1, a demonstration, not a
# mode of the test) the same run fails: messages get in while the milter is down and
# leave without X-TLSLevel (unmarked > 0); forced_clear stays 0 only because policyd's
# smtp_tls_policy_maps still holds forced-plain.test to encrypt.
set -u
. "$(dirname "$0")/lib-fault.sh"
FTLS_TLSMAPS=${FTLS_TLSMAPS:-$1}
EXAMPLES=${2:-${FTLS_EXAMPLES:-}}
N=400
fw_world fault-milter-kill
[ "$(postconf -c "$E2E_PF_CONF" -h milter_default_action)" = tempfail ] ||
	e2e_fail "milter_default_action is not tempfail (examples/postfix/main.cf.milter)"
if [ "${FAULT_DEMO_ACCEPT:-0}" = 1 ]; then
	e2e_log "DEMONSTRATION: milter_default_action = accept"
	e2e_postconf "milter_default_action = accept"
fi

fw_load a $N --deadline 150
e2e_wait_until 60 fw_rx_at_least 30 || e2e_fail "the load did not start delivering"
fw_kill milter || e2e_fail "forcetls-milter did not die on SIGKILL"
sleep 1
t0=$(fw_now)
sleep 5
t1=$(fw_now)
e2e_log_grep 'milter.*(Connection refused|No such file)' | tail -1 | sed 's/^/    /' >&2
fw_restart milter || e2e_fail "forcetls-milter did not start again"

fw_load_wait a 180 || e2e_fail "the load did not finish"
down=$(fw_accepted_between a "$t0" "$t1")
e2e_log "accepted while the milter was down: $down"
fw_settle 120 || e2e_log "not settled after 120 s (fw_count says what is missing)"
fw_count a fault-milter-kill || e2e_fail "ROW fault-milter-kill: a message lost, unmarked or forced in clear"
[ "$down" -eq 0 ] || e2e_fail "$down messages accepted while forcetls-milter was down"
[ "$(fw_row_get tempfailed)" -gt 0 ] || e2e_fail "no client got a 4xx while the milter was down"
grep -q '"replies": \[[^]]*4[0-9][0-9] 4\.7\.1' "$FW_DIR/a.jsonl" ||
	e2e_fail "no 451 4.7.1 (milter_default_action = tempfail) in the clients' replies"
[ "$(fw_row_get queued)" -eq $((N / 5)) ] || e2e_fail "queued $(fw_row_get queued), expected the $((N / 5)) forced-plain.test messages"
[ "$(fw_row_get delivered_tls)" -eq $((N * 3 / 5)) ] || e2e_fail "delivered over TLS: $(fw_row_get delivered_tls), expected $((N * 3 / 5))"
mw_finish
