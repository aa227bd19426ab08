#!/bin/bash
# t-spoof-postfix.sh - header spoofing from inbound and internal clients through a real
# Postfix with forcetls-milter (the milter world of t-milter-outbound.sh): every header
# the milter owns or trusts, in every variant of tests/e2e/spoof-variants.py (name case,
# value spellings, folding over 2 and 3 lines, bare LF, blanks before the colon, RFC 2047
# words, empty values, NUL and 8-bit bytes, 2/10/65/1000 copies, first/middle/last).
#
# usage: t-spoof-postfix.sh TLSMAPS [EXAMPLES_DIR]
#
# Proves, judged by what the receivers stored:
#   - from the inbound client (to open-plain.test): no copy of X-TLSLevel, X-Encrypt,
#     X-Encrypt-Status, X-Decrypt, X-Decrypt-Status, X-TLS-Backup, TLS-Required arrives;
#   - from the internal client to forced-tls.test: exactly the milter's "X-TLSLevel:
#     Require", first, over TLS, and none of the client's copies of any of them;
#   - from the internal client to open-tls.test, with every spoofed status, trigger and
#     backup header: exactly "X-TLSLevel: Try", first (a spoofed failure forces nothing,
#     a spoofed trigger routes nothing, a spoofed backup header is gone);
#   - from the gateway (milter.gateway_networks) to open-tls.test: its exact
#     "X-Encrypt-Status: failure" among every variant of every header, its success
#     header in every spelling included: exactly "X-TLSLevel: Require", first, over TLS
#     (on_encrypt_failure "tls": no success copy releases the failure), no trigger,
#     backup, TLS-Required or other X-TLSLevel copy (its status headers are its own);
#   - every "X-TLSLevel: Try" variant on mail to forced-plain.test (MX without STARTTLS)
#     still ends in Require: deferred 4.7.4, queued, never delivered in clear;
#   - the gateway gets nothing, nothing is held, the milter survives.
# Prints "SPOOF mta=postfix header=H variant=F sent=N survived=0" per header and family.
set -u
MILTER_WORLD_ONLY=1 . "$(dirname "$0")/t-milter-outbound.sh"
. "$E2E_LIB_DIR/lib-spoof.sh"
EXAMPLES=${2:-${FTLS_EXAMPLES:-}}
milter_world spoof-postfix

spoof_plan inbound internal open gateway
spoof_send_all
spoof_check postfix

e2e_wait_deferred sp-forced-try@forced-plain.test 30 '4\.7\.4' ||
	e2e_fail "forced-plain.test with spoofed Try headers: not deferred 4.7.4"
e2e_log_grep 'milter-header-filter: header X-TLSLevel: Require .*to=<sp-forced-try@forced-plain\.test>.*: forcetls-require:$' >/dev/null ||
	e2e_fail "maillog: the spoofed-Try message was not routed to forcetls-require"
e2e_queue_has sp-forced-try@forced-plain.test || e2e_fail "the spoofed-Try message is not queued"
e2e_queue_has sp-forced-try@forced-plain.test hold && e2e_fail "the spoofed-Try message is held"
[ "$(e2e_queue_count)" -eq 1 ] || e2e_fail "queue holds $(e2e_queue_count) messages, expected 1"
mw_milter_said 'result=defer' && e2e_fail "the milter deferred a message"
mw_finish
