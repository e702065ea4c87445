"""The spam filter inline in `ringmail serve`: token stores trained with
the CLI into the daemon's store (`ringmail spam train --data-dir`, daemon
stopped: the global store, and ben@'s own store with --account), then real
SMTP clients send ham and spam to the MX listener, and `ringmail export`
shows where each landed and with which headers:

  demo@ (global thresholds: tag 0.9, junk 0.99, prefix "[SPAM] "):
      ham   -> INBOX, X-Spam-Status: No
      spam  -> Junk, X-Spam-Status: Yes (level past 50), X-Spam-Level: 50 stars,
               a "[SPAM] " Subject first
  ben@  (per_account reject=0.99): spam -> 550 5.7.1 with a reference id
      that the daemon's log line spam_scored carries; ham -> INBOX
  submission (authenticated) mail is not filtered.
  "news" mail: ham in the global store, spam in ben@'s own store (trained
      with --account): demo@ gets it in INBOX, ben@ refuses it.

The stores live in the message store and are read at start: after a
restart (and after kill -9) the verdicts are the same."""
import os
import random
import re
import shutil
import smtplib
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import RINGMAIL, Daemon, free_port, wait_for_port  # noqa: E402
from test_spam_cli import HAM_WORDS, SPAM_WORDS, message  # noqa: E402

NEWS_WORDS = ("newsletter digest weekly roundup subscribers edition headlines column editorial "
              "readers issue archive unsubscribe preferences featured story").split()

DEMO = "demo@example.test"
BEN = "ben@example.test"
PASSWORD = "correct horse battery staple"


def cli(data_dir, *args, check=0):
    p = subprocess.run([RINGMAIL, *args, "--data-dir", data_dir], capture_output=True, text=True, timeout=120)
    assert p.returncode == check, f"{args}: rc={p.returncode}\n{p.stdout}\n{p.stderr}"
    return p


def read_maildir(path):
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(path, sub)
        if os.path.isdir(d):
            for name in sorted(os.listdir(d)):
                with open(os.path.join(d, name), "rb") as f:
                    # Maildir files have LF line ends.
                    out.append(f.read().decode(errors="replace").replace("\r\n", "\n"))
    return out


