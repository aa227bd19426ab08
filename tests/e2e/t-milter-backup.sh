#!/bin/bash
# t-milter-backup.sh - backup encryption (issue 12, Forcepoint) through forcetls-milter in
# a real Postfix: a forced destination whose table entry says on_tls_failure=gateway
# goes to the encryption gateway's backup port when its MX offers no STARTTLS.
#
# usage: t-milter-backup.sh TLSMAPS [EXAMPLES_DIR]
#        (FTLS_MILTER and FTLS_POLICYD in the environment: the programs under test)
#
# The milter world of t-milter-outbound.sh (examples/postfix/main.cf.milter,
# forcetls_milter_header_checks and master.cf.forcetls as shipped, gateway.example
# replaced by gateway.test everywhere, so forcetls-backup's smtp_fallback_relay is
# [gateway.test]:10026), plus:
#   127.0.0.30:10026  the gateway's backup port (STARTTLS receiver)
#   bank.test         encrypt on_tls_failure=gateway, MX mx.plain.test (no STARTTLS)
#   bank-tls.test     encrypt on_tls_failure=gateway, MX mx.tls.test (STARTTLS)
#   ins.test          encrypt (no attribute: defer), MX mx.plain.test
#
# Proves (from the internal client):
#   1. bank.test: the milter adds X-TLS-Backup: gateway right after X-TLSLevel: Require,
#      milter_header_checks FILTERs it to forcetls-backup, and the message lands at the
#      backup port over TLS (never at mx.plain.test), with exactly one backup header
#      (the client's two copies deleted);
#   2. bank-tls.test: delivered directly to its MX, over TLS; the backup port got nothing;
#   3. bank.test plus ins.test in one message: no backup header (the client's copy
#      deleted), forcetls-require defers it 4.7.4 and it stays queued; neither gateway
#      port saw it;
#   4. the backup port down: a bank.test message stays queued (deferred), never in clear;
#   and at the end every receiver's count and the queue: lost 0, forced in clear 0.
# On the milter before backup encryption, case 1 fails: the message is deferred by
# forcetls-require instead of reaching the backup port.
set -u
MILTER_WORLD_ONLY=1 . "$(dirname "$0")/t-milter-outbound.sh"

EXAMPLES=${2:-${FTLS_EXAMPLES:-}}
MW_BACKUP=$MW_GW_ADDR:10026

mw_world_hook() {
	# The master.cf lines as shipped, with the gateway's name of this world.
	MW_CF=("${MW_CF[@]//gateway.example/gateway.test}")
	printf '%s\n' "${MW_CF[@]}" | grep -q "^--master=.*smtp_fallback_relay=\[gateway\.test\]:10026$" ||
		e2e_fail "master.cf.forcetls: forcetls-backup has no smtp_fallback_relay=[gateway.example]:10026"
	grep -q '^/^X-TLS-Backup:.*FILTER forcetls-backup:$' "$W/forcetls_milter_header_checks" ||
		e2e_fail "forcetls_milter_header_checks: no X-TLS-Backup FILTER line"
	# The world's records, and the bank's and the insurer's MX.
	e2e_dns \
		--host-record=gateway.test,$MW_GW_ADDR \
		--host-record=mx.plain.test,127.0.0.2 \
		--host-record=mx.tls.test,127.0.0.3 \
		--mx-host=forced-plain.test,mx.plain.test,10 \
		--mx-host=open-plain.test,mx.plain.test,10 \
		--mx-host=forced-tls.test,mx.tls.test,10 \
		--mx-host=open-tls.test,mx.tls.test,10 \
		--mx-host=bank.test,mx.plain.test,10 \
		--mx-host=bank-tls.test,mx.tls.test,10 \
		--mx-host=ins.test,mx.plain.test,10
	e2e_receiver $MW_GW_ADDR 10026 --starttls --name gateway.test
}

milter_world milter-backup \
	"bank.test                           encrypt on_tls_failure=gateway" \
	"bank-tls.test                       encrypt on_tls_failure=gateway" \
	"ins.test                            encrypt"

F=alice@corp.e2e.test
# 1. The bank, MX without STARTTLS: to the backup port.
# (with the client's own copies of the backup header, which must not survive)
mw_send_internal $F pay@bank.test --header "X-TLS-Backup: gateway" --header "x-tls-backup: no" ||
	e2e_fail "message to bank.test not accepted"
# 2. The bank, MX with STARTTLS: directly.
mw_send_internal $F pay@bank-tls.test || e2e_fail "message to bank-tls.test not accepted"
# 3. The bank and the insurer (no attribute) in one message.
mw_send_internal $F mixed@bank.test,claims@ins.test --header "X-TLS-Backup: gateway" ||
	e2e_fail "bank.test + ins.test not accepted"

e2e_wait_delivered $MW_BACKUP 1 30 ||
	e2e_fail "bank.test did not reach the gateway's backup port (deferred by forcetls-require?)"
f=$(mw_rx_one $MW_BACKUP pay@bank.test) || e2e_fail "backup port: not exactly one message for pay@bank.test"
e2e_assert_tls $MW_BACKUP pay@bank.test || e2e_fail "backup port: pay@bank.test did not arrive over TLS"
mw_headers "$f" | sed 's/^/    at the backup port: /' >&2
[ "$(mw_hcount "$f" X-TLSLevel)" = 1 ] || e2e_fail "backup port: not exactly one X-TLSLevel"
[ "$(mw_hcount "$f" X-TLS-Backup)" = 1 ] || e2e_fail "backup port: not exactly one X-TLS-Backup"
mw_hfirst "$f" | grep -qix 'X-TLSLevel: Require' || e2e_fail "backup port: X-TLSLevel: Require is not first"
mw_headers "$f" | sed -n 2p | grep -qx 'X-TLS-Backup: gateway' ||
	e2e_fail "backup port: X-TLS-Backup: gateway is not right after X-TLSLevel"
