#!/bin/bash
# t-policyd-robust.sh - forcetls-policyd under abuse, with a real Postfix using it on
# UNIX sockets (the example's lines with our socket paths): garbage on both sockets,
# then a broken table and a good table reloaded with SIGHUP.
#
# usage: t-policyd-robust.sh TLSMAPS [EXAMPLES_DIR]   (FTLS_POLICYD: the daemon)
#
# Proves:
#   - the sockets are created for the daemon's user with group postfix, mode 0660, and
#     Postfix (smtp and smtpd as user postfix) uses them;
#   - garbage on the socketmap socket (not a netstring, a huge length, binary bytes, a
#     request cut off, a netstring that is not NAME KEY, an unknown map name, a key
#     with control bytes) gets TEMP/PERM replies or a closed connection, never OK or
#     NOTFOUND; a connection with a well-framed bad request still answers the next one;
#   - garbage on the policy socket gets "action=451 4.3.5 ..." (a temporary refusal);
#   - afterwards the daemon still runs, and Postfix's mail is still decided right
#     (forced: deferred 4.7.4; forced client in clear: 450; the rest delivered);
#   - a broken table on SIGHUP: the daemon logs FILE:LINE, keeps running, and the old
#     decisions still apply to new mail (outbound and inbound);
#   - a good table on SIGHUP changes a decision: the deferred message leaves.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-policyd.sh"
TLSMAPS=${1:?usage: t-policyd-robust.sh TLSMAPS [EXAMPLES_DIR]}
EXAMPLES=${2:-${FTLS_EXAMPLES:-$E2E_LIB_DIR/../../examples}}
POLICYD=${FTLS_POLICYD:-$(dirname "$TLSMAPS")/../../policyd/forcetls-policyd}
[ -x "$POLICYD" ] || e2e_skip "forcetls-policyd not built ($POLICYD)"

e2e_setup policyd-robust
W=$E2E_WORK
SM_SOCK=$W/policyd/socketmap.sock
POL_SOCK=$W/policyd/policy.sock
mkdir -p "$W/policyd"
chmod 755 "$W/policyd"


# raw SOCKET TERMINATOR STEP...: one connection to a UNIX socket in the netns; for each
# STEP, send it and print the reply (Python repr) once it ends with TERMINATOR, or
# "EOF" / "TIMEOUT". A STEP is "ns:TEXT" (TEXT as a netstring), "rand:N" (N random
# bytes after \xff), "partial:LITERAL" (sent, no reply awaited), "close" (hang up), or
# a Python bytes literal.
cat >"$W/raw.py" <<'EOF'
import ast, os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(10)
term = ast.literal_eval(sys.argv[2])
for step in sys.argv[3:]:
    if step == "close":
        s.close()
        print("CLOSED")
        sys.exit(0)
    if step.startswith("partial:"):  # send, do not wait for a reply
        s.sendall(ast.literal_eval(step[8:]))
        continue
    if step.startswith("ns:"):
        t = step[3:].encode("utf-8", "surrogateescape")
        data = b"%d:%s," % (len(t), t)
    elif step.startswith("rand:"):
        data = b"\xff" + os.urandom(int(step[5:]))
    else:
        data = ast.literal_eval(step)
    try:
        s.sendall(data)
    except OSError as e:
        print("SENDERR %s" % e)
        sys.exit(0)
    buf = b""
    try:
        while not buf.endswith(term):
            d = s.recv(65536)
            if not d:
                if buf:
                    print(repr(buf))
                print("EOF")
                sys.exit(0)
            buf += d
    except socket.timeout:
        if buf:
            print(repr(buf))
        print("TIMEOUT")
        sys.exit(0)
    print(repr(buf))
EOF
raw() { e2e_ns timeout 30 "$E2E_PY" "$W/raw.py" "$@"; }
# expect_raw NAME ERE... : the lines of $W/raw-NAME.out match the EREs, in order, one each.
expect_raw() {
	local name=$1 i=1 re
	shift
	for re in "$@"; do
		sed -n "${i}p" "$W/raw-$name.out" | grep -Eq -- "$re" ||
			e2e_fail "$name: reply $i is '$(sed -n "${i}p" "$W/raw-$name.out")', expected /$re/"
		i=$((i + 1))
	done
	e2e_log "$name: $(tr '\n' ' ' <"$W/raw-$name.out")"
}

cat >"$W/forced-tls.table" <<'EOF'
# forced-TLS table of t-policyd-robust.sh (first version)
forced.test                         encrypt
flip.test                           encrypt
127.0.0.64/28                       encrypt direction=in
EOF
cat >"$W/forcetls.conf" <<'EOF'
policyd = {
  user = "nobody";
  state_file = ""; # never /var/lib/forcetls
  internal_networks = [ "127.0.0.1" ]; # the test clients are 127.0.0.x too
  socket_group = "postfix";
  socket_mode = "0660";
  dns_servers = "127.0.0.1:53";
  log_lookups = true;
  watch_table = false;
};
EOF
chmod 644 "$W/forced-tls.table" "$W/forcetls.conf"

