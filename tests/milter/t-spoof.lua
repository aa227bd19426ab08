-- t-spoof.lua: headers an outside client must not be able to set (SPEC 4).
-- From an inbound client, every X-TLSLevel, trigger (X-Encrypt, X-Decrypt),
-- gateway verdict (X-Encrypt-Status, X-Decrypt-Status) and TLS-Required
-- header is deleted, every copy of each (names in any case), and nothing is
-- inserted or added. Verdicts from an internal client are deleted too
-- (only the gateway may send them).
local here = os.getenv("FTLS_MILTER_TESTS") or
	(debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or ".")
local T = dofile(here .. "/lib.lua")

local CONF = [[
  internal_networks = [ "127.0.0.0/8" ];
  gateway_networks = [ "10.9.9.0/24" ];
]]

T.run("spoof", function()
	T.start(CONF, "forced.test\n")
	local c, d

	-- Inbound (203.0.113.9 is neither internal nor gateway), one of each.
	c, d = T.send{ ip = "203.0.113.9", host = "mx.outside.example",
		from = "<x@outside.example>", rcpt = {"<user@forced.test>"}, headers = {
		{"X-TLSLevel", "Require"}, {"X-Encrypt", "yes"}, {"X-Encrypt-Status", "success"},
		{"X-Decrypt", "yes"}, {"X-Decrypt-Status", "success"}, {"TLS-Required", "No"},
		{"Subject", "[secure] hello"} } }
	T.expect_deleted(c, "X-TLSLevel", 1, "inbound")
	T.expect_deleted(c, "X-Encrypt", 1, "inbound")
	T.expect_deleted(c, "X-Encrypt-Status", 1, "inbound")
	T.expect_deleted(c, "X-Decrypt", 1, "inbound")
	T.expect_deleted(c, "X-Decrypt-Status", 1, "inbound")
	T.expect_deleted(c, "TLS-Required", 1, "inbound")
	T.expect_no_delete(c, "Subject", "inbound")
	T.expect_no_insert(c, nil, "inbound")
	T.expect_no_add(c, nil, "inbound (a subject tag from outside flags nothing)")
	T.expect_no_change(c, "Subject", "inbound")
	T.expect_log(d, "direction=inbound")
	mt.disconnect(c)

	-- Duplicates: two copies of each, names spelled in other cases.
	c = T.send{ ip = "203.0.113.9", headers = {
		{"X-TLSLevel", "Require"}, {"x-tlslevel", "Try"},
		{"X-Encrypt", "yes"}, {"X-ENCRYPT", "yes"},
		{"X-Encrypt-Status", "success"}, {"X-Encrypt-Status", "failure"},
		{"X-Decrypt", "yes"}, {"X-Decrypt", "yes"},
		{"X-Decrypt-Status", "failure"}, {"x-decrypt-status", "success"},
		{"TLS-Required", "No"}, {"Tls-Required", "No"} } }
	-- The MTA counts same-named headers case-insensitively: the second
	-- copy is #2 whatever its spelling.
	T.expect_deleted_at(c, "X-TLSLevel", 1, "duplicates")
	T.expect_deleted_at(c, "x-tlslevel", 2, "duplicates (2nd copy, its own spelling)")
	T.expect_deleted_at(c, "X-Encrypt", 1, "duplicates")
	T.expect_deleted_at(c, "X-ENCRYPT", 2, "duplicates")
	T.expect_deleted(c, "X-Encrypt-Status", 2, "duplicates")
	T.expect_deleted(c, "X-Decrypt", 2, "duplicates")
	T.expect_deleted_at(c, "X-Decrypt-Status", 1, "duplicates")
	T.expect_deleted_at(c, "x-decrypt-status", 2, "duplicates")
	T.expect_deleted_at(c, "TLS-Required", 1, "duplicates")
	T.expect_deleted_at(c, "Tls-Required", 2, "duplicates")
	T.ok(not T.deleted(c, "X-TLSLevel", 2) and not T.deleted(c, "X-TLSLevel", 3) and
		not T.deleted(c, "x-tlslevel", 3), "duplicates: only the two X-TLSLevel copies")
	T.expect_no_insert(c, nil, "duplicates")
	T.expect_no_add(c, nil, "duplicates")
	mt.disconnect(c)

	-- Spoofed headers interleaved with ordinary ones keep their own count.
	c = T.send{ ip = "203.0.113.9", headers = {
		{"Received", "from a"}, {"X-Encrypt", "yes"}, {"Received", "from b"},
		{"X-Encrypt", "no"}, {"Subject", "x"}, {"X-Encrypt", "yes"} } }
	T.expect_deleted(c, "X-Encrypt", 3, "three copies among others")
	T.expect_no_delete(c, "Received", "three copies among others")
	mt.disconnect(c)

	-- Many copies: every one goes, however many there are (the filter keeps
	-- a bounded list per kind; the copies past it must not survive).
	local many = {}
	for i = 1, 70 do
		table.insert(many, {"X-Encrypt-Status", "success"})
	end
	for i = 1, 150 do
		table.insert(many, {"X-TLSLevel", "Require"})
	end
	c, d = T.send{ ip = "203.0.113.9", headers = many }
	T.expect_deleted(c, "X-Encrypt-Status", 70, "70 spoofed copies")
	T.expect_deleted(c, "X-TLSLevel", 150, "150 spoofed copies")
	T.expect_log(d, "removed=X-TLSLevel*150")
	mt.disconnect(c)
	-- ... and from an internal client, with X-TLSLevel still inserted once.
	c = T.send{ headers = many }
	T.expect_deleted(c, "X-TLSLevel", 150, "150 copies, outbound")
	T.expect_insert(c, "X-TLSLevel", "Require", 0, "150 copies of a trusted Require")
	T.expect_new_count(c, "X-TLSLevel", 1, "150 copies, outbound")
	mt.disconnect(c)

	-- Gateway verdicts from an internal client are not trusted either.
	c, d = T.send{ headers = {
		{"X-Encrypt-Status", "failure"}, {"X-Decrypt-Status", "success"},
		{"X-Encrypt", "yes"}, {"TLS-Required", "No"} } }
	T.expect_deleted(c, "X-Encrypt-Status", 1, "outbound verdict")
	T.expect_deleted(c, "X-Decrypt-Status", 1, "outbound verdict")
	T.expect_deleted(c, "X-Encrypt", 1, "outbound trigger set by the user")
	T.expect_no_add(c, "X-Encrypt", "outbound trigger set by the user, no rule")
	T.expect_insert(c, "X-TLSLevel", "Try", 0, "outbound failure verdict not trusted")
	T.expect_no_delete(c, "TLS-Required", "outbound Try (not forced, not flagged)")
	mt.disconnect(c)
end)
