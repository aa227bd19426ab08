#!/bin/bash
# t-spoof-sendmail.sh - header spoofing from inbound and internal clients through a real
# Sendmail 8.17 (lib-sendmail.sh, built from examples/sendmail/forcetls.mc) with
# forcetls-milter: the same variants and the same checker as t-spoof-postfix.sh
# (tests/e2e/spoof-variants.py, lib-spoof.sh).
#
# usage: t-spoof-sendmail.sh TLSMAPS [EXAMPLES_DIR]
#
# Proves, judged by what the receivers stored:
#   - from the inbound client (to open-plain.test): no copy of X-TLSLevel, X-Encrypt,
#     X-Encrypt-Status, X-Decrypt, X-Decrypt-Status, X-TLS-Backup, TLS-Required arrives;
#   - from the internal client to forced-tls.test: exactly the milter's "X-TLSLevel:
#     Require", first, over TLS, none of the client's copies;
#   - from the internal client to open-tls.test, with every spoofed status, trigger and
#     backup header: exactly "X-TLSLevel: Try", first; nothing quarantined (a spoofed
#     failure holds nothing), nothing to the gateway (a spoofed trigger routes nothing);
#   - every "X-TLSLevel: Try" variant to forced-plain.test (MX without STARTTLS): deferred
#     by the access map's tls_rcpt (454 4.7.0) and kept in the queue, never in clear.
# Prints "SPOOF mta=sendmail header=H variant=F sent=N survived=0" per header and family.
set -u
. "$(dirname "$0")/lib-sendmail.sh"
. "$E2E_LIB_DIR/lib-spoof.sh"
FTLS_TLSMAPS=${FTLS_TLSMAPS:-$1}
EXAMPLES=${2:-${FTLS_EXAMPLES:-}}
sm_world spoof-sendmail

# leading-ws (a message whose first line starts with a space: no header line at all)
# once hung Sendmail for its T=R: timeout: Sendmail sends it as DATA then body, which
# libmilter could not follow while forcetls-milter negotiated SMFIP_NOEOH.
spoof_plan
spoof_send_all
# Sendmail refuses whole: a bare LF or CR in a header (421 4.5.0 "Bare linefeed (LF) /
# carriage return (CR) not allowed") and a header section over MaxHeadersLength (552 5.6.0
# "Headers too large (32768 max)").
spoof_check sendmail bare-eol huge

sm_wait_log 'to=<?sp-forced-try@forced-plain\.test>?.*stat=Deferred' 30 ||
	e2e_fail "forced-plain.test with spoofed Try headers: not deferred"
sm_log_grep 'ruleset=tls_rcpt, arg1=<?sp-forced-try@forced-plain\.test>?, .*reject=454 4\.7\.0' >/dev/null ||
	e2e_fail "maillog: the deferral is not tls_rcpt's 454 4.7.0"
sm_queue_has sp-forced-try@forced-plain.test || e2e_fail "the spoofed-Try message is not in Sendmail's queue"
[ "$(sm_queue_count)" -eq 1 ] || e2e_fail "Sendmail's queue holds $(sm_queue_count) messages, expected 1"
sm__sendmail -C "$SM_CF" -bp -qQ 2>&1 | grep -q 'sp-' && e2e_fail "a spoofed message is quarantined"
mw_milter_said 'result=defer' && e2e_fail "the milter deferred a message"
sm_finish
