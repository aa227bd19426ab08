#!/usr/bin/env python3
"""The shrink guard across restarts, against the real forcetls-policyd.

usage: t_restart.py POLICYD_BINARY [unittest args]

Issue 7: a reload to an emptied table is refused, but a restart (logrotate,
a reboot, systemctl restart) used to start on it and answer NOTFOUND for
every forced domain. With policyd.state_file the daemon remembers the
table's path and entry count: a start on the same table emptied, or cut to
40% (a 60% loss, over tables.reload_max_shrink = 50), logs "start refused"
and exits 1 with nothing listening; tables.reload_allow_empty /
tables.reload_allow_shrink let it start; with no state file (a new
install), or state_file = "", an empty table starts with the warning.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from policyd_client import Socketmap, free_port, state_dir

BINARY = None

FORCED = ["f%d.forced.test" % i for i in range(10)]
TEN = "".join("%s encrypt\n" % d for d in FORCED)
FOUR = "".join("%s encrypt\n" % d for d in FORCED[:4])


class World:
    """One directory: a table, a configuration, a state file; daemons started on them."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ftls-policyd-restart-")
        os.chmod(self.dir, 0o755)
        self.table = os.path.join(self.dir, "forced-tls.table")
        self.conf = os.path.join(self.dir, "forcetls.conf")
        self.state = state_dir(self.dir)
        self.log = os.path.join(self.dir, "policyd.log")
        self.sm = ("127.0.0.1", free_port())

    def write_table(self, text):
        with open(self.table, "w") as f:  # in place, as ": > table" does
            f.write(text)
        os.chmod(self.table, 0o644)

    def write_conf(self, state_file=None, tables=""):
        with open(self.conf, "w") as f:
            f.write('policyd = {\n  user = "%s";\n  watch_table = false;\n'
                    '  policy_listen = "";\n  socketmap_listen = "inet:%s:%d";\n'
                    '  state_file = "%s";\n};\n'
                    % ("nobody" if os.getuid() == 0 else "", self.sm[0], self.sm[1],
                       self.state if state_file is None else state_file))
            if tables:
                f.write("tables = {\n%s\n};\n" % tables)
        os.chmod(self.conf, 0o644)

    def start(self):
        """(process, log text): the process ready ("ready:" logged), or exited.

        Decided by the process and its log, not by a connection: under
        ctest -j another test may hold the same free port for a moment."""
        log = open(self.log, "w+")
        p = subprocess.Popen([BINARY, "--foreground", "--config", self.conf,
                              "--table", self.table],
                             stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline and p.poll() is None and "ready:" not in self.logtext():
            time.sleep(0.05)
        log.close()
        return p, self.logtext()

    def logtext(self):
        with open(self.log) as f:
            return f.read()

    def stop(self, p):
        p.terminate()
        return p.wait(timeout=20)

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class RestartTest(unittest.TestCase):
    def setUp(self):
        self.w = World()
        self.w.write_conf()

    def tearDown(self):
        self.w.remove()

    def start_ok(self):
        p, log = self.w.start()
        self.assertIsNone(p.returncode, "the daemon exited (%s):\n%s" % (p.returncode, log))
        self.assertIn("ready:", log)
        return p

    def first_run(self):
        """Ten entries, served and remembered, then stopped."""
        self.w.write_table(TEN)
        p = self.start_ok()
        sm = Socketmap(self.w.sm)
        self.assertEqual(sm.lookup(FORCED[9]), "OK encrypt")
        sm.close()
        self.assertEqual(self.w.stop(p), 0, self.w.logtext())
        with open(self.w.state) as f:
            self.assertEqual(f.read(), "table %s\nentries 10\n" % self.w.table)

    def assert_refused(self, entries, before=10):
        p, log = self.w.start()
        if p.returncode is None:
            self.w.stop(p)
            self.fail("the daemon started on %d entries:\n%s" % (entries, log))
        self.assertEqual(p.returncode, 1, log)
        self.assertIn("start refused: %s has %d entries, the table in use before had %d (%s)"
                      % (self.w.table, entries, before, self.w.state), log)
        self.assertIn("or remove %s" % self.w.state, log)
        self.assertNotIn("ready:", log)  # exited before serving: nothing listens

    def test_emptied_table_refused_at_start(self):
        self.first_run()
        self.w.write_table("")  # : > table
        self.assert_refused(0)
        self.assertIn("tables.reload_allow_empty = true", self.w.logtext())
        # Refused again (the state file still says 10), then the fixed table starts.
        self.assert_refused(0)
        self.w.write_table(TEN)
        p = self.start_ok()
        self.assertEqual(self.w.stop(p), 0)

    def test_emptied_table_allowed(self):
        self.first_run()
        self.w.write_table("")
        self.w.write_conf(tables="  reload_allow_empty = true;")
        p = self.start_ok()
        self.assertIn("0 entries: no domain is forced", self.w.logtext())
        self.assertEqual(self.w.stop(p), 0)
        with open(self.w.state) as f:  # from 0, any next start passes
            self.assertEqual(f.read(), "table %s\nentries 0\n" % self.w.table)

    def test_shrunk_table_refused_then_allowed(self):
        self.first_run()
        self.w.write_table(FOUR)  # 40% left, 60% lost
        self.assert_refused(4)
        self.assertIn("60% fewer", self.w.logtext())
        self.w.write_conf(tables="  reload_allow_shrink = true;")
        p = self.start_ok()
        self.assertEqual(self.w.stop(p), 0)

    def test_no_state_file_empty_starts_with_warning(self):
        self.w.write_table("")
        p = self.start_ok()
        self.assertIn("0 entries: no domain is forced (allowed at start", self.w.logtext())
        self.assertNotIn("start refused", self.w.logtext())
        self.assertEqual(self.w.stop(p), 0)

    def test_state_file_off(self):
        self.w.write_conf(state_file="")
        self.first_run_without_state()
        self.w.write_table("")
        p = self.start_ok()
        self.assertEqual(self.w.stop(p), 0)
        self.assertFalse(os.path.exists(self.w.state))

    def first_run_without_state(self):
        self.w.write_table(TEN)
        p = self.start_ok()
        self.assertEqual(self.w.stop(p), 0)

    def test_other_table_path_and_bad_state(self):
        with open(self.w.state, "w") as f:
            f.write("table /elsewhere/forced-tls.table\nentries 1200\n")
        self.w.write_table("")
        p = self.start_ok()
        self.assertEqual(self.w.stop(p), 0)
        with open(self.w.state, "w") as f:
            f.write("table %s\nentries twelve\n" % self.w.table)
        p = self.start_ok()
        self.assertIn("cannot parse line 2 (ignored: starting as with no state file)",
                      self.w.logtext())
        self.assertEqual(self.w.stop(p), 0)

    def test_unwritable_state_dir_warns_once(self):
        self.w.write_conf(state_file=os.path.join(self.w.dir, "missing", "policyd.state"))
        self.w.write_table(TEN)
        p = self.start_ok()
        try:
            for _ in range(3):
                p.send_signal(1)  # SIGHUP: a reload, which writes the state again
            deadline = time.time() + 10
            while self.w.logtext().count("reload (SIGHUP): ok") < 1 and time.time() < deadline:
                time.sleep(0.05)
            time.sleep(0.5)
        finally:
            self.assertEqual(self.w.stop(p), 0)
        self.assertEqual(self.w.logtext().count(
            "the shrink guard will not apply across restarts"), 1, self.w.logtext())

    def test_check_neither_reads_nor_writes(self):
        self.first_run()
        self.w.write_table("")
        out = subprocess.run([BINARY, "--check", "--config", self.w.conf, "--table",
                              self.w.table], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        with open(self.w.state) as f:
            self.assertEqual(f.read(), "table %s\nentries 10\n" % self.w.table)


if __name__ == "__main__":
    BINARY = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
