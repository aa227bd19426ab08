# shellcheck shell=bash disable=SC2094 # (flock on /etc/postfix while postconf edits main.cf)
# tests/e2e/lib.sh - end-to-end harness: a private Postfix, dnsmasq and SMTP receivers
# in a network namespace of the test's own. Sourced by every tests/e2e/t-*.sh (bash).
# See tests/e2e/README.md for the API and how to debug a test (KEEP=1).
#
# Every helper is bounded in time. Wait helpers return non-zero on timeout and leave the
# verdict to the test: `e2e_wait_delivered "$rx" 1 20 || e2e_fail "not delivered"`.
# The EXIT trap set by e2e_setup tears everything down, whatever the outcome.

E2E_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_PY=${E2E_PY:-/usr/bin/python3}     # Debian's python3: python3-aiosmtpd lives there
E2E_TOOL=$E2E_LIB_DIR/e2e-tool.py
E2E_MTA_ADDR=${E2E_MTA_ADDR:-127.0.0.25} # the private Postfix listens here, port 25
E2E_MTA_NAME=${E2E_MTA_NAME:-mta.e2e.test}
E2E_DNS_ADDR=127.0.0.1                  # dnsmasq; /etc/netns/NS/resolv.conf points here
E2E_SERVFAIL_ADDR=127.0.0.53            # answers SERVFAIL to everything (--servfail=)
E2E_BLACKHOLE_ADDR=127.0.0.54           # nothing listens: queries time out (--timeout=)
E2E_DELAY_UPSTREAM=127.0.0.55           # a second dnsmasq behind the delay forwarder (--slow=)
E2E_DELAY_ADDR=127.0.0.56               # the delay forwarder (--slow=)
E2E_WORK_PREFIX=/tmp/ftls-e2e-          # listed in maillog_file_prefixes of both main.cf
E2E_NS=
E2E_WORK=
E2E_PF_CONF=
E2E_PF_STARTED=0
E2E_DNS_PID=
E2E_SPAWNED=
E2E_SENT=0
E2E_SWAKS_LOG=
E2E_T0=$(date +%s)

e2e_log() { printf '[%s +%ss] %s\n' "${E2E_NAME:-e2e}" "$(($(date +%s) - E2E_T0))" "$*" >&2; }

# e2e_skip REASON: exit 77, which ctest reports as skipped (SKIP_RETURN_CODE).
e2e_skip() {
	echo "SKIP: $*" >&2
	exit 77
}

# e2e_ns CMD...: run CMD inside the test's network namespace (and its resolv.conf).
# (Background jobs use "ip netns exec" directly, so that $! is the program's own pid.)
e2e_ns() { ip netns exec "$E2E_NS" "$@"; }

# e2e_wait_until TIMEOUT CMD...: run CMD every 0.2 s until it succeeds; 1 after TIMEOUT s.
e2e_wait_until() {
	local deadline=$(($(date +%s%N) / 1000000 + ${1%.*} * 1000))
	shift
	while :; do
		"$@" && return 0
		[ $(($(date +%s%N) / 1000000)) -ge $deadline ] && return 1
		sleep 0.2
	done
}

# e2e_setup NAME: namespace ftls-NAME-PID with lo up, resolver file, work dir, CA, trap.
e2e_setup() {
	E2E_NAME=$1
	[ "$(id -u)" -eq 0 ] || e2e_skip "needs root (ip netns, a private Postfix on port 25)"
	command -v ip >/dev/null || e2e_skip "ip (iproute2) not installed"
	local tool
	for tool in postfix postconf postmap postqueue dnsmasq swaks openssl flock ss; do
		command -v $tool >/dev/null || PATH=$PATH:/usr/sbin:/sbin
		command -v $tool >/dev/null || {
			echo "FAIL: $tool not installed: run scripts/install-deps" >&2
			exit 1
		}
	done
	"$E2E_PY" -c 'import aiosmtpd' 2>/dev/null || {
		echo "FAIL: $E2E_PY cannot import aiosmtpd: run scripts/install-deps" >&2
		exit 1
	}
	E2E_NS=ftls-$1-$$
	ip netns add "$E2E_NS" 2>/dev/null || {
		E2E_NS=
		e2e_skip "ip netns add failed: network namespaces are not usable here"
	}
	trap e2e_teardown EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM HUP
	ip -n "$E2E_NS" link set lo up || e2e_skip "cannot bring lo up in a netns"
	# (another test's teardown may rmdir an empty /etc/netns between mkdir and write)
	local _try
	for _try in 1 2 3 4 5; do
		mkdir -p "/etc/netns/$E2E_NS" 2>/dev/null &&
			printf 'nameserver %s\noptions timeout:2 attempts:1\n' "$E2E_DNS_ADDR" \
				>"/etc/netns/$E2E_NS/resolv.conf" 2>/dev/null && break
		sleep 0.1
	done
	[ -s "/etc/netns/$E2E_NS/resolv.conf" ] || e2e_fail "cannot write /etc/netns/$E2E_NS/resolv.conf"
	E2E_WORK=$(mktemp -d "${E2E_WORK_PREFIX}$1-XXXXXX") || exit 1
	chmod 755 "$E2E_WORK"
	echo $$ >"$E2E_WORK/owner"
	echo "$E2E_NS" >"$E2E_WORK/netns"
	e2e__reap
	mkdir -p "$E2E_WORK/ca" "$E2E_WORK/rx" "$E2E_WORK/swaks"
	e2e__openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$E2E_WORK/ca/ca.key" -out "$E2E_WORK/ca/ca.pem" -days 2 \
		-subj "/CN=forcetls e2e CA $E2E_NS" \
		-addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign || e2e_fail "cannot make the test CA"
	chmod 644 "$E2E_WORK/ca/ca.pem"
	e2e_log "netns $E2E_NS, work dir $E2E_WORK"
}

