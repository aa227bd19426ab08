#!/usr/bin/env python3
"""Sendmail's access map, answered live by the real forcetls-policyd (issue 9).

usage: t_sendmail.py POLICYD_BINARY TLSMAPS_BINARY COMPILE_DIR [unittest args]

Golden: for every key of the compiled tests/compile/sendmail.tbl, as
makemap -u dumps the hash map built from `tlsmaps compile --format
sendmail-access` (with and without --no-tls-clt), the live answer of
policyd.sendmail_map_name is "OK " + the map's value; for absent keys, dot
keys, upper- and mixed-case keys it is what the hash map holds (a hash map
folds case like Sendmail's socket map client does), NOTFOUND when nothing.
By default TLS_Clt keys are NOTFOUND (forcetls-milter enforces inbound);
with policyd.sendmail_inbound they are the compiled ones.

Reload: a changed table gives the new answers, a broken one keeps the old.
Errors: an unknown map name answers TEMP (never PERM, which Sendmail reads
as "not found"). Skipped (exit 77) without makemap.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

from policyd_client import Daemon, Socketmap

POLICYD = TLSMAPS = SRC = None
SR = os.environ.get("SENDMAIL_ROOT", "/opt/forcetls-test/sendmail")
MAKEMAP = os.path.join(SR, "usr/sbin/makemap")
NAME = "access.forcetls"
ON = '  sendmail_map_name = "%s";\n' % NAME  # off by default

# Keys no line has (or only some forms of), as Sendmail's rulesets send them.
ABSENT = [
    "tls_rcpt:nosuch.example", "tls_rcpt:user@example.com", "tls_rcpt:user@",
    "tls_rcpt:", "tls_rcpt:com", "tls_rcpt:.com", "tls_rcpt:.legacy.example.com",
    "tls_rcpt:sub.example.com", "tls_rcpt:.bank.example", "tls_rcpt:example.com.",
    "tls_srv:", "tls_srv:10.200", "tls_srv:198.51.100.77.1", "tls_srv:ipv6:2001:db8::26",
    "tls_srv:relay.partner.example:587", "tls_srv:[relay.partner.example]",
    "tls_clt:", "tls_clt:203.0.114", "tls_clt:.guest.example",
    "connect:127.0.0.1", "from:user@example.com", "to:example.com", "spam:abuse@example.com",
    "example.com", "tls_rcpt:example.com ", " tls_rcpt:example.com", "tls_rcpt:example.co",
]


def compile_dump(work, no_clt):
    """{folded key: value} of the hash map makemap builds from the compiled map."""
    tag = "noclt" if no_clt else "all"
    src = os.path.join(work, "access-%s.txt" % tag)
    db = os.path.join(work, "access-%s" % tag)
    cmd = [TLSMAPS, "compile", "--format", "sendmail-access"]
    if no_clt:
        cmd.append("--no-tls-clt")
    with open(src, "w") as out:
        subprocess.run(cmd + ["sendmail.tbl"], cwd=SRC, stdout=out, stderr=subprocess.DEVNULL,
                       check=True)
    empty = os.path.join(work, "empty.cf")
    open(empty, "w").close()
    with open(src) as f:
        subprocess.run([MAKEMAP, "-C", empty, "hash", db], stdin=f, check=True,
                       stderr=subprocess.DEVNULL)
    dump = subprocess.run([MAKEMAP, "-C", empty, "-u", "hash", db], check=True,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.decode()
    lines = {}
    for line in dump.splitlines():
        k, v = line.split("\t", 1)
        lines[k] = v
    with open(src) as f:
        original = [l.split("\t")[0] for l in f if l.strip() and not l.startswith("#")]
    return lines, original


def mixed(key):
    """A case-shuffled form: every other letter upper case."""
    return "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(key))


def table_text():
    with open(os.path.join(SRC, "sendmail.tbl")) as f:
        return f.read()


class Golden(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="ftls-smmap-")
        os.chmod(cls.work, 0o700)
        cls.all, cls.all_orig = compile_dump(cls.work, False)
        cls.noclt, _ = compile_dump(cls.work, True)
        assert any(k.startswith("tls_clt:") for k in cls.all), "fixture has no TLS_Clt line"
        assert not any(k.startswith("tls_clt:") for k in cls.noclt)
        assert len(cls.noclt) > 50, cls.noclt

    def check(self, d, want):
        sm = Socketmap(d.sm, name=NAME)
        keys = set(want) | set(self.all) | set(ABSENT)
        probes = []
        for k in sorted(keys):
            probes += [k, k.upper(), mixed(k)]
        probes += self.all_orig  # as compiled: "TLS_Rcpt:...", "IPv6:..."
        bad = []
        for k in probes:
            exp = want.get(k.lower())
            exp = "OK " + exp if exp is not None else "NOTFOUND "
            got = sm.lookup(k)
            if got != exp:
                bad.append("%r: live %r, makemap %r" % (k, got, exp))
        sm.close()
        self.assertEqual(bad, [], "\n".join(bad[:40]))
        return len(probes)

    def test_default_no_tls_clt(self):
        d = Daemon(POLICYD, table_text(), conf_extra=ON)
        try:
            n = self.check(d, self.noclt)
            self.assertGreater(n, 3 * len(self.all))
        finally:
            self.assertEqual(d.stop(), 0)

    def test_sendmail_inbound_serves_tls_clt(self):
        d = Daemon(POLICYD, table_text(), conf_extra=ON + "  sendmail_inbound = true;\n")
        try:
            self.check(d, self.all)
        finally:
            self.assertEqual(d.stop(), 0)

    def test_errors_are_temp(self):
        d = Daemon(POLICYD, table_text())  # off by default
        try:
            sm = Socketmap(d.sm, name=NAME)
            self.assertEqual(sm.lookup("tls_rcpt:example.com"), "TEMP unknown map name")
            self.assertEqual(sm.lookup("example.com", name="nosuch"), "TEMP unknown map name")
            self.assertEqual(sm.lookup("example.com", name="forcetls"), "OK encrypt")
            sm.close()
        finally:
            self.assertEqual(d.stop(), 0)

    def test_empty_table(self):
        """No line at all (under the sanitizers: no qsort() of a NULL array)."""
        d = Daemon(POLICYD, "# nothing\n", conf_extra=ON)
        try:
            sm = Socketmap(d.sm, name=NAME)
            self.assertEqual(sm.lookup("tls_rcpt:example.com"), "NOTFOUND ")
            sm.close()
        finally:
            self.assertEqual(d.stop(), 0)

    def test_bad_name_refused(self):
        for extra in ('  sendmail_map_name = "forcetls";\n',
                      '  sendmail_map_name = "a b";\n'):
            d = None
            with self.assertRaises(RuntimeError):
                d = Daemon(POLICYD, table_text(), conf_extra=extra)
            if d is not None:
                d.stop()


class Idle(unittest.TestCase):
    def test_sendmail_connection_outlives_idle_timeout(self):
        """Sendmail does not reconnect after an idle close: its next lookup would fail."""
        d = Daemon(POLICYD, "a.example encrypt\n", conf_extra=ON + "  idle_timeout = 1;\n")
        try:
            sm = Socketmap(d.sm, name=NAME)
            pf = Socketmap(d.sm, name="forcetls")
            for _ in range(3):  # more than one read: libevent re-arms an old timeout
                self.assertEqual(sm.lookup("tls_rcpt:a.example"), "OK ENCR:128")
            self.assertEqual(pf.lookup("a.example"), "OK encrypt")
            time.sleep(2.5)
            self.assertEqual(sm.lookup("tls_rcpt:a.example"), "OK ENCR:128")
            with self.assertRaises((EOFError, OSError)):  # Postfix's: closed, as before
                pf.lookup("a.example")
            sm.close()
            pf.close()
        finally:
            self.assertEqual(d.stop(), 0)


class Reload(unittest.TestCase):
    def test_new_table_new_answers_broken_table_old(self):
        d = Daemon(POLICYD, "a.example encrypt\n[mx.b.example] verify\n10.0.0.0/8 encrypt direction=in\n",
                   conf_extra=ON + "  sendmail_inbound = true;\n")
        try:
            sm = Socketmap(d.sm, name=NAME)
            self.assertEqual(sm.lookup("tls_rcpt:a.example"), "OK ENCR:128")
            self.assertEqual(sm.lookup("tls_srv:mx.b.example"), "OK VERIFY:128")
            self.assertEqual(sm.lookup("tls_clt:10"), "OK ENCR:128")
            self.assertEqual(sm.lookup("tls_rcpt:c.example"), "NOTFOUND ")
            d.write_table("c.example verify min_bits=256\n.a.example may\n")
            d.signal(signal.SIGHUP)
            d.wait_log("reload (SIGHUP): ok")
            self.assertEqual(sm.lookup("tls_rcpt:a.example"), "NOTFOUND ")
            self.assertEqual(sm.lookup("tls_rcpt:.a.example"), "OK OK")
            self.assertEqual(sm.lookup("tls_rcpt:c.example"), "OK VERIFY:256")
            self.assertEqual(sm.lookup("tls_srv:mx.b.example"), "NOTFOUND ")
            self.assertEqual(sm.lookup("tls_clt:10"), "NOTFOUND ")
            d.write_table("c.example encrypt\nbroken..example encrypt\n")
            d.signal(signal.SIGHUP)
            d.wait_log("reload (SIGHUP): refused")
            self.assertEqual(sm.lookup("tls_rcpt:c.example"), "OK VERIFY:256")
            self.assertEqual(sm.lookup("tls_rcpt:.a.example"), "OK OK")
            sm.close()
        finally:
            self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    POLICYD, TLSMAPS, SRC = sys.argv[1], sys.argv[2], sys.argv[3]
    del sys.argv[1:4]
    if not os.access(MAKEMAP, os.X_OK):
        print("SKIP: no makemap under %s (scripts/install-deps)" % SR)
        sys.exit(77)
    unittest.main()
