-- t-backup.lua: backup encryption (issue 12, Forcepoint's "backup
-- encryption"). On outbound mail whose X-TLSLevel: Require comes from the
-- table alone and whose every forced recipient's entry says
-- on_tls_failure=gateway, the filter inserts exactly one
-- "X-TLS-Backup: gateway" right after X-TLSLevel (index 1, X-TLSLevel at 0),
-- so that milter_header_checks FILTERs the message to forcetls-backup. A
-- forced recipient that defers, or one whose domain cannot be parsed: no
-- header. Unforced recipients follow the message. Never on inbound mail, on
-- the gateway's mail, with a trusted Require header, or on Sendmail (or an
-- MTA that did not say). Every copy already on a message is deleted (any
-- case, folded, encoded words, duplicates); only the filter's own counts.
local here = os.getenv("FTLS_MILTER_TESTS") or
	(debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or ".")
local T = dofile(here .. "/lib.lua")

local TABLE = [[
# t-backup
bank.test        encrypt on_tls_failure=gateway
.bank2.test      verify  on_tls_failure=gateway
ins.test         encrypt
defer.test       encrypt on_tls_failure=defer
]]

local CONF = [[
  internal_networks = [ "127.0.0.0/8" ];
  gateway_networks = [ "10.9.9.0/24" ];
]]

local B = "X-TLS-Backup"

-- The message got Require first and exactly one backup header right after it.
local function expect_backup(c, why)
	T.expect_insert(c, "X-TLSLevel", "Require", 0, why)
	T.expect_new_count(c, "X-TLSLevel", 1, why)
	T.expect_insert(c, B, "gateway", 1, why)
	T.expect_new_count(c, B, 1, why)
	T.expect_no_add(c, B, why .. " (inserted, not added at the end)")
end

local function expect_no_backup(c, why)
	T.expect_no_insert(c, B, why)
	T.expect_no_add(c, B, why)
	T.expect_new_count(c, B, 0, why)
end

