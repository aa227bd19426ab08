#!/bin/bash
# t-sendmail-relay-refused.sh - relay mode with a real Sendmail 8.17 daemon (as
# t-sendmail-relay.sh): a gateway that refuses the message, or whose certificate fails
# verification, keeps the message queued; nothing goes to the MX instead.
#
# usage: t-sendmail-relay-refused.sh TLSMAPS [EXAMPLES_DIR]
#
# Proves (lib-sendmail.sh's world, sm_relay_world, mail submitted through the MSP):
#   - the gateway answers DATA with 451 (e2e_receiver --data-reply): the tagged message
#     stays in the MSP's queue, through a queue run; the milter logs the gateway's reply;
#   - the gateway presents a self-signed certificate (--untrusted; relay_verify on,
#     relay_ca_file the test CA): a queue run keeps it queued, the gateway stores
#     nothing;
#   - a good gateway again: the queue run delivers it, over TLS, to the gateway only.
set -u
. "$(dirname "$0")/lib-sendmail.sh"
FTLS_TLSMAPS=${FTLS_TLSMAPS:-$1}
EXAMPLES=${2:-${FTLS_EXAMPLES:-}}
sm_relay_world sendmail-relay-refused
F=alice@corp.e2e.test

# 1. The gateway refuses DATA.
e2e_receiver_stop $MW_GW
e2e_receiver $MW_GW_ADDR $MW_GW_PORT --starttls --name gateway.test --data-reply '451 4.3.0 gateway busy (e2e)'
sm_msp_send $F busy@open-plain.test "[encrypt] the gateway is busy" ||
	e2e_fail "the MSP refused the message: $(cat "$SM/msp-$E2E_SENT.log")"
sm_msp_queue_has busy@open-plain.test || e2e_fail "the MSP did not keep the message the gateway refused"
sm_wait_log 'Milter: data, reject=4' 30 || e2e_fail "maillog: no 4xx from the milter at the end of data"
e2e_wait_until 5 mw_milter_said 'gateway busy \(e2e\)' || e2e_fail "milter.log: the gateway's 451 is not logged"
sm_msp_flush
e2e_wait_until 30 sm__milter_count_ge 'relay=failed why=.*: 451 4\.3\.0 gateway busy \(e2e\) result=defer' 2 ||
	e2e_fail "milter.log: the queue run did not try the gateway again"
sm_msp_queue_has busy@open-plain.test || e2e_fail "the message left the MSP's queue while the gateway refused it"

# 2. The gateway's certificate fails verification.
e2e_receiver_stop $MW_GW
e2e_receiver $MW_GW_ADDR $MW_GW_PORT --starttls --name gateway.test --untrusted
n=$(sm_log_count 'Milter: data, reject=4')
sm_msp_flush
sm_wait_log_count 'Milter: data, reject=4' $((n + 1)) 10 ||
	e2e_fail "maillog: no 4xx from the milter with an untrusted gateway certificate"
mw_milter_said 'relay=failed why=\[127\.0\.0\.30\]:10025: TLS handshake: certificate verification failed' ||
	e2e_fail "milter.log: the failed verification is not logged"
sm_msp_queue_has busy@open-plain.test || e2e_fail "the message left the MSP's queue (untrusted gateway)"
[ "$(e2e_rx_count $MW_GW)" -eq 0 ] || e2e_fail "the untrusted gateway got the message"

# 3. A good gateway again.
e2e_receiver_stop $MW_GW
e2e_receiver $MW_GW_ADDR $MW_GW_PORT --starttls --name gateway.test
sm_msp_flush
e2e_wait_delivered $MW_GW 1 30 || e2e_fail "the kept message did not reach the good gateway"
mw_rx_one $MW_GW busy@open-plain.test >/dev/null || e2e_fail "gateway: not one message for busy@open-plain.test"
e2e_assert_tls $MW_GW busy@open-plain.test || e2e_fail "not over TLS to the gateway"
e2e_wait_until 30 sm__msp_empty || e2e_fail "the MSP still holds the message"

sm_flush
[ -z "$(e2e_rx_file $MW_RX_PLAIN busy@open-plain.test)" ] || e2e_fail "the tagged message reached mx.plain.test"
sm_log_grep 'to=<busy@open-plain\.test>.*stat=Sent' && e2e_fail "Sendmail sent the tagged message itself"
[ "$(e2e_rx_count $MW_GW)" -eq 1 ] || e2e_fail "gateway got $(e2e_rx_count $MW_GW) messages, expected 1"
[ "$(sm_queue_count)" -eq 0 ] || e2e_fail "Sendmail's queue holds $(sm_queue_count) messages"
sm_finish
