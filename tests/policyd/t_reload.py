#!/usr/bin/env python3
"""Reloads that must not remove the protection, against the real forcetls-policyd.

usage: t_reload.py POLICYD_BINARY [unittest args]

Issue 7: a table truncated while it is loaded (no crash, reload refused, old
answers kept), an empty table deployed by the watch (": > table" and
"mv empty table", both refused), a 60% shrink (refused; allowed with
tables.reload_allow_shrink), a valid table renamed into place (picked up by
the watch within a second), a table renamed into place while the daemon
starts (reloaded once the watch is in place), and a reload signal sent
during start.

What files become under careless admins (attack2): a FIFO at the table's or
the configuration's path (refused, and neither later reloads nor SIGTERM
wait for a writer), the table's directory replaced or removed and re-created
(watched again), and a table that is a symlink into another directory or
through a switched directory link, as a Kubernetes ConfigMap is (followed).
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

from policyd_client import Daemon, Socketmap, free_port

BINARY = None

FORCED = ["f%d.forced.test" % i for i in range(10)]
SMALL = "".join("%s encrypt\n" % d for d in FORCED)


def user():
    return "nobody" if os.getuid() == 0 else ""


def write_conf(d, policyd_lines="", tables_lines=""):
    """Rewrite the daemon's configuration (takes effect on the next reload)."""
    tmp = d.conf + ".new"
    with open(tmp, "w") as f:
        f.write('policyd = {\n  user = "%s";\n%s\n};\n' % (user(), policyd_lines))
        if tables_lines:
            f.write("tables = {\n%s\n};\n" % tables_lines)
    os.chmod(tmp, 0o644)
    os.rename(tmp, d.conf)


def count(d, text):
    return d.logtext().count(text)