e2e__openssl() { timeout 20 openssl "$@" >>"$E2E_WORK/ca/openssl.log" 2>&1; }

# e2e_cert NAME DNSNAMES IPS: a leaf certificate signed by the test CA, for server and
# client use. DNSNAMES and IPS are comma-separated (either may be empty). Prints the
# path prefix: PREFIX.pem (certificate) and PREFIX.key.
e2e_cert() {
	local p=$E2E_WORK/ca/$1 san="" n
	for n in ${2//,/ }; do san="$san${san:+,}DNS:$n"; done
	for n in ${3//,/ }; do san="$san${san:+,}IP:$n"; done
	e2e__openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$p.key" -out "$p.csr" -subj "/CN=${2%%,*}" || return 1
	printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n%s\n' \
		"${san:+subjectAltName=$san}" >"$p.ext"
	e2e__openssl x509 -req -in "$p.csr" -CA "$E2E_WORK/ca/ca.pem" \
		-CAkey "$E2E_WORK/ca/ca.key" -set_serial "0x$(openssl rand -hex 8)" \
		-days 2 -out "$p.pem" -extfile "$p.ext" || return 1
	chmod 644 "$p.pem"
	echo "$p"
}

# e2e_cert_selfsigned NAME DNSNAMES IPS: like e2e_cert, but self-signed (no test CA
# trusts it): a server presenting it fails verification.
e2e_cert_selfsigned() {
	local p=$E2E_WORK/ca/$1 san="" n
	for n in ${2//,/ }; do san="$san${san:+,}DNS:$n"; done
	for n in ${3//,/ }; do san="$san${san:+,}IP:$n"; done
	e2e__openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$p.key" -out "$p.pem" -days 2 -subj "/CN=${2%%,*}" \
		-addext basicConstraints=CA:FALSE -addext extendedKeyUsage=serverAuth,clientAuth \
		${san:+-addext "subjectAltName=$san"} || return 1
	chmod 644 "$p.pem"
	echo "$p"
}

# --- DNS ---------------------------------------------------------------------------

# e2e_dns ARGS...: (re)start dnsmasq in the netns on 127.0.0.1:53 with --no-resolv
# --no-hosts --local=/test/ (unknown names under .test are NXDOMAIN) and ARGS, which are
# dnsmasq options (--mx-host=DOMAIN,HOST,PREF --host-record=HOST,ADDR
# --address=/DOMAIN/ADDR ...) plus three of the harness's own:
#   --servfail=DOMAIN   every query for DOMAIN and below answers SERVFAIL
#   --timeout=DOMAIN    every query for DOMAIN and below goes unanswered (client times out)
#   --slow=DOMAIN:SECS  every query for DOMAIN and below that dnsmasq does not answer
#                       from its own data (--mx-host, --host-record are its own) waits
#                       SECS in a forwarder (e2e-tool.py dns-delay on 127.0.0.56, log
#                       dns-delay.log), then gets a second dnsmasq's answer (127.0.0.55,
#                       the same options without --slow=)
# Calling it again replaces the running dnsmasq (a test can break or heal DNS);
# e2e_dns_stop stops it (and the --slow= pair): every lookup is then refused.
e2e_dns() {
	local args=() plain=() rules=() a need_servfail=0
	for a in "$@"; do
		case $a in
		--servfail=*)
			args+=("--server=/${a#--servfail=}/$E2E_SERVFAIL_ADDR")
			need_servfail=1
			;;
		--timeout=*) args+=("--server=/${a#--timeout=}/$E2E_BLACKHOLE_ADDR") ;;
		--slow=*:*)
			a=${a#--slow=}
			rules+=(--rule "$a")
			args+=("--server=/${a%:*}/$E2E_DELAY_ADDR")
			continue
			;;
		*) args+=("$a") ;;
		esac
		plain+=("${args[-1]}")
	done
	if [ $need_servfail = 1 ] && [ ! -s "$E2E_WORK/dns-servfail.ready" ]; then
		ip netns exec "$E2E_NS" "$E2E_PY" "$E2E_TOOL" dns-servfail --addr "$E2E_SERVFAIL_ADDR" \
			--ready "$E2E_WORK/dns-servfail.ready" >>"$E2E_WORK/dns-servfail.log" 2>&1 &
		e2e_wait_until 10 test -s "$E2E_WORK/dns-servfail.ready" ||
			e2e_fail "SERVFAIL responder did not start"
	fi
	e2e_dns_stop
	if [ ${#rules[@]} -gt 0 ]; then
		e2e__dnsmasq "$E2E_DELAY_UPSTREAM" "${plain[@]}"
		rm -f "$E2E_WORK/dns-delay.ready"
		ip netns exec "$E2E_NS" "$E2E_PY" "$E2E_TOOL" dns-delay --addr "$E2E_DELAY_ADDR" \
			--upstream "$E2E_DELAY_UPSTREAM" "${rules[@]}" --ready "$E2E_WORK/dns-delay.ready" \
			>>"$E2E_WORK/dns-delay.log" 2>&1 &
		E2E_DNS_PID="$E2E_DNS_PID $!"
		e2e_wait_until 10 test -s "$E2E_WORK/dns-delay.ready" || e2e_fail "DNS delay forwarder did not start"
	fi
	e2e__dnsmasq "$E2E_DNS_ADDR" "${args[@]}"
}

e2e_dns_stop() {
	local p
	for p in $E2E_DNS_PID; do
		kill "$p" 2>/dev/null
		e2e_wait_until 5 e2e__gone "$p" || kill -9 "$p" 2>/dev/null
	done
	E2E_DNS_PID=
}

# e2e__dnsmasq ADDR OPTS...: one dnsmasq on ADDR:53 (log dns.log); its pid joins E2E_DNS_PID.
e2e__dnsmasq() {
	local addr=$1
	shift
	printf '%s\n' "--- dnsmasq on $addr $*" >>"$E2E_WORK/dns.log"
	ip netns exec "$E2E_NS" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
		--listen-address="$addr" --bind-interfaces --port=53 --user=root \
		--pid-file= --cache-size=0 --log-queries --log-facility="$E2E_WORK/dns.log" \
		--local=/test/ "$@" >>"$E2E_WORK/dns.log" 2>&1 &
	E2E_DNS_PID="$E2E_DNS_PID${E2E_DNS_PID:+ }$!"
	e2e_wait_until 10 e2e__listening -u "$addr:53" || e2e_fail "dnsmasq did not start on $addr"
}

e2e__gone() { ! kill -0 "$1" 2>/dev/null; }
e2e__listening() { [ -n "$(e2e_ns ss -Hln "$1" "src $2" 2>/dev/null)" ]; }

# --- receivers -----------------------------------------------------------------------

# e2e_receiver ADDR PORT --starttls|--plain [--name HOST]... [--rcpt-reply 'CODE TEXT']
#     [--data-reply 'CODE TEXT'] [--auth USER:PASSWORD] [--require-starttls] [--untrusted]
#     [--no-smtputf8]
# A real SMTP server (aiosmtpd) on ADDR:PORT in the netns. With --starttls it offers
# STARTTLS with a certificate from the test CA for the --name hosts (default rx.e2e.test)
# and ADDR, so Postfix's verify/secure levels can check it; --untrusted makes that
# certificate self-signed instead (same names, not from the test CA). Every message is
# stored in its dir (e2e_rx_dir) as NNNN.eml plus NNNN.meta (peer, helo, mail_from,
# mail_options (the MAIL parameters, e.g. "BODY=8BITMIME SMTPUTF8"), rcpt=,
# tls=yes|no, tls_version, tls_cipher, tls_bits, auth=USER or empty). --data-reply answers
# DATA with that reply and stores nothing; --auth requires AUTH (PLAIN or LOGIN, only
# after STARTTLS) with these credentials before MAIL; --require-starttls refuses MAIL
# before STARTTLS; --no-smtputf8 does not offer SMTPUTF8. The receiver id, for the other
# helpers, is ADDR:PORT. Returns once it listens. Called again for the same ADDR:PORT
# after e2e_receiver_stop, it starts again with the same mail folder (numbering goes on).
e2e_receiver() {
	local addr=$1 port=$2 mode=$3 names="" opts=() untrusted=0
	shift 3 || e2e_fail "usage: e2e_receiver ADDR PORT --starttls|--plain [--name HOST]..."
	while [ $# -gt 0 ]; do
		case $1 in
		--name) names="$names${names:+,}$2"; shift 2 ;;
		--rcpt-reply | --data-reply | --auth) opts+=("$1" "$2"); shift 2 ;;
		--require-starttls | --no-smtputf8) opts+=("$1"); shift ;;
		--untrusted) untrusted=1; shift ;;
		*) e2e_fail "e2e_receiver: unknown option $1" ;;
		esac
	done
	names=${names:-rx.e2e.test}
	local d=$E2E_WORK/rx/${addr}_$port tls=()
	mkdir -p "$d/mail"
	rm -f "$d/ready"
	case $mode in
	--starttls)
		local c
		if [ $untrusted = 1 ]; then
			c=$(e2e_cert_selfsigned "rx-${addr}_$port-untrusted" "$names" "$addr") ||
				e2e_fail "cannot make a self-signed receiver cert"
		else
			c=$(e2e_cert "rx-${addr}_$port" "$names" "$addr") || e2e_fail "cannot make a receiver cert"
		fi
		tls=(--cert "$c.pem" --key "$c.key")
		;;
	--plain) ;;
	*) e2e_fail "e2e_receiver: $mode: need --starttls or --plain" ;;
	esac
	ip netns exec "$E2E_NS" "$E2E_PY" "$E2E_TOOL" receiver --addr "$addr" --port "$port" --dir "$d/mail" \
		--hostname "${names%%,*}" "${tls[@]}" "${opts[@]}" \
		>>"$d/receiver.log" 2>&1 &
	e2e_wait_until 15 test -s "$d/ready" || e2e_fail "receiver $addr:$port did not start"
	e2e_wait_until 5 e2e__listening -t "$addr:$port" || e2e_fail "receiver $addr:$port not listening"
	e2e_log "receiver $addr:$port ${mode#--} (${names})${opts[*]:+ ${opts[*]}}$([ $untrusted = 1 ] && echo ' untrusted')"
}

