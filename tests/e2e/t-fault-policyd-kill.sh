#!/bin/bash
# t-fault-policyd-kill.sh - fault matrix (issue 11): forcetls-policyd SIGKILLed under
# load and restarted a few seconds later, in the world where both daemons decide every
# message (lib-fault.sh: Postfix with the main.cf.milter and main.cf.policyd lines).
#
# usage: t-fault-policyd-kill.sh TLSMAPS [EXAMPLES_DIR]
#        (FTLS_MILTER and FTLS_POLICYD in the environment: the programs under test)
#
# Proves, with 500 messages from 4 parallel sessions (forced-tls, forced-plain, cidr.test,
# open-plain, open-tls round-robin) while policyd is killed and down for 6 s:
#   - the clients notice nothing (smtpd does not ask policyd): every message is accepted;
#   - while it is down, smtp(8) defers what it cannot look up ("client TLS configuration
#     problem", 4.7.5) - also the unlisted domains: nothing leaves without a policy. From
#     1 s after the kill until the restart, the only deliveries are by smtp(8) processes
#     that delivered to the same domain before the kill (smtp(8) keeps a destination's
#     TLS policy for its lifetime; the maillog shows which process did what);
#   - after the restart the queue drains: forced-tls.test and cidr.test (forced by its
#     MX's address only) over TLS, open-* delivered, forced-plain.test still queued
#     (4.7.4), every message accounted for: ROW fault-policyd-kill, lost=0 forced_clear=0.
set -u
. "$(dirname "$0")/lib-fault.sh"
FTLS_TLSMAPS=${FTLS_TLSMAPS:-$1}
EXAMPLES=${2:-${FTLS_EXAMPLES:-}}
fw_world fault-policyd-kill

# fw__sent_uncached FROM TO: the status=sent lines of maillog lines FROM..TO whose smtp(8)
# process had not delivered (or deferred 4.7.4) to the same domain before line FROM: a
# delivery that needed a policy lookup. (smtp(8) keeps the TLS policy of a destination
# for its lifetime, so a process that looked it up before the kill may go on using it.)
fw__sent_uncached() {
	awk -v from="$1" -v to="$2" '
		match($0, /smtp\[[0-9]+\]: [0-9A-F]+: to=<[^>]*>/) {
			s = substr($0, RSTART, RLENGTH)
			pid = s; sub(/\].*/, "", pid); sub(/.*\[/, "", pid)
			dom = s; sub(/>$/, "", dom); sub(/.*@/, "", dom)
			if (NR < from && ($0 ~ /status=sent/ || $0 ~ /dsn=4\.7\.4/)) seen[pid, dom] = 1
			if (NR >= from && NR <= to && $0 ~ /status=sent/ && !((pid, dom) in seen)) print
		}' "$W/postfix/maillog"
}

fw_load a 500 --deadline 150
e2e_wait_until 60 fw_rx_at_least 30 || e2e_fail "the load did not start delivering"
d0=$(e2e_log_count 'dsn=4\.7\.5, status=deferred')
l0=$(wc -l <"$W/postfix/maillog")
fw_kill policyd || e2e_fail "forcetls-policyd did not die on SIGKILL"
sleep 1
n_down=$(fw_rx_total)
l1=$(wc -l <"$W/postfix/maillog")
sleep 5
n_up=$(fw_rx_total)
l2=$(wc -l <"$W/postfix/maillog")
d1=$(e2e_log_count 'dsn=4\.7\.5, status=deferred')
e2e_log "policyd down: receivers held $n_down, then $n_up; 4.7.5 deferrals $d0 -> $d1"
e2e_log "in the first second after the kill: $(fw__sent_uncached $((l0 + 1)) "$l1" | wc -l) deliveries by a process new to the domain (their lookups came before the kill)"
[ -z "$(fw__sent_uncached $((l1 + 1)) "$l2")" ] ||
	e2e_fail "delivered while forcetls-policyd was down, by an smtp(8) process without a policy from before"
[ "$d1" -gt "$d0" ] || e2e_fail "no 4.7.5 deferral while forcetls-policyd was down"
e2e_log_grep 'to=<[^>]*@open-(plain|tls)\.test>.*dsn=4\.7\.5, status=deferred' >/dev/null ||
	e2e_fail "no unlisted domain deferred 4.7.5 while policyd was down"
e2e_log_grep 'warning: .*socketmap' | tail -2 | sed 's/^/    /' >&2
fw_restart policyd || e2e_fail "forcetls-policyd did not start again"

fw_load_wait a 180 || e2e_fail "the load did not finish"
fw_settle 120 || e2e_log "not settled after 120 s (fw_count says what is missing)"
fw_count a fault-policyd-kill || e2e_fail "ROW fault-policyd-kill: a message lost, refused or forced in clear"
[ "$(fw_row_get queued)" -eq 100 ] || e2e_fail "queued $(fw_row_get queued), expected the 100 forced-plain.test messages"
[ "$(fw_row_get delivered_clear)" -eq 100 ] || e2e_fail "delivered in clear: $(fw_row_get delivered_clear), expected the 100 open-plain.test"
[ "$(fw_row_get delivered_tls)" -eq 300 ] || e2e_fail "delivered over TLS: $(fw_row_get delivered_tls), expected 300"
e2e_assert_tls $FW_CIDR_ADDR:25 >/dev/null 2>&1 || e2e_fail "cidr.test: a message in clear"
mw_finish