def wait_count(d, text, n, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if count(d, text) >= n:
            return
        if not d.alive():
            raise AssertionError("daemon died (%s):\n%s" % (d.proc.returncode, d.logtext()))
        time.sleep(0.02)
    raise AssertionError("log never showed %r %d times:\n%s" % (text, n, d.logtext()[-3000:]))


def assert_forced(test, d):
    sm = Socketmap(d.sm)
    try:
        for dom in FORCED:
            test.assertEqual(sm.lookup(dom), "OK encrypt", dom)
    finally:
        sm.close()


class ReloadTest(unittest.TestCase):
    def stop(self, d):
        rc = d.stop()
        self.assertEqual(rc, 0, "daemon exit status %s:\n%s" % (rc, d.logtext()))

    def test_truncated_during_load(self):
        # A big table (1,000,000 entries and the forced ones), loaded at
        # start; then, four times, a fresh copy renamed into place, SIGHUP,
        # and the file cut to 30% while the daemon reads it. Whether the cut
        # lands before the read (a 70% shrink) or during it ("changed while
        # being read"), the reload is refused and nothing crashes; a cut that
        # comes only after the read (possible with the 1-2 ms delays) leaves
        # a complete, consistent copy, which may go in whole. Today's main
        # parses through mmap and dies of SIGBUS, or installs the cut table.
        big = SMALL + "".join("d%d.big.test\n" % i for i in range(1000000))
        d = Daemon(BINARY, big)
        try:
            wait_count(d, "ready:", 1)
            for i, delay in enumerate([0, 0, 0.001, 0.002]):
                d.write_table(big)
                size = os.path.getsize(d.table)
                d.signal(signal.SIGHUP)  # a reload in both versions
                if delay:
                    time.sleep(delay)
                os.truncate(d.table, size * 3 // 10)
                wait_count(d, "reload (SIGHUP): ", i + 1)
                self.assertTrue(d.alive(), d.logtext())
                refused = count(d, "reload (SIGHUP): refused")
                whole = count(d, "reload (SIGHUP): ok %s, 1000010 entries" % d.table)
                self.assertEqual(refused + whole, i + 1, d.logtext()[-2000:])
                if delay == 0:
                    self.assertEqual(whole, 0, d.logtext()[-2000:])
                assert_forced(self, d)
            sm = Socketmap(d.sm)
            self.assertEqual(sm.lookup("d999999.big.test"), "OK encrypt")
            sm.close()
        finally:
            self.stop(d)

    def test_renamed_during_start(self):
        # A table renamed into place while the daemon reads the old one at
        # start, after the read and before the watch is in place: no event
        # reaches the watch, and the build before answered from the old table
        # until the next change. Now the daemon reloads once the watch is
        # in place. (The listeners open before the build, so the test knows
        # the daemon has started reading; 1,000,000 lines take ~0.5 s.)
        big = "".join("d%d.big.test\n" % i for i in range(1000000))
        d = Daemon(BINARY, big, "watch_table = true;", wait_ready=False)
        try:
            time.sleep(0.05)
            d.write_table(big + SMALL)
            wait_count(d, "ready:", 1)
            wait_count(d, "entries (was 1000000)", 1)
            assert_forced(self, d)
        finally:
            self.stop(d)

    def test_empty_table_by_watch(self):
        d = Daemon(BINARY, SMALL, "watch_table = true;")
        try:
            wait_count(d, "ready:", 1)  # the watch is in place
            # ": > table": truncated in place.
            with open(d.table, "w"):
                pass
            wait_count(d, "reload (watch): refused: the new table has 0 entries", 1)
            assert_forced(self, d)
            # "mv empty table": an empty file renamed into place.
            empty = os.path.join(d.dir, "empty")
            open(empty, "w").close()
            os.chmod(empty, 0o644)
            os.rename(empty, d.table)
            wait_count(d, "reload (watch): refused: the new table has 0 entries", 2)
            self.assertIn("keeping %s, 10 entries" % d.table, d.logtext())
            assert_forced(self, d)
            # The admin allows it: the empty table goes in.
            write_conf(d, "", "  reload_allow_empty = true;")
            d.signal(signal.SIGUSR1)
            wait_count(d, "reload (SIGUSR1): ok %s, 0 entries (was 10)" % d.table, 1)
        finally:
            self.stop(d)

    def test_shrink_guard(self):
        d = Daemon(BINARY, SMALL)
        try:
            d.write_table("".join("%s encrypt\n" % x for x in FORCED[:4]))  # 60% fewer
            d.signal(signal.SIGUSR1)
            wait_count(d, "reload (SIGUSR1): refused: the new table has 4 entries, 60% fewer", 1)
            assert_forced(self, d)
            # 50% may go by default (exactly the limit).
            d.write_table("".join("%s encrypt\n" % x for x in FORCED[:5]))
            d.signal(signal.SIGUSR1)
            wait_count(d, "reload (SIGUSR1): ok %s, 5 entries (was 10)" % d.table, 1)
            d.write_table(SMALL)
            d.signal(signal.SIGUSR1)
            wait_count(d, "reload (SIGUSR1): ok %s, 10 entries (was 5)" % d.table, 1)
            # Allowed by the setting.
            write_conf(d, "  watch_table = false;", "  reload_allow_shrink = true;")
            d.write_table("".join("%s encrypt\n" % x for x in FORCED[:4]))
            d.signal(signal.SIGHUP)  # policyd keeps SIGHUP as a reload
            wait_count(d, "reload (SIGHUP): ok %s, 4 entries (was 10)" % d.table, 1)
            sm = Socketmap(d.sm)
            self.assertEqual(sm.lookup(FORCED[9]), "NOTFOUND ")
            self.assertEqual(sm.lookup(FORCED[0]), "OK encrypt")
            sm.close()
        finally:
            self.stop(d)

    def test_watch_picks_up_rename(self):
        # Six versions renamed into place, one every 0.5 s: the watch acts on
        # each rename, so the versions go into use while the renames go on.
        # Today's main polls and waits for the file to hold still for
        # watch_interval (1 s here): it loads nothing until they stop.
        d = Daemon(BINARY, SMALL, "watch_table = true;\n  watch_interval = 1;")
        try:
            sm = Socketmap(d.sm)
            seen = 0
            for v in range(1, 7):
                d.write_table(SMALL + "v%d.watched.test verify\n" % v)  # write new, mv new table
                deadline = time.time() + 0.45
                while time.time() < deadline:
                    if sm.lookup("v%d.watched.test" % v) == "OK verify":
                        seen += 1
                        break
                    time.sleep(0.01)
                time.sleep(max(0, deadline + 0.05 - time.time()))
            self.assertGreaterEqual(seen, 3, "versions in use during the renames:\n" + d.logtext())
            wait_count(d, "reload (watch): ok", 1)
            deadline = time.time() + 10
            while sm.lookup("v6.watched.test") != "OK verify":
                self.assertLess(time.time(), deadline, d.logtext())
                time.sleep(0.05)
            sm.close()
        finally:
            self.stop(d)

    def test_fifo_blocks_nothing(self):
        # A FIFO where the table or the configuration was: open(2) would wait
        # for a writer forever, and the reload thread with it: every later
        # reload is lost and SIGTERM hangs in the join. Refused at once.
        d = Daemon(BINARY, SMALL)
        try:
            os.unlink(d.table)
            os.mkfifo(d.table, 0o644)
            d.signal(signal.SIGUSR1)
            wait_count(d, "reload (SIGUSR1): refused", 1, timeout=5)
            self.assertIn("%s: not a regular file" % d.table, d.logtext())
            os.unlink(d.table)
            d.write_table(SMALL + "new.test encrypt\n")
            with open(d.conf) as f:
                conf = f.read()
            os.unlink(d.conf)
            os.mkfifo(d.conf, 0o644)
            d.signal(signal.SIGUSR1)
            wait_count(d, "reload (SIGUSR1): refused", 2, timeout=5)
            self.assertIn("%s: cannot read the configuration file: not a regular file"
                          % d.conf, d.logtext())
            os.unlink(d.conf)
            with open(d.conf, "w") as f:
                f.write(conf)
            d.signal(signal.SIGUSR1)
            wait_count(d, "reload (SIGUSR1): ok %s, 11 entries (was 10)" % d.table, 1, 5)
            assert_forced(self, d)
            os.unlink(d.table)
            os.mkfifo(d.table, 0o644)
            d.signal(signal.SIGUSR1)
            time.sleep(0.3)
        finally:
            t = time.time()
            self.stop(d)
            self.assertLess(time.time() - t, 5, "SIGTERM waited for the reload thread")

    def test_watch_survives_directory_replaced(self):
        # The table's directory renamed away and a new one put in its place
        # (a deploy tool that swaps directories), then the directory removed
        # and created again: the watch must watch the new directory, and pick
        # up the table in it. On main it keeps watching the old inode, or a
        # dead watch descriptor, and never reloads again.
        d = Daemon(BINARY, SMALL, "watch_table = true;")
        try:
            old = d.dir + ".old"
            os.rename(d.dir, old)
            d.log = open(os.path.join(old, "policyd.log"))
            os.mkdir(d.dir)
            os.chmod(d.dir, 0o755)
            shutil.copy(os.path.join(old, "forcetls.conf"), d.conf)
            d.write_table(SMALL + "v1.watched.test verify\n")
            wait_lookup(self, d, "v1.watched.test", "OK verify")
            shutil.rmtree(d.dir)
            time.sleep(1.5)
            os.mkdir(d.dir)
            os.chmod(d.dir, 0o755)
            shutil.copy(os.path.join(old, "forcetls.conf"), d.conf)
            d.write_table(SMALL + "v2.watched.test verify\n")
            wait_lookup(self, d, "v2.watched.test", "OK verify")
            self.assertLessEqual(count(d, "watch: %s: not a directory" % d.dir), 1,
                                 "a missing directory is logged once")
        finally:
            self.stop(d)

    def test_watch_follows_symlinks(self):
        # The table is a symlink to a file in another directory, which is
        # replaced there by a rename; then a ConfigMap-style layout (table ->
        # ..data/table, ..data -> a version directory) whose ..data link is
        # switched. Neither event renames the table's own name: on main the
        # watch misses both, and the old table stays in use until a signal.
        d = Daemon(BINARY, SMALL, "watch_table = true;")
        try:
            other = tempfile.mkdtemp(prefix="ftls-policyd-target-")
            os.chmod(other, 0o755)
            target = os.path.join(other, "v")
            write_file(target, SMALL)
            link_into_place(target, d.table)
            time.sleep(1.5)
            write_file(target, SMALL + "v1.watched.test verify\n")
            wait_lookup(self, d, "v1.watched.test", "OK verify")
            for v in (2, 3):
                ver = os.path.join(d.dir, "..v%d" % v)
                os.mkdir(ver)
                os.chmod(ver, 0o755)
                write_file(os.path.join(ver, "forced-tls.table"),
                           SMALL + "v%d.watched.test verify\n" % v)
                link_into_place(os.path.basename(ver), os.path.join(d.dir, "..data"))
                if v == 2:
                    link_into_place("..data/forced-tls.table", d.table)
                wait_lookup(self, d, "v%d.watched.test" % v, "OK verify")
        finally:
            self.stop(d)

    def test_bad_config_names_file_and_line(self):
        # A configuration that parses but has a bad value found after
        # parsing (inbound_reply, map names): the reload is refused, the old
        # snapshot answers, and the error names FILE:LINE as the parser's do.
        # On main it named the file only.
        d = Daemon(BINARY, SMALL)
        try:
            write_conf(d, '  watch_table = false;\n  inbound_reply = "250 ok";')
            d.signal(signal.SIGUSR1)
            wait_count(d, "reload (SIGUSR1): refused", 1)
            self.assertIn("%s:4: policyd.inbound_reply: expected" % d.conf, d.logtext())
            write_conf(d, '  watch_table = false;\n  map_name = "x";\n  require_map_name = "x";')
            d.signal(signal.SIGUSR1)
            wait_count(d, "reload (SIGUSR1): refused", 2)
            self.assertIn("%s:4: policyd.map_name, policyd.require_map_name" % d.conf,
                          d.logtext())
            assert_forced(self, d)
        finally:
            self.stop(d)

    def test_relative_paths_in_background(self):
        # "cd /etc/forcetls && forcetls-policyd --config forcetls.conf --table
        # forced-tls.table": in the background the daemon changes to /, so on
        # main every reload looks for /forcetls.conf and /forced-tls.table
        # (refused, the old table stays for good) and the watch watches "/".
        d = Daemon.__new__(Daemon)
        d.dir = tempfile.mkdtemp(prefix="ftls-policyd-rel-")
        os.chmod(d.dir, 0o755)
        d.table = os.path.join(d.dir, "forced-tls.table")
        d.write_table(SMALL)
        name = "forcetls-%d.conf" % os.getpid()
        d.conf = os.path.join(d.dir, name)
        d.sm = ("127.0.0.1", free_port())
        with open(d.conf, "w") as f:
            f.write('policyd = {\n  user = "%s";\n  policy_listen = "";\n  state_file = "";\n'
                    '  socketmap_listen = "inet:%s:%d";\n};\n' % ((user(),) + d.sm))
        os.chmod(d.conf, 0o644)
        rc = subprocess.call([BINARY, "--config", name, "--table", "forced-tls.table"],
                             cwd=d.dir)
        self.assertEqual(rc, 0)
        pid = None
        for _ in range(100):
            pid = find_pid(name)
            if pid is not None:
                break
            time.sleep(0.05)
        self.assertIsNotNone(pid, "the daemon is running")
        try:
            wait_port(self, d.sm)
            d.write_table(SMALL + "v1.watched.test verify\n")
            os.kill(pid, signal.SIGUSR1)
            wait_lookup(self, d, "v1.watched.test", "OK verify", alive=False)
            d.write_table(SMALL + "v2.watched.test verify\n")  # the watch alone
            wait_lookup(self, d, "v2.watched.test", "OK verify", alive=False)
        finally:
            os.kill(pid, signal.SIGTERM)

    def test_reload_signals_at_start(self):
        # SIGUSR1, SIGUSR2 and SIGHUP within milliseconds of start: none
        # may kill the daemon (they wait until the loop handles them).
        for i in range(12):
            start_early(Daemon.__new__(Daemon), self,
                        [signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP][i % 3], 0.001 * (i % 4))


def write_file(path, text):
    """A new file renamed into place, as a careful admin does."""
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.chmod(path + ".tmp", 0o644)
    os.rename(path + ".tmp", path)


def link_into_place(target, path):
    """ln -sfn TARGET PATH: a new symlink renamed over PATH."""
    os.symlink(target, path + ".lnk")
    os.rename(path + ".lnk", path)


def wait_lookup(test, d, dom, want, timeout=10, alive=True):
    """Until dom answers want. alive=False: a daemon in the background, no log."""
    deadline = time.time() + timeout
    while True:
        sm = Socketmap(d.sm)
        got = sm.lookup(dom)
        sm.close()
        if got == want:
            return
        log = d.logtext()[-3000:] if alive else "(in the background, logs to syslog)"
        if alive:
            test.assertTrue(d.alive(), log)
        test.assertLess(time.time(), deadline, "%s answers %r, not %r:\n%s" % (dom, got, want, log))
        time.sleep(0.05)


def find_pid(word):
    """The PID of the process whose command line has word (ours: a unique name)."""
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                if word.encode() in f.read().split(b"\0"):
                    return int(p)
        except OSError:
            pass
    return None


def wait_port(test, addr, timeout=10):
    deadline = time.time() + timeout
    while True:
        try:
            socket.create_connection(addr, timeout=1).close()
            return
        except OSError:
            test.assertLess(time.time(), deadline, "nothing listens on %s:%d" % addr)
            time.sleep(0.05)


def wait_masked(pid, sig, timeout=0.2):
    """Until the process blocks, ignores or catches sig (it has reached main()).

    A signal sent between exec and main() meets the default action whatever
    the program does; "within milliseconds of start" starts at main()."""
    deadline = time.time() + timeout
    bit = 1 << (sig - 1)
    while time.time() < deadline:
        try:
            with open("/proc/%d/status" % pid) as f:
                masks = [int(l.split()[1], 16) for l in f
                         if l.split(":")[0] in ("SigBlk", "SigIgn", "SigCgt")]
            if any(m & bit for m in masks):
                return
        except (OSError, ValueError):
            return
        time.sleep(0.0002)


def start_early(d, test, sig, delay):
    """Start the daemon as Daemon does, but send sig delay seconds after main()."""
    d.dir = tempfile.mkdtemp(prefix="ftls-policyd-early-")
    os.chmod(d.dir, 0o755)
    d.table = os.path.join(d.dir, "forced-tls.table")
    d.write_table(SMALL)
    d.conf = os.path.join(d.dir, "forcetls.conf")
    write_conf(d, "  watch_table = false;")
    d.sm = ("127.0.0.1", free_port())
    d.pol = ("127.0.0.1", free_port())
    d.log = open(os.path.join(d.dir, "policyd.log"), "w+")
    d.proc = subprocess.Popen(
        [BINARY, "--foreground", "--config", d.conf, "--table", d.table,
         "--socketmap-listen", "inet:%s:%d" % d.sm, "--policy-listen", "inet:%s:%d" % d.pol],
        stdout=d.log, stderr=subprocess.STDOUT)
    wait_masked(d.proc.pid, sig)
    time.sleep(delay)
    d.proc.send_signal(sig)
    deadline = time.time() + 10
    while True:
        try:
            assert_forced(test, d)
            break
        except OSError:
            test.assertIsNone(d.proc.poll(), "daemon died on signal %d at start:\n%s"
                              % (sig, d.logtext()))
            test.assertLess(time.time(), deadline, d.logtext())
            time.sleep(0.02)
    rc = d.stop()
    test.assertEqual(rc, 0, d.logtext())


if __name__ == "__main__":
    BINARY = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
