-- t-config.lua: examples/forcetls.conf documents every setting of the
-- milter section (the settings table in milter/snapshot.c), each with a
-- comment, and the filter accepts the example as it is (--check), and
-- starts and decides with it.
local here = os.getenv("FTLS_MILTER_TESTS") or
	(debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or ".")
local T = dofile(here .. "/lib.lua")
local src = os.getenv("FTLS_SOURCE_DIR") or (here .. "/../..")

T.run("config", function()
	local code = T.readall(src .. "/milter/snapshot.c")
	local example = T.readall(src .. "/examples/forcetls.conf")
	T.ok(code ~= "" and example ~= "", "read milter/snapshot.c and examples/forcetls.conf")

	-- The milter section of the example: from "milter = {" to "};".
	local section = string.match(example, "\nmilter = {\n(.-)\n};")
	T.ok(section ~= nil, "examples/forcetls.conf has a milter section")
	local n = 0
	for name in string.gmatch(code, '{"milter%.([%w_]+)"') do
		n = n + 1
		T.ok(string.find("\n" .. section, "\n%s*" .. name .. "%s*=") ~= nil,
			"examples/forcetls.conf sets milter." .. name)
	end
	T.ok(n >= 25, "found the milter settings in snapshot.c (" .. n .. ")")
	-- Every setting there is a real one, and the section has comments.
	for name in string.gmatch("\n" .. section, "\n%s*([%w_]+)%s*=") do
		T.ok(string.find(code, '{"milter.' .. name .. '"', 1, true) ~= nil,
			"milter." .. name .. " in the example is a setting of the filter")
	end
	local comments = 0
	for _ in string.gmatch(section, "#") do
		comments = comments + 1
	end
	T.ok(comments >= n / 2, "the milter section explains its settings (" .. comments .. " comments)")

	-- The filter accepts the example (with a table of ours).
	T.write_table("forced.test\n")
	local out, rc = T.run_bin("--check --config " .. src .. "/examples/forcetls.conf --table " .. T.table)
	T.ok(rc == 0, "--check accepts examples/forcetls.conf: " .. out)
	-- And --check refuses a bad one, naming the line.
	T.write("bad.conf", "milter = {\n  opportunistic = \"yes\";\n};\n")
	out, rc = T.run_bin("--check --config " .. T.dir .. "/bad.conf --table " .. T.table)
	T.ok(rc == 1 and string.find(out, "bad.conf:2", 1, true) ~= nil,
		"--check refuses a bad value with FILE:LINE: " .. out)

	-- tls_header and its values are checked like the other header settings:
	-- refused at load, never cut or confused (Require and Try must differ).
	local bad = {
		{'tls_header = "X TLSLevel";', "milter.tls_header"},
		{'tls_header = "X-TLSLevel:";', "milter.tls_header"},
		{'tls_header = "' .. string.rep("X", 200) .. '";', "milter.tls_header"},
		{'tls_require_value = "";', "milter.tls_require_value"},
		{'tls_require_value = "Re\nquire";', "milter.tls_require_value"},
		{'tls_require_value = " Require";', "milter.tls_require_value"},
		{'tls_try_value = "' .. string.rep("t", 100) .. '";', "milter.tls_try_value"},
		{'tls_try_value = "require";', "must differ"},
		{'tls_require_value = "Try";', "must differ"},
	}
	for _, b in ipairs(bad) do
		T.write("bad.conf", "milter = {\n  " .. b[1] .. "\n};\n")
		out, rc = T.run_bin("--check --config " .. T.dir .. "/bad.conf --table " .. T.table)
		T.ok(rc == 1 and string.find(out, b[2], 1, true) ~= nil,
			"--check refuses " .. b[1]:sub(1, 60) .. " naming " .. b[2] .. ": " .. out)
	end
	-- Errors found after parsing name the file and line too (attack2), as
	-- the parser's do: on main they named only the setting.
	local late = {
		{'inbound_reply = "250 ok";', "bad.conf:3: milter.inbound_reply"},
		{'tls_header = "X TLSLevel";', "bad.conf:3: milter.tls_header"},
		{'tls_try_value = "require";', "bad.conf:3: milter.tls_"},
		{'encrypt_header = "nocolon";', "bad.conf:3: milter.encrypt_header"},
	}
	for _, b in ipairs(late) do
		T.write("bad.conf", "milter = {\n  log_decisions = true;\n  " .. b[1] .. "\n};\n")
		out, rc = T.run_bin("--check --config " .. T.dir .. "/bad.conf --table " .. T.table)
		T.ok(rc == 1 and string.find(out, b[2], 1, true) ~= nil,
			"--check refuses " .. b[1] .. " with " .. b[2] .. ": " .. out)
	end
	T.write("good.conf", 'milter = {\n  tls_header = "X-Forcetls-TLS";\n' ..
		'  tls_require_value = "must";\n  tls_try_value = "may";\n};\n')
	out, rc = T.run_bin("--check --config " .. T.dir .. "/good.conf --table " .. T.table)
	T.ok(rc == 0, "--check accepts another valid tls_header and values: " .. out)
end)
