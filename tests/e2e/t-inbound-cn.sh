#!/bin/bash
# t-inbound-cn.sh - inbound certificate names (issue 12, Clearswift's "CN must match"):
# forcetls-policyd as check_policy_service of a real Postfix that asks for client
# certificates (smtpd_tls_ask_ccert, smtpd_tls_CAfile = the test CA). The clients are
# swaks over STARTTLS with real certificates, from addresses whose names dnsmasq gives
# as PTR and A records (so Postfix's client_name is forward-confirmed).
#
# usage: t-inbound-cn.sh TLSMAPS [EXAMPLES_DIR]   (FTLS_POLICYD: the daemon)
#
# The table (line numbers as the daemon logs them):
#   2 .bank.test    verify match=.bank.test direction=in       client mx1.bank.test (.90)
#   3 127.0.0.91    secure direction=in                        client mail.secure-a.test
#   4 127.0.0.92    secure direction=in                        client in.mx.secure-a.test
#   5 127.0.0.93    secure direction=in                        client without a name
#   6 partner.test  secure match=nexthop:dot-nexthop direction=in   sender domain; client
#                                                              relay.isp.test (.94)
#   7 127.0.0.95    verify direction=in                        client relay2.isp.test
#   8 127.0.0.96    secure direction=in                        client secure-a.test
#   9 127.0.0.97    verify match=gw.partner2.test:.relay.test direction=in
#  10 127.0.0.98    secure match=nexthop direction=in          client relay3.isp.test
# Proves, by what swaks got at RCPT (250, or 450 4.7.0), what the receiver behind
# Postfix got, and that nothing refused was queued:
#   - verify match=.bank.test: CN mx1.bank.test and CN *.bank.test pass; CN evil.test
#     (trusted) and CN mx1.bank.test from another CA get 450;
#   - secure without match= checks the client name: CN mail.secure-a.test (also in
#     other case) and *.secure-a.test pass for mail.secure-a.test; for in.mx.secure-a.test
#     *.secure-a.test passes (a wildcard covers several labels, Postfix's default) and the
#     sibling mail.secure-a.test gets 450; CN evil.test, and mail*.secure-a.test (Postfix
#     knows only a leading "*."), get 450; for the client secure-a.test, CN secure-a.test
#     passes and *.secure-a.test gets 450; a client without a name gets 450 whatever its
#     certificate;
#   - secure match=nexthop:dot-nexthop found by the sender domain: CN partner.test and
#     mx.partner.test pass; CN relay.isp.test (the client's own name, not listed) and
#     evil.test get 450;
#   - verify without match=: any trusted certificate passes (CN evil.test);
#   - verify match=gw.partner2.test:.relay.test: CN gw.partner2.test and a.relay.test
#     pass, sub.gw.partner2.test and relay.test get 450;
#   - match=nexthop on an entry found by the address names nothing: CN relay3.isp.test,
#     the client's own name, gets 450;
#   - every refusal is logged by Postfix (NOQUEUE) and by the daemon with its entry's
#     FILE:LINE; every accepted message is delivered with Postfix's "Client CN ...
#     (verified OK)" Received: header; the queue ends empty.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-policyd.sh"
. "$(dirname "$0")/lib-ccert.sh"
TLSMAPS=${1:?usage: t-inbound-cn.sh TLSMAPS [EXAMPLES_DIR]}
EXAMPLES=${2:-${FTLS_EXAMPLES:-$E2E_LIB_DIR/../../examples}}
POLICYD=${FTLS_POLICYD:-$(dirname "$TLSMAPS")/../../policyd/forcetls-policyd}
[ -x "$POLICYD" ] || e2e_skip "forcetls-policyd not built ($POLICYD)"

e2e_setup inbound-cn
W=$E2E_WORK
T=$W/forced-tls.table
RX=127.0.0.3:25

