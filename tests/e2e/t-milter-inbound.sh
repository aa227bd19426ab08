#!/bin/bash
# t-milter-inbound.sh - forcetls-milter in a real Postfix, mail from outside: spoofed
# x-headers, decryption routing and inbound TLS enforcement, judged by what Postfix
# answered and what the receivers really got. The world is t-milter-outbound.sh's
# (milter_world): gateway.test 127.0.0.30:10025, mx.plain.test 127.0.0.2 (no TLS),
# mx.tls.test 127.0.0.3 (STARTTLS), internal client 127.0.0.66, inbound 127.0.0.77.
#
# usage: t-milter-inbound.sh TLSMAPS [EXAMPLES_DIR]
#
# Proves:
#   - an inbound client's X-TLSLevel (Require and Try), X-Encrypt: yes, X-Encrypt-Status
#     (success and failure), X-Decrypt: yes, X-Decrypt-Status and "TLS-Required: no" are
#     all gone when the message arrives at the recipient's MX; a "[encrypt]" subject from
#     outside flags nothing; the gateway gets nothing;
#   - an internal client cannot spoof either: its X-Encrypt-Status and TLS-Required: no
#     are removed from a message to a forced domain, which arrives over TLS with one
#     X-TLSLevel: Require (the client's own "Try" gone);
#   - inbound PGP/MIME (multipart/encrypted) gets X-Decrypt: yes and goes to the gateway
#     over TLS, and only there;
#   - a client listed "direction=in" gets 450 4.7.0 at MAIL FROM in clear text (nothing
#     queued, the milter logs the table line), and is accepted over STARTTLS.
set -u
MILTER_WORLD_ONLY=1 . "$(dirname "$0")/t-milter-outbound.sh"
EXAMPLES=${2:-${FTLS_EXAMPLES:-}}
PARTNER=127.0.0.88
milter_world milter-inbound "$PARTNER                          encrypt direction=in"
ip -n "$E2E_NS" addr add "$PARTNER/32" dev lo 2>/dev/null

# 1. Spoofed headers from outside, to an unlisted domain (mx.plain.test).
mw_send_inbound mallory@evil.e2e.test victim@open-plain.test \
	--header "Subject: [encrypt] please route me" \
	--add-header "X-TLSLevel: Require" --add-header "X-TLSLevel: Try" \
	--add-header "X-Encrypt: yes" \
	--add-header "X-Encrypt-Status: success" --add-header "X-Encrypt-Status: failure" \
	--add-header "X-Decrypt: yes" --add-header "X-Decrypt-Status: success" \
	--add-header "TLS-Required: no" || e2e_fail "inbound message not accepted"
# 2. The same tricks from an internal client, to a forced domain (mx.tls.test).
mw_send_internal alice@corp.e2e.test partner@forced-tls.test \
	--add-header "X-TLSLevel: Try" --add-header "TLS-Required: no" \
	--add-header "X-Encrypt-Status: success" --add-header "X-Encrypt-Status: failure" ||
	e2e_fail "internal message not accepted"
# 3. Inbound PGP/MIME: to be decrypted by the gateway.
mw_send_inbound bob@partner.e2e.test crypt@open-plain.test \
	--add-header 'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="b1"' \
	--body $'This is an OpenPGP/MIME encrypted message.\r\n--b1\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n--b1\r\nContent-Type: application/octet-stream\r\n\r\n-----BEGIN PGP MESSAGE-----\r\nhQEMA\r\n-----END PGP MESSAGE-----\r\n--b1--\r\n' ||
	e2e_fail "inbound PGP/MIME message not accepted"

e2e_wait_delivered $MW_RX_PLAIN 1 30 || e2e_fail "the spoofed inbound message was not delivered"
f=$(mw_rx_one $MW_RX_PLAIN victim@open-plain.test) || e2e_fail "mx.plain.test: not one message for victim@"
mw_headers "$f" | sed 's/^/    arrived: /' >&2
for h in X-TLSLevel X-Encrypt X-Encrypt-Status X-Decrypt X-Decrypt-Status TLS-Required; do
	[ "$(mw_hcount "$f" $h)" = 0 ] || e2e_fail "inbound: a spoofed $h header arrived"
