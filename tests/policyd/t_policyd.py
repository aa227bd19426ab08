#!/usr/bin/env python3
"""End-to-end protocol tests of the real forcetls-policyd over real sockets.

usage: t_policyd.py POLICYD_BINARY [unittest args]

Socketmap answers as Postfix asks (ports, case, parents, literals), policy
delegation decisions, hostile bytes on both sockets, reload (good and bad
tables), --check, counters, and DNS-dependent answers against a real
dnsmasq on a loopback port.
"""
import errno
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

from policyd_client import Daemon, Policy, Socketmap, free_port, netstring

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
        # TEMP, not PERM: Sendmail reads PERM as "not found" (issue 9).
        self.assertEqual(sm.lookup("bank.test", name="other"), "TEMP unknown map name")
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

    def test_policy_crlf_requests(self):
        s = socket.create_connection(self.d.pol, timeout=5)
        reject = b"action=450 4.7.0 TLS is required for this session\n\n"
        clear = ("request=smtpd_access_policy\r\nprotocol_state=RCPT\r\n"
                 "client_address=10.1.2.3\r\nclient_name=unknown\r\nsender=a@b.example\r\n"
                 "encryption_protocol=\r\nencryption_keysize=0\r\n\r\n")
        tls = clear.replace("encryption_protocol=", "encryption_protocol=TLSv1.3") \
                   .replace("keysize=0", "keysize=256")
        s.sendall(clear.encode())
        self.assertEqual(s.recv(4096), reject)
        s.sendall(tls.encode())
        self.assertEqual(s.recv(4096), b"action=DUNNO\n\n")
        # Two pipelined, then one ending in a bare LF after CRLF lines.
        s.sendall((clear + tls).encode())
        data = b""
        while data.count(b"\n\n") < 2:
            data += s.recv(4096)
        self.assertEqual(data, reject + b"action=DUNNO\n\n")
        s.sendall(clear[:-2].encode() + b"\n")
        self.assertEqual(s.recv(4096), reject)
        s.close()
        # The CR is not part of a value: the keysize 256 is read as 256.
        self.assertNotIn("key size", self.d.logtext())

    def test_policy_before_mail_answers_dunno_and_warns_once(self):
        p = Policy(self.d.pol)
        clear = dict(queue_id="NOQUEUE", client_address="10.1.2.3", client_name="unknown",
                     sender="", encryption_protocol="", encryption_keysize="0")
        reject = "450 4.7.0 TLS is required for this session"
        for _ in range(20):
            self.assertEqual(p.ask(protocol_state="CONNECT", **clear), "DUNNO")
            self.assertEqual(p.ask(protocol_state="EHLO", **clear), "DUNNO")
            self.assertEqual(p.ask(protocol_state="HELO", **clear), "DUNNO")
        # From MAIL on, and without protocol_state, the check runs (strict).
        self.assertEqual(p.ask(protocol_state="MAIL", **dict(clear, sender="a@b.example")),
                         reject)
        for state in ["RCPT", "DATA", "END-OF-MESSAGE", "VRFY", "ETRN", "SOMETHING"]:
            self.assertEqual(p.ask(protocol_state=state, **clear), reject, state)
        self.assertEqual(p.ask(**clear), reject)
        log = self.d.logtext()
        for state in ["CONNECT", "EHLO", "HELO"]:
            self.assertEqual(log.count("protocol_state=%s, before MAIL" % state), 1, log)
        self.assertIn("put check_policy_service in smtpd_recipient_restrictions", log)
        self.assertNotIn("protocol_state=MAIL", log)

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


def wait_closed(sock, timeout):
    """Seconds until the peer closed sock (EOF or reset), or None after timeout."""
    start = time.time()
    sock.setblocking(False)
    while time.time() - start < timeout:
        select.select([sock], [], [], 0.1)
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            continue
        except ConnectionResetError:
            return time.time() - start
        if data == b"":
            return time.time() - start
    return None


def connections(d, which="socketmap"):
    """The open connections forcetls-policyd counts (SIGUSR2 stats)."""
    before = d.logtext().count("stats:")
    d.signal(signal.SIGUSR2)
    deadline = time.time() + 10
    while d.logtext().count("stats:") == before:
        if time.time() > deadline:
            raise AssertionError("no stats line:\n" + d.logtext())
        time.sleep(0.05)
    line = [l for l in d.logtext().splitlines() if "stats:" in l][-1]
    return int(re.search(r"%s_connections=(\d+)" % which, line).group(1))


