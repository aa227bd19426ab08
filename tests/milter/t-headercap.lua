-- t-headercap.lua: a trusted X-TLSLevel: Require behind more copies than the
-- milter keeps (MSG_MAX_SEEN, 64). The values of the copies beyond the cap
-- are not kept, so any of them may be the trusted Require: the strict answer
-- is Require, never a downgrade to Try. Every copy is still deleted.
local here = os.getenv("FTLS_MILTER_TESTS") or
	(debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or ".")
local T = dofile(here .. "/lib.lua")

T.run("headercap", function()
	T.start('  internal_networks = [ "127.0.0.0/8" ];\n', "forced.test\n")
	local headers = {}
	for _ = 1, 70 do
		table.insert(headers, {"X-TLSLevel", "Try"})
	end
	table.insert(headers, {"X-TLSLevel", "Require"})
	local c, d = T.send{ rcpt = {"<a@other.test>"}, headers = headers }
	T.expect_insert(c, "X-TLSLevel", "Require", 0, "Require as copy 71 of 71")
	T.expect_new_count(c, "X-TLSLevel", 1, "Require as copy 71 of 71")
	T.expect_deleted(c, "X-TLSLevel", 71, "Require as copy 71 of 71")
	mt.disconnect(c)

	-- 70 copies of Try only: the values beyond the cap are unknown, so Require too.
	headers = {}
	for _ = 1, 70 do
		table.insert(headers, {"X-TLSLevel", "Try"})
	end
	c = T.send{ rcpt = {"<a@other.test>"}, headers = headers }
	T.expect_insert(c, "X-TLSLevel", "Require", 0, "70 copies, values beyond 64 unknown")
	mt.disconnect(c)

	-- Within the cap, Try copies stay Try.
	c = T.send{ rcpt = {"<a@other.test>"}, headers = {{"X-TLSLevel", "Try"}, {"X-TLSLevel", "Try"}} }
	T.expect_insert(c, "X-TLSLevel", "Try", 0, "two Try copies")
	mt.disconnect(c)

	-- From outside (inbound), every copy is removed and nothing is added.
	headers = {}
	for _ = 1, 70 do
		table.insert(headers, {"X-TLSLevel", "Require"})
	end
	c = T.send{ ip = "203.0.113.9", rcpt = {"<a@other.test>"}, headers = headers }
	T.expect_no_insert(c, "X-TLSLevel", "inbound")
	T.expect_deleted(c, "X-TLSLevel", 70, "inbound")
	mt.disconnect(c)
end)
