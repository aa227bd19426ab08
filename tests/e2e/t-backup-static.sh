#!/bin/bash
# t-backup-static.sh - backup encryption through the STATIC transport map of tlsmaps compile
# --format postfix-transport (lmdb:), in a real Postfix with smtputf8_enable = yes, TLS
# policy from forcetls-policyd (examples/postfix/main.cf.policyd), the forcetls-backup
# transport of examples/postfix/master.cf.forcetls, dnsmasq, receivers.
#
# usage: t-backup-static.sh TLSMAPS [EXAMPLES_DIR]   (FTLS_POLICYD: the daemon)
#
# Proves:
#   u. bücher.test (written as its A-label in the table: encrypt on_tls_failure=gateway),
#      MX without STARTTLS, a UTF-8 recipient (SMTPUTF8): Postfix looks transport_maps up
#      with the U-label; the compiled map must hold that form too, or the message goes
#      through the default smtp transport and defers 4.7.4 for ever. It must be at the
#      gateway's backup port over TLS.
#   a. the ASCII bank.test, the same: at the gateway over TLS.
#   g. grey.test (encrypt on_tls_failure=gateway), MX WITH STARTTLS that answers 450 at
#      RCPT (greylisting): smtp_fallback_relay takes any temporary failure, not only a
#      TLS one, so the message is at the gateway (documented in tlsmaps(5)).
#   p. then the static TLS policy map of --format postfix-policy instead of policyd
#      (smtp_tls_policy_maps = lmdb:...): a UTF-8 recipient at münchen.test (encrypt,
#      defers), MX without STARTTLS: deferred 4.7.4 and queued. With only the A-label
#      line in the map Postfix found no policy for münchen.test and sent it IN CLEAR.
#   x. the gateway's backup port answers 554 at RCPT: Postfix BOUNCES the message (a 5xx
#      is a hard error; the sender gets it back), it is not queued (documented in tlsmaps(5)).
#   Nothing in clear, nothing lost (the bounce counted as returned).
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-policyd.sh"
TLSMAPS=${1:?usage: t-backup-static.sh TLSMAPS [EXAMPLES_DIR]}
EXAMPLES=${2:-${FTLS_EXAMPLES:-$E2E_LIB_DIR/../../examples}}
POLICYD=${FTLS_POLICYD:-$(dirname "$TLSMAPS")/../../policyd/forcetls-policyd}
[ -x "$POLICYD" ] || e2e_skip "forcetls-policyd not built ($POLICYD)"

e2e_setup backup-static
W=$E2E_WORK
SM_ADDR=127.0.0.1:10028
POL_ADDR=127.0.0.1:10029
RX_PLAIN=127.0.0.2:25 # mx.plain.test, no STARTTLS
RX_GREY=127.0.0.4:25  # mx.grey.test, STARTTLS, 450 at RCPT
RX_GW=127.0.0.9:10026 # gateway.test's backup port
GW_NAME=gateway.test
ULABEL="bücher.test"
ALABEL="xn--bcher-kva.test"

cat >"$W/forced-tls.table" <<EOF
# forced-TLS table of t-backup-static.sh
bank.test   encrypt on_tls_failure=gateway
$ALABEL     encrypt on_tls_failure=gateway
grey.test   encrypt on_tls_failure=gateway
münchen.test encrypt
EOF
cat >"$W/forcetls.conf" <<'EOF'
policyd = {
  user = "nobody";
  state_file = "";
  dns_servers = "127.0.0.1:53";
  log_lookups = true;
  watch_table = false;
};
EOF
chmod 644 "$W/forced-tls.table" "$W/forcetls.conf"
"$TLSMAPS" compile --format postfix-transport "$W/forced-tls.table" >"$W/forcetls-transport" ||
	e2e_fail "tlsmaps compile --format postfix-transport failed"
"$TLSMAPS" compile --format postfix-policy "$W/forced-tls.table" >"$W/forcetls-policy" ||
	e2e_fail "tlsmaps compile --format postfix-policy failed"
sed 's/^/    static map: /' "$W/forcetls-transport" >&2

MAIN_CF=$EXAMPLES/postfix/main.cf.policyd
MASTER_CF=$EXAMPLES/postfix/master.cf.forcetls
mapfile -t lines < <(policyd_cf_lines "$MAIN_CF" "inet:$SM_ADDR" "inet:$POL_ADDR")
lines+=("transport_maps = lmdb:$W/forcetls-transport" "smtputf8_enable = yes")
master=()
while IFS= read -r l; do
	master+=("--master=${l//gateway.example/$GW_NAME}")
done < <(grep -Ev '^[[:space:]]*(#|$)' "$MASTER_CF")

e2e_dns --host-record=mx.plain.test,127.0.0.2 --host-record=mx.grey.test,127.0.0.4 \
	--host-record=$GW_NAME,127.0.0.9 --mx-host=bank.test,mx.plain.test,10 \
	--mx-host=$ALABEL,mx.plain.test,10 --mx-host=grey.test,mx.grey.test,10 \
	--mx-host=xn--mnchen-3ya.test,mx.plain.test,10
e2e_spawn policyd "$POLICYD" --foreground --config "$W/forcetls.conf" \
	--table "$W/forced-tls.table" --socketmap-listen "inet:$SM_ADDR" --policy-listen "inet:$POL_ADDR"
