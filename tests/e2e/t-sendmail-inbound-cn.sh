#!/bin/bash
# t-sendmail-inbound-cn.sh - inbound certificate names (issue 12) enforced by
# forcetls-milter in a real Sendmail 8.17 (lib-sendmail.sh's world, built from
# examples/sendmail/forcetls.mc). Sendmail asks every STARTTLS client for a certificate,
# verifies it against confCACERT (the test CA), sets {verify} and gives the milter the
# whole subject DN as {cert_subject} ("/O=.../CN=..."); the milter takes the CN out of it.
#
# usage: t-sendmail-inbound-cn.sh TLSMAPS [EXAMPLES_DIR]
#
# The table's inbound lines (4-5; 2 and 3 are the world's outbound entries):
#   4 .bank.test    verify match=.bank.test direction=in   client mx1.bank.test (.90)
#   5 127.0.0.91    secure direction=in                    client mail.secure-a.test
# Proves, by what swaks got at MAIL (250, or the milter's 450 4.7.0), what the recipient's
# MX got, and that nothing refused was queued:
#   - verify match=.bank.test: CN mx1.bank.test (subject "/O=Bank/CN=mx1.bank.test")
#     and CN *.bank.test pass; trusted CN evil.test, CN mx1.bank.test from another CA
#     ({verify} FAIL), and a trusted certificate whose O= holds "/CN=mx1.bank.test"
#     while its CN is evil.test (Sendmail 8.17: "/O=Evil\/CN=mx1.bank.test/CN=evil.test")
#     get 450;
#   - a trusted certificate with a slash in O= ("Foo/Bar Inc") and CN mx1.bank.test
#     passes: Sendmail 8.17 writes such a slash "\/" (xtext "+5C/"), and the CN is the
#     real one, not text inside another attribute;
#   - secure without match=: CN mail.secure-a.test passes for the client
#     mail.secure-a.test, trusted CN evil.test and the O= trick get 450;
#   - Sendmail logs each of the milter's refusals; the accepted messages arrive with
#     Sendmail's "verify=OK" Received: header.
set -u
. "$(dirname "$0")/lib-sendmail.sh"
. "$(dirname "$0")/lib-ccert.sh"
FTLS_TLSMAPS=${FTLS_TLSMAPS:-$1}
EXAMPLES=${2:-${FTLS_EXAMPLES:-}}
SM_DNS_EXTRA=(--host-record=mx1.bank.test,127.0.0.90 --host-record=mail.secure-a.test,127.0.0.91)
sm_world sendmail-inbound-cn \
	".bank.test                          verify match=.bank.test direction=in" \
	"127.0.0.91                          secure direction=in"
T=$W/forced-tls.table
ccert_addrs 127.0.0.90 127.0.0.91
for p in 127.0.0.90:mx1.bank.test 127.0.0.91:mail.secure-a.test; do
	ccert_ptr "${p%%:*}" "${p#*:}" || e2e_fail "DNS: ${p%%:*} and ${p#*:} do not map to each other"
done

ccert_certs evil:evil.test wbank:'*.bank.test' maila:mail.secure-a.test
C[mx1]=$(ccert_make cn-mx1 /O=Bank/CN=mx1.bank.test) || e2e_fail "cannot make /O=Bank/CN=mx1.bank.test"
CN[mx1]=mx1.bank.test
# A certificate whose organisation's name holds "/CN=<the right name>", its CN wrong.
for k in trick:mx1.bank.test trickA:mail.secure-a.test; do
	C[${k%%:*}]=$(ccert_make "cn-${k%%:*}" "/O=Evil\\/CN=${k#*:}/CN=evil.test") ||
		e2e_fail "cannot make the certificate with O=Evil/CN=${k#*:}"
	CN[${k%%:*}]=evil.test
	timeout 10 openssl x509 -in "${C[${k%%:*}]}.pem" -noout -subject |
		grep -qxF "subject=O = Evil/CN=${k#*:}, CN = evil.test" ||
		e2e_fail "${k%%:*}: the subject is not O=\"Evil/CN=${k#*:}\", CN=evil.test"
done
# A slash in an attribute, but a right CN: the real name counts, not what O= says.
C[slash]=$(ccert_make cn-slash "/O=Foo\\/Bar Inc/CN=mx1.bank.test") || e2e_fail "cannot make O=Foo/Bar Inc"
CN[slash]=mx1.bank.test
# Sendmail 8.17 writes these DNs "/O=Evil\/CN=NAME/CN=evil.test" (xtext +5C): the milter
# may read the CN as evil.test or refuse the DN as having two CNs; a refusal either way.
TRICK_RE='reason=[^=]*CN'
CCERT_TO=open-tls.test CCERT_STAGE=MAIL CCERT_LOG=$W/milter.log CCERT_TABLE=$T
ccert_mta_refused() {
	sm_wait_log_count "milter=forcetls, action=mail, reject=450 4\.7\.0" $((${#REFUSED[@]} + 1)) 10 &&
		! sm_queue_has "$2"
}

ccert_pass 127.0.0.90 a@partner.e2e.test mx1 "verify match=.bank.test, /O=Bank/CN=mx1.bank.test"
ccert_refuse 127.0.0.90 b@partner.e2e.test evil "verify match=.bank.test, trusted CN evil.test" .bank.test 4
ccert_pass 127.0.0.90 c@partner.e2e.test wbank "verify match=.bank.test, CN *.bank.test"
ccert_refuse 127.0.0.90 d@partner.e2e.test other "verify match=.bank.test, CN mx1.bank.test from another CA" .bank.test 4
ccert_refuse 127.0.0.90 e@partner.e2e.test trick "verify match=.bank.test, O=Evil/CN=mx1.bank.test, CN evil.test" .bank.test 4 "$TRICK_RE"
ccert_pass 127.0.0.90 i@partner.e2e.test slash "verify match=.bank.test, O=Foo/Bar Inc, CN mx1.bank.test"
ccert_pass 127.0.0.91 f@partner.e2e.test maila "secure, client mail.secure-a.test, CN mail.secure-a.test"
ccert_refuse 127.0.0.91 g@partner.e2e.test evil "secure, client mail.secure-a.test, trusted CN evil.test" 127.0.0.91 5
ccert_refuse 127.0.0.91 h@partner.e2e.test trickA "secure, client mail.secure-a.test, O=Evil/CN=mail.secure-a.test, CN evil.test" 127.0.0.91 5 "$TRICK_RE"

ccert_outcome $MW_RX_TLS '^Received: from [^ ]+ \([^)]*\[127\.0\.0\.9[01]\]\)[[:space:]]+by mta\.e2e\.test .* with ESMTPS id [^ ]+[[:space:]]+\(version=TLSv1\.[23] cipher=[^ ]+ bits=[0-9]+ verify=OK\)'
[ "$(e2e_rx_count $MW_GW)" -eq 0 ] || e2e_fail "the gateway got mail"
[ "$(e2e_rx_count $MW_RX_PLAIN)" -eq 0 ] || e2e_fail "mx.plain.test got mail"
[ "$(sm_queue_count)" -eq 0 ] || e2e_fail "Sendmail's queue is not empty"
sm_finish
