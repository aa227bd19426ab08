#!/bin/bash
# t-milter-gateway.sh - forcetls-milter in a real Postfix, the encryption gateway's round
# trip: an internal client's tagged message goes to the gateway; the gateway sends it
# back (from its address in milter.gateway_networks, exactly as it received it, plus its
# status header) and Postfix delivers it to the recipient, never to the gateway again.
# The world is t-milter-outbound.sh's (milter_world): gateway.test 127.0.0.30:10025,
# mx.plain.test 127.0.0.2 (no TLS), mx.tls.test 127.0.0.3 (STARTTLS), internal client
# 127.0.0.66, on_encrypt_failure = "tls" as examples/forcetls.conf ships it.
#
# usage: t-milter-gateway.sh TLSMAPS [EXAMPLES_DIR]
#
# Proves:
#   - "X-Encrypt-Status: success" from the gateway: the message (still "[encrypt]" in its
#     subject, still carrying the gateway's copy of "X-Encrypt: yes") is delivered to the
#     recipient's MX with the status header kept, without X-Encrypt, with one X-TLSLevel;
#     the gateway got nothing more (no loop);
#   - "X-Encrypt-Status: failure" from the gateway, MX without STARTTLS: X-TLSLevel:
#     Require (first, the only one), routed to forcetls-require, deferred 4.7.4 and kept
#     through retries, never sent in clear, never back to the gateway;
#   - the same with a STARTTLS MX: delivered over TLS, one X-TLSLevel: Require;
#   - the same failure header from an internal client (not the gateway) is removed and
#     changes nothing: delivered with X-TLSLevel: Try.
set -u
MILTER_WORLD_ONLY=1 . "$(dirname "$0")/t-milter-outbound.sh"
EXAMPLES=${2:-${FTLS_EXAMPLES:-}}
milter_world milter-gateway
grep -q '^ *on_encrypt_failure = "tls";' "$W/forcetls.conf" ||
	e2e_fail "examples/forcetls.conf: on_encrypt_failure is not \"tls\" any more"

F=alice@corp.e2e.test
for r in ok@open-plain.test fail@open-plain.test fail@open-tls.test; do
	mw_send_internal $F $r --header "Subject: [encrypt] to $r" || e2e_fail "tagged message to $r not accepted"
done
e2e_wait_delivered $MW_GW 3 30 || e2e_fail "the tagged messages did not reach the gateway"
for r in ok@open-plain.test fail@open-plain.test fail@open-tls.test; do
	f=$(mw_rx_one $MW_GW $r) || e2e_fail "gateway: not one message for $r"
	mw_headers "$f" | grep -qix 'X-Encrypt: yes' || e2e_fail "gateway: $r came without X-Encrypt: yes"
done
[ "$(e2e_rx_count $MW_RX_PLAIN)$(e2e_rx_count $MW_RX_TLS)" = 00 ] ||
	e2e_fail "a tagged message went to a recipient's MX directly"

# 1. Success: back to the recipient, not to the gateway.
mw_gateway_return ok@open-plain.test success || e2e_fail "Postfix refused the gateway's success return"
e2e_wait_delivered $MW_RX_PLAIN 1 30 || e2e_fail "the gateway's success return was not delivered"
f=$(mw_rx_one $MW_RX_PLAIN ok@open-plain.test) || e2e_fail "mx.plain.test: not one message for ok@"
mw_headers "$f" | sed 's/^/    arrived: /' >&2
mw_headers "$f" | grep -qix 'Subject: \[encrypt\] to ok@open-plain\.test' || e2e_fail "success: not the tagged message"
[ "$(mw_hcount "$f" X-Encrypt-Status)" = 1 ] && mw_headers "$f" | grep -qix 'X-Encrypt-Status: success' ||
	e2e_fail "success: the gateway's X-Encrypt-Status: success was not kept"
[ "$(mw_hcount "$f" X-Encrypt)" = 0 ] || e2e_fail "success: X-Encrypt survived the return"
[ "$(mw_hcount "$f" X-TLSLevel)" = 1 ] || e2e_fail "success: not exactly one X-TLSLevel"
mw_hfirst "$f" | grep -qix 'X-TLSLevel: Try' || e2e_fail "success: X-TLSLevel: Try is not first"
mw_milter_said 'direction=gateway gateway=success .*removed=X-Encrypt\*1' ||
	e2e_fail "milter.log: no gateway=success decision removing X-Encrypt"

