#!/usr/bin/env python3
"""Hostile milter-protocol clients on forcetls-milter's socket, for t-abuse-milter.sh.

usage: abuse-milter.py SOCKET frames
       abuse-milter.py SOCKET slow N          N clients sending OPTNEG one byte a second
       abuse-milter.py SOCKET noread N SECS   N clients flooding headers, never reading

SOCKET is a unix socket path. Each mode prints "reply=..." (one word per client
kind, for the ABUSE summary line) and exits 0 when every client got a sane
answer (a milter reply packet, or a close) within its bound, 1 otherwise.

The milter protocol (libmilter's mfdef.h): a packet is a 4-byte big-endian
length, counting the command byte, then the command and its data.
forcetls-milter sets libmilter's maximal packet to 1 MiB - 1
(smfi_setmaxdatasize); libmilter closes a connection announcing more.
"""
import socket
import struct
import sys
import threading
import time

SMFI_VERSION = 6


def packet(cmd, data=b""):
    return struct.pack(">I", len(data) + 1) + cmd + data


OPTNEG = packet(b"O", struct.pack(">III", SMFI_VERSION, 0x1ff, 0x0))


def connect(path, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def read_packet(s):
    """(cmd, data), or None on a close."""
    head = b""
    while len(head) < 4:
        c = s.recv(4 - len(head))
        if not c:
            return None
        head += c
    n = struct.unpack(">I", head)[0]
    body = b""
    while len(body) < n:
        c = s.recv(n - len(body))
        if not c:
            return None
        body += c
    return body[:1], body[1:]


def outcome(s, timeout=10):
    """'closed', 'reply:X' (the first packet's command), or 'silent' (nothing in time)."""
    s.settimeout(timeout)
    try:
        p = read_packet(s)
    except socket.timeout:
        return "silent"
    except ConnectionResetError:
        return "closed"
    if p is None:
        return "closed"
    return "reply:" + p[0].decode("latin-1")


# How long a close may take. Debian's libmilter hands sessions to a pool of worker
# threads (_FFR_WORKERS_POOL); a session that arrives while an idle worker is being
# woken for another is queued for that worker rather than given a new one, and waits
# until a worker is free: with the workers held by "slow" clients (a partial packet,
# one byte a second), about 13 s, seen in about 1 run in 8. Postfix's own bound is
# milter_command_timeout (30 s), then milter_default_action (tempfail).
CLOSE_WITHIN = 30

# Framings an outsider sends: each must end in a close, a reply, or silence (waiting
# for the rest of a packet), and the connection must close cleanly after the client's.
FRAMES = [
    ("http", b"GET / HTTP/1.0\r\nHost: x\r\n\r\n"),
    ("len_ffffffff", b"\xff\xff\xff\xffO" + b"x" * 64),
    ("len_7fffffff", b"\x7f\xff\xff\xffO" + b"x" * 64),
    ("len_1MiB", struct.pack(">I", 1024 * 1024 + 1) + b"L" + b"x" * 64),
    ("len_0", b"\x00\x00\x00\x00"),
    ("unknown_cmd", OPTNEG + packet(b"Z", b"junk")),
    ("header_first", packet(b"L", b"X-TLSLevel\x00Try\x00")),
    ("short_optneg", packet(b"O", b"\x00\x00")),
    ("unterminated", OPTNEG + packet(b"C", b"host-without-nul")),
]


def frames(path):
    ok, words = True, []
    for name, data in FRAMES:
        s = connect(path)
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        res = outcome(s, 3)
        if res == "reply:O":  # the OPTNEG answer; what comes after it is the verdict
            res = outcome(s, 3)
        t0 = time.time()
        try:
            s.shutdown(socket.SHUT_WR)  # a clean close must follow whatever was said
            end = outcome(s, CLOSE_WITHIN)
            while end.startswith("reply:"):
                end = outcome(s, CLOSE_WITHIN)
        except OSError:
            end = "closed"
        s.close()
        print("frames: %s -> %s, then %s after %.1f s" % (name, res, end, time.time() - t0),
              flush=True)
        # libmilter ignores a command out of order and waits for more of a packet, so
        # "silent" is sane too; a close must follow the client's in any case.
        ok = ok and end == "closed"
        words.append("%s:%s" % (name, res.replace("reply:", "")))
    print("reply=" + ",".join(words))
    return ok


def slow_one(path, out):
    s = connect(path, timeout=60)
    t0 = time.time()
    try:
        for i in range(len(OPTNEG)):
            s.sendall(OPTNEG[i:i + 1])
            time.sleep(1)
        res = outcome(s, 20)
    except (BrokenPipeError, ConnectionResetError):
        res = "closed"
    out.append((res, time.time() - t0))
    s.close()


def slow(path, n):
    out, ts = [], []
    for _ in range(n):
        t = threading.Thread(target=slow_one, args=(path, out))
        t.start()
        ts.append(t)
    for t in ts:
        t.join(120)
    for res, secs in out:
        print("slow: %s after %.0f s" % (res, secs), flush=True)
    print("reply=" + ",".join(sorted(set(r for r, _ in out))) + "_after_%ds" % len(OPTNEG))
    return len(out) == n and all(r in ("reply:O", "closed") for r, _ in out)


def session_to_rcpt(s):
    """A session up to RCPT, reading each reply; the reply commands."""
    got = []
    for p in [OPTNEG,
              packet(b"C", b"abuser.test\x004" + struct.pack(">H", 4711) + b"127.0.0.77\x00"),
              packet(b"H", b"abuser.test\x00"),
              packet(b"M", b"<a@abuser.test>\x00"),
              packet(b"R", b"<b@forced-plain.test>\x00")]:
        s.sendall(p)
        r = read_packet(s)
        got.append(r[0].decode() if r else "closed")
        if r is None:
            break
    return got


def noread_one(path, secs, out):
    s = connect(path)
    got = session_to_rcpt(s)
    blob = packet(b"L", b"X-Flood\x00" + b"v" * 40 + b"\x00") * 4096
    s.setblocking(False)
    sent, deadline, how = 0, time.time() + secs, "flooding"
    while time.time() < deadline:
        try:
            sent += s.send(blob)
        except BlockingIOError:
            time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            how = "closed"
            break
    out.append(("/".join(got), sent, how))
    s.close()


def noread(path, n, secs):
    out, ts = [], []
    for _ in range(n):
        t = threading.Thread(target=noread_one, args=(path, secs, out))
        t.start()
        ts.append(t)
    for t in ts:
        t.join(secs + 60)
    for got, sent, how in out:
        print("noread: session %s, %d KiB of headers sent unread, %s" % (got, sent // 1024, how),
              flush=True)
    print("reply=blocked_after_kib=%d" % (max(o[1] for o in out) // 1024 if out else 0))
    return len(out) == n


def main():
    path, mode = sys.argv[1], sys.argv[2]
    if mode == "frames":
        ok = frames(path)
    elif mode == "slow":
        ok = slow(path, int(sys.argv[3]))
    elif mode == "noread":
        ok = noread(path, int(sys.argv[3]), float(sys.argv[4]))
    else:
        sys.exit("unknown mode " + mode)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
