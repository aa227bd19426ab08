#!/bin/bash
# t-fault-gateway.sh - the fault matrix's encryption-gateway rows (issue 11): relay mode
# (milter.routing = "relay": the milter hands flagged mail to the gateway itself at the
# end of DATA and answers 451 4.4.0 when it cannot), under load, with accounting
# (lib-fault.sh). The world is fw_world's, the milter in relay mode with the gateway
# written by name, gateway.test:10025 (so that its certificate's name is checked):
# Postfix with mw_relay_setup (TLS verified against the test CA, AUTH); with
# FGW_MTA=sendmail (t-fault-gateway-sendmail.sh) the real Sendmail, relay mode as
# examples/sendmail/forcetls.conf.sendmail has it (sm_world).
#
# usage: t-fault-gateway.sh TLSMAPS [EXAMPLES_DIR]   (FTLS_POLICYD, FTLS_MILTER)
#
# Each sub-case breaks the gateway, sends a load of FGW_N messages flagged for encryption
# ("Subject: [encrypt] ...", one SMTP session each, to forced-tls, forced-plain, cidr,
# open-plain and open-tls), waits until every one of them was refused with 451 4.4.0 at
# least once (the MTA's log, by Message-ID), checks that nothing reached the gateway or
# any MX and the MTA queued nothing, heals the gateway, and prints a ROW line: every
# message tempfailed, accepted on the client's retry, at the gateway over TLS, once;
# lost=0 forced_clear=0 delivered_clear=0, nothing at an MX:
#   - down: nothing listens on the gateway's port;
#   - data-451: the gateway answers DATA with 451 4.3.0;
#   - rcpt-450: the gateway answers RCPT with 450 4.2.0;
#   - untrusted: its certificate is self-signed (not from the test CA), right name;
#   - wrong-name: its certificate is from the test CA, for wrong-gw.test (and its IP).
set -u
. "$(dirname "$0")/lib-fault.sh"
TLSMAPS=${1:?usage: t-fault-gateway.sh TLSMAPS [EXAMPLES_DIR]}
[ -x "$TLSMAPS" ] || e2e_fail "$TLSMAPS: not executable"
FTLS_TLSMAPS=${FTLS_TLSMAPS:-$TLSMAPS} # lib-sendmail.sh compiles the access map with it
# shellcheck disable=SC2034 # read by milter_world / sm_world
EXAMPLES=${2:-${FTLS_EXAMPLES:-}}
FGW_N=${FGW_N:-10}
FGW_MTA=${FGW_MTA:-postfix}
FGW_GATEWAYS='[ "gateway.test:10025" ]'

if [ "$FGW_MTA" = sendmail ]; then
	FGW_RX_OPTS=()
	sm_has_relay || e2e_skip "forcetls-milter has no relay mode (milter.relay_gateways unknown)"
	sm_conf_hook() { mw_conf_set "$1" milter relay_gateways "$FGW_GATEWAYS" || e2e_fail "no relay_gateways"; }
	fw_world fault-gateway-sm --sendmail
else
	FGW_RX_OPTS=(--auth relay:s3cret)
	fw_world_hook() { mw_relay_setup "$FGW_GATEWAYS"; }
	fw_world fault-gateway
fi
grep -q '^  routing = "relay";' "$W/forcetls.conf" || e2e_fail "the milter is not in relay mode"
# Flagged mail of every recipient domain belongs at the gateway.
FW_ROUTES=(forced-plain.test=127.0.0.30_10025 open-plain.test=127.0.0.30_10025
	forced-tls.test=127.0.0.30_10025 open-tls.test=127.0.0.30_10025 cidr.test=127.0.0.30_10025)
ML=$(fw_maillog)

# fgw_gateway NAME [e2e_receiver options]: the gateway (again) as the world had it, its
# certificate for NAME (and its address), plus the options given.
fgw_gateway() {
	local name=$1
	shift
	[ ! -s "$(e2e_rx_dir "$MW_GW")/../ready" ] || e2e_receiver_stop "$MW_GW"
	e2e_receiver $MW_GW_ADDR $MW_GW_PORT --starttls --name "$name" "${FGW_RX_OPTS[@]}" "$@"
}

