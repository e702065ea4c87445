"""IMAP Junk moves train the spam filter: a real imaplib client moves
messages into and out of Junk on the running `ringmail serve`, and the
account's token counts change as `ringmail spam stats --account` (the real
CLI over the store, daemon stopped) shows, after kill -9 and restarts.

  train-on-error: INBOX -> Junk trains spam; Junk -> INBOX untrains spam
      and trains ham (not both); moving it into Junk again retrains spam
      once, a second copy into Junk adds nothing; Junk/Phish counts as Junk.
  bulk: 1,200 messages moved into Junk at once with training_queue_max =
      1,000: two durable intents (1,000 + 200: at most 1,000 blob keys in
      memory), all 1,200 trained in batches of at most 100 (snapshots
      folded in between), nothing dropped; the counts survive kill -9.
  too big: a 300 KB message moved into Junk (training_message_bytes_max =
      200,000) is skipped unread, with a log line.
  verdict: after ann@ moves "news" mail into Junk (ham in the global
      store), new news mail to ann@ is filed in Junk, to bob@ it is not.
  renamed: ren@ renames Junk to Spam (it keeps \\Junk, and moves into it
      train spam): spam scored past junk_threshold is filed in Spam, not
      in INBOX."""
import os
import random
import re
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
BULK = "bulk@example.test"
NEWS = "news@example.test"
BIG = "big@example.test"
REN = "ren@example.test"
NEWS_WORDS = ("newsletter digest weekly roundup subscribers edition headlines column editorial "
              "readers issue archive unsubscribe preferences featured story").split()
BULK_MESSAGES = 1200
QUEUE_MAX = 1000


def stats(data_dir, account):
    out = cli(data_dir, "spam", "stats", "--account", account).stdout
    fields = dict(kv.split("=", 1) for kv in out.split())
    return {k: (int(v) if v.isdigit() else v) for k, v in fields.items()}


def train_global(data_dir, rng, per_class=20):
    """Trains the daemon's global store (offline) on per_class made-up ham and spam messages."""
    train = os.path.join(data_dir, "train")
    for kind, words in (("ham", HAM_WORDS), ("spam", SPAM_WORDS)):
        os.makedirs(os.path.join(train, kind))
        for i in range(per_class):
            with open(os.path.join(train, kind, "%d.eml" % i), "w") as f:
                f.write(message(rng, words, "%s%d@%s.example.net" % (kind, i, kind), words))
    cli(data_dir, "spam", "train", "--ham", os.path.join(train, "ham"), "--spam", os.path.join(train, "spam"))


