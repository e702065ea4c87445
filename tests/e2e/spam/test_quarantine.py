"""`ringmail quarantine list|release|delete` against the running daemon:
spam sent over SMTP to the MX listener is filed into Junk by the trained
filter; the operator lists it, releases it into INBOX (an IMAP client sees
it there, and the account's token store learns it as ham, as `spam stats`
shows once the daemon is stopped) or deletes it; messages in a Junk
subfolder count; every wrong argument gets a clear refusal."""
import json
import os
import random
import smtplib
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "imap"))
from imap_daemon import ImapDaemon, ImapSessions, cli  # noqa: E402
from test_spam_cli import HAM_WORDS, SPAM_WORDS, message  # noqa: E402

ANN = "ann@example.test"
BOB = "bob@example.test"


class Quarantine(ImapSessions, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = ImapDaemon(extra="[spam]\ntag_threshold = 0.9\njunk_threshold = 0.99\n")
        cls.d.start()
        for a in (ANN, BOB):
            cls.d.add_account(a)
        assert cls.d.stop() == 0
        rng = random.Random(7)
        train = os.path.join(cls.d.dir, "train")
        for kind, words in (("ham", HAM_WORDS), ("spam", SPAM_WORDS)):
            os.makedirs(os.path.join(train, kind))
            for i in range(40):
                with open(os.path.join(train, kind, "%d.eml" % i), "w") as f:
                    f.write(message(rng, words, "%s%d@%s.example.net" % (kind, i, kind), words))
        cli(cls.d.dir, "spam", "train", "--ham", os.path.join(train, "ham"), "--spam", os.path.join(train, "spam"))
        cls.rng = rng
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.d.cleanup()

    def quarantine(self, *args, check=0):
        return cli(self.d.dir, "quarantine", *args, check=check)

    def listed(self, account):
        return json.loads(cli(self.d.dir, "--json", "quarantine", "list", "--account", account).stdout)

    def send_spam(self, rcpt, subject):
        text = message(self.rng, SPAM_WORDS, "offers@spam.example.net", SPAM_WORDS).replace(
            "Subject: ", f"Subject: {subject} ", 1)
        with smtplib.SMTP("127.0.0.1", self.d.ports["mx"], timeout=30) as s:
            s.sendmail("offers@spam.example.net", [rcpt], text.replace("\n", "\r\n"))

    def wait_listed(self, account, subject):
        deadline = time.monotonic() + 30
        while True:
            hits = [m for m in self.listed(account) if subject in m["subject"]]
            if hits:
                return hits[0]
            self.assertLess(time.monotonic(), deadline, self.d.output()[-2000:])
            time.sleep(0.1)

    def subjects(self, c, mailbox):
        typ, count = c.select(f'"{mailbox}"')
        self.assertEqual(typ, "OK")
        if int(count[0]) == 0:
            return ""
        typ, data = c.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        return " ".join(part[1].decode() for part in data if isinstance(part, tuple))

    def test_list_then_release_into_inbox_trains_ham(self):
        self.send_spam(ANN, "release-me")
        m = self.wait_listed(ANN, "release-me")
        self.assertEqual((m["account"], m["mailbox"]), (ANN, "Junk"))
        self.assertTrue(m["spam_status"].startswith("Yes"), m)
        self.assertIn("offers@spam.example.net", m["from"])
        self.assertGreater(m["size"], 100)
        # Every account's quarantine, in the plain text listing.
        text = self.quarantine("list").stdout
        self.assertIn(f"{ANN} Junk uid {m['uid']}", text)

        out = self.quarantine("release", str(m["uid"]), "--account", ANN).stdout
        self.assertIn("released into INBOX", out)
        c = self.imaps(ANN)
        self.assertIn("release-me", self.subjects(c, "INBOX"))
        self.assertNotIn("release-me", self.subjects(c, "Junk"))
        self.assertEqual([x for x in self.listed(ANN) if "release-me" in x["subject"]], [])
        # The release was a training event like an IMAP move out of Junk.
        deadline = time.monotonic() + 30
        while "event=spam_trained" not in self.d.output() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(self.d.stop(), 0)
        try:
            fields = dict(kv.split("=", 1) for kv in cli(self.d.dir, "spam", "stats", "--account", ANN).stdout.split())
            self.assertGreaterEqual(int(fields["ham"]), 1, fields)
        finally:
            self.d.start()

    def test_delete_from_a_junk_subfolder(self):
        c = self.imaps(BOB)
        self.assertEqual(c.create("Junk/Phish")[0], "OK")
        msg = "From: phisher@bank.example.net\r\nSubject: verify your account now\r\n\r\nclick here\r\n"
        self.assertEqual(c.append("Junk/Phish", None, None, msg.encode())[0], "OK")
        m = self.wait_listed(BOB, "verify your account")
        self.assertEqual(m["mailbox"], "Junk/Phish")
        self.quarantine("delete", str(m["uid"]), "--account", BOB, "--mailbox", "Junk/Phish")
        self.assertEqual([x for x in self.listed(BOB) if x["mailbox"] == "Junk/Phish"], [])
        c.select('"Junk/Phish"')
        self.assertEqual(c.search(None, "ALL")[1], [b""])

    def test_refusals_are_clear(self):
        self.assertIn("no account", self.quarantine("list", "--account", "nobody@example.test", check=1).stderr)
        self.assertIn("no message with UID 99999",
                      self.quarantine("release", "99999", "--account", ANN, check=1).stderr)
        self.assertIn("no Junk folder", self.quarantine("delete", "1", "--account", ANN, "--mailbox", "INBOX",
                                                        check=1).stderr)
        self.assertIn("UID", self.quarantine("release", "abc", "--account", ANN, check=1).stderr)
        self.assertIn("--limit", self.quarantine("list", "--limit", "0", check=1).stderr)
        self.assertNotEqual(self.quarantine("release", "1", check=None).returncode, 0)  # --account is required


class QuarantineWithoutDaemon(unittest.TestCase):
    def test_says_the_daemon_is_needed(self):
        d = ImapDaemon()
        try:
            p = cli(d.dir, "quarantine", "list", check=1)
            self.assertIn("daemon is not running", p.stderr)
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main()
