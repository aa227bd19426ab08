#!/usr/bin/env python3
"""probe.py - ask an installed forcetls daemon one question (tests/package).

usage: probe.py socketmap ADDR MAPNAME KEY   prints the socketmap answer
       probe.py milter ADDR                  prints "OPTNEG" when the milter negotiates
ADDR: inet:HOST:PORT, inet:PORT@HOST (libmilter) or unix:PATH.
Exits 1 on a connection error or a malformed answer.
"""
import socket
import struct
import sys


def connect(addr):
    kind, _, rest = addr.partition(":")
    if kind == "unix":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(rest)
        return s
    if kind != "inet":
        raise SystemExit("probe.py: bad address " + addr)
    if "@" in rest:
        port, host = rest.split("@", 1)
    else:
        host, port = rest.rsplit(":", 1)
    return socket.create_connection((host.strip("[]"), int(port)), timeout=5)


def read_exact(s, n):
    buf = b""
    while len(buf) < n:
        part = s.recv(n - len(buf))
        if not part:
            raise SystemExit("probe.py: connection closed early")
        buf += part
    return buf


def socketmap(addr, name, key):
    q = (name + " " + key).encode()
    with connect(addr) as s:
        s.sendall(str(len(q)).encode() + b":" + q + b",")
        head = b""
        while not head.endswith(b":"):
            head += read_exact(s, 1)
            if len(head) > 10:
                raise SystemExit("probe.py: bad netstring")
        body = read_exact(s, int(head[:-1]))
        if read_exact(s, 1) != b",":
            raise SystemExit("probe.py: bad netstring end")
    print(body.decode())


def milter(addr):
    pkt = b"O" + struct.pack(">III", 6, 0x1FF, 0x1FFFFF)
    with connect(addr) as s:
        s.sendall(struct.pack(">I", len(pkt)) + pkt)
        (n,) = struct.unpack(">I", read_exact(s, 4))
        reply = read_exact(s, n)
    if reply[:1] != b"O":
        raise SystemExit("probe.py: no SMFIC_OPTNEG reply: %r" % reply[:1])
    print("OPTNEG")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "socketmap":
        socketmap(*sys.argv[2:])
    elif len(sys.argv) == 3 and sys.argv[1] == "milter":
        milter(sys.argv[2])
    else:
        raise SystemExit(__doc__)
