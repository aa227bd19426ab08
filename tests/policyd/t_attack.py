#!/usr/bin/env python3
"""Inputs an outsider or a careless admin sends, against the real forcetls-policyd.

usage: t_attack.py POLICYD_BINARY [unittest args]

Each test is a hole found by attacking the daemon (issue 7): an IPv4-mapped
IPv6 client or next hop against IPv4 entries, a request without client_name
logged from uninitialized memory, and a connection flood on one socket that
used up the process's file descriptors and locked the other socket out.
"""
import os
import resource
import socket
import sys
import time
import unittest

from policyd_client import Daemon, Policy, Socketmap

BINARY = None

TABLE = """\
bank.test
198.51.100.0/24 encrypt direction=in
203.0.113.0/24 encrypt direction=out
::ffff:192.0.2.128/121 encrypt direction=in
"""

NO_TLS = dict(protocol_state="RCPT", client_name="mx.outside.test", sender="a@other.test",
              encryption_protocol="", encryption_keysize="0")


class AttackTest(unittest.TestCase):
    def start(self, **kw):
        self.d = Daemon(BINARY, TABLE, **kw)

    def tearDown(self):
        rc = self.d.stop()
        self.assertEqual(rc, 0, "daemon exit status %s:\n%s" % (rc, self.d.logtext()))

    def test_ipv4_mapped_ipv6_matches_ipv4_entries(self):
        self.start(conf_extra='internal_networks = [ "10.0.0.0/8" ];')
        pol = Policy(self.d.pol)
        for addr in ["198.51.100.7", "::ffff:198.51.100.7", "::FFFF:198.51.100.7",
                     "192.0.2.200", "::ffff:192.0.2.200"]:  # an entry in the mapped form
            self.assertTrue(pol.ask(client_address=addr, **NO_TLS).startswith("450 "), addr)
        # The exemption follows the same address, as the milter's does.
        self.assertEqual(pol.ask(client_address="::ffff:10.1.2.3", **NO_TLS), "DUNNO")
        sm = Socketmap(self.d.sm)
        for key in ["[203.0.113.9]", "[ipv6:::ffff:203.0.113.9]", "[IPv6:::FFFF:203.0.113.9]:25",
                    "::ffff:203.0.113.9"]:
            self.assertEqual(sm.lookup(key), "OK encrypt", key)
        self.assertEqual(sm.lookup("[ipv6:2001:db8::1]"), "NOTFOUND ")
        pol.sock.close()
        sm.close()

    def test_log_of_a_request_without_client_name_or_sender(self):
        self.start()
        pol = Policy(self.d.pol)
        pol.sock.sendall(b"request=smtpd_access_policy\nprotocol_state=RCPT\n"
                         b"client_address=198.51.100.7\n\n")
        self.assertTrue(pol.read_reply().startswith("450 "))
        self.d.wait_log("reject: ")
        with open(self.d.log.name, "rb") as f:
            line = [l for l in f.read().split(b"\n") if b"reject: " in l][0]
        self.assertIn(b"client=unknown[198.51.100.7] sender=<> reason=no TLS", line)
        pol.sock.close()

    def test_ambiguous_requests_are_malformed(self):
        """Two client_address lines (the last, unlisted, one answered DUNNO),
        or none at all (DUNNO): not Postfix's; the strict answer is 451."""
        self.start()
        pol = Policy(self.d.pol)
        head = b"request=smtpd_access_policy\nprotocol_state=RCPT\n"
        for body in [b"client_address=198.51.100.7\nclient_address=192.0.2.1\n",
                     b"client_address=192.0.2.1\nclient_address=198.51.100.7\n",
                     b"client_address=198.51.100.7\nencryption_protocol=TLSv1.3\n"
                     b"encryption_keysize=256\nencryption_protocol=\n",
                     b"sender=a@bank.test\n"]:
            pol.sock.sendall(head + body + b"\n")
            self.assertEqual(pol.read_reply(), "451 4.3.5 Server configuration problem", body)
        # The connection goes on serving well-formed requests.
        self.assertEqual(pol.ask(client_address="192.0.2.1", **NO_TLS), "DUNNO")
        pol.sock.close()

    def test_flood_on_one_socket_leaves_the_other_served(self):
        """RLIMIT_NOFILE 1024 (systemd's default soft limit) and the default
        max_connections 1024 per socket: 1100 idle socketmap connections used
        every descriptor, and policy requests hung (accept: EMFILE)."""
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < 1400:
            self.skipTest("RLIMIT_NOFILE hard limit %d: cannot open 1100 connections" % hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1400), hard))
        self.start(preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE,
                                                         (1024, 1024)))
        flood = []
        try:
            for _ in range(1100):
                flood.append(socket.create_connection(self.d.sm, timeout=5))
            time.sleep(0.5)
            t0 = time.time()
            pol = Policy(self.d.pol)
            pol.sock.settimeout(5)
            self.assertTrue(pol.ask(client_address="198.51.100.7", **NO_TLS).startswith("450 "))
            self.assertLess(time.time() - t0, 3)
            self.d.wait_log("max_connections")
        finally:
            for s in flood:
                s.close()
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        time.sleep(0.3)
        self.assertEqual(Socketmap(self.d.sm).lookup("bank.test"), "OK encrypt")


if __name__ == "__main__":
    BINARY = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
