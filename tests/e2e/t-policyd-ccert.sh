#!/bin/bash
# t-policyd-ccert.sh - the inbound levels that need a client certificate, enforced by
# forcetls-policyd as check_policy_service of a real Postfix (policy delegation), wired
# with the lines examples/postfix/main.cf.policyd ships, including its commented
# smtpd_tls_ask_ccert and smtpd_tls_CAfile lines (the CA file: the test CA). The clients
# are swaks over STARTTLS, bound to the listed addresses, with and without certificates.
#
# usage: t-policyd-ccert.sh TLSMAPS [EXAMPLES_DIR]   (FTLS_POLICYD: the daemon)
#
# Proves, by the replies swaks got, the trust Postfix logged for each session, and what
# Postfix queued and delivered:
#   - `127.0.0.80 verify direction=in`: no client certificate: 450 4.7.0 at RCPT, nothing
#     queued; a certificate from the CA Postfix trusts: 250 and delivered; a self-signed
#     certificate (Postfix sends no ccert_subject for it): 450;
#   - `127.0.0.81 fingerprint match=FP direction=in`, FP the sha256 digest of a
#     self-signed certificate as Postfix 3.7 sends ccert_fingerprint (compatibility_level
#     3.6: AA:BB:...:FF): that certificate gets 250 and is delivered although untrusted;
#     a certificate from the trusted CA, and no certificate, get 450;
#   - every refusal is logged by the daemon with its reason and the entry's FILE:LINE.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-policyd.sh"
. "$(dirname "$0")/lib-ccert.sh"
TLSMAPS=${1:?usage: t-policyd-ccert.sh TLSMAPS [EXAMPLES_DIR]}
EXAMPLES=${2:-${FTLS_EXAMPLES:-$E2E_LIB_DIR/../../examples}}
POLICYD=${FTLS_POLICYD:-$(dirname "$TLSMAPS")/../../policyd/forcetls-policyd}
[ -x "$POLICYD" ] || e2e_skip "forcetls-policyd not built ($POLICYD)"

e2e_setup policyd-ccert
W=$E2E_WORK
MAIN_CF=$EXAMPLES/postfix/main.cf.policyd

