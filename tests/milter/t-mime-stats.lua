-- t-mime-stats.lua: SIGUSR2 lists the compiled rules of the snapshot in use and the
-- counters (issue 8: "the stats dump also lists the compiled rules, so the admin can
-- see that a reload took effect"): the rule lines change with a reload, and a message
-- flagged by a match error (a catastrophic pattern on a long header) counts in
-- rule_match_errors, one flagged past mime_max_depth in mime_limits.
local here = os.getenv("FTLS_MILTER_TESTS") or
	(debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or ".")
local T = dofile(here .. "/lib.lua")

local BASE = [[
  internal_networks = [ "127.0.0.0/8" ];
  decrypt_patterns = [ ];
]]

-- SIGUSR2, then wait for the n-th "counters:" line; the log text from it on.
local function dump(n)
	mt.signal(12) -- SIGUSR2 (Linux)
	for _ = 1, 200 do
		if T.log_count("counters: ") >= n then
			local log = T.log()
			local at = 0
			for _ = 1, n do -- the n-th "counters:" line
				at = string.find(log, "counters: ", at + 1, true)
			end
			mt.sleep(0.2) -- the rule lines follow the counters line
			return string.sub(T.log(), at)
		end
		mt.sleep(0.1)
	end
	T.ok(false, "SIGUSR2 logs the counters within 20 s")
end

local function has(text, s, why)
	T.ok(string.find(text, s, 1, true) ~= nil, why .. ": the dump shows " .. s)
end
local function hasnt(text, s, why)
	T.ok(string.find(text, s, 1, true) == nil, why .. ": the dump does not show " .. s)
end

T.run("mime-stats", function()
	T.start(BASE .. [[  body_patterns = [ "CONFIDENTIAL" ];]], "forced.test\n")
	local d = dump(1)
	has(d, "rule subject_tag: ^\\s*\\[(encrypt|secure)\\]", "start")
	has(d, "rule body_patterns[0]: CONFIDENTIAL", "start")
	hasnt(d, "attachment_patterns[0]", "start")
	has(d, "content: mime_decode=true body_scan_limit=1048576", "start")
	has(d, "rule_match_errors=0", "start")

	-- A reload to other rules shows in the next dump.
	T.reconfigure(BASE .. [[
  body_patterns = [ "SECRET-LINE" ];
  header_patterns = [ "X-Blob: ^(a|aa)+$" ];
  attachment_patterns = [ "\\.kdbx$" ];
  mime_max_depth = 2;
]])
	d = dump(2)
	has(d, "rule body_patterns[0]: SECRET-LINE", "after the reload")
	hasnt(d, "CONFIDENTIAL", "after the reload")
	has(d, "rule header_patterns[0]: X-Blob: ^(a|aa)+$", "after the reload")
	has(d, "rule attachment_patterns[0]: \\.kdbx$", "after the reload")

	-- A match error and a mime limit, counted.
	local c, l = T.send{ headers = {{"X-Blob", string.rep("a", 800) .. "b"}} }
	T.ok(string.find(l, "(match error)", 1, true) ~= nil, "catastrophic header: a match error (" .. l .. ")")
	mt.disconnect(c)
	local body = "--a\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" ..
		"Content-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\n\r\nx\r\n--c--\r\n--b--\r\n--a--\r\n"
	c, l = T.send{ headers = {{"Content-Type", "multipart/mixed; boundary=a"}}, body = {body} }
	T.ok(string.find(l, "encrypt=yes (mime limit", 1, true) ~= nil, "too deep: mime limit (" .. l .. ")")
	mt.disconnect(c)
	d = dump(3)
	has(d, "rule_match_errors=1", "after a match error")
	has(d, "mime_limits=1", "after a mime limit")
	has(d, "flagged=2", "two flagged")
end)
