"""SMTP in `ringmail serve`, end to end with real clients: Python's smtplib,
raw sockets, swaks and curl against the MX, submission (STARTTLS) and
submissions (implicit TLS) listeners, and `ringmail export` to read what was
delivered. Every daemon runs on 127.0.0.1 with free ports and a temporary
data dir, and is stopped by its PID."""
import base64
import contextlib
import hashlib
import os
import random
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import RINGMAIL, Daemon, free_port  # noqa: E402

DEMO = "demo@example.test"
SECOND_PASSWORD = "correct horse battery staple"
MESSAGE_SIZE_MAX = 1024 * 1024


def config_text(ports, extra="", mx_extra=""):
    off = "".join(f"[listeners.{n}]\nenabled = false\n" for n in ("imap", "imaps", "pop3", "pop3s", "http"))
    return f"""
[server]
cores = 2
shutdown_grace_ms = 2000
[auth.argon2]
memory_kib = 1024
iterations = 1
[smtp]
message_size_max_bytes = {MESSAGE_SIZE_MAX}
greeting_pause_ms = 0   # the early-talker pause has its own test (test_smtp_policy)
[listeners.smtp]
address = "127.0.0.1:{ports['mx']}"
{mx_extra}
[listeners.submission]
address = "127.0.0.1:{ports['submission']}"
[listeners.submissions]
address = "127.0.0.1:{ports['submissions']}"
{off}{extra}"""


@contextlib.contextmanager
def private_daemon(prefix, config=config_text):
    """A started daemon on free ports with its own data dir, for one test:
    yields (daemon, ports, data_dir); stopped by PID and removed after.
    `config(ports)` is its ringmail.toml."""
    d = tempfile.mkdtemp(prefix=prefix)
    ports = {k: free_port() for k in ("mx", "submission", "submissions", "plain", "tls")}
    with open(os.path.join(d, "ringmail.toml"), "w") as f:
        f.write(config(ports))
    daemon = Daemon(["serve", "--listen-plain", f"127.0.0.1:{ports['plain']}",
                     "--listen-tls", f"127.0.0.1:{ports['tls']}"], [ports["mx"]], data_dir=d)
    try:
        daemon.start()
        yield daemon, ports, d
    finally:
        if daemon.proc is not None and daemon.proc.poll() is None:
            daemon.stop()
        if hasattr(daemon, "log"):
            daemon.log.close()
        shutil.rmtree(d, ignore_errors=True)


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def cli(data_dir, *args, stdin=None, check=None):
    p = subprocess.run([RINGMAIL, *args, "--data-dir", data_dir], input=stdin, capture_output=True, text=True,
                       timeout=120)
    if check is not None:
        assert p.returncode == check, f"{args}: rc={p.returncode}\nstdout={p.stdout}\nstderr={p.stderr}"
    return p


def read_maildir(path):
    """{file name: bytes} of every message in a Maildir (new and cur)."""
    out = {}
    for sub in ("new", "cur"):
        d = os.path.join(path, sub)
        if os.path.isdir(d):
            for name in sorted(os.listdir(d)):
                with open(os.path.join(d, name), "rb") as f:
                    out[name] = f.read()
    return out


def original_part(exported, original):
    """The part of an exported message that the client sent: export writes
    LF line ends after the per-delivery trace headers, so find the client's
    first line and take everything from there."""
    lf = original.replace(b"\r\n", b"\n")
    first = lf.split(b"\n", 1)[0]
    at = exported.find(first)
    return exported[at:] if at >= 0 else None


