"""Per-account login policy through the protocol servers themselves: one
daemon with SMTP submission, IMAP and POP3 on free loopback ports, real
clients (smtplib, imaplib, poplib). What `ringmail auth test` checks in
test_appliance.py, seen here by a mail client: "IMAP or POP3, not both",
require-TLS, disabled accounts, and brute-force blocks that hold across
protocols. Also the client settings the daemon prints at start."""
import imaplib
import os
import poplib
import re
import shutil
import smtplib
import ssl
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Daemon, free_port  # noqa: E402
from test_appliance import GOOD, cli  # noqa: E402

USER = "phone@b.test"


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class LoginAcrossProtocols(unittest.TestCase):
    extra_config = ""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ringmail-login-")
        names = ("mx", "submission", "submissions", "imap", "imaps", "pop3", "pop3s", "plain", "tls")
        self.p = p = {n: free_port() for n in names}
        with open(os.path.join(self.dir, "ringmail.toml"), "w") as f:
            f.write(f"""
[server]
cores = 2
shutdown_grace_ms = 1000
[auth.argon2]
memory_kib = 1024
iterations = 1
[auth.throttle]
account_failures_before_block = 3
ip_failures_before_block = 100
delay_base_ms = 10
delay_max_ms = 40
block_ms = 600000
[listeners.smtp]
address = "127.0.0.1:{p['mx']}"
[listeners.submission]
address = "127.0.0.1:{p['submission']}"
[listeners.submissions]
address = "127.0.0.1:{p['submissions']}"
[listeners.imap]
address = "127.0.0.1:{p['imap']}"
[listeners.imaps]
address = "127.0.0.1:{p['imaps']}"
[listeners.pop3]
address = "127.0.0.1:{p['pop3']}"
[listeners.pop3s]
address = "127.0.0.1:{p['pop3s']}"
[listeners.http]
enabled = false
{self.extra_config}""")
        self.daemon = Daemon(["serve", "--listen-plain", f"127.0.0.1:{p['plain']}",
                              "--listen-tls", f"127.0.0.1:{p['tls']}"],
                             [p[n] for n in ("submission", "imaps", "pop3s")], data_dir=self.dir).start()
        deadline = time.monotonic() + 30
        while cli(self.dir, "status").returncode != 0:
            self.assertLess(time.monotonic(), deadline, self.daemon.output())
            time.sleep(0.05)
        cli(self.dir, "domain", "add", "b.test", check=0)
        cli(self.dir, "account", "add", USER, stdin=GOOD + "\n", check=0)

    def tearDown(self):
        rc = self.daemon.stop()
        self.daemon.log.close()
        out = self.daemon.output()
        shutil.rmtree(self.dir, ignore_errors=True)
        self.assertEqual(rc, 0, out)

    # What each client sees: None for a successful login, else the server's text.
    def imap_login(self, password, tls=True):
        if tls:
            c = imaplib.IMAP4_SSL("127.0.0.1", self.p["imaps"], ssl_context=tls_context(), timeout=20)
        else:
            c = imaplib.IMAP4("127.0.0.1", self.p["imap"], timeout=20)
        try:
            c.login(USER, password)
            c.logout()
            return None
        except imaplib.IMAP4.error as e:
            c.shutdown()
            return str(e)

    def pop3_login(self, password, tls=True):
        if tls:
            c = poplib.POP3_SSL("127.0.0.1", self.p["pop3s"], context=tls_context(), timeout=20)
        else:
            c = poplib.POP3("127.0.0.1", self.p["pop3"], timeout=20)
        try:
            c.user(USER)
            c.pass_(password)
            c.quit()
            return None
        except poplib.error_proto as e:
            c.close()
            return e.args[0].decode() if isinstance(e.args[0], bytes) else str(e.args[0])

    def smtp_login(self, password):
        with smtplib.SMTP_SSL("127.0.0.1", self.p["submissions"], context=tls_context(), timeout=20) as c:
            c.user, c.password = USER, password
            try:
                # One mechanism (login() would try the next one on a
                # connection that a 421 has closed).
                c.ehlo()
                c.auth("PLAIN", c.auth_plain)
                return None
            except smtplib.SMTPAuthenticationError as e:
                return f"{e.smtp_code} {e.smtp_error.decode()}"

    def test_imap_or_pop3_not_both_as_a_client_sees_it(self):
        self.assertIsNone(self.imap_login(GOOD))
        self.assertIsNone(self.pop3_login(GOOD))
        cli(self.dir, "account", "set", USER, "--mailbox-access", "imap", check=0)
        self.assertIsNone(self.imap_login(GOOD))
        refusal = self.pop3_login(GOOD)
        self.assertIsNotNone(refusal)
        self.assertIn("IMAP", refusal)  # the phone's owner learns which protocol to use
        self.assertIsNone(self.smtp_login(GOOD))
        cli(self.dir, "account", "set", USER, "--mailbox-access", "pop3", check=0)
        refusal = self.imap_login(GOOD)
        self.assertIsNotNone(refusal)
        self.assertIn("POP3", refusal)
        self.assertIsNone(self.pop3_login(GOOD))
        self.assertIsNone(self.smtp_login(GOOD))

    def test_plaintext_login_waits_for_tls_and_disabled_is_refused_everywhere(self):
        # auth.require_tls is on by default: before STARTTLS/STLS there is no
        # login at all, whatever the account says.
        self.assertIn("STARTTLS", self.imap_login(GOOD, tls=False))
        self.assertIsNotNone(self.pop3_login(GOOD, tls=False))
        cli(self.dir, "account", "set", USER, "--disabled", "yes", check=0)
        self.assertIsNotNone(self.imap_login(GOOD))
        self.assertIsNotNone(self.pop3_login(GOOD))
        self.assertIsNotNone(self.smtp_login(GOOD))
        cli(self.dir, "account", "set", USER, "--disabled", "no", check=0)
        self.assertIsNone(self.imap_login(GOOD))
        self.assertIsNone(self.pop3_login(GOOD))
        self.assertIsNone(self.smtp_login(GOOD))

    def test_wrong_passwords_over_imap_block_pop3_and_submission_too(self):
        for i in range(3):
            self.assertIsNotNone(self.imap_login(f"wrong guess number {i}"))
        # The right password is now refused everywhere, for a while.
        self.assertIsNotNone(self.pop3_login(GOOD))
        self.assertRegex(self.smtp_login(GOOD), r"^421 .*(try again|Too many)")
        self.assertIsNotNone(self.imap_login(GOOD))
        out = self.daemon.output()
        self.assertIn(f"event=auth_block account={USER}", out)
        self.assertIn("event=auth_blocked proto=pop3", out)
        self.assertIn("event=auth_blocked proto=imap", out)

    def test_client_settings_name_every_listener(self):
        out = self.daemon.output()
        for role, port in (("incoming (IMAP)", "imaps"), ("incoming (IMAP)", "imap"), ("incoming (POP3)", "pop3s"),
                           ("incoming (POP3)", "pop3"), ("outgoing (SMTP)", "submissions"),
                           ("outgoing (SMTP)", "submission")):
            self.assertRegex(out, rf"{re.escape(role)}\s+server 127\.0\.0\.1 port {self.p[port]},")


class PerAccountRequireTls(LoginAcrossProtocols):
    """With the global default off, one account can still insist on TLS."""
    extra_config = "[auth]\nrequire_tls = false\n"

    def test_plaintext_login_waits_for_tls_and_disabled_is_refused_everywhere(self):
        self.assertIsNone(self.imap_login(GOOD, tls=False))
        self.assertIsNone(self.pop3_login(GOOD, tls=False))
        cli(self.dir, "account", "set", USER, "--require-tls", "yes", check=0)
        self.assertIsNotNone(self.imap_login(GOOD, tls=False))
        self.assertIsNotNone(self.pop3_login(GOOD, tls=False))
        self.assertIsNone(self.imap_login(GOOD))
        self.assertIsNone(self.pop3_login(GOOD))

    # The rest of the suite is the base class's; run it once.
    test_imap_or_pop3_not_both_as_a_client_sees_it = None
    test_wrong_passwords_over_imap_block_pop3_and_submission_too = None
    test_client_settings_name_every_listener = None


if __name__ == "__main__":
    unittest.main()
