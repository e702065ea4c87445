"""Smarthost with AUTH: ringmail A (127.0.0.2, alpha.test) relays every
outbound message through a smarthost, which is another ringmail (S,
127.0.0.8) on its submission port: STARTTLS, then AUTH PLAIN with the
credentials A reads from the file named by outbound.smarthost_auth_file
(never argv, never the config). S holds ann@alpha.test too (the operator's
account at the relay) and carol@gamma.test, where the mail ends.

First with a wrong password (S answers 535: the message stays queued, the
reason is visible in `ringmail queue list`), then with the right one after a
restart: delivered once into carol's INBOX on S."""
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import free_dns_port, free_port  # noqa: E402
from outbound_peers import Dnsmasq  # noqa: E402
from test_outbound import PASSWORD, Instance, cli, wait_until  # noqa: E402


class Smarthost(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mx_port = free_port()
        cls.dns_port = free_dns_port()
        cls.dns = Dnsmasq(cls.dns_port, hosts=[("smarthost.test", "127.0.0.8")])
        cls.s = Instance("127.0.0.8", "gamma.test", "carol@gamma.test", cls.mx_port, cls.dns_port)
        cli(cls.s.dir, "domain", "add", "alpha.test", check=0)
        cli(cls.s.dir, "account", "add", "ann@alpha.test", "--password-file", os.path.join(cls.s.dir, "pw"), check=0)
        cls.secrets = tempfile.mkdtemp(prefix="ringmail-smarthost-secrets-")
        cls.auth_file = os.path.join(cls.secrets, "smarthost-auth")
        with open(cls.auth_file, "w") as f:
            f.write("ann@alpha.test\nnot the password\n")
        os.chmod(cls.auth_file, 0o600)
        extra = (f'smarthost = "smarthost.test:{cls.s.ports["submission"]}"\n'
                 f'smarthost_auth_file = "{cls.auth_file}"\n')
        cls.a = Instance("127.0.0.2", "alpha.test", "ann@alpha.test", cls.mx_port, cls.dns_port, extra)
        cls.s.start()
        cls.a.start()

    @classmethod
    def tearDownClass(cls):
        for inst in (cls.a, cls.s):
            if inst.daemon and inst.daemon.proc.poll() is None:
                inst.stop()
        cls.dns.stop()
        for d in (cls.a.dir, cls.s.dir, cls.secrets):
            shutil.rmtree(d, ignore_errors=True)

    def carol_inbox(self):
        target = os.path.join(tempfile.mkdtemp(dir=self.s.dir), "out")
        cli(self.s.dir, "export", "--account", "carol@gamma.test", "--mailbox", "INBOX", "--format", "maildir",
            "--to", target, check=0)
        out = []
        for sub in ("new", "cur"):
            d = os.path.join(target, sub)
            for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
                with open(os.path.join(d, name), "rb") as f:
                    out.append(f.read())
        return out

    def test_relay_through_the_smarthost_with_auth(self):
        self.a.submit(["carol@gamma.test"], "via-smarthost")
        entry = wait_until(lambda: [m for m in self.a.queue() if m["attempts"] >= 1 and
                                    "AUTH refused" in m["recipients"][0]["last"]], 20, "the refused AUTH")[0]
        self.assertIn("535", entry["recipients"][0]["last"])
        self.assertNotIn(PASSWORD, self.a.daemon.output())
        # The right password, then a restart: the queue resumes and delivers.
        self.assertEqual(self.a.stop(), 0)
        with open(self.auth_file, "w") as f:
            f.write(f"ann@alpha.test\n{PASSWORD}\n")
        self.a.start()
        wait_until(lambda: not self.a.queue(), 20, "the queue to empty")
        out = self.a.daemon.output()
        delivered = [l for l in out.splitlines() if "outbound_delivered" in l and "carol@gamma.test" in l]
        self.assertTrue(delivered, out[-2000:])
        self.assertIn("host=smarthost.test", delivered[0])
        self.assertIn('tls="TLSv1.', delivered[0])
        self.assertNotIn(PASSWORD, out)
        s_log = self.s.daemon.output()
        self.assertIn("ann@alpha.test", s_log)
        self.assertEqual(self.s.stop(), 0)
        got = [m for m in self.carol_inbox() if b"Subject: via-smarthost" in m]
        self.s.start()
        self.assertEqual(len(got), 1, "exactly one copy at the smarthost's recipient")


if __name__ == "__main__":
    unittest.main()
