-- t-mime-subject.lua: the subject tag and header patterns see a header as a
-- person reads it (issue 8): unfolded, RFC 2047 encoded words decoded to
-- UTF-8 (B and Q, UTF-8, ISO-8859-1 and Windows-1252, several words, folded
-- anywhere, even right after the colon), in the forms Thunderbird 115 and
-- Outlook 365 write (msgs/tb-subject-*.eml, msgs/ol-subject-*.eml). With
-- strip_subject_tag the Subject written back is a valid header that decodes
-- to the text without the tag: plain when it is ASCII, else RFC 2047 words
-- in UTF-8 (checked against the encodings a correct encoder may choose).
local here = os.getenv("FTLS_MILTER_TESTS") or
	(debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or ".")
local T = dofile(here .. "/lib.lua")

local BASE = [[
  internal_networks = [ "127.0.0.0/8" ];
  header_patterns = [ "Subject: Gehaltsübersicht für alle",
                      "Thread-Topic: ^Angebot – Preise 2026$",
                      "X-Classification: ^secret$" ];
]]

local flagged, not_flagged = T.flagged, T.not_flagged

-- RFC 2047 Q (as for a header: "_" for a space) of UTF-8 text made of
-- letters, digits, blanks and non-ASCII characters.
local function qenc(s)
	return (string.gsub(s, "[^%w]", function(ch)
		if ch == " " then
			return "_"
		end
		return string.format("=%02X", string.byte(ch))
	end))
end

