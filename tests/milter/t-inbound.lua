-- t-inbound.lua: inbound TLS enforcement at MAIL FROM (SPEC 3 and 4), from
-- the MTA's macros {tls_version}, {cipher_bits}, {cert_subject}: the client
-- address, the client host name and the sender's domain against entries
-- with direction in/both; clear text, a key below min_bits, or no verified
-- certificate for verify get the configured reply (temporary by default),
-- and a log line naming the table entry. Outbound and authenticated
-- clients are not checked; inbound_enforce = false turns it off.
local here = os.getenv("FTLS_MILTER_TESTS") or
	(debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or ".")
local T = dofile(here .. "/lib.lua")

local TABLE = [[
# t-inbound
partner.test
mx.bank.test            encrypt
192.0.2.10
192.0.2.20              encrypt min_bits=256
192.0.2.30              verify
192.0.2.0/24            may
outonly.test            encrypt direction=out
198.51.100.0/24         encrypt direction=in
]]

local BASE = [[
  internal_networks = [ "127.0.0.0/8" ];
]]

local TLS = {["{tls_version}"] = "TLSv1.3", ["{cipher_bits}"] = "256"}
local TLS128 = {["{tls_version}"] = "TLSv1.2", ["{cipher_bits}"] = "128"}
local CERT = {["{tls_version}"] = "TLSv1.3", ["{cipher_bits}"] = "256",
	["{cert_subject}"] = "mx.partner.test"}

-- MAIL FROM on a new connection; returns the reply and the log line.
local function mail(ip, host, from, macros)
	local c = T.connect(ip, host)
	local qid = T.next_qid("IN")
	local before = T.log_count(": reject: ")
	local r = T.mail(c, from, qid, macros)
	mt.disconnect(c)
	local line = ""
	if T.log_count(": reject: ") > before then
		for l in string.gmatch(T.log(), "[^\n]+") do
			if string.find(l, qid .. ": reject: ", 1, true) then
				line = l
			end
		end
	end
	return r, line
end

local function refused(ip, host, from, macros, want, why)
	local r, line = mail(ip, host, from, macros)
	T.ok(r == SMFIR_REPLYCODE, why .. ": MAIL answers a reply code (got " ..
		(r > 0 and string.char(r) or tostring(r)) .. ")")
	for _, w in ipairs(want) do
		T.expect_log(line, w, why .. ": log")
	end
end

local function accepted(ip, host, from, macros, why)
	local r, line = mail(ip, host, from, macros)
	T.ok(r == SMFIR_CONTINUE, why .. ": MAIL answers continue (got " ..
		(r > 0 and string.char(r) or tostring(r)) .. ")")
	T.ok(line == "", why .. ": no reject line (" .. line .. ")")
end

T.run("inbound", function()
	T.start(BASE, TABLE)

	-- Client address entry.
	refused("192.0.2.10", "mx.any.example", "<a@any.example>", nil,
		{"reason=no TLS", "level=encrypt", "entry=192.0.2.10 ", "forced-tls.table:4)",
		 "reply=450 4.7.0"}, "listed address in clear text")
	accepted("192.0.2.10", "mx.any.example", "<a@any.example>", TLS, "listed address with TLS")
	-- min_bits.
	refused("192.0.2.20", "h.example", "<a@any.example>", TLS128,
		{"reason=key size 128 below 256", "entry=192.0.2.20 "}, "128 bits, min_bits=256")
	accepted("192.0.2.20", "h.example", "<a@any.example>", TLS, "256 bits, min_bits=256")
	-- verify: a verified certificate ({cert_subject}).
	refused("192.0.2.30", "h.example", "<a@any.example>", TLS,
		{"reason=no verified client certificate", "level=verify"}, "verify without a certificate")
	accepted("192.0.2.30", "h.example", "<a@any.example>", CERT, "verify with a certificate")
	-- A "may" network around them asks for nothing.
	accepted("192.0.2.99", "h.example", "<a@any.example>", nil, "may network")
	-- Client host name entry.
	refused("203.0.113.5", "MX.Bank.Test", "<a@any.example>", nil,
		{"entry=mx.bank.test "}, "listed client host name")
	-- Sender domain entry.
	refused("203.0.113.5", "h.example", "<someone@Partner.TEST>", nil,
		{"entry=partner.test ", "reason=no TLS"}, "listed sender domain")
	accepted("203.0.113.5", "h.example", "<someone@partner.test>", TLS128, "listed sender domain with TLS")
	-- However long the sender, its domain counts (no fixed-size copy cuts it off).
	local long = "<" .. string.rep("a", 600) .. "@partner.test>"
	refused("203.0.113.5", "h.example", long, nil,
		{"entry=partner.test ", "reason=no TLS", "reply=450 4.7.0"}, "600-byte sender, listed domain")
	accepted("203.0.113.5", "h.example", long, TLS128, "600-byte sender with TLS")
	-- A client host name that is no name (an escape sequence in it): the
	-- strict answer (451 4.3.0, whatever the table says), escaped in the log.
	local r = mail("203.0.113.5", "mx\027[31m.any.example", "<a@any.example>", TLS)
	T.ok(r == SMFIR_REPLYCODE, "bad host name: MAIL answers a reply code (got " .. tostring(r) .. ")")
	T.wait_log("defer: client=mx\\x1b[31m.any.example[203.0.113.5]", 1, 5)
	T.wait_log("reason=client name: mx\\x1b[31m.any.example: space or control character", 1, 5)
	T.ok(T.log_count("\027") == 0, "no raw escape byte in the log")
	-- direction=out entries do not apply inbound; direction=in ones do.
	accepted("203.0.113.5", "h.example", "<x@outonly.test>", nil, "direction=out entry")
	refused("198.51.100.7", "h.example", "<x@any.example>", nil,
		{"entry=198.51.100.0/24 "}, "direction=in entry")
	-- Unlisted clients are left alone.
	accepted("203.0.113.5", "h.example", "<x@any.example>", nil, "unlisted")
	-- Internal and authenticated clients send outbound mail: not checked.
	accepted("127.0.0.1", "localhost", "<someone@partner.test>", nil, "internal client")
	accepted("192.0.2.10", "mx.any.example", "<a@any.example>",
		{["{auth_authen}"] = "alice"}, "authenticated client")

	-- A permanent reply when configured so.
	T.reconfigure(BASE .. '  inbound_reply = "550 5.7.10 Encryption needed";\n')
	refused("192.0.2.10", "mx.any.example", "<a@any.example>", nil,
		{"reply=550 5.7.10"}, "configured 5xx reply")

	-- Off.
	T.reconfigure(BASE .. "  inbound_enforce = false;\n")
	local c = T.connect("192.0.2.10", "mx.any.example")
	T.ok(mt.test_option(c, SMFIP_NR_MAIL), "inbound_enforce = false: MAIL needs no reply")
	mt.disconnect(c)
	local n, d = T.log_count(": reject: "), nil
	c, d = T.send{ ip = "192.0.2.10", rcpt = {"<u@corp.test>"} }
	T.expect_log(d, "direction=inbound")
	T.ok(T.log_count(": reject: ") == n, "inbound_enforce = false: nothing refused")
	mt.disconnect(c)

	-- A bad inbound_reply is refused at reload.
	T.write_conf(BASE .. '  inbound_reply = "250 ok";\n')
	T.reload("fail")
end)
