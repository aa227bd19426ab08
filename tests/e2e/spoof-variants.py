#!/usr/bin/python3
# spoof-variants.py - the spoofing variants of t-spoof-postfix.sh and t-spoof-sendmail.sh,
# and their checker: one list, used by both tests.
#
#   spoof-variants.py plan --conf FORCETLS.CONF --out PLAN.json [--clients K,K...]
#       Every header the milter owns or trusts, named as the test's forcetls.conf names
#       it (milter.tls_header and its two values, the trigger, success and failure
#       headers of encryption and decryption, milter.backup_header, and RFC 8689's
#       TLS-Required), crossed with every variant family (VARIANTS below), into
#       messages for these kinds of client (--clients; the first three by default):
#         inbound   127.0.0.77 -> open-plain.test: none of these headers may arrive;
#         internal  127.0.0.66 -> forced-tls.test: exactly one "X-TLSLevel: Require",
#                   first, over TLS, none of the client's copies;
#         open      127.0.0.66 -> open-tls.test, every header but X-TLSLevel and
#                   TLS-Required (an internal client may ask for Require, and keep
#                   TLS-Required on mail that is not forced): exactly one
#                   "X-TLSLevel: Try", first: no spoofed status, trigger or backup
#                   header changes the milter's decision;
#         gateway   127.0.0.30 -> open-tls.test: the gateway's exact failure header
#                   among every variant of every header, success copies included:
#                   exactly "X-TLSLevel: Require", first, over TLS (on_encrypt_failure
#                   "tls"; no success copy releases it); its status headers stay;
#       and one message from the internal client to forced-plain.test carrying every
#       X-TLSLevel "Try" variant: it must stay queued (the test checks the queue).
#       One message per client and family holds every header's variants of that family
#       (position and 1000 copies: one message per header).
#
#   spoof-variants.py send --plan PLAN.json --mta ADDR --client KIND --addr ADDR --out F
#       Sends KIND's messages in one SMTP session from ADDR (smtplib), raw bytes as
#       planned (a new session after a refused message); writes the replies (one line
#       per message: ID CODE TEXT) to F.
#
#   spoof-variants.py check --plan PLAN.json --mta NAME [--sent F]... [--allow-refused
#                           FAMILY]... RXDIR... [--asis]
#       Reads what the receivers stored (NNNN.eml, NNNN.meta) and judges each message
#       by its header section as a mail reader parses it: a field whose name (before
#       the colon, blanks before the colon dropped) equals the header's name ignoring
#       case is a copy. Prints "SPOOF mta=NAME header=H variant=F sent=N survived=S"
#       per header and family, then "SPOOF-TOTAL ...". Exit 1 when any copy survived,
#       a message is missing, arrived twice or at the wrong receiver, did not come
#       over TLS when it had to, or lacks the milter's own header first, or when the
#       MTA refused a message (the --sent replies) of a family not allowed to be
#       refused (Sendmail refuses a bare LF or CR in headers); a refused message must not
#       arrive, and its copies are counted as "refused=N" on the family's line.
#       --asis checks the planned messages themselves (as if no milter had run): then
#       every copy that parses as the header must count as survived; exit 1 otherwise.
#       It shows that the checker sees each variant it claims to test.
import argparse
import base64
import json
import os
import re
import smtplib
import sys
import time

CLIENTS = {
    "inbound": {"from": "mallory@evil.e2e.test", "domain": "open-plain.test",
                "rx": "127.0.0.2_25", "tls": False, "level": None},
    "internal": {"from": "alice@corp.e2e.test", "domain": "forced-tls.test",
                 "rx": "127.0.0.3_25", "tls": True, "level": "require"},
    "open": {"from": "alice@corp.e2e.test", "domain": "open-tls.test",
             "rx": "127.0.0.3_25", "tls": None, "level": "try"},
    # The gateway's return (Postfix only: Sendmail holds a Require it cannot enforce):
    # its own failure header, exactly as configured, among the variants of everything;
    # none of the success copies may release it: "X-TLSLevel: Require" first, over TLS.
    # Its status headers are its own and stay (not judged); the rest must go.
    "gateway": {"from": "gateway@gateway.test", "domain": "open-tls.test",
                "rx": "127.0.0.3_25", "tls": True, "level": "require"},
}


def conf_header(text, key, default):
    m = re.search(r'^\s*%s\s*=\s*"([^"]*)"\s*;' % re.escape(key), text, re.M)
    return m.group(1) if m else default


