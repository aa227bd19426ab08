#!/bin/bash
# t-policyd-dns.sh - forcetls-policyd when DNS fails, with a real Postfix: a destination
# that only a CIDR entry (its MX address) can force needs the daemon's own DNS lookup;
# one that a domain entry decides must not.
#
# usage: t-policyd-dns.sh TLSMAPS [EXAMPLES_DIR]   (FTLS_POLICYD: the daemon)
#
# Postfix 3.7 resolves the next hop (MX, then A: inet_protocols = ipv4) BEFORE it asks
# smtp_tls_policy_maps, and the daemon resolves MX, A and AAAA. So dnsmasq is made to
# answer SERVFAIL to the AAAA query of the MX hosts only (e2e_dns --servfail=MXHOST; the
# A record is local data): Postfix's own lookups work, the daemon's fail.
# Proves:
#   - CIDR-decided destination (cidr.test, MX in 127.0.0.40/29, with STARTTLS): the
#     daemon answers TEMP, Postfix defers 4.7.5 ("TLS policy lookup" failed), keeps it
#     through retries, and the MX gets nothing;
#   - domain-entry destination (dom.test, its MX's AAAA failing just the same): the
#     daemon answers OK encrypt without DNS and the mail is delivered over TLS at once;
#   - the whole CIDR-decided domain SERVFAILing (cidr2.test): Postfix's own MX lookup
#     defers it (4.4.3), and it stays queued;
#   - DNS healed: the deferred mail leaves over TLS, decided by 127.0.0.40/29.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-policyd.sh"
TLSMAPS=${1:?usage: t-policyd-dns.sh TLSMAPS [EXAMPLES_DIR]}
EXAMPLES=${2:-${FTLS_EXAMPLES:-$E2E_LIB_DIR/../../examples}}
POLICYD=${FTLS_POLICYD:-$(dirname "$TLSMAPS")/../../policyd/forcetls-policyd}
[ -x "$POLICYD" ] || e2e_skip "forcetls-policyd not built ($POLICYD)"

e2e_setup policyd-dns
W=$E2E_WORK
SM_ADDR=127.0.0.1:10028
POL_ADDR=127.0.0.1:10029

# socketmap_query ADDR:PORT REQUEST: one socketmap lookup over TCP inside the netns;
# prints the reply (the netstring's payload).
socketmap_query() {
	e2e_ns timeout 20 "$E2E_PY" -c '
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)), 5)
s.settimeout(15)
q = sys.argv[2].encode()
s.sendall(b"%d:%s," % (len(q), q))
buf = b""
while not (b":" in buf and len(buf) >= buf.index(b":") + 2 + int(buf.split(b":")[0])):
    d = s.recv(4096)
    if not d:
        break
    buf += d
n, _, rest = buf.partition(b":")
sys.stdout.write(rest[:int(n)].decode())' "$1" "$2"
}

cat >"$W/forced-tls.table" <<'EOF'
# forced-TLS table of t-policyd-dns.sh
dom.test                            encrypt
127.0.0.40/29                       encrypt
EOF
cat >"$W/forcetls.conf" <<'EOF'
policyd = {
  user = "nobody";
  state_file = ""; # never /var/lib/forcetls
  dns_servers = "127.0.0.1:53";
  dns_failure = "tempfail";
  log_lookups = true;
  watch_table = false;
};
EOF
chmod 644 "$W/forced-tls.table" "$W/forcetls.conf"

# shellcheck disable=SC2054
HOSTS=(--host-record=mx.cidr.test,127.0.0.41 --host-record=mx.dom.test,127.0.0.3
	--mx-host=cidr.test,mx.cidr.test,10 --mx-host=dom.test,mx.dom.test,10)
# Broken: AAAA of both MX hosts SERVFAILs (their A is local data); cidr2.test SERVFAILs.
e2e_dns "${HOSTS[@]}" --servfail=mx.cidr.test --servfail=mx.dom.test --servfail=cidr2.test
RX_CIDR=127.0.0.41:25
RX_DOM=127.0.0.3:25
e2e_receiver 127.0.0.41 25 --starttls --name mx.cidr.test
e2e_receiver 127.0.0.3 25 --starttls --name mx.dom.test

e2e_spawn policyd "$POLICYD" --foreground --config "$W/forcetls.conf" --table "$W/forced-tls.table" \
	--socketmap-listen "inet:$SM_ADDR" --policy-listen "inet:$POL_ADDR"
e2e_wait_listen "${SM_ADDR%:*}" "${SM_ADDR#*:}" 10 || e2e_fail "forcetls-policyd: socketmap not listening"
policyd_wait_log 'ready: ' 10 || e2e_fail "forcetls-policyd did not log ready"

mapfile -t lines < <(policyd_cf_lines "$EXAMPLES/postfix/main.cf.policyd" "inet:$SM_ADDR" "inet:$POL_ADDR")
printf '%s\n' "${lines[@]}" | grep -q "^smtp_tls_policy_maps = socketmap:inet:$SM_ADDR:" ||
	e2e_fail "main.cf.policyd: no smtp_tls_policy_maps = socketmap:inet:... line"
MAP=$(printf '%s\n' "${lines[@]}" | sed -n 's/^smtp_tls_policy_maps = socketmap:.*:\([a-z-]*\)$/\1/p')
e2e_postfix "${lines[@]}"

