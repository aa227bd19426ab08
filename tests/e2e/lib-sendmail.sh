# shellcheck shell=bash
# tests/e2e/lib-sendmail.sh - a real Sendmail 8.17 daemon (the unpacked Debian packages
# under $SENDMAIL_ROOT, scripts/install-deps) in the test's network namespace, with
# forcetls-milter, built from the lines of examples/sendmail/forcetls.mc. Sourced by
# tests/e2e/t-sendmail-*.sh, after lib.sh and the milter world's helpers (it sources
# t-milter-outbound.sh with MILTER_WORLD_ONLY=1 for mw_conf_set, mw_headers, ...).
# See tests/e2e/README.md, "Sendmail".
#
# The world (sm_world), on the milter world's addresses:
#   127.0.0.25:25     Sendmail (mta.e2e.test), queue, pid and status file, maillog in
#                     $E2E_WORK/sendmail/ and $E2E_WORK/sendmail.log
#   127.0.0.1:10030   forcetls-milter (examples/forcetls.conf's milter.listen)
#   127.0.0.30:10025  gateway.test, 127.0.0.2:25 mx.plain.test (no TLS),
#   127.0.0.3:25      mx.tls.test (STARTTLS), clients 127.0.0.66 (internal),
#                     127.0.0.77 (inbound); forced-plain.test, forced-tls.test forced.
# Sendmail needs: a qualified host name (else it sleeps 60 s: every sendmail command
# runs under "unshare --uts" with hostname mta.e2e.test), /dev/log (it logs only to
# syslog: every command also gets a private mount namespace whose /dev/log is a
# symlink to a datagram socket read by sm__logreader), paths out of /etc/mail and
# /var/spool, and DNS for its own name and every sender domain (corp, partner and evil.e2e.test).

MILTER_WORLD_ONLY=1 . "$(dirname "${BASH_SOURCE[0]}")/t-milter-outbound.sh"

SM_ROOT=${SENDMAIL_ROOT:-/opt/forcetls-test/sendmail}
SM_BIN=$SM_ROOT/usr/libexec/sendmail/sendmail
SM_CFDIR=$SM_ROOT/usr/share/sendmail/cf
SM_MAKEMAP=$SM_ROOT/usr/sbin/makemap
SM_NAME=$E2E_MTA_NAME # mta.e2e.test
SM_ADDR=$E2E_MTA_ADDR # 127.0.0.25
SM_MILTER=127.0.0.1:10030
SM=
SM_LOG=
SM_CF=
SM_MSP_CF=
SM_ACCESS=      # compiled or live (sm__access_mode)
SM_DNS_EXTRA=() # more dnsmasq options for sm_world (set it after sourcing this file)

# sm_requirements: exit 77 unless root, Sendmail, m4, unshare and forcetls-milter are there.
sm_requirements() {
	[ "$(id -u)" -eq 0 ] || e2e_skip "needs root (ip netns, unshare, a Sendmail on port 25)"
	local t
	for t in m4 unshare mount; do command -v $t >/dev/null || e2e_skip "$t not installed"; done
	[ -x "$SM_BIN" ] && [ -d "$SM_CFDIR/m4" ] && [ -x "$SM_MAKEMAP" ] ||
		e2e_skip "no Sendmail under $SM_ROOT (scripts/install-deps unpacks it)"
	! ldd "$SM_BIN" | grep -q 'not found' || e2e_skip "$SM_BIN misses libraries"
	[ -n "${FTLS_MILTER:-}" ] && [ -x "$FTLS_MILTER" ] ||
		e2e_skip "FTLS_MILTER is not set: forcetls-milter not built"
}

# sm__sendmail ARGS...: run the Sendmail binary in the netns, under its own UTS and mount
# namespaces (sm__nsinit), bounded in time.
sm__sendmail() {
	timeout 60 ip netns exec "$E2E_NS" unshare --uts --mount "$SM/nsinit" "$SM_BIN" "$@"
}

