-- t-attack9.lua: relay mode (milter.routing = "relay") attacked from outside, with a
-- real gateway (attack9-gw.py: STARTTLS, raw capture of what it was sent).
-- Every check here is one that main FAILED when it was written (attack9 report):
--   1. a bare CR in a header value the MTA hands over is a line end for the relay:
--      the gateway gets a header line the MTA's copy does not have (a forged
--      X-Encrypt-Status), although the milter deletes every such header it sees;
--   2. a header value ending in a bare CR ends the gateway's header block early:
--      X-Encrypt: yes (added last) lands in the body, so the gateway does not see
--      the trigger;
--   3. a gateway that sends "250" before the message (right after "354") and 451 to
--      the real end of data: the milter reads the stale 250, answers DISCARD, and
--      the message is lost (the gateway never took it);
--   4. on Sendmail (v "8.17.1.9"), and on an MTA that sends no v, a flagged message whose
--      client asked for "X-TLSLevel: Require" gets Sendmail's stand-in hold
--      (sendmail_require), and relay mode defers every hold: 451 on every retry, the
--      message never reaches the gateway (it bounces days later). In relay mode the
--      MTA does not deliver it: the hold has no purpose there.
local here = os.getenv("FTLS_MILTER_TESTS") or
	(debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or ".")
local T = dofile(here .. "/lib.lua")

local G = dofile(here .. "/relaygw.lua")(T, here)
local sh, gw_start, gw_stop, relay_conf = G.sh, G.start, G.stop, G.conf

-- The header block and the body of what the gateway stored.
local function stored(n)
	local f = io.open(G.dir() .. "/msg-" .. n .. ".eml", "rb")
	if not f then return nil end
	local all = f:read("*a")
	f:close()
	local h, b = all:match("^(.-\r\n)\r\n(.*)$")
	return h or all, b or ""
end
local function has_line(block, line)
	for l in (block .. "\r\n"):gmatch("(.-)\r\n") do
		if l:lower() == line:lower() then return true end
	end
	return false
end

-- A send whose end-of-message answer is a soft check (FTLS_MILTER_SOFT=1 shows every case).
local function send_soft(m)
	local hard = T.ok
	T.ok = T.check
	local c, d = T.send(m)
	T.ok = hard
	return c, d
end

T.run("attack9", function()
	local ok, err = pcall(function()
		local port = gw_start("normal")
		T.start(relay_conf(port), "forced.test\n")
		local c, d

		-- 1. bare CR inside a header value: a forged header line at the gateway
		c, d = T.send{ headers = {{"Subject", "[encrypt] figures"},
			{"X-Note", "hello\rX-Encrypt-Status: verified"}},
			body = {"body\r\n"}, expect = SMFIR_DISCARD }
		mt.disconnect(c)
		local h = stored(1)
		T.ok(h ~= nil, "1: the gateway has the message")
		T.check(not has_line(h, "X-Encrypt-Status: verified"),
			"1: no X-Encrypt-Status line the MTA never had (gateway headers:\n" .. h .. ")")

		-- 2. a value ending in a bare CR: the header block ends early
		c, d = T.send{ headers = {{"Subject", "[encrypt] figures"}, {"X-Note", "hello\r"},
			{"From", "a@corp.test"}},
			body = {"body\r\n"}, expect = SMFIR_DISCARD }
		mt.disconnect(c)
		h = stored(2)
		T.ok(h ~= nil, "2: the gateway has the message")
		T.check(has_line(h, "X-Encrypt: yes") and has_line(h, "From: a@corp.test"),
			"2: X-Encrypt: yes and From in the gateway's header block (got:\n" .. h .. ")")
		gw_stop()

		-- 3. a stale 250 sent with the 354: the real answer to the dot is 451
		port = gw_start("presend")
		T.reconfigure(relay_conf(port))
		c, d = send_soft{ headers = {{"Subject", "[encrypt] must not be lost"}},
			body = {"body\r\n"}, expect = SMFIR_REPLYCODE }
		mt.disconnect(c)
		T.check(T.log_count("relay=sent") == 2,
			"3: no relay=sent for the message the gateway answered 451 (log:\n" .. T.log() .. ")")
		gw_stop()

		-- 4. Sendmail, or no v at all: a flagged message with the client's Require
		port = gw_start("normal")
		T.reconfigure(relay_conf(port))
		for _, v in ipairs({"8.17.1.9", false}) do
			T.mta_version = v
			c, d = send_soft{ headers = {{"Subject", "[encrypt] figures"}, {"X-TLSLevel", "Require"}},
				body = {"body\r\n"}, expect = SMFIR_DISCARD }
			mt.disconnect(c)
		end
		T.mta_version = "Postfix 3.7.11"
	end)
	gw_stop()
	if not ok then error(err, 0) end
end)
