#!/bin/bash
# bench/soak/soak.sh - sustained load through a real Postfix with both daemons (issue 11,
# "Sustained load"): memory over time, table reloads under load, every message accounted for.
#
#   soak.sh [--valgrind] BUILD_DIR
#
# The world is bench/milter/bench-lib.sh's (tests/e2e/lib.sh: a netns, a private Postfix on
# 127.0.0.25:25, smtp-sink on 127.0.0.2:25), without the relayhost: Postfix looks up MX
# records (dnsmasq) and is wired with the lines of examples/postfix/ as shipped, as
# scripts/demo part 2 is: main.cf.policyd (smtp_tls_policy_maps on forcetls-policyd's
# socketmap, check_policy_service), main.cf.milter (the milter, milter_header_checks =
# forcetls_milter_header_checks) and master.cf.forcetls. Both daemons run on
# examples/forcetls.conf (table path, user, state files and watch_table changed) with the
# example's listen addresses.
# Receivers: forced domains (bigbank.example, insurer.example) have their MX on 127.0.0.3:25,
# a STARTTLS sink: a second smtpd service of the same Postfix that hands each message
# before the queue (smtpd_proxy_filter) to smtp-sink, as bench/milter/relay-postfix.sh's
# gateway does. Unlisted domains (unlisted.example, open.example) have smtp-sink itself
# (no STARTTLS) as MX. One loop of smtp-source per domain (SESSIONS split between them,
# BATCH messages a run) sends for DURATION seconds, as fast as Postfix accepts.
# Every RELOAD_EVERY s the table is replaced by the other of two valid versions (renamed
# into place; they differ by 300 entries and every key but the example's) and policyd gets
# SIGHUP, the milter SIGUSR1; each must log "reload (SIG...): ok" with the version's entry
# count. Every SAMPLE_EVERY s VmRSS, VmHWM and the open fds of each daemon go to the CSV.
# Then the queue may drain (DRAIN s) and everything is checked; any error: exit 1.
#   - sent (smtp-source runs, each exit 0) = accepted (cleanup) = delivered + queued
#   - the maillog has no warning/fatal/panic, reject, deferral or bounce, milter or
#     policy timeout
#   - the daemons' logs: nothing at priority warning or worse (JOURNAL_STREAM names their
#     log file, so each line carries its syslog priority, as under systemd), no
#     sanitizer report; both alive at the end, then stopped with SIGTERM: exit 0
#     (ASan builds: LeakSanitizer runs then)
#   - --valgrind (or VALGRIND=1): both under valgrind memcheck --leak-check=full; zero
#     errors, "definitely lost: 0 bytes" and "indirectly lost: 0 bytes"
# Output: a summary (messages, msg/s, reloads, RSS first/last/max and the least-squares
# slope per daemon) on stdout and in OUT/summary.txt, the samples in OUT/rss.csv
# (bench/soak/plot-rss.sh draws them), valgrind's reports and the daemons' logs in OUT.
#
# Environment: DURATION (600; 90 with --valgrind) SESSIONS (16; 4) BATCH (200; 50)
#   WAIT (smtp-source -w seconds between messages of a session: 0) SIZE (2048 bytes)
#   RELOAD_EVERY (30) SAMPLE_EVERY (5) DRAIN (180 s) OUT (./soak-out) KEEP=1
set -u
VALGRIND=${VALGRIND:-0}
[ "${1:-}" = --valgrind ] && { VALGRIND=1; shift; }
BUILD=$(cd "${1:?usage: soak.sh [--valgrind] BUILD_DIR}" && pwd) || exit 2
SRC=$(cd "$(dirname "$0")/../.." && pwd)
if [ "$VALGRIND" = 1 ]; then d=(90 4 50 0); else d=(600 16 200 0); fi
DURATION=${DURATION:-${d[0]}} SESSIONS=${SESSIONS:-${d[1]}} BATCH=${BATCH:-${d[2]}} WAIT=${WAIT:-${d[3]}}
SIZE=${SIZE:-2048} RELOAD_EVERY=${RELOAD_EVERY:-30} SAMPLE_EVERY=${SAMPLE_EVERY:-5} DRAIN=${DRAIN:-180}
OUT=$(mkdir -p "${OUT:-soak-out}" && cd "${OUT:-soak-out}" && pwd) || exit 2
POLICYD=$BUILD/policyd/forcetls-policyd MILTER=$BUILD/milter/forcetls-milter
TLSMAPS=$BUILD/tlsmaps/cli/tlsmaps
for p in "$POLICYD" "$MILTER" "$TLSMAPS"; do
	[ -x "$p" ] || { echo "soak: $p: not built" >&2; exit 2; }
