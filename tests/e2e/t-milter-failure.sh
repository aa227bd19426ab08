#!/bin/bash
# t-milter-failure.sh - forcetls-milter in a real Postfix: what each on_encrypt_failure
# value other than "tls" (t-milter-gateway.sh covers that one) does when the encryption
# gateway sends a message back with its failure header ("X-Encrypt-Status: failure", as
# examples/forcetls.conf ships it). The mode is switched between phases by editing the
# milter's configuration and sending SIGUSR1, each time waiting for the milter's
# "reload (SIGUSR1): ok" line before sending, so the reload is exercised too.
# The world is t-milter-outbound.sh's (milter_world): gateway.test 127.0.0.30:10025 (also
# the gateway's sending address), mx.plain.test 127.0.0.2 (no TLS), mx.tls.test
# 127.0.0.3 (STARTTLS), internal client 127.0.0.66, inbound client 127.0.0.77;
# forced-tls.test and forced-plain.test are forced (encrypt), open-*.test are not.
#
# usage: t-milter-failure.sh TLSMAPS [EXAMPLES_DIR]
#
# Proves, for tagged messages that went to the gateway and came back with the failure
# header:
#   - hold: Postfix accepts it (250) and keeps it in its hold queue (postqueue -j
#     queue_name "hold"), logging "milter-hold: ... milter triggers HOLD action" (Postfix
#     does not log the milter's reason text); the milter logs "action=hold" with the
#     same queue ID; the held copy has the failure header, exactly one X-TLSLevel, first
#     (Require, as "tls" gives: released, it leaves only over TLS), and no X-Encrypt
#     (released, it would not loop to the gateway); it is delivered nowhere, not even
#     after a queue flush; released with postsuper -H, it is deferred 4.7.4 (its MX has
#     no STARTTLS) and stays queued, never sent in clear;
#   - reject: the gateway's SMTP transaction gets "550 5.7.1 Encryption failed" at the
#     end of DATA (swaks exit 26); Postfix logs milter-reject with the queue ID that the
#     milter logs with "action=reject"; nothing is queued, nothing is delivered;
#   - pass: delivered as the table and opportunistic mode say, the failure header kept
#     (trusted from the gateway; docs and code agree): an unlisted recipient gets
#     "X-TLSLevel: Try", leaves through the plain smtp transport and is delivered in
#     clear to an MX without STARTTLS (mode "tls" would have deferred it 4.7.4); a
#     forced recipient gets "X-TLSLevel: Require" from its table line (not from the
#     failure), goes through forcetls-require and arrives over TLS;
#   - in hold and reject mode the same failure header from a client that is not the
#     gateway (inbound, internal) holds and rejects nothing: it is removed and the
#     message is delivered;
#   - each SIGUSR1 is confirmed by a "reload (SIGUSR1): ok" line and never refused;
#   - no loop: the gateway got only the tagged messages.
set -u
MILTER_WORLD_ONLY=1 . "$(dirname "$0")/t-milter-outbound.sh"
EXAMPLES=${2:-${FTLS_EXAMPLES:-}}
milter_world milter-failure
grep -q '^ *on_encrypt_failure = "tls";' "$W/forcetls.conf" ||
	e2e_fail "examples/forcetls.conf: on_encrypt_failure is not \"tls\" any more"
grep -q '^ *encrypt_failure_header = "X-Encrypt-Status: failure";' "$W/forcetls.conf" ||
	e2e_fail "examples/forcetls.conf: encrypt_failure_header is not \"X-Encrypt-Status: failure\" any more"

