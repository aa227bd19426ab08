#!/bin/bash
# t-milter-content.sh - forcetls-milter in a real Postfix, content rules that see what the
# user wrote (issue 8): messages as Thunderbird writes them, sent through Postfix from the
# internal client. The world is t-milter-outbound.sh's (milter_world), with
# strip_subject_tag = true and body_patterns = [ "CONFIDENTIAL" ] set in the example
# configuration before the daemons start.
#
# usage: t-milter-content.sh TLSMAPS [EXAMPLES_DIR]
#
# Proves:
#   - a Subject that is one RFC 2047 B word in UTF-8, "[encrypt] Gehaltsübersicht 2026"
#     (tests/milter/msgs/e2e-subject-b.eml), reaches the gateway and only the gateway, with
#     X-Encrypt: yes; the Subject the gateway gets is ASCII (a valid header) and decodes
#     (python3 email.header) to "Gehaltsübersicht 2026", the tag stripped;
#   - a multipart/alternative message whose text is base64 (both parts) holding the
#     keyword (msgs/e2e-dlp-b64.eml) reaches the gateway and only the gateway;
#   - a base64 message with an encoded Subject and no keyword (msgs/e2e-plain.eml) goes to
#     the recipient's MX, not to the gateway, with its Subject unchanged;
#   - a Subject of 90,000 blanks and "[encrypt]" (a header packet over libmilter's
#     default 65,535 bytes) reaches the gateway only;
#   - the milter logged which rule decided: subject_tag, body_patterns[0].
set -u
MILTER_WORLD_ONLY=1 . "$(dirname "$0")/t-milter-outbound.sh"
EXAMPLES=${2:-${FTLS_EXAMPLES:-}}
MSGS=$E2E_LIB_DIR/../milter/msgs

mw_world_hook() {
	mw_conf_set "$W/forcetls.conf" milter strip_subject_tag true &&
		mw_conf_set "$W/forcetls.conf" milter body_patterns '[ "CONFIDENTIAL" ]' ||
		e2e_fail "examples/forcetls.conf: strip_subject_tag or body_patterns is not there any more"
	chmod 644 "$W/forcetls.conf" # read as nobody
	"$FTLS_MILTER" --check --config "$W/forcetls.conf" --table "$W/forced-tls.table" \
		>"$W/milter-check.log" 2>&1 || e2e_fail "forcetls-milter --check: $(cat "$W/milter-check.log")"
}
milter_world milter-content

# send_eml FILE RCPT: the message in FILE (CRLF turned into LF for swaks, its own Subject
# given back: e2e_send adds one of its own) from the internal client.
send_eml() {
	local in=$MSGS/$1 out=$W/sent-$1 subj
	[ -f "$in" ] || e2e_fail "$in: missing"
	sed 's/\r$//' "$in" >"$out"
	subj=$(mw_headers "$out" | sed -n 's/^Subject: //Ip' | head -1)
	mw_send_internal alice@corp.e2e.test "$2" --data "@$out" --header "Subject: $subj"
}

# subject_text FILE: the Subject of the stored message, decoded as a mail reader does.
subject_text() {
	/usr/bin/python3 - "$1" <<'EOF'
import email, sys
from email.header import decode_header, make_header
with open(sys.argv[1], "rb") as f:
    m = email.message_from_binary_file(f)
sys.stdout.write(str(make_header(decode_header(m["Subject"]))))
EOF
}

send_eml e2e-subject-b.eml tagged@open-plain.test || e2e_fail "the encoded [encrypt] subject was not accepted"
send_eml e2e-dlp-b64.eml dlp@open-plain.test || e2e_fail "the base64 DLP message was not accepted"
send_eml e2e-plain.eml plain@open-plain.test || e2e_fail "the plain base64 message was not accepted"
# A Subject of 90,000 blanks before the tag: its header packet passes libmilter's
# default 65,535-byte limit, which reset the milter connection (Postfix deferred it).
printf 'Subject: %90000s[encrypt] long\nFrom: alice@corp.e2e.test\n\nbody\n' '' >"$W/sent-long"
mw_send_internal alice@corp.e2e.test long@open-plain.test --data "@$W/sent-long" \
	--header "Subject: $(sed -n 's/^Subject: //p' "$W/sent-long")" ||
	e2e_fail "the message with a 90,000-blank Subject was not accepted"

