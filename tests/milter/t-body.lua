-- t-body.lua: body patterns flag outbound mail for encryption (SPEC 4):
-- a match inside one chunk, a match split across two chunks, a match that
-- needs the end of the body to complete, no match, body_scan_limit, and
-- SMFIR_SKIP as soon as the message is decided (or when the body is not
-- scanned at all: inbound mail, or mail flagged by its subject); reaching
-- body_scan_limit or body_read_limit counts as a match (issue 8).
local here = os.getenv("FTLS_MILTER_TESTS") or
	(debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or ".")
local T = dofile(here .. "/lib.lua")

local BASE = [[
  internal_networks = [ "127.0.0.0/8" ];
  decrypt_patterns = [ ];
  body_patterns = [ "\\bCONFIDENTIAL\\b", "account number: \\d{4}" ];
]]

local function flagged(c, d, by, why)
	T.expect_add(c, "X-Encrypt", "yes", why)
	T.expect_log(d, "encrypt=yes (" .. by .. ")", why)
end
local function not_flagged(c, d, why)
	T.expect_no_add(c, "X-Encrypt", why)
	T.ok(string.find(d, "encrypt=yes", 1, true) == nil, why .. ": not flagged (" .. d .. ")")
end

T.run("body", function()
	T.start(BASE, "forced.test\n")
	local c, d
	local filler = string.rep("lorem ipsum dolor sit amet\r\n", 20)

	-- In one chunk: flagged, and the rest of the body is skipped.
	c, d = T.send{ body = {"Hello,\r\nthis is confidential.\r\n", filler, filler} }
	flagged(c, d, "body_patterns[0]", "one chunk")
	T.ok(T.skipped_at == 1, "one chunk: skip after chunk 1 (got " .. tostring(T.skipped_at) .. ")")
	mt.disconnect(c)

	-- Split across two chunks (word, and a pattern with a space and digits).
	c, d = T.send{ body = {filler .. "this is CONFIDEN", "TIAL data\r\n", filler} }
	flagged(c, d, "body_patterns[0]", "word split across chunks")
	T.ok(T.skipped_at == 2, "split: skip after chunk 2 (got " .. tostring(T.skipped_at) .. ")")
	mt.disconnect(c)
	c, d = T.send{ body = {"your account num", "ber: 12", "34\r\n"} }
	flagged(c, d, "body_patterns[1]", "pattern split across three chunks")
	mt.disconnect(c)

	-- The match completes only at the end of the body ("\b" needs to know
	-- that nothing follows).
	c, d = T.send{ body = {filler, "strictly CONFIDENTIAL"} }
	flagged(c, d, "body_patterns[0]", "match at the very end of the body")
	T.ok(T.skipped_at == nil, "match at the end: no skip before end of message")
	mt.disconnect(c)

	-- No match: every chunk answers continue, nothing flagged.
	c, d = T.send{ body = {"CONFIDENTIALITY agreement\r\n", "account number: 12x4\r\n", filler} }
	not_flagged(c, d, "no match")
	T.ok(T.skipped_at == nil, "no match: all chunks read")
	mt.disconnect(c)

	-- Already flagged by the subject: the body is not needed.
	c, d = T.send{ headers = {{"Subject", "[secure] x"}}, body = {filler, "CONFIDENTIAL"} }
	flagged(c, d, "subject_tag", "subject tag")
	T.ok(T.skipped_at == 1, "flagged by the subject: skip at chunk 1")
	mt.disconnect(c)

	-- Inbound: body patterns are for outbound mail only.
	c, d = T.send{ ip = "192.0.2.77", body = {"CONFIDENTIAL\r\n", filler} }
	not_flagged(c, d, "inbound")
	T.ok(T.skipped_at == 1, "inbound: skip at chunk 1")
	mt.disconnect(c)

	-- body_scan_limit: a match past the limit is not seen; reaching the limit
	-- counts as a match (issue 8), so the message is flagged all the same.
	T.reconfigure(BASE .. "  body_scan_limit = 100;\n")
	c, d = T.send{ body = {string.rep("x", 90) .. "\r\n", "CONFIDENTIAL\r\n"} }
	flagged(c, d, "body_scan_limit", "match past body_scan_limit")
	mt.disconnect(c)
	c, d = T.send{ body = {string.rep("x", 60) .. "\r\n", "CONFIDENTIAL\r\n"} }
	flagged(c, d, "body_patterns[0]", "match inside body_scan_limit")
	mt.disconnect(c)

	-- body_read_limit (raw bytes read) counts as a match too, decoded or raw;
	-- a body under it is judged as usual.
	for _, decode in ipairs({"true", "false"}) do
		T.reconfigure(BASE .. "  body_read_limit = 200;\n  mime_decode = " .. decode .. ";\n")
		c, d = T.send{ body = {string.rep("x", 150) .. "\r\n", string.rep("y", 150) .. "\r\n"} }
		flagged(c, d, "body_read_limit", "body_read_limit reached, mime_decode = " .. decode)
		T.ok(T.skipped_at == 2, "body_read_limit: skip at chunk 2 (got " ..
			tostring(T.skipped_at) .. ")")
		mt.disconnect(c)
		c, d = T.send{ body = {string.rep("x", 100) .. "\r\n"} }
		not_flagged(c, d, "under body_read_limit, mime_decode = " .. decode)
		mt.disconnect(c)
	end
end)
