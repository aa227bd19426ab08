-- t-mime-body.lua: body patterns see the text of every text part, decoded
-- (issue 8): base64 and quoted-printable text/plain and text/html, a soft
-- line break inside the keyword, a keyword whose base64 is cut by the MTA's
-- chunk boundary, nested multipart/mixed > multipart/alternative, a
-- message/rfc822 inside, "(?m)^...$" on a CRLF body; not attachments (a
-- keyword in a base64 PDF does not flag). Bounded: body_scan_limit counts
-- decoded text bytes, body_read_limit raw bytes; mime_max_depth and
-- mime_max_parts flag the message ("mime limit"); SMFIR_SKIP once decided
-- and once a limit is reached. mime_decode = false scans the raw body.
local here = os.getenv("FTLS_MILTER_TESTS") or
	(debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or ".")
local T = dofile(here .. "/lib.lua")

local BASE = [[
  internal_networks = [ "127.0.0.0/8" ];
  body_patterns = [ "\\bCONFIDENTIAL\\b", "(?m)^SECRET-LINE$" ];
]]

local flagged, not_flagged = T.flagged, T.not_flagged
local function reconf(lines, why)
	T.write_conf(lines)
	T.check(pcall(T.reload, "ok"), why .. ": the configuration is accepted")
end

-- Messages built here (where sizes and cuts must be exact).
local HEAD = {
	{"From", "Alice Example <alice@corp.test>"}, {"To", "Bob <bob@other.test>"},
	{"Subject", "Zahlen"}, {"MIME-Version", "1.0"} }
local function headers(ctype, cte)
	local h = {}
	for _, x in ipairs(HEAD) do
		table.insert(h, x)
	end
	table.insert(h, {"Content-Type", ctype})
	if cte then
		table.insert(h, {"Content-Transfer-Encoding", cte})
	end
	return h
end
local function part(ctype, cte, content, extra)
	return "Content-Type: " .. ctype .. "\r\n" .. (extra or "") ..
		(cte and ("Content-Transfer-Encoding: " .. cte .. "\r\n") or "") .. "\r\n" .. content
end
local function multipart(bnd, parts)
	local s = "This is a multi-part message in MIME format.\r\n"
	for _, p in ipairs(parts) do
		s = s .. "--" .. bnd .. "\r\n" .. p .. "\r\n"
	end
	return s .. "--" .. bnd .. "--\r\n"