# e2e_receiver_stop RECEIVER: stop it (SIGTERM, then SIGKILL) and wait until the port is
# free; its stored mail stays.
e2e_receiver_stop() {
	local d=$E2E_WORK/rx/${1/:/_} pid
	pid=$(cat "$d/ready" 2>/dev/null) || e2e_fail "e2e_receiver_stop: no receiver $1"
	kill "$pid" 2>/dev/null
	e2e_wait_until 5 e2e__gone "$pid" || kill -9 "$pid" 2>/dev/null
	e2e_wait_until 5 e2e__gone "$pid" || e2e_fail "receiver $1 did not stop"
	rm -f "$d/ready"
	e2e_wait_until 5 e2e__not_listening -t "$1" || e2e_fail "receiver $1 still listening"
	e2e_log "receiver $1 stopped"
}
e2e__not_listening() { ! e2e__listening "$@"; }

# e2e_rx_dir RECEIVER: the folder holding RECEIVER's stored messages.
e2e_rx_dir() { echo "$E2E_WORK/rx/${1/:/_}/mail"; }

# e2e_rx_count RECEIVER: how many messages RECEIVER has stored.
e2e_rx_count() {
	local d n=0 f
	d=$(e2e_rx_dir "$1")
	for f in "$d"/*.meta; do [ -e "$f" ] && n=$((n + 1)); done
	echo $n
}

# e2e_rx_file RECEIVER RCPT: the stored message(s) (.eml paths) RECEIVER got for RCPT.
e2e_rx_file() {
	local f
	for f in "$(e2e_rx_dir "$1")"/*.meta; do
		[ -e "$f" ] && grep -qixF "rcpt=$2" "$f" && echo "${f%.meta}.eml"
	done
}

# e2e_wait_delivered RECEIVER N TIMEOUT: until RECEIVER has stored at least N messages.
e2e_wait_delivered() {
	e2e_wait_until "$3" e2e__rx_has "$1" "$2"
}
e2e__rx_has() { [ "$(e2e_rx_count "$1")" -ge "$2" ]; }

# e2e_assert_tls RECEIVER [RCPT]: every message RECEIVER stored (for RCPT, if given)
# arrived over TLS, and there is at least one. Prints version and cipher; 1 if not.
e2e_assert_tls() { e2e__assert_meta "$1" "${2:-}" yes; }
# e2e_assert_plain RECEIVER [RCPT]: the same, for clear text.
e2e_assert_plain() { e2e__assert_meta "$1" "${2:-}" no; }

e2e__assert_meta() {
	local d f n=0 bad=0
	d=$(e2e_rx_dir "$1")
	for f in "$d"/*.meta; do
		[ -e "$f" ] || continue
		[ -z "$2" ] || grep -qixF "rcpt=$2" "$f" || continue
		n=$((n + 1))
		if grep -qx "tls=$3" "$f"; then
			e2e_log "$1: ${f##*/}: tls=$3 $(grep -h '^tls_\(version\|cipher\)=' "$f" | tr '\n' ' ')"
		else
			e2e_log "$1: ${f##*/}: expected tls=$3: $(tr '\n' ' ' <"$f")"
			bad=1
		fi
	done
	[ $n -gt 0 ] || e2e_log "$1: no stored message${2:+ for $2}"
	[ $n -gt 0 ] && [ $bad = 0 ]
}

