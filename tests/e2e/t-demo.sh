#!/bin/bash
# t-demo.sh - the README's first command, scripts/demo, run as ctest e2e.demo: it skips
# install and build (--no-install, the programs under test from the environment), and
# its rows (--rows, one per message, derived by the demo from the maillog, the queue, the
# receivers' stored messages and the daemons' logs) are checked against what the example
# table and examples/postfix/ must produce. Then that the demo left nothing behind.
#
# usage: t-demo.sh TLSMAPS [EXAMPLES_DIR]   (FTLS_POLICYD and FTLS_MILTER in the environment)
#
# Proves, with the shipped examples/forced-tls.table, examples/forcetls.conf and
# examples/postfix/ lines in a real Postfix:
#   - an unlisted domain is delivered opportunistically (X-TLSLevel: Try, TLS, NOTFOUND);
#   - a forced domain with a STARTTLS MX: X-TLSLevel: Require, the forcetls-require
#     transport, delivered over TLS, decided by its table line;
#   - a forced domain whose MX lacks STARTTLS: deferred 4.7.x and still queued;
#   - a domain forced only by the network entry that covers its MX: deferred, the
#     decision names the network entry and the MX address;
#   - an [encrypt] subject goes to the gateway (forcetls-gateway, over TLS), by the
#     milter's subject_tag rule and the header_checks line;
#   - a `may` exception under a forced parent is delivered in clear;
#   - a clear-text client from a forced inbound range is refused with 4xx, nothing queued
#     for it, and the decision names the range's table line;
#   - the demo removes its network namespace, /etc/netns entry, work dir and
#     alternate_config_directories entry.
set -u
TLSMAPS=${1:?usage: t-demo.sh TLSMAPS [EXAMPLES_DIR]}
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
EXAMPLES=${2:-$TOP/examples}
T0=$(date +%s)
fail() {
	echo "FAIL: demo: $*" >&2
	[ -f "${OUT:-}" ] && { echo "--- scripts/demo output"; cat "$OUT"; } >&2
	[ -f "${ROWS:-}" ] && { echo "--- rows"; cat "$ROWS"; } >&2
	exit 1
}
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (scripts/demo builds a netns world)"; exit 77; }
[ -x "$TLSMAPS" ] || fail "$TLSMAPS: not executable"
[ -n "${FTLS_POLICYD:-}" ] && [ -x "$FTLS_POLICYD" ] || { echo "SKIP: FTLS_POLICYD not built"; exit 77; }
[ -n "${FTLS_MILTER:-}" ] && [ -x "$FTLS_MILTER" ] || { echo "SKIP: FTLS_MILTER not built"; exit 77; }
[ "$EXAMPLES" -ef "$TOP/examples" ] || fail "scripts/demo uses $TOP/examples, not $EXAMPLES"
BUILD=$(cd "$(dirname "$TLSMAPS")/../.." && pwd)
export FTLS_TLSMAPS=$TLSMAPS FTLS_POLICYD FTLS_MILTER

TMP=$(mktemp -d /tmp/ftls-t-demo-XXXXXX) || exit 1
trap 'rm -rf "$TMP"' EXIT
OUT=$TMP/out ROWS=$TMP/rows

# Run it: its own EXIT trap tears its world down, also on timeout's TERM. Its pid (exec
# keeps it) names its netns, ftls-demo-PID.
timeout -k 10 150 bash -c 'echo $$ >"$0" && exec "$@"' "$TMP/pid" \
	"$TOP/scripts/demo" --no-install "$BUILD" --rows "$ROWS" >"$OUT" 2>&1
rc=$?
pid=$(cat "$TMP/pid")
[ $rc -eq 77 ] && { cat "$OUT"; exit 77; }
[ $rc -eq 0 ] || fail "scripts/demo exited $rc"
cat "$OUT"

# --- it cleaned up after itself ----------------------------------------------------------
ip netns list 2>/dev/null | grep -q "^ftls-demo-$pid\b" && fail "netns ftls-demo-$pid left behind"
[ -e "/etc/netns/ftls-demo-$pid" ] && fail "/etc/netns/ftls-demo-$pid left behind"
for d in /tmp/ftls-e2e-demo-*; do
	[ -f "$d/owner" ] && [ "$(cat "$d/owner")" = "$pid" ] && fail "work dir $d left behind"
done
for d in $(postconf -c /etc/postfix -h alternate_config_directories 2>/dev/null | tr ', ' '\n\n'); do
	case $d in /tmp/ftls-e2e-demo-*) [ -d "$d" ] || fail "alternate_config_directories still lists $d" ;; esac
