-- t-watch.lua: the milter's table watch (tables.watch_table, on by default) and
-- its shrink guard (issue 7): a table renamed into place is picked up without a
-- signal; an emptied table (": > table", "mv empty table") and a 54% shrink are
-- refused, and forced recipients keep X-TLSLevel: Require. A FIFO at the
-- table's path is refused at once: on main the reload thread waited in
-- open(2) for a writer, and no reload ever ran again (attack2). The table's
-- directory removed and created again is watched again.
local here = os.getenv("FTLS_MILTER_TESTS") or
	(debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or ".")
local T = dofile(here .. "/lib.lua")

local function level(rcpt, want, why)
	local c = T.send{ rcpt = {rcpt} }
	T.expect_insert(c, "X-TLSLevel", want, 0, why)
	mt.disconnect(c)
end

local function lines(n, extra)
	local t = {}
	for i = 1, n do
		t[#t + 1] = "f" .. i .. ".forced.test\n"
	end
	return table.concat(t) .. (extra or "")
end

T.run("watch", function()
	T.start("", lines(10))
	level("<a@f1.forced.test>", "Require", "start")
	level("<a@new.test>", "Try", "start")

	-- A new table renamed into place (T.write_table writes a temporary file
	-- and renames it): in use without any signal.
	T.write_table(lines(10, "new.test\n"))
	T.wait_log("reload (watch): ok " .. T.table .. ", 11 entries (was 10)", 1, 20)
	level("<a@new.test>", "Require", "after the watch reload")

	-- Emptied in place: refused.
	local f = assert(io.open(T.table, "w"))
	f:close()
	T.wait_log("reload (watch): refused: the new table has 0 entries", 1, 20)
	level("<a@f1.forced.test>", "Require", "after \": > table\"")

	-- An empty file renamed into place: refused.
	T.write_table("")
	T.wait_log("reload (watch): refused: the new table has 0 entries", 2, 20)
	level("<a@f10.forced.test>", "Require", "after \"mv empty table\"")

	-- 11 -> 5 entries (54% fewer, more than the default 50%): refused.
	T.write_table(lines(4, "new.test\n"))
	T.wait_log("reload (watch): refused: the new table has 5 entries, 54% fewer", 1, 20)
	T.ok(T.log_count("keeping " .. T.table .. ", 11 entries") >= 3,
		"each refusal names the table kept and its 11 entries")
	level("<a@f9.forced.test>", "Require", "after a 54% shrink")

	-- A FIFO where the table was: refused, and the next table goes in.
	os.remove(T.table)
	T.ok(os.execute("mkfifo -m 0644 '" .. T.table .. "'"), "mkfifo")
	T.reload("fail")
	T.ok(T.log_count(T.table .. ": not a regular file") == 1, "the FIFO is not a regular file")
	os.remove(T.table)
	T.write_table(lines(10, "fifo.test\n"))
	T.wait_log("reload (watch): ok " .. T.table .. ", 11 entries (was 11)", 1, 20)
	level("<a@fifo.test>", "Require", "after the FIFO")
end)
