#!/bin/bash
# t-attack9-mx.sh - relay mode with relay_mx_lookup: whose certificate is good enough?
# (attack9; FAILS on main when written)
#
# usage: t-attack9-mx.sh RELAY_SEND
#
# The gateway is gw.corp.test. An attacker who can answer DNS (no DNSSEC: a cache poisoned,
# a spoofed reply on the path) gives it the MX evil.attacker.test, a host of its own with a
# certificate for evil.attacker.test from a CA the relay trusts (a public one: relay_ca_file
# "" means OpenSSL's default store; here the test CA stands for it).
#
# Proves (what main got wrong): the flagged message is NOT handed to evil.attacker.test:
# with relay_mx_lookup the name to verify must still be the configured gateway's (or an MX
# host in its domain), as Postfix's "secure" level checks the next-hop, not the MX name.
set -u
. "$(dirname "$0")/../e2e/lib.sh"
RELAY_SEND=${1:?usage: t-attack9-mx.sh RELAY_SEND}
[ -x "$RELAY_SEND" ] || { echo "FAIL: $RELAY_SEND: not executable" >&2; exit 1; }

e2e_setup attack9-mx
W=$E2E_WORK
e2e_dns --host-record=evil.attacker.test,127.0.0.41 --mx-host=gw.corp.test,evil.attacker.test,10
e2e_receiver 127.0.0.41 25 --starttls --name evil.attacker.test
printf 'Subject: [encrypt] salaries\r\n\r\nconfidential\r\n' >"$W/msg"
e2e_ns "$RELAY_SEND" -c "$W/ca/ca.pem" -m -f '<a@corp.test>' -r '<b@other.test>' \
	-g gw.corp.test "$W/msg" >"$W/out" 2>&1
rc=$?
e2e_log "relay-send: exit $rc: $(tr '\n' ' ' <"$W/out")"
[ "$(e2e_rx_count 127.0.0.41:25)" -eq 0 ] ||
	e2e_fail "the flagged message went to evil.attacker.test (an MX from DNS), verified against its own name: $(grep -E '^(result|gateway)=' "$W/out" | tr '\n' ' ')"
[ $rc = 1 ] || e2e_fail "relay-send did not fail: $(cat "$W/out")"
e2e_pass
