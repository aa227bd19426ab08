-- t-tlslevel.lua: X-TLSLevel on outbound mail (SPEC 4, "x-TLSLevel").
-- Require for a recipient domain forced by the table (exact, parent
-- ".domain", not a "may" exception, not a direction=in entry), else Try;
-- nothing when opportunistic is off; exactly one copy, inserted at index 0,
-- every pre-existing copy deleted; a trusted Require never downgraded;
-- TLS-Required removed when the result is Require; an authenticated client
-- from outside counts as outbound.
local here = os.getenv("FTLS_MILTER_TESTS") or
	(debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or ".")
local T = dofile(here .. "/lib.lua")

local TABLE = [[
# t-tlslevel
forced.test
.parent.test
exception.parent.test   may
verify.test             verify
inonly.test             encrypt direction=in
]]

local CONF = [[
  internal_networks = [ "127.0.0.0/8", "10.1.0.0/16" ];
  gateway_networks = [ "10.9.9.0/24" ];
]]

T.run("tlslevel", function()
	T.start(CONF, TABLE)
	local c, d

	-- Forced domain, two pre-existing copies and a TLS-Required: no.
	c, d = T.send{ rcpt = {"<bob@forced.test>"}, headers = {
		{"X-TLSLevel", "Try"}, {"Subject", "hello"}, {"X-TLSLevel", "Try"},
		{"TLS-Required", "No"} } }
	T.expect_insert(c, "X-TLSLevel", "Require", 0, "forced.test")
	T.expect_new_count(c, "X-TLSLevel", 1, "forced.test")
	T.expect_deleted(c, "X-TLSLevel", 2, "forced.test")
	T.expect_deleted(c, "TLS-Required", 1, "forced.test (RFC 8689 header on forced mail)")
	T.expect_no_add(c, "X-Encrypt", "forced.test, no rule")
	T.expect_log(d, "direction=outbound")
	T.expect_log(d, "tls=Require (rcpt forced.test")
	mt.disconnect(c)

	-- Unforced domain: Try, no deletions, TLS-Required kept.
	c, d = T.send{ rcpt = {"<bob@other.test>"}, headers = {
		{"Subject", "hello"}, {"TLS-Required", "No"} } }
	T.expect_insert(c, "X-TLSLevel", "Try", 0, "other.test")
	T.expect_new_count(c, "X-TLSLevel", 1, "other.test")
	T.expect_no_delete(c, nil, "other.test")
	T.expect_log(d, "tls=Try (opportunistic)")
	mt.disconnect(c)

	-- One forced recipient among others forces the message; case and a
	-- trailing dot do not matter.
	c = T.send{ rcpt = {"<a@other.test>", "<b@FORCED.Test.>", "<c@other2.test>"} }
	T.expect_insert(c, "X-TLSLevel", "Require", 0, "one forced recipient of three")
	T.expect_new_count(c, "X-TLSLevel", 1, "one forced recipient of three")
	mt.disconnect(c)

	-- Parent entry .parent.test: subdomains, not parent.test itself.
	c = T.send{ rcpt = {"<a@mx.sub.parent.test>"} }
	T.expect_insert(c, "X-TLSLevel", "Require", 0, "sub of .parent.test")
	mt.disconnect(c)
	c = T.send{ rcpt = {"<a@parent.test>"} }
	T.expect_insert(c, "X-TLSLevel", "Try", 0, "parent.test itself (.parent.test is subdomains only)")
	mt.disconnect(c)

	-- A "may" exception under a forced parent, and an inbound-only entry.
	c = T.send{ rcpt = {"<a@exception.parent.test>"} }
	T.expect_insert(c, "X-TLSLevel", "Try", 0, "may exception")
	mt.disconnect(c)
	c = T.send{ rcpt = {"<a@inonly.test>"} }
	T.expect_insert(c, "X-TLSLevel", "Try", 0, "direction=in entry does not force outbound")
	mt.disconnect(c)
	c = T.send{ rcpt = {"<a@verify.test>"} }
	T.expect_insert(c, "X-TLSLevel", "Require", 0, "verify (stronger than encrypt)")
	mt.disconnect(c)

	-- A trusted Require (internal client) to an unforced domain is kept.
	c, d = T.send{ rcpt = {"<a@other.test>"}, headers = {{"X-TLSLevel", "Require"}} }
	T.expect_insert(c, "X-TLSLevel", "Require", 0, "trusted Require kept")
	T.expect_new_count(c, "X-TLSLevel", 1, "trusted Require kept")
	T.expect_deleted(c, "X-TLSLevel", 1, "trusted Require kept (the old copy goes)")
	T.expect_log(d, "kept trusted Require")
	mt.disconnect(c)
	-- ... also from the second internal network, in any case.
	c = T.send{ ip = "10.1.2.3", rcpt = {"<a@other.test>"},
		headers = {{"x-tlslevel", "  require "}} }
	T.expect_insert(c, "X-TLSLevel", "Require", 0, "trusted require (case, spaces)")
	T.expect_deleted(c, "x-tlslevel", 1, "trusted require (case, spaces)")
	mt.disconnect(c)

	-- Authenticated client from outside: outbound.
	c, d = T.send{ ip = "198.51.100.20", host = "dsl.example.net",
		macros = {["{auth_authen}"] = "alice"}, rcpt = {"<a@forced.test>"},
		headers = {{"X-TLSLevel", "Try"}} }
	T.expect_insert(c, "X-TLSLevel", "Require", 0, "authenticated outside client")
	T.expect_deleted(c, "X-TLSLevel", 1, "authenticated outside client")
	T.expect_log(d, "direction=outbound")
	mt.disconnect(c)
	-- The same client without authentication: inbound, every copy goes.
	c, d = T.send{ ip = "198.51.100.20", host = "dsl.example.net",
		rcpt = {"<a@forced.test>"}, headers = {{"X-TLSLevel", "Require"}} }
	T.expect_no_insert(c, nil, "unauthenticated outside client")
	T.expect_new_count(c, "X-TLSLevel", 0, "unauthenticated outside client")
	T.expect_deleted(c, "X-TLSLevel", 1, "unauthenticated outside client")
	T.expect_log(d, "direction=inbound")
	mt.disconnect(c)
	-- Authentication on the second message of a connection only.
	c = T.connect("198.51.100.21", "dsl2.example.net")
	c = T.send{ conn = c, rcpt = {"<a@forced.test>"} }
	T.expect_no_insert(c, nil, "first message, not authenticated")
	c = T.send{ conn = c, macros = {["{auth_authen}"] = "bob"}, rcpt = {"<a@forced.test>"} }
	T.expect_insert(c, "X-TLSLevel", "Require", 0, "second message, authenticated")
	c = T.send{ conn = c, rcpt = {"<a@forced.test>"} }
	T.expect_no_insert(c, nil, "third message, not authenticated again")
	mt.disconnect(c)

	-- opportunistic = false: nothing for unforced mail, Require still.
	T.reconfigure(CONF .. "  opportunistic = false;\n")
	c, d = T.send{ rcpt = {"<a@other.test>"}, headers = {{"X-TLSLevel", "Try"}} }
	T.expect_no_insert(c, nil, "opportunistic=false, unforced")
	T.expect_new_count(c, "X-TLSLevel", 0, "opportunistic=false, unforced")
	T.expect_deleted(c, "X-TLSLevel", 1, "opportunistic=false, unforced (old copy still removed)")
	mt.disconnect(c)
	c = T.send{ rcpt = {"<a@forced.test>"} }
	T.expect_insert(c, "X-TLSLevel", "Require", 0, "opportunistic=false, forced")
	mt.disconnect(c)

	-- Configured header name and values.
	T.reconfigure(CONF .. [[
  tls_header = "X-Transport-Security";
  tls_require_value = "Mandatory";
  tls_try_value = "Opportunistic";
]])
	c = T.send{ rcpt = {"<a@forced.test>"}, headers = {{"X-Transport-Security", "Opportunistic"}} }
	T.expect_insert(c, "X-Transport-Security", "Mandatory", 0, "custom tls_header")
	T.expect_deleted(c, "X-Transport-Security", 1, "custom tls_header")
	T.expect_no_insert(c, "X-TLSLevel", "custom tls_header")
	mt.disconnect(c)
	c = T.send{ rcpt = {"<a@other.test>"} }
	T.expect_insert(c, "X-Transport-Security", "Opportunistic", 0, "custom tls_try_value")
	mt.disconnect(c)
end)
