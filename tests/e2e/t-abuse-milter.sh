#!/bin/bash
# t-abuse-milter.sh - hostile input against the live forcetls-milter (issue 11): through a
# real Postfix (the milter world of t-milter-outbound.sh) and directly on its socket.
#
# usage: t-abuse-milter.sh TLSMAPS [EXAMPLES_DIR]
#
# Each case prints "ABUSE case=NAME reply=WHAT others_ok=yes rss_kb_before=N after=M":
# the reply the abuser got, whether a well-behaved message sent during (or right after)
# the case was accepted and marked (X-TLSLevel: Require first, delivered over TLS to
# forced-tls.test), and the milter's VmRSS before and after (at most AB_RSS_SLACK_KB more).
#
# Proves, through Postfix (message_size_limit raised to 64 MB so that the 50 MB body
# reaches the milter; every other limit is Postfix's default):
#   - 10,000 headers, 1,000 of them a client's "X-TLSLevel: Try": 250, delivered with
#     exactly one X-TLSLevel, Require, first, and all 9,000 others;
#   - a 1 MB header line: 250 (Postfix cuts the header at header_size_limit, 100 KiB),
#     delivered and marked;
#   - a 50 MB body to forced-plain.test (MX without STARTTLS): 250, queued with
#     X-TLSLevel: Require first, deferred 4.7.4, never in clear; a normal message sent
#     while it goes through is delivered and marked;
#   - NUL, non-UTF-8 bytes, bare CR (a forged "X-Encrypt-Status" behind it) in header
#     values: 250, exactly one X-TLSLevel (Require, first), no X-Encrypt-Status;
# and directly on the milter's socket (abuse-milter.py), with Postfix served meanwhile:
#   - garbage and oversized packet lengths (HTTP, 2^32-1, 2^31-1, 1 MiB + 1, 0), an
#     unknown command, commands out of order, short and unterminated packets: a close
#     or silence, then a clean close after the client's;
#   - 4 clients sending OPTNEG one byte a second; 4 clients flooding headers that never
#     read the replies (libmilter stops reading once its replies back up).
# Every line of the milter's log stays one line of printable ASCII.
set -u
MILTER_WORLD_ONLY=1 . "$(dirname "$0")/t-milter-outbound.sh"
EXAMPLES=${2:-${FTLS_EXAMPLES:-}}
AB_PY=$(cd "$(dirname "$0")" && pwd)/abuse-milter.py
AB_RSS_SLACK_KB=65536 # generous: "bounded", not "small"
F=alice@corp.e2e.test
AB_N=0

milter_world abuse-milter
e2e_postconf "message_size_limit = 64000000" || e2e_fail "postconf message_size_limit"

# ab_rss: the milter's VmRSS in kB.
ab_rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$(e2e_pid milter)/status"; }

# ab_marked FILE: exactly one X-TLSLevel, Require, and it is the first header.
ab_marked() {
	[ "$(mw_hcount "$1" X-TLSLevel)" = 1 ] && mw_hfirst "$1" | grep -qix 'X-TLSLevel: Require'
}

# ab_normal: a well-behaved message to forced-tls.test, accepted, delivered, marked.
ab_normal() {
	local rcpt f
	AB_N=$((AB_N + 1))
	rcpt=ok$AB_N@forced-tls.test
	mw_send_internal $F "$rcpt" || return 1
	e2e_wait_until 60 mw_rx_one "$MW_RX_TLS" "$rcpt" >/dev/null || return 1
	f=$(mw_rx_one "$MW_RX_TLS" "$rcpt") && ab_marked "$f" && e2e_assert_tls "$MW_RX_TLS" "$rcpt"
}

# ab_report CASE REPLY OTHERS BEFORE: the summary line; fails on others or memory.
ab_report() {
	local after
	e2e_running milter || e2e_fail "$1: forcetls-milter died"
	after=$(ab_rss)
	echo "ABUSE case=$1 reply=$2 others_ok=$3 rss_kb_before=$4 after=$after"
	[ "$3" = yes ] || e2e_fail "$1: a well-behaved message was not accepted and marked"
	[ $((after - $4)) -lt $AB_RSS_SLACK_KB ] || e2e_fail "$1: VmRSS grew from $4 to $after kB"
}

