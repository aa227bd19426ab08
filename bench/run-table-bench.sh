#!/bin/bash
# NAME
#	run-table-bench.sh - libtlsmaps against Postfix's postmap, same data, same run
# SUMMARY
#	bench/run-table-bench.sh BUILD_DIR
# DESCRIPTION
#	Builds nothing: BUILD_DIR must hold bench/gentable and bench/bench_table
#	(cmake --build BUILD_DIR --target gentable bench_table), and optionally
#	tlsmaps/cli/tlsmaps. Generates its data into a temporary directory and:
#
#	big (N entries, KEYS keys of each kind):
#	  - bench_table: load time, RSS per entry, in-process lookups/s;
#	  - postmap lmdb: build time, then "postmap -q - lmdb:FILE < domkeys",
#	    once with one probe per key (Postfix's exact lookup only) and once
#	    with the probe sequence Postfix's SMTP client really issues for
#	    smtp_tls_policy_maps (name, then .parent, ... until found);
#	  - postmap cidr: Postfix cidr tables are a linear first-match list, so
#	    only the first CIDR_BIG_KEYS address keys are run against the full
#	    network list (a rate, startup subtracted);
#	  - "tlsmaps lookup TABLE - < keys" (the CLI, process level) if built.
#	small (SMALL_N entries, SMALL_KEYS keys): the same, with every address
#	  key through postmap cidr, so that the cidr comparison has both sides
#	  on the same table and the same keys.
#
#	Postfix needs a main.cf: a minimal one is written into the temporary
#	directory and passed with "postmap -c"; /etc/postfix is not touched.
#	Process-level timings are the best of RUNS runs.
#
#	Environment: N (1000000), KEYS (1000000), SMALL_N (10000),
#	SMALL_KEYS (100000), CIDR_BIG_KEYS (2000), SEED (1), RUNS (3),
#	KEEP=1 keeps the temporary directory, TLSMAPS_CLI overrides the CLI.
#
#	Output: "name value unit" lines on stdout, progress on stderr.
# SEE ALSO
#	docs/BENCHMARKS.md, bench/gentable.c, bench/bench_table.c
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
BUILD=$(cd "$1" && pwd)
N=${N:-1000000}
KEYS=${KEYS:-1000000}
SMALL_N=${SMALL_N:-10000}
SMALL_KEYS=${SMALL_KEYS:-100000}
CIDR_BIG_KEYS=${CIDR_BIG_KEYS:-2000}
SEED=${SEED:-1}
RUNS=${RUNS:-3}
GENTABLE=$BUILD/bench/gentable
BENCH=$BUILD/bench/bench_table
CLI=${TLSMAPS_CLI:-$BUILD/tlsmaps/cli/tlsmaps}
POSTMAP=${POSTMAP:-postmap}

for f in "$GENTABLE" "$BENCH"; do
	if [ ! -x "$f" ]; then
		echo "$0: $f: not built (cmake --build $BUILD --target gentable bench_table)" >&2
		exit 2
	fi
done
command -v "$POSTMAP" >/dev/null || { echo "$0: postmap not found" >&2; exit 2; }
[ -x "$CLI" ] || CLI=