done

# --- the rows ----------------------------------------------------------------------------
# Table lines come from the example table itself, so an edit there does not break this.
tline() {
	local n
	n=$(awk -v k="$1" '$1 == k { print NR; exit }' "$EXAMPLES/forced-tls.table")
	[ -n "$n" ] || fail "examples/forced-tls.table has no entry $1"
	echo "forced-tls.table:$n"
}
# check RCPT FIELD ERE: field 2 X-TLSLevel, 3 route, 4 outcome code, 5 outcome, 6 decided by
check() {
	local row val
	row=$(awk -F'\t' -v r="$1" '$1 == r' "$ROWS")
	[ "$(printf '%s\n' "$row" | grep -c .)" -eq 1 ] || fail "$1: expected one row, got: $row"
	val=$(printf '%s\n' "$row" | cut -f"$2")
	printf '%s\n' "$val" | grep -Eq -- "$3" || fail "$1: field $2 is '$val', expected /$3/"
}
ere() { printf '%s' "$1" | sed 's/[][\.*^$+?(){}|/]/\\&/g'; }

[ "$(grep -c . "$ROWS")" -eq 7 ] || fail "expected 7 rows"

r=ann@unlisted.example
check $r 2 '^Try$'
check $r 3 '^smtp -> mx\.unlisted\.example\[127\.0\.0\.3\]:25$'
check $r 4 '^tls$'
check $r 5 '^delivered over TLS \(TLSv1\.[23]\)$'
check $r 6 '^no entry for unlisted\.example \(NOTFOUND\)'

r=treasury@bigbank.example
check $r 2 '^Require$'
check $r 3 '^forcetls-require -> mail\.bigbank\.example\[127\.0\.0\.3\]:25$'
check $r 4 '^tls$'
check $r 6 "^$(ere "$(tline bigbank.example)") bigbank\.example -> encrypt \[policyd; milter: Require by $(ere "$(tline bigbank.example)") bigbank\.example\]$"

r=claims@insurer.example
check $r 2 '^Require$'
check $r 3 '^forcetls-require -> mx\.insurer\.example\[127\.0\.0\.2\]:25$'
check $r 4 '^deferred$'
check $r 5 '^deferred 4\.7\.4 \(TLS is required, but was not offered\), still queued$'
check $r 6 "^$(ere "$(tline insurer.example)") insurer\.example -> encrypt protocols=>=TLSv1\.2 "

r=office@smallco.example
check $r 3 '^smtp -> mx\.smallco\.example\[198\.51\.100\.25\]:25$'
check $r 4 '^deferred$'
check $r 5 '^deferred 4\.7\.4 .*, still queued$'
check $r 6 "^$(ere "$(tline 198.51.100.0/24)") 198\.51\.100\.0/24 via 198\.51\.100\.25 -> encrypt \[policyd\]"

r=hr@unlisted.example
check $r 3 '^forcetls-gateway -> gateway\.example\[127\.0\.0\.10\]:10025$'
check $r 4 '^gateway$'
check $r 5 '^at the gateway \(TLSv1\.[23]\)$'
hc=$(grep -n '^/\^X-Encrypt:' "$EXAMPLES/postfix/forcetls_milter_header_checks" | head -1 | cut -d: -f1)
check $r 6 "^milter subject_tag -> X-Encrypt: yes -> forcetls_milter_header_checks:$hc$"

r=ops@legacy.bigbank.example
check $r 2 '^Try$'
check $r 3 '^smtp -> old-mx\.bigbank\.example\[127\.0\.0\.2\]:25$'
check $r 4 '^clear$'
check $r 6 "^$(ere "$(tline legacy.bigbank.example)") legacy\.bigbank\.example -> may \[policyd\]$"

r=it@corp.test
check $r 2 '^-$'
check $r 3 '^client 203\.0\.113\.77 -> Postfix, in clear$'
check $r 4 '^refused$'
check $r 5 '^refused 4[0-9][0-9] 4\.7\.[0-9]+ .* at (MAIL FROM|RCPT TO)$'
check $r 6 "^$(ere "$(tline '203.0.113.*')") 203\.0\.113\.0/24 \(encrypt, no TLS\) \[(policyd|milter)\]$"

grep -q '^Still queued: 2 message(s)' "$OUT" || fail "expected 2 messages still queued"
echo "PASS: demo ($(($(date +%s) - T0)) s)"