# --- other programs (the daemons under test) -------------------------------------------

# e2e_spawn NAME CMD...: start CMD in the background inside the netns, output to
# $E2E_WORK/NAME.log (shown by e2e_fail); its pid is in E2E_PID_<NAME> and e2e_pid NAME.
# The teardown ends it with everything else in the netns.
e2e_spawn() {
	local name=$1
	shift
	ip netns exec "$E2E_NS" "$@" >>"$E2E_WORK/$name.log" 2>&1 &
	printf -v "E2E_PID_${name//[^A-Za-z0-9_]/_}" %s $!
	echo $! >"$E2E_WORK/$name.pid"
	E2E_SPAWNED="${E2E_SPAWNED:-} $name"
}

# e2e_pid NAME: the pid of a program started with e2e_spawn.
e2e_pid() { cat "$E2E_WORK/$1.pid"; }

# e2e_running NAME: that program is still running.
e2e_running() { kill -0 "$(e2e_pid "$1")" 2>/dev/null; }

# e2e_signal NAME SIG: send SIG (HUP, USR1, TERM...) to a program started with e2e_spawn.
e2e_signal() { kill -s "$2" "$(e2e_pid "$1")"; }

# e2e_stop NAME [TIMEOUT]: TERM, then KILL after TIMEOUT (default 5) s; 0 once gone.
e2e_stop() {
	local pid
	pid=$(e2e_pid "$1")
	kill "$pid" 2>/dev/null
	e2e_wait_until "${2:-5}" e2e__gone "$pid" && return 0
	kill -9 "$pid" 2>/dev/null
	e2e_wait_until 2 e2e__gone "$pid"
}

