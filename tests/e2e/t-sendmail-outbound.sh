#!/bin/bash
# t-sendmail-outbound.sh - a real Sendmail 8.17 daemon built from examples/sendmail/
# forcetls.mc, with forcetls-milter and the compiled access map: outbound mail from an
# internal client, judged by what Sendmail logged and queued and what the MXes got.
#
# usage: t-sendmail-outbound.sh TLSMAPS [EXAMPLES_DIR]
#
# Proves (lib-sendmail.sh's world):
#   - to a forced domain whose MX has STARTTLS: delivered over TLS (receiver tls=yes,
#     Sendmail's verify=OK), with exactly one X-TLSLevel header, "Require", the first
#     header; the client's own "X-TLSLevel: Try" is gone;
#   - to an unlisted domain: exactly one "X-TLSLevel: Try", first;
#   - to a forced domain whose MX has no STARTTLS: deferred by the access map's
#     TLS_Rcpt: entry (tls_rcpt, 454 4.7.0), kept in Sendmail's queue through queue runs,
#     and never sent: mx.plain.test got only the unlisted message;
#   - the same for a.deep.test under a ".deep.test" entry (FEATURE(`lookupdotdomain'));
#   - examples/sendmail/README quotes the .mc lines exactly as forcetls.mc has them.
set -u
. "$(dirname "$0")/lib-sendmail.sh"
FTLS_TLSMAPS=${FTLS_TLSMAPS:-$1}
EXAMPLES=${2:-${FTLS_EXAMPLES:-}}
# A ".parent" entry: only lookupdotdomain makes Sendmail look up ".deep.test".
SM_DNS_EXTRA=("--mx-host=a.deep.test,mx.plain.test,10")
sm_world sendmail-outbound ".deep.test                          encrypt"
# The README quotes the .mc lines: the same as forcetls.mc's.
while IFS= read -r l; do
	grep -qxF "       $l" "$EX/sendmail/README" || e2e_fail "$EX/sendmail/README does not quote: $l"
done < <(grep -v '^dnl\b' "$EX/sendmail/forcetls.mc")
[ "$SM_ACCESS" = live ] || grep -q '^TLS_Rcpt:forced-plain\.test' "$SM/access.txt" ||
	e2e_fail "the access map has no TLS_Rcpt: entry for forced-plain.test"

F=alice@corp.e2e.test
mw_send_internal $F forced@forced-tls.test --header "X-TLSLevel: Try" ||
	e2e_fail "message to forced-tls.test not accepted"
mw_send_internal $F plain@open-plain.test || e2e_fail "message to open-plain.test not accepted"
mw_send_internal $F forced@forced-plain.test || e2e_fail "message to forced-plain.test not accepted"
mw_send_internal $F sub@a.deep.test || e2e_fail "message to a.deep.test not accepted"

e2e_wait_delivered $MW_RX_TLS 1 30 || e2e_fail "forced-tls.test not delivered"
f=$(mw_rx_one $MW_RX_TLS forced@forced-tls.test) || e2e_fail "mx.tls.test: not one message for forced@forced-tls.test"
mw_headers "$f" | sed 's/^/    arrived: /' >&2
e2e_assert_tls $MW_RX_TLS forced@forced-tls.test || e2e_fail "forced-tls.test not delivered over TLS"
[ "$(mw_hcount "$f" X-TLSLevel)" = 1 ] || e2e_fail "forced-tls.test: not exactly one X-TLSLevel header"
mw_hfirst "$f" | grep -qix 'X-TLSLevel: Require' || e2e_fail "forced-tls.test: X-TLSLevel: Require is not the first header"
sm_log_grep 'STARTTLS=client, relay=mx\.tls\.test\., version=TLSv1\.[23], verify=OK' >/dev/null ||
	e2e_fail "maillog: no verified STARTTLS session to mx.tls.test"
sm_log_grep 'to=<forced@forced-tls\.test>.*relay=mx\.tls\.test\. \[127\.0\.0\.3\].*stat=Sent' >/dev/null ||
	e2e_fail "maillog: forced-tls.test not Sent via mx.tls.test"

e2e_wait_delivered $MW_RX_PLAIN 1 30 || e2e_fail "open-plain.test not delivered"
f=$(mw_rx_one $MW_RX_PLAIN plain@open-plain.test) || e2e_fail "mx.plain.test: not one message for plain@open-plain.test"
[ "$(mw_hcount "$f" X-TLSLevel)" = 1 ] || e2e_fail "open-plain.test: not exactly one X-TLSLevel header"
mw_hfirst "$f" | grep -qix 'X-TLSLevel: Try' || e2e_fail "open-plain.test: X-TLSLevel: Try is not the first header"

# Deferred by tls_rcpt, and still queued after two more queue runs.
sm_wait_log 'to=<forced@forced-plain\.test>.*stat=Deferred' 30 || e2e_fail "forced-plain.test not deferred"
sm_log_grep 'to=<forced@forced-plain\.test>.*stat=Deferred' | tail -1 | sed 's/^/    /' >&2
sm_log_grep 'ruleset=tls_rcpt, arg1=<?forced@forced-plain\.test>?, .*reject=454 4\.7\.0' >/dev/null ||
	e2e_fail "maillog: the deferral is not tls_rcpt's 454 4.7.0"
sm_queue_has forced@forced-plain.test || e2e_fail "forced-plain.test is not in Sendmail's queue"
sm_flush
sm_flush
# (a run of the daemon's own -q15s runner may hold the message's lock during ours: it counts too)
sm_wait_log_count 'to=<forced@forced-plain\.test>.*stat=Deferred' 3 20 ||
	e2e_fail "forced-plain.test was not retried by the queue runs"
sm_queue_has forced@forced-plain.test || e2e_fail "forced-plain.test is no longer queued"
sm_log_grep 'to=<forced@forced-plain\.test>.*stat=Sent' && e2e_fail "forced-plain.test was sent"
[ -z "$(e2e_rx_file $MW_RX_PLAIN forced@forced-plain.test)" ] || e2e_fail "forced-plain.test reached mx.plain.test"
sm_log_grep 'ruleset=tls_rcpt, arg1=<?sub@a\.deep\.test>?, .*reject=454 4\.7\.0' >/dev/null ||
	e2e_fail "a.deep.test (under the .deep.test entry) was not deferred by tls_rcpt"
sm_queue_has sub@a.deep.test || e2e_fail "a.deep.test is not in Sendmail's queue"
[ -z "$(e2e_rx_file $MW_RX_PLAIN sub@a.deep.test)" ] || e2e_fail "a.deep.test reached mx.plain.test"

[ "$(e2e_rx_count $MW_RX_PLAIN)" -eq 1 ] || e2e_fail "mx.plain.test got $(e2e_rx_count $MW_RX_PLAIN) messages, expected 1"
[ "$(e2e_rx_count $MW_RX_TLS)" -eq 1 ] || e2e_fail "mx.tls.test got $(e2e_rx_count $MW_RX_TLS) messages, expected 1"
[ "$(e2e_rx_count $MW_GW)" -eq 0 ] || e2e_fail "the gateway got mail"
[ "$(sm_queue_count)" -eq 2 ] || e2e_fail "Sendmail's queue holds $(sm_queue_count) messages, expected 2"
mw_milter_said 'direction=outbound .*tls=Require .*forced-tls\.test' ||
	e2e_fail "milter.log: no outbound Require decision naming forced-tls.test"
sm_finish
