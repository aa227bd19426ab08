#!/bin/bash
# bench/milter/content-postfix.sh - Postfix throughput with forcetls-milter scanning MIME
# bodies, decoding on (mime_decode = true) and off (false), at 2 KB and 100 KB messages,
# in the same run (issue 8, "Benchmarks"; target: decoding costs at most 15% of msg/s
# at 2 KB). Results are not asserted.
#
#   content-postfix.sh BUILD_DIR [CONFIG...]
#
# The world is bench-lib.sh's (tests/e2e/lib.sh): a network namespace of its own,
# a private Postfix on 127.0.0.25:25 relaying everything to smtp-sink on 127.0.0.2:25, the
# example's milter settings. smtp-source -s SESSIONS -m MESSAGES -F FILE sends a
# pre-formatted MIME message (written here, as Thunderbird lays it out):
#   2 KB    multipart/alternative, text/plain quoted-printable + text/html base64
#   100 KB  multipart/mixed, text/plain base64 + an application/pdf base64 attachment
# from 127.0.0.1 (internal: outbound, so the body is scanned) to RCPT (a forced domain:
# the milter inserts X-TLSLevel, which proves in every warm-up that it saw each message).
# forcetls-milter runs on examples/forcetls.conf with listen and user changed and 10 body
# patterns that do not match the messages (so every body is read to its end).
#
# CONFIGs (default: all): none (no milter), ftls-raw (mime_decode = false),
# ftls-decode (mime_decode = true). A milter without mime_decode (before issue 8) runs
# ftls-raw on its defaults, and ftls-decode is skipped.
# Figures: "accept msg/s" = MESSAGES / wall time of smtp-source; "e2e msg/s" = until the
# last message was delivered. REPEAT rounds, each runs every size and config once; medians.
# Environment: SESSIONS (20) MESSAGES_2K (2000) MESSAGES_100K (500) REPEAT (5) WARMUP (200)
#   RCPT (rcpt@insurer.example) FTLS_MILTER (BUILD_DIR/milter/forcetls-milter) KEEP=1
set -u
BUILD=$(cd "${1:?usage: content-postfix.sh BUILD_DIR [CONFIG...]}" && pwd) || exit 2
shift
SRC=$(cd "$(dirname "$0")/../.." && pwd)
. "$SRC/bench/milter/bench-lib.sh"

