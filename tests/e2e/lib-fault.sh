# shellcheck shell=bash
# tests/e2e/lib-fault.sh - the fault matrix harness (issue 11), sourced by
# tests/e2e/t-fault-*.sh: a world where both daemons decide every message (fw_world),
# a load generator that retries as a sending MTA does (fw_load, fault-load.py), the
# accounting of every message (fw_count: one ROW line) and the faults (fw_kill,
# fw_restart, fw_reload, fw_table_write). The interface is /work/wt/notes/FAULT-API.md
# and tests/e2e/README.md, "Fault matrix".
#
# The world (Postfix: t-milter-outbound.sh's milter_world; --sendmail: lib-sendmail.sh's
# sm_world), plus:
#   the policyd's smtp_tls_policy_maps lines of examples/postfix/main.cf.policyd
#   (Postfix only; the Sendmail example asks policyd live through its access map);
#   198.51.100.25:25  mx.cidr.test, MX of cidr.test (STARTTLS), forced only by the
#                     table's 198.51.100.0/24 entry: only DNS decides it.
# A test may define fw_world_hook (called before the daemons start, Postfix only).

. "$(dirname "${BASH_SOURCE[0]}")/lib-sendmail.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib-policyd.sh"

FW_LOAD_PY=$E2E_LIB_DIR/fault-load.py
FW_CIDR_ADDR=198.51.100.25
FW_MTA=postfix
FW_DIR=
FW_TABLE=
# The domains the current table forces (fw_load records it per message), and those
# the milter marks "X-TLSLevel: Require" (domain entries; cidr.test only policyd knows).
FW_FORCED=forced-tls.test,forced-plain.test,cidr.test
FW_MARKED=forced-tls.test,forced-plain.test
# Where each recipient domain's mail must arrive (receiver dirs, ADDR_PORT).
FW_ROUTES=(forced-plain.test=127.0.0.2_25 open-plain.test=127.0.0.2_25
	forced-tls.test=127.0.0.3_25 open-tls.test=127.0.0.3_25 "cidr.test=${FW_CIDR_ADDR}_25")

# fw_world NAME [--sendmail] [TABLE LINES...]: the world above; $FW_TABLE is the table.
fw_world() {
	local name=$1
	shift
	if [ "${1:-}" = --sendmail ]; then
		shift
		FW_MTA=sendmail
		SM_DNS_EXTRA=("--host-record=mx.cidr.test,$FW_CIDR_ADDR" "--mx-host=cidr.test,mx.cidr.test,10")
		sm_world "$name" "198.51.100.0/24                     encrypt" "$@"
		[ "$SM_ACCESS" = live ] || e2e_fail "examples/sendmail/forcetls.mc: not the live access map"
		e2e_running policyd || e2e_fail "forcetls-policyd is not running"
		fw__cidr_rx
	else
		MW_DNS_EXTRA=("--host-record=mx.cidr.test,$FW_CIDR_ADDR" "--mx-host=cidr.test,mx.cidr.test,10")
		milter_world "$name" "198.51.100.0/24                     encrypt" "$@"
	fi
	FW_TABLE=$W/forced-tls.table
	FW_DIR=$W/fault
	mkdir -p "$FW_DIR"
	cp "$FW_TABLE" "$FW_DIR/table.good"
	e2e_log "fault world ($FW_MTA): table $FW_TABLE, $(grep -vc '^#' "$FW_TABLE") entries"
}

# (milter_world calls it before the daemons start)
mw_world_hook() {
	local l n=0
	while IFS= read -r l; do
		case $l in smtp_*) MW_CF+=("$l") n=$((n + 1)) ;; esac
	done < <(policyd_cf_lines "$EX/postfix/main.cf.policyd" "unix:$MW_POLICYD_SOCK" "")
	printf '%s\n' "${MW_CF[@]}" | grep -q "^smtp_tls_policy_maps = socketmap:unix:$MW_POLICYD_SOCK:forcetls\$" ||
		e2e_fail "main.cf.policyd: smtp_tls_policy_maps is not socketmap:inet:127.0.0.1:10028:forcetls any more"
	fw__cidr_rx
	if declare -F fw_world_hook >/dev/null; then fw_world_hook; fi
}

fw__cidr_rx() {
	ip -n "$E2E_NS" addr add "$FW_CIDR_ADDR/32" dev lo 2>/dev/null
	e2e_receiver $FW_CIDR_ADDR 25 --starttls --name mx.cidr.test
}

