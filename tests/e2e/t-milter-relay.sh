#!/bin/bash
# t-milter-relay.sh - forcetls-milter's relay mode in a real Postfix: the milter itself
# hands flagged mail to the encryption gateway, and Postfix's copy is discarded only
# after the gateway said 250.
# The world is t-milter-outbound.sh's (milter_world), with milter.routing = "relay",
# relay_gateways = [ "gw-down.test:10025", "gateway.test:10025" ] (the first has no
# listener: the second must take over), the test CA as relay_ca_file, AUTH as "relay"
# (the gateway requires it, after STARTTLS), relay_helo relay.forcetls.test, a spool
# threshold of 64 KiB in $W/spool.
#
# usage: t-milter-relay.sh TLSMAPS [EXAMPLES_DIR]
#
# Proves:
#   - a tagged message reaches the gateway from the milter (helo relay.forcetls.test,
#     TLS, AUTH), to both recipients, with one X-TLSLevel first and one X-Encrypt: yes,
#     its body byte for byte; the MXes got nothing and Postfix queued nothing (it logged
#     the milter's DISCARD); a 3 MB tagged message the same, spooled to disk, and no
#     file is left in the spool directory;
#   - an untagged message is not relayed: Postfix delivers it as in header mode;
#   - the gateway down: the client gets 451 4.4.0, nothing is queued or delivered; once
#     the gateway is back the client's retry is delivered, once;
#   - the gateway answering DATA with 451, and the gateway presenting an untrusted
#     certificate: 451 4.4.0 to the client, nothing delivered, the milter's log names
#     the reason;
#   - a message submitted with sendmail(1) (pickup; Postfix gives the milter its envelope
#     without angle brackets): kept in the maildrop while the gateway is down, handed
#     over once it is back.
set -u
MILTER_WORLD_ONLY=1 . "$(dirname "$0")/t-milter-outbound.sh"
EXAMPLES=${2:-${FTLS_EXAMPLES:-}}

mw_world_hook() {
	# The gateway requires AUTH as relay:s3cret, after STARTTLS.
	mw_relay_setup '[ "gw-down.test:10025", "gateway.test:10025" ]'
	mw_conf_set "$W/forcetls.conf" milter relay_spool_threshold 65536 &&
		mw_conf_set "$W/forcetls.conf" milter internal_networks \
			"[ \"$MW_INTERNAL/32\", \"127.0.0.1/32\" ]" &&
		chmod 644 "$W/forcetls.conf" || e2e_fail "examples/forcetls.conf: a relay setting is not there"
	e2e_dns \
		--host-record=gateway.test,$MW_GW_ADDR \
		--host-record=gw-down.test,127.0.0.31 \
		--host-record=mx.plain.test,127.0.0.2 \
		--host-record=mx.tls.test,127.0.0.3 \
		--mx-host=forced-plain.test,mx.plain.test,10 \
		--mx-host=open-plain.test,mx.plain.test,10 \
		--mx-host=forced-tls.test,mx.tls.test,10 \
		--mx-host=open-tls.test,mx.tls.test,10
	"$FTLS_MILTER" --check --config "$W/forcetls.conf" --table "$W/forced-tls.table" \
		>"$W/milter-check.log" 2>&1 || e2e_fail "forcetls-milter --check (relay): $(cat "$W/milter-check.log")"
}
milter_world milter-relay

F=alice@corp.e2e.test
nothing_queued() { [ "$(e2e_queue_count)" -eq 0 ] || e2e_fail "$1: Postfix queued $(e2e_queue_count) message(s)"; }
nothing_left_queued() { [ "$(e2e_queue_count)" -eq 0 ]; }
body_of() { sed '1,/^\r\?$/d' "$1"; }

# 1. A tagged message to two recipients: to the gateway, by the milter.
mw_send_internal $F a@open-plain.test,b@forced-plain.test \
	--header "Subject: [encrypt] quarterly figures" --body $'line 1\n.leading dot\n\nend' ||
	e2e_fail "tagged message not accepted"
