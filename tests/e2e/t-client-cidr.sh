#!/bin/bash
# t-client-cidr.sh - inbound forced TLS without the daemon: the forced-TLS table compiled
# with `tlsmaps compile --format postfix-client-cidr`, wired into a real Postfix with the
# lines shipped in examples/postfix/main.cf.client-cidr, and real SMTP clients (swaks)
# bound to addresses inside and outside the forced range.
#
# usage: t-client-cidr.sh TLSMAPS [EXAMPLES_DIR]
#
# Proves:
#   - a client in a forced range without TLS gets 450 4.7.x at RCPT (nothing accepted);
#   - the same client over STARTTLS gets 250, and the message is delivered;
#   - a `may` exception inside the forced range gets 250 in clear;
#   - a client outside every range gets 250 in clear;
#   - the cidr: answers agree with postmap -q on the compiled file.
set -u
. "$(dirname "$0")/lib.sh"
TLSMAPS=${1:?usage: t-client-cidr.sh TLSMAPS [EXAMPLES_DIR]}
EXAMPLES=${2:-$E2E_LIB_DIR/../../examples}
[ -x "$TLSMAPS" ] || { echo "FAIL: $TLSMAPS: not executable" >&2; exit 1; }

e2e_setup client-cidr
W=$E2E_WORK

cat >"$W/forced-tls.table" <<'EOF'
# forced-TLS table of t-client-cidr.sh: partner clients 127.0.0.64 - 127.0.0.79
127.0.0.64/28                       encrypt
127.0.0.70                          may      # their legacy host: exception
EOF
"$TLSMAPS" compile --format postfix-client-cidr "$W/forced-tls.table" >"$W/clients.cidr" \
	2>"$W/compile.err" || e2e_fail "tlsmaps compile failed: $(cat "$W/compile.err")"
[ -s "$W/compile.err" ] && e2e_fail "tlsmaps compile left entries out: $(cat "$W/compile.err")"

# The restriction class lines exactly as examples/ ships them, with our file's path.
CF=$EXAMPLES/postfix/main.cf.client-cidr
lines=()
if [ -f "$CF" ]; then
	while IFS= read -r l; do
		lines+=("${l//\/etc\/postfix\/forcetls-clients.cidr/$W/clients.cidr}")
	done < <(e2e_cf_lines "$CF")
	printf '%s\n' "${lines[@]}" | grep -q "cidr:$W/clients.cidr" ||
		e2e_fail "$CF: no check_client_access cidr:/etc/postfix/forcetls-clients.cidr line"
else
	lines=("smtpd_restriction_classes = forcetls_require_tls"
		"forcetls_require_tls = reject_plaintext_session"
		"smtpd_recipient_restrictions = check_client_access cidr:$W/clients.cidr, permit_mynetworks, reject_unauth_destination")
fi

e2e_dns --mx-host=partner.test,mx.partner.test,10 --host-record=mx.partner.test,127.0.0.3
RX=127.0.0.3:25
e2e_receiver 127.0.0.3 25 --starttls --name mx.partner.test
e2e_postfix "${lines[@]}"

for a in 127.0.0.66 127.0.0.70 127.0.0.99; do
	e2e_postmap -q $a "cidr:$W/clients.cidr" >>"$W/postmap-q.out"
	echo "$a -> $(e2e_postmap -q $a "cidr:$W/clients.cidr")" >&2
done
[ "$(e2e_postmap -q 127.0.0.66 "cidr:$W/clients.cidr")" = forcetls_require_tls ] ||
	e2e_fail "postmap -q 127.0.0.66: not forcetls_require_tls"

# 1. forced client, clear text: 4xx at RCPT, nothing queued.
e2e_send partner@partner-client.test a@partner.test --local-interface 127.0.0.66
rc=$?
[ $rc -eq 24 ] || e2e_fail "forced client in clear: swaks exit $rc, expected 24 (RCPT refused)"
grep -Eq '^<\*\* +450 4\.7\.[0-9]+ ' "$E2E_SWAKS_LOG" ||
	e2e_fail "forced client in clear: no 450 4.7.x reply to RCPT"
grep -B1 -E '^<\*\* +450 ' "$E2E_SWAKS_LOG" | grep -q 'RCPT TO' ||
	e2e_fail "forced client in clear: the 450 is not the reply to RCPT"
e2e_wait_log 'NOQUEUE: reject: RCPT from [^ ]*\[127\.0\.0\.66\]: 450 4\.7\.[0-9]+ .*to=<a@partner\.test>' 10 ||
	e2e_fail "no NOQUEUE reject for 127.0.0.66 in the maillog"

# 2. the same client over STARTTLS: accepted and delivered.
e2e_send partner@partner-client.test b@partner.test --local-interface 127.0.0.66 --tls ||
	e2e_fail "forced client over STARTTLS: swaks exit $?"
grep -q '^<~ *250 2\.1\.5' "$E2E_SWAKS_LOG" || e2e_fail "forced client over STARTTLS: RCPT not 250 over TLS"

# 3. the may exception inside the range, clear text: accepted.
e2e_send legacy@partner-client.test c@partner.test --local-interface 127.0.0.70 ||
	e2e_fail "may exception 127.0.0.70 in clear: swaks exit $?"

# 4. a client outside every range, clear text: accepted.
e2e_send other@elsewhere.test d@partner.test --local-interface 127.0.0.99 ||
	e2e_fail "unlisted client 127.0.0.99 in clear: swaks exit $?"

e2e_wait_delivered $RX 3 30 || e2e_fail "the 3 accepted messages were not all delivered"
[ "$(e2e_rx_count $RX)" -eq 3 ] || e2e_fail "receiver has $(e2e_rx_count $RX) messages, expected 3"
grep -l 'a@partner\.test' "$(e2e_rx_dir $RX)"/*.meta >/dev/null 2>&1 &&
	e2e_fail "the refused message was delivered"
# Postfix's Received: header records the inbound session: TLS for b@, clear for c@ and d@.
grep -q '(using TLSv' "$(e2e_rx_file $RX b@partner.test)" ||
	e2e_fail "b@partner.test: the Received: header shows no TLS session from the client"
for r in c@partner.test d@partner.test; do
	grep -q '(using TLSv' "$(e2e_rx_file $RX $r)" && e2e_fail "$r: Received: shows TLS, expected clear text"
done
e2e_log_grep 'Anonymous TLS connection established from [^ ]*\[127\.0\.0\.66\]' >/dev/null ||
	e2e_fail "no TLS session from 127.0.0.66 in the maillog"
[ "$(e2e_log_count 'NOQUEUE: reject')" -eq 1 ] || e2e_fail "more than one NOQUEUE reject"
e2e_pass