# mf_mode MODE: set milter.on_encrypt_failure in the milter's configuration, send SIGUSR1
# and wait until the milter confirms the reload (one more "reload (SIGUSR1): ok" line).
MF_RELOADS=0
mf_mode() {
	mw_conf_set "$W/forcetls.conf" milter on_encrypt_failure "\"$1\"" ||
		e2e_fail "forcetls.conf: no milter.on_encrypt_failure to set"
	chmod 644 "$W/forcetls.conf" # read again as nobody
	grep -q "^ *on_encrypt_failure = \"$1\";" "$W/forcetls.conf" ||
		e2e_fail "forcetls.conf: on_encrypt_failure is not \"$1\" after the edit"
	MF_RELOADS=$((MF_RELOADS + 1))
	e2e_signal milter USR1 || e2e_fail "cannot send SIGUSR1 to forcetls-milter"
	e2e_wait_until 15 mf__reload_done $MF_RELOADS ||
		e2e_fail "forcetls-milter did not confirm reload #$MF_RELOADS (on_encrypt_failure = $1)"
	mw__log_has milter 'reload (SIGUSR1): refused' && e2e_fail "forcetls-milter refused the reload to $1"
	e2e_log "milter reloaded: on_encrypt_failure = $1"
}
mf__reload_done() { # the Nth reload confirmed, or any refused
	[ "$(grep -c 'reload (SIGUSR1): ok ' "$W/milter.log")" -ge "$1" ] || mw__log_has milter 'reload (SIGUSR1): refused'
}

# mf_qid_of RCPT QUEUE: the queue ID of the message Postfix holds for RCPT in QUEUE.
mf_qid_of() {
	e2e_queue_json | grep -iF "\"address\": \"$1\"" | grep -F "\"queue_name\": \"$2\"" | head -1 |
		sed -n 's/.*"queue_id": "\([0-9A-Za-z]*\)".*/\1/p'
}

# mf_qid_sent RCPT RELAY: the queue ID of the message the maillog says was sent to RCPT
# through RELAY (a host name).
mf_qid_sent() {
	e2e_log_grep "to=<${1//./\\.}>, relay=${2//./\\.}\\[.*status=sent" | tail -1 |
		sed -n 's/.* \([0-9A-Za-z]*\): to=<.*/\1/p'
}

mf__queue_is() { [ "$(e2e_queue_count)" -eq "$1" ]; }

# mf_nowhere RCPT QID: the message QID (the gateway's return for RCPT) was delivered
# nowhere: the maillog has no delivery attempt for QID, the recipients' MXes stored
# nothing for RCPT and the gateway only its one tagged original.
mf_nowhere() {
	[ -z "$(e2e_rx_file $MW_RX_PLAIN "$1")$(e2e_rx_file $MW_RX_TLS "$1")" ] &&
		mw_rx_one $MW_GW "$1" >/dev/null &&
		! e2e_log_grep "$2: to=<" >/dev/null
}

F=alice@corp.e2e.test
RCPTS="held@open-plain.test rejected@open-plain.test passed@open-plain.test passed@forced-tls.test"
for r in $RCPTS; do
	mw_send_internal $F $r --header "Subject: [encrypt] to $r" || e2e_fail "tagged message to $r not accepted"
done
e2e_wait_delivered $MW_GW 4 30 || e2e_fail "the tagged messages did not reach the gateway"
for r in $RCPTS; do
	f=$(mw_rx_one $MW_GW $r) || e2e_fail "gateway: not one message for $r"
	mw_headers "$f" | grep -qix 'X-Encrypt: yes' || e2e_fail "gateway: $r came without X-Encrypt: yes"
done
[ "$(e2e_rx_count $MW_RX_PLAIN)$(e2e_rx_count $MW_RX_TLS)" = 00 ] ||
	e2e_fail "a tagged message went to a recipient's MX directly"

# --- hold --------------------------------------------------------------------------------
mf_mode hold
mw_gateway_return held@open-plain.test failure || e2e_fail "hold: Postfix did not accept the gateway's failure return"
e2e_swaks_reply '^ *250 2\.0\.0 Ok: queued as ' || e2e_fail "hold: no 250 queued reply to the gateway"
e2e_wait_until 15 e2e_queue_has held@open-plain.test hold ||
	e2e_fail "hold: the failure return is not in Postfix's hold queue"
qid=$(mf_qid_of held@open-plain.test hold)
[ -n "$qid" ] || e2e_fail "hold: no queue ID for the held message"
HOLD_QID=$qid
e2e_swaks_reply "^ *250 2\\.0\\.0 Ok: queued as $qid\$" || e2e_fail "hold: the gateway was not told \"queued as $qid\""
e2e_log "hold: $qid is in the hold queue"
e2e_wait_log "$qid: milter-hold: END-OF-MESSAGE from gateway\.test\[127\.0\.0\.30\]: milter triggers HOLD action; from=<gateway@gateway\.test> to=<held@open-plain\.test>" 15 ||
	e2e_fail "hold: maillog has no milter-hold line for $qid"