-- The values a correct encoder may write for UTF-8 text: the whole text as
-- one encoded word, or (as GMime does) each run of words holding non-ASCII
-- characters encoded and the ASCII words between them left as they are;
-- each encoded word in B or Q, "UTF-8" or "utf-8", "B"/"b", "Q"/"q".
local function encodings(text)
	local words = {}
	for w in string.gmatch(text, "[^ ]+") do
		table.insert(words, w)
	end
	local runs = {}	-- {ascii, string}
	for _, w in ipairs(words) do
		local ascii = string.find(w, "[\128-\255]") == nil
		local last = runs[#runs]
		if last ~= nil and not last[1] and not ascii then
			last[2] = last[2] .. " " .. w
		else
			table.insert(runs, {ascii, w})
		end
	end
	local out = {}
	for _, cs in ipairs({"UTF-8", "utf-8"}) do
		for _, up in ipairs({true, false}) do
			local B, Q = up and "B" or "b", up and "Q" or "q"
			local function word(s, b)
				if b then
					return "=?" .. cs .. "?" .. B .. "?" .. T.base64(s, true) .. "?="
				end
				return "=?" .. cs .. "?" .. Q .. "?" .. qenc(s) .. "?="
			end
			table.insert(out, word(text, true))
			table.insert(out, word(text, false))
			local nenc = 0
			for _, r in ipairs(runs) do
				if not r[1] then
					nenc = nenc + 1
				end
			end
			for mask = 0, 2 ^ nenc - 1 do
				local parts, k = {}, 0
				for _, r in ipairs(runs) do
					if r[1] then
						table.insert(parts, r[2])
					else
						table.insert(parts, word(r[2], math.floor(mask / 2 ^ k) % 2 == 1))
						k = k + 1
					end
				end
				table.insert(out, table.concat(parts, " "))
			end
		end
	end
	return out
end

local function stripped_to(c, text, why)
	for _, v in ipairs(encodings(text)) do
		if T.changed(c, "Subject", v) then
			return
		end
	end
	T.check(false, why .. ": Subject changed to an RFC 2047 (UTF-8) form of \"" .. text ..
		"\", such as " .. encodings(text)[1])
end

T.run("mimesubject", function()
	T.start(BASE, "forced.test\n")
	local c, d

	-- Thunderbird: B, Q (lower-case charset), a long subject in several
	-- B words cut inside a word and folded.
	c, d = T.send_eml{ file = "tb-subject-b.eml" }
	flagged(c, d, "subject_tag", "B word \"[encrypt] secret\"")
	mt.disconnect(c)
	c, d = T.send_eml{ file = "tb-subject-q.eml" }
	flagged(c, d, "subject_tag", "Q word \"[encrypt] Gehaltsübersicht\"")
	mt.disconnect(c)
	c, d = T.send_eml{ file = "tb-subject-long.eml" }
	flagged(c, d, "subject_tag", "long subject, 3 B words folded")
	mt.disconnect(c)
	c, d = T.send_eml{ file = "tb-subject-re.eml" }
	not_flagged(c, d, "B word \"Re: [encrypt] Grüße\" (tag not at the start)")
	mt.disconnect(c)

	-- Outlook: folded right after the colon, ISO-8859-1 Q, Windows-1252 B.
	c, d = T.send_eml{ file = "ol-subject-latin1.eml" }
	flagged(c, d, "subject_tag", "Outlook, iso-8859-1 Q, folded after the colon")
	mt.disconnect(c)
	c, d = T.send_eml{ file = "ol-subject-1252.eml" }
	flagged(c, d, "subject_tag", "Outlook, windows-1252 B \"[secure] Angebot – Preise 2026\"")
	mt.disconnect(c)

	-- A folded plain header: the fold's blank is not part of the value.
	c, d = T.send{ headers = {{"Subject", "x"}, {"X-Classification", "\n secret"}} }
	flagged(c, d, "header_patterns[2]", "X-Classification folded after the colon, ^secret$")
	mt.disconnect(c)
	c, d = T.send{ headers = {{"Subject", "x"}, {"X-Classification", "top\n secret"}} }
	not_flagged(c, d, "X-Classification \"top secret\" folded, ^secret$")
	mt.disconnect(c)

	-- Header patterns on decoded values (no subject tag, so that they decide).
	T.reconfigure(BASE .. '  subject_tag = "";\n')
	-- "Gehalts" | "übersicht für alle ..." in two B words, folded.
	local two = "=?UTF-8?B?" .. T.base64("Fwd: Gehalts", true) .. "?=\n =?UTF-8?B?" ..
		T.base64("übersicht für alle Mitarbeiter", true) .. "?="
	c, d = T.send{ headers = {{"Subject", two}} }
	flagged(c, d, "header_patterns[0]", "a word cut between two B words")
	mt.disconnect(c)
	c, d = T.send_eml{ file = "tb-subject-long.eml" }
	flagged(c, d, "header_patterns[0]", "Thunderbird long subject, header pattern")
	mt.disconnect(c)
	c, d = T.send_eml{ file = "ol-subject-1252.eml" }
	flagged(c, d, "header_patterns[1]", "Outlook Thread-Topic in windows-1252 B (en dash)")
	mt.disconnect(c)
	c, d = T.send_eml{ file = "tb-subject-b.eml" }
	not_flagged(c, d, "no tag configured")
	mt.disconnect(c)

	-- Stripping: the rest of the subject, valid, re-encoded when not ASCII.
	T.reconfigure(BASE .. "  strip_subject_tag = true;\n")
	c, d = T.send_eml{ file = "tb-subject-b.eml" }
	flagged(c, d, "subject_tag", "strip, B word")
	T.check(T.changed(c, "Subject", "secret"), "strip, B word: Subject changed to \"secret\"")
	T.check(string.find(d, "subject=tag stripped", 1, true) ~= nil, "strip, B word: logged (" .. d .. ")")
	mt.disconnect(c)
	c, d = T.send_eml{ file = "tb-subject-q.eml" }
	flagged(c, d, "subject_tag", "strip, Q word")
	stripped_to(c, "Gehaltsübersicht", "strip, Q word")
	mt.disconnect(c)
	c, d = T.send_eml{ file = "ol-subject-latin1.eml" }
	stripped_to(c, "Gehälter März", "strip, Outlook iso-8859-1")
	mt.disconnect(c)
	c, d = T.send_eml{ file = "ol-subject-1252.eml" }
	stripped_to(c, "Angebot – Preise 2026", "strip, Outlook windows-1252")
	mt.disconnect(c)
	c, d = T.send_eml{ file = "tb-subject-long.eml" }
	T.check(T.changed(c, "Subject") and not T.deleted(c, "Subject"),
		"strip, long subject: Subject changed (not deleted)")
	mt.disconnect(c)
	-- An ASCII subject stays as it was stripped before.
	c, d = T.send{ headers = {{"Subject", "[secure]  quarterly numbers"}} }
	T.check(T.changed(c, "Subject", "quarterly numbers"), "strip, ASCII: \"quarterly numbers\"")
	mt.disconnect(c)
end)