# e2e_wait_listen ADDR PORT TIMEOUT [tcp|udp]: until something listens on ADDR:PORT in
# the netns. For unix sockets use e2e_wait_until T test -S PATH.
e2e_wait_listen() {
	local proto=-t
	[ "${4:-tcp}" = udp ] && proto=-u
	e2e_wait_until "$3" e2e__listening $proto "$1:$2"
}

# --- Postfix -------------------------------------------------------------------------

# e2e_postfix [main.cf LINE...] [--master=MASTER.CF LINE...]: write and start a private
# Postfix in the netns, listening on $E2E_MTA_ADDR:25. LINEs are "name = value" and
# override the harness defaults (postconf -e). Queue, data dir, maillog, certificate (for
# smtpd STARTTLS) and the CA file (smtp_tls_CAfile, trusting the receivers) live in the
# work dir. Returns once smtpd listens.
e2e_postfix() {
	local pf=$E2E_WORK/postfix line
	E2E_PF_CONF=$pf/conf
	mkdir -p "$E2E_PF_CONF" "$pf/data" "$pf/queue"
	chown postfix "$pf/data"
	local c
	c=$(e2e_cert mta "$E2E_MTA_NAME" "$E2E_MTA_ADDR") || e2e_fail "cannot make the MTA cert"
	cat >"$E2E_PF_CONF/main.cf" <<EOF
# private Postfix of tests/e2e ($E2E_NS)
compatibility_level = 3.6
queue_directory = $pf/queue
data_directory = $pf/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $pf/maillog
maillog_file_prefixes = $E2E_WORK_PREFIX
myhostname = $E2E_MTA_NAME
mydomain = e2e.test
myorigin = \$myhostname
mydestination =
local_recipient_maps =
local_transport = error:5.1.1 local delivery is off in the e2e harness
alias_maps =
alias_database =
biff = no
append_dot_mydomain = no
readme_directory = no
smtputf8_enable = no
inet_interfaces = $E2E_MTA_ADDR
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains = test
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_banner = \$myhostname ESMTP forcetls-e2e
smtpd_tls_security_level = may
smtpd_tls_cert_file = $c.pem
smtpd_tls_key_file = $c.key
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
smtp_host_lookup = dns
smtp_address_preference = ipv4
smtp_tls_security_level = may
smtp_tls_CAfile = $E2E_WORK/ca/ca.pem
smtp_tls_loglevel = 1
smtp_tls_note_starttls_offer = yes
smtp_connect_timeout = 5s
smtp_helo_timeout = 10s
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
delay_warning_time = 0
EOF
	cat >"$E2E_PF_CONF/master.cf" <<'EOF'
# private Postfix of tests/e2e: no chroot
smtp      inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
	for line in "$@"; do
		case $line in
		--master=*) printf '%s\n' "${line#--master=}" >>"$E2E_PF_CONF/master.cf" ;;
		*) timeout 10 postconf -c "$E2E_PF_CONF" -e "$line" || e2e_fail "bad main.cf line: $line" ;;
		esac
	done
	e2e__register_confdir add "$E2E_PF_CONF" || e2e_fail "cannot register $E2E_PF_CONF in /etc/postfix/main.cf"
	# inet_interfaces must be an address of an interface, not just inside 127/8
	ip -n "$E2E_NS" addr add "$E2E_MTA_ADDR/32" dev lo 2>/dev/null
	E2E_PF_STARTED=1
	# postfix(1) writes its errors to stderr only when that is a terminal: give it one
	timeout 60 script -qec "ip netns exec $E2E_NS postfix -c $E2E_PF_CONF start" /dev/null \
		>"$pf/start.log" 2>&1 </dev/null || e2e_fail "postfix start failed: $(cat "$pf/start.log")"
	e2e_wait_until 20 e2e__listening -t "$E2E_MTA_ADDR:25" || e2e_fail "Postfix smtpd not listening"
	e2e_log "postfix $E2E_PF_CONF listening on $E2E_MTA_ADDR:25"
}