class Smtp(unittest.TestCase):
    """One daemon for the class; tests that must read mailboxes stop it,
    export, and start it again on the same ports."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="ringmail-smtp-")
        cls.ports = {k: free_port() for k in ("mx", "submission", "submissions", "plain", "tls")}
        with open(os.path.join(cls.dir, "ringmail.toml"), "w") as f:
            f.write(config_text(cls.ports))
        cls.start_daemon()
        with open(os.path.join(cls.dir, "demo-password")) as f:
            cls.password = f.read().strip()
        pwfile = os.path.join(cls.dir, "pw")
        with open(pwfile, "w") as f:
            f.write(SECOND_PASSWORD + "\n")
        cli(cls.dir, "account", "add", "ben@example.test", "--password-file", pwfile, check=0)
        cli(cls.dir, "alias", "add", "info@example.test", DEMO, check=0)
        cli(cls.dir, "account", "add", "carol@example.test", "--password-file", pwfile, check=0)
        cli(cls.dir, "quota", "set", "carol@example.test", "4000", check=0)
        cli(cls.dir, "account", "add", "dave@example.test", "--password-file", pwfile, check=0)
        cli(cls.dir, "account", "set", "dave@example.test", "--send-messages-per-hour", "2", check=0)
        cli(cls.dir, "account", "add", "erin@example.test", "--password-file", pwfile, check=0)
        cli(cls.dir, "account", "set", "erin@example.test", "--send-recipients-per-hour", "2", check=0)

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

    def export(self, account, fmt="maildir", mailbox="INBOX"):
        """Stops the daemon, exports, restarts; returns the exported path."""
        self.assertEqual(self.stop_daemon(), 0, self.daemon.output())
        target = os.path.join(tempfile.mkdtemp(dir=self.dir), "out")
        p = cli(self.dir, "export", "--account", account, "--mailbox", mailbox, "--format", fmt, "--to", target)
        self.start_daemon()
        self.assertEqual(p.returncode, 0, p.stderr)
        return target

    def messages_of(self, account):
        return list(read_maildir(self.export(account)).values())

    def mx(self):
        s = smtplib.SMTP("127.0.0.1", self.ports["mx"], timeout=20)
        s.ehlo("client.test")
        return s

    def submission(self, login=True):
        s = smtplib.SMTP("127.0.0.1", self.ports["submission"], timeout=20)
        s.ehlo("client.test")
        s.starttls(context=tls_context())
        s.ehlo("client.test")
        if login:
            s.login(DEMO, self.password)
        return s

    def submissions(self):
        s = smtplib.SMTP_SSL("127.0.0.1", self.ports["submissions"], timeout=20, context=tls_context())
        s.ehlo("client.test")
        s.login(DEMO, self.password)
        return s

    @staticmethod
    def message(tag, sender="someone@remote.test", to=DEMO, body=None):
        body = body or f"Body of {tag}.\r\nSecond line.\r\n.leading dot\r\n"
        return (f"From: <{sender}>\r\nTo: <{to}>\r\nSubject: {tag}\r\nMessage-ID: <{tag}@client.test>\r\n\r\n"
                f"{body}").encode()

    def find(self, messages, tag):
        return [m for m in messages if f"Subject: {tag}".encode() in m]

    # --- MX ----------------------------------------------------------------

    def test_mx_delivers_to_account_and_alias(self):
        m1, m2 = self.message("mx-direct"), self.message("mx-alias", to="info@example.test")
        with self.mx() as s:
            self.assertEqual(s.sendmail("someone@remote.test", [DEMO], m1), {})
            self.assertEqual(s.sendmail("someone@remote.test", ["Info@Example.Test"], m2), {})
        box = self.messages_of(DEMO)
        direct, alias = self.find(box, "mx-direct"), self.find(box, "mx-alias")
        self.assertEqual(len(direct), 1)
        self.assertEqual(len(alias), 1)
        self.assertEqual(original_part(direct[0], m1), m1.replace(b"\r\n", b"\n"))
        self.assertIn(b"Delivered-To: Info@example.test", alias[0])
        self.assertIn(b"Return-Path: <someone@remote.test>", direct[0])
        self.assertRegex(direct[0].decode(), r"Received: from client\.test \(\[127\.0\.0\.1\]\)")
        self.assertRegex(self.daemon.output() + open(self.daemon.log_path).read(),
                         r"event=message_accepted id=\S+ session=\S+ listener=mx size=\d+ recipients=1")

    def test_same_mailbox_twice_is_one_delivery(self):
        # demo directly and through its alias: one transaction, one copy.
        msg = self.message("twice-same-box")
        with self.mx() as s:
            self.assertEqual(s.sendmail("someone@remote.test", [DEMO, "info@example.test"], msg), {})
        found = self.find(self.messages_of(DEMO), "twice-same-box")
        self.assertEqual(len(found), 1)
        self.assertIn(b"Delivered-To: demo@example.test", found[0])

    def test_unknown_user_is_550_5_1_1(self):
        with self.mx() as s:
            s.mail("someone@remote.test")
            code, text = s.rcpt("nobody@example.test")
            self.assertEqual(code, 550)
            self.assertTrue(text.startswith(b"5.1.1"), text)

    RELAY_VARIANTS = [
        "<victim@remote.test>",
        "<victim%remote.test@example.test>",
        "<remote.test!victim@example.test>",
        '<"victim@remote.test"@example.test>',
        "<@example.test:victim@remote.test>",
        "<@example.test,@relay.test:victim@remote.test>",
    ]

    def assert_relay_refused(self, s, expect_remote):
        self.assertEqual(s.docmd("MAIL FROM:<demo@example.test>")[0], 250)
        for variant in self.RELAY_VARIANTS:
            code, text = s.docmd(f"RCPT TO:{variant}")
            if variant == "<victim@remote.test>":
                self.assertEqual((code, text[:5]), expect_remote, variant)  # MX: relay refused; submission: queued
            else:
                self.assertEqual((code, text[:5]), (550, b"5.7.1"), variant)
        self.assertEqual(s.docmd("RSET")[0], 250)

    def test_relay_refused_on_every_listener(self):
        with self.mx() as s:
            self.assert_relay_refused(s, (554, b"5.7.1"))
        with self.submission() as s:
            self.assert_relay_refused(s, (250, b"2.1.5"))
        with self.submissions() as s:
            self.assert_relay_refused(s, (250, b"2.1.5"))
        # Nothing reached anyone.
        for m in self.messages_of(DEMO):
            self.assertNotIn(b"victim", m)

    def test_pipelined_transaction_to_two_mailboxes_is_one_blob(self):
        msg = self.message("pipelined-two", to="demo@example.test, ben@example.test")
        with socket.create_connection(("127.0.0.1", self.ports["mx"]), timeout=20) as c:
            f = c.makefile("rb")
            self.assertTrue(f.readline().startswith(b"220"))
            c.sendall(b"EHLO client.test\r\n")
            while not f.readline().startswith(b"250 "):
                pass
            # One send: the whole transaction, as a PIPELINING client does.
            data = msg.replace(b"\r\n.", b"\r\n..")
            c.sendall(b"MAIL FROM:<someone@remote.test>\r\nRCPT TO:<demo@example.test>\r\n"
                      b"RCPT TO:<ben@example.test>\r\nDATA\r\n")
            replies = [f.readline() for _ in range(4)]
            self.assertEqual([r[:3] for r in replies], [b"250", b"250", b"250", b"354"], replies)
            c.sendall(data + b".\r\nQUIT\r\n")
            final = f.readline()
            self.assertTrue(final.startswith(b"250 2.0.0 Ok: queued as "), final)
            self.assertTrue(f.readline().startswith(b"221"))
        log = open(self.daemon.log_path).read()
        accepted = [l for l in log.splitlines() if "event=message_accepted" in l and "recipients=2" in l]
        self.assertEqual(len(accepted), 1, log)
        self.assertIn("deliveries=2", accepted[0])
        demo = self.find(self.messages_of(DEMO), "pipelined-two")
        ben = self.find(self.messages_of("ben@example.test"), "pipelined-two")
        self.assertEqual(len(demo), 1)
        self.assertEqual(len(ben), 1)
        self.assertEqual(original_part(demo[0], msg), original_part(ben[0], msg))
        self.assertEqual(original_part(demo[0], msg), msg.replace(b"\r\n", b"\n"))
        self.assertIn(b"Delivered-To: ben@example.test", ben[0])

    def test_postmaster_is_accepted(self):
        with self.mx() as s:
            s.mail("someone@remote.test")
            self.assertEqual(s.docmd("RCPT TO:<postmaster>")[0], 250)
            self.assertEqual(s.docmd("RCPT TO:<Postmaster@example.test>")[0], 250)
            s.rset()

    def test_quota_full_is_452_4_2_2(self):
        carol = "carol@example.test"
        body = "q" * 70 + "\r\n"
        m1 = self.message("quota-1", to=carol, body=body * 40)  # ~3 KB of a 4000-byte quota
        with self.mx() as s:
            self.assertEqual(s.sendmail("a@remote.test", [carol], m1), {})
            # Unannounced size: the RCPT passes, the end of data finds it full.
            self.assertEqual(s.mail("a@remote.test")[0], 250)
            self.assertEqual(s.rcpt(carol)[0], 250)
            code, text = s.data(self.message("quota-2", to=carol, body=body * 40))
            self.assertEqual((code, text[:5]), (452, b"4.2.2"), text)
            self.assertIn(b"is full", text)
            # Announced size (smtplib sends SIZE=): refused at RCPT.
            with self.assertRaises(smtplib.SMTPRecipientsRefused) as e:
                s.sendmail("a@remote.test", [carol], self.message("quota-3", to=carol, body=body * 40))
            code, text = e.exception.recipients[carol]
            self.assertEqual((code, text[:5]), (452, b"4.2.2"), text)
        box = self.messages_of(carol)
        self.assertEqual([len(self.find(box, t)) for t in ("quota-1", "quota-2", "quota-3")], [1, 0, 0])

    def test_send_rate_limit_is_451_4_7_0(self):
        dave = "dave@example.test"
        with self.submission(login=False) as s:
            s.login(dave, SECOND_PASSWORD)
            for i in range(2):
                self.assertEqual(s.sendmail(dave, ["ben@example.test"], self.message(f"rate-{i}", sender=dave)), {})
            code, text = s.docmd(f"MAIL FROM:<{dave}>")
            self.assertEqual((code, text[:5]), (451, b"4.7.0"), text)
        erin = "erin@example.test"
        with self.submission(login=False) as s:
            s.login(erin, SECOND_PASSWORD)
            self.assertEqual(s.mail(erin)[0], 250)
            self.assertEqual(s.rcpt("ben@example.test")[0], 250)
            self.assertEqual(s.rcpt(DEMO)[0], 250)
            code, text = s.rcpt("carol@example.test")
            self.assertEqual((code, text[:5]), (451, b"4.7.0"), text)
            self.assertIn(b"recipients per hour", text)
        log = open(self.daemon.log_path).read()
        self.assertRegex(log, r"event=rate_limited session=\S+ account=dave@example\.test ip=127\.0\.0\.1 "
                              r"exceeded=messages")
        self.assertRegex(log, r"event=rate_limited session=\S+ account=erin@example\.test ip=127\.0\.0\.1 "
                              r"exceeded=recipients")

    # --- submission ----------------------------------------------------------

    def test_submission_starttls_auth_plain_and_login(self):
        m1 = self.message("sub-plain", sender=DEMO)
        with self.submission() as s:
            self.assertEqual(s.sendmail(DEMO, ["ben@example.test"], m1), {})
        m2 = self.message("sub-login", sender=DEMO)
        with self.submission(login=False) as s:
            s.user, s.password = DEMO, self.password
            code, _ = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
            self.assertEqual(code, 235)
            self.assertEqual(s.sendmail("demo+tag@example.test", ["ben@example.test"], m2), {})
        m3 = self.message("sub-implicit", sender=DEMO)
        with self.submissions() as s:
            # An alias of the account is an allowed sender.
            self.assertEqual(s.sendmail("info@example.test", ["ben@example.test"], m3), {})
        box = self.messages_of("ben@example.test")
        for tag, m in (("sub-plain", m1), ("sub-login", m2), ("sub-implicit", m3)):
            found = self.find(box, tag)
            self.assertEqual(len(found), 1, tag)
            self.assertEqual(original_part(found[0], m), m.replace(b"\r\n", b"\n"))
        self.assertIn(b"(authenticated as demo@example.test)", self.find(box, "sub-plain")[0])

    def test_auth_before_tls_refused(self):
        with smtplib.SMTP("127.0.0.1", self.ports["submission"], timeout=20) as s:
            code, text = s.ehlo("client.test")
            self.assertNotIn(b"AUTH", text)
            creds = base64.b64encode(f"\0{DEMO}\0{self.password}".encode()).decode()
            code, text = s.docmd("AUTH", "PLAIN " + creds)
            self.assertEqual(code, 538, text)
            self.assertEqual(s.docmd("MAIL FROM:<demo@example.test>")[0], 530)

    def test_wrong_password_refused(self):
        with self.submission(login=False) as s:
            with self.assertRaises(smtplib.SMTPAuthenticationError) as e:
                s.login(DEMO, "not the password at all")
            self.assertEqual(e.exception.smtp_code, 535)

    def test_sender_mismatch_refused(self):
        with self.submission() as s:
            code, text = s.docmd("MAIL FROM:<ben@example.test>")
            self.assertEqual((code, text[:5]), (553, b"5.7.1"), text)
            code, text = s.docmd("MAIL FROM:<>")
            self.assertEqual((code, text[:5]), (553, b"5.7.1"), text)
            code, text = s.docmd("MAIL FROM:<someone@remote.test>")
            self.assertEqual(code, 553, text)

    def test_mx_does_not_offer_auth(self):
        with self.mx() as s:
            self.assertFalse(s.has_extn("auth"))
            self.assertEqual(s.docmd("AUTH PLAIN AGRlbW8AeA==")[0], 503)

    # --- extensions ------------------------------------------------------------

    def test_smtputf8(self):
        msg = ("From: <jörg@müller.test>\r\nTo: <demo@example.test>\r\nSubject: utf8-message\r\n\r\n"
               "Grüße aus Köln ✓\r\n").encode()
        with self.mx() as s:
            self.assertTrue(s.has_extn("smtputf8"))
            self.assertEqual(s.sendmail("jörg@müller.test", [DEMO], msg, mail_options=["SMTPUTF8"]), {})
        found = self.find(self.messages_of(DEMO), "utf8-message")
        self.assertEqual(len(found), 1)
        self.assertEqual(original_part(found[0], msg), msg.replace(b"\r\n", b"\n"))
        self.assertIn("Return-Path: <jörg@müller.test>".encode(), found[0])

    def test_bdat_chunks(self):
        part1 = b"From: <a@remote.test>\r\nSubject: bdat-message\r\n\r\n"
        part2 = b"line with a lone dot next\r\n.\r\nand the end\r\n"
        with socket.create_connection(("127.0.0.1", self.ports["mx"]), timeout=20) as c:
            f = c.makefile("rb")
            f.readline()
            c.sendall(b"EHLO client.test\r\n")
            ext = []
            while True:
                line = f.readline()
                ext.append(line)
                if line.startswith(b"250 "):
                    break
            self.assertTrue(any(b"CHUNKING" in l for l in ext))
            c.sendall(b"MAIL FROM:<a@remote.test>\r\nRCPT TO:<demo@example.test>\r\n")
            self.assertTrue(f.readline().startswith(b"250"))
            self.assertTrue(f.readline().startswith(b"250"))
            c.sendall(b"BDAT %d\r\n" % len(part1) + part1)
            self.assertTrue(f.readline().startswith(b"250"))
            c.sendall(b"BDAT %d LAST\r\n" % len(part2) + part2)
            final = f.readline()
            self.assertTrue(final.startswith(b"250 2.0.0 Ok: queued as"), final)
            c.sendall(b"QUIT\r\n")
        found = self.find(self.messages_of(DEMO), "bdat-message")
        self.assertEqual(len(found), 1)
        whole = part1 + part2
        self.assertEqual(original_part(found[0], whole), whole.replace(b"\r\n", b"\n"))

    # --- other clients -----------------------------------------------------------

    @unittest.skipUnless(shutil.which("swaks"), "swaks not installed (.ci/install-deps)")
    def test_swaks_matrix(self):
        base = ["swaks", "--server", "127.0.0.1", "--helo", "client.test", "--timeout", "20"]
        runs = {
            "swaks-mx-pipeline": ["--port", str(self.ports["mx"]), "--from", "a@remote.test",
                                  "--to", DEMO, "--pipeline"],
            "swaks-mx-tls": ["--port", str(self.ports["mx"]), "--from", "a@remote.test", "--to", DEMO, "--tls"],
            "swaks-sub-plain": ["--port", str(self.ports["submission"]), "--tls", "--auth", "PLAIN",
                                "--auth-user", DEMO, "--auth-password", self.password, "--from", DEMO,
                                "--to", "ben@example.test"],
            "swaks-sub-login-pipe": ["--port", str(self.ports["submission"]), "--tls", "--auth", "LOGIN",
                                     "--auth-user", DEMO, "--auth-password", self.password, "--from", DEMO,
                                     "--to", "ben@example.test", "--pipeline"],
            "swaks-465": ["--port", str(self.ports["submissions"]), "--tlsc", "--auth", "PLAIN",
                          "--auth-user", DEMO, "--auth-password", self.password, "--from", DEMO,
                          "--to", "ben@example.test"],
        }
        for tag, args in runs.items():
            p = subprocess.run(base + args + ["--header", f"Subject: {tag}"], capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(p.returncode, 0, f"{tag}\n{p.stdout}\n{p.stderr}")
            self.assertRegex(p.stdout, r"<[-~]\s+250 2\.0\.0 Ok: queued as", tag)
        # swaks refuses to go on when the server refuses: a relay attempt.
        p = subprocess.run(base + ["--port", str(self.ports["mx"]), "--from", "a@remote.test",
                                   "--to", "victim@remote.test"], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("554 5.7.1", p.stdout)
        demo = self.messages_of(DEMO)
        ben = self.messages_of("ben@example.test")
        for tag in ("swaks-mx-pipeline", "swaks-mx-tls"):
            self.assertEqual(len(self.find(demo, tag)), 1, tag)
        for tag in ("swaks-sub-plain", "swaks-sub-login-pipe", "swaks-465"):
            self.assertEqual(len(self.find(ben, tag)), 1, tag)
        self.assertIn(b"with ESMTPSA", self.find(ben, "swaks-465")[0])

    @unittest.skipUnless(shutil.which("curl"), "curl not installed")
    def test_curl_submission_ssl_reqd(self):
        msg = self.message("curl-message", sender=DEMO, to="ben@example.test")
        path = os.path.join(self.dir, "curl.eml")
        with open(path, "wb") as f:
            f.write(msg)
        p = subprocess.run(["curl", "-sS", "--ssl-reqd", "-k", f"smtp://127.0.0.1:{self.ports['submission']}",
                            "--mail-from", DEMO, "--mail-rcpt", "ben@example.test", "--user",
                            f"{DEMO}:{self.password}", "--upload-file", path], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        found = self.find(self.messages_of("ben@example.test"), "curl-message")
        self.assertEqual(len(found), 1)
        self.assertEqual(original_part(found[0], msg), msg.replace(b"\r\n", b"\n"))

    # --- negative ------------------------------------------------------------------

    def test_oversized_message_refused_while_streaming(self):
        big = self.message("oversized", body=("x" * 998 + "\r\n") * (MESSAGE_SIZE_MAX // 1000 + 100))
        with self.mx() as s:
            # No SIZE= (smtplib.mail adds none): the limit trips while streaming.
            self.assertEqual(s.mail("a@remote.test")[0], 250)
            self.assertEqual(s.rcpt(DEMO)[0], 250)
            code, text = s.data(big)  # data() returns the final reply, it raises only on a non-354
            self.assertEqual((code, text[:5]), (552, b"5.3.4"), text)
        # Declared too big: refused at MAIL.
        with self.mx() as s:
            code, _ = s.docmd(f"MAIL FROM:<a@remote.test> SIZE={2 * MESSAGE_SIZE_MAX}")
            self.assertEqual(code, 552)
        self.assertEqual(self.find(self.messages_of(DEMO), "oversized"), [])
        self.assertIn("event=message_aborted", open(self.daemon.log_path).read())

    def test_far_oversized_message_gets_552_not_a_reset(self):
        """Twice the limit sent at loopback speed: the server reads on to the
        end of DATA and answers 552; the connection is not reset (a fixed
        receive queue once overflowed here)."""
        big = self.message("far-oversized", body=("x" * 998 + "\r\n") * (2 * MESSAGE_SIZE_MAX // 1000))
        with self.mx() as s:
            self.assertEqual(s.mail("a@remote.test")[0], 250)
            self.assertEqual(s.rcpt(DEMO)[0], 250)
            code, text = s.data(big)  # data() returns the final reply, it raises only on a non-354
            self.assertEqual((code, text[:5]), (552, b"5.3.4"), text)

    def test_nul_byte_refused(self):
        msg = b"Subject: nul-message\r\n\r\nbefore\x00after\r\n"
        with self.mx() as s:
            with self.assertRaises(smtplib.SMTPDataError) as e:
                s.sendmail("a@remote.test", [DEMO], msg)
            self.assertEqual(e.exception.smtp_code, 554)
            self.assertIn(b"NUL", e.exception.smtp_error)
        self.assertEqual(self.find(self.messages_of(DEMO), "nul-message"), [])

    def test_disconnect_mid_data_leaves_nothing(self):
        with socket.create_connection(("127.0.0.1", self.ports["mx"]), timeout=20) as c:
            f = c.makefile("rb")
            f.readline()
            c.sendall(b"HELO client.test\r\n")
            f.readline()
            c.sendall(b"MAIL FROM:<a@remote.test>\r\nRCPT TO:<demo@example.test>\r\nDATA\r\n")
            for _ in range(3):
                f.readline()
            c.sendall(b"Subject: cut-message\r\n\r\n" + b"half a message\r\n" * 1000)
            time.sleep(0.2)
        time.sleep(0.3)
        self.assertEqual(self.find(self.messages_of(DEMO), "cut-message"), [])

    def test_starttls_discards_pipelined_plaintext(self):
        raw = socket.create_connection(("127.0.0.1", self.ports["mx"]), timeout=20)
        f = raw.makefile("rb")
        f.readline()
        raw.sendall(b"EHLO client.test\r\n")
        while not f.readline().startswith(b"250 "):
            pass
        # The injection: commands after STARTTLS in the same packet.
        raw.sendall(b"STARTTLS\r\nMAIL FROM:<injected@remote.test>\r\nRCPT TO:<demo@example.test>\r\n")
        self.assertTrue(f.readline().startswith(b"220"))
        tls = tls_context().wrap_socket(raw, server_hostname="localhost")
        tf = tls.makefile("rb")
        tls.sendall(b"EHLO client.test\r\n")
        line = tf.readline()
        self.assertTrue(line.startswith(b"250"), line)
        while not line.startswith(b"250 "):
            line = tf.readline()
        # Had the injected MAIL run, this would be "503 nested MAIL".
        tls.sendall(b"MAIL FROM:<a@remote.test>\r\n")
        self.assertTrue(tf.readline().startswith(b"250"))
        tls.sendall(b"QUIT\r\n")
        tf.readline()
        tls.close()

    def test_graceful_stop_says_421_between_commands(self):
        s = self.mx()
        rc = self.stop_daemon()
        try:
            self.assertEqual(rc, 0)
            code, text = s.docmd("NOOP")
            self.assertEqual(code, 421, text)
        except smtplib.SMTPServerDisconnected:
            # smtplib raises when it reads the 421 and the close together.
            pass
        finally:
            self.start_daemon()


class ConnectionLimits(unittest.TestCase):
    """[listeners.smtp] connections_per_ip_max: the next connection from the
    same address gets one 421 line and is closed; a freed slot is reused."""

    def test_per_ip_limit(self):
        def connect_when_a_slot_is_free(ports):
            # A connection the client has closed (wait_for_port's probe, a
            # QUIT) holds its slot until the daemon's session has ended: a
            # moment, longer on a loaded machine (a fixed 0.2 s was assumed).
            deadline = time.monotonic() + 30
            while True:
                try:
                    return smtplib.SMTP("127.0.0.1", ports["mx"], timeout=10)
                except smtplib.SMTPConnectError as e:
                    if e.smtp_code != 421 or time.monotonic() > deadline:
                        raise
                time.sleep(0.05)

        limited = lambda ports: config_text(ports, mx_extra="connections_per_ip_max = 2")  # noqa: E731
        with private_daemon("ringmail-limits-", limited) as (daemon, ports, _):
            held = [connect_when_a_slot_is_free(ports) for _ in range(2)]
            with socket.create_connection(("127.0.0.1", ports["mx"]), timeout=10) as c:
                self.assertTrue(c.makefile("rb").readline().startswith(b"421 4.7.0"))
            held.pop().quit()
            with connect_when_a_slot_is_free(ports) as s:
                self.assertEqual(s.noop()[0], 250)
            for s in held:
                s.quit()
            self.assertIn("event=connection_refused listener=smtp ip=127.0.0.1 reason=limit", daemon.output())


class LargeMessage(unittest.TestCase):
    """An 8 MB message under the 50 MB default limit must be accepted.

    Regression: the receive queue was once a fixed 64 entries and a multishot
    receive that outran its pause reset the connection past about 1.5 MB."""

    def test_eight_megabytes(self):
        def large(ports):
            return config_text(ports).replace(f"message_size_max_bytes = {MESSAGE_SIZE_MAX}",
                                              "message_size_max_bytes = 52428800")
        with private_daemon("ringmail-large-", large) as (_, ports, _d):
            msg = b"Subject: large\r\n\r\n" + (b"y" * 998 + b"\r\n") * 8000
            with smtplib.SMTP("127.0.0.1", ports["mx"], timeout=60) as s:
                self.assertEqual(s.sendmail("a@remote.test", [DEMO], msg), {})


class FewReceiveBuffers(unittest.TestCase):
    """[server] receive_buffers, receive_buffer_bytes and
    receive_buffers_window_min reach the cores: with 8 buffers of 1 KB a core
    and a window of 2 in the kernel's ring, eight clients at once send
    messages of 5-300 KB with dot-stuffed lines, and every message arrives
    byte for byte (the window grows when the kernel runs out; connections
    that got ENOBUFS are re-armed)."""

    def test_eight_clients_through_eight_small_buffers(self):
        def few_buffers(ports):
            return config_text(ports).replace(
                "[server]\n", "[server]\nreceive_buffers = 8\nreceive_buffer_bytes = 1024\n"
                               "receive_buffers_window_min = 2\n", 1)
        rng = random.Random(10)
        messages = []
        for i in range(8):
            lines = [f"Subject: bufs-{i}".encode(), b""]
            size = rng.choice((5_000, 60_000, 300_000))
            total = 0
            while total < size:
                line = bytes(rng.choice(b"abc .xyz") for _ in range(rng.randrange(0, 200)))
                if rng.random() < 0.1:
                    line = b"." + line  # smtplib stuffs it, the server must unstuff it
                lines.append(line)
                total += len(line) + 2
            messages.append(b"\r\n".join(lines) + b"\r\n")
        errors = []

        def send(ports, msg):
            try:
                with smtplib.SMTP("127.0.0.1", ports["mx"], timeout=60) as s:
                    if s.sendmail("a@remote.test", [DEMO], msg) != {}:
                        errors.append("refused")
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))

        with private_daemon("ringmail-bufs-", few_buffers) as (daemon, ports, d):
            threads = [threading.Thread(target=send, args=(ports, m)) for m in messages]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(errors, [])
            self.assertEqual(daemon.stop(), 0)
            target = os.path.join(d, "out")
            p = cli(d, "export", "--account", DEMO, "--mailbox", "INBOX", "--format", "maildir", "--to", target)
            self.assertEqual(p.returncode, 0, p.stderr)
            got = list(read_maildir(target).values())
            for i, msg in enumerate(messages):
                mine = [m for m in got if f"Subject: bufs-{i}\n".encode() in m]
                self.assertEqual(len(mine), 1, i)
                self.assertEqual(original_part(mine[0], msg), msg.replace(b"\r\n", b"\n"), i)


class SlowClientsHoldNoBuffers(unittest.TestCase):
    """2,000 connections that each send one byte of a command (200 of them
    one byte of a TLS ClientHello on the implicit-TLS port) and stop, on cores
    with 8 receive buffers of 1 KB and a window of 2: a session keeps a
    partial line in its own memory, not in a receive buffer, so a new client
    is still served at once, over plain SMTP and STARTTLS; then every slow
    connection closes and the daemon stops cleanly."""

    def test_a_new_client_is_served_while_two_thousand_connections_stall(self):
        def many_slow(ports):
            return config_text(ports, mx_extra="connections_per_ip_max = 5000\n").replace(
                "[server]\n", "[server]\nreceive_buffers = 8\nreceive_buffer_bytes = 1024\n"
                               "receive_buffers_window_min = 2\n", 1).replace(
                "[listeners.submissions]\n", "[listeners.submissions]\nconnections_per_ip_max = 5000\n", 1)
        slow = []
        with contextlib.ExitStack() as cleanup:
            cleanup.callback(lambda: [s.close() for s in slow])
            daemon, ports, _ = cleanup.enter_context(private_daemon("ringmail-slow-", many_slow))
            for i in range(2000):
                tls = i % 10 == 0
                s = socket.create_connection(("127.0.0.1", ports["submissions" if tls else "mx"]), timeout=20)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                s.sendall(b"\x16" if tls else b"E")
                slow.append(s)
            time.sleep(0.5)  # every byte received and read
            msg = b"Subject: past the slow ones\r\n\r\nhello\r\n"
            started = time.monotonic()
            with smtplib.SMTP("127.0.0.1", ports["mx"], timeout=20) as s:
                self.assertEqual(s.sendmail("a@remote.test", [DEMO], msg), {})
            with smtplib.SMTP("127.0.0.1", ports["mx"], timeout=20) as s:
                s.starttls(context=tls_context())
                self.assertEqual(s.sendmail("a@remote.test", [DEMO], msg), {})
            self.assertLess(time.monotonic() - started, 10)
            # The stalled ones are still there and still answer.
            probe = slow[1]
            self.assertTrue(probe.recv(200).startswith(b"220"))
            probe.sendall(b"HLO x\r\n")
            self.assertTrue(probe.recv(2000).startswith(b"250"))
            for s in slow:
                s.close()
            slow.clear()
            self.assertEqual(daemon.stop(), 0)


class TarpittedTrickleHoldsFewBuffers(unittest.TestCase):
    """A client in the error tarpit (its session sleeps error_delay_ms and
    reads nothing) that sends one byte a segment meanwhile: each byte took a
    whole receive buffer and the connection queued up to 128 KB of them, so
    with 64 buffers of 16 KB on the one core it held them all and a new
    client's EHLO waited for the tarpit to end. Now its queue stops at
    receive_limit_bytes' worth of whole buffers (8) and the new client is
    served at once."""

    def test_a_tarpitted_client_trickling_bytes_does_not_starve_the_core(self):
        def tarpit(ports):
            return config_text(ports).replace(
                "[server]\ncores = 2\n", "[server]\ncores = 1\nreceive_buffers = 64\n"
                                          "receive_buffer_bytes = 16384\n", 1).replace(
                "[smtp]\n", "[smtp]\nerror_delay_ms = 6000\n", 1)
        with private_daemon("ringmail-trickle-", tarpit) as (daemon, ports, _), \
                socket.create_connection(("127.0.0.1", ports["mx"]), timeout=20) as attacker:
            attacker.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            f = attacker.makefile("rb")
            self.assertTrue(f.readline().startswith(b"220"))
            for _ in range(3):
                attacker.sendall(b"BOGUS\r\n")
                self.assertTrue(f.readline().startswith(b"500"))
            attacker.sendall(b"BOGUS\r\n")  # the fourth error: its reply comes after 6 s
            time.sleep(0.2)
            for _ in range(300):  # ~1.5 s of one-byte segments, none read
                attacker.sendall(b"x")
                time.sleep(0.005)
            msg = b"Subject: past the tarpit\r\n\r\nhello\r\n"
            started = time.monotonic()
            with smtplib.SMTP("127.0.0.1", ports["mx"], timeout=20) as s:
                self.assertEqual(s.sendmail("a@remote.test", [DEMO], msg), {})
            self.assertLess(time.monotonic() - started, 2.5, "the new client waited for the tarpit")
            attacker.close()
            self.assertEqual(daemon.stop(), 0)


class Reload(unittest.TestCase):
    """SIGHUP: new connections get the new config (per-core snapshot taken
    at accept), an open session keeps the one it started with."""

    def test_sighup_applies_to_new_connections(self):
        with private_daemon("ringmail-reload-") as (daemon, ports, d):
            path = os.path.join(d, "ringmail.toml")
            old = smtplib.SMTP("127.0.0.1", ports["mx"], timeout=10)
            old.ehlo("client.test")
            self.assertEqual(int(old.esmtp_features["size"]), MESSAGE_SIZE_MAX)
            with open(path, "w") as f:
                f.write(config_text(ports).replace(f"message_size_max_bytes = {MESSAGE_SIZE_MAX}",
                                                   "message_size_max_bytes = 65536"))
            daemon.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while "event=config_reload result=ok" not in daemon.output():
                self.assertLess(time.monotonic(), deadline, daemon.output())
                time.sleep(0.05)
            with smtplib.SMTP("127.0.0.1", ports["mx"], timeout=10) as s:
                s.ehlo("client.test")
                self.assertEqual(int(s.esmtp_features["size"]), 65536)
            old.ehlo("client.test")
            self.assertEqual(int(old.esmtp_features["size"]), MESSAGE_SIZE_MAX)
            old.quit()


class KillNine(unittest.TestCase):
    """2,000 messages over 16 connections, SIGKILL at a random moment,
    restart: every message that got 250 is in its mailbox exactly once and
    byte-identical; nothing else is there but complete messages we sent."""

    TOTAL = 2000
    CONNECTIONS = 16

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ringmail-kill-")
        self.ports = {k: free_port() for k in ("mx", "submission", "submissions", "plain", "tls")}
        with open(os.path.join(self.dir, "ringmail.toml"), "w") as f:
            f.write(config_text(self.ports))

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def daemon(self):
        return Daemon(["serve", "--listen-plain", f"127.0.0.1:{self.ports['plain']}",
                       "--listen-tls", f"127.0.0.1:{self.ports['tls']}"], [self.ports["mx"]], data_dir=self.dir)

    def test_sigkill_loses_no_acknowledged_message(self):
        seed = int(os.environ.get("RINGMAIL_KILL_SEED", random.randrange(1 << 30)))
        rng = random.Random(seed)
        kill_after = rng.randrange(100, self.TOTAL - 100)
        d = self.daemon().start()
        sent = {}            # tag -> bytes, every message whose DATA we finished sending
        acked = set()
        lock = threading.Lock()
        counter = iter(range(self.TOTAL))
        killed = threading.Event()

        def worker(n):
            try:
                s = smtplib.SMTP("127.0.0.1", self.ports["mx"], timeout=30)
                s.ehlo("client.test")
                while not killed.is_set():
                    with lock:
                        i = next(counter, None)
                    if i is None:
                        break
                    tag = f"kill-{i:05d}"
                    body = "".join(f"{tag} line {k} {rng.random()}\r\n" for k in range(1 + i % 40))
                    msg = (f"From: <a{n}@remote.test>\r\nSubject: {tag}\r\n\r\n{body}").encode()
                    with lock:
                        sent[tag] = msg
                    s.sendmail(f"a{n}@remote.test", [DEMO], msg)
                    with lock:
                        acked.add(tag)
                        if len(acked) >= kill_after and not killed.is_set():
                            killed.set()
                            d.kill9()
            except (smtplib.SMTPException, OSError):
                pass

        t0 = time.monotonic()
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(self.CONNECTIONS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        self.assertLess(time.monotonic() - t0, 300)
        if not killed.is_set():
            d.kill9()
        d.log.close()
        self.assertGreaterEqual(len(acked), kill_after, f"seed={seed}")

        d = self.daemon().start()
        out = d.output()
        self.assertIn("ringmail: store ", out)
        self.assertEqual(d.stop(), 0, d.output())
        d.log.close()
        target = os.path.join(self.dir, "export")
        cli(self.dir, "export", "--account", DEMO, "--format", "maildir", "--to", target, check=0)
        seen = {}
        for name, data in read_maildir(target).items():
            m = re.search(rb"Subject: (kill-\d{5})", data)
            self.assertIsNotNone(m, f"seed={seed}: unexpected message {name}")
            tag = m.group(1).decode()
            self.assertIn(tag, sent, f"seed={seed}")
            self.assertEqual(hashlib.sha256(original_part(data, sent[tag]) or b"").hexdigest(),
                             hashlib.sha256(sent[tag].replace(b"\r\n", b"\n")).hexdigest(),
                             f"seed={seed}: {tag} differs")
            seen[tag] = seen.get(tag, 0) + 1
        self.assertEqual([t for t, c in seen.items() if c != 1], [], f"seed={seed}: duplicates")
        print(f"\nkill -9: seed={seed} killed after {kill_after} acks; acknowledged={len(acked)} "
              f"data sent={len(sent)} in the mailbox after restart={len(seen)}; "
              + " | ".join(l for l in out.splitlines() if l.startswith("ringmail: store")), file=sys.stderr)
        missing = sorted(acked - set(seen))
        self.assertEqual(missing, [], f"seed={seed}: acknowledged but lost")


if __name__ == "__main__":
    unittest.main()
