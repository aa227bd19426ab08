#!/bin/bash
# t-fault-table.sh - fault matrix (issue 11): the forced-TLS table replaced under load,
# in lib-fault.sh's world (both daemons on the same table, each watching it).
#
# usage: t-fault-table.sh TLSMAPS [EXAMPLES_DIR]
#        (FTLS_MILTER and FTLS_POLICYD in the environment: the programs under test)
#
# The table: forced-plain.test, forced-tls.test, 198.51.100.0/24 and 12 more entries
# (filler*.test), 15 in all. Proves, each sub-case under a load of 300 messages:
#   - written IN PLACE (same inode) broken (a line with an unknown attribute), empty,
#     truncated (its first third, cut inside a line: here a level, a parse error),
#     truncated-key (cut inside a domain name: a valid table of 5 entries, the last
#     one wrong, which only the shrink guard refuses): both daemons' watch refuses it,
#     and so does the reload signal (policyd SIGHUP, milter SIGUSR1) that follows; the
#     old decisions go on: forced-plain.test deferred 4.7.4 and queued, forced mail
#     marked Require and never in clear; rows fault-table-broken, -empty, -truncated, -truncated-key;
#   - replaced ATOMICALLY (rename) by a valid table that adds open-plain.test, while
#     mail to the other domains flows: no lookup fails (no 4.7.5 or 4.3.x deferral in
#     the whole run, no 4xx to any client), both daemons reload it (watch, then the
#     signals), and new open-plain.test mail is marked Require, deferred 4.7.4 and
#     queued, never delivered in clear; rows fault-table-atomic, fault-table-newforced.
set -u
. "$(dirname "$0")/lib-fault.sh"
FTLS_TLSMAPS=${FTLS_TLSMAPS:-$1}
EXAMPLES=${2:-${FTLS_EXAMPLES:-}}
N=300
fillers=()
for i in $(seq -w 1 12); do fillers+=("filler$i.test                       encrypt"); done
fw_world fault-table "${fillers[@]}"
entries=$(grep -vc '^#' "$FW_TABLE")
[ "$entries" -eq 15 ] || e2e_fail "the table has $entries entries, expected 15"

fw__refused() { [ "$(grep -c 'reload (watch): refused' "$W/$1.log")" -gt "$2" ]; }
fw__ok_entries() { [ "$(grep -Ec "reload \\(watch\\): ok .*, $2 entries" "$W/$1.log")" -gt "$3" ]; }
fw__rx_at_least() { [ "$(e2e_rx_count "$1")" -ge "$2" ]; }

ino=$(stat -c %i "$FW_TABLE")
for mode in broken empty truncated truncated-key; do
	rp=$(grep -c 'reload (watch): refused' "$W/policyd.log")
	rm_=$(grep -c 'reload (watch): refused' "$W/milter.log")
	ok_p=$(grep -Ec 'reload \(watch\): ok .*, 15 entries' "$W/policyd.log")
	ok_m=$(grep -Ec 'reload \(watch\): ok .*, 15 entries' "$W/milter.log")
	fw_load $mode $N --deadline 120
	e2e_wait_until 30 fw__rx_at_least $MW_RX_TLS $(($(e2e_rx_count $MW_RX_TLS) + 5)) ||
		e2e_fail "$mode: the load did not start delivering"
	fw_table_write $mode || e2e_fail "cannot write the table ($mode)"
	fw_load_running $mode || e2e_log "$mode: (the load had finished before the table was written)"
	[ "$(stat -c %i "$FW_TABLE")" = "$ino" ] || e2e_fail "$mode: the table is not the same inode"
	e2e_wait_until 20 fw__refused policyd "$rp" || e2e_fail "$mode: policyd's watch did not refuse the table"
	e2e_wait_until 20 fw__refused milter "$rm_" || e2e_fail "$mode: the milter's watch did not refuse the table"
	r=$(fw_reload policyd) || e2e_fail "$mode: policyd logged no reload for SIGHUP"
	[ "$r" = refused ] || e2e_fail "$mode: policyd's SIGHUP reload: $r, expected refused"
	r=$(fw_reload milter) || e2e_fail "$mode: the milter logged no reload for SIGUSR1"
	[ "$r" = refused ] || e2e_fail "$mode: the milter's SIGUSR1 reload: $r, expected refused"
	grep 'reload (SIGHUP): refused' "$W/policyd.log" | tail -1 | sed 's/^/    /' >&2
	fw_load_wait $mode 150 || e2e_fail "$mode: the load did not finish"
	fw_settle 90 || e2e_log "$mode: not settled after 90 s (fw_count says what is missing)"
	fw_count $mode fault-table-$mode || e2e_fail "ROW fault-table-$mode: a message lost, unmarked or forced in clear"
	[ "$(fw_row_get queued)" -eq $((N / 5)) ] || e2e_fail "$mode: queued $(fw_row_get queued), expected $((N / 5)) (forced-plain.test)"
	[ "$(fw_row_get tempfailed)" -eq 0 ] || e2e_fail "$mode: a client got a 4xx"
	# back to the good table (renamed into place; the watch reloads it)
	fw_table_write atomic "$FW_DIR/table.good" || e2e_fail "cannot restore the table"
	e2e_wait_until 20 fw__ok_entries policyd 15 "$ok_p" || e2e_fail "$mode: policyd did not reload the good table"
	e2e_wait_until 20 fw__ok_entries milter 15 "$ok_m" || e2e_fail "$mode: the milter did not reload the good table"
	ino=$(stat -c %i "$FW_TABLE")
