#!/bin/bash
# t-fault-fds.sh - fault matrix (issue 11), resources: file descriptor exhaustion in
# forcetls-policyd, in lib-fault.sh's world (both daemons decide every message). The
# policy daemon runs under RLIMIT_NOFILE 100:100 (prlimit, soft and hard: fdbudget.c
# cannot raise it), with its policy socket on too ($W/policy.sock; the world's Postfix
# uses only the socketmap). fdbudget.c then lets each listener hold its share of the
# limit less the reserve kept for DNS and table reads (50 / 2 = 25 connections).
#
# usage: t-fault-fds.sh TLSMAPS [EXAMPLES_DIR]
#        (FTLS_MILTER and FTLS_POLICYD in the environment: the programs under test)
#
# Proves, with 70 raw clients on each socket, held open and idle:
#   - the first 25 on each socket get correct answers (socketmap: OK encrypt for
#     forced-plain.test, NOTFOUND for open-plain.test, OK encrypt for cidr.test, which
#     needs DNS: the reserve works; policy: 450 for a clear client of the forced range,
#     DUNNO for an internal one); every other is closed at once: no reply at all, never
#     a wrong one; the daemon logs the lowered cap ("RLIMIT_NOFILE is 100") for each;
#   - 10 s later the held connections are still served, correctly;
#   - Postfix mail sent meanwhile (load b) is accepted and deferred while its socketmap
#     connections are refused ("lookup error"): nothing delivered, nothing in clear; once the clients go, new connections are served
#     again and load b is delivered as the table says (forced over TLS, marked,
#     forced-plain.test kept queued): ROW fault-fds;
#   - the daemon did not crash and did not run out of descriptors (no EMFILE logged).
set -u
. "$(dirname "$0")/lib-fault.sh"
FTLS_TLSMAPS=${FTLS_TLSMAPS:-$1}
EXAMPLES=${2:-${FTLS_EXAMPLES:-}}
NOFILE=100
M=70 # clients per socket
N=50 # messages of load b
command -v prlimit >/dev/null || e2e_skip "prlimit not installed (util-linux)"

