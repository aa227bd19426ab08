#!/bin/bash
# t-sendmail-relay-timeout.sh - relay mode with a real Sendmail 8.17 daemon (as
# t-sendmail-relay.sh), a gateway that accepts the connection and never answers: the
# milter gives up after milter.relay_timeout and answers 451 itself, inside the T=R:
# and T=E: of examples/sendmail/forcetls.mc; the message stays queued.
#
# usage: t-sendmail-relay-timeout.sh TLSMAPS [EXAMPLES_DIR]
#
# Proves (sm_relay_world, relay_timeout = 15 s, mail submitted through the MSP):
#   - a tagged message while the gateway is silent: the MSP's submission takes about
#     relay_timeout, then Sendmail answers with the milter's own "451 4.4.0" (not a
#     milter timeout of Sendmail's: with Sendmail's default T=R:10s this test fails),
#     and the message is in the MSP's queue;
#   - a real gateway again: the queue run delivers it, to the gateway only.
set -u
. "$(dirname "$0")/lib-sendmail.sh"
FTLS_TLSMAPS=${FTLS_TLSMAPS:-$1}
EXAMPLES=${2:-${FTLS_EXAMPLES:-}}
RELAY_TIMEOUT=15
sm_conf_hook() { mw_conf_set "$1" milter relay_timeout $RELAY_TIMEOUT; }
sm_relay_world sendmail-relay-timeout
F=alice@corp.e2e.test

# A gateway that takes connections and never says a word.
e2e_receiver_stop $MW_GW
e2e_spawn silent "$E2E_PY" -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(16)
held = []
while True:
    held.append(s.accept()[0])
' $MW_GW_ADDR $MW_GW_PORT
e2e_wait_listen $MW_GW_ADDR $MW_GW_PORT 10 || e2e_fail "the silent gateway did not listen"

t0=$(date +%s)
sm_msp_send $F slow@open-plain.test "[encrypt] the gateway is silent" ||
	e2e_fail "the MSP refused the message: $(cat "$SM/msp-$E2E_SENT.log")"
took=$(($(date +%s) - t0))
e2e_log "the submission took $took s (relay_timeout $RELAY_TIMEOUT s)"
[ $took -ge $((RELAY_TIMEOUT - 1)) ] || e2e_fail "the milter answered after $took s, before relay_timeout"
sm_msp_queue_has slow@open-plain.test || e2e_fail "the MSP did not keep the message"
sm_wait_log 'Milter: data, reject=451 4\.4\.0 ' 10 || e2e_fail "maillog: not the milter's own 451 4.4.0 at the end of data"
sm_log_grep 'Milter \(forcetls\): (timeout|to error state)' &&
	e2e_fail "Sendmail gave up on the milter before the milter's relay_timeout"
mw_milter_said 'relay=failed why=\[127\.0\.0\.30\]:10025: .* result=defer' || e2e_fail "milter.log: the failed hand-off is not logged"

# The real gateway again.
e2e_stop silent || e2e_fail "the silent gateway did not stop"
e2e_wait_until 5 e2e__not_listening -t "$MW_GW" || e2e_fail "the silent gateway's port is still open"
e2e_receiver $MW_GW_ADDR $MW_GW_PORT --starttls --name gateway.test
sm_msp_flush
e2e_wait_delivered $MW_GW 1 30 || e2e_fail "the kept message did not reach the gateway"
mw_rx_one $MW_GW slow@open-plain.test >/dev/null || e2e_fail "gateway: not one message for slow@open-plain.test"
e2e_wait_until 10 sm__msp_empty || e2e_fail "the MSP still holds the message"
[ -z "$(e2e_rx_file $MW_RX_PLAIN slow@open-plain.test)" ] || e2e_fail "the tagged message reached mx.plain.test"
sm_finish
