-- t-attack9-big.lua: relay mode with a 50 MiB flagged body and 5,000 headers (attack9;
-- passes on main): relayed whole, and the filter's peak memory stays under 64 MiB (the
-- copy is spooled past relay_spool_threshold).
local here = os.getenv("FTLS_MILTER_TESTS") or
	(debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or ".")
local T = dofile(here .. "/lib.lua")
local function sh(cmd)
	local p = io.popen(cmd)
	local out = p:read("*a")
	p:close()
	return out
end

local gwdir, gwpid
local function gw_start(mode)
	gwdir = T.dir .. "/gw-" .. mode
	os.execute("mkdir -p " .. gwdir)
	if not io.open(T.dir .. "/key.pem") then
		os.execute("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=gw.attack9.test " ..
			"-keyout " .. T.dir .. "/key.pem -out " .. T.dir .. "/cert.pem >/dev/null 2>&1")
	end
	os.execute("cp " .. T.dir .. "/key.pem " .. T.dir .. "/cert.pem " .. gwdir)
	gwpid = sh("python3 " .. here .. "/attack9-gw.py " .. gwdir .. " " .. mode ..
		" >" .. gwdir .. "/gw.log 2>&1 & echo $!"):match("%d+")
	for _ = 1, 100 do
		local f = io.open(gwdir .. "/port")
		if f then
			local port = f:read("*l")
			f:close()
			return port
		end
		os.execute("sleep 0.1")
	end
	T.fail("the gateway did not start: " .. sh("cat " .. gwdir .. "/gw.log"))
end
local function gw_stop()
	if gwpid then os.execute("kill " .. gwpid .. " 2>/dev/null") end
	gwpid = nil
end

local function relay_conf(port)
	os.execute("mkdir -p " .. T.dir .. "/spool && chown nobody " .. T.dir .. "/spool")
	return [[
  internal_networks = [ "127.0.0.0/8" ];
  routing = "relay";
  relay_gateways = [ "[127.0.0.1]:]] .. port .. [[" ];
  relay_verify = false;
  relay_timeout = 10;
  relay_helo = "relay.attack9.test";
  relay_spool_dir = "]] .. T.dir .. [[/spool";
]]
end
T.run("attack9-big", function()
	mt.set_timeout(300)
	local port = gw_start("normal")
	os.execute("mkdir -p " .. T.dir .. "/spool && chown nobody " .. T.dir .. "/spool")
	T.start([[
  internal_networks = [ "127.0.0.0/8" ];
  routing = "relay";
  relay_gateways = [ "[127.0.0.1]:]] .. port .. [[" ];
  relay_verify = false;
  relay_timeout = 120;
  relay_helo = "relay.attack9.test";
  relay_spool_dir = "]] .. T.dir .. [[/spool";
]], "forced.test\n")
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
	T.ok(hwm ~= nil and hwm < 65536, "peak memory under 64 MiB (VmHWM " .. tostring(hwm) .. " kB)")
	local f = io.open(gwdir .. "/msg-1.eml", "rb")
	local size = f and f:seek("end") or 0
	if f then f:close() end
	T.ok(size > 52428800, "the gateway has the whole 50 MiB body (" .. size .. " bytes)")
	gw_stop()
end)