e2e_wait_delivered $MW_GW 1 30 || e2e_fail "the tagged message did not reach the gateway"
f=$(mw_rx_one $MW_GW a@open-plain.test) || e2e_fail "gateway: not one message for a@"
meta=${f%.eml}.meta
grep -qx 'helo=relay.forcetls.test' "$meta" || e2e_fail "gateway: not sent by the milter ($(grep helo= "$meta"))"
grep -qx 'tls=yes' "$meta" && grep -qx 'auth=relay' "$meta" || e2e_fail "gateway: not over TLS with AUTH: $(tr '\n' ' ' <"$meta")"
grep -qix 'rcpt=b@forced-plain.test' "$meta" || e2e_fail "gateway: the second recipient is missing"
grep -qx 'mail_from=alice@corp.e2e.test' "$meta" || e2e_fail "gateway: wrong sender: $(grep mail_from= "$meta")"
[ "$(mw_hcount "$f" X-Encrypt)" = 1 ] && mw_headers "$f" | grep -qix 'X-Encrypt: yes' ||
	e2e_fail "gateway: not exactly one X-Encrypt: yes"
[ "$(mw_hcount "$f" X-TLSLevel)" = 1 ] && mw_hfirst "$f" | grep -qix 'X-TLSLevel: Require' ||
	e2e_fail "gateway: X-TLSLevel: Require is not the one first header: $(mw_hfirst "$f")"
mw_headers "$f" | grep -qix 'Subject: \[encrypt\] quarterly figures' || e2e_fail "gateway: subject changed"
[ "$(body_of "$f" | tr -d '\r')" = $'line 1\n.leading dot\n\nend' ] ||
	e2e_fail "gateway: body differs: $(body_of "$f" | od -c | head -5)"
e2e_wait_log 'milter triggers DISCARD action' 10 || e2e_fail "Postfix did not log the milter's DISCARD"
mw_milter_said 'relay=sent gateway=gateway\.test\[127\.0\.0\.30\]:10025' ||
	e2e_fail "milter.log: no relay=sent line naming gateway.test"
mw_milter_said 'gw-down\.test' || true
nothing_queued "relayed message"
[ "$(e2e_rx_count $MW_RX_PLAIN)$(e2e_rx_count $MW_RX_TLS)" = 00 ] || e2e_fail "a relayed message also went to an MX"

# 2. A big one: spooled, byte for byte, nothing left behind.
python3 -c 'import sys
sys.stdout.write("Subject: [encrypt] big\n\n")
for i in range(60000): sys.stdout.write("%07d the quick brown fox jumps over the lazy dog\n" % i)' >"$W/big.eml"
mw_send_internal $F big@open-tls.test --data "@$W/big.eml" --header "Subject: [encrypt] big" || e2e_fail "3 MB tagged message not accepted"
e2e_wait_delivered $MW_GW 2 60 || e2e_fail "the 3 MB message did not reach the gateway"
f=$(mw_rx_one $MW_GW big@open-tls.test) || e2e_fail "gateway: not one message for big@"
# (swaks ends DATA with an empty line of its own: the MTA's copy has it too)
[ "$(body_of "$f" | tr -d '\r' | md5sum)" = "$( (sed '1,/^$/d' "$W/big.eml"; echo) | md5sum)" ] ||
	e2e_fail "gateway: the 3 MB body differs"
mw_milter_said 'relay=sent .*size=[0-9]{7} spooled=yes' || e2e_fail "milter.log: the 3 MB message was not spooled"
[ -z "$(ls -A "$W/spool")" ] || e2e_fail "files left in the spool: $(ls -A "$W/spool")"
nothing_queued "3 MB relayed message"

# 3. Untagged: Postfix delivers it, the milter relays nothing.
mw_send_internal $F plain@open-plain.test || e2e_fail "untagged message not accepted"
e2e_wait_delivered $MW_RX_PLAIN 1 30 || e2e_fail "the untagged message was not delivered"
[ "$(e2e_rx_count $MW_GW)" -eq 2 ] || e2e_fail "the untagged message went to the gateway"

# 4. Gateway down: 451 to the client, nothing anywhere; the retry is delivered once.
e2e_receiver_stop $MW_GW
mw_send_internal $F down@open-plain.test --header "Subject: [encrypt] while down" &&
	e2e_fail "accepted while the gateway was down"
