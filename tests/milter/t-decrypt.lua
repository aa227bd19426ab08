-- t-decrypt.lua: inbound decryption (SPEC 4). PGP/MIME (multipart/encrypted)
-- and S/MIME enveloped data (application/pkcs7-mime, not signed-data), or a
-- configured decrypt pattern in the body, get the decrypt trigger header;
-- outbound and gateway mail never do. X-Decrypt-Status is trusted only from
-- the gateway.
local here = os.getenv("FTLS_MILTER_TESTS") or
	(debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or ".")
local T = dofile(here .. "/lib.lua")

local BASE = [[
  internal_networks = [ "127.0.0.0/8" ];
  gateway_networks = [ "10.9.9.0/24" ];
]]
local OUT = "203.0.113.40"

local function decrypt(c, d, by, why)
	T.expect_add(c, "X-Decrypt", "yes", why)
	T.expect_new_count(c, "X-Decrypt", 1, why)
	T.expect_log(d, "decrypt=yes (" .. by .. ")", why)
	T.expect_no_add(c, "X-Encrypt", why)
end
local function no_decrypt(c, d, why)
	T.expect_no_add(c, "X-Decrypt", why)
	T.ok(string.find(d, "decrypt=yes", 1, true) == nil, why .. ": no decrypt (" .. d .. ")")
end

T.run("decrypt", function()
	T.start(BASE, "forced.test\n")
	local c, d

	c, d = T.send{ ip = OUT, headers = {{"Content-Type",
		'multipart/encrypted; protocol="application/pgp-encrypted"; boundary="b1"'}} }
	decrypt(c, d, "Content-Type", "PGP/MIME")
	T.expect_no_insert(c, nil, "PGP/MIME inbound: no X-TLSLevel")
	mt.disconnect(c)
	c, d = T.send{ ip = OUT, headers = {{"Content-Type",
		'Application/PKCS7-MIME; smime-type=enveloped-data; name="smime.p7m"'}} }
	decrypt(c, d, "Content-Type", "S/MIME enveloped")
	mt.disconnect(c)
	c, d = T.send{ ip = OUT, headers = {{"Content-Type", "application/x-pkcs7-mime; name=smime.p7m"}} }
	decrypt(c, d, "Content-Type", "S/MIME without smime-type")
	mt.disconnect(c)
	c, d = T.send{ ip = OUT, headers = {{"Content-Type", "application/pkcs7-mime; smime-type=signed-data"}} }
	no_decrypt(c, d, "S/MIME signed-data")
	mt.disconnect(c)
	c, d = T.send{ ip = OUT, headers = {{"Content-Type", "multipart/signed; protocol=\"application/pgp-signature\""}} }
	no_decrypt(c, d, "PGP signed")
	mt.disconnect(c)
	c, d = T.send{ ip = OUT, headers = {{"Content-Type", "text/plain"}, {"X-Decrypt", "yes"}} }
	no_decrypt(c, d, "plain text with a spoofed trigger")
	T.expect_deleted(c, "X-Decrypt", 1, "spoofed decrypt trigger")
	mt.disconnect(c)
	-- An existing trigger on encrypted mail: replaced by exactly one.
	c, d = T.send{ ip = OUT, headers = {{"X-Decrypt", "no"}, {"Content-Type", "multipart/encrypted"}} }
	T.expect_deleted(c, "X-Decrypt", 1, "trigger on encrypted mail")
	decrypt(c, d, "Content-Type", "trigger on encrypted mail")
	mt.disconnect(c)

	-- Outbound and gateway mail are not decrypted.
	c, d = T.send{ headers = {{"Content-Type", "multipart/encrypted"}} }
	no_decrypt(c, d, "outbound PGP/MIME")
	mt.disconnect(c)
	c, d = T.send{ ip = "10.9.9.2", headers = {{"Content-Type", "multipart/encrypted"}} }
	no_decrypt(c, d, "PGP/MIME from the gateway")
	mt.disconnect(c)

	-- X-Decrypt-Status: kept from the gateway only.
	c = T.send{ ip = "10.9.9.2", headers = {{"X-Decrypt-Status", "success"}, {"X-Decrypt-Status", "failure"}} }
	T.expect_no_delete(c, "X-Decrypt-Status", "from the gateway")
	mt.disconnect(c)
	c = T.send{ ip = OUT, headers = {{"X-Decrypt-Status", "success"}, {"X-Decrypt-Status", "failure"}} }
	T.expect_deleted(c, "X-Decrypt-Status", 2, "from outside")
	mt.disconnect(c)
	c = T.send{ headers = {{"X-Decrypt-Status", "success"}} }
	T.expect_deleted(c, "X-Decrypt-Status", 1, "from an internal client")
	mt.disconnect(c)

	-- Configured patterns on the body (inbound only), custom trigger header.
	T.reconfigure(BASE .. [[
  decrypt_patterns = [ "-----BEGIN PGP MESSAGE-----", "(?m)^Content-Type: application/pkcs7-mime" ];
  decrypt_header = "X-Gateway-Decrypt: please";
]])
	c, d = T.send{ ip = OUT, body = {"Hi,\r\n-----BEGIN PGP ", "MESSAGE-----\r\nhQEMA\r\n", "more\r\n"} }
	T.expect_add(c, "X-Gateway-Decrypt", "please", "inline PGP split across chunks")
	T.expect_log(d, "decrypt=yes (decrypt_body_patterns[0])")
	T.ok(T.skipped_at == 2, "inline PGP: skip once decided")
	mt.disconnect(c)
	c, d = T.send{ ip = OUT, body = {"--b\r\nContent-Type: application/pkcs7-mime\r\n\r\nMIAG\r\n"} }
	T.expect_add(c, "X-Gateway-Decrypt", "please", "S/MIME part inside a multipart body")
	mt.disconnect(c)
	c, d = T.send{ ip = OUT, body = {"nothing to see\r\n"} }
	T.expect_no_add(c, "X-Gateway-Decrypt", "no pattern")
	mt.disconnect(c)
	c, d = T.send{ body = {"-----BEGIN PGP MESSAGE-----\r\n"} }
	T.expect_no_add(c, "X-Gateway-Decrypt", "outbound body with a decrypt pattern")
	mt.disconnect(c)
end)