done
for t in smtp-source smtp-sink bc; do
	command -v $t >/dev/null || PATH=$PATH:/usr/sbin:/sbin
	command -v $t >/dev/null || { echo "soak: $t missing" >&2; exit 2; }
done
[ "$VALGRIND" = 0 ] || command -v valgrind >/dev/null || { echo "soak: valgrind missing" >&2; exit 2; }
. "$SRC/bench/milter/bench-lib.sh"

FORCED=(bigbank.example insurer.example) UNLISTED=(unlisted.example open.example)
TLSSINK=127.0.0.3
ERRORS=()
err() { ERRORS+=("$*"); echo "soak: ERROR: $*" >&2; }
say() { echo "soak: $*" >&2; }

# --- the world ---------------------------------------------------------------------------
pf=()
for f in main.cf.policyd main.cf.milter; do
	while IFS= read -r l; do
		pf+=("${l//\/etc\/postfix\/forcetls_milter_header_checks/$SRC/examples/postfix/forcetls_milter_header_checks}")
	done < <(e2e_cf_lines "$SRC/examples/postfix/$f")
done
while IFS= read -r l; do
	case $l in '' | '#'*) ;; *) pf+=("--master=$l") ;; esac
done <"$SRC/examples/postfix/master.cf.forcetls"
bench_world soak "relayhost =" "smtp_host_lookup = dns" "smtp_tls_loglevel = 0" \
	"enable_long_queue_ids = yes" "${pf[@]}"
W=$E2E_WORK
BENCH_MILTER_CF=("$(grep -m1 '^milter_header_checks = ' <(printf '%s\n' "${pf[@]}"))")
[[ ${BENCH_MILTER_CF[0]} == *"$SRC/examples/postfix/"* ]] || e2e_fail "main.cf.milter: no milter_header_checks"
{ grep -q '^smtp_tls_policy_maps = socketmap:inet:127.0.0.1:10028:forcetls$' <(printf '%s\n' "${pf[@]}") &&
	grep -q '^smtpd_milters = inet:127.0.0.1:10030$' <(printf '%s\n' "${pf[@]}"); } ||
	e2e_fail "examples/postfix: smtp_tls_policy_maps or smtpd_milters is not where soak.sh expects it"

# The STARTTLS sink: the MX of the forced domains.
e2e_ns ip addr add $TLSSINK/32 dev lo
c=$(e2e_cert tlssink mail.bigbank.example,mx.insurer.example $TLSSINK) || e2e_fail "no sink certificate"
cat >>"$E2E_PF_CONF/master.cf" <<EOF
$TLSSINK:25 inet n - n - - smtpd
  -o syslog_name=postfix-sink
  -o myhostname=mail.bigbank.example
  -o smtpd_tls_security_level=may
  -o smtpd_tls_cert_file=$c.pem
  -o smtpd_tls_key_file=$c.key
  -o smtpd_tls_loglevel=0
  -o smtpd_milters=
  -o smtpd_recipient_restrictions=permit_mynetworks,reject
  -o smtpd_proxy_filter=$SINK:25
