"""SMTP policies of `ringmail serve` through real sockets (issues 4 and 5):
the default SIZE and its per-domain override, early talkers on the MX
listener, HELO/EHLO argument sanity, VRFY/EXPN/HELP, the commands-per-session
limit, the idle timeout, DSN parameters, the Received header on implicit
TLS, per-account protocol and require-TLS settings on submission, and the
quota warning mail (once per crossing, also across a restart), read back
through `ringmail export`. One daemon on free loopback ports, stopped by PID.
"""
import os
import re
import shutil
import smtplib
import socket
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Daemon, free_port  # noqa: E402
from test_smtp import cli, read_maildir, tls_context  # noqa: E402

DEMO = "demo@example.test"
PASSWORD = "correct horse battery staple"
IDLE_MS = 1500
COMMANDS_MAX = 20
SMALL_DOMAIN_SIZE = 2048
WARN_PERCENT = 50
QUOTA = 40_000


def config_text(ports):
    off = "".join(f"[listeners.{n}]\nenabled = false\n" for n in ("imap", "imaps", "pop3", "pop3s", "http"))
    return f"""
[server]
cores = 2
shutdown_grace_ms = 2000
[auth]
require_tls = false
[auth.argon2]
memory_kib = 1024
iterations = 1
[auth.throttle]
account_failures_before_block = 3
delay_base_ms = 200
delay_max_ms = 400
[smtp]
greeting_pause_ms = 200
commands_max = {COMMANDS_MAX}
error_delay_ms = 10
[smtp.domain_message_size_max_bytes]
"Small.Test" = {SMALL_DOMAIN_SIZE}
[limits]
quota_warning_percent = {WARN_PERCENT}
[listeners.smtp]
address = "127.0.0.1:{ports['mx']}"
idle_timeout_ms = {IDLE_MS}
[listeners.submission]
address = "127.0.0.1:{ports['submission']}"
[listeners.submissions]
address = "127.0.0.1:{ports['submissions']}"
{off}"""


class Conversation:
    """A raw SMTP client: send lines, read whole (multi-line) replies."""

    def __init__(self, port, greet=True):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.file = self.sock.makefile("rb")
        if greet:
            code, _ = self.reply()
            assert code == 220, code

    def reply(self):
        lines = []
        while True:
            line = self.file.readline()
            if not line:
                return None, "\n".join(lines)
            lines.append(line.decode().rstrip("\r\n"))
            if len(line) < 4 or line[3:4] != b"-":
                return int(line[:3]), "\n".join(lines)

    def command(self, text):
        self.sock.sendall(text.encode() + b"\r\n")
        return self.reply()

    def close(self):
        self.file.close()
        self.sock.close()


