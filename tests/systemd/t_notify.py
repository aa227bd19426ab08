#!/usr/bin/env python3
"""sd_notify(3) from both daemons, as a Type=notify unit sees it.

usage: t_notify.py POLICYD MILTER [unittest args]

The test owns the notification socket (NOTIFY_SOCKET, a datagram socket
as systemd's) and checks, for forcetls-policyd and forcetls-milter:
READY=1 arrives once, after the daemon's "ready" line, and the daemon
answers right then (a socketmap lookup from the table; a milter option
negotiation); SIGUSR1 gives RELOADING=1 (with MONOTONIC_USEC=) then READY=1,
and so does a refused reload (the old table stays); SIGTERM gives
STOPPING=1 and exit 0. Run as root, the daemons switch to nobody; run
also straight as nobody (the forcetls of a unit with User=), where no
switch is needed, with a unix socket in a directory made as tmpfiles.d
makes /var/spool/postfix/forcetls (2750, group postfix): the socket gets
group postfix and mode 0660 with no chown(2); and policyd as nobody with
its socketmap socket handed over as systemd's socket activation does.

FTLS_SANDBOX=1 runs each daemon under sandbox.py (the units' system call
filter, NoNewPrivileges=, MemoryDenyWriteExecute=): test systemd.sandbox,
the AsNobody cases only, since the filter forbids setuid(2).
"""
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "policyd"))
from policyd_client import Socketmap, free_port  # noqa: E402

POLICYD = MILTER = None


class Notify:
    """The service manager's end: every datagram, in order."""

    def __init__(self, d):
        self.path = os.path.join(d, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o666)  # a daemon started as nobody must reach it
        self.msgs, self.cond = [], threading.Condition()
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                data = self.sock.recv(4096)
            except OSError:
                return
            with self.cond:
                self.msgs.append(data.decode())
                self.cond.notify_all()

    def wait(self, n, timeout=30):
        """The first n messages (fails when fewer came)."""
        with self.cond:
            self.cond.wait_for(lambda: len(self.msgs) >= n, timeout)
            return list(self.msgs)

    def close(self):
        self.sock.close()


def as_nobody():
    import pwd
    pw = pwd.getpwnam("nobody")
    os.setgroups([])
    os.setgid(pw.pw_gid)
    os.setuid(pw.pw_uid)


