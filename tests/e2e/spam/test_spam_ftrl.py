"""`ringmail spam train --model ftrl` and `spam score` on the FTRL model
through the real binary: the measured alternative classifier
(filter/classifier/ftrl.h). The messages are test_spam_cli's: generated
from two small vocabularies, as a Maildir (ham), an mbox and a directory of
symlinks (spam). Held-out spam must outrank held-out ham; training must be
deterministic whatever order the sources are given in; `spam score` must
tell the model from a Bayesian token store by the file itself."""
import math
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

    def levels(self, stores, files):
        args = []
        for store in stores:
            args += ["--token-store", store]
        p = run("score", *args, *files)
        lines = p.stdout.splitlines()
        self.assertEqual(len(lines), len(files))
        out = {}
        for path, line in zip(files, lines):
            name, probability, level = line.split("\t")
            self.assertEqual(name, path)
            check_level(self, float(probability), float(level), line)
            out[path] = (float(probability), float(level))
        return out, p.stdout

    def test_two_models_are_averaged(self):
        bayes = os.path.join(self.dir, "tokens.bayes")
        run("train", "--token-store", bayes, "--ham", self.maildir, "--spam", self.mbox, "--spam", self.links)
        self.train(self.store, "--ham", self.maildir, "--spam", self.mbox, "--spam", self.links)
        probes = self.ham_probes + self.spam_probes
        alone_bayes, _ = self.levels([bayes], probes)
        alone_ftrl, _ = self.levels([self.store], probes)
        both, text = self.levels([bayes, self.store], probes)
        _, text_swapped = self.levels([self.store, bayes], probes)
        self.assertEqual(text, text_swapped)  # which file comes first does not matter
        for path in probes:
            # The mean of two log-odds lies between them, and the level is
            # monotone in the log-odds: the averaged level is between the
            # two models' levels (each printed to two decimals).
            low = min(alone_bayes[path][1], alone_ftrl[path][1])
            high = max(alone_bayes[path][1], alone_ftrl[path][1])
            self.assertGreaterEqual(both[path][1], low - 0.01, path)
            self.assertLessEqual(both[path][1], high + 0.01, path)
        for path in self.spam_probes:
            # Above level 9 a level says 1 - p = 10^(8 - level), finer than
            # the probability's six decimals: the averaged level is the one
            # of the mean of the two models' log-odds.
            logits = []
            for alone in (alone_bayes, alone_ftrl):
                self.assertGreater(alone[path][1], 9.5, path)
                q = 10 ** (8 - alone[path][1])
                logits.append(math.log1p(-q) - math.log(q))
            mean = sum(logits) / 2
            expected = 8 - math.log10(1 / (1 + math.exp(mean)))  # 1 - sigmoid(mean)
            self.assertAlmostEqual(both[path][1], expected, delta=0.02, msg=path)
        self.assertLess(max(both[h][1] for h in self.ham_probes), min(both[sp][1] for sp in self.spam_probes))
        self.assertNotEqual({k: v[1] for k, v in both.items()}, {k: v[1] for k, v in alone_bayes.items()})

    def test_two_models_must_be_one_of_each_with_the_same_features(self):
        bayes = os.path.join(self.dir, "tokens.bayes")
        cased = os.path.join(self.dir, "cased.bayes")
        run("train", "--token-store", bayes, "--ham", self.maildir, "--spam", self.mbox)
        run("train", "--token-store", cased, "--case-tokens", "--ham", self.maildir, "--spam", self.mbox)
        self.train(self.store, "--ham", self.maildir, "--spam", self.mbox)
        probe = self.spam_probes[:1]
        for stores, message in (([bayes, cased], "not two Bayesian stores"),
                                ([self.store, self.store], "not two FTRL models"),
                                ([cased, self.store], "trained with different features"),
                                ([bayes, self.store, bayes], "takes one file, or two")):
            args = []
            for store in stores:
                args += ["--token-store", store]
            p = run("score", *args, *probe, check=False)
            self.assertEqual(p.returncode, 1, stores)
            self.assertIn(message, p.stderr)
            self.assertEqual(p.stdout, "")

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
