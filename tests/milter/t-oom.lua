-- t-oom.lua: an allocation that fails at connect or at MAIL defers the message:
-- MAIL or end of message answers tempfail, never accept. Connect, and MAIL with
-- inbound_enforce = false, are stages the filter negotiated without a reply
-- (SMFIP_NR_CONN, SMFIP_NR_MAIL): libmilter drops a tempfail returned there, so the
-- filter must remember the failure. strdup() of a string holding "oom-fail" fails
-- (tests/milter/failstrdup.c, LD_PRELOAD; skipped under ASan, which must come first):
-- the client's host name at connect, the sender at MAIL. Before the fix the
-- message went on as inbound (the connect stage had not set the direction) or
-- with no direction at all, and end of message accepted it: a forced recipient's
-- mail without X-TLSLevel: Require, a flagged one not sent to the gateway.
local here = os.getenv("FTLS_MILTER_TESTS") or
	(debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or ".")
local T = dofile(here .. "/lib.lua")

local BASE = [[
  internal_networks = [ "127.0.0.0/8" ];
]]

-- One message on a new connection; the replies to MAIL and end of message.
local function message(host, from)
	local c = T.connect("127.0.0.1", host)
	local qid = T.next_qid("oom")
	local r = T.mail(c, from, qid)
	if r ~= SMFIR_CONTINUE then
		mt.disconnect(c)
		return r, nil, qid
	end
	T.ok(mt.rcptto(c, "<rcpt@forced.test>") == nil, "mt.rcptto")
	T.ok(mt.header(c, "Subject", "[encrypt] payroll") == nil, "mt.header")
	if not mt.test_option(c, SMFIP_NOEOH) then
		T.ok(mt.eoh(c) == nil, "mt.eoh")
	end
	T.ok(mt.eom(c) == nil, "mt.eom")
	local e = mt.getreply(c)
	local req = T.inserted(c, "X-TLSLevel", "Require", 0)
	mt.disconnect(c)
	return r, e, qid, req
end

local function deferred(why, host, from)
	local r, e = message(host, from)
	T.ok(r == SMFIR_TEMPFAIL or e == SMFIR_TEMPFAIL, why .. ": deferred at MAIL or end of message (MAIL " ..
		string.char(r) .. ", end of message " .. (e and string.char(e) or "-") .. ")")
end

T.run("oom", function()
	local lib = os.getenv("FTLS_FAILSTRDUP")
	local asan = io.popen("ldd '" .. T.bin .. "' 2>/dev/null | grep -c libasan"):read("*l")
	if lib == nil or lib == "" or asan ~= "0" then
		mt.echo("SKIP: no failstrdup library, or an ASan build")
		return
	end
	T.preload = lib
	T.preload_env = "FTLS_FAIL_STRDUP=oom-fail"
	T.start(BASE, "forced.test encrypt\n")
	-- (inbound_enforce = false, SMFIP_NR_MAIL, is left out: libmilter then skips the
	-- rest of the message after a tempfail at MAIL and never answers end of message)
	for _, enforce in ipairs({ "true" }) do
		local w = "inbound_enforce = " .. enforce
		deferred(w .. ", connect's allocation failed", "mx.oom-fail.example", "<a@corp.example>")
		deferred(w .. ", MAIL's allocation failed", "client.example", "<a@oom-fail.example>")
		-- the same filter, nothing failing: accepted, marked Require
		local r, e, qid, req = message("client.example", "<a@corp.example>")
		T.ok(r == SMFIR_CONTINUE and e == SMFIR_ACCEPT and req,
			w .. ": a message without a failure is accepted with X-TLSLevel: Require (" .. qid .. ")")
	end
end)
