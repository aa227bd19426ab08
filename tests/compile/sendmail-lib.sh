# sendmail-lib.sh - shared by run-sendmail-rules.sh and run-sendmail-live.sh (sourced).
#
# sm_setup WORK          checks the tools (exit 77 when missing), makes WORK (mode 0700)
# sm_cf NAME ARG LOCAL [TAIL]  writes WORK/NAME.cf: FEATURE(`access_db', `ARG'),
#                        lookupdotdomain, the test_tls_client and test_check_relay
#                        rulesets (with the macros Sendmail sets), LOCAL (lines
#                        for LOCAL_CONFIG, put after MAILER as an admin's .mc has them)
#                        and TAIL (.mc lines at the end: LOCAL_TLS_SERVER ...); with
#                        SM_LOCAL_FIRST=1 the LOCAL_CONFIG lines come before the FEATUREs
# sm_req CF LINE...      "sendmail -C CF -bt" fed LINE...: the requirement handed to
#                        TLS_connection (ENCR:128, VERIFY:256, "-" for none)
# sm_ret CF LINE...      ... the last ruleset's result: OK, or the DSN of its $#error
#                        (4.3.0: a temporary failure of the map lookup; 4.7.0: TLS too weak)
# lib_req [--inbound] TABLE KEY   tlsmaps lookup, mapped as tlsmaps_sendmail.c maps levels
# req, ret CF KIND ARG...  sm_req, sm_ret with the lines of KIND_lines (rcpt, srv, clt)
# sm_probes CF TABLE PROBES [noclt]  every probe of PROBES through CF; "noclt": clt probes
#                        expect no requirement (the live map's default)
# bad MESSAGE            report a failure (sets fail=1)
#
# The build tree may sit under /tmp (a sticky world-writable directory, as in CI
# clones there), so the test cf trusts the sticky bit for the map path. Sendmail
# sleeps a minute when its host name is unqualified, so each run gets its own UTS
# namespace (unshare) with a qualified name.
SR=${SENDMAIL_ROOT:-/opt/forcetls-test/sendmail}
sendmail=$SR/usr/libexec/sendmail/sendmail
makemap=$SR/usr/sbin/makemap
smcf=$SR/usr/share/sendmail/cf
fail=0

bad() {
	echo "FAIL: $*"
	fail=1
}

sm_setup() {
	work=$1
	for tool in m4 unshare; do
		command -v $tool >/dev/null || { echo "SKIP: $tool not found"; exit 77; }
	done
	[ -x "$sendmail" ] && [ -d "$smcf/m4" ] || { echo "SKIP: no Sendmail under $SR"; exit 77; }
	if ldd "$sendmail" | grep -q 'not found'; then
		echo "SKIP: $sendmail misses libraries:"; ldd "$sendmail" | grep 'not found'
		exit 77
	fi
	[ "$(id -u)" = 0 ] || { echo "SKIP: unshare --uts needs root"; exit 77; }
	rm -rf "$work" && mkdir -p "$work" || exit 1
	chmod 700 "$work"
}

