-- tests/milter/lib.lua: helpers shared by the miltertest scripts (Lua 5.1).
--
-- Each script does
--	local here = os.getenv("FTLS_MILTER_TESTS") or
--		(debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or ".")
--	local T = dofile(here .. "/lib.lua")
--	T.run("name", function() ... end)
--
-- T.run() makes a temporary directory (world-readable: the filter drops to
-- "nobody" before it reads its files), runs the body, and on any error
-- appends the filter's log to the message before raising it again, so that
-- miltertest exits 1. The filter is the real binary named by $FTLS_MILTER,
-- started with mt.startfilter() through "/bin/sh -c exec", only so that its
-- stderr (one decision line per message) lands in a file the script reads.
-- miltertest sends it SIGTERM when the script ends and fails when it does not
-- exit 0 (an ASan report at exit fails the test too).

local M = {}

M.bin = os.getenv("FTLS_MILTER")
M.qn = 0

local function readall(path)
	local f = io.open(path, "rb")
	if f == nil then
		return ""
	end
	local s = f:read("*a") or ""
	f:close()
	return s
end
M.readall = readall

local function shq(s)
	return "'" .. string.gsub(s, "'", "'\\''") .. "'"
end

-- The filter's log so far.
function M.log()
	if M.logfile == nil then
		return ""
	end
	return readall(M.logfile)
end

function M.fail(msg)
	error(msg, 2)
end

-- Assert: cond must hold; what says what was expected.
function M.ok(cond, what)
	if not cond then
		error("FAILED: " .. what, 2)
	end
end

-- Assert like M.ok, for the checks of a behaviour (not of the protocol):
-- with FTLS_MILTER_SOFT set in the environment a failed check is counted
-- and the script goes on, and M.run fails at the end with the list, so one
-- run shows every check that fails (on code without the behaviour yet).
M.soft = os.getenv("FTLS_MILTER_SOFT") ~= nil
M.soft_failed = {}
function M.check(cond, what)
	if not cond then
		if M.soft then
			table.insert(M.soft_failed, what)
			mt.echo("SOFT FAILED: " .. what)
			return false
		end
		error("FAILED: " .. what, 2)
	end
	return true
end

-- Write a file under the test directory, mode 0644; returns its path.
function M.write(name, text)
	local path = M.dir .. "/" .. name
	local tmp = path .. ".tmp"
	local f = assert(io.open(tmp, "wb"))
	f:write(text)
	f:close()
	os.execute("chmod 0644 " .. shq(tmp) .. " && mv -f " .. shq(tmp) .. " " .. shq(path))
	return path
end

-- The configuration file: a milter section made of the given lines, then
-- M.sections (whole sections such as "tables = { ... };"), when set.
-- milter.state_file is in M.dir/state (owned by nobody), never /var/lib/forcetls.
function M.conf_text(milter_lines)
	local state = ""
	if not string.find(milter_lines or "", "state_file", 1, true) then
		os.execute("mkdir -p " .. shq(M.dir .. "/state") .. " && { chown nobody " ..
			shq(M.dir .. "/state") .. " 2>/dev/null || true; }")
		state = "  state_file = \"" .. M.dir .. "/state/milter.state\";\n"
	end
	return "# written by tests/milter/lib.lua\n" ..
		"milter = {\n" ..
		"  user = \"nobody\";\n" .. state ..
		(milter_lines or "") ..
		"\n};\n" .. (M.sections or "")
end

function M.write_conf(milter_lines)
	M.conf = M.write("forcetls.conf", M.conf_text(milter_lines))
	return M.conf
end

function M.write_table(text)
	M.table = M.write("forced-tls.table", text)
	return M.table
end

-- Start the real filter with its own configuration and table.
function M.start(milter_lines, table_text)
	M.write_conf(milter_lines)
	M.write_table(table_text)
	M.sock = "unix:" .. M.dir .. "/milter.sock"
	M.logfile = M.dir .. "/filter.log"
	-- LD_PRELOAD is stdbuf's (ctest runs miltertest under stdbuf -o0): the
	-- filter does not need it, and an ASan build refuses to start with it.
	-- M.preload (a library) and M.preload_env ("NAME=VALUE ...") replace it for a test.
	local pre = ""
	if M.preload then
		pre = " export LD_PRELOAD=" .. shq(M.preload) .. " " .. (M.preload_env or "") .. ";"
	end
	mt.startfilter("/bin/sh", "-c",
		"exec 2>>" .. shq(M.logfile) .. "; unset LD_PRELOAD;" .. pre .. " exec \"$0\" \"$@\"",
		M.bin, "--foreground", "--config", M.conf, "--table", M.table,
		"--listen", M.sock)
	-- The first connection waits for the socket (up to 20 s under ASan).
	local c = mt.connect(M.sock, 200, 0.1)
	M.ok(c ~= nil, "the filter accepts connections on " .. M.sock)
	mt.disconnect(c)
