#!/bin/bash
# t-metrics.sh - both daemons' Prometheus endpoints (policyd.metrics_listen,
# milter.metrics_listen) scraped during mail through a real Postfix, in the milter world
# of t-milter-outbound.sh (milter_world), and abused while mail flows.
#
# usage: t-metrics.sh TLSMAPS [EXAMPLES_DIR]
#
# Proves:
#   - every scrape of either endpoint is a 200 in the text exposition format 0.0.4 that
#     `promtool check metrics` accepts (no lint problem either);
#   - the counters move as the mail did: 2 messages to a forced domain, 1 to an unlisted
#     one and 1 tagged one (unlisted domain, to the gateway) move
#     forcetls_milter_messages_total{direction="outbound"} by exactly 2 (Require) and 2
#     (Try), flagged_total{rule="subject"} by 1; the policyd answered the forcetls-require
#     lookups of the forced deliveries (requests_total socketmap ok, decisions_total
#     encrypt from a domain entry, at least 2 each); forcetls_table_entries is the
#     table's entry count in both;
#   - a lookup that needs DNS (an outbound network entry in the table) moves
#     forcetls_policyd_dns_seconds{type="mx"} and {type="a"} by one query each;
#   - SIGUSR1 bumps forcetls_reloads_total{result="ok"} by 1 in both daemons, a table
#     with an error bumps result="failed" and leaves table_entries as it was;
#   - SIGUSR2 writes the same series with the same values to the log ("metric ...");
#   - slow clients (a byte every 0.5 s), more idle connections than the listener keeps,
#     oversized requests and garbage get 400/404/405 or are cut off, good scrapes still
#     answer within 1 s, and mail sent meanwhile is delivered as usual;
#   - a non-loopback metrics_listen stops the start with FILE:LINE.
set -u
MILTER_WORLD_ONLY=1 . "$(dirname "$0")/t-milter-outbound.sh"
EXAMPLES=${2:-${FTLS_EXAMPLES:-}}
command -v promtool >/dev/null || e2e_skip "promtool not installed (Debian package prometheus)"
MX=$(dirname "$0")/metrics.py
PM=10031 # policyd
MM=10032 # milter
mw_world_hook() {
	mw_conf_set "$W/forcetls.conf" policyd metrics_listen "\"inet:127.0.0.1:$PM\"" &&
		mw_conf_set "$W/forcetls.conf" milter metrics_listen "\"inet:127.0.0.1:$MM\"" &&
		mw_conf_set "$W/forcetls.conf" tables watch_table false && # reloads: SIGUSR1 only
		chmod 644 "$W/forcetls.conf" || e2e_fail "examples/forcetls.conf: no metrics_listen settings"
}
# An outbound network entry: a name no other entry decides makes the policyd ask DNS.
milter_world metrics "192.0.2.0/24 encrypt direction=out"
e2e_wait_listen 127.0.0.1 $PM 10 || e2e_fail "forcetls-policyd: no metrics listener on $PM"
e2e_wait_listen 127.0.0.1 $MM 10 || e2e_fail "forcetls-milter: no metrics listener on $MM"

N=0
# scrape: both endpoints into $W/p.N and $W/m.N, each checked by promtool.
scrape() {
	local d port
	N=$((N + 1))
	for d in p m; do
		port=$PM
		[ $d = m ] && port=$MM
		e2e_ns python3 "$MX" scrape 127.0.0.1 $port "$W/$d.$N" || e2e_fail "scrape of $d on $port failed"
		promtool check metrics <"$W/$d.$N" >"$W/promtool.$d.$N" 2>&1 ||
			e2e_fail "promtool check metrics ($d.$N): $(cat "$W/promtool.$d.$N")"
	done
}
# v D SERIES [N]: the value of SERIES in scrape N (default: the last) of daemon D (p|m).
v() { python3 "$MX" value "$W/$1.${3:-$N}" "$2" || e2e_fail "$1.${3:-$N}: no series $2"; }
# moved D SERIES FROM DELTA: SERIES grew by exactly DELTA since scrape FROM.
moved() {
	local a b
	a=$(v "$1" "$2" "$3") && b=$(v "$1" "$2") || exit 1
	[ "$((b - a))" -eq "$4" ] || e2e_fail "$1: $2 went from $a to $b, expected +$4"
	e2e_log "$1: $2: $a -> $b"
}
# grew D SERIES FROM MIN: SERIES grew by at least MIN since scrape FROM.
grew() {
	local a b
	a=$(v "$1" "$2" "$3") && b=$(v "$1" "$2") || exit 1
	[ "$((b - a))" -ge "$4" ] || e2e_fail "$1: $2 went from $a to $b, expected at least +$4"
	e2e_log "$1: $2: $a -> $b"
}