e2e_wait_delivered $MW_RX_PLAIN 1 30 || e2e_fail "the message without a rule hit was not delivered"
e2e_wait_delivered $MW_GW 3 30 ||
	e2e_fail "the gateway got $(e2e_rx_count $MW_GW) of 3 messages (encoded subject tag, base64 keyword, long subject)"

# 1. The encoded subject: gateway only, tag stripped, still a valid header, decoded right.
f=$(mw_rx_one $MW_GW tagged@open-plain.test) || e2e_fail "gateway: not one message for tagged@"
mw_headers "$f" | sed 's/^/    gateway got: /' >&2
mw_headers "$f" | grep -qix 'X-Encrypt: yes' || e2e_fail "gateway: tagged@ came without X-Encrypt: yes"
raw=$(mw_headers "$f" | grep -i '^Subject:')
LC_ALL=C grep -q '[^ -~]' <<<"$raw" && e2e_fail "gateway: the stripped Subject is not ASCII: $raw"
got=$(subject_text "$f") || e2e_fail "python3 could not decode the Subject: $raw"
[ "$got" = "Gehaltsübersicht 2026" ] ||
	e2e_fail "gateway: the Subject decodes to \"$got\", expected \"Gehaltsübersicht 2026\" ($raw)"

# 2. The base64 keyword: gateway only.
f=$(mw_rx_one $MW_GW dlp@open-plain.test) || e2e_fail "gateway: not one message for dlp@"
mw_headers "$f" | grep -qix 'X-Encrypt: yes' || e2e_fail "gateway: dlp@ came without X-Encrypt: yes"
[ "$(subject_text "$f")" = "Zahlen Dezember" ] || e2e_fail "gateway: dlp@'s Subject changed"

# 3. No rule hit: to the MX, subject as sent.
f=$(mw_rx_one $MW_RX_PLAIN plain@open-plain.test) || e2e_fail "mx.plain.test: not one message for plain@"
[ "$(mw_hcount "$f" X-Encrypt)" = 0 ] || e2e_fail "plain@: has an X-Encrypt header"
[ "$(subject_text "$f")" = "Grüße aus Berlin" ] || e2e_fail "plain@: the Subject changed: $(subject_text "$f")"

# Only there: nothing of the flagged two at the MXes, nothing else at the gateway.
f=$(mw_rx_one $MW_GW long@open-plain.test) || e2e_fail "gateway: not one message for long@"
mw_headers "$f" | grep -qix 'X-Encrypt: yes' || e2e_fail "gateway: long@ came without X-Encrypt: yes"
for r in tagged@open-plain.test dlp@open-plain.test long@open-plain.test; do
	[ -z "$(e2e_rx_file $MW_RX_PLAIN $r)$(e2e_rx_file $MW_RX_TLS $r)" ] || e2e_fail "$r reached a recipient's MX"
done
[ -z "$(e2e_rx_file $MW_GW plain@open-plain.test)" ] || e2e_fail "plain@ reached the gateway"
[ "$(e2e_rx_count $MW_GW)" -eq 3 ] || e2e_fail "gateway got $(e2e_rx_count $MW_GW) messages, expected 3"
[ "$(e2e_rx_count $MW_RX_PLAIN)" -eq 1 ] || e2e_fail "mx.plain.test got $(e2e_rx_count $MW_RX_PLAIN) messages, expected 1"
mw_milter_said 'encrypt=yes \(subject_tag' || e2e_fail "milter.log: no subject_tag decision"
mw_milter_said 'encrypt=yes \(body_patterns\[0\]' || e2e_fail "milter.log: no body_patterns[0] decision"
mw_finish
