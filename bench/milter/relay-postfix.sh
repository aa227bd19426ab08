#!/bin/bash
# bench/milter/relay-postfix.sh - forcetls-milter's relay mode against header mode in a
# real Postfix (issue 9, "Benchmarks"): flagged messages per second at 2 KB and 1 MB in
# the same run, and the milter's memory while it relays 20 parallel 50 MB messages.
# Results are not asserted.
#
#   relay-postfix.sh BUILD_DIR [rate] [rss]     (default: both)
#
# The world is bench-lib.sh's (a netns, a private Postfix on 127.0.0.25:25, smtp-sink on
# 127.0.0.2:25) plus the encryption gateway: a second smtpd service of the same Postfix on
# 127.0.0.30:10025 with STARTTLS (a certificate of the test CA for gateway.test and
# 127.0.0.30) that hands every message before the queue (smtpd_proxy_filter) to smtp-sink:
# a STARTTLS sink that writes nothing to disk. (smtp-sink has no TLS; aiosmtpd, the e2e
# receiver, is slower: GATEWAY=aiosmtpd runs the same on it, e2e_receiver --starttls.)
# Messages (smtp-source -F, "Subject: [encrypt] bench", from 127.0.0.1: outbound,
# flagged) go to RCPT.
#   header  routing = "header": Postfix routes on the milter's X-Encrypt: yes with
#           examples/postfix/forcetls_milter_header_checks (FILTER forcetls-gateway:
#           [127.0.0.30]:10025) and master.cf.forcetls's forcetls-gateway (TLS encrypt).
#   relay   routing = "relay": the milter delivers to relay_gateways [127.0.0.30]:10025
#           (STARTTLS, verified against the test CA), Postfix discards its copy.
# Both modes have the same main.cf (milter_header_checks is the FILTER map); only the
# milter's config differs. "accept msg/s" = MESSAGES / wall time of smtp-source; "e2e
# msg/s" = until the gateway has them all (its smtpd logged proxy-accept). REPEAT rounds,
# each runs every size and mode once (after WARMUP messages that prove the path: the
# gateway got them, and in relay mode the milter logged relay=sent and Postfix DISCARD).
#
# rss: 20 sessions send one 50 MB flagged message each (smtp-source -s 20 -m 20), relay
# mode, with relay_spool_threshold 65536 and 16777216; /proc/PID/status of the milter is
# sampled every 0.2 s; the peak VmRSS and the final VmHWM are printed. Every message larger
# than the threshold must have been spooled, none smaller, and the spool directory must be
# empty afterwards (checked).
#
# Environment: SESSIONS (20) MESSAGES_2K (1000) MESSAGES_1M (100) REPEAT (5) WARMUP (50)
#   RSS_SIZE (52428800) RSS_MESSAGES (20) RCPT (rcpt@open.example: no forced domain)
#   MODES ("header relay"; "nomilter" adds Postfix alone, routing the subject to the
#   gateway with header_checks: the ceiling, gateway included, that both modes stay under)
#   GATEWAY (postfix | aiosmtpd) FTLS_MILTER (BUILD_DIR/milter/forcetls-milter) KEEP=1
set -u
BUILD=$(cd "${1:?usage: relay-postfix.sh BUILD_DIR [rate] [rss]}" && pwd) || exit 2
shift
SRC=$(cd "$(dirname "$0")/../.." && pwd)
RCPT=${RCPT:-rcpt@open.example}
. "$SRC/bench/milter/bench-lib.sh"

MESSAGES_2K=${MESSAGES_2K:-1000} MESSAGES_1M=${MESSAGES_1M:-100} REPEAT=${REPEAT:-5}
WARMUP=${WARMUP:-50} RSS_SIZE=${RSS_SIZE:-52428800} RSS_MESSAGES=${RSS_MESSAGES:-20}
GATEWAY=${GATEWAY:-postfix}
read -ra MODES <<<"${MODES:-header relay}"
FTLS_MILTER=${FTLS_MILTER:-$BUILD/milter/forcetls-milter}
GW=127.0.0.30 GW_PORT=10025
PARTS=("$@")
[ ${#PARTS[@]} -gt 0 ] || PARTS=(rate rss)
[ -x "$FTLS_MILTER" ] || { echo "relay-postfix: $FTLS_MILTER not built" >&2; exit 2; }
for t in smtp-source smtp-sink python3; do
	command -v $t >/dev/null || { echo "relay-postfix: $t missing" >&2; exit 2; }
done
case $GATEWAY in postfix | aiosmtpd) ;; *) echo "relay-postfix: GATEWAY=postfix|aiosmtpd" >&2; exit 2 ;; esac