# e2e_postconf LINE...: change main.cf of the running private Postfix and reload it.
e2e_postconf() {
	local line
	for line in "$@"; do
		timeout 10 postconf -c "$E2E_PF_CONF" -e "$line" || e2e_fail "bad main.cf line: $line"
	done
	timeout 30 ip netns exec "$E2E_NS" postfix -c "$E2E_PF_CONF" reload >>"$E2E_WORK/postfix/start.log" 2>&1
}

# e2e_postmap ARGS...: postmap with the private config (lmdb:, hash:, cdb: files; -q).
# Works before e2e_postfix too (then with a minimal config dir of its own).
e2e_postmap() {
	local conf=$E2E_PF_CONF
	if [ -z "$conf" ]; then
		conf=$E2E_WORK/postmap-conf
		[ -f "$conf/main.cf" ] || {
			mkdir -p "$conf" && printf 'compatibility_level = 3.6\n' >"$conf/main.cf"
		}
	fi
	timeout 30 ip netns exec "$E2E_NS" postmap -c "$conf" "$@"
}

# e2e_cf_lines FILE: the parameter lines of a main.cf fragment (examples/postfix/*), one
# logical line each (comments dropped, continuation lines joined), to feed e2e_postfix.
e2e_cf_lines() {
	awk '
		/^[ \t]*#/ || /^[ \t]*$/ { next }
		/^[ \t]/ { sub(/^[ \t]+/, ""); cur = cur " " $0; next }
		{ if (cur != "") print cur; cur = $0 }
		END { if (cur != "") print cur }' "$1"
}

# /etc/postfix/main.cf must list a private config dir in alternate_config_directories
# before "postfix -c DIR" accepts it, and list the maillog folder in
# maillog_file_prefixes. Edits are serialized with flock on /etc/postfix and done with
# postconf -e (which renames a new file into place), so concurrent tests and running
# Postfix instances see either the old or the new file. Stale entries of our prefix
# (tests that were killed) are pruned.
e2e__register_confdir() {
	local op=$1 dir=$2 # op: add, del or prune (only drop entries whose dir is gone)
	(
		flock -w 30 9 || exit 1
		local f=/etc/postfix/main.cf cur new d
		if [ ! -e $f ]; then
			printf '%s\n' "# created by forcetls tests/e2e: the private test instances need" \
				"# alternate_config_directories and maillog_file_prefixes here." \
				"compatibility_level = 3.6" >$f.e2e.$$ && mv $f.e2e.$$ $f || exit 1
		fi
		cur=$(timeout 10 postconf -c /etc/postfix -h maillog_file_prefixes) || exit 1
		case ", $cur," in
		*[\ ,]"$E2E_WORK_PREFIX"[\ ,]*) ;;
		*) timeout 10 postconf -c /etc/postfix -e "maillog_file_prefixes = $cur, $E2E_WORK_PREFIX" || exit 1 ;;
		esac
		cur=$(timeout 10 postconf -c /etc/postfix -h alternate_config_directories) || exit 1
		new=""
		for d in ${cur//,/ }; do
			case $d in
			"$dir") continue ;;
			"$E2E_WORK_PREFIX"*) [ -d "$d" ] || continue ;;
			esac
			new="$new${new:+ }$d"
		done
		[ "$op" = add ] && new="$new${new:+ }$dir"
		[ "$new" = "$cur" ] || timeout 10 postconf -c /etc/postfix -e "alternate_config_directories = $new"
	) 9</etc/postfix
}

