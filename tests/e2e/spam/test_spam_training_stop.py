"""Junk training across a graceful stop: a user moves 1,000 messages into
Junk over IMAP (a real imaplib client against `ringmail serve`) and the
daemon gets SIGTERM right after the MOVE's OK, while the training queue is
still full (one message a batch, each batch one group commit).

  drained: with server.shutdown_grace_ms = 60000 the stop waits for the
      queue: `ringmail spam stats` (daemon stopped) counts all 1,000 as
      spam, and the log says the worker drained (`spam_training_draining`
      with messages queued). Before, the queue was dropped at the stop.
  grace over: with shutdown_grace_ms = 0 the same stop after moving them
      all back to INBOX leaves the rest on disk (`spam_training_deferred`,
      the intents left), and the counts on disk are whole (ham + spam =
      trained); the next start replays the intent and all 1,000 are ham.
      Before, the rest was dropped and never trained.
  kill -9: the same 1,000 moved into Junk for another account, SIGKILL
      right after the OK: all 1,000 are still to train on disk
      (`spam stats`: pending_messages), and after the restart all 1,000
      are spam. Before, the queue was in memory only and what the worker
      had not written was lost for good (main at 422cffe: 4 of 1,000
      trained at the kill, and no replay).
  copy out: a client without MOVE (COPY to INBOX, STORE \\Deleted,
      EXPUNGE) takes a message out of Junk, and that trains ham."""
import os
import random
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "imap"))
from imap_daemon import ImapDaemon, ImapSessions, cli  # noqa: E402
from test_spam_cli import HAM_WORDS, SPAM_WORDS, message  # noqa: E402
from test_spam_training import stats, train_global  # noqa: E402

STOP = "stop@example.test"
COPY = "copy@example.test"
KILLED = "killed@example.test"
MESSAGES = 1000


