#!/bin/bash
# lib-spoof.sh - what t-spoof-postfix.sh and t-spoof-sendmail.sh share: the variants
# (spoof-variants.py plan), sending them from the three clients, waiting for them and
# judging what the receivers got (spoof-variants.py check). Source it after lib.sh and
# the milter world's helpers (MW_* addresses), with $W set by the world.
SPOOF_PY=$E2E_LIB_DIR/spoof-variants.py

# spoof_plan [KIND...]: $W/spoof-plan.json from the world's forcetls.conf (less the family
# $SPOOF_SKIP, when set), for these
# client kinds (default: inbound internal open; also gateway). Then the checker is run
# on the planned messages themselves (--asis): it must count every copy that parses as
# the header as survived, so a checker that sees nothing cannot pass.
spoof_plan() {
	SPOOF_KINDS=("${@:-inbound}")
	[ $# -gt 0 ] || SPOOF_KINDS=(inbound internal open)
	local skip=() kinds
	[ -z "${SPOOF_SKIP:-}" ] || skip=(--skip "$SPOOF_SKIP")
	kinds=$(IFS=,; echo "${SPOOF_KINDS[*]}")
	/usr/bin/python3 "$SPOOF_PY" plan --conf "$W/forcetls.conf" --out "$W/spoof-plan.json" \
		--clients "$kinds" "${skip[@]}" >/dev/null ||
		e2e_fail "spoof-variants.py plan failed"
	/usr/bin/python3 "$SPOOF_PY" check --plan "$W/spoof-plan.json" --mta asis --asis \
		>"$W/spoof-asis.txt" 2>&1 || e2e_fail "the checker does not see every variant: $(tail -5 "$W/spoof-asis.txt")"
	e2e_log "checker on the unfiltered messages: $(tail -1 "$W/spoof-asis.txt")"
}

# spoof_send_all: every planned message, one SMTP session per client kind, to the MTA;
# the replies go to $W/spoof-sent-KIND.txt (spoof_check judges them).
spoof_send_all() {
	local kind addr
	for kind in "${SPOOF_KINDS[@]}"; do
		case $kind in
		inbound) addr=$MW_INBOUND ;;
		gateway) addr=$MW_GW_ADDR ;;
		*) addr=$MW_INTERNAL ;;
		esac
		timeout 120 ip netns exec "$E2E_NS" /usr/bin/python3 "$SPOOF_PY" send \
			--plan "$W/spoof-plan.json" --mta "$E2E_MTA_ADDR" --client $kind --addr "$addr" \
			--out "$W/spoof-sent-$kind.txt" || e2e_fail "spoof: cannot send the $kind messages"
		e2e_log "sent $(wc -l <"$W/spoof-sent-$kind.txt") $kind messages, $(grep -c '^[^ ]* 250 ' "$W/spoof-sent-$kind.txt") accepted"
	done
}

# spoof_check MTA [FAMILY...]: wait for every accepted message, then judge them; prints
# the SPOOF lines. The FAMILYs are those the MTA may refuse whole (never delivered).
spoof_check() {
	local mta=$1 f opts=()
	shift
	for f in "$@"; do opts+=(--allow-refused "$f"); done
	for f in "$W"/spoof-sent-*.txt; do opts+=(--sent "$f"); done
	local kind
	SPOOF_N_PLAIN=0 SPOOF_N_TLS=0
	for kind in "${SPOOF_KINDS[@]}"; do
		if [ "$kind" = inbound ]; then
			SPOOF_N_PLAIN=$((SPOOF_N_PLAIN + $(spoof__accepted $kind)))
		else
			SPOOF_N_TLS=$((SPOOF_N_TLS + $(spoof__accepted $kind)))
		fi
	done
	e2e_wait_delivered $MW_RX_PLAIN "$SPOOF_N_PLAIN" 60 ||
		e2e_fail "mx.plain.test got $(e2e_rx_count $MW_RX_PLAIN) of $SPOOF_N_PLAIN messages"
	e2e_wait_delivered $MW_RX_TLS "$SPOOF_N_TLS" 60 ||
		e2e_fail "mx.tls.test got $(e2e_rx_count $MW_RX_TLS) of $SPOOF_N_TLS messages"
	/usr/bin/python3 "$SPOOF_PY" check --plan "$W/spoof-plan.json" --mta "$mta" "${opts[@]}" \
		"$(e2e_rx_dir $MW_RX_PLAIN)" "$(e2e_rx_dir $MW_RX_TLS)" "$(e2e_rx_dir $MW_GW)" \
		>"$W/spoof-result.txt" 2>&1
	local rc=$?
	cat "$W/spoof-result.txt"
	[ $rc = 0 ] || e2e_fail "spoofed headers survived, or the milter's decision was not kept (above)"
	[ "$(e2e_rx_count $MW_RX_PLAIN)" -eq "$SPOOF_N_PLAIN" ] || e2e_fail "mx.plain.test got extra messages"
	[ "$(e2e_rx_count $MW_RX_TLS)" -eq "$SPOOF_N_TLS" ] || e2e_fail "mx.tls.test got extra messages"
	[ "$(e2e_rx_count $MW_GW)" -eq 0 ] || e2e_fail "the gateway got $(e2e_rx_count $MW_GW) messages: a spoofed header routed mail there"
}

# spoof__accepted KIND: how many of KIND's messages the MTA accepted, less the one for
# forced-plain.test (it stays queued).
spoof__accepted() {
	grep '^[^ ]* 250 ' "$W/spoof-sent-$1.txt" | grep -vc '^sp-forced-try ' || true
}
