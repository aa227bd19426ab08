#!/bin/bash
# bench/milter/run-milter-bench.sh - Postfix throughput with no milter, the minimal
# libmilter filter (bench/milter/minimilter.c) and forcetls-milter, each on a unix socket
# and on inet loopback; then the body-scan throughput (bench_rules). See RESULTS.md.
#
#   run-milter-bench.sh BUILD_DIR [CONFIG...]
#
# The world is bench-lib.sh's (the e2e harness's, tests/e2e/lib.sh): a network namespace
# of its own with a private Postfix on 127.0.0.25:25 that relays everything (relayhost) to
# smtp-sink on 127.0.0.2:25. smtp-source -s SESSIONS -m MESSAGES -l SIZE sends into Postfix from
# 127.0.0.1 (inside mynetworks: outbound mail for forcetls-milter), to RCPT.
# Milters run as the postfix user, their unix sockets in a folder of its own.
#
# Figures: "accept msg/s" = MESSAGES / wall time of smtp-source (every milter round trip
# is inside it: smtpd waits for the milter before it answers "250"); "e2e msg/s" = until
# the last message was delivered to smtp-sink ("status=sent" in the maillog). REPEAT
# rounds run each config once (after a warm-up of WARMUP messages); medians are printed.
#
# CONFIGs (default: all, in this order):
#   none            no milter
#   mini-unix       minimilter on unix: (every stage negotiated away)
#   mini-inet       minimilter on inet:, as libmilter leaves the socket (Nagle on)
#   mini-inet-nd    minimilter on inet:, TCP_NODELAY on its listening socket (-n)
#   mini-inet-data  minimilter on inet:, DATA asked for and answered (-d)
#   mini-inet-fix   minimilter on inet: with both (-n -d)
#   mini-unix-fix   minimilter on unix: with both (-n -d; -n does nothing there)
#   ftls-unix       forcetls-milter, examples/forcetls.conf + forced-tls.table, unix:
#   ftls-inet       the same on inet:
# Environment: SESSIONS (20) MESSAGES (3000) SIZE (2048) REPEAT (5) WARMUP (300)
#   RCPT (rcpt@insurer.example: a forced domain, the milter inserts X-TLSLevel: Require)
#   FTLS_MILTER (BUILD_DIR/milter/forcetls-milter) MINIMILTER (BUILD_DIR/bench/milter/minimilter)
#   BENCH_RULES (BUILD_DIR/tests/milter_unit/bench_rules) STRACE=1 (strace -f -tt the milter
#   of each config into the work dir; figures are then meaningless) KEEP=1 (keep work dir)
#   QUICKACK=1 (diagnosis: "quickack 1" on the namespace's loopback routes, i.e. no
#   delayed ACKs anywhere; what a milter would get if it could set TCP_QUICKACK itself)
set -u
BUILD=$(cd "${1:?usage: run-milter-bench.sh BUILD_DIR [CONFIG...]}" && pwd) || exit 2
shift
SRC=$(cd "$(dirname "$0")/../.." && pwd)
. "$SRC/bench/milter/bench-lib.sh"

