#!/usr/bin/env python3
"""End-to-end protocol tests of the real forcetls-policyd over real sockets.

usage: t_policyd.py POLICYD_BINARY [unittest args]

Socketmap answers as Postfix asks (ports, case, parents, literals), policy
delegation decisions, hostile bytes on both sockets, reload (good and bad
tables), --check, counters, and DNS-dependent answers against a real
dnsmasq on a loopback port.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

from policyd_client import Daemon, Policy, Socketmap, free_port

BINARY = None

TABLE = """\
# test table
bank.test
.bank.test verify
legacy.bank.test may
.insurer.test encrypt min_bits=256
[relay.test]:587 secure
[relay.test] encrypt
Partner.Test encrypt direction=out
partner.test verify direction=in
10.0.0.0/8 encrypt direction=in
10.9.0.0/16 may direction=in
192.0.2.0/24 verify direction=in
fp.test fingerprint match=AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99 direction=in
"""


class PolicydTest(unittest.TestCase):
    def setUp(self):
        self.d = Daemon(BINARY, TABLE)

    def tearDown(self):
        rc = self.d.stop()
        self.assertEqual(rc, 0, "daemon exit status %s:\n%s" % (rc, self.d.logtext()))

    # --- socketmap -------------------------------------------------------

    def test_socketmap_answers(self):
        sm = Socketmap(self.d.sm)
        cases = [
            ("bank.test", "OK encrypt"),
            ("BANK.TEST", "OK encrypt"),
            ("bank.test.", "OK encrypt"),
            ("bank.test:2526", "OK encrypt"),
            ("mx.bank.test", "OK verify"),
            ("mx.bank.test:25", "OK verify"),
            (".bank.test", "OK verify"),
            ("legacy.bank.test", "OK may"),
            ("a.legacy.bank.test", "OK verify"),
            ("x.insurer.test", "OK encrypt ciphers=high"),
            ("[relay.test]:587", "OK secure"),
            ("[relay.test]:2525", "OK encrypt"),
            ("[relay.test]", "OK encrypt"),
            ("partner.test", "OK encrypt"),
            ("unlisted.test", "NOTFOUND "),
            (".test", "NOTFOUND "),
            ("[192.0.2.7]:25", "NOTFOUND "),   # inbound-only network
        ]
        for key, want in cases:
            self.assertEqual(sm.lookup(key), want, key)
        sm.close()

    def test_require_map_never_below_encrypt(self):
        sm = Socketmap(self.d.sm, name="forcetls-require")
        self.assertEqual(sm.lookup("bank.test"), "OK encrypt")
        self.assertEqual(sm.lookup("mx.bank.test"), "OK verify")        # stronger stays
        self.assertEqual(sm.lookup("legacy.bank.test"), "OK encrypt")   # may -> encrypt
        self.assertEqual(sm.lookup("unlisted.test"), "OK encrypt")      # none -> encrypt
        self.assertEqual(sm.lookup("[relay.test]:587"), "OK secure")
        self.assertTrue(sm.lookup("bad..key").startswith("TEMP"))
        sm.close()

    def test_socketmap_errors_are_temp_or_perm(self):
        sm = Socketmap(self.d.sm)
        self.assertEqual(sm.lookup("bank.test", name="other"), "PERM unknown map name")
        self.assertTrue(sm.lookup("bad..name").startswith("TEMP malformed key"))
        self.assertTrue(sm.lookup("[unclosed").startswith("TEMP malformed key"))
        self.assertTrue(sm.lookup("name:99999").startswith("TEMP malformed key"))
        # The connection still serves after errors.
        self.assertEqual(sm.lookup("bank.test"), "OK encrypt")
        sm.close()

    def test_socketmap_garbage_then_service(self):
        good = Socketmap(self.d.sm)
        self.assertEqual(good.lookup("bank.test"), "OK encrypt")
        for junk in [b"hello\r\n", b"abc:def,", b"99999999999999999999999:", b"\x00\xff" * 50,
                     b"5000:" + b"a" * 5000 + b","]:
            s = socket.create_connection(self.d.sm, timeout=10)
            s.sendall(junk)
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            s.close()
            self.assertTrue(data.startswith(b"") and (data == b"" or b"TEMP" in data), data)
        # A connection that stalls mid-request does not stall others.
        stall = socket.create_connection(self.d.sm, timeout=10)
        stall.sendall(b"30:forcetls ban")
        self.assertEqual(good.lookup("mx.bank.test"), "OK verify")
        fresh = Socketmap(self.d.sm)
        self.assertEqual(fresh.lookup("legacy.bank.test"), "OK may")
        stall.close()
        fresh.close()
        good.close()
        self.assertTrue(self.d.alive())

    def test_many_connections(self):
        conns = [Socketmap(self.d.sm) for _ in range(300)]
        for i, c in enumerate(conns):
            self.assertEqual(c.lookup("bank.test" if i % 2 else "unlisted.test"),
                             "OK encrypt" if i % 2 else "NOTFOUND ")
        for c in conns:
            c.close()

    def test_pipelined_requests_answered_in_order(self):
        s = socket.create_connection(self.d.sm, timeout=10)
        keys = ["bank.test", "unlisted.test", "legacy.bank.test", "[relay.test]:587"] * 50
        s.sendall(b"".join(b"%d:forcetls %s," % (9 + len(k), k.encode()) for k in keys))
        from policyd_client import read_netstring
        want = {"bank.test": "OK encrypt", "unlisted.test": "NOTFOUND ",
                "legacy.bank.test": "OK may", "[relay.test]:587": "OK secure"}
        for k in keys:
            self.assertEqual(read_netstring(s), want[k])
        s.close()

    # --- policy delegation ---------------------------------------------

    def test_policy_decisions(self):
        p = Policy(self.d.pol)
        clear = dict(protocol_state="RCPT", queue_id="4ABC1", client_name="unknown",
                     sender="a@example.org", encryption_protocol="", encryption_cipher="",
                     encryption_keysize="0")
        tls = dict(clear, encryption_protocol="TLSv1.3", encryption_keysize="256")
        reject = "450 4.7.0 TLS is required for this session"
        self.assertEqual(p.ask(client_address="10.1.2.3", **clear), reject)
        self.assertEqual(p.ask(client_address="10.1.2.3", **tls), "DUNNO")
        self.assertEqual(p.ask(client_address="10.1.2.3", **dict(tls, encryption_keysize="112")),
                         reject)
        self.assertEqual(p.ask(client_address="10.9.1.1", **clear), "DUNNO")  # may exception
        self.assertEqual(p.ask(client_address="198.51.100.1", **clear), "DUNNO")  # unlisted
        # verify: TLS alone is not enough; a trusted certificate (ccert_subject) is.
        self.assertEqual(p.ask(client_address="192.0.2.9", **tls), reject)
        self.assertEqual(p.ask(client_address="192.0.2.9", ccert_subject="mx.example", **tls),
                         "DUNNO")
        # Client hostname and sender domain count too; the strictest wins.
        self.assertEqual(p.ask(client_address="198.51.100.1",
                               **dict(clear, client_name="mx.bank.test")), reject)
        self.assertEqual(p.ask(client_address="198.51.100.1",
                               **dict(tls, sender="x@partner.test")), reject)
        self.assertEqual(p.ask(client_address="198.51.100.1", ccert_subject="partner",
                               **dict(tls, sender="x@partner.test")), "DUNNO")
        # fingerprint: the presented certificate's digest must be listed.
        fp = dict(tls, sender="x@fp.test")
        self.assertEqual(p.ask(client_address="198.51.100.1",
                               ccert_fingerprint="00:00", **fp), reject)
        self.assertEqual(p.ask(client_address="198.51.100.1",
                               ccert_fingerprint="aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99",
                               **fp), "DUNNO")
        log = self.d.logtext()
        self.assertIn("4ABC1: reject: client=unknown[10.1.2.3] sender=<a@example.org> "
                      "reason=no TLS level=encrypt entry=10.0.0.0/8", log)
        self.assertIn("reason=key size 112 below 128", log)
        self.assertIn("reason=no verified client certificate", log)

    def test_policy_garbage_then_service(self):
        for junk in [b"garbage\n\n", b"=x\n\n", b"request=other\n\n", b"a=b\x00c\n\n"]:
            s = socket.create_connection(self.d.pol, timeout=10)
            s.sendall(junk)
            self.assertEqual(s.recv(4096),
                             b"action=451 4.3.5 Server configuration problem\n\n", junk)
            s.close()
        s = socket.create_connection(self.d.pol, timeout=10)
        s.sendall(b"x" * 20000)
        data = s.recv(4096)
        self.assertEqual(data, b"action=451 4.3.5 Server configuration problem\n\n")
        s.close()
        p = Policy(self.d.pol)
        self.assertEqual(p.ask(client_address="10.1.2.3", encryption_protocol="TLSv1.2",
                               encryption_keysize="128"), "DUNNO")

    # --- reload, counters -----------------------------------------------

    def test_reload_good_and_bad(self):
        sm = Socketmap(self.d.sm)
        self.assertEqual(sm.lookup("new.test"), "NOTFOUND ")
        self.d.write_table(TABLE + "new.test secure\n")
        self.d.signal(signal.SIGHUP)
        self.d.wait_log("reload (SIGHUP): ok")
        self.assertEqual(sm.lookup("new.test"), "OK secure")
        self.d.write_table(TABLE + "new.test secure\nbroken..entry\n")
        self.d.signal(signal.SIGUSR1)
        self.d.wait_log("reload (SIGUSR1): refused")
        self.assertIn("forced-tls.table:15: broken..entry: bad domain name", self.d.logtext())
        self.assertEqual(sm.lookup("new.test"), "OK secure")
        self.assertEqual(sm.lookup("bank.test"), "OK encrypt")
        sm.close()

    def test_counters(self):
        sm = Socketmap(self.d.sm)
        sm.lookup("bank.test")
        sm.lookup("bank.test")
        sm.lookup("unlisted.test")
        sm.lookup("bank.test", name="other")
        self.d.signal(signal.SIGUSR2)
        self.d.wait_log("stats:")
        line = [l for l in self.d.logtext().splitlines() if "stats:" in l][-1]
        self.assertIn("ok_encrypt=2 ", line)
        self.assertIn("notfound=1 ", line)
        self.assertIn("perm=1 ", line)
        self.assertIn("socketmap_connections=1 ", line)
        sm.close()


class WatchTest(unittest.TestCase):
    def test_table_watch_reloads(self):
        d = Daemon(BINARY, TABLE, 'watch_table = true;\n  watch_interval = 1;')
        try:
            sm = Socketmap(d.sm)
            self.assertEqual(sm.lookup("watched.test"), "NOTFOUND ")
            time.sleep(1.1)
            d.write_table(TABLE + "watched.test verify\n")
            d.wait_log("reload (watch): ok", timeout=15)
            self.assertEqual(sm.lookup("watched.test"), "OK verify")
            sm.close()
        finally:
            self.assertEqual(d.stop(), 0)


class CheckTest(unittest.TestCase):
    def run_check(self, table, conf=None):
        tmp = tempfile.mkdtemp(prefix="ftls-check-")
        try:
            tpath = os.path.join(tmp, "t.table")
            with open(tpath, "w") as f:
                f.write(table)
            args = [BINARY, "--check", "--table", tpath]
            if conf is not None:
                cpath = os.path.join(tmp, "c.conf")
                with open(cpath, "w") as f:
                    f.write(conf)
                args += ["--config", cpath]
            r = subprocess.run(args, capture_output=True, text=True, timeout=30)
            return r.returncode, r.stdout + r.stderr
        finally:
            shutil.rmtree(tmp)

    def test_check(self):
        rc, out = self.run_check(TABLE)
        self.assertEqual(rc, 0, out)
        rc, out = self.run_check("ok.test\nbad..test\n10.1.2.3/24\n")
        self.assertEqual(rc, 1, out)
        self.assertIn("t.table:2: bad..test: bad domain name", out)
        self.assertIn("t.table:3: 10.1.2.3/24: host bits set; did you mean 10.1.2.0/24?", out)
        rc, out = self.run_check(TABLE, 'policyd = { dns_failure = "sometimes"; bogus = 1; };\n')
        self.assertEqual(rc, 1, out)
        self.assertIn('c.conf:1: policyd.dns_failure: "sometimes" is not one of tempfail, notfound',
                      out)
        self.assertIn("c.conf:1: unknown setting policyd.bogus", out)


class DnsTest(unittest.TestCase):
    """Destinations that only an address entry can force: MX lookups through c-ares."""

    @classmethod
    def setUpClass(cls):
        if not shutil.which("dnsmasq") and not os.path.exists("/usr/sbin/dnsmasq"):
            raise unittest.SkipTest("dnsmasq not installed")
        cls.port = free_port()
        cls.dns = subprocess.Popen(
            ["/usr/sbin/dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
             "--bind-interfaces", "--listen-address=127.0.0.1", "--port=%d" % cls.port,
             "--user=root", "--pid-file=", "--local=/test/",
             "--mx-host=cidr.test,mx1.cidr.test,10", "--host-record=mx1.cidr.test,198.51.100.25",
             "--mx-host=clear.test,mx.clear.test,10", "--host-record=mx.clear.test,203.0.113.5",
             "--mx-host=two.test,a.two.test,10", "--mx-host=two.test,b.two.test,20",
             "--host-record=a.two.test,203.0.113.6", "--host-record=b.two.test,198.51.100.26",
             "--host-record=implicit.test,198.51.100.27",
             "--server=/fail.test/127.0.0.1#%d" % free_port()],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)

    @classmethod
    def tearDownClass(cls):
        cls.dns.terminate()
        cls.dns.wait()

    def daemon(self, extra=""):
        return Daemon(BINARY, "bank.test\n198.51.100.0/24 encrypt\n203.0.113.6 may\n",
                      'dns_servers = "127.0.0.1:%d";\n  dns_timeout = 300;\n'
                      '  dns_tries = 1;\n%s' % (self.port, extra))

    def test_cidr_via_mx(self):
        d = self.daemon()
        try:
            sm = Socketmap(d.sm)
            self.assertEqual(sm.lookup("cidr.test"), "OK encrypt")
            self.assertEqual(sm.lookup("cidr.test:2525"), "OK encrypt")
            self.assertEqual(sm.lookup("clear.test"), "NOTFOUND ")
            self.assertEqual(sm.lookup("nxdomain.test"), "NOTFOUND ")
            self.assertEqual(sm.lookup("two.test"), "OK encrypt")   # strictest of the MX hosts
            self.assertEqual(sm.lookup("implicit.test"), "OK encrypt")  # no MX: the A record
            self.assertEqual(sm.lookup("[mx1.cidr.test]"), "OK encrypt")
            self.assertEqual(sm.lookup("bank.test"), "OK encrypt")  # no DNS needed
            self.assertTrue(sm.lookup("x.fail.test").startswith("TEMP"))
            self.assertEqual(sm.lookup("bank.test"), "OK encrypt")
            sm.close()
        finally:
            self.assertEqual(d.stop(), 0)

    def test_dns_failure_notfound(self):
        d = self.daemon('dns_failure = "notfound";')
        try:
            sm = Socketmap(d.sm)
            self.assertEqual(sm.lookup("x.fail.test"), "NOTFOUND ")
            self.assertEqual(sm.lookup("cidr.test"), "OK encrypt")
            sm.close()
        finally:
            self.assertEqual(d.stop(), 0)


class SocketActivationTest(unittest.TestCase):
    """Listening sockets handed over by systemd (sd_listen_fds_with_names(3)),
    here by systemd-socket-activate, with the names the units give them."""

    def test_named_sockets(self):
        activate = shutil.which("systemd-socket-activate")
        if activate is None:
            self.skipTest("systemd-socket-activate not installed")
        tmp = tempfile.mkdtemp(prefix="ftls-activate-")
        os.chmod(tmp, 0o755)
        table = os.path.join(tmp, "t.table")
        with open(table, "w") as f:
            f.write("bank.test\n10.9.0.0/16 encrypt direction=in\n")
        os.chmod(table, 0o644)
        conf = os.path.join(tmp, "c.conf")
        with open(conf, "w") as f:
            # The configured listeners must lose to the sockets systemd passes.
            f.write('policyd = {\n  user = "%s";\n  watch_table = false;\n'
                    '  socketmap_listen = "inet:127.0.0.1:1";\n'
                    '  policy_listen = "inet:127.0.0.1:2";\n};\n'
                    % ("nobody" if os.getuid() == 0 else ""))
        sm_addr = ("127.0.0.1", free_port())
        pol_addr = ("127.0.0.1", free_port())
        log = open(os.path.join(tmp, "log"), "w+")
        proc = subprocess.Popen(
            [activate, "-l", "%s:%d" % sm_addr, "-l", "%s:%d" % pol_addr,
             "--fdname=socketmap:policy",
             BINARY, "--foreground", "--config", conf, "--table", table],
            stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + 10
            while True:
                try:
                    sm = Socketmap(sm_addr)
                    break
                except OSError:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.05)
            self.assertEqual(sm.lookup("bank.test"), "OK encrypt")
            self.assertEqual(sm.lookup("other.test"), "NOTFOUND ")
            sm.close()
            pol = Policy(pol_addr)
            self.assertTrue(pol.ask(client_address="10.9.1.1", client_name="c.test",
                                    encryption_protocol="", encryption_keysize="0",
                                    sender="a@b.test").startswith("450 "))
            self.assertEqual(pol.ask(client_address="10.8.1.1", client_name="c.test",
                                     encryption_protocol="", encryption_keysize="0",
                                     sender="a@b.test"), "DUNNO")
            pol.sock.close()
        finally:
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=20)
            log.seek(0)
            text = log.read()
            log.close()
            shutil.rmtree(tmp)
        self.assertEqual(rc, 0, text)
        self.assertNotIn("127.0.0.1:1", text.split("ready:")[-1].split("\n")[0])


if __name__ == "__main__":
    BINARY = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
