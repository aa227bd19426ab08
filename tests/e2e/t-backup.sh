#!/bin/bash
# t-backup.sh - backup encryption (issue 12, Forcepoint): on_tls_failure=gateway through a
# real Postfix, forcetls-policyd serving both smtp_tls_policy_maps and transport_maps (the
# lines of examples/postfix/main.cf.policyd, its commented transport_maps line enabled),
# the forcetls-backup transport of examples/postfix/master.cf.forcetls (only the gateway
# name and the socket address substituted), dnsmasq, receivers with and without STARTTLS.
#
# usage: t-backup.sh TLSMAPS [EXAMPLES_DIR]   (FTLS_POLICYD: the daemon)
#
# Proves, by what every receiver stored (tls=yes|no) and what is queued:
#   a. bank.test (encrypt on_tls_failure=gateway), MX without STARTTLS: the message is at
#      the gateway's backup port, over TLS; the MX got nothing;
#   b. the same entry, its MX with STARTTLS: delivered to the MX over TLS, not to the gateway;
#   c. the gateway without STARTTLS, then down: the message stays queued, nothing in clear;
#      the gateway back and a flush: it arrives, over TLS;
#   d. ins.test (encrypt, no attribute), MX without STARTTLS: deferred 4.7.4, queued, the
#      gateway got nothing;
#   e. tables.on_tls_failure = "gateway" and SIGUSR1: the queued ins.test message and a new
#      one go to the gateway, over TLS;
#   f. policyd down: the queued bank.test message stays queued (trivial-rewrite's
#      transport_maps lookup fails: 4.3.0 address resolver failure), new mail gets 451 at
#      RCPT; policyd back and a flush: it arrives at the gateway, over TLS.
#   g. loop prevention: a message the gateway returns on the return port of
#      examples/postfix/README.md (content_filter=smtp:) is tried at the MX only (TLS
#      still required: deferred 4.7.4, queued), never sent back to the gateway.
# At the end: every accepted message is delivered or queued (lost 0), and no receiver
# stored one in clear (forced in clear 0).
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-policyd.sh"
TLSMAPS=${1:?usage: t-backup.sh TLSMAPS [EXAMPLES_DIR]}
EXAMPLES=${2:-${FTLS_EXAMPLES:-$E2E_LIB_DIR/../../examples}}
POLICYD=${FTLS_POLICYD:-$(dirname "$TLSMAPS")/../../policyd/forcetls-policyd}
[ -x "$POLICYD" ] || e2e_skip "forcetls-policyd not built ($POLICYD)"

e2e_setup backup
W=$E2E_WORK
SM_ADDR=127.0.0.1:10028 # the addresses examples/postfix/main.cf.policyd ships
POL_ADDR=127.0.0.1:10029
RX_PLAIN=127.0.0.2:25  # mx.plain.test, no STARTTLS
RX_TLS=127.0.0.3:25    # mx.tls.test, STARTTLS
RX_GW=127.0.0.9:10026  # gateway.test's backup port
GW_NAME=gateway.test

cat >"$W/forced-tls.table" <<'EOF'
# forced-TLS table of t-backup.sh
bank.test   encrypt on_tls_failure=gateway
ins.test    encrypt
EOF
write_conf() { # tables.on_tls_failure
	cat >"$W/forcetls.conf" <<EOF
# forcetls.conf of t-backup.sh
tables = { on_tls_failure = "$1"; };
policyd = {
  user = "nobody";
  state_file = ""; # never /var/lib/forcetls
  dns_servers = "127.0.0.1:53";
  log_lookups = true;
  watch_table = false;
};
EOF
	chmod 644 "$W/forced-tls.table" "$W/forcetls.conf"
}
write_conf defer
start_policyd() {
	e2e_spawn policyd "$POLICYD" --foreground --config "$W/forcetls.conf" \
		--table "$W/forced-tls.table" --socketmap-listen "inet:$SM_ADDR" \
		--policy-listen "inet:$POL_ADDR"
	e2e_wait_listen "${SM_ADDR%:*}" "${SM_ADDR#*:}" 10 || e2e_fail "forcetls-policyd: socketmap not listening"
}

