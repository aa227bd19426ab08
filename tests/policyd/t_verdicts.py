#!/usr/bin/env python3
"""The golden verdicts of the decision core, asked of the real forcetls-policyd.

usage: t_verdicts.py POLICYD_BINARY GOLDEN_DIR

tests/golden/verdicts.sessions describes SMTP sessions; tlsmaps verdict
(tests/golden/run-golden.sh) pins the core's verdict for each one in
verdicts.ref. This test sends each inbound session to the real daemon as
Postfix's policy delegation would, over its policy socket, and checks that the
daemon answers that same verdict: PASS is DUNNO, REFUSE the inbound_reply (and
a reject line naming the same entry and reason), TEMP 451 4.3.0 (and a defer
line). cn=NAME is ccert_subject (Postfix sends the CN, and only for a
verified certificate); sessions with Sendmail's dn= are skipped here and
played by the milter's test. Sessions with exempt_internal=no or exempt_authenticated=no run against
a daemon configured so. For the recipient cases the domain is asked of the
socketmap: FORCED must answer a mandatory level, NOT_FORCED NOTFOUND or a
weaker one, ERROR TEMP.
"""
import os
import re
import sys
import unittest

from policyd_client import Daemon, Policy, Socketmap, read_netstring

BINARY = None
GOLDEN = None
REFUSE_REPLY = "450 4.7.0 TLS is required for this session"
MANDATORY = ("encrypt", "dane-only", "fingerprint", "verify", "secure")