e2e_dns --host-record=mx.plain.test,127.0.0.2 --host-record=mx.tls.test,127.0.0.3 \
	--mx-host=forced.test,mx.plain.test,10 --mx-host=flip.test,mx.plain.test,10 \
	--mx-host=open.test,mx.tls.test,10
RX_PLAIN=127.0.0.2:25
RX_TLS=127.0.0.3:25
e2e_receiver 127.0.0.2 25 --plain --name mx.plain.test
e2e_receiver 127.0.0.3 25 --starttls --name mx.tls.test

e2e_spawn policyd "$POLICYD" --foreground --config "$W/forcetls.conf" --table "$W/forced-tls.table" \
	--socketmap-listen "unix:$SM_SOCK" --policy-listen "unix:$POL_SOCK"
e2e_wait_until 10 test -S "$SM_SOCK" -a -S "$POL_SOCK" || e2e_fail "forcetls-policyd: no sockets"
policyd_wait_log 'ready: ' 10 || e2e_fail "forcetls-policyd did not log ready"
for s in "$SM_SOCK" "$POL_SOCK"; do
	[ "$(stat -c '%U:%G %a' "$s")" = "nobody:postfix 660" ] ||
		e2e_fail "$s: $(stat -c '%U:%G %a' "$s"), expected nobody:postfix 660"
done

mapfile -t lines < <(policyd_cf_lines "$EXAMPLES/postfix/main.cf.policyd" "unix:$SM_SOCK" "unix:$POL_SOCK")
printf '%s\n' "${lines[@]}" | grep -q "^smtp_tls_policy_maps = socketmap:unix:$SM_SOCK:" ||
	e2e_fail "main.cf.policyd: the socketmap address is not inet:127.0.0.1:10028"
printf '%s\n' "${lines[@]}" | grep -q "check_policy_service unix:$POL_SOCK," ||
	e2e_fail "main.cf.policyd: the policy address is not inet:127.0.0.1:10029"
MAP=$(printf '%s\n' "${lines[@]}" | sed -n 's/^smtp_tls_policy_maps = socketmap:.*:\([a-z-]*\)$/\1/p')
e2e_postfix "${lines[@]}"

# --- garbage on the socketmap socket ------------------------------------------------------
NOT_OK="^b['\"][0-9]+:(TEMP|PERM) " # never OK or NOTFOUND for garbage
raw "$SM_SOCK" "b','" "b'GET / HTTP/1.0\\r\\n\\r\\n'" "ns:$MAP forced.test" >"$W/raw-sm-http.out"
expect_raw sm-http "$NOT_OK" '^EOF$|^SENDERR'
raw "$SM_SOCK" "b','" "b'99999999999999999999999:$MAP forced.test,'" "ns:$MAP forced.test" >"$W/raw-sm-huge.out"
expect_raw sm-huge "$NOT_OK" '^EOF$|^SENDERR'
raw "$SM_SOCK" "b','" "rand:70000" "ns:$MAP forced.test" >"$W/raw-sm-rand.out"
expect_raw sm-rand "$NOT_OK|^EOF$|^SENDERR" '^EOF$|^SENDERR|^b.*$'
# Well framed but wrong: the connection stays usable.
raw "$SM_SOCK" "b','" "ns:hello" "ns:nosuchmap forced.test" "ns:$MAP evil"$'\x01\x7f'".test" \
	"ns:$MAP [unclosed.test" "ns:$MAP forced.test" "ns:$MAP open.test" >"$W/raw-sm-framed.out"
expect_raw sm-framed "^b'[0-9]+:TEMP malformed request,'" "^b'[0-9]+:TEMP unknown map name,'" \
	"$NOT_OK" "$NOT_OK" "^b'10:OK encrypt,'$" "^b'9:NOTFOUND ,'$"
raw "$SM_SOCK" "b','" "partial:b'100:$MAP forced'" close >"$W/raw-sm-cut.out"
expect_raw sm-cut '^CLOSED$'
e2e_running policyd || e2e_fail "forcetls-policyd died on socketmap garbage"
grep -q $'\x01' "$W/policyd.log" && e2e_fail "policyd.log holds a raw control byte from a request"

# --- garbage on the policy socket -----------------------------------------------------------
GOOD_REQ='request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=127.0.0.66\nclient_name=unknown\nsender=x@elsewhere.test\nencryption_protocol=\nencryption_keysize=0\n\n'
TEMP_ACTION="^b'action=451 4\\.3\\.5 [^']*\\\\n\\\\n'$"
raw "$POL_SOCK" "b'\\n\\n'" "b'no equals sign here\\n\\n'" "b'\\x00\\xff\\xfe=\\x01\\n\\n'" \
	"b'client_address=127.0.0.66\\n\\n'" "b'$GOOD_REQ'" >"$W/raw-pol-lines.out"
