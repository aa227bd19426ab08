#!/bin/bash
# t-policy-maps.sh - the forced-TLS table, compiled with
# `tlsmaps compile --format postfix-policy` and postmap lmdb:, as smtp_tls_policy_maps
# of a real Postfix delivering to real receivers found through real DNS (dnsmasq).
#
# usage: t-policy-maps.sh TLSMAPS
#
# Proves, on the wire:
#   - a forced domain whose MX offers no STARTTLS: deferred 4.7.4 "TLS is required, but
#     was not offered", still queued after retries, nothing delivered in clear;
#   - a forced domain whose MX offers STARTTLS: delivered, and the receiver saw TLS;
#   - a `.parent` entry forces a subdomain (deferred), a `may` exception under it is
#     delivered (in clear, the MX has no STARTTLS);
#   - `verify`: delivered when the MX certificate names the MX host (test CA), deferred
#     4.7.5 when it does not;
#   - a literal next hop with a port, `[relay.test]:2525`, reached through transport_maps:
#     delivered over verified TLS; `[relay-plain.test]:2526` with no STARTTLS: deferred;
#   - a domain not in the table still goes out (opportunistic `may`).
set -u
. "$(dirname "$0")/lib.sh"
TLSMAPS=${1:?usage: t-policy-maps.sh TLSMAPS}
[ -x "$TLSMAPS" ] || { echo "FAIL: $TLSMAPS: not executable" >&2; exit 1; }

e2e_setup policy-maps
W=$E2E_WORK

# --- the table, compiled as an admin would -------------------------------------------
cat >"$W/forced-tls.table" <<'EOF'
# forced-TLS table of t-policy-maps.sh
forced-plain.test                   # default level: encrypt
forced-tls.test                     encrypt
.parent.test                        encrypt
legacy.parent.test                  may
verified.test                       verify
wrongname.test                      verify
[relay.test]:2525                   verify
[relay-plain.test]:2526             encrypt
EOF
"$TLSMAPS" compile --format postfix-policy "$W/forced-tls.table" >"$W/tls_policy" 2>"$W/compile.err" ||
	e2e_fail "tlsmaps compile failed: $(cat "$W/compile.err")"
[ -s "$W/compile.err" ] && e2e_fail "tlsmaps compile left entries out: $(cat "$W/compile.err")"
e2e_postmap "lmdb:$W/tls_policy" || e2e_fail "postmap lmdb:$W/tls_policy failed"
got=$(e2e_postmap -q sub.parent.test "lmdb:$W/tls_policy")
[ -z "$got" ] || e2e_fail "postmap -q sub.parent.test answered '$got': the key must be .parent.test"
[ "$(e2e_postmap -q .parent.test "lmdb:$W/tls_policy")" = encrypt ] ||
	e2e_fail "postmap -q .parent.test is not encrypt"

printf '%s\n' "partner.test smtp:[relay.test]:2525" \
	"partner-plain.test smtp:[relay-plain.test]:2526" >"$W/transport"

# --- the world: DNS, receivers, Postfix ------------------------------------------------
e2e_dns \
	--host-record=mx.plain.test,127.0.0.2 \
	--host-record=mx.tls.test,127.0.0.3 \
	--host-record=mx-alias.tls.test,127.0.0.3 \
	--host-record=relay.test,127.0.0.4 \
	--host-record=relay-plain.test,127.0.0.4 \
	--mx-host=forced-plain.test,mx.plain.test,10 \
	--mx-host=forced-tls.test,mx.tls.test,10 \
	--mx-host=sub.parent.test,mx.plain.test,10 \
	--mx-host=legacy.parent.test,mx.plain.test,10 \
	--mx-host=open.test,mx.plain.test,10 \
	--mx-host=verified.test,mx.tls.test,10 \
	--mx-host=wrongname.test,mx-alias.tls.test,10

RX_PLAIN=127.0.0.2:25
RX_TLS=127.0.0.3:25
RX_RELAY=127.0.0.4:2525
RX_RELAY_PLAIN=127.0.0.4:2526
e2e_receiver 127.0.0.2 25 --plain --name mx.plain.test
e2e_receiver 127.0.0.3 25 --starttls --name mx.tls.test
e2e_receiver 127.0.0.4 2525 --starttls --name relay.test
e2e_receiver 127.0.0.4 2526 --plain --name relay-plain.test

e2e_postfix \
	"smtp_tls_policy_maps = lmdb:$W/tls_policy" \
	"transport_maps = texthash:$W/transport"