bench_world relaybench "message_size_limit = $((RSS_SIZE + 10485760))" "milter_content_timeout = 300s"
e2e_ns ip addr add $GW/32 dev lo
GWCERT=$(e2e_cert gateway gateway.test $GW) || e2e_fail "cannot make the gateway certificate"
# The gateway's smtpd service and the example's forcetls-gateway transport.
cat >>"$E2E_PF_CONF/master.cf" <<EOF
$GW:$GW_PORT inet n - n - - smtpd
  -o syslog_name=postfix-gw
  -o smtpd_tls_security_level=may
  -o smtpd_tls_cert_file=$GWCERT.pem
  -o smtpd_tls_key_file=$GWCERT.key
  -o smtpd_tls_loglevel=0
  -o smtpd_milters=
  -o smtpd_proxy_filter=$SINK:25
  -o smtpd_proxy_timeout=300s
EOF
awk 'found && /^[ \t]/ { print; next } found { exit } /^forcetls-gateway / { found = 1; print }' \
	"$SRC/examples/postfix/master.cf.forcetls" >>"$E2E_PF_CONF/master.cf"
grep -q '^forcetls-gateway ' "$E2E_PF_CONF/master.cf" || e2e_fail "no forcetls-gateway in master.cf.forcetls"
sed "s/gateway\.example\]:10025/$GW]:$GW_PORT/" "$SRC/examples/postfix/forcetls_milter_header_checks" \
	>"$E2E_WORK/route.regexp"
BENCH_MILTER_CF=("milter_header_checks = regexp:$E2E_WORK/route.regexp")
e2e_postconf "smtpd_client_connection_count_limit = 0" # (a reload: the new master.cf)
if [ "$GATEWAY" = aiosmtpd ]; then
	GW=127.0.0.31
	e2e_receiver $GW $GW_PORT --starttls --name gateway.test
	sed -i "s/127\.0\.0\.30\]/$GW]/" "$E2E_WORK/route.regexp"
	bench_done_count() { e2e_rx_count $GW:$GW_PORT; }
else
	e2e_wait_listen $GW $GW_PORT 20 || e2e_fail "the gateway smtpd is not listening"
	bench_done_count() { e2e_log_count 'postfix-gw/smtpd.*proxy-accept: END-OF-MESSAGE: 250'; }
fi
mkdir -p "$E2E_WORK/spool" && chown postfix:postfix "$E2E_WORK/spool" && chmod 700 "$E2E_WORK/spool"

# conf NAME ROUTING THRESHOLD -> $E2E_WORK/NAME.conf: the example, listen, user, routing
# and the relay settings changed.
conf() {
	awk -v sock="unix:$SOCKDIR/$1.sock" -v routing="$2" -v thr="$3" -v gw="[$GW]:$GW_PORT" \
		-v ca="$E2E_WORK/ca/ca.pem" -v spool="$E2E_WORK/spool" '
		/^milter[ \t]*=[ \t]*\{/ { insec = 1 }
		insec && /^};/ { insec = 0 }
		insec && sub(/^[ \t]*listen[ \t]*=.*/, "  listen = \"" sock "\";") { print; next }
		insec && sub(/^[ \t]*user[ \t]*=.*/, "  user = \"\";") { print; next }
		insec && sub(/^[ \t]*routing[ \t]*=.*/, "  routing = \"" routing "\";") { print; next }
		insec && sub(/^[ \t]*relay_gateways[ \t]*=.*/, "  relay_gateways = [ \"" gw "\" ];") { print; next }
		insec && sub(/^[ \t]*relay_ca_file[ \t]*=.*/, "  relay_ca_file = \"" ca "\";") { print; next }
		insec && sub(/^[ \t]*relay_timeout[ \t]*=.*/, "  relay_timeout = 240;") { print; next }
		insec && sub(/^[ \t]*relay_helo[ \t]*=.*/, "  relay_helo = \"relay.bench.test\";") { print; next }
		insec && sub(/^[ \t]*relay_spool_dir[ \t]*=.*/, "  relay_spool_dir = \"" spool "\";") { print; next }
		insec && sub(/^[ \t]*relay_spool_threshold[ \t]*=.*/, "  relay_spool_threshold = " thr ";") { print; next }
		{ print }' "$SRC/examples/forcetls.conf" >"$E2E_WORK/$1.conf"
	chmod 644 "$E2E_WORK/$1.conf"
	[ "$(grep -cE "^  (listen|user|routing|relay_(gateways|ca_file|timeout|helo|spool_dir|spool_threshold)) = " \
		"$E2E_WORK/$1.conf")" -eq 10 ] || e2e_fail "examples/forcetls.conf: a milter setting is missing"
	"$FTLS_MILTER" --check --config "$E2E_WORK/$1.conf" --table "$SRC/examples/forced-tls.table" \
		>"$E2E_WORK/$1.check" 2>&1 || e2e_fail "forcetls-milter --check $1: $(cat "$E2E_WORK/$1.check")"
}
conf header header 1048576
conf relay relay 1048576
conf rss-64k relay 65536
conf rss-16m relay 16777216

