-- t-mime-status.lua: the gateway's status headers (issue 8). Every copy
-- counts: 100 copies of "X-Encrypt-Status: success" and then one "failure"
-- take the failure path (on_encrypt_failure), as does "failure" first; a
-- value that is neither the success nor the failure value ("pending") is a
-- failure too, and is logged. One success stays a success.
local here = os.getenv("FTLS_MILTER_TESTS") or
	(debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or ".")
local T = dofile(here .. "/lib.lua")

local BASE = [[
  internal_networks = [ "10.0.0.0/8", "127.0.0.0/8" ];
  gateway_networks = [ "10.9.9.0/24" ];
]]
local GW = "10.9.9.5"

local function status(list)
	local h = {}
	for _, v in ipairs(list) do
		table.insert(h, {"X-Encrypt-Status", v})
	end
	return h
end
local function failure_path(c, d, why)
	T.check(string.find(d, "gateway=failure", 1, true) ~= nil, why .. ": gateway=failure (" .. d .. ")")
	T.check(T.inserted(c, "X-TLSLevel", "Require", 0), why .. ": X-TLSLevel: Require (on_encrypt_failure = tls)")
end

T.run("mimestatus", function()
	T.start(BASE, "forced.test\n")
	local c, d
	local flood = {}
	for i = 1, 100 do
		flood[i] = "success"
	end

	c, d = T.send_eml{ file = "tb-b64-plain.eml", ip = GW, headers = status({"success"}), nobody = true }
	T.check(string.find(d, "gateway=success", 1, true) ~= nil, "one success: gateway=success (" .. d .. ")")
	T.check(T.inserted(c, "X-TLSLevel", "Try", 0), "one success: X-TLSLevel: Try")
	mt.disconnect(c)

	local late = {}
	for i = 1, 100 do
		late[i] = flood[i]
	end
	late[101] = "failure"
	c, d = T.send_eml{ file = "tb-b64-plain.eml", ip = GW, headers = status(late), nobody = true }
	failure_path(c, d, "100 x success, then failure")
	mt.disconnect(c)

	local first = {"failure"}
	for i = 1, 100 do
		first[i + 1] = flood[i]
	end
	c, d = T.send_eml{ file = "tb-b64-plain.eml", ip = GW, headers = status(first), nobody = true }
	failure_path(c, d, "failure, then 100 x success")
	mt.disconnect(c)

	c, d = T.send_eml{ file = "tb-b64-plain.eml", ip = GW, headers = status({"success", "pending"}), nobody = true }
	failure_path(c, d, "success and an unknown value \"pending\"")
	local qid = T.last_qid
	local logged = false
	for line in string.gmatch(T.log(), "[^\n]+") do
		if string.find(line, qid, 1, true) and string.find(line, "pending", 1, true) then
			logged = true
		end
	end
	T.check(logged, "the unknown status value \"pending\" is logged with " .. qid)
	mt.disconnect(c)

	-- hold: the failure path really is on_encrypt_failure.
	T.reconfigure(BASE .. '  on_encrypt_failure = "hold";\n')
	c, d = T.send_eml{ file = "tb-b64-plain.eml", ip = GW, headers = status(late), nobody = true }
	T.check(mt.eom_check(c, MT_QUARANTINE), "100 x success, then failure, hold: quarantined")
	mt.disconnect(c)
	c, d = T.send{ ip = GW, headers = status({"pending"}) }
	T.check(mt.eom_check(c, MT_QUARANTINE), "\"pending\" alone, hold: quarantined")
	mt.disconnect(c)
end)
