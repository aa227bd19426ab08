-- t-signals.lua: the milter survives any sequence of reload signals at any
-- moment (issue 7), and stops with a non-zero status when it did not choose to.
--
-- The filter is started here by a shell (not mt.startfilter), so that its
-- PID and exit status can be read: forcetls-milter runs in the background,
-- its PID goes to $dir/pid, its exit status to $dir/rc.
--   start:   SIGUSR1 or SIGUSR2 within milliseconds of main() (20 starts);
--   serving: 50 x SIGUSR1 back to back, then 50 x SIGUSR1+SIGUSR2 mixed,
--            while messages flow; the table changed before is in use after;
--   long load: a 1,000,000-line table; SIGUSR1s during its load (at start
--            and in a reload), messages answered meanwhile;
--   SIGHUP:  libmilter stops the filter; exit status 1, and the log says
--            that SIGHUP stops the filter and SIGUSR1 reloads it;
--   SIGTERM: exit 0.
-- After each, a forced recipient still gets X-TLSLevel: Require.
local here = os.getenv("FTLS_MILTER_TESTS") or
	(debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or ".")
local T = dofile(here .. "/lib.lua")

local function shq(s)
	return "'" .. string.gsub(s, "'", "'\\''") .. "'"
end

local function sh(cmd)
	local ok = os.execute(cmd)
	return ok == 0 or ok == true
end

-- Configuration: the table watch off, so that reloads come from signals only;
-- no state file: this test restarts from a 1,000,000-line table onto a 1-line
-- one on purpose, which the shrink guard across restarts refuses (t-restart).
local function write_conf()
	T.conf = T.write("forcetls.conf", T.conf_text('  state_file = "";\n') ..
		"tables = { watch_table = false; };\n")
end

--[[
Start the filter in the background. sig (optional): a signal sent as soon
as the process has reached main() (SigBlk or SigCgt of /proc/PID/status shows
the signal: before that, in exec and the dynamic loader, no program can keep a
signal from its default action) plus delay_ms milliseconds.
--]]
local function launch(sig, delay_ms)
	local ready = T.log_count("ready on ")
	os.remove(T.dir .. "/pid")
	os.remove(T.dir .. "/rc")
	local early = ""
	if sig ~= nil then
		local bit = ({USR1 = "0x200", USR2 = "0x800"})[sig]
		early = "n=0; while [ $n -lt 2000 ]; do " ..
			"m=$(awk '/^Sig(Blk|Cgt)/ { printf \"%s \", $2 }' /proc/$p/status 2>/dev/null); " ..
			"hit=0; for x in $m; do [ $(( 0x$x & " .. bit .. " )) -ne 0 ] && hit=1; done; " ..
			"[ $hit = 1 ] && break; n=$((n + 1)); done; " ..
			"sleep " .. string.format("%.3f", (delay_ms or 0) / 1000) .. "; kill -" .. sig .. " $p; "
	end
	local script = "unset LD_PRELOAD; " .. shq(T.bin) .. " --foreground --config " .. shq(T.conf) ..
		" --table " .. shq(T.table) .. " --listen " .. shq(T.sock) ..
		" 2>>" .. shq(T.logfile) .. " & p=$!; echo $p >" .. shq(T.dir .. "/pid") .. "; " ..
		early .. "wait $p; echo $? >" .. shq(T.dir .. "/rc.tmp") .. "; mv " ..
		shq(T.dir .. "/rc.tmp") .. " " .. shq(T.dir .. "/rc")
	T.ok(sh("(sh -c " .. shq(script) .. " &) >/dev/null 2>&1"), "launch the filter")
	for _ = 1, 200 do
		local pid = T.readall(T.dir .. "/pid"):match("%d+")
		if pid then
			T.pid = pid
			-- The first table may take long to load on a busy machine.
			T.wait_log("ready on ", ready + 1, 120)
			return pid
		end
		mt.sleep(0.01)
	end
	T.fail("the filter's PID appears in " .. T.dir .. "/pid")
end

local function kill(sig)
	T.ok(sh("kill -" .. sig .. " " .. T.pid), "kill -" .. sig .. " " .. T.pid)
end

-- The exit status, once the filter has stopped (nil after seconds).
local function wait_exit(seconds)
	for _ = 1, (seconds or 20) * 20 do
		local rc = T.readall(T.dir .. "/rc"):match("%d+")
		if rc then
			return tonumber(rc)
		end
		mt.sleep(0.05)
	end
	return nil
end

local function alive()
	return T.readall(T.dir .. "/rc") == "" and sh("kill -0 " .. T.pid .. " 2>/dev/null")
