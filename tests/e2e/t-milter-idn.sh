#!/bin/bash
# t-milter-idn.sh - U-label recipients through a real Postfix with smtputf8_enable = yes:
# the milter, policyd and the table agree on one A-label form (libidn2, in libtlsmaps).
# The world is t-milter-outbound.sh's (milter_world), plus: xn--bcher-kva.example is
# forced (encrypt) in the table, written there as its A-label, and its MX is
# mx.plain.test (127.0.0.2, no STARTTLS, but SMTPUTF8: the receivers offer it, or Postfix
# would bounce the UTF-8 envelope 5.6.7 before it looks at TLS); Postfix has
# smtputf8_enable = yes; policyd logs its lookups.
#
# usage: t-milter-idn.sh TLSMAPS [EXAMPLES_DIR]
#
# Proves:
#   - a message from the internal client to user@bücher.example (UTF-8, SMTPUTF8) gets
#     exactly one "X-TLSLevel: Require", first (the milter converted the U-label; before
#     the decision core it looked the UTF-8 name up, found nothing and said Try), is
#     routed to the forcetls-require transport, deferred 4.7.4 towards the MX without
#     STARTTLS, retried and still queued, never sent in clear;
#   - policyd, asked by Postfix's own socketmap client (postmap -q) with the name as
#     Postfix has it, answers encrypt for bücher.example, BÜCHER.example and the A-label
#     (not NOTFOUND, not TEMP), and its forcetls-require answer for the deferred
#     message comes from the table entry, not from "no entry";
#   - an ASCII recipient next to it (open-plain.test) still gets Try and is delivered.
set -u
MILTER_WORLD_ONLY=1 . "$(dirname "$0")/t-milter-outbound.sh"
EXAMPLES=${2:-${FTLS_EXAMPLES:-}}
ULABEL="bücher.example"
ALABEL="xn--bcher-kva.example"

mw_world_hook() {
	mw_conf_set "$W/forcetls.conf" policyd log_lookups true ||
		e2e_fail "examples/forcetls.conf: no policyd.log_lookups to set"
	chmod 644 "$W/forcetls.conf" # read as nobody
	MW_CF+=("smtputf8_enable = yes")
	e2e_dns \
		--host-record=gateway.test,$MW_GW_ADDR \
		--host-record=mx.plain.test,127.0.0.2 \
		--host-record=mx.tls.test,127.0.0.3 \
		--mx-host=forced-plain.test,mx.plain.test,10 \
		--mx-host=open-plain.test,mx.plain.test,10 \
		--mx-host=forced-tls.test,mx.tls.test,10 \
		--mx-host=open-tls.test,mx.tls.test,10 \
		--mx-host=$ALABEL,mx.plain.test,10
}
milter_world milter-idn "$ALABEL                encrypt"

# idn_send FROM TO: one SMTPUTF8 message from the internal client (swaks cannot say
# SMTPUTF8; Python's smtplib can). Returns smtplib's verdict.
idn_send() {
	timeout 60 ip netns exec "$E2E_NS" python3 - "$MW_INTERNAL" "$E2E_MTA_ADDR" "$1" "$2" \
		>"$W/idn-send.log" 2>&1 <<'EOF'
import smtplib, sys
src, mta, frm, to = sys.argv[1:5]
msg = ("From: %s\r\nTo: %s\r\nSubject: e2e milter-idn\r\n\r\nhello\r\n" % (frm, to)).encode()
s = smtplib.SMTP(mta, 25, source_address=(src, 0), timeout=20)
s.ehlo("client.e2e.test")
s.sendmail(frm, [to], msg, mail_options=["SMTPUTF8"] if not to.isascii() else [])
s.quit()
EOF
	local rc=$?
	e2e_log "sent $1 -> $2 (smtplib exit $rc)"
	return $rc
}

F=alice@corp.e2e.test
idn_send $F "user@$ULABEL" || e2e_fail "message to user@$ULABEL not accepted: $(cat "$W/idn-send.log")"
idn_send $F plain@open-plain.test || e2e_fail "message to open-plain.test not accepted"

e2e_wait_deferred "user@$ULABEL" 30 '4\.7\.4' || e2e_fail "user@$ULABEL not deferred 4.7.4"
e2e_log_grep "milter-header-filter: header X-TLSLevel: Require .*to=<user@$ULABEL>.*: forcetls-require:\$" >/dev/null ||
	e2e_fail "maillog: no milter_header_checks FILTER to forcetls-require for user@$ULABEL"
f=$(mw_queued "user@$ULABEL") || e2e_fail "postcat: no queued message for user@$ULABEL"
mw_headers "$f" | sed 's/^/    queued: /' >&2
[ "$(mw_hcount "$f" X-TLSLevel)" = 1 ] || e2e_fail "queued $ULABEL message: not exactly one X-TLSLevel header"
mw_hfirst "$f" | grep -qix 'X-TLSLevel: Require' ||
	e2e_fail "queued $ULABEL message: X-TLSLevel: Require is not the first header"
mw_milter_said "direction=outbound .*tls=Require \\(rcpt $ALABEL: $ALABEL " ||
	e2e_fail "milter.log: no Require decision naming $ALABEL"
e2e_wait_retried "user@$ULABEL" 2 30 '4\.7\.4' || e2e_fail "user@$ULABEL was not retried"
e2e_queue_has "user@$ULABEL" || e2e_fail "user@$ULABEL is no longer queued"
e2e_log_grep "to=<user@$ULABEL>.*status=(sent|bounced)" && e2e_fail "user@$ULABEL left the queue"
[ -z "$(e2e_rx_file $MW_RX_PLAIN "user@$ULABEL")$(e2e_rx_file $MW_RX_PLAIN "user@$ALABEL")" ] ||
	e2e_fail "mx.plain.test got the $ULABEL message (in clear)"

# What policyd answers for the name as Postfix has it (its socketmap client, postmap -q).
for key in "$ULABEL" "BÜCHER.example" "$ALABEL"; do
	got=$(timeout 20 ip netns exec "$E2E_NS" postmap -c "$E2E_PF_CONF" -q "$key" \
		"socketmap:unix:$MW_POLICYD_SOCK:forcetls" 2>&1)
	e2e_log "policyd forcetls $key: $got"
	[ "$got" = encrypt ] || e2e_fail "policyd answers \"$got\" for $key, expected encrypt"
done
# (policyd escapes the key it logs: bücher.example is b\xc3\xbccher.example there.)
ESC='b\\xc3\\xbccher\.example'
grep -Eq "lookup $ESC \(forcetls-require\): encrypt \(.*:[0-9]+ $ALABEL\)" "$W/policyd.log" ||
	e2e_fail "policyd.log: the forcetls-require lookup of $ULABEL did not name the table entry $ALABEL"
grep -Eq "lookup $ESC \(forcetls\): encrypt \(.*:[0-9]+ $ALABEL\)" "$W/policyd.log" ||
	e2e_fail "policyd.log: no forcetls lookup of $ULABEL answered from the table entry $ALABEL"

e2e_wait_delivered $MW_RX_PLAIN 1 30 || e2e_fail "open-plain.test not delivered"
f=$(mw_rx_one $MW_RX_PLAIN plain@open-plain.test) || e2e_fail "mx.plain.test: not one message for plain@open-plain.test"
mw_hfirst "$f" | grep -qix 'X-TLSLevel: Try' || e2e_fail "open-plain.test: X-TLSLevel: Try is not first"
mw_finish