# e2e_send FROM TO [swaks args...]: swaks inside the netns to the private Postfix (or to
# --server given in the args). The transcript goes to $E2E_SWAKS_LOG; returns swaks's
# exit code (0: accepted; 23 MAIL rejected; 24 no RCPT accepted; see swaks(1)).
e2e_send() {
	local from=$1 to=$2
	shift 2
	E2E_SENT=$((E2E_SENT + 1))
	E2E_SWAKS_LOG=$E2E_WORK/swaks/$E2E_SENT.log
	timeout 60 ip netns exec "$E2E_NS" swaks --server "$E2E_MTA_ADDR:25" --timeout 20 \
		--helo client.e2e.test --from "$from" --to "$to" \
		--header "Subject: e2e $E2E_NAME #$E2E_SENT" --header "X-E2E-Test: $E2E_NAME-$E2E_SENT" \
		"$@" >"$E2E_SWAKS_LOG" 2>&1
	local rc=$?
	e2e_log "sent #$E2E_SENT $from -> $to (swaks exit $rc)"
	return $rc
}

# e2e_swaks_reply REGEX: the last swaks transcript has a server reply line matching REGEX
# (e.g. '^4[0-9][0-9] ' for a temporary failure).
e2e_swaks_reply() { sed -n 's/^ *<[~*-]* *//p' "$E2E_SWAKS_LOG" | grep -Eq "$1"; }

# e2e_queue_json: postqueue -j of the private Postfix (one JSON object per message).
e2e_queue_json() { timeout 20 ip netns exec "$E2E_NS" postqueue -c "$E2E_PF_CONF" -j 2>/dev/null; }

# e2e_queue_count: how many messages the private Postfix holds (all queues).
e2e_queue_count() { e2e_queue_json | grep -c '"queue_id"'; }

# e2e_queue_has RCPT [QUEUE]: a message for RCPT is queued (in QUEUE: deferred, active...).
e2e_queue_has() {
	local q
	q=$(e2e_queue_json | grep -iF "\"address\": \"$1\"")
	[ -n "$q" ] || return 1
	[ -z "${2:-}" ] || printf '%s\n' "$q" | grep -q "\"queue_name\": \"$2\""
}

# e2e_flush: ask Postfix to retry the deferred queue now.
e2e_flush() { timeout 20 ip netns exec "$E2E_NS" postqueue -c "$E2E_PF_CONF" -f 2>/dev/null; }

# e2e_log_grep ERE: print the maillog lines matching ERE; 1 if none.
e2e_log_grep() { grep -E -- "$1" "$E2E_WORK/postfix/maillog" 2>/dev/null; }

# e2e_log_count ERE: how many maillog lines match ERE.
e2e_log_count() { grep -Ec -- "$1" "$E2E_WORK/postfix/maillog" 2>/dev/null || true; }
e2e__log_count_ge() { [ "$(e2e_log_count "$1")" -ge "$2" ]; }

# e2e_wait_log ERE TIMEOUT: until the maillog has a line matching ERE.
e2e_wait_log() { e2e_wait_until "$2" e2e__log_has "$1"; }
e2e__log_has() { grep -Eq -- "$1" "$E2E_WORK/postfix/maillog" 2>/dev/null; }

# e2e_wait_deferred RCPT TIMEOUT [DSN_ERE]: until the maillog shows "to=<RCPT>, ...
# dsn=DSN, status=deferred" (DSN_ERE default 4\.[0-9]+\.[0-9]+) AND the message is still
# queued. Any queue counts: between retries qmgr may hold it in active, or park it in
# incoming when a scan races the delivery agent ("skipped, still being delivered").
# Prints the log line.
e2e_wait_deferred() {
	local rcpt=$1 t=$2 dsn=${3:-4\\.[0-9]+\\.[0-9]+} ere
	ere="to=<${rcpt//./\\.}>.* dsn=$dsn, status=deferred"
	e2e_wait_until "$t" e2e__deferred "$ere" "$rcpt" || return 1
	e2e_log_grep "$ere" | tail -1 | sed 's/^/    /' >&2
}
e2e__deferred() { e2e__log_has "$1" && e2e_queue_has "$2"; }

# e2e_wait_retried RCPT N TIMEOUT [DSN_ERE]: until the maillog shows at least N deferrals
# of RCPT (DSN_ERE as for e2e_wait_deferred). Meanwhile it flushes the queue every second,
# so that a message qmgr parked in the incoming queue is retried too.
e2e_wait_retried() {
	local rcpt=$1 n=$2 dsn=${4:-4\\.[0-9]+\\.[0-9]+} ere deadline
	ere="to=<${rcpt//./\\.}>.* dsn=$dsn, status=deferred"
	deadline=$(($(date +%s) + $3))
	until e2e__log_count_ge "$ere" "$n"; do
		[ "$(date +%s)" -ge $deadline ] && return 1
		e2e_flush
		sleep 1
	done
}

