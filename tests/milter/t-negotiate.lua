-- t-negotiate.lua: the filter asks the MTA only for what its configuration
-- needs (SMFIP_NO* for stages it never uses, SMFIP_NR_* for stages whose
-- reply is always "continue"), and only for the actions it may take. Each
-- new connection negotiates with the configuration current at that time.
local here = os.getenv("FTLS_MILTER_TESTS") or
	(debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or ".")
local T = dofile(here .. "/lib.lua")

local function has(c, opt, name, why)
	T.ok(mt.test_option(c, opt), why .. ": negotiates " .. name)
end
local function hasnt(c, opt, name, why)
	T.ok(not mt.test_option(c, opt), why .. ": does not negotiate " .. name)
end

-- Stages no configuration needs, and replies never needed.
local function always(c, why)
	has(c, SMFIP_NOHELO, "SMFIP_NOHELO", why)
	has(c, SMFIP_NOUNKNOWN, "SMFIP_NOUNKNOWN", why)
	has(c, SMFIP_NODATA, "SMFIP_NODATA", why)
	-- EOH is asked for (without a reply): Sendmail sends a message with no header line
	-- as DATA then body, which libmilter cannot follow without EOH (mlfi_negotiate)
	hasnt(c, SMFIP_NOEOH, "SMFIP_NOEOH", why)
	has(c, SMFIP_NR_EOH, "SMFIP_NR_EOH", why)
	has(c, SMFIP_NR_CONN, "SMFIP_NR_CONN", why)
	has(c, SMFIP_NR_RCPT, "SMFIP_NR_RCPT", why)
	has(c, SMFIP_NR_HDR, "SMFIP_NR_HDR", why)
	-- and the stages it needs
	hasnt(c, SMFIP_NOCONNECT, "SMFIP_NOCONNECT", why)
	hasnt(c, SMFIP_NOMAIL, "SMFIP_NOMAIL", why)
	hasnt(c, SMFIP_NORCPT, "SMFIP_NORCPT", why)
	hasnt(c, SMFIP_NOHDRS, "SMFIP_NOHDRS", why)
	T.ok(mt.test_action(c, SMFIF_ADDHDRS), why .. ": may add headers")
	T.ok(mt.test_action(c, SMFIF_CHGHDRS), why .. ": may change headers")
	T.ok(not mt.test_action(c, SMFIF_CHGBODY), why .. ": never changes the body")
	T.ok(not mt.test_action(c, SMFIF_ADDRCPT), why .. ": never adds recipients")
	T.ok(not mt.test_action(c, SMFIF_DELRCPT), why .. ": never deletes recipients")
end

local BASE = [[
  internal_networks = [ "127.0.0.0/8" ];
]]
-- The default decrypt_patterns (inline PGP) need the body of inbound mail.
local NODEC = "  decrypt_patterns = [ ];\n"

T.run("negotiate", function()
	T.start(BASE .. NODEC, "forced.test\n")
	local c

	-- Defaults but no decrypt patterns: no body rules, inbound enforcement on, fallback tls.
	c = T.connect("127.0.0.1")
	always(c, "defaults")
	has(c, SMFIP_NOBODY, "SMFIP_NOBODY", "no body or decrypt patterns")
	hasnt(c, SMFIP_NR_MAIL, "SMFIP_NR_MAIL", "inbound enforcement answers at MAIL")
	-- Quarantine always: hold, and Sendmail's stand-in for a Require it cannot enforce.
	T.ok(mt.test_action(c, SMFIF_QUARANTINE), "defaults: quarantine asked for")
	-- A whole message still works without EOH and body.
	c = T.send{ conn = c, rcpt = {"<a@forced.test>"} }
	T.expect_insert(c, "X-TLSLevel", "Require", 0, "defaults")
	mt.disconnect(c)

	-- Body patterns: the body is needed (and skipped once decided).
	T.reconfigure(BASE .. NODEC .. [[  body_patterns = [ "secret" ];]])
	c = T.connect("127.0.0.1")
	always(c, "body_patterns")
	hasnt(c, SMFIP_NOBODY, "SMFIP_NOBODY", "body_patterns")
	has(c, SMFIP_SKIP, "SMFIP_SKIP", "body_patterns")
	mt.disconnect(c)

	-- Body patterns with body_scan_limit = 0: no body after all.
	T.reconfigure(BASE .. [[  body_patterns = [ "secret" ]; body_scan_limit = 0;]])
	c = T.connect("127.0.0.1")
	has(c, SMFIP_NOBODY, "SMFIP_NOBODY", "body_scan_limit = 0 (decrypt patterns too)")
	mt.disconnect(c)

	-- The defaults: the inline PGP decrypt pattern needs the body.
	T.reconfigure(BASE)
	c = T.connect("127.0.0.1")
	hasnt(c, SMFIP_NOBODY, "SMFIP_NOBODY", "default decrypt_patterns")
	mt.disconnect(c)

	-- Attachment name patterns need the body (its part headers).
	T.reconfigure(BASE .. NODEC .. [[  attachment_patterns = [ "\\.kdbx$" ];]])
	c = T.connect("127.0.0.1")
	hasnt(c, SMFIP_NOBODY, "SMFIP_NOBODY", "attachment_patterns")
	mt.disconnect(c)

	-- Decrypt patterns need the body too.
	T.reconfigure(BASE .. [[  decrypt_patterns = [ "BEGIN PGP MESSAGE" ];]])
	c = T.connect("127.0.0.1")
	hasnt(c, SMFIP_NOBODY, "SMFIP_NOBODY", "decrypt_patterns")
	mt.disconnect(c)

	-- No inbound enforcement: MAIL needs no reply.
	T.reconfigure(BASE .. [[  inbound_enforce = false;]])
	c = T.connect("127.0.0.1")
	always(c, "inbound_enforce = false")
	has(c, SMFIP_NR_MAIL, "SMFIP_NR_MAIL", "inbound_enforce = false")
	c = T.send{ conn = c, rcpt = {"<a@other.test>"} }
	T.expect_insert(c, "X-TLSLevel", "Try", 0, "inbound_enforce = false")
	mt.disconnect(c)

	-- Quarantine only when the gateway failure fallback is hold.
	T.reconfigure(BASE .. [[  on_encrypt_failure = "hold";]])
	c = T.connect("127.0.0.1")
	T.ok(mt.test_action(c, SMFIF_QUARANTINE), "on_encrypt_failure = hold: may quarantine")
	mt.disconnect(c)
end)
