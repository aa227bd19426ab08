# tests/e2e/lib-policyd.sh: what the t-policyd-*.sh tests share, sourced after lib.sh
# (the name does not start with t-, so ctest does not run it). Uses $W, the work dir.

# policyd_cf_lines FILE SOCKETMAP_ADDR POLICY_ADDR: the main.cf lines of an
# examples/postfix fragment, with the example's inet addresses of the two services
# replaced by the test's.
policyd_cf_lines() {
	e2e_cf_lines "$1" | sed -e "s|inet:127\.0\.0\.1:10028|$2|g" -e "s|inet:127\.0\.0\.1:10029|$3|g"
}

# policyd_wait_log ERE TIMEOUT: until policyd.log has a line matching ERE.
policyd_wait_log() { e2e_wait_until "$2" grep -Eq -- "$1" "$W/policyd.log"; }

# policyd_stop: TERM; the daemon must exit 0, with no sanitizer report in its log.
policyd_stop() {
	local pid rc
	pid=$(e2e_pid policyd)
	e2e_stop policyd 10 || e2e_fail "forcetls-policyd did not stop on TERM"
	wait "$pid"
	rc=$?
	if grep -Eq 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$W/policyd.log"; then
		e2e_fail "sanitizer report in policyd.log"
	fi
	[ $rc -eq 0 ] || e2e_fail "forcetls-policyd exited $rc on TERM"
}
