#!/bin/bash
# t-sendmail-milter-down.sh - a real Sendmail 8.17 daemon built from examples/sendmail/
# forcetls.mc, while forcetls-milter is down: F=T makes Sendmail tempfail, and nothing
# is lost: a queueing client (Sendmail's own MSP, as Debian's /usr/sbin/sendmail) keeps
# the message and delivers it, through the milter, once the milter is back.
#
# usage: t-sendmail-milter-down.sh TLSMAPS [EXAMPLES_DIR]
#
# Proves (lib-sendmail.sh's world):
#   - with the milter stopped, an SMTP client gets 4xx (nothing is accepted, nothing is
#     queued by the daemon, no MX gets anything); a message with spoofed
#     X-Encrypt-Status: success and TLS-Required: no is not passed untouched;
#   - a message submitted through the MSP at that time stays in the MSP's queue;
#   - after the milter is started again, the MSP's queue run delivers it, over TLS to the
#     forced domain, with the milter's "X-TLSLevel: Require" first and the spoofed
#     headers gone; the MSP's queue is empty.
set -u
. "$(dirname "$0")/lib-sendmail.sh"
FTLS_TLSMAPS=${FTLS_TLSMAPS:-$1}
EXAMPLES=${2:-${FTLS_EXAMPLES:-}}
sm_world sendmail-milter-down
sm_msp

e2e_stop milter || e2e_fail "forcetls-milter did not stop"
e2e_wait_until 5 e2e__not_listening -t "$SM_MILTER" || e2e_fail "the milter's port is still open"

# 1. SMTP straight to the daemon: 4xx.
mw_send_internal alice@corp.e2e.test down@forced-plain.test \
	--add-header "X-Encrypt-Status: success" --add-header "TLS-Required: no"
rc=$?
[ $rc != 0 ] || e2e_fail "the daemon accepted a message while the milter was down"
e2e_swaks_reply '^4[0-9][0-9] ' || e2e_fail "no 4xx reply while the milter was down (swaks exit $rc)"
e2e_swaks_reply '^250 .*Message accepted' && e2e_fail "the message was accepted"
sm_wait_log 'Milter \(forcetls\): .*(error connecting to filter|to error state)' 10 ||
	e2e_fail "maillog: Sendmail did not log the milter as unreachable"

# 2. Through the MSP: kept in its queue.
sm_msp_send bob@corp.e2e.test kept@forced-tls.test "kept while the milter is down" \
	"X-Encrypt-Status: success" "TLS-Required: no" ||
	e2e_fail "the MSP refused the message: $(cat "$SM/msp-$E2E_SENT.log")"
sm_msp_queue_has kept@forced-tls.test || e2e_fail "the MSP did not keep the message in its queue"
SM_Q_CF=$SM_MSP_CF sm_queue | sed 's/^/    msp queue: /' >&2
[ "$(sm_queue_count)" -eq 0 ] || e2e_fail "the daemon queued a message while the milter was down"
sleep 2
[ "$(e2e_rx_count $MW_RX_TLS)$(e2e_rx_count $MW_RX_PLAIN)" = 00 ] ||
	e2e_fail "a message was delivered while the milter was down"

# 3. The milter is back: the MSP's queue run delivers it, through the milter.
sm_milter_start
sm_msp_flush
e2e_wait_delivered $MW_RX_TLS 1 30 || e2e_fail "the kept message was not delivered after the milter came back"
f=$(mw_rx_one $MW_RX_TLS kept@forced-tls.test) || e2e_fail "mx.tls.test: not one message for kept@"
mw_headers "$f" | sed 's/^/    arrived: /' >&2
e2e_assert_tls $MW_RX_TLS kept@forced-tls.test || e2e_fail "the kept message did not arrive over TLS"
mw_hfirst "$f" | grep -qix 'X-TLSLevel: Require' || e2e_fail "the kept message: X-TLSLevel: Require is not first"
for h in X-Encrypt-Status TLS-Required; do
	[ "$(mw_hcount "$f" $h)" = 0 ] || e2e_fail "the kept message: the client's $h arrived"
done
e2e_wait_until 10 sm__msp_empty || e2e_fail "the MSP's queue is not empty"
[ "$(e2e_rx_count $MW_RX_PLAIN)" -eq 0 ] || e2e_fail "mx.plain.test got mail"
sm_finish