e2e_wait_listen "${SM_ADDR%:*}" "${SM_ADDR#*:}" 10 || e2e_fail "forcetls-policyd: socketmap not listening"
e2e_receiver 127.0.0.2 25 --plain --name mx.plain.test
e2e_receiver 127.0.0.4 25 --starttls --name mx.grey.test --rcpt-reply '450 4.7.1 greylisted, try again later'
e2e_receiver 127.0.0.9 10026 --starttls --name $GW_NAME
e2e_postmap "lmdb:$W/forcetls-transport" || e2e_fail "postmap lmdb:$W/forcetls-transport failed"
e2e_postmap "lmdb:$W/forcetls-policy" || e2e_fail "postmap lmdb:$W/forcetls-policy failed"
e2e_postfix "${lines[@]}" "${master[@]}"

F=sender@client.e2e.test
accepted=0
# utf8_send FROM TO: one SMTPUTF8 message (swaks cannot say SMTPUTF8; smtplib can).
utf8_send() {
	timeout 60 ip netns exec "$E2E_NS" python3 - "$E2E_MTA_ADDR" "$1" "$2" >"$W/utf8-send.log" 2>&1 <<'EOF'
import smtplib, sys
mta, frm, to = sys.argv[1:4]
msg = ("From: %s\r\nTo: %s\r\nSubject: e2e backup-static\r\n\r\nhello\r\n" % (frm, to)).encode()
s = smtplib.SMTP(mta, 25, timeout=20)
s.ehlo("client.e2e.test")
s.sendmail(frm, [to], msg, mail_options=["SMTPUTF8"])
s.quit()
EOF
}

utf8_send $F "u@$ULABEL" || e2e_fail "Postfix did not accept u@$ULABEL: $(cat "$W/utf8-send.log")"
accepted=$((accepted + 1))
e2e_send $F a@bank.test || e2e_fail "Postfix did not accept a@bank.test"
accepted=$((accepted + 1))
e2e_send $F g@grey.test || e2e_fail "Postfix did not accept g@grey.test"
accepted=$((accepted + 1))

e2e_wait_delivered $RX_GW 3 30 || {
	e2e_log_grep "to=<u@$ULABEL>" >&2
	e2e_fail "the backup port got $(e2e_rx_count $RX_GW) of 3 (u@$ULABEL deferred by the default smtp transport?)"
}
e2e_assert_tls $RX_GW || e2e_fail "the backup port got a message in clear"
e2e_log_grep "to=<u@$ULABEL>.*relay=$GW_NAME\[127\.0\.0\.9\]:10026.*status=sent" >/dev/null ||
	e2e_fail "u@$ULABEL not sent via the backup port"
e2e_log "u: u@$ULABEL (U-label, SMTPUTF8) at the backup port over TLS, through the static map"
e2e_log_grep "to=<g@grey\.test>.*relay=$GW_NAME\[127\.0\.0\.9\]:10026.*status=sent" >/dev/null ||
	e2e_fail "g: g@grey.test not sent via the backup port"
e2e_log "g: a TLS MX answering 450 at RCPT (greylisting): the fallback relay took g@grey.test"
[ "$(e2e_rx_count $RX_PLAIN)" -eq 0 ] || e2e_fail "mx.plain.test got forced mail in clear"
[ "$(e2e_rx_count $RX_GREY)" -eq 0 ] || e2e_fail "mx.grey.test stored a message"

# p. the static policy map: the U-label recipient of a deferring entry stays queued.
e2e_postconf "smtp_tls_policy_maps = lmdb:$W/forcetls-policy"
utf8_send $F "p@münchen.test" || e2e_fail "Postfix did not accept p@münchen.test: $(cat "$W/utf8-send.log")"
accepted=$((accepted + 1))
e2e_wait_deferred "p@münchen.test" 30 '4\.7\.4' || {
	e2e_log_grep "to=<p@münchen" >&2
	e2e_fail "p: p@münchen.test not deferred 4.7.4 through the static policy map (sent in clear?)"
}
e2e_log "p: p@münchen.test (U-label) deferred 4.7.4 by the static policy map, queued"
[ "$(e2e_rx_count $RX_PLAIN)" -eq 0 ] || e2e_fail "p: mx.plain.test got p@münchen.test in clear"

# x. the gateway answers 5xx: a bounce, not a deferral.
e2e_receiver_stop $RX_GW
e2e_receiver 127.0.0.9 10026 --starttls --name $GW_NAME --rcpt-reply '554 5.7.1 relaying denied'
e2e_send $F x@bank.test || e2e_fail "Postfix did not accept x@bank.test"
accepted=$((accepted + 1))
e2e_wait_log 'to=<x@bank\.test>.*relay=gateway\.test\[127\.0\.0\.9\]:10026.*dsn=5\.7\.1, status=bounced' 30 ||
	e2e_fail "x: x@bank.test not bounced by the gateway's 554"
e2e_log "x: the gateway's 554: x@bank.test bounced (returned to the sender), not queued"
bounced=1
[ "$(e2e_rx_count $RX_PLAIN)" -eq 0 ] || e2e_fail "x: mx.plain.test got x@bank.test in clear"
e2e_queue_has x@bank.test && e2e_fail "x: x@bank.test still queued"
queued=0
e2e_queue_has "p@münchen.test" && queued=1 # (a bounce notice to the sender may be queued too)
lost=$((accepted - $(e2e_rx_count $RX_GW) - bounced - queued))
e2e_log "accepted $accepted, at the gateway $(e2e_rx_count $RX_GW), bounced $bounced, queued $queued: lost $lost"
[ $lost -eq 0 ] || e2e_fail "lost $lost"
policyd_stop
e2e_pass