T.run("backup", function()
	T.start(CONF, TABLE)
	local c, d

	-- Every forced recipient backs up to the gateway: the header, once, after X-TLSLevel.
	c, d = T.send{ rcpt = {"<a@bank.test>", "<b@mx.bank2.test>"} }
	expect_backup(c, "all forced recipients on_tls_failure=gateway")
	T.expect_no_delete(c, nil, "all forced recipients on_tls_failure=gateway")
	T.expect_log(d, "tls=Require (rcpt bank.test")
	T.expect_log(d, "backup=gateway (every forced recipient: on_tls_failure=gateway)")
	mt.disconnect(c)

	-- One forced recipient that defers (no attribute, or defer): no header.
	c, d = T.send{ rcpt = {"<a@bank.test>", "<b@ins.test>"} }
	T.expect_insert(c, "X-TLSLevel", "Require", 0, "backup + defer (no attribute)")
	expect_no_backup(c, "backup + defer (no attribute)")
	T.expect_log(d, "backup=no (a forced recipient defers)")
	mt.disconnect(c)
	c = T.send{ rcpt = {"<b@defer.test>", "<a@bank.test>"} }
	T.expect_insert(c, "X-TLSLevel", "Require", 0, "defer + backup (on_tls_failure=defer)")
	expect_no_backup(c, "defer + backup (on_tls_failure=defer)")
	mt.disconnect(c)
	-- A recipient whose domain cannot be parsed counts as forced, never as backup.
	c, d = T.send{ rcpt = {"<a@bank.test>", "<b@bad..test>"} }
	T.expect_insert(c, "X-TLSLevel", "Require", 0, "backup + unparseable domain")
	expect_no_backup(c, "backup + unparseable domain")
	T.expect_log(d, "backup=no (a forced recipient defers)")
	T.ok(T.log_count("recipient <b@bad..test>") >= 1, "the unparseable recipient is logged")
	mt.disconnect(c)

	-- Backup plus unforced recipients: the header; they follow the message.
	c = T.send{ rcpt = {"<x@other.test>", "<a@bank.test>", "<y@other2.test>"} }
	expect_backup(c, "backup + unforced recipients")
	mt.disconnect(c)
	-- Only unforced, or only deferring: no header, no backup= in the log.
	c, d = T.send{ rcpt = {"<x@other.test>"} }
	T.expect_insert(c, "X-TLSLevel", "Try", 0, "unforced only")
	expect_no_backup(c, "unforced only")
	T.ok(not string.find(d, "backup=", 1, true), "unforced only: no backup= in the log: " .. d)
	mt.disconnect(c)
	c = T.send{ rcpt = {"<x@ins.test>"} }
	expect_no_backup(c, "deferring forced recipient only")
	mt.disconnect(c)

	-- Flagged (subject tag) in header mode: the header too; the trigger comes last.
	c = T.send{ rcpt = {"<a@bank.test>"}, headers = {{"Subject", "[encrypt] figures"}} }
	expect_backup(c, "flagged, header mode")
	T.expect_add(c, "X-Encrypt", "yes", "flagged, header mode")
	mt.disconnect(c)

	-- A trusted Require header kept (internal client): no header, forced or not.
	c, d = T.send{ rcpt = {"<x@other.test>"}, headers = {{"X-TLSLevel", "Require"}} }
	T.expect_insert(c, "X-TLSLevel", "Require", 0, "trusted Require, unforced")
	expect_no_backup(c, "trusted Require, unforced")
	mt.disconnect(c)
	c, d = T.send{ rcpt = {"<a@bank.test>"}, headers = {{"X-TLSLevel", "Require"}} }
	T.expect_insert(c, "X-TLSLevel", "Require", 0, "trusted Require, backup recipient")
	expect_no_backup(c, "trusted Require, backup recipient")
	T.expect_log(d, "backup=no (a trusted Require header")
	mt.disconnect(c)

	-- Spoofed copies from an internal client: every one deleted; they decide nothing.
	local spoofs = {
		{B, "gateway"}, {"x-tls-backup", "  GATEWAY  "}, {"X-TLS-BACKUP", "\n gateway"},
		{"X-Tls-Backup", "=?utf-8?q?gateway?="}, {B, "gateway"} }
	-- (each deletion spells the name as the message did; the MTA counts them
	-- case-insensitively)
	local function expect_spoofs_deleted(c, why)
		T.expect_deleted_at(c, B, 1, why)
		T.expect_deleted_at(c, "x-tls-backup", 2, why .. " (own spelling)")
		T.expect_deleted_at(c, "X-TLS-BACKUP", 3, why .. " (folded)")
		T.expect_deleted_at(c, "X-Tls-Backup", 4, why .. " (encoded word)")
		T.expect_deleted_at(c, B, 5, why .. " (duplicate)")
		T.ok(not T.deleted(c, B, 6), why .. ": only the five copies deleted")
	end
	c, d = T.send{ rcpt = {"<x@other.test>"}, headers = spoofs }
	expect_spoofs_deleted(c, "outbound spoofs, unforced")
	expect_no_backup(c, "outbound spoofs, unforced")
	T.expect_log(d, "removed=X-TLS-Backup*5")
	mt.disconnect(c)
	c = T.send{ rcpt = {"<a@bank.test>", "<b@ins.test>"}, headers = spoofs }
	expect_spoofs_deleted(c, "outbound spoofs, backup + defer")
	expect_no_backup(c, "outbound spoofs, backup + defer")
	mt.disconnect(c)
	c = T.send{ rcpt = {"<a@bank.test>"}, headers = spoofs }
	expect_spoofs_deleted(c, "outbound spoofs, backup recipient")
	expect_backup(c, "outbound spoofs, backup recipient (only the filter's own copy)")
	mt.disconnect(c)
	-- Many copies: every one goes, the filter's own still once.
	local many = {}
	for _ = 1, 80 do
		table.insert(many, {B, "gateway"})
	end
	c = T.send{ rcpt = {"<a@bank.test>"}, headers = many }
	T.expect_deleted(c, B, 80, "80 copies")
	expect_backup(c, "80 copies")
	mt.disconnect(c)

	-- Inbound: every copy deleted, nothing inserted.
	c, d = T.send{ ip = "203.0.113.9", host = "mx.outside.example",
		from = "<x@outside.example>", rcpt = {"<a@bank.test>"}, headers = spoofs }
	expect_spoofs_deleted(c, "inbound")
	T.expect_no_insert(c, nil, "inbound")
	expect_no_backup(c, "inbound")
	T.expect_log(d, "direction=inbound")
	mt.disconnect(c)
	-- The gateway's mail: Require, no backup (its backup port would get it back).
	c, d = T.send{ ip = "10.9.9.1", host = "gateway.example", rcpt = {"<a@bank.test>"},
		headers = spoofs }
	expect_spoofs_deleted(c, "gateway direction")
	T.expect_insert(c, "X-TLSLevel", "Require", 0, "gateway direction")
	expect_no_backup(c, "gateway direction")
	T.expect_log(d, "direction=gateway")
	mt.disconnect(c)
	-- ... nor after its failure header (on_encrypt_failure = tls).
	c = T.send{ ip = "10.9.9.1", host = "gateway.example", rcpt = {"<a@bank.test>"},
		headers = {{"X-Encrypt-Status", "failure"}} }
	T.expect_insert(c, "X-TLSLevel", "Require", 0, "gateway failure")
	expect_no_backup(c, "gateway failure")
	mt.disconnect(c)

	-- Sendmail (v macro "8.17.1.9"), and an MTA that sends no v: no header.
	T.mta_version = "8.17.1.9"
	c, d = T.send{ rcpt = {"<a@bank.test>"}, headers = spoofs }
	T.expect_insert(c, "X-TLSLevel", "Require", 0, "Sendmail")
	expect_spoofs_deleted(c, "Sendmail")
	expect_no_backup(c, "Sendmail")
	T.expect_log(d, "backup=no (the MTA cannot route on a header)")
	mt.disconnect(c)
	T.mta_version = false
	c = T.send{ rcpt = {"<a@bank.test>"} }
	expect_no_backup(c, "no v macro")
	mt.disconnect(c)
	T.mta_version = "Postfix 3.7.11"

	-- tables.on_tls_failure = "gateway": entries that name none back up too.
	T.sections = "tables = {\n  on_tls_failure = \"gateway\";\n};\n"
	T.reconfigure(CONF)
	c = T.send{ rcpt = {"<a@bank.test>", "<b@ins.test>"} }
	expect_backup(c, "tables.on_tls_failure = gateway")
	mt.disconnect(c)
	c = T.send{ rcpt = {"<a@bank.test>", "<b@defer.test>"} }
	expect_no_backup(c, "tables.on_tls_failure = gateway, an explicit defer")
	mt.disconnect(c)
	T.sections = nil

	-- backup_header configured: the new name, inserted and deleted.
	T.reconfigure(CONF .. '  backup_header = "X-Forcetls-Fallback: encrypt-gateway";\n')
	c = T.send{ rcpt = {"<a@bank.test>"}, headers = {{B, "gateway"},
		{"X-Forcetls-Fallback", "encrypt-gateway"}} }
	T.expect_insert(c, "X-Forcetls-Fallback", "encrypt-gateway", 1, "backup_header set")
	T.expect_new_count(c, "X-Forcetls-Fallback", 1, "backup_header set")
	T.expect_deleted(c, "X-Forcetls-Fallback", 1, "backup_header set (old copy)")
	T.expect_no_delete(c, B, "backup_header set (the default name is an ordinary header)")
	expect_no_backup(c, "backup_header set")
	mt.disconnect(c)

	-- Refused at load: the form of encrypt_header, and a name another setting has.
	for _, bad in ipairs{ '  backup_header = "X-TLS-Backup";\n',
			'  backup_header = "X-TLS-Backup: ";\n',
			'  backup_header = "X-TLSLevel: gateway";\n',
			'  backup_header = "x-encrypt: yes";\n' } do
		T.write_conf(CONF .. bad)
		local out, rc = T.run_bin("--check --config " .. T.conf .. " --table " .. T.table)
		T.ok(rc ~= 0 and string.find(out, "milter.backup_header", 1, true) ~= nil,
			"--check refuses " .. bad .. " naming milter.backup_header: " .. out)
	end
	T.write_conf(CONF)
end)
