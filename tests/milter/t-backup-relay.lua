-- t-backup-relay.lua: backup encryption in relay mode (routing = "relay"), with a
-- real gateway (attack9-gw.py, mode normal):
--   - flagged mail to an on_tls_failure=gateway destination is handed to the
--     gateway by the filter itself: the copy the gateway gets has X-TLSLevel and
--     the trigger, and no X-TLS-Backup (not the spoofed copy, not one of ours);
--   - unflagged mail to that destination is left to Postfix: X-TLS-Backup:
--     gateway inserted right after X-TLSLevel, as in header mode;
--   - Sendmail (v "8.17.1.9", relay mode): no X-TLS-Backup, spoofed copies gone.
local here = os.getenv("FTLS_MILTER_TESTS") or
	(debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or ".")
local T = dofile(here .. "/lib.lua")
local G = dofile(here .. "/relaygw.lua")(T, here)

local TABLE = "bank.test encrypt on_tls_failure=gateway\n"
local B = "X-TLS-Backup"

T.run("backup-relay", function()
	local ok, err = pcall(function()
		local port = G.start("normal")
		T.start(G.conf(port), TABLE)
		local c, d

		-- Flagged: handed over, the gateway's copy without any backup header.
		c, d = T.send{ rcpt = {"<a@bank.test>"}, headers = {{"Subject", "[encrypt] figures"},
			{B, "gateway"}}, body = {"b\r\n"}, expect = SMFIR_DISCARD }
		mt.disconnect(c)
		T.expect_log(d, "relay=sent")
		local f = io.open(G.dir() .. "/msg-1.eml", "rb")
		local got = f and f:read("*a") or ""
		if f then f:close() end
		T.ok(got ~= "", "the gateway stored the flagged message")
		T.ok(string.find(got, "X-TLSLevel: Require\r\n", 1, true) == 1,
			"the gateway's copy starts with X-TLSLevel: Require")
		T.ok(string.find(got, "\r\nX-Encrypt: yes\r\n", 1, true) ~= nil,
			"the gateway's copy has the trigger")
		T.ok(not string.find(string.lower(got), "x-tls-backup", 1, true),
			"no X-TLS-Backup reaches the gateway in relay mode")
		T.expect_log(d, "backup=no (relay mode hands the message to the gateway)")

		-- Unflagged: Postfix routes it, with the backup header after X-TLSLevel.
		c, d = T.send{ rcpt = {"<b@bank.test>"}, headers = {{"Subject", "plain"}, {B, "no"}},
			body = {"b\r\n"} }
		T.expect_deleted(c, B, 1, "relay mode, unflagged")
		T.expect_insert(c, "X-TLSLevel", "Require", 0, "relay mode, unflagged")
		T.expect_insert(c, B, "gateway", 1, "relay mode, unflagged")
		T.expect_new_count(c, B, 1, "relay mode, unflagged")
		T.expect_log(d, "backup=gateway")
		mt.disconnect(c)

		-- Sendmail in relay mode: never the header.
		T.mta_version = "8.17.1.9"
		c, d = T.send{ rcpt = {"<c@bank.test>"}, headers = {{"Subject", "plain"}, {B, "gateway"}},
			body = {"b\r\n"} }
		T.expect_deleted(c, B, 1, "Sendmail, relay mode")
		T.expect_insert(c, "X-TLSLevel", "Require", 0, "Sendmail, relay mode")
		T.expect_no_insert(c, B, "Sendmail, relay mode")
		T.expect_no_add(c, B, "Sendmail, relay mode")
		T.expect_log(d, "backup=no (the MTA cannot route on a header)")
		mt.disconnect(c)
		T.mta_version = "Postfix 3.7.11"
	end)
	G.stop()
	if not ok then
		error(err, 0)
	end
end)
