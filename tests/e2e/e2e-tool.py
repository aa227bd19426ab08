#!/usr/bin/python3
# e2e-tool.py - the Python half of the end-to-end harness (tests/e2e/lib.sh).
#
#   e2e-tool.py receiver --addr A --port P --dir DIR [--cert F --key F] [--hostname H]
#       A real SMTP server (Debian's python3-aiosmtpd). With --cert/--key it offers
#       STARTTLS. Every message it accepts is stored in DIR as NNNN.eml (the message as
#       received) and NNNN.meta (key=value lines: peer, helo, mail_from, rcpt, tls,
#       tls_version, tls_cipher, tls_bits, mail_options), the .meta written last and atomically, so a
#       .meta file means a complete message. Writes DIR/ready once it listens.
#       --rcpt-reply 'CODE TEXT' answers every RCPT with that reply instead of 250.
#
#   e2e-tool.py dns-servfail --addr A [--port 53] --ready FILE
#       A DNS server that answers every query with SERVFAIL (dnsmasq forwards the
#       names a test wants broken to it).
#
#   e2e-tool.py dns-delay --addr A [--port 53] --upstream IP[:PORT] --rule DOMAIN:SECONDS...
#       --ready FILE
#       A DNS forwarder that holds every query for DOMAIN and below for SECONDS (the
#       longest matching rule; none: no delay), then asks the upstream and passes its
#       answer back unchanged. Queries are held in parallel, each on its own socket.
#       Logs "held NAME type=N for SECONDS s" and "answered NAME type=N" (e2e_dns --slow=).
#
# Run with Debian's /usr/bin/python3: that is where python3-aiosmtpd lives.
import argparse
import asyncio
import os
import socket
import ssl
import struct
import sys
import threading
import time


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


def receiver(args):
    from aiosmtpd.smtp import SMTP

    os.makedirs(args.dir, exist_ok=True)
    counter = [len([n for n in os.listdir(args.dir) if n.endswith(".meta")])]

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if args.rcpt_reply:
                return args.rcpt_reply
            envelope.rcpt_tos.append(address)
            return "250 2.1.5 OK"

        async def handle_DATA(self, server, session, envelope):
            if args.data_reply:
                print("refused DATA: %s" % args.data_reply, flush=True)
                return args.data_reply
            counter[0] += 1
            base = os.path.join(args.dir, "%04d" % counter[0])
            data = envelope.original_content or envelope.content
            if isinstance(data, str):
                data = data.encode("utf-8", "surrogateescape")
            meta = [
                "peer=%s" % (session.peer[0] if session.peer else ""),
                "helo=%s" % (session.host_name or ""),
                "mail_from=%s" % envelope.mail_from,
                "mail_options=%s" % " ".join(envelope.mail_options),
            ]
            meta += ["rcpt=%s" % r for r in envelope.rcpt_tos]
            sslobj = session.ssl.get("ssl_object") if session.ssl else None
            if sslobj is not None:
                cipher = sslobj.cipher() or ("", "", 0)
                meta += [
                    "tls=yes",
                    "tls_version=%s" % sslobj.version(),
                    "tls_cipher=%s" % cipher[0],
                    "tls_bits=%s" % cipher[2],
                ]
            else:
                meta += ["tls=no"]
            meta += ["auth=%s" % (session.authenticated and args.auth.split(":")[0] or "")]
            write_atomic(base + ".eml", data)
            write_atomic(base + ".meta", ("\n".join(meta) + "\n").encode())
            print("stored %s.eml tls=%s rcpt=%s" % (base, "yes" if sslobj else "no",
                                                   ",".join(envelope.rcpt_tos)), flush=True)
            return "250 2.0.0 Ok: stored as %04d" % counter[0]

    ctx = None
    if args.cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.cert, args.key)

    auth = {}
    if args.auth:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword) and auth_data.login == user.encode()
                  and auth_data.password == password.encode())
            print("AUTH %s %s" % (mechanism, "ok" if ok else "refused"), flush=True)
            # handled=False: aiosmtpd sends the 535 itself (its default, handled=True,
            # sends no reply at all, and the client times out instead).
            return AuthResult(success=ok, handled=False)

        # AUTH only after STARTTLS, and no mail without it.
        auth = dict(authenticator=authenticator, auth_required=True, auth_require_tls=True)

    def factory():
        # SMTPUTF8 offered, as Postfix offers it: a UTF-8 envelope (t-milter-idn.sh)
        # must meet the TLS decision, not bounce 5.6.7 before it.
        return SMTP(Handler(), hostname=args.hostname, tls_context=ctx,
                    require_starttls=args.require_starttls, decode_data=False,
                    enable_SMTPUTF8=not args.no_smtputf8, ident="e2e receiver", **auth)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(
        loop.create_server(factory, host=args.addr, port=args.port, reuse_address=True))
    with open(os.path.join(args.dir, "..", "ready"), "w") as f:
        f.write("%d\n" % os.getpid())
    print("listening on %s:%d starttls=%s" % (args.addr, args.port, bool(ctx)), flush=True)
    try:
        loop.run_forever()
    finally:
        server.close()