# fw_load ID N [--rcpt ADDR]... [--conns K] [--client ADDR] [--size BYTES]
#     [--subject S] [--deadline SECONDS] [--forced D,...] [--marked D,...]:
# start fault-load.py send in the background (pid in $FW_DIR/ID.pid, output
# $FW_DIR/ID.jsonl, its log $FW_DIR/ID.log).
fw_load() {
	local id=$1 n=$2
	shift 2
	rm -f "$FW_DIR/$id.jsonl"
	ip netns exec "$E2E_NS" "$E2E_PY" "$FW_LOAD_PY" send --id "$id" --n "$n" \
		--out "$FW_DIR/$id.jsonl" --server "$E2E_MTA_ADDR:25" \
		--forced "$FW_FORCED" --marked "$FW_MARKED" "$@" >"$FW_DIR/$id.log" 2>&1 &
	echo $! >"$FW_DIR/$id.pid"
	e2e_log "load $id: $n messages $*"
}

# fw_load_wait ID T: until load ID is done (1 after T s, or when it wrote no results).
fw_load_wait() {
	local pid
	pid=$(cat "$FW_DIR/$1.pid") || return 1
	e2e_wait_until "$2" e2e__gone "$pid" || return 1
	[ -s "$FW_DIR/$1.jsonl" ] || return 1
	e2e_log "$(tail -1 "$FW_DIR/$1.log")"
}

# fw_queue_file FILE: the MTA's queue listing (postqueue -j, or sendmail -bp) into FILE.
fw_queue_file() {
	if [ "$FW_MTA" = sendmail ]; then sm_queue >"$1"; else e2e_queue_json >"$1"; fi
}

# fw_maillog: the MTA's log file.
fw_maillog() {
	if [ "$FW_MTA" = sendmail ]; then echo "$SM_LOG"; else echo "$E2E_WORK/postfix/maillog"; fi
}

# fw_flush: a queue run now (Postfix: postqueue -f; Sendmail: sendmail -qf, foreground).
fw_flush() {
	if [ "$FW_MTA" = sendmail ]; then sm_flush; else e2e_flush; fi
}

fw__count() { # JSONL QUEUEFILE ARGS...: fault-load.py count
	local j=$1 q=$2 r args=()
	shift 2
	for r in "${FW_ROUTES[@]}"; do args+=(--route "$r"); done
	"$E2E_PY" "$FW_LOAD_PY" count --jsonl "$j" --rx-root "$W/rx" --queue "$q" \
		--maillog "$(fw_maillog)" --mta "$FW_MTA" --gateway "${MW_GW/:/_}" "${args[@]}" "$@"
}

