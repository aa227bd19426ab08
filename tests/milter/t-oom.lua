-- t-oom.lua: an allocation that fails at connect or at MAIL defers the message:
-- MAIL or end of message answers tempfail, never accept. Connect, and MAIL with
-- inbound_enforce = false, are stages the filter negotiated without a reply
-- (SMFIP_NR_CONN, SMFIP_NR_MAIL): libmilter drops a tempfail returned there, so the
-- filter must remember the failure and defer at end of message (before that fix, with
-- inbound_enforce = false, end of message got no reply at all: the MTA waited for its
-- milter timeout). strdup() of a string holding "oom-fail" fails
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
	if not mt.test_option(c, SMFIP_NOBODY) then
		-- the body stage is answered: a tempfail there ends the message (as Postfix does)
		T.ok(mt.bodystring(c, "body\r\n") == nil, "mt.bodystring")
		local b = mt.getreply(c)
		if b == SMFIR_TEMPFAIL then
			mt.disconnect(c)
			return r, b, qid
		end
	end
	T.ok(mt.eom(c) == nil, "mt.eom")
	local e = mt.getreply(c)
	local req = T.inserted(c, "X-TLSLevel", "Require", 0)
	mt.disconnect(c)
	return r, e, qid, req
end

-- Deferred at MAIL or at the first body chunk (tempfail), or at end of message (451
-- 4.3.0, logged with the queue ID).
local function deferred(why, host, from)
	local r, e, qid = message(host, from)
	local at_eom = e == SMFIR_REPLYCODE and
		string.find(T.log(), qid .. ": out of memory earlier in this message; deferring", 1, true)
	T.ok(r == SMFIR_TEMPFAIL or e == SMFIR_TEMPFAIL or at_eom,
		why .. ": deferred at MAIL, body or end of message (MAIL " ..
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
	-- MAIL answered; MAIL not answered (the body is, for the default decrypt pattern);
	-- neither answered (no body: end of message is the first answer).
	local NOENF = BASE .. "  inbound_enforce = false;\n"
	for _, k in ipairs({
		{ w = "inbound_enforce = true", conf = BASE, nr = false, body = true },
		{ w = "inbound_enforce = false", conf = NOENF, nr = true, body = true },
		{ w = "inbound_enforce = false, no body", conf = NOENF .. "  decrypt_patterns = [ ];\n",
		  nr = true, body = false },
	}) do
		local w = k.w
		if k.conf ~= BASE then
			T.reconfigure(k.conf)
		end
		local probe = T.connect("127.0.0.1")
		T.ok(mt.test_option(probe, SMFIP_NR_MAIL) == k.nr, w .. ": SMFIP_NR_MAIL as expected")
		T.ok(mt.test_option(probe, SMFIP_NOBODY) == not k.body, w .. ": SMFIP_NOBODY as expected")
		mt.disconnect(probe)
		deferred(w .. ", connect's allocation failed", "mx.oom-fail.example", "<a@corp.example>")
		deferred(w .. ", MAIL's allocation failed", "client.example", "<a@oom-fail.example>")
		-- the same filter, nothing failing: accepted, marked Require
		local r, e, qid, req = message("client.example", "<a@corp.example>")
		T.ok(r == SMFIR_CONTINUE and e == SMFIR_ACCEPT and req,
			w .. ": a message without a failure is accepted with X-TLSLevel: Require (" .. qid .. ")")
	end
end)
