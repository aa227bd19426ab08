#!/bin/bash
# t-fault-spool.sh - fault matrix (issue 11), resources: forcetls-milter's relay spool
# file system full, in lib-fault.sh's world (both daemons decide every message) with
# relay mode (t-milter-outbound.sh's mw_relay_setup: routing "relay", the gateway
# gateway.test:10025 with TLS and AUTH), relay_spool_threshold 64 KiB, and as
# relay_spool_dir a 1 MB tmpfs that exists only in the milter's own mount namespace
# (unshare --mount: it goes when the milter goes, whatever happens to the test; the test
# fills and frees it with nsenter).
#
# usage: t-fault-spool.sh TLSMAPS [EXAMPLES_DIR]
#        (FTLS_MILTER and FTLS_POLICYD in the environment: the programs under test)
#
# Proves, with load f (12 flagged "[encrypt]" messages of 450 kB in 12 parallel sessions,
# to forced-plain.test and open-plain.test: each is larger than the threshold, so it needs the spool) and load
# u (15 unflagged small messages to forced-tls.test, open-tls.test, cidr.test) at once:
#   - free space below 4 x the threshold: every flagged message gets 451 4.4.0 at the
#     end of DATA ("file system nearly full" in the milter's log), the client retries;
#     the gateway gets nothing and Postfix keeps nothing of them;
#   - free space above the reserve but less than a message: the write fails (ENOSPC,
#     "No space left on device"): 451 4.4.0 again, nothing half-sent to the gateway;
#   - meanwhile unflagged mail is not held up: load u is accepted and delivered
#     (forced over TLS, X-TLSLevel as the table says): ROW fault-spool-unflagged;
#   - once the space is freed, every flagged message reaches the gateway, over TLS,
#     once, with one X-TLSLevel (Require for forced-plain.test), and no spool file is
#     left: ROW fault-spool (lost=0 forced_clear=0, every message tempfailed first).
set -u
. "$(dirname "$0")/lib-fault.sh"
FTLS_TLSMAPS=${FTLS_TLSMAPS:-$1}
EXAMPLES=${2:-${FTLS_EXAMPLES:-}}
NF=12
NU=15
SIZE=450000
SPOOL_KB=1024
MILTER_BIN=${FTLS_MILTER:-}
for t in unshare nsenter; do command -v $t >/dev/null || e2e_skip "$t not installed (util-linux)"; done

fw_world_hook() {
	local real=$FTLS_MILTER
	mw_relay_setup '[ "gateway.test:10025" ]'
	mw_conf_set "$W/forcetls.conf" milter relay_spool_threshold 65536 ||
		e2e_fail "examples/forcetls.conf: no relay_spool_threshold"
	chmod 644 "$W/forcetls.conf"
	# The milter in a mount namespace of its own, with a tmpfs over $W/spool there.
	cat >"$W/milter-spool" <<EOF
#!/bin/sh
# forcetls-milter with its relay spool on a ${SPOOL_KB} kB tmpfs in a private mount namespace
exec unshare --mount --propagation private sh -c 'mount -t tmpfs -o size=${SPOOL_KB}k,mode=0700,uid=$(id -u nobody) ftls-spool "\$0" && exec "\$@"' "$W/spool" "$real" "\$@"
EOF
	chmod 755 "$W/milter-spool"
	FTLS_MILTER=$W/milter-spool
}
fw_world fault-spool
# in the milter's mount namespace
spool_ns() { nsenter -t "$(e2e_pid milter)" -m -- "$@"; }
[ "$(spool_ns stat -f -c %T "$W/spool")" = tmpfs ] || e2e_fail "the milter's spool is not the tmpfs"
[ "$(stat -f -c %T "$W/spool")" != tmpfs ] || e2e_fail "the tmpfs is visible outside the milter's namespace"
# spool_fill FREE_KB: a fill file that leaves about FREE_KB free on the tmpfs
spool_fill() {
	spool_ns rm -f "$W/spool/fill"
	spool_ns dd if=/dev/zero of="$W/spool/fill" bs=4k count=$(((SPOOL_KB - $1) / 4)) 2>/dev/null
	e2e_log "spool: $(spool_ns df -k --output=avail "$W/spool" | tail -1 | tr -d ' ') kB free"
}
said_count() { grep -c -- "$1" "$W/milter.log"; }
said_more() { [ "$(said_count "$1")" -ge "$2" ]; }
gw_has_none() { [ "$(e2e_rx_count "$MW_GW")" -eq 0 ] || e2e_fail "$1: the gateway got $(e2e_rx_count "$MW_GW") message(s)"; }