ENTRIES=$(grep -cv '^#' "$W/forced-tls.table")
scrape
S0=$N
for d in p m; do
	[ "$(v $d forcetls_table_entries)" = "$ENTRIES" ] ||
		e2e_fail "$d: forcetls_table_entries is $(v $d forcetls_table_entries), the table has $ENTRIES"
done

# 1. Mail: 2 forced, 1 unlisted, 1 tagged (to an unlisted domain: the gateway).
F=alice@corp.e2e.test
mw_send_internal $F one@forced-tls.test || e2e_fail "forced message 1 not accepted"
mw_send_internal $F two@forced-tls.test || e2e_fail "forced message 2 not accepted"
mw_send_internal $F plain@open-plain.test || e2e_fail "unlisted message not accepted"
mw_send_internal $F tagged@open-plain.test --header "Subject: [encrypt] figures" ||
	e2e_fail "tagged message not accepted"
e2e_wait_delivered $MW_RX_TLS 2 30 || e2e_fail "forced-tls.test: not 2 messages delivered"
e2e_wait_delivered $MW_RX_PLAIN 1 30 || e2e_fail "open-plain.test not delivered"
e2e_wait_delivered $MW_GW 1 30 || e2e_fail "the tagged message did not reach the gateway"
scrape
S1=$N
moved m 'forcetls_milter_messages_total{direction="outbound",tlslevel="require"}' $S0 2
# the unlisted message and the tagged one both get Try (opportunistic)
moved m 'forcetls_milter_messages_total{direction="outbound",tlslevel="try"}' $S0 2
moved m 'forcetls_milter_messages_total{direction="inbound",tlslevel="none"}' $S0 0
moved m 'forcetls_milter_flagged_total{rule="subject"}' $S0 1
moved m 'forcetls_milter_flagged_total{rule="body"}' $S0 0
# Postfix asks the forcetls-require map once per delivery of a Require message at least.
grew p 'forcetls_policyd_requests_total{protocol="socketmap",result="ok"}' $S0 2
grew p 'forcetls_policyd_decisions_total{level="encrypt",source="domain"}' $S0 2
moved p 'forcetls_policyd_requests_total{protocol="socketmap",result="temp"}' $S0 0

# 1b. DNS: a lookup the network entry needs (MX, then A and AAAA of mx.tls.test).
e2e_ns python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
q = b"forcetls open-tls.test"
s.sendall(b"%d:%s," % (len(q), q))
print(s.recv(100).decode())' "$MW_POLICYD_SOCK" >"$W/lookup.out" || e2e_fail "socketmap lookup failed"
grep -qx '9:NOTFOUND ,' "$W/lookup.out" || e2e_fail "open-tls.test: $(cat "$W/lookup.out")"
scrape
moved p 'forcetls_policyd_dns_seconds_count{type="mx"}' $S1 1
moved p 'forcetls_policyd_dns_seconds_count{type="a"}' $S1 1
moved p 'forcetls_policyd_dns_seconds_bucket{type="mx",le="+Inf"}' $S1 1
moved p 'forcetls_policyd_decisions_total{level="default",source="none"}' $S1 1
moved p 'forcetls_policyd_requests_total{protocol="socketmap",result="notfound"}' $S1 1
S1=$N

# 2. Reloads: ok in both, then a table with an error: failed, the old table kept.
for d in milter policyd; do e2e_signal $d USR1; done
e2e_wait_until 15 mw__log_has milter 'reload (SIGUSR1): ok' || e2e_fail "milter: no reload"
e2e_wait_until 15 mw__log_has policyd 'reload (SIGUSR1): ok' || e2e_fail "policyd: no reload"
scrape
S2=$N
for d in p m; do
	moved $d 'forcetls_reloads_total{result="ok"}' $S1 1
	moved $d 'forcetls_reloads_total{result="failed"}' $S1 0
