# common.sh - shared by run-policyd-bench.sh and reload-under-load.sh (sourced, bash).
#
# bp_gen DIR N KEYS   writes into DIR:
#   table          N domain entries dI.bench.example (every 10th "verify", the
#                  others bare, i.e. default_level encrypt), plus the inbound
#                  network 10.1.0.0/16 encrypt direction=in; no outbound network
#                  entry, so no lookup asks DNS
#   sm-policyd.txt KEYS socketmap keys spread over the table, with the answer
#                  forcetls-policyd must give ("OK encrypt" / "OK verify")
#   sm-sts.txt     the same keys with postfix-mta-sts-resolver's cached answer
#   domains.txt    the keys' domains (filled into mta-sts-resolver's cache)
#   policy.txt     1000 policy delegation requests as Postfix 3.7 sends them at
#                  RCPT: 1 in 8 from 10.1.0.0/16 in clear text (answer: the
#                  450 of inbound_reply), the others from 10.1.0.0/16 over TLS
#                  or from 10.2.0.0/16 in clear (DUNNO)
#   postfwd.cf     postfwd's equivalent rule: the client range, no encryption_protocol
# bp_wait_port HOST PORT SECONDS   waits until something listens there;
# bp_wait_ready (below) until forcetls-policyd answers.
bp_gen() {
	local dir=$1 n=$2 keys=$3
	awk -v n="$n" 'BEGIN {
		print "# forcetls-policyd benchmark table"
		for (i = 0; i < n; i++)
			if (i % 10 == 0) printf "d%d.bench.example verify\n", i
			else printf "d%d.bench.example\n", i
		print "10.1.0.0/16 encrypt direction=in"
	}' >"$dir/table"
	awk -v n="$n" -v k="$keys" -v d="$dir" 'BEGIN {
		step = int(n / k); if (step < 1) step = 1
		for (j = 0; j < k; j++) {
			i = (j * step + j % 7) % n
			dom = sprintf("d%d.bench.example", i)
			printf "%s\tOK %s\n", dom, i % 10 == 0 ? "verify" : "encrypt" >(d "/sm-policyd.txt")
			printf "%s\tOK secure match=mx.%s servername=hostname\n", dom, dom >(d "/sm-sts.txt")
			print dom >(d "/domains.txt")
		}
	}'
	awk 'BEGIN {
		reply = "450 4.7.0 TLS is required for this session"
		for (i = 0; i < 1000; i++) {
			kind = i % 8 == 0 ? 0 : i % 8 < 5 ? 1 : 2
			net = kind == 2 ? "10.2" : "10.1"
			tls = kind == 1 ? "encryption_protocol=TLSv1.3 encryption_cipher=TLS_AES_256_GCM_SHA384 encryption_keysize=256" : "encryption_protocol= encryption_cipher= encryption_keysize=0"
			printf "request=smtpd_access_policy protocol_state=RCPT protocol_name=ESMTP "
			printf "client_address=%s.%d.%d client_name=unknown reverse_client_name=unknown ", net, int(i / 250), i % 250 + 1
			printf "helo_name=mx%d.sender.example sender=user%d@s%d.sender.example recipient=rcpt%d@dest.example ", i, i, i % 50, i
			printf "recipient_count=0 queue_id= instance=%x.5f5e1.0 size=0 etrn_domain= stress= ", 4096 + i
			printf "sasl_method= sasl_username= sasl_sender= ccert_subject= ccert_issuer= "
			printf "ccert_fingerprint= ccert_pubkey_fingerprint= %s policy_context= ", tls
			printf "server_address=127.0.0.25 server_port=25 compatibility_level=3.6 mail_version=3.7.11"
			printf "\t%s\n", kind == 0 ? reply : "DUNNO"
		}
	}' >"$dir/policy.txt"
	cat >"$dir/postfwd.cf" <<'PF'
id=FORCETLS; client_address=10.1.0.0/16; encryption_protocol=!!(.); action=450 4.7.0 TLS is required for this session
PF
}

bp_wait_port() {
	local host=$1 port=$2 secs=$3 i=0
	while [ $i -lt $((secs * 20)) ]; do
		if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}

# bp_wait_ready LOADGEN HOST:PORT KEYFILE: one socketmap lookup answered as KEYFILE's
# first line expects. forcetls-policyd listens before it has loaded its table and
# set up its signal handlers; an answer means its event loop runs (a SIGHUP before
# that would end it).
bp_wait_ready() {
	local loadgen=$1 addr=$2 keys=$3
	head -1 "$keys" >"$keys.first"
	"$loadgen" -P socketmap -a "$addr" -f "$keys.first" -c 1 -w 0 -d 0.1 -n 1 -D 30 \
		>/dev/null 2>&1
}
