#!/bin/bash
# run-postfix-client-cidr.sh - tlsmaps compile --format postfix-client-cidr against postmap cidr:.
#
# usage: run-postfix-client-cidr.sh TLSMAPS SRCDIR WORKDIR
#
# Compiles SRCDIR/clients.tbl, checks stderr against clients.err, then for
# every address of clients.expect checks that "postmap -q ADDR cidr:FILE"
# answers the expected class, DUNNO or nothing, and that this agrees with
# "tlsmaps lookup --inbound" (mandatory level: the class; none, may, dane:
# DUNNO; no entry: nothing). postmap must print no warning.
set -u
tlsmaps=$1 src=$2 work=$3/postfix-client-cidr
rm -rf "$work" && mkdir -p "$work/conf" || exit 1
printf 'compatibility_level = 3.6\n' >"$work/conf/main.cf"
fail=0
bad() {
	echo "FAIL: $*"
	fail=1
}

cd "$src" || exit 1
"$tlsmaps" compile --format postfix-client-cidr clients.tbl >"$work/clients.cidr" 2>"$work/err"
rc=$?
[ $rc -eq 0 ] || bad "compile exited $rc"
diff -u clients.err "$work/err" || bad "stderr differs from clients.err"

n=0
while read -r addr want; do
	case $addr in '#'* | '') continue ;; esac
	n=$((n + 1))
	got=$(postmap -c "$work/conf" -q "$addr" "cidr:$work/clients.cidr" 2>>"$work/postmap.err")
	[ -n "$got" ] || got=-
	[ "$got" = "$want" ] || bad "postmap -q $addr = '$got', expected '$want'"
	level=$("$tlsmaps" lookup --inbound clients.tbl "$addr" | cut -f2 | cut -d' ' -f1)
	case $level in
	-) lib=- ;;
	none | may | dane) lib=DUNNO ;;
	*) lib=forcetls_require_tls ;;
	esac
	[ "$lib" = "$want" ] || bad "tlsmaps lookup --inbound $addr = '$level', expected '$want'"
done <clients.expect
if [ -s "$work/postmap.err" ]; then
	cat "$work/postmap.err"
	bad "postmap printed warnings"
fi
[ $fail -eq 0 ] && echo "PASS: postfix-client-cidr: $n addresses"
exit $fail