class SpamInline(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="ringmail-spam-inline-")
        cls.ports = {k: free_port() for k in ("mx", "submission", "submissions", "plain", "tls")}
        rng = random.Random(7)
        train = os.path.join(cls.dir, "train")
        # News is ham globally (a few) and spam for ben@ (many, in his store).
        for kind, words, n in (("ham", HAM_WORDS, 40), ("spam", SPAM_WORDS, 40), ("news-ham", NEWS_WORDS, 2),
                               ("news-spam", NEWS_WORDS, 60)):
            os.makedirs(os.path.join(train, kind))
            for i in range(n):
                with open(os.path.join(train, kind, "%d.eml" % i), "w") as f:
                    f.write(message(rng, words, "%s%d@%s.example.net" % (kind, i, kind), words, html=kind == "spam"))
        off = "".join(f"[listeners.{n}]\nenabled = false\n" for n in ("imap", "imaps", "pop3", "pop3s", "http"))
        with open(os.path.join(cls.dir, "ringmail.toml"), "w") as f:
            f.write(f"""
[server]
cores = 2
shutdown_grace_ms = 2000
[auth.argon2]
memory_kib = 1024
iterations = 1
[spam]
tag_threshold = 0.9
junk_threshold = 0.99
subject_prefix = "[SPAM] "
per_account = ["{BEN} reject=0.99"]
[listeners.smtp]
address = "127.0.0.1:{cls.ports['mx']}"
[listeners.submission]
address = "127.0.0.1:{cls.ports['submission']}"
[listeners.submissions]
address = "127.0.0.1:{cls.ports['submissions']}"
{off}""")
        cls.rng = random.Random(99)
        # The first start creates the store (and records its shard count).
        cls.start_daemon()
        pwfile = os.path.join(cls.dir, "pw")
        with open(pwfile, "w") as f:
            f.write(PASSWORD + "\n")
        cli(cls.dir, "account", "add", BEN, "--password-file", pwfile)
        assert cls.daemon.stop() == 0, cls.daemon.output()
        cls.daemon.log.close()
        out = cli(cls.dir, "spam", "train", "--ham", os.path.join(train, "ham"), "--ham", os.path.join(train, "news-ham"),
                  "--spam", os.path.join(train, "spam")).stdout
        assert "global store: 42 ham, 40 spam" in out, out
        out = cli(cls.dir, "spam", "train", "--account", BEN, "--spam", os.path.join(train, "news-spam")).stdout
        assert "0 ham, 60 spam" in out, out
        cls.start_daemon()

    @classmethod
    def start_daemon(cls):
        cls.daemon = Daemon(["serve", "--listen-plain", f"127.0.0.1:{cls.ports['plain']}",
                             "--listen-tls", f"127.0.0.1:{cls.ports['tls']}"], [], data_dir=cls.dir).start()
        # Recovery after kill -9 on a loaded machine can take a while.
        for port in (cls.ports["mx"], cls.ports["submission"]):
            wait_for_port(port, timeout=60)

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()
        cls.daemon.log.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def probe(self, kind, tag):
        words = {"spam": SPAM_WORDS, "ham": HAM_WORDS, "news": NEWS_WORDS}[kind]
        m = message(self.rng, words, "someone@remote.example.org", words, html=kind == "spam")
        return m.replace("Subject: ", f"Subject: {tag} ", 1).replace("\n", "\r\n")

    def send(self, to, text):
        with smtplib.SMTP("127.0.0.1", self.ports["mx"], timeout=30) as s:
            s.ehlo("client.test")
            return s.sendmail("someone@remote.example.org", [to], text.encode())

    def export(self, account, mailbox):
        self.assertEqual(self.daemon.stop(), 0, self.daemon.output())
        self.daemon.log.close()
        target = os.path.join(tempfile.mkdtemp(dir=self.dir), "out")
        p = subprocess.run([RINGMAIL, "export", "--account", account, "--mailbox", mailbox, "--format", "maildir",
                            "--to", target, "--data-dir", self.dir], capture_output=True, text=True, timeout=120)
        self.start_daemon()
        self.assertEqual(p.returncode, 0, p.stderr)
        return read_maildir(target)

    def find(self, messages, tag):
        return [m for m in messages if tag in m]

    def test_ham_inbox_spam_junk_tagged_with_prefix(self):
        self.send(DEMO, self.probe("ham", "ham-t1"))
        self.send(DEMO, self.probe("spam", "spam-t1"))
        inbox = self.export(DEMO, "INBOX")
        junk = self.export(DEMO, "Junk")
        ham = self.find(inbox, "ham-t1")
        self.assertEqual(len(ham), 1, inbox)
        self.assertIn("X-Spam-Status: No, probability=0.0", ham[0])
        self.assertIn("X-Spam-Level: \n", ham[0])
        self.assertEqual(self.find(junk, "ham-t1"), [])
        spam = self.find(junk, "spam-t1")
        self.assertEqual(len(spam), 1, junk)
        self.assertEqual(self.find(inbox, "spam-t1"), [])
        self.assertIn("X-Spam-Status: Yes, probability=", spam[0])
        # A strong spam: probability 1.000000, level past 50 (8 - log10(1 - p),
        # filter/classifier/spam_level.h), and X-Spam-Level's stars stop at 50.
        status = re.search(r"X-Spam-Status: Yes, probability=([0-9.]+), level=(\d+\.\d\d),", spam[0])
        self.assertIsNotNone(status, spam[0][:800])
        self.assertEqual(status.group(1), "1.000000")
        self.assertGreater(float(status.group(2)), 50.0, status.group(0))
        stars = re.search(r"X-Spam-Level: (\**)\n", spam[0]).group(1)
        self.assertEqual(len(stars), 50)
        headers = spam[0].split("\n\n", 1)[0]
        subjects = [l for l in headers.split("\n") if l.startswith("Subject: ")]
        self.assertTrue(subjects[0].startswith("Subject: [SPAM] spam-t1"), subjects)

    def test_per_account_reject_with_reference(self):
        with self.assertRaises(smtplib.SMTPDataError) as caught:
            self.send(BEN, self.probe("spam", "spam-t2"))
        code, text = caught.exception.smtp_code, caught.exception.smtp_error.decode()
        self.assertEqual(code, 550)
        self.assertIn("5.7.1", text)
        ref = text.split("(ref ")[1].rstrip(")")
        self.send(BEN, self.probe("ham", "ham-t2"))
        inbox = self.export(BEN, "INBOX")
        self.assertEqual(len(self.find(inbox, "ham-t2")), 1)
        self.assertEqual(self.find(inbox, "spam-t2"), [])
        log = open(os.path.join(self.dir, "daemon.log"), errors="replace").read()
        self.assertIn("ref=" + ref, log)
        self.assertIn("action=reject", log)

    def test_submission_is_not_filtered(self):
        password = open(os.path.join(self.dir, "demo-password")).read().strip()
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with smtplib.SMTP("127.0.0.1", self.ports["submission"], timeout=30) as s:
            s.ehlo("client.test")
            s.starttls(context=ctx)
            s.ehlo("client.test")
            s.login(DEMO, password)
            s.sendmail(DEMO, [DEMO], self.probe("spam", "spam-t3").replace("someone@remote.example.org", DEMO).encode())
        inbox = self.export(DEMO, "INBOX")
        mine = self.find(inbox, "spam-t3")
        self.assertEqual(len(mine), 1)
        self.assertNotIn("X-Spam-Status", mine[0])

    def test_account_store_adds_to_the_global_one(self):
        self.send(DEMO, self.probe("news", "news-t5"))
        with self.assertRaises(smtplib.SMTPDataError) as caught:
            self.send(BEN, self.probe("news", "news-t5b"))
        self.assertEqual(caught.exception.smtp_code, 550)
        inbox = self.export(DEMO, "INBOX")
        self.assertEqual(len(self.find(inbox, "news-t5")), 1, inbox)

    def test_verdicts_survive_kill_9(self):
        ready_before = self.daemon.output().count("event=ready")
        self.daemon.kill9()
        self.daemon.log.close()
        self.start_daemon()
        # A port can answer before the new daemon is ready: wait for its
        # own "ready" line.
        deadline = time.monotonic() + 60
        while self.daemon.output().count("event=ready") <= ready_before:
            self.assertIsNone(self.daemon.proc.poll(), self.daemon.output()[-2000:])
            self.assertLess(time.monotonic(), deadline, self.daemon.output()[-2000:])
            time.sleep(0.1)
        self.send(DEMO, self.probe("spam", "spam-t4"))
        self.send(DEMO, self.probe("news", "news-t4"))
        with self.assertRaises(smtplib.SMTPDataError) as caught:
            self.send(BEN, self.probe("news", "news-t4b"))
        self.assertEqual(caught.exception.smtp_code, 550)
        junk = self.export(DEMO, "Junk")
        self.assertEqual(len(self.find(junk, "spam-t4")), 1)
        self.assertEqual(self.find(junk, "news-t4"), [])


if __name__ == "__main__":
    unittest.main()