EOF
e2e_postconf "smtpd_tls_security_level = none" # (a reload: the sink's master.cf lines)
e2e_wait_listen $TLSSINK 25 20 || e2e_fail "the STARTTLS sink is not listening"
e2e_dns --local=/example/ \
	--mx-host=bigbank.example,mail.bigbank.example,10 --host-record=mail.bigbank.example,$TLSSINK \
	--mx-host=insurer.example,mx.insurer.example,10 --host-record=mx.insurer.example,$TLSSINK \
	--mx-host=unlisted.example,mx.unlisted.example,10 --mx-host=open.example,mx.unlisted.example,10 \
	--host-record=mx.unlisted.example,$SINK || e2e_fail "dnsmasq did not start"

# Two table versions: the example table and 1000 or 1300 entries of their own.
mkdir -p "$W/table" "$W/state" "$W/vg" && chown postfix:postfix "$W/state" "$W/vg"
version() {
	{
		cat "$SRC/examples/forced-tls.table"
		seq "$2" | awk -v v="$1" '{ n = $1 % 10
			if (n < 6) print "d" $1 "." v ".soak.example"
			else if (n < 8) print ".p" $1 "." v ".soak.example verify"
			else printf "10.%d.%d.0/24 encrypt direction=out\n", (v == "a") + 2 * ($1 % 100), int($1 / 100) }'
	} >"$W/table/$1.table"
	"$TLSMAPS" check "$W/table/$1.table" >"$W/table/$1.check" 2>&1 || e2e_fail "version $1: $(cat "$W/table/$1.check")"
	sed -n 's/^\([0-9]*\) entries.*/\1/p' "$W/table/$1.check"
}
declare -A ENTRIES=([a]=$(version a 1000) [b]=$(version b 1300))
TABLE=$W/table/forced-tls.table
cp "$W/table/a.table" "$TABLE"
chmod -R a+rX "$W/table"

sed -e "s|^\([[:space:]]*forced_tls[[:space:]]*=\).*|\1 \"$TABLE\";|" \
	-e 's|^\([[:space:]]*user[[:space:]]*=\).*|\1 "";|' \
	-e 's|^\([[:space:]]*watch_table[[:space:]]*=\) true;|\1 false;|' \
	-e 's|^\([[:space:]]*state_file[[:space:]]*=\) "/var/lib/forcetls/\([a-z]*\.state\)";|\1 "'"$W"'/state/\2";|' \
	"$SRC/examples/forcetls.conf" >"$W/forcetls.conf"
chmod 644 "$W/forcetls.conf"
[ "$(grep -Ec '^[[:space:]]*(forced_tls = "/|user = ""|watch_table = false|state_file = "/tmp)' "$W/forcetls.conf")" = 7 ] ||
	e2e_fail "examples/forcetls.conf: forced_tls, user, watch_table or state_file not found to replace"
for p in "$POLICYD" "$MILTER"; do
	"$p" --config "$W/forcetls.conf" --check >"$W/check.log" 2>&1 || e2e_fail "$p --check: $(cat "$W/check.log")"
done

# The daemons, as the postfix user; JOURNAL_STREAM = their log file: priorities in each line.
pre() { # NAME: the command's prefix
	: >>"$W/$1.log"
	printf '%s\n' env "JOURNAL_STREAM=$(stat -c %d:%i "$W/$1.log")"
	[ "$VALGRIND" = 1 ] && printf '%s\n' valgrind --tool=memcheck --leak-check=full \
		--show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect \
		--error-exitcode=99 --num-callers=30 "--log-file=$W/vg/$1.%p.log"
}
mapfile -t p < <(pre policyd)
e2e_spawn policyd setpriv --reuid=postfix --regid=postfix --clear-groups "${p[@]}" \
	"$POLICYD" --config "$W/forcetls.conf" --foreground
for port in 10028 10029; do
	e2e_wait_listen 127.0.0.1 $port 60 || e2e_fail "forcetls-policyd does not listen on 127.0.0.1:$port"