WORK=$(mktemp -d "${TMPDIR:-/tmp}/table-bench.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
	echo "keeping $WORK" >&2
else
	trap 'rm -rf "$WORK"' EXIT
fi

# A private Postfix configuration directory for postmap -c.
mkdir -p "$WORK/postfix"
printf 'compatibility_level = 3.6\n' >"$WORK/postfix/main.cf"
: >"$WORK/postfix/master.cf"
PM=("$POSTMAP" -c "$WORK/postfix")
declare -A R	# figures the ratios and targets use, by "set.name"

say() { echo "== $*" >&2; }
emit() { printf '%s %s %s\n' "$1" "$2" "$3"; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b > 0 ? a / b : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
sub_s() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; printf "%.4f", (d > 0 ? d : 0.0001) }'; }

# best_of RUNS INPUT CMD...: the best wall time in seconds of "CMD < INPUT > /dev/null".
# Exit status 0 or 1 is accepted (postmap -q and tlsmaps lookup return 1 for a
# miss); anything else, or a "fatal" line on stderr, stops the run.
best_of() {
	local runs=$1 input=$2 best='' t0 t1 rc s
	shift 2
	for _ in $(seq "$runs"); do
		t0=$(date +%s%N)
		rc=0
		"$@" <"$input" >/dev/null 2>"$WORK/stderr" || rc=$?
		t1=$(date +%s%N)
		if [ $rc -gt 1 ] || grep -q fatal "$WORK/stderr"; then
			echo "$0: $* failed ($rc):" >&2
			head -5 "$WORK/stderr" >&2
			exit 1
		fi
		s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')
		if [ -z "$best" ] || awk -v a="$s" -v b="$best" 'BEGIN { exit !(a < b) }'; then
			best=$s
		fi
	done
	echo "$best"
}

# Output of bench_table, prefixed, also kept in R.
run_bench_table() {
	local prefix=$1 dir=$2 passes=$3 name value unit
	while read -r name value unit; do
		emit "$prefix.$name" "$value" "$unit"
		R[$prefix.$name]=$value
	done < <("$BENCH" -p "$passes" -r "$RUNS" "$dir/table.tlsmaps" "$dir/domkeys.txt" \
		"$dir/addrkeys.txt")
}

# One data set: generate, bench_table, postmap, CLI.
run_set() {
	local set=$1 n=$2 keys=$3 cidr_keys=$4 dir=$WORK/$1 passes t t1 net nk
	mkdir -p "$dir"
	say "$set: gentable -n $n -k $keys -s $SEED"
	"$GENTABLE" -n "$n" -k "$keys" -s "$SEED" -o "$dir" | while read -r name value unit; do
		emit "$set.$name" "$value" "$unit"
	done

	# At least 3 passes and about 3M lookups per run.
	passes=$(( 3000000 / keys ))
	[ "$passes" -ge 3 ] || passes=3
	say "$set: bench_table ($passes passes, best of $RUNS)"
	run_bench_table "$set" "$dir" "$passes"

	say "$set: postmap lmdb"
	t=$(best_of 1 /dev/null "${PM[@]}" lmdb:"$dir/postfix-domains.txt")
	emit "$set.postmap_lmdb_build_s" "$t" s
	head -1 "$dir/domkeys.txt" >"$dir/onekey"
	t1=$(best_of "$RUNS" "$dir/onekey" "${PM[@]}" -q - lmdb:"$dir/postfix-domains.txt")
	emit "$set.postmap_lmdb_startup_s" "$t1" s
	t=$(best_of "$RUNS" "$dir/domkeys.txt" "${PM[@]}" -q - lmdb:"$dir/postfix-domains.txt")
	emit "$set.postmap_lmdb_s" "$t" s
	emit "$set.postmap_lmdb_keys_per_s" "$(div "$keys" "$t")" keys/s
	R[$set.pm_dom]=$(div "$keys" "$t")
	t=$(best_of "$RUNS" "$dir/domkeys-postfix.txt" "${PM[@]}" -q - lmdb:"$dir/postfix-domains.txt")
	emit "$set.postmap_lmdb_probes_s" "$t" s
	emit "$set.postmap_lmdb_probes_keys_per_s" "$(div "$keys" "$t")" keys/s
	R[$set.pm_dom_probes]=$(div "$keys" "$t")

	say "$set: postmap cidr ($cidr_keys keys)"
	head -n "$cidr_keys" "$dir/addrkeys.txt" >"$dir/cidrkeys"
	nk=$(wc -l <"$dir/cidrkeys")
	grep '^100\.' "$dir/addrkeys.txt" | head -1 >"$dir/onekey"	# a miss: scans it all
	t1=$(best_of "$RUNS" "$dir/onekey" "${PM[@]}" -q - cidr:"$dir/postfix.cidr")
	emit "$set.postmap_cidr_startup_s" "$t1" s
	t=$(best_of "$RUNS" "$dir/cidrkeys" "${PM[@]}" -q - cidr:"$dir/postfix.cidr")
	net=$(sub_s "$t" "$t1")
	emit "$set.postmap_cidr_keys" "$nk" keys
	emit "$set.postmap_cidr_s" "$t" s
	emit "$set.postmap_cidr_keys_per_s" "$(div "$nk" "$t")" keys/s
	emit "$set.postmap_cidr_net_keys_per_s" "$(div "$nk" "$net")" keys/s
	R[$set.pm_addr]=$(div "$nk" "$net")

	if [ -n "$CLI" ]; then
		say "$set: tlsmaps lookup (CLI)"
		head -1 "$dir/domkeys.txt" >"$dir/onekey"
		t1=$(best_of "$RUNS" "$dir/onekey" "$CLI" lookup "$dir/table.tlsmaps" -)
		emit "$set.cli_startup_s" "$t1" s
		t=$(best_of "$RUNS" "$dir/domkeys.txt" "$CLI" lookup "$dir/table.tlsmaps" -)
		emit "$set.cli_domain_s" "$t" s
		emit "$set.cli_domain_keys_per_s" "$(div "$keys" "$t")" keys/s
		R[$set.cli_dom]=$(div "$keys" "$t")
		emit "$set.cli_domain_net_keys_per_s" "$(div "$keys" "$(sub_s "$t" "$t1")")" keys/s
		t=$(best_of "$RUNS" "$dir/addrkeys.txt" "$CLI" lookup "$dir/table.tlsmaps" -)
		emit "$set.cli_addr_s" "$t" s
		emit "$set.cli_addr_keys_per_s" "$(div "$keys" "$t")" keys/s
		R[$set.cli_addr]=$(div "$keys" "$t")
		emit "$set.cli_addr_net_keys_per_s" "$(div "$keys" "$(sub_s "$t" "$t1")")" keys/s
	fi
}

emit machine.nproc "$(nproc)" cpus
emit machine.cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1 | tr ' ' _)" -
emit machine.postfix "$(postconf -c "$WORK/postfix" -dh mail_version)" version
emit machine.cli "${CLI:-none}" path

