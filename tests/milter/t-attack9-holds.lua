-- t-attack9-holds.lua: relay mode attacks that main withstood when attack9 tried them
-- (kept as regression tests), with a real gateway (attack9-gw.py):
--   - a gateway that never answers the end of data, and one that trickles its banner a
--     byte a second: 451 (TEMPFAIL) within relay_timeout (+3 s), nothing relayed;
--   - a full spool (a 512 KiB tmpfs as relay_spool_dir): a flagged 1 MiB message is
--     deferred, an unflagged one accepted; nothing left in the spool;
--   - SIGUSR1 while a message is being relayed (the gateway waits 3 s before its 250),
--     with a configuration that points elsewhere: the message in flight is relayed to
--     the old gateway and discarded, the next one follows the new settings; a reload
--     with an unreadable relay_ca_file is refused and relaying goes on;
--   - kill -9 while a spooled copy is being relayed: nothing left in the spool.
local here = os.getenv("FTLS_MILTER_TESTS") or
	(debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or ".")
local T = dofile(here .. "/lib.lua")

local G = dofile(here .. "/relaygw.lua")(T, here)
local sh, gw_start, gw_stop = G.sh, G.start, G.stop

local function relay_conf(port, extra)
	return [[
  internal_networks = [ "127.0.0.0/8" ];
  routing = "relay";
  relay_gateways = [ "[127.0.0.1]:]] .. port .. [[" ];
  relay_verify = false;
  relay_timeout = 4;
  relay_helo = "relay.attack9.test";
  relay_spool_threshold = 65536;
  relay_spool_dir = "]] .. T.dir .. [[/spool";
]] .. (extra or "")
end

local function filter_pid()
	return sh("ps -eo pid,args | grep -F -- '--config " .. T.conf .. "' | grep -v grep | awk '{print $1}'")
		:match("%d+")
end

local function big(n)
	local line = string.rep("x", 1022) .. "\r\n"
	local t = {}
	for i = 1, n do t[i] = string.rep(line, 64) end	-- 64 KiB chunks
	return t
end

local function timed(m, what, limit)
	local t0 = os.time()
	local c = T.send(m)
	mt.disconnect(c)
	local dt = os.time() - t0
	T.check(dt <= limit, what .. ": answered in " .. dt .. " s (limit " .. limit .. ")")
end

