#!/bin/bash
# run-postfix-transport.sh - the backup route (on_tls_failure=gateway) as Postfix reads it.
#
# usage: run-postfix-transport.sh POLICYD TLSMAPS SRCDIR WORKDIR
#
# Compiles SRCDIR/transport.tbl with --format postfix-transport (the table
# default, then --on-tls-failure gateway, and --backup-transport), loads it
# with postmap lmdb: (no warnings, nothing on stderr), and serves the same
# table from forcetls-policyd's transport map (tables.on_tls_failure =
# "defer", then "gateway"). For every domain of transport.expect, the
# transport(5) lookup order (user@domain, domain, then each ".parent" form,
# then "*"; the first key found wins) is walked with postmap -q in both the
# static map and socketmap:inet:...:forcetls-transport (asked only for the
# addresses and "*", as Postfix asks a pattern table): both must give the
# expected transport. The bare domain keys of the live map must match the
# static map line for line. A malformed key answers TEMP (postmap -q stops with a
# query error; Postfix's trivial-rewrite defers).
# Exit 77 (skipped) without postmap.
set -u
policyd=$1 tlsmaps=$2 src=$3 work=$4/postfix-transport
command -v postmap >/dev/null || exit 77
rm -rf "$work" && mkdir -p "$work/conf" && chmod 755 "$work" || exit 1
printf 'compatibility_level = 3.6\n' >"$work/conf/main.cf"
fail=0
bad() {
	echo "FAIL: $*"
	fail=1
}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pid=
stop_policyd() {
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null
	wait "$pid"
	pid=
}
trap stop_policyd EXIT
start_policyd() { # tables.on_tls_failure
	stop_policyd
	printf 'tables = { on_tls_failure = "%s"; };\npolicyd = {\n  user = "nobody";\n  watch_table = false;\n  state_file = "";\n  log_lookups = true;\n};\n' \
		"$1" >"$work/forcetls.conf"
	: >"$work/policyd.log"
	"$policyd" --foreground --config "$work/forcetls.conf" --table "$src/transport.tbl" \
		--socketmap-listen "inet:127.0.0.1:$port" --policy-listen "" >"$work/policyd.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		grep -q 'ready:' "$work/policyd.log" && return 0
		sleep 0.1
	done
	cat "$work/policyd.log"
	bad "policyd did not start"
	return 1
}
# walk MAP DOMAIN: what trivial-rewrite takes from MAP for a recipient at DOMAIN; "-" for
# the default transport (no key found, or ":"). A socketmap is a pattern table
# (dict_sockmap.c), asked only for the full address and "*"; lmdb: for all the keys.
walk() {
	local map=$1 d=$2 key got rc
	local keys=("user+ext@$d" "user@$d")
	local rest=$d
	if [[ $map != socketmap:* ]]; then
		keys+=("$d")
		while [[ $rest == *.* ]]; do
			rest=${rest#*.}
			keys+=(".$rest")
		done
	fi
	keys+=("*")
	for key in "${keys[@]}"; do
		got=$(postmap -c "$work/conf" -q "$key" "$map" 2>>"$work/postmap.err")
		rc=$?
		[ $rc -eq 0 ] && { [ "$got" = : ] && echo - || echo "$got"; return; }
		[ $rc -eq 1 ] || { echo "ERROR($key)"; return; }
	done
	echo -
}

cd "$src" || exit 1
for mode in defer gateway; do
	col=2
	args=()
	[ $mode = gateway ] && col=3 args=(--on-tls-failure gateway)
	"$tlsmaps" compile --format postfix-transport "${args[@]}" transport.tbl \
		>"$work/transport.$mode" 2>"$work/err" || bad "$mode: compile exited $?"
	[ -s "$work/err" ] && { cat "$work/err"; bad "$mode: compile wrote on stderr"; }
	: >"$work/postmap.err"
	postmap -c "$work/conf" "lmdb:$work/transport.$mode" || bad "$mode: postmap failed"
	start_policyd $mode || break
	live=socketmap:inet:127.0.0.1:$port:forcetls-transport
	n=0
	while read -r -a f; do
		[[ ${f[0]} == \#* ]] && continue
		want=${f[$((col - 1))]}
		for map in "lmdb:$work/transport.$mode" "$live"; do
			got=$(walk "$map" "${f[0]}")
			[ "$got" = "$want" ] || bad "$mode: ${f[0]} through ${map%%:*}: '$got', expected '$want'"
		done
		n=$((n + 1))
	done <transport.expect
	while IFS=$'\t' read -r key value; do
		[[ $key == \#* ]] && continue
		got=$(postmap -c "$work/conf" -q "$key" "$live" 2>>"$work/postmap.err")
		[ "$got" = "$value" ] || bad "$mode: live '$key' = '$got', the static map has '$value'"
	done <"$work/transport.$mode"
	if [ -s "$work/postmap.err" ]; then
		cat "$work/postmap.err"
		bad "$mode: postmap printed warnings"
	fi
	# Fail closed: a key that does not parse is TEMP (exit 2), "*" is not found.
	out=$(postmap -c "$work/conf" -q 'a..bank.example' "$live" 2>&1)
	[[ $out == *'socketmap server temporary error: malformed key'*'query error'* ]] ||
		bad "$mode: malformed key: postmap -q said '$out', expected a TEMP query error"
	grep -q 'lookup a..bank.example (forcetls-transport): malformed key' "$work/policyd.log" ||
		bad "$mode: no malformed-key log line"
	grep -q 'lookup bank.example (forcetls-transport): forcetls-backup: (.*transport.tbl:3 bank.example on_tls_failure=gateway)' \
		"$work/policyd.log" || bad "$mode: no lookup log line for bank.example"
	[ $fail -eq 0 ] && echo "ok: $mode: $n domains, static map and live socketmap agree"
done
stop_policyd
# --backup-transport replaces the value; it is refused for other formats and when malformed.
"$tlsmaps" compile --format postfix-transport --backup-transport 'smtp:[gw.example]:10026' \
	transport.tbl >"$work/custom" 2>&1 || bad "--backup-transport: exit $?"
grep -qx $'bank.example\tsmtp:\\[gw.example\\]:10026' "$work/custom" || bad "--backup-transport value not used"
"$tlsmaps" compile --format postfix-policy --backup-transport x: transport.tbl >/dev/null 2>&1
[ $? -eq 2 ] || bad "--backup-transport accepted for postfix-policy"
"$tlsmaps" compile --format postfix-transport --backup-transport 'no-colon' transport.tbl >/dev/null 2>&1
[ $? -eq 2 ] || bad "--backup-transport accepted a value without ':'"
"$tlsmaps" compile --format postfix-transport --on-tls-failure sometimes transport.tbl >/dev/null 2>&1
[ $? -eq 2 ] || bad "--on-tls-failure accepted 'sometimes'"
# The daemon's settings: the map name must differ from the others, the value be TRANSPORT:NEXTHOP.
for setting in 'transport_map_name = "forcetls";' 'transport_map_name = "forcetls-require";' \
	'transport_map_name = "two words";' 'backup_transport = "forcetls-backup";' \
	'backup_transport = ":[gw]";'; do
	printf 'policyd = { %s };\n' "$setting" >"$work/bad.conf"
	out=$("$policyd" --check --config "$work/bad.conf" --table "$src/transport.tbl" 2>&1)
	rc=$?
	[ $rc -eq 1 ] && [[ $out == *"policyd.${setting%% *}: expected"* ]] ||
		bad "policyd --check with $setting: exit $rc: $out"
done
[ $fail -eq 0 ] && echo "PASS: postfix-transport"
exit $fail
