#!/bin/bash
# t-milter-gateway-options.sh - the gateway options of the vendors' docs in header mode,
# with Postfix's own means: the "forcetls-gateway with options" variant of
# examples/postfix/master.cf.forcetls (a secondary gateway with smtp_fallback_relay,
# AUTH with smtp_sasl_*, a verified certificate with smtp_tls_security_level=secure and
# smtp_tls_CAfile, soft_bounce=yes) and examples/postfix/forcetls_sasl_passwd, on a real Postfix.
# The world is t-milter-outbound.sh's (milter_world), with the variant in place of the
# plain forcetls-gateway entry (only the site values replaced: the secondary's name, the
# CA file, the map path, the password) and main.cf's smtp_tls_CAfile emptied, so that
# only the transport's CA file trusts the gateways:
#   127.0.0.30:10025  gateway.test, the primary (the FILTER next hop), STARTTLS + AUTH
#   127.0.0.31:10025  gateway2.test, the secondary (smtp_fallback_relay), STARTTLS + AUTH
#
# usage: t-milter-gateway-options.sh TLSMAPS [EXAMPLES_DIR]
#
# Proves, for messages tagged "[encrypt]" by an internal client:
#   1. both gateways up: delivered to the primary, verified TLS, auth=USER;
#   2. the primary down (nothing listening): delivered to the secondary, verified TLS, AUTH;
#   3. the primary answering 451 to the end of data: delivered to the secondary;
#   3b. the primary answering 554 to the end of data: not bounced (soft_bounce=yes), but
#      delivered to the secondary;
#   4. both down: deferred, kept in the queue through retries, nowhere delivered; the
#      primary back: delivered there on flush;
#   5. both gateways with another password: AUTH refused, deferred 4.7.x, kept, nothing
#      delivered; the primary with the right password back: delivered on flush;
#   6. both gateways with a self-signed certificate: deferred 4.7.5 (certificate not
#      verified), kept, nothing delivered; the primary trusted again: delivered;
#   7. the primary down, the secondary without STARTTLS: deferred, nothing sent in clear;
#      the secondary with STARTTLS again: delivered there;
#   and no tagged message ever reached a recipient's MX.
set -u
MILTER_WORLD_ONLY=1 . "$(dirname "$0")/t-milter-outbound.sh"
EXAMPLES=${2:-${FTLS_EXAMPLES:-}}

GW1=$MW_GW
GW2_ADDR=127.0.0.31
GW2=$GW2_ADDR:$MW_GW_PORT
GW_USER=forcetls
GW_PASS=e2e-gw-secret

# The Postfix SMTP client does AUTH PLAIN/LOGIN through Cyrus SASL's plugins.
command -v postconf >/dev/null || PATH=$PATH:/usr/sbin:/sbin
postconf -A 2>/dev/null | grep -qx cyrus || {
	echo "FAIL: postconf -A does not list cyrus: this Postfix has no SASL client" >&2
	exit 1
}
compgen -G "/usr/lib/*/sasl2/libplain.so*" >/dev/null || {
	echo "FAIL: no Cyrus SASL PLAIN plugin: install libsasl2-modules (scripts/install-deps)" >&2
	exit 1
}

# gwo_variant FILE: the lines between the BEGIN/END markers of master.cf.forcetls, without
# their leading "#".
gwo_variant() {
	sed -n '/^# --- BEGIN forcetls-gateway with options/,/^# --- END forcetls-gateway with options/p' "$1" |
		sed '1d;$d' | sed 's/^#//'
}

