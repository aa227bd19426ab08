#!/bin/bash
# t-milter-down.sh - forcetls-milter down under a real Postfix wired with exactly the
# lines of examples/postfix/main.cf.milter (milter_default_action = tempfail,
# non_smtpd_milters = $smtpd_milters): no message gets past Postfix unmarked while the
# milter is down, and none is lost. docs/OPERATIONS.md, section 4, cites it.
# The world is t-milter-outbound.sh's (milter_world).
#
# usage: t-milter-down.sh TLSMAPS [EXAMPLES_DIR]
#
# Proves:
#   - with the milter stopped, an SMTP client gets a 4xx (Postfix's "451 4.7.1"), Postfix
#     queues nothing, no MX and no gateway gets anything;
#   - a message submitted with sendmail(1) at that time stays in the maildrop (pickup's
#     milter tempfails too);
#   - with the milter started again, the client's retry is accepted and delivered over
#     TLS to the forced domain with "X-TLSLevel: Require" first, and the next pickup run
#     hands the kept message over, marked the same: nothing was lost.
set -u
MILTER_WORLD_ONLY=1 . "$(dirname "$0")/t-milter-outbound.sh"
EXAMPLES=${2:-${FTLS_EXAMPLES:-}}
# Postfix gives a non-SMTP (pickup) message the client 127.0.0.1: internal, as in the
# example's default internal_networks.
mw_world_hook() {
	mw_conf_set "$W/forcetls.conf" milter internal_networks \
		"[ \"$MW_INTERNAL/32\", \"127.0.0.1/32\" ]" &&
		chmod 644 "$W/forcetls.conf" || e2e_fail "examples/forcetls.conf: internal_networks is not there"
}
milter_world milter-down

F=alice@corp.e2e.test
nothing_anywhere() {
	[ "$(e2e_queue_count)" -eq 0 ] || e2e_fail "$1: Postfix queued a message"
	[ "$(e2e_rx_count $MW_RX_TLS)$(e2e_rx_count $MW_RX_PLAIN)$(e2e_rx_count $MW_GW)" = 000 ] ||
		e2e_fail "$1: a receiver got a message"
}

# 1. The milter down: SMTP gets 4xx, nothing is queued or delivered.
e2e_stop milter || e2e_fail "forcetls-milter did not stop"
mw_send_internal $F down@forced-tls.test && e2e_fail "a message was accepted while the milter was down"
e2e_swaks_reply '^4[0-9][0-9] ' || e2e_fail "no 4xx while the milter was down"
e2e_swaks_reply '^250 .*queued' && e2e_fail "the message was queued"
e2e_wait_log 'connect to Milter service unix:.*milter\.sock: (Connection refused|No such file)' 10 ||
	e2e_fail "maillog: Postfix did not log the milter as unreachable"
nothing_anywhere "milter down"

# 2. Submitted with sendmail(1): kept in the maildrop.
printf 'From: %s\nTo: local@forced-tls.test\nSubject: submitted while the milter is down\n\nbody\n' \
	$F >"$W/local.eml"
e2e_ns sendmail -C "$E2E_PF_CONF" -f $F -t <"$W/local.eml" || e2e_fail "sendmail(1) refused the message"
e2e_wait_until 30 e2e_queue_has local@forced-tls.test maildrop ||
	e2e_fail "pickup: the maildrop does not keep the message"
sleep 2
[ "$(e2e_rx_count $MW_RX_TLS)" -eq 0 ] || e2e_fail "the maildrop message was delivered without the milter"

# 3. The milter back: the retry and the kept message are delivered, marked.
e2e_spawn milter "$FTLS_MILTER" --foreground --config "$W/forcetls.conf" \
	--table "$W/forced-tls.table" --listen "unix:$MW_MILTER_SOCK"
e2e_wait_until 15 eval '[ "$(grep -c "ready on" "$W/milter.log")" -ge 2 ]' ||
	e2e_fail "forcetls-milter did not start again"
mw_send_internal $F down@forced-tls.test || e2e_fail "the retry was not accepted with the milter back"
e2e_ns postkick -c "$E2E_PF_CONF" public pickup W || e2e_fail "postkick pickup failed"
e2e_wait_delivered $MW_RX_TLS 2 60 || e2e_fail "the retry and the kept message were not both delivered"
for r in down@forced-tls.test local@forced-tls.test; do
	f=$(mw_rx_one $MW_RX_TLS $r) || e2e_fail "mx.tls.test: not one message for $r"
	e2e_assert_tls $MW_RX_TLS $r || e2e_fail "$r: not delivered over TLS"
	mw_hfirst "$f" | grep -qix 'X-TLSLevel: Require' || e2e_fail "$r: X-TLSLevel: Require is not first"
done
[ "$(e2e_rx_count $MW_RX_PLAIN)$(e2e_rx_count $MW_GW)" = 00 ] || e2e_fail "mail went elsewhere"
mw_finish
