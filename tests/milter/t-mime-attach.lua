-- t-mime-attach.lua: attachment_patterns (issue 8), PCRE2 on the decoded
-- name of each attachment: Content-Disposition filename= (quoted, with a
-- blank), RFC 2231 continuations with a charset (filename*0*=UTF-8''...;
-- filename*1*=...), Content-Type name= alone, RFC 2047 words inside the
-- quoted filename as Outlook writes them. A name that only appears in the
-- text, not as an attachment's, does not flag; outbound only.
local here = os.getenv("FTLS_MILTER_TESTS") or
	(debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or ".")
local T = dofile(here .. "/lib.lua")

local NETS = '  internal_networks = [ "127.0.0.0/8" ];\n'
local BASE = NETS .. [[
  attachment_patterns = [ "^Gehaltsliste .*\\.xlsx$",
                          "^Geheimübersicht\\.pdf$",
                          "\\.p12$",
                          "^Vertrag_März\\.pdf$" ];
]]

local flagged, not_flagged = T.flagged, T.not_flagged

T.run("mimeattach", function()
	-- Without attachment_patterns (today's settings) nothing of this flags,
	-- and the filter starts: the guard that the test messages are neutral.
	T.start(NETS, "forced.test\n")
	local c, d = T.send_eml{ file = "tb-attach-xlsx.eml" }
	not_flagged(c, d, "no attachment_patterns configured")
	mt.disconnect(c)

	T.write_conf(BASE)
	T.check(pcall(T.reload, "ok"), "attachment_patterns: the configuration is accepted")

	local cases = {
		{"tb-attach-xlsx.eml", 0, "Thunderbird filename=\"Gehaltsliste 2026.xlsx\""},
		{"tb-attach-2231.eml", 1, "RFC 2231 filename*0*=UTF-8''Geheim%C3%BCbersicht; filename*1*=.pdf"},
		{"tb-attach-nameonly.eml", 2, "Content-Type name=\"alice.p12\" only"},
		{"ol-attach-2047.eml", 3, "Outlook filename=\"=?iso-8859-1?Q?Vertrag=5FM=E4rz.pdf?=\""},
	}
	for _, k in ipairs(cases) do
		c, d = T.send_eml{ file = k[1] }
		flagged(c, d, "attachment_patterns[" .. k[2] .. "]", k[3])
		mt.disconnect(c)
	end

	-- The names only in the text; an attachment of another name.
	c, d = T.send_eml{ file = "tb-attach-other.eml" }
	not_flagged(c, d, "names in the text, attachment Urlaub.jpg")
	mt.disconnect(c)
	-- Inbound: content rules are for outbound mail.
	c, d = T.send_eml{ file = "tb-attach-xlsx.eml", ip = "192.0.2.77" }
	not_flagged(c, d, "inbound message with Gehaltsliste 2026.xlsx")
	mt.disconnect(c)
end)