mw_milter_said "forcetls-milter: $qid: direction=gateway gateway=failure .*tls=Require \(on_encrypt_failure=hold\).* action=hold" ||
	e2e_fail "milter.log: no gateway=failure action=hold decision for $qid"
f=$(mw_queued held@open-plain.test) || e2e_fail "hold: postcat: no queued message for held@open-plain.test"
mw_headers "$f" | sed 's/^/    held: /' >&2
mw_headers "$f" | grep -qix 'Subject: \[encrypt\] to held@open-plain\.test' || e2e_fail "hold: not the tagged message"
[ "$(mw_hcount "$f" X-Encrypt-Status)" = 1 ] && mw_headers "$f" | grep -qix 'X-Encrypt-Status: failure' ||
	e2e_fail "hold: the held message lost the gateway's failure header"
[ "$(mw_hcount "$f" X-Encrypt)" = 0 ] || e2e_fail "hold: X-Encrypt survived (a released message would loop)"
[ "$(mw_hcount "$f" X-TLSLevel)" = 1 ] || e2e_fail "hold: not exactly one X-TLSLevel in the held message"
mw_hfirst "$f" | grep -qix 'X-TLSLevel: Require' ||
	e2e_fail "hold: X-TLSLevel: Require (so that a released message leaves only over TLS) is not the first header of the held message"
e2e_log_grep "$qid: milter-header-filter: header X-TLSLevel: Require .*to=<held@open-plain\\.test>.*: forcetls-require:\$" >/dev/null ||
	e2e_fail "hold: $qid was not routed to forcetls-require (a released message would not need TLS)"

# A failure header from an inbound client holds nothing.
mw_send_inbound bob@outside.test spoof-hold@open-plain.test --add-header "X-Encrypt-Status: failure" ||
	e2e_fail "hold: inbound message with a failure header not accepted"
e2e_wait_delivered $MW_RX_PLAIN 1 30 || e2e_fail "hold: the inbound message with a failure header was not delivered"
f=$(mw_rx_one $MW_RX_PLAIN spoof-hold@open-plain.test) || e2e_fail "mx.plain.test: not one message for spoof-hold@"
[ "$(mw_hcount "$f" X-Encrypt-Status)" = 0 ] || e2e_fail "hold: an inbound X-Encrypt-Status: failure survived"
mw_milter_said 'direction=inbound .*removed=X-Encrypt-Status\*1' ||
	e2e_fail "milter.log: no inbound decision removing X-Encrypt-Status"

# --- reject ------------------------------------------------------------------------------
mf_mode reject
mw_gateway_return rejected@open-plain.test failure
rc=$?
[ $rc = 26 ] || e2e_fail "reject: swaks exit $rc, expected 26 (mail refused after DATA)"
e2e_swaks_reply '^ *550 5\.7\.1 Encryption failed$' || e2e_fail "reject: the gateway did not get 550 5.7.1 Encryption failed"
sed -n 's/^ *<[~*-]* *//p' "$E2E_SWAKS_LOG" | grep -E '^[45][0-9][0-9] ' | sed 's/^/    gateway got: /' >&2
l=$(e2e_log_grep 'milter-reject: END-OF-MESSAGE from .*: 5\.7\.1 Encryption failed; from=<gateway@gateway\.test> to=<rejected@open-plain\.test>' | tail -1)
[ -n "$l" ] || e2e_fail "reject: maillog has no milter-reject line"
qid=$(printf '%s\n' "$l" | sed -n 's/.* \([0-9A-Za-z]*\): milter-reject: .*/\1/p')
[ -n "$qid" ] || e2e_fail "reject: no queue ID in the milter-reject line: $l"
REJECT_QID=$qid
mw_milter_said "forcetls-milter: $qid: direction=gateway gateway=failure .* action=reject" ||
	e2e_fail "milter.log: no gateway=failure action=reject decision for $qid"
e2e_queue_has rejected@open-plain.test && e2e_fail "reject: a message for rejected@open-plain.test is queued"

