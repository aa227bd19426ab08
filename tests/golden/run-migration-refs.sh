#!/bin/sh
# run-migration-refs.sh - docs/MIGRATION.md and examples/migration agree.
#
# usage: run-migration-refs.sh GUIDE DIR
#
# Every "examples/migration/NAME.tbl" the guide names must exist, every
# NAME.tbl in DIR must be named by the guide and have its NAME.ref (the
# golden output that tests/golden/CMakeLists.txt diffs), and every NAME.conf
# must be named too (run-migration-conf.sh checks it). Exit 1 on any gap.
set -u
guide=$1 dir=$2 bad=0
[ -f "$guide" ] || { echo "$guide: missing"; exit 1; }
for f in $(grep -o 'examples/migration/[A-Za-z0-9_.-]*\.tbl' "$guide" | sort -u); do
	[ -f "$dir/${f#examples/migration/}" ] || { echo "$guide names $f: no such file"; bad=1; }
done
for c in "$dir"/*.conf; do
	n=$(basename "$c")
	grep -q "examples/migration/$n" "$guide" || { echo "$n: not named in $guide"; bad=1; }
done
for t in "$dir"/*.tbl; do
	n=$(basename "$t")
	grep -q "examples/migration/$n" "$guide" || { echo "$n: not named in $guide"; bad=1; }
	[ -f "${t%.tbl}.ref" ] || { echo "$n: no ${n%.tbl}.ref (UPDATE=1 run-golden.sh writes it)"; bad=1; }
done
exit $bad