def owned_headers(conf):
    """[(name, [values...])]: every header the milter owns or trusts, once per name."""
    text = open(conf, encoding="utf-8").read()
    tls = conf_header(text, "tls_header", "X-TLSLevel")
    hs = [(tls, conf_header(text, "tls_require_value", "Require")),
          (tls, conf_header(text, "tls_try_value", "Try"))]
    for key, dflt in (("encrypt_header", "X-Encrypt: yes"),
                      ("encrypt_success_header", "X-Encrypt-Status: success"),
                      ("encrypt_failure_header", "X-Encrypt-Status: failure"),
                      ("decrypt_header", "X-Decrypt: yes"),
                      ("decrypt_success_header", "X-Decrypt-Status: success"),
                      ("decrypt_failure_header", "X-Decrypt-Status: failure"),
                      ("backup_header", "X-TLS-Backup: gateway")):
        v = conf_header(text, key, dflt)
        if v:
            n, _, val = v.partition(":")
            hs.append((n.strip(), val.strip()))
    hs.append(("TLS-Required", "no"))
    out = {}
    for n, v in hs:
        out.setdefault(n.lower(), (n, []))[1].append(v)
    return list(out.values()), tls


def mixed(s):
    return "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(s))


def b(s):
    return s.encode("utf-8") if isinstance(s, str) else s


# Each family: name, values -> list of raw header lines (bytes, CRLF-terminated unless
# the family is about line ends). "Name" below is the header's configured name.
def v_case(n, vals):
    v = vals[0]
    return [b("%s: %s\r\n" % (x, v)) for x in (n, n.lower(), n.upper(), mixed(n))]


def v_value(n, vals):
    out = []
    for v in vals:
        for x in (v, v.lower(), v.upper(), mixed(v), " %s " % v, "\t%s\t" % v,
                  "%s;junk" % v, "%s junk" % v, "%s, %s" % (v, v), '"%s"' % v):
            out.append(b("%s: %s\r\n" % (n, x)))
    return out


def v_folded(n, vals):
    v = vals[0]
    h = len(v) // 2
    return [b(x) for x in (
        "%s:\r\n %s\r\n" % (n, v),                        # two lines, CRLF + space
        "%s:\r\n\t%s\r\n" % (n, v),                       # two lines, CRLF + tab
        "%s: %s\r\n %s\r\n" % (n, v[:h], v[h:]),          # the value cut in two
        "%s:\r\n \r\n %s\r\n" % (n, v),                   # three lines, a blank one
        "%s:\r\n\t%s\r\n\t%s\r\n" % (n, v[:h], v[h:]),    # three lines, tabs
        "%s: %s\r\n  \t\r\n %s\r\n" % (n, v, v),          # three lines, mixed
    )]


def v_bare_eol(n, vals):
    v = vals[0]
    return [b(x) for x in (
        "%s: %s\n" % (n, v),
        "%s:\n %s\n" % (n, v),
        "%s:\n\t%s\r\n" % (n, v),
        "%s: %s\n \n\t%s\n" % (n, v, v),
        "%s: %s\rjunk\r\n" % (n, v),                      # a bare CR in the value
    )]


def v_colon_ws(n, vals):
    v = vals[0]
    return [b(x) for x in (
        "%s : %s\r\n" % (n, v), "%s\t: %s\r\n" % (n, v), "%s \t :%s\r\n" % (n, v),
        "%s:%s\r\n" % (n, v), "%s:\t\t%s\r\n" % (n, v), "%s  :  %s  \r\n" % (n.lower(), v),
    )]


def v_encoded(n, vals):
    out = []
    for v in vals:
        q = "=?utf-8?q?%s?=" % v
        out += [b("%s: %s\r\n" % (n, x)) for x in (
            q, "=?UTF-8?Q?%s?=" % v,
            "=?utf-8?b?%s?=" % base64.b64encode(b(v)).decode(),
            "=?iso-8859-1?q?%s?=" % v, "%s %s" % (q, q),
            "=?utf-8*en?q?%s?=" % v, "=?us-ascii?q?%s?=" % "".join("=%02X" % ord(c) for c in v))]
    # The name as an encoded word: a different field name, never the header (the
    # checker must find 0 copies in the raw message too).
    out.append(b("=?utf-8?q?%s?=: %s\r\n" % (n, vals[0])))
    return out


def v_empty(n, vals):
    return [b(x) for x in ("%s:\r\n" % n, "%s: \r\n" % n, "%s:\t\r\n" % n,
                           "%s:\r\n \r\n" % n, "%s: \r\n\t\r\n" % n)]