fw_world_hook() {
	local real=$FTLS_POLICYD
	POL_SOCK=$W/policy.sock
	# the daemon as the world starts it, under the limit, with its policy socket on
	cat >"$W/policyd-nofile" <<EOF
#!/bin/bash
# forcetls-policyd under RLIMIT_NOFILE $NOFILE:$NOFILE, with the policy socket $POL_SOCK
a=()
while [ \$# -gt 0 ]; do
	if [ "\$1" = --policy-listen ]; then a+=(--policy-listen "unix:$POL_SOCK"); shift 2; else a+=("\$1"); shift; fi
done
exec prlimit --nofile=$NOFILE:$NOFILE -- "$real" "\${a[@]}"
EOF
	chmod 755 "$W/policyd-nofile"
	FTLS_POLICYD=$W/policyd-nofile
	# Postfix's smtp(8) processes keep their socketmap connection while they live: idle
	# ones exit after 5 s, not 100, and free their slots (step 3)
	MW_CF+=("max_idle = 5s")
}
POLICYD_BIN=${FTLS_POLICYD:-}
fw_world fault-fds
e2e_wait_until 10 test -S "$W/policy.sock" || e2e_fail "forcetls-policyd: no policy socket"
grep -Eq "^Max open files +$NOFILE +$NOFILE " "/proc/$(e2e_pid policyd)/limits" ||
	e2e_fail "forcetls-policyd does not run under RLIMIT_NOFILE $NOFILE"

# fds.py SOCKETMAP POLICY M DIR: M connections to each socket, one request on each
# (round 1, DIR/r1.json); once DIR/go exists, again on those that answered (r2.json);
# once DIR/stop exists, all closed. Each connection's result: ok (the expected reply),
# closed (EOF or reset before any reply) or "wrong: REPLY".
cat >"$W/fds.py" <<'PYEOF'
import json, os, socket, sys, time
sm_path, pol_path, m, d = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def ns(t):
    t = t.encode()
    return b"%d:%s," % (len(t), t)
def pol(addr, tls):
    return ("request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=%s\n"
            "client_name=unknown\nsender=a@elsewhere.test\nrecipient=b@corp.e2e.test\n"
            "encryption_protocol=%s\nencryption_keysize=0\n\n" % (addr, tls)).encode()
SM = [(ns("forcetls forced-plain.test"), b"10:OK encrypt,"),
      (ns("forcetls open-plain.test"), b"9:NOTFOUND ,"),
      (ns("forcetls cidr.test"), b"10:OK encrypt,")]
POL = [(pol("198.51.100.7", ""), b"action=450 4.7.0 TLS is required for this session\n\n"),
       (pol("127.0.0.66", ""), b"action=DUNNO\n\n")]
conns = []
for name, path, reqs, term in (("socketmap", sm_path, SM, b","), ("policy", pol_path, POL, b"\n\n")):
    for i in range(m):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(15)
        try:
            s.connect(path)
        except OSError:
            s = None
        conns.append({"name": name, "s": s, "req": reqs[i % len(reqs)], "term": term})
def ask(c):
    req, want = c["req"]
    if c["s"] is None:
        return "closed"
    try:
        c["s"].sendall(req)
        buf = b""
        while not buf.endswith(c["term"]):
            x = c["s"].recv(4096)
            if not x:
                break
            buf += x
    except socket.timeout:
        return "wrong: no reply in 15 s"
    except OSError:
        buf = b""
    if buf == want:
        return "ok"
    return "closed" if buf == b"" else "wrong: %r" % buf
def rnd(name, only_ok):
    out = {}
    for c in conns:
        if only_ok and c.get("r") != "ok":
            continue
        c["r"] = r = ask(c)
        k = "%s %s" % (c["name"], r)
        out[k] = out.get(k, 0) + 1
    with open(os.path.join(d, name + ".tmp"), "w") as f:
        json.dump(out, f, sort_keys=True)
    os.rename(os.path.join(d, name + ".tmp"), os.path.join(d, name))
def wait_for(name):
    t = time.time() + 300
    while not os.path.exists(os.path.join(d, name)) and time.time() < t:
        time.sleep(0.2)
rnd("r1.json", False)
wait_for("go")
rnd("r2.json", True)
wait_for("stop")
for c in conns:
    if c["s"] is not None:
        c["s"].close()
PYEOF
FD=$W/fds
mkdir -p "$FD"
"$E2E_PY" "$W/fds.py" "$MW_POLICYD_SOCK" "$W/policy.sock" $M "$FD" >"$FD/fds.log" 2>&1 &
FDS_PID=$!
# r COUNTS_FILE KEY: a count from a round's result (0 when absent)
r() { "$E2E_PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], 0))' "$@"; }
wrong() { grep -q wrong "$1"; }

# 1. The flood: each listener holds its share, the rest is closed, nothing answered wrong.
e2e_wait_until 60 test -s "$FD/r1.json" || e2e_fail "the raw clients did not finish round 1: $(cat "$FD/fds.log")"
e2e_log "round 1: $(cat "$FD/r1.json")"
wrong "$FD/r1.json" && e2e_fail "a wrong answer under descriptor pressure"
for s in socketmap policy; do
	policyd_wait_log "$s: [0-9]+ connections already \(max_connections [0-9]+, lowered: RLIMIT_NOFILE is $NOFILE; raise LimitNOFILE\); closing a new one" 10 ||
		e2e_fail "policyd did not log the lowered cap on its $s listener"
done
CAP=$(sed -nE 's/.*socketmap: ([0-9]+) connections already .*/\1/p' "$W/policyd.log" | head -1)
for k in socketmap policy; do
	ok=$(r "$FD/r1.json" "$k ok") closed=$(r "$FD/r1.json" "$k closed")
	[ "$ok" -eq "$CAP" ] && [ "$closed" -eq $((M - CAP)) ] ||
		e2e_fail "$k: $ok served and $closed closed, expected $CAP and $((M - CAP))"
done

# 2. Mail through Postfix while every connection is held.
fw_load b $N --deadline 150
sleep 10
e2e_log_grep 'socketmap' | tail -2 | sed 's/^/    /' >&2
n=$(e2e_log_count 'status=deferred')
e2e_log "deferred while flooded: $n deliveries"
[ "$n" -gt 0 ] && e2e_log_grep 'socketmap:unix:.*lookup error' >/dev/null ||
	e2e_fail "no delivery deferred on a socketmap lookup error while every connection was held"
for rx in $MW_GW $MW_RX_PLAIN $MW_RX_TLS $FW_CIDR_ADDR:25; do
	[ "$(e2e_rx_count "$rx")" -eq 0 ] || e2e_fail "$rx got mail while policyd refused Postfix's connections"
done
touch "$FD/go"
e2e_wait_until 60 test -s "$FD/r2.json" || e2e_fail "the held clients did not finish round 2"
e2e_log "round 2 (held connections, 10 s later): $(cat "$FD/r2.json")"
wrong "$FD/r2.json" && e2e_fail "a held connection got a wrong answer"
for k in socketmap policy; do
	[ "$(r "$FD/r2.json" "$k ok")" -eq "$CAP" ] || e2e_fail "$k: a held connection is not served any more"
done
e2e_running policyd || e2e_fail "forcetls-policyd died under descriptor pressure"

# 3. The clients go: new connections are served, the mail is decided right. Postfix's
# smtp(8) processes, refused during the flood, reconnect as soon as slots are free and
# may hold all CAP socketmap slots until they exit (max_idle): a round that finds none
# left is tried again, up to 6 rounds 5 s apart. The policy socket has no other client.
touch "$FD/stop"
e2e_wait_until 20 e2e__gone $FDS_PID || e2e_fail "the raw clients did not end"
served=0
for round in 1 2 3 4 5 6; do
	rm -f "$FD/go" "$FD/stop" "$FD/r1.json" "$FD/r2.json"
	"$E2E_PY" "$W/fds.py" "$MW_POLICYD_SOCK" "$W/policy.sock" 6 "$FD" >>"$FD/fds.log" 2>&1 &
	FDS_PID=$!
	e2e_wait_until 60 test -s "$FD/r1.json" || e2e_fail "no new round after the flood"
	touch "$FD/go" "$FD/stop"
	e2e_wait_until 20 e2e__gone $FDS_PID || e2e_fail "the raw clients did not end"
	e2e_log "after the flood, round $round: $(cat "$FD/r1.json")"
	wrong "$FD/r1.json" && e2e_fail "after the flood: a wrong answer"
	[ "$(r "$FD/r1.json" "policy ok")" -eq 6 ] || e2e_fail "policy: new connections not served after the flood"
	if [ "$(r "$FD/r1.json" "socketmap ok")" -eq 6 ]; then served=1; break; fi
	sleep 5
done
[ $served = 1 ] || e2e_fail "socketmap: new connections not served in 6 rounds after the flood"
fw_load_wait b 180 || e2e_fail "load b did not finish"
fw_settle 120 || e2e_log "not settled after 120 s (fw_count says what is missing)"
fw_count b fault-fds || e2e_fail "ROW fault-fds: a message lost, unmarked or forced in clear"
[ "$(fw_row_get queued)" -eq $((N / 5)) ] || e2e_fail "queued $(fw_row_get queued), expected the $((N / 5)) forced-plain.test messages"
grep -E 'accept: (Too many open files|Cannot allocate)' "$W/policyd.log" &&
	e2e_fail "policyd ran out of descriptors (accept failed)"
FTLS_POLICYD=$POLICYD_BIN # mw_finish looks for a sanitizer build in the binary
mw_finish
