#!/bin/bash
# t-relay.sh - relay mode's SMTP client (milter/relay*.c) against real SMTP servers.
#
# usage: t-relay.sh RELAY_SEND
#
# RELAY_SEND (tests/relay/relay-send.c) does one relay_send() of a message file. The
# gateways are aiosmtpd receivers (tests/e2e/lib.sh) in a network namespace, their names
# served by dnsmasq. Every case checks relay-send's verdict and what the receivers
# stored: body byte for byte (CR LF line ends, dot-stuffing undone by the receiver, a
# final CR LF), envelope, tls=yes, auth=USER.
#
# Proves:
#   - verified TLS: delivered, body exact, also when the message comes in 1-byte pieces;
#   - an address literal is verified against the certificate's IP address;
#   - no STARTTLS, a self-signed certificate, a wrong name: failure, nothing stored;
#     the self-signed one is accepted with verification off;
#   - AUTH PLAIN: delivered with auth=USER; a wrong password fails and is not echoed;
#   - 451 to DATA on the first gateway: the second takes it; 550 to RCPT: failure;
#   - a server that accepts TCP and never speaks: failure within the timeout (+3 s);
#     with two such gateways the second is not tried once the budget is spent;
#   - MX lookup: preference order (not the configured order), the next MX when the
#     first is down, a name without MX uses its A record;
#   - SERVFAIL and an unanswered DNS query fail that gateway (and the next is tried);
#   - a gateway with nothing listening: the next gateway takes the message;
#   - a message that cannot be rewound for the next gateway: failure;
#   - 8 threads sending at once through one client: 8 exact messages;
#   - configuration errors (CA file, password file, gateways, timeout) fail at load;
#   - MAIL carries BODY=8BITMIME (offered), and SMTPUTF8 for a non-ASCII sender; a
#     gateway without SMTPUTF8 gets no non-ASCII sender (failure), ASCII ones still.
set -u
. "$(dirname "$0")/../e2e/lib.sh"
RELAY_SEND=${1:?usage: t-relay.sh RELAY_SEND}
[ -x "$RELAY_SEND" ] || { echo "FAIL: $RELAY_SEND: not executable" >&2; exit 1; }

e2e_setup relay
W=$E2E_WORK
CA=$W/ca/ca.pem
FROM='<sender@client.relay.test>'
TO='<rcpt@dest.relay.test>'

e2e_dns --host-record=gw1.relay.test,127.0.0.11 --host-record=wrong.relay.test,127.0.0.11 \
	--host-record=plain.relay.test,127.0.0.13 --host-record=untrusted.relay.test,127.0.0.14 \
	--host-record=auth.relay.test,127.0.0.15 --host-record=busy.relay.test,127.0.0.16 \
	--host-record=rcpt.relay.test,127.0.0.17 --host-record=silent.relay.test,127.0.0.18 \
	--host-record=mxa.mx.relay.test,127.0.0.19 --host-record=mxb.mx.relay.test,127.0.0.20 \
	--host-record=down.relay.test,127.0.0.21 --host-record=ascii.relay.test,127.0.0.22 \
	--mx-host=mx.relay.test,mxa.mx.relay.test,10 --mx-host=mx.relay.test,mxb.mx.relay.test,20 \
	--servfail=sf.relay.test --timeout=to.relay.test

GW1=127.0.0.11:25
e2e_receiver 127.0.0.11 25 --starttls --name gw1.relay.test
e2e_receiver 127.0.0.13 25 --plain --name plain.relay.test
e2e_receiver 127.0.0.14 25 --starttls --untrusted --name untrusted.relay.test
e2e_receiver 127.0.0.15 25 --starttls --name auth.relay.test --auth relayuser:s3cret-pw
e2e_receiver 127.0.0.16 25 --starttls --name busy.relay.test --data-reply '451 4.3.0 busy'
e2e_receiver 127.0.0.17 25 --starttls --name rcpt.relay.test --rcpt-reply '550 5.1.1 no such user'
e2e_receiver 127.0.0.19 25 --starttls --name mxa.mx.relay.test
e2e_receiver 127.0.0.20 25 --starttls --name mxb.mx.relay.test
e2e_receiver 127.0.0.22 25 --starttls --name ascii.relay.test --no-smtputf8
# accepts TCP, never says a word
e2e_spawn silent "$E2E_PY" -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.18", 25)); s.listen(8); conns = []
while True:
    c, _ = s.accept(); conns.append(c)'
