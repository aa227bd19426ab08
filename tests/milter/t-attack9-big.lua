-- t-attack9-big.lua: relay mode with a 50 MiB flagged body and 5,000 headers (attack9;
-- passes on main): relayed whole, and the filter's peak memory stays under 64 MiB (the
-- copy is spooled past relay_spool_threshold).
local here = os.getenv("FTLS_MILTER_TESTS") or
	(debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or ".")
local T = dofile(here .. "/lib.lua")
local G = dofile(here .. "/relaygw.lua")(T, here)
local sh, gw_start, gw_stop = G.sh, G.start, G.stop
T.run("attack9-big", function()
	mt.set_timeout(300)
	local port = gw_start("normal")
	T.start((G.conf(port):gsub("relay_timeout = 10;", "relay_timeout = 120;")), "forced.test\n")
	local line = string.rep("y", 1022) .. "\r\n"
	local chunk = string.rep(line, 64)
	local body = {}
	for i = 1, 800 do body[i] = chunk end
	local hs = {{"Subject", "[encrypt] 50 MB"}}
	for i = 1, 5000 do hs[#hs + 1] = {"X-Many", string.rep("h", 200)} end
	local t0 = os.time()
	local c = T.send{headers = hs, body = body, expect = SMFIR_DISCARD}
	mt.disconnect(c)
	local pid = sh("ps -eo pid,args | grep -F -- '--config " .. T.conf .. "' | grep -v grep | awk '{print $1}'"):match("%d+")
	local hwm = tonumber(sh("awk '/^VmHWM/ { print $2 }' /proc/" .. pid .. "/status"))
	mt.echo("elapsed " .. (os.time() - t0) .. " s; VmHWM " .. tostring(hwm) .. " kB")
	-- ASan keeps freed memory in its quarantine (libmilter's 1 MiB body chunks pile up
	-- there), so its peak says nothing about the copy: checked on normal builds only.
	local real = T.bin or ""
	if sh("ldd '" .. real .. "' 2>/dev/null | grep -c libasan"):match("^0") == nil then
		mt.echo("ASan build: the memory bound is not judged")
	else
		T.ok(hwm ~= nil and hwm < 65536, "peak memory under 64 MiB (VmHWM " .. tostring(hwm) .. " kB)")
	end
	local f = io.open(G.dir() .. "/msg-1.eml", "rb")
	local size = f and f:seek("end") or 0
	if f then f:close() end
	T.ok(size > 52428800, "the gateway has the whole 50 MiB body (" .. size .. " bytes)")
	gw_stop()
end)
