#!/usr/bin/python3
"""tests/e2e/fault-load.py - the fault matrix's load generator and counter (lib-fault.sh).

  fault-load.py send --id ID --n N --out FILE.jsonl [--rcpt ADDR]... [--conns K]
      [--client ADDR] [--server HOST:PORT] [--size BYTES] [--subject S]
      [--deadline SECONDS] [--forced DOMAIN,...] [--marked DOMAIN,...]
  fault-load.py window FILE.jsonl T0 T1
  fault-load.py count --jsonl FILE --rx-root DIR --queue FILE --maillog FILE
      --mta postfix|sendmail --row NAME [--gateway RX] [--route DOMAIN=RX]...
      [--report FILE] [--after T] [--settled [--expect-queued DOMAIN]...]

send: N messages over K parallel SMTP sessions from ADDR; each has the Message-ID
<ID.I@fault.test> and "X-Fault-Id: ID.I", recipients round-robin from the --rcpt list.
A 4xx at any stage, or a dropped or refused connection, closes the session and sends
the same message again on a new one 1 s later (as a sending MTA retries), until it is
accepted (2xx after DATA), refused (5xx) or the deadline passes (gave-up). One JSON
line per message: id, rcpt, forced (the domain is in --forced), marked (in --marked:
the milter must mark it "X-TLSLevel: Require"; else "Try"), outcome, qid (from the 250
reply), tries, temps (temporary failures seen), t (when it was accepted, epoch
seconds), replies (the last ones). window: how many were accepted in [T0, T1).

count: the ROW line of FAULT-API.md from the jsonl, every receiver's stored messages
(RX dirs under --rx-root, by X-Fault-Id), the queue (postqueue -j or sendmail -bp
output in --queue, by qid) and the maillog (bounces by qid). Exit 1 when lost,
forced_clear, refused, unmarked or misrouted is non-zero or accepted < sent. With
--settled it prints nothing and exits 0 only when every accepted message is at a
receiver, or queued when its domain is an --expect-queued one. --after T: only the
messages accepted at or after T (epoch seconds) count.
"""
import argparse
import glob
import json
import os
import re
import smtplib
import socket
import sys
import threading
import time

FROM = "alice@corp.e2e.test"