e2e_wait_listen 127.0.0.18 25 10 || e2e_fail "silent listener not up"

# The message: mixed line ends, lines starting with dots, a lone dot, no final newline.
printf 'Subject: relay test\r\nFrom: a@client.relay.test\n\n.leading dot\r\nbare cr\rcrlf\r\n..two dots\n.\n\nlast line' >"$W/msg"
printf 'Subject: relay test\r\nFrom: a@client.relay.test\r\n\r\n.leading dot\r\nbare cr\r\ncrlf\r\n..two dots\r\n.\r\n\r\nlast line\r\n' >"$W/expected"
printf 's3cret-pw\n' >"$W/pw.good"
printf 'wrong-pw\n' >"$W/pw.bad"

N=0
# relay ARGS...: run relay-send in the netns; its output in $OUT, exit code in $RC.
relay() {
	N=$((N + 1))
	OUT=$W/relay-$N.out
	e2e_ns "$RELAY_SEND" -c "$CA" -f "$FROM" -r "$TO" "$@" "$W/msg" >"$OUT" 2>&1
	RC=$?
	e2e_log "relay #$N $*: exit $RC: $(grep -E '^(gateway|why|attempts|elapsed_ms)=' "$OUT" | tr '\n' ' ')"
}
field() { sed -n "s/^$1=//p" "$OUT"; }
ok() { [ $RC = 0 ] && [ "$(field result)" = ok ] || e2e_fail "relay #$N: expected success: $(cat "$OUT")"; }
fails() {
	[ $RC = 1 ] && [ "$(field result)" = fail ] || e2e_fail "relay #$N: expected failure: $(cat "$OUT")"
	field why | grep -qE -- "$1" || e2e_fail "relay #$N: why does not match '$1': $(field why)"
}
# last_stored RX N: RX has N messages; the last one is byte-exact, from FROM to TO, in TLS.
last_stored() {
	local d f
	[ "$(e2e_rx_count "$1")" -eq "$2" ] || e2e_fail "$1: $(e2e_rx_count "$1") messages, expected $2"
	d=$(e2e_rx_dir "$1")
	f=$d/$(printf %04d "$2")
	cmp -s "$f.eml" "$W/expected" || e2e_fail "$1: body differs: $(od -c "$f.eml" | head -20)"
	grep -qxF "mail_from=${FROM:1:-1}" "$f.meta" || e2e_fail "$1: wrong sender: $(cat "$f.meta")"
	grep -qxF "rcpt=${TO:1:-1}" "$f.meta" || e2e_fail "$1: wrong rcpt: $(cat "$f.meta")"
	grep -qx "tls=yes" "$f.meta" || e2e_fail "$1: not over TLS: $(cat "$f.meta")"
	grep -qx "helo=relay.e2e.test" "$f.meta" || e2e_fail "$1: wrong EHLO: $(cat "$f.meta")"
	grep -qx "mail_options=BODY=8BITMIME$OPTS" "$f.meta" || e2e_fail "$1: MAIL parameters: $(cat "$f.meta")"
}
OPTS=""

# --- verified TLS ------------------------------------------------------------------
relay -g gw1.relay.test
ok
[ "$(field gateway)" = "gw1.relay.test[127.0.0.11]:25" ] || e2e_fail "gateway: $(field gateway)"
field reply | grep -q '^250 ' || e2e_fail "reply: $(field reply)"
[ "$(field attempts)" = 1 ] || e2e_fail "attempts: $(field attempts)"
last_stored $GW1 1
grep -qx "auth=" "$(e2e_rx_dir $GW1)/0001.meta" || e2e_fail "AUTH without auth_user"
relay -k 1 -g gw1.relay.test
ok
last_stored $GW1 2
relay -g '[127.0.0.11]'
ok
[ "$(field gateway)" = "[127.0.0.11]:25" ] || e2e_fail "literal gateway: $(field gateway)"
last_stored $GW1 3