end
local function filler(n)	-- n bytes of text, ending in a blank
	local line = "lorem ipsum dolor sit amet\r\n"
	local s = string.rep(line, math.floor(n / #line) + 1)
	return string.sub(s, 1, n - 1) .. " "
end
local function binary(n)
	local t, x = {}, 7
	for i = 1, n do
		x = (x * 1103515245 + 12345) % 2147483648
		t[i] = string.char(math.floor(x / 65536) % 256)
	end
	return table.concat(t)
end

-- A text/plain base64 body whose keyword's base64 ("Q09ORklERU5USUFM": the
-- keyword starts on a 3-byte boundary) lies near 64 KB, cut after cut of its
-- 16 characters: chunk 1 ends inside it, chunk 2 starts with the rest.
local function cut_keyword(cut)
	local L = 47250
	while (4 * L / 3) % 76 > 40 do
		L = L - 3
	end
	local text = filler(L) .. "CONFIDENTIAL data\r\n" .. filler(3000)
	local body = T.base64(text)
	local p = 4 * L / 3
	local w = p + 2 * math.floor(p / 76)	-- CRLF after every 76
	T.ok(string.sub(body, w + 1, w + 16) == "Q09ORklERU5USUFM", "the keyword's base64 at " .. w)
	local c1, c2 = string.sub(body, 1, w + cut), string.sub(body, w + cut + 1)
	T.ok(#c1 <= 65535 and #c1 > 60000, "chunk 1 near 64 KB (" .. #c1 .. ")")
	T.ok(string.find(c1, "Q09ORklERU5USUFM", 1, true) == nil and
		string.find(c2, "Q09ORklERU5USUFM", 1, true) == nil, "neither chunk holds the whole keyword")
	return {c1, c2}
end

T.run("mimebody", function()
	T.start(BASE, "forced.test\n")
	local c, d

	-- Text parts as the clients write them.
	local hits = {
		{"tb-b64-plain.eml", "Thunderbird text/plain base64"},
		{"tb-html-b64.eml", "Thunderbird text/html base64 (plain part without the keyword)"},
		{"ol-html-qp.eml", "Outlook text/html quoted-printable"},
		{"ol-qp-softbreak.eml", "Outlook quoted-printable, soft break inside CONFI=DENTIAL"},
		{"tb-nested.eml", "multipart/mixed > multipart/alternative > text/plain base64"},
		{"tb-rfc822.eml", "message/rfc822 attached, its text/plain base64"},
	}
	for _, h in ipairs(hits) do
		c, d = T.send_eml{ file = h[1], body_optional = false }
		flagged(c, d, "body_patterns[0]", h[2])
		mt.disconnect(c)
	end
	c, d = T.send_eml{ file = "tb-secret-line.eml", body_optional = false }
	flagged(c, d, "body_patterns[1]", "(?m)^SECRET-LINE$ on a CRLF body")
	mt.disconnect(c)
	c, d = T.send_eml{ file = "tb-pdf-attach.eml", body_optional = false }
	not_flagged(c, d, "keyword inside a base64 application/pdf attachment")
	mt.disconnect(c)

	-- The keyword's base64 cut by the chunk boundary, between and inside
	-- base64 groups.
	for _, cut in ipairs({8, 6, 1}) do
		c, d = T.send{ headers = headers("text/plain; charset=UTF-8", "base64"), body = cut_keyword(cut) }
		flagged(c, d, "body_patterns[0]", "keyword's base64 cut after " .. cut .. " of 16 characters at 64 KB")
		mt.disconnect(c)
	end

	-- Quoted-printable cut by the chunk boundary: between "=" and its CRLF
	-- (a soft break inside the keyword), and inside a "=C3" escape.
	local qph = headers("text/plain; charset=UTF-8", "quoted-printable")
	c, d = T.send{ headers = qph, body = {filler(2000) .. "streng CONFI=", "\r\nDENTIAL und intern\r\n"} }
	flagged(c, d, "body_patterns[0]", "QP soft break inside the keyword, cut between = and CRLF")
	mt.disconnect(c)
	c, d = T.send{ headers = qph, body = {filler(2000) .. "Gr=C", "3=BC=C3=9Fe, CONFIDENTIAL\r\n"} }
	flagged(c, d, "body_patterns[0]", "QP escape =C3 cut by the chunk boundary before the keyword")
	mt.disconnect(c)

	-- Decided: SMFIR_SKIP at the first chunk, the 200 KB attachment unread.
	local B = "------------mX7cQ2nLk9fWb3Rt0sYpV1aE"
	local big = multipart(B, {
		part("text/plain; charset=UTF-8", "base64", T.base64("Bitte CONFIDENTIAL behandeln.\r\n")),
		part("application/octet-stream; name=\"data.bin\"", "base64", T.base64(binary(150000)),
			"Content-Disposition: attachment; filename=\"data.bin\"\r\n") })
	c, d = T.send{ headers = headers("multipart/mixed; boundary=\"" .. B .. "\""), body = T.chunks(big) }
	flagged(c, d, "body_patterns[0]", "keyword in the first part")
	T.check(T.skipped_at == 1, "decided in chunk 1: skip there (got " .. tostring(T.skipped_at) .. ")")
	mt.disconnect(c)

	-- body_scan_limit counts decoded text: an attachment before the text
	-- part does not use it up; text past it is not seen; reached: skip.
	reconf(BASE .. "  body_scan_limit = 2000;\n", "body_scan_limit = 2000")
	local after = multipart(B, {
		part("application/octet-stream; name=\"a.bin\"", "base64", T.base64(binary(6000)),
			"Content-Disposition: attachment; filename=\"a.bin\"\r\n"),
		part("text/plain; charset=UTF-8", "base64", T.base64(filler(100) .. "CONFIDENTIAL\r\n")) })
	c, d = T.send{ headers = headers("multipart/mixed; boundary=\"" .. B .. "\""), body = {after} }
	flagged(c, d, "body_patterns[0]", "keyword at decoded byte 100, raw byte 8000+, limit 2000")
	mt.disconnect(c)
	c, d = T.send{ headers = headers("text/plain; charset=UTF-8", "base64"),
		body = {T.base64(filler(3000) .. "CONFIDENTIAL\r\n")} }
	-- Past body_scan_limit the keyword is not seen, and the limit counts as a
	-- match (issue 8: "a limit ... counts as a match"): what was not scanned may
	-- hold anything.
	flagged(c, d, "body_scan_limit", "keyword at decoded byte 3000, limit 2000")
	mt.disconnect(c)
	c, d = T.send{ headers = headers("text/plain; charset=UTF-8", "base64"),
		body = T.chunks(T.base64(filler(100000)), 16384) }
	flagged(c, d, "body_scan_limit", "100 KB of text, limit 2000")
	T.check(T.skipped_at == 1, "body_scan_limit reached in chunk 1: skip there (got " ..
		tostring(T.skipped_at) .. ")")
	mt.disconnect(c)

	-- body_read_limit: raw bytes; past it, skip (a body of attachments only).
	reconf(BASE .. "  body_read_limit = 100000;\n", "body_read_limit = 100000")
	local att = multipart(B, {
		part("application/octet-stream; name=\"b.bin\"", "base64", T.base64(binary(225000)),
			"Content-Disposition: attachment; filename=\"b.bin\"\r\n") })
	c, d = T.send{ headers = headers("multipart/mixed; boundary=\"" .. B .. "\""), body = T.chunks(att) }
	T.check(T.skipped_at ~= nil and T.skipped_at <= 2, "300 KB body, body_read_limit 100000: skip by chunk 2 (got " ..
		tostring(T.skipped_at) .. ")")
	mt.disconnect(c)

	-- Nesting and part limits: past them the message is flagged.
	reconf(BASE .. "  mime_max_depth = 3;\n  mime_max_parts = 6;\n", "mime_max_depth, mime_max_parts")
	local function nest(depth)
		local s = part("text/plain", "7bit", "hello\r\n")
		for i = depth, 1, -1 do
			s = "Content-Type: multipart/mixed; boundary=\"b" .. i .. "\"\r\n\r\n" .. multipart("b" .. i, {s})
		end
		return s
	end
	local hs, body
	local function split(s)	-- a part's own headers become the message's
		local ct, rest = string.match(s, "^Content%-Type: ([^\r]*)\r\n\r\n(.*)$")
		return headers(ct), rest
	end
	hs, body = split(nest(2))
	c, d = T.send{ headers = hs, body = {body} }
	not_flagged(c, d, "depth 2 of 3")
	mt.disconnect(c)
	hs, body = split(nest(6))
	c, d = T.send{ headers = hs, body = {body} }
	flagged(c, d, "mime limit", "depth 6, mime_max_depth 3")
	mt.disconnect(c)
	local parts = {}
	for i = 1, 4 do
		parts[i] = part("text/plain", "7bit", "hello " .. i .. "\r\n")
	end
	c, d = T.send{ headers = headers("multipart/mixed; boundary=\"" .. B .. "\""), body = {multipart(B, parts)} }
	not_flagged(c, d, "5 parts, mime_max_parts 6")
	mt.disconnect(c)
	for i = 5, 12 do
		parts[i] = part("text/plain", "7bit", "hello " .. i .. "\r\n")
	end
	c, d = T.send{ headers = headers("multipart/mixed; boundary=\"" .. B .. "\""), body = {multipart(B, parts)} }
	flagged(c, d, "mime limit", "13 parts, mime_max_parts 6")
	mt.disconnect(c)

	-- mime_decode = false: the raw body, as before.
	reconf(BASE .. "  mime_decode = false;\n", "mime_decode = false")
	c, d = T.send_eml{ file = "tb-b64-plain.eml", body_optional = false }
	not_flagged(c, d, "mime_decode off: base64 text not decoded")
	mt.disconnect(c)
	c, d = T.send{ headers = headers("text/plain", "7bit"), body = {"Bitte CONFIDENTIAL behandeln.\r\n"} }
	flagged(c, d, "body_patterns[0]", "mime_decode off: raw 7bit text")
	mt.disconnect(c)
end)
