#!/bin/bash
# run-sendmail-access.sh - tlsmaps compile --format sendmail-access against real makemap.
#
# usage: run-sendmail-access.sh TLSMAPS SRCDIR WORKDIR
#
# Compiles SRCDIR/sendmail.tbl and diffs stdout with sendmail.ref and stderr
# with sendmail.err (golden: every line and every reason pinned; UPDATE=1
# rewrites both). Then loads the output with Sendmail's makemap (hash) and
# checks that "makemap -u" dumps exactly the non-comment lines of the
# output, keys lowercased as makemap folds them: nothing lost, nothing
# mangled, no duplicate key. makemap reads a sendmail.cf for TrustedUser
# only; an empty one is passed with -C.
set -u
tlsmaps=$1 src=$2 work=$3/sendmail-access
SR=${SENDMAIL_ROOT:-/opt/forcetls-test/sendmail}
makemap=$SR/usr/sbin/makemap
[ -x "$makemap" ] || { echo "SKIP: no makemap under $SR (scripts/install-deps)"; exit 77; }
rm -rf "$work" && mkdir -p "$work" && chmod 700 "$work" || exit 1
: >"$work/empty.cf"
fail=0
bad() {
	echo "FAIL: $*"
	fail=1
}

cd "$src" || exit 1
"$tlsmaps" compile --format sendmail-access sendmail.tbl >"$work/access.txt" 2>"$work/err"
rc=$?
if [ "${UPDATE:-0}" = 1 ]; then
	cp "$work/access.txt" sendmail.ref && cp "$work/err" sendmail.err
	echo "updated sendmail.ref, sendmail.err"
fi
[ $rc -eq 0 ] || bad "compile exited $rc"
diff -u sendmail.ref "$work/access.txt" || bad "output differs from sendmail.ref"
diff -u sendmail.err "$work/err" || bad "stderr differs from sendmail.err"

"$makemap" -C "$work/empty.cf" hash "$work/access" <"$work/access.txt" 2>"$work/makemap.err" ||
	bad "makemap hash failed"
"$makemap" -C "$work/empty.cf" -u hash "$work/access" >"$work/dump" 2>>"$work/makemap.err" ||
	bad "makemap -u failed"
grep -v 'World writable directory' "$work/makemap.err" >"$work/makemap.warn"
if [ -s "$work/makemap.warn" ]; then
	cat "$work/makemap.warn"
	bad "makemap printed warnings"
fi
grep -v '^#' "$work/access.txt" | awk -F'\t' '{ print tolower($1) "\t" $2 }' | LC_ALL=C sort >"$work/want"
LC_ALL=C sort "$work/dump" >"$work/got"
diff -u "$work/want" "$work/got" >"$work/dump.diff" || {
	head -40 "$work/dump.diff"
	bad "makemap -u does not dump the compiled lines"
}
n=$(wc -l <"$work/want")
[ "$n" -gt 0 ] || bad "no lines compiled"

# --no-tls-clt: the same lines without the TLS_Clt ones, and no inbound notes.
"$tlsmaps" compile --format sendmail-access --no-tls-clt sendmail.tbl >"$work/noclt.txt" \
	2>"$work/noclt.err" || bad "compile --no-tls-clt exited $?"
grep -v '^#' "$work/access.txt" | grep -v '^TLS_Clt:' >"$work/noclt.want"
grep -v '^#' "$work/noclt.txt" | diff -u "$work/noclt.want" - || bad "--no-tls-clt: other lines differ"
grep -q '^TLS_Clt:' "$work/access.txt" || bad "the fixture compiles no TLS_Clt line"
grep -q 'TLS_Clt\|inbound' "$work/noclt.err" && bad "--no-tls-clt still reports inbound entries"
grep -q 'TLS_Clt:) are left out' "$work/noclt.txt" || bad "--no-tls-clt output does not say so"
"$tlsmaps" compile --format postfix-policy --no-tls-clt sendmail.tbl >/dev/null 2>&1
[ $? -eq 2 ] || bad "--no-tls-clt with another format is not a usage error"
[ $fail -eq 0 ] && echo "PASS: sendmail-access: $n keys through makemap hash"
exit $fail
