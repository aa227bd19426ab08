#!/bin/bash
# t-policyd-inbound.sh - forcetls-policyd as check_policy_service of a real Postfix
# (policy delegation), wired with the lines examples/postfix/main.cf.policyd ships, and
# real SMTP clients (swaks) bound to addresses inside and outside the forced range.
#
# usage: t-policyd-inbound.sh TLSMAPS [EXAMPLES_DIR]   (FTLS_POLICYD: the daemon)
#
# Proves, by the replies swaks got and what Postfix queued and delivered:
#   - a client in a forced range (127.0.0.64/28) in clear text: 450 4.7.0 at RCPT,
#     nothing queued; the daemon logs the entry and its FILE:LINE;
#   - the same client over STARTTLS: 250, and the message is delivered;
#   - a `may` exception inside the range, and a client outside every range: 250 in clear;
#   - a client whose host name (reverse DNS) matches a `.parent` entry, and a sender
#     whose domain is listed: 450 in clear;
#   - the daemon stopped: smtpd_policy_service_default_action of the example (451 4.3.5)
#     for everyone, nothing accepted.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-policyd.sh"
TLSMAPS=${1:?usage: t-policyd-inbound.sh TLSMAPS [EXAMPLES_DIR]}
EXAMPLES=${2:-${FTLS_EXAMPLES:-$E2E_LIB_DIR/../../examples}}
POLICYD=${FTLS_POLICYD:-$(dirname "$TLSMAPS")/../../policyd/forcetls-policyd}
[ -x "$POLICYD" ] || e2e_skip "forcetls-policyd not built ($POLICYD)"

e2e_setup policyd-in
W=$E2E_WORK
SM_ADDR=127.0.0.1:10028
POL_ADDR=127.0.0.1:10029

# rcpt_refused CODE_ERE: the last swaks run got CODE_ERE as the reply to RCPT TO.
rcpt_refused() {
	grep -A1 -E '^ *-> RCPT TO' "$E2E_SWAKS_LOG" | grep -Eq "^<\*\* +$1 "
}

cat >"$W/forced-tls.table" <<'EOF'
# forced-TLS table of t-policyd-inbound.sh: partner clients 127.0.0.64 - 127.0.0.79
127.0.0.64/28                       encrypt direction=in
127.0.0.70                          may direction=in     # their legacy host
.partner-hosts.test                 encrypt direction=in
partner-senders.test                encrypt direction=in
EOF
cat >"$W/forcetls.conf" <<'EOF'
policyd = {
  user = "nobody";
  state_file = ""; # never /var/lib/forcetls
  internal_networks = [ "127.0.0.1" ]; # the test clients are 127.0.0.x too
  dns_servers = "127.0.0.1:53";
  watch_table = false;
};
EOF
chmod 644 "$W/forced-tls.table" "$W/forcetls.conf"

e2e_dns --mx-host=partner.test,mx.partner.test,10 --host-record=mx.partner.test,127.0.0.3 \
	--host-record=gw.partner-hosts.test,127.0.0.88
RX=127.0.0.3:25
e2e_receiver 127.0.0.3 25 --starttls --name mx.partner.test

e2e_spawn policyd "$POLICYD" --foreground --config "$W/forcetls.conf" --table "$W/forced-tls.table" \
	--socketmap-listen "inet:$SM_ADDR" --policy-listen "inet:$POL_ADDR"
e2e_wait_listen "${POL_ADDR%:*}" "${POL_ADDR#*:}" 10 || e2e_fail "forcetls-policyd: policy not listening"
policyd_wait_log 'ready: ' 10 || e2e_fail "forcetls-policyd did not log ready"

mapfile -t lines < <(policyd_cf_lines "$EXAMPLES/postfix/main.cf.policyd" "inet:$SM_ADDR" "inet:$POL_ADDR")
printf '%s\n' "${lines[@]}" | grep -q "^smtpd_recipient_restrictions = check_policy_service inet:$POL_ADDR," ||
	e2e_fail "main.cf.policyd: smtpd_recipient_restrictions does not start with check_policy_service"
printf '%s\n' "${lines[@]}" | grep -q "^smtpd_policy_service_default_action = 4" ||
	e2e_fail "main.cf.policyd: no temporary smtpd_policy_service_default_action"
e2e_postfix "${lines[@]}"
T=$W/forced-tls.table

