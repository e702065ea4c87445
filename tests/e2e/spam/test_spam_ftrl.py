"""`ringmail spam train --model ftrl` and `spam score` on the FTRL model
through the real binary: the measured alternative classifier
(filter/classifier/ftrl.h). The messages are test_spam_cli's: generated
from two small vocabularies, as a Maildir (ham), an mbox and a directory of
symlinks (spam). Held-out spam must outrank held-out ham; training must be
deterministic whatever order the sources are given in; `spam score` must
tell the model from a Bayesian token store by the file itself."""
import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import test_spam_cli  # noqa: E402
from test_spam_cli import check_level, flip_byte, run  # noqa: E402


class SpamFtrl(unittest.TestCase):
    setUp = test_spam_cli.SpamCli.setUp

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def train(self, store, *sources, extra=()):
        return run("train", "--model", "ftrl", "--token-store", store, *sources, *extra)

    def scores(self, store, files):
        p = run("score", "--token-store", store, *files)
        lines = p.stdout.splitlines()
        self.assertEqual(len(lines), len(files))
        out = {}
        for path, line in zip(files, lines):
            name, probability, level = line.split("\t")
            self.assertEqual(name, path)  # in the order given, as given
            probability, level = float(probability), float(level)
            check_level(self, probability, level, line)
            out[path] = probability
        return out

    def test_train_then_score(self):
        p = self.train(self.store, "--ham", self.maildir, "--spam", self.mbox, "--spam", self.links)
        self.assertIn("trained 40 ham and 40 spam messages from 61 files, 3 epochs", p.stdout)
        self.assertIn("120 ham and 120 spam steps", p.stdout)
        with open(self.store, "rb") as f:
            self.assertEqual(f.read(8), b"RMFTRL01")
        s = self.scores(self.store, self.ham_probes + self.spam_probes)
        for h in self.ham_probes:
            self.assertLess(s[h], 0.5, h)
        for sp in self.spam_probes:
            self.assertGreater(s[sp], 0.5, sp)
        self.assertLess(max(s[h] for h in self.ham_probes), min(s[sp] for sp in self.spam_probes))

    def test_training_is_deterministic_whatever_the_source_order(self):
        other = os.path.join(self.dir, "other.model")
        self.train(self.store, "--ham", self.maildir, "--spam", self.mbox, "--spam", self.links)
        self.train(other, "--spam", self.links, "--spam", self.mbox, "--ham", self.maildir, extra=("--threads", "1"))
        with open(self.store, "rb") as a, open(other, "rb") as b:
            self.assertEqual(a.read(), b.read())

    def test_settings_are_kept_and_training_continues(self):
        self.train(self.store, "--ham", self.maildir, extra=("--ftrl-bits", "12", "--ftrl-alpha", "0.5", "--epochs", "1"))
        # No --model: the file says what it is; its settings win.
        p = run("train", "--token-store", self.store, "--spam", self.mbox, "--epochs", "2")
        self.assertIn("trained 0 ham and 20 spam messages from 1 files, 2 epochs", p.stdout)
        self.assertIn("40 ham and 40 spam steps", p.stdout)
        self.assertIn("of 2^12 slots used, alpha 0.5 ", p.stdout)

    def test_bayesian_store_and_ftrl_model_are_told_apart(self):
        bayes = os.path.join(self.dir, "tokens.bayes")
        run("train", "--token-store", bayes, "--ham", self.maildir, "--spam", self.mbox)
        p = run("train", "--model", "ftrl", "--token-store", bayes, "--ham", self.maildir, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("is a Bayesian token store", p.stderr)
        self.train(self.store, "--ham", self.maildir, "--spam", self.mbox)
        p = run("train", "--model", "bayes", "--token-store", self.store, "--ham", self.maildir, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("is an FTRL model", p.stderr)
        # Both score through the same command, and differently.
        probe = self.spam_probes[:1]
        self.assertNotEqual(self.scores(bayes, probe), self.scores(self.store, probe))

    def test_bad_settings_and_corrupt_model(self):
        p = run("train", "--model", "ftrl", "--token-store", self.store, "--ham", self.maildir, "--ftrl-bits", "30",
                check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("bits must be 10..24", p.stderr)
        self.assertFalse(os.path.exists(self.store))
        p = run("train", "--model", "ftrl", "--ham", self.maildir, check=False)  # the daemon's store is Bayesian
        self.assertEqual(p.returncode, 1)
        self.assertIn("--model ftrl needs --token-store FILE", p.stderr)
        self.train(self.store, "--ham", self.maildir, "--spam", self.mbox)
        flip_byte(self.store, 100)
        p = run("score", "--token-store", self.store, self.ham_probes[0], check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("checksum mismatch", p.stderr)


if __name__ == "__main__":
    unittest.main()
