# shellcheck shell=bash
# tests/e2e/lib-ccert.sh: what the inbound certificate name tests (t-*inbound-cn.sh,
# issue 12) share, sourced after lib.sh (the name does not start with t-, so ctest does
# not run it): client certificates with a chosen subject, a second CA nobody trusts,
# DNS records added to a running world, and what swaks saw at RCPT.

# ccert_ca NAME: a CA of its own in $E2E_WORK/NAME (NAME/ca.pem, NAME/ca.key), which
# no MTA of the test trusts. Prints the directory.
ccert_ca() {
	local d=$E2E_WORK/$1
	mkdir -p "$d" || return 1
	e2e__openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$d/ca.key" -out "$d/ca.pem" -days 2 -subj "/CN=forcetls e2e other CA $1" \
		-addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign || return 1
	echo "$d"
}

# ccert_make NAME SUBJECT [CA_DIR]: a client certificate with exactly SUBJECT (an
# openssl -subj DN such as "/CN=mx1.bank.test" or "/O=x/CN=y"; a CN may be a wildcard)
# and no subjectAltName, signed by the CA in CA_DIR (default the test CA, which the MTA
# trusts). Prints the prefix of PREFIX.pem and PREFIX.key; checks that it verifies
# against its CA.
ccert_make() {
	local p=$E2E_WORK/ca/$1 ca=${3:-$E2E_WORK/ca}
	e2e__openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$p.key" -out "$p.csr" -subj "$2" || return 1
	printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n' >"$p.ext"
	e2e__openssl x509 -req -in "$p.csr" -CA "$ca/ca.pem" -CAkey "$ca/ca.key" \
		-set_serial "0x$(openssl rand -hex 8)" -days 2 -out "$p.pem" -extfile "$p.ext" || return 1
	e2e__openssl verify -CAfile "$ca/ca.pem" "$p.pem" || return 1
	chmod 644 "$p.pem" "$p.key"
	echo "$p"
}

# ccert_dns_add OPTS...: restart the world's dnsmasq with the options it runs with
# (the last "--- dnsmasq on 127.0.0.1" line of dns.log, which e2e_dns writes; they hold no spaces)
# plus OPTS, e.g. --host-record=mx1.bank.test,127.0.0.90 (A and PTR, so that Postfix's
# client name is forward-confirmed).
ccert_dns_add() {
	local cur
	cur=$(sed -n "s/^--- dnsmasq on $E2E_DNS_ADDR //p" "$E2E_WORK/dns.log" | tail -1)
	# shellcheck disable=SC2086 # the world's options, one word each
	e2e_dns $cur "$@"
}

# ccert_addrs ADDR...: add the client addresses to lo in the namespace (swaks binds to
# them with --local-interface).
ccert_addrs() {
	local a
	for a in "$@"; do ip -n "$E2E_NS" addr add "$a/32" dev lo 2>/dev/null; done
	return 0
}

# ccert_ptr ADDR NAME: the namespace's resolver maps ADDR back to NAME and NAME to ADDR.
ccert_ptr() {
	local got
	got=$(timeout 10 ip netns exec "$E2E_NS" getent hosts "$1" | awk '{ print $2 }')
	[ "$got" = "$2" ] || return 1
	got=$(timeout 10 ip netns exec "$E2E_NS" getent ahostsv4 "$2" | awk 'NR == 1 { print $1 }')
	[ "$got" = "$1" ]
}

# ccert_accepted_tls: the last swaks run got 250 to RCPT TO and to the end of DATA,
# inside the TLS session.
ccert_accepted_tls() {
	grep -A1 -E '^ *~> RCPT TO' "$E2E_SWAKS_LOG" | grep -Eq '^<~ +250 ' &&
		grep -A1 -E '^ *~> \.$' "$E2E_SWAKS_LOG" | grep -Eq '^<~ +250 '
}

# ccert_trusted_session ADDR: the maillog shows a trusted TLS session from ADDR (a client
# certificate that smtpd_tls_CAfile verified).
ccert_trusted_session() {
	e2e__log_has "Trusted TLS connection established from [^ ]*\\[${1//./\\.}\\]"
}

