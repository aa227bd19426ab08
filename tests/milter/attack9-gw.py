#!/usr/bin/env python3
"""attack9-gw.py - a small SMTP gateway for t-attack9.lua, honest or hostile.

usage: attack9-gw.py DIR MODE   (DIR holds cert.pem/key.pem; the port goes to DIR/port)

Every mode speaks ESMTP with STARTTLS (the relay requires it). What a mode changes:
  normal   stores each message raw (dot-stuffing undone) in DIR/msg-N.eml, 250 to the dot
  presend  answers DATA with "354" and "250" at once (a stale 250 before the message),
           then 451 to the real end of data, and stores nothing
  slowdot  like normal, but waits 3 s before the 250 to the end of data
  silent   reads the message and never answers the end of data
  trickle  sends its banner one byte a second
"""
import time
import os, socket, ssl, sys, threading

d, mode = sys.argv[1], sys.argv[2]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(os.path.join(d, "cert.pem"), os.path.join(d, "key.pem"))
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0))
ls.listen(16)
with open(os.path.join(d, "port.tmp"), "w") as f:
    f.write(str(ls.getsockname()[1]))
os.rename(os.path.join(d, "port.tmp"), os.path.join(d, "port"))
n = [0]
lock = threading.Lock()


def session(s):
    f = s.makefile("rb")
    def say(t):
        s.sendall(t.encode())
    if mode == "trickle":
        for ch in "220 gw.attack9.test ESMTP\r\n":
            s.sendall(ch.encode())
            time.sleep(1)
    else:
        say("220 gw.attack9.test ESMTP\r\n")
    tls = False
    while True:
        line = f.readline()
        if not line:
            return
        cmd = line.strip().upper()
        if cmd.startswith(b"EHLO"):
            say("250-gw.attack9.test\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n" +
                ("" if tls else "250-STARTTLS\r\n") + "250 PIPELINING\r\n")
        elif cmd == b"STARTTLS":
            say("220 go ahead\r\n")
            s = ctx.wrap_socket(s, server_side=True)
            f = s.makefile("rb")
            tls = True
        elif cmd == b"DATA":
            say("354 go\r\n250 2.0.0 queued early\r\n" if mode == "presend" else "354 go\r\n")
            data = []
            while True:
                l = f.readline()
                if not l or l == b".\r\n":
                    break
                data.append(l[1:] if l.startswith(b".") else l)
            if mode == "silent":
                time.sleep(3600)
            if mode == "slowdot":
                time.sleep(3)
            if mode == "presend":
                say("451 4.3.0 not taken\r\n")
                continue
            with lock:
                n[0] += 1
                k = n[0]
            with open(os.path.join(d, "msg-%d.eml" % k), "wb") as o:
                o.write(b"".join(data))
            say("250 2.0.0 stored %d\r\n" % k)
        elif cmd == b"QUIT":
            say("221 bye\r\n")
            return
        else:
            say("250 ok\r\n")


def run(c):
    try:
        session(c)
    except Exception:
        pass
    c.close()


while True:
    c, _ = ls.accept()
    threading.Thread(target=run, args=(c,), daemon=True).start()
