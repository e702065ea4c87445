"""IMAP reads and refreshes in `ringmail serve` over many messages: FETCH,
SEARCH and SORT read messages ahead in batches (one service call per batch,
each blob read on the core that wrote it), and the refresh after every
command asks only for what changed since the session's snapshot. Python's
imaplib against the real daemon (2 cores); messages arrive by SMTP over
several connections, so their blobs live on both cores."""
import imaplib
import os
import re
import smtplib
import sys
import unittest
from email.message import EmailMessage

sys.path.insert(0, os.path.dirname(__file__))
from imap_daemon import ImapDaemon, ImapSessions  # noqa: E402

CAROL = "carol@example.test"
DAVE = "dave@example.test"
COUNT = 560  # more than one read-ahead batch (512 messages or 4 MiB)


def message(i, body, to=CAROL):
    m = EmailMessage()
    m["From"] = "sender@example.org"
    m["To"] = to
    m["Subject"] = f"read check {i:04d}"
    m["Message-ID"] = f"<read.{i}@example.org>"
    m.set_content(body)
    return m.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def body_of(i):
    # Every seventh message holds the search word; one is larger than a
    # read-ahead batch's byte bound (4 MiB), so it gets a batch of its own.
    text = f"message {i}\n" + ("ordinary words here\n" * (1 + i % 20))
    if i % 7 == 0:
        text += "the numbat came by\n"
    if i == 77:
        text += ("x" * 75 + "\n") * 70000
    return text


