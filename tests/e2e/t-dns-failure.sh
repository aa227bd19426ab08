#!/bin/bash
# t-dns-failure.sh - forced mail when DNS fails: deferred and kept, then delivered over TLS
# once DNS answers again. Also proves the harness's DNS failure modes (e2e_dns
# --servfail= and --timeout=) and that e2e_dns can replace the running dnsmasq.
#
# usage: t-dns-failure.sh TLSMAPS
#
# Proves:
#   - MX lookup answered SERVFAIL: deferred 4.4.3, still queued, nothing delivered;
#   - MX lookup unanswered (timeout): deferred 4.4.3, still queued;
#   - once DNS is healed the same messages leave, over TLS, to the right MX.
set -u
. "$(dirname "$0")/lib.sh"
TLSMAPS=${1:?usage: t-dns-failure.sh TLSMAPS}
[ -x "$TLSMAPS" ] || { echo "FAIL: $TLSMAPS: not executable" >&2; exit 1; }

e2e_setup dns-failure
W=$E2E_WORK

printf '%s\n' servfail.test timeout.test >"$W/forced-tls.table"
"$TLSMAPS" compile --format postfix-policy "$W/forced-tls.table" >"$W/tls_policy" 2>"$W/compile.err" ||
	e2e_fail "tlsmaps compile failed: $(cat "$W/compile.err")"
e2e_postmap "lmdb:$W/tls_policy" || e2e_fail "postmap failed"

# shellcheck disable=SC2054
GOOD=(--host-record=mx.tls.test,127.0.0.3
	--mx-host=servfail.test,mx.tls.test,10
	--mx-host=timeout.test,mx.tls.test,10)
# Broken world: servfail.test SERVFAILs, timeout.test never answers.
e2e_dns --host-record=mx.tls.test,127.0.0.3 --servfail=servfail.test --timeout=timeout.test
RX=127.0.0.3:25
e2e_receiver 127.0.0.3 25 --starttls --name mx.tls.test
e2e_postfix "smtp_tls_policy_maps = lmdb:$W/tls_policy"

for r in a@servfail.test b@timeout.test; do
	e2e_send sender@client.e2e.test $r || e2e_fail "Postfix did not accept $r"
done
e2e_wait_deferred a@servfail.test 30 '4\.4\.3' || e2e_fail "servfail.test: not deferred 4.4.3"
e2e_log_grep 'to=<a@servfail\.test>.*type=MX: Host not found, try again' >/dev/null ||
	e2e_fail "servfail.test: not a temporary MX lookup failure"
e2e_wait_deferred b@timeout.test 30 '4\.4\.3' || e2e_fail "timeout.test: not deferred 4.4.3"
grep -q 'forwarded servfail\.test to 127\.0\.0\.53' "$W/dns.log" ||
	e2e_fail "dnsmasq did not forward servfail.test to the SERVFAIL responder"
# retried and still queued
e2e_wait_retried a@servfail.test 2 20 ||
	e2e_fail "servfail.test: no retry"
[ "$(e2e_queue_count)" -eq 2 ] || e2e_fail "expected 2 queued messages, have $(e2e_queue_count)"
[ "$(e2e_rx_count $RX)" -eq 0 ] || e2e_fail "a message left while DNS was failing"

# Heal DNS: the same messages leave over TLS.
e2e_dns "${GOOD[@]}"
e2e_flush
e2e_wait_delivered $RX 2 30 || e2e_fail "not delivered after DNS recovered"
for r in a@servfail.test b@timeout.test; do
	e2e_assert_tls $RX $r || e2e_fail "$r did not arrive over TLS"
done
e2e_wait_until 10 test "$(e2e_queue_count)" -eq 0 || e2e_fail "queue not empty after delivery"
e2e_pass