def v_bytes(n, vals):
    v = b(vals[0])
    nb = b(n)
    return [nb + b": " + v + b"\x00junk\r\n", nb + b": \x00" + v + b"\r\n",
            nb + b": " + v + b"\xff\r\n", nb + b": " + v + "é".encode() + b"\r\n",
            nb + b": \xe2\x80\x8b" + v + b"\r\n",          # a zero-width space first
            nb + b":\x00" + v + b"\r\n",
            nb + b"\x00: " + v + b"\r\n",                 # NUL before the colon: a C
            nb + b"\x00junk: " + v + b"\r\n",             # string would read the name
            nb + "é".encode() + b": " + v + b"\r\n"]        # 8-bit name: another field


def v_long(size):
    """One copy whose value is about size bytes, folded every 70: past the milter's kept
    value (512), Sendmail's MaxHeadersLength (32 KB) or libmilter's 64 KB packet."""
    def f(n, vals):
        words = [(vals[0] + " ") * 10] * (size // (len(vals[0]) * 10 + 10) + 1)
        return [b("%s: %s\r\n" % (n, "\r\n ".join(w.rstrip() for w in words)))]
    return f


def v_dup(count):
    def f(n, vals):
        names = (n, n.lower(), n.upper(), mixed(n))
        return [b("%s: %s\r\n" % (names[i % 4], vals[i % len(vals)] if i % 3 else
                                  "%s-%d" % (vals[0], i))) for i in range(count)]
    return f


# family -> (lines(name, values), one message per header?)
VARIANTS = [
    ("case", v_case, False),
    ("value", v_value, False),
    ("folded", v_folded, False),
    ("bare-eol", v_bare_eol, False),
    ("colon-ws", v_colon_ws, False),
    ("encoded", v_encoded, False),
    ("empty", v_empty, False),
    ("bytes", v_bytes, False),
    ("long", v_long(4000), False),
    ("huge", v_long(70000), True),     # one message per header
    ("dup2", v_dup(2), False),
    ("dup10", v_dup(10), False),
    ("dup65", v_dup(65), False),       # past MSG_MAX_SEEN (64) copies kept per kind
    ("dup1000", v_dup(1000), True),
    ("leading-ws", None, True),        # " Name: v" as the first line of the message
    ("position", None, True),          # first header, in the middle, the last line (no body)
]


def rfc_field(line):
    """Is the line a field an MTA reads as one (RFC 5322 name, blanks before the colon)?
    Any other line (a NUL or an 8-bit byte in the name) ends the header section there."""
    name, colon, _ = line.partition(b":")
    name = name.rstrip(b" \t")
    return bool(colon and name and all(33 <= c <= 126 for c in name))


FAMILIES = [f for f, _, _ in VARIANTS] + ["forced-try"]


def message(mid, fr, to, fam, first, middle, last, broken=()):
    head = [b"From: <%s>\r\n" % b(fr), b"To: <%s>\r\n" % b(to),
            b"Subject: spoof %s\r\n" % b(fam),
            b"Message-ID: <%s@spoof.e2e.test>\r\n" % b(mid)]
    mid_hdr = [b"X-Spoof-Id: %s\r\n" % b(mid), b"Date: Wed, 02 Dec 2026 08:00:00 +0000\r\n"]
    body = b"\r\nspoof test %s\r\n" % b(mid)
    end = [b"X-Spoof-End: %s\r\n" % b(mid)]
    if fam == "position":  # the last copy is the message's last line: no body at all
        return b"".join(first + head + middle + mid_hdr + end + last)
    return b"".join(first + head + middle + mid_hdr + last + end + list(broken)) + body


def plan(args):
    headers, tls = owned_headers(args.conf)
    msgs = []
    text = open(args.conf, encoding="utf-8").read()
    failure = conf_header(text, "encrypt_failure_header", "X-Encrypt-Status: failure")
    status = [conf_header(text, k, d).partition(":")[0].strip().lower() for k, d in (
        ("encrypt_success_header", "X-Encrypt-Status: success"),
        ("encrypt_failure_header", "X-Encrypt-Status: failure"),
        ("decrypt_success_header", "X-Decrypt-Status: success"),
        ("decrypt_failure_header", "X-Decrypt-Status: failure"))]
    for kind, cl in CLIENTS.items():
        if kind not in args.clients.split(","):
            continue
        hs = [(n, v) for n, v in headers
              if kind != "open" or n.lower() not in (tls.lower(), "tls-required")]
        kept = [n for n, _ in hs if kind == "gateway" and n.lower() in status]
        for fam, fn, per_header in VARIANTS:
            if fam in (args.skip or []):
                continue
            if kind == "gateway" and fam == "leading-ws":
                continue  # its failure header would be body too: nothing to judge
            groups = [[h] for h in hs] if per_header else [hs]
            for gi, group in enumerate(groups):
                mid = "sp-%s-%s%s" % (kind, fam, "-%d" % gi if per_header else "")
                first, middle, last, broken, sent = [], [], [], [], {}
                for n, vals in group:
                    if fam == "position":
                        lines = [b("%s: %s\r\n" % (n, vals[0]))] * 3
                        first, middle, last = [lines[0]], [lines[1]], [lines[2]]
                    elif fam == "leading-ws":
                        # The message's first line starts with a blank: a continuation
                        # of nothing (the MTA's own Received: comes before it).
                        lines = [b(" \t%s: %s\r\n" % (n, vals[0]))]
                        first = lines
                    else:
                        lines = fn(n, vals)
                        # A line that is no field (an 8-bit name) ends the header
                        # section in the MTA: it goes last, after every other copy.
                        broken += [l for l in lines if not rfc_field(l)]
                        middle += [l for l in lines if rfc_field(l)]
                    if n not in kept:
                        sent[n] = len(lines)
                if kind == "gateway":
                    middle.insert(0, b(failure + "\r\n"))
                # NUL names before 8-bit ones: Sendmail drops the NUL and keeps the
                # field (the milter must see it), an 8-bit name ends the section.
                broken.sort(key=lambda l: any(c >= 0x80 for c in l.partition(b":")[0]))
                to = "%s@%s" % (mid, cl["domain"])
                raw = message(mid, cl["from"], to, fam, first, middle, last, broken)
                msgs.append({"id": mid, "client": kind, "family": fam, "from": cl["from"],
                             "to": to, "rx": cl["rx"], "tls": cl["tls"],
                             "level": cl["level"], "sent": sent, "kept": kept,
                             "raw": base64.b64encode(raw).decode()})
    # Every Try variant of X-TLSLevel to a forced domain whose MX has no STARTTLS: it
    # must stay queued (the shell test checks), never arrive at mx.plain.test.
    tryv = [v for n, v in headers if n == tls][0][1:]
    lines = []
    for fam, fn, _ in VARIANTS[:8]:
        if fam != "bare-eol":  # Sendmail refuses those whole; the others must reach the queue
            lines += fn(tls, tryv)
    raw = message("sp-forced-try", "alice@corp.e2e.test", "sp-forced-try@forced-plain.test",
                  "forced-try", [], [l for l in lines if rfc_field(l)], [],
                  [l for l in lines if not rfc_field(l)])
    msgs.append({"id": "sp-forced-try", "client": "internal", "family": "forced-try",
                 "from": "alice@corp.e2e.test", "to": "sp-forced-try@forced-plain.test",
                 "rx": None, "tls": None, "level": None, "sent": {tls: len(lines)},
                 "raw": base64.b64encode(raw).decode()})
    json.dump({"tls_header": tls, "headers": [n for n, _ in headers],
               "values": {n: v for n, v in headers}, "messages": msgs},
              open(args.out, "w"), indent=1)
    counts = {}
    for m in msgs:
        counts[m["rx"]] = counts.get(m["rx"], 0) + 1
    for rx, n in sorted(counts.items(), key=lambda x: str(x[0])):
        print("%s %d" % (rx or "queued", n))


def connect(args):
    """A session, retried for up to 60 s (Sendmail refuses connections while the load
    average is above its RefuseLA)."""
    for i in range(60):
        try:
            s = smtplib.SMTP(args.mta, 25, source_address=(args.addr, 0), timeout=60)
            code, _ = s.ehlo("spoof-%s.e2e.test" % args.client)
            if code == 250:
                return s
            s.close()
        except (OSError, smtplib.SMTPException):
            pass
        time.sleep(1)
    raise SystemExit("spoof-variants.py: no SMTP session with %s" % args.mta)


def send(args):
    """One session for all; a refused message is written down with its reply, and after
    a 421 (the MTA dropped the session) the next one goes in a new session."""
    p = json.load(open(args.plan))
    out = open(args.out, "w")
    s = connect(args)
    for m in p["messages"]:
        if m["client"] != args.client:
            continue
        raw = base64.b64decode(m["raw"])
        try:
            code, text = s.mail(m["from"])
            if code == 250:
                code, text = s.rcpt(m["to"])
            if code in (250, 251):
                code, text = s.data(raw)
        except smtplib.SMTPServerDisconnected as e:
            code, text = 421, b"disconnected: " + str(e).encode()
        out.write("%s %d %s\n" % (m["id"], code, text.decode("utf-8", "replace").replace("\n", " ")))
        if code == 421:
            s.close()
            s = connect(args)
        elif code != 250:
            try:
                s.rset()
            except smtplib.SMTPException:
                s.close()
                s = connect(args)
    s.quit()
    out.close()
    return 0


def read_sent(files):
    """{message id: (code, text)} from the send runs."""
    r = {}
    for f in files:
        for l in open(f, encoding="utf-8", errors="replace"):
            mid, code, text = (l.rstrip("\n").split(" ", 2) + ["", ""])[:3]
            r[mid] = (int(code), text)
    return r


def header_fields(raw):
    """[(name_lower, unfolded line bytes)] of the header section, as a reader parses it:
    lines end at LF (a CR before it dropped), a line starting with space or tab continues
    the field before (a first line that starts with one is read as a field itself,
    stricter than a reader), the section ends at the first empty line. A name ends at a NUL, as
    it does for a reader in C (stricter: "X-TLSLevel\\0junk:" counts). A line that is neither a
    field nor a continuation is skipped, and the section goes on (stricter than a
    reader, which would end it there: nothing after it escapes the count)."""
    fields = []
    for line in raw.split(b"\n"):
        line = line[:-1] if line.endswith(b"\r") else line
        if line == b"":
            break
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1][1] += b"\r\n" + line
            continue
        line = line.lstrip(b" \t")  # a continuation of nothing: read as a field
        name, colon, _ = line.partition(b":")
        name = name.split(b"\x00")[0].rstrip(b" \t")  # where a C string ends it
        if colon and name and all(33 <= c <= 126 for c in name):
            fields.append([name.decode("ascii").lower(), line])
        else:
            fields.append(["", line])
    return fields