# fgw_tempfailed ID: how many messages of load ID the MTA refused with 451 4.4.0 (from
# the milter) at least once: Postfix logs each try's Message-ID and milter-reject under
# one queue ID; Sendmail logs msgid= and "Milter: data, reject=451 4.4.0" under one too
# (in either order).
fgw_tempfailed() {
	awk -v id="$1" '
		{ q = "" }
		match($0, / [0-9A-Za-z][0-9A-Za-z][0-9A-Za-z][0-9A-Za-z][0-9A-Za-z][0-9A-Za-z][0-9A-Za-z][0-9A-Za-z]+: /) {
			q = substr($0, RSTART + 1, RLENGTH - 3) # (mawk has no {8,})
		}
		q != "" && index($0, "<" id ".") && match($0, /<[^>]*@fault\.test>/) { mid[q] = substr($0, RSTART, RLENGTH) }
		q != "" && /4\.4\.0/ && (/milter-reject: END-OF-MESSAGE/ || /Milter: data, reject=451/) { rej[q] = 1 }
		END { n = 0; for (q in rej) if (q in mid && !(mid[q] in hit)) { hit[mid[q]] = 1; n++ } print n }' "$ML"
}
fgw__tempfailed_all() { [ "$(fgw_tempfailed "$1")" -ge "$FGW_N" ]; }

# fgw_queued: how many messages the MTA holds.
fgw_queued() { if [ "$FGW_MTA" = sendmail ]; then sm_queue_count; else e2e_queue_count; fi; }

# fgw_case ID WHY down|NAME [e2e_receiver options]: the sub-case above, the gateway down or
# restarted by fgw_gateway with these arguments; the milter must log relay=failed with
# WHY (an ERE).
fgw_case() {
	local id=$1 why=$2 gw0 d
	shift 2
	gw0=$(e2e_rx_count "$MW_GW")
	if [ "$1" = down ]; then e2e_receiver_stop "$MW_GW"; else fgw_gateway "$@"; fi
	e2e_log "$id: gateway broken ($*)"
	fw_load "$id" "$FGW_N" --conns "$FGW_N" --subject "[encrypt] $id" --deadline 120
	e2e_wait_until 60 fgw__tempfailed_all "$id" ||
		e2e_fail "$id: only $(fgw_tempfailed "$id") of $FGW_N messages were tempfailed (451 4.4.0) by the milter"
	mw_milter_said "relay=failed why=gateway\.test\[127\.0\.0\.30\]:10025: $why result=defer" ||
		e2e_fail "$id: milter.log: no relay=failed line saying '$why'"
	[ "$(e2e_rx_count "$MW_GW")" -eq "$gw0" ] || e2e_fail "$id: the broken gateway stored a message"
	for d in 127.0.0.2:25 127.0.0.3:25 $FW_CIDR_ADDR:25; do
		[ "$(e2e_rx_count $d)" -eq 0 ] || e2e_fail "$id: flagged mail reached the MX $d"
	done
	[ "$(fgw_queued)" -eq 0 ] || e2e_fail "$id: the MTA queued $(fgw_queued) message(s) (the client must keep them)"
	e2e_log "$id: all $FGW_N tempfailed, the gateway has nothing, nothing queued; healing it"
	fgw_gateway gateway.test
	fw_load_wait "$id" 90 || e2e_fail "$id: the load did not finish after the gateway healed"
	fw_settle 60 --expect-queued none.test || e2e_fail "$id: not all at the gateway after it healed"
	fw_count "$id" "gateway-$id" || e2e_fail "$id: $FW_ROW"
	[ "$(fw_row_get tempfailed)" -eq "$FGW_N" ] && [ "$(fw_row_get gateway)" -eq "$FGW_N" ] &&
		[ "$(fw_row_get delivered_clear)" -eq 0 ] && [ "$(fw_row_get queued)" -eq 0 ] ||
		e2e_fail "$id: expected tempfailed=$FGW_N gateway=$FGW_N delivered_clear=0 queued=0: $FW_ROW"
	# the next sub-case's fw_settle looks at its own load only
	mv "$FW_DIR/$id.jsonl" "$FW_DIR/$id.done"
}

fgw_case down 'connect: Connection refused' down
fgw_case data-451 'end of data refused: 451 4\.3\.0 busy' gateway.test --data-reply "451 4.3.0 busy"
fgw_case rcpt-450 'RCPT <[^>]*> refused: 450 4\.2\.0 try later' gateway.test --rcpt-reply "450 4.2.0 try later"
fgw_case untrusted 'TLS handshake: certificate verification failed: self-signed certificate' gateway.test --untrusted
fgw_case wrong-name 'TLS handshake: certificate verification failed: hostname mismatch' wrong-gw.test

for d in 127.0.0.2:25 127.0.0.3:25 $FW_CIDR_ADDR:25; do
	[ "$(e2e_rx_count $d)" -eq 0 ] || e2e_fail "flagged mail reached the MX $d"
done
e2e_assert_tls "$MW_GW" || e2e_fail "the gateway got mail in clear"
if [ "$FGW_MTA" = sendmail ]; then sm_finish; else mw_finish; fi
