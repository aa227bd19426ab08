# bench/milter/bench-lib.sh - the world the Postfix milter benchmarks share, sourced by
# run-milter-bench.sh, content-postfix.sh and relay-postfix.sh (after SRC is set).
#
# It is the e2e harness's (tests/e2e/lib.sh): a network namespace of its own with a
# private Postfix on 127.0.0.25:25 that relays everything (relayhost) to smtp-sink on
# 127.0.0.2:25, no TLS anywhere, no rate or connection limits, the example's milter
# settings (examples/postfix/main.cf.milter: default action, protocol, macros).
# smtp-source sends into it from 127.0.0.1 (inside mynetworks: outbound mail for
# forcetls-milter). Milters run as the postfix user, unix sockets in $SOCKDIR.
#
#   bench_world NAME [main.cf LINE...]   the world; LINEs are added to (and override)
#                                        the bench's main.cf lines
#   bench_run N SMTP-SOURCE-ARGS...      send N messages with smtp-source -s $SESSIONS,
#                                        wait until bench_done_count (a function, by
#                                        default the maillog's status=sent count) has
#                                        grown by N; prints "ACCEPT_SECONDS E2E_SECONDS"
#   bench_start_milter NAME SPEC CMD...  run CMD as postfix (STRACE=1: under strace),
#                                        wait for SPEC (unix:PATH or inet:HOST:PORT),
#                                        smtpd_milters = SPEC and BENCH_MILTER_CF lines
#                                        (default: milter_header_checks = the regexp
#                                        $E2E_WORK/seen.regexp, written by the caller)
#   bench_stop_milter NAME               smtpd_milters = (empty), stop NAME
#   median                               the median of the numbers on stdin
# Environment: SESSIONS (20) RCPT (rcpt@insurer.example) BENCH_TIMEOUT (600 s for one
# smtp-source run and for its deliveries) STRACE=1 KEEP=1 (keep the work dir).
# shellcheck shell=bash
. "$SRC/tests/e2e/lib.sh"
PATH=$PATH:/usr/sbin:/sbin
SESSIONS=${SESSIONS:-20} RCPT=${RCPT:-rcpt@insurer.example} BENCH_TIMEOUT=${BENCH_TIMEOUT:-600}
SINK=127.0.0.2
BENCH_DONE_TOTAL=0

bench_world() {
	local name=$1
	shift
	e2e_setup "$name"
	SOCKDIR=$E2E_WORK/sock
	mkdir -p "$SOCKDIR" && chown postfix:postfix "$SOCKDIR"
	chmod 755 "$E2E_WORK"
	BENCH_MILTER_CF=("milter_header_checks = regexp:$E2E_WORK/seen.regexp")
	e2e_ns ip addr add $SINK/32 dev lo
	e2e_spawn sink smtp-sink -u postfix $SINK:25 256
	e2e_wait_listen $SINK 25 10 || e2e_fail "smtp-sink not listening"
	local milter_lines
	mapfile -t milter_lines < <(e2e_cf_lines "$SRC/examples/postfix/main.cf.milter" |
		grep -E '^(milter_default_action|milter_protocol|milter_mail_macros) ')
	e2e_postfix "relayhost = [$SINK]:25" "smtp_tls_security_level = none" \
		"smtpd_tls_security_level = none" "smtp_host_lookup = native" \
		"default_destination_concurrency_limit = $SESSIONS" "smtpd_client_connection_count_limit = 0" \
		"smtpd_client_message_rate_limit = 0" "smtpd_client_connection_rate_limit = 0" \
		"${milter_lines[@]}" "$@"
}

now() { date +%s.%N; }
bench_done_count() { e2e_log_count ' status=sent '; }
# shellcheck disable=SC2317 # (called through e2e_wait_until)
bench__done_ge() { [ "$(bench_done_count)" -ge "$1" ]; }

bench_run() {
	local n=$1 t0 t1 t2
	shift
	t0=$(now)
	e2e_ns timeout "$BENCH_TIMEOUT" smtp-source -s "$SESSIONS" -m "$n" "$@" -f bench@client.test \
		-t "$RCPT" 127.0.0.25:25 || e2e_fail "smtp-source failed"
	t1=$(now)
	BENCH_DONE_TOTAL=$((BENCH_DONE_TOTAL + n))
	e2e_wait_until "$BENCH_TIMEOUT" bench__done_ge $BENCH_DONE_TOTAL ||
		e2e_fail "only $(bench_done_count)/$BENCH_DONE_TOTAL delivered"
	t2=$(now)
	[ "$(e2e_log_count 'status=(deferred|bounced)|milter-reject|reject:')" -eq 0 ] ||
		e2e_fail "a message was deferred, bounced or rejected"
	echo "$(echo "$t1 - $t0" | bc -l) $(echo "$t2 - $t0" | bc -l)"
}

bench_start_milter() {
	local name=$1 spec=$2
	shift 2
	local pre=()
	[ "${STRACE:-0}" = 1 ] && pre=(strace -f -tt -o "$E2E_WORK/strace-$name.txt")
	e2e_spawn "$name" "${pre[@]}" setpriv --reuid=postfix --regid=postfix --clear-groups "$@"
	case $spec in
	unix:*) e2e_wait_until 10 test -S "${spec#unix:}" ;;
	inet:*) e2e_wait_listen 127.0.0.1 "${spec##*:}" 10 ;;
	esac || e2e_fail "$name did not start"
	e2e_postconf "smtpd_milters = $spec" "${BENCH_MILTER_CF[@]}"
}

bench_stop_milter() {
	e2e_postconf "smtpd_milters ="
	e2e_stop "$1" 5 || e2e_fail "$1 did not stop"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