end

-- Run the filter binary with a shell command line (args already quoted);
-- returns its output (stdout and stderr) and exit code.
function M.run_bin(args)
	local p = io.popen("unset LD_PRELOAD; " .. shq(M.bin) .. " " .. args .. " 2>&1; echo \"rc=$?\"")
	local out = p:read("*a")
	p:close()
	local rc = tonumber(string.match(out, "rc=(%d+)%s*$"))
	return string.gsub(out, "rc=%d+%s*$", ""), rc
end

-- Count the lines of the log that contain text (plain match).
function M.log_count(text)
	local n = 0
	for line in string.gmatch(M.log(), "[^\n]+") do
		if string.find(line, text, 1, true) then
			n = n + 1
		end
	end
	return n
end

-- Wait until the log has at least n lines containing text.
function M.wait_log(text, n, seconds)
	local tries = (seconds or 20) * 10
	for _ = 1, tries do
		if M.log_count(text) >= n then
			return true
		end
		mt.sleep(0.1)
	end
	M.ok(false, "log line \"" .. text .. "\" appears " .. n .. " time(s)")
end

-- Send SIGUSR1 (the reload signal) and wait for the filter's verdict on the
-- reload. want is "ok" (reloaded) or "fail" (refused, the old snapshot stays).
function M.reload(want)
	local ok0 = M.log_count("reload (SIGUSR1): ok")
	local bad0 = M.log_count("reload (SIGUSR1): refused")
	mt.signal(10)	-- SIGUSR1 (Linux)
	for _ = 1, 200 do
		local ok1 = M.log_count("reload (SIGUSR1): ok")
		local bad1 = M.log_count("reload (SIGUSR1): refused")
		if ok1 > ok0 then
			M.ok(want == "ok", "SIGUSR1 reload is refused, but it was accepted")
			return
		end
		if bad1 > bad0 then
			M.ok(want == "fail", "SIGUSR1 reload is accepted, but it was refused")
			return
		end
		mt.sleep(0.1)
	end
	M.ok(false, "the filter logs its SIGUSR1 reload within 20 s")
end

-- Rewrite the configuration and reload it (must succeed).
function M.reconfigure(milter_lines)
	M.write_conf(milter_lines)
	M.reload("ok")
end

-- The MTA's v macro at connect: Postfix's by default (header routing needs
-- Postfix); a test sets M.mta_version = "8.17.1.9" to be Sendmail, or false
-- for an MTA that sends none.
M.mta_version = "Postfix 3.7.11"

-- A new connection from ip (host name host), connect stage done.
function M.connect(ip, host)
	local c = mt.connect(M.sock, 50, 0.1)
	M.ok(c ~= nil, "connect to the filter")
	if M.mta_version then
		local e = mt.macro(c, SMFIC_CONNECT, "v", M.mta_version)
		M.ok(e == nil, "mt.macro v: " .. tostring(e))
	end
	local e = mt.conninfo(c, host or "client.example", ip)
	M.ok(e == nil, "mt.conninfo: " .. tostring(e))
	return c
end

function M.next_qid(tag)
	M.qn = M.qn + 1
	return string.format("%s%03d", string.upper(tag or "Q"), M.qn)
end

-- MAIL FROM with the MAIL-stage macros (queue ID i and whatever the table
-- macros holds: {auth_authen}, {tls_version}, ...). Returns the reply.
function M.mail(c, from, qid, macros)
	local args = {"i", qid}
	for k, v in pairs(macros or {}) do
		table.insert(args, k)
		table.insert(args, v)
	end
	local e = mt.macro(c, SMFIC_MAIL, (table.unpack or unpack)(args))
	M.ok(e == nil, "mt.macro: " .. tostring(e))
	e = mt.mailfrom(c, from)
	M.ok(e == nil, "mt.mailfrom: " .. tostring(e))
	return mt.getreply(c)