# A failure header from an internal client rejects nothing.
mw_send_internal $F spoof-reject@open-plain.test --add-header "X-Encrypt-Status: failure" ||
	e2e_fail "reject: internal message with a failure header not accepted"
e2e_wait_delivered $MW_RX_PLAIN 2 30 || e2e_fail "reject: the internal message with a failure header was not delivered"
f=$(mw_rx_one $MW_RX_PLAIN spoof-reject@open-plain.test) || e2e_fail "mx.plain.test: not one message for spoof-reject@"
[ "$(mw_hcount "$f" X-Encrypt-Status)" = 0 ] || e2e_fail "reject: an internal X-Encrypt-Status: failure survived"
mw_hfirst "$f" | grep -qix 'X-TLSLevel: Try' || e2e_fail "reject: internal message: X-TLSLevel: Try is not first"

# --- pass --------------------------------------------------------------------------------
mf_mode pass
mw_gateway_return passed@open-plain.test failure || e2e_fail "pass: Postfix did not accept the failure return (open-plain)"
mw_gateway_return passed@forced-tls.test failure || e2e_fail "pass: Postfix did not accept the failure return (forced-tls)"

e2e_wait_delivered $MW_RX_PLAIN 3 30 || e2e_fail "pass: the failure return to open-plain.test was not delivered"
f=$(mw_rx_one $MW_RX_PLAIN passed@open-plain.test) || e2e_fail "mx.plain.test: not one message for passed@"
mw_headers "$f" | sed 's/^/    arrived: /' >&2
e2e_assert_plain $MW_RX_PLAIN passed@open-plain.test || e2e_fail "pass: open-plain.test: not the clear-text delivery expected"
mw_headers "$f" | grep -qix 'Subject: \[encrypt\] to passed@open-plain\.test' || e2e_fail "pass: not the tagged message"
[ "$(mw_hcount "$f" X-Encrypt-Status)" = 1 ] && mw_headers "$f" | grep -qix 'X-Encrypt-Status: failure' ||
	e2e_fail "pass: the gateway's X-Encrypt-Status: failure was not kept"
[ "$(mw_hcount "$f" X-Encrypt)" = 0 ] || e2e_fail "pass: X-Encrypt survived the return"
[ "$(mw_hcount "$f" X-TLSLevel)" = 1 ] || e2e_fail "pass: open-plain.test: not exactly one X-TLSLevel"
mw_hfirst "$f" | grep -qix 'X-TLSLevel: Try' || e2e_fail "pass: open-plain.test: X-TLSLevel: Try is not first"
e2e_wait_log 'to=<passed@open-plain\.test>, relay=mx\.plain\.test\[127\.0\.0\.2\]:25, .*status=sent' 15 ||
	e2e_fail "pass: no status=sent to mx.plain.test for passed@open-plain.test"
qid=$(mf_qid_sent passed@open-plain.test mx.plain.test)
[ -n "$qid" ] || e2e_fail "pass: no queue ID for passed@open-plain.test in the maillog"
e2e_log_grep "$qid: milter-header-filter: " && e2e_fail "pass: milter_header_checks rerouted $qid (passed@open-plain.test)"
l=$(grep -F "forcetls-milter: $qid: " "$W/milter.log")
printf '%s\n' "$l" | grep -Eq 'direction=gateway gateway=failure .*tls=Try \(opportunistic\)' ||
	e2e_fail "milter.log: no gateway=failure tls=Try (opportunistic) decision for $qid"
printf '%s\n' "$l" | grep -q 'action=' && e2e_fail "milter.log: pass logged an action for $qid: $l"

e2e_wait_delivered $MW_RX_TLS 1 30 || e2e_fail "pass: the failure return to forced-tls.test was not delivered"
f=$(mw_rx_one $MW_RX_TLS passed@forced-tls.test) || e2e_fail "mx.tls.test: not one message for passed@"
e2e_assert_tls $MW_RX_TLS passed@forced-tls.test || e2e_fail "pass: forced-tls.test: not over TLS"
[ "$(mw_hcount "$f" X-Encrypt-Status)" = 1 ] && mw_headers "$f" | grep -qix 'X-Encrypt-Status: failure' ||
	e2e_fail "pass: forced-tls.test: the failure header was not kept"