# ccert_postfix_policyd POLICYD MAIN_CF TABLE: forcetls-policyd on TABLE (internal
# networks 127.0.0.1 only: the test clients are 127.0.0.x) as check_policy_service of
# a private Postfix configured with the lines of MAIN_CF (examples/postfix/
# main.cf.policyd) and its commented smtpd_tls_ask_ccert and smtpd_tls_CAfile lines
# enabled, the CA file being the test CA. Needs lib-policyd.sh and $W.
ccert_postfix_policyd() {
	local policyd=$1 main_cf=$2 table=$3 sm=127.0.0.1:10028 pol=127.0.0.1:10029 lines ccert
	cat >"$W/forcetls.conf" <<'CONF'
policyd = {
  user = "nobody";
  state_file = ""; # never /var/lib/forcetls
  internal_networks = [ "127.0.0.1" ]; # the test clients are 127.0.0.x too
  dns_servers = "127.0.0.1:53";
  watch_table = false;
};
CONF
	chmod 644 "$W/forcetls.conf" "$table"
	e2e_spawn policyd "$policyd" --foreground --config "$W/forcetls.conf" --table "$table" \
		--socketmap-listen "inet:$sm" --policy-listen "inet:$pol"
	e2e_wait_listen "${pol%:*}" "${pol#*:}" 10 || e2e_fail "forcetls-policyd: policy not listening"
	policyd_wait_log 'ready: ' 10 || e2e_fail "forcetls-policyd did not log ready"
	mapfile -t lines < <(policyd_cf_lines "$main_cf" "inet:$sm" "inet:$pol")
	printf '%s\n' "${lines[@]}" | grep -q "^smtpd_recipient_restrictions = check_policy_service inet:$pol," ||
		e2e_fail "$main_cf: smtpd_recipient_restrictions does not start with check_policy_service"
	mapfile -t ccert < <(sed -n 's/^#\(smtpd_tls_\(ask_ccert\|CAfile\) = .*\)$/\1/p' "$main_cf")
	printf '%s\n' "${ccert[@]}" | grep -qx 'smtpd_tls_ask_ccert = yes' ||
		e2e_fail "$main_cf: no commented '#smtpd_tls_ask_ccert = yes' line"
	printf '%s\n' "${ccert[@]}" | grep -q '^smtpd_tls_CAfile = /' ||
		e2e_fail "$main_cf: no commented '#smtpd_tls_CAfile = /PATH' line"
	ccert=("${ccert[@]/#smtpd_tls_CAfile = */smtpd_tls_CAfile = $W/ca/ca.pem}")
	e2e_postfix "${lines[@]}" "${ccert[@]}"
	[ "$(timeout 10 postconf -c "$E2E_PF_CONF" -xh smtpd_tls_ask_ccert)" = yes ] ||
		e2e_fail "smtpd_tls_ask_ccert is not yes in the test's main.cf"
}

# ccert_reason CN: the ERE of the reason= a daemon logs when it refuses a client
# certificate named CN for its name: the CN, quoted; for "" (a certificate the MTA did
# not verify) "no verified client certificate".
ccert_reason() {
	if [ -z "$1" ]; then
		echo 'reason=no verified client certificate'
	else
		printf 'reason=.*"%s"' "$(sed 's/[][\.*^$()+?{}|]/\\&/g' <<<"$1")"
	fi
}

# --- the cases: a certificate per CN, then one message per case -----------------------
# A test sets CCERT_TO (the recipients' domain), CCERT_STAGE (RCPT: refused by
# forcetls-policyd at RCPT TO, swaks exit 24; MAIL: by the milter at MAIL FROM, exit 23),
# CCERT_LOG (the daemon's log) and CCERT_TABLE, and defines ccert_mta_refused ADDR RCPT
# (the MTA's own log shows that refusal). C[KEY] is a certificate's prefix, CN[KEY] its
# CN ("" for one the MTA does not verify); ACCEPTED holds RCPT:KEY of the accepted
# messages, REFUSED the refused recipients.
declare -A C CN
ACCEPTED=()
REFUSED=()
CCERT_N=0