T.run("attack9-holds", function()
	local ok, err = pcall(function()
		os.execute("mkdir -p " .. T.dir .. "/spool && mount -t tmpfs -o size=512k,mode=0700 tmpfs " ..
			T.dir .. "/spool && chown nobody " .. T.dir .. "/spool")
		local port = gw_start("silent")
		T.start(relay_conf(port), "forced.test\n")
		timed({headers = {{"Subject", "[encrypt] silent gateway"}}, body = {"b\r\n"},
			expect = SMFIR_REPLYCODE}, "silent gateway", 7)
		gw_stop()
		port = gw_start("trickle")
		T.reconfigure(relay_conf(port))
		timed({headers = {{"Subject", "[encrypt] trickling gateway"}}, body = {"b\r\n"},
			expect = SMFIR_REPLYCODE}, "trickling gateway", 7)
		gw_stop()
		T.check(T.log_count("relay=sent") == 0, "nothing relayed to silent or trickling gateways")

		-- full spool
		port = gw_start("normal")
		T.reconfigure(relay_conf(port))
		local c = T.send{headers = {{"Subject", "[encrypt] too big for the spool"}}, body = big(16),
			expect = SMFIR_REPLYCODE}
		mt.disconnect(c)
		c = T.send{headers = {{"Subject", "not flagged, big"}}, body = big(16)}
		mt.disconnect(c)
		T.check(sh("ls -A " .. T.dir .. "/spool") == "", "full spool: nothing left behind")

		-- 100 forged X-Encrypt-Status (past the 64 the milter keeps), mixed case; bare LF
		-- dot lines and an SMTP command in the body (smuggling): one message, all gone
		local hs = {{"Subject", "[encrypt] forged statuses"}}
		for i = 1, 100 do
			hs[#hs + 1] = {i % 2 == 0 and "X-Encrypt-Status" or "x-ENCRYPT-status", "verified " .. i}
		end
		c = T.send{headers = hs, body = {"a\n.\nMAIL FROM:<evil@x.test>\r\n", "b\r.\r\n.\r\nRSET\r\n"},
			expect = SMFIR_DISCARD}
		mt.disconnect(c)
		local f = io.open(G.dir() .. "/msg-1.eml", "rb")
		local got = f and f:read("*a") or ""
		if f then f:close() end
		T.check(not got:lower():find("x-encrypt-status", 1, true),
			"no forged X-Encrypt-Status reaches the gateway")
		T.check(got:find("MAIL FROM:<evil@x.test>", 1, true) and got:find("RSET", 1, true) and
			not io.open(G.dir() .. "/msg-2.eml"), "smuggling: one message, its body whole")

		-- 10,000 recipients: relayed; 10,001: deferred
		T.reconfigure(relay_conf(port, "  relay_timeout = 60;\n"):gsub("relay_timeout = 4;\n", ""))
		local rc = {}
		for i = 1, 10000 do rc[i] = "<r" .. i .. "@other.test>" end
		timed({headers = {{"Subject", "[encrypt] many"}}, rcpt = rc, body = {"b\r\n"},
			expect = SMFIR_DISCARD}, "10,000 recipients", 60)
		rc[10001] = "<one-too-many@other.test>"
		c = T.send{headers = {{"Subject", "[encrypt] too many"}}, rcpt = rc, body = {"b\r\n"},
			expect = SMFIR_REPLYCODE}
		mt.disconnect(c)

		-- reload while relaying
		gw_stop()
		port = gw_start("slowdot")
		T.reconfigure(relay_conf(port))
		local pid = filter_pid()
		T.ok(pid ~= nil, "the filter's pid")
		T.write_conf(relay_conf("1"))	-- port 1: nothing listens
		os.execute("(sleep 1; kill -USR1 " .. pid .. ") &")
		c = T.send{headers = {{"Subject", "[encrypt] relayed across a reload"}}, body = {"b\r\n"},
			expect = SMFIR_DISCARD}
		mt.disconnect(c)
		T.wait_log("reload (SIGUSR1): ok", 5, 10)
		c = T.send{headers = {{"Subject", "[encrypt] after the reload"}}, body = {"b\r\n"},
			expect = SMFIR_REPLYCODE}
		mt.disconnect(c)
		T.write_conf(relay_conf(port, '  relay_ca_file = "' .. T.dir .. '/no-such-ca.pem";\n'))
		T.reload("fail")
		T.write_conf(relay_conf(port))
		T.reload("ok")
		c = T.send{headers = {{"Subject", "[encrypt] after a refused reload"}}, body = {"b\r\n"},
			expect = SMFIR_DISCARD}
		mt.disconnect(c)

		-- kill -9 while a spooled copy is relayed (3 s before the gateway's 250), on a
		-- second filter of ours (miltertest's own must live to the end)
		local sock2 = T.dir .. "/milter2.sock"
		local pid2 = sh("unset LD_PRELOAD; " .. T.bin .. " --foreground --config " .. T.conf ..
			" --table " .. T.table .. " --listen unix:" .. sock2 .. " >>" .. T.dir ..
			"/filter2.log 2>&1 & echo $!"):match("%d+")
		T.ok(pid2 ~= nil, "a second filter started")
		local sock1 = T.sock
		T.sock = "unix:" .. sock2
		c = T.connect("127.0.0.1")
		T.sock = sock1
		T.mail(c, "<s@corp.test>", T.next_qid("K"))
		mt.rcptto(c, "<r@other.test>")
		mt.header(c, "Subject", "[encrypt] killed")
		for _, chunk in ipairs(big(4)) do mt.bodystring(c, chunk) end
		os.execute("(sleep 1.5; kill -9 " .. pid2 .. ") &")
		mt.eom(c)
		os.execute("sleep 2")
		T.check(sh("ls -A " .. T.dir .. "/spool") == "", "kill -9: nothing left in the spool")
		T.check(sh("kill -0 " .. pid2 .. " 2>&1; echo $?"):match("1%s*$") ~= nil, "the second filter was killed")
	end)
	gw_stop()
	os.execute("umount " .. T.dir .. "/spool 2>/dev/null")
	if not ok then error(err, 0) end
end)
