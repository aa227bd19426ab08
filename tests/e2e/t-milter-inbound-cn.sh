#!/bin/bash
# t-milter-inbound-cn.sh - inbound certificate names (issue 12) enforced by
# forcetls-milter in a real Postfix (t-milter-outbound.sh's milter_world), which asks for
# client certificates (smtpd_tls_ask_ccert, smtpd_tls_CAfile = the test CA) and gives the
# milter the verified certificate's CN as {cert_subject}. No policy service: the milter
# alone decides, at MAIL FROM, with the same core as forcetls-policyd (t-inbound-cn.sh).
#
# usage: t-milter-inbound-cn.sh TLSMAPS [EXAMPLES_DIR]
#
# The table's inbound lines (4-6; 2 and 3 are the world's outbound entries):
#   4 .bank.test    verify match=.bank.test direction=in       client mx1.bank.test (.90)
#   5 127.0.0.91    secure direction=in                        client mail.secure-a.test
#   6 partner.test  secure match=nexthop:dot-nexthop direction=in   sender domain; client
#                                                              relay.isp.test (.94)
# Proves, by what swaks got at MAIL (250, or the milter's 450 4.7.0), what the recipient's
# MX got, and that nothing refused was queued:
#   - verify match=.bank.test: CN mx1.bank.test and *.bank.test pass; trusted CN
#     evil.test, and CN mx1.bank.test from another CA, get 450;
#   - secure without match=: CN mail.secure-a.test and *.secure-a.test pass for the client
#     mail.secure-a.test, trusted CN evil.test gets 450;
#   - secure match=nexthop:dot-nexthop by the sender domain: CN mx.partner.test passes,
#     CN relay.isp.test (the client's own name) gets 450;
#   - each refusal is logged by the milter with its entry's FILE:LINE.
set -u
MILTER_WORLD_ONLY=1 . "$(dirname "$0")/t-milter-outbound.sh"
. "$(dirname "$0")/lib-ccert.sh"
EXAMPLES=${2:-${FTLS_EXAMPLES:-}}
# Before the daemons and Postfix start: client certificates asked for and checked
# against the test CA, and the clients' names in DNS (A and PTR).
mw_world_hook() {
	MW_CF+=("smtpd_tls_ask_ccert = yes" "smtpd_tls_CAfile = $W/ca/ca.pem")
	ccert_dns_add --host-record=mx1.bank.test,127.0.0.90 \
		--host-record=mail.secure-a.test,127.0.0.91 --host-record=relay.isp.test,127.0.0.94
	ccert_addrs 127.0.0.90 127.0.0.91 127.0.0.94
}
milter_world milter-inbound-cn \
	".bank.test                          verify match=.bank.test direction=in" \
	"127.0.0.91                          secure direction=in" \
	"partner.test                        secure match=nexthop:dot-nexthop direction=in"
T=$W/forced-tls.table
[ "$(sed -n 4p "$T")" = ".bank.test                          verify match=.bank.test direction=in" ] ||
	e2e_fail "the table's line 4 is not the .bank.test entry"
for p in 127.0.0.90:mx1.bank.test 127.0.0.91:mail.secure-a.test 127.0.0.94:relay.isp.test; do
	ccert_ptr "${p%%:*}" "${p#*:}" || e2e_fail "DNS: ${p%%:*} and ${p#*:} do not map to each other"
done