# ccert_certs KEY:CN...: a certificate from the test CA for each CN, and C[other], CN
# mx1.bank.test from a CA nobody trusts.
ccert_certs() {
	local spec other
	for spec in "$@"; do
		C[${spec%%:*}]=$(ccert_make "cn-${spec%%:*}" "/CN=${spec#*:}") ||
			e2e_fail "cannot make the certificate CN=${spec#*:}"
		CN[${spec%%:*}]=${spec#*:}
	done
	other=$(ccert_ca other-ca) || e2e_fail "cannot make the other CA"
	C[other]=$(ccert_make cn-other /CN=mx1.bank.test "$other") || e2e_fail "cannot make the other CA's certificate"
	CN[other]= # not verified: refused for that, whatever its name
	! timeout 20 openssl verify -CAfile "$E2E_WORK/ca/ca.pem" "${C[other]}.pem" >/dev/null 2>&1 ||
		e2e_fail "the other CA's certificate verifies against the test CA"
}

ccert__send() {
	CCERT_N=$((CCERT_N + 1))
	CCERT_RCPT=$(printf 'r%02d@%s' $CCERT_N "$CCERT_TO")
	e2e_send "$2" "$CCERT_RCPT" --local-interface "$1" --tls --tls-cert "${C[$3]}.pem" --tls-key "${C[$3]}.key"
}

# ccert_pass ADDR SENDER KEY WHY: a message from ADDR presenting certificate KEY is
# accepted (250 to RCPT and to the end of DATA, inside TLS).
ccert_pass() {
	ccert__send "$@" || e2e_fail "$4: swaks exit $?, expected 0 (accepted)"
	ccert_accepted_tls || e2e_fail "$4: RCPT or DATA not 250 over TLS"
	ACCEPTED+=("$CCERT_RCPT:$3")
}

# ccert_refuse ADDR SENDER KEY WHY ENTRY LINE [REASON_ERE]: refused 450 4.7.0 at
# CCERT_STAGE, logged by the daemon with the reason REASON_ERE (default ccert_reason of
# the certificate's CN) and the entry ENTRY at CCERT_TABLE:LINE, and by the MTA; nothing
# queued.
ccert_refuse() {
	local rc want=24
	[ "$CCERT_STAGE" = MAIL ] && want=23
	ccert__send "$@"
	rc=$?
	[ $rc -eq $want ] || e2e_fail "$4: swaks exit $rc, expected $want ($CCERT_STAGE refused)"
	grep -A1 -E "^ *~> $CCERT_STAGE (FROM|TO)" "$E2E_SWAKS_LOG" | grep -Eq '^<~\* +450 4\.7\.0 ' ||
		e2e_fail "$4: $CCERT_STAGE not refused 450 4.7.0 inside TLS"
	e2e_wait_until 5 grep -Eq -- "reject: client=[^ ]*\[${1//./\\.}\] sender=<${2//./\\.}> ${7:-$(ccert_reason "${CN[$3]}")} .*entry=${5//./\\.} \($CCERT_TABLE:$6\)" "$CCERT_LOG" ||
		e2e_fail "$4: ${CCERT_LOG##*/} has no reject for this reason naming $5 ($CCERT_TABLE:$6)"
	ccert_mta_refused "$1" "$CCERT_RCPT" || e2e_fail "$4: the MTA did not log the refusal"
	REFUSED+=("$CCERT_RCPT")
}

# ccert_outcome RX RECEIVED_ERE: RX got every accepted message and none of the refused
# ones, each with a Received: header matching RECEIVED_ERE (CN: the certificate's CN,
# regex-escaped, put in for @CN@); the daemon logged as many refusals as there were.
ccert_outcome() {
	local a to f cn n
	e2e_wait_delivered "$1" ${#ACCEPTED[@]} 30 || e2e_fail "not all ${#ACCEPTED[@]} accepted messages were delivered"
	[ "$(e2e_rx_count "$1")" -eq ${#ACCEPTED[@]} ] ||
		e2e_fail "$1 has $(e2e_rx_count "$1") messages, expected ${#ACCEPTED[@]}"
	for a in "${ACCEPTED[@]}"; do
		to=${a%%:*}
		cn=$(sed 's/[][\.*^$()+?{}|]/\\&/g' <<<"${CN[${a#*:}]}")
		f=$(e2e_rx_file "$1" "$to")
		[ -n "$f" ] && [ "$(printf '%s\n' "$f" | wc -l)" -eq 1 ] || e2e_fail "$1: not one message for $to"
		e2e_assert_tls "$1" "$to" 2>/dev/null || e2e_fail "$to: not delivered over TLS"
		awk '/^\r?$/ { exit } /^[ \t]/ { sub(/\r$/, ""); cur = cur $0; next }
			{ if (cur != "") print cur; sub(/\r$/, ""); cur = $0 } END { print cur }' "$f" |
			grep -Eq -- "${2//@CN@/$cn}" || e2e_fail "$to: no Received: header matching ${2//@CN@/$cn}"
	done
	for to in "${REFUSED[@]}"; do
		[ -z "$(e2e_rx_file "$1" "$to")" ] || e2e_fail "the refused message to $to was delivered"
	done
	n=$(grep -c 'reject: client=' "$CCERT_LOG")
	[ "$n" -eq ${#REFUSED[@]} ] || e2e_fail "${CCERT_LOG##*/}: expected ${#REFUSED[@]} reject lines, have $n"
}