done
mw_headers "$f" | grep -qix 'Subject: \[encrypt\] please route me' || e2e_fail "inbound: Subject changed"
mw_headers "$f" | grep -qix 'X-E2E-Test: milter-inbound-1' || e2e_fail "inbound: this is not message #1"
mw_milter_said 'direction=inbound .*removed=X-TLSLevel\*2 .*removed=X-Encrypt\*1 .*removed=X-Decrypt\*1 .*removed=X-Encrypt-Status\*2 .*removed=X-Decrypt-Status\*1 .*removed=TLS-Required\*1' ||
	e2e_fail "milter.log: the inbound removals are not all logged"

e2e_wait_delivered $MW_RX_TLS 1 30 || e2e_fail "the internal message to forced-tls.test was not delivered"
f=$(mw_rx_one $MW_RX_TLS partner@forced-tls.test) || e2e_fail "mx.tls.test: not one message for partner@"
e2e_assert_tls $MW_RX_TLS partner@forced-tls.test || e2e_fail "forced-tls.test: not over TLS"
mw_headers "$f" | sed 's/^/    arrived: /' >&2
[ "$(mw_hcount "$f" X-TLSLevel)" = 1 ] || e2e_fail "internal: not exactly one X-TLSLevel"
mw_hfirst "$f" | grep -qix 'X-TLSLevel: Require' || e2e_fail "internal: X-TLSLevel: Require is not the first header"
for h in TLS-Required X-Encrypt-Status X-Encrypt; do
	[ "$(mw_hcount "$f" $h)" = 0 ] || e2e_fail "internal: a $h header from the client arrived"
done

e2e_wait_delivered $MW_GW 1 30 || e2e_fail "the PGP/MIME message did not reach the gateway"
f=$(mw_rx_one $MW_GW crypt@open-plain.test) || e2e_fail "gateway: not one message for crypt@"
e2e_assert_tls $MW_GW crypt@open-plain.test || e2e_fail "gateway: the PGP/MIME message not over TLS"
[ "$(mw_hcount "$f" X-Decrypt)" = 1 ] && mw_headers "$f" | grep -qix 'X-Decrypt: yes' ||
	e2e_fail "gateway: the PGP/MIME message has not exactly one X-Decrypt: yes"
[ "$(mw_hcount "$f" X-TLSLevel)" = 0 ] || e2e_fail "gateway: inbound mail got an X-TLSLevel header"
mw_milter_said 'direction=inbound .*decrypt=yes \(Content-Type\)' || e2e_fail "milter.log: no decrypt decision"

# 4. Inbound enforcement: the partner listed direction=in, clear text, then STARTTLS.
e2e_send info@partner.e2e.test enforce@open-tls.test --local-interface $PARTNER
rc=$?
[ $rc = 23 ] || e2e_fail "listed client in clear text: swaks exit $rc, expected 23 (MAIL refused)"
e2e_swaks_reply '^450 4\.7\.0 TLS is required for this session' || e2e_fail "listed client in clear: no 450 4.7.0"
mw_milter_said "reject: client=.*\[$PARTNER\] .*reason=no TLS level=encrypt entry=$PARTNER \(.*forced-tls\.table:4\)" ||
	e2e_fail "milter.log: the rejection does not name the table line"
e2e_queue_has enforce@open-tls.test && e2e_fail "the rejected message was queued"
e2e_send info@partner.e2e.test enforce@open-tls.test --local-interface $PARTNER --tls ||
	e2e_fail "listed client over STARTTLS not accepted"
e2e_wait_delivered $MW_RX_TLS 2 30 || e2e_fail "the partner's TLS message was not delivered"
f=$(mw_rx_one $MW_RX_TLS enforce@open-tls.test) || e2e_fail "mx.tls.test: not one message for enforce@"
mw_headers "$f" | grep -q '^Received: from .*\[127\.0\.0\.88\].*with ESMTPS' ||
	e2e_fail "the accepted partner message did not come in over TLS (Received:)"

[ "$(e2e_rx_count $MW_GW)" -eq 1 ] || e2e_fail "gateway got $(e2e_rx_count $MW_GW) messages, expected 1"
[ "$(e2e_rx_count $MW_RX_PLAIN)" -eq 1 ] || e2e_fail "mx.plain.test got $(e2e_rx_count $MW_RX_PLAIN) messages, expected 1"
[ "$(e2e_rx_count $MW_RX_TLS)" -eq 2 ] || e2e_fail "mx.tls.test got $(e2e_rx_count $MW_RX_TLS) messages, expected 2"
mw_finish