class Policy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="ringmail-policy-")
        cls.ports = {k: free_port() for k in ("mx", "submission", "submissions", "plain", "tls")}
        with open(os.path.join(cls.dir, "ringmail.toml"), "w") as f:
            f.write(config_text(cls.ports))
        cls.start_daemon()
        pwfile = os.path.join(cls.dir, "pw")
        with open(pwfile, "w") as f:
            f.write(PASSWORD + "\n")
        cli(cls.dir, "domain", "add", "small.test", check=0)
        for address in ("tiny@small.test", "quinn@example.test", "imaponly@example.test",
                        "tlsonly@example.test", "plain@example.test", "off@example.test", "victim@example.test",
                        "counted@example.test"):
            cli(cls.dir, "account", "add", address, "--password-file", pwfile, check=0)
        cli(cls.dir, "quota", "set", "quinn@example.test", str(QUOTA), check=0)
        p = cli(cls.dir, "quota", "set", "counted@example.test", "1G", "--messages", "2", check=0)
        assert "2 messages" in p.stdout, p.stdout
        cli(cls.dir, "account", "set", "imaponly@example.test", "--protocols", "imap,pop3", check=0)
        cli(cls.dir, "account", "set", "tlsonly@example.test", "--require-tls", "yes", check=0)
        cli(cls.dir, "account", "set", "plain@example.test", "--require-tls", "no", check=0)
        cli(cls.dir, "account", "set", "off@example.test", "--disabled", "yes", check=0)

    @classmethod
    def start_daemon(cls):
        cls.daemon = Daemon(["serve", "--listen-plain", f"127.0.0.1:{cls.ports['plain']}",
                             "--listen-tls", f"127.0.0.1:{cls.ports['tls']}"],
                            [cls.ports["mx"], cls.ports["submission"], cls.ports["submissions"]],
                            data_dir=cls.dir).start()

    @classmethod
    def stop_daemon(cls):
        rc = cls.daemon.stop()
        cls.daemon.log.close()
        return rc

    @classmethod
    def tearDownClass(cls):
        cls.stop_daemon()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def export(self, account):
        """Stops the daemon, exports the INBOX as Maildir, restarts."""
        self.assertEqual(self.stop_daemon(), 0, self.daemon.output())
        target = os.path.join(tempfile.mkdtemp(dir=self.dir), "out")
        p = cli(self.dir, "export", "--account", account, "--format", "maildir", "--to", target)
        self.start_daemon()
        self.assertEqual(p.returncode, 0, p.stderr)
        return list(read_maildir(target).values())

    def mx(self):
        s = smtplib.SMTP("127.0.0.1", self.ports["mx"], timeout=20)
        s.ehlo("client.test")
        return s

    # --- issue 5, item 1: SIZE, VRFY/EXPN, HELP, DSN ------------------------

    def test_default_size_is_100_mb_and_a_domain_overrides_it(self):
        with self.mx() as s:
            self.assertEqual(s.esmtp_features["size"], str(100 * 1024 * 1024))
            code, text = s.mail("a@remote.test", ["size=5000"])
            self.assertEqual(code, 250)
            code, text = s.rcpt("tiny@small.test")
            self.assertEqual(code, 552, text)
            self.assertIn(b"5.3.4", text)
            self.assertEqual(s.rcpt(DEMO)[0], 250)
            s.rset()
            # Undeclared size: refused while streaming, for the small domain
            # (smtplib's sendmail would declare SIZE=; plain commands do not).
            big = b"Subject: big\r\n\r\n" + b"x" * 70 + (b"\r\n" + b"y" * 70) * 40 + b"\r\n"
            self.assertEqual(s.mail("a@remote.test")[0], 250)
            self.assertEqual(s.rcpt("tiny@small.test")[0], 250)
            self.assertEqual(s.rcpt(DEMO)[0], 250)
            code, text = s.data(big)
            self.assertEqual(code, 552, text)
            self.assertIn(b"5.3.4", text)
            s.sendmail("a@remote.test", [DEMO], big)
            s.sendmail("a@remote.test", ["tiny@small.test"], b"Subject: small\r\n\r\nfits\r\n")

    def test_vrfy_expn_answer_alike_and_help(self):
        c = Conversation(self.ports["mx"])
        try:
            self.assertEqual(c.command("EHLO client.test")[0], 250)
            known, unknown = c.command(f"VRFY {DEMO}"), c.command("VRFY nobody@example.test")
            self.assertEqual(known[0], 252)
            self.assertEqual(known, unknown)  # never tells who exists
            self.assertEqual(c.command("EXPN staff")[0], 252)
            code, text = c.command("HELP")
            self.assertEqual(code, 214, text)
            self.assertEqual(c.command("QUIT")[0], 221)
        finally:
            c.close()

    def test_dsn_parameters_are_accepted(self):
        with self.mx() as s:
            self.assertIn("dsn", s.esmtp_features)
            code, _ = s.mail("a@remote.test", ["RET=HDRS", "ENVID=QQ314159"])
            self.assertEqual(code, 250)
            code, _ = s.rcpt(DEMO, ["NOTIFY=SUCCESS,DELAY", "ORCPT=rfc822;demo@example.test"])
            self.assertEqual(code, 250)
            code, _ = s.data(b"Subject: dsn\r\n\r\nbody\r\n")
            self.assertEqual(code, 250)
            # A malformed parameter is a clear 501/555, and the session goes on.
            code, _ = s.mail("a@remote.test", ["RET=SOMETIMES"])
            self.assertIn(code, (501, 555))
            self.assertEqual(s.noop()[0], 250)

    # --- issue 5, item 6: abuse limits --------------------------------------

    def test_early_talker_is_refused_on_mx_only(self):
        with socket.create_connection(("127.0.0.1", self.ports["mx"]), timeout=20) as c:
            c.sendall(b"EHLO impatient.test\r\n")
            data = c.makefile("rb").read()
        self.assertTrue(data.startswith(b"554 5.5.1"), data)
        self.assertNotIn(b"220", data)
        # Submission clients are ours: no pause, no refusal.
        with socket.create_connection(("127.0.0.1", self.ports["submission"]), timeout=20) as c:
            c.sendall(b"EHLO eager.test\r\n")
            f = c.makefile("rb")
            self.assertTrue(f.readline().startswith(b"220 "))
        # A patient client on the MX is served.
        with self.mx() as s:
            self.assertEqual(s.noop()[0], 250)

    def test_helo_argument_sanity(self):
        c = Conversation(self.ports["mx"])
        try:
            for bad in ("HELO", "EHLO", "EHLO bad..name", "EHLO -leading.test", "EHLO [999.1.1.1]",
                        "EHLO a@b.test", "HELO exa mple.test"):
                code, text = c.command(bad)
                self.assertEqual(code, 501, f"{bad}: {text}")
            self.assertEqual(c.command("EHLO [127.0.0.1]")[0], 250)
            self.assertEqual(c.command("EHLO client.test")[0], 250)
            self.assertEqual(c.command("MAIL FROM:<a@remote.test>")[0], 250)
        finally:
            c.close()

    def test_commands_per_session_limit(self):
        c = Conversation(self.ports["mx"])
        try:
            codes = [c.command("NOOP")[0] for _ in range(COMMANDS_MAX)]
            self.assertEqual(codes, [250] * COMMANDS_MAX)
            code, text = c.command("NOOP")
            self.assertEqual(code, 421, text)
            self.assertIn("4.7.0", text)
            self.assertEqual(c.file.read(), b"")  # closed
        finally:
            c.close()

    def test_idle_timeout_says_421(self):
        c = Conversation(self.ports["mx"])
        try:
            self.assertEqual(c.command("EHLO client.test")[0], 250)
            t0 = time.monotonic()
            code, text = c.reply()
            waited = time.monotonic() - t0
            self.assertEqual(code, 421, text)
            self.assertIn("4.4.2", text)
            self.assertGreaterEqual(waited, IDLE_MS / 1000 * 0.8)
            self.assertEqual(c.file.read(), b"")
        finally:
            c.close()

    # --- issue 5, item 4 and the negative tests: smuggling, long lines ----

    SMUGGLING_ENDS = {"lf-dot-lf": b"\n.\n", "cr-dot-cr": b"\r.\r", "lf-dot-crlf": b"\n.\r\n",
                      "crlf-dot-lf": b"\r\n.\n", "cr-dot-crlf": b"\r.\r\n"}

    def test_smuggling_variants_never_end_data(self):
        for name, end in self.SMUGGLING_ENDS.items():
            c = Conversation(self.ports["mx"])
            try:
                self.assertEqual(c.command("EHLO client.test")[0], 250)
                self.assertEqual(c.command("MAIL FROM:<a@remote.test>")[0], 250)
                self.assertEqual(c.command(f"RCPT TO:<{DEMO}>")[0], 250)
                self.assertEqual(c.command("DATA")[0], 354)
                c.sock.sendall(b"Subject: outer " + name.encode() + b"\r\n\r\nbody" + end +
                               b"MAIL FROM:<admin@example.test>\r\nRCPT TO:<" + DEMO.encode() + b">\r\nDATA\r\n"
                               b"Subject: smuggled " + name.encode() + b"\r\n\r\nevil\r\n.\r\n")
                code, text = c.reply()
                # Refused (bare CR/LF), never "250" for a second message.
                self.assertEqual(code, 550, f"{name}: {text}")
                self.assertIn("5.6.11", text)
                self.assertEqual(c.command("NOOP")[0], 250, name)
            finally:
                c.close()
        box = self.export(DEMO)
        self.assertEqual([m for m in box if b"smuggled" in m or b"outer" in m], [])

    def test_line_length_limits(self):
        c = Conversation(self.ports["mx"])
        try:
            self.assertEqual(c.command("EHLO client.test")[0], 250)
            code, text = c.command("MAIL FROM:<" + "a" * 600 + "@remote.test>")
            self.assertEqual(code, 500, text)
            self.assertIn("5.5.2", text)
            self.assertEqual(c.command("MAIL FROM:<a@remote.test>")[0], 250)
            self.assertEqual(c.command(f"RCPT TO:<{DEMO}>")[0], 250)
            self.assertEqual(c.command("DATA")[0], 354)
            c.sock.sendall(b"Subject: long line\r\n\r\n" + b"x" * 1200 + b"\r\n.\r\n")
            code, text = c.reply()
            self.assertEqual(code // 100, 5, text)
            self.assertIn("too long", text)
            self.assertEqual(c.command("NOOP")[0], 250)
        finally:
            c.close()

    def test_wrong_passwords_are_delayed_then_blocked(self):
        durations = []
        for i in range(3):
            t0 = time.monotonic()
            code, text = self.login("victim@example.test", tls=True, password=f"wrong password number {i}")
            durations.append(time.monotonic() - t0)
            self.assertEqual(code, 535, text)
        self.assertGreaterEqual(durations[0], 0.15, durations)   # delay_base_ms = 200
        self.assertGreaterEqual(durations[1], 0.3, durations)    # doubled
        code, text = self.login("victim@example.test", tls=True)  # the right one, now blocked: 421 and close
        self.assertEqual(code, 421, text)
        self.assertIn(b"Too many failed logins", text)
        self.assertIn("event=auth_block account=victim@example.test", self.daemon.output())

    def test_message_count_quota(self):
        with self.mx() as s:
            for i in range(2):
                s.sendmail("a@remote.test", ["counted@example.test"], f"Subject: counted {i}\r\n\r\nx\r\n".encode())
            self.assertEqual(s.mail("a@remote.test")[0], 250)
            code, text = s.rcpt("counted@example.test")
            self.assertEqual(code, 452, text)
            self.assertIn(b"4.2.2", text)
            self.assertIn(b"2 of 2 messages", text)
        p = cli(self.dir, "quota", "set", "counted@example.test", "1G", "--messages", "many")
        self.assertEqual(p.returncode, 1)
        self.assertIn("bad message count", p.stderr)

    # --- issue 4: per-account protocols and require-TLS, on submission ----

    def login(self, address, tls, password=PASSWORD):
        s = smtplib.SMTP("127.0.0.1", self.ports["submission"], timeout=20)
        s.ehlo("client.test")
        if tls:
            s.starttls(context=tls_context())
            s.ehlo("client.test")
        try:
            # One AUTH PLAIN (smtplib's login() would try LOGIN after a failed
            # PLAIN, two attempts per call).
            s.user, s.password = address, password
            return s.auth("PLAIN", s.auth_plain)
        except smtplib.SMTPAuthenticationError as e:
            return e.smtp_code, e.smtp_error
        finally:
            s.close()

    def test_account_protocols_and_require_tls_on_submission(self):
        self.assertEqual(self.login("quinn@example.test", tls=True)[0], 235)
        code, text = self.login("imaponly@example.test", tls=True)
        self.assertEqual(code, 535, text)
        self.assertIn(b"5.7.8", text)
        self.assertIn(b"submission", text)
        # The global default here is "plaintext allowed": the account decides.
        self.assertEqual(self.login("plain@example.test", tls=False)[0], 235)
        self.assertEqual(self.login("quinn@example.test", tls=False)[0], 235)
        code, text = self.login("tlsonly@example.test", tls=False)
        self.assertEqual(code, 538, text)
        self.assertEqual(self.login("tlsonly@example.test", tls=True)[0], 235)
        code, text = self.login("off@example.test", tls=True)
        self.assertEqual(code, 535, text)
        self.assertIn(b"disabled", text)

    # --- issue 4 item 4 and issue 5 item 4: warning mail, trace headers ----

    def test_quota_warning_once_per_crossing_and_received_header(self):
        quinn = "quinn@example.test"
        body = "".join(f"line {i:04d} of filler text to take up room\r\n" for i in range(90))  # ~4 KB

        def send(n):
            with self.mx() as s:
                s.sendmail("a@remote.test", [quinn], f"Subject: fill {n}\r\n\r\n{body}".encode())

        for n in range(4):   # ~40 % of the quota: no warning yet
            send(n)
        self.assertNotIn("event=quota_warning", self.daemon.output())
        # One log line per delivery: the queue id, the account, the mailbox, the UID.
        self.assertRegex(self.daemon.output(),
                         r"event=delivery id=[0-9a-f]+\.\d+\.\d+\.m\d+ account=quinn@example\.test mailbox=INBOX uid=4")
        send(4)              # crosses 50 %
        send(5)
        out = self.daemon.output()
        self.assertEqual(out.count("event=quota_warning account=quinn@example.test"), 1, out)
        # Submitted over implicit TLS: the Received header names the TLS
        # version, the cipher and the authenticated user.
        with smtplib.SMTP_SSL("127.0.0.1", self.ports["submissions"], timeout=20, context=tls_context()) as s:
            s.login(quinn, PASSWORD)
            s.sendmail(quinn, [quinn], f"From: <{quinn}>\r\nSubject: from myself\r\n\r\nhello\r\n".encode())

        # The flag survives a restart (export restarts the daemon).
        box = self.export(quinn)
        warnings = [m for m in box if b"Subject: Your mailbox is 50% full" in m]
        self.assertEqual(len(warnings), 1, [m[:300] for m in box])
        self.assertIn(quinn.encode(), warnings[0])
        own = [m for m in box if b"Subject: from myself" in m]
        self.assertEqual(len(own), 1)
        self.assertRegex(own[0].decode(), r"\(using TLSv1\.[23] with cipher [A-Z0-9_-]+ \(\d+/\d+ bits\)\)")
        self.assertIn(f"(authenticated as {quinn})".encode(), own[0])
        send(6)
        # (The daemon's log file is appended to across restarts.)
        self.assertEqual(self.daemon.output().count("event=quota_warning account=quinn@example.test"), 1)

        # Below the threshold again (a larger quota): the flag clears at the
        # next delivery; a smaller quota then crosses again and warns again.
        cli(self.dir, "quota", "set", quinn, str(QUOTA * 10), check=0)
        send(7)
        cli(self.dir, "quota", "set", quinn, str(QUOTA * 3 // 2), check=0)
        send(8)
        self.assertEqual(self.daemon.output().count("event=quota_warning account=quinn@example.test"), 2)
        box = self.export(quinn)
        self.assertEqual(len([m for m in box if re.search(rb"Subject: Your mailbox is 50% full", m)]), 2)


if __name__ == "__main__":
    unittest.main()
