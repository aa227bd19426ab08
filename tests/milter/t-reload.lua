-- t-reload.lua: SIGUSR1 reloads configuration and tables (SPEC 5); a bad
-- configuration, a bad table or a bad pattern is refused and the snapshot
-- in use stays. A good reload applies from the next message of an open
-- connection too (a newly forced domain is never marked Try there), unless it
-- changes the stages negotiated with that connection: then its next message is
-- deferred, and a new connection gets the new configuration.
local here = os.getenv("FTLS_MILTER_TESTS") or
	(debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or ".")
local T = dofile(here .. "/lib.lua")

local BASE = [[
  internal_networks = [ "127.0.0.0/8" ];
]]

local function level(rcpt, want, why)
	local c = T.send{ rcpt = {rcpt} }
	T.expect_insert(c, "X-TLSLevel", want, 0, why)
	mt.disconnect(c)
end

T.run("reload", function()
	T.start(BASE, "forced.test\n")
	level("<a@forced.test>", "Require", "start")
	level("<a@new.test>", "Try", "start")

	-- A good reload: the new table and settings apply to new connections, and
	-- to the next message of a connection opened before it (one message before
	-- the reload on it, two after).
	local old = T.send{ rcpt = {"<a@forced.test>"} }
	T.expect_insert(old, "X-TLSLevel", "Require", 0, "open connection, before the reload")
	T.write_table("new.test\n")
	T.reconfigure(BASE .. '  tls_require_value = "Mandatory";\n')
	level("<a@new.test>", "Mandatory", "after reload")
	level("<a@forced.test>", "Try", "after reload, entry gone")
	old = T.send{ conn = old, rcpt = {"<a@new.test>"} }
	T.expect_insert(old, "X-TLSLevel", "Mandatory", 0,
		"open connection, after the reload: the newly forced domain")
	old = T.send{ conn = old, rcpt = {"<a@forced.test>"} }
	T.expect_insert(old, "X-TLSLevel", "Try", 0, "open connection, after the reload: entry gone")
	-- A reload that changes the negotiated stages (inbound_enforce = false: MAIL
	-- needs no reply): the open connection's next message is deferred at MAIL.
	T.reconfigure(BASE .. '  tls_require_value = "Mandatory";\n  inbound_enforce = false;\n')
	local qid = T.next_qid("reload")
	T.ok(T.mail(old, "<s@example.org>", qid) == SMFIR_REPLYCODE,
		"stages changed: the open connection's next MAIL is deferred (451 4.3.0)")
	T.ok(string.find(T.log(), qid .. ": defer: the configuration reloaded", 1, true),
		"stages changed: the deferral is logged with the queue ID")
	mt.disconnect(old)
	local c = T.connect("127.0.0.1")
	T.ok(mt.test_option(c, SMFIP_NR_MAIL), "stages changed: a new connection negotiates them")
	c = T.send{ conn = c, rcpt = {"<a@new.test>"} }
	T.expect_insert(c, "X-TLSLevel", "Mandatory", 0, "stages changed: a new connection")
	-- And back: that connection's MAIL needs no reply, so its first answered stage, the
	-- body (the default decrypt pattern needs it), defers with 451 4.3.0.
	T.reconfigure(BASE .. '  tls_require_value = "Mandatory";\n')
	qid = T.next_qid("reload")
	T.mail(c, "<s@example.org>", qid)
	T.ok(mt.rcptto(c, "<a@new.test>") == nil, "mt.rcptto")
	T.ok(not mt.test_option(c, SMFIP_NOBODY), "stages changed back: the body is asked for")
	T.ok(mt.bodystring(c, "hello\r\n") == nil, "mt.bodystring")
	T.ok(mt.getreply(c) == SMFIR_REPLYCODE, "stages changed back: deferred at the body (451 4.3.0)")
	T.ok(string.find(T.log(), qid .. ": defer: the configuration reloaded", 1, true),
		"stages changed back: logged with the queue ID")
	mt.disconnect(c)

	-- Bad configurations: each refused, the snapshot stays.
	local bad = {
		{"syntax error", BASE .. "  tls_header = ;\n"},
		{"unknown setting", BASE .. "  no_such_setting = 1;\n"},
		{"bad value", BASE .. '  on_encrypt_failure = "bounce";\n'},
		{"bad network", '  internal_networks = [ "10.0.0.1/8" ];\n'},
		{"bad header setting", '  encrypt_header = "X-Encrypt";\n'},
		{"bad pattern", '  body_patterns = [ "(unclosed" ];\n'},
		{"bad subject tag", '  subject_tag = "[";\n'},
		{"missing encrypt table", '  encrypt_table = "/nonexistent/forcetls.table";\n'},
	}
	for _, b in ipairs(bad) do
		T.write_conf(b[2])
		T.reload("fail")
		level("<a@new.test>", "Mandatory", "after a refused reload (" .. b[1] .. ")")
	end
	-- A bad table with a good configuration: refused too.
	T.write_conf(BASE)
	T.write_table("new.test\nbad.test nosuchlevel\n192.0.2.1/24\n")
	T.reload("fail")
	level("<a@new.test>", "Mandatory", "after a refused reload (bad table)")
	T.ok(string.find(T.log(), "forced-tls.table:2:", 1, true) ~= nil and
		string.find(T.log(), "forced-tls.table:3:", 1, true) ~= nil,
		"every table error is logged as FILE:LINE")
	-- A missing table.
	os.remove(T.table)
	T.reload("fail")
	level("<a@new.test>", "Mandatory", "after a refused reload (missing table)")

	-- And a good one again.
	T.write_table("forced.test\n")
	T.reload("ok")
	level("<a@forced.test>", "Require", "good reload after refused ones")
	level("<a@new.test>", "Try", "good reload after refused ones")

	-- log_decisions = false: no decision lines (reload lines still).
	T.reconfigure(BASE .. "  log_decisions = false;\n")
	local c, d = T.send{ rcpt = {"<a@forced.test>"} }
	T.expect_insert(c, "X-TLSLevel", "Require", 0, "log_decisions = false")
	T.ok(d == "", "log_decisions = false: no decision line (" .. d .. ")")
	mt.disconnect(c)
end)