end

-- A forced recipient gets Require, an unlisted one Try.
local function serves(why, domain)
	local c = T.send{ rcpt = {"<a@" .. (domain or "forced.test") .. ">"} }
	T.expect_insert(c, "X-TLSLevel", "Require", 0, why)
	mt.disconnect(c)
	c = T.send{ rcpt = {"<a@unlisted.test>"} }
	T.expect_insert(c, "X-TLSLevel", "Try", 0, why .. " (unlisted)")
	mt.disconnect(c)
end

local function stop_ok(why)
	kill("TERM")
	local rc = wait_exit(30)
	T.ok(rc == 0, why .. ": SIGTERM stops the filter with status 0 (got " .. tostring(rc) .. ")")
end

local function big_table(extra)
	T.table = T.dir .. "/forced-tls.table"
	local tmp = T.table .. ".tmp"
	T.ok(sh("awk 'BEGIN { print \"forced.test\"; " .. (extra or "") ..
		" for (i = 0; i < 1000000; i++) printf \"d%d.big.test\\n\", i }' >" .. shq(tmp) ..
		" && chmod 644 " .. shq(tmp) .. " && mv " .. shq(tmp) .. " " .. shq(T.table)),
		"write a 1,000,000-line table")
end

T.run("signals", function()
	T.sock = "unix:" .. T.dir .. "/milter.sock"
	T.logfile = T.dir .. "/filter.log"
	write_conf()
	T.write_table("forced.test\n")

	-- 1. A reload or status signal within milliseconds of start, 20 times.
	for i = 1, 20 do
		local sig = (i % 2 == 1) and "USR1" or "USR2"
		local before = T.log_count("reload (SIGUSR1): ok")
		launch(sig, (i - 1) % 4)
		serves("start " .. i .. " with SIG" .. sig)
		if sig == "USR1" then
			T.wait_log("reload (SIGUSR1): ok", before + 1, 20)
		end
		stop_ok("start " .. i)
	end

	-- 2. Back to back while it serves: the last table is the one in use.
	launch()
	serves("before the burst")
	T.write_table("forced.test\nnew.test\n")
	sh("(for i in $(seq 50); do kill -USR1 " .. T.pid .. "; done) &")
	for i = 1, 10 do
		serves("during the SIGUSR1 burst, message " .. i)
	end
	T.wait_log(T.table .. ", 2 entries (was 1)", 1, 20)
	serves("after 50 x SIGUSR1", "new.test")
	T.write_table("forced.test\nnew.test\nthird.test\n")
	sh("(for i in $(seq 50); do kill -USR1 " .. T.pid .. "; kill -USR2 " .. T.pid .. "; done) &")
	for i = 1, 10 do
		serves("during the mixed burst, message " .. i)
	end
	T.wait_log(T.table .. ", 3 entries (was 2)", 1, 20)
	serves("after 50 x SIGUSR1+SIGUSR2", "third.test")
	T.ok(T.log_count("running: table") >= 1, "SIGUSR2 logs the snapshot in use")
	T.ok(alive(), "the filter is alive after the bursts")

	-- 3. Reloads during a long load: a reload of a 1,000,000-line table,
	-- SIGUSR1 again and again while it loads, messages answered meanwhile
	-- from the snapshot in use.
	big_table()
	local t0 = os.time()
	kill("USR1")
	for i = 1, 5 do
		kill("USR1")
		serves("during the load of 1,000,000 lines, message " .. i)
	end
	T.wait_log(", 1000001 entries (was 3)", 1, 120)
	serves("after the long reload", "d999999.big.test")
	T.ok(os.time() - t0 < 60, "the long reload ends")
	stop_ok("long reload")

	-- ... and during the first load, at start.
	launch()
	for _ = 1, 10 do
		kill("USR1")
		mt.sleep(0.05)
	end
	serves("after SIGUSR1s during the first load", "d5.big.test")
	stop_ok("first load")

	-- 4. SIGHUP is libmilter's: the filter stops, not by its choice: status 1.
	T.write_table("forced.test\n")
	launch()
	serves("before SIGHUP")
	kill("HUP")
	local rc = wait_exit(30)
	T.ok(rc ~= nil and rc ~= 0, "SIGHUP stops the filter with a non-zero status (got " ..
		tostring(rc) .. ")")
	T.ok(T.log_count("SIGHUP stops forcetls-milter, SIGUSR1 reloads it") == 1,
		"the log says that SIGHUP stops the filter and SIGUSR1 reloads it")
end)
