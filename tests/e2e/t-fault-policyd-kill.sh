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
#     problem", 4.7.5) - also the unlisted domains: nothing leaves without a policy. Until
#     the restart, the only deliveries are by smtp(8) processes that delivered to the same
#     domain before the kill (smtp(8) keeps a destination's TLS policy for its lifetime;
#     the maillog shows which process did what), or whose connection (and so its policy
#     lookup) began before the kill, by the maillog's time less its delays;
#   - after the restart the queue drains: forced-tls.test and cidr.test (forced by its
#     MX's address only) over TLS, open-* delivered, forced-plain.test still queued
#     (4.7.4), every message accounted for: ROW fault-policyd-kill, lost=0 forced_clear=0.
set -u
. "$(dirname "$0")/lib-fault.sh"
FTLS_TLSMAPS=${FTLS_TLSMAPS:-$1}
EXAMPLES=${2:-${FTLS_EXAMPLES:-}}
fw_world fault-policyd-kill

# fw__sent_uncached FROM TO KILLED: the status=sent lines of maillog lines FROM..TO that
# needed a policy lookup after the kill: by an smtp(8) process that had not delivered (or
# deferred 4.7.4) to the same domain before (smtp(8) keeps the TLS policy of a
# destination for its lifetime, and a cached connection, conn_use=N with no connection
# time, is used only with it), and whose connection began (the log time less the delays
# c/d: the policy lookup is in c, connection setup) more than one second after KILLED
# (seconds of the day, as the maillog's whole-second times). A delivery that began
# before the kill counts as "delivered before" for that process's later ones. A delivery
# over a cached connection (conn_use=N) needs no lookup at all: Postfix reuses a
# connection by next hop without looking the policy up again (smtp_connect.c: "the
# policy is still enforced on an individual connection ... before that connection is
# stored"), so such a connection was opened under a policy looked up before the kill.
fw__sent_uncached() {
	awk -v from="$1" -v to="$2" -v killed="$3" '
		match($0, /smtp\[[0-9]+\]: [0-9A-F]+: to=<[^>]*>/) {
			s = substr($0, RSTART, RLENGTH)
			pid = s; sub(/\].*/, "", pid); sub(/.*\[/, "", pid)
			dom = s; sub(/>$/, "", dom); sub(/.*@/, "", dom)
			if (NR < from && ($0 ~ /status=sent/ || $0 ~ /dsn=4\.7\.4/)) seen[pid, dom] = 1
			if (NR < from || NR > to || $0 !~ /status=sent/ || (pid, dom) in seen) next
			if ($0 ~ /, conn_use=[0-9]+,/) next # a cached connection: no lookup (below)
			split($3, hms, ":")
			t = hms[1] * 3600 + hms[2] * 60 + hms[3]
			match($0, /delays=[0-9.]+\/[0-9.]+\/[0-9.]+\/[0-9.]+/)
			split(substr($0, RSTART + 7, RLENGTH - 7), dl, "/")
			if (t - dl[3] - dl[4] > killed + 1) print
			else seen[pid, dom] = 1 # its policy came before the kill: later ones reuse it
		}' "$W/postfix/maillog"
}

fw_load a 500 --deadline 150
e2e_wait_until 60 fw_rx_at_least 30 || e2e_fail "the load did not start delivering"
d0=$(e2e_log_count 'dsn=4\.7\.5, status=deferred')
l0=$(wc -l <"$W/postfix/maillog")
killed=$(date +%T | awk -F: '{ print $1 * 3600 + $2 * 60 + $3 }')
fw_kill policyd || e2e_fail "forcetls-policyd did not die on SIGKILL"
sleep 1
n_down=$(fw_rx_total)
sleep 5
n_up=$(fw_rx_total)
l2=$(wc -l <"$W/postfix/maillog")
d1=$(e2e_log_count 'dsn=4\.7\.5, status=deferred')
e2e_log "policyd down: receivers held $n_down, then $n_up; 4.7.5 deferrals $d0 -> $d1"
e2e_log "while it was down: $(fw__sent_uncached $((l0 + 1)) "$l2" -1 | wc -l) deliveries by a process new to the domain, $(fw__sent_uncached $((l0 + 1)) "$l2" "$killed" | wc -l) of them begun after the kill"
[ -z "$(fw__sent_uncached $((l0 + 1)) "$l2" "$killed")" ] ||
	e2e_fail "delivered while forcetls-policyd was down, by an smtp(8) process without a policy from before: $(fw__sent_uncached $((l0 + 1)) "$l2" "$killed" | head -3)"
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