end

--[[
One whole message; returns the connection after end of message, and the log
line of the decision. m is a table:
	ip, host		client (default 127.0.0.1, internal)
	macros			MAIL-stage macros
	from			envelope sender (default <sender@example.org>)
	rcpt			list of recipients (default {"<rcpt@other.test>"})
	headers			list of {name, value}
	body			list of body chunks (only with a body-enabled conf)
	body_optional		send the body only when the filter asks for it
	expect			eom reply (default SMFIR_ACCEPT)
	conn			reuse this connection (a second message)
--]]
function M.send(m)
	local c = m.conn or M.connect(m.ip or "127.0.0.1", m.host)
	local qid = m.qid or M.next_qid(M.name)
	M.last_qid = qid
	local r = M.mail(c, m.from or "<sender@example.org>", qid, m.macros)
	M.ok(r == SMFIR_CONTINUE, qid .. ": MAIL FROM answers continue (got " .. r .. ")")
	for _, rc in ipairs(m.rcpt or {"<rcpt@other.test>"}) do
		local e = mt.rcptto(c, rc)
		M.ok(e == nil, "mt.rcptto: " .. tostring(e))
	end
	for _, h in ipairs(m.headers or {}) do
		local e = mt.header(c, h[1], h[2])
		M.ok(e == nil, "mt.header(" .. h[1] .. "): " .. tostring(e))
	end
	local e
	if not mt.test_option(c, SMFIP_NOEOH) then	-- the filter has no use for it
		e = mt.eoh(c)
		M.ok(e == nil, "mt.eoh: " .. tostring(e))
	end
	M.skipped_at = nil
	if m.body ~= nil and m.body_optional and mt.test_option(c, SMFIP_NOBODY) then
		M.body_sent = false	-- the filter asks for no body: the MTA sends none
	elseif m.body ~= nil then
		M.body_sent = true
		M.ok(not mt.test_option(c, SMFIP_NOBODY), qid .. ": the filter asks for the body")
		for i, chunk in ipairs(m.body) do
			e = mt.bodystring(c, chunk)
			M.ok(e == nil, "mt.bodystring: " .. tostring(e))
			r = mt.getreply(c)
			if r == SMFIR_SKIP then	-- the MTA sends no more body
				M.skipped_at = i
				break
			end
			M.ok(r == SMFIR_CONTINUE, qid .. ": body chunk " .. i ..
				" answers continue or skip (got " .. r .. ")")
		end
	end
	e = mt.eom(c)
	M.ok(e == nil, "mt.eom: " .. tostring(e))
	r = mt.getreply(c)
	local want = m.expect or SMFIR_ACCEPT
	M.ok(r == want, qid .. ": end of message answers " .. string.char(want) ..
		" (got " .. (r > 0 and string.char(r) or tostring(r)) .. ")")
	return c, M.decision(qid)
end

-- The decision line logged for a queue ID ("" when none).
function M.decision(qid)
	local q = string.gsub(qid, "%p", "%%%0")	-- a test name may hold "-"
	for line in string.gmatch(M.log(), "[^\n]+") do
		local s = string.match(line, " " .. q .. ": (direction=.*)$")
		if s then
			return s
		end
	end
	return ""
end

function M.expect_log(line, text, what)
	M.ok(string.find(line, text, 1, true) ~= nil,
		(what or "decision") .. " mentions \"" .. text .. "\" (log: " .. line .. ")")
end

-- Header actions at end of message ------------------------------------------

local function q(s)
	return s == nil and "any" or ("\"" .. s .. "\"")
end

function M.inserted(c, name, value, idx)
	if idx ~= nil then
		return mt.eom_check(c, MT_HDRINSERT, name, value, idx)
	elseif value ~= nil then
		return mt.eom_check(c, MT_HDRINSERT, name, value)
	elseif name ~= nil then
		return mt.eom_check(c, MT_HDRINSERT, name)
	end
	return mt.eom_check(c, MT_HDRINSERT)
end

function M.added(c, name, value)
	if value ~= nil then
		return mt.eom_check(c, MT_HDRADD, name, value)
	elseif name ~= nil then
		return mt.eom_check(c, MT_HDRADD, name)
	end
	return mt.eom_check(c, MT_HDRADD)
end