cat >"$T" <<'EOF'
# forced-TLS table of t-inbound-cn.sh: inbound entries whose certificate names must match
.bank.test                          verify match=.bank.test direction=in
127.0.0.91                          secure direction=in
127.0.0.92                          secure direction=in
127.0.0.93                          secure direction=in
partner.test                        secure match=nexthop:dot-nexthop direction=in
127.0.0.95                          verify direction=in
127.0.0.96                          secure direction=in
127.0.0.97                          verify match=gw.partner2.test:.relay.test direction=in
127.0.0.98                          secure match=nexthop direction=in
EOF
"$TLSMAPS" check "$T" >"$W/check.out" 2>&1 || e2e_fail "tlsmaps check: $(cat "$W/check.out")"

# The client certificates: from the test CA (Postfix trusts it), and C[other].
ccert_certs mx1:mx1.bank.test evil:evil.test wbank:'*.bank.test' maila:mail.secure-a.test \
	mailA:MAIL.Secure-A.test wa:'*.secure-a.test' partner:mx.partner.test \
	apex:partner.test isp:relay.isp.test aapex:secure-a.test partial:'mail*.secure-a.test' \
	gw:gw.partner2.test subgw:sub.gw.partner2.test arelay:a.relay.test relay:relay.test \
	isp3:relay3.isp.test

e2e_dns --mx-host=dest.test,mx.dest.test,10 --host-record=mx.dest.test,127.0.0.3 \
	--host-record=mx1.bank.test,127.0.0.90 --host-record=mail.secure-a.test,127.0.0.91 \
	--host-record=in.mx.secure-a.test,127.0.0.92 --host-record=relay.isp.test,127.0.0.94 \
	--host-record=relay2.isp.test,127.0.0.95 --host-record=secure-a.test,127.0.0.96 \
	--host-record=relay3.isp.test,127.0.0.98
ccert_addrs 127.0.0.90 127.0.0.91 127.0.0.92 127.0.0.93 127.0.0.94 127.0.0.95 127.0.0.96 \
	127.0.0.97 127.0.0.98
for p in 127.0.0.90:mx1.bank.test 127.0.0.91:mail.secure-a.test \
	127.0.0.92:in.mx.secure-a.test 127.0.0.94:relay.isp.test 127.0.0.96:secure-a.test 127.0.0.98:relay3.isp.test; do
	ccert_ptr "${p%%:*}" "${p#*:}" || e2e_fail "DNS: ${p%%:*} and ${p#*:} do not map to each other"
done
e2e_receiver 127.0.0.3 25 --starttls --name mx.dest.test
ccert_postfix_policyd "$POLICYD" "$EXAMPLES/postfix/main.cf.policyd" "$T"

CCERT_TO=dest.test CCERT_STAGE=RCPT CCERT_LOG=$W/policyd.log CCERT_TABLE=$T
ccert_mta_refused() {
	e2e_wait_log "NOQUEUE: reject: RCPT from [^ ]*\[${1//./\\.}\]: 450 4\.7\.0 .*to=<$2>" 10 &&
		! e2e_queue_has "$2"
}

# 1. verify match=.bank.test, found by the client name mx1.bank.test.
ccert_pass 127.0.0.90 a@elsewhere.test mx1 "verify match=.bank.test, CN mx1.bank.test"
ccert_refuse 127.0.0.90 b@elsewhere.test evil "verify match=.bank.test, trusted CN evil.test" .bank.test 2
ccert_pass 127.0.0.90 c@elsewhere.test wbank "verify match=.bank.test, CN *.bank.test"
ccert_refuse 127.0.0.90 d@elsewhere.test other "verify match=.bank.test, CN mx1.bank.test from another CA" .bank.test 2
ccert_trusted_session 127.0.0.90 || e2e_fail "the maillog shows no trusted TLS session from 127.0.0.90"