fw__settled() { # EXPECT-QUEUED ARGS: every load's accepted messages are where they belong
	local j q=$FW_DIR/settle.queue
	fw_queue_file "$q"
	for j in "$FW_DIR"/*.jsonl; do
		[ -e "$j" ] || continue
		fw__count "$j" "$q" --settled "$@" || return 1
	done
}

# fw_settle T [--expect-queued RCPT_DOMAIN...]: flush and wait until every accepted
# message of every load is at a receiver or, for the expected-queued domains (default
# forced-plain.test), still queued; 1 after T s.
fw_settle() {
	local t=$1 d args=() deadline
	shift
	[ "${1:-}" = --expect-queued ] && shift
	[ $# -gt 0 ] || set -- forced-plain.test
	for d in "$@"; do args+=(--expect-queued "$d"); done
	deadline=$(($(date +%s) + t))
	until fw__settled "${args[@]}"; do
		[ "$(date +%s)" -ge $deadline ] && return 1
		fw_flush
		sleep 1
	done
}

# fw_count ID ROWNAME: print the ROW line of load ID (and append it to
# $FTLS_FAULT_REPORT when set); 1 when lost, forced_clear, refused, unmarked or
# misrouted is non-zero, or accepted < sent. The line is also in $FW_ROW.
fw_count() {
	local q=$FW_DIR/$1.queue rc
	[ -s "$FW_DIR/$1.jsonl" ] || {
		echo "ROW $2 mta=$FW_MTA no results for load $1"
		return 1
	}
	fw_queue_file "$q"
	FW_ROW=$(fw__count "$FW_DIR/$1.jsonl" "$q" --row "$2" --report "${FTLS_FAULT_REPORT:-}" 2>"$FW_DIR/$1.problems")
	rc=$?
	echo "$FW_ROW"
	sed 's/^/    /' "$FW_DIR/$1.problems" >&2
	return $rc
}

# fw_row_get FIELD: a number of the last ROW line (fw_count), e.g. fw_row_get queued.
fw_row_get() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$FW_ROW"; }

# fw_kill policyd|milter: SIGKILL; returns once it is gone.
fw_kill() {
	local pid
	pid=$(e2e_pid "$1")
	kill -KILL "$pid" 2>/dev/null
	e2e_wait_until 10 e2e__gone "$pid" || return 1
	e2e_log "forcetls-$1 (pid $pid) SIGKILLed"
}

# fw_restart policyd|milter: start it again as the world did; returns once it is ready.
fw_restart() {
	local n
	case $FW_MTA:$1 in
	sendmail:milter) sm_milter_start ;;
	sendmail:policyd) sm_policyd_start ;;
	postfix:policyd)
		n=$(grep -c '^.*ready: ' "$W/policyd.log" 2>/dev/null)
		e2e_spawn policyd "$FTLS_POLICYD" --foreground --config "$W/forcetls.conf" \
			--table "$FW_TABLE" --socketmap-listen "unix:$MW_POLICYD_SOCK" --policy-listen ""
		e2e_wait_until 20 fw__log_more policyd 'ready: ' "${n:-0}" || return 1
		;;
	postfix:milter)
		n=$(grep -c 'ready on' "$W/milter.log" 2>/dev/null)
		e2e_spawn milter "$FTLS_MILTER" --foreground --config "$W/forcetls.conf" \
			--table "$FW_TABLE" --listen "unix:$MW_MILTER_SOCK"
		e2e_wait_until 20 fw__log_more milter 'ready on' "${n:-0}" || return 1
		;;
	*) e2e_fail "fw_restart: $1?" ;;
	esac
	e2e_log "forcetls-$1 restarted (pid $(e2e_pid "$1"))"
}
fw__log_more() { [ "$(grep -Ec -- "$2" "$W/$1.log" 2>/dev/null)" -gt "$3" ]; }

# fw_reload_count policyd|milter: how many reloads by a signal it has logged.
fw_reload_count() { grep -Ec 'reload \((SIGHUP|SIGUSR1)\): (ok|refused)' "$W/$1.log" 2>/dev/null; }

# fw_reload policyd|milter: the reload signal (SIGHUP policyd, SIGUSR1 milter); waits
# for its "reload (SIG...): ok|refused" line and prints ok or refused.
fw_reload() {
	local n sig=USR1
	[ "$1" = policyd ] && sig=HUP
	n=$(fw_reload_count "$1")
	e2e_signal "$1" $sig || return 1
	e2e_wait_until 30 fw__reloaded "$1" "$n" || return 1
	grep -E 'reload \((SIGHUP|SIGUSR1)\): (ok|refused)' "$W/$1.log" | tail -1 |
		sed -E 's/.*reload \((SIGHUP|SIGUSR1)\): (ok|refused).*/\2/'
}
fw__reloaded() { [ "$(fw_reload_count "$1")" -gt "$2" ]; }

# fw_table_write MODE [FILE]: replace $FW_TABLE. In place (truncate and write, the same
# inode, one open): broken (the last good table plus a line with an unknown attribute),
# empty, truncated (the first third of the last good table, cut inside a line). atomic
# FILE: FILE's content written to a new file renamed over the table (and it becomes the
# last good one). The last good table is the world's until an atomic write.
fw_table_write() {
	local cur=$FW_DIR/table.$1 cut
	case $1 in
	broken)
		{
			cat "$FW_DIR/table.good"
			echo "broken.test                         encrypt nosuch=1"
		} >"$cur"
		;;
	empty) : >"$cur" ;;
	truncated)
		cut=$(($(stat -c %s "$FW_DIR/table.good") / 3))
		head -c "$cut" "$FW_DIR/table.good" >"$cur"
		# inside a line: not just after a newline
		while [ "$(tail -c 1 "$cur" | od -An -c | tr -d ' ')" = '\n' ]; do
			cut=$((cut - 1))
			head -c "$cut" "$FW_DIR/table.good" >"$cur"
		done
		;;
	atomic)
		cp "$2" "$FW_TABLE.new" && chmod 644 "$FW_TABLE.new" && cp "$2" "$FW_DIR/table.good" &&
			mv -f "$FW_TABLE.new" "$FW_TABLE" || return 1
		e2e_log "table replaced atomically by $2 ($(grep -vc '^#' "$FW_TABLE") lines)"
		return 0
		;;
	*) e2e_fail "fw_table_write: $1?" ;;
	esac
	cat "$cur" >"$FW_TABLE" || return 1
	e2e_log "table written in place: $1 ($(stat -c %s "$FW_TABLE") bytes, inode $(stat -c %i "$FW_TABLE"))"
}
