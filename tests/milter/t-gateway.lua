-- t-gateway.lua: the encryption gateway's return path (SPEC 4). Mail from
-- gateway_networks is never flagged again; its success header is kept; its
-- failure header triggers on_encrypt_failure (tls: X-TLSLevel Require;
-- hold: quarantine; reject: 550; pass: nothing); trigger headers are
-- removed even from the gateway (no loop); verdict headers from anyone else
-- are removed. X-Decrypt-Status is trusted from the gateway only.
local here = os.getenv("FTLS_MILTER_TESTS") or
	(debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or ".")
local T = dofile(here .. "/lib.lua")

-- The gateway sits inside an internal network: gateway_networks wins.
local BASE = [[
  internal_networks = [ "10.0.0.0/8", "127.0.0.0/8" ];
  gateway_networks = [ "10.9.9.0/24", "2001:db8:9::/48" ];
  header_patterns = [ "X-Classification: secret" ];
  encrypt_senders = [ "ceo@corp.test" ];
]]
local GW = "10.9.9.5"

T.run("gateway", function()
	T.start(BASE, "forced.test\n")
	local c, d

	-- Success: kept; triggers removed; nothing flagged although every rule
	-- would match; X-TLSLevel Try (not forced).
	c, d = T.send{ ip = GW, host = "gw.corp.test", from = "<ceo@corp.test>", headers = {
		{"Subject", "[secure] numbers"}, {"X-Classification", "secret"},
		{"X-Encrypt", "yes"}, {"X-Encrypt-Status", "success"}, {"X-Decrypt", "yes"},
		{"X-Decrypt-Status", "success"} } }
	T.expect_log(d, "direction=gateway")
	T.expect_log(d, "gateway=success")
	T.expect_no_delete(c, "X-Encrypt-Status", "success verdict from the gateway")
	T.expect_no_delete(c, "X-Decrypt-Status", "decrypt verdict from the gateway")
	T.expect_deleted(c, "X-Encrypt", 1, "trigger from the gateway (loop)")
	T.expect_deleted(c, "X-Decrypt", 1, "decrypt trigger from the gateway (loop)")
	T.expect_no_add(c, nil, "no re-flagging from gateway_networks")
	T.expect_insert(c, "X-TLSLevel", "Try", 0, "gateway success, unforced")
	T.expect_no_quarantine(c, "gateway success")
	mt.disconnect(c)
	-- IPv6 gateway address, forced recipient.
	c, d = T.send{ ip = "2001:db8:9::25", rcpt = {"<a@forced.test>"},
		headers = {{"X-Encrypt-Status", "success"}} }
	T.expect_log(d, "direction=gateway")
	T.expect_insert(c, "X-TLSLevel", "Require", 0, "gateway mail to a forced domain")
	mt.disconnect(c)

	-- Failure, default on_encrypt_failure = tls: Require as the backup.
	c, d = T.send{ ip = GW, headers = {{"X-Encrypt-Status", "Failure"}, {"TLS-Required", "No"}} }
	T.expect_log(d, "gateway=failure")
	T.expect_insert(c, "X-TLSLevel", "Require", 0, "failure -> tls")
	T.expect_new_count(c, "X-TLSLevel", 1, "failure -> tls")
	T.expect_deleted(c, "TLS-Required", 1, "failure -> tls: TLS-Required goes with Require")
	T.expect_no_quarantine(c, "failure -> tls")
	mt.disconnect(c)

	-- The same verdicts from others are removed and change nothing.
	c, d = T.send{ ip = "10.1.2.3", headers = {{"X-Encrypt-Status", "failure"},
		{"X-Decrypt-Status", "success"}} }
	T.expect_log(d, "direction=outbound")
	T.expect_deleted(c, "X-Encrypt-Status", 1, "failure verdict from an internal client")
	T.expect_deleted(c, "X-Decrypt-Status", 1, "decrypt verdict from an internal client")
	T.expect_insert(c, "X-TLSLevel", "Try", 0, "failure verdict from an internal client")
	mt.disconnect(c)
	c, d = T.send{ ip = "198.51.100.3", headers = {{"X-Encrypt-Status", "success"},
		{"X-Decrypt-Status", "success"}} }
	T.expect_deleted(c, "X-Encrypt-Status", 1, "success verdict from outside")
	T.expect_deleted(c, "X-Decrypt-Status", 1, "decrypt verdict from outside")
	mt.disconnect(c)

	-- hold: quarantined, accepted.
	T.reconfigure(BASE .. '  on_encrypt_failure = "hold";\n')
	c, d = T.send{ ip = GW, headers = {{"X-Encrypt-Status", "failure"}} }
	T.ok(mt.eom_check(c, MT_QUARANTINE), "failure -> hold: quarantined")
	T.expect_insert(c, "X-TLSLevel", "Require", 0, "failure -> hold: Require, for when it is released")
	T.expect_log(d, "action=hold")
	mt.disconnect(c)
	c = T.send{ ip = GW, headers = {{"X-Encrypt-Status", "success"}} }
	T.expect_no_quarantine(c, "success with hold configured")
	mt.disconnect(c)
	c = T.send{ ip = "10.1.2.3", headers = {{"X-Encrypt-Status", "failure"}} }
	T.expect_no_quarantine(c, "spoofed failure with hold configured")
	mt.disconnect(c)

	-- reject: 550 at end of message.
	T.reconfigure(BASE .. '  on_encrypt_failure = "reject";\n')
	c, d = T.send{ ip = GW, headers = {{"X-Encrypt-Status", "failure"}}, expect = SMFIR_REPLYCODE }
	T.ok(mt.eom_check(c, MT_SMTPREPLY, "550", "5.7.1", "Encryption failed"),
		"failure -> reject: 550 5.7.1 Encryption failed")
	T.expect_log(d, "action=reject")
	mt.disconnect(c)
	c = T.send{ ip = "198.51.100.3", headers = {{"X-Encrypt-Status", "failure"}} }
	T.expect_deleted(c, "X-Encrypt-Status", 1, "spoofed failure with reject configured")
	mt.disconnect(c)

	-- pass: delivered as it is.
	T.reconfigure(BASE .. '  on_encrypt_failure = "pass";\n')
	c, d = T.send{ ip = GW, headers = {{"X-Encrypt-Status", "failure"}} }
	T.expect_insert(c, "X-TLSLevel", "Try", 0, "failure -> pass")
	T.expect_no_quarantine(c, "failure -> pass")
	T.expect_no_delete(c, "X-Encrypt-Status", "failure -> pass")
	mt.disconnect(c)

	-- Custom verdict headers with names of their own.
	T.reconfigure(BASE .. [[
  encrypt_success_header = "X-GW-Encrypted: ok";
  encrypt_failure_header = "X-GW-Error: encryption";
]])
	c, d = T.send{ ip = GW, headers = {{"X-GW-Error", "encryption"}} }
	T.expect_insert(c, "X-TLSLevel", "Require", 0, "custom failure header -> tls")
	mt.disconnect(c)
	-- A value that is neither the success nor the failure value is a
	-- failure (issue 8), and the log names it.
	c, d = T.send{ ip = GW, headers = {{"X-GW-Error", "something else"}} }
	T.expect_insert(c, "X-TLSLevel", "Require", 0, "custom failure header, other value")
	T.expect_log(d, 'gateway=failure (unknown status "something else")',
		"custom failure header, other value")
	mt.disconnect(c)
	c = T.send{ ip = "10.1.2.3", headers = {{"X-GW-Encrypted", "ok"}, {"X-GW-Error", "encryption"}} }
	T.expect_deleted(c, "X-GW-Encrypted", 1, "custom success header from a client")
	T.expect_deleted(c, "X-GW-Error", 1, "custom failure header from a client")
	mt.disconnect(c)

	-- A status flood (issue 8): 100 success copies, then one failure past
	-- the 64 copies the state keeps values of: every copy counts.
	T.reconfigure(BASE)
	local flood = {}
	for i = 1, 100 do
		flood[i] = {"X-Encrypt-Status", "success"}
	end
	flood[101] = {"X-Encrypt-Status", "failure"}
	c, d = T.send{ ip = GW, headers = flood }
	T.expect_insert(c, "X-TLSLevel", "Require", 0, "failure after 100 successes")
	T.expect_log(d, "gateway=failure", "failure after 100 successes")
	mt.disconnect(c)
end)
