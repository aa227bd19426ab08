-- t-rules.lua: the rules that flag outbound mail for encryption (SPEC 4):
-- subject tag (default pattern, stripped or not, a custom one), header
-- patterns, the "always encrypt" recipient table, listed senders. A
-- flagged message gets the trigger header added (after X-TLSLevel, which
-- stays first), and its TLS-Required removed; inbound and unflagged mail
-- gets no trigger.
local here = os.getenv("FTLS_MILTER_TESTS") or
	(debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or ".")
local T = dofile(here .. "/lib.lua")

local BASE = [[
  internal_networks = [ "127.0.0.0/8" ];
  header_patterns = [ "X-Classification: ^\\s*(secret|confidential)\\s*$",
                      "Subject: \\bpayroll\\b" ];
  encrypt_senders = [ "ceo@corp.test", "@legal.corp.test" ];
]]

local function flagged(c, d, by, why)
	T.expect_add(c, "X-Encrypt", "yes", why)
	T.expect_new_count(c, "X-Encrypt", 1, why)
	T.expect_insert(c, "X-TLSLevel", "Try", 0, why .. " (X-TLSLevel still first)")
	T.expect_log(d, "encrypt=yes (" .. by, why)
end
local function not_flagged(c, d, why)
	T.expect_no_add(c, "X-Encrypt", why)
	T.ok(string.find(d, "encrypt=yes", 1, true) == nil, why .. ": not flagged (" .. d .. ")")
end

