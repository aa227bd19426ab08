#!/usr/bin/env python3
"""Protocol abuse against the live forcetls-policyd, as an outsider sends it (issue 11).

usage: t_abuse.py POLICYD_BINARY [unittest args]

Each case attacks one socket (socketmap or policy delegation) of one running
daemon and must get a sane reply or a clean close; during every attack a
well-behaved client asks both sockets and must get the right answers, and the
daemon's VmRSS after the attack may be at most RSS_SLACK_KB above what it was
before. Each case prints one line:

    ABUSE case=NAME reply=WHAT others_ok=yes rss_kb_before=N after=M

The limits attacked are socketmap.h (SOCKETMAP_MAX_REQUEST 4096, a netstring
of at most 4080 data bytes), delegation.h (DELEGATION_MAX_REQUEST 16384) and
server.h's timeouts, set low here (idle, request and write 3 s, drain 1 s).
Every log line must stay one line of printable ASCII (log_safe escapes), and a
forced client's decision must not change whatever bytes ride in its values.
"""
import os
import re
import socket
import sys
import threading
import time
import unittest

from policyd_client import Daemon, Policy, Socketmap, netstring, read_netstring

BINARY = None

# long.test: a long answer (about 1 KB) to a short question, so that a client that
# never reads backs the daemon's replies up fast.
TABLE = """\
bank.test
198.51.100.0/24 encrypt direction=in
long.test secure match=%s
""" % ":".join("mx%02d.a-rather-long-name-for-a-host.long.test" % i for i in range(20))

CONF = """\
  log_lookups = true;
  idle_timeout = 3;
  request_timeout = 3;
  write_timeout = 3;
  drain_timeout = 1;
  connection_log_interval = 1;
  sendmail_map_name = "forcetls-sendmail";
"""

TIMEOUT = 3          # request/idle/write timeout in CONF
MAX_DATA = 4096 - 16  # netstring_parse's max for a socketmap request
POLICY_MAX = 16384
RSS_SLACK_KB = 32 * 1024  # generous: the point is "bounded", not "small"

FORCED = dict(protocol_state="RCPT", client_address="198.51.100.7",
              client_name="mx.outside.test", sender="a@other.test",
              encryption_protocol="", encryption_keysize="0")
INBOUND_REPLY = "450 4.7.0 TLS is required for this session"
REFUSALS = (INBOUND_REPLY, "451 4.3.0 Cannot check the TLS policy for this session",
            "451 4.3.5 Server configuration problem")
# One log line: what log.c writes to stderr (timestamp, ident, printable ASCII).
LOG_LINE = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d [\x20-\x7e]+$")


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


def read_all(sock, timeout):
    """Everything the daemon sends until it closes; None when it did not close in time."""
    sock.settimeout(timeout)
    data = b""
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
    except ConnectionResetError:
        return data
    except socket.timeout:
        pass
    return None


class Prober(threading.Thread):
    """The well-behaved client: asks both sockets in a loop while an attack runs."""

    def __init__(self, d):
        super().__init__(daemon=True)
        self.d, self.stop, self.ok, self.bad = d, threading.Event(), 0, []

    def run(self):
        while not self.stop.is_set():
            try:
                sm = Socketmap(self.d.sm)
                sm.sock.settimeout(TIMEOUT + 5)
                got = sm.lookup("bank.test")
                sm.close()
                if got != "OK encrypt":
                    self.bad.append("socketmap bank.test: %r" % got)
                pol = Policy(self.d.pol)
                pol.sock.settimeout(TIMEOUT + 5)
                got = pol.ask(**FORCED)
                pol.sock.close()
                if got != INBOUND_REPLY:
                    self.bad.append("policy forced client: %r" % got)
                self.ok += 1
            except (OSError, EOFError, AssertionError) as e:
                self.bad.append("%s: %s" % (type(e).__name__, e))
            self.stop.wait(0.2)

    def finish(self):
        self.stop.set()
        self.join(30)
        return self.ok > 0 and not self.bad


class AbuseTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(BINARY, TABLE, conf_extra=CONF)

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        log = cls.d.logtext()
        assert rc == 0, "daemon exit status %s:\n%s" % (rc, log[-4000:])
        assert "Sanitizer" not in log and "runtime error:" not in log, log[-4000:]

    def attack(self, name, fn):
        """Run fn() (returns a short description of the reply) with a Prober beside it."""
        before = rss_kb(self.d.proc.pid)
        self.log_at = os.path.getsize(self.d.log.name)
        p = Prober(self.d)
        p.start()
        try:
            reply = fn()
        finally:
            ok = p.finish()
        self.assertTrue(self.d.alive(), "daemon died in %s:\n%s" % (name, self.d.logtext()[-4000:]))
        after = rss_kb(self.d.proc.pid)
        print("\nABUSE case=%s reply=%s others_ok=%s rss_kb_before=%d after=%d"
              % (name, reply.replace(" ", "_"), "yes" if ok else "no", before, after),
              flush=True)
        self.assertTrue(ok, "%s: the well-behaved client: %d good rounds, failures %s"
                        % (name, p.ok, p.bad[:5]))
        self.assertLess(after - before, RSS_SLACK_KB, "%s: VmRSS grew" % name)
        self.check_log()

    def case_log(self):
        """The daemon's log since this case began (bytes)."""
        self.d.log.flush()
        with open(self.d.log.name, "rb") as f:
            f.seek(self.log_at)
            return f.read()

    def wait_case_log(self, text, timeout=10):
        deadline = time.time() + timeout
        while text not in self.case_log():
            self.assertLess(time.time(), deadline, "the log never showed %r" % text)
            time.sleep(0.05)

    def check_log(self):
        lines = self.case_log().split(b"\n")
        bad = [line for line in lines[:-1] if not LOG_LINE.match(line)]
        self.assertEqual(bad[:3], [], "%d log lines are not one line of printable ASCII" % len(bad))

    # --- socketmap framing --------------------------------------------------------------

    def sm_raw(self, data, expect, closes):
        """Send data; the daemon's answer must be the netstring expect and, if closes, EOF."""
        s = socket.create_connection(self.d.sm, timeout=10)
        s.sendall(data)
        got = read_netstring(s)
        self.assertEqual(got, expect, data[:40])
        if closes:
            rest = read_all(s, TIMEOUT + 5)
            self.assertEqual(rest, b"", "no clean close after %r" % data[:40])
        else:  # the connection goes on serving
            s.sendall(netstring("forcetls bank.test"))
            self.assertEqual(read_netstring(s), "OK encrypt")
        s.close()
        return got

    def test_socketmap_lengths(self):
        def run():
            key = "a" * (MAX_DATA - len("forcetls "))
            # At the limit: framed and answered (the key is longer than any name).
            s = Socketmap(self.d.sm)
            got = s.lookup(key)
            self.assertTrue(got.startswith("TEMP ") or got == "NOTFOUND ", got)
            self.assertEqual(s.lookup("bank.test"), "OK encrypt")
            s.close()
            # Near it: a real-looking key one label short of the limit.
            s = Socketmap(self.d.sm)
            near = ("x" * 60 + ".") * ((MAX_DATA - 40) // 61) + "bank.test"
            got = s.lookup(near)
            self.assertTrue(got.startswith("TEMP ") or got == "NOTFOUND ", got)
            s.close()
            # One above, and far above: "TEMP request too long" and a close.
            for n in (MAX_DATA + 1, 4096, 10 ** 6):
                self.sm_raw(b"%d:" % n + b"x" * min(n, 8192), "TEMP request too long", True)
            return "at_limit=%s;above=TEMP_request_too_long+close" % got.split(" ")[0]
        self.attack("sm_lengths", run)

    def test_socketmap_overflowing_lengths(self):
        def run():
            for head in [b"99999999999999999999:", b"18446744073709551616:",
                         b"18446744073709551621:forcetls bank.test,",  # 2^64+5: wraps to 5
                         b"340282366920938463463374607431768211456:"]:
                self.sm_raw(head, "TEMP request too long", True)
            for head in [b"0018:forcetls bank.test,", b"-18:forcetls bank.test,",
                         b"+18:forcetls bank.test,", b" 18:forcetls bank.test,",
                         b"18 :forcetls bank.test,", b":forcetls bank.test,",
                         b"18:forcetls bank.test;", b"0x12:forcetls bank.test,"]:
                self.sm_raw(head, "TEMP malformed request", True)
            # "0:," is a well-framed empty request: not NAME KEY, the connection lives on.
            self.sm_raw(b"0:,", "TEMP malformed request", False)
            return "TEMP_request_too_long|TEMP_malformed_request+close"
        self.attack("sm_overflow_lengths", run)

    # --- slow, idle and never-reading clients -----------------------------------------

    def slow_client(self, addr, data, out):
        """One byte a second; out gets (bytes answered, seconds until the close)."""
        s = socket.create_connection(addr, timeout=10)
        t0 = time.time()
        got = b""
        try:
            for i in range(len(data)):
                s.sendall(data[i:i + 1])
                s.settimeout(1)
                try:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    got += chunk
                except socket.timeout:
                    pass
        except (BrokenPipeError, ConnectionResetError):
            pass
        out.append((got, time.time() - t0))
        s.close()

    def test_slow_clients(self):
        def run():
            sm_req = netstring("forcetls " + "slow." * 6 + "bank.test")
            pol_req = b"request=smtpd_access_policy\nclient_address=198.51.100.7\n\n"
            results, threads = [], []
            for addr, data in [(self.d.sm, sm_req)] * 4 + [(self.d.pol, pol_req)] * 3:
                t = threading.Thread(target=self.slow_client, args=(addr, data, results))
                t.start()
                threads.append(t)
            for t in threads:
                t.join(60)
            self.assertEqual(len(results), 7)
            for got, secs in results:
                # A partial request gets nothing (a reply would answer a question not
                # asked) and is closed at request_timeout, long before its last byte.
                self.assertEqual(got, b"")
                self.assertLess(secs, TIMEOUT + 6)
            # Idle connections (nothing sent) are closed at idle_timeout.
            idle = [socket.create_connection(a, timeout=10) for a in (self.d.sm, self.d.pol)]
            for s in idle:
                self.assertEqual(read_all(s, TIMEOUT + 6), b"", "idle connection not closed")
                s.close()
            self.wait_case_log(b"not complete within %d s" % TIMEOUT)
            return "nothing+close_after_%.0fs" % max(r[1] for r in results)
        self.attack("slow_1byte_per_s_x7", run)

    def never_reader(self, addr, request, out):
        """Send requests for a while, never read; out gets (bytes sent, closed by the daemon).

        A small receive buffer, so that the daemon's replies back up at once and
        what is measured is the daemon, not the kernel's buffers."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(10)
        s.connect(addr)
        s.setblocking(False)
        blob, sent, closed, t0 = request * 2000, 0, False, time.time()
        rest = blob
        deadline = time.time() + 60  # an upper bound: usually write_timeout and a few s
        while time.time() < deadline and not closed:
            try:
                n = s.send(rest)
                sent, rest = sent + n, rest[n:] or blob  # the stream stays well-formed
            except BlockingIOError:
                time.sleep(0.05)
            except (BrokenPipeError, ConnectionResetError):
                closed = True
        t_closed = time.time()
        out.append((sent, closed, t_closed - t0))
        s.close()

    def test_clients_that_never_read(self):
        def run():
            results, threads = [], []
            pol_req = ("".join("%s=%s\n" % kv for kv in FORCED.items())
                       + "request=smtpd_access_policy\n\n").encode()
            for addr, req in [(self.d.sm, netstring("forcetls long.test"))] * 5 + \
                             [(self.d.pol, pol_req)] * 5:
                t = threading.Thread(target=self.never_reader, args=(addr, req, results))
                t.start()
                threads.append(t)
            for t in threads:
                t.join(60)
            self.assertEqual(len(results), 10)
            for sent, closed, secs in results:
                self.assertTrue(closed, "a client that never reads was not closed")
            self.wait_case_log(b"not reading its replies")
            # The requests were good ones (a count line of the case before may come now).
            bad = [line for line in self.case_log().split(b"\n")
                   if b"malformed" in line and b"more times in the last" not in line]
            self.assertEqual(bad[:2], [], "the daemon read a request as malformed")
            return "closed_after_%.0f-%.0fs,sent_max_kb=%d" % (
                min(r[2] for r in results), max(r[2] for r in results),
                max(r[0] for r in results) // 1024)
        self.attack("never_read_x10", run)

    # --- a flood of bad requests on kept connections --------------------------------------

    def test_malformed_requests_do_not_flood_the_log(self):
        """Requests that are answered and keep the connection open, each a log line of
        its own before: "0:," (3 bytes, about 80 bytes of log), an unknown map name, a
        malformed key, a policy line that is not name=value. The lines a client can
        cause at will are rate-limited (ratelog.h, connection_log_interval 1 s here);
        the counters still count every one."""
        kinds = [(self.d.sm, b"0:,", b"TEMP malformed request,"),
                 (self.d.sm, netstring("nosuch bank.test"), b"21:TEMP unknown map name,"),
                 (self.d.sm, netstring("forcetls bad..name"), b"TEMP malformed key"),
                 (self.d.pol, b"x\n\n", b"action=451 4.3.5 Server configuration problem\n\n")]
        n = 20000

        def pipeline(i, addr, req, reply, out):
            s = socket.create_connection(addr, timeout=20)
            t = threading.Thread(target=s.sendall, args=(req * n,))
            t.start()
            got = b""
            try:
                while got.count(reply) < n:
                    chunk = s.recv(1 << 16)
                    if not chunk:
                        break
                    got += chunk
            except socket.timeout:
                pass
            t.join(20)
            out[i] = got.count(reply)
            s.close()

        def run():
            pat = re.compile(rb"malformed|not NAME KEY|unknown map name")
            t0 = time.time()
            out, ts = [0] * len(kinds), []
            for i, (addr, req, reply) in enumerate(kinds):
                t = threading.Thread(target=pipeline, args=(i, addr, req, reply, out))
                t.start()
                ts.append(t)
            for t in ts:
                t.join(60)
            self.assertEqual(out, [n] * len(kinds), "not every bad request was answered")
            time.sleep(1.5)  # the interval's count line
            secs = time.time() - t0
            log = self.case_log()
            lines = len(pat.findall(log))
            # At most two lines per interval (the first, then the count), per kind.
            self.assertLessEqual(lines, 2 * len(kinds) * (secs + 2),
                                 "%d log lines for %d bad requests in %.0f s"
                                 % (lines, n * len(kinds), secs))
            self.assertIn(b"more times in the last", log, "no count of the lines not logged")
            return "answered_%d,log_lines=%d" % (n * len(kinds), lines)
        self.attack("bad_request_flood_%dx4" % n, run)

    # --- policy delegation: size, attributes, bytes --------------------------------------

    def pol_raw(self, data, closes):
        s = socket.create_connection(self.d.pol, timeout=10)
        s.sendall(data)
        p = Policy.__new__(Policy)
        p.sock, p.buf = s, b""
        got = p.read_reply()
        if closes:
            self.assertEqual(read_all(s, TIMEOUT + 5), b"", "no clean close")
        s.close()
        return got

    def test_policy_many_attributes(self):
        def run():
            head = "".join("%s=%s\n" % kv for kv in FORCED.items()) + \
                "request=smtpd_access_policy\n"
            many = "".join("x%d=%d\n" % (i, i) for i in range(10000))
            self.assertGreater(len(head + many), POLICY_MAX)
            got = self.pol_raw((head + many + "\n").encode(), True)
            self.assertEqual(got, "451 4.3.5 Server configuration problem")
            # As many as fit under the limit: the request is read, the decision right.
            fit = "".join("a%d=\n" % i for i in range(2000))
            self.assertLess(len(head + fit), POLICY_MAX)
            got2 = self.pol_raw((fit + head + "\n").encode(), False)
            self.assertEqual(got2, INBOUND_REPLY)
            # One line longer than the limit, no newline at all.
            got3 = self.pol_raw(b"client_name=" + b"a" * (POLICY_MAX + 10), True)
            self.assertEqual(got3, "451 4.3.5 Server configuration problem")
            return "10000_attrs=451+close;2000_attrs=450"
        self.attack("policy_10000_attributes", run)

    def test_bytes_in_values(self):
        nasty = [b"evil\x00name", b"\xff\xfe\xc0\xaf.test", b"inj\rected", b"a\x1b[31mred",
                 b"caf\xc3\xa9.test", b"x\\x0ay"]

        def run():
            replies = set()
            for v in nasty:
                for attr in (b"client_name", b"sender", b"queue_id", b"ccert_subject"):
                    req = (b"request=smtpd_access_policy\nprotocol_state=RCPT\n"
                           b"client_address=198.51.100.7\nencryption_protocol=\n"
                           + attr + b"=" + v + b"\n\n")
                    got = self.pol_raw(req, False)
                    # The forced client is refused for now: 450 by the table, 451 4.3.0
                    # when a value cannot be a Postfix one (the table cannot be checked:
                    # fail closed), 451 4.3.5 for a NUL (malformed); never DUNNO.
                    self.assertIn(got, REFUSALS, (attr, v))
                    if attr in (b"sender", b"queue_id") and b"\x00" not in v:
                        self.assertEqual(got, INBOUND_REPLY, (attr, v))
                    replies.add("%s:%s" % (attr.decode(), got.split(" ")[1]))
            # A LF inside a value ends the line: what follows is a line of its own,
            # and the request stays the forced client's.
            got = self.pol_raw(b"request=smtpd_access_policy\nclient_address=198.51.100.7\n"
                               b"sender=a@b.test\nINJECTED reject: client=ok\n\n", False)
            self.assertEqual(got, INBOUND_REPLY)  # an attribute of its own, ignored
            got = self.pol_raw(b"request=smtpd_access_policy\nclient_address=198.51.100.7\n"
                               b"sender=a@b.test\nINJECTED\n\n", False)
            self.assertEqual(got, "451 4.3.5 Server configuration problem")  # not name=value
            got = self.pol_raw(b"request=smtpd_access_policy\r\nclient_address=198.51.100.7\r\n"
                               b"client_name=x\r\r\n\r\n", False)
            self.assertIn(got, REFUSALS)  # the value is "x\r": still refused
            # The same bytes in socketmap keys of every map served: a sane answer.
            s = Socketmap(self.d.sm)
            for name, prefix in [(b"forcetls", b""), (b"forcetls-require", b""),
                                 (b"forcetls-transport", b""),
                                 (b"forcetls-sendmail", b"TLS_Rcpt:")]:
                for v in nasty + [b"bank.test\r\n", b"bank.test\x00.evil", b"\r\nbank.test"]:
                    s.sock.sendall(netstring(name + b" " + prefix + v))
                    got = read_netstring(s.sock)
                    self.assertIn(got.split(" ")[0], ("TEMP", "NOTFOUND", "OK"), (name, v))
                    # never a downgrade to "not found" for the forced name
                    if v.startswith(b"bank.test") and name in (b"forcetls", b"forcetls-require"):
                        self.assertTrue(got == "OK encrypt" or got.startswith("TEMP "),
                                        (name, v, got))
            self.assertEqual(s.lookup("BANK.test"), "OK encrypt")
            s.close()
            # Every one of those values went to the log (log_lookups, reject lines)
            # escaped: the log is still one line per event (check_log after the case).
            self.wait_case_log(b"reject: client=")
            text = self.case_log()
            self.assertIn(b"\\xff\\xfe\\xc0\\xaf.test", text)
            self.assertIn(b"inj\\x0dected", text)
            self.assertIn(b"x\\x5cx0ay", text)  # a backslash is escaped too: no forgery
            return ",".join(sorted(replies)) + ";log_escaped"
        self.attack("bytes_in_values", run)


if __name__ == "__main__":
    BINARY = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