class LimitsTest(unittest.TestCase):
    """Connections bounded in time (issue 7): slow, never-reading and draining
    clients are closed by deadlines that bytes do not extend, and other clients
    are served meanwhile."""

    def daemon(self, extra):
        return Daemon(BINARY, TABLE, extra)

    def timed_lookup(self, d, key="bank.test", want="OK encrypt"):
        start = time.time()
        sm = Socketmap(d.sm)
        self.assertEqual(sm.lookup(key), want)
        sm.close()
        return time.time() - start

    def test_slow_clients_closed_by_request_deadline(self):
        d = self.daemon("request_timeout = 2;\n  max_connections = 320;")
        try:
            req = b"22:forcetls unlisted.test,"
            slow = []
            for _ in range(300):
                s = socket.create_connection(d.sm, timeout=10)
                s.setblocking(False)
                slow.append(s)
            start = time.time()
            closed = {}
            served = []
            for tick in range(7):   # one byte per second to each
                for i, s in enumerate(slow):
                    if i in closed:
                        continue
                    try:
                        s.send(req[tick:tick + 1])
                    except OSError:
                        closed[i] = time.time() - start
                served.append(self.timed_lookup(d))
                end = time.time() + 1
                while time.time() < end:
                    r, _, _ = select.select([s for i, s in enumerate(slow) if i not in closed],
                                            [], [], max(0, end - time.time()))
                    for s in r:
                        i = slow.index(s)
                        try:
                            data = s.recv(4096)
                        except ConnectionResetError:
                            data = b""
                        if data == b"":
                            closed[i] = time.time() - start
                        else:
                            self.fail("a reply to a partial request: %r" % data)
            self.assertEqual(len(closed), 300, "%d of 300 slow clients still open after 7 s"
                             % (300 - len(closed)))
            self.assertLess(max(closed.values()), 4.5, sorted(closed.values())[-5:])
            # A normal client was served at once throughout.
            self.assertLess(max(served), 1.0, served)
            for s in slow:
                s.close()
            # max_connections (320) is not exhausted: 300 new clients are served.
            fresh = [Socketmap(d.sm) for _ in range(300)]
            for c in fresh:
                self.assertEqual(c.lookup("bank.test"), "OK encrypt")
                c.close()
            self.assertIn("socketmap: closing a connection: request not complete within 2 s "
                          "(request_timeout)", d.logtext())
        finally:
            self.assertEqual(d.stop(), 0)

    def test_kept_connection_idles_under_idle_timeout_only(self):
        # Postfix keeps its connections between requests: the request deadline
        # must not cut them; idle_timeout does.
        d = self.daemon("request_timeout = 1;\n  idle_timeout = 4;")
        try:
            sm = Socketmap(d.sm)
            p = Policy(d.pol)
            self.assertEqual(sm.lookup("bank.test"), "OK encrypt")
            self.assertEqual(p.ask(client_address="198.51.100.1"), "DUNNO")
            time.sleep(2.5)
            self.assertEqual(sm.lookup("mx.bank.test"), "OK verify")
            self.assertEqual(p.ask(client_address="198.51.100.1"), "DUNNO")
            t = wait_closed(sm.sock, 10)
            self.assertIsNotNone(t, "idle_timeout did not close an idle connection")
            self.assertGreater(t, 3)
            sm.close()
            p.sock.close()
        finally:
            self.assertEqual(d.stop(), 0)

    def test_policy_slow_client_closed(self):
        d = self.daemon("request_timeout = 2;")
        try:
            s = socket.create_connection(d.pol, timeout=10)
            s.setblocking(False)
            start = time.time()
            text = b"request=smtpd_access_policy\nclient_address=10.1.2.3\n\n"
            gone = None
            for i in range(len(text)):
                try:
                    s.send(text[i:i + 1])
                except OSError:
                    gone = time.time() - start
                    break
                t = wait_closed(s, 0.5)
                if t is not None:
                    gone = time.time() - start
                    break
            self.assertIsNotNone(gone, "a policy client sending a byte per 0.5 s was never closed")
            self.assertLess(gone, 3.5)
            s.close()
        finally:
            self.assertEqual(d.stop(), 0)

    def test_client_that_never_reads(self):
        d = self.daemon("write_timeout = 2;")
        try:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(d.sm)
            s.setblocking(False)
            chunk = b"22:forcetls unlisted.test," * 4096
            sent, blocked_since = 0, None
            deadline = time.time() + 60
            while time.time() < deadline:
                try:
                    off = sent % len(chunk)
                    sent += s.send(chunk[off:])
                    blocked_since = None
                except BlockingIOError:
                    if blocked_since is None:
                        blocked_since = time.time()
                    elif time.time() - blocked_since > 0.5:
                        break   # the daemon stopped reading: its output is backed up
                    select.select([], [s], [], 0.1)
                except OSError:
                    break
            self.assertIsNotNone(blocked_since, "never blocked after %d bytes" % sent)
            # Others are served while it hangs there.
            self.assertLess(self.timed_lookup(d), 1.0)
            t0 = time.time()
            while time.time() - t0 < 6 and connections(d) > 0:
                time.sleep(0.2)
            self.assertEqual(connections(d), 0,
                             "the never-reading client is still connected 6 s after it "
                             "blocked (%d bytes sent)" % sent)
            self.assertIn("socketmap: closing a connection: client not reading its replies "
                          "for 2 s (write_timeout)", d.logtext())
            self.assertLess(self.timed_lookup(d), 1.0)
            s.close()
        finally:
            self.assertEqual(d.stop(), 0)

    def test_drain_time_limit(self):
        d = self.daemon("drain_timeout = 2;")
        try:
            s = socket.create_connection(d.sm, timeout=10)
            s.sendall(b"garbage!")
            self.assertIn(b"TEMP malformed request", s.recv(4096))
            start = time.time()
            gone = None
            while time.time() - start < 8:
                try:
                    s.send(b"x")   # after the daemon closed, a reset makes this fail
                except OSError:
                    gone = time.time() - start
                    break
                time.sleep(0.5)
            self.assertIsNotNone(gone, "a client sending a byte per 0.5 s after a framing "
                                       "error was drained for 8 s")
            self.assertLess(gone, 4.0)
            self.assertIn("socketmap: closing a connection: still sending after its last reply "
                          "for 2 s (drain_timeout)", d.logtext())
            s.close()
        finally:
            self.assertEqual(d.stop(), 0)

    def test_drain_byte_limit(self):
        d = self.daemon("drain_timeout = 60;\n  drain_max = 10000;")
        try:
            s = socket.create_connection(d.sm, timeout=10)
            s.sendall(b"garbage!")
            self.assertIn(b"TEMP malformed request", s.recv(4096))
            start = time.time()
            gone = None
            while time.time() - start < 10:
                try:
                    s.send(b"y" * 1000)
                except OSError:
                    gone = time.time() - start
                    break
                time.sleep(0.01)
            self.assertIsNotNone(gone, "never closed while sending 100 KB/s after an error")
            self.assertLess(gone, 5)
            self.assertIn("more than 10000 bytes after its last reply (drain_max)", d.logtext())
            s.close()
        finally:
            self.assertEqual(d.stop(), 0)

    def test_refused_connections_log_rate_limited(self):
        d = self.daemon("max_connections = 5;\n  connection_log_interval = 2;")
        try:
            while connections(d) > 0:   # the start-up probe's connection, closing
                time.sleep(0.05)
            held = [Socketmap(d.sm) for _ in range(5)]
            for h in held:
                self.assertEqual(h.lookup("bank.test"), "OK encrypt")
            for _ in range(1000):
                s = socket.create_connection(d.sm, timeout=10)
                self.assertIsNotNone(wait_closed(s, 10), "a connection beyond the limit stayed")
                s.close()
            time.sleep(3)   # the interval ends: the count of those not logged
            lines = [l for l in d.logtext().splitlines() if "connections already" in l]
            self.assertLessEqual(len(lines), 3, "\n".join(lines[:10]))
            total = 0
            for l in lines:
                self.assertIn("socketmap: 5 connections already (max_connections); "
                              "closing a new one", l)
                m = re.search(r": (\d+) more times? in the last 2 s", l)
                total += int(m.group(1)) if m else 1
            self.assertEqual(total, 1000, "\n".join(lines))
            for h in held:
                self.assertEqual(h.lookup("bank.test"), "OK encrypt", d.logtext()[-3000:])
                h.close()
        finally:
            self.assertEqual(d.stop(), 0)


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
        # A name server that never answers: dnsmasq forwards slow.test to it.
        cls.silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        cls.silent.bind(("127.0.0.1", 0))
        # Names with many addresses, the forced one (198.51.100.0/24) last.
        cls.tmp = tempfile.mkdtemp(prefix="ftls-dns-")
        cls.hosts = os.path.join(cls.tmp, "hosts")
        with open(cls.hosts, "w") as f:
            for i in range(1, 70):
                f.write("192.0.2.%d mx70.many.test\n" % i)
            f.write("198.51.100.70 mx70.many.test\n")
            for i in range(1, 1100):
                f.write("10.200.%d.%d mx1100.many.test\n" % (i // 256, i % 256))
            f.write("198.51.100.99 mx1100.many.test\n")
        cls.dns = subprocess.Popen(
            ["/usr/sbin/dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
             "--bind-interfaces", "--listen-address=127.0.0.1", "--port=%d" % cls.port,
             "--user=root", "--pid-file=", "--local=/test/",
             "--mx-host=cidr.test,mx1.cidr.test,10", "--host-record=mx1.cidr.test,198.51.100.25",
             "--mx-host=clear.test,mx.clear.test,10", "--host-record=mx.clear.test,203.0.113.5",
             "--mx-host=two.test,a.two.test,10", "--mx-host=two.test,b.two.test,20",
             "--host-record=a.two.test,203.0.113.6", "--host-record=b.two.test,198.51.100.26",
             "--host-record=implicit.test,198.51.100.27",
             "--addn-hosts=" + cls.hosts,
             "--mx-host=seventy.test,mx70.many.test,10",
             "--mx-host=toomany.test,mx1100.many.test,10",
             "--server=/slow.test/127.0.0.1#%d" % cls.silent.getsockname()[1],
             "--server=/fail.test/127.0.0.1#%d" % free_port()],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)

    @classmethod
    def tearDownClass(cls):
        cls.dns.terminate()
        cls.dns.wait()
        cls.silent.close()
        shutil.rmtree(cls.tmp)

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
            # A resolver cap is not a DNS failure: still TEMP.
            self.assertEqual(sm.lookup("toomany.test"), "TEMP resolver limit reached")
            sm.close()
        finally:
            self.assertEqual(d.stop(), 0)

    def test_many_addresses_forced_one_last(self):
        d = self.daemon()
        try:
            sm = Socketmap(d.sm)
            # 70 addresses, only the 70th in 198.51.100.0/24 (the cap was 64: NOTFOUND).
            self.assertEqual(sm.lookup("seventy.test"), "OK encrypt")
            self.assertEqual(sm.lookup("[mx70.many.test]"), "OK encrypt")
            # 1100 addresses, more than the cap (1024): TEMP, never NOTFOUND.
            self.assertEqual(sm.lookup("toomany.test"), "TEMP resolver limit reached")
            self.assertEqual(sm.lookup("[mx1100.many.test]"), "TEMP resolver limit reached")
            sm.close()
            self.assertIn("lookup toomany.test: TEMP: too many addresses for mx1100.many.test: "
                          "1100 > 1024", d.logtext())
        finally:
            self.assertEqual(d.stop(), 0)

    def test_request_deadline_while_waiting_for_dns(self):
        d = Daemon(BINARY, "bank.test\n198.51.100.0/24 encrypt\n",
                   'dns_servers = "127.0.0.1:%d";\n  dns_timeout = 5000;\n  dns_tries = 2;\n'
                   '  request_timeout = 1;' % self.port)
        try:
            sm = Socketmap(d.sm)
            other = Socketmap(d.sm)
            start = time.time()
            sm.sock.sendall(netstring("forcetls x.slow.test"))
            self.assertEqual(other.lookup("bank.test"), "OK encrypt")   # not held up
            from policyd_client import read_netstring
            self.assertEqual(read_netstring(sm.sock), "TEMP request timed out")
            self.assertLess(time.time() - start, 2.5)
            self.assertIsNotNone(wait_closed(sm.sock, 5), "not closed after the deadline")
            self.assertEqual(other.lookup("bank.test"), "OK encrypt")
            other.close()
            sm.close()
            self.assertIn("socketmap: closing a connection: request not answered within 1 s",
                          d.logtext())
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
            f.write('policyd = {\n  user = "%s";\n  watch_table = false;\n  state_file = "";\n'
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
