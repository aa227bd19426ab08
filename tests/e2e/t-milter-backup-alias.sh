#!/bin/bash
# t-milter-backup-alias.sh - backup encryption through forcetls-milter and what it cannot
# see: the recipients after Postfix's virtual_alias_maps. A documented limit
# (forcetls-milter(8), BACKUP ENCRYPTION), shown with a real Postfix.
#
# usage: t-milter-backup-alias.sh TLSMAPS [EXAMPLES_DIR]
#        (FTLS_MILTER and FTLS_POLICYD in the environment: the programs under test)
#
# The world of t-milter-backup.sh (bank.test encrypt on_tls_failure=gateway and
# ins.test encrypt, both with the MX mx.plain.test, no STARTTLS; the gateway's backup
# port 127.0.0.30:10026), plus virtual_alias_maps: pay@bank.test -> claims@ins.test and
# desk@ins.test -> cash@bank.test.
#
# Shows:
#   1. to pay@bank.test, rewritten to claims@ins.test after the milter decided: the
#      milter saw bank.test (gateway) and added X-TLS-Backup, so the message for
#      ins.test (an entry that defers) is at the gateway's backup port, over TLS;
#   2. to desk@ins.test, rewritten to cash@bank.test: no backup header (ins.test
#      defers), forcetls-require defers it 4.7.4 and it stays queued, although
#      bank.test asks for the gateway;
#   never in clear, nothing lost.
set -u
MILTER_WORLD_ONLY=1 . "$(dirname "$0")/t-milter-outbound.sh"

EXAMPLES=${2:-${FTLS_EXAMPLES:-}}
MW_BACKUP=$MW_GW_ADDR:10026

mw_world_hook() {
	MW_CF=("${MW_CF[@]//gateway.example/gateway.test}")
	MW_CF+=("virtual_alias_maps = inline:{pay@bank.test=claims@ins.test, desk@ins.test=cash@bank.test}")
	e2e_dns \
		--host-record=gateway.test,$MW_GW_ADDR \
		--host-record=mx.plain.test,127.0.0.2 \
		--host-record=mx.tls.test,127.0.0.3 \
		--mx-host=bank.test,mx.plain.test,10 \
		--mx-host=ins.test,mx.plain.test,10
	e2e_receiver $MW_GW_ADDR 10026 --starttls --name gateway.test
}

milter_world milter-backup-alias \
	"bank.test                           encrypt on_tls_failure=gateway" \
	"ins.test                            encrypt"

F=alice@corp.e2e.test
mw_send_internal $F pay@bank.test || e2e_fail "message to pay@bank.test not accepted"
mw_send_internal $F desk@ins.test || e2e_fail "message to desk@ins.test not accepted"

# 1. bank.test at RCPT, ins.test after virtual: at the backup port.
e2e_wait_delivered $MW_BACKUP 1 30 || e2e_fail "1: the rewritten message did not reach the backup port"
e2e_assert_tls $MW_BACKUP claims@ins.test || e2e_fail "1: claims@ins.test not at the backup port over TLS"
mw_milter_said 'direction=outbound .*tls=Require \(rcpt bank\.test.*backup=gateway' ||
	e2e_fail "1: the milter did not decide backup=gateway for pay@bank.test"
e2e_log "1: pay@bank.test rewritten to claims@ins.test (defers): at the gateway (the milter saw bank.test)"

# 2. ins.test at RCPT, bank.test after virtual: deferred by forcetls-require.
e2e_wait_deferred cash@bank.test 30 '4\.7\.4' || e2e_fail "2: cash@bank.test (from desk@ins.test) not deferred 4.7.4"
e2e_log_grep 'to=<cash@bank\.test>.*relay=gateway' &&
	e2e_fail "2: the rewritten message went to the gateway"
e2e_log "2: desk@ins.test rewritten to cash@bank.test (gateway): deferred 4.7.4 (the milter saw ins.test)"

[ "$(e2e_rx_count $MW_RX_PLAIN)" -eq 0 ] || e2e_fail "mx.plain.test got forced mail in clear"
[ "$(e2e_rx_count $MW_BACKUP)" -eq 1 ] || e2e_fail "backup port got $(e2e_rx_count $MW_BACKUP), expected 1"
e2e_queue_has cash@bank.test || e2e_fail "cash@bank.test (case 2) is no longer queued"
mw_finish
