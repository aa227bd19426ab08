#!/bin/bash
# run-sendmail-rules.sh - the compiled access map, judged by Sendmail's own rulesets.
#
# usage: run-sendmail-rules.sh TLSMAPS SRCDIR WORKDIR
#
# Builds a sendmail.cf from the real cf/m4 files with FEATURE(`access_db')
# and FEATURE(`lookupdotdomain'), loads the compiled sendmail.tbl with
# makemap, and for every probe of sendmail.probes runs "sendmail -bt" with
# the ruleset Sendmail calls (tls_rcpt, tls_server, tls_client) and the
# macros it sets. The requirement the ruleset hands to TLS_connection is
# compared with the expected one; for rcpt probes and "lib" probes that is
# what tlsmaps lookup answers, mapped as tlsmaps_sendmail.c maps levels.
# The helpers are in sendmail-lib.sh.
# Exit 77 (skipped) when m4, unshare or a runnable sendmail binary is missing.
set -u
tlsmaps=$1 src=$2
. "$src/sendmail-lib.sh"
sm_setup "$3/sendmail-rules"
printf 'hosts files\naliases files\n' >"$work/service.switch"
sm_cf test "hash -T<TMPF> $work/access" ""

cd "$src" || exit 1
"$tlsmaps" compile --format sendmail-access sendmail.tbl >"$work/access.txt" 2>/dev/null
"$makemap" -C "$work/test.cf" hash "$work/access" <"$work/access.txt" || bad "makemap failed"
sm_probes "$work/test.cf" sendmail.tbl sendmail.probes
[ $fail -eq 0 ] && echo "PASS: sendmail rulesets: $probes_run probes"
exit $fail