# sm__nsinit: the wrapper every sendmail command runs in: the qualified host name, and a
# /dev of our own (the host's null, zero, random, urandom, full, tty, plus "log").
sm__nsinit() {
	mkdir -p "$SM/dev"
	local n
	for n in null zero full random urandom tty; do : >"$SM/dev/$n"; done
	ln -sf "$SM/log.sock" "$SM/dev/log"
	ln -sf /proc/self/fd "$SM/dev/fd"
	cat >"$SM/nsinit" <<EOF
#!/bin/sh
# run by unshare --uts --mount (tests/e2e/lib-sendmail.sh): host name, /dev with a log socket
set -e
hostname $SM_NAME
for n in null zero full random urandom tty; do mount --bind /dev/\$n $SM/dev/\$n; done
mount --rbind $SM/dev /dev
exec "\$@"
EOF
	chmod 755 "$SM/nsinit"
}

# sm__logreader: a syslog socket ($SM/log.sock) whose lines go to $E2E_WORK/sendmail.log
# (e2e_spawn "sendmail": e2e_fail shows its tail).
sm__logreader() {
	e2e_spawn sendmail "$E2E_PY" -u -c '
import os, socket, sys
p = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(p)
os.chmod(p, 0o666)
while True:
    d = s.recv(65536).decode("utf-8", "replace").rstrip("\n\0")
    if d.startswith("<") and ">" in d[:6]:
        d = d[d.index(">") + 1:]
    print(d, flush=True)
' "$SM/log.sock"
	SM_LOG=$E2E_WORK/sendmail.log
	e2e_wait_until 10 test -S "$SM/log.sock" || e2e_fail "the syslog reader did not start"
}

# sm_mc_lines FILE: the lines of an .mc fragment (examples/sendmail/forcetls.mc) without
# its dnl comments, with the /etc/mail paths moved into $SM; fails when a path the test
# replaces is not there any more (the example changed).
sm_mc_lines() {
	local f=$1 out
	out=$(grep -v '^dnl\b' "$f" | sed -e "s|/etc/mail/tls/|$SM/tls/|g" -e "s|/etc/mail/access|$SM/access|g")
	grep -q "^define(\`confSERVER_CERT', \`$SM/tls/sendmail.pem')dnl\$" <<<"$out" &&
		grep -q "^define(\`confCACERT_PATH', \`$SM/tls/certs')dnl\$" <<<"$out" || {
		echo "$f: the STARTTLS lines are not the ones the test knows" >&2
		return 1
	}
	sm__access_mode <<<"$out" >/dev/null || {
		echo "$f: the access_db lines are neither the compiled map's nor the live map's" >&2
		return 1
	}
	grep -q "^MAILER(\`smtp')dnl\$" <<<"$out" || {
		echo "$f: no MAILER(\`smtp') line" >&2
		return 1
	}
	! grep -q /etc/mail <<<"$out" || {
		echo "$f: a path under /etc/mail the test does not replace" >&2
		return 1
	}
	printf '%s\n' "$out"
}

# sm__access_mode < MC_LINES: "compiled" for FEATURE(`access_db', `hash -T<TMPF> ACCESS')
# (the compiled table's lines in the access map), "live" for forcetls-policyd's socket
# map chained before the admin's hash map (docs/COMPILE.md): FEATURE(`access_db',
# `switch -T<TMPF> access'), Kaccess.forcetls socket inet:10028@127.0.0.1 (policyd's
# socketmap_listen in examples/forcetls.conf) and Kaccess.hash hash ACCESS.
sm__access_mode() {
	local out
	out=$(cat)
	if grep -q "^FEATURE(\`access_db', \`hash -T<TMPF> $SM/access')dnl\$" <<<"$out"; then
		echo compiled
	elif grep -q "^FEATURE(\`access_db', \`switch -T<TMPF> access')dnl\$" <<<"$out" &&
		grep -q "^Kaccess\.forcetls socket inet:10028@127\.0\.0\.1\$" <<<"$out" &&
		grep -q "^Kaccess\.hash hash $SM/access\$" <<<"$out"; then
		echo live
	else
		return 1
	fi
}

