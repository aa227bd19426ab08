#!/bin/bash
# tests/probe/run-probe.sh TLSMAPS [WORKPARENT] - tlsmaps probe against real SMTP servers.
#
# Creates a network namespace ftls-probe-PID (lo up, /etc/netns/NS/resolv.conf pointing at
# a dnsmasq on 127.0.0.1:53 that serves the MX and A records below), starts the servers of
# probe-servers.py on loopback addresses in it, and runs "tlsmaps probe" on one small table
# per case, checking the exit status and the report. Everything is removed by the EXIT
# trap; KEEP=1 keeps the work folder. Exit 0 passed, 1 failed, 77 skipped (not root, or
# no usable network namespaces).
#
#   127.0.0.11  mx.tls.probe.test        STARTTLS, certificate for mx.tls.probe.test (:25, :2526)
#   127.0.0.12  mx.plain.probe.test      no STARTTLS
#   127.0.0.13  mx.wrongname.probe.test  STARTTLS, certificate for other.example
#   127.0.0.14  mx.weak.probe.test       STARTTLS, TLS 1.2 and AES128-GCM-SHA256 only
#   127.0.0.15  mx.silent.probe.test     accepts, never answers
#   127.0.0.16  mx.refused.probe.test    nothing listens
#   127.0.0.17  mx.trickle.probe.test    banner one byte a second
#   127.0.0.18  mx.longline.probe.test   multi-line banner, 10000-byte EHLO line
#   127.0.0.19  mx.refuse.probe.test     offers STARTTLS, answers it 454
set -u
TLSMAPS=${1:?usage: run-probe.sh TLSMAPS [WORKPARENT]}
WORKPARENT=${2:-/tmp}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
PATH=$PATH:/usr/sbin:/sbin
NS=
WORK=
FAILS=0
CASES=0

skip() {
	echo "SKIP: $*" >&2
	exit 77
}
die() {
	echo "FAIL: $*" >&2
	exit 1
}

cleanup() {
	local rc=$? i pids
	trap - EXIT INT TERM HUP
	set +e
	if [ -n "$NS" ]; then
		for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
			pids=$(ip netns pids "$NS" 2>/dev/null)
			[ -z "$pids" ] && break
			# shellcheck disable=SC2086
			if [ $i -lt 8 ]; then kill $pids 2>/dev/null; else kill -9 $pids 2>/dev/null; fi
			sleep 0.2
		done
		ip netns del "$NS" 2>/dev/null
		rm -rf "/etc/netns/$NS"
	fi
	if [ -n "$WORK" ]; then
		if [ "${KEEP:-0}" = 1 ]; then echo "KEEP=1: $WORK" >&2; else rm -rf "$WORK"; fi
	fi
	exit $rc
}

[ "$(id -u)" -eq 0 ] || skip "needs root (ip netns)"
command -v ip >/dev/null || skip "ip (iproute2) not installed"
[ -x "$TLSMAPS" ] || die "$TLSMAPS: not an executable"
for tool in dnsmasq openssl timeout; do
	command -v $tool >/dev/null || die "$tool not installed: run scripts/install-deps"
done
"$PY" -c 'import aiosmtpd' 2>/dev/null || die "$PY cannot import aiosmtpd (python3-aiosmtpd)"