done
mapfile -t p < <(pre milter)
bench_start_milter milter inet:127.0.0.1:10030 "${p[@]}" "$MILTER" --config "$W/forcetls.conf" --foreground
sleep 1 # postfix reload: let the old smtpd processes go

# --- the load ----------------------------------------------------------------------------
now_s() { date +%s.%N; }
# worker I DOMAIN SESSIONS: smtp-source runs until END; $W/sent.I holds what they sent.
worker() {
	local n=0 rc wait=()
	[ "$WAIT" = 0 ] || wait=(-w "$WAIT")
	echo 0 >"$W/sent.$1"
	while [ "$(date +%s)" -lt "$END" ]; do
		ip netns exec "$E2E_NS" timeout 600 smtp-source -s "$3" -m "$BATCH" -l "$SIZE" "${wait[@]}" \
			-M client.test -f soak@client.test -t "rcpt@$2" 127.0.0.25:25 >>"$W/source.$1.log" 2>&1
		rc=$?
		[ $rc = 0 ] || { echo "smtp-source to $2 exited $rc" >>"$W/source.errors"; break; }
		n=$((n + BATCH))
		echo $n >"$W/tmp.sent.$1" && mv "$W/tmp.sent.$1" "$W/sent.$1"
	done
}
# alive PID: running, not a zombie (the daemons are this shell's children)
alive() {
	local s
	s=$(ps -o stat= -p "$1" 2>/dev/null)
	[ -n "$s" ] && [ "${s#Z}" = "$s" ]
}
sent_total() { cat "$W"/sent.[0-9]* 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }
sample() {
	local t d pid row
	t=$(echo "$(now_s) - $T0" | bc -l)
	row=$(printf '%.1f' "$t")
	for d in policyd milter; do
		pid=$(e2e_pid $d)
		row+=",$(status_kb "$pid" VmRSS),$(status_kb "$pid" VmHWM),$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)"
	done
	echo "$row,$(sent_total)" >>"$OUT/rss.csv"
}
RELOADS=0
# reload_lines NAME SIG: the daemon's reload lines for SIG so far (ok or refused)
reload_lines() { grep -Ec "reload \\($2\\): " "$W/$1.log"; }
# shellcheck disable=SC2317 # (called through e2e_wait_until)
reload_logged() { [ "$(reload_lines "$1" "$2")" -gt "$3" ]; }
# reload_check NAME SIG N0 VERSION: one more reload line than N0, and it says ok with the
# version's entry count
reload_check() {
	local last
	e2e_wait_until 60 reload_logged "$1" "$2" "$3" || { err "reload $RELOADS: $1 logged nothing in 60 s"; return 1; }
	last=$(grep -E "reload \\($2\\): " "$W/$1.log" | tail -1)
	[[ $last == *"reload ($2): ok "*", ${ENTRIES[$4]} entries "* ]] ||
		{ err "reload $RELOADS (version $4, ${ENTRIES[$4]} entries): $1 logged: ${last#<[0-9]>}"; return 1; }
}
reload() {
	local v=$1 t0 np nm
	cp "$W/table/$v.table" "$TABLE.new" && chmod 644 "$TABLE.new" && mv "$TABLE.new" "$TABLE"
	RELOADS=$((RELOADS + 1))
	np=$(reload_lines policyd SIGHUP) nm=$(reload_lines milter SIGUSR1)
	t0=$(now_s)
	e2e_signal policyd HUP
	e2e_signal milter USR1
	reload_check policyd SIGHUP "$np" "$v" && reload_check milter SIGUSR1 "$nm" "$v" &&
		say "reload $RELOADS: version $v (${ENTRIES[$v]} entries), both ok in $(printf '%.2f' "$(echo "$(now_s) - $t0" | bc -l)") s"
}

