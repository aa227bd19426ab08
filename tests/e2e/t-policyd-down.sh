#!/bin/bash
# t-policyd-down.sh - forcetls-policyd down while Postfix has mail to deliver, with the
# lines examples/postfix/main.cf.policyd ships (smtp_tls_policy_maps on the socketmap).
# docs/OPERATIONS.md, section 4, cites it.
#
# usage: t-policyd-down.sh TLSMAPS [EXAMPLES_DIR]   (FTLS_POLICYD: the daemon)
#
# Proves:
#   - with the daemon stopped, messages submitted with sendmail(1) (pickup: smtpd's
#     check_policy_service does not apply; e2e.policyd-inbound covers smtpd's 451 4.3.5)
#     to a forced domain and to an unlisted one are deferred, not delivered: Postfix's
#     smtp client cannot read its TLS policy and does not guess; both stay queued through
#     retries and no receiver gets anything, in clear or not;
#   - with the daemon started again, a flush delivers both: the forced one over TLS.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-policyd.sh"
TLSMAPS=${1:?usage: t-policyd-down.sh TLSMAPS [EXAMPLES_DIR]}
EXAMPLES=${2:-${FTLS_EXAMPLES:-$(dirname "$0")/../../examples}}
POLICYD=${FTLS_POLICYD:-$(dirname "$TLSMAPS")/../../policyd/forcetls-policyd}
[ -x "$POLICYD" ] || e2e_skip "forcetls-policyd not built ($POLICYD)"

e2e_setup policyd-down
W=$E2E_WORK
SM_ADDR=127.0.0.1:10028 # the addresses examples/postfix/main.cf.policyd ships
POL_ADDR=127.0.0.1:10029
printf 'forced-tls.test encrypt\n' >"$W/forced-tls.table"
cat >"$W/forcetls.conf" <<EOF
policyd = {
  user = "nobody";
  state_file = ""; # never /var/lib/forcetls
  dns_servers = "127.0.0.1:53";
  watch_table = false;
};
EOF
chmod 644 "$W/forced-tls.table" "$W/forcetls.conf"

MAIN_CF=$EXAMPLES/postfix/main.cf.policyd
[ -f "$MAIN_CF" ] || e2e_fail "examples missing: $MAIN_CF"
mapfile -t lines < <(policyd_cf_lines "$MAIN_CF" "inet:$SM_ADDR" "inet:$POL_ADDR")
printf '%s\n' "${lines[@]}" | grep -Eq "^smtp_tls_policy_maps = socketmap:inet:$SM_ADDR:[a-z-]+$" ||
	e2e_fail "$MAIN_CF: no smtp_tls_policy_maps = socketmap:inet:127.0.0.1:10028:NAME line"

e2e_dns \
	--host-record=mx.tls.test,127.0.0.3 \
	--mx-host=forced-tls.test,mx.tls.test,10 \
	--mx-host=open-tls.test,mx.tls.test,10
RX_TLS=127.0.0.3:25
e2e_receiver 127.0.0.3 25 --starttls --name mx.tls.test
e2e_postfix "${lines[@]}"

# 1. The daemon not running: submitted mail is deferred and kept, nothing delivered.
e2e__not_listening -t "$SM_ADDR" || e2e_fail "something listens on $SM_ADDR already"
F=sender@client.e2e.test
for rcpt in a@forced-tls.test b@open-tls.test; do
	printf 'From: %s\nTo: %s\nSubject: while policyd is down\n\nbody\n' $F $rcpt >"$W/m.eml"
	e2e_ns sendmail -C "$E2E_PF_CONF" -f $F -t <"$W/m.eml" || e2e_fail "sendmail(1) refused $rcpt"
done
for rcpt in a@forced-tls.test b@open-tls.test; do
	e2e_wait_deferred $rcpt 30 || e2e_fail "$rcpt was not deferred with policyd down"
done
e2e_log_grep 'socketmap.*10028|TLS policy lookup' | tail -2 | sed 's/^/    /' >&2
e2e_wait_retried a@forced-tls.test 2 30 || e2e_fail "a@forced-tls.test was not retried"
for rcpt in a@forced-tls.test b@open-tls.test; do
	e2e_queue_has $rcpt || e2e_fail "$rcpt is not queued any more"
done
[ "$(e2e_rx_count $RX_TLS)" -eq 0 ] || e2e_fail "a message was delivered while policyd was down"

# 2. The daemon back: a flush delivers both, the forced one over TLS.
e2e_spawn policyd "$POLICYD" --foreground --config "$W/forcetls.conf" --table "$W/forced-tls.table" \
	--socketmap-listen "inet:$SM_ADDR" --policy-listen "inet:$POL_ADDR"
e2e_wait_listen "${SM_ADDR%:*}" "${SM_ADDR#*:}" 10 || e2e_fail "forcetls-policyd: socketmap not listening"
e2e_flush
e2e_wait_delivered $RX_TLS 2 60 || e2e_fail "the kept messages were not delivered with policyd back"
e2e_assert_tls $RX_TLS a@forced-tls.test || e2e_fail "a@forced-tls.test did not arrive over TLS"
[ "$(e2e_queue_count)" -eq 0 ] || e2e_fail "mail is still queued"
policyd_stop
e2e_pass