sm_cf() {
	local name=$1 arg=$2 tail=${4:-} early= late
	late="LOCAL_CONFIG
$3
"
	if [ "${SM_LOCAL_FIRST:-0}" = 1 ]; then
		early=$late
		late=
	fi
	cat >"$work/$name.mc" <<MC
include(\`$smcf/m4/cf.m4')
OSTYPE(\`linux')dnl
define(\`confDOMAIN_NAME', \`sm.forcetls.test')dnl
define(\`confSERVICE_SWITCH_FILE', \`$work/service.switch')dnl
define(\`confDONT_PROBE_INTERFACES', \`true')dnl
define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit')dnl
${early}FEATURE(\`access_db', \`$arg')dnl
FEATURE(\`lookupdotdomain')dnl
MAILER(\`smtp')dnl
${late}LOCAL_RULESETS
Stest_check_relay
R\$*			\$: \$&{client_name} \$| \$&{client_addr}
R\$*			\$@ \$>check_relay \$1
Stest_tls_client
R\$*			\$: \$1 \$| MAIL
R\$*			\$@ \$>tls_client \$1
$tail
MC
	m4 -D_CF_DIR_="$smcf/" "$work/$name.mc" >"$work/$name.cf" 2>"$work/$name.m4err" ||
		bad "m4 $name.mc failed"
}

sm_bt() {
	local cf=$1
	shift
	printf '%s\n' "$@" | timeout 30 unshare --uts sh -c \
		'hostname sm.forcetls.test && exec "$@"' sh "$sendmail" -C "$cf" -bt 2>&1
}

# What Sendmail hands to TLS_connection: "<ENCR : 128>" -> ENCR:128; OK or ? -> "-".
sm_req() {
	local req
	req=$(sm_bt "$@" | grep 'TLS_connection *input:' | tail -1 |
		sed -n 's/.*\$| *<\([^>]*\)>.*/\1/p' | tr -d ' ')
	case $req in '' | OK | '?') echo - ;; *) echo "$req" ;; esac
}

sm_ret() {
	local out
	out=$(sm_bt "$@" | grep -E '^(tls_rcpt|tls_server|tls_client|test_tls_client|test_check_relay) +returns:' |
		tail -1 | sed 's/^[a-z_]* *returns: *//')
	case $out in
	'$# error $@ '*) sed 's/^\$# error \$@ \([0-9]\) \. \([0-9]\) \. \([0-9]\).*/\1.\2.\3/' <<<"$out" ;;
	'') echo "(no result)" ;;
	*) echo "$out" ;;
	esac
}

lib_req() {
	local dir=$1 table=$2 key=$3 json level bits
	json=$("$tlsmaps" lookup --json $dir "$table" "$key")
	level=$(sed -n 's/.*"level":"\([^"]*\)".*/\1/p' <<<"$json")
	bits=$(sed -n 's/.*"min_bits":\([0-9]*\).*/\1/p' <<<"$json")
	case $dir,$level in
	*,none | *,may | *,dane | *,) echo - ;;
	*,encrypt | --inbound,dane-only) echo "ENCR:$bits" ;;
	*) echo "VERIFY:$bits" ;;
	esac
}

# Macros as Sendmail sets them for each ruleset, in clear text (no STARTTLS).
rcpt_lines() { printf '%s\n' '.D{verify}NONE' '.D{cipher_bits}0' '.D{server_name}mx.invalid' "tls_rcpt user@$1"; }
srv_lines() { printf '%s\n' '.D{verify}NONE' '.D{cipher_bits}0' ".D{server_name}$1" ".D{server_addr}$2" 'tls_server NONE'; }
relay_lines() { printf '%s\n' ".D{client_name}$1" ".D{client_addr}$2" 'test_check_relay x'; }
clt_lines() { printf '%s\n' '.D{verify}NONE' '.D{cipher_bits}0' ".D{client_name}$1" ".D{client_addr}$2" 'test_tls_client NONE'; }

sm_probes() {
	local cf=$1 table=$2 probes=$3 noclt=${4:-} n=0 what a b want got
	local -a lines
	while read -r what a b want; do
		case $what in '#'* | '') continue ;; esac
		n=$((n + 1))
		case $what in
		rcpt)
			want=$(lib_req "" "$table" "$a")
			mapfile -t lines < <(rcpt_lines "$a")
			;;
		srv)
			[ "$want" = lib ] && want=$(lib_req "" "$table" "${b#IPv6:}")
			mapfile -t lines < <(srv_lines "$a" "$b")
			;;
		clt)
			[ "$want" = lib ] && want=$(lib_req --inbound "$table" "${b#IPv6:}")
			[ "$noclt" = noclt ] && want=-
			mapfile -t lines < <(clt_lines "$a" "$b")
			;;
		*)
			bad "bad probe line: $what $a $b $want"
			continue
			;;
		esac
		got=$(sm_req "$cf" "${lines[@]}")
		[ "$got" = "$want" ] || bad "$what $a $b: Sendmail requires '$got', expected '$want'"
	done <"$probes"
	[ $n -gt 0 ] || bad "no probes"
	probes_run=$n
}

# req CF KIND ARG...: sm_req with the lines of KIND_lines ARG... (rcpt, srv, clt); ret: sm_ret.
req() {
	local cf=$1 kind=$2 l
	shift 2
	mapfile -t l < <("${kind}_lines" "$@")
	sm_req "$cf" "${l[@]}"
}
ret() {
	local cf=$1 kind=$2 l
	shift 2
	mapfile -t l < <("${kind}_lines" "$@")
	sm_ret "$cf" "${l[@]}"
}