# e2e_fail MSG: print MSG and the relevant logs, exit 1 (the trap tears down).
e2e_fail() {
	{
		echo "FAIL: $E2E_NAME: $*"
		if [ -n "$E2E_WORK" ]; then
			local f
			echo "--- maillog (last 60 lines)"
			tail -n 60 "$E2E_WORK/postfix/maillog" 2>/dev/null
			echo "--- queue"
			[ -n "$E2E_PF_CONF" ] && e2e_queue_json
			echo "--- dns.log (last 30 lines)"
			tail -n 30 "$E2E_WORK/dns.log" 2>/dev/null
			for f in ${E2E_SPAWNED:-}; do
				echo "--- $f.log (last 30 lines)"
				tail -n 30 "$E2E_WORK/$f.log" 2>/dev/null
			done
			for f in "$E2E_WORK"/rx/*/receiver.log; do
				[ -e "$f" ] && echo "--- ${f#"$E2E_WORK"/}" && tail -n 20 "$f"
			done
			if [ -n "$E2E_SWAKS_LOG" ]; then
				echo "--- last swaks transcript ($E2E_SWAKS_LOG)"
				tail -n 40 "$E2E_SWAKS_LOG"
			fi
			echo "--- work dir: $E2E_WORK (KEEP=1 keeps it)"
		fi
	} >&2
	exit 1
}

# e2e_pass: final line of a passing test.
e2e_pass() {
	echo "PASS: $E2E_NAME ($(($(date +%s) - E2E_T0)) s)"
	exit 0
}

# e2e__reap: clean up after tests that were killed before their trap could run (ctest's
# timeout kills with SIGKILL): a work dir whose owner pid is gone has its netns processes
# killed, its netns, /etc/netns entry, alternate_config_directories entry and dir removed.
e2e__reap() {
	local d owner ns pids
	for d in "$E2E_WORK_PREFIX"*/; do
		d=${d%/}
		[ -f "$d/owner" ] && [ -f "$d/netns" ] || continue
		owner=$(cat "$d/owner" 2>/dev/null) ns=$(cat "$d/netns" 2>/dev/null)
		[ -n "$owner" ] && [ "$owner" != $$ ] || continue
		kill -0 "$owner" 2>/dev/null && continue
		case $ns in ftls-*-"$owner") ;; *) continue ;; esac
		e2e_log "reaping $d (netns $ns) of dead test pid $owner"
		pids=$(ip netns pids "$ns" 2>/dev/null)
		# shellcheck disable=SC2086
		[ -z "$pids" ] || kill -9 $pids 2>/dev/null
		ip netns del "$ns" 2>/dev/null
		rm -rf "/etc/netns/$ns" "$d"
	done
	e2e__register_confdir prune ""
}

# The EXIT trap: stop Postfix, end every process in the netns (by pid), delete the netns,
# its /etc/netns folder, the alternate_config_directories entry and the work dir.
e2e_teardown() {
	local rc=$? i pids
	trap - EXIT INT TERM HUP
	set +e
	if [ -n "${E2E_HOLD:-}" ] && [ -n "$E2E_NS" ]; then
		echo "e2e: E2E_HOLD: the world stays up for ${E2E_HOLD%.*} s (exit $rc):" \
			"ip netns exec $E2E_NS bash (postqueue -c $E2E_PF_CONF -p there); work dir $E2E_WORK" >&2
		trap : INT TERM # Ctrl-C ends the sleep, not the teardown
		sleep "${E2E_HOLD%.*}"
		trap - INT TERM
	fi
	if [ -n "$E2E_NS" ]; then
		if [ "$E2E_PF_STARTED" = 1 ]; then
			timeout 20 ip netns exec "$E2E_NS" postfix -c "$E2E_PF_CONF" stop >/dev/null 2>&1
		fi
		for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
			pids=$(ip netns pids "$E2E_NS" 2>/dev/null)
			[ -z "$pids" ] && break
			# shellcheck disable=SC2086
			if [ $i -lt 10 ]; then kill $pids 2>/dev/null; else kill -9 $pids 2>/dev/null; fi
			sleep 0.2
		done
		[ -z "$pids" ] || echo "e2e: processes left in $E2E_NS: $pids" >&2
		ip netns del "$E2E_NS" 2>/dev/null
		rm -rf "/etc/netns/$E2E_NS"
	fi
	[ -n "$E2E_PF_CONF" ] && e2e__register_confdir del "$E2E_PF_CONF"
	if [ -n "$E2E_WORK" ]; then
		if [ "${KEEP:-0}" = 1 ]; then
			rm -f "$E2E_WORK/owner"
			echo "e2e: KEEP=1: work dir kept: $E2E_WORK" >&2
		else
			rm -rf "$E2E_WORK"
		fi
	fi
	exit $rc
}