MESSAGES=${MESSAGES:-3000} SIZE=${SIZE:-2048} REPEAT=${REPEAT:-5} WARMUP=${WARMUP:-300}
FTLS_MILTER=${FTLS_MILTER:-$BUILD/milter/forcetls-milter}
MINIMILTER=${MINIMILTER:-$BUILD/bench/milter/minimilter}
BENCH_RULES=${BENCH_RULES:-$BUILD/tests/milter_unit/bench_rules}
CONFIGS=("$@")
[ ${#CONFIGS[@]} -gt 0 ] ||
	CONFIGS=(none mini-unix mini-inet mini-inet-nd mini-inet-data mini-inet-fix mini-unix-fix
		ftls-unix ftls-inet)
for f in "$FTLS_MILTER" "$MINIMILTER"; do
	[ -x "$f" ] || { echo "run-milter-bench: $f not built" >&2; exit 2; }
done
for t in smtp-source smtp-sink; do
	command -v $t >/dev/null || { echo "run-milter-bench: $t missing (Debian postfix)" >&2; exit 2; }
done

bench_world milterbench

# forcetls-milter on the example config: only the socket and the user differ (it runs
# as postfix here, so it needs no user of its own and Postfix may use its socket).
sed -e 's|^\(  *listen = \).*|\1"unix:'"$SOCKDIR"'/ftls.sock";|' -e 's|^\(  *user = \)"forcetls";|\1"";|' \
	"$SRC/examples/forcetls.conf" >"$E2E_WORK/ftls-unix.conf"
sed -e 's|^\(  *listen = \).*|\1"inet:10030@127.0.0.1";|' -e 's|^\(  *user = \)"forcetls";|\1"";|' \
	"$SRC/examples/forcetls.conf" >"$E2E_WORK/ftls-inet.conf"
chmod 644 "$E2E_WORK"/*.conf
echo '/^X-(Bench|TLSLevel):/ WARN milter header' >"$E2E_WORK/seen.regexp"

if [ "${QUICKACK:-0}" = 1 ]; then
	# Diagnosis only: no delayed ACKs on loopback in this namespace (route option).
	for r in 127.0.0.0/8 127.0.0.1; do
		e2e_ns ip route change local $r dev lo table local proto kernel scope host \
			src 127.0.0.1 quickack 1 || e2e_fail "cannot set quickack on the loopback routes"
	done
fi

# run N: send N messages of SIZE bytes; prints "ACCEPT_SECONDS E2E_SECONDS"
run() { bench_run "$1" -l "$SIZE"; }
start_milter() { bench_start_milter "$@"; }
stop_milter() { bench_stop_milter "$@"; }

# Rounds: every config once per round, so that load from elsewhere on the machine
# spreads over all configs alike instead of hitting one.
declare -A ACC E2E
for round in $(seq "$REPEAT"); do
	for cfg in "${CONFIGS[@]}"; do
		case $cfg in
		none) ;;
		mini-unix) start_milter "$cfg" "unix:$SOCKDIR/mini.sock" "$MINIMILTER" "unix:$SOCKDIR/mini.sock" ;;
		mini-inet) start_milter "$cfg" inet:127.0.0.1:10031 "$MINIMILTER" inet:10031@127.0.0.1 ;;
		mini-inet-nd) start_milter "$cfg" inet:127.0.0.1:10032 "$MINIMILTER" -n inet:10032@127.0.0.1 ;;
		mini-inet-data) start_milter "$cfg" inet:127.0.0.1:10033 "$MINIMILTER" -d inet:10033@127.0.0.1 ;;
		mini-inet-fix) start_milter "$cfg" inet:127.0.0.1:10034 "$MINIMILTER" -n -d inet:10034@127.0.0.1 ;;
		mini-unix-fix) start_milter "$cfg" "unix:$SOCKDIR/mini2.sock" "$MINIMILTER" -n -d "unix:$SOCKDIR/mini2.sock" ;;
		ftls-unix) start_milter "$cfg" "unix:$SOCKDIR/ftls.sock" "$FTLS_MILTER" --foreground \
			--config "$E2E_WORK/ftls-unix.conf" --table "$SRC/examples/forced-tls.table" ;;
		ftls-inet) start_milter "$cfg" inet:127.0.0.1:10030 "$FTLS_MILTER" --foreground \
			--config "$E2E_WORK/ftls-inet.conf" --table "$SRC/examples/forced-tls.table" ;;
		*) e2e_fail "unknown config $cfg" ;;
		esac
		sleep 1 # postfix reload: let the old smtpd processes go
		# Warm-up; it also proves that the milter changed every message: milter_header_checks
		# sees only headers that a milter added, and logs each with WARN.
		w0=$(e2e_log_count ': milter-header-warning: header X-(Bench|TLSLevel): ')
		run "$WARMUP" >/dev/null
		if [ "$cfg" != none ]; then
			w=$(($(e2e_log_count ': milter-header-warning: header X-(Bench|TLSLevel): ') - w0))
			[ "$w" -eq "$WARMUP" ] ||
				e2e_fail "$cfg: the milter added its header to $w of $WARMUP messages"
			e2e_postconf "milter_header_checks ="
			sleep 1
		fi
		read -r a e < <(run "$MESSAGES")
		a=$(echo "$MESSAGES / $a" | bc -l) e=$(echo "$MESSAGES / $e" | bc -l)
		ACC[$cfg]+="$a " E2E[$cfg]+="$e "
		e2e_log "$cfg round $round: accept $(printf %.0f "$a") msg/s, e2e $(printf %.0f "$e") msg/s"
		if [ "$cfg" != none ]; then
			[ "$(e2e_log_count "warning: milter ")" -eq 0 ] || e2e_fail "milter warnings in the maillog"
			stop_milter "$cfg"
		fi
	done
done
RESULTS=()
for cfg in "${CONFIGS[@]}"; do
	# shellcheck disable=SC2086
	RESULTS+=("$(printf '%-14s %8.0f %8.0f   (%s)' "$cfg" \
		"$(printf '%s\n' ${ACC[$cfg]} | median)" "$(printf '%s\n' ${E2E[$cfg]} | median)" \
		"$(printf '%.0f ' ${ACC[$cfg]})")")
done

echo
echo "Postfix + milter, smtp-source -s $SESSIONS -m $MESSAGES -l $SIZE, $REPEAT rounds, median"
printf '%-14s %8s %8s   %s\n' config accept e2e "(accept msg/s of each round)"
printf '%s\n' "${RESULTS[@]}"
if [ -x "$BENCH_RULES" ]; then
	echo
	"$BENCH_RULES"
fi
e2e_pass
