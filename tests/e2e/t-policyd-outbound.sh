#!/bin/bash
# t-policyd-outbound.sh - forcetls-policyd as smtp_tls_policy_maps of a real Postfix:
# the socketmap wired with the lines examples/postfix/main.cf.policyd ships (and the
# forcetls-require transport of examples/postfix/master.cf.forcetls), real DNS (dnsmasq)
# for Postfix and for the daemon, real receivers with and without STARTTLS.
#
# usage: t-policyd-outbound.sh TLSMAPS [EXAMPLES_DIR]   (FTLS_POLICYD: the daemon)
#
# Proves, by what Postfix did (maillog dsn/status, queue, receivers' tls=yes|no):
#   - a forced domain whose MX has no STARTTLS: deferred 4.7.4, still queued after
#     retries, the plain receiver got nothing; a forced domain with a STARTTLS MX:
#     delivered over TLS;
#   - a domain forced only by a CIDR entry covering its MX address (127.0.0.40/29):
#     deferred; one whose MX is outside the range: delivered;
#   - a `.parent` entry forces a subdomain; a `may` exception under it is delivered;
#   - a literal next hop [relay.test]:2525 (verify) reached through transport_maps:
#     delivered over verified TLS;
#   - a port in a next hop (ported.test:2526): the domain entry still applies (deferred);
#   - the forcetls-require transport: an unlisted domain routed there must have TLS;
#   - the daemon runs as the configured user (nobody) and logged each decision.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-policyd.sh"
TLSMAPS=${1:?usage: t-policyd-outbound.sh TLSMAPS [EXAMPLES_DIR]}
EXAMPLES=${2:-${FTLS_EXAMPLES:-$E2E_LIB_DIR/../../examples}}
POLICYD=${FTLS_POLICYD:-$(dirname "$TLSMAPS")/../../policyd/forcetls-policyd}
[ -x "$POLICYD" ] || e2e_skip "forcetls-policyd not built ($POLICYD)"

e2e_setup policyd-out
W=$E2E_WORK
SM_ADDR=127.0.0.1:10028 # the addresses examples/postfix/main.cf.policyd ships
POL_ADDR=127.0.0.1:10029

# policyd_cf_lines FILE SOCKETMAP POLICY: the example's main.cf lines with our sockets.

# --- the table and the daemon ----------------------------------------------------------
cat >"$W/forced-tls.table" <<'EOF'
# forced-TLS table of t-policyd-outbound.sh
forced-plain.test                   # default level: encrypt
forced-tls.test                     encrypt
.parent.test                        encrypt
legacy.parent.test                  may      # exception under .parent.test
[relay.test]:2525                   verify
ported.test                         encrypt
ported-tls.test                     encrypt
127.0.0.40/29                       encrypt direction=out
EOF
cat >"$W/forcetls.conf" <<EOF
# forcetls.conf of t-policyd-outbound.sh
policyd = {
  user = "nobody";
  state_file = ""; # never /var/lib/forcetls
  dns_servers = "127.0.0.1:53";
  log_lookups = true;
  watch_table = false;
};
EOF
chmod 644 "$W/forced-tls.table" "$W/forcetls.conf"
"$POLICYD" --check --config "$W/forcetls.conf" --table "$W/forced-tls.table" >"$W/check.out" 2>&1 ||
	e2e_fail "forcetls-policyd --check: $(cat "$W/check.out")"

MAIN_CF=$EXAMPLES/postfix/main.cf.policyd
MASTER_CF=$EXAMPLES/postfix/master.cf.forcetls
[ -f "$MAIN_CF" ] && [ -f "$MASTER_CF" ] || e2e_fail "examples missing: $MAIN_CF $MASTER_CF"
mapfile -t lines < <(policyd_cf_lines "$MAIN_CF" "inet:$SM_ADDR" "inet:$POL_ADDR")
printf '%s\n' "${lines[@]}" | grep -Eq "^smtp_tls_policy_maps = socketmap:inet:$SM_ADDR:[a-z-]+$" ||
	e2e_fail "$MAIN_CF: no smtp_tls_policy_maps = socketmap:inet:127.0.0.1:10028:NAME line"
# master.cf: the example's lines (service lines and their -o continuations), our socket.
master=()
while IFS= read -r l; do
	master+=("--master=${l//inet:127.0.0.1:10028/inet:$SM_ADDR}")
done < <(grep -Ev '^[[:space:]]*(#|$)' "$MASTER_CF")
printf '%s\n' "${master[@]}" | grep -q "^--master=forcetls-require " ||
	e2e_fail "$MASTER_CF: no forcetls-require service"