# --- the mail --------------------------------------------------------------------------
F=sender@client.e2e.test
for rcpt in a@forced-plain.test b@forced-tls.test c@sub.parent.test d@legacy.parent.test \
	e@open.test f@verified.test g@wrongname.test h@partner.test i@partner-plain.test; do
	e2e_send "$F" "$rcpt" || e2e_fail "Postfix did not accept the message to $rcpt"
done

# Delivered: forced-tls + verified over TLS to mx.tls.test; legacy (may) and open (not
# listed) in clear to mx.plain.test; partner over verified TLS to [relay.test]:2525.
e2e_wait_delivered $RX_TLS 2 30 || e2e_fail "forced-tls.test / verified.test not delivered to $RX_TLS"
e2e_wait_delivered $RX_PLAIN 2 30 || e2e_fail "legacy.parent.test / open.test not delivered to $RX_PLAIN"
e2e_wait_delivered $RX_RELAY 1 30 || e2e_fail "partner.test not delivered to [relay.test]:2525"
e2e_assert_tls $RX_TLS b@forced-tls.test || e2e_fail "forced-tls.test did not arrive over TLS"
e2e_assert_tls $RX_TLS f@verified.test || e2e_fail "verified.test did not arrive over TLS"
e2e_assert_tls $RX_RELAY h@partner.test || e2e_fail "partner.test did not arrive over TLS"
e2e_assert_plain $RX_PLAIN d@legacy.parent.test || e2e_fail "legacy.parent.test (may) not delivered"
e2e_assert_plain $RX_PLAIN e@open.test || e2e_fail "open.test (not listed) not delivered"
e2e_log_grep 'Verified TLS connection established to mx\.tls\.test\[127\.0\.0\.3\]:25' >/dev/null ||
	e2e_fail "verified.test: no 'Verified TLS connection' in the maillog"
e2e_log_grep 'Verified TLS connection established to relay\.test\[127\.0\.0\.4\]:2525' >/dev/null ||
	e2e_fail "[relay.test]:2525: no 'Verified TLS connection' in the maillog"

# Deferred, still queued: the forced destinations that cannot give what the table asks.
e2e_wait_deferred a@forced-plain.test 30 '4\.7\.4' || e2e_fail "forced-plain.test not deferred 4.7.4"
e2e_log_grep 'to=<a@forced-plain\.test>.*TLS is required, but was not offered' >/dev/null ||
	e2e_fail "forced-plain.test: not 'TLS is required, but was not offered'"
e2e_wait_deferred c@sub.parent.test 30 '4\.7\.4' || e2e_fail "sub.parent.test (.parent.test) not deferred"
e2e_wait_deferred g@wrongname.test 30 '4\.7\.5' || e2e_fail "wrongname.test (verify, wrong name) not deferred 4.7.5"
e2e_log_grep 'to=<g@wrongname\.test>.*certificate' >/dev/null ||
	e2e_fail "wrongname.test: the deferral does not name the certificate"
e2e_wait_deferred i@partner-plain.test 30 '4\.7\.4' || e2e_fail "[relay-plain.test]:2526 not deferred 4.7.4"

# Still deferred after retries (queue_run_delay 1s, backoff 1-2s), never sent in clear.
e2e_flush
e2e_wait_retried a@forced-plain.test 3 20 ||
	e2e_fail "forced-plain.test was not retried"
for rcpt in a@forced-plain.test c@sub.parent.test g@wrongname.test i@partner-plain.test; do
	e2e_wait_until 10 e2e_queue_has "$rcpt" || e2e_fail "$rcpt is no longer queued"
done
[ "$(e2e_queue_count)" -eq 4 ] || e2e_fail "queue holds $(e2e_queue_count) messages, expected 4"
[ "$(e2e_rx_count $RX_PLAIN)" -eq 2 ] || e2e_fail "$RX_PLAIN received $(e2e_rx_count $RX_PLAIN) messages, expected 2"
[ "$(e2e_rx_count $RX_RELAY_PLAIN)" -eq 0 ] || e2e_fail "$RX_RELAY_PLAIN received forced mail in clear"
[ "$(e2e_rx_count $RX_TLS)" -eq 2 ] || e2e_fail "$RX_TLS received $(e2e_rx_count $RX_TLS) messages, expected 2"
if e2e_log_grep 'to=<(a@forced-plain|c@sub\.parent|g@wrongname|i@partner-plain)\.test>.*status=sent' >/dev/null; then
	e2e_fail "a forced message was sent"
fi
e2e_pass