echo "t_s,policyd_rss_kb,policyd_hwm_kb,policyd_fds,milter_rss_kb,milter_hwm_kb,milter_fds,sent" >"$OUT/rss.csv"
UPTIME0=$(uptime)
DOMAINS=("${FORCED[@]}" "${UNLISTED[@]}")
T0=$(now_s)
END=$(($(date +%s) + DURATION))
WPIDS=()
for i in "${!DOMAINS[@]}"; do
	s=$((SESSIONS / ${#DOMAINS[@]} + (i < SESSIONS % ${#DOMAINS[@]})))
	[ $s -ge 1 ] || s=1
	worker "$i" "${DOMAINS[$i]}" $s &
	WPIDS+=($!)
done
say "load: ${DOMAINS[*]}, $SESSIONS sessions, $BATCH messages a run, $SIZE bytes, -w $WAIT, $DURATION s"
sample
next_sample=$(($(date +%s) + SAMPLE_EVERY)) next_reload=$(($(date +%s) + RELOAD_EVERY)) v=b
while :; do
	busy=0
	for w in "${WPIDS[@]}"; do kill -0 "$w" 2>/dev/null && busy=1; done
	[ $busy = 1 ] || break
	if [ "$(date +%s)" -ge $next_reload ] && [ "$(date +%s)" -lt "$END" ]; then
		reload $v
		[ $v = a ] && v=b || v=a
		next_reload=$((next_reload + RELOAD_EVERY))
	fi
	if [ "$(date +%s)" -ge $next_sample ]; then
		sample
		next_sample=$((next_sample + SAMPLE_EVERY))
	fi
	sleep 0.5
done
T1=$(now_s)
sample
SENT=$(sent_total)
LOAD_S=$(echo "$T1 - $T0" | bc -l)
say "load done: $SENT messages in $(printf '%.1f' "$LOAD_S") s; draining the queue (at most $DRAIN s)"
# shellcheck disable=SC2317 # (called through e2e_wait_until)
queue_empty() { [ "$(e2e_queue_count)" -eq 0 ]; }
e2e_wait_until "$DRAIN" queue_empty
T2=$(now_s)
sample
UPTIME1=$(uptime)

# --- the checks --------------------------------------------------------------------------
[ -s "$W/source.errors" ] && err "$(tr '\n' ';' <"$W/source.errors") (see source.*.log)"
# (queue IDs are long, enable_long_queue_ids: unique for the run; qmgr logs from= again
# on each retry)
ACCEPTED=$(e2e_log_grep 'postfix/qmgr\[[0-9]+\]: [0-9A-Za-z]+: from=<soak@client\.test>' |
	awk '{ sub(/:$/, "", $6); print $6 }' | sort -u | wc -l)
DELIVERED=$(e2e_log_count 'postfix/[a-z-]+\[[0-9]+\]: [0-9A-Za-z]+: to=<.*status=sent ')
QUEUED=$(e2e_queue_count)
TLS_SINK=$(e2e_log_count 'postfix-sink/smtpd\[[0-9]+\]: proxy-accept: END-OF-MESSAGE: 250')
[ "$SENT" -gt 0 ] || err "nothing was sent"
[ "$SENT" = "$ACCEPTED" ] || err "sent $SENT, but Postfix accepted $ACCEPTED"
[ "$ACCEPTED" = $((DELIVERED + QUEUED)) ] || err "accepted $ACCEPTED != delivered $DELIVERED + queued $QUEUED"
[ "$QUEUED" = 0 ] || err "$QUEUED message(s) still queued after $DRAIN s"
for re in 'warning:|fatal:|panic:' 'reject:|milter-reject' 'status=(deferred|bounced)' \
	'[Tt]imeout|timed out' 'milter.*(error|failed)|policy.*(error|failed)|socketmap' '(dsn=| )4\.(7\.[15]|3\.5)[ ,]'; do
	n=$(e2e_log_count "$re")
	[ "$n" = 0 ] || err "maillog: $n line(s) match /$re/, first: $(e2e_log_grep "$re" | head -1)"
done
# Each forced message was routed to forcetls-require (mandatory TLS) and went to the
# STARTTLS sink, which passed it on; no unlisted one was.
SENT_FORCED=$(awk '{ s += $1 } END { print s + 0 }' "$W"/sent.[0-$((${#FORCED[@]} - 1))])
n=$(e2e_log_count 'milter-header-filter: header X-TLSLevel: Require from .*: forcetls-require:$')
[ "$n" = "$SENT_FORCED" ] || err "$n messages routed to forcetls-require, $SENT_FORCED sent to forced domains"
nf=$(e2e_log_count "to=<rcpt@($(
	IFS='|'
	echo "${FORCED[*]}"
))>, relay=[^ ]*\[$TLSSINK\]:25, .*status=sent ")
[ "$nf" = "$SENT_FORCED" ] || err "$nf messages to forced domains delivered to $TLSSINK, $SENT_FORCED sent"
[ "$TLS_SINK" = "$nf" ] || err "the STARTTLS sink passed on $TLS_SINK messages, Postfix sent it $nf"
for d in policyd milter; do
	alive "$(e2e_pid $d)" || err "forcetls-$d died"
	n=$(grep -Ec '^<[0-4]>' "$W/$d.log")
	[ "$n" = 0 ] || err "$d.log: $n line(s) at priority warning or worse, first: $(grep -Em1 '^<[0-4]>' "$W/$d.log")"
	n=$(grep -Ec "reload \\((SIGHUP|SIGUSR1)\\): ok" "$W/$d.log")
	[ "$n" = "$RELOADS" ] || err "$d logged $n reloads ok, $RELOADS were asked"
done
# shellcheck disable=SC2317 # (called through e2e_wait_until)
gone() { ! alive "$1"; }
for d in policyd milter; do
	pid=$(e2e_pid $d)
	if alive "$pid"; then
		kill -TERM "$pid"
		e2e_wait_until 120 gone "$pid" || { err "forcetls-$d still runs 120 s after SIGTERM"; kill -KILL "$pid"; }
		wait "$pid"
		rc=$?
		[ $rc = 0 ] || err "forcetls-$d exited $rc on SIGTERM"
	fi
	grep -Eq 'Sanitizer|runtime error:' "$W/$d.log" && err "a sanitizer report in $d.log"
done
VG=()
if [ "$VALGRIND" = 1 ]; then
	for d in policyd milter; do
		for f in "$W/vg/$d".*.log; do
			[ -f "$f" ] || { err "no valgrind report for $d"; continue; }
			cp "$f" "$OUT/valgrind-$d.log"
			s=$(grep -Eo 'ERROR SUMMARY: [0-9]+ errors' "$f")
			dl=$(grep -Eo 'definitely lost: [0-9,]+ bytes in [0-9,]+ blocks' "$f")
			il=$(grep -Eo 'indirectly lost: [0-9,]+ bytes in [0-9,]+ blocks' "$f")
			pl=$(grep -Eo 'possibly lost: [0-9,]+ bytes in [0-9,]+ blocks' "$f")
			grep -q 'All heap blocks were freed' "$f" && dl="definitely lost: 0 bytes (all heap blocks were freed)" il="indirectly lost: 0 bytes"
			VG+=("$d: ${s:-no ERROR SUMMARY}; ${dl:-definitely lost: 0 bytes}; ${il:-indirectly lost: 0 bytes}; ${pl:-possibly lost: 0 bytes}")
			[ "$s" = "ERROR SUMMARY: 0 errors" ] || err "valgrind $d: ${s:-no summary}"
			[[ ${dl:-0 bytes} == *": 0 bytes"* || ${dl:-0 bytes} == "0 bytes" ]] || err "valgrind $d: $dl"
			[[ ${il:-0 bytes} == *": 0 bytes"* || ${il:-0 bytes} == "0 bytes" ]] || err "valgrind $d: $il"
		done
	done
fi
cp "$W/policyd.log" "$W/milter.log" "$OUT/" 2>/dev/null
grep -E 'warning:|fatal:|panic:|reject:|status=(deferred|bounced)' "$W/postfix/maillog" | head -200 >"$OUT/maillog-problems.txt"

# --- the summary -------------------------------------------------------------------------
# stats COL: first last max slope(all, KB/min) slope(second half, KB/min), least squares
stats() {
	awk -F, -v c="$1" -v half="$(echo "$LOAD_S / 2" | bc -l)" 'NR > 1 && $c != "" {
		n++; x = $1; y = $c; if (n == 1) f = y; l = y; if (y > m) m = y
		sx += x; sy += y; sxx += x * x; sxy += x * y
		if (x >= half) { h++; hx += x; hy += y; hxx += x * x; hxy += x * y } }
		function slope(n, sx, sy, sxx, sxy) { return n > 1 && n * sxx != sx * sx ? (n * sxy - sx * sy) / (n * sxx - sx * sx) * 60 : 0 }
		END { printf "%d %d %d %.1f %.1f", f, l, m, slope(n, sx, sy, sxx, sxy), slope(h, hx, hy, hxx, hxy) }' "$OUT/rss.csv"
}
{
	echo "soak: $(basename "$BUILD")$([ "$VALGRIND" = 1 ] && echo ', valgrind memcheck'), ${DOMAINS[*]} (first ${#FORCED[@]} forced), $SESSIONS sessions, $SIZE-byte messages, -w $WAIT"
	printf 'load %.0f s, drained %.0f s later; samples every %s s: %s rows\n' "$LOAD_S" \
		"$(echo "$T2 - $T1" | bc -l)" "$SAMPLE_EVERY" "$(($(wc -l <"$OUT/rss.csv") - 1))"
	echo "messages: sent $SENT ($SENT_FORCED to forced domains), accepted $ACCEPTED, delivered $DELIVERED (to the STARTTLS sink $TLS_SINK), queued $QUEUED"
	printf 'rate: %.1f msg/s accepted, %.1f msg/s delivered (until the queue was empty)\n' \
		"$(echo "$SENT / $LOAD_S" | bc -l)" "$(echo "$DELIVERED / ($T2 - $T0)" | bc -l)"
	echo "reloads: $RELOADS every $RELOAD_EVERY s (policyd SIGHUP, milter SIGUSR1), versions of ${ENTRIES[a]} and ${ENTRIES[b]} entries"
	printf '%-8s %12s %12s %12s %14s %16s %8s\n' daemon "RSS first KB" "last KB" "max KB" "slope KB/min" "2nd half KB/min" "fds max"
	for d in policyd:2 milter:5; do
		read -r f l m s h <<<"$(stats "${d#*:}")"
		fm=$(awk -F, -v c=$((${d#*:} + 2)) 'NR > 1 && $c > m { m = $c } END { print m + 0 }' "$OUT/rss.csv")
		printf '%-8s %12s %12s %12s %14s %16s %8s\n' "${d%:*}" "$f" "$l" "$m" "$s" "$h" "$fm"
	done
	for v in "${VG[@]}"; do echo "valgrind $v"; done
	echo "uptime before: $UPTIME0"
	echo "uptime after:  $UPTIME1"
	if [ ${#ERRORS[@]} = 0 ]; then echo "errors: 0"; else
		echo "errors: ${#ERRORS[@]}"
		printf '  %s\n' "${ERRORS[@]}"
	fi
} | tee "$OUT/summary.txt"
[ ${#ERRORS[@]} = 0 ] || e2e_fail "${#ERRORS[@]} error(s), see above and $OUT"
echo "PASS: soak ($(($(date +%s) - E2E_T0)) s); $OUT/rss.csv"