e2e_dns \
	--host-record=mx.plain.test,127.0.0.2 \
	--host-record=mx.tls.test,127.0.0.3 \
	--host-record=relay.test,127.0.0.4 \
	--host-record=mx.cidr.test,127.0.0.42 \
	--host-record=mx.outside.test,127.0.0.50 \
	--mx-host=forced-plain.test,mx.plain.test,10 \
	--mx-host=forced-tls.test,mx.tls.test,10 \
	--mx-host=sub.parent.test,mx.plain.test,10 \
	--mx-host=legacy.parent.test,mx.plain.test,10 \
	--mx-host=ported.test,relay.test,10 \
	--mx-host=ported-tls.test,relay.test,10 \
	--mx-host=cidr.test,mx.cidr.test,10 \
	--mx-host=outside.test,mx.outside.test,10 \
	--mx-host=open.test,mx.plain.test,10 \
	--mx-host=must-tls.test,mx.plain.test,10 \
	--mx-host=must-tls-ok.test,mx.tls.test,10

e2e_spawn policyd "$POLICYD" --foreground --config "$W/forcetls.conf" --table "$W/forced-tls.table" \
	--socketmap-listen "inet:$SM_ADDR" --policy-listen "inet:$POL_ADDR"
e2e_wait_listen "${SM_ADDR%:*}" "${SM_ADDR#*:}" 10 || e2e_fail "forcetls-policyd: socketmap not listening"
e2e_wait_listen "${POL_ADDR%:*}" "${POL_ADDR#*:}" 10 || e2e_fail "forcetls-policyd: policy not listening"
policyd_wait_log 'ready: ' 10 || e2e_fail "forcetls-policyd did not log ready"
[ "$(ps -o user= -p "$(e2e_pid policyd)")" = nobody ] ||
	e2e_fail "forcetls-policyd runs as $(ps -o user= -p "$(e2e_pid policyd)"), not nobody"

RX_PLAIN=127.0.0.2:25
RX_TLS=127.0.0.3:25
RX_RELAY=127.0.0.4:2525
RX_RELAY_PLAIN=127.0.0.4:2526
RX_CIDR=127.0.0.42:25
RX_OUTSIDE=127.0.0.50:25
e2e_receiver 127.0.0.2 25 --plain --name mx.plain.test
e2e_receiver 127.0.0.3 25 --starttls --name mx.tls.test
e2e_receiver 127.0.0.4 2525 --starttls --name relay.test
e2e_receiver 127.0.0.4 2526 --plain --name relay.test
e2e_receiver 127.0.0.42 25 --plain --name mx.cidr.test
e2e_receiver 127.0.0.50 25 --plain --name mx.outside.test

printf '%s\n' "partner.test smtp:[relay.test]:2525" \
	"ported.test smtp:ported.test:2526" \
	"ported-tls.test smtp:ported-tls.test:2525" \
	"must-tls.test forcetls-require:" \
	"must-tls-ok.test forcetls-require:" >"$W/transport"
e2e_postfix "${lines[@]}" "transport_maps = texthash:$W/transport" "${master[@]}"
e2e_log "main.cf: $(postconf -c "$E2E_PF_CONF" -h smtp_tls_policy_maps)"

# --- the mail --------------------------------------------------------------------------
F=sender@client.e2e.test
for rcpt in a@forced-plain.test b@forced-tls.test c@sub.parent.test d@legacy.parent.test \
	e@partner.test f@ported.test g@ported-tls.test h@cidr.test i@outside.test j@open.test \
	k@must-tls.test l@must-tls-ok.test; do
	e2e_send "$F" "$rcpt" || e2e_fail "Postfix did not accept the message to $rcpt"
done

