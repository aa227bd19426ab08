#!/usr/bin/env python3
"""metrics.py - scrape and abuse a forcetls metrics endpoint (e2e.metrics).

usage:
  metrics.py scrape HOST PORT OUT     GET /metrics; the body to OUT; exit 1 unless a 200
                                      with Content-Type text/plain; version=0.0.4
  metrics.py value FILE SERIES        print the value of SERIES ('name{a="b"}' as written
                                      in the exposition); exit 1 when it is not there
  metrics.py abuse HOST PORT SECONDS  misbehave for about SECONDS: slow clients (a byte
                                      every 0.5 s), more idle clients than the listener
                                      keeps, an oversized request, garbage, a wrong
                                      method and path; exit 1 unless every answer is the
                                      documented one and good scrapes keep working
                                      meanwhile, each within 1 s
"""
import socket
import sys
import threading
import time


def request(host, port, data, timeout=3.0):
    """Send data, read until the server closes; the whole answer (bytes)."""
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        while True:
            b = s.recv(65536)
            if not b:
                return out
            out += b
    finally:
        s.close()


def scrape(host, port):
    t0 = time.monotonic()
    a = request(host, port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: text/plain\r\n\r\n")
    head, _, body = a.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/1.1 200 "):
        raise SystemExit("scrape: %r" % lines[0])
    ctype = [l for l in lines if l.lower().startswith("content-type:")]
    if not ctype or "text/plain; version=0.0.4" not in ctype[0]:
        raise SystemExit("scrape: content type %r" % ctype)
    clen = [l for l in lines if l.lower().startswith("content-length:")]
    if not clen or int(clen[0].split(":")[1]) != len(body):
        raise SystemExit("scrape: content length %r, body %d bytes" % (clen, len(body)))
    return body, time.monotonic() - t0


def value(path, series):
    for line in open(path, encoding="utf-8"):
        if line.startswith(series + " "):
            return line.split(" ", 1)[1].strip()
    return None


def status_of(answer):
    return answer.split(b"\r\n", 1)[0].decode("latin-1")


def slow_client(host, port, results, i):
    """A byte every 0.5 s of a request that would be valid: the server must hang up."""
    s = socket.create_connection((host, port), timeout=10)
    t0 = time.monotonic()
    req = b"GET /metrics HTTP/1.1\r\nHost: slow\r\n\r\n"
    try:
        for b in req:
            s.sendall(bytes([b]))
            time.sleep(0.5)
        got = s.recv(100)  # the server hung up long before the end
        results[i] = ("finished", got, time.monotonic() - t0)
    except (BrokenPipeError, ConnectionResetError):
        results[i] = ("closed", b"", time.monotonic() - t0)
    except socket.timeout:
        results[i] = ("timeout", b"", time.monotonic() - t0)
    finally:
        s.close()


def abuse(host, port, seconds):
    fails = []
    results = {}
    slow = [threading.Thread(target=slow_client, args=(host, port, results, i)) for i in range(3)]
    for t in slow:
        t.start()
    worst = 0.0
    end = time.monotonic() + seconds
    while time.monotonic() < end:  # good scrapes keep working meanwhile
        _, took = scrape(host, port)
        worst = max(worst, took)
        time.sleep(0.2)
    for t in slow:
        t.join(30)
    # more idle clients than METRICS_MAX_CLIENTS (8): the oldest goes, scrapes still work
    idle = [socket.create_connection((host, port)) for _ in range(20)]
    _, took = scrape(host, port)
    worst = max(worst, took)
    if worst > 1.0:
        fails.append("a scrape took %.2f s while clients misbehaved" % worst)
    cases = [
        # oversized: a 400, or a reset when the server closes with bytes unread
        (b"G" * 5000, "HTTP/1.1 400 |(reset)"),
        (b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 3000 + b"\r\n\r\n", "HTTP/1.1 400 |(reset)"),
        (b"\x00\xff\xfe garbage\r\n\r\n", "HTTP/1.1 400 "),
        (b"hello\r\n\r\n", "HTTP/1.1 400 "),
        (b"GET /metrics HTTP/9.9\r\n\r\n", "HTTP/1.1 400 "),
        (b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 405 "),
        (b"GET /other HTTP/1.1\r\n\r\n", "HTTP/1.1 404 "),
        (b"GET /metricsx HTTP/1.0\r\n\r\n", "HTTP/1.1 404 "),
        (b"GET /metrics?x=1 HTTP/1.0\n\n", "HTTP/1.1 200 "),
    ]
    for data, want in cases:
        try:
            got = status_of(request(host, port, data))
        except ConnectionResetError:
            got = "(reset)"
        if not any(got.startswith(w) for w in want.split("|")):
            fails.append("%r: %r, expected %r" % (data[:40], got, want))
        else:
            print("ok %r -> %s" % (data[:40], got))
    for i, (how, got, took) in sorted(results.items()):
        # METRICS_TIMEOUT_MS is 2 s: the slow client is cut off, without an answer
        if (how == "finished" and got.startswith(b"HTTP/1.1 200")) or not 1.5 < took < 4:
            fails.append("slow client %d: %s after %.1f s" % (i, how, took))
        else:
            print("ok slow client %d: %s after %.1f s" % (i, how, took))
    for s in idle:
        s.close()
    _, took = scrape(host, port)
    print("ok scrape after the abuse: %.3f s" % took)
    for f in fails:
        print("FAIL " + f)
    return 1 if fails else 0


def main(argv):
    if len(argv) == 5 and argv[1] == "scrape":
        body, _ = scrape(argv[2], int(argv[3]))
        open(argv[4], "wb").write(body)
        return 0
    if len(argv) == 4 and argv[1] == "value":
        v = value(argv[2], argv[3])
        if v is None:
            print("%s: no series %s" % (argv[2], argv[3]), file=sys.stderr)
            return 1
        print(v)
        return 0
    if len(argv) == 5 and argv[1] == "abuse":
        return abuse(argv[2], int(argv[3]), float(argv[4]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