# sm__mc_head: the test's own lines: paths, names, the listener, logging, queue timing.
sm__mc_head() {
	cat <<EOF
include(\`$SM_CFDIR/m4/cf.m4')dnl
OSTYPE(\`linux')dnl
define(\`confDOMAIN_NAME', \`$SM_NAME')dnl
define(\`QUEUE_DIR', \`$SM/mqueue')dnl
define(\`STATUS_FILE', \`$SM/statistics')dnl
define(\`confPID_FILE', \`$SM/sendmail.pid')dnl
define(\`ALIAS_FILE', \`$SM/aliases')dnl
define(\`HELP_FILE', \`$SM_ROOT/etc/mail/helpfile')dnl
define(\`confHOST_STATUS_DIRECTORY', \`')dnl
define(\`confSERVICE_SWITCH_FILE', \`$SM/service.switch')dnl
define(\`confDONT_PROBE_INTERFACES', \`true')dnl
define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit')dnl
define(\`confMIN_QUEUE_AGE', \`0')dnl
define(\`confLOG_LEVEL', \`14')dnl
define(\`confMILTER_LOG_LEVEL', \`14')dnl
define(\`confTO_CONNECT', \`5s')dnl
define(\`confTO_ICONNECT', \`5s')dnl
define(\`confTO_QUEUEWARN', \`1d')dnl
dnl a busy test machine (load average 30 on 2 cores) must not make the daemon refuse
dnl connections ("rejecting connections on daemon MTA: load average") or only queue
define(\`confREFUSE_LA', \`1000')dnl
define(\`confQUEUE_LA', \`1000')dnl
dnl the receivers (aiosmtpd) offer AUTH after STARTTLS but refuse MAIL FROM's AUTH=
dnl parameter, which Sendmail would pass on for the MSP's mail: only after our own AUTH
define(\`confAUTH_OPTIONS', \`A')dnl
DAEMON_OPTIONS(\`Port=25,Addr=$SM_ADDR,Name=MTA')dnl
FEATURE(\`no_default_msa')dnl
EOF
}

# shellcheck disable=SC2120 # (MC_FILE is optional)
# sm_build [MC_FILE]: write $SM/sendmail.mc (the test's head, then the example's lines,
# which end the .mc: MAILER lines included), build sendmail.cf with m4 and the access
# map ($SM/access.local plus the compiled table without TLS_Clt: lines).
sm_build() {
	local mc=${1:-$EX/sendmail/forcetls.mc} lines
	lines=$(sm_mc_lines "$mc") || e2e_fail "$mc: cannot use it"
	SM_ACCESS=$(sm__access_mode <<<"$lines")
	if [ "$SM_ACCESS" = live ] && ! grep -q '^access ' "$SM/service.switch"; then
		echo 'access forcetls hash' >>"$SM/service.switch"
	fi
	{
		sm__mc_head
		printf '%s\n' "$lines"
	} >"$SM/sendmail.mc"
	SM_CF=$SM/sendmail.cf
	m4 -D_CF_DIR_="$SM_CFDIR/" "$SM/sendmail.mc" >"$SM_CF" 2>"$SM/m4.log" ||
		e2e_fail "m4 $SM/sendmail.mc: $(cat "$SM/m4.log")"
	sm_access_build
}

# sm_access_build: (re)build the access map: $SM/access.local, and with the compiled map
# the table's lines without TLS_Clt: (inbound is the milter's, examples/sendmail/README).
sm_access_build() {
	"$FTLS_TLSMAPS" compile --format sendmail-access "$W/forced-tls.table" \
		>"$SM/forcetls.access" 2>"$SM/compile.err" || e2e_fail "tlsmaps compile: $(cat "$SM/compile.err")"
	if [ "$SM_ACCESS" = live ]; then
		cp "$SM/access.local" "$SM/access.txt"
	else
		grep -v '^TLS_Clt:' "$SM/forcetls.access" | cat "$SM/access.local" - >"$SM/access.txt"
	fi
	timeout 30 "$SM_MAKEMAP" -C "$SM_CF" hash "$SM/access" <"$SM/access.txt" >"$SM/makemap.log" 2>&1 ||
		e2e_fail "makemap: $(cat "$SM/makemap.log")"
}

# sm__files: queue, status file, aliases, service switch, certificates, access.local.
sm__files() {
	mkdir -p "$SM/mqueue" "$SM/tls/certs"
	chmod 700 "$SM/mqueue"
	: >"$SM/statistics"
	: >"$SM/aliases"
	printf 'hosts dns files\naliases files\n' >"$SM/service.switch"
	local c
	c=$(e2e_cert mta "$SM_NAME" "$SM_ADDR") || e2e_fail "cannot make the MTA cert"
	cp "$c.pem" "$SM/tls/sendmail.pem"
	cp "$c.key" "$SM/tls/sendmail.key"
	chmod 600 "$SM/tls/sendmail.key"
	cp "$E2E_WORK/ca/ca.pem" "$SM/tls/certs/ca.pem"
	openssl rehash "$SM/tls/certs" >/dev/null 2>&1 || e2e_fail "openssl rehash $SM/tls/certs failed"
	# Relaying: every test client may relay (127.0.0.x); the milter tells internal from
	# inbound by its own internal_networks.
	printf '%s\n' "Connect:127.0.0	RELAY" >"$SM/access.local"
}

# sm_start: start the daemon (-bd, queue run every 15 s); returns once it listens.
sm_start() {
	sm__sendmail -C "$SM_CF" -bd -q15s >"$SM/start.log" 2>&1 </dev/null ||
		e2e_fail "sendmail -bd failed: $(cat "$SM/start.log")"
	e2e_wait_until 20 e2e__listening -t "$SM_ADDR:25" || e2e_fail "Sendmail not listening on $SM_ADDR:25"
	e2e_log "sendmail $SM_CF listening on $SM_ADDR:25 (pid $(head -1 "$SM/sendmail.pid" 2>/dev/null))"
}

# sm_stop: stop the daemon by its pid file; 0 once it is gone.
sm_stop() {
	local pid
	pid=$(head -1 "$SM/sendmail.pid" 2>/dev/null) || return 1
	kill "$pid" 2>/dev/null
	e2e_wait_until 10 e2e__gone "$pid" || return 1
	e2e_wait_until 5 e2e__not_listening -t "$SM_ADDR:25"
}

# sm_conf_merge FILE EXCERPT: the "KEY = VALUE;" lines of each "SECTION = { ... };" of
# EXCERPT (examples/sendmail/forcetls.conf.sendmail; one line each) set in the same
# section of FILE: replaced where FILE has KEY, else added at the section's end.
sm_conf_merge() {
	local f=$1 sec line key val
	while read -r sec line; do
		key=${line%%=*} key=${key//[[:space:]]/}
		val=${line#*=} val=${val%%;*} val=${val#"${val%%[![:space:]]*}"}
		mw_conf_set "$f" "$sec" "$key" "$val" && continue
		awk -v sec="$sec" -v l="  $key = $val;" '
			$0 ~ "^" sec "[ \t]*=[ \t]*\\{" { insec = 1 }
			insec && /^};/ { print l; insec = 0 }
			{ print }' "$f" >"$f.merge" && mv "$f.merge" "$f" || return 1
	done < <(awk '/^[a-z_]+[ \t]*=[ \t]*\{/ { sec = $1; next } /^};/ { sec = "" }
		sec != "" && /^[ \t]*[a-z_]+[ \t]*=.*;/ { print sec, $0 }' "$2")
}

# sm_world NAME [TABLE LINES...]: e2e_setup, the table, forcetls.conf (the example, with
# the test's networks and user, and, when the milter has relay mode, the Sendmail
# settings of forcetls.conf.sendmail: sm__relay_conf; a function sm_conf_hook, when
# defined, changes it more),
# DNS (plus the dnsmasq options in the array SM_DNS_EXTRA), the receivers,
# forcetls-milter, then Sendmail built from examples/sendmail.
sm_world() {
	local name=$1 l
	shift
	sm_requirements
	e2e_setup "$name"
	W=$E2E_WORK
	SM=$W/sendmail
	mkdir -p "$SM"
	EX=${EXAMPLES:-${FTLS_EXAMPLES:-$E2E_LIB_DIR/../../examples}}
	for l in "$EX/sendmail/forcetls.mc" "$EX/forcetls.conf"; do [ -f "$l" ] || e2e_fail "$l: missing"; done
	{
		echo "# forced-TLS table of $name"
		echo "forced-plain.test"
		echo "forced-tls.test                     encrypt"
		[ $# -eq 0 ] || printf '%s\n' "$@"
	} >"$W/forced-tls.table"
	cp "$EX/forcetls.conf" "$W/forcetls.conf"
	# the daemons write their state (the shrink guard's last count) as nobody
	mkdir -p "$W/state" && chown nobody "$W/state"
	mw_conf_set "$W/forcetls.conf" milter internal_networks "[ \"$MW_INTERNAL/32\" ]" &&
		mw_conf_set "$W/forcetls.conf" milter gateway_networks "[ \"$MW_GW_ADDR/32\" ]" &&
		mw_conf_set "$W/forcetls.conf" milter user '"nobody"' &&
		mw_conf_set "$W/forcetls.conf" milter state_file "\"$W/state/milter.state\"" &&
		mw_conf_set "$W/forcetls.conf" policyd user '"nobody"' &&
		mw_conf_set "$W/forcetls.conf" policyd state_file "\"$W/state/policyd.state\"" &&
		mw_conf_set "$W/forcetls.conf" milter listen "\"inet:${SM_MILTER#*:}@${SM_MILTER%:*}\"" ||
		e2e_fail "$EX/forcetls.conf: a setting the test changes is not there any more"
	if sm_has_relay; then
		sm__relay_conf "$W/forcetls.conf"
	else
		e2e_log "forcetls-milter without relay mode: examples/forcetls.conf alone"
	fi
	if declare -F sm_conf_hook >/dev/null; then sm_conf_hook "$W/forcetls.conf"; fi
	chmod 644 "$W/forcetls.conf" "$W/forced-tls.table"
	"$FTLS_MILTER" --check --config "$W/forcetls.conf" --table "$W/forced-tls.table" \
		>"$W/milter-check.log" 2>&1 || e2e_fail "forcetls-milter --check: $(cat "$W/milter-check.log")"

	e2e_dns \
		--host-record=$SM_NAME,$SM_ADDR \
		--host-record=corp.e2e.test,127.0.0.99 \
		--host-record=partner.e2e.test,127.0.0.99 \
		--host-record=evil.e2e.test,127.0.0.99 \
		--local=/in-addr.arpa/ \
		--host-record=gateway.test,$MW_GW_ADDR \
		--host-record=mx.plain.test,127.0.0.2 \
		--host-record=mx.tls.test,127.0.0.3 \
		--mx-host=forced-plain.test,mx.plain.test,10 \
		--mx-host=open-plain.test,mx.plain.test,10 \
		--mx-host=forced-tls.test,mx.tls.test,10 \
		--mx-host=open-tls.test,mx.tls.test,10 "${SM_DNS_EXTRA[@]}"
	e2e_receiver $MW_GW_ADDR $MW_GW_PORT --starttls --name gateway.test ${SM_GW_OPTS:-}
	e2e_receiver 127.0.0.2 25 --plain --name mx.plain.test
	e2e_receiver 127.0.0.3 25 --starttls --name mx.tls.test
	for l in $MW_GW_ADDR $SM_ADDR $MW_INTERNAL $MW_INBOUND; do
		ip -n "$E2E_NS" addr add "$l/32" dev lo 2>/dev/null
	done
	sm_milter_start

	sm__files
	sm__nsinit
	sm__logreader
	sm_build
	[ "$SM_ACCESS" = compiled ] || sm_policyd_start
	sm_start
}

# sm_policyd_start: forcetls-policyd for the live access map (socketmap_listen of
# examples/forcetls.conf, inet:127.0.0.1:10028; no policy listener).
sm_policyd_start() {
	[ -n "${FTLS_POLICYD:-}" ] && [ -x "$FTLS_POLICYD" ] ||
		e2e_skip "FTLS_POLICYD is not set: forcetls-policyd not built (the live access map)"
	e2e_spawn policyd "$FTLS_POLICYD" --foreground --config "$W/forcetls.conf" \
		--table "$W/forced-tls.table" --policy-listen ""
	e2e_wait_listen 127.0.0.1 10028 15 || e2e_fail "forcetls-policyd not listening on 127.0.0.1:10028"
	e2e_log "forcetls-policyd: the live access map on 127.0.0.1:10028"
}

# sm_has_relay: the milter under test has relay mode (milter.relay_gateways).
sm_has_relay() { grep -qa 'milter.relay_gateways' "${FTLS_MILTER:-/nonexistent}" 2>/dev/null; }

# sm__relay_conf FILE: the settings of examples/sendmail/forcetls.conf.sendmail merged into
# FILE (what the README tells a Sendmail admin), then the test's gateway
# (127.0.0.30:10025, verified against the test CA), spool dir and timeout.
sm__relay_conf() {
	sm_conf_merge "$1" "$EX/sendmail/forcetls.conf.sendmail" &&
		mw_conf_set "$1" milter relay_gateways "[ \"$MW_GW\" ]" &&
		mw_conf_set "$1" milter relay_ca_file "\"$E2E_WORK/ca/ca.pem\"" &&
		mw_conf_set "$1" milter relay_spool_dir "\"$E2E_WORK/spool\"" &&
		mw_conf_set "$1" milter relay_timeout 30 ||
		e2e_fail "$EX/sendmail/forcetls.conf.sendmail: cannot merge it"
	grep -q '^  routing = "relay";' "$1" || e2e_fail "forcetls.conf.sendmail does not set routing = \"relay\""
	mkdir -p "$E2E_WORK/spool"
	chown nobody "$E2E_WORK/spool"
	chmod 700 "$E2E_WORK/spool"
}

# sm_relay_world NAME [TABLE LINES...]: sm_world, which puts the milter in relay mode,
# and the MSP. Exit 77 when the milter has no relay mode.
sm_relay_world() {
	sm_has_relay || e2e_skip "forcetls-milter has no relay mode (milter.relay_gateways unknown)"
	sm_world "$@"
	sm_msp
}

# sm_milter_start: start forcetls-milter (again) on $W/forcetls.conf; returns once ready.
sm_milter_start() {
	local n
	n=$(grep -c 'ready on' "$W/milter.log" 2>/dev/null)
	e2e_spawn milter "$FTLS_MILTER" --foreground --config "$W/forcetls.conf" --table "$W/forced-tls.table"
	e2e_wait_until 15 sm__ready_more "${n:-0}" || e2e_fail "forcetls-milter did not start"
	e2e_wait_listen "${SM_MILTER%:*}" "${SM_MILTER#*:}" 5 || e2e_fail "forcetls-milter not listening on $SM_MILTER"
}
sm__ready_more() { [ "$(grep -c 'ready on' "$W/milter.log" 2>/dev/null)" -gt "$1" ]; }

# sm_send FROM TO [swaks args]: e2e_send to the Sendmail daemon (it listens on the
# harness's MTA address): 0 accepted, 23 MAIL refused, 24 RCPT refused, 25 DATA ...
sm_send() { e2e_send "$@"; }

# sm_queue: sendmail -bp of the daemon's queue (or of the MSP's with SM_Q_CF=submit.cf).
sm_queue() { sm__sendmail -C "${SM_Q_CF:-$SM_CF}" -bp 2>&1; }

# sm_queue_count: how many messages the queue holds ("Total requests: N").
sm_queue_count() {
	local n
	n=$(sm_queue | sed -n 's/.*Total requests: \([0-9]*\).*/\1/p')
	echo "${n:-0}"
}

# sm_queue_has RCPT: a message for RCPT is in the queue (-bp lists each recipient on a
# line of its own: "<rcpt>" in the daemon's queue, "rcpt" in the MSP's).
sm_queue_has() { sm_queue | sed 's/^[[:space:]]*<\{0,1\}//; s/>\{0,1\}[[:space:]]*$//' | grep -qixF "$1"; }

# sm_flush: a queue run now, in the foreground (sendmail -qf: plain -q forks and returns
# before the deliveries are done).
sm_flush() { sm__sendmail -C "${SM_Q_CF:-$SM_CF}" -qf >>"$SM/flush.log" 2>&1; }

# sm_log_grep ERE / sm_log_count ERE / sm_wait_log ERE TIMEOUT: Sendmail's syslog lines
# ($E2E_WORK/sendmail.log).
sm_log_grep() { grep -E -- "$1" "$SM_LOG" 2>/dev/null; }
sm_log_count() { grep -Ec -- "$1" "$SM_LOG" 2>/dev/null || true; }
sm_wait_log() { e2e_wait_until "$2" sm__log_has "$1"; }
sm__log_has() { grep -Eq -- "$1" "$SM_LOG" 2>/dev/null; }
# sm_wait_log_count ERE N TIMEOUT: until at least N lines match (the reader is a process
# of its own: a line may arrive a moment after the command that logged it returned).
sm_wait_log_count() { e2e_wait_until "$3" sm__log_count_ge "$1" "$2"; }
sm__log_count_ge() { [ "$(sm_log_count "$1")" -ge "$2" ]; }

# --- the MSP: a queueing client, as Debian's /usr/sbin/sendmail is ----------------------

# sm_msp: build $SM/submit.cf: FEATURE(`msp', `[127.0.0.25]'), its own client queue,
# connecting from the internal client's address ($MW_INTERNAL).
sm_msp() {
	mkdir -p "$SM/clientmqueue"
	: >"$SM/sm-client.st"
	# The MSP refuses to run as root: RunAsUser daemon (Debian's is smmsp)
	chown daemon:daemon "$SM/clientmqueue" "$SM/sm-client.st"
	chmod 770 "$SM/clientmqueue"
	cat >"$SM/submit.mc" <<EOF
include(\`$SM_CFDIR/m4/cf.m4')dnl
define(\`confCF_VERSION', \`Submit')dnl
define(\`__OSTYPE__', \`')dnl
define(\`confDOMAIN_NAME', \`$SM_NAME')dnl
define(\`confRUN_AS_USER', \`daemon:daemon')dnl
define(\`MSP_QUEUE_DIR', \`$SM/clientmqueue')dnl
define(\`confPID_FILE', \`$SM/sm-client.pid')dnl
define(\`STATUS_FILE', \`$SM/sm-client.st')dnl
define(\`confSERVICE_SWITCH_FILE', \`$SM/service.switch')dnl
define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit')dnl
define(\`confHOST_STATUS_DIRECTORY', \`')dnl
define(\`confMIN_QUEUE_AGE', \`0')dnl
define(\`confLOG_LEVEL', \`14')dnl
define(\`confTO_QUEUEWARN', \`1d')dnl
dnl a busy test machine (load average 30 on 2 cores) must not make the daemon refuse
dnl connections ("rejecting connections on daemon MTA: load average") or only queue
define(\`confREFUSE_LA', \`1000')dnl
define(\`confQUEUE_LA', \`1000')dnl
define(\`confCLIENT_OPTIONS', \`Addr=$MW_INTERNAL')dnl
FEATURE(\`msp', \`[$SM_ADDR]')dnl
EOF
	SM_MSP_CF=$SM/submit.cf
	m4 -D_CF_DIR_="$SM_CFDIR/" "$SM/submit.mc" >"$SM_MSP_CF" 2>"$SM/m4-submit.log" ||
		e2e_fail "m4 $SM/submit.mc: $(cat "$SM/m4-submit.log")"
}

# sm_msp_send FROM TO SUBJECT [HEADER...]: submit a message through the MSP
# (sendmail -C submit.cf -t -f FROM), as a user's mail program does; the MSP delivers it
# to the daemon at once, or keeps it in its client queue when the daemon answers 4xx.
sm_msp_send() {
	local from=$1 to=$2 subj=$3 h
	shift 3
	E2E_SENT=$((E2E_SENT + 1))
	{
		printf 'From: %s\nTo: %s\nSubject: %s\nX-E2E-Test: %s-%s\n' "$from" "$to" "$subj" "$E2E_NAME" "$E2E_SENT"
		for h in "$@"; do printf '%s\n' "$h"; done
		printf '\nmessage #%s of %s, submitted through the MSP\n' "$E2E_SENT" "$E2E_NAME"
	} >"$SM/msp-$E2E_SENT.eml"
	sm__sendmail -C "$SM_MSP_CF" -t -f "$from" <"$SM/msp-$E2E_SENT.eml" >"$SM/msp-$E2E_SENT.log" 2>&1
	local rc=$?
	e2e_log "MSP #$E2E_SENT $from -> $to (sendmail exit $rc)"
	return $rc
}

# sm_msp_queue_count / sm_msp_queue_has RCPT / sm_msp_flush: the same as the daemon's,
# on the MSP's client queue.
sm_msp_queue_count() { SM_Q_CF=$SM_MSP_CF sm_queue_count; }
sm_msp_queue_has() { SM_Q_CF=$SM_MSP_CF sm_queue_has "$1"; }
sm_msp_flush() { SM_Q_CF=$SM_MSP_CF sm_flush; }

# sm__milter_count_ge ERE N: at least N lines of the milter's log match ERE.
sm__milter_count_ge() { [ "$(grep -Ec -- "$1" "$E2E_WORK/milter.log" 2>/dev/null)" -ge "$2" ]; }

# sm_finish: the milter lived through the test (unless the test stopped it), no
# sanitizer spoke; e2e_pass.
sm_finish() {
	e2e_running milter || e2e_fail "forcetls-milter died during the test"
	if grep -qa __asan_init "$FTLS_MILTER"; then
		e2e_stop milter 15 || e2e_fail "forcetls-milter did not stop on TERM"
	fi
	grep -E 'Sanitizer|runtime error:' "$W/milter.log" && e2e_fail "a sanitizer report in the milter's log"
	e2e_pass
}
sm__msp_empty() { [ "$(sm_msp_queue_count)" -eq 0 ]; }
