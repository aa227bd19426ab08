#!/bin/bash
# run-sendmail-live.sh - Sendmail's rulesets through forcetls-policyd's live socket map.
#
# usage: run-sendmail-live.sh POLICYD TLSMAPS SRCDIR WORKDIR
#
# The chaining docs/COMPILE.md gives, built from the real cf/m4 files:
#   FEATURE(`access_db', `switch -T<TMPF> access') with, in LOCAL_CONFIG,
#   Kaccess.forcetls socket inet:PORT@127.0.0.1 and Kaccess.hash hash ADMIN,
#   and the service switch line "access forcetls hash".
# ADMIN is a hash map of the admin's own entries. With forcetls-policyd
# serving sendmail.tbl:
# - every probe of sendmail.probes decides as with the compiled map
#   (run-sendmail-rules.sh), TLS_Clt too with policyd.sendmail_inbound;
#   by default the table's TLS_Clt keys are not served (forcetls-milter
#   enforces inbound), while the admin's own TLS_Clt entry still applies;
# - the admin's entries apply where the table has no key; the table's key
#   wins over the admin's same key (the switch asks forcetls first);
# - policyd answering TEMP (here: another map name), and policyd stopped,
#   give a temporary failure (4.3.0) for every tls_rcpt and tls_server
#   lookup, forced or not, admin entries included: nothing leaves in clear;
# - a missing "access" service switch line fails closed too;
# - a lookup after a Sendmail process was idle past policyd.idle_timeout works;
# - tls_server and tls_client need the LOCAL_TLS_SERVER / LOCAL_TLS_CLIENT
#   hooks below for that: without them Sendmail 8.17 ignores a failed lookup
#   there (checked too, on a .cf without them), and the same holds for a static
#   compiled hash map that cannot be read;
# - the counter-example: a "sequence" map falls through to the hash map when
#   policyd is down, and tls_rcpt says OK (why docs/COMPILE.md does not use it).
# Helpers in sendmail-lib.sh. Exit 77 (skipped) without m4, unshare, Sendmail.
set -u
policyd=$1 tlsmaps=$2 src=$3
. "$src/sendmail-lib.sh"
sm_setup "$4/sendmail-live"
pd=$4/sendmail-live-policyd # readable by policyd.user (nobody); $work is 0700 for Sendmail
rm -rf "$pd" && mkdir -p "$pd" && chmod 755 "$pd" || exit 1
cd "$src" || exit 1
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pid=
stop_policyd() {
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null
	wait "$pid"
	pid=
}
trap stop_policyd EXIT
# start_policyd SETTINGS: forcetls-policyd on $port serving sendmail.tbl.
start_policyd() {
	stop_policyd
	local name='  sendmail_map_name = "access.forcetls";' # off by default
	case $1 in *sendmail_map_name*) name= ;; esac
	printf 'policyd = {\n  user = "nobody";\n  watch_table = false;\n  state_file = "";\n%s\n%s\n};\n' \
		"$name" "$1" >"$pd/forcetls.conf"
	: >"$pd/policyd.log"
	"$policyd" --foreground --config "$pd/forcetls.conf" --table "$src/sendmail.tbl" \
		--socketmap-listen "inet:127.0.0.1:$port" --policy-listen "" >"$pd/policyd.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		grep -q 'ready:' "$pd/policyd.log" && return 0
		sleep 0.1
	done
	cat "$pd/policyd.log"
	bad "policyd did not start"
	exit 1
}

# The admin's own entries.
cat >"$work/admin.txt" <<'ADMIN'
Connect:127.0.0		RELAY
TLS_Rcpt:admin.example	VERIFY:256
TLS_Rcpt:bank.example	OK
TLS_Clt:198.18		ENCR:256
ADMIN
printf 'hosts files\naliases files\naccess forcetls hash\n' >"$work/service.switch"
local_cf="Kaccess.forcetls socket inet:$port@127.0.0.1
Kaccess.hash hash $work/admin"
# Sendmail 8.17's tls_server and tls_client miss their own <TMPF> check (the
# workspace still ends in the passthru "<>"): a failed lookup reaches
# TLS_connection and reads as "no requirement". These hooks fail closed.
guard='LOCAL_TLS_SERVER
R$*			$: $>D <$&{server_name}> <?> <! "TLS_Srv"> <>
R<?> $*			$: $>A <$&{server_addr}> <?> <! "TLS_Srv"> <>
R<?> $*			$: <$(access "TLS_Srv": $: ? $)>
R<$* <TMPF>> $*		$#error $@ 4.3.0 $: "451 4.3.0 TLS policy lookup failed"
LOCAL_TLS_CLIENT
R$*			$: $>D <$&{client_name}> <?> <! "TLS_Clt"> <>
R<?> $*			$: $>A <$&{client_addr}> <?> <! "TLS_Clt"> <>
R<?> $*			$: <$(access "TLS_Clt": $: ? $)>
R<$* <TMPF>> $*		$#error $@ 4.3.0 $: "451 4.3.0 TLS policy lookup failed"'
sm_cf live 'switch -T<TMPF> access' "$local_cf" "$guard"
sm_cf bare 'switch -T<TMPF> access' "$local_cf"
# (a sequence's members must be defined before it: its K line looks them up at once)
SM_LOCAL_FIRST=1 sm_cf seq 'sequence access_forcetls access_hash' "Kaccess_forcetls socket inet:$port@127.0.0.1
Kaccess_hash hash -T<TMPF> $work/admin"
grep -q '^Kaccess switch -T<TMPF> access$' "$work/live.cf" || bad "live.cf has no switch access map"
"$makemap" -C "$work/live.cf" hash "$work/admin" <"$work/admin.txt" || bad "makemap failed"
cf=$work/live.cf

