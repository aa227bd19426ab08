"""Small clients for forcetls-policyd's two protocols, and a daemon runner.

Used by the tests in this folder: real sockets against the real daemon.
"""
import os
import signal
import socket
import subprocess
import tempfile
import time


def netstring(s):
    b = s if isinstance(s, bytes) else s.encode()
    return b"%d:%s," % (len(b), b)


def read_netstring(sock):
    buf = b""
    while b":" not in buf:
        chunk = sock.recv(1)
        if not chunk:
            raise EOFError("connection closed before a reply")
        buf += chunk
    n = int(buf[:-1])
    data = b""
    while len(data) < n + 1:
        chunk = sock.recv(n + 1 - len(data))
        if not chunk:
            raise EOFError("connection closed inside a reply")
        data += chunk
    assert data[-1:] == b",", data
    return data[:-1].decode()


class Socketmap:
    def __init__(self, addr, name="forcetls"):
        self.sock = socket.create_connection(addr, timeout=10)
        self.name = name

    def lookup(self, key, name=None):
        self.sock.sendall(netstring("%s %s" % (name or self.name, key)))
        return read_netstring(self.sock)

    def close(self):
        self.sock.close()


class Policy:
    def __init__(self, addr):
        self.sock = socket.create_connection(addr, timeout=10)
        self.buf = b""

    def ask(self, **attrs):
        attrs.setdefault("request", "smtpd_access_policy")
        text = "".join("%s=%s\n" % kv for kv in attrs.items()) + "\n"
        self.sock.sendall(text.encode())
        return self.read_reply()

    def read_reply(self):
        while b"\n\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError("connection closed before a reply")
            self.buf += chunk
        reply, self.buf = self.buf.split(b"\n\n", 1)
        assert reply.startswith(b"action="), reply
        return reply[len("action="):].decode()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def state_dir(parent, name="policyd.state"):
    """A directory the daemon (nobody, when root) can write its state file in; the file's path."""
    d = os.path.join(parent, "state")
    os.makedirs(d, exist_ok=True)
    if os.getuid() == 0:
        import pwd
        os.chown(d, pwd.getpwnam("nobody").pw_uid, -1)
    return os.path.join(d, name)


class Daemon:
    """forcetls-policyd in the foreground on two free loopback ports.

    conf_extra goes into the policyd section; sections (whole sections, such
    as "tables = { ... };") after it."""

    def __init__(self, binary, table_text, conf_extra="", sections="", preexec_fn=None,
                 wait_ready=True):
        self.dir = tempfile.mkdtemp(prefix="ftls-policyd-")
        os.chmod(self.dir, 0o755)
        self.table = os.path.join(self.dir, "forced-tls.table")
        self.write_table(table_text)
        self.conf = os.path.join(self.dir, "forcetls.conf")
        with open(self.conf, "w") as f:
            watch = "" if "watch_table" in conf_extra else "  watch_table = false;\n"
            if "state_file" not in conf_extra:  # never /var/lib/forcetls
                watch += '  state_file = "%s";\n' % state_dir(self.dir)
            f.write('policyd = {\n  user = "%s";\n%s%s\n};\n%s'
                    % ("nobody" if os.getuid() == 0 else "", watch, conf_extra, sections))
        self.sm = ("127.0.0.1", free_port())
        self.pol = ("127.0.0.1", free_port())
        self.log = open(os.path.join(self.dir, "policyd.log"), "w+")
        self.proc = subprocess.Popen(
            [binary, "--foreground", "--config", self.conf, "--table", self.table,
             "--socketmap-listen", "inet:%s:%d" % self.sm,
             "--policy-listen", "inet:%s:%d" % self.pol],
            stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=preexec_fn)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(self.sm, timeout=1).close()
                socket.create_connection(self.pol, timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("daemon exited:\n" + self.logtext())
                time.sleep(0.05)
        else:
            raise RuntimeError("daemon did not listen:\n" + self.logtext())
        # The listeners open before the table is read: a test that changes the
        # table at once would race the start's read (CI saw it). wait_ready=False
        # for the tests that want that race.
        deadline = time.time() + 60
        while wait_ready and "ready:" not in self.logtext():
            if self.proc.poll() is not None:
                raise RuntimeError("daemon exited:\n" + self.logtext())
            if time.time() > deadline:
                raise RuntimeError("daemon not ready:\n" + self.logtext())
            time.sleep(0.02)

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

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait_log(self, text, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in self.logtext():
                return
            time.sleep(0.05)
        raise AssertionError("log never showed %r:\n%s" % (text, self.logtext()))

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """Stop; the exit status must be 0 (under ASan, leaks make it non-zero)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("daemon did not stop on SIGTERM")
        return rc