# --- no STARTTLS, untrusted certificate, wrong name ---------------------------------
relay -g plain.relay.test
fails '^plain\.relay\.test\[127\.0\.0\.13\]:25: STARTTLS not offered$'
[ "$(e2e_rx_count 127.0.0.13:25)" -eq 0 ] || e2e_fail "stored in clear"
relay -g untrusted.relay.test
fails 'certificate verification failed: self-signed certificate'
[ "$(e2e_rx_count 127.0.0.14:25)" -eq 0 ] || e2e_fail "stored by an untrusted gateway"
relay -n -g untrusted.relay.test
ok
last_stored 127.0.0.14:25 1
relay -g wrong.relay.test
fails 'certificate verification failed: [Hh]ostname mismatch'
[ "$(e2e_rx_count $GW1)" -eq 3 ] || e2e_fail "stored under a wrong name"

# --- AUTH --------------------------------------------------------------------------
relay -u relayuser -p "$W/pw.good" -g auth.relay.test
ok
last_stored 127.0.0.15:25 1
grep -qx "auth=relayuser" "$(e2e_rx_dir 127.0.0.15:25)/0001.meta" || e2e_fail "not authenticated"
relay -u relayuser -p "$W/pw.bad" -g auth.relay.test
fails '^auth\.relay\.test\[127\.0\.0\.15\]:25: AUTH refused: 535'
grep -q 'wrong-pw' "$OUT" && e2e_fail "the password is in the result"
[ "$(e2e_rx_count 127.0.0.15:25)" -eq 1 ] || e2e_fail "stored without AUTH"
# without AUTH the receiver refuses MAIL
relay -g auth.relay.test
fails 'MAIL refused: 530'

# --- refusals: DATA 451 then the next gateway, RCPT 550 -----------------------------
relay -g busy.relay.test -g gw1.relay.test
ok
[ "$(field gateway)" = "gw1.relay.test[127.0.0.11]:25" ] || e2e_fail "gateway: $(field gateway)"
[ "$(field attempts)" = 2 ] || e2e_fail "attempts: $(field attempts)"
last_stored $GW1 4
grep -q 'refused DATA: 451' "$W/rx/127.0.0.16_25/receiver.log" || e2e_fail "busy gateway not asked"
relay -g busy.relay.test
fails '^busy\.relay\.test\[127\.0\.0\.16\]:25: end of data refused: 451 4\.3\.0 busy$'
relay -g rcpt.relay.test
fails '^rcpt\.relay\.test\[127\.0\.0\.17\]:25: RCPT <rcpt@dest\.relay\.test> refused: 550 5\.1\.1 no such user$'

# --- a silent server: failure within the timeout -----------------------------------
relay -t 3 -g silent.relay.test
fails 'banner: timed out'
ms=$(field elapsed_ms)
e2e_log "silent server: failed after $ms ms (timeout 3 s)"
[ "$ms" -ge 2900 ] && [ "$ms" -le 6000 ] || e2e_fail "silent server: $ms ms for a 3 s timeout"
# the budget is for the whole call: a second silent gateway is not tried once it is spent
relay -t 3 -g silent.relay.test -g '[127.0.0.18]'
fails '\[127\.0\.0\.18\]:25: not tried: no time left'
ms=$(field elapsed_ms)
[ "$ms" -le 5000 ] || e2e_fail "two silent gateways: $ms ms for a 3 s budget"
# DNS time counts too: 3 s of DNS timeout leave the silent gateway the other 3 s, not 6
relay -t 6 -m -g to.relay.test -g silent.relay.test
fails 'silent\.relay\.test\[127\.0\.0\.18\]:25: banner: timed out: no time left'
ms=$(field elapsed_ms)
[ "$ms" -le 7500 ] || e2e_fail "DNS timeout then a silent gateway: $ms ms for a 6 s budget"

# --- MX lookup ---------------------------------------------------------------------
relay -m -g mx.relay.test
ok
[ "$(field gateway)" = "mxa.mx.relay.test[127.0.0.19]:25" ] || e2e_fail "MX order: $(field gateway)"
last_stored 127.0.0.19:25 1
e2e_receiver_stop 127.0.0.19:25
relay -m -g mx.relay.test
ok
[ "$(field gateway)" = "mxb.mx.relay.test[127.0.0.20]:25" ] || e2e_fail "second MX: $(field gateway)"
field why | grep -q . && e2e_fail "why on success: $(field why)"
last_stored 127.0.0.20:25 1
relay -m -g gw1.relay.test
ok
last_stored $GW1 5
# without -m the name itself: mx.relay.test has no address (with -m its MX hosts, whose
# certificates must be for mx.relay.test or a name under it: t-attack9-mx.sh)
relay -g mx.relay.test
fails 'mx\.relay\.test:25: address lookup: mx\.relay\.test: no A or AAAA record'