def read_rx(dirs):
    got = {}
    for d in dirs:
        rx = os.path.basename(os.path.dirname(d.rstrip("/"))) if d.rstrip("/").endswith("mail") \
            else os.path.basename(d.rstrip("/"))
        if not os.path.isdir(d):
            continue
        for f in sorted(os.listdir(d)):
            if not f.endswith(".meta"):
                continue
            meta = {}
            for l in open(os.path.join(d, f), encoding="utf-8", errors="replace"):
                k, _, v = l.rstrip("\n").partition("=")
                meta.setdefault(k, []).append(v)
            raw = open(os.path.join(d, f[:-5] + ".eml"), "rb").read()
            for r in meta.get("rcpt", []):
                got.setdefault(r.lower(), []).append((rx, meta, raw))
    return got


def check(args):
    p = json.load(open(args.plan))
    tls = p["tls_header"]
    want = {"require": "%s: %s" % (tls, p["values"][tls][0]),
            "try": "%s: %s" % (tls, p["values"][tls][1])}
    got = {} if args.asis else read_rx(args.rxdirs)
    replies = read_sent(args.sent or [])
    sent, surv, refused, errors = {}, {}, {}, []
    for m in p["messages"]:
        raw = base64.b64decode(m["raw"])
        code, text = replies.get(m["id"], (0, "not sent") if not args.asis else (250, ""))
        if code != 250:
            # Refused whole: nothing of it may arrive, and only where the test allows.
            for n in p["headers"]:
                key = (n, m["family"])
                refused[key] = refused.get(key, 0) + m["sent"].get(n, 0)  # kept: not in sent
            if m["family"] not in (args.allow_refused or []):
                errors.append("%s: refused by the MTA: %d %s" % (m["id"], code, text))
            if m["to"].lower() in got:
                errors.append("%s: refused (%d) but delivered" % (m["id"], code))
            continue
        if m["rx"] is None:
            if not args.asis and m["to"].lower() in got:
                errors.append("%s: delivered (%s), must stay queued" % (m["id"], got[m["to"].lower()][0][0]))
            continue
        if args.asis:
            arrived = raw
        else:
            copies = got.get(m["to"].lower(), [])
            if len(copies) != 1:
                errors.append("%s: arrived %d times, expected once" % (m["id"], len(copies)))
                continue
            rx, meta, arrived = copies[0]
            if rx != m["rx"]:
                errors.append("%s: arrived at %s, expected %s" % (m["id"], rx, m["rx"]))
            if m["tls"] and meta.get("tls", [""])[0] != "yes":
                errors.append("%s: not delivered over TLS" % m["id"])
        fields = header_fields(arrived)
        # The MTA read every planned copy as a header (none was pushed into the body):
        # the field after the last of them arrived in the header section.
        # (A first line that starts with a blank may end it before anything: Postfix
        # then makes the whole message body.)
        if m["family"] != "leading-ws" and \
                not any(f[1] == b"X-Spoof-End: " + b(m["id"]) for f in fields):
            errors.append("%s: no X-Spoof-End in the header section: the MTA ended it early" % m["id"])
        own = None
        if m["level"] and not args.asis:
            if not fields or fields[0][1].decode("latin-1") != want[m["level"]]:
                errors.append("%s: the first header is %r, expected %r" % (
                    m["id"], fields[0][1][:80] if fields else None, want[m["level"]]))
            else:
                own = 0
        for n in p["headers"]:
            if n in m.get("kept", []):
                continue
            key = (n, m["family"])
            sent[key] = sent.get(key, 0) + m["sent"].get(n, 0)
            found = [i for i, f in enumerate(fields) if f[0] == n.lower() and i != own]
            surv[key] = surv.get(key, 0) + len(found)
            if args.asis:
                need = m["sent"].get(n, 0)
                need -= names_not_header(m["family"]) if need else 0
                if len(found) != need:
                    errors.append("%s: --asis: %s: %d copies parse as the header, expected %d"
                                  % (m["id"], n, len(found), need))
                continue
            for i in found:
                errors.append("%s: survived: %r" % (m["id"], fields[i][1][:100]))
    total_s = total_v = 0
    total_r = 0
    for key in refused:
        sent.setdefault(key, 0)
        surv.setdefault(key, 0)
    for (n, fam), s in sorted(sent.items(), key=lambda x: (p["headers"].index(x[0][0]), FAMILIES.index(x[0][1]))):
        r = refused.get((n, fam), 0)
        if s == 0 and r == 0:
            continue
        print("SPOOF mta=%s header=%s variant=%s sent=%d survived=%d%s" % (
            args.mta, n, fam, s + r, surv[(n, fam)], " refused=%d" % r if r else ""))
        total_s += s + r
        total_v += surv[(n, fam)]
        total_r += r
    print("SPOOF-TOTAL mta=%s messages=%d sent=%d survived=%d refused=%d" % (
        args.mta, len(p["messages"]), total_s, total_v, total_r))
    for e in errors[:40]:
        print("FAIL: " + e, file=sys.stderr)
    if len(errors) > 40:
        print("FAIL: ... and %d more" % (len(errors) - 40), file=sys.stderr)
    if args.asis:
        # Every copy that parses as the header must be counted; only the name variants
        # (an encoded word or an 8-bit byte in the name) are other fields.
        return 1 if errors or total_v == 0 else 0
    return 1 if errors or total_v else 0