def unescape(v):
    """%XX in a value of verdicts.sessions is byte XX (cmd_verdict.c)."""
    return re.sub(rb"%([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), v)


def sessions():
    with open(os.path.join(GOLDEN, "verdicts.sessions"), "rb") as f:
        for line in f:
            line = line.rstrip(b"\r\n")
            if not line or line.startswith(b"#"):
                continue
            words = {}
            for w in line.split():
                k, _, v = w.partition(b"=")
                words.setdefault(k.decode(), []).append(unescape(v))
            yield words


def expected():
    """LABEL -> (VERDICT, ENTRY KEY or None, ENTRY LINE or None, WHY), from verdicts.ref."""
    want = {}
    with open(os.path.join(GOLDEN, "verdicts.ref"), "rb") as f:
        for line in f:
            parts = line.rstrip(b"\n").split(b"\t")
            if len(parts) != 4:
                continue
            label, verdict, entry, why = (p.decode("utf-8", "replace") for p in parts)
            key = line_no = None
            if entry != "-":
                key, _, loc = entry.partition(" (")
                line_no = loc.rstrip(")").rsplit(":", 1)[1]
            want[label] = (verdict, key, line_no, why)
    return want


def request(words, qid):
    one = lambda k: words[k][0] if k in words else None
    attrs = [(b"request", b"smtpd_access_policy"), (b"protocol_state", b"RCPT"),
             (b"queue_id", qid.encode())]
    for word, attr in (("addr", b"client_address"), ("name", b"client_name"),
                       ("sender", b"sender"), ("tls", b"encryption_protocol"),
                       ("bits", b"encryption_keysize")):
        if one(word) is not None:
            attrs.append((attr, one(word)))
    if one("verified") == b"yes":
        attrs.append((b"ccert_subject", one("cn")))  # the CN, only for a verified one
    for attr, digest in zip((b"ccert_fingerprint", b"ccert_pubkey_fingerprint"),
                            words.get("digest", [])):
        attrs.append((attr, digest))
    if one("auth") == b"yes":
        attrs.append((b"sasl_username", b"alice"))
    return b"".join(k + b"=" + v + b"\n" for k, v in attrs) + b"\n"


class VerdictsTest(unittest.TestCase):
    def setUp(self):
        with open(os.path.join(GOLDEN, "verdicts.tbl")) as f:
            self.table = f.read()
        self.want = expected()
        self.all = list(sessions())
        self.assertGreater(len(self.want), 30, "verdicts.ref has the verdict lines")

    def group(self, words):
        return (words.get("exempt_internal", [b"yes"])[0], words.get("exempt_authenticated", [b"yes"])[0])

    def test_inbound_verdicts(self):
        groups = {}
        for w in self.all:
            if "rcpt" not in w:
                groups.setdefault(self.group(w), []).append(w)
        checked = skipped = 0
        for (ei, ea), cases in sorted(groups.items()):
            tables = "tables = {\n  inbound_exempt_internal = %s;\n" \
                     "  inbound_exempt_authenticated = %s;\n};\n" % (
                         "true" if ei == b"yes" else "false", "true" if ea == b"yes" else "false")
            d = Daemon(BINARY, self.table, sections=tables)
            try:
                p = Policy(d.pol)
                for n, w in enumerate(cases):
                    label = w["case"][0].decode()
                    verified = w.get("verified", [b"no"])[0] == b"yes"
                    self.assertEqual(verified, "cn" in w or "dn" in w,
                                     label + ": verified=yes goes with cn= or dn=, and only it")
                    if "dn" in w:
                        skipped += 1  # Sendmail's DN: the milter's test plays these
                        continue
                    if w.get("internal", [b"no"])[0] == b"yes":
                        self.assertEqual(w["addr"][0], b"127.0.0.1", label + ": internal is 127.0.0.1")
                    qid = "V%03d%s" % (n, ei.decode()[0] + ea.decode()[0])
                    p.sock.sendall(request(w, qid))
                    got = p.read_reply()
                    verdict, key, line_no, why = self.want[label]
                    want_reply = {"PASS": "DUNNO", "REFUSE": REFUSE_REPLY}.get(verdict)
                    if verdict == "TEMP":
                        self.assertTrue(got.startswith("451 4.3.0 "), "%s: %r" % (label, got))
                        d.wait_log("%s: defer: " % qid)
                        line = [l for l in d.logtext().splitlines() if qid + ": defer:" in l][0]
                        self.assertIn("reason=" + why.split(":")[0], line, label)
                    else:
                        self.assertEqual(got, want_reply, label)
                    if verdict == "REFUSE":
                        d.wait_log("%s: reject: " % qid)
                        line = [l for l in d.logtext().splitlines() if qid + ": reject:" in l][0]
                        self.assertIn("reason=%s level=" % why, line, label)
                        self.assertIn("entry=%s (%s:%s)" % (key, d.table, line_no), line, label)
                    checked += 1
                p.sock.close()
            finally:
                rc = d.stop()
                log = d.logtext()
            self.assertEqual(rc, 0, log)
        self.assertEqual(checked + skipped, sum(1 for w in self.all if "rcpt" not in w))
        self.assertGreater(checked, skipped)

    def test_recipient_domains_on_the_socketmap(self):
        d = Daemon(BINARY, self.table)
        try:
            sm = Socketmap(d.sm)
            for w in self.all:
                if "rcpt" not in w:
                    continue
                label = w["case"][0].decode()
                rcpt = w["rcpt"][0].strip(b"<>")
                if b"@" not in rcpt:
                    continue  # a local recipient has no next hop to ask about
                domain = rcpt.rsplit(b"@", 1)[1]
                sm.sock.sendall(b"%d:forcetls %s," % (len(domain) + 9, domain))
                got = read_netstring(sm.sock)
                verdict = self.want[label][0]
                if verdict == "FORCED":
                    self.assertTrue(got.startswith("OK ") and got.split()[1] in MANDATORY,
                                    "%s: %r" % (label, got))
                elif verdict == "NOT_FORCED":
                    self.assertTrue(got.startswith("NOTFOUND") or
                                    (got.startswith("OK ") and got.split()[1] not in MANDATORY),
                                    "%s: %r" % (label, got))
                else:
                    self.assertTrue(got.startswith("TEMP"), "%s: %r" % (label, got))
            sm.close()
        finally:
            self.assertEqual(d.stop(), 0, d.logtext())


if __name__ == "__main__":
    BINARY = os.path.abspath(sys.argv.pop(1))
    GOLDEN = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
