#!/bin/bash
# t-sendmail-livemap.sh - a real Sendmail 8.17 daemon whose access map asks
# forcetls-policyd live over Sendmail's socket map (examples/sendmail/forcetls.mc's
# FORCETLS-SOCKETMAP lines; docs/COMPILE.md): the table is live on Sendmail too, and
# a policyd that is down fails closed. Skipped (77) while the example uses the
# compiled map.
#
# usage: t-sendmail-livemap.sh TLSMAPS [EXAMPLES_DIR]
#
# Proves (lib-sendmail.sh's world, the access map holding only the admin's
# Connect:127.0.0 RELAY):
#   - an unlisted domain whose MX has no STARTTLS is delivered in clear; after the
#     table lists it (a new table renamed into place, policyd reloads: no makemap),
#     the next message to it is deferred by tls_rcpt (454 4.7.0) and kept queued;
#   - policyd stopped: the queued message is deferred again, 4.3.0 (never sent), and a new
#     SMTP session is answered 4xx; nothing reaches the MX;
#   - policyd back: a forced domain with a STARTTLS MX is delivered over TLS, the
#     newly forced one is still deferred and queued.
set -u
. "$(dirname "$0")/lib-sendmail.sh"
FTLS_TLSMAPS=${FTLS_TLSMAPS:-$1}
EXAMPLES=${2:-${FTLS_EXAMPLES:-}}
EX=${EXAMPLES:-${FTLS_EXAMPLES:-$E2E_LIB_DIR/../../examples}}
grep -q "^FEATURE(\`access_db', \`switch -T<TMPF> access')dnl\$" "$EX/sendmail/forcetls.mc" ||
	e2e_skip "$EX/sendmail/forcetls.mc uses the compiled access map, not forcetls-policyd's socket map"
sm_world sendmail-livemap
[ "$SM_ACCESS" = live ] || e2e_fail "the example's access_db line is the switch, but not the live map the test knows"
! grep -q '^TLS_' "$SM/access.txt" || e2e_fail "compiled TLS_ lines in the access map"
F=alice@corp.e2e.test

# 1. Unlisted: in clear. Then listed, live.
mw_send_internal $F one@open-plain.test || e2e_fail "message to open-plain.test not accepted"
e2e_wait_delivered $MW_RX_PLAIN 1 30 || e2e_fail "open-plain.test (unlisted) not delivered"
cp "$W/forced-tls.table" "$W/forced-tls.table.new"
echo "open-plain.test                     encrypt" >>"$W/forced-tls.table.new"
chmod 644 "$W/forced-tls.table.new"
mv "$W/forced-tls.table.new" "$W/forced-tls.table"
e2e_wait_until 15 grep -q 'reload (.*): ok .*, 3 entries (was 2)' "$W/policyd.log" || {
	e2e_signal policyd USR1
	e2e_wait_until 10 grep -q 'reload (.*): ok .*, 3 entries (was 2)' "$W/policyd.log"
} || e2e_fail "forcetls-policyd did not reload the table"
mw_send_internal $F two@open-plain.test || e2e_fail "second message to open-plain.test not accepted"
sm_wait_log 'ruleset=tls_rcpt, arg1=<?two@open-plain\.test>?, .*reject=454 4\.7\.0' 30 ||
	e2e_fail "open-plain.test, now listed, was not deferred by tls_rcpt"
sm_queue_has two@open-plain.test || e2e_fail "the deferred message is not in Sendmail's queue"

# 2. policyd down: fail closed.
e2e_stop policyd || e2e_fail "forcetls-policyd did not stop"
n=$(sm_log_count 'to=<two@open-plain\.test>.*stat=Deferred')
sm_flush
sm_wait_log_count 'to=<two@open-plain\.test>.*stat=Deferred' $((n + 1)) 20 ||
	e2e_fail "the queued message was not deferred again while policyd was down"
sm_log_grep 'to=<two@open-plain\.test>.* dsn=4\.3\.0, stat=Deferred' >/dev/null ||
	e2e_fail "the deferral while policyd was down is not a 4.3.0"
sm_queue_has two@open-plain.test || e2e_fail "the message left the queue while policyd was down"
mw_send_internal $F three@forced-tls.test
rc=$?
[ $rc != 0 ] && e2e_swaks_reply '^4[0-9][0-9] ' ||
	e2e_fail "a new session was not answered 4xx while policyd was down (swaks exit $rc)"

# 3. policyd back.
e2e_spawn policyd "$FTLS_POLICYD" --foreground --config "$W/forcetls.conf" \
	--table "$W/forced-tls.table" --policy-listen ""
e2e_wait_listen 127.0.0.1 10028 15 || e2e_fail "forcetls-policyd did not come back"
mw_send_internal $F four@forced-tls.test || e2e_fail "message to forced-tls.test not accepted once policyd was back"
e2e_wait_delivered $MW_RX_TLS 1 30 || e2e_fail "forced-tls.test not delivered once policyd was back"
e2e_assert_tls $MW_RX_TLS four@forced-tls.test || e2e_fail "forced-tls.test not delivered over TLS"
sm_flush
sm_queue_has two@open-plain.test || e2e_fail "the newly forced message left the queue"
[ -z "$(e2e_rx_file $MW_RX_PLAIN two@open-plain.test)" ] || e2e_fail "the newly forced message was sent in clear"
[ "$(e2e_rx_count $MW_RX_PLAIN)" -eq 1 ] || e2e_fail "mx.plain.test got $(e2e_rx_count $MW_RX_PLAIN) messages, expected 1"
sm_finish