def dns_serve(args, handle):
    """Bind a UDP DNS socket on --addr/--port, write --ready, and call
    handle(sock, query, peer) for every datagram that has a DNS header."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((args.addr, args.port))
    with open(args.ready, "w") as f:
        f.write("%d\n" % os.getpid())
    while True:
        data, peer = s.recvfrom(4096)
        if len(data) >= 12:
            handle(s, data, peer)


def dns_servfail(args):
    def answer(s, data, peer):
        qid, flags = struct.unpack(">HH", data[:4])
        # QR=1, opcode and RD copied, RA=1, RCODE=2 (SERVFAIL); question echoed
        rflags = 0x8000 | (flags & 0x7900) | 0x0080 | 2
        s.sendto(struct.pack(">HHHHHH", qid, rflags, 1, 0, 0, 0) + data[12:]
                 if struct.unpack(">H", data[4:6])[0] == 1
                 else struct.pack(">HHHHHH", qid, rflags, 0, 0, 0, 0), peer)
    dns_serve(args, answer)


def dns_qname(data):
    """The question's name (lower case) and type number."""
    labels, i = [], 12
    while i < len(data) and data[i] != 0:
        n = data[i]
        labels.append(data[i + 1:i + 1 + n].decode("ascii", "replace").lower())
        i += 1 + n
    qtype = struct.unpack(">H", data[i + 1:i + 3])[0] if i + 3 <= len(data) else 0
    return ".".join(labels), qtype


def dns_delay(args):
    rules = []
    for r in args.rule:
        d, _, secs = r.rpartition(":")
        rules.append((d.lower().strip("."), float(secs)))
    host, _, port = args.upstream.partition(":")
    up = (host, int(port or 53))

    def delay_of(name):
        best = (-1, 0.0)
        for d, secs in rules:
            if (name == d or name.endswith("." + d)) and len(d) > best[0]:
                best = (len(d), secs)
        return best[1]

    def forward(s, data, peer, name, secs):
        time.sleep(secs)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(5)
        try:
            u.sendto(data, up)
            answer = u.recv(65535)
        except OSError as e:
            print("no answer for %s from upstream: %s" % (name, e), flush=True)
            return
        finally:
            u.close()
        s.sendto(answer, peer)
        print("answered %s" % name, flush=True)

    def hold(s, data, peer):
        name, qtype = dns_qname(data)
        secs = delay_of(name)
        name = "%s type=%d" % (name, qtype)
        print("held %s for %g s" % (name, secs), flush=True)
        threading.Thread(target=forward, args=(s, data, peer, name, secs), daemon=True).start()
    dns_serve(args, hold)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("receiver")
    r.add_argument("--addr", required=True)
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--dir", required=True)
    r.add_argument("--cert")
    r.add_argument("--key")
    r.add_argument("--hostname", default="rx.e2e.test")
    r.add_argument("--rcpt-reply")
    r.add_argument("--data-reply", help="answer DATA with this ('451 4.3.0 busy') and store nothing")
    r.add_argument("--auth", help="USER:PASSWORD: AUTH PLAIN/LOGIN required, after STARTTLS")
    r.add_argument("--require-starttls", action="store_true")
    r.add_argument("--no-smtputf8", action="store_true", help="do not offer SMTPUTF8")
    d = sub.add_parser("dns-servfail")
    d.add_argument("--addr", required=True)
    d.add_argument("--port", type=int, default=53)
    d.add_argument("--ready", required=True)
    d = sub.add_parser("dns-delay")
    d.add_argument("--addr", required=True)
    d.add_argument("--port", type=int, default=53)
    d.add_argument("--upstream", required=True, help="IP[:PORT] that answers")
    d.add_argument("--rule", action="append", default=[], help="DOMAIN:SECONDS")
    d.add_argument("--ready", required=True)
    args = p.parse_args()
    if args.cmd == "receiver":
        receiver(args)
    elif args.cmd == "dns-delay":
        dns_delay(args)
    else:
        dns_servfail(args)


if __name__ == "__main__":
    sys.exit(main())