# 2. Failure, MX without STARTTLS: mandatory TLS, deferred.
mw_gateway_return fail@open-plain.test failure || e2e_fail "Postfix refused the gateway's failure return"
e2e_wait_deferred fail@open-plain.test 30 '4\.7\.4' || e2e_fail "failure (no STARTTLS): not deferred 4.7.4"
e2e_log_grep 'milter-header-filter: header X-TLSLevel: Require .*to=<fail@open-plain\.test>.*: forcetls-require:$' >/dev/null ||
	e2e_fail "failure: not routed to forcetls-require"
f=$(mw_queued fail@open-plain.test) || e2e_fail "postcat: no queued message for fail@open-plain.test"
[ "$(mw_hcount "$f" X-TLSLevel)" = 1 ] || e2e_fail "failure (queued): not exactly one X-TLSLevel"
mw_hfirst "$f" | grep -qix 'X-TLSLevel: Require' || e2e_fail "failure (queued): X-TLSLevel: Require is not first"
[ "$(mw_hcount "$f" X-Encrypt)" = 0 ] || e2e_fail "failure (queued): X-Encrypt survived the return"
mw_milter_said 'direction=gateway gateway=failure .*tls=Require \(on_encrypt_failure=tls\)' ||
	e2e_fail "milter.log: no gateway=failure on_encrypt_failure=tls decision"

# 3. Failure, STARTTLS MX: delivered over TLS.
mw_gateway_return fail@open-tls.test failure || e2e_fail "Postfix refused the gateway's failure return (TLS)"
e2e_wait_delivered $MW_RX_TLS 1 30 || e2e_fail "failure (STARTTLS MX): not delivered"
f=$(mw_rx_one $MW_RX_TLS fail@open-tls.test) || e2e_fail "mx.tls.test: not one message for fail@"
e2e_assert_tls $MW_RX_TLS fail@open-tls.test || e2e_fail "failure (STARTTLS MX): not over TLS"
[ "$(mw_hcount "$f" X-TLSLevel)" = 1 ] || e2e_fail "failure (STARTTLS MX): not exactly one X-TLSLevel"
mw_hfirst "$f" | grep -qix 'X-TLSLevel: Require' || e2e_fail "failure (STARTTLS MX): X-TLSLevel: Require is not first"
e2e_log_grep 'milter-header-filter: header X-TLSLevel: Require .*to=<fail@open-tls\.test>.*: forcetls-require:$' >/dev/null ||
	e2e_fail "failure (STARTTLS MX): not routed to forcetls-require"

# 4. The failure header from someone else than the gateway decides nothing.
mw_send_internal $F spoof@open-plain.test --add-header "X-Encrypt-Status: failure" ||
	e2e_fail "internal message with a failure header not accepted"
e2e_wait_delivered $MW_RX_PLAIN 2 30 || e2e_fail "the internal message with a failure header was not delivered"
f=$(mw_rx_one $MW_RX_PLAIN spoof@open-plain.test) || e2e_fail "mx.plain.test: not one message for spoof@"
[ "$(mw_hcount "$f" X-Encrypt-Status)" = 0 ] || e2e_fail "internal: X-Encrypt-Status: failure survived"
mw_hfirst "$f" | grep -qix 'X-TLSLevel: Try' || e2e_fail "internal: X-TLSLevel: Try is not first"
[ "$(mw_hcount "$f" X-TLSLevel)" = 1 ] || e2e_fail "internal: not exactly one X-TLSLevel"

# Kept through retries; no loop: the gateway still has only the three tagged messages.
e2e_wait_retried fail@open-plain.test 3 30 || e2e_fail "failure (no STARTTLS) was not retried"
e2e_queue_has fail@open-plain.test || e2e_fail "failure (no STARTTLS) is no longer queued"
e2e_log_grep 'to=<fail@open-plain\.test>, relay=mx\.plain\.test.*status=(sent|bounced)' &&
	e2e_fail "failure (no STARTTLS) left the queue"
[ "$(e2e_rx_count $MW_GW)" -eq 3 ] || e2e_fail "gateway got $(e2e_rx_count $MW_GW) messages, expected 3 (a loop)"
[ "$(e2e_rx_count $MW_RX_PLAIN)" -eq 2 ] || e2e_fail "mx.plain.test got $(e2e_rx_count $MW_RX_PLAIN) messages, expected 2"
[ "$(e2e_rx_count $MW_RX_TLS)" -eq 1 ] || e2e_fail "mx.tls.test got $(e2e_rx_count $MW_RX_TLS) messages, expected 1"
[ "$(e2e_queue_count)" -eq 1 ] || e2e_fail "queue holds $(e2e_queue_count) messages, expected 1"
mw_finish
