#!/bin/bash
# t-sendmail-relay.sh - relay mode with a real Sendmail 8.17 daemon built from
# examples/sendmail/forcetls.mc and the milter settings of forcetls.conf.sendmail: the
# milter itself hands a flagged message to the gateway; Sendmail cannot route on a
# header. Mail is submitted through Sendmail's MSP (submit.cf, as Debian's
# /usr/sbin/sendmail does), which queues what the daemon tempfails.
#
# usage: t-sendmail-relay.sh TLSMAPS [EXAMPLES_DIR]
#
# Proves (lib-sendmail.sh's world, sm_relay_world):
#   - a tagged ("[encrypt]") message to a forced domain whose MX has no STARTTLS reaches
#     the gateway over TLS with one "X-Encrypt: yes", and only the gateway: Sendmail
#     discards its copy after the gateway's 250 (stat=discarded), the MX gets nothing,
#     Sendmail sends nothing (no to=... stat=Sent), both queues are empty;
#   - an untagged message still goes to its MX, not to the gateway;
#   - while the gateway is down, a tagged message is tempfailed at the end of data
#     (Sendmail logs the milter's 4xx), stays in the MSP's queue through a queue run,
#     and nothing reaches the MX; once the gateway is back, the MSP's queue run delivers
#     it to the gateway, and only there.
set -u
. "$(dirname "$0")/lib-sendmail.sh"
FTLS_TLSMAPS=${FTLS_TLSMAPS:-$1}
EXAMPLES=${2:-${FTLS_EXAMPLES:-}}
sm_relay_world sendmail-relay
F=alice@corp.e2e.test

# 1. Tagged, the gateway up.
sm_msp_send $F tagged@forced-plain.test "[encrypt] quarterly figures" ||
	e2e_fail "the MSP refused the tagged message: $(cat "$SM/msp-$E2E_SENT.log")"
e2e_wait_delivered $MW_GW 1 30 || e2e_fail "the tagged message did not reach the gateway"
f=$(mw_rx_one $MW_GW tagged@forced-plain.test) || e2e_fail "gateway: not one message for tagged@forced-plain.test"
mw_headers "$f" | sed 's/^/    gateway got: /' >&2
e2e_assert_tls $MW_GW tagged@forced-plain.test || e2e_fail "the gateway did not get it over TLS"
mw_headers "$f" | grep -qix 'Subject: \[encrypt\] quarterly figures' || e2e_fail "gateway: not the tagged message"
e2e_wait_until 30 sm__msp_empty || e2e_fail "the MSP still holds the tagged message"
[ "$(sm_queue_count)" -eq 0 ] || e2e_fail "Sendmail's queue still holds a copy"
[ "$(mw_hcount "$f" X-Encrypt)" = 1 ] && mw_headers "$f" | grep -qix 'X-Encrypt: yes' ||
	e2e_fail "gateway: not exactly one 'X-Encrypt: yes'"
mw_milter_said 'encrypt=yes \(subject_tag\) relay=sent gateway=\[127\.0\.0\.30\]:10025 .*reply=250 ' ||
	e2e_fail "milter.log: no relay=sent to the gateway"
sm_wait_log 'to=<tagged@forced-plain\.test>, .*stat=discarded' 30 ||
	e2e_fail "maillog: Sendmail did not discard its copy after the gateway's 250"

# 2. Untagged: to the MX.
sm_msp_send $F plain@open-plain.test "nothing to encrypt" || e2e_fail "the MSP refused the untagged message"
e2e_wait_delivered $MW_RX_PLAIN 1 30 || e2e_fail "the untagged message did not reach mx.plain.test"
mw_rx_one $MW_RX_PLAIN plain@open-plain.test >/dev/null || e2e_fail "mx.plain.test: not one message for plain@"

# 3. The gateway down: kept in the MSP's queue, delivered once it is back.
e2e_receiver_stop $MW_GW
sm_msp_send $F later@open-tls.test "[secure] while the gateway is down" ||
	e2e_fail "the MSP refused the message: $(cat "$SM/msp-$E2E_SENT.log")"
sm_msp_queue_has later@open-tls.test || e2e_fail "the MSP did not keep the message while the gateway was down"
sm_wait_log 'Milter: data, reject=4' 30 || e2e_fail "maillog: no 4xx from the milter at the end of data"
mw_milter_said 'relay=failed why=\[127\.0\.0\.30\]:10025: connect: .* result=defer' ||
	e2e_fail "milter.log: the failed hand-off is not logged"
sm_msp_flush
e2e_wait_until 30 sm__milter_count_ge 'relay=failed why=\[127\.0\.0\.30\]:10025: connect: ' 2 ||
	e2e_fail "milter.log: the queue run did not try the gateway again"
sm_msp_queue_has later@open-tls.test || e2e_fail "the message left the MSP's queue while the gateway was down"
[ "$(sm_queue_count)" -eq 0 ] || e2e_fail "Sendmail queued a copy while the gateway was down"
e2e_receiver $MW_GW_ADDR $MW_GW_PORT --starttls --name gateway.test
sm_msp_flush
e2e_wait_delivered $MW_GW 2 30 || e2e_fail "the kept message did not reach the gateway once it was back"
mw_rx_one $MW_GW later@open-tls.test >/dev/null || e2e_fail "gateway: not one message for later@open-tls.test"
e2e_assert_tls $MW_GW later@open-tls.test || e2e_fail "the kept message did not reach the gateway over TLS"
e2e_wait_until 30 sm__msp_empty || e2e_fail "the MSP still holds the message"

sleep 1
sm_flush
for r in tagged@forced-plain.test later@open-tls.test; do
	[ -z "$(e2e_rx_file $MW_RX_PLAIN $r)$(e2e_rx_file $MW_RX_TLS $r)" ] || e2e_fail "$r (tagged) reached an MX"
	sm_log_grep "to=<$r>.*stat=Sent" && e2e_fail "Sendmail sent $r itself"
done
[ "$(e2e_rx_count $MW_GW)" -eq 2 ] || e2e_fail "gateway got $(e2e_rx_count $MW_GW) messages, expected 2"
[ "$(e2e_rx_count $MW_RX_TLS)" -eq 0 ] || e2e_fail "mx.tls.test got mail"
[ "$(e2e_rx_count $MW_RX_PLAIN)" -eq 1 ] || e2e_fail "mx.plain.test got $(e2e_rx_count $MW_RX_PLAIN) messages, expected 1"
[ "$(sm_queue_count)" -eq 0 ] || e2e_fail "Sendmail's queue holds $(sm_queue_count) messages"
sm_finish