class ImapReads(ImapSessions, unittest.TestCase):
    user = CAROL

    @classmethod
    def setUpClass(cls):
        cls.d = ImapDaemon(extra="[smtp]\nmessage_size_max_bytes = 26214400\n").start()
        cls.d.add_account(CAROL)
        cls.d.add_account(DAVE)
        cls.sent = {}
        per_conn = COUNT // 10
        for conn in range(10):
            with smtplib.SMTP("127.0.0.1", cls.d.ports["mx"], timeout=60) as s:
                for i in range(conn * per_conn, (conn + 1) * per_conn):
                    raw = message(i, body_of(i))
                    s.sendmail("sender@example.org", [CAROL], raw)
                    cls.sent[f"read check {i:04d}"] = raw

    @classmethod
    def tearDownClass(cls):
        cls.d.finish()

    def test_fetch_every_body_in_one_command_matches_what_was_sent(self):
        # Both listeners: sessions on either core read blobs of both cores.
        for c in (self.imaps(), self.starttls()):
            typ, data = c.select("INBOX", readonly=True)
            self.assertEqual(data, [str(COUNT).encode()])
            typ, data = c.fetch("1:*", "(UID RFC822.SIZE BODY.PEEK[])")
            self.assertEqual(typ, "OK")
            bodies = [d for d in data if isinstance(d, tuple)]
            self.assertEqual(len(bodies), COUNT)
            seen = set()
            for i, (head, full) in enumerate(bodies):
                self.assertTrue(head.startswith(f"{i + 1} (".encode()), head)
                size = int(re.search(rb"RFC822.SIZE (\d+)", head).group(1))
                self.assertEqual(size, len(full))
                subject = re.search(rb"Subject: (read check \d+)", full).group(1).decode()
                self.assertTrue(full.endswith(self.sent[subject]), subject)
                seen.add(subject)
            self.assertEqual(seen, set(self.sent))

    def test_fetch_headers_and_structure_of_every_message(self):
        c = self.imaps()
        c.select("INBOX", readonly=True)
        typ, data = c.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)] ENVELOPE)")
        self.assertEqual(typ, "OK")
        headers = [d for d in data if isinstance(d, tuple)]
        self.assertEqual(len(headers), COUNT)
        subjects = sorted(re.search(rb"Subject: (read check \d+)", h[1]).group(1).decode() for h in headers)
        self.assertEqual(subjects, sorted(self.sent))

    def test_search_body_and_sort_read_every_message(self):
        c = self.starttls()
        c.select("INBOX", readonly=True)
        typ, data = c.search(None, "BODY", "numbat")
        self.assertEqual(typ, "OK")
        found = data[0].split()
        typ, data = c.fetch(b",".join(found).decode(), "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        subjects = sorted(int(re.search(rb"read check (\d+)", d[1]).group(1)) for d in data if isinstance(d, tuple))
        self.assertEqual(subjects, [i for i in range(COUNT) if i % 7 == 0])
        typ, data = c._simple_command("SORT", "(REVERSE SUBJECT)", "UTF-8", "ALL")
        typ, data = c._untagged_response(typ, data, "SORT")
        self.assertEqual(typ, "OK")
        order = [int(n) for n in data[0].split()]
        typ, data = c.fetch(f"{order[0]},{order[-1]}", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        got = [d[1] for d in data if isinstance(d, tuple)]
        self.assertEqual(len(order), COUNT)
        self.assertTrue(any(f"read check {COUNT - 1:04d}".encode() in g for g in got), got)
        self.assertTrue(any(b"read check 0000" in g for g in got), got)

    def fill(self, c, name, n):
        typ, _ = c.create(name)
        self.assertEqual(typ, "OK")
        for i in range(n):
            c.append(name, None, None, message(i, f"refresh {i}\n", to=DAVE))

    def test_refresh_reports_flags_expunges_and_new_messages_of_another_session(self):
        a = self.imaps(DAVE)
        b = self.starttls(DAVE)
        self.fill(b, "Delta", 6)
        typ, data = a.select("Delta")
        self.assertEqual(data, [b"6"])
        b.select("Delta")
        # Nothing changed: NOOP says nothing.
        a.untagged_responses.clear()
        a.noop()
        self.assertEqual({k: v for k, v in a.untagged_responses.items() if k != "NOOP"}, {})
        # A flag and a keyword set elsewhere.
        b.store("2", "+FLAGS", "(\\Flagged)")
        b.store("4", "+FLAGS", "($Work)")
        a.untagged_responses.clear()
        a.noop()
        fetches = a.untagged_responses.get("FETCH", [])
        self.assertEqual(len(fetches), 2, fetches)
        self.assertTrue(fetches[0].startswith(b"2 (") and b"\\Flagged" in fetches[0], fetches)
        self.assertTrue(fetches[1].startswith(b"4 (") and b"$Work" in fetches[1], fetches)
        # An expunge elsewhere is held back during FETCH (RFC 3501 7.4.1)
        # and reported by the next NOOP, with the numbers shifting after it.
        b.store("1", "+FLAGS", "(\\Deleted)")
        b.expunge()
        a.untagged_responses.clear()
        typ, data = a.fetch("1", "(UID)")
        self.assertNotIn("EXPUNGE", a.untagged_responses)
        self.assertIn(b"UID 1", data[0])
        # The APPEND's own refresh may report them already (not a FETCH,
        # STORE or SEARCH); the NOOP after it must not report them again.
        a.untagged_responses.clear()
        a.append("Delta", None, None, message(6, "refresh 6\n", to=DAVE))
        a.noop()
        self.assertEqual(a.untagged_responses.get("EXPUNGE"), [b"1"], a.untagged_responses)
        self.assertEqual(a.untagged_responses.get("EXISTS"), [b"6"], a.untagged_responses)
        typ, data = a.fetch("1", "(UID FLAGS)")
        self.assertIn(b"UID 2", data[0])
        self.assertIn(b"\\Flagged", data[0])
        typ, data = a.fetch("6", "(UID)")
        self.assertIn(b"UID 7", data[0])
        # STORE of a flag the message already has still answers FETCH.
        a.untagged_responses.clear()
        typ, data = a.store("1", "+FLAGS", "(\\Flagged)")
        self.assertEqual(typ, "OK")
        self.assertTrue(any(b"\\Flagged" in d for d in data if d), data)
        # .SILENT: no FETCH for our own change; the other session sees it.
        typ, data = a.store("3", "+FLAGS.SILENT", "(\\Answered)")
        self.assertEqual(data, [None])
        b.untagged_responses.clear()
        b.noop()
        fetches = b.untagged_responses.get("FETCH", [])
        self.assertTrue(any(f.startswith(b"3 (") and b"\\Answered" in f for f in fetches), b.untagged_responses)

    def test_refresh_with_qresync_reports_vanished(self):
        a = self.imaps(DAVE)
        b = self.starttls(DAVE)
        self.fill(b, "Vanish", 4)
        typ, _ = a._simple_command("ENABLE", "QRESYNC")
        self.assertEqual(typ, "OK")
        a.select("Vanish")
        b.select("Vanish")
        b.uid("STORE", "2:3", "+FLAGS", "(\\Deleted)")
        b.expunge()
        b.uid("STORE", "4", "+FLAGS", "(\\Seen)")
        a.untagged_responses.clear()
        a.noop()
        self.assertEqual(a.untagged_responses.get("VANISHED"), [b"2:3"], a.untagged_responses)
        fetches = a.untagged_responses.get("FETCH", [])
        self.assertEqual(len(fetches), 1, fetches)
        self.assertTrue(fetches[0].startswith(b"2 (") and b"UID 4" in fetches[0] and b"MODSEQ" in fetches[0],
                        fetches)

    def test_deleting_the_selected_mailbox_elsewhere_ends_the_session(self):
        a = self.imaps(DAVE)
        b = self.starttls(DAVE)
        self.fill(b, "Again", 2)
        a.select("Again")
        b.delete("Again")
        a.untagged_responses.clear()
        try:
            a.noop()
        except imaplib.IMAP4.abort:
            pass
        self.assertIn("BYE", a.untagged_responses)


if __name__ == "__main__":
    unittest.main()
