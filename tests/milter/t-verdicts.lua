-- t-verdicts.lua: the golden verdicts of the decision core, asked of the real
-- forcetls-milter. tests/golden/verdicts.sessions describes SMTP sessions and
-- verdicts.ref pins the core's verdict for each (tlsmaps verdict; see
-- tests/golden/run-golden.sh). Each inbound session is played to the filter as
-- Postfix or Sendmail would (connect with the client address and name, MAIL
-- FROM with {tls_version}, {cipher_bits}, {cert_subject} for a verified
-- certificate (cn=: Postfix's CN; dn=: Sendmail's DN with {verify}=OK, the
-- connection then saying it is Sendmail 8.17.1.9), {cert_md5} and {cert_fp}
-- for digests, {auth_authen}), and the
-- filter must give the same verdict: PASS continues, REFUSE answers the
-- inbound_reply and logs a reject line with the same entry and reason, TEMP
-- answers a reply code and logs a defer line. Each recipient case is an
-- outbound message from an internal client: FORCED and ERROR give
-- X-TLSLevel: Require (ERROR logged), NOT_FORCED Try.
local here = os.getenv("FTLS_MILTER_TESTS") or
	(debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or ".")
local T = dofile(here .. "/lib.lua")
local golden = (os.getenv("FTLS_SOURCE_DIR") or (here .. "/../..")) .. "/tests/golden/"

local function unescape(v)
	return (v:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local function sessions()
	local list = {}
	for line in T.readall(golden .. "verdicts.sessions"):gmatch("[^\n]+") do
		if line:sub(1, 1) ~= "#" then
			local w = {digest = {}}
			for k, v in line:gmatch("(%S-)=(%S*)") do
				if k == "digest" then
					table.insert(w.digest, unescape(v))
				else
					w[k] = unescape(v)
				end
			end
			table.insert(list, w)
		end
	end
	return list
end

-- label -> {verdict, entry key, entry line, reason}
local function expected()
	local want, n = {}, 0
	for line in T.readall(golden .. "verdicts.ref"):gmatch("[^\n]+") do
		local label, verdict, entry, why = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)\t(.*)$")
		if label then
			local key, lno = entry:match("^(.-) %(.-:(%d+)%)$")
			want[label] = {verdict = verdict, key = key, line = lno, why = why}
			n = n + 1
		end
	end
	T.ok(n > 30, "verdicts.ref has the verdict lines (" .. n .. ")")
	return want
end

local function log_line(qid, what)
	for l in T.log():gmatch("[^\n]+") do
		if l:find(qid .. ": " .. what .. ": ", 1, true) then
			return l
		end
	end
	return nil
end

local function inbound(w, want)
	-- Sendmail's dn= needs Sendmail: the v macro at connect says which MTA it is.
	T.mta_version = w.dn and "8.17.1.9" or "Postfix 3.7.11"
	local c = T.connect(w.addr, w.name or "unknown")
	T.mta_version = "Postfix 3.7.11"
	local qid = T.next_qid("V")
	local macros = {}
	T.ok((w.verified == "yes") == (w.cn ~= nil or w.dn ~= nil),
		w.case .. ": verified=yes goes with cn= or dn=, and only it")
	if w.tls and w.tls ~= "" then macros["{tls_version}"] = w.tls end
	if w.bits then macros["{cipher_bits}"] = w.bits end
	if w.verified == "yes" and w.cn then macros["{cert_subject}"] = w.cn end
	if w.verified == "yes" and w.dn then
		macros["{cert_subject}"] = w.dn
		macros["{verify}"] = "OK"
	end
	if w.digest[1] then macros["{cert_md5}"] = w.digest[1] end
	if w.digest[2] then macros["{cert_fp}"] = w.digest[2] end
	if w.auth == "yes" then macros["{auth_authen}"] = "alice" end
	if w.internal == "yes" then
		T.ok(w.addr == "127.0.0.1", w.case .. ": an internal session comes from 127.0.0.1")
	end
	local r = T.mail(c, "<" .. (w.sender or "") .. ">", qid, macros)
	mt.disconnect(c)
	local what = w.case .. " (" .. want.verdict .. ")"
	if want.verdict == "PASS" then
		T.ok(r == SMFIR_CONTINUE, what .. ": MAIL answers continue (got " .. tostring(r) .. ")")
		T.ok(log_line(qid, "reject") == nil and log_line(qid, "defer") == nil,
			what .. ": nothing refused")
		return
	end
	T.ok(r == SMFIR_REPLYCODE, what .. ": MAIL answers a reply code (got " .. tostring(r) .. ")")
	if want.verdict == "REFUSE" then
		T.wait_log(qid .. ": reject: ", 1, 5)
		local l = log_line(qid, "reject")
		T.expect_log(l, "reason=" .. want.why .. " level=", what)
		T.expect_log(l, "entry=" .. want.key .. " (" .. T.table .. ":" .. want.line .. ")", what)
		T.expect_log(l, "reply=450 4.7.0", what)
	else
		T.wait_log(qid .. ": defer: ", 1, 5)
		local l = log_line(qid, "defer")
		T.expect_log(l, "reason=" .. want.why:match("^[^:]*"), what)
		T.expect_log(l, "reply=451 4.3.0", what)
	end
end

local function recipient(w, want)
	local c, d = T.send{ip = "127.0.0.1", rcpt = {w.rcpt}}
	local what = w.case .. " (" .. want.verdict .. ")"
	local level = want.verdict == "NOT_FORCED" and "Try" or "Require"
	T.expect_insert(c, "X-TLSLevel", level, 0, what)
	T.expect_log(d, "tls=" .. level, what)
	if want.verdict == "ERROR" then
		T.wait_log(T.last_qid .. ": recipient ", 1, 5)
		T.ok(T.log_count(T.last_qid .. ": recipient ") == 1, what .. ": the error is logged")
	end
	mt.disconnect(c)
end

local function group_of(w)
	return "exempt_internal=" .. (w.exempt_internal or "yes") ..
		" exempt_authenticated=" .. (w.exempt_authenticated or "yes")
end

local function sections(w)
	return "tables = {\n  inbound_exempt_internal = " ..
		((w.exempt_internal or "yes") == "yes" and "true" or "false") ..
		";\n  inbound_exempt_authenticated = " ..
		((w.exempt_authenticated or "yes") == "yes" and "true" or "false") .. ";\n};\n"
end

T.run("verdicts", function()
	local want, all = expected(), sessions()
	local BASE = '  internal_networks = [ "127.0.0.0/8" ];\n'
	local current, n = nil, 0
	T.sections = sections({})
	T.start(BASE, T.readall(golden .. "verdicts.tbl"))
	current = group_of({})
	for _, w in ipairs(all) do
		T.ok(want[w.case] ~= nil, tostring(w.case) .. ": has a verdict in verdicts.ref")
		if group_of(w) ~= current then
			T.sections = sections(w)
			T.reconfigure(BASE)
			current = group_of(w)
		end
		if w.rcpt then recipient(w, want[w.case]) else inbound(w, want[w.case]) end
		n = n + 1
	end
	T.ok(n == #all and n > 40, "every session was played (" .. n .. ")")
end)
