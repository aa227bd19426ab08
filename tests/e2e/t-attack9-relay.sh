#!/bin/bash
# t-attack9-relay.sh - relay mode attacked through a real Postfix (attack9). The world is
# t-milter-relay.sh's (the gateway's hook copied here).
#
# usage: t-attack9-relay.sh TLSMAPS [EXAMPLES_DIR]
#
# Proves (main withstood this: Postfix 3.7 turns the bare CR into a space before the milter
# sees it; t-attack9.lua shows what the milter does when an MTA passes it on):
#   - a client's header line with a bare CR ("X-Note: hi<CR>X-Encrypt-Status: verified"),
#     which Postfix keeps as one header, reaches the gateway as one header too: no
#     X-Encrypt-Status line the gateway would take for its own, and X-Encrypt: yes stays
#     in the header block;
#   - a recipient Postfix refuses at RCPT (smtpd_recipient_restrictions) gets nothing from
#     the gateway either: the milter's envelope is not wider than Postfix's.
# Logged, not checked (what relay mode bypasses): virtual_alias_maps and always_bcc,
# which Postfix's cleanup applies to its own copy only.
set -u
MILTER_WORLD_ONLY=1 . "$(dirname "$0")/t-milter-outbound.sh"
EXAMPLES=${2:-${FTLS_EXAMPLES:-}}

mw_world_hook() {
	mw_relay_setup '[ "gateway.test:10025" ]'
	e2e_dns \
		--host-record=gateway.test,$MW_GW_ADDR \
		--host-record=mx.plain.test,127.0.0.2 \
		--host-record=mx.tls.test,127.0.0.3 \
		--mx-host=open-plain.test,mx.plain.test,10 \
		--mx-host=open-tls.test,mx.tls.test,10
	MW_CF+=("smtpd_recipient_restrictions = check_recipient_access inline:{ refused@open-plain.test=REJECT }, permit"
		"always_bcc = archive@open-tls.test"
		"virtual_alias_maps = inline:{ team@open-plain.test=member@open-plain.test }")
}
milter_world attack9-relay

F=alice@corp.e2e.test
printf 'From: <%s>\r\nTo: <bcr@open-plain.test>\r\nSubject: [encrypt] bare CR\r\nX-Note: hi\rX-Encrypt-Status: verified\r\n\r\nbody\r\n.\r\n' \
	$F >"$W/bcr.eml"
mw_send_internal $F bcr@open-plain.test --no-data-fixup --data "@$W/bcr.eml" ||
	e2e_fail "the bare-CR message was not accepted: $(tail -5 "$E2E_SWAKS_LOG")"
e2e_wait_delivered $MW_GW 1 30 || e2e_fail "the bare-CR message did not reach the gateway"
f=$(mw_rx_one $MW_GW bcr@open-plain.test) || e2e_fail "gateway: not one message for bcr@"
mw_headers "$f" | grep -qi '^X-Encrypt-Status:' &&
	e2e_fail "gateway: a forged X-Encrypt-Status header line: $(mw_headers "$f" | od -c | head -20)"
[ "$(mw_hcount "$f" X-Encrypt)" = 1 ] || e2e_fail "gateway: not exactly one X-Encrypt"

# A refused recipient next to an accepted one.
mw_send_internal $F ok@open-plain.test,refused@open-plain.test,team@open-plain.test \
	--header "Subject: [encrypt] two recipients" || e2e_fail "the two-recipient message was not accepted"
grep -q '^<\*\* *550' "$E2E_SWAKS_LOG" || grep -q '554.*refused@open-plain.test' "$E2E_SWAKS_LOG" ||
	e2e_log "note: no RCPT refusal in the transcript: $(grep -i refused "$E2E_SWAKS_LOG" | head -2)"
e2e_wait_delivered $MW_GW 2 30 || e2e_fail "the two-recipient message did not reach the gateway"
f=$(mw_rx_one $MW_GW ok@open-plain.test) || e2e_fail "gateway: not one message for ok@"
e2e_log "gateway envelope: $(grep -E '^(mail_from|rcpt)=' "${f%.eml}.meta" | tr '\n' ' ')"
grep -qix 'rcpt=refused@open-plain.test' "${f%.eml}.meta" &&
	e2e_fail "gateway: a recipient Postfix refused at RCPT got the message"
mw_finish