done
cp "$W/forced-tls.table" "$W/forced-tls.table.good"
echo "bad entry with too many words here" >>"$W/forced-tls.table"
for d in milter policyd; do e2e_signal $d USR1; done
e2e_wait_until 15 mw__log_has milter 'reload (SIGUSR1): refused' || e2e_fail "milter: bad table not refused"
e2e_wait_until 15 mw__log_has policyd 'reload (SIGUSR1): refused' || e2e_fail "policyd: bad table not refused"
scrape
for d in p m; do
	moved $d 'forcetls_reloads_total{result="failed"}' $S2 1
	moved $d 'forcetls_reloads_total{result="ok"}' $S2 0
	[ "$(v $d forcetls_table_entries)" = "$ENTRIES" ] || e2e_fail "$d: table_entries changed on a failed reload"
done
cp "$W/forced-tls.table.good" "$W/forced-tls.table"

# 3. SIGUSR2: the same series, the same values, in the log.
for d in milter policyd; do e2e_signal $d USR2; done
scrape
e2e_wait_until 10 mw__log_has milter 'metric forcetls_table_entries' || e2e_fail "milter: no metric lines on SIGUSR2"
e2e_wait_until 10 mw__log_has policyd 'metric forcetls_table_entries' || e2e_fail "policyd: no metric lines on SIGUSR2"
for d in p m; do
	log=$W/milter.log
	[ $d = p ] && log=$W/policyd.log
	for s in 'forcetls_reloads_total{result="failed"}' forcetls_table_entries; do
		grep -qF "metric $s $(v $d "$s")" "$log" || e2e_fail "$d: SIGUSR2 did not log $s $(v $d "$s")"
	done
	n=$(grep -vc '^#' "$W/$d.$N")
	[ "$(grep -c ': metric forcetls_' "$log")" -ge "$n" ] || e2e_fail "$d: SIGUSR2 logged fewer than $n series"
done
grep -qF 'metric forcetls_milter_messages_total{direction="outbound",tlslevel="require"} 2' "$W/milter.log" ||
	e2e_fail "milter: SIGUSR2 did not log messages_total require 2"

# 4. Abuse both endpoints while mail flows.
e2e_ns python3 "$MX" abuse 127.0.0.1 $PM 4 >"$W/abuse-p.log" 2>&1 &
AP=$!
e2e_ns python3 "$MX" abuse 127.0.0.1 $MM 4 >"$W/abuse-m.log" 2>&1 &
AM=$!
mw_send_internal $F three@forced-tls.test || e2e_fail "forced message sent during the abuse not accepted"
e2e_wait_delivered $MW_RX_TLS 3 30 || e2e_fail "the message sent during the abuse was not delivered"
wait $AP || e2e_fail "policyd endpoint under abuse: $(cat "$W/abuse-p.log")"
wait $AM || e2e_fail "milter endpoint under abuse: $(cat "$W/abuse-m.log")"
sed 's/^/    abuse (policyd): /' "$W/abuse-p.log" >&2
scrape
moved m 'forcetls_milter_messages_total{direction="outbound",tlslevel="require"}' $S0 3

# 5. A non-loopback address stops the start, with FILE:LINE.
cp "$W/forcetls.conf" "$W/bad.conf"
mw_conf_set "$W/bad.conf" policyd metrics_listen '"inet:0.0.0.0:10033"' || e2e_fail "bad.conf"
mw_conf_set "$W/bad.conf" milter metrics_listen '"inet:192.0.2.1:10034"' || e2e_fail "bad.conf"
chmod 644 "$W/bad.conf"
e2e_ns timeout 10 "$FTLS_POLICYD" --foreground --config "$W/bad.conf" --table "$W/forced-tls.table" \
	--socketmap-listen "unix:$W/bad-p.sock" --policy-listen "" >"$W/bad-p.log" 2>&1 &&
	e2e_fail "policyd started with metrics_listen on 0.0.0.0"
grep -Eq "bad\.conf:[0-9]+: policyd\.metrics_listen: .*loopback" "$W/bad-p.log" ||
	e2e_fail "policyd: no FILE:LINE error for a non-loopback metrics_listen: $(cat "$W/bad-p.log")"
e2e_ns timeout 10 "$FTLS_MILTER" --foreground --config "$W/bad.conf" --table "$W/forced-tls.table" \
	--listen "unix:$W/bad-m.sock" >"$W/bad-m.log" 2>&1 &&
	e2e_fail "milter started with metrics_listen on 192.0.2.1"
grep -Eq "bad\.conf:[0-9]+: milter\.metrics_listen: .*loopback" "$W/bad-m.log" ||
	e2e_fail "milter: no FILE:LINE error for a non-loopback metrics_listen: $(cat "$W/bad-m.log")"
mw_finish