# Delivered.
e2e_wait_delivered $RX_TLS 2 30 || e2e_fail "forced-tls.test / must-tls-ok.test not delivered to $RX_TLS"
e2e_wait_delivered $RX_PLAIN 2 30 || e2e_fail "legacy.parent.test / open.test not delivered to $RX_PLAIN"
e2e_wait_delivered $RX_RELAY 2 30 || e2e_fail "partner.test / ported-tls.test not delivered to relay.test:2525"
e2e_wait_delivered $RX_OUTSIDE 1 30 || e2e_fail "outside.test (MX outside the CIDR) not delivered"
e2e_assert_tls $RX_TLS b@forced-tls.test || e2e_fail "forced-tls.test did not arrive over TLS"
e2e_assert_tls $RX_TLS l@must-tls-ok.test || e2e_fail "must-tls-ok.test did not arrive over TLS"
e2e_assert_tls $RX_RELAY e@partner.test || e2e_fail "[relay.test]:2525 did not get partner.test over TLS"
e2e_assert_tls $RX_RELAY g@ported-tls.test || e2e_fail "ported-tls.test:2525 did not arrive over TLS"
e2e_assert_plain $RX_PLAIN d@legacy.parent.test || e2e_fail "legacy.parent.test (may) not delivered"
e2e_assert_plain $RX_PLAIN j@open.test || e2e_fail "open.test (not listed) not delivered"
e2e_assert_plain $RX_OUTSIDE i@outside.test || e2e_fail "outside.test not delivered"
e2e_log_grep 'Verified TLS connection established to relay\.test\[127\.0\.0\.4\]:2525' >/dev/null ||
	e2e_fail "[relay.test]:2525 (verify): no 'Verified TLS connection' in the maillog"
e2e_log_grep 'to=<l@must-tls-ok\.test>.*relay=mx\.tls\.test.*status=sent' >/dev/null ||
	e2e_fail "must-tls-ok.test not sent through forcetls-require"

# Deferred 4.7.4, kept: the forced destinations whose MX offers no STARTTLS.
DEFERRED="a@forced-plain.test c@sub.parent.test f@ported.test h@cidr.test k@must-tls.test"
for rcpt in $DEFERRED; do
	e2e_wait_deferred "$rcpt" 30 '4\.7\.4' || e2e_fail "$rcpt not deferred 4.7.4"
	e2e_log_grep "to=<${rcpt//./\\.}>.*TLS is required, but was not offered" >/dev/null ||
		e2e_fail "$rcpt: not 'TLS is required, but was not offered'"
done
# (must-tls.test is in no entry: only the forcetls-require transport can force it.)

# The daemon's own account of each decision (log_lookups): entry, FILE:LINE, and the
# MX address for the CIDR one.
T=$W/forced-tls.table
for re in "lookup forced-plain\.test \(forcetls\): encrypt \($T:2 forced-plain\.test\)" \
	"lookup sub\.parent\.test \(forcetls\): encrypt \($T:4 \.parent\.test\)" \
	"lookup legacy\.parent\.test \(forcetls\): may \($T:5 legacy\.parent\.test\)" \
	"lookup \[relay\.test\]:2525 \(forcetls\): verify \($T:6 \[relay\.test\]:2525\)" \
	"lookup ported\.test:2526 \(forcetls\): encrypt \($T:7 ported\.test\)" \
	"lookup cidr\.test \(forcetls\): encrypt \($T:9 127\.0\.0\.40/29 via 127\.0\.0\.42\)" \
	"lookup outside\.test \(forcetls\): not found" \
	"lookup open\.test \(forcetls\): not found"; do
	policyd_wait_log "$re" 5 || e2e_fail "policyd.log has no line matching: $re"
done

# Retried and still deferred, never sent in clear.
e2e_flush
e2e_wait_retried a@forced-plain.test 3 20 ||
	e2e_fail "forced-plain.test was not retried"
e2e_wait_retried h@cidr.test 3 20 ||
	e2e_fail "cidr.test was not retried"
for rcpt in $DEFERRED; do
	e2e_wait_until 10 e2e_queue_has "$rcpt" || e2e_fail "$rcpt is no longer queued"
done
[ "$(e2e_queue_count)" -eq 5 ] || e2e_fail "queue holds $(e2e_queue_count) messages, expected 5"
[ "$(e2e_rx_count $RX_CIDR)" -eq 0 ] || e2e_fail "the CIDR-forced MX $RX_CIDR received mail in clear"
[ "$(e2e_rx_count $RX_RELAY_PLAIN)" -eq 0 ] || e2e_fail "$RX_RELAY_PLAIN received ported.test in clear"
[ "$(e2e_rx_count $RX_PLAIN)" -eq 2 ] || e2e_fail "$RX_PLAIN received $(e2e_rx_count $RX_PLAIN) messages, expected 2"
for rcpt in $DEFERRED; do
	[ -z "$(e2e_rx_file $RX_PLAIN "$rcpt")" ] || e2e_fail "$rcpt was delivered in clear"
	e2e_log_grep "to=<${rcpt//./\\.}>.*status=sent" >/dev/null && e2e_fail "$rcpt was sent"
done
e2e_running policyd || e2e_fail "forcetls-policyd is no longer running"
policyd_stop
e2e_pass
