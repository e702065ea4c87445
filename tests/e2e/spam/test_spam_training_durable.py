"""Junk training is durable from the move's OK: a real imaplib client moves
messages into and out of Junk on `ringmail serve`, the daemon is killed
with SIGKILL right after the OK, and the next start trains them.

Before, the training was queued in memory and applied later by a worker:
a kill -9 (or a crash, or a power cut) after "OK MOVE completed" and
before the worker wrote its delta lost that training silently. Now the
move records a training intent in its own group commit, and the worker
removes it only once the delta that applied it is durable.

  killed: [spam] training_delay_ms = 600000 holds the worker back, so
      nothing can have trained when the kill comes (`spam stats` after the
      kill: no counts, the moved messages pending). The next start (no
      delay) replays the intent: kill@'s counts equal calm@'s, whose
      identical mailbox took the same moves with no kill (spam: 20 into
      Junk; ham: 5 of them back out).
  replayed: training_keep_intents = true leaves the applied intents in
      place, as a kill between the delta and the intents' removal would;
      the next start replays them (into Junk, then three back out) and
      the counts do not change; the start after that replays nothing."""
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

KILL = "kill@example.test"
CALM = "calm@example.test"
REPLAY = "replay@example.test"
MESSAGES = 30
COUNTS = ("ham", "spam", "trained_messages", "tokens")


class DurableJunkTraining(ImapSessions, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = ImapDaemon(extra="""
[spam]
training_batch_messages = 8
training_delay_ms = 0
training_keep_intents = false
""")
        cls.d.start()
        for a in (KILL, CALM, REPLAY):
            cls.d.add_account(a)
        assert cls.d.stop() == 0
        rng = random.Random(17)
        train_global(cls.d.dir, rng)
        # The same mailbox for every account: one mbox, imported three times.
        mbox = os.path.join(cls.d.dir, "inbox.mbox")
        with open(mbox, "w") as f:
            for i in range(MESSAGES):
                words = SPAM_WORDS if i % 3 else HAM_WORDS
                f.write("From sender@example.net Mon Nov 23 10:00:00 2026\n")
                f.write(message(rng, words, "m%d@mixed.example.net" % i, words) + "\n")
        for a in (KILL, CALM, REPLAY):
            cli(cls.d.dir, "import", "--account", a, "--format", "mbox", "--from", mbox)

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def set_spam(self, key, value):
        path = os.path.join(self.d.dir, "ringmail.toml")
        with open(path) as f:
            text = f.read()
        text, n = re.subn(r"(?m)^%s = .*$" % key, "%s = %s" % (key, value), text, count=1)
        self.assertEqual(n, 1)
        with open(path, "w") as f:
            f.write(text)

    def start(self):
        seen = len(self.d.output()) if self.d.daemon else 0  # the log is appended across starts
        self.d.start()
        return seen

    def wait_log(self, seen, pattern, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            found = re.findall(pattern, self.d.output()[seen:])
            if found:
                return found
            self.assertLess(time.monotonic(), deadline, f"{pattern!r}:\n" + self.d.output()[-3000:])
            time.sleep(0.05)

    def move(self, account, source, uids, target):
        c = self.imaps(account)
        typ, _ = c.select(source)
        self.assertEqual(typ, "OK")
        typ, data = c.uid("MOVE", uids, target)
        self.assertEqual(typ, "OK", data)
        return c

    def counts(self, account):
        s = stats(self.d.dir, account)
        return {k: s[k] for k in COUNTS}, s["pending_messages"]

    def kill_then_replay(self, source, uids, target):
        """kill@ moves with the worker held back, is killed right after the
        OK, and trains at the next start; returns (counts before the kill
        took effect, pending then, counts after the replay)."""
        self.set_spam("training_delay_ms", 600000)
        self.start()
        self.move(KILL, source, uids, target)
        self.d.daemon.kill9()
        self.d.daemon.log.close()
        before, pending = self.counts(KILL)
        self.set_spam("training_delay_ms", 0)
        seen = self.start()
        self.wait_log(seen, r"event=spam_training_replay intents=1")
        self.wait_log(seen, r"event=spam_training_intents_done intents=1 durable=yes")
        self.assertEqual(self.d.stop(), 0)
        after, left = self.counts(KILL)
        self.assertEqual(left, 0)
        return before, pending, after

    def calm(self, source, uids, target):
        seen = self.start()
        self.move(CALM, source, uids, target)
        self.wait_log(seen, r"event=spam_training_intents_done intents=1 durable=yes")
        self.assertEqual(self.d.stop(), 0)
        counts, left = self.counts(CALM)
        self.assertEqual(left, 0)
        return counts

    def test_a_move_acknowledged_then_kill_9_is_trained_at_the_next_start(self):
        # Into Junk: spam.
        before, pending, killed = self.kill_then_replay("INBOX", "1:20", "Junk")
        self.assertEqual((before["ham"], before["spam"], before["trained_messages"]), (0, 0, 0), before)
        self.assertEqual(pending, 20)
        self.assertNotIn("event=spam_trained", self.d.output().split("event=spam_training_replay")[0])
        calm = self.calm("INBOX", "1:20", "Junk")
        self.assertEqual((calm["ham"], calm["spam"], calm["trained_messages"]), (0, 20, 20), calm)
        self.assertEqual(killed, calm)
        # Out of Junk: ham (the first five moved back to INBOX).
        before, pending, killed = self.kill_then_replay("Junk", "1:5", "INBOX")
        self.assertEqual(before, calm)  # nothing trained before the kill
        self.assertEqual(pending, 5)
        calm = self.calm("Junk", "1:5", "INBOX")
        self.assertEqual((calm["ham"], calm["spam"], calm["trained_messages"]), (5, 15, 20), calm)
        self.assertEqual(killed, calm)

    def test_intents_applied_then_replayed_change_nothing(self):
        self.set_spam("training_keep_intents", "true")
        seen = self.start()
        self.move(REPLAY, "INBOX", "1:10", "Junk")
        self.wait_log(seen, r"event=spam_trained account=\d+ messages=\d+ durable=yes ham=0 spam=10 ")
        self.move(REPLAY, "Junk", "1:3", "INBOX")
        self.wait_log(seen, r"event=spam_trained account=\d+ messages=\d+ durable=yes ham=3 spam=7 ")
        self.assertEqual(self.d.stop(), 0)
        applied, pending = self.counts(REPLAY)
        self.assertEqual(pending, 13)  # both intents kept, though applied
        self.assertEqual((applied["ham"], applied["spam"], applied["trained_messages"]), (3, 7, 10), applied)
        self.set_spam("training_keep_intents", "false")
        seen = self.start()
        self.wait_log(seen, r"event=spam_training_replay intents=2")
        self.wait_log(seen, r"event=spam_training_intents_done intents=\d+ durable=yes")
        self.assertEqual(self.d.stop(), 0)
        replayed, pending = self.counts(REPLAY)
        self.assertEqual(pending, 0)
        self.assertEqual(replayed, applied)
        # Removed for good: the next start has nothing to replay.
        seen = self.start()
        time.sleep(0.5)
        self.assertEqual(self.d.stop(), 0)
        self.assertNotIn("spam_training_replay", self.d.output()[seen:])
        self.assertEqual(self.counts(REPLAY)[0], applied)


if __name__ == "__main__":
    unittest.main()