# ab_others: AB_OK=yes when ab_normal passed, else no (no subshell: the counters go on).
ab_others() {
	AB_OK=no
	if ab_normal; then AB_OK=yes; fi
}

# ab_reply: the last swaks transcript's reply to the end of data.
ab_reply() {
	grep -E '^<[-~]* +[0-9]{3} ' "$E2E_SWAKS_LOG" | tail -2 | head -1 |
		sed -E 's/^<[-~]* +//; s/:? *queued as .*//; s/ /_/g' | cut -c1-40
}

# --- through Postfix -------------------------------------------------------------------

# 10,000 headers, every tenth a client's X-TLSLevel: Try.
M=$W/headers10k.eml
awk 'BEGIN { for (i = 1; i <= 10000; i++)
	if (i % 10 == 0) print "X-TLSLevel: Try"; else printf "X-Junk-%d: value %d\n", i, i
	print ""; print "10,000 headers." }' >"$M"
before=$(ab_rss)
mw_send_internal $F many@forced-tls.test --data "@$M" --suppress-data ||
	e2e_fail "10,000 headers: not accepted ($(ab_reply))"
reply=$(ab_reply)
e2e_wait_until 60 mw_rx_one "$MW_RX_TLS" many@forced-tls.test >/dev/null || e2e_fail "10,000 headers: not delivered"
f=$(mw_rx_one "$MW_RX_TLS" many@forced-tls.test)
ab_marked "$f" || e2e_fail "10,000 headers: not one X-TLSLevel: Require first"
[ "$(mw_headers "$f" | grep -c '^X-Junk-')" = 9000 ] || e2e_fail "10,000 headers: X-Junk headers lost"
ab_others
ab_report headers_10000 "$reply,delivered,one_Require_first,1000_Try_gone" "$AB_OK" "$before"

# One header line of 1 MB.
M=$W/header1m.eml
{
	printf 'X-Big: '
	head -c 1048576 /dev/zero | tr '\0' a
	printf '\n\nA 1 MB header line.\n'
} >"$M"
before=$(ab_rss)
mw_send_internal $F bigheader@forced-tls.test --data "@$M" --suppress-data ||
	e2e_fail "1 MB header: not accepted ($(ab_reply))"
reply=$(ab_reply)
e2e_wait_until 60 mw_rx_one "$MW_RX_TLS" bigheader@forced-tls.test >/dev/null || e2e_fail "1 MB header: not delivered"
f=$(mw_rx_one "$MW_RX_TLS" bigheader@forced-tls.test)
ab_marked "$f" || e2e_fail "1 MB header: not one X-TLSLevel: Require first"
big=$(mw_headers "$f" | grep '^X-Big:' | wc -c)
ab_others
ab_report header_1MB "$reply,delivered,marked,X-Big_cut_to_${big}B" "$AB_OK" "$before"

# A 50 MB body to a forced domain whose MX has no STARTTLS, a normal message meanwhile.
M=$W/body50m.eml
{
	printf 'X-Abuse: 50 MB body\n\n'
	head -c $((50 * 1024 * 1024)) /dev/zero | tr '\0' b | fold -w 76
} >"$M"
before=$(ab_rss)
mw_send_internal $F huge@forced-plain.test --data "@$M" --suppress-data &
huge=$!
E2E_SENT=$((E2E_SENT + 1)) # the background send's number: its transcript is its own
huge_log=$W/swaks/$E2E_SENT.log
ab_others
others=$AB_OK
wait $huge || e2e_fail "50 MB body: not accepted ($(E2E_SWAKS_LOG=$huge_log ab_reply))"
reply=$(E2E_SWAKS_LOG=$huge_log ab_reply)
e2e_wait_deferred huge@forced-plain.test 60 '4\.7\.4' || e2e_fail "50 MB body: not deferred 4.7.4"
id=$(e2e_queue_json | grep -F '"address": "huge@forced-plain.test"' | head -1 |
	sed -n 's/.*"queue_id": "\([0-9A-Za-z]*\)".*/\1/p')