# rcpt_refused CODE_ERE: the last swaks run got CODE_ERE as the reply to RCPT TO, inside
# the TLS session (swaks marks TLS lines with ~, error replies with *).
rcpt_refused() {
	grep -A1 -E '^ *~> RCPT TO' "$E2E_SWAKS_LOG" | grep -Eq "^<~\* +$1 "
}
# rcpt_accepted_tls: the last swaks run got 250 to RCPT TO inside the TLS session.
rcpt_accepted_tls() {
	grep -A1 -E '^ *~> RCPT TO' "$E2E_SWAKS_LOG" | grep -Eq '^<~ +250 2\.1\.5 '
}
# tls_sessions KIND ADDR N: the maillog shows exactly N STARTTLS sessions from ADDR in
# which Postfix judged the client certificate KIND: Trusted (verified with
# smtpd_tls_CAfile), Untrusted (presented, not verified), Anonymous (none presented).
tls_sessions() {
	[ "$(e2e_log_count "$1 TLS connection established from [^ ]*\[${2//./\\.}\]")" -eq "$3" ]
}
queue_empty() { [ "$(e2e_queue_count)" -eq 0 ]; }

# The certificates: one from the test CA (lib.sh), one self-signed, made here.
CA_CERT=$(e2e_cert client client.partner.test "") || e2e_fail "cannot make the CA-signed client certificate"
SELF=$W/self-signed
timeout 20 openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$SELF.key" -out "$SELF.pem" -days 2 -subj "/CN=self.partner.test" \
	-addext basicConstraints=critical,CA:FALSE -addext extendedKeyUsage=clientAuth \
	>"$W/openssl-self.log" 2>&1 || e2e_fail "cannot make the self-signed certificate: $(cat "$W/openssl-self.log")"
timeout 20 openssl verify -CAfile "$W/ca/ca.pem" "$SELF.pem" >/dev/null 2>&1 &&
	e2e_fail "the self-signed certificate verifies against the test CA"
timeout 20 openssl verify -CAfile "$W/ca/ca.pem" "$CA_CERT.pem" >/dev/null 2>&1 ||
	e2e_fail "the CA-signed client certificate does not verify against the test CA"
# ccert_fingerprint as Postfix sends it: the digest of the DER certificate with
# smtpd_tls_fingerprint_digest (sha256, checked below), colon-separated uppercase hex.
FP=$(timeout 20 openssl x509 -in "$SELF.pem" -noout -fingerprint -sha256) || e2e_fail "openssl x509 -fingerprint failed"
FP=${FP#*=}
[[ $FP =~ ^([0-9A-F]{2}:){31}[0-9A-F]{2}$ ]] || e2e_fail "unexpected sha256 fingerprint format: $FP"
CA_FP=$(timeout 20 openssl x509 -in "$CA_CERT.pem" -noout -fingerprint -sha256)
[ "${CA_FP#*=}" != "$FP" ] || e2e_fail "both client certificates have the same fingerprint"
e2e_log "self-signed client certificate sha256 $FP"

cat >"$W/forced-tls.table" <<EOF
# forced-TLS table of t-policyd-ccert.sh: two partner hosts that must show a certificate
127.0.0.80                          verify direction=in
127.0.0.81                          fingerprint match=$FP direction=in
EOF
chmod 644 "$SELF.pem"
T=$W/forced-tls.table
"$TLSMAPS" check "$T" >"$W/check.out" 2>&1 || e2e_fail "tlsmaps check: $(cat "$W/check.out")"

e2e_dns --mx-host=partner.test,mx.partner.test,10 --host-record=mx.partner.test,127.0.0.3
RX=127.0.0.3:25
e2e_receiver 127.0.0.3 25 --starttls --name mx.partner.test

# main.cf: the example's lines, plus its commented client-certificate lines, uncommented.
ccert_postfix_policyd "$POLICYD" "$MAIN_CF" "$T"
digest=$(timeout 10 postconf -c "$E2E_PF_CONF" -xh smtpd_tls_fingerprint_digest)
[ "$digest" = sha256 ] || e2e_fail "smtpd_tls_fingerprint_digest is '$digest', the test computes sha256"

# 1. verify, STARTTLS without a certificate: 450 at RCPT, nothing queued.
e2e_send nocert@elsewhere.test a@partner.test --local-interface 127.0.0.80 --tls
rc=$?
[ $rc -eq 24 ] || e2e_fail "verify, no certificate: swaks exit $rc, expected 24 (RCPT refused)"
rcpt_refused '450 4\.7\.0' || e2e_fail "verify, no certificate: RCPT not refused 450 4.7.0"
e2e_wait_until 10 tls_sessions Anonymous 127.0.0.80 1 ||
	e2e_fail "verify, no certificate: the maillog shows no anonymous TLS session from 127.0.0.80"
e2e_wait_log 'NOQUEUE: reject: RCPT from [^ ]*\[127\.0\.0\.80\]: 450 4\.7\.0 .*to=<a@partner\.test>' 10 ||
	e2e_fail "verify, no certificate: no NOQUEUE reject in the maillog"
policyd_wait_log "NOQUEUE: reject: client=[^ ]*\[127\.0\.0\.80\] sender=<nocert@elsewhere\.test> reason=no verified client certificate level=verify entry=127\.0\.0\.80 \($T:2\)" 5 ||
	e2e_fail "policyd.log: no reject of nocert@ naming 127.0.0.80 ($T:2)"
queue_empty || e2e_fail "verify, no certificate: a message was queued"

# 2. verify, a certificate from the trusted CA: 250.
e2e_send trusted@elsewhere.test b@partner.test --local-interface 127.0.0.80 --tls \
	--tls-cert "$CA_CERT.pem" --tls-key "$CA_CERT.key" ||
	e2e_fail "verify, CA-signed certificate: swaks exit $?"
rcpt_accepted_tls || e2e_fail "verify, CA-signed certificate: RCPT not 250 over TLS"
e2e_wait_until 10 tls_sessions Trusted 127.0.0.80 1 ||
	e2e_fail "verify, CA-signed certificate: the maillog shows no trusted TLS session from 127.0.0.80"

# 3. verify, a self-signed certificate: Postfix does not trust it, 450.
e2e_send selfsigned@elsewhere.test c@partner.test --local-interface 127.0.0.80 --tls \
	--tls-cert "$SELF.pem" --tls-key "$SELF.key"
rc=$?
[ $rc -eq 24 ] && rcpt_refused '450 4\.7\.0' ||
	e2e_fail "verify, self-signed certificate: swaks exit $rc, not 450 4.7.0 at RCPT"
e2e_wait_until 10 tls_sessions Untrusted 127.0.0.80 1 ||
	e2e_fail "verify, self-signed certificate: the maillog shows no untrusted TLS session from 127.0.0.80"
policyd_wait_log "NOQUEUE: reject: client=[^ ]*\[127\.0\.0\.80\] sender=<selfsigned@elsewhere\.test> reason=no verified client certificate level=verify entry=127\.0\.0\.80 \($T:2\)" 5 ||
	e2e_fail "policyd.log: no reject of selfsigned@ naming 127.0.0.80 ($T:2)"

# 4. fingerprint, the listed (self-signed, untrusted) certificate: 250.
e2e_send listed@elsewhere.test d@partner.test --local-interface 127.0.0.81 --tls \
	--tls-cert "$SELF.pem" --tls-key "$SELF.key" ||
	e2e_fail "fingerprint, listed certificate: swaks exit $?"
rcpt_accepted_tls || e2e_fail "fingerprint, listed certificate: RCPT not 250 over TLS"
e2e_wait_until 10 tls_sessions Untrusted 127.0.0.81 1 ||
	e2e_fail "fingerprint, listed certificate: the maillog shows no untrusted TLS session from 127.0.0.81"

# 5. fingerprint, another certificate, although trusted by the CA: 450.
e2e_send other@elsewhere.test e@partner.test --local-interface 127.0.0.81 --tls \
	--tls-cert "$CA_CERT.pem" --tls-key "$CA_CERT.key"
rc=$?
[ $rc -eq 24 ] && rcpt_refused '450 4\.7\.0' ||
	e2e_fail "fingerprint, unlisted CA-signed certificate: swaks exit $rc, not 450 4.7.0 at RCPT"
e2e_wait_until 10 tls_sessions Trusted 127.0.0.81 1 ||
	e2e_fail "fingerprint, unlisted certificate: the maillog shows no trusted TLS session from 127.0.0.81"
policyd_wait_log "NOQUEUE: reject: client=[^ ]*\[127\.0\.0\.81\] sender=<other@elsewhere\.test> reason=client certificate fingerprint not listed level=fingerprint entry=127\.0\.0\.81 \($T:3\)" 5 ||
	e2e_fail "policyd.log: no reject of other@ naming 127.0.0.81 ($T:3)"

# 6. fingerprint, STARTTLS without a certificate: 450.
e2e_send nocert@elsewhere.test f@partner.test --local-interface 127.0.0.81 --tls
rc=$?
[ $rc -eq 24 ] && rcpt_refused '450 4\.7\.0' ||
	e2e_fail "fingerprint, no certificate: swaks exit $rc, not 450 4.7.0 at RCPT"
e2e_wait_until 10 tls_sessions Anonymous 127.0.0.81 1 ||
	e2e_fail "fingerprint, no certificate: the maillog shows no anonymous TLS session from 127.0.0.81"
policyd_wait_log "NOQUEUE: reject: client=[^ ]*\[127\.0\.0\.81\] sender=<nocert@elsewhere\.test> reason=fingerprint: no client certificate level=fingerprint entry=127\.0\.0\.81 \($T:3\)" 5 ||
	e2e_fail "policyd.log: no reject of nocert@ naming 127.0.0.81 ($T:3)"

# What was delivered, refused and logged.
e2e_wait_delivered $RX 2 30 || e2e_fail "the 2 accepted messages were not both delivered"
[ "$(e2e_rx_count $RX)" -eq 2 ] || e2e_fail "receiver has $(e2e_rx_count $RX) messages, expected 2"
for r in a@partner.test c@partner.test e@partner.test f@partner.test; do
	[ -z "$(e2e_rx_file $RX $r)" ] || e2e_fail "the refused message to $r was delivered"
done
# Postfix's Received: header records the client certificate and whether it verified.
f=$(e2e_rx_file $RX b@partner.test)
[ -n "$f" ] || e2e_fail "the message to b@partner.test (CA-signed certificate) was not delivered"
grep -q 'Client CN "client\.partner\.test", Issuer ".*" (verified OK)' "$f" ||
	e2e_fail "b@partner.test: the Received: header shows no verified client certificate"
f=$(e2e_rx_file $RX d@partner.test)
[ -n "$f" ] || e2e_fail "the message to d@partner.test (listed fingerprint) was not delivered"
grep -q 'Client CN "self\.partner\.test", Issuer "self\.partner\.test" (not verified)' "$f" ||
	e2e_fail "d@partner.test: the Received: header shows no unverified self-signed client certificate"
for a in 127.0.0.80 127.0.0.81; do
	for k in Anonymous Trusted Untrusted; do
		tls_sessions $k $a 1 || e2e_fail "expected exactly one $k TLS session from $a, have $(e2e_log_count "$k TLS connection established from [^ ]*\[${a//./\\.}\]")"
	done
done
[ "$(e2e_log_count 'NOQUEUE: reject')" -eq 4 ] || e2e_fail "expected 4 NOQUEUE rejects, have $(e2e_log_count 'NOQUEUE: reject')"
n=$(grep -Ec "reject: .* entry=127\.0\.0\.8[01] \($T:[23]\)" "$W/policyd.log")
[ "$n" -eq 4 ] || e2e_fail "policyd.log: expected 4 reject lines naming $T:2 or :3, have $n"
e2e_wait_until 10 queue_empty || e2e_fail "queue not empty"
policyd_stop
e2e_pass