function M.deleted(c, name, idx)
	if idx ~= nil then
		return mt.eom_check(c, MT_HDRDELETE, name, idx)
	elseif name ~= nil then
		return mt.eom_check(c, MT_HDRDELETE, name)
	end
	return mt.eom_check(c, MT_HDRDELETE)
end

function M.changed(c, name, value)
	if value ~= nil then
		return mt.eom_check(c, MT_HDRCHANGE, name, value)
	elseif name ~= nil then
		return mt.eom_check(c, MT_HDRCHANGE, name)
	end
	return mt.eom_check(c, MT_HDRCHANGE)
end

-- How many headers of this name were added or inserted.
function M.count_new(c, name)
	local n = 0
	while mt.getheader(c, name, n) ~= nil do
		n = n + 1
	end
	return n
end

function M.expect_insert(c, name, value, idx, why)
	M.ok(M.inserted(c, name, value, idx),
		why .. ": " .. name .. ": " .. value .. " inserted at index " .. tostring(idx))
end

function M.expect_no_insert(c, name, why)
	M.ok(not M.inserted(c, name), why .. ": no " .. q(name) .. " header inserted")
end

function M.expect_add(c, name, value, why)
	M.ok(M.added(c, name, value), why .. ": " .. name .. ": " .. value .. " added")
end

function M.expect_no_add(c, name, why)
	M.ok(not M.added(c, name), why .. ": no " .. q(name) .. " header added")
end

-- Exactly n headers of this name added or inserted.
function M.expect_new_count(c, name, n, why)
	local got = M.count_new(c, name)
	M.ok(got == n, why .. ": " .. n .. " new " .. name .. " header(s), got " .. got)
end

-- Deleted: copies 1..count of this name (as spelled in the deletion
-- request), and not copy count+1.
function M.expect_deleted(c, name, count, why)
	for i = 1, count do
		M.ok(M.deleted(c, name, i), why .. ": " .. name .. " #" .. i .. " deleted")
	end
	M.ok(not M.deleted(c, name, count + 1),
		why .. ": no " .. name .. " #" .. (count + 1) .. " deleted (there are " .. count .. ")")
end

-- Deleted: copy idx of this name (the MTA counts names case-insensitively;
-- the deletion request spells the name as the message did).
function M.expect_deleted_at(c, name, idx, why)
	M.ok(M.deleted(c, name, idx), why .. ": " .. name .. " #" .. idx .. " deleted")
end

function M.expect_no_delete(c, name, why)
	M.ok(not M.deleted(c, name), why .. ": no " .. q(name) .. " header deleted")
end

function M.expect_change(c, name, value, why)
	M.ok(M.changed(c, name, value), why .. ": " .. name .. " changed to \"" .. value .. "\"")
end

-- MT_HDRCHANGE also matches deletions (a change to nothing): a header
-- that was only deleted does not count as changed here.
function M.expect_no_change(c, name, why)
	M.ok(not M.changed(c, name) or M.deleted(c, name),
		why .. ": no " .. q(name) .. " header changed")
end

function M.expect_no_quarantine(c, why)
	M.ok(not mt.eom_check(c, MT_QUARANTINE), why .. ": not quarantined")
end

-- Whole messages from files (tests/milter/msgs) ---------------------------------

