"""Interop with a real peer: a private Postfix on 127.0.0.6 is the MX of
postfix.test. ringmail (A, 127.0.0.2) delivers submitted mail to it over
STARTTLS; Postfix relays mail for alpha.test to ringmail's MX, where it
lands in the account's INBOX, verified: ringmail's MX listener checks SPF,
the DKIM signature (made before the message entered Postfix, with a key of
postfix.test published in dnsmasq) and DMARC, and writes all three into
Authentication-Results. DNS from a private dnsmasq."""
import email
import email.policy
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import RINGMAIL, free_dns_port, free_port  # noqa: E402
from outbound_peers import Dnsmasq, Postfix  # noqa: E402
from test_outbound import Instance, generate_dkim_key, wait_until  # noqa: E402


class PostfixInterop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mx_port = free_port()
        cls.dns_port = free_dns_port()
        cls.root = tempfile.mkdtemp(prefix="ringmail-postfix-")
        # A key for postfix.test in a scratch data dir: the test signs the
        # message it hands to Postfix with it, as a signing milter would.
        cls.signer_dir = os.path.join(cls.root, "signer")
        os.makedirs(cls.signer_dir)
        name, strings = generate_dkim_key(cls.signer_dir, "postfix.test", "ed25519")
        # Postfix connects from whichever loopback address the kernel picks.
        txt = [("postfix.test", "v=spf1 ip4:127.0.0.0/8 -all"), (name, ",".join(strings)),
               ("_dmarc.postfix.test", "v=DMARC1; p=reject")]
        cls.dns = Dnsmasq(cls.dns_port,
                          mx=[("alpha.test", "mx.alpha.test", 10), ("postfix.test", "mx.postfix.test", 10)],
                          hosts=[("mx.alpha.test", "127.0.0.2"), ("mx.postfix.test", "127.0.0.6")], txt=txt)
        cls.postfix = Postfix(cls.root, "127.0.0.6", cls.mx_port, "postfix.test",
                              relay={"alpha.test": f"[127.0.0.2]:{cls.mx_port}"})
        cls.a = Instance("127.0.0.2", "alpha.test", "ann@alpha.test", cls.mx_port, cls.dns_port,
                         "[msgauth]\nverify_inbound = true\n").start()

    @classmethod
    def tearDownClass(cls):
        cls.a.close()
        cls.postfix.stop()
        cls.dns.stop()
        shutil.rmtree(cls.root, ignore_errors=True)

    def test_ringmail_delivers_to_postfix_over_starttls(self):
        self.a.submit(["user@postfix.test"], "to-postfix")
        got = wait_until(lambda: [m for m in self.postfix.messages() if b"Subject: to-postfix" in m], 30,
                         "Postfix to deliver the message")
        self.assertEqual(len(got), 1)
        self.assertIn(b"\n.a line with a leading dot", got[0].replace(b"\r\n", b"\n"))
        # Postfix writes the maildir file before it logs the delivery.
        log = wait_until(lambda: (lambda out: out if "status=sent (delivered to maildir)" in out else None)(
            self.postfix.output()), 20, "Postfix to log the delivery")
        self.assertIn("TLS connection established from", log)
        out = self.a.daemon.output()
        delivered = [l for l in out.splitlines() if "outbound_delivered" in l and "user@postfix.test" in l]
        self.assertTrue(delivered, out[-2000:])
        self.assertIn('tls="TLSv1.', delivered[0])

    def test_postfix_delivers_to_ringmail(self):
        import smtplib
        message = (b"From: <someone@postfix.test>\r\nTo: <ann@alpha.test>\r\nSubject: from-postfix\r\n"
                   b"Date: Mon, 23 Nov 2026 12:00:00 +0000\r\nMessage-ID: <from-postfix@postfix.test>\r\n\r\nhi\r\n")
        signed = subprocess.run([RINGMAIL, "domain", "dkim", "sign", "postfix.test", "--data-dir", self.signer_dir],
                                input=message, capture_output=True, timeout=60, check=True).stdout
        self.assertTrue(signed.startswith(b"DKIM-Signature:"), signed[:200])
        with smtplib.SMTP("127.0.0.6", self.mx_port, timeout=20) as s:
            s.ehlo("client.test")
            s.sendmail("someone@postfix.test", ["ann@alpha.test"], signed)
        wait_until(lambda: [l for l in self.postfix.output().splitlines()
                            if "to=<ann@alpha.test>" in l and "status=sent" in l], 30, "Postfix to relay to ringmail")
        self.assertEqual(self.a.stop(), 0)
        inbox = self.a.inbox()
        self.a.start()
        got = [m for m in inbox if b"Subject: from-postfix" in m]
        self.assertEqual(len(got), 1)
        self.assertIn(b"by mx.postfix.test", got[0])
        msg = email.message_from_bytes(got[0], policy=email.policy.compat32)
        results = " ".join((msg["Authentication-Results"] or "").split())
        self.assertRegex(results, r"spf=pass[^;]* smtp\.mailfrom=someone@postfix\.test")
        self.assertRegex(results, r"dkim=pass[^;]* header\.d=postfix\.test")
        self.assertRegex(results, r"dmarc=pass \(p=reject dis=none\) header\.from=postfix\.test")
        self.assertIn("msgauth", self.a.daemon.output())


if __name__ == "__main__":
    unittest.main()
