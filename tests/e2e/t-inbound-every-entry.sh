#!/bin/bash
# t-inbound-every-entry.sh - every inbound entry found must hold (issue 12, inbound
# certificate names): forcetls-policyd as check_policy_service of a real Postfix that asks
# for client certificates (the test CA). The client picks its own name and its sender, so
# the strictest entry (or the first of a tie) must not stand in for another's match=.
#
# usage: t-inbound-every-entry.sh TLSMAPS [EXAMPLES_DIR]   (FTLS_POLICYD: the daemon)
#
# The table:
#   2 bank.test   secure match=mx.bank.test direction=in   (the sender domain)
#   3 .evil.test  secure direction=in                      (the attacker's own name)
# Proves, by what swaks got at RCPT and what was delivered:
#   - mail.evil.test (127.0.0.90, forward-confirmed), a trusted CN mail.evil.test, sender
#     ceo@bank.test: 450 4.7.0, logged against bank.test (before: 250, the client name's
#     secure entry, first of the tie, decided and its CN matched the client name);
#   - the same client and certificate, sender a@evil.test: 250 and delivered;
#   - mx.bank.test (127.0.0.91), a trusted CN mx.bank.test, sender ceo@bank.test: 250.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-policyd.sh"
TLSMAPS=${1:?usage: t-inbound-every-entry.sh TLSMAPS [EXAMPLES_DIR]}
EXAMPLES=${2:-${FTLS_EXAMPLES:-$E2E_LIB_DIR/../../examples}}
POLICYD=${FTLS_POLICYD:-$(dirname "$TLSMAPS")/../../policyd/forcetls-policyd}
[ -x "$POLICYD" ] || e2e_skip "forcetls-policyd not built ($POLICYD)"

e2e_setup inbound-every
W=$E2E_WORK
SM_ADDR=127.0.0.1:10028
POL_ADDR=127.0.0.1:10029
MAIN_CF=$EXAMPLES/postfix/main.cf.policyd
T=$W/forced-tls.table
RX=127.0.0.3:25

rcpt_refused() { grep -A1 -E '^ *~> RCPT TO' "$E2E_SWAKS_LOG" | grep -Eq '^<~\* +450 4\.7\.0 '; }
rcpt_accepted_tls() { grep -A1 -E '^ *~> RCPT TO' "$E2E_SWAKS_LOG" | grep -Eq '^<~ +250 '; }
trusted() { [ "$(e2e_log_count "Trusted TLS connection established from ${2//./\\.}\[${1//./\\.}\]")" -ge 1 ]; }

EVIL=$(e2e_cert evil mail.evil.test "") || e2e_fail "cannot make the certificate CN=mail.evil.test"
BANK=$(e2e_cert bank mx.bank.test "") || e2e_fail "cannot make the certificate CN=mx.bank.test"
chmod 644 "$EVIL.key" "$BANK.key"

cat >"$T" <<'EOF'
# forced-TLS table of t-inbound-every-entry.sh
bank.test                           secure match=mx.bank.test direction=in
.evil.test                          secure direction=in
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
chmod 644 "$T" "$W/forcetls.conf"
"$TLSMAPS" check "$T" >"$W/check.out" 2>&1 || e2e_fail "tlsmaps check: $(cat "$W/check.out")"

e2e_dns --mx-host=dest.test,mx.dest.test,10 --host-record=mx.dest.test,127.0.0.3 \
	--host-record=mail.evil.test,127.0.0.90 --host-record=mx.bank.test,127.0.0.91
e2e_receiver 127.0.0.3 25 --starttls --name mx.dest.test
e2e_spawn policyd "$POLICYD" --foreground --config "$W/forcetls.conf" --table "$T" \
	--socketmap-listen "inet:$SM_ADDR" --policy-listen "inet:$POL_ADDR"
e2e_wait_listen "${POL_ADDR%:*}" "${POL_ADDR#*:}" 10 || e2e_fail "forcetls-policyd: policy not listening"
policyd_wait_log 'ready: ' 10 || e2e_fail "forcetls-policyd did not log ready"
mapfile -t lines < <(policyd_cf_lines "$MAIN_CF" "inet:$SM_ADDR" "inet:$POL_ADDR")
mapfile -t ccert < <(sed -n 's/^#\(smtpd_tls_\(ask_ccert\|CAfile\) = .*\)$/\1/p' "$MAIN_CF")
printf '%s\n' "${ccert[@]}" | grep -qx 'smtpd_tls_ask_ccert = yes' ||
	e2e_fail "$MAIN_CF: no commented '#smtpd_tls_ask_ccert = yes' line"
ccert=("${ccert[@]/#smtpd_tls_CAfile = */smtpd_tls_CAfile = $W/ca/ca.pem}")
e2e_postfix "${lines[@]}" "${ccert[@]}"

# 1. The attacker's own secure entry does not stand in for bank.test's match=.
e2e_send ceo@bank.test r1@dest.test --local-interface 127.0.0.90 --tls \
	--tls-cert "$EVIL.pem" --tls-key "$EVIL.key"
rc=$?
[ $rc -eq 24 ] && rcpt_refused || e2e_fail "mail.evil.test as ceo@bank.test: swaks exit $rc, not 450 4.7.0 at RCPT"
e2e_wait_until 10 trusted 127.0.0.90 mail.evil.test ||
	e2e_fail "no trusted TLS session from mail.evil.test[127.0.0.90] (client name not confirmed?)"
policyd_wait_log "reject: client=mail\.evil\.test\[127\.0\.0\.90\] sender=<ceo@bank\.test> reason=client certificate CN \"mail\.evil\.test\" not in match=mx\.bank\.test level=secure entry=bank\.test \($T:2\)" 5 ||
	e2e_fail "policyd.log: no reject of ceo@bank.test from mail.evil.test naming bank.test ($T:2)"

# 2. The same client as itself: its own entry, its own name.
e2e_send a@evil.test r2@dest.test --local-interface 127.0.0.90 --tls \
	--tls-cert "$EVIL.pem" --tls-key "$EVIL.key" || e2e_fail "mail.evil.test as a@evil.test: swaks exit $?"
rcpt_accepted_tls || e2e_fail "mail.evil.test as a@evil.test: RCPT not 250 over TLS"

# 3. bank.test's own host.
e2e_send ceo@bank.test r3@dest.test --local-interface 127.0.0.91 --tls \
	--tls-cert "$BANK.pem" --tls-key "$BANK.key" || e2e_fail "mx.bank.test as ceo@bank.test: swaks exit $?"
rcpt_accepted_tls || e2e_fail "mx.bank.test as ceo@bank.test: RCPT not 250 over TLS"

e2e_wait_delivered $RX 2 30 || e2e_fail "the 2 accepted messages were not both delivered"
[ "$(e2e_rx_count $RX)" -eq 2 ] || e2e_fail "receiver has $(e2e_rx_count $RX) messages, expected 2"
[ -z "$(e2e_rx_file $RX r1@dest.test)" ] || e2e_fail "the refused message to r1@dest.test was delivered"
policyd_stop
e2e_pass
