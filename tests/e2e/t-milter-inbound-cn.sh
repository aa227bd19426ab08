#!/bin/bash
# t-milter-inbound-cn.sh - inbound certificate names (issue 12) enforced by
# forcetls-milter in a real Postfix (t-milter-outbound.sh's milter_world), which asks for
# client certificates (smtpd_tls_ask_ccert, smtpd_tls_CAfile = the test CA) and gives the
# milter the verified certificate's CN as {cert_subject}. No policy service: the milter
# alone decides, at MAIL FROM, with the same core as forcetls-policyd (t-inbound-cn.sh).
#
# usage: t-milter-inbound-cn.sh TLSMAPS [EXAMPLES_DIR]
#
# The table's inbound lines (4-7; 2 and 3 are the world's outbound entries):
#   4 .bank.test    verify match=.bank.test direction=in       client mx1.bank.test (.90)
#   5 127.0.0.91    secure direction=in                        client mail.secure-a.test
#   6 partner.test  secure match=nexthop:dot-nexthop direction=in   sender domain; client
#                                                              relay.isp.test (.94)
#   7 127.0.0.93    secure direction=in                        client without a name
# Proves, by what swaks got at MAIL (250, or the milter's 450 4.7.0), what the recipient's
# MX got, and that nothing refused was queued:
#   - verify match=.bank.test: CN mx1.bank.test and *.bank.test pass; trusted CN
#     evil.test, and CN mx1.bank.test from another CA, get 450;
#   - secure without match=: CN mail.secure-a.test and *.secure-a.test pass for the client
#     mail.secure-a.test, trusted CN evil.test gets 450;
#   - secure match=nexthop:dot-nexthop by the sender domain: CN mx.partner.test passes,
#     CN relay.isp.test (the client's own name) gets 450;
#   - a client without a name (no PTR: Postfix gives the milter "[127.0.0.93]") on a
#     secure entry without match= gets 450 whatever its certificate;
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
	ccert_addrs 127.0.0.90 127.0.0.91 127.0.0.93 127.0.0.94
}
milter_world milter-inbound-cn \
	".bank.test                          verify match=.bank.test direction=in" \
	"127.0.0.91                          secure direction=in" \
	"partner.test                        secure match=nexthop:dot-nexthop direction=in" \
	"127.0.0.93                          secure direction=in"
T=$W/forced-tls.table
[ "$(sed -n 4p "$T")" = ".bank.test                          verify match=.bank.test direction=in" ] ||
	e2e_fail "the table's line 4 is not the .bank.test entry"
for p in 127.0.0.90:mx1.bank.test 127.0.0.91:mail.secure-a.test 127.0.0.94:relay.isp.test; do
	ccert_ptr "${p%%:*}" "${p#*:}" || e2e_fail "DNS: ${p%%:*} and ${p#*:} do not map to each other"
done

ccert_certs mx1:mx1.bank.test evil:evil.test wbank:'*.bank.test' maila:mail.secure-a.test \
	wa:'*.secure-a.test' partner:mx.partner.test isp:relay.isp.test
CCERT_TO=open-tls.test CCERT_STAGE=MAIL CCERT_LOG=$W/milter.log CCERT_TABLE=$T
ccert_mta_refused() {
	e2e_wait_log "milter-reject: MAIL from [^ ]*\[${1//./\\.}\]: 450 4\.7\.0 " 10 && ! e2e_queue_has "$2"
}

ccert_pass 127.0.0.90 a@elsewhere.test mx1 "verify match=.bank.test, CN mx1.bank.test"
ccert_refuse 127.0.0.90 b@elsewhere.test evil "verify match=.bank.test, trusted CN evil.test" .bank.test 4
ccert_pass 127.0.0.90 c@elsewhere.test wbank "verify match=.bank.test, CN *.bank.test"
ccert_refuse 127.0.0.90 d@elsewhere.test other "verify match=.bank.test, CN mx1.bank.test from another CA" .bank.test 4
ccert_pass 127.0.0.91 e@elsewhere.test maila "secure, client mail.secure-a.test, CN mail.secure-a.test"
ccert_pass 127.0.0.91 f@elsewhere.test wa "secure, client mail.secure-a.test, CN *.secure-a.test"
ccert_refuse 127.0.0.91 g@elsewhere.test evil "secure, client mail.secure-a.test, trusted CN evil.test" 127.0.0.91 5
ccert_pass 127.0.0.94 h@partner.test partner "secure match=nexthop:dot-nexthop, CN mx.partner.test"
ccert_refuse 127.0.0.94 i@partner.test isp "secure match=nexthop:dot-nexthop, CN relay.isp.test (the client's name)" partner.test 6
ccert_refuse 127.0.0.93 j@elsewhere.test maila "secure, client without a name, CN mail.secure-a.test" 127.0.0.93 7

ccert_outcome $MW_RX_TLS "^Received: .*Client CN \"@CN@\", Issuer \"forcetls e2e CA $E2E_NS\" \(verified OK\)"
[ "$(e2e_rx_count $MW_GW)" -eq 0 ] || e2e_fail "the gateway got mail"
[ "$(e2e_rx_count $MW_RX_PLAIN)" -eq 0 ] || e2e_fail "mx.plain.test got mail"
queue_empty() { [ "$(e2e_queue_count)" -eq 0 ]; }
e2e_wait_until 10 queue_empty || e2e_fail "the queue is not empty"
mw_finish