-- The message file msgs/NAME (CRLF line ends, as a client wrote it) split
-- as the MTA hands it to a milter: a list of {name, value} headers, and the
-- body (CRLF kept). A value is what follows "Name:" without the one blank
-- after the colon, folding kept with each CRLF turned into LF (Postfix's
-- form: "\n" then the blank), so a header folded right after the colon
-- starts with "\n".
function M.eml(name)
	local dir = os.getenv("FTLS_MILTER_TESTS") or "."
	local text = readall(dir .. "/msgs/" .. name)
	M.ok(text ~= "", "msgs/" .. name .. " exists and is not empty")
	local hend = string.find(text, "\r\n\r\n", 1, true)
	M.ok(hend ~= nil, "msgs/" .. name .. ": a header section ending in CRLF CRLF")
	local head = string.sub(text, 1, hend + 1)
	local body = string.sub(text, hend + 4)
	local headers = {}
	for line in string.gmatch(head, "(.-)\r\n") do
		if string.match(line, "^[ \t]") and #headers > 0 then
			local h = headers[#headers]
			h[2] = h[2] .. "\n" .. line
		else
			local n, v = string.match(line, "^([^:]+):(.*)$")
			M.ok(n ~= nil, "msgs/" .. name .. ": header line \"" .. line .. "\"")
			table.insert(headers, {n, (string.gsub(v, "^ ", "", 1))})
		end
	end
	return headers, body
end

-- body split in chunks of size bytes (default 65535, Postfix's chunk size).
function M.chunks(body, size)
	size = size or 65535
	local out = {}
	for i = 1, #body, size do
		table.insert(out, string.sub(body, i, i + size - 1))
	end
	if #out == 0 then
		table.insert(out, "")
	end
	return out
end

-- T.send with a message file: m.file names msgs/FILE; its headers come
-- after m.headers (when given), its body goes in m.chunk-byte chunks
-- (default 65535) unless m.nobody is set, and only when the filter asks
-- for it (body_optional, unless given as false). Other fields as in T.send.
function M.send_eml(m)
	local headers, body = M.eml(m.file)
	local all = {}
	for _, h in ipairs(m.headers or {}) do
		table.insert(all, h)
	end
	for _, h in ipairs(headers) do
		table.insert(all, h)
	end
	local s = {}
	for k, v in pairs(m) do
		s[k] = v
	end
	s.headers = all
	s.body = (not m.nobody) and M.chunks(body, m.chunk) or nil
	if m.body_optional == nil then
		s.body_optional = true
	end
	return M.send(s)
end

-- base64 (RFC 2045: lines of 76 characters, CRLF) of a string, for bodies
-- a test builds itself.
local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
function M.base64(s, nowrap)
	local out = {}
	for i = 1, #s, 3 do
		local a, b, c = string.byte(s, i, i + 2)
		local n = a * 65536 + (b or 0) * 256 + (c or 0)
		local q = {}
		for k = 3, 0, -1 do
			local x = math.floor(n / 64 ^ k) % 64
			table.insert(q, string.sub(B64, x + 1, x + 1))
		end
		if b == nil then
			q[3], q[4] = "=", "="
		elseif c == nil then
			q[4] = "="
		end
		table.insert(out, table.concat(q))
	end
	local flat = table.concat(out)
	if nowrap then
		return flat
	end
	local lines = {}
	for i = 1, #flat, 76 do
		table.insert(lines, string.sub(flat, i, i + 75))
	end
	return table.concat(lines, "\r\n") .. "\r\n"
end

-- Run a test body with a fresh directory; errors carry the filter log.
function M.run(name, body)
	M.ok(M.bin ~= nil and M.bin ~= "",
		"FTLS_MILTER names the forcetls-milter binary to test")
	M.name = name
	local p = io.popen("mktemp -d /tmp/ftls-mt-" .. name .. ".XXXXXX")
	M.dir = p:read("*l")
	p:close()
	M.ok(M.dir ~= nil and M.dir ~= "", "mktemp -d")
	os.execute("chmod 0755 " .. shq(M.dir))
	local ok, err = pcall(body)
	if ok and #M.soft_failed > 0 then
		ok, err = false, #M.soft_failed .. " check(s) failed:\n  " .. table.concat(M.soft_failed, "\n  ")
	end
	if not ok then
		local msg = tostring(err) .. "\n--- forcetls-milter log (" .. M.dir .. ") ---\n" ..
			M.log() .. "--- end of log ---"
		io.stderr:write(msg .. "\n")
		error(name .. ": " .. tostring(err), 0)
	end
	mt.echo(name .. ": all checks passed")
	if os.getenv("FTLS_MILTER_VERBOSE") then
		mt.echo(M.log())
	end
	if not os.getenv("FTLS_MILTER_KEEP") then
		os.execute("rm -rf " .. shq(M.dir))
	end
end

-- The message was flagged for encryption by the rule named by (a prefix of
-- "which" in the decision line), or not flagged at all (T.check: soft with
-- FTLS_MILTER_SOFT=1).
function M.flagged(c, d, by, why)
	M.check(M.added(c, "X-Encrypt", "yes"), why .. ": X-Encrypt: yes added")
	M.check(string.find(d, "encrypt=yes (" .. by, 1, true) ~= nil,
		why .. ": decision says encrypt=yes (" .. by .. ") (log: " .. d .. ")")
end
function M.not_flagged(c, d, why)
	M.check(not M.added(c, "X-Encrypt"), why .. ": no X-Encrypt added")
	M.check(string.find(d, "encrypt=yes", 1, true) == nil, why .. ": not flagged (" .. d .. ")")
end

return M
