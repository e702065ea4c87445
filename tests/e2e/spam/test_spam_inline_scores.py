"""The inline filter and `ringmail spam score` give the same score to the
same message.

The daemon tokenizes a message chunk by chunk as it streams in (several
sessions interleaved on a core, a warm scanner reused from message to
message), the CLI reads the whole file and tokenizes it at once; both must
end with the same token set and so the same probability. A token store is
trained with the CLI into a file, the daemon (`[spam] token_store`) gets
probes over several SMTP connections at once, on one connection after
another: small messages mixing ham and spam words (so the probabilities
spread between 0 and 1, where a missing or extra token moves the printed
digits), and large ones with a base64 text part and a quoted-printable
HTML part that arrive in many reads. `ringmail export` then shows each
probe's X-Spam-Status, whose probability and level must equal the CLI's
for the probe's file (the bytes the client sent). Both print the same
classify() result with 6 and 1 decimals."""
import base64
import os
import quopri
import random
import re
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import RINGMAIL, Daemon, free_port, wait_for_port  # noqa: E402
from test_spam_cli import HAM_WORDS, SPAM_WORDS, message  # noqa: E402
from test_spam_inline import read_maildir  # noqa: E402

DEMO = "demo@example.test"
CONNECTIONS = 4


def mixed(rng, tag, spam_share, count):
    """A small message of `count` words, each spam with probability
    spam_share (few clues: the probability lands between 0 and 1)."""
    words = [rng.choice(SPAM_WORDS) if rng.random() < spam_share else rng.choice(HAM_WORDS) for _ in range(count)]
    # Rare words: tokens the store has never seen, which must not count.
    words += ["unseen%d" % rng.randrange(10**6) for _ in range(3)]
    return ("From: sender%d@mixed.example.org\r\nTo: %s\r\nSubject: %s %s\r\nContent-Type: text/plain\r\n\r\n%s\r\n"
            % (rng.randrange(1000), DEMO, tag, " ".join(rng.sample(words, 2)), " ".join(words)))


def large(rng, tag, spam_share):
    """~150 KB: a base64 text part and a quoted-printable HTML part, many reads."""
    def words(n):
        return " ".join(rng.choice(SPAM_WORDS) if rng.random() < spam_share else rng.choice(HAM_WORDS)
                        for _ in range(n))
    text = "\n".join(words(12) for _ in range(1200)).encode()
    html = ("<html><body>%s<a href=\"http://www.%s.example.biz/x\">here</a></body></html>"
            % ("".join("<p>%s</p>\n" % words(10) for _ in range(600)), rng.choice(["deals", "docs"]))).encode()
    b64 = base64.encodebytes(text).decode().replace("\n", "\r\n")
    qp = quopri.encodestring(html).decode().replace("\n", "\r\n")
    return ("From: bulk@large.example.net\r\nTo: %s\r\nSubject: %s large\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/alternative; boundary=\"b0\"\r\n\r\n"
            "--b0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n%s"
            "--b0\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n%s\r\n"
            "--b0--\r\n" % (DEMO, tag, b64, qp))


def charset_probes(tag_of):
    """Bodies whose conversion carries state from chunk to chunk, and one
    that crashed the tokenizer: an ISO-2022-JP text of ~150 KB (its escape
    sequences cut by the daemon's reads), two UTF-16 parts in opposite byte
    orders (a BOM's byte order must not leak into the next part or message),
    and an ISO-2022-CN-EXT Subject word and text part that end in SO (iconv
    consumed it and reported an error: the tokenizer then read past the
    input)."""
    jis = "\x1b$BF|K\\8l$N%F%-%9%H\x1b(B"  # 日本語のテキスト in ISO-2022-JP
    lines = "".join("line %d %s words %s\r\n" % (i, jis, jis) for i in range(3000))
    iso_2022_jp = ("From: jp@mail.example.jp\r\nTo: %s\r\nSubject: %s iso-2022-jp\r\n"
                   "Content-Type: text/plain; charset=iso-2022-jp\r\nContent-Transfer-Encoding: 7bit\r\n\r\n%s"
                   % (DEMO, tag_of(0), lines))

    def b64(data):
        return base64.encodebytes(data).decode().replace("\n", "\r\n")
    text = "hi there, plain words in sixteen bits\n" * 40
    utf16 = ("From: wide@mail.example.org\r\nTo: %s\r\nSubject: %s utf-16\r\nMIME-Version: 1.0\r\n"
             "Content-Type: multipart/mixed; boundary=\"w\"\r\n\r\n"
             "--w\r\nContent-Type: text/plain; charset=utf-16\r\nContent-Transfer-Encoding: base64\r\n\r\n%s"
             "--w\r\nContent-Type: text/plain; charset=utf-16\r\nContent-Transfer-Encoding: base64\r\n\r\n%s"
             "--w--\r\n" % (DEMO, tag_of(1), b64(b"\xfe\xff" + text.encode("utf-16-be")),
                             b64(b"\xff\xfe" + text.encode("utf-16-le"))))
    cn_ext = ("From: cn@mail.example.cn\r\nTo: %s\r\nSubject: %s =?iso-2022-cn-ext?Q?ab=0E?=\r\nMIME-Version: 1.0\r\n"
              "Content-Type: text/plain; charset=iso-2022-cn-ext\r\nContent-Transfer-Encoding: base64\r\n\r\n%s"
              % (DEMO, tag_of(2), b64(b"some words then SO\x0e")))
    return [iso_2022_jp, utf16, cn_ext]