done

# Atomic: a valid table that also forces open-plain.test, renamed in under load.
cp "$FW_DIR/table.good" "$FW_DIR/table.next"
echo "open-plain.test                     encrypt" >>"$FW_DIR/table.next"
"$FTLS_TLSMAPS" check "$FW_DIR/table.next" >/dev/null || e2e_fail "the new table does not check"
fw_load atomic $N --rcpt f1@forced-tls.test --rcpt o2@open-tls.test --rcpt f2@forced-plain.test \
	--rcpt c1@cidr.test --deadline 120
e2e_wait_until 30 fw__rx_at_least $MW_RX_TLS $(($(e2e_rx_count $MW_RX_TLS) + 10)) ||
	e2e_fail "atomic: the load did not start delivering"
fw_table_write atomic "$FW_DIR/table.next" || e2e_fail "cannot rename the new table in"
fw_load_running atomic || e2e_log "atomic: (the load had finished before the table was renamed)"
e2e_wait_until 20 fw__ok_entries policyd 16 0 || e2e_fail "policyd's watch did not load the new table"
e2e_wait_until 20 fw__ok_entries milter 16 0 || e2e_fail "the milter's watch did not load the new table"
fw_load_wait atomic 150 || e2e_fail "atomic: the load did not finish"
[ "$(fw_reload policyd)" = ok ] || e2e_fail "policyd's SIGHUP reload of the new table is not ok"
[ "$(fw_reload milter)" = ok ] || e2e_fail "the milter's SIGUSR1 reload of the new table is not ok"
fw_settle 90 || e2e_log "atomic: not settled after 90 s"
fw_count atomic fault-table-atomic || e2e_fail "ROW fault-table-atomic: a message lost, unmarked or forced in clear"
[ "$(fw_row_get tempfailed)" -eq 0 ] || e2e_fail "atomic: a client got a 4xx during the replacement"

# The new decision: open-plain.test is forced now.
FW_FORCED=$FW_FORCED,open-plain.test
FW_MARKED=$FW_MARKED,open-plain.test
fw_load newforced 30 --rcpt o1@open-plain.test
fw_load_wait newforced 60 || e2e_fail "newforced: the load did not finish"
e2e_wait_deferred o1@open-plain.test 30 '4\.7\.4' || e2e_fail "open-plain.test not deferred 4.7.4"
fw_settle 60 --expect-queued forced-plain.test open-plain.test || e2e_log "newforced: not settled after 60 s"
fw_count newforced fault-table-newforced || e2e_fail "ROW fault-table-newforced: open-plain.test mail lost, unmarked or in clear"
[ "$(fw_row_get queued)" -eq 30 ] || e2e_fail "newforced: queued $(fw_row_get queued), expected 30"

n=$(e2e_log_count 'dsn=4\.(7\.5|3\.[0-9]), status=deferred')
[ "$n" -eq 0 ] || e2e_fail "$n deferrals for a failed lookup (4.7.5 or 4.3.x) during the run"
mw_finish