MESSAGES_2K=${MESSAGES_2K:-2000} MESSAGES_100K=${MESSAGES_100K:-500}
REPEAT=${REPEAT:-5} WARMUP=${WARMUP:-200}
FTLS_MILTER=${FTLS_MILTER:-$BUILD/milter/forcetls-milter}
CONFIGS=("$@")
[ ${#CONFIGS[@]} -gt 0 ] || CONFIGS=(none ftls-raw ftls-decode)
[ -x "$FTLS_MILTER" ] || { echo "content-postfix: $FTLS_MILTER not built" >&2; exit 2; }
for t in smtp-source smtp-sink python3; do
	command -v $t >/dev/null || { echo "content-postfix: $t missing" >&2; exit 2; }
done

bench_world contentbench "message_size_limit = 10240000"

# The messages (LF line ends: smtp-source -F sends each line with CRLF).
/usr/bin/python3 - "$E2E_WORK" <<'EOF' || e2e_fail "cannot write the bench messages"
import base64, quopri, random, sys
r = random.Random(8)
W = "lorem ipsum dolor sit amet consectetur adipiscing elit Angebot Rechnung Termin Bericht".split()
def text(n):
    out, line = [], ""
    while sum(map(len, out)) < n:
        line += r.choice(W) + " "
        if len(line) > 68:
            out.append(line.rstrip() + "\r\n"); line = ""
    return "".join(out)
def b64(data):
    s = base64.b64encode(data).decode()
    return "\n".join(s[i:i + 76] for i in range(0, len(s), 76)) + "\n"
HEAD = ("From: Alice <bench@client.test>\nTo: <rcpt@insurer.example>\nSubject: bench\n"
        "Message-ID: <bench@client.test>\nMIME-Version: 1.0\nUser-Agent: Mozilla Thunderbird\n")
B = "------------mX7cQ2nLk9fWb3Rt0sYpV1aE"
t = text(560)
html = "<html><body><p>" + t.replace("\r\n", "<br>\r\n") + "</p></body></html>\r\n"
small = (HEAD + "Content-Type: multipart/alternative;\n boundary=\"" + B + "\"\n\n"
         "This is a multi-part message in MIME format.\n--" + B + "\n"
         "Content-Type: text/plain; charset=UTF-8; format=flowed\nContent-Transfer-Encoding: quoted-printable\n\n" +
         quopri.encodestring(t.encode()).decode().replace("\r\n", "\n") + "\n--" + B + "\n"
         "Content-Type: text/html; charset=UTF-8\nContent-Transfer-Encoding: base64\n\n" +
         b64(html.encode()) + "\n--" + B + "--\n")
big = (HEAD + "Content-Type: multipart/mixed;\n boundary=\"" + B + "\"\n\n"
       "This is a multi-part message in MIME format.\n--" + B + "\n"
       "Content-Type: text/plain; charset=UTF-8; format=flowed\nContent-Transfer-Encoding: base64\n\n" +
       b64(text(3000).encode()) + "\n--" + B + "\n"
       "Content-Type: application/pdf; name=\"report.pdf\"\nContent-Transfer-Encoding: base64\n"
       "Content-Disposition: attachment; filename=\"report.pdf\"\n\n" +
       b64(bytes(r.getrandbits(8) for _ in range(72000))) + "\n--" + B + "--\n")
for name, m in (("msg-2048.eml", small), ("msg-102400.eml", big)):
    open(sys.argv[1] + "/" + name, "w").write(m)
    print(name, len(m.encode()), "bytes", file=sys.stderr)
EOF

# The milter's configuration: the example, listen and user changed, 10 body patterns,
# mime_decode replaced or added.
PATTERNS='[ "\\\\bCONFIDENTIAL\\\\b", "\\\\bSTRENG VERTRAULICH\\\\b", "account number: \\\\d{4}", "\\\\b[A-Z]{2}\\\\d{2}(?: ?\\\\d{4}){4,7}\\\\b", "\\\\b\\\\d{3}-\\\\d{2}-\\\\d{4}\\\\b", "internal use only", "\\\\bproject (?:falcon|osprey)\\\\b", "(?m)^SECRET-LINE$", "\\\\bGehaltsliste\\\\b", "passport no\\\\.? ?[A-Z0-9]{8}\\\\b" ]'
# conf NAME DECODE(true|false|"") -> $E2E_WORK/NAME.conf
conf() {
	awk -v sock="unix:$SOCKDIR/$1.sock" -v pats="$PATTERNS" -v dec="$2" '
		/^milter[ \t]*=[ \t]*\{/ { insec = 1 }
		insec && /^};/ { if (dec != "" && !done) print "  mime_decode = " dec ";"; insec = 0 }
		insec && /^[ \t]*listen[ \t]*=/ { print "  listen = \"" sock "\";"; next }
		insec && /^[ \t]*user[ \t]*=/ { print "  user = \"\";"; next }
		insec && /^[ \t]*body_patterns[ \t]*=/ { print "  body_patterns = " pats ";"; next }
		insec && /^[ \t]*mime_decode[ \t]*=/ { if (dec != "") print "  mime_decode = " dec ";"; done = 1; next }
		{ print }' "$SRC/examples/forcetls.conf" >"$E2E_WORK/$1.conf"
	chmod 644 "$E2E_WORK/$1.conf"
}
DECODE_OK=1
conf probe false
"$FTLS_MILTER" --check --config "$E2E_WORK/probe.conf" --table "$SRC/examples/forced-tls.table" \
	>"$E2E_WORK/probe.log" 2>&1 || DECODE_OK=0
if [ $DECODE_OK = 1 ]; then
	conf ftls-raw false
	conf ftls-decode true
else
	e2e_log "this milter has no mime_decode (before issue 8): ftls-raw on its defaults, no ftls-decode"
	conf ftls-raw ""
	"$FTLS_MILTER" --check --config "$E2E_WORK/ftls-raw.conf" --table "$SRC/examples/forced-tls.table" \
		>"$E2E_WORK/probe.log" 2>&1 || e2e_fail "forcetls-milter --check: $(cat "$E2E_WORK/probe.log")"
	CONFIGS=("${CONFIGS[@]/ftls-decode/}")
fi
echo '/^X-TLSLevel:/ WARN milter header' >"$E2E_WORK/seen.regexp"

# run N SIZE: send N messages of that size; prints "ACCEPT_SECONDS E2E_SECONDS"
run() { bench_run "$1" -F "$E2E_WORK/msg-$2.eml"; }
start_milter() {
	bench_start_milter "$1" "unix:$SOCKDIR/$1.sock" "$FTLS_MILTER" --foreground \
		--config "$E2E_WORK/$1.conf" --table "$SRC/examples/forced-tls.table"
}
stop_milter() { bench_stop_milter "$@"; }

declare -A ACC E2E
for round in $(seq "$REPEAT"); do
	for size in 2048 102400; do
		[ $size = 2048 ] && n=$MESSAGES_2K || n=$MESSAGES_100K
		for cfg in "${CONFIGS[@]}"; do
			[ -n "$cfg" ] || continue
			case $cfg in
			none) ;;
			ftls-raw | ftls-decode) start_milter "$cfg" ;;
			*) e2e_fail "unknown config $cfg" ;;
			esac
			sleep 1 # postfix reload: let the old smtpd processes go
			w0=$(e2e_log_count ': milter-header-warning: header X-TLSLevel: ')
			run "$WARMUP" $size >/dev/null
			if [ "$cfg" != none ]; then
				w=$(($(e2e_log_count ': milter-header-warning: header X-TLSLevel: ') - w0))
				[ "$w" -eq "$WARMUP" ] || e2e_fail "$cfg: the milter changed $w of $WARMUP messages"
				e2e_postconf "milter_header_checks ="
				sleep 1
			fi
			read -r a e < <(run "$n" $size)
			a=$(echo "$n / $a" | bc -l) e=$(echo "$n / $e" | bc -l)
			ACC[$cfg.$size]+="$a " E2E[$cfg.$size]+="$e "
			e2e_log "$cfg $size round $round: accept $(printf %.0f "$a") msg/s, e2e $(printf %.0f "$e") msg/s"
			if [ "$cfg" != none ]; then
				[ "$(e2e_log_count "warning: milter ")" -eq 0 ] || e2e_fail "milter warnings in the maillog"
				grep -q 'encrypt=yes' "$E2E_WORK/$cfg.log" && e2e_fail "$cfg: a bench message was flagged"
				stop_milter "$cfg"
			fi
		done
	done