def build_message(mid, rcpt, subject, size):
    lines = [
        "From: Fault Load <%s>" % FROM,
        "To: <%s>" % rcpt,
        "Subject: %s %s" % (subject, mid),
        "Message-ID: <%s@fault.test>" % mid,
        "X-Fault-Id: %s" % mid,
        "Date: %s" % time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
        "",
        "fault matrix message %s" % mid,
    ]
    body = "\r\n".join(lines) + "\r\n"
    pad = "x" * 76 + "\r\n"
    if len(body) < size:  # whole pad lines, at least size bytes, built in one go
        body += pad * -(-(size - len(body)) // len(pad))
    return body


def domain_of(addr):
    return addr.rsplit("@", 1)[-1].lower()


class Sender:
    def __init__(self, a):
        self.a = a
        self.host, port = a.server.rsplit(":", 1)
        self.port = int(port)
        self.lock = threading.Lock()
        self.next = 0
        self.results = [None] * a.n
        self.forced = {d.lower() for d in a.forced.split(",") if d}
        self.marked = {d.lower() for d in a.marked.split(",") if d}
        self.rcpts = a.rcpt or [
            "f1@forced-tls.test", "f2@forced-plain.test", "c1@cidr.test",
            "o1@open-plain.test", "o2@open-tls.test"]
        self.t_end = time.time() + a.deadline

    def take(self):
        with self.lock:
            i = self.next
            self.next += 1
        return i if i < self.a.n else None

    def connect(self):
        c = smtplib.SMTP(timeout=60, source_address=(self.a.client, 0))
        code, msg = c.connect(self.host, self.port)
        if code != 220:
            raise smtplib.SMTPConnectError(code, msg)
        code, msg = c.ehlo("client.fault.test")
        if code != 250:
            raise smtplib.SMTPHeloError(code, msg)
        return c

    @staticmethod
    def close(c):
        if c is None:
            return
        try:
            c.quit()
        except (smtplib.SMTPException, OSError):
            c.close()

    def attempt(self, c, rcpt, body):
        """One try on session c: ('ok'|'temp'|'perm', reply text)."""
        for cmd in ("mail", "rcpt", "data"):
            if cmd == "mail":
                code, msg = c.mail(FROM)
            elif cmd == "rcpt":
                code, msg = c.rcpt(rcpt)
            else:
                try:
                    code, msg = c.data(body)
                except smtplib.SMTPDataError as e:
                    code, msg = e.smtp_code, e.smtp_error
            text = "%s %s %s" % (cmd, code, msg.decode("utf-8", "replace"))
            if 400 <= code < 500 or code == -1:
                return "temp", text
            if code >= 500:
                return "perm", text
            if cmd == "data" and code < 300:
                return "ok", text
        return "perm", text

    def one(self, i, c):
        a = self.a
        mid = "%s.%d" % (a.id, i)
        rcpt = self.rcpts[i % len(self.rcpts)]
        body = build_message(mid, rcpt, a.subject, a.size)
        rec = {"id": mid, "rcpt": rcpt, "forced": domain_of(rcpt) in self.forced,
               "marked": domain_of(rcpt) in self.marked, "outcome": "gave-up",
               "qid": "", "tries": 0, "temps": 0, "t": 0, "replies": []}
        while True:
            rec["tries"] += 1
            try:
                if c is None:
                    c = self.connect()
                kind, text = self.attempt(c, rcpt, body)
            except (smtplib.SMTPException, OSError, socket.timeout) as e:
                kind, text = "temp", "session: %s: %s" % (type(e).__name__, e)
                self.close(c)
                c = None
            rec["replies"] = (rec["replies"] + [text])[-4:]
            if kind == "ok":
                rec["outcome"] = "accepted"
                rec["t"] = round(time.time(), 3)
                m = re.search(r"queued as ([0-9A-Za-z]+)", text) or \
                    re.search(r"data 2\d\d [245]\.\d+\.\d+ ([0-9A-Za-z]{8,}) ", text)
                rec["qid"] = m.group(1) if m else ""
                break
            if kind == "perm":
                rec["outcome"] = "refused"
                try:
                    c.rset()
                except (smtplib.SMTPException, OSError, AttributeError):
                    self.close(c)
                    c = None
                break
            rec["temps"] += 1
            self.close(c)
            c = None
            if time.time() + 1 >= self.t_end:
                break
            time.sleep(1)
        self.results[i] = rec
        return c

    def worker(self):
        c = None
        while True:
            i = self.take()
            if i is None:
                break
            try:
                c = self.one(i, c)
            except Exception as e:  # a bug here must show in the results, not vanish
                print("fault-load: message %d: %s: %s" % (i, type(e).__name__, e),
                      file=sys.stderr, flush=True)
                self.results[i] = {"id": "%s.%d" % (self.a.id, i), "rcpt": "", "forced": False,
                                   "marked": False, "outcome": "gave-up", "qid": "", "tries": 0,
                                   "temps": 0, "t": 0, "replies": ["generator: %s" % e]}
                c = None
        self.close(c)

    def run(self):
        ts = [threading.Thread(target=self.worker) for _ in range(self.a.conns)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        tmp = self.a.out + ".tmp"
        with open(tmp, "w") as f:
            for r in self.results:
                f.write(json.dumps(r) + "\n")
        os.rename(tmp, self.a.out)
        n = {}
        for r in self.results:
            n[r["outcome"]] = n.get(r["outcome"], 0) + 1
        print("fault-load %s: %d messages: %s" % (self.a.id, self.a.n, json.dumps(n)), flush=True)


# --- count -------------------------------------------------------------------------

def headers_of(path):
    """The header section of an .eml, unfolded: a list of (name lowercased, value)."""
    out = []
    with open(path, "rb") as f:
        for raw in f:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if line == "":
                break
            if line[:1] in (" ", "\t") and out:
                out[-1] = (out[-1][0], out[-1][1] + " " + line.strip())
            elif ":" in line:
                k, v = line.split(":", 1)
                out.append((k.strip().lower(), v.strip()))
    return out


def scan_receivers(root, prefix):
    """{fault id: [(rx, tls, [X-TLSLevel values])]} for ids starting with prefix."""
    found = {}
    for meta in glob.glob(os.path.join(root, "*", "mail", "*.meta")):
        rx = meta.split(os.sep)[-3]
        with open(meta) as f:
            tls = "tls=yes" in f.read().split("\n")
        hs = headers_of(meta[:-5] + ".eml")
        fid = [v for k, v in hs if k == "x-fault-id"]
        if not fid or not fid[0].startswith(prefix):
            continue
        levels = [v for k, v in hs if k == "x-tlslevel"]
        found.setdefault(fid[0], []).append((rx, tls, levels))
    return found


def queued_ids(path, mta):
    ids = set()
    try:
        text = open(path, encoding="utf-8", errors="replace").read()
    except OSError:
        return ids
    if mta == "postfix":
        for line in text.splitlines():
            try:
                ids.add(json.loads(line)["queue_id"])
            except (ValueError, KeyError):
                pass
    else:
        for m in re.finditer(r"^([0-9A-Za-z]{8,})[*X-]?\s", text, re.M):
            ids.add(m.group(1))
    return ids


def bounced_ids(path, mta):
    ids = set()
    pat = r"\b([0-9A-Za-z]{6,}): to=<[^>]*>.*status=bounced" if mta == "postfix" \
        else r"\b([0-9A-Za-z]{8,}): to=.*dsn=5\."
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                m = re.search(pat, line)
                if m:
                    ids.add(m.group(1))
    except OSError:
        pass
    return ids


def count(a):
    recs = [json.loads(line) for line in open(a.jsonl) if line.strip()]
    prefix = recs[0]["id"].rsplit(".", 1)[0] + "." if recs else "\0"
    found = scan_receivers(a.rx_root, prefix)
    queued = queued_ids(a.queue, a.mta)
    bounced = bounced_ids(a.maillog, a.mta)
    routes = dict(r.split("=", 1) for r in a.route)
    expect_q = {d.lower() for d in a.expect_queued}
    c = dict.fromkeys(("sent", "accepted", "tempfailed", "refused", "delivered_tls",
                       "delivered_clear", "gateway", "queued", "bounced", "lost",
                       "forced_clear", "unmarked", "misrouted", "dup"), 0)
    problems = []
    settled = True
    for r in recs:
        if a.after and (r["outcome"] != "accepted" or r.get("t", 0) < a.after):
            continue
        c["sent"] += 1
        c["tempfailed"] += r["temps"] > 0
        if r["outcome"] == "refused":
            c["refused"] += 1
            problems.append("%s refused: %s" % (r["id"], r["replies"][-1:]))
        if r["outcome"] != "accepted":
            continue
        c["accepted"] += 1
        seen = found.get(r["id"], [])
        dom = domain_of(r["rcpt"])
        if not seen:
            if r["qid"] and r["qid"] in queued:
                c["queued"] += 1
                settled &= dom in expect_q
            elif r["qid"] and r["qid"] in bounced:
                c["bounced"] += 1
            else:
                c["lost"] += 1
                settled = False
                problems.append("%s (to %s, qid %s) is nowhere" % (r["id"], r["rcpt"], r["qid"]))
            continue
        c["dup"] += len(seen) - 1
        want = "Require" if r["marked"] else "Try"
        for rx, tls, levels in seen:
            c["delivered_tls" if tls else "delivered_clear"] += 1
            c["gateway"] += rx == a.gateway
            if r["forced"] and not tls:
                c["forced_clear"] += 1
                problems.append("%s (forced, to %s) reached %s in clear" % (r["id"], r["rcpt"], rx))
            if levels != [want]:
                c["unmarked"] += 1
                problems.append("%s (to %s) has X-TLSLevel %s, not [%s]" % (r["id"], r["rcpt"], levels, want))
            if dom in routes and rx != routes[dom]:
                c["misrouted"] += 1
                problems.append("%s (to %s) reached %s, not %s" % (r["id"], r["rcpt"], rx, routes[dom]))
    if a.settled:
        return 0 if settled else 1
    row = "ROW %s mta=%s " % (a.row, a.mta) + " ".join("%s=%d" % kv for kv in c.items())
    print(row, flush=True)
    for p in problems[:20]:
        print("  " + p, file=sys.stderr)
    if a.report:
        with open(a.report, "a") as f:
            f.write(row + "\n")
    bad = c["lost"] or c["forced_clear"] or c["refused"] or c["unmarked"] or \
        c["misrouted"] or c["accepted"] < c["sent"]
    return 1 if bad else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send")
    s.add_argument("--id", required=True)
    s.add_argument("--n", type=int, required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--rcpt", action="append", default=[])
    s.add_argument("--conns", type=int, default=4)
    s.add_argument("--client", default="127.0.0.66")
    s.add_argument("--server", default="127.0.0.25:25")
    s.add_argument("--size", type=int, default=0)
    s.add_argument("--subject", default="fault load")
    s.add_argument("--deadline", type=float, default=120)
    s.add_argument("--forced", default="forced-tls.test,forced-plain.test,cidr.test")
    s.add_argument("--marked", default="forced-tls.test,forced-plain.test")
    k = sub.add_parser("count")
    k.add_argument("--jsonl", required=True)
    k.add_argument("--rx-root", required=True)
    k.add_argument("--queue", required=True)
    k.add_argument("--maillog", required=True)
    k.add_argument("--mta", choices=("postfix", "sendmail"), default="postfix")
    k.add_argument("--row", default="row")
    k.add_argument("--gateway", default="127.0.0.30_10025")
    k.add_argument("--route", action="append", default=[])
    k.add_argument("--report", default="")
    k.add_argument("--settled", action="store_true")
    k.add_argument("--after", type=float, default=0)
    k.add_argument("--expect-queued", action="append", default=[])
    w = sub.add_parser("window")
    w.add_argument("jsonl")
    w.add_argument("t0", type=float)
    w.add_argument("t1", type=float)
    a = p.parse_args()
    if a.cmd == "window":
        n = sum(1 for line in open(a.jsonl) if line.strip() and
                a.t0 <= json.loads(line)["t"] < a.t1)
        print(n)
        return 0
    if a.cmd == "send":
        Sender(a).run()
        return 0
    return count(a)


if __name__ == "__main__":
    sys.exit(main())