[ -n "$id" ] || e2e_fail "50 MB body: not queued"
timeout 20 ip netns exec "$E2E_NS" postcat -c "$E2E_PF_CONF" -h -q "$id" >"$W/huge.hdr" 2>/dev/null
ab_marked "$W/huge.hdr" || e2e_fail "50 MB body: the queued copy is not marked"
[ "$(e2e_rx_count "$MW_RX_PLAIN")" = 0 ] || e2e_fail "50 MB body: the plain MX got mail"
ab_report body_50MB "$reply,queued_marked,deferred_4.7.4" "$others" "$before"

# NUL, non-UTF-8 bytes and bare CR in header values.
M=$W/bytes.eml
printf 'X-Nul: before\0after\nX-Bin: \377\376\300\257 caf\351\nX-TLSLevel: Try\rX-Encrypt-Status: success\nX-TLSLevel: Tr\0y\nX-Enc: a\rX-TLSLevel: Try\n\nbody\n' >"$M"
before=$(ab_rss)
mw_send_internal $F bytes@forced-tls.test --data "@$M" --suppress-data ||
	e2e_fail "bytes in headers: not accepted ($(ab_reply))"
reply=$(ab_reply)
e2e_wait_until 60 mw_rx_one "$MW_RX_TLS" bytes@forced-tls.test >/dev/null || e2e_fail "bytes in headers: not delivered"
f=$(mw_rx_one "$MW_RX_TLS" bytes@forced-tls.test)
ab_marked "$f" || e2e_fail "bytes in headers: not one X-TLSLevel: Require first"
tr '\r' '\n' <"$f" | grep -qi '^X-Encrypt-Status' && e2e_fail "bytes in headers: a forged X-Encrypt-Status arrived"
ab_others
ab_report bytes_in_headers "$reply,delivered,marked,no_forged_status" "$AB_OK" "$before"

# --- directly on the milter's socket ------------------------------------------------------

before=$(ab_rss)
e2e_ns timeout 100 python3 "$AB_PY" "$MW_MILTER_SOCK" slow 4 >"$W/slow.out" 2>&1 &
slow=$!
e2e_ns timeout 150 python3 "$AB_PY" "$MW_MILTER_SOCK" frames >"$W/frames.out" 2>&1 &
frames=$!
ab_others
others=$AB_OK
wait $frames || e2e_fail "frames: $(cat "$W/frames.out")"
ab_report garbage_frames "$(sed -n 's/^reply=//p' "$W/frames.out")" "$others" "$before"
ab_others
others=$AB_OK
wait $slow || e2e_fail "slow clients: $(cat "$W/slow.out")"
ab_report slow_1byte_per_s_x4 "$(sed -n 's/^reply=//p' "$W/slow.out")" "$others" "$before"

before=$(ab_rss)
e2e_ns timeout 100 python3 "$AB_PY" "$MW_MILTER_SOCK" noread 4 10 >"$W/noread.out" 2>&1 &
noread=$!
sleep 2
ab_others
others=$AB_OK
wait $noread || e2e_fail "never-reading clients: $(cat "$W/noread.out")"
ab_report never_read_x4 "$(sed -n 's/^reply=//p' "$W/noread.out")" "$others" "$before"
cat "$W/frames.out" "$W/slow.out" "$W/noread.out" | grep -v '^reply=' | sed 's/^/    /' >&2

# After all that, the next message is still served, and the log is one line per event.
ab_normal || e2e_fail "the milter no longer serves Postfix"
bad=$(grep -cvaE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8} forcetls-milter: [ -~]*$' "$W/milter.log")
[ "$bad" = 0 ] || e2e_fail "milter.log: $bad lines are not one line of printable ASCII"
mw_finish