# msg SIZE -> $E2E_WORK/msg-SIZE.eml, flagged by its subject (LF line ends).
msg() {
	/usr/bin/python3 - "$E2E_WORK/msg-$1.eml" "$1" <<'EOF' || e2e_fail "cannot write the bench messages"
import random, sys
path, size = sys.argv[1], int(sys.argv[2])
r = random.Random(9)
head = ("From: Alice <bench@client.test>\nTo: <rcpt@open.example>\nSubject: [encrypt] bench\n"
        "Message-ID: <bench@client.test>\nMIME-Version: 1.0\nContent-Type: text/plain\n\n")
W = "lorem ipsum dolor sit amet consectetur adipiscing elit Angebot Rechnung Termin Bericht".split()
lines = [" ".join(r.choice(W) for _ in range(12))[:70] for _ in range(512)]
out, n, i = [head], len(head) + head.count("\n"), 0  # smtp-source sends CRLF
while n < size:
    l = lines[i % 512][: max(1, size - n - 2)]
    out.append(l + "\n"); n += len(l) + 2; i += 1
open(path, "w").write("".join(out))
EOF
}

start_milter() {
	bench_start_milter "$1" "unix:$SOCKDIR/$1.sock" "$FTLS_MILTER" --foreground \
		--config "$E2E_WORK/$1.conf" --table "$SRC/examples/forced-tls.table"
	sleep 1 # postfix reload: let the old smtpd processes go
}
spool_empty() { [ -z "$(ls -A "$E2E_WORK/spool")" ] || e2e_fail "files left in the spool: $(ls -A "$E2E_WORK/spool")"; }
queue_empty() { [ "$(e2e_queue_count)" -eq 0 ] || e2e_fail "Postfix queued $(e2e_queue_count) message(s)"; }
relayed() { if [ -f "$E2E_WORK/$1.log" ]; then grep -c 'relay=sent' "$E2E_WORK/$1.log" || true; else echo 0; fi; }
# check_round MODE N RELAYED0: the path each of N messages took was MODE's
check_round() {
	local d
	[ "$(e2e_log_count 'warning: milter |fatal|panic')" -eq 0 ] || e2e_fail "milter warnings in the maillog"
	d=$(($(relayed "$1") - $3))
	case $1 in
	header | nomilter) [ "$d" -eq 0 ] || e2e_fail "$1: the milter relayed $d messages" ;;
	*) [ "$d" -eq "$2" ] || e2e_fail "$1: the milter relayed $d of $2 messages" ;;
	esac
	e2e_wait_until 60 queue_empty_q || e2e_fail "Postfix still has $(e2e_queue_count) message(s) queued"
	spool_empty
}
queue_empty_q() { [ "$(e2e_queue_count)" -eq 0 ]; }

# nomilter: Postfix alone routes the flagged subject to the gateway (header_checks FILTER)
mode_start() {
	if [ "$1" = nomilter ]; then
		e2e_postconf "header_checks = regexp:$E2E_WORK/subject.regexp"
		sleep 1
	else
		start_milter "$1"
	fi
}
mode_stop() {
	if [ "$1" = nomilter ]; then e2e_postconf "header_checks ="; else bench_stop_milter "$1"; fi
}

