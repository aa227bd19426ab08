#!/bin/sh
# run-golden.sh - golden tests in the Postfix manner: a table, keys, the expected output.
#
# usage: run-golden.sh TLSMAPS CASE_DIR NAME
#
# For NAME it runs, from CASE_DIR so that file names in diagnostics stay short:
#   tlsmaps check NAME.tbl
#   tlsmaps lookup NAME.tbl - < NAME.in                 (when NAME.in exists)
#   tlsmaps lookup --inbound NAME.tbl - < NAME.inbound  (when NAME.inbound exists)
#   tlsmaps verdict NAME.tbl - < NAME.sessions          (when NAME.sessions exists)
# and diffs everything (stdout, then stderr lines prefixed "! ", then the exit
# status) against NAME.ref. With UPDATE=1 it rewrites NAME.ref instead.
set -u
tlsmaps=$1 dir=$2 name=$3
cd "$dir" || exit 1
out=$(mktemp) err=$(mktemp) got=$(mktemp)
trap 'rm -f "$out" "$err" "$got"' EXIT

run() {
	label=$1
	shift
	echo "\$ $label" >>"$got"
	"$@" >"$out" 2>"$err"
	rc=$?
	cat "$out" >>"$got"
	sed 's/^/! /' "$err" >>"$got"
	echo "[exit $rc]" >>"$got"
}

run "tlsmaps check $name.tbl" "$tlsmaps" check "$name.tbl"
if [ -f "$name.in" ]; then
	run "tlsmaps lookup $name.tbl - < $name.in" sh -c '"$1" lookup "$2.tbl" - < "$2.in"' sh "$tlsmaps" "$name"
fi
if [ -f "$name.inbound" ]; then
	run "tlsmaps lookup --inbound $name.tbl - < $name.inbound" \
		sh -c '"$1" lookup --inbound "$2.tbl" - < "$2.inbound"' sh "$tlsmaps" "$name"
fi
if [ -f "$name.sessions" ]; then
	run "tlsmaps verdict $name.tbl - < $name.sessions" \
		sh -c '"$1" verdict "$2.tbl" - < "$2.sessions"' sh "$tlsmaps" "$name"
fi

if [ "${UPDATE:-0}" = 1 ]; then
	cp "$got" "$name.ref"
	echo "updated $dir/$name.ref"
	exit 0
fi
if ! diff -u "$name.ref" "$got"; then
	echo "FAIL: golden $name differs from $name.ref (UPDATE=1 regenerates it)"
	exit 1
fi