[ "$(mw_hcount "$f" X-Encrypt)" = 0 ] || e2e_fail "backup port: has an X-Encrypt header"
e2e_log_grep 'milter-header-filter: header X-TLS-Backup: gateway .*to=<pay@bank\.test>.*: forcetls-backup:$' >/dev/null ||
	e2e_fail "maillog: no milter_header_checks FILTER to forcetls-backup for pay@bank.test"
e2e_log_grep 'to=<pay@bank\.test>.*relay=gateway\.test\[127\.0\.0\.30\]:10026.*status=sent' >/dev/null ||
	e2e_fail "maillog: pay@bank.test not sent via gateway.test:10026"
mw_milter_said 'direction=outbound .*tls=Require \(rcpt bank\.test.*backup=gateway' ||
	e2e_fail "milter.log: no backup=gateway decision for bank.test"

e2e_wait_delivered $MW_RX_TLS 1 30 || e2e_fail "bank-tls.test not delivered"
f=$(mw_rx_one $MW_RX_TLS pay@bank-tls.test) || e2e_fail "mx.tls.test: not one message for pay@bank-tls.test"
e2e_assert_tls $MW_RX_TLS pay@bank-tls.test || e2e_fail "bank-tls.test not delivered over TLS"
[ "$(mw_hcount "$f" X-TLS-Backup)" = 1 ] || e2e_fail "bank-tls.test: not exactly one X-TLS-Backup"
e2e_log_grep 'to=<pay@bank-tls\.test>.*relay=mx\.tls\.test.*status=sent' >/dev/null ||
	e2e_fail "bank-tls.test: no status=sent via mx.tls.test"

e2e_wait_deferred claims@ins.test 30 '4\.7\.4' || e2e_fail "bank.test + ins.test not deferred 4.7.4"
e2e_wait_deferred mixed@bank.test 30 '4\.7\.4' || e2e_fail "mixed@bank.test not deferred 4.7.4"
# (Postfix names the last recipient in the FILTER line)
e2e_log_grep 'milter-header-filter: header X-TLSLevel: Require .*to=<claims@ins\.test>.*: forcetls-require:$' >/dev/null ||
	e2e_fail "maillog: bank.test + ins.test not FILTERed to forcetls-require"
e2e_log_grep 'milter-header-filter: header X-TLS-Backup: .*to=<claims@ins\.test>' &&
	e2e_fail "maillog: bank.test + ins.test FILTERed to forcetls-backup"
f=$(mw_queued claims@ins.test) || e2e_fail "postcat: no queued message for claims@ins.test"
[ "$(mw_hcount "$f" X-TLS-Backup)" = 0 ] || e2e_fail "bank.test + ins.test: queued with an X-TLS-Backup header"
mw_milter_said 'backup=no \(a forced recipient defers\)' ||
	e2e_fail "milter.log: no backup=no decision for bank.test + ins.test"

# 4. The backup port down: the bank's message stays queued.
e2e_receiver_stop $MW_BACKUP
mw_send_internal $F down@bank.test || e2e_fail "message to bank.test (backup down) not accepted"
e2e_wait_deferred down@bank.test 30 || e2e_fail "down@bank.test not deferred with the backup port down"
e2e_log_grep 'to=<down@bank\.test>.*status=deferred \(connect to gateway\.test\[127\.0\.0\.30\]:10026' >/dev/null ||
	e2e_fail "down@bank.test: not deferred at the backup port (forcetls-backup's fallback relay)"
e2e_wait_retried down@bank.test 3 30 || e2e_fail "down@bank.test was not retried"
e2e_queue_has down@bank.test || e2e_fail "down@bank.test is no longer queued"
e2e_wait_retried claims@ins.test 3 30 || e2e_fail "bank.test + ins.test was not retried"

# Lost 0, forced in clear 0: every message is either delivered over TLS or queued.
for r in mixed@bank.test claims@ins.test down@bank.test; do
	e2e_queue_has $r || e2e_fail "$r is no longer queued"
	e2e_log_grep "to=<${r//./\\.}>.*status=(sent|bounced)" && e2e_fail "$r left the queue"
done
[ "$(e2e_rx_count $MW_RX_PLAIN)" -eq 0 ] ||
	e2e_fail "mx.plain.test (no STARTTLS) got $(e2e_rx_count $MW_RX_PLAIN) messages: forced mail in clear"
[ "$(e2e_rx_count $MW_GW)" -eq 0 ] || e2e_fail "the gateway's encryption port got $(e2e_rx_count $MW_GW) messages"
[ "$(e2e_rx_count $MW_BACKUP)" -eq 1 ] || e2e_fail "backup port got $(e2e_rx_count $MW_BACKUP) messages, expected 1"
[ "$(e2e_rx_count $MW_RX_TLS)" -eq 1 ] || e2e_fail "mx.tls.test got $(e2e_rx_count $MW_RX_TLS) messages, expected 1"
[ "$(e2e_queue_count)" -eq 2 ] || e2e_fail "queue holds $(e2e_queue_count) messages, expected 2"
e2e_assert_tls $MW_RX_TLS || e2e_fail "mx.tls.test: a message in clear"
e2e_assert_tls $MW_BACKUP || e2e_fail "backup port: a message in clear"
mw_finish