class SpamInlineScores(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ringmail-spam-scores-")
        rng = random.Random(11)
        train = os.path.join(self.dir, "train")
        for kind, words, n in (("ham", HAM_WORDS, 60), ("spam", SPAM_WORDS, 60)):
            os.makedirs(os.path.join(train, kind))
            for i in range(n):
                with open(os.path.join(train, kind, "%d.eml" % i), "w") as f:
                    f.write(message(rng, words, "%s%d@%s.example.net" % (kind, i, kind), words, html=kind == "spam"))
        self.store = os.path.join(self.dir, "global.tokens")
        subprocess.run([RINGMAIL, "spam", "train", "--token-store", self.store, "--ham", os.path.join(train, "ham"),
                        "--spam", os.path.join(train, "spam")], check=True, capture_output=True, timeout=120)
        # Probes: the exact bytes each client sends (CRLF, ending in CRLF,
        # no line starting with a dot, so nothing is stuffed); the last three
        # in charsets whose conversion carries state (charset_probes).
        self.probes = {}
        probe_dir = os.path.join(self.dir, "probes")
        os.makedirs(probe_dir)
        for i in range(48):
            tag = "probe-%02d" % i
            share = (i % 12) / 11.0
            text = large(rng, tag, share) if i % 8 == 7 else mixed(rng, tag, share, 2 + i % 5)
            path = os.path.join(probe_dir, tag + ".eml")
            with open(path, "wb") as f:
                f.write(text.encode())
            self.probes[tag] = path
        for i, text in enumerate(charset_probes(lambda k: "probe-%02d" % (48 + k))):
            tag = "probe-%02d" % (48 + i)
            path = os.path.join(probe_dir, tag + ".eml")
            with open(path, "wb") as f:
                f.write(text.encode("latin-1"))
            self.probes[tag] = path
        self.ports = {k: free_port() for k in ("mx", "submission", "submissions", "plain", "tls")}
        off = "".join(f"[listeners.{n}]\nenabled = false\n" for n in ("imap", "imaps", "pop3", "pop3s", "http"))
        with open(os.path.join(self.dir, "ringmail.toml"), "w") as f:
            f.write(f"""
[server]
cores = 2
[spam]
token_store = "{self.store}"
[listeners.smtp]
address = "127.0.0.1:{self.ports['mx']}"
[listeners.submission]
address = "127.0.0.1:{self.ports['submission']}"
[listeners.submissions]
address = "127.0.0.1:{self.ports['submissions']}"
{off}""")
        self.daemon = Daemon(["serve", "--listen-plain", f"127.0.0.1:{self.ports['plain']}",
                              "--listen-tls", f"127.0.0.1:{self.ports['tls']}"], [], data_dir=self.dir).start()
        wait_for_port(self.ports["mx"], timeout=60)

    def tearDown(self):
        self.daemon.stop()
        self.daemon.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def send_all(self, tags):
        """Each connection sends its share of the probes one after another."""
        errors = []

        def client(mine):
            try:
                with smtplib.SMTP("127.0.0.1", self.ports["mx"], timeout=60) as s:
                    s.ehlo("client.test")
                    for tag in mine:
                        with open(self.probes[tag], "rb") as f:
                            s.sendmail("someone@remote.example.org", [DEMO], f.read())
            except Exception as e:  # reported by the test thread
                errors.append(repr(e))

        threads = [threading.Thread(target=client, args=(tags[c::CONNECTIONS],)) for c in range(CONNECTIONS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        self.assertEqual(errors, [])

    def export(self, mailbox):
        target = os.path.join(tempfile.mkdtemp(dir=self.dir), "out")
        p = subprocess.run([RINGMAIL, "export", "--account", DEMO, "--mailbox", mailbox, "--format", "maildir",
                            "--to", target, "--data-dir", self.dir], capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        return read_maildir(target)

    def abandon_data(self, count):
        """`count` connections each start a message (a spam-heavy large
        probe), send half of it after DATA and hang up: the daemon has
        tokenized those bytes and gives the unfinished message's scanner
        back when the session ends."""
        rng = random.Random(5)
        half = large(rng, "abandoned", 1.0).encode()
        half = half[:len(half) // 2]
        socks = []
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", self.ports["mx"]), timeout=30)
            reader = sock.makefile("rb")
            self.assertTrue(reader.readline().startswith(b"220"))
            for command in (b"EHLO client.test", b"MAIL FROM:<bulk@large.example.net>", ("RCPT TO:<%s>" % DEMO).encode(),
                            b"DATA"):
                sock.sendall(command + b"\r\n")
                line = reader.readline()
                while line[3:4] == b"-":  # a multi-line EHLO reply
                    line = reader.readline()
                self.assertIn(line[:3], (b"250", b"354"), line)
            sock.sendall(half)
            socks.append((sock, reader))
        # Let the cores read (and tokenize) what was sent, then hang up.
        time.sleep(1.0)
        for sock, reader in socks:
            reader.close()
            sock.close()
        time.sleep(0.5)

    def test_inline_scores_equal_the_cli_scores(self):
        tags = sorted(self.probes)
        self.send_all(tags)
        self.check_scores(tags)

    def test_scores_after_abandoned_messages(self):
        """A scanner given back by a message that never finished (the client
        hung up mid-DATA) is reset before its next message: the scanners are
        reset when they are given back, not when they are taken, so the
        tokens of the abandoned half-message must not leak into the next
        probes' scores (every probe equal to the CLI's, as above)."""
        self.abandon_data(6)
        tags = sorted(self.probes)
        self.send_all(tags)
        self.check_scores(tags)

    def check_scores(self, tags):
        self.assertEqual(self.daemon.stop(), 0, self.daemon.output()[-2000:])
        inline = {}
        for text in self.export("INBOX") + self.export("Junk"):
            tag = re.search(r"probe-\d\d", text).group(0)
            status = re.search(r"X-Spam-Status: (Yes|No), probability=([0-9.]+), level=([0-9.]+)", text)
            self.assertIsNotNone(status, text[:800])
            self.assertNotIn(tag, inline, "delivered twice")
            inline[tag] = (status.group(2), status.group(3))
        self.assertEqual(sorted(inline), tags)
        # The message_accepted log lines carry the same numbers as the
        # headers (both printed from one formatting of the score).
        logged = re.findall(r"event=message_accepted .* spam_probability=([0-9.]+) spam_level=([0-9.]+) ",
                            self.daemon.output())
        self.assertEqual(sorted(logged), sorted(inline.values()))
        cli = subprocess.run([RINGMAIL, "spam", "score", "--token-store", self.store, *[self.probes[t] for t in tags]],
                             capture_output=True, text=True, timeout=120, check=True).stdout
        by_path = {line.split("\t")[0]: tuple(line.split("\t")[1:3]) for line in cli.splitlines()}
        differing = [(t, inline[t], by_path[self.probes[t]]) for t in tags if inline[t] != by_path[self.probes[t]]]
        self.assertEqual(differing, [])
        # The comparison has teeth: probabilities spread over the range,
        # where one token more or less changes the printed digits.
        middle = {p for p, _ in inline.values() if 0.01 < float(p) < 0.99}
        self.assertGreaterEqual(len(middle), 10, sorted(inline.values()))
        self.assertTrue(any(float(p) >= 0.99 for p, _ in inline.values()))
        self.assertTrue(any(float(p) <= 0.01 for p, _ in inline.values()))


if __name__ == "__main__":
    unittest.main()