class SpamTraining(ImapSessions, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = ImapDaemon(extra=f"""
[spam]
tag_threshold = 0.9
junk_threshold = 0.99
training_batch_messages = 100
training_queue_max = {QUEUE_MAX}
snapshot_every_bytes = 150000
training_message_bytes_max = 200000
""")
        cls.d.start()
        for a in (ANN, BOB, BULK, NEWS, BIG, REN):
            cls.d.add_account(a)
        assert cls.d.stop() == 0
        rng = random.Random(5)
        train = os.path.join(cls.d.dir, "train")
        for kind, words, n in (("ham", HAM_WORDS, 40), ("spam", SPAM_WORDS, 40), ("news", NEWS_WORDS, 3)):
            os.makedirs(os.path.join(train, kind))
            for i in range(n):
                with open(os.path.join(train, kind, "%d.eml" % i), "w") as f:
                    f.write(message(rng, words, "%s%d@%s.example.net" % (kind, i, kind), words))
        cli(cls.d.dir, "spam", "train", "--ham", os.path.join(train, "ham"), "--ham", os.path.join(train, "news"),
            "--spam", os.path.join(train, "spam"))
        # bulk@'s INBOX: an mbox imported offline (fast), moved over IMAP.
        mbox = os.path.join(cls.d.dir, "bulk.mbox")
        with open(mbox, "w") as f:
            for i in range(BULK_MESSAGES):
                f.write("From sender@example.net Mon Nov 23 10:00:00 2026\n")
                f.write(message(rng, SPAM_WORDS, "bulk%d@spam.example.net" % i, SPAM_WORDS).replace(
                    "Subject: ", "Subject: bulk-%d " % i, 1) + "\n")
        cli(cls.d.dir, "import", "--account", BULK, "--format", "mbox", "--from", mbox)
        cls.rng = random.Random(11)
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.d.cleanup()

    def restart(self, kill=False):
        ready_before = self.d.output().count("event=ready")
        if kill:
            self.d.daemon.kill9()
            self.d.daemon.log.close()
        else:
            self.assertEqual(self.d.stop(), 0)
        counts = {}
        for a in (ANN, BULK):
            counts[a] = stats(self.d.dir, a)
        self.d.start()
        deadline = time.monotonic() + 60
        while self.d.output().count("event=ready") <= ready_before:
            self.assertLess(time.monotonic(), deadline, self.d.output()[-2000:])
            time.sleep(0.05)
        return counts

    def wait_log(self, pattern, count=1, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            found = re.findall(pattern, self.d.output())
            if len(found) >= count:
                return found
            self.assertLess(time.monotonic(), deadline, f"{pattern!r} x{count}:\n" + self.d.output()[-3000:])
            time.sleep(0.05)

    def move(self, c, uid, target):
        typ, data = c.uid("MOVE", uid, target)
        self.assertEqual(typ, "OK", data)

    def uid_of(self, c, subject):
        typ, data = c.uid("SEARCH", "SUBJECT", f'"{subject}"')
        self.assertEqual(typ, "OK")
        uids = data[0].split()
        self.assertEqual(len(uids), 1, data)
        return uids[0].decode()

    def test_moves_train_on_error_and_survive_kill_9(self):
        c = self.imaps(ANN)
        text = message(self.rng, SPAM_WORDS, "x@offer.example.biz", SPAM_WORDS).replace("Subject: ", "Subject: tt1 ", 1)
        typ, _ = c.append("INBOX", None, None, text.replace("\n", "\r\n").encode())
        self.assertEqual(typ, "OK")
        c.select("INBOX")
        self.move(c, self.uid_of(c, "tt1"), "Junk")
        self.wait_log(r"event=spam_trained account=\d+ messages=1 durable=yes ham=0 spam=1 ")
        c.select("Junk")
        self.move(c, self.uid_of(c, "tt1"), "INBOX")
        self.wait_log(r"event=spam_trained account=\d+ messages=1 durable=yes ham=1 spam=0 ")
        after_kill = self.restart(kill=True)[ANN]
        self.assertEqual((after_kill["ham"], after_kill["spam"], after_kill["trained_messages"]), (1, 0, 1), after_kill)
        self.assertGreater(after_kill["tokens"], 10)
        # After the restart the ledger is back: into Junk/Phish (a Junk
        # subfolder) retrains spam once; a COPY into Junk adds nothing.
        c = self.imaps(ANN)
        c.create("Junk/Phish")
        c.select("INBOX")
        uid = self.uid_of(c, "tt1")
        typ, _ = c.uid("COPY", uid, "Junk")
        self.assertEqual(typ, "OK")
        # The log is appended across restarts: the second such line.
        self.wait_log(r"event=spam_trained account=\d+ messages=1 durable=yes ham=0 spam=1 ", count=2)
        typ, _ = c.uid("COPY", uid, "Junk")
        self.assertEqual(typ, "OK")
        self.move(c, uid, "Junk/Phish")
        self.wait_log(r"event=junk_training verdict=spam account=\d+ from=INBOX to=Junk/Phish")
        # Nothing new to write: the ledger already says spam.
        time.sleep(0.5)
        counts = self.restart()[ANN]
        self.assertEqual((counts["ham"], counts["spam"], counts["trained_messages"]), (0, 1, 1), counts)
        self.assertEqual(counts["tokens"], after_kill["tokens"])

    def test_bulk_move_is_bounded_batched_and_durable(self):
        c = self.imaps(BULK)
        c.select("INBOX")
        typ, data = c.uid("MOVE", "1:*", "Junk")
        self.assertEqual(typ, "OK")
        # Batches of at most 100 until both intents are done; none dropped
        # (before, the 200 beyond training_queue_max were).
        self.wait_log(r"event=spam_trained account=\d+ messages=\d+ durable=yes ham=0 spam=%d .*queued=0 intents=0"
                      % BULK_MESSAGES)
        self.wait_log(r"event=spam_training_intents_done intents=\d+ durable=yes")
        self.assertNotIn("spam_training_dropped", self.d.output())
        batches = re.findall(r"event=spam_trained account=\d+ messages=(\d+) durable=yes ham=0 spam=\d+",
                             self.d.output())
        self.assertGreaterEqual(len(batches), BULK_MESSAGES // 100)
        self.assertTrue(all(int(b) <= 100 for b in batches), batches)
        # The window: never more than one intent's QUEUE_MAX keys queued.
        queued = [int(q) for q in re.findall(r"event=spam_trained account=\d+ .* queued=(\d+)", self.d.output())]
        self.assertTrue(all(q < QUEUE_MAX for q in queued), max(queued))
        self.assertIn("event=spam_snapshot", self.d.output())
        # The session stayed usable meanwhile, and the counts survive kill -9.
        typ, _ = c.noop()
        self.assertEqual(typ, "OK")
        counts = self.restart(kill=True)[BULK]
        self.assertEqual((counts["ham"], counts["spam"], counts["trained_messages"]),
                         (0, BULK_MESSAGES, BULK_MESSAGES), counts)

    def test_a_message_above_the_training_size_limit_is_skipped_unread(self):
        c = self.imaps(BIG)
        text = message(self.rng, SPAM_WORDS, "x@offer.example.biz", SPAM_WORDS).replace("Subject: ", "Subject: big1 ", 1)
        text += ("filler " * 15 + "\n") * 3000
        typ, _ = c.append("INBOX", None, None, text.replace("\n", "\r\n").encode())
        self.assertEqual(typ, "OK")
        c.select("INBOX")
        self.move(c, self.uid_of(c, "big1"), "Junk")
        self.wait_log(r"event=spam_training_skipped account=\d+ messages=1 bytes_max=200000")

    def test_junk_training_changes_the_verdict_for_that_account_only(self):
        smtp = smtplib.SMTP("127.0.0.1", self.d.ports["mx"], timeout=30)
        self.addCleanup(smtp.quit)

        def send(to, tag):
            m = message(self.rng, NEWS_WORDS, "editor@news.example.org", NEWS_WORDS).replace(
                "Subject: ", f"Subject: {tag} ", 1)
            smtp.sendmail("editor@news.example.org", [to], m.replace("\n", "\r\n").encode())

        c = self.imaps(NEWS)
        for i in range(30):
            send(NEWS, f"news-train-{i}")
        c.select("INBOX")
        typ, data = c.uid("SEARCH", "SUBJECT", "news-train")
        self.assertEqual(len(data[0].split()), 30, data)
        typ, _ = c.uid("MOVE", "1:*", "Junk")
        self.assertEqual(typ, "OK")
        self.wait_log(r"event=spam_trained account=\d+ messages=\d+ durable=yes ham=0 spam=30 ")
        send(NEWS, "news-probe")
        send(BOB, "news-probe")
        c.select("Junk")
        typ, data = c.uid("SEARCH", "SUBJECT", "news-probe")
        self.assertEqual(len(data[0].split()), 1, "news-probe not in news@'s Junk")
        b = self.imaps(BOB)
        b.select("INBOX")
        typ, data = b.uid("SEARCH", "SUBJECT", "news-probe")
        self.assertEqual(len(data[0].split()), 1, "news-probe not in bob@'s INBOX")

    def test_spam_is_filed_in_the_junk_folder_after_a_rename(self):
        c = self.imaps(REN)
        typ, data = c.rename("Junk", "Spam")
        self.assertEqual(typ, "OK", data)
        typ, data = c.list('""', "Spam")
        self.assertIn(b"\\Junk", data[0])
        m = message(self.rng, SPAM_WORDS, "x@offer.example.biz", SPAM_WORDS).replace("Subject: ", "Subject: ren-1 ", 1)
        with smtplib.SMTP("127.0.0.1", self.d.ports["mx"], timeout=30) as smtp:
            smtp.sendmail("x@offer.example.biz", [REN], m.replace("\n", "\r\n").encode())
        mailbox = self.wait_log(r"event=delivery id=\S+ account=ren@example.test mailbox=(\S+)")
        self.assertEqual(mailbox, ["Spam"])
        c.select("INBOX")
        typ, data = c.uid("SEARCH", "SUBJECT", "ren-1")
        self.assertEqual(data[0].split(), [], "ren-1 was filed in INBOX")
        c.select("Spam")
        typ, data = c.uid("SEARCH", "SUBJECT", "ren-1")
        self.assertEqual(len(data[0].split()), 1, "ren-1 not in Spam")


if __name__ == "__main__":
    unittest.main()
