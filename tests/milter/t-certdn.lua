-- t-certdn.lua: the client certificate's CN on Sendmail (docs/tlsmaps.5,
-- "Inbound certificate names"). Sendmail's {cert_subject} is the subject DN,
-- xtext-encoded; the milter takes its one CN, and when Sendmail also sends
-- {cn_subject} (the CN itself, xtext-encoded; "BadCertificate..." for none)
-- the two must agree: a CN holding "/X=" reads in the DN the same as one cut
-- there. Whatever gives no CN is logged ("QUEUEID: client certificate: no
-- CN: ...", escaped) and refused by an entry that checks names. An MTA that
-- sends no v macro is taken for Sendmail when {cert_subject} starts with '/',
-- else for Postfix (the CN). Postfix's {cert_subject} is the CN even when it
-- starts with '/'. A DN without {verify} = OK is no verified certificate:
-- Sendmail sends {cert_subject} for an untrusted one too.
local here = os.getenv("FTLS_MILTER_TESTS") or
	(debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or ".")
local T = dofile(here .. "/lib.lua")

local TABLE = [[
# t-certdn
bank.test               verify match=mx.bank.test direction=in
any.test                verify direction=in
]]

local BASE = [[
  internal_networks = [ "127.0.0.0/8" ];
]]

local SENDMAIL, POSTFIX = "8.17.1.9", "Postfix 3.7.11"

-- MAIL FROM a@DOMAIN as the MTA mta (false: no v macro) with these certificate macros.
local function mail(mta, domain, cert)
	local macros = {["{tls_version}"] = "TLSv1.3", ["{cipher_bits}"] = "256"}
	for k, v in pairs(cert) do macros[k] = v end
	T.mta_version = mta
	local c = T.connect("203.0.113.9", "mx.client.example")
	T.mta_version = POSTFIX
	local qid = T.next_qid("DN")
	local r = T.mail(c, "<a@" .. domain .. ">", qid, macros)
	mt.disconnect(c)
	return r, qid
end

local function line_of(qid, what)
	for l in T.log():gmatch("[^\n]+") do
		if l:find(qid .. ": " .. what, 1, true) then return l end
	end
	return nil
end

local function passes(mta, domain, cert, why)
	local r, qid = mail(mta, domain, cert)
	T.ok(r == SMFIR_CONTINUE, why .. ": MAIL answers continue (got " .. tostring(r) .. ")")
	T.ok(line_of(qid, "reject: ") == nil, why .. ": nothing refused")
	return qid
end

local function refused(mta, domain, cert, reason, why)
	local r, qid = mail(mta, domain, cert)
	T.ok(r == SMFIR_REPLYCODE, why .. ": MAIL answers a reply code (got " .. tostring(r) .. ")")
	T.wait_log(qid .. ": reject: ", 1, 5)
	T.expect_log(line_of(qid, "reject: "), "reason=" .. reason .. " level=verify", why)
	return qid
end

local function no_cn_logged(qid, text, why)
	T.wait_log(qid .. ": client certificate: no CN: ", 1, 5)
	T.expect_log(line_of(qid, "client certificate: no CN: "), text, why)
end

T.run("certdn", function()
	T.start(BASE, TABLE)
	local DN = "/C=DE/O=Bank+20AG/CN=mx.bank.test/emailAddress=pm@bank.test"
	local OK = {["{verify}"] = "OK", ["{cert_subject}"] = DN}

	-- The DN's CN, with and without a {cn_subject} that agrees.
	passes(SENDMAIL, "bank.test", OK, "DN with the right CN")
	passes(SENDMAIL, "bank.test", {["{verify}"] = "OK", ["{cert_subject}"] = DN,
		["{cn_subject}"] = "mx.bank.test"}, "DN and {cn_subject} agree")
	refused(SENDMAIL, "bank.test", {["{verify}"] = "OK",
		["{cert_subject}"] = "/C=DE/CN=mx.evil.test"},
		'client certificate CN "mx.evil.test" not in match=mx.bank.test', "DN with a wrong CN")
	-- Sendmail's {verify} decides, not the DN.
	refused(SENDMAIL, "bank.test", {["{verify}"] = "FAIL", ["{cert_subject}"] = DN},
		"no verified client certificate", "DN not verified")

	-- A CN holding "/X=": the DN reads mx.bank.test, {cn_subject} says otherwise.
	local q = refused(SENDMAIL, "bank.test", {["{verify}"] = "OK",
		["{cert_subject}"] = "/C=DE/CN=mx.bank.test/x=y",
		["{cn_subject}"] = "mx.bank.test/x=y"},
		"client certificate has no CN", "CN cut short in the DN")
	no_cn_logged(q, "{cn_subject} is not the CN of {cert_subject}: mx.bank.test/x=y", "cut CN")
	q = refused(SENDMAIL, "bank.test", {["{verify}"] = "OK", ["{cert_subject}"] = DN,
		["{cn_subject}"] = "BadCertificateUnknown"},
		"client certificate has no CN", "{cn_subject} says there is none")
	no_cn_logged(q, "BadCertificateUnknown", "BadCertificate")
	-- {cn_subject} is xtext too ("+2E" is a dot); a control byte in it is logged escaped.
	passes(SENDMAIL, "bank.test", {["{verify}"] = "OK",
		["{cert_subject}"] = "/CN=mx+2Ebank.test", ["{cn_subject}"] = "mx+2Ebank.test"},
		"xtext in both")
	q = refused(SENDMAIL, "bank.test", {["{verify}"] = "OK", ["{cert_subject}"] = DN,
		["{cn_subject}"] = "mx.bank.test\027x"},
		"client certificate has no CN", "a control byte in {cn_subject}")
	no_cn_logged(q, "mx.bank.test\\x1bx", "escaped")
	T.ok(T.log_count("\027") == 0, "no raw escape byte in the log")

	-- DNs that give no CN.
	q = refused(SENDMAIL, "bank.test", {["{verify}"] = "OK", ["{cert_subject}"] = "/C=DE/O=Bank"},
		"client certificate has no CN", "DN without a CN")
	no_cn_logged(q, "DN: no CN: /C=DE/O=Bank", "no CN")
	q = refused(SENDMAIL, "bank.test", {["{verify}"] = "OK",
		["{cert_subject}"] = "/O=x+2FCN=mx.bank.test/CN=mx.evil.test"},
		"client certificate has no CN", "DN with two CNs")
	no_cn_logged(q, "DN: more than one CN", "two CNs")
	refused(SENDMAIL, "bank.test", {["{verify}"] = "OK", ["{cert_subject}"] = "/CN=mx.bank.test+"},
		"client certificate has no CN", "bad xtext")
	-- No CN, but the O value holds "/CN=": one CN in the DN, a documented limit
	-- without {cn_subject}; Sendmail's {cn_subject} (no CN: BadCertificateUnknown) refuses it.
	local FAKE = "/C=DE/O=x/CN=mx.bank.test"
	passes(SENDMAIL, "bank.test", {["{verify}"] = "OK", ["{cert_subject}"] = FAKE},
		"a CN inside O, no {cn_subject}: the documented limit")
	refused(SENDMAIL, "bank.test", {["{verify}"] = "OK", ["{cert_subject}"] = FAKE,
		["{cn_subject}"] = "BadCertificateUnknown"}, "client certificate has no CN",
		"a CN inside O, {cn_subject} says none")
	-- verify without match= asks for no name.
	passes(SENDMAIL, "any.test", {["{verify}"] = "OK", ["{cert_subject}"] = "/C=DE/O=Bank"},
		"verify without match=, DN without a CN")

	-- No v macro: a DN when it starts with '/', else the CN.
	passes(false, "bank.test", OK, "unknown MTA, a DN")
	passes(false, "bank.test", {["{cert_subject}"] = "mx.bank.test"}, "unknown MTA, a CN")
	-- Sendmail sets {cert_subject} for any certificate it was shown (its default
	-- confMILTER_MACROS_HELO sends it); only {verify} = OK says it is trusted.
	refused(SENDMAIL, "bank.test", {["{cert_subject}"] = DN}, "no verified client certificate",
		"Sendmail without {verify}")
	refused(false, "bank.test", {["{cert_subject}"] = DN}, "no verified client certificate",
		"unknown MTA, a DN without {verify}")
	refused(SENDMAIL, "any.test", {["{cert_subject}"] = DN}, "no verified client certificate",
		"Sendmail without {verify}, verify without match=")
	-- Postfix: {cert_subject} is the CN, whatever it looks like.
	passes(POSTFIX, "bank.test", {["{cert_subject}"] = "mx.bank.test"}, "Postfix, the CN")
	refused(POSTFIX, "bank.test", {["{cert_subject}"] = "/CN=mx.bank.test"},
		'client certificate CN "/CN=mx.bank.test" not in match=mx.bank.test', "Postfix, a DN-like CN")
end)