# --- DNS failures ------------------------------------------------------------------
relay -m -g sf.relay.test
fails '^sf\.relay\.test:25: MX lookup: sf\.relay\.test: SERVFAIL, REFUSED or no server reachable$'
relay -g sf.relay.test
fails '^sf\.relay\.test:25: address lookup: sf\.relay\.test: SERVFAIL, REFUSED or no server reachable$'
relay -m -g to.relay.test -g gw1.relay.test
ok
last_stored $GW1 6
relay -t 6 -m -g to.relay.test
fails '^to\.relay\.test:25: MX lookup: to\.relay\.test: timeout$'
relay -g nxdomain.relay.test
fails 'NXDOMAIN'

# --- gateway down: the next one --------------------------------------------------------
relay -g down.relay.test -g gw1.relay.test
ok
[ "$(field attempts)" = 1 ] || e2e_fail "attempts: $(field attempts)"
field gateway | grep -q '^gw1\.relay\.test' || e2e_fail "gateway: $(field gateway)"
last_stored $GW1 7
relay -g down.relay.test
fails 'down\.relay\.test\[127\.0\.0\.21\]:25: connect: Connection refused'

# --- the message cannot be rewound for the second gateway: failure, not a partial send
relay -R -g busy.relay.test -g gw1.relay.test
fails 'gw1\.relay\.test\[127\.0\.0\.11\]:25: message: cannot rewind'
[ "$(e2e_rx_count $GW1)" -eq 7 ] || e2e_fail "stored without a rewind"

# --- 8 threads at once on one client: 8 messages, each exact ----------------------------
relay -P 8 -g gw1.relay.test
ok
[ "$(field parallel_ok)" = 8 ] || e2e_fail "parallel: $(field parallel_ok) of 8"
[ "$(e2e_rx_count $GW1)" -eq 15 ] || e2e_fail "parallel: $(e2e_rx_count $GW1) stored, expected 15"
for f in "$(e2e_rx_dir $GW1)"/00{08..15}.eml; do
	cmp -s "$f" "$W/expected" || e2e_fail "parallel: $f differs"
done

# --- configuration errors: at load, with a reason --------------------------------------
load_error() {
	local want=$1
	shift
	e2e_ns "$RELAY_SEND" -f "$FROM" -r "$TO" "$@" "$W/msg" >"$W/load.out" 2>&1
	RC=$?
	[ $RC = 2 ] && grep -qE -- "$want" "$W/load.out" ||
		e2e_fail "load error '$want' expected (exit $RC): $(cat "$W/load.out")"
}
load_error 'relay_ca_file: .*/nonexistent.pem: cannot load CA certificates' -c "$W/nonexistent.pem" -g gw1.relay.test
: >"$W/pw.empty"
load_error 'relay_auth_password_file: .*: empty' -u u -p "$W/pw.empty" -g gw1.relay.test
load_error 'relay_auth_password_file: .*: No such file' -u u -p "$W/pw.none" -g gw1.relay.test
load_error 'relay_auth_password_file: needed' -u u -g gw1.relay.test
load_error 'IPv6 needs \[brackets\]' -g ::1
load_error 'bad port' -g gw1.relay.test:0
load_error "no '\]'" -g '[127.0.0.1'
load_error 'relay_timeout: 241' -t 241 -g gw1.relay.test

# --- SMTPUTF8 -------------------------------------------------------------------------
FROM='<sénder@client.relay.test>' OPTS=" SMTPUTF8"
relay -g gw1.relay.test
ok
last_stored $GW1 16
relay -g ascii.relay.test
fails '^ascii\.relay\.test\[127\.0\.0\.22\]:25: SMTPUTF8 not offered \(non-ASCII address\)$'
[ "$(e2e_rx_count 127.0.0.22:25)" -eq 0 ] || e2e_fail "non-ASCII sender stored without SMTPUTF8"
FROM='<sender@client.relay.test>' OPTS=""
relay -g ascii.relay.test
ok
last_stored 127.0.0.22:25 1

e2e_pass
