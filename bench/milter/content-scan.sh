#!/bin/bash
# bench/milter/content-scan.sh - body scan throughput (MB/s) of forcetls-milter with 10 body
# patterns on a mixed corpus (plain text, HTML in quoted-printable, base64 text, a message
# with two base64 attachments): raw scanning (mime_decode = false, today's code) against
# decoded scanning (mime_decode = true), in the same run (issue 8, "Benchmarks").
#
#   content-scan.sh BUILD_DIR
#
# The real milter binary over its unix socket, driven by miltertest with
# bench/milter/content-scan.lua (the corpus, the patterns, the timing): each message is
# sent as Postfix sends it (65535-byte body chunks) and answered; nothing in the corpus
# matches, so every body byte is read. MB/s = raw body bytes sent / wall time (10^6 bytes),
# miltertest's own cost included alike in both modes. REPEAT rounds run both modes once
# each, alternating; medians are printed. Results are not asserted.
#
# A milter without the setting mime_decode (before issue 8) runs the raw mode only, on its
# own defaults; "decoded" is then reported as n/a.
# Environment: REPEAT (5) ROUNDS (50: corpus passes per measurement)
#   FTLS_MILTER (BUILD_DIR/milter/forcetls-milter) KEEP=1 (keep the miltertest temp dirs)
set -u
BUILD=$(cd "${1:?usage: content-scan.sh BUILD_DIR}" && pwd) || exit 2
SRC=$(cd "$(dirname "$0")/../.." && pwd)
REPEAT=${REPEAT:-5} ROUNDS=${ROUNDS:-50}
FTLS_MILTER=${FTLS_MILTER:-$BUILD/milter/forcetls-milter}
[ -x "$FTLS_MILTER" ] || { echo "content-scan: $FTLS_MILTER not built" >&2; exit 2; }
command -v miltertest >/dev/null || { echo "content-scan: miltertest missing (Debian miltertest)" >&2; exit 2; }

# Both modes scan everything they see: limits far above the corpus.
RAW='  body_scan_limit = 67108864;
'
DEC=$RAW
tmp=$(mktemp -d /tmp/ftls-content-scan.XXXXXX) || exit 2
trap 'rm -rf "$tmp"' EXIT
printf 'milter = {\n  user = "";\n  state_file = "%s/s";\n  mime_decode = false;\n  body_read_limit = 67108864;\n};\n' \
	"$tmp" >"$tmp/probe.conf"
echo example.test >"$tmp/probe.table"
if "$FTLS_MILTER" --check --config "$tmp/probe.conf" --table "$tmp/probe.table" >"$tmp/probe.log" 2>&1; then
	RAW+='  mime_decode = false;
  body_read_limit = 67108864;
'
	DEC+='  mime_decode = true;
  body_read_limit = 67108864;
'
	MODES=(raw decoded)
else
	echo "content-scan: this milter has no mime_decode (before issue 8): raw mode only" >&2
	sed 's/^/    /' "$tmp/probe.log" >&2
	MODES=(raw)
fi

# measure MODE: one miltertest run; prints MB/s
measure() {
	local lines out
	[ "$1" = raw ] && lines=$RAW || lines=$DEC
	local keep=()
	[ -n "${KEEP:-}" ] && keep=(FTLS_MILTER_KEEP=1)
	out=$(env FTLS_MILTER="$FTLS_MILTER" FTLS_MILTER_TESTS="$SRC/tests/milter" BENCH_LINES="$lines" \
		BENCH_ROUNDS="$ROUNDS" "${keep[@]}" \
		timeout 600 miltertest -s "$SRC/bench/milter/content-scan.lua" 2>&1) || {
		echo "content-scan: $1: miltertest failed:" >&2
		echo "$out" >&2
		exit 1
	}
	sed -n 's/^content-scan: \([0-9]*\) bytes in \([0-9.]*\) s.*/\1 \2/p' <<<"$out" |
		awk '{ printf "%.1f\n", $1 / $2 / 1e6 }'
	sed -n 's/^content-scan: \([0-9]*\) bytes in .*/\1/p' <<<"$out" >"$tmp/bytes"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A R
for round in $(seq "$REPEAT"); do
	for m in "${MODES[@]}"; do
		v=$(measure "$m")
		[ -n "$v" ] || { echo "content-scan: $m: no figure" >&2; exit 1; }
		R[$m]+="$v "
		echo "round $round $m: $v MB/s" >&2
	done
done
echo
echo "forcetls-milter body scan, 10 patterns, mixed corpus ($(($(cat "$tmp/bytes") / ROUNDS)) body bytes a pass, $ROUNDS passes), $REPEAT rounds, median"
printf '%-8s %8s   %s\n' mode MB/s "(each round)"
for m in raw decoded; do
	if [ -n "${R[$m]:-}" ]; then
		# shellcheck disable=SC2086
		printf '%-8s %8s   (%s)\n' $m "$(printf '%s\n' ${R[$m]} | median)" "${R[$m]% }"
	else
		printf '%-8s %8s\n' $m n/a
	fi
done