NS=ftls-probe-$$
ip netns add "$NS" 2>/dev/null || {
	NS=
	skip "ip netns add failed: network namespaces are not usable here"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
ip -n "$NS" link set lo up || skip "cannot bring lo up in a network namespace"
mkdir -p "/etc/netns/$NS"
printf 'nameserver 127.0.0.1\noptions timeout:2 attempts:1\n' >"/etc/netns/$NS/resolv.conf"
WORK=$(mktemp -d "$WORKPARENT/ftls-probe-XXXXXX") || die "mktemp"
ns() { ip netns exec "$NS" "$@"; }

# --- certificates ----------------------------------------------------------------------
ossl() { timeout 30 openssl "$@" >>"$WORK/openssl.log" 2>&1 || die "openssl $1 failed (see $WORK/openssl.log)"; }
ossl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/ca.key" -out "$WORK/ca.pem" -days 2 \
	-subj "/CN=forcetls probe test CA" -addext basicConstraints=critical,CA:TRUE \
	-addext keyUsage=critical,keyCertSign,cRLSign
cert() { # cert NAME DNSNAME
	ossl req -new -newkey rsa:2048 -nodes -keyout "$WORK/$1.key" -out "$WORK/$1.csr" -subj "/CN=$2"
	printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:%s\n' "$2" \
		>"$WORK/$1.ext"
	ossl x509 -req -in "$WORK/$1.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" \
		-set_serial "0x$(openssl rand -hex 8)" -days 2 -out "$WORK/$1.pem" -extfile "$WORK/$1.ext"
}
cert tls mx.tls.probe.test
cert wrongname other.example
cert weak mx.weak.probe.test

# --- DNS and servers -------------------------------------------------------------------
# IPv6 on lo is optional: the v6 case runs only when ::1 exists in the namespace.
V6_SERVER=
ip -n "$NS" -6 addr show dev lo 2>/dev/null | grep -q '::1/128' && V6_SERVER="--tls ::1 25 $WORK/tls.pem $WORK/tls.key"
ns dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
	--listen-address=127.0.0.1 --bind-interfaces --port=53 --user=root --pid-file= \
	--cache-size=0 --log-facility="$WORK/dns.log" --local=/test/ \
	--mx-host=tls.probe.test,mx.tls.probe.test,10 \
	--mx-host=plain.probe.test,mx.plain.probe.test,10 \
	--mx-host=may.probe.test,mx.plain.probe.test,10 \
	--mx-host=wrongname.probe.test,mx.wrongname.probe.test,10 \
	--mx-host=weak.probe.test,mx.weak.probe.test,10 \
	--mx-host=silent.probe.test,mx.silent.probe.test,10 \
	--mx-host=refused.probe.test,mx.refused.probe.test,10 \
	--mx-host=backup.probe.test,mx.refused.probe.test,20 \
	--mx-host=backup.probe.test,mx.tls.probe.test,10 \
	--mx-host=mixed.probe.test,mx.tls.probe.test,20 \
	--mx-host=mixed.probe.test,mx.plain.probe.test,10 \
	--mx-host=hostile.probe.test,mx.trickle.probe.test,10 \
	--mx-host=hostile.probe.test,mx.longline.probe.test,20 \
	--mx-host=hostile.probe.test,mx.refuse.probe.test,30 \
	--mx-host=noaddr.probe.test,mx.nowhere.probe.test,10 \
	--host-record=mx.tls.probe.test,127.0.0.11 \
	--host-record=mx.plain.probe.test,127.0.0.12 \
	--host-record=mx.wrongname.probe.test,127.0.0.13 \
	--host-record=mx.weak.probe.test,127.0.0.14 \
	--host-record=mx.silent.probe.test,127.0.0.15 \
	--host-record=mx.refused.probe.test,127.0.0.16 \
	--host-record=mx.trickle.probe.test,127.0.0.17 \
	--host-record=mx.longline.probe.test,127.0.0.18 \
	--host-record=mx.refuse.probe.test,127.0.0.19 \
	--host-record=implicit.probe.test,127.0.0.11 \
	--mx-host=v6.probe.test,mx6.probe.test,10 \
	--host-record=mx6.probe.test,127.0.0.11,::1 \
	--server=/dnsfail.probe.test/127.0.0.54 \
	--dns-rr=nullmx.probe.test,15,000000 \
	>>"$WORK/dns.log" 2>&1 &
ns "$PY" "$HERE/probe-servers.py" --ready "$WORK/servers.ready" \
	--tls 127.0.0.11 25 "$WORK/tls.pem" "$WORK/tls.key" \
	--tls 127.0.0.11 2526 "$WORK/tls.pem" "$WORK/tls.key" \
	--plain 127.0.0.12 25 \
	--tls 127.0.0.13 25 "$WORK/wrongname.pem" "$WORK/wrongname.key" \
	--weak 127.0.0.14 25 "$WORK/weak.pem" "$WORK/weak.key" \
	--silent 127.0.0.15 25 \
	--trickle 127.0.0.17 25 \
	--longline 127.0.0.18 25 \
	--refuse 127.0.0.19 25 \
	$V6_SERVER \
	>>"$WORK/servers.log" 2>&1 &
for i in $(seq 100); do
	[ -s "$WORK/servers.ready" ] && break
	sleep 0.2
done
[ -s "$WORK/servers.ready" ] || { cat "$WORK/servers.log" >&2; die "servers did not start"; }
for i in $(seq 50); do
	ns "$PY" -c 'import socket; socket.getaddrinfo("mx.tls.probe.test", 25)' 2>/dev/null && break
	sleep 0.2
done
ns "$PY" -c 'import socket; socket.getaddrinfo("mx.tls.probe.test", 25)' 2>/dev/null ||
	{ cat "$WORK/dns.log" >&2; die "dnsmasq does not answer in $NS"; }

# --- cases -----------------------------------------------------------------------------
# probe NAME WANT_RC TABLE_TEXT [OPTION...]: run tlsmaps probe in the namespace on a table
# holding TABLE_TEXT; the report is in $OUT. Elapsed seconds in $SECS.
OUT=
SECS=0
CUR=
probe() {
	local name=$1 want=$2 text=$3 rc t0
	shift 3
	CUR=$name
	CASES=$((CASES + 1))
	printf '%s\n' "$text" >"$WORK/$name.tbl"
	OUT=$WORK/$name.out
	t0=$(date +%s)
	ns timeout 120 "$TLSMAPS" probe "$@" "$WORK/$name.tbl" >"$OUT" 2>"$WORK/$name.err"
	rc=$?
	SECS=$(($(date +%s) - t0))
	if [ "$rc" != "$want" ]; then
		bad "exit $rc, expected $want"
		return 1
	fi
	if [ -s "$WORK/$name.err" ] && grep -q -E 'Sanitizer|runtime error' "$WORK/$name.err"; then
		bad "sanitizer report"
		return 1
	fi
	echo "ok: $name (exit $rc, ${SECS}s)"
}
bad() {
	FAILS=$((FAILS + 1))
	echo "FAIL: $CUR: $*"
	sed 's/^/    | /' "$OUT" "$WORK/$CUR.err"
}
# has REGEX: the last report matches (grep -E)
has() { grep -q -E -e "$1" "$OUT" || bad "no line matches /$1/"; }
hasnt() { ! grep -q -E -e "$1" "$OUT" || bad "a line matches /$1/"; }

CA=(--CAfile "$WORK/ca.pem")

probe starttls 0 'tls.probe.test encrypt'
has '^tls\.probe\.test encrypt .*tls\.tbl:1: pass$'
has '^  mx\.tls\.probe\.test\[127\.0\.0\.11\]:25 \(MX 10\): STARTTLS offered; TLSv1\.[23] [A-Z0-9_-]+ (128|256) bits; .*; pass$'

probe plain 1 'plain.probe.test'
has '^plain\.probe\.test encrypt .*: FAIL: 1 of 1 host would fail$'
has 'mx\.plain\.probe\.test\[127\.0\.0\.12\]:25 \(MX 10\): STARTTLS not offered; FAIL: encrypt requires STARTTLS'

probe verify-ok 0 'tls.probe.test verify' "${CA[@]}"
has 'verify: ok; name match: yes \(mx\.tls\.probe\.test\); pass$'

probe verify-no-ca 1 'tls.probe.test verify'
has 'verify: (unable to get local issuer certificate|self-signed certificate in certificate chain); .*FAIL: verify: certificate not verified'

probe verify-mismatch 1 'wrongname.probe.test verify' "${CA[@]}"
has 'verify: ok; name match: no \(mx\.wrongname\.probe\.test\); FAIL: verify: name mismatch'

probe encrypt-mismatch 0 'wrongname.probe.test encrypt' "${CA[@]}"
has 'name match: no .*; pass$'

probe secure-ok 0 'tls.probe.test secure' "${CA[@]}"
has 'name match: yes \(\.tls\.probe\.test\); pass$'

probe secure-match 1 'tls.probe.test secure match=nexthop:other.test' "${CA[@]}"
has 'name match: no \(tls\.probe\.test, other\.test\); FAIL: secure: name mismatch'

probe min-bits 1 'weak.probe.test encrypt min_bits=256'
has '^weak\.probe\.test encrypt min_bits=256 .*: FAIL'
has 'TLSv1\.2 AES128-GCM-SHA256 128 bits; .*FAIL: 128 bits below min_bits=256'

probe min-bits-default 0 'weak.probe.test encrypt'
has 'TLSv1\.2 AES128-GCM-SHA256 128 bits; .*; pass$'

probe silent 1 'silent.probe.test encrypt' --timeout 2
has '^silent\.probe\.test encrypt .*: FAIL: no reachable host$'
has 'mx\.silent\.probe\.test\[127\.0\.0\.15\]:25 \(MX 10\): banner: timed out after 2 s; unreachable$'
[ "$SECS" -le 8 ] || bad "took ${SECS}s with --timeout 2"

probe may-plain 0 'may.probe.test may'
has '^may\.probe\.test may .*: pass$'
has 'STARTTLS not offered; pass: may: delivery in clear text$'

probe refused 1 'refused.probe.test'
has 'mx\.refused\.probe\.test\[127\.0\.0\.16\]:25 \(MX 10\): connect: Connection refused; unreachable$'
has ': FAIL: no reachable host$'

probe backup-mx 0 'backup.probe.test' --timeout 3
has '^  mx\.tls\.probe\.test\[127\.0\.0\.11\]:25 \(MX 10\): STARTTLS offered'
has '^  mx\.refused\.probe\.test\[127\.0\.0\.16\]:25 \(MX 20\): connect: Connection refused; unreachable$'
[ "$(grep -n 'MX 10' "$OUT" | cut -d: -f1)" -lt "$(grep -n 'MX 20' "$OUT" | cut -d: -f1)" ] ||
	bad "MX hosts not in preference order"

probe mixed-mx 1 'mixed.probe.test encrypt'
has 'mx\.plain\.probe\.test.*\(MX 10\): STARTTLS not offered; FAIL'
has 'mx\.tls\.probe\.test.*\(MX 20\): STARTTLS offered.*; pass$'

probe implicit-mx 0 'implicit.probe.test'
has '^  implicit\.probe\.test\[127\.0\.0\.11\]:25: STARTTLS offered'

probe nxdomain 1 'nx.probe.test encrypt'
has '^nx\.probe\.test encrypt .*: FAIL: MX lookup: nx\.probe\.test: domain does not exist \(NXDOMAIN\)$'

probe nxdomain-may 0 'nx.probe.test may'
has ': pass: MX lookup: .*NXDOMAIN.*\(may: no failure\)$'

probe no-address 1 'noaddr.probe.test'
has 'mx\.nowhere\.probe\.test:25 \(MX 10\): address lookup: .*; unreachable$'

probe null-mx 1 'nullmx.probe.test encrypt'
has '^nullmx\.probe\.test encrypt .*: FAIL: null MX: nullmx\.probe\.test accepts no mail$'

probe dns-failure 1 'dnsfail.probe.test encrypt' --timeout 2
has '^dnsfail\.probe\.test encrypt .*: FAIL: MX lookup: dnsfail\.probe\.test: temporary DNS failure$'

if [ -n "$V6_SERVER" ]; then
	probe ipv6 0 'v6.probe.test encrypt'
	has '^  mx6\.probe\.test\[::1\]:25 \(MX 10\): STARTTLS offered; .*; pass$'
	has '^  mx6\.probe\.test\[127\.0\.0\.11\]:25 \(MX 10\): STARTTLS offered; .*; pass$'
else
	echo "skipped: ipv6 (no ::1 in the namespace)"
fi

probe nexthop-port 0 '[mx.tls.probe.test]:2526 encrypt
[127.0.0.11]:2526 encrypt'
has '^\[mx\.tls\.probe\.test\]:2526 encrypt .*: pass$'
has '^  mx\.tls\.probe\.test\[127\.0\.0\.11\]:2526: STARTTLS offered'
has '^\[127\.0\.0\.11\]:2526 encrypt .*: pass$'
has '^  \[127\.0\.0\.11\]:2526: STARTTLS offered; .*name match: no \(127\.0\.0\.11\); pass$'

probe port-option 0 'tls.probe.test encrypt' --port 2526
has 'mx\.tls\.probe\.test\[127\.0\.0\.11\]:2526 \(MX 10\): STARTTLS offered'

FP256=$(openssl x509 -in "$WORK/tls.pem" -noout -fingerprint -sha256 | sed 's/.*=//')
FP1=$(openssl x509 -in "$WORK/tls.pem" -noout -fingerprint -sha1 | sed 's/.*=//' | tr -d : | tr A-F a-f)
probe fingerprint 0 "tls.probe.test fingerprint match=0011223344556677889900112233445566778899|$FP256"
has "fingerprint $FP256: match; pass\$"
probe fingerprint-sha1 0 "tls.probe.test fingerprint match=$FP1"
has 'fingerprint [0-9A-F:]+: match; pass$'
probe fingerprint-wrong 1 "tls.probe.test fingerprint match=${FP256//A/B}"
has 'no match; FAIL: fingerprint: no match= digest matches the certificate$'

probe hostile 1 'hostile.probe.test' --timeout 2
has 'mx\.trickle\.probe\.test\[127\.0\.0\.17\]:25 \(MX 10\): banner: timed out after 2 s; unreachable$'
has 'mx\.longline\.probe\.test\[127\.0\.0\.18\]:25 \(MX 20\): EHLO: reply line longer than 2048 bytes; unreachable$'
has 'mx\.refuse\.probe\.test\[127\.0\.0\.19\]:25 \(MX 30\): STARTTLS refused: 454 4\.7\.0 TLS not available due to local problem; FAIL: encrypt requires STARTTLS$'
[ "$SECS" -le 10 ] || bad "took ${SECS}s with --timeout 2"

probe skipped 0 '.probe.test encrypt
*.other.test verify
10.0.0.0/8 encrypt
inbound.probe.test encrypt direction=in
tls.probe.test encrypt direction=out'
has '^\.probe\.test encrypt .*skipped\.tbl:1: skipped: parent entry, no host to probe$'
has '^\.other\.test verify .*skipped\.tbl:2: skipped: parent entry, no host to probe$'
has '^10\.0\.0\.0/8 encrypt .*skipped\.tbl:3: skipped: network entry, no host to probe$'
hasnt 'inbound\.probe\.test'
has '^tls\.probe\.test encrypt .*skipped\.tbl:5: pass$'

probe json 1 'tls.probe.test verify
plain.probe.test encrypt
.probe.test encrypt' --json "${CA[@]}"
"$PY" - "$OUT" <<'PYEOF' || bad "JSON report"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 3, rows
a, b, c = rows
assert a["destination"] == "tls.probe.test" and a["level"] == "verify", a
assert a["host"] == "mx.tls.probe.test" and a["address"] == "127.0.0.11" and a["port"] == 25, a
assert a["mx_preference"] == 10 and a["starttls"] and a["tls"] and a["verified"], a
assert a["protocol"].startswith("TLSv1.") and a["bits"] >= 128 and a["cipher"], a
assert a["name_match"] and a["verify"] == "ok" and len(a["cert_sha256"]) == 95, a
assert a["result"] == "pass" and a["destination_result"] == "pass", a
assert b["starttls"] is False and b["tls"] is False and b["result"] == "fail", b
assert b["error"] == "STARTTLS not offered" and b["destination_result"] == "fail", b
assert c["destination"] == ".probe.test" and c["destination_result"] == "skipped", c
assert "host" not in c and c["destination_reason"] == "parent entry, no host to probe", c
PYEOF

# usage and table errors: exit 2
probe usage-timeout 2 'tls.probe.test' --timeout 0
probe bad-table 2 'tls.probe.test nosuchlevel'
probe bad-cafile 2 'tls.probe.test' --CAfile "$WORK/nonexistent.pem"
CASES=$((CASES + 1))
CUR=no-table
OUT=$WORK/no-table.out
: >"$WORK/no-table.err"
"$TLSMAPS" probe >"$OUT" 2>&1
[ $? = 2 ] && echo "ok: no-table" || bad "probe without a table did not exit 2"

echo "$((CASES - FAILS)) of $CASES probe cases passed"
[ "$FAILS" -eq 0 ]
