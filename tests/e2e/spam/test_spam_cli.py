"""`ringmail spam train`, `score` and `explain` through the real binary.

Messages are generated here from two small vocabularies (no corpus, no
network): ham about meetings and code review, spam about pills and prizes.
They are written as a Maildir (ham), an mbox with "From " lines (spam), and
a directory of symlinks (more spam), the three layouts the CLI accepts.
Held-out messages of each kind must then score on their side of 0.5, and the
CLI must fail clearly on a missing or corrupt store."""
import math
import os
import random
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import RINGMAIL  # noqa: E402

HAM_WORDS = ("meeting agenda review patch kernel build release notes tuesday schedule "
             "project design document branch merge commit thanks regards team lunch").split()
SPAM_WORDS = ("viagra pills cheap prize winner lottery claim free money offer casino "
              "discount pharmacy million dollars urgent guaranteed unsubscribe").split()


def message(rng, words, sender, subject_words, html=False):
    body = " ".join(rng.choice(words) for _ in range(60))
    subject = " ".join(rng.choice(subject_words) for _ in range(4))
    if html:
        body = ('<html><body><p>%s</p><a href="http://www.%s.example.biz/x">click</a></body></html>'
                % (body, rng.choice(["deals", "pills", "prize"])))
        ctype = "text/html"
    else:
        ctype = "text/plain"
    return ("From: %s\nTo: user@example.com\nSubject: %s\nContent-Type: %s\n\n%s\n"
            % (sender, subject, ctype, body))


def flip_byte(path, offset):
    """Corrupts one byte of a file in place (a store's checksum must catch it)."""
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0xFF]))


def check_level(test, probability, level, line=""):
    """The printed level (two decimals) against its definition in
    filter/classifier/spam_level.h, from the printed probability (six
    decimals): 10 p up to 0.9, then 8 - log10(1 - p)."""
    if probability <= 0.9:
        test.assertAlmostEqual(level, 10 * probability, delta=0.0051, msg=line)
    elif probability <= 0.9999:
        test.assertAlmostEqual(level, 8 - math.log10(1 - probability), delta=0.01, msg=line)
    elif probability < 1:
        test.assertGreaterEqual(level, 11.99, line)
    else:  # 1 - p < 5e-7
        test.assertGreaterEqual(level, 8 - math.log10(5e-7) - 0.005, line)