# Flagged mail goes to the gateway whatever its recipient; the rest to its MX.
GW=${MW_GW/:/_}
FW_ROUTES=(forced-plain.test="$GW" open-plain.test="$GW" forced-tls.test=127.0.0.3_25
	open-tls.test=127.0.0.3_25 "cidr.test=${FW_CIDR_ADDR}_25")

# 1. Less than 4 x the threshold free: the reserve check defers.
spool_fill 128
fw_load f $NF --conns $NF --size $SIZE --subject "[encrypt] spool" --deadline 170 \
	--rcpt f@forced-plain.test --rcpt o@open-plain.test
fw_load u $NU --conns 2 --rcpt t@forced-tls.test --rcpt o@open-tls.test --rcpt c@cidr.test
e2e_wait_until 60 said_more 'relay=failed why=.*file system nearly full.*result=defer' $((2 * NF)) ||
	e2e_fail "no 'file system nearly full' deferrals in the milter's log"
fw_load_wait u 90 || e2e_fail "the unflagged load did not finish while the spool was full"
gw_has_none "spool nearly full"

# 2. More than the reserve free, less than a message: the write fails (ENOSPC).
n=$(said_count 'No space left on device')
spool_fill 288
e2e_wait_until 60 said_more 'relay=failed why=.*cannot write the spool file: No space left on device result=defer' $((n + 4)) ||
	e2e_fail "no ENOSPC deferrals in the milter's log"
gw_has_none "spool without room for a message"
[ -z "$(spool_ns find "$W/spool" -mindepth 1 ! -name fill)" ] || e2e_fail "spool files left: $(spool_ns ls -A "$W/spool")"

# 3. Space back: everything arrives.
spool_ns rm -f "$W/spool/fill"
e2e_log "spool freed"
fw_load_wait f 180 || e2e_fail "the flagged load did not finish"
fw_settle 90 --expect-queued none.invalid || e2e_log "not settled after 90 s (fw_count says what is missing)"
fw_count u fault-spool-unflagged || e2e_fail "ROW fault-spool-unflagged: lost, unmarked or in clear"
[ "$(fw_row_get delivered_tls)" -eq $NU ] || e2e_fail "unflagged: $(fw_row_get delivered_tls) delivered over TLS, expected $NU"
fw_count f fault-spool || e2e_fail "ROW fault-spool: lost, unmarked, misrouted or in clear"
[ "$(fw_row_get tempfailed)" -eq $NF ] || e2e_fail "only $(fw_row_get tempfailed) of $NF flagged messages got a 4xx while the spool was full"
[ "$(fw_row_get gateway)" -eq $NF ] && [ "$(fw_row_get dup)" -eq 0 ] ||
	e2e_fail "the gateway got $(fw_row_get gateway) flagged messages (dup $(fw_row_get dup)), expected $NF once each"
grep -q '"replies": \[[^]]*data 451 4\.4\.0 ' "$FW_DIR/f.jsonl" || e2e_fail "no 451 4.4.0 at DATA in the clients' replies"
mw_milter_said "relay=sent .*size=[0-9]{6} spooled=yes" || e2e_fail "milter.log: no spooled hand-off"
[ -z "$(spool_ns ls -A "$W/spool")" ] || e2e_fail "files left in the spool: $(spool_ns ls -A "$W/spool")"
FTLS_MILTER=$MILTER_BIN # mw_finish looks for a sanitizer build in the binary
mw_finish