class SpamTrainingAtStop(ImapSessions, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = ImapDaemon(extra="""
[spam]
training_batch_messages = 1
training_queue_max = 100000
""")
        cls.set_grace(60000)
        cls.d.start()
        for a in (STOP, COPY, KILLED):
            cls.d.add_account(a)
        assert cls.d.stop() == 0
        rng = random.Random(7)
        train_global(cls.d.dir, rng)
        mbox = os.path.join(cls.d.dir, "stop.mbox")
        with open(mbox, "w") as f:
            for i in range(MESSAGES):
                f.write("From sender@example.net Mon Nov 23 10:00:00 2026\n")
                f.write(message(rng, SPAM_WORDS, "s%d@spam.example.net" % i, SPAM_WORDS) + "\n")
        for a in (STOP, KILLED):
            cli(cls.d.dir, "import", "--account", a, "--format", "mbox", "--from", mbox)
        cls.rng = rng

    @classmethod
    def set_grace(cls, ms):
        path = os.path.join(cls.d.dir, "ringmail.toml")
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(re.sub(r"shutdown_grace_ms = \d+", "shutdown_grace_ms = %d" % ms, text, count=1))

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def start(self):
        self.d.start()

    def move_all_then_stop(self, source, target):
        c = self.imaps(STOP)
        c.select(source)
        typ, data = c.uid("MOVE", "1:*", target)
        self.assertEqual(typ, "OK", data)
        self.assertEqual(self.d.stop(), 0, self.d.output()[-3000:])
        return self.d.output()

    def test_a_graceful_stop_drains_the_queue_until_the_grace_ends(self):
        self.set_grace(60000)
        self.start()
        out = self.move_all_then_stop("INBOX", "Junk")
        draining = re.findall(r"event=spam_training_draining queued=(\d+) intents=(\d+)", out)
        self.assertEqual(len(draining), 1, out[-3000:])
        self.assertGreater(int(draining[0][0]) + int(draining[0][1]), 0)
        self.assertNotIn("reason=shutdown", out)
        s = stats(self.d.dir, STOP)
        self.assertEqual((s["ham"], s["spam"], s["trained_messages"]), (0, MESSAGES, MESSAGES), s)

        # Grace over: the same stop with no grace leaves the rest on disk.
        self.set_grace(0)
        self.start()
        out = self.move_all_then_stop("Junk", "INBOX")
        self.set_grace(60000)
        deferred = re.findall(r"event=spam_training_deferred intents=(\d+) reason=shutdown", out)
        self.assertEqual(len(deferred), 1, out[-3000:])
        self.assertEqual(int(deferred[0]), 1)
        self.assertNotIn("spam_training_dropped", out)
        s = stats(self.d.dir, STOP)
        # Each message trained before the stop moved from spam to ham; the
        # rest are still spam, and a batch in flight is written whole.
        self.assertEqual(s["ham"] + s["spam"], MESSAGES, s)
        self.assertEqual(s["trained_messages"], MESSAGES, s)
        self.assertLess(s["ham"], MESSAGES, s)
        # The next start replays the intent: the rest are trained too (the
        # ones already ham are no-ops in the ledger).
        seen = len(self.d.output())  # the log file is appended across starts
        self.start()
        deadline = time.monotonic() + 120
        while not re.search(r"event=spam_training_intents_done intents=1 durable=yes", self.d.output()[seen:]):
            self.assertLess(time.monotonic(), deadline, self.d.output()[-3000:])
            time.sleep(0.05)
        self.assertIn("event=spam_training_replay intents=1", self.d.output()[seen:])
        self.assertEqual(self.d.stop(), 0)
        s = stats(self.d.dir, STOP)
        self.assertEqual((s["ham"], s["spam"], s["trained_messages"]), (MESSAGES, 0, MESSAGES), s)

    def test_a_kill_9_right_after_the_ok_loses_nothing(self):
        self.set_grace(60000)
        self.start()
        c = self.imaps(KILLED)
        c.select("INBOX")
        typ, data = c.uid("MOVE", "1:*", "Junk")
        self.assertEqual(typ, "OK", data)
        self.d.daemon.kill9()
        self.d.daemon.log.close()
        s = stats(self.d.dir, KILLED)
        self.assertEqual(s.get("pending_messages"), MESSAGES, s)
        seen = len(self.d.output())
        self.start()
        deadline = time.monotonic() + 120
        while not re.search(r"event=spam_training_intents_done intents=1 durable=yes", self.d.output()[seen:]):
            if time.monotonic() > deadline:
                self.d.stop()
                self.fail("not trained after the restart: %s\n%s" % (stats(self.d.dir, KILLED), self.d.output()[-3000:]))
            time.sleep(0.05)
        self.assertEqual(self.d.stop(), 0)
        s = stats(self.d.dir, KILLED)
        self.assertEqual((s["ham"], s["spam"], s["trained_messages"], s["pending_messages"]),
                         (0, MESSAGES, MESSAGES, 0), s)

    def test_a_copy_out_of_junk_trains_ham(self):
        self.set_grace(60000)
        self.start()
        self.addCleanup(self.d.stop)
        c = self.imaps(COPY)
        text = message(self.rng, HAM_WORDS, "friend@example.org", HAM_WORDS).replace("Subject: ", "Subject: cp1 ", 1)
        typ, _ = c.append("Junk", None, None, text.replace("\n", "\r\n").encode())
        self.assertEqual(typ, "OK")
        c.select("Junk")
        typ, data = c.uid("SEARCH", "SUBJECT", '"cp1"')
        uid = data[0].split()[0].decode()
        typ, _ = c.uid("COPY", uid, "INBOX")
        self.assertEqual(typ, "OK")
        typ, _ = c.uid("STORE", uid, "+FLAGS", r"(\Deleted)")
        self.assertEqual(typ, "OK")
        typ, _ = c.expunge()
        self.assertEqual(typ, "OK")
        deadline = time.monotonic() + 60
        while True:
            event = re.search(r"event=junk_training verdict=ham account=(\d+) from=Junk to=INBOX copy=yes", self.d.output())
            trained = event and re.search(r"event=spam_trained account=%s messages=1 durable=yes ham=1 spam=0 " %
                                          event.group(1), self.d.output())
            if trained:
                break
            self.assertLess(time.monotonic(), deadline, self.d.output()[-3000:])
            time.sleep(0.05)


if __name__ == "__main__":
    unittest.main()