# 2. secure without match=: the client name as Postfix reports it.
ccert_pass 127.0.0.91 e@elsewhere.test maila "secure, client mail.secure-a.test, CN mail.secure-a.test"
ccert_pass 127.0.0.91 f@elsewhere.test mailA "secure, client mail.secure-a.test, CN MAIL.Secure-A.test"
ccert_pass 127.0.0.91 g@elsewhere.test wa "secure, client mail.secure-a.test, CN *.secure-a.test"
ccert_refuse 127.0.0.91 h@elsewhere.test evil "secure, client mail.secure-a.test, trusted CN evil.test" 127.0.0.91 3
ccert_refuse 127.0.0.91 h2@elsewhere.test partial "secure, client mail.secure-a.test, CN mail*.secure-a.test" 127.0.0.91 3
ccert_pass 127.0.0.92 i@elsewhere.test wa "secure, client in.mx.secure-a.test, CN *.secure-a.test"
ccert_refuse 127.0.0.92 j@elsewhere.test maila "secure, client in.mx.secure-a.test, CN mail.secure-a.test" 127.0.0.92 4
ccert_refuse 127.0.0.93 k@elsewhere.test maila "secure, client without a name, CN mail.secure-a.test" 127.0.0.93 5
ccert_pass 127.0.0.96 k2@elsewhere.test aapex "secure, client secure-a.test, CN secure-a.test"
ccert_refuse 127.0.0.96 k3@elsewhere.test wa "secure, client secure-a.test, CN *.secure-a.test" 127.0.0.96 8

# 3. secure match=nexthop:dot-nexthop, found by the sender domain partner.test.
ccert_pass 127.0.0.94 l@partner.test partner "secure match=nexthop:dot-nexthop, CN mx.partner.test"
ccert_pass 127.0.0.94 m@partner.test apex "secure match=nexthop:dot-nexthop, CN partner.test"
ccert_refuse 127.0.0.94 n@partner.test isp "secure match=nexthop:dot-nexthop, CN relay.isp.test (the client's name)" partner.test 6
ccert_refuse 127.0.0.94 o@partner.test evil "secure match=nexthop:dot-nexthop, trusted CN evil.test" partner.test 6

# 4. verify without match=: any trusted certificate.
ccert_pass 127.0.0.95 p@elsewhere.test evil "verify without match=, trusted CN evil.test"

# 5. verify with names of its own: a domain exactly, .domain its subdomains only.
ccert_pass 127.0.0.97 q@elsewhere.test gw "verify match=gw.partner2.test:.relay.test, CN gw.partner2.test"
ccert_refuse 127.0.0.97 r@elsewhere.test subgw "verify match=gw.partner2.test:.relay.test, CN sub.gw.partner2.test" 127.0.0.97 9
ccert_pass 127.0.0.97 s@elsewhere.test arelay "verify match=gw.partner2.test:.relay.test, CN a.relay.test"
ccert_refuse 127.0.0.97 t@elsewhere.test relay "verify match=gw.partner2.test:.relay.test, CN relay.test" 127.0.0.97 9

# 6. nexthop on an entry found by the client address: no name found it, so nothing
# matches, not even the client's own name.
ccert_refuse 127.0.0.98 u@elsewhere.test isp3 "secure match=nexthop by address, CN relay3.isp.test (the client's name)" 127.0.0.98 10

# What Postfix delivered: every accepted message, over TLS, with the client's CN verified
# in its Received: header, and none of the refused ones.
ccert_outcome $RX "^Received: .*Client CN \"@CN@\", Issuer \"forcetls e2e CA $E2E_NS\" \(verified OK\)"
n=$(e2e_log_count 'NOQUEUE: reject: RCPT')
[ "$n" -eq ${#REFUSED[@]} ] || e2e_fail "expected ${#REFUSED[@]} NOQUEUE rejects, have $n"
queue_empty() { [ "$(e2e_queue_count)" -eq 0 ]; }
e2e_wait_until 10 queue_empty || e2e_fail "the queue is not empty"
policyd_stop
e2e_pass
