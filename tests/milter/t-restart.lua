-- t-restart.lua: the shrink guard across restarts (issue 7, milter.state_file).
-- The filter starts on a 10-entry table and remembers it in its state file;
-- the table is emptied in place (": > table"); a second start on it (a
-- restart: logrotate's SIGHUP stops the filter, systemd starts it again)
-- logs "start refused" and exits 1, so Postfix defers instead of sending
-- in clear text. With tables.reload_allow_empty = true it starts.
local here = os.getenv("FTLS_MILTER_TESTS") or
	(debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or ".")
local T = dofile(here .. "/lib.lua")

local function shq(s)
	return "'" .. string.gsub(s, "'", "'\\''") .. "'"
end

-- Another filter on the same configuration and table, at most seconds long:
-- its output and exit status (124: still running, i.e. it started).
local function second_start(conf, seconds)
	local p = io.popen("unset LD_PRELOAD; timeout " .. seconds .. " " .. shq(T.bin) ..
		" --foreground --config " .. shq(conf) .. " --table " .. shq(T.table) ..
		" --listen " .. shq("unix:" .. T.dir .. "/second.sock") .. " 2>&1; echo \"rc=$?\"")
	local out = p:read("*a")
	p:close()
	return string.gsub(out, "rc=%d+%s*$", ""), tonumber(string.match(out, "rc=(%d+)%s*$"))
end

T.run("restart", function()
	local ten = ""
	for i = 0, 9 do
		ten = ten .. "f" .. i .. ".forced.test encrypt\n"
	end
	T.start("", ten)
	local state = T.dir .. "/state/milter.state"
	T.ok(T.readall(state) == "table " .. T.table .. "\nentries 10\n",
		"the state file remembers the table and its 10 entries: " .. T.readall(state))

	-- ": > table", then a restart on it.
	local f = assert(io.open(T.table, "w"))
	f:close()
	local out, rc = second_start(T.conf, 20)
	T.ok(rc == 1, "a start on the emptied table exits 1 (got " .. tostring(rc) .. "): " .. out)
	T.ok(string.find(out, "start refused: " .. T.table .. " has 0 entries, the table in " ..
		"use before had 10 (" .. state .. ")", 1, true) ~= nil,
		"the start refused is logged with both counts and the state file: " .. out)
	T.ok(string.find(out, "ready on", 1, true) == nil, "the refused filter never got ready")
	T.ok(T.readall(state) == "table " .. T.table .. "\nentries 10\n",
		"a refused start leaves the state file as it was")

	-- tables.reload_allow_empty = true: the same start goes ahead.
	local allow = T.write("allow.conf", T.conf_text("") .. "tables = { reload_allow_empty = true; };\n")
	out, rc = second_start(allow, 3)
	T.ok(rc == 124 and string.find(out, "ready on", 1, true) ~= nil,
		"with tables.reload_allow_empty = true the filter starts on the empty table (rc " ..
		tostring(rc) .. "): " .. out)
end)
