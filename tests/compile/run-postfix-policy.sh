#!/bin/bash
# run-postfix-policy.sh - tlsmaps compile --format postfix-policy against real postmap.
#
# usage: run-postfix-policy.sh TLSMAPS SRCDIR WORKDIR
#
# Compiles SRCDIR/policy.tbl, checks stderr against policy.err (every entry
# not compiled is listed, nothing else), loads the output with postmap lmdb:
# and hash: (no warnings allowed), then for every key of policy.keys checks
# that "postmap -q KEY" equals the POLICY column of "tlsmaps lookup", that
# the keys of policy.absent give nothing, and that the map has no other line.
set -u
tlsmaps=$1 src=$2 work=$3/postfix-policy
rm -rf "$work" && mkdir -p "$work/conf" || exit 1
printf 'compatibility_level = 3.6\n' >"$work/conf/main.cf"
fail=0
bad() {
	echo "FAIL: $*"
	fail=1
}

cd "$src" || exit 1
"$tlsmaps" compile --format postfix-policy policy.tbl >"$work/policy" 2>"$work/err"
rc=$?
[ $rc -eq 0 ] || bad "compile exited $rc"
diff -u policy.err "$work/err" || bad "stderr differs from policy.err"

nkeys=$(grep -c . policy.keys)
nlines=$(grep -vc '^#' "$work/policy")
[ "$nlines" -eq "$nkeys" ] || bad "map has $nlines lines, expected $nkeys"

for type in lmdb hash; do
	map=$type:$work/policy
	postmap -c "$work/conf" "$map" 2>"$work/postmap.err" || bad "postmap $map failed"
	while IFS= read -r key; do
		want=$("$tlsmaps" lookup policy.tbl "$key" | cut -f2)
		got=$(postmap -c "$work/conf" -q "$key" "$map" 2>>"$work/postmap.err")
		[ -n "$want" ] && [ "$want" != "-" ] || bad "tlsmaps lookup $key: no policy"
		[ "$got" = "$want" ] || bad "$type: postmap -q '$key' = '$got', tlsmaps lookup = '$want'"
	done <policy.keys
	while IFS= read -r key; do
		got=$(postmap -c "$work/conf" -q "$key" "$map" 2>>"$work/postmap.err")
		[ $? -eq 1 ] && [ -z "$got" ] || bad "$type: postmap -q '$key' = '$got', expected not found"
	done <policy.absent
	if [ -s "$work/postmap.err" ]; then
		cat "$work/postmap.err"
		bad "postmap printed warnings for $type"
	fi
done
[ $fail -eq 0 ] && echo "PASS: postfix-policy: $nkeys keys through lmdb: and hash:"
exit $fail