part_rate() {
	printf '%s\n' "/^Subject: \\[encrypt\\]/ FILTER forcetls-gateway:[$GW]:$GW_PORT" >"$E2E_WORK/subject.regexp"
	msg 2048
	msg 1000000
	ls -l "$E2E_WORK"/msg-*.eml >&2
	declare -gA ACC E2E
	local round size n mode r0 a e
	for round in $(seq "$REPEAT"); do
		for size in 2048 1000000; do
			[ $size = 2048 ] && n=$MESSAGES_2K || n=$MESSAGES_1M
			for mode in "${MODES[@]}"; do
				mode_start $mode
				r0=$(relayed $mode)
				d0=$(e2e_log_count 'milter triggers DISCARD action')
				bench_run "$WARMUP" -F "$E2E_WORK/msg-$size.eml" >/dev/null
				check_round $mode "$WARMUP" "$r0"
				d=$(($(e2e_log_count 'milter triggers DISCARD action') - d0))
				if [ $mode = relay ]; then
					[ "$d" -eq "$WARMUP" ] || e2e_fail "relay: Postfix discarded $d of $WARMUP"
				else
					[ "$d" -eq 0 ] || e2e_fail "header: Postfix discarded $d messages"
					[ "$(e2e_log_count "relay=$GW\\[.*status=sent" )" -ge "$WARMUP" ] ||
						e2e_fail "header: the messages did not go through Postfix to the gateway"
				fi
				r0=$(relayed $mode)
				read -r a e < <(bench_run "$n" -F "$E2E_WORK/msg-$size.eml")
				check_round $mode "$n" "$r0"
				a=$(echo "$n / $a" | bc -l) e=$(echo "$n / $e" | bc -l)
				ACC[$mode.$size]+="$a " E2E[$mode.$size]+="$e "
				e2e_log "$mode $size round $round: accept $(printf %.1f "$a") msg/s, e2e $(printf %.1f "$e") msg/s"
				mode_stop $mode
			done
		done
	done
	echo
	echo "Postfix + forcetls-milter, flagged messages to a STARTTLS gateway ($GATEWAY)," \
		"smtp-source -s $SESSIONS, $REPEAT rounds, median"
	printf '%-8s %8s %8s %8s   %s\n' mode size accept e2e "(e2e msg/s of each round)"
	for size in 2048 1000000; do
		for mode in "${MODES[@]}"; do
			[ -n "${ACC[$mode.$size]:-}" ] || e2e_fail "$mode $size: no figure"
			# shellcheck disable=SC2086
			printf '%-8s %8s %8.1f %8.1f   (%s)\n' $mode $size \
				"$(printf '%s\n' ${ACC[$mode.$size]} | median)" "$(printf '%s\n' ${E2E[$mode.$size]} | median)" \
				"$(printf '%.1f ' ${E2E[$mode.$size]})"
		done
	done
}

# sample PID OUT: VmRSS and VmHWM (kB) of PID every 0.2 s into OUT until PID is gone
sample() {
	while [ -r "/proc/$1/status" ]; do
		awk -v t="$(date +%s.%N)" '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } END { if (r) print t, r, h }' \
			"/proc/$1/status" >>"$2" 2>/dev/null
		sleep 0.2
	done
}

part_rss() {
	msg "$RSS_SIZE"
	ls -l "$E2E_WORK/msg-$RSS_SIZE.eml" >&2
	local cfg pid r0 t a peak hwm base thr
	local -a OUT=()
	for cfg in rss-64k rss-16m; do
		start_milter $cfg
		pid=$(e2e_pid $cfg)
		[ "$(cat "/proc/$pid/comm")" = forcetls-milter ] || e2e_fail "$cfg: pid $pid is not the milter"
		base=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
		r0=$(relayed $cfg)
		sample "$pid" "$E2E_WORK/$cfg.rss" &
		t=$!
		read -r a _ < <(SESSIONS=$RSS_MESSAGES bench_run "$RSS_MESSAGES" -F "$E2E_WORK/msg-$RSS_SIZE.eml")
		check_round $cfg "$RSS_MESSAGES" "$r0"
		thr=$(sed -n 's/^  relay_spool_threshold = \([0-9]*\);/\1/p' "$E2E_WORK/$cfg.conf")
		if [ "$RSS_SIZE" -gt "$thr" ]; then
			[ "$(grep -c 'relay=sent .*spooled=yes' "$E2E_WORK/$cfg.log")" -eq "$RSS_MESSAGES" ] ||
				e2e_fail "$cfg: not every message was spooled"
		else
			! grep -q 'spooled=yes' "$E2E_WORK/$cfg.log" || e2e_fail "$cfg: a message under the threshold was spooled"
		fi
		hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
		kill "$t" 2>/dev/null
		wait "$t" 2>/dev/null
		peak=$(awk '$2 > m { m = $2 } END { print m }' "$E2E_WORK/$cfg.rss")
		OUT+=("$(printf '%-8s %10s %10s %10s %8.1f %8s' $cfg "$base" "$peak" "$hwm" "$a" \
			"$(wc -l <"$E2E_WORK/$cfg.rss")")")
		e2e_log "${OUT[-1]}"
		bench_stop_milter $cfg
	done
	[ ${#OUT[@]} -eq 2 ] || e2e_fail "rss: no figure"
	echo
	echo "forcetls-milter relay mode, $RSS_MESSAGES parallel messages of $RSS_SIZE bytes (smtp-source" \
		"-s $RSS_MESSAGES -m $RSS_MESSAGES), VmRSS sampled every 0.2 s (kB)"
	printf '%-8s %10s %10s %10s %8s %8s\n' config idle-rss peak-rss VmHWM seconds samples
	printf '%s\n' "${OUT[@]}"
}

for p in "${PARTS[@]}"; do
	case $p in
	rate) part_rate ;;
	rss) part_rss ;;
	*) e2e_fail "unknown part $p (rate, rss)" ;;
	esac
done
e2e_pass
