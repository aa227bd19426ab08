#!/bin/bash
# t-milter-outbound.sh - forcetls-milter in a real Postfix, outbound: the encryption
# gateway route and the X-TLSLevel route, judged by what Postfix queued and what the
# receivers (the recipient's MX, the gateway) really got.
#
# usage: t-milter-outbound.sh TLSMAPS [EXAMPLES_DIR]
#        (FTLS_MILTER and FTLS_POLICYD in the environment: the programs under test)
#
# This file also holds the milter world shared by the other t-milter-*.sh tests: they
# source it with MILTER_WORLD_ONLY=1 and get milter_world and the mw_* helpers.
#
# The world: Postfix configured with exactly the lines of examples/postfix/main.cf.milter,
# forcetls_milter_header_checks and master.cf.forcetls (only the socket paths and the
# gateway name replaced), forcetls-milter and forcetls-policyd (for the forcetls-require
# map) running on examples/forcetls.conf with only the networks, the user (nobody) and
# the socket group (postfix) changed (mw_conf_set), and:
#   127.0.0.30:10025  gateway.test, the encryption gateway (STARTTLS receiver)
#   127.0.0.2:25      mx.plain.test, MX of forced-plain.test and open-plain.test (no TLS)
#   127.0.0.3:25      mx.tls.test, MX of forced-tls.test and open-tls.test (STARTTLS)
#   127.0.0.66        an internal client (milter.internal_networks)
#   127.0.0.77        an inbound client (anything else)
#   127.0.0.30        also the gateway's sending address (milter.gateway_networks)
# forced-plain.test and forced-tls.test are forced (encrypt) in the table; open-*.test
# are not.
#
# Proves (outbound, from the internal client):
#   - "Subject: [encrypt] ..." to an unlisted domain AND to a forced domain: both reach
#     the gateway, over TLS, with exactly one "X-Encrypt: yes" and one X-TLSLevel; the
#     recipients' MXes got nothing, nothing stays queued;
#   - a forced recipient, MX without STARTTLS: Postfix holds the message with exactly one
#     X-TLSLevel header, "X-TLSLevel: Require", first (postcat), routed to the
#     forcetls-require transport (milter_header_checks), deferred 4.7.4, retried and
#     still queued, never sent in clear; the client's own "X-TLSLevel: Try" is gone;
#   - a tagged message to a forced domain carries both headers and still goes to the
#     gateway (the trigger comes after X-TLSLevel: the last FILTER wins);
#   - a forced recipient, STARTTLS MX: delivered over TLS with exactly one X-TLSLevel
#     header, Require, the first header;
#   - an unlisted recipient: delivered with exactly one "X-TLSLevel: Try" (opportunistic),
#     not to the gateway.
set -u
. "$(dirname "$0")/lib.sh"

# --- the milter world (shared) ---------------------------------------------------------

MW_GW_ADDR=127.0.0.30
MW_GW_PORT=10025
MW_GW=$MW_GW_ADDR:$MW_GW_PORT
MW_RX_PLAIN=127.0.0.2:25
MW_RX_TLS=127.0.0.3:25
MW_INTERNAL=127.0.0.66
MW_INBOUND=127.0.0.77
MW_DNS_EXTRA=() # more dnsmasq options for milter_world (set it after sourcing this file)

# mw_conf_set FILE SECTION KEY VALUE: replace "KEY = ...;" inside "SECTION = { ... };"
# of a libconfig file in place; 1 when the setting is not there (the example changed).
mw_conf_set() {
	local f=$1 tmp
	tmp=$(mktemp "$f.XXXXXX") || return 1
	awk -v sec="$2" -v key="$3" -v val="$4" '
		$0 ~ "^" sec "[ \t]*=[ \t]*\\{" { insec = 1 }
		insec && $0 ~ "^};" { insec = 0 }
		insec && !done && $0 ~ "^[ \t]*" key "[ \t]*=" {
			match($0, /^[ \t]*/)
			print substr($0, 1, RLENGTH) key " = " val ";"
			done = 1
			next
		}
		{ print }
		END { exit done ? 0 : 1 }' "$f" >"$tmp" && mv "$tmp" "$f" && return 0
	rm -f "$tmp"
	return 1
}