# 1. forced client, clear text: 450 at RCPT, nothing queued.
e2e_send partner@elsewhere.test a@partner.test --local-interface 127.0.0.66
rc=$?
[ $rc -eq 24 ] || e2e_fail "forced client in clear: swaks exit $rc, expected 24 (RCPT refused)"
rcpt_refused '450 4\.7\.0' || e2e_fail "forced client in clear: RCPT not refused 450 4.7.0"
e2e_wait_log 'NOQUEUE: reject: RCPT from [^ ]*\[127\.0\.0\.66\]: 450 4\.7\.0 .*to=<a@partner\.test>' 10 ||
	e2e_fail "no NOQUEUE reject for 127.0.0.66 in the maillog"
policyd_wait_log "NOQUEUE: reject: client=[^ ]*\[127\.0\.0\.66\] sender=<partner@elsewhere\.test> reason=no TLS level=encrypt entry=127\.0\.0\.64/28 \($T:2\)" 5 ||
	e2e_fail "policyd.log: no reject line naming 127.0.0.64/28 ($T:2)"

# 2. the same client over STARTTLS: accepted and delivered.
e2e_send partner@elsewhere.test b@partner.test --local-interface 127.0.0.66 --tls ||
	e2e_fail "forced client over STARTTLS: swaks exit $?"
grep -q '^<~ *250 2\.1\.5' "$E2E_SWAKS_LOG" || e2e_fail "forced client over STARTTLS: RCPT not 250 over TLS"

# 3. the may exception inside the range, clear text: accepted.
e2e_send legacy@elsewhere.test c@partner.test --local-interface 127.0.0.70 ||
	e2e_fail "may exception 127.0.0.70 in clear: swaks exit $?"
# 4. a client outside every range, clear text: accepted.
e2e_send other@elsewhere.test d@partner.test --local-interface 127.0.0.99 ||
	e2e_fail "unlisted client 127.0.0.99 in clear: swaks exit $?"

# 5. a client named gw.partner-hosts.test (PTR and A from dnsmasq), clear text: 450.
e2e_send gw@elsewhere.test e@partner.test --local-interface 127.0.0.88
rc=$?
[ $rc -eq 24 ] && rcpt_refused '450 4\.7\.0' || e2e_fail "client gw.partner-hosts.test in clear: swaks exit $rc, not 450 at RCPT"
policyd_wait_log "reject: client=gw\.partner-hosts\.test\[127\.0\.0\.88\] .*entry=\.partner-hosts\.test \($T:4\)" 5 ||
	e2e_fail "policyd.log: no reject naming .partner-hosts.test"
# 6. a listed sender domain from an unlisted client, clear text: 450; over TLS: 250.
e2e_send someone@partner-senders.test f@partner.test --local-interface 127.0.0.99
rc=$?
[ $rc -eq 24 ] && rcpt_refused '450 4\.7\.0' || e2e_fail "sender @partner-senders.test in clear: swaks exit $rc, not 450 at RCPT"
e2e_send someone@partner-senders.test g@partner.test --local-interface 127.0.0.99 --tls ||
	e2e_fail "sender @partner-senders.test over STARTTLS: swaks exit $?"

e2e_wait_delivered $RX 4 30 || e2e_fail "the 4 accepted messages were not all delivered"
[ "$(e2e_rx_count $RX)" -eq 4 ] || e2e_fail "receiver has $(e2e_rx_count $RX) messages, expected 4"
for r in a@partner.test e@partner.test f@partner.test; do
	[ -z "$(e2e_rx_file $RX $r)" ] || e2e_fail "the refused message to $r was delivered"
done
# Postfix's Received: header records the inbound session: TLS for b@ and g@.
for r in b@partner.test g@partner.test; do
	grep -q '(using TLSv' "$(e2e_rx_file $RX $r)" || e2e_fail "$r: the Received: header shows no TLS session"
done
for r in c@partner.test d@partner.test; do
	grep -q '(using TLSv' "$(e2e_rx_file $RX $r)" && e2e_fail "$r: Received: shows TLS, expected clear text"
done
[ "$(e2e_log_count 'NOQUEUE: reject')" -eq 3 ] || e2e_fail "expected 3 NOQUEUE rejects, have $(e2e_log_count 'NOQUEUE: reject')"
e2e_wait_until 10 test "$(e2e_queue_count)" -eq 0 || e2e_fail "queue not empty"

# 7. the daemon down: the example's default action, a temporary 451, for everyone.
policyd_stop
e2e_send other@elsewhere.test h@partner.test --local-interface 127.0.0.99
rc=$?
[ $rc -eq 24 ] && rcpt_refused '451 4\.3\.5' || e2e_fail "daemon down: swaks exit $rc, not 451 4.3.5 at RCPT"
[ "$(e2e_queue_count)" -eq 0 ] || e2e_fail "a message was queued while the policy daemon was down"
e2e_pass
