#!/bin/bash
# t-sendmail-hold.sh - what Sendmail cannot enforce by a header, with a real Sendmail 8.17
# daemon (lib-sendmail.sh, relay mode as examples/sendmail ships it).
#
# usage: t-sendmail-hold.sh TLSMAPS [EXAMPLES_DIR]
#
# Proves:
#   - the gateway (127.0.0.30, milter.gateway_networks) returns a message with
#     "X-Encrypt-Status: failure", on_encrypt_failure = "tls" as examples/forcetls.conf
#     ships it: to a domain the table does not force, Sendmail could not make TLS
#     mandatory, so the milter quarantines it: it stays in Sendmail's queue, held
#     (-bp -qQ lists it), and a queue run sends it nowhere; the milter's line says
#     action=hold (Sendmail: ...);
#   - the same to a forced domain with a STARTTLS MX: the access map enforces TLS for
#     it, so it is not held: delivered over TLS with X-TLSLevel: Require first;
#   - header routing on Sendmail: routing = "header" with mta = "sendmail" is refused by
#     --check, naming the setting; with mta = "auto" (the v macro says Sendmail) a
#     tagged message gets 451 4.7.0 at the end of data and nothing is queued or sent.
set -u
. "$(dirname "$0")/lib-sendmail.sh"
FTLS_TLSMAPS=${FTLS_TLSMAPS:-$1}
EXAMPLES=${2:-${FTLS_EXAMPLES:-}}
sm_relay_world sendmail-hold
grep -q '^  on_encrypt_failure = "tls";' "$W/forcetls.conf" ||
	e2e_fail "examples/forcetls.conf: on_encrypt_failure is not \"tls\" any more"
held() { sm__sendmail -C "$SM_CF" -bp -qQ 2>&1; }

# 1. The gateway's failure, to a domain the table does not force: held.
mw_send_gateway gateway@gateway.test fail@open-plain.test \
	--header "Subject: encryption failed" --add-header "X-Encrypt-Status: failure" ||
	e2e_fail "Sendmail refused the gateway's failure return: $(tail -3 "$E2E_SWAKS_LOG")"
e2e_wait_until 10 mw_milter_said 'direction=gateway gateway=failure .*action=hold \(Sendmail: Require for recipients the table does not force\)' ||
	e2e_fail "milter.log: no action=hold for the gateway's failure to an unforced domain"
e2e_wait_until 10 sm__log_has 'quarantine' || e2e_fail "maillog: Sendmail did not quarantine the message"
held | grep -qi 'fail@open-plain\.test' || e2e_fail "-bp -qQ does not list the held message: $(held)"
sm_flush
[ -z "$(e2e_rx_file $MW_RX_PLAIN fail@open-plain.test)" ] || e2e_fail "the held message reached mx.plain.test"
sm_log_grep 'to=<fail@open-plain\.test>.*stat=Sent' && e2e_fail "Sendmail sent the held message"

# 2. The same to a forced domain (STARTTLS MX): the access map enforces TLS, not held.
mw_send_gateway gateway@gateway.test fail@forced-tls.test \
	--header "Subject: encryption failed" --add-header "X-Encrypt-Status: failure" ||
	e2e_fail "Sendmail refused the gateway's failure return (forced domain)"
e2e_wait_delivered $MW_RX_TLS 1 30 || { sm_flush; e2e_wait_delivered $MW_RX_TLS 1 30; } ||
	e2e_fail "the failure return to forced-tls.test was not delivered"
f=$(mw_rx_one $MW_RX_TLS fail@forced-tls.test) || e2e_fail "mx.tls.test: not one message for fail@"
e2e_assert_tls $MW_RX_TLS fail@forced-tls.test || e2e_fail "forced-tls.test: not over TLS"
mw_hfirst "$f" | grep -qix 'X-TLSLevel: Require' || e2e_fail "forced-tls.test: X-TLSLevel: Require is not first"
held | grep -qi 'fail@forced-tls\.test' && e2e_fail "the message to the forced domain was held"

# 3. Header routing on Sendmail.
cp "$W/forcetls.conf" "$W/header.conf"
mw_conf_set "$W/header.conf" milter routing '"header"' || e2e_fail "no milter.routing in the configuration"
"$FTLS_MILTER" --check --config "$W/header.conf" --table "$W/forced-tls.table" >"$W/check.log" 2>&1 &&
	e2e_fail "--check accepted routing = \"header\" with mta = \"sendmail\""
grep -q 'milter.routing: "header" cannot work with milter.mta = "sendmail"' "$W/check.log" ||
	e2e_fail "--check did not say why: $(cat "$W/check.log")"
mw_conf_set "$W/header.conf" milter mta '"auto"' && chmod 644 "$W/header.conf" && cp "$W/header.conf" "$W/forcetls.conf" ||
	e2e_fail "cannot write the header-mode configuration"
n=$(grep -c 'reload' "$W/milter.log")
e2e_signal milter USR1
e2e_wait_until 15 sm__milter_count_ge 'reload .*: ok' 1 || e2e_fail "the milter did not reload: $(tail -3 "$W/milter.log")"
nq=$(sm_queue_count)
mw_send_internal alice@corp.e2e.test tagged@open-plain.test --header "Subject: [encrypt] header mode" &&
	e2e_fail "Sendmail accepted a tagged message in header mode"
e2e_swaks_reply '^451 4\.7\.0 forcetls: this MTA cannot route' || e2e_fail "not 451 4.7.0 from the milter"
mw_milter_said 'encrypt=yes \(subject_tag\) routing=header \(needs Postfix; the MTA is Sendmail: set routing = "relay"\) result=defer' ||
	e2e_fail "milter.log: the deferral does not say why"
[ "$(sm_queue_count)" -eq "$nq" ] || e2e_fail "Sendmail queued the tagged message"
[ -z "$(e2e_rx_file $MW_RX_PLAIN tagged@open-plain.test)" ] || e2e_fail "the tagged message reached mx.plain.test"
: "$n"
sm_finish