expect_raw pol-lines "$TEMP_ACTION" "$TEMP_ACTION" "$TEMP_ACTION" "^b'action=450 4\\.7\\.0 TLS is required"
raw "$POL_SOCK" "b'\\n\\n'" "rand:70000" "b'$GOOD_REQ'" >"$W/raw-pol-rand.out"
expect_raw pol-rand "$TEMP_ACTION|^EOF$|^SENDERR" '^EOF$|^SENDERR|action=4'
raw "$POL_SOCK" "b'\\n\\n'" "partial:b'request=smtpd_access_policy\\nclient_addr'" close >"$W/raw-pol-cut.out"
expect_raw pol-cut '^CLOSED$'
e2e_running policyd || e2e_fail "forcetls-policyd died on policy garbage"
e2e_signal policyd USR2
policyd_wait_log 'stats: .* malformed=[1-9]' 5 || e2e_fail "the daemon counted no malformed requests"

# --- normal service afterwards: Postfix's mail decided right -------------------------------
F=sender@client.e2e.test
for r in a@forced.test b@flip.test c@open.test; do
	e2e_send "$F" $r || e2e_fail "Postfix did not accept $r"
done
e2e_send partner@elsewhere.test d@open.test --local-interface 127.0.0.66
rc=$?
[ $rc -eq 24 ] && e2e_swaks_reply '^450 4\.7\.0' || e2e_fail "forced client in clear after garbage: swaks exit $rc, not 450"
e2e_wait_deferred a@forced.test 30 '4\.7\.4' || e2e_fail "forced.test not deferred 4.7.4 after garbage"
e2e_wait_deferred b@flip.test 30 '4\.7\.4' || e2e_fail "flip.test not deferred 4.7.4 after garbage"
e2e_wait_delivered $RX_TLS 1 30 || e2e_fail "open.test not delivered after garbage"
e2e_assert_tls $RX_TLS c@open.test || e2e_fail "open.test not over TLS"

# --- a broken table on SIGHUP: refused, FILE:LINE logged, old decisions stay ----------------
T=$W/forced-tls.table
cat >"$T.new" <<'EOF'
# forced-TLS table of t-policyd-robust.sh (broken: line 4)
forced.test                         encrypt
flip.test                           may
bad..domain.test                    encrypt
127.0.0.64/28                       encrypt direction=in
EOF
chmod 644 "$T.new"
mv "$T.new" "$T"
e2e_signal policyd HUP
policyd_wait_log "reload \(SIGHUP\): refused: .*; keeping $T, " 10 ||
	e2e_fail "the broken table was not refused"
grep -Eq "$T:4: " "$W/policyd.log" || e2e_fail "policyd.log does not name $T:4"
e2e_log "broken table: $(grep -E "$T:4: " "$W/policyd.log" | tail -1)"
e2e_running policyd || e2e_fail "forcetls-policyd died on a broken table"
e2e_send "$F" e@flip.test || e2e_fail "Postfix did not accept e@flip.test"
e2e_wait_deferred e@flip.test 30 '4\.7\.4' || e2e_fail "flip.test not deferred 4.7.4 with the old table kept"
e2e_send partner@elsewhere.test f@open.test --local-interface 127.0.0.66
rc=$?
[ $rc -eq 24 ] && e2e_swaks_reply '^450 4\.7\.0' || e2e_fail "forced client in clear after the broken reload: swaks exit $rc"
e2e_flush
e2e_wait_retried b@flip.test 3 20 || e2e_fail "flip.test not retried"
[ "$(e2e_rx_count $RX_PLAIN)" -eq 0 ] || e2e_fail "mail left in clear while the old table should apply"

# --- a good table on SIGHUP: flip.test becomes may, its mail leaves ------------------------
cat >"$T.new" <<'EOF'
# forced-TLS table of t-policyd-robust.sh (second version)
forced.test                         encrypt
flip.test                           may
127.0.0.64/28                       encrypt direction=in
EOF
chmod 644 "$T.new"
mv "$T.new" "$T"
e2e_signal policyd HUP
policyd_wait_log "reload \(SIGHUP\): ok $T, 3 entries" 10 || e2e_fail "the good table was not loaded"
e2e_flush
e2e_wait_delivered $RX_PLAIN 2 30 || e2e_fail "flip.test not delivered after the good reload"
e2e_assert_plain $RX_PLAIN b@flip.test || e2e_fail "b@flip.test not delivered"
e2e_assert_plain $RX_PLAIN e@flip.test || e2e_fail "e@flip.test not delivered"
policyd_wait_log "lookup flip\.test \(forcetls\): may \($T:3 flip\.test\)" 5 || e2e_fail "policyd.log: flip.test not may"
e2e_flush
e2e_wait_retried a@forced.test 4 20 || e2e_fail "forced.test not retried"
e2e_wait_until 10 e2e_queue_has a@forced.test || e2e_fail "a@forced.test left the queue"
[ "$(e2e_queue_count)" -eq 1 ] || e2e_fail "queue holds $(e2e_queue_count) messages, expected 1"
[ -z "$(e2e_rx_file $RX_PLAIN a@forced.test)" ] || e2e_fail "forced.test delivered in clear"
e2e_running policyd || e2e_fail "forcetls-policyd is no longer running"
policyd_stop
e2e_pass