run_set big "$N" "$KEYS" "$CIDR_BIG_KEYS"
run_set small "$SMALL_N" "$SMALL_KEYS" "$SMALL_KEYS"

# In process against postmap; postmap_lmdb is one exact probe per key (the
# strictest comparison), postmap_lmdb_probes the probes Postfix really makes.
for set in big small; do
	emit "ratio.${set}_domain_vs_postmap_lmdb" \
		"$(ratio "${R[$set.domain_lookups_per_s]}" "${R[$set.pm_dom]}")" x
	emit "ratio.${set}_domain_vs_postmap_lmdb_probes" \
		"$(ratio "${R[$set.domain_lookups_per_s]}" "${R[$set.pm_dom_probes]}")" x
	emit "ratio.${set}_addr_vs_postmap_cidr" \
		"$(ratio "${R[$set.addr_lookups_per_s]}" "${R[$set.pm_addr]}")" x
	if [ -n "$CLI" ]; then
		emit "ratio.${set}_cli_domain_vs_postmap_lmdb" \
			"$(ratio "${R[$set.cli_dom]}" "${R[$set.pm_dom]}")" x
		emit "ratio.${set}_cli_addr_vs_postmap_cidr" \
			"$(ratio "${R[$set.cli_addr]}" "${R[$set.pm_addr]}")" x
	fi
done

# Targets (docs/BENCHMARKS.md), on the big set; "faster than postmap" on both sets.
target() { emit "target.$1" "$(awk "BEGIN { print ($2) ? \"met\" : \"missed\" }")" "$3"; }
load=${R[big.load_s]} bpe=${R[big.rss_bytes_per_entry]}
dom=${R[big.domain_lookups_per_s]} addr=${R[big.addr_lookups_per_s]}
target load_le_1s "$load <= 1.0" "load_s=$load"
target bytes_per_entry_le_150 "$bpe <= 150" "bytes=$bpe"
target domain_ge_2M_per_s "$dom >= 2000000" "lookups/s=$dom"
target addr_ge_2M_per_s "$addr >= 2000000" "lookups/s=$addr"
target domain_faster_than_postmap \
	"$dom > ${R[big.pm_dom]} && ${R[small.domain_lookups_per_s]} > ${R[small.pm_dom]}" \
	"ratio_big=$(ratio "$dom" "${R[big.pm_dom]}")"
target addr_faster_than_postmap \
	"$addr > ${R[big.pm_addr]} && ${R[small.addr_lookups_per_s]} > ${R[small.pm_addr]}" \
	"ratio_small=$(ratio "${R[small.addr_lookups_per_s]}" "${R[small.pm_addr]}")"