T.run("rules", function()
	T.write("always-encrypt.table", "# always encrypt\nlawfirm.test\n.health.test\nopen.health.test may\n")
	T.start(BASE .. '  encrypt_table = "' .. T.dir .. '/always-encrypt.table";\n', "forced.test\n")
	local c, d

	-- Subject tag, default pattern, not stripped.
	c, d = T.send{ headers = {{"Subject", "[secure] quarterly numbers"}, {"TLS-Required", "No"}} }
	flagged(c, d, "subject_tag", "subject tag")
	T.expect_no_change(c, "Subject", "subject tag, strip off")
	T.expect_deleted(c, "TLS-Required", 1, "flagged mail loses TLS-Required")
	mt.disconnect(c)
	c, d = T.send{ headers = {{"Subject", "  [ENCRYPT]report"}} }
	flagged(c, d, "subject_tag", "subject tag, case and leading space")
	mt.disconnect(c)
	-- Not at the start, or another tag: nothing.
	c, d = T.send{ headers = {{"Subject", "re: [secure] hello"}, {"TLS-Required", "No"}} }
	not_flagged(c, d, "tag not at the start")
	T.expect_no_delete(c, "TLS-Required", "unflagged Try mail keeps TLS-Required")
	mt.disconnect(c)
	c, d = T.send{ headers = {{"Subject", "[confidential] hello"}} }
	not_flagged(c, d, "other tag")
	mt.disconnect(c)
	-- Only the first Subject counts for the tag.
	c, d = T.send{ headers = {{"Subject", "hello"}, {"Subject", "[secure] again"}} }
	not_flagged(c, d, "tag in a second Subject")
	mt.disconnect(c)
	-- Inbound: a tag flags nothing.
	c, d = T.send{ ip = "192.0.2.50", headers = {{"Subject", "[secure] from outside"}} }
	not_flagged(c, d, "inbound subject tag")
	mt.disconnect(c)

	-- Header patterns: any header of that name, values unfolded.
	c, d = T.send{ headers = {{"Subject", "x"}, {"X-Classification", " Secret "}} }
	flagged(c, d, "header_patterns[0]", "X-Classification: Secret")
	mt.disconnect(c)
	c, d = T.send{ headers = {{"X-Classification", "public"}, {"x-classification", "confidential"}} }
	flagged(c, d, "header_patterns[0]", "second copy, other case")
	mt.disconnect(c)
	c, d = T.send{ headers = {{"X-Classification", "top secret"}} }
	not_flagged(c, d, "anchored header pattern")
	mt.disconnect(c)
	c, d = T.send{ headers = {{"Subject", "the PAYROLL for May"}} }
	flagged(c, d, "header_patterns[1]", "Subject header pattern")
	mt.disconnect(c)
	c, d = T.send{ headers = {{"Subject", "payrolls"}} }
	not_flagged(c, d, "word boundary")
	mt.disconnect(c)

	-- The always-encrypt recipient table: exact, subdomains, may exception.
	c, d = T.send{ rcpt = {"<a@other.test>", "<b@LawFirm.test>"} }
	flagged(c, d, "encrypt_table", "lawfirm.test recipient")
	mt.disconnect(c)
	c, d = T.send{ rcpt = {"<b@clinic.health.test>"} }
	flagged(c, d, "encrypt_table", ".health.test recipient")
	mt.disconnect(c)
	c, d = T.send{ rcpt = {"<b@open.health.test>"} }
	not_flagged(c, d, "may exception in the encrypt table")
	mt.disconnect(c)
	c, d = T.send{ rcpt = {"<b@health.test>"} }
	not_flagged(c, d, ".health.test does not match health.test")
	mt.disconnect(c)
	c, d = T.send{ ip = "192.0.2.50", rcpt = {"<b@lawfirm.test>"} }
	not_flagged(c, d, "inbound mail to an always-encrypt domain")
	mt.disconnect(c)

	-- Listed senders: an address, a whole domain (not its parent or a sibling).
	c, d = T.send{ from = "<CEO@corp.test>" }
	flagged(c, d, "encrypt_senders", "listed sender")
	mt.disconnect(c)
	c, d = T.send{ from = "<anyone@legal.corp.test>" }
	flagged(c, d, "encrypt_senders", "listed sender domain")
	mt.disconnect(c)
	c, d = T.send{ from = "<cfo@corp.test>" }
	not_flagged(c, d, "unlisted sender")
	mt.disconnect(c)
	c, d = T.send{ from = "<x@paralegal.corp.test>" }
	not_flagged(c, d, "@legal.corp.test is not a suffix match")
	mt.disconnect(c)
	c, d = T.send{ from = "<x@legal.corp.test.evil>" }
	not_flagged(c, d, "@legal.corp.test does not match legal.corp.test.evil")
	mt.disconnect(c)

	-- A user's own trigger header is not a rule: removed, not re-added.
	c, d = T.send{ headers = {{"X-Encrypt", "yes"}} }
	T.expect_deleted(c, "X-Encrypt", 1, "user trigger")
	not_flagged(c, d, "user trigger")
	mt.disconnect(c)
	-- ... and on flagged mail it is replaced by exactly one.
	c, d = T.send{ headers = {{"X-Encrypt", "no"}, {"Subject", "[secure] x"}} }
	T.expect_deleted(c, "X-Encrypt", 1, "user trigger on flagged mail")
	flagged(c, d, "subject_tag", "user trigger on flagged mail")
	mt.disconnect(c)

	-- Strip the tag (and the blanks after it); the rest of the Subject stays,
	-- however long it is.
	T.reconfigure(BASE .. "  strip_subject_tag = true;\n")
	c, d = T.send{ headers = {{"Subject", "[secure]  quarterly numbers"}} }
	flagged(c, d, "subject_tag", "strip")
	T.expect_change(c, "Subject", "quarterly numbers", "strip")
	T.expect_log(d, "subject=tag stripped")
	mt.disconnect(c)
	-- (miltertest reads replies into 1024 bytes: stay below that)
	local long = string.rep("0123456789", 80) .. "END"
	c, d = T.send{ headers = {{"Subject", "[Encrypt] " .. long}} }
	T.expect_change(c, "Subject", long, "strip, 803-byte subject")
	mt.disconnect(c)
	c, d = T.send{ headers = {{"Subject", "no tag"}, {"X-Classification", "secret"}} }
	flagged(c, d, "header_patterns[0]", "strip on, flagged by another rule")
	T.expect_no_change(c, "Subject", "strip on, flagged by another rule")
	mt.disconnect(c)

	-- A custom tag, custom trigger header.
	T.reconfigure(BASE .. [[
  subject_tag = "\\{crypt\\}";
  strip_subject_tag = true;
  encrypt_header = "X-Gateway-Action: encrypt";
]])
	c, d = T.send{ headers = {{"Subject", "Re: {CRYPT} plan"}} }
	T.expect_add(c, "X-Gateway-Action", "encrypt", "custom tag and trigger")
	T.expect_no_add(c, "X-Encrypt", "custom trigger")
	T.expect_change(c, "Subject", "Re: plan", "custom tag stripped in the middle")
	mt.disconnect(c)
	c, d = T.send{ headers = {{"Subject", "[secure] x"}, {"X-Gateway-Action", "encrypt"}} }
	T.expect_no_add(c, "X-Gateway-Action", "default tag no longer configured")
	T.expect_deleted(c, "X-Gateway-Action", 1, "spoofed custom trigger")
	mt.disconnect(c)
end)