# main.cf: the example's lines, its commented transport_maps line enabled.
MAIN_CF=$EXAMPLES/postfix/main.cf.policyd
MASTER_CF=$EXAMPLES/postfix/master.cf.forcetls
[ -f "$MAIN_CF" ] && [ -f "$MASTER_CF" ] || e2e_fail "examples missing: $MAIN_CF $MASTER_CF"
mapfile -t lines < <(policyd_cf_lines "$MAIN_CF" "inet:$SM_ADDR" "inet:$POL_ADDR")
tm=$(sed -n 's/^#\(transport_maps = socketmap:inet:127\.0\.0\.1:10028:forcetls-transport\)$/\1/p' "$MAIN_CF")
[ -n "$tm" ] || e2e_fail "$MAIN_CF: no #transport_maps = socketmap:...:forcetls-transport line"
lines+=("${tm//inet:127.0.0.1:10028/inet:$SM_ADDR}")
# master.cf: the example's service lines; only the gateway's name and our socket replaced.
master=()
while IFS= read -r l; do
	l=${l//inet:127.0.0.1:10028/inet:$SM_ADDR}
	master+=("--master=${l//gateway.example/$GW_NAME}")
done < <(grep -Ev '^[[:space:]]*(#|$)' "$MASTER_CF")
printf '%s\n' "${master[@]}" | grep -q "smtp_fallback_relay=\[$GW_NAME\]:10026" ||
	e2e_fail "$MASTER_CF: forcetls-backup has no smtp_fallback_relay=[gateway.example]:10026"
# The return port of examples/postfix/README.md (loop prevention), its address and the
# gateway's replaced.
README=$EXAMPLES/postfix/README.md
while IFS= read -r l; do
	l=${l#      }
	l=${l/#10027 /127.0.0.25:10027 }
	master+=("--master=${l//192.0.2.25\/32/127.0.0.9/32}")
done < <(sed -n '/# master.cf: the gateway returns/,/^$/p' "$README" | grep -Ev '^[[:space:]]*(#|$)')
printf '%s\n' "${master[@]}" | grep -q -- "-o content_filter=smtp:" ||
	e2e_fail "$README: no return port with content_filter=smtp:"

dns_bank_mx() { # the MX host of bank.test
	e2e_dns --host-record=mx.plain.test,127.0.0.2 --host-record=mx.tls.test,127.0.0.3 \
		--host-record=$GW_NAME,127.0.0.9 --mx-host=bank.test,"$1",10 \
		--mx-host=ins.test,mx.plain.test,10
}
dns_bank_mx mx.plain.test
start_policyd
e2e_receiver 127.0.0.2 25 --plain --name mx.plain.test
e2e_receiver 127.0.0.3 25 --starttls --name mx.tls.test
e2e_receiver 127.0.0.9 10026 --starttls --name $GW_NAME
e2e_postfix "${lines[@]}" "${master[@]}"
e2e_log "main.cf: transport_maps = $(postconf -c "$E2E_PF_CONF" -h transport_maps)"

F=sender@client.e2e.test
accepted=0
send() { e2e_send "$F" "$1" || e2e_fail "Postfix did not accept the message to $1"; accepted=$((accepted + 1)); }
count_is() { [ "$(e2e_rx_count "$1")" -eq "$2" ] || e2e_fail "$3: $1 stored $(e2e_rx_count "$1") messages, expected $2"; }
never_at() { [ -z "$(e2e_rx_file "$1" "$2")" ] || e2e_fail "$2 reached $1"; }
sent_via() { e2e_log_grep "to=<${1//./\\.}>.*relay=${2//./\\.}.*status=sent" >/dev/null; }

# --- a. MX without STARTTLS: the gateway's backup port, over TLS -------------------------
send a@bank.test
e2e_wait_delivered $RX_GW 1 20 || e2e_fail "a: a@bank.test did not reach the gateway"
e2e_assert_tls $RX_GW a@bank.test || e2e_fail "a: the gateway got a@bank.test in clear"
sent_via a@bank.test "$GW_NAME\[127.0.0.9\]:10026" || e2e_fail "a: no status=sent via the gateway"
count_is $RX_PLAIN 0 "a"
policyd_wait_log "lookup a@bank\.test \(forcetls-transport\): forcetls-backup: \($W/forced-tls\.table:2 bank\.test on_tls_failure=gateway\)" 5 ||
	e2e_fail "a: policyd did not log the transport answer for bank.test"
e2e_log "a: a@bank.test at the gateway over TLS; the MX got nothing"

# --- d. no attribute: deferred as before --------------------------------------------------
send d@ins.test
e2e_wait_deferred d@ins.test 20 '4\.7\.4' || e2e_fail "d: d@ins.test not deferred 4.7.4"
count_is $RX_GW 1 "d"
count_is $RX_PLAIN 0 "d"
policyd_wait_log "lookup d@ins\.test \(forcetls-transport\): not found, on_tls_failure=defer" 5 ||
	e2e_fail "d: policyd did not answer NOTFOUND for ins.test"
e2e_log "d: d@ins.test deferred 4.7.4 and queued; the gateway got nothing"

# --- b. the same entry, MX with STARTTLS: direct, over TLS --------------------------------
dns_bank_mx mx.tls.test
send b@bank.test
e2e_wait_delivered $RX_TLS 1 20 || e2e_fail "b: b@bank.test not delivered to its MX"
e2e_assert_tls $RX_TLS b@bank.test || e2e_fail "b: b@bank.test reached its MX in clear"
count_is $RX_GW 1 "b"
e2e_log "b: b@bank.test at its MX over TLS; the gateway got nothing"

# --- c. the gateway without STARTTLS, then down: queued; back: delivered -----------------
dns_bank_mx mx.plain.test
e2e_receiver_stop $RX_GW
e2e_receiver 127.0.0.9 10026 --plain --name $GW_NAME
send c@bank.test
e2e_wait_until 20 e2e__log_has 'to=<c@bank\.test>.*relay=gateway\.test.*status=deferred.*TLS is required, but was not offered by host gateway\.test' ||
	e2e_fail "c: c@bank.test not deferred at the plain gateway"
e2e_receiver_stop $RX_GW
e2e_flush
e2e_wait_retried c@bank.test 3 20 || e2e_fail "c: c@bank.test not retried with the gateway down"
e2e_queue_has c@bank.test || e2e_fail "c: c@bank.test is no longer queued"
e2e_queue_has d@ins.test || e2e_fail "c: d@ins.test is no longer queued"
count_is $RX_GW 1 "c"
count_is $RX_PLAIN 0 "c"
e2e_receiver 127.0.0.9 10026 --starttls --name $GW_NAME
e2e_flush
e2e_wait_delivered $RX_GW 2 20 || e2e_fail "c: c@bank.test did not reach the gateway once up"
e2e_assert_tls $RX_GW c@bank.test || e2e_fail "c: the gateway got c@bank.test in clear"
e2e_queue_has d@ins.test || e2e_fail "c: d@ins.test left the queue"
e2e_log "c: gateway plain, then down: c@bank.test queued; gateway up: delivered over TLS"

# --- e. tables.on_tls_failure = "gateway": the plain entry backs up too -------------------
write_conf gateway
e2e_signal policyd USR1
policyd_wait_log 'reload \(SIGUSR1\): ok' 10 || e2e_fail "e: policyd did not reload"
e2e_flush
send e@ins.test
e2e_wait_delivered $RX_GW 4 20 || e2e_fail "e: ins.test mail did not reach the gateway after the reload"
e2e_assert_tls $RX_GW d@ins.test || e2e_fail "e: d@ins.test not at the gateway over TLS"
e2e_assert_tls $RX_GW e@ins.test || e2e_fail "e: e@ins.test not at the gateway over TLS"
count_is $RX_PLAIN 0 "e"
e2e_log "e: tables.on_tls_failure = gateway: d@ and e@ins.test at the gateway over TLS"

# --- f. policyd down: transport lookups fail, the message stays queued -------------------
e2e_receiver_stop $RX_GW
send f@bank.test
e2e_wait_until 20 e2e__log_has 'to=<f@bank\.test>.*status=deferred \(connect to gateway\.test\[127\.0\.0\.9\]:10026' ||
	e2e_fail "f: f@bank.test not deferred with the gateway down"
e2e_receiver 127.0.0.9 10026 --starttls --name $GW_NAME
policyd_stop
# qmgr keeps the last address it resolved (resolve_clnt.c): a reload starts afresh, so the
# retry asks trivial-rewrite, and trivial-rewrite asks the transport map again.
e2e_postconf "queue_run_delay = 1s"
n0=$(e2e_log_count 'to=<f@bank\.test>.*status=deferred')
e2e_flush
e2e_wait_until 20 e2e__log_count_ge 'to=<f@bank\.test>.*status=deferred' $((n0 + 1)) ||
	e2e_fail "f: f@bank.test not deferred again with policyd down"
e2e_log_grep 'trivial-rewrite.*forcetls-transport lookup error for "f@bank\.test"' >/dev/null ||
	e2e_fail "f: trivial-rewrite logged no transport_maps lookup error for f@bank.test"
e2e_log_grep 'to=<f@bank\.test>.*dsn=4\.3\.0, status=deferred \(address resolver failure\)' >/dev/null ||
	e2e_fail "f: f@bank.test not deferred for the resolver failure"
e2e_queue_has f@bank.test || e2e_fail "f: f@bank.test is no longer queued"
count_is $RX_GW 4 "f"
e2e_send "$F" g@bank.test && e2e_fail "f: a new message was accepted with policyd down"
# 4.3.5: check_policy_service (the same daemon) fails first; without it, 4.3.0 from the
# address resolver.
e2e_swaks_reply '^451 4\.3\.[05]' || e2e_fail "f: new mail not refused with 451"
start_policyd
send h@bank.test
e2e_flush
e2e_wait_delivered $RX_GW 6 20 || e2e_fail "f: f@ and h@bank.test did not arrive once policyd was back"
e2e_assert_tls $RX_GW h@bank.test || e2e_fail "f: h@bank.test at the gateway in clear"
e2e_assert_tls $RX_GW f@bank.test || e2e_fail "f: f@bank.test at the gateway in clear"
e2e_log "f: policyd down: f@bank.test queued, new mail 451; policyd back: delivered over TLS"

# --- g. loop prevention: mail the gateway returns on the README's port ----------------
# Sent from the gateway's address to the return port: content_filter=smtp: bypasses
# transport_maps, so it goes to bank.test's MX only (TLS still required: deferred 4.7.4)
# and never back to the gateway.
e2e_send gateway@gateway.test r@bank.test --server 127.0.0.25:10027 --local-interface 127.0.0.9 ||
	e2e_fail "g: the return port did not accept the gateway's message"
e2e_wait_deferred r@bank.test 20 '4\.7\.4' || e2e_fail "g: r@bank.test not deferred 4.7.4 at the MX"
e2e_wait_retried r@bank.test 3 20 || e2e_fail "g: r@bank.test not retried"
e2e_log_grep 'to=<r@bank\.test>.*relay=gateway' >/dev/null && e2e_fail "g: r@bank.test went back to the gateway"
never_at $RX_GW r@bank.test
count_is $RX_GW 6 "g"
accepted=$((accepted + 1))
e2e_log "g: returned on the README's port: r@bank.test only tried at its MX (4.7.4), never the gateway"

# --- the counts ---------------------------------------------------------------------------
delivered=0 clear=0
for rx in $RX_PLAIN $RX_TLS $RX_GW; do
	delivered=$((delivered + $(e2e_rx_count $rx)))
	clear=$((clear + $(cat "$(e2e_rx_dir $rx)"/*.meta 2>/dev/null | grep -c '^tls=no$')))
done
queued=$(e2e_queue_count)
lost=$((accepted - delivered - queued))
e2e_log "accepted $accepted, delivered $delivered, queued $queued: lost $lost, forced in clear $clear"
[ $lost -eq 0 ] && [ "$clear" -eq 0 ] && [ "$queued" -eq 1 ] && e2e_queue_has r@bank.test ||
	e2e_fail "lost $lost, forced in clear $clear, queued $queued (expected 0, 0, 1: r@bank.test)"
never_at $RX_PLAIN a@bank.test
policyd_stop
e2e_pass