def names_not_header(family):
    """Copies per header and message that are, by design, another field's name (the
    encoded word, the 8-bit byte in the name)."""
    return {"encoded": 1, "bytes": 1}.get(family, 0)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("plan")
    a.add_argument("--conf", required=True)
    a.add_argument("--out", required=True)
    a.add_argument("--clients", default="inbound,internal,open",
                   help="the client kinds, comma-separated (also: gateway)")
    a.add_argument("--skip", action="append", metavar="FAMILY", help="leave a family out")
    a = sub.add_parser("send")
    a.add_argument("--plan", required=True)
    a.add_argument("--mta", required=True)
    a.add_argument("--client", required=True, choices=sorted(CLIENTS))
    a.add_argument("--addr", required=True)
    a.add_argument("--out", required=True)
    a = sub.add_parser("check")
    a.add_argument("--plan", required=True)
    a.add_argument("--mta", required=True)
    a.add_argument("--asis", action="store_true")
    a.add_argument("--sent", action="append", help="a send run's replies (repeatable)")
    a.add_argument("--allow-refused", action="append", metavar="FAMILY",
                   help="a family the MTA may refuse whole (repeatable)")
    a.add_argument("rxdirs", nargs="*")
    args = ap.parse_args()
    return {"plan": plan, "send": send, "check": check}[args.cmd](args) or 0


if __name__ == "__main__":
    sys.exit(main())