done

echo
echo "Postfix + forcetls-milter, MIME messages, smtp-source -s $SESSIONS, $REPEAT rounds, median"
printf '%-12s %7s %8s %8s   %s\n' config size accept e2e "(accept msg/s of each round)"
for size in 2048 102400; do
	for cfg in "${CONFIGS[@]}"; do
		[ -n "$cfg" ] || continue
		# shellcheck disable=SC2086
		printf '%-12s %7s %8.0f %8.0f   (%s)\n' "$cfg" $size \
			"$(printf '%s\n' ${ACC[$cfg.$size]} | median)" "$(printf '%s\n' ${E2E[$cfg.$size]} | median)" \
			"$(printf '%.0f ' ${ACC[$cfg.$size]})"
	done
	if [ -n "${ACC[ftls-raw.$size]:-}" ] && [ -n "${ACC[ftls-decode.$size]:-}" ]; then
		# shellcheck disable=SC2086
		r=$(printf '%s\n' ${ACC[ftls-raw.$size]} | median) d=$(printf '%s\n' ${ACC[ftls-decode.$size]} | median)
		printf '  decoding costs %.1f%% of accept msg/s at %s bytes\n' "$(echo "($r - $d) * 100 / $r" | bc -l)" $size
	fi
done
e2e_pass