expect() { # expect WHAT GOT WANT
	[ "$2" = "$3" ] || bad "$1: '$2', expected '$3'"
}

# 1. Live, TLS_Clt served: the compiled map's decisions, probe by probe.
start_policyd "  sendmail_inbound = true;"
sm_probes "$cf" sendmail.tbl sendmail.probes
n1=$probes_run
expect "admin TLS_Rcpt entry" "$(req "$cf" rcpt admin.example)" VERIFY:256
expect "table key over the admin's" "$(req "$cf" rcpt bank.example)" ENCR:256
expect "unlisted domain" "$(ret "$cf" rcpt unlisted.example)" OK
expect "check_relay, 127.0.0.1 (admin RELAY)" "$(ret "$cf" relay localhost 127.0.0.1)" RELAY
expect "forced domain in clear" "$(ret "$cf" rcpt example.com)" 4.7.0

# 2. Default: the table's TLS_Clt keys are the milter's; the admin's still apply.
start_policyd ""
sm_probes "$cf" sendmail.tbl sendmail.probes noclt
expect "admin TLS_Clt entry" "$(req "$cf" clt c.invalid 198.18.0.9)" ENCR:256
expect "table TLS_Clt, default" "$(req "$cf" clt c.invalid 203.0.113.5)" -
expect "rcpt, default" "$(req "$cf" rcpt example.com)" ENCR:128
grep -q "sendmail_ok=" "$pd/policyd.log" || true

# 3. policyd answers TEMP (it serves another name), then 4. policyd is down.
for state in temp down; do
	if [ $state = temp ]; then
		start_policyd '  sendmail_map_name = "other";'
	else
		stop_policyd
	fi
	for d in example.com unlisted.example admin.example bank.example; do
		expect "$state: tls_rcpt user@$d" "$(ret "$cf" rcpt $d)" 4.3.0
	done
	expect "$state: tls_server" "$(ret "$cf" srv mx.partner.example 192.0.2.99)" 4.3.0
	expect "$state: tls_server, unlisted" "$(ret "$cf" srv x.invalid 192.0.2.98)" 4.3.0
	expect "$state: tls_client" "$(ret "$cf" clt c.invalid 198.51.100.9)" 4.3.0
	# Every access lookup asks policyd first: SMTP clients are deferred at connect,
	# even one the admin's map lets relay (Connect:127.0.0 RELAY).
	expect "$state: check_relay, 127.0.0.1" "$(ret "$cf" relay localhost 127.0.0.1)" 4.3.0
	# Without the hooks: Sendmail's own tls_server and tls_client fail open.
	expect "$state: tls_server, no hook" "$(ret "$work/bare.cf" srv mx.partner.example 192.0.2.99)" OK
	expect "$state: tls_client, no hook" "$(ret "$work/bare.cf" clt c.invalid 198.51.100.9)" OK
	expect "$state: tls_rcpt, no hook" "$(ret "$work/bare.cf" rcpt example.com)" 4.3.0
done
[ $state = temp ] || grep -q 'unknown map name "access.forcetls"' "$pd/policyd.log" ||
	bad "policyd did not log the unknown map name"

# 5. No "access" line in the service switch: fails closed as well.
start_policyd ""
printf 'hosts files\naliases files\n' >"$work/service.switch"
expect "no service line" "$(ret "$cf" rcpt unlisted.example)" 4.3.0
printf 'hosts files\naliases files\naccess forcetls hash\n' >"$work/service.switch"

# 7 (before 6, which stops policyd). A Sendmail process idle for longer than
# policyd.idle_timeout: its next lookup must not fail (Sendmail does not reconnect
# after an idle close; policyd keeps Sendmail's connections open).
start_policyd '  idle_timeout = 1;'
out=$( (rcpt_lines example.com; sleep 3; echo 'tls_rcpt user@example.com') |
	timeout 30 unshare --uts sh -c 'hostname sm.forcetls.test && exec "$@"' sh \
		"$sendmail" -C "$cf" -bt 2>&1 | grep -c 'tls_rcpt *returns: .*4 \. 7 \. 0')
expect "lookup after an idle wait" "$out" 2

# 6. Counter-example: a sequence map falls through to the hash map on TEMP or
# when policyd is down: tls_rcpt says OK, the forced domain would go out in clear.
start_policyd '  sendmail_map_name = "access_forcetls";'
expect "sequence, policyd up" "$(req "$work/seq.cf" rcpt example.com)" ENCR:128
start_policyd ''
expect "sequence, policyd TEMP (falls through: OK)" "$(ret "$work/seq.cf" rcpt example.com)" OK
stop_policyd
expect "sequence, policyd down (falls through: OK)" "$(ret "$work/seq.cf" rcpt example.com)" OK

# 8. The static compiled map's hash file cannot be read: the same hole, the same hooks.
sm_cf static "hash -T<TMPF> $work/nosuch" "" "$guard"
sm_cf static0 "hash -T<TMPF> $work/nosuch" ""
expect "static, unreadable map: tls_rcpt" "$(ret "$work/static.cf" rcpt example.com)" 4.3.0
expect "static, unreadable map: tls_server" "$(ret "$work/static.cf" srv mx.x 192.0.2.1)" 4.3.0
expect "static, unreadable map: tls_server, no hook" "$(ret "$work/static0.cf" srv mx.x 192.0.2.1)" OK

[ $fail -eq 0 ] && echo "PASS: sendmail live map: $n1 probes twice, chaining, TEMP and down fail closed"
exit $fail