def run(*args, check=True):
    p = subprocess.run([RINGMAIL, "spam", *args], capture_output=True, text=True, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError("ringmail spam %s failed (%d): %s" % (args, p.returncode, p.stderr))
    return p


class SpamCli(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ringmail-spam-cli-")
        rng = random.Random(42)
        # Ham as a Maildir.
        self.maildir = os.path.join(self.dir, "ham-maildir")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(self.maildir, sub))
        for i in range(40):
            sub = "cur" if i % 2 else "new"
            with open(os.path.join(self.maildir, sub, "%d.host:2,S" % i), "w") as f:
                f.write(message(rng, HAM_WORDS, "colleague%d@work.example.org" % i, HAM_WORDS))
        # A half-delivered message in tmp/ must not count.
        with open(os.path.join(self.maildir, "tmp", "partial"), "w") as f:
            f.write(message(rng, SPAM_WORDS, "x@y.example", SPAM_WORDS))
        # Spam as an mbox.
        self.mbox = os.path.join(self.dir, "spam.mbox")
        with open(self.mbox, "w") as f:
            for i in range(20):
                f.write("From spammer%d@bulk.example.net Thu Aug 22 13:17:22 2002\n" % i)
                f.write(message(rng, SPAM_WORDS, "spammer%d@bulk.example.net" % i, SPAM_WORDS, html=i % 2 == 0))
                f.write("\n")
        # More spam as a directory of symlinks to files with an mbox first line.
        self.files = os.path.join(self.dir, "files")
        self.links = os.path.join(self.dir, "links")
        os.makedirs(self.files)
        os.makedirs(self.links)
        for i in range(20):
            path = os.path.join(self.files, "s%d.txt" % i)
            with open(path, "w") as f:
                f.write("From bulk@mailer.example.net  Thu Aug 22 13:17:22 2002\n")
                f.write(message(rng, SPAM_WORDS, "bulk@mailer.example.net", SPAM_WORDS, html=True))
            os.symlink(path, os.path.join(self.links, "s%d.txt" % i))
        # Held-out probes.
        self.probes = os.path.join(self.dir, "probes")
        os.makedirs(self.probes)
        self.ham_probes, self.spam_probes = [], []
        for i in range(10):
            h = os.path.join(self.probes, "ham%d.eml" % i)
            with open(h, "w") as f:
                f.write(message(rng, HAM_WORDS, "someone@work.example.org", HAM_WORDS))
            s = os.path.join(self.probes, "spam%d.eml" % i)
            with open(s, "w") as f:
                f.write(message(rng, SPAM_WORDS, "new@other.example.net", SPAM_WORDS, html=True))
            self.ham_probes.append(h)
            self.spam_probes.append(s)
        self.store = os.path.join(self.dir, "tokens.db")

    def test_train_then_score(self):
        p = run("train", "--token-store", self.store, "--ham", self.maildir, "--spam", self.mbox, "--spam", self.links)
        self.assertIn("trained 40 ham and 40 spam messages from 61 files", p.stdout)
        files = self.ham_probes + self.spam_probes
        p = run("score", "--token-store", self.store, *files)
        lines = p.stdout.splitlines()
        self.assertEqual(len(lines), len(files))
        for path, line in zip(files, lines):
            name, probability, level = line.split("\t")
            self.assertEqual(name, path)  # in the order given, as given
            self.assertRegex(level, r"^\d+\.\d\d$")
            probability, level = float(probability), float(level)
            check_level(self, probability, level, line)
            if path in self.spam_probes:
                self.assertGreater(probability, 0.9, line)
            else:
                self.assertLess(probability, 0.1, line)

    def test_saturated_probabilities_get_ordered_levels(self):
        # Two strong spams: both past what six decimals (or a double) of the
        # probability can tell from 1. The level, from the precise tail
        # 1 - p, still orders them: the second has every spam clue of the
        # first and more.
        run("train", "--token-store", self.store, "--ham", self.maildir, "--spam", self.mbox, "--spam", self.links)
        headers = "From: spammer3@bulk.example.net\nTo: user@example.com\nSubject: cheap prize offer\n\n"
        strong = os.path.join(self.probes, "strong.eml")
        stronger = os.path.join(self.probes, "stronger.eml")
        with open(strong, "w") as f:
            f.write(headers + "viagra pills cheap prize winner\n")
        with open(stronger, "w") as f:
            f.write(headers + " ".join(SPAM_WORDS) + "\n")
        lines = run("score", "--token-store", self.store, strong, stronger).stdout.splitlines()
        (_, p1, level1), (_, p2, level2) = (line.split("\t") for line in lines)
        self.assertEqual((p1, p2), ("1.000000", "1.000000"), lines)
        self.assertGreater(float(level1), 10, lines)
        self.assertGreater(float(level2), float(level1) + 1, lines)
        for line in lines:
            check_level(self, 1.0, float(line.split("\t")[2]), line)
        # explain prints the same first line as score.
        self.assertEqual(run("explain", "--token-store", self.store, stronger).stdout.splitlines()[0], lines[1])

    def test_explain_names_the_clues(self):
        run("train", "--token-store", self.store, "--ham", self.maildir, "--spam", self.mbox, "--spam", self.links)
        probe = self.spam_probes[0]
        missing = os.path.join(self.dir, "nope.eml")
        p = run("explain", "--token-store", self.store, "--clues", "8", probe, missing, check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("nope.eml", p.stderr)
        lines = p.stdout.splitlines()
        name, probability, _level = lines[0].split("\t")
        self.assertEqual(name, probe)
        # The same score as `spam score` gives.
        scored = run("score", "--token-store", self.store, probe).stdout.split("\t")[1]
        self.assertEqual(probability, scored)
        self.assertRegex(lines[1], r"^# tokens \d+, known \d+, clues \d+ \(\d+ toward spam, \d+ toward ham\)$")
        clues = [line.split("\t") for line in lines[2:]]
        self.assertEqual(len(clues), 8)
        strengths = [abs(float(c[0]) - 0.5) for c in clues]
        self.assertEqual(strengths, sorted(strengths, reverse=True))
        tokens = {c[4]: c for c in clues}
        # Spam words, seen only in the 40 spam messages, lead; header tokens
        # carry their field name.
        spam_words = [t for t in tokens if t in SPAM_WORDS or t.startswith("subject:") or t.startswith("from:")]
        self.assertTrue(spam_words, tokens)
        for t in spam_words:
            self.assertEqual(tokens[t][2], "0")
            self.assertGreater(int(tokens[t][1]), 0)
            self.assertEqual(tokens[t][3], "clue")
        # --clues 0 lists every known token.
        every = run("explain", "--token-store", self.store, "--clues", "0", probe).stdout.splitlines()
        known = int(every[1].split("known ")[1].split(",")[0])
        self.assertEqual(len(every) - 2, known)
        self.assertGreater(known, 8)

    def test_training_adds_up_and_bigrams_stick(self):
        run("train", "--token-store", self.store, "--bigrams", "--ham", self.maildir)
        p = run("train", "--token-store", self.store, "--spam", self.mbox)
        self.assertIn("store: 40 ham, 20 spam", p.stdout)
        self.assertIn("(with bigrams)", p.stdout)

    def test_case_tokens_stick_and_keep_words_as_written(self):
        # Five ham messages that write "Tuesday" capitalised; everything else
        # is lowercase, so only a case-kept store can tell the two apart.
        capitals = os.path.join(self.dir, "capitals")
        os.makedirs(capitals)
        for i in range(5):
            with open(os.path.join(capitals, "m%d.eml" % i), "w") as f:
                f.write("From: boss@work.example.org\nSubject: review\n\nTuesday meeting agenda, see you.\n")
        probe = os.path.join(capitals, "m0.eml")
        cased = os.path.join(self.dir, "cased.tokens")
        p = run("train", "--token-store", cased, "--case-tokens", "--ham", self.maildir)
        self.assertIn("(with case tokens)", p.stdout)
        # Set when the store was created: later training keeps tokenizing so.
        p = run("train", "--token-store", cased, "--ham", capitals, "--spam", self.mbox)
        self.assertIn("store: 45 ham, 20 spam", p.stdout)
        self.assertIn("(with case tokens)", p.stdout)
        lines = run("explain", "--token-store", cased, "--clues", "0", probe).stdout.splitlines()
        tokens = {line.split("\t")[4]: line.split("\t") for line in lines[2:]}
        self.assertEqual(tokens["Tuesday"][1:3], ["0", "5"])
        self.assertGreater(int(tokens["tuesday"][2]), 5)
        self.assertEqual(lines[0].split("\t")[1],
                         run("score", "--token-store", cased, probe).stdout.split("\t")[1])
        # Without the flag: the folded word only.
        plain = os.path.join(self.dir, "plain.tokens")
        p = run("train", "--token-store", plain, "--ham", self.maildir, "--ham", capitals, "--spam", self.mbox)
        self.assertNotIn("case tokens", p.stdout)
        lines = run("explain", "--token-store", plain, "--clues", "0", probe).stdout.splitlines()
        tokens = {line.split("\t")[4]: line.split("\t") for line in lines[2:]}
        self.assertIn("tuesday", tokens)
        self.assertNotIn("Tuesday", tokens)

    def test_missing_and_corrupt_store(self):
        p = run("score", "--token-store", self.store, self.ham_probes[0], check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("does not exist", p.stderr)
        run("train", "--token-store", self.store, "--ham", self.maildir, "--spam", self.mbox)
        flip_byte(self.store, 60)
        p = run("score", "--token-store", self.store, self.ham_probes[0], check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("checksum mismatch", p.stderr)

    def test_files_that_are_not_messages_are_not_learnt(self):
        # The SpamAssassin corpus's npm package keeps a .json file beside each
        # message: training on its directories must learn the messages only.
        corpus = os.path.join(self.dir, "corpus")
        os.makedirs(corpus)
        for i, name in enumerate(sorted(os.listdir(self.files))[:5]):
            os.symlink(os.path.join(self.files, name), os.path.join(corpus, "%05d.txt" % i))
            with open(os.path.join(corpus, "%05d.json" % i), "w") as f:
                f.write('{"id": %d, "group": "spam-1", "text": "Subject: free money"}\n' % i)
        p = run("train", "--token-store", self.store, "--spam", corpus)
        self.assertIn("trained 0 ham and 5 spam messages", p.stdout)
        self.assertIn("skipped 5 file(s) that are not messages", p.stderr)
        self.assertIn("00000.json", p.stderr)

    def test_training_on_nothing_warns(self):
        empty = os.path.join(self.dir, "empty-maildir")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(empty, sub))
        p = run("train", "--token-store", self.store, "--ham", empty)
        self.assertIn("trained 0 ham and 0 spam messages from 0 files", p.stdout)
        self.assertIn("no message files found", p.stderr)
        p = run("train", "--token-store", self.store, "--ham", self.maildir)
        self.assertNotIn("no message files found", p.stderr)

    def test_unreadable_file_is_reported_and_others_scored(self):
        run("train", "--token-store", self.store, "--ham", self.maildir, "--spam", self.mbox)
        missing = os.path.join(self.dir, "nope.eml")
        p = run("score", "--token-store", self.store, self.ham_probes[0], missing, check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("nope.eml", p.stderr)
        self.assertEqual(len(p.stdout.splitlines()), 1)


    def test_messages_in_many_charsets_score_alone_as_in_a_batch(self):
        # A batch keeps state from message to message (the thread's charset
        # descriptors, the tokenizer, the clue buffer): every file must
        # score in a run of others, charsets cycling, as it does alone.
        texts = [("big5", "\u4e2d\u6587\u6e2c\u8a66 \u7a0b\u5f0f \u6703\u8b70"),
                 ("gb2312", "\u4e2d\u6587\u6d4b\u8bd5 \u7a0b\u5e8f \u4f1a\u8bae"),
                 ("euc-kr", "\ud55c\uad6d\uc5b4 \uc2dc\ud5d8 \ud68c\uc758"),
                 ("shift_jis", "\u65e5\u672c\u8a9e\u306e\u30c6\u30b9\u30c8 \u4f1a\u8b70"),
                 ("iso-2022-jp", "\u65e5\u672c\u8a9e\u306e\u30c6\u30b9\u30c8 \u4fa1\u683c"),
                 ("utf-16", "meeting agenda review"),
                 ("euc-jp", "\u65e5\u672c\u8a9e \u5546\u54c1 \u7121\u6599")]
        rng = random.Random(7)
        train_dir = os.path.join(self.dir, "charset-train")
        batch_dir = os.path.join(self.dir, "charset-batch")
        os.makedirs(train_dir)
        os.makedirs(batch_dir)
        files = []
        for i in range(28):
            charset, words = texts[i % len(texts)]
            body = " ".join(rng.choice(words.split() + HAM_WORDS[:4]) for _ in range(30))
            data = ("From: a%d@example.org\nSubject: %s\nMIME-Version: 1.0\n"
                    "Content-Type: text/plain; charset=%s\nContent-Transfer-Encoding: 8bit\n\n"
                    % (i, rng.choice(HAM_WORDS), charset)).encode() + (body + "\n").encode(charset)
            for d in (train_dir, batch_dir):
                with open(os.path.join(d, "%02d.eml" % i), "wb") as f:
                    f.write(data)
            files.append(os.path.join(batch_dir, "%02d.eml" % i))
        run("train", "--token-store", self.store, "--ham", self.maildir, "--spam", train_dir)
        alone = [run("score", "--threads", "1", "--token-store", self.store, f).stdout for f in files]
        for threads in ("1", "2"):
            batch = run("score", "--threads", threads, "--token-store", self.store, *files).stdout
            self.assertEqual(batch, "".join(alone))
        # And against a file in every charset scored before it, twice over.
        doubled = run("score", "--threads", "1", "--token-store", self.store, *(files + files)).stdout
        self.assertEqual(doubled, "".join(alone) * 2)

    def test_plain_command_line_scores_as_cli11_reads_any_other(self):
        # `spam score --token-store S [--threads N] FILE...` is read without
        # CLI11 (appliance/main.cpp, plain_spam_score); every other spelling
        # goes through CLI11. Both must score the same, and CLI11 must still
        # refuse what it refused.
        run("train", "--token-store", self.store, "--ham", self.maildir, "--spam", self.mbox)
        files = self.ham_probes[:3] + self.spam_probes[:3]
        plain = run("score", "--token-store", self.store, *files).stdout
        self.assertEqual(len(plain.splitlines()), len(files))
        self.assertEqual(run("score", "--threads", "1", "--token-store", self.store, *files).stdout, plain)
        self.assertEqual(run("score", files[0], "--token-store", self.store, *files[1:]).stdout, plain)
        for spelled in (["--token-store=" + self.store] + files,       # CLI11: option=value
                        ["--token-store", self.store, "--"] + files,  # CLI11: end of options
                        ["--threads", "01", "--token-store", self.store] + files):  # CLI11's count
            self.assertEqual(run("score", *spelled).stdout, plain, spelled)
        # Errors: a missing store (the scorer's message either way), then
        # CLI11's refusals.
        missing = os.path.join(self.dir, "no-such.tokens")
        for args in (["--token-store", missing, files[0]], ["--token-store=" + missing, files[0]]):
            p = run("score", *args, check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn("does not exist", p.stderr)
            self.assertEqual(p.stdout, "")
        p = run("score", files[0], check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("--token-store is required", p.stderr)
        p = run("score", "--token-store", self.store, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("files is required", p.stderr)
        p = run("score", "--threads", "2", "--threads", "1", "--token-store", self.store, files[0], check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("--threads", p.stderr)
        p = run("score", "--token-store", self.store, files[0], "--bogus", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(p.stdout, "")

if __name__ == "__main__":
    unittest.main()
