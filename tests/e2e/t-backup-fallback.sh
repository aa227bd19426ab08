#!/bin/bash
# t-backup-fallback.sh - a site-wide smtp_fallback_relay in main.cf next to backup
# encryption: forced mail whose entry DEFERS must not go to that relay (in clear, or at
# all). The lines of examples/postfix/main.cf.policyd (its transport_maps line enabled),
# the transports of examples/postfix/master.cf.forcetls, after the site's own main.cf
# line "smtp_fallback_relay = [relay.test]:25" (a receiver without STARTTLS).
#
# usage: t-backup-fallback.sh TLSMAPS [EXAMPLES_DIR]   (FTLS_POLICYD: the daemon)
#
# Proves:
#   d. ins.test (encrypt, defers), MX without STARTTLS: deferred 4.7.4 and queued; the
#      site's fallback relay got nothing (Postfix hands any failed destination of the
#      default smtp transport to smtp_fallback_relay: without a table entry for it,
#      policyd's map answered "may" for it and the message left in clear, until
#      main.cf.policyd set smtp_fallback_relay empty);
#   a. bank.test (encrypt on_tls_failure=gateway), the same MX: at the gateway's backup
#      port over TLS (forcetls-backup's own fallback relay), not at the site's relay.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-policyd.sh"
TLSMAPS=${1:?usage: t-backup-fallback.sh TLSMAPS [EXAMPLES_DIR]}
EXAMPLES=${2:-${FTLS_EXAMPLES:-$E2E_LIB_DIR/../../examples}}
POLICYD=${FTLS_POLICYD:-$(dirname "$TLSMAPS")/../../policyd/forcetls-policyd}
[ -x "$POLICYD" ] || e2e_skip "forcetls-policyd not built ($POLICYD)"

e2e_setup backup-fallback
W=$E2E_WORK
SM_ADDR=127.0.0.1:10028
POL_ADDR=127.0.0.1:10029
RX_PLAIN=127.0.0.2:25  # mx.plain.test, no STARTTLS
RX_RELAY=127.0.0.11:25 # relay.test, the site's fallback relay, no STARTTLS
RX_GW=127.0.0.9:10026  # gateway.test's backup port
GW_NAME=gateway.test

cat >"$W/forced-tls.table" <<'EOF'
# forced-TLS table of t-backup-fallback.sh
bank.test   encrypt on_tls_failure=gateway
ins.test    encrypt
EOF
cat >"$W/forcetls.conf" <<'EOF'
policyd = {
  user = "nobody";
  state_file = "";
  dns_servers = "127.0.0.1:53";
  log_lookups = true;
  watch_table = false;
};
EOF
chmod 644 "$W/forced-tls.table" "$W/forcetls.conf"
MAIN_CF=$EXAMPLES/postfix/main.cf.policyd
MASTER_CF=$EXAMPLES/postfix/master.cf.forcetls
# The site's main.cf had a fallback relay; the example's lines are added after it.
lines=("smtp_fallback_relay = [relay.test]:25")
mapfile -t -O 1 lines < <(policyd_cf_lines "$MAIN_CF" "inet:$SM_ADDR" "inet:$POL_ADDR")
tm=$(sed -n 's/^#\(transport_maps = socketmap:inet:127\.0\.0\.1:10028:forcetls-transport\)$/\1/p' "$MAIN_CF")
[ -n "$tm" ] || e2e_fail "$MAIN_CF: no #transport_maps line"
lines+=("$tm")
master=()
while IFS= read -r l; do
	master+=("--master=${l//gateway.example/$GW_NAME}")
done < <(grep -Ev '^[[:space:]]*(#|$)' "$MASTER_CF")

e2e_dns --host-record=mx.plain.test,127.0.0.2 --host-record=relay.test,127.0.0.11 \
	--host-record=$GW_NAME,127.0.0.9 --mx-host=bank.test,mx.plain.test,10 \
	--mx-host=ins.test,mx.plain.test,10
e2e_spawn policyd "$POLICYD" --foreground --config "$W/forcetls.conf" \
	--table "$W/forced-tls.table" --socketmap-listen "inet:$SM_ADDR" --policy-listen "inet:$POL_ADDR"
e2e_wait_listen "${SM_ADDR%:*}" "${SM_ADDR#*:}" 10 || e2e_fail "forcetls-policyd: socketmap not listening"
e2e_receiver 127.0.0.2 25 --plain --name mx.plain.test
e2e_receiver 127.0.0.11 25 --plain --name relay.test
e2e_receiver 127.0.0.9 10026 --starttls --name $GW_NAME
e2e_postfix "${lines[@]}" "${master[@]}"

F=sender@client.e2e.test
e2e_send $F d@ins.test || e2e_fail "Postfix did not accept d@ins.test"
e2e_send $F a@bank.test || e2e_fail "Postfix did not accept a@bank.test"
e2e_wait_delivered $RX_GW 1 30 || e2e_fail "a: a@bank.test not at the backup port"
e2e_assert_tls $RX_GW a@bank.test || e2e_fail "a: a@bank.test at the backup port in clear"
e2e_log "a: a@bank.test at the gateway's backup port over TLS"
e2e_wait_retried d@ins.test 2 30 '4\.7\.4' || {
	e2e_log_grep 'to=<d@ins\.test>' >&2
	e2e_fail "d: d@ins.test (defers) not deferred 4.7.4: $(e2e_rx_count $RX_RELAY) message(s) at the site's fallback relay"
}
[ "$(e2e_rx_count $RX_RELAY)" -eq 0 ] || e2e_fail "d: the site's fallback relay got forced mail"
[ "$(e2e_rx_count $RX_PLAIN)" -eq 0 ] || e2e_fail "mx.plain.test got forced mail in clear"
e2e_queue_has d@ins.test || e2e_fail "d: d@ins.test is no longer queued"
e2e_log "d: d@ins.test deferred 4.7.4 and queued; the site's fallback relay got nothing"
policyd_stop
e2e_pass