def milter_optneg(path):
    """One option negotiation on the milter socket: libmilter answers 'O'."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    body = b"O" + struct.pack(">III", 6, 0x1FF, 0x1FFFFF)
    s.sendall(struct.pack(">I", len(body)) + body)
    hdr = s.recv(5)
    s.close()
    return hdr[4:5]


class Base:
    start_as_nobody = False

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ftls-notify-")
        os.chmod(self.dir, 0o777)
        self.notify = Notify(self.dir)
        self.table = os.path.join(self.dir, "forced-tls.table")
        self.write_table("bank.test encrypt\n")
        self.log = open(os.path.join(self.dir, "daemon.log"), "w+")
        self.proc = None

    def tearDown(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.notify.close()
        self.log.close()
        if getattr(self, "listening", None) is not None:
            self.listening.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def write_table(self, text):
        tmp = self.table + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.rename(tmp, self.table)

    def logtext(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def start(self, argv, user_line, activated=None):
        """activated: a listening socket handed over as systemd does (fd 3, "socketmap")."""
        conf = os.path.join(self.dir, "forcetls.conf")
        state = os.path.join(self.dir, "state")
        os.makedirs(state, exist_ok=True)
        os.chmod(state, 0o777)
        with open(conf, "w") as f:
            # No watch: each reload here is one SIGUSR1's, framed by one pair.
            f.write('%s = {\n  user = "%s";\n  state_file = "%s/%s.state";\n};\n'
                    'tables = {\n  watch_table = false;\n};\n'
                    % (self.section, user_line, state, self.section))
        os.chmod(conf, 0o644)
        env = dict(os.environ, NOTIFY_SOCKET=self.notify.path)
        env.pop("LD_PRELOAD", None)
        if os.environ.get("FTLS_SANDBOX"):
            # Debian's python3: nobody may not reach the one running the test (pyenv in /root).
            py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
            argv = [py, os.path.join(os.path.dirname(os.path.abspath(__file__)), "sandbox.py")] + argv
            # LeakSanitizer stops threads with ptrace(2), which the filter forbids (not in
            # @system-service); systemd.notify checks for leaks without the filter.
            env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
        argv = argv + ["--foreground", "--config", conf, "--table", self.table]
        pre = as_nobody if self.start_as_nobody else None
        if activated is not None:
            env.update(LISTEN_FDS="1", LISTEN_FDNAMES="socketmap")
            argv = ["/bin/sh", "-c", 'LISTEN_PID=$$; export LISTEN_PID; exec "$@"', "sh"] + argv

            def pre():
                os.dup2(activated.fileno(), 3)
                if self.start_as_nobody:
                    as_nobody()
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     preexec_fn=pre, pass_fds=(3,) if activated else ())

    def user(self):
        if self.start_as_nobody:
            return "forcetls"  # already unprivileged: nothing to switch to, no failing setuid
        return "nobody" if os.getuid() == 0 else ""

    def test_lifecycle(self):
        self.launch()
        msgs = self.notify.wait(1)
        self.assertTrue(msgs, "no READY=1 within 30 s:\n" + self.logtext())
        self.assertIn("READY=1", msgs[0].split("\n"))
        self.assertIn(self.ready_line, self.logtext(), "READY=1 before the ready line")
        self.assertTrue(self.answers("bank.test"), "READY=1, but no answer")
        time.sleep(0.5)
        self.assertEqual(len(self.notify.msgs), 1, self.notify.msgs)

        # A reload: RELOADING=1 (with MONOTONIC_USEC=), then READY=1.
        self.write_table("bank.test encrypt\nnew.test encrypt\n")
        self.proc.send_signal(signal.SIGUSR1)
        msgs = self.notify.wait(3)
        self.assertEqual(len(msgs), 3, msgs)
        lines = msgs[1].split("\n")
        self.assertIn("RELOADING=1", lines)
        usec = [x for x in lines if x.startswith("MONOTONIC_USEC=")]
        self.assertEqual(len(usec), 1, lines)
        now = time.clock_gettime(time.CLOCK_MONOTONIC) * 1e6
        self.assertLess(abs(int(usec[0].split("=")[1]) - now), 30e6, usec)
        self.assertEqual(msgs[2].split("\n"), ["READY=1"])
        self.assertIn("reload (SIGUSR1): ok", self.logtext())
        self.assertTrue(self.answers("new.test"), "the new table is not in use")

        # A refused reload: RELOADING=1, READY=1 all the same, the old table stays.
        self.write_table("bank.test encrypt\nnew.test encrypt\nbroken.test no-such-level\n")
        self.proc.send_signal(signal.SIGUSR1)
        msgs = self.notify.wait(5)
        self.assertEqual(len(msgs), 5, msgs)
        self.assertIn("RELOADING=1", msgs[3].split("\n"))
        self.assertEqual(msgs[4].split("\n"), ["READY=1"])
        self.assertIn("reload (SIGUSR1): refused", self.logtext())
        self.assertTrue(self.answers("new.test"), "the old table is gone")

        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(30), 0, self.logtext())
        msgs = self.notify.wait(6)
        self.assertEqual(msgs[5:], ["STOPPING=1"], msgs)


class Policyd(Base):
    section = "policyd"
    ready_line = "ready: "

    def launch(self):
        self.sm = ("127.0.0.1", free_port())
        self.start([POLICYD, "--socketmap-listen", "inet:%s:%d" % self.sm,
                    "--policy-listen", ""], self.user())

    def answers(self, domain):
        c = Socketmap(self.sm)
        try:
            return c.lookup(domain) == "OK encrypt"
        finally:
            c.close()


class Milter(Base):
    section = "milter"
    ready_line = "ready on "

    def launch(self):
        self.sock = os.path.join(self.dir, "milter.sock")
        self.start([MILTER, "--listen", "unix:" + self.sock], self.user())

    def answers(self, domain):
        """libmilter negotiates, and the SIGUSR2 dump shows the table holding domain."""
        if milter_optneg(self.sock) != b"O":
            return False
        entries = {"bank.test": 1, "new.test": 2}[domain]
        before = self.logtext().count("running: table")
        self.proc.send_signal(signal.SIGUSR2)
        deadline = time.time() + 10
        while time.time() < deadline:
            text = self.logtext()
            if text.count("running: table") > before:
                last = text[text.rfind("running: table"):].split("\n")[0]
                return ", %d entries;" % entries in last
            time.sleep(0.05)
        return False


def spool_dir(parent):
    """Postfix's chroot socket directory as tmpfiles.d makes it: nobody:postfix 2750."""
    import grp
    import pwd
    d = os.path.join(parent, "spool")
    os.mkdir(d)
    gid = grp.getgrnam("postfix").gr_gid if "postfix" in [g.gr_name for g in grp.getgrall()] \
        else grp.getgrnam("nogroup").gr_gid
    os.chown(d, pwd.getpwnam("nobody").pw_uid, gid)
    os.chmod(d, 0o2750)
    return d, gid