declare -A C CN
for spec in mx1:mx1.bank.test evil:evil.test wbank:'*.bank.test' maila:mail.secure-a.test \
	wa:'*.secure-a.test' partner:mx.partner.test isp:relay.isp.test; do
	C[${spec%%:*}]=$(ccert_make "cn-${spec%%:*}" "/CN=${spec#*:}") ||
		e2e_fail "cannot make the certificate CN=${spec#*:}"
	CN[${spec%%:*}]=${spec#*:}
done
OTHER=$(ccert_ca other-ca) || e2e_fail "cannot make the other CA"
C[other]=$(ccert_make cn-other /CN=mx1.bank.test "$OTHER") || e2e_fail "cannot make the other CA's certificate"
CN[other]= # not verified: refused for that, whatever its name

N=0
ACCEPTED=()
REFUSED=()
# pass ADDR SENDER CERT WHY: accepted over TLS.
pass() {
	N=$((N + 1))
	local to
	to=$(printf 'r%02d@open-tls.test' $N)
	e2e_send "$2" "$to" --local-interface "$1" --tls --tls-cert "${C[$3]}.pem" --tls-key "${C[$3]}.key" ||
		e2e_fail "$4: swaks exit $?, expected 0 (accepted)"
	ccert_accepted_tls || e2e_fail "$4: RCPT or DATA not 250 over TLS"
	ACCEPTED+=("$to:$3")
}
# refuse ADDR SENDER CERT WHY ENTRY LINE: the milter refuses MAIL with 450 4.7.0 and logs
# the entry at LINE, for the reason ccert_reason gives.
refuse() {
	N=$((N + 1))
	local to rc
	to=$(printf 'r%02d@open-tls.test' $N)
	e2e_send "$2" "$to" --local-interface "$1" --tls --tls-cert "${C[$3]}.pem" --tls-key "${C[$3]}.key"
	rc=$?
	[ $rc -eq 23 ] || e2e_fail "$4: swaks exit $rc, expected 23 (MAIL refused)"
	ccert_mail_refused '450 4\.7\.0' || e2e_fail "$4: MAIL not refused 450 4.7.0"
	e2e_wait_until 5 mw_milter_said "reject: client=[^ ]*\[${1//./\\.}\] sender=<${2//./\\.}> $(ccert_reason "${CN[$3]}") .*entry=${5//./\\.} \($T:$6\)" ||
		e2e_fail "$4: milter.log has no reject naming $5 ($T:$6)"
	e2e_queue_has "$to" && e2e_fail "$4: the refused message to $to was queued"
	REFUSED+=("$to")
}

pass 127.0.0.90 a@elsewhere.test mx1 "verify match=.bank.test, CN mx1.bank.test"
refuse 127.0.0.90 b@elsewhere.test evil "verify match=.bank.test, trusted CN evil.test" .bank.test 4
pass 127.0.0.90 c@elsewhere.test wbank "verify match=.bank.test, CN *.bank.test"
refuse 127.0.0.90 d@elsewhere.test other "verify match=.bank.test, CN mx1.bank.test from another CA" .bank.test 4
pass 127.0.0.91 e@elsewhere.test maila "secure, client mail.secure-a.test, CN mail.secure-a.test"
pass 127.0.0.91 f@elsewhere.test wa "secure, client mail.secure-a.test, CN *.secure-a.test"
refuse 127.0.0.91 g@elsewhere.test evil "secure, client mail.secure-a.test, trusted CN evil.test" 127.0.0.91 5
pass 127.0.0.94 h@partner.test partner "secure match=nexthop:dot-nexthop, CN mx.partner.test"
refuse 127.0.0.94 i@partner.test isp "secure match=nexthop:dot-nexthop, CN relay.isp.test (the client's name)" partner.test 6

e2e_wait_delivered $MW_RX_TLS ${#ACCEPTED[@]} 30 || e2e_fail "not all ${#ACCEPTED[@]} accepted messages were delivered"
[ "$(e2e_rx_count $MW_RX_TLS)" -eq ${#ACCEPTED[@]} ] ||
	e2e_fail "mx.tls.test has $(e2e_rx_count $MW_RX_TLS) messages, expected ${#ACCEPTED[@]}"
for a in "${ACCEPTED[@]}"; do
	to=${a%%:*} cn=${CN[${a#*:}]}
	f=$(mw_rx_one $MW_RX_TLS "$to") || e2e_fail "mx.tls.test: not one message for $to"
	grep -qF "Client CN \"$cn\", Issuer \"forcetls e2e CA $E2E_NS\" (verified OK)" "$f" ||
		e2e_fail "$to: the Received: header shows no verified client certificate CN $cn"
done
for to in "${REFUSED[@]}"; do
	[ -z "$(e2e_rx_file $MW_RX_TLS "$to")" ] || e2e_fail "the refused message to $to was delivered"
done
n=$(grep -c 'reject: client=' "$W/milter.log")
[ "$n" -eq ${#REFUSED[@]} ] || e2e_fail "milter.log: expected ${#REFUSED[@]} reject lines, have $n"
[ "$(e2e_rx_count $MW_GW)" -eq 0 ] || e2e_fail "the gateway got mail"
[ "$(e2e_rx_count $MW_RX_PLAIN)" -eq 0 ] || e2e_fail "mx.plain.test got mail"
queue_empty() { [ "$(e2e_queue_count)" -eq 0 ]; }
e2e_wait_until 10 queue_empty || e2e_fail "the queue is not empty"
mw_finish
