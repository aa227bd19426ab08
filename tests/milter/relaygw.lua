-- relaygw.lua: a hostile or normal encryption gateway (attack9-gw.py) for the relay mode
-- tests t-attack9*.lua, and the relay settings that point the filter at it.
--   local G = dofile(here .. "/relaygw.lua")(T, here)
--   G.start(mode) -> port; G.stop(); G.dir() (its folder: msg-N.eml, gw.log);
--   G.conf(port) -> milter settings (relay mode, no verification, 10 s, a spool dir);
--   G.sh(cmd) -> what cmd printed.
return function(T, here)
	local G, dir, pid = {}, nil, nil

	function G.sh(cmd)
		local p = io.popen(cmd)
		local out = p:read("*a")
		p:close()
		return out
	end

	function G.dir()
		return dir
	end

	function G.start(mode)
		dir = T.dir .. "/gw-" .. mode
		os.execute("mkdir -p " .. dir)
		if not io.open(T.dir .. "/key.pem") then
			os.execute("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=gw.attack9.test " ..
				"-keyout " .. T.dir .. "/key.pem -out " .. T.dir .. "/cert.pem >/dev/null 2>&1")
		end
		os.execute("cp " .. T.dir .. "/key.pem " .. T.dir .. "/cert.pem " .. dir)
		os.remove(dir .. "/port") -- a gateway started again in the same dir writes a new one
		pid = G.sh("python3 " .. here .. "/attack9-gw.py " .. dir .. " " .. mode ..
			" >" .. dir .. "/gw.log 2>&1 & echo $!"):match("%d+")
		for _ = 1, 100 do
			local f = io.open(dir .. "/port")
			if f then
				local port = f:read("*l")
				f:close()
				return port
			end
			os.execute("sleep 0.1")
		end
		T.fail("the gateway did not start: " .. G.sh("cat " .. dir .. "/gw.log"))
	end

	function G.stop()
		if pid then os.execute("kill " .. pid .. " 2>/dev/null") end
		pid = nil
	end

	function G.conf(port)
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

	return G
end
