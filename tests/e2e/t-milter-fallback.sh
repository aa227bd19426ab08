#!/bin/bash
# t-milter-fallback.sh - a site-wide smtp_fallback_relay in main.cf and forcetls-milter's
# Require routing: forced mail whose entry defers stays queued, it never goes to that
# relay (which is not the gateway and may deliver as it likes).
#
# usage: t-milter-fallback.sh TLSMAPS [EXAMPLES_DIR]
#        (FTLS_MILTER and FTLS_POLICYD in the environment: the programs under test)
#
# The world of t-milter-backup.sh (ins.test encrypt, MX mx.plain.test without STARTTLS;
# bank.test encrypt on_tls_failure=gateway, the same MX; the gateway's backup port
# 127.0.0.30:10026), plus main.cf "smtp_fallback_relay = [relay.test]:25", a receiver
# WITH STARTTLS (so TLS alone does not stop the hop).
#
# Proves:
#   1. claims@ins.test (Require, no backup): deferred 4.7.4 and queued; relay.test got
#      nothing (before master.cf.forcetls cleared smtp_fallback_relay on forcetls-require,
#      the message went to relay.test);
#   2. pay@bank.test (backup): at the gateway's backup port over TLS, not at relay.test;
#   3. "[encrypt]" mail (flagged, forcetls-gateway) with the encryption gateway down: stays
#      queued; relay.test got nothing (before forcetls-gateway cleared smtp_fallback_relay
#      it went there, never encrypted).
set -u
MILTER_WORLD_ONLY=1 . "$(dirname "$0")/t-milter-outbound.sh"

EXAMPLES=${2:-${FTLS_EXAMPLES:-}}
MW_BACKUP=$MW_GW_ADDR:10026
RX_RELAY=127.0.0.11:25

mw_world_hook() {
	MW_CF=("${MW_CF[@]//gateway.example/gateway.test}")
	MW_CF=("smtp_fallback_relay = [relay.test]:25" "${MW_CF[@]}")
	e2e_dns \
		--host-record=gateway.test,$MW_GW_ADDR \
		--host-record=mx.plain.test,127.0.0.2 \
		--host-record=mx.tls.test,127.0.0.3 \
		--host-record=relay.test,127.0.0.11 \
		--mx-host=bank.test,mx.plain.test,10 \
		--mx-host=ins.test,mx.plain.test,10
	e2e_receiver $MW_GW_ADDR 10026 --starttls --name gateway.test
	e2e_receiver 127.0.0.11 25 --starttls --name relay.test
}

milter_world milter-fallback \
	"bank.test                           encrypt on_tls_failure=gateway" \
	"ins.test                            encrypt"

F=alice@corp.e2e.test
e2e_receiver_stop $MW_GW
mw_send_internal $F secret@open-plain.test --header "Subject: [encrypt] for the gateway" ||
	e2e_fail "tagged message not accepted"
mw_send_internal $F claims@ins.test || e2e_fail "message to claims@ins.test not accepted"
mw_send_internal $F pay@bank.test || e2e_fail "message to pay@bank.test not accepted"

e2e_wait_delivered $MW_BACKUP 1 30 || e2e_fail "2: pay@bank.test did not reach the backup port"
e2e_assert_tls $MW_BACKUP pay@bank.test || e2e_fail "2: pay@bank.test not at the backup port over TLS"
e2e_log "2: pay@bank.test at the gateway's backup port over TLS"
e2e_wait_retried claims@ins.test 2 30 '4\.7\.4' || {
	e2e_log_grep 'to=<claims@ins\.test>' >&2
	e2e_fail "1: claims@ins.test not deferred 4.7.4 ($(e2e_rx_count $RX_RELAY) at relay.test)"
}
[ "$(e2e_rx_count $RX_RELAY)" -eq 0 ] || e2e_fail "1: the site's fallback relay got forced mail that defers"
[ "$(e2e_rx_count $MW_RX_PLAIN)" -eq 0 ] || e2e_fail "mx.plain.test got forced mail in clear"
e2e_queue_has claims@ins.test || e2e_fail "1: claims@ins.test is no longer queued"
e2e_log "1: claims@ins.test deferred 4.7.4 and queued; relay.test got nothing"
e2e_wait_retried secret@open-plain.test 2 30 || {
	e2e_log_grep 'to=<secret@open-plain\.test>' >&2
	e2e_fail "3: the tagged message was not deferred with the gateway down ($(e2e_rx_count $RX_RELAY) at relay.test)"
}
e2e_log_grep 'to=<secret@open-plain\.test>.*relay=relay\.test' && e2e_fail "3: the tagged message went to relay.test"
[ "$(e2e_rx_count $RX_RELAY)" -eq 0 ] || e2e_fail "3: the site's fallback relay got mail for the gateway"
e2e_queue_has secret@open-plain.test || e2e_fail "3: the tagged message is no longer queued"
e2e_log "3: [encrypt] mail with the gateway down: queued; relay.test got nothing"
mw_finish