# The daemon itself, while DNS fails: the domain entry answers without DNS, the CIDR
# destination cannot be known.
got=$(socketmap_query "$SM_ADDR" "$MAP dom.test")
[ "$got" = "OK encrypt" ] || e2e_fail "socketmap '$MAP dom.test' while DNS fails: '$got', expected 'OK encrypt'"
got=$(socketmap_query "$SM_ADDR" "$MAP cidr.test")
case $got in
"TEMP "*) e2e_log "socketmap '$MAP cidr.test' while DNS fails: $got" ;;
*) e2e_fail "socketmap '$MAP cidr.test' while DNS fails: '$got', expected TEMP" ;;
esac
e2e_wait_until 5 grep -q 'query\[AAAA\] mx\.cidr\.test' "$W/dns.log" ||
	e2e_fail "the daemon did not ask DNS for the AAAA of mx.cidr.test"

F=sender@client.e2e.test
for r in a@cidr.test b@dom.test c@cidr2.test; do
	e2e_send "$F" $r || e2e_fail "Postfix did not accept $r"
done

# dom.test: decided by its entry, delivered over TLS although its MX's AAAA fails.
e2e_wait_delivered $RX_DOM 1 30 || e2e_fail "dom.test not delivered while only the daemon's DNS failed"
e2e_assert_tls $RX_DOM b@dom.test || e2e_fail "dom.test did not arrive over TLS"
policyd_wait_log 'lookup dom\.test \(forcetls\): encrypt \(.*:2 dom\.test\)' 5 || e2e_fail "policyd.log: dom.test not answered encrypt"
# cidr.test: the daemon's TEMP defers it 4.7.5 (Postfix's own lookup worked).
e2e_wait_deferred a@cidr.test 30 '4\.7\.5' || e2e_fail "cidr.test not deferred 4.7.5 while the daemon's DNS fails"
e2e_log_grep 'warning: TLS policy lookup for cidr\.test/' >/dev/null ||
	e2e_fail "cidr.test: no 'TLS policy lookup' warning from Postfix"
policyd_wait_log 'lookup cidr\.test: TEMP: SERVFAIL looking up AAAA of mx\.cidr\.test' 5 ||
	e2e_fail "policyd.log: no TEMP (SERVFAIL of AAAA mx.cidr.test) for cidr.test"
# cidr2.test: Postfix's own MX lookup fails first.
e2e_wait_deferred c@cidr2.test 30 '4\.4\.3' || e2e_fail "cidr2.test not deferred 4.4.3 while its DNS fails"

# Retried, still queued, nothing delivered to the CIDR MX.
e2e_flush
e2e_wait_retried a@cidr.test 3 20 '4\.7\.5' ||
	e2e_fail "cidr.test was not retried"
e2e_wait_retried c@cidr2.test 3 20 ||
	e2e_fail "cidr2.test was not retried"
e2e_wait_until 10 e2e_queue_has a@cidr.test || e2e_fail "a@cidr.test is no longer queued"
e2e_wait_until 10 e2e_queue_has c@cidr2.test || e2e_fail "c@cidr2.test is no longer queued"
[ "$(e2e_queue_count)" -eq 2 ] || e2e_fail "queue holds $(e2e_queue_count) messages, expected 2"
[ "$(e2e_rx_count $RX_CIDR)" -eq 0 ] || e2e_fail "the CIDR MX got mail while DNS failed"
if e2e_log_grep 'TLS policy lookup for dom\.test|to=<b@dom\.test>.*status=deferred' >/dev/null; then
	e2e_fail "dom.test was deferred: the domain entry should need no DNS"
fi
if grep -Eq 'lookup dom\.test: (TEMP|DNS)' "$W/policyd.log"; then
	e2e_fail "policyd looked up DNS for dom.test"
fi

# DNS healed: the deferred mail leaves over TLS.
e2e_dns "${HOSTS[@]}" --mx-host=cidr2.test,mx.cidr.test,10
got=$(socketmap_query "$SM_ADDR" "$MAP cidr.test")
[ "$got" = "OK encrypt" ] || e2e_fail "socketmap '$MAP cidr.test' after DNS healed: '$got', expected 'OK encrypt'"
e2e_flush
e2e_wait_delivered $RX_CIDR 2 30 || e2e_fail "cidr.test / cidr2.test not delivered after DNS healed"
e2e_assert_tls $RX_CIDR a@cidr.test || e2e_fail "cidr.test did not arrive over TLS"
e2e_assert_tls $RX_CIDR c@cidr2.test || e2e_fail "cidr2.test did not arrive over TLS"
for d in cidr cidr2; do
	policyd_wait_log "lookup $d\.test \(forcetls\): encrypt \(.*:3 127\.0\.0\.40/29 via 127\.0\.0\.41\)" 5 ||
		e2e_fail "policyd.log: $d.test not decided by 127.0.0.40/29 after DNS healed"
done
e2e_wait_until 10 test "$(e2e_queue_count)" -eq 0 || e2e_fail "queue not empty after delivery"
e2e_running policyd || e2e_fail "forcetls-policyd is no longer running"
policyd_stop
e2e_pass
