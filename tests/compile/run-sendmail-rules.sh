#!/bin/bash
# run-sendmail-rules.sh - the compiled access map, judged by Sendmail's own rulesets.
#
# usage: run-sendmail-rules.sh TLSMAPS SRCDIR WORKDIR
#
# Builds a sendmail.cf from the real cf/m4 files with FEATURE(`access_db')
# and FEATURE(`lookupdotdomain'), loads the compiled sendmail.tbl with
# makemap, and for every probe of sendmail.probes runs "sendmail -bt" with
# the ruleset Sendmail calls (tls_rcpt, tls_server, tls_client) and the
# macros it sets. The requirement the ruleset hands to TLS_connection is
# compared with the expected one; for rcpt probes and "lib" probes that is
# what tlsmaps lookup answers, mapped as compile_sendmail.c maps levels.
#
# The build tree may sit under /tmp (a sticky world-writable directory, as in
# CI clones there), so the test cf trusts the sticky bit for the map path.
# Sendmail sleeps a minute when its host name is unqualified, so each run
# gets its own UTS namespace (unshare) with a qualified name.
# Exit 77 (skipped) when m4, unshare or a runnable sendmail binary is missing.
set -u
tlsmaps=$1 src=$2 work=$3/sendmail-rules
SR=${SENDMAIL_ROOT:-/opt/forcetls-test/sendmail}
sendmail=$SR/usr/libexec/sendmail/sendmail
cf=$SR/usr/share/sendmail/cf

for tool in m4 unshare; do
	command -v $tool >/dev/null || { echo "SKIP: $tool not found"; exit 77; }
done
[ -x "$sendmail" ] && [ -d "$cf/m4" ] || { echo "SKIP: no Sendmail under $SR"; exit 77; }
if ldd "$sendmail" | grep -q 'not found'; then
	echo "SKIP: $sendmail misses libraries:"; ldd "$sendmail" | grep 'not found'
	exit 77
fi
[ "$(id -u)" = 0 ] || { echo "SKIP: unshare --uts needs root"; exit 77; }

rm -rf "$work" && mkdir -p "$work" || exit 1
chmod 700 "$work"
printf 'hosts files\naliases files\n' >"$work/service.switch"
cat >"$work/test.mc" <<MC
include(\`$cf/m4/cf.m4')
OSTYPE(\`linux')dnl
define(\`confDOMAIN_NAME', \`sm.forcetls.test')dnl
define(\`confSERVICE_SWITCH_FILE', \`$work/service.switch')dnl
define(\`confDONT_PROBE_INTERFACES', \`true')dnl
define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit')dnl
FEATURE(\`access_db', \`hash -T<TMPF> $work/access')dnl
FEATURE(\`lookupdotdomain')dnl
MAILER(\`smtp')dnl
LOCAL_RULESETS
Stest_tls_client
R\$*			\$: \$1 \$| MAIL
R\$*			\$@ \$>tls_client \$1
MC
m4 -D_CF_DIR_="$cf/" "$work/test.mc" >"$work/test.cf" || exit 1
fail=0
bad() {
	echo "FAIL: $*"
	fail=1
}

cd "$src" || exit 1
"$tlsmaps" compile --format sendmail-access sendmail.tbl >"$work/access.txt" 2>/dev/null
"$SR/usr/sbin/makemap" -C "$work/test.cf" hash "$work/access" <"$work/access.txt" ||
	bad "makemap failed"

# The requirement tlsmaps gives: lookup [--inbound] TABLE KEY, mapped to an RHS.
lib() {
	local dir=$1 key=$2 json level bits
	json=$("$tlsmaps" lookup --json $dir sendmail.tbl "$key")
	level=$(sed -n 's/.*"level":"\([^"]*\)".*/\1/p' <<<"$json")
	bits=$(sed -n 's/.*"min_bits":\([0-9]*\).*/\1/p' <<<"$json")
	case $dir,$level in
	*,none | *,may | *,dane | *,) echo - ;;
	*,encrypt | --inbound,dane-only) echo "ENCR:$bits" ;;
	*) echo "VERIFY:$bits" ;;
	esac
}

# What Sendmail hands to TLS_connection: "<ENCR : 128>" -> ENCR:128; OK or ? -> "-".
sm() {
	local out req
	out=$(printf '%s\n' "$@" | timeout 30 unshare --uts sh -c \
		'hostname sm.forcetls.test && exec "$@"' sh "$sendmail" -C "$work/test.cf" -bt 2>&1)
	req=$(grep 'TLS_connection *input:' <<<"$out" | tail -1 |
		sed -n 's/.*\$| *<\([^>]*\)>.*/\1/p' | tr -d ' ')
	case $req in '' | OK | '?') echo - ;; *) echo "$req" ;; esac
}

n=0
while read -r what a b want; do
	case $what in '#'* | '') continue ;; esac
	n=$((n + 1))
	case $what in
	rcpt)
		want=$(lib "" "$a")
		got=$(sm '.D{verify}NONE' '.D{cipher_bits}0' '.D{server_name}mx.invalid' \
			"tls_rcpt user@$a")
		;;
	srv)
		[ "$want" = lib ] && want=$(lib "" "${b#IPv6:}")
		got=$(sm '.D{verify}NONE' '.D{cipher_bits}0' ".D{server_name}$a" \
			".D{server_addr}$b" 'tls_server NONE')
		;;
	clt)
		[ "$want" = lib ] && want=$(lib --inbound "${b#IPv6:}")
		got=$(sm '.D{verify}NONE' '.D{cipher_bits}0' ".D{client_name}$a" \
			".D{client_addr}$b" 'test_tls_client NONE')
		;;
	*)
		bad "bad probe line: $what $a $b $want"
		continue
		;;
	esac
	[ "$got" = "$want" ] || bad "$what $a $b: Sendmail requires '$got', expected '$want'"
done <sendmail.probes
[ $n -gt 0 ] || bad "no probes"
[ $fail -eq 0 ] && echo "PASS: sendmail rulesets: $n probes"
exit $fail
