#!/bin/sh
# run-migration-conf.sh - every forcetls.conf example of docs/MIGRATION.md is valid.
#
# usage: run-migration-conf.sh MILTER POLICYD DIR
#
# Each DIR/NAME.conf must pass "forcetls-milter --check" and
# "forcetls-policyd --check" with DIR/NAME.tbl (or an empty table when there
# is none): the settings exist, their values are in bounds.
set -u
milter=$1 policyd=$2 dir=$3 bad=0
empty=$(mktemp)
trap 'rm -f "$empty"' EXIT
for c in "$dir"/*.conf; do
	t=${c%.conf}.tbl
	[ -f "$t" ] || t=$empty
	for d in "$milter" "$policyd"; do
		if ! out=$("$d" --check --config "$c" --table "$t" 2>&1); then
			echo "$(basename "$c"): $(basename "$d") --check: $out"
			bad=1
		fi
	done
done
[ $bad -eq 0 ] && echo "ok: every example configuration is valid"
exit $bad
