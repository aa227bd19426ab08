-- t-mime-decrypt.lua: inbound decryption with a real Content-Type parser
-- (issue 8, RFC 2045/2231): Thunderbird's PGP/MIME, Outlook's S/MIME
-- enveloped-data, authEnveloped-data, x-pkcs7-mime without smime-type,
-- Content-Type folded right after the colon, comments and quoted values,
-- smime-type hidden inside another parameter's quoted value (in both
-- directions); inline "-----BEGIN PGP MESSAGE-----" in a base64 text part
-- found by the default decrypt_patterns. Signed mail is not decrypted.
local here = os.getenv("FTLS_MILTER_TESTS") or
	(debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or ".")
local T = dofile(here .. "/lib.lua")

local BASE = [[
  internal_networks = [ "127.0.0.0/8" ];
  gateway_networks = [ "10.9.9.0/24" ];
]]
local OUT = "203.0.113.40"

local function decrypt(c, d, by, why)
	T.check(T.added(c, "X-Decrypt", "yes"), why .. ": X-Decrypt: yes added")
	T.check(T.count_new(c, "X-Decrypt") <= 1, why .. ": at most one X-Decrypt")
	T.check(string.find(d, "decrypt=yes (" .. by, 1, true) ~= nil,
		why .. ": decision says decrypt=yes (" .. by .. ") (log: " .. d .. ")")
end
local function no_decrypt(c, d, why)
	T.check(not T.added(c, "X-Decrypt"), why .. ": no X-Decrypt added")
	T.check(string.find(d, "decrypt=yes", 1, true) == nil, why .. ": no decrypt (" .. d .. ")")
end

T.run("mimedecrypt", function()
	-- No decrypt_patterns: the default list applies.
	T.start(BASE, "forced.test\n")
	local c, d

	local yes = {
		{"tb-pgpmime.eml", "Thunderbird PGP/MIME, folded parameters"},
		{"pgpmime-fold-colon.eml", "PGP/MIME, Content-Type folded right after the colon"},
		{"ol-smime-enveloped.eml", "Outlook S/MIME smime-type=enveloped-data"},
		{"smime-authenveloped.eml", "S/MIME smime-type=authEnveloped-data, after name="},
		{"smime-x-pkcs7.eml", "application/x-pkcs7-mime; name=smime.p7m, no smime-type"},
		{"smime-fold-colon.eml", "S/MIME, Content-Type folded right after the colon"},
		{"smime-hidden-enveloped.eml", "name=\"x; smime-type=signed-data.p7m\"; smime-type=enveloped-data"},
		{"smime-comment.eml", "comments, upper case, quoted smime-type"},
	}
	for _, k in ipairs(yes) do
		c, d = T.send_eml{ file = k[1], ip = OUT }
		decrypt(c, d, "Content-Type", k[2])
		mt.disconnect(c)
	end
	local no = {
		{"smime-hidden-signed.eml", "name=\"smime-type=enveloped-data\"; smime-type=signed-data"},
		{"smime-signed.eml", "S/MIME signed-data"},
		{"pgp-signed.eml", "PGP/MIME signed"},
	}
	for _, k in ipairs(no) do
		c, d = T.send_eml{ file = k[1], ip = OUT }
		no_decrypt(c, d, k[2])
		mt.disconnect(c)
	end

	-- Inline PGP in a base64 text/plain part, by the default pattern
	-- "^-----BEGIN PGP MESSAGE-----".
	c, d = T.send_eml{ file = "inline-pgp-b64.eml", ip = OUT }
	T.check(T.body_sent, "inline PGP, default patterns: the filter asks for the body")
	-- (which entry of the default list it is, is the lead's choice)
	decrypt(c, d, "decrypt_body_patterns[", "inline PGP in base64 text, default decrypt_patterns")
	mt.disconnect(c)
	c, d = T.send_eml{ file = "tb-b64-plain.eml", ip = OUT }
	no_decrypt(c, d, "plain base64 text inbound")
	mt.disconnect(c)
	-- The default is one pattern: a built-in list default was split at blanks into
	-- "^-----BEGIN", "PGP" and "MESSAGE-----", and any text naming PGP asked for
	-- decryption.
	c, d = T.send{ ip = OUT, body = {"We talked about PGP and its MESSAGE format.\r\n"} }
	no_decrypt(c, d, "text that names PGP, default patterns")
	T.check(string.find(d, "decrypt_body_patterns[0]", 1, true) == nil and
		string.find(d, "decrypt_body_patterns[1]", 1, true) == nil,
		"the default decrypt pattern is one pattern (" .. d .. ")")
	mt.disconnect(c)

	-- Outbound and gateway mail: never.
	c, d = T.send_eml{ file = "tb-pgpmime.eml" }
	no_decrypt(c, d, "outbound PGP/MIME")
	mt.disconnect(c)
	c, d = T.send_eml{ file = "inline-pgp-b64.eml", ip = "10.9.9.2" }
	no_decrypt(c, d, "inline PGP from the gateway")
	mt.disconnect(c)

	-- The same pattern configured: decoded text too.
	T.write_conf(BASE .. '  decrypt_patterns = [ "^-----BEGIN PGP MESSAGE-----" ];\n')
	T.check(pcall(T.reload, "ok"), "decrypt_patterns: the configuration is accepted")
	c, d = T.send_eml{ file = "inline-pgp-b64.eml", ip = OUT, body_optional = false }
	decrypt(c, d, "decrypt_body_patterns[0]", "inline PGP in base64 text, configured pattern")
	mt.disconnect(c)
end)
