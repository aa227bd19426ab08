#!/bin/bash
# t-sendmail-inbound.sh - a real Sendmail 8.17 daemon built from examples/sendmail/
# forcetls.mc: mail from outside. Inbound TLS is the milter's (the compiled TLS_Clt:
# lines are left out of the access map, examples/sendmail/README), and the milter
# removes what an outside sender must not set.
#
# usage: t-sendmail-inbound.sh TLSMAPS [EXAMPLES_DIR]
#
# Proves (lib-sendmail.sh's world, plus a partner 127.0.0.88 listed "encrypt
# direction=in", and milter.inbound_reply set to a text of the admin's own):
#   - the partner in clear text gets the admin's inbound_reply (4xx) at MAIL FROM, from
#     the milter (Sendmail logs "milter=forcetls, reject="; the milter logs the table
#     line), not the access map's "454 4.7.0 encryption too weak"; nothing is queued;
#     over STARTTLS the same message is accepted and delivered;
#   - spoofed X-Encrypt-Status (success, failure), TLS-Required: no, X-TLSLevel, X-Encrypt
#     and X-Decrypt-Status headers from an inbound client are all gone on arrival.
set -u
. "$(dirname "$0")/lib-sendmail.sh"
FTLS_TLSMAPS=${FTLS_TLSMAPS:-$1}
EXAMPLES=${2:-${FTLS_EXAMPLES:-}}
PARTNER=127.0.0.88
REPLY='451 4.7.1 Please use STARTTLS (forcetls e2e)'
sm_conf_hook() { mw_conf_set "$1" milter inbound_reply "\"$REPLY\""; }
RE=$(sed 's/[][\.*^$()+?{}|]/\\&/g' <<<"$REPLY")
sm_world sendmail-inbound "$PARTNER                          encrypt direction=in"
ip -n "$E2E_NS" addr add "$PARTNER/32" dev lo 2>/dev/null
grep -q "^TLS_Clt:$PARTNER" "$SM/forcetls.access" ||
	e2e_fail "tlsmaps compiled no TLS_Clt: line for the partner (nothing was left out)"
grep -q '^TLS_Clt:' "$SM/access.txt" && e2e_fail "a TLS_Clt: line is in the access map"
[ "$SM_ACCESS" = compiled ] || ! grep -Eq '^[[:space:]]*sendmail_inbound[[:space:]]*=[[:space:]]*true' "$W/forcetls.conf" ||
	e2e_fail "policyd.sendmail_inbound is on: the live map would answer TLS_Clt: keys"

# 1. The partner in clear text: the milter's reply.
sm_send info@partner.e2e.test enforce@open-tls.test --local-interface $PARTNER
rc=$?
[ $rc = 23 ] || e2e_fail "listed client in clear text: swaks exit $rc, expected 23 (MAIL refused)"
e2e_swaks_reply "^$RE" || e2e_fail "listed client in clear text: not the inbound_reply '$REPLY'"
e2e_swaks_reply 'encryption too weak' && e2e_fail "the access map answered, not the milter"
sm_wait_log "milter=forcetls, action=mail, reject=$RE" 10 ||
	e2e_fail "maillog: Sendmail did not log the milter's rejection"
mw_milter_said "reject: client=.*\[$PARTNER\] .*reason=no TLS level=encrypt entry=$PARTNER \(.*forced-tls\.table:4\) reply=451 4\.7\.1" ||
	e2e_fail "milter.log: the rejection does not name the table line"
[ "$(sm_queue_count)" -eq 0 ] || e2e_fail "the refused message was queued"

# 2. The same over STARTTLS.
sm_send info@partner.e2e.test enforce@open-tls.test --local-interface $PARTNER --tls ||
	e2e_fail "listed client over STARTTLS not accepted"
e2e_wait_delivered $MW_RX_TLS 1 30 || e2e_fail "the partner's TLS message was not delivered"
f=$(mw_rx_one $MW_RX_TLS enforce@open-tls.test) || e2e_fail "mx.tls.test: not one message for enforce@"
mw_headers "$f" | grep -q "^Received: from .*\[$PARTNER\].*with ESMTPS" ||
	e2e_fail "the accepted partner message did not come in over TLS (Received:)"

# 3. Spoofed headers from outside.
mw_send_inbound mallory@evil.e2e.test victim@open-plain.test \
	--header "Subject: [encrypt] please route me" \
	--add-header "X-TLSLevel: Require" --add-header "X-TLSLevel: Try" \
	--add-header "X-Encrypt: yes" \
	--add-header "X-Encrypt-Status: success" --add-header "X-Encrypt-Status: failure" \
	--add-header "X-Decrypt-Status: success" \
	--add-header "TLS-Required: no" || e2e_fail "inbound message not accepted"
e2e_wait_delivered $MW_RX_PLAIN 1 30 || e2e_fail "the spoofed inbound message was not delivered"
f=$(mw_rx_one $MW_RX_PLAIN victim@open-plain.test) || e2e_fail "mx.plain.test: not one message for victim@"
mw_headers "$f" | sed 's/^/    arrived: /' >&2
for h in X-TLSLevel X-Encrypt X-Encrypt-Status X-Decrypt-Status TLS-Required; do
	[ "$(mw_hcount "$f" $h)" = 0 ] || e2e_fail "inbound: a spoofed $h header arrived"
done
mw_headers "$f" | grep -qix 'X-E2E-Test: sendmail-inbound-3' || e2e_fail "inbound: this is not message #3"
mw_milter_said 'direction=inbound .*removed=X-TLSLevel\*2 .*removed=X-Encrypt\*1 .*removed=X-Encrypt-Status\*2 .*removed=X-Decrypt-Status\*1 .*removed=TLS-Required\*1' ||
	e2e_fail "milter.log: the inbound removals are not all logged"
for h in 'TLS-Required: no' 'X-Encrypt-Status: success' 'X-TLSLevel: Require'; do
	sm_wait_log "Milter \\(forcetls\\) delete: header $h\$" 5 ||
		e2e_fail "maillog: Sendmail did not log the milter's deletion of $h"
done

[ "$(e2e_rx_count $MW_GW)" -eq 0 ] || e2e_fail "the gateway got mail"
[ "$(e2e_rx_count $MW_RX_PLAIN)" -eq 1 ] || e2e_fail "mx.plain.test got $(e2e_rx_count $MW_RX_PLAIN) messages, expected 1"
[ "$(e2e_rx_count $MW_RX_TLS)" -eq 1 ] || e2e_fail "mx.tls.test got $(e2e_rx_count $MW_RX_TLS) messages, expected 1"
sm_finish
