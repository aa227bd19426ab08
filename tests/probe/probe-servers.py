#!/usr/bin/python3
# probe-servers.py - the SMTP servers tlsmaps probe is tested against (tests/probe).
#
#   probe-servers.py --ready FILE [SERVER...]
#
#   --plain ADDR PORT            aiosmtpd, no STARTTLS
#   --tls ADDR PORT CERT KEY     aiosmtpd offering STARTTLS with that certificate
#   --weak ADDR PORT CERT KEY    the same, limited to TLS 1.2 and AES128-GCM-SHA256
#   --silent ADDR PORT           accepts TCP connections and never says a word
#   --trickle ADDR PORT          sends its banner one byte a second, forever
#   --longline ADDR PORT         multi-line banner, then an EHLO reply line of 10000 bytes
#   --refuse ADDR PORT           offers STARTTLS, then answers it 454
#
# Every option may be repeated. Writes its pid to FILE once everything listens, and
# runs until killed. Run with Debian's /usr/bin/python3 (python3-aiosmtpd).
import argparse
import asyncio
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP


class Handler:
    async def handle_DATA(self, server, session, envelope):
        return "250 2.0.0 Ok"


def tls_context(cert, key, weak):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    if weak:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers("AES128-GCM-SHA256")
    return ctx


def smtp_factory(ctx):
    def factory():
        return SMTP(Handler(), hostname="rx.probe.test", tls_context=ctx,
                    require_starttls=False, ident="probe test receiver")
    return factory


held = []  # silent connections stay open


async def silent(reader, writer):
    held.append(writer)
    await reader.read()  # until the client goes away
    writer.close()


async def trickle(reader, writer):
    try:
        while True:
            for ch in b"220 slow banner\r\n":
                writer.write(bytes([ch]))
                await writer.drain()
                await asyncio.sleep(1)
    except (ConnectionError, OSError):
        pass
    writer.close()


async def longline(reader, writer):
    try:
        writer.write(b"220-probe.test ESMTP\r\n220-second line\r\n220 ready\r\n")
        await writer.drain()
        await reader.readline()
        writer.write(b"250-" + b"x" * 10000 + b"\r\n250 STARTTLS\r\n")
        await writer.drain()
        await reader.read()
    except (ConnectionError, OSError):
        pass
    writer.close()


async def refuse(reader, writer):
    try:
        writer.write(b"220 refuse.probe.test ESMTP\r\n")
        await writer.drain()
        while True:
            line = await reader.readline()
            if not line:
                break
            cmd = line.strip().upper()
            if cmd.startswith(b"EHLO"):
                writer.write(b"250-refuse.probe.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n")
            elif cmd == b"STARTTLS":
                writer.write(b"454 4.7.0 TLS not available due to local problem\r\n")
            elif cmd == b"QUIT":
                writer.write(b"221 2.0.0 Bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(b"502 5.5.2 Error\r\n")
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    writer.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ready", required=True)
    p.add_argument("--plain", nargs=2, action="append", default=[])
    p.add_argument("--tls", nargs=4, action="append", default=[])
    p.add_argument("--weak", nargs=4, action="append", default=[])
    for raw in ("silent", "trickle", "longline", "refuse"):
        p.add_argument("--" + raw, nargs=2, action="append", default=[])
    args = p.parse_args()

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    servers = []

    def listen(factory, addr, port):
        servers.append(loop.run_until_complete(
            loop.create_server(factory, host=addr, port=int(port), reuse_address=True)))

    def listen_raw(cb, addr, port):
        servers.append(loop.run_until_complete(
            asyncio.start_server(cb, host=addr, port=int(port), reuse_address=True)))

    for addr, port in args.plain:
        listen(smtp_factory(None), addr, port)
    for addr, port, cert, key in args.tls:
        listen(smtp_factory(tls_context(cert, key, False)), addr, port)
    for addr, port, cert, key in args.weak:
        listen(smtp_factory(tls_context(cert, key, True)), addr, port)
    for addr, port in args.silent:
        listen_raw(silent, addr, port)
    for addr, port in args.trickle:
        listen_raw(trickle, addr, port)
    for addr, port in args.longline:
        listen_raw(longline, addr, port)
    for addr, port in args.refuse:
        listen_raw(refuse, addr, port)
    with open(args.ready + ".tmp", "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(args.ready + ".tmp", args.ready)
    print("listening: %d servers" % len(servers), flush=True)
    loop.run_forever()


if __name__ == "__main__":
    sys.exit(main())