# milter_world NAME [TABLE LINES...]: e2e_setup NAME and the whole world above (DNS: plus
# the dnsmasq options in the array MW_DNS_EXTRA). The
# milter's log is $E2E_WORK/milter.log, the policy daemon's $E2E_WORK/policyd.log.
milter_world() {
	local name=$1 l
	shift
	[ -n "${FTLS_MILTER:-}" ] && [ -x "$FTLS_MILTER" ] ||
		e2e_skip "FTLS_MILTER is not set: forcetls-milter not built"
	[ -n "${FTLS_POLICYD:-}" ] && [ -x "$FTLS_POLICYD" ] ||
		e2e_skip "FTLS_POLICYD is not set: forcetls-policyd not built"
	e2e_setup "$name"
	W=$E2E_WORK
	EX=${EXAMPLES:-${FTLS_EXAMPLES:-$E2E_LIB_DIR/../../examples}}
	local cf=$EX/postfix/main.cf.milter hc=$EX/postfix/forcetls_milter_header_checks
	local mc=$EX/postfix/master.cf.forcetls conf=$EX/forcetls.conf
	for l in "$cf" "$hc" "$mc" "$conf"; do [ -f "$l" ] || e2e_fail "$l: missing"; done

	# The forced-TLS table.
	{
		echo "# forced-TLS table of $name"
		echo "forced-plain.test"
		echo "forced-tls.test                     encrypt"
		[ $# -eq 0 ] || printf '%s\n' "$@"
	} >"$W/forced-tls.table"

	# examples/forcetls.conf, changed only where this machine differs: the test
	# networks, no "forcetls" user here (nobody, with the socket group postfix).
	cp "$conf" "$W/forcetls.conf"
	# the daemons write their state (the shrink guard's last count) as nobody
	mkdir -p "$W/state" && chown nobody "$W/state"
	mw_conf_set "$W/forcetls.conf" milter internal_networks "[ \"$MW_INTERNAL/32\" ]" &&
		mw_conf_set "$W/forcetls.conf" milter gateway_networks "[ \"$MW_GW_ADDR/32\" ]" &&
		mw_conf_set "$W/forcetls.conf" milter user '"nobody"' &&
		mw_conf_set "$W/forcetls.conf" milter socket_group '"postfix"' &&
		mw_conf_set "$W/forcetls.conf" policyd user '"nobody"' &&
		mw_conf_set "$W/forcetls.conf" policyd socket_group '"postfix"' &&
		mw_conf_set "$W/forcetls.conf" milter state_file "\"$W/state/milter.state\"" &&
		mw_conf_set "$W/forcetls.conf" policyd state_file "\"$W/state/policyd.state\"" ||
		e2e_fail "$conf: a setting the test changes is not there any more"
	chmod 644 "$W/forcetls.conf" "$W/forced-tls.table" # read again as nobody (SIGUSR1)
	"$FTLS_MILTER" --check --config "$W/forcetls.conf" --table "$W/forced-tls.table" \
		>"$W/milter-check.log" 2>&1 || e2e_fail "forcetls-milter --check: $(cat "$W/milter-check.log")"

	# Postfix: the example lines, with our socket paths and the gateway's name.
	MW_MILTER_SOCK=$W/milter.sock
	MW_POLICYD_SOCK=$W/policyd.sock
	sed "s/gateway\.example/gateway.test/g" "$hc" >"$W/forcetls_milter_header_checks"
	grep -q "FILTER forcetls-gateway:\[gateway\.test\]:$MW_GW_PORT" "$W/forcetls_milter_header_checks" ||
		e2e_fail "$hc: no FILTER forcetls-gateway:[gateway.example]:$MW_GW_PORT line"
	MW_CF=()
	while IFS= read -r l; do
		l=${l//inet:127.0.0.1:10030/unix:$MW_MILTER_SOCK}
		l=${l//\/etc\/postfix\/forcetls_milter_header_checks/$W/forcetls_milter_header_checks}
		MW_CF+=("$l")
	done < <(e2e_cf_lines "$cf")
	printf '%s\n' "${MW_CF[@]}" | grep -q "^smtpd_milters = unix:$MW_MILTER_SOCK\$" ||
		e2e_fail "$cf: smtpd_milters is not inet:127.0.0.1:10030 any more"
	printf '%s\n' "${MW_CF[@]}" | grep -q "^milter_header_checks = regexp:$W/" ||
		e2e_fail "$cf: milter_header_checks is not the shipped file any more"
	while IFS= read -r l; do
		case $l in '#'* | '') continue ;; esac
		MW_CF+=("--master=${l//inet:127.0.0.1:10028/unix:$MW_POLICYD_SOCK}")
	done <"$mc"
	printf '%s\n' "${MW_CF[@]}" | grep -q "^--master=.*socketmap:unix:$MW_POLICYD_SOCK:forcetls-require" ||
		e2e_fail "$mc: the forcetls-require map is not socketmap:inet:127.0.0.1:10028 any more"

	e2e_dns \
		--host-record=gateway.test,$MW_GW_ADDR \
		--host-record=mx.plain.test,127.0.0.2 \
		--host-record=mx.tls.test,127.0.0.3 \
		--mx-host=forced-plain.test,mx.plain.test,10 \
		--mx-host=open-plain.test,mx.plain.test,10 \
		--mx-host=forced-tls.test,mx.tls.test,10 \
		--mx-host=open-tls.test,mx.tls.test,10 "${MW_DNS_EXTRA[@]}"
	e2e_receiver $MW_GW_ADDR $MW_GW_PORT --starttls --name gateway.test
	e2e_receiver 127.0.0.2 25 --plain --name mx.plain.test
	e2e_receiver 127.0.0.3 25 --starttls --name mx.tls.test
	ip -n "$E2E_NS" addr add "$MW_GW_ADDR/32" dev lo 2>/dev/null
	# A test may change the world before the daemons start (t-milter-idn.sh does).
	if declare -F mw_world_hook >/dev/null; then mw_world_hook; fi

	e2e_spawn policyd "$FTLS_POLICYD" --foreground --config "$W/forcetls.conf" \
		--table "$W/forced-tls.table" --socketmap-listen "unix:$MW_POLICYD_SOCK" --policy-listen ""
	e2e_spawn milter "$FTLS_MILTER" --foreground --config "$W/forcetls.conf" \
		--table "$W/forced-tls.table" --listen "unix:$MW_MILTER_SOCK"
	e2e_wait_until 15 test -S "$MW_POLICYD_SOCK" || e2e_fail "forcetls-policyd did not listen"
	e2e_wait_until 15 mw__log_has milter 'ready on' || e2e_fail "forcetls-milter did not start"
	test -S "$MW_MILTER_SOCK" || e2e_fail "forcetls-milter: no socket $MW_MILTER_SOCK"
	e2e_postfix "${MW_CF[@]}"
}

mw__log_has() { grep -q -- "$2" "$E2E_WORK/$1.log" 2>/dev/null; }

# mw_relay_setup GATEWAYS: relay mode in $W/forcetls.conf (call it from mw_world_hook):
# routing "relay", relay_gateways GATEWAYS (a libconfig list), the test CA, AUTH as
# relay:s3cret (password file owned by nobody), relay_timeout 20, relay_helo
# relay.forcetls.test, the spool $W/spool; and the gateway restarted requiring that AUTH.
mw_relay_setup() {
	mkdir -p "$W/spool" && chown nobody "$W/spool" && chmod 700 "$W/spool"
	printf 's3cret\n' >"$W/relay.pass" && chown nobody "$W/relay.pass" && chmod 600 "$W/relay.pass"
	mw_conf_set "$W/forcetls.conf" milter routing '"relay"' &&
		mw_conf_set "$W/forcetls.conf" milter relay_gateways "$1" &&
		mw_conf_set "$W/forcetls.conf" milter relay_ca_file "\"$W/ca/ca.pem\"" &&
		mw_conf_set "$W/forcetls.conf" milter relay_auth_user '"relay"' &&
		mw_conf_set "$W/forcetls.conf" milter relay_auth_password_file "\"$W/relay.pass\"" &&
		mw_conf_set "$W/forcetls.conf" milter relay_timeout 20 &&
		mw_conf_set "$W/forcetls.conf" milter relay_helo '"relay.forcetls.test"' &&
		mw_conf_set "$W/forcetls.conf" milter relay_spool_dir "\"$W/spool\"" ||
		e2e_fail "examples/forcetls.conf: a relay setting is not there"
	chmod 644 "$W/forcetls.conf"
	e2e_receiver_stop $MW_GW
	e2e_receiver $MW_GW_ADDR $MW_GW_PORT --starttls --name gateway.test --auth relay:s3cret
}

# mw_send_internal / mw_send_inbound / mw_send_gateway FROM TO [swaks args]: e2e_send from
# that client address.
mw_send_internal() { e2e_send "$1" "$2" --local-interface $MW_INTERNAL "${@:3}"; }
mw_send_inbound() { e2e_send "$1" "$2" --local-interface $MW_INBOUND "${@:3}"; }
mw_send_gateway() { e2e_send "$1" "$2" --local-interface $MW_GW_ADDR "${@:3}"; }
# mw_gateway_return RCPT STATUS: what the gateway does: take the message it received for
# RCPT, add "X-Encrypt-Status: STATUS" and send it back through Postfix from its address.
mw_gateway_return() {
	local in out subj
	in=$(mw_rx_one $MW_GW "$1") || return 1
	out=$E2E_WORK/gateway-return-$1.eml
	{
		printf 'X-Encrypt-Status: %s\n' "$2"
		sed 's/\r$//' "$in"
	} >"$out"
	subj=$(mw_headers "$out" | sed -n 's/^Subject: //Ip' | head -1)
	# (e2e_send adds its own Subject: give the original back)
	mw_send_gateway gateway@gateway.test "$1" --data "@$out" --header "Subject: $subj"
}

# mw_headers FILE: the header section of a message, unfolded, one header per line.
mw_headers() {
	awk '/^\r?$/ { exit } /^[ \t]/ { sub(/\r$/, ""); cur = cur $0; next }
		{ if (cur != "") print cur; sub(/\r$/, ""); cur = $0 }
		END { if (cur != "") print cur }' "$1"
}

# mw_hcount FILE NAME: how many headers NAME the message has (case-insensitive).
mw_hcount() { mw_headers "$1" | grep -ic "^$2:" || true; }

# mw_hfirst FILE: the first header of the message (Postfix puts a header that a milter
# inserts at index 0 even before its own Received:).
mw_hfirst() { mw_headers "$1" | head -1; }

# mw_rx_one RX RCPT: the single .eml RX stored for RCPT; fails unless exactly one.
mw_rx_one() {
	local f
	f=$(e2e_rx_file "$1" "$2")
	[ -n "$f" ] && [ "$(printf '%s\n' "$f" | wc -l)" -eq 1 ] || return 1
	echo "$f"
}

# mw_queued RCPT: write the message Postfix holds for RCPT (postcat -hb) to a file in
# the work dir and print its path; 1 when none is queued.
mw_queued() {
	local id f
	id=$(e2e_queue_json | grep -iF "\"address\": \"$1\"" | head -1 |
		sed -n 's/.*"queue_id": "\([0-9A-Za-z]*\)".*/\1/p')
	[ -n "$id" ] || return 1
	f=$E2E_WORK/queued-$id.eml
	timeout 20 ip netns exec "$E2E_NS" postcat -c "$E2E_PF_CONF" -hb -q "$id" >"$f" 2>/dev/null &&
		[ -s "$f" ] || return 1
	echo "$f"
}

# mw_milter_said REGEX: the milter logged a decision matching REGEX.
mw_milter_said() { grep -Eq -- "$1" "$E2E_WORK/milter.log"; }

# mw_finish: both daemons lived through the test and no sanitizer spoke; a sanitizer
# build is stopped with TERM first, so that LeakSanitizer reports too. Then e2e_pass.
mw_finish() {
	local d
	for d in milter policyd; do
		e2e_running $d || e2e_fail "forcetls-$d died during the test"
	done
	if grep -qa __asan_init "$FTLS_MILTER" "$FTLS_POLICYD"; then
		for d in milter policyd; do
			e2e_stop $d 15 || e2e_fail "forcetls-$d did not stop on TERM"
		done
	fi
	grep -E 'Sanitizer|runtime error:' "$W/milter.log" "$W/policyd.log" &&
		e2e_fail "a sanitizer report in the daemons' logs"
	e2e_pass
}

[ "${MILTER_WORLD_ONLY:-0}" = 1 ] && return 0

# --- the test ----------------------------------------------------------------------------

EXAMPLES=${2:-${FTLS_EXAMPLES:-}}
milter_world milter-outbound

F=alice@corp.e2e.test
# 1. Tagged: to the gateway, and only there.
mw_send_internal $F tagged@open-plain.test --header "Subject: [encrypt] quarterly figures" ||
	e2e_fail "tagged message (unlisted domain) not accepted"
mw_send_internal $F tagged@forced-plain.test --header "Subject: [secure] contract" ||
	e2e_fail "tagged message (forced domain) not accepted"
# 2. Forced, MX without STARTTLS; the client's own X-TLSLevel must not survive.
mw_send_internal $F forced@forced-plain.test --header "X-TLSLevel: Try" ||
	e2e_fail "message to forced-plain.test not accepted"
# 3. Forced, MX with STARTTLS.
mw_send_internal $F forced@forced-tls.test || e2e_fail "message to forced-tls.test not accepted"
# 4. Not forced, not tagged.
mw_send_internal $F plain@open-plain.test || e2e_fail "message to open-plain.test not accepted"

e2e_wait_delivered $MW_GW 2 30 || e2e_fail "the tagged messages did not reach the gateway"
for r in tagged@open-plain.test tagged@forced-plain.test; do
	f=$(mw_rx_one $MW_GW $r) || e2e_fail "gateway: not exactly one message for $r"
	e2e_assert_tls $MW_GW $r || e2e_fail "gateway: $r did not arrive over TLS"
	[ "$(mw_hcount "$f" X-Encrypt)" = 1 ] || e2e_fail "gateway: $r: not exactly one X-Encrypt header"
	mw_headers "$f" | grep -qix 'X-Encrypt: yes' || e2e_fail "gateway: $r: no 'X-Encrypt: yes'"
	[ "$(mw_hcount "$f" X-TLSLevel)" = 1 ] || e2e_fail "gateway: $r: not exactly one X-TLSLevel"
done
mw_hfirst "$(e2e_rx_file $MW_GW tagged@forced-plain.test)" | grep -qix 'X-TLSLevel: Require' ||
	e2e_fail "gateway: tagged@forced-plain.test: X-TLSLevel: Require is not the first header"
e2e_log_grep 'milter-header-filter: header X-Encrypt: yes .*: forcetls-gateway:\[gateway\.test\]:10025$' >/dev/null ||
	e2e_fail "maillog: no milter_header_checks FILTER to the gateway"

e2e_wait_delivered $MW_RX_TLS 1 30 || e2e_fail "forced-tls.test not delivered"
f=$(mw_rx_one $MW_RX_TLS forced@forced-tls.test) || e2e_fail "mx.tls.test: not one message for forced@forced-tls.test"
e2e_assert_tls $MW_RX_TLS forced@forced-tls.test || e2e_fail "forced-tls.test not delivered over TLS"
[ "$(mw_hcount "$f" X-TLSLevel)" = 1 ] || e2e_fail "forced-tls.test: not exactly one X-TLSLevel header"
mw_hfirst "$f" | grep -qix 'X-TLSLevel: Require' || e2e_fail "forced-tls.test: X-TLSLevel: Require is not first"
[ "$(mw_hcount "$f" X-Encrypt)" = 0 ] || e2e_fail "forced-tls.test: has an X-Encrypt header"
e2e_log_grep 'to=<forced@forced-tls\.test>.*relay=mx\.tls\.test.*status=sent' | grep -q . ||
	e2e_fail "forced-tls.test: no status=sent via mx.tls.test"

e2e_wait_delivered $MW_RX_PLAIN 1 30 || e2e_fail "open-plain.test not delivered"
f=$(mw_rx_one $MW_RX_PLAIN plain@open-plain.test) || e2e_fail "mx.plain.test: not one message for plain@open-plain.test"
[ "$(mw_hcount "$f" X-TLSLevel)" = 1 ] || e2e_fail "open-plain.test: not exactly one X-TLSLevel header"
mw_hfirst "$f" | grep -qix 'X-TLSLevel: Try' || e2e_fail "open-plain.test: X-TLSLevel: Try is not first"

e2e_wait_deferred forced@forced-plain.test 30 '4\.7\.4' || e2e_fail "forced-plain.test not deferred 4.7.4"
e2e_log_grep 'milter-header-filter: header X-TLSLevel: Require .*to=<forced@forced-plain\.test>.*: forcetls-require:$' >/dev/null ||
	e2e_fail "maillog: no milter_header_checks FILTER to forcetls-require"
f=$(mw_queued forced@forced-plain.test) || e2e_fail "postcat: no queued message for forced@forced-plain.test"
mw_headers "$f" | sed 's/^/    queued: /' >&2
[ "$(mw_hcount "$f" X-TLSLevel)" = 1 ] || e2e_fail "queued forced-plain.test message: not exactly one X-TLSLevel header"
mw_hfirst "$f" | grep -qix 'X-TLSLevel: Require' ||
	e2e_fail "queued forced-plain.test message: X-TLSLevel: Require is not the first header"
e2e_wait_retried forced@forced-plain.test 3 30 || e2e_fail "forced-plain.test was not retried"
e2e_queue_has forced@forced-plain.test || e2e_fail "forced-plain.test is no longer queued"
e2e_log_grep 'to=<forced@forced-plain\.test>.*status=(sent|bounced)' && e2e_fail "forced-plain.test left the queue"

# Nothing else anywhere: the MXes got only what they should, the gateway only the tagged.
for r in tagged@open-plain.test tagged@forced-plain.test; do
	[ -z "$(e2e_rx_file $MW_RX_PLAIN $r)$(e2e_rx_file $MW_RX_TLS $r)" ] ||
		e2e_fail "$r (tagged) reached a recipient's MX"
done
[ "$(e2e_rx_count $MW_GW)" -eq 2 ] || e2e_fail "gateway got $(e2e_rx_count $MW_GW) messages, expected 2"
[ "$(e2e_rx_count $MW_RX_PLAIN)" -eq 1 ] || e2e_fail "mx.plain.test got $(e2e_rx_count $MW_RX_PLAIN) messages, expected 1"
[ "$(e2e_rx_count $MW_RX_TLS)" -eq 1 ] || e2e_fail "mx.tls.test got $(e2e_rx_count $MW_RX_TLS) messages, expected 1"
[ "$(e2e_queue_count)" -eq 1 ] || e2e_fail "queue holds $(e2e_queue_count) messages, expected 1"
mw_milter_said 'direction=outbound .*tls=Require .*forced-plain\.test' ||
	e2e_fail "milter.log: no outbound Require decision naming forced-plain.test"
mw_milter_said 'encrypt=yes \(subject_tag\)' || e2e_fail "milter.log: no subject_tag decision"
mw_finish