# Runs inside milter_world, after its receivers and before the daemons and Postfix.
mw_world_hook() {
	local mc=$EX/postfix/master.cf.forcetls pw=$EX/postfix/forcetls_sasl_passwd l skip=0 v=() out=()
	[ -f "$pw" ] || e2e_fail "$pw: missing"
	while IFS= read -r l; do
		l=${l//gateway2.example/gateway2.test}
		l=${l//\/etc\/postfix\/forcetls-gateway-ca.pem/$W/ca/ca.pem}
		l=${l//\/etc\/postfix\/forcetls_sasl_passwd/$W/forcetls_sasl_passwd}
		v+=("--master=$l")
	done < <(gwo_variant "$mc")
	[ ${#v[@]} -gt 0 ] && [ "${v[0]%% *}" = --master=forcetls-gateway ] ||
		e2e_fail "$mc: no 'forcetls-gateway with options' entry between the markers"
	printf '%s\n' "${v[@]}" | sed 's/^--master=/    variant: /' >&2
	# The shipped entry out, the variant in.
	for l in "${MW_CF[@]}"; do
		case $l in
		"--master=forcetls-gateway "*) skip=1; continue ;;
		"--master= "* | "--master=	"*) [ $skip = 1 ] && continue ;;
		*) skip=0 ;;
		esac
		out+=("$l")
	done
	[ ${#out[@]} -lt ${#MW_CF[@]} ] || e2e_fail "$mc: no plain forcetls-gateway entry to replace"
	MW_CF=("${out[@]}" "${v[@]}" "smtp_tls_CAfile =")

	sed -e 's/gateway\.example/gateway.test/g; s/gateway2\.example/gateway2.test/g' \
		-e "s/:change-me\$/:$GW_PASS/" "$pw" >"$W/forcetls_sasl_passwd"
	chmod 600 "$W/forcetls_sasl_passwd"
	e2e_postmap "hash:$W/forcetls_sasl_passwd" || e2e_fail "postmap hash:forcetls_sasl_passwd failed"
	[ "$(e2e_postmap -q "[gateway.test]:$MW_GW_PORT" "hash:$W/forcetls_sasl_passwd")" = "$GW_USER:$GW_PASS" ] &&
		[ "$(e2e_postmap -q "[gateway2.test]:$MW_GW_PORT" "hash:$W/forcetls_sasl_passwd")" = "$GW_USER:$GW_PASS" ] ||
		e2e_fail "$pw: no $GW_USER:change-me entries for [gateway.example]:10025 and [gateway2.example]:10025"

	e2e_dns \
		--host-record=gateway.test,$MW_GW_ADDR \
		--host-record=gateway2.test,$GW2_ADDR \
		--host-record=mx.plain.test,127.0.0.2 \
		--host-record=mx.tls.test,127.0.0.3 \
		--mx-host=open-plain.test,mx.plain.test,10 \
		--mx-host=open-tls.test,mx.tls.test,10
	e2e_receiver_stop $GW1
	gw1_start
	gw2_start
}

# gw1_start / gw2_start [PASSWORD [e2e_receiver options]]: a gateway requiring STARTTLS
# and AUTH as GW_USER with PASSWORD (default GW_PASS).
gw1_start() {
	e2e_receiver $MW_GW_ADDR $MW_GW_PORT --starttls --name gateway.test --auth "$GW_USER:${1:-$GW_PASS}" "${@:2}"
}
gw2_start() {
	e2e_receiver $GW2_ADDR $MW_GW_PORT --starttls --name gateway2.test --auth "$GW_USER:${1:-$GW_PASS}" "${@:2}"
}

# gwo_send RCPT: a tagged message from the internal client.
gwo_send() {
	mw_send_internal alice@corp.e2e.test "$1" --header "Subject: [encrypt] to $1" ||
		e2e_fail "tagged message to $1 not accepted"
}

# gwo_got RX RCPT: RX stored exactly one message for RCPT, over TLS, after AUTH as
# GW_USER, with "X-Encrypt: yes"; and Postfix logged it sent through the verified gateway.
gwo_got() {
	local f m host
	e2e_wait_until 30 gwo__has "$1" "$2" || e2e_fail "$1: nothing for $2"
	f=$(mw_rx_one "$1" "$2") || e2e_fail "$1: not exactly one message for $2"
	m=${f%.eml}.meta
	grep -qx 'tls=yes' "$m" || e2e_fail "$1: $2 did not arrive over TLS: $(tr '\n' ' ' <"$m")"
	grep -qx "auth=$GW_USER" "$m" || e2e_fail "$1: $2 arrived without AUTH as $GW_USER: $(tr '\n' ' ' <"$m")"
	mw_headers "$f" | grep -qix 'X-Encrypt: yes' || e2e_fail "$1: $2 came without X-Encrypt: yes"
	host=gateway.test
	[ "$1" = "$GW2" ] && host=gateway2.test
	e2e_wait_log "to=<${2//./\\.}>, relay=${host//./\\.}\[${1%:*}\]:$MW_GW_PORT,.* status=sent" 10 ||
		e2e_fail "maillog: $2 not logged sent via $host"
	e2e_log_grep "Verified TLS connection established to ${host//./\\.}\[${1%:*}\]:$MW_GW_PORT" >/dev/null ||
		e2e_fail "maillog: no verified TLS connection to $host"
	e2e_log "$1: $2: $(grep -h '^\(tls\|tls_version\|auth\)=' "$m" | tr '\n' ' ')"
}

gwo__has() { [ -n "$(e2e_rx_file "$1" "$2")" ]; }

# gwo_nowhere RCPT: no receiver of the world has a message for RCPT.
gwo_nowhere() {
	local rx
	for rx in $GW1 $GW2 $MW_RX_PLAIN $MW_RX_TLS; do
		[ -z "$(e2e_rx_file $rx "$1")" ] || e2e_fail "$1 was delivered to $rx"
	done
}

# gwo_kept RCPT DSN_ERE: deferred with that DSN, retried, still queued, nowhere delivered.
gwo_kept() {
	e2e_wait_deferred "$1" 30 "$2" || e2e_fail "$1: not deferred ($2) and queued"
	e2e_wait_retried "$1" 2 30 "$2" || e2e_fail "$1: not retried"
	# (postqueue can come back empty under load: ask again for a while; a message gone stays gone)
	e2e_wait_until 15 e2e_queue_has "$1" || e2e_fail "$1 is no longer queued"
	gwo_nowhere "$1"
}

milter_world milter-gateway-options
e2e_log_grep 'warning' | grep -v 'dict_nis_init' | sed 's/^/    /' >&2

# 1. Both up: the primary, verified, AUTH.
gwo_send one@open-plain.test
gwo_got $GW1 one@open-plain.test
[ "$(e2e_rx_count $GW2)" = 0 ] || e2e_fail "the secondary got mail while the primary was up"

# 2. The primary down: the secondary.
e2e_receiver_stop $GW1
gwo_send two@open-plain.test
gwo_got $GW2 two@open-plain.test
e2e_log_grep "connect to gateway\.test\[$MW_GW_ADDR\]:$MW_GW_PORT: Connection refused" >/dev/null ||
	e2e_fail "maillog: the primary was not tried first"

# 3. The primary answers 451 to the end of data: the secondary.
gw1_start "" --data-reply '451 4.3.0 gateway busy'
gwo_send three@open-plain.test
gwo_got $GW2 three@open-plain.test
grep -q 'refused DATA: 451' "$E2E_WORK/rx/${GW1/:/_}/receiver.log" ||
	e2e_fail "the primary (answering 451) was not tried first"

# 3b. The primary answers 554 to the end of data: soft_bounce=yes makes it a soft error, so
# Postfix goes on to the secondary instead of bouncing the message.
e2e_receiver_stop $GW1
gw1_start "" --data-reply '554 5.7.1 gateway refuses'
gwo_send three-b@open-plain.test
gwo_got $GW2 three-b@open-plain.test
grep -q 'refused DATA: 554' "$E2E_WORK/rx/${GW1/:/_}/receiver.log" ||
	e2e_fail "the primary (answering 554) was not tried first"
e2e_log_grep 'to=<three-b@open-plain\.test>.*status=bounced' && e2e_fail "three-b@ bounced"

# 4. Both down: kept; the primary back: delivered on flush.
e2e_receiver_stop $GW1
e2e_receiver_stop $GW2
gwo_send four@open-plain.test
gwo_kept four@open-plain.test '4\.[0-9]+\.[0-9]+'
e2e_log_grep "to=<four@open-plain\.test>.*connect to gateway2\.test\[$GW2_ADDR\]:$MW_GW_PORT: Connection refused" >/dev/null ||
	e2e_fail "maillog: both down: the secondary was not tried"
gw1_start
e2e_flush
gwo_got $GW1 four@open-plain.test

# 5. Both gateways with another password: AUTH refused, kept; the right one: delivered.
e2e_receiver_stop $GW1
gw1_start "not-$GW_PASS"
gw2_start "not-$GW_PASS"
gwo_send five@open-plain.test
gwo_kept five@open-plain.test '4\.7\.[0-9]+'
e2e_log_grep 'to=<five@open-plain\.test>.*status=deferred \(SASL authentication failed' >/dev/null ||
	e2e_fail "maillog: five@ not deferred for SASL authentication"
for rx in $GW1 $GW2; do
	grep -q 'AUTH [A-Z]* refused' "$E2E_WORK/rx/${rx/:/_}/receiver.log" || e2e_fail "$rx saw no AUTH attempt"
done
e2e_receiver_stop $GW1
e2e_receiver_stop $GW2
gw1_start
e2e_flush
gwo_got $GW1 five@open-plain.test

# 6. Both gateways with a self-signed certificate: kept; trusted again: delivered.
e2e_receiver_stop $GW1
gw1_start "" --untrusted
gw2_start "" --untrusted
gwo_send six@open-plain.test
gwo_kept six@open-plain.test '4\.7\.5'
for h in gateway gateway2; do
	e2e_log_grep "certificate verification failed for $h\.test\[" >/dev/null ||
		e2e_fail "maillog: no failed certificate verification for $h.test"
done
e2e_receiver_stop $GW1
e2e_receiver_stop $GW2
gw1_start
e2e_flush
gwo_got $GW1 six@open-plain.test

# 7. The primary down, the secondary without STARTTLS: nothing in clear; with it: delivered.
e2e_receiver_stop $GW1
e2e_receiver $GW2_ADDR $MW_GW_PORT --plain --name gateway2.test
gwo_send seven@open-plain.test
gwo_kept seven@open-plain.test '4\.[0-9]+\.[0-9]+'
e2e_receiver_stop $GW2
gw2_start
e2e_flush
gwo_got $GW2 seven@open-plain.test

# Nothing else anywhere.
[ "$(e2e_rx_count $GW1)" -eq 4 ] || e2e_fail "the primary stored $(e2e_rx_count $GW1) messages, expected 4"
[ "$(e2e_rx_count $GW2)" -eq 4 ] || e2e_fail "the secondary stored $(e2e_rx_count $GW2) messages, expected 4"
[ "$(e2e_rx_count $MW_RX_PLAIN)$(e2e_rx_count $MW_RX_TLS)" = 00 ] || e2e_fail "a tagged message reached a recipient's MX"
e2e_wait_until 10 test "$(e2e_queue_count)" -eq 0 || e2e_fail "queue holds $(e2e_queue_count) messages, expected 0"
mw_finish