[ "$(mw_hcount "$f" X-TLSLevel)" = 1 ] || e2e_fail "pass: forced-tls.test: not exactly one X-TLSLevel"
mw_hfirst "$f" | grep -qix 'X-TLSLevel: Require' || e2e_fail "pass: forced-tls.test: X-TLSLevel: Require is not first"
e2e_wait_log 'to=<passed@forced-tls\.test>, relay=mx\.tls\.test.*status=sent' 15 ||
	e2e_fail "pass: no status=sent for passed@forced-tls.test"
qid=$(mf_qid_sent passed@forced-tls.test mx.tls.test)
[ -n "$qid" ] || e2e_fail "pass: no queue ID for passed@forced-tls.test in the maillog"
l=$(grep -F "forcetls-milter: $qid: " "$W/milter.log")
printf '%s\n' "$l" | grep -Eq 'direction=gateway gateway=failure .*tls=Require \(rcpt forced-tls\.test: forced-tls\.test ' ||
	e2e_fail "milter.log: pass: the Require of $qid does not come from the table line of forced-tls.test"
printf '%s\n' "$l" | grep -q 'action=' && e2e_fail "milter.log: pass logged an action for $qid: $l"
mw_milter_said 'on_encrypt_failure=tls' && e2e_fail "milter.log: a decision used on_encrypt_failure=tls"
e2e_log_grep "$qid: milter-header-filter: header X-TLSLevel: Require .*to=<passed@forced-tls\\.test>.*: forcetls-require:\$" >/dev/null ||
	e2e_fail "pass: forced-tls.test was not routed to forcetls-require"

# --- afterwards --------------------------------------------------------------------------
# The held message stays held, even through a flush; the rejected one went nowhere.
e2e_flush
e2e_wait_until 15 mf__queue_is 1 || e2e_fail "queue holds $(e2e_queue_count) messages, expected 1 (the held one)"
[ "$(mf_qid_of held@open-plain.test hold)" = "$HOLD_QID" ] || e2e_fail "hold: $HOLD_QID left the hold queue"
e2e_log_grep "$HOLD_QID: from=<.*\(queue active\)" && e2e_fail "hold: qmgr took $HOLD_QID into the active queue"
mf_nowhere held@open-plain.test "$HOLD_QID" || e2e_fail "hold: $HOLD_QID (held@open-plain.test) was delivered somewhere"
mf_nowhere rejected@open-plain.test "$REJECT_QID" || e2e_fail "reject: $REJECT_QID (rejected@open-plain.test) was delivered somewhere"
[ "$(e2e_rx_count $MW_GW)" -eq 4 ] || e2e_fail "gateway got $(e2e_rx_count $MW_GW) messages, expected 4 (a loop)"
[ "$(e2e_rx_count $MW_RX_PLAIN)" -eq 3 ] || e2e_fail "mx.plain.test got $(e2e_rx_count $MW_RX_PLAIN) messages, expected 3"
[ "$(e2e_rx_count $MW_RX_TLS)" -eq 1 ] || e2e_fail "mx.tls.test got $(e2e_rx_count $MW_RX_TLS) messages, expected 1"
[ "$(grep -c 'reload (SIGUSR1): ok ' "$W/milter.log")" -eq 3 ] || e2e_fail "milter.log: not exactly three reloads"

# Released by the admin, the held message needs TLS: its MX has no STARTTLS, so it is
# deferred 4.7.4 and stays queued; it never reaches mx.plain.test in clear.
e2e_ns postsuper -c "$E2E_PF_CONF" -H "$HOLD_QID" >/dev/null 2>&1 || e2e_fail "postsuper -H $HOLD_QID failed"
e2e_wait_retried held@open-plain.test 2 30 '4\.7\.4' || e2e_fail "hold: the released message was not deferred 4.7.4"
e2e_queue_has held@open-plain.test || e2e_fail "hold: the released message is no longer queued"
[ -z "$(e2e_rx_file $MW_RX_PLAIN held@open-plain.test)" ] || e2e_fail "hold: the released message was delivered in clear"
e2e_log_grep "$HOLD_QID: to=<held@open-plain\.test>, relay=mx\.plain\.test.*status=sent" >/dev/null &&
	e2e_fail "hold: the released message was sent"
mw_finish
