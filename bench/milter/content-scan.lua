-- bench/milter/content-scan.lua: body scan throughput of the real
-- forcetls-milter, driven by miltertest (run by content-scan.sh, which sets
-- the environment; see there). One mode per run: the milter is started with
-- the 10 body patterns of PATTERNS below and the extra milter lines in
-- $BENCH_LINES (mime_decode = false or true, limits), then the mixed corpus
-- (plain text, HTML in quoted-printable, base64 text, a message with two
-- base64 attachments) is sent $BENCH_ROUNDS times in 65535-byte chunks, as
-- Postfix sends a body. No pattern matches the corpus (checked: a message
-- that is flagged would be skipped and inflate the figure), so every body
-- byte is read and everything the mode scans is scanned.
-- Prints: "content-scan: BYTES bytes in SECONDS s (MESSAGES messages)".
local tests = os.getenv("FTLS_MILTER_TESTS")
local T = dofile(tests .. "/lib.lua")

local PATTERNS = [[
  body_patterns = [ "\\bCONFIDENTIAL\\b", "\\bSTRENG VERTRAULICH\\b", "account number: \\d{4}",
    "\\b[A-Z]{2}\\d{2}(?: ?\\d{4}){4,7}\\b", "\\b\\d{3}-\\d{2}-\\d{4}\\b", "internal use only",
    "\\bproject (?:falcon|osprey)\\b", "(?m)^SECRET-LINE$", "\\bGehaltsliste\\b",
    "passport no\\.? ?[A-Z0-9]{8}\\b" ];
]]

local WORDS = { "lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit",
	"sed", "do", "eiusmod", "tempor", "incididunt", "ut", "labore", "et", "dolore", "magna",
	"aliqua", "Angebot", "Rechnung", "Termin", "Bericht", "Zahlen", "Projekt", "Kunde" }
local seed = 12345
local function rnd(n)
	seed = (seed * 1103515245 + 12345) % 2147483648
	return math.floor(seed / 65536) % n
end
local function text(n)	-- about n bytes of prose, CRLF lines of about 70
	local out, len, line = {}, 0, 0
	while len < n do
		local w = WORDS[rnd(#WORDS) + 1]
		table.insert(out, w)
		len, line = len + #w + 1, line + #w + 1
		if line > 68 then
			table.insert(out, "\r\n")
			len, line = len + 2, 0
		else
			table.insert(out, " ")
		end
	end
	return table.concat(out) .. "\r\n"
end
local function binary(n)
	local t = {}
	for i = 1, n do
		t[i] = string.char(rnd(256))
	end
	return table.concat(t)
end
local function qp(s)	-- HTML to quoted-printable, lines cut at 76 with soft breaks
	s = string.gsub(s, "=", "=3D")
	local out = {}
	for line in string.gmatch(s, "(.-)\r\n") do
		while #line > 75 do
			table.insert(out, string.sub(line, 1, 75) .. "=\r\n")
			line = string.sub(line, 76)
		end
		table.insert(out, line .. "\r\n")
	end
	return table.concat(out)
end
local function html(n)
	local s = "<html><head><meta http-equiv=\"content-type\" content=\"text/html; charset=UTF-8\">" ..
		"</head><body>\r\n"
	while #s < n do
		s = s .. "<p style=\"margin:0\"><span class=\"x\">" .. string.gsub(text(300), "\r\n", " ") ..
			"</span></p>\r\n"
	end
	return s .. "</body></html>\r\n"
end

local B = "------------mX7cQ2nLk9fWb3Rt0sYpV1aE"
local CORPUS = {
	{ct = "text/plain; charset=UTF-8; format=flowed", cte = "7bit", body = text(60000)},
	{ct = "text/html; charset=UTF-8", cte = "quoted-printable", body = qp(html(60000))},
	{ct = "text/plain; charset=UTF-8", cte = "base64", body = T.base64(text(60000))},
	{ct = "multipart/mixed; boundary=\"" .. B .. "\"", body =
		"This is a multi-part message in MIME format.\r\n--" .. B .. "\r\n" ..
		"Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n" ..
		text(2000) .. "\r\n--" .. B .. "\r\n" ..
		"Content-Type: application/pdf; name=\"report.pdf\"\r\nContent-Transfer-Encoding: base64\r\n" ..
		"Content-Disposition: attachment; filename=\"report.pdf\"\r\n\r\n" .. T.base64(binary(300000)) ..
		"\r\n--" .. B .. "\r\n" ..
		"Content-Type: image/png; name=\"chart.png\"\r\nContent-Transfer-Encoding: base64\r\n" ..
		"Content-Disposition: attachment; filename=\"chart.png\"\r\n\r\n" .. T.base64(binary(200000)) ..
		"\r\n--" .. B .. "--\r\n"},
}

local function now()
	local p = io.popen("date +%s.%N")
	local s = p:read("*l")
	p:close()
	return tonumber(s)
end

T.run("contentscan", function()
	T.start('  internal_networks = [ "127.0.0.0/8" ];\n  log_decisions = false;\n' .. PATTERNS .. (os.getenv("BENCH_LINES") or ""),
		"forced.test\n")
	local rounds = tonumber(os.getenv("BENCH_ROUNDS") or "50")
	local msgs = {}
	for _, m in ipairs(CORPUS) do
		local h = {{"From", "<alice@corp.test>"}, {"To", "<bob@other.test>"}, {"Subject", "bench"},
			{"MIME-Version", "1.0"}, {"Content-Type", m.ct}}
		if m.cte then
			table.insert(h, {"Content-Transfer-Encoding", m.cte})
		end
		table.insert(msgs, {headers = h, body = T.chunks(m.body), bytes = #m.body})
	end
	-- Warm-up, and the proof that nothing matches.
	for _, m in ipairs(msgs) do
		local c = T.send{ headers = m.headers, body = m.body }
		T.ok(not T.added(c, "X-Encrypt"), "bench corpus is not flagged")
		T.ok(T.skipped_at == nil, "bench corpus: the whole body is read")
		mt.disconnect(c)
	end
	local bytes, n = 0, 0
	local t0 = now()
	for _ = 1, rounds do
		for _, m in ipairs(msgs) do
			local c = T.send{ headers = m.headers, body = m.body }
			mt.disconnect(c)
			bytes, n = bytes + m.bytes, n + 1
		end
	end
	local dt = now() - t0
	mt.echo(string.format("content-scan: %d bytes in %.3f s (%d messages)", bytes, dt, n))
end)
