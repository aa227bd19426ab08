-- t-routed.lua: recipients whose local part or source route names another
-- domain. Postfix (allow_percent_hack, swap_bangpath, resolve_dequoted_address)
-- and Sendmail (source routes, '%' for the local host) deliver
-- <user%bank.test@localhost>, <bank.test!user@localhost>,
-- <"user@bank.test"@localhost>, <@bank.test:user@localhost> and
-- <user%bank.test> (myorigin appended) to bank.test: the milter cannot know
-- which of them the MTA will route, so a forced domain anywhere in the
-- address makes X-TLSLevel Require (the strict answer), never Try.
local here = os.getenv("FTLS_MILTER_TESTS") or
	(debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or ".")
local T = dofile(here .. "/lib.lua")

local TABLE = [[
# t-routed
bank.test
xn--bcher-kva.example
]]

local CONF = [[
  internal_networks = [ "127.0.0.0/8" ];
]]

T.run("routed", function()
	T.start(CONF, TABLE)
	local function level(rcpt)
		local c = T.send{ rcpt = {rcpt} }
		local r = T.inserted(c, "X-TLSLevel", "Require", 0) and "Require" or
			(T.inserted(c, "X-TLSLevel", "Try", 0) and "Try" or "none")
		mt.disconnect(c)
		return r
	end
	for _, rcpt in ipairs({
		"<user%bank.test@localhost>",
		"<user%BANK.Test.@localhost>",
		"<bank.test!user@localhost>",
		"<\"user@bank.test\"@localhost>",
		"<user@bank.test@localhost>",
		"<@bank.test:user@localhost>",
		"<@relay.other.test,@bank.test:user@localhost>",
		"<user%bank.test>",
		"<bank.test!user>",
		"<user%bücher.example@localhost>",
	}) do
		local got = level(rcpt)
		T.ok(got == "Require", rcpt .. ": X-TLSLevel Require (got " .. got .. ")")
	end
	-- Ordinary local parts, and routes through domains that are not forced, stay Try.
	for _, rcpt in ipairs({
		"<first.last+tag@other.test>",
		"<user%other.test@localhost>",
		"<\"john smith\"@other.test>",
		"<@relay.other.test:user@other.test>",
		"<postmaster>",
	}) do
		local got = level(rcpt)
		T.ok(got == "Try", rcpt .. ": X-TLSLevel Try (got " .. got .. ")")
	end
end)