e2e_swaks_reply '^451 4\.4\.0 ' || e2e_fail "gateway down: the client did not get 451 4.4.0"
mw_milter_said 'relay=failed .*result=defer' || e2e_fail "milter.log: no relay=failed line"
nothing_queued "gateway down"
e2e_receiver $MW_GW_ADDR $MW_GW_PORT --starttls --name gateway.test --auth relay:s3cret
mw_send_internal $F down@open-plain.test --header "Subject: [encrypt] while down" ||
	e2e_fail "the retry was not accepted once the gateway was back"
e2e_wait_delivered $MW_GW 3 30 || e2e_fail "the retry did not reach the gateway"
mw_rx_one $MW_GW down@open-plain.test >/dev/null || e2e_fail "gateway: not exactly one copy of the retried message"

# 5. The gateway refuses DATA (451), then presents an untrusted certificate.
for mode in "--data-reply 451_4.3.0_busy" --untrusted; do
	e2e_receiver_stop $MW_GW
	if [ "$mode" = --untrusted ]; then
		e2e_receiver $MW_GW_ADDR $MW_GW_PORT --starttls --name gateway.test --auth relay:s3cret --untrusted
	else
		e2e_receiver $MW_GW_ADDR $MW_GW_PORT --starttls --name gateway.test --auth relay:s3cret \
			--data-reply "451 4.3.0 busy"
	fi
	mw_send_internal $F refused@open-plain.test --header "Subject: [encrypt] $mode" &&
		e2e_fail "$mode: accepted although the gateway did not take it"
	e2e_swaks_reply '^451 4\.4\.0 ' || e2e_fail "$mode: the client did not get 451 4.4.0"
done
mw_milter_said 'relay=failed why=.*451 4\.3\.0 busy' || e2e_fail "milter.log: the gateway's 451 is not named"
mw_milter_said 'relay=failed why=.*(certificate|verify)' || e2e_fail "milter.log: the bad certificate is not named"
[ "$(e2e_rx_count $MW_GW)" -eq 3 ] || e2e_fail "the gateway stored $(e2e_rx_count $MW_GW) messages, expected 3"
nothing_queued "refused by the gateway"
[ -z "$(ls -A "$W/spool")" ] || e2e_fail "files left in the spool: $(ls -A "$W/spool")"

# 6. Submitted with sendmail(1): pickup and non_smtpd_milters, whose envelope comes
#    without <angle brackets>. While the gateway is down Postfix keeps it in the maildrop;
#    once it is back the next pickup run hands it over.
e2e_receiver_stop $MW_GW
printf 'From: alice@corp.e2e.test\nTo: local@open-plain.test\nSubject: [encrypt] submitted locally\n\nbody\n' >"$W/local.eml"
e2e_ns sendmail -C "$E2E_PF_CONF" -f alice@corp.e2e.test -t <"$W/local.eml" || e2e_fail "sendmail(1) refused the message"
e2e_wait_log 'milter-reject: END-OF-MESSAGE from localhost.*4\.4\.0 forcetls' 30 ||
	e2e_fail "pickup: no 4.4.0 from the milter while the gateway is down"
e2e_wait_until 10 e2e_queue_has local@open-plain.test maildrop || e2e_fail "pickup: the maildrop does not keep the message"
e2e_receiver $MW_GW_ADDR $MW_GW_PORT --starttls --name gateway.test --auth relay:s3cret
e2e_ns postkick -c "$E2E_PF_CONF" public pickup W || e2e_fail "postkick pickup failed"
e2e_wait_delivered $MW_GW 4 90 || e2e_fail "the locally submitted message did not reach the gateway: $(tail -2 "$W/milter.log")"
f=$(mw_rx_one $MW_GW local@open-plain.test) || e2e_fail "gateway: not one message for local@"
grep -qx 'mail_from=alice@corp.e2e.test' "${f%.eml}.meta" || e2e_fail "gateway: sender of the local message: $(grep mail_from= "${f%.eml}.meta")"
e2e_wait_until 10 nothing_left_queued || e2e_fail "the local message is still queued after the hand-off"
[ "$(e2e_rx_count $MW_RX_PLAIN)" -eq 1 ] || e2e_fail "the local message also went to mx.plain.test"
mw_finish