class PolicydAsNobody(Policyd):
    """Started as the unit's User=, with a unix socket in the chroot spool directory."""
    start_as_nobody = True

    def launch(self):
        self.spool, self.gid = spool_dir(self.dir)
        self.sm = ("127.0.0.1", free_port())
        self.start([POLICYD, "--socketmap-listen", "inet:%s:%d" % self.sm,
                    "--policy-listen", "unix:%s/policy.sock" % self.spool], self.user())

    def answers(self, domain):
        st = os.stat(os.path.join(self.spool, "policy.sock"))
        self.assertEqual((st.st_gid, st.st_mode & 0o777), (self.gid, 0o660))
        return Policyd.answers(self, domain)


class PolicydActivatedAsNobody(Policyd):
    """Started as the unit's User=, its socketmap socket from "systemd" (fd 3)."""
    start_as_nobody = True

    def launch(self):
        self.listening = socket.socket()
        self.listening.bind(("127.0.0.1", 0))
        self.listening.listen(16)
        self.sm = self.listening.getsockname()
        self.start([POLICYD, "--socketmap-listen", "inet:127.0.0.1:1", "--policy-listen", ""],
                   self.user(), activated=self.listening)

    def answers(self, domain):
        self.assertIn("socketmap: using the socket passed by systemd", self.logtext())
        return Policyd.answers(self, domain)


class MilterAsNobody(Milter):
    """Started as the unit's User=, its socket in the chroot spool directory."""
    start_as_nobody = True

    def launch(self):
        self.spool, self.gid = spool_dir(self.dir)
        self.sock = os.path.join(self.spool, "milter.sock")
        self.start([MILTER, "--listen", "unix:" + self.sock], self.user())

    def answers(self, domain):
        st = os.stat(self.sock)
        self.assertEqual((st.st_gid, st.st_mode & 0o777), (self.gid, 0o660))
        return Milter.answers(self, domain)


class TestPolicyd(Policyd, unittest.TestCase):
    pass


class TestMilter(Milter, unittest.TestCase):
    pass


@unittest.skipUnless(os.getuid() == 0, "needs root to start as nobody")
class TestPolicydAsNobody(PolicydAsNobody, unittest.TestCase):
    pass


@unittest.skipUnless(os.getuid() == 0, "needs root to start as nobody")
class TestPolicydActivatedAsNobody(PolicydActivatedAsNobody, unittest.TestCase):
    pass


@unittest.skipUnless(os.getuid() == 0, "needs root to start as nobody")
class TestMilterAsNobody(MilterAsNobody, unittest.TestCase):
    pass


if __name__ == "__main__":
    POLICYD, MILTER = sys.argv[1], sys.argv[2]
    del sys.argv[1:3]
    unittest.main(verbosity=2)
