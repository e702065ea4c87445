"""IMAP in `ringmail serve` with real clients: Python's imaplib over implicit
TLS and STARTTLS, smtplib delivering mail that IMAP then shows (and that
wakes IDLE on whichever core the session lives), two sessions seeing each
other's changes, curl's imap:// and imaps:// URLs, and the junk-training
hook seen in the daemon's log. One daemon for the class, 2 cores."""
import imaplib
import os
import re
import smtplib
import subprocess
import sys
import threading
import time
import unittest
from email.message import EmailMessage

sys.path.insert(0, os.path.dirname(__file__))
from imap_daemon import PASSWORD, ImapDaemon, ImapSessions, tls_context  # noqa: E402

ANN = "ann@example.test"
BOB = "bob@example.test"
POPPY = "poppy@example.test"


def message(subject, body, to=ANN, attachment=None):
    m = EmailMessage()
    m["From"] = "sender@example.org"
    m["To"] = to
    m["Subject"] = subject
    m["Message-ID"] = f"<{subject.replace(' ', '.')}@example.org>"
    m.set_content(body)
    if attachment:
        m.add_attachment(attachment, maintype="application", subtype="octet-stream", filename="data.bin")
    return m.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


class ImapClients(ImapSessions, unittest.TestCase):
    user = BOB

    @classmethod
    def setUpClass(cls):
        cls.d = ImapDaemon().start()
        cls.d.add_account(ANN)
        cls.d.add_account(BOB)
        cls.d.add_account(POPPY, "--mailbox-access", "pop3")

    @classmethod
    def tearDownClass(cls):
        cls.d.finish()

    # ------------------------------------------------------------ helpers
    def deliver(self, raw, to=BOB):
        with smtplib.SMTP("127.0.0.1", self.d.ports["mx"], timeout=30) as s:
            s.sendmail("sender@example.org", [to], raw)

    def fresh_mailbox(self, c, name):
        typ, _ = c.create(name)
        self.assertEqual(typ, "OK")
        typ, data = c.select(name)
        self.assertEqual(typ, "OK")
        self.assertEqual(data, [b"0"])

    # -------------------------------------------------------------- tests
    def test_special_use_folders_exist_at_first_login(self):
        c = self.imaps(ANN)
        typ, lines = c.list()
        self.assertEqual(typ, "OK")
        text = b"\n".join(lines).decode()
        for attr, name in (("\\Sent", "Sent"), ("\\Drafts", "Drafts"), ("\\Trash", "Trash"), ("\\Junk", "Junk"),
                           ("\\Archive", "Archive")):
            self.assertRegex(text, r"\(.*\%s.*\) \"/\" \"?%s\"?" % (attr, name))
        self.assertIn("INBOX", text)
        typ, data = c._simple_command("LIST", "(SPECIAL-USE)", '""', '"*"')
        typ, data = c._untagged_response(typ, data, "LIST")
        self.assertEqual(len([l for l in data if l]), 5, data)
        typ, data = c.lsub()
        self.assertEqual(typ, "OK")
        self.assertTrue(any(b"Sent" in l for l in data), data)

    def test_smtp_delivery_is_visible_with_headers_body_bodystructure_and_search(self):
        raw = message("structure check", "Hello Bob,\nthe quokka word is here.\n", to=BOB,
                      attachment=bytes(range(256)) * 4)
        self.deliver(raw)
        c = self.imaps()
        typ, data = c.select("INBOX")
        self.assertEqual(typ, "OK")
        typ, hits = c.uid("SEARCH", None, "SUBJECT", '"structure check"')
        self.assertEqual(typ, "OK")
        uids = hits[0].split()
        self.assertEqual(len(uids), 1)
        uid = uids[-1].decode()
        typ, data = c.uid("FETCH", uid, "(BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)] RFC822.SIZE FLAGS)")
        self.assertEqual(typ, "OK")
        self.assertIn(b"Subject: structure check", data[0][1])
        self.assertNotIn(b"\\Seen", data[0][0] + (data[1] if isinstance(data[1], bytes) else b""))
        typ, data = c.uid("FETCH", uid, "(BODYSTRUCTURE)")
        bs = data[0].decode() if isinstance(data[0], bytes) else data[0][0].decode()
        self.assertIn('"mixed"', bs.lower())
        self.assertIn('("text" "plain"', bs.lower())
        self.assertIn('"application" "octet-stream"', bs.lower())
        typ, data = c.uid("FETCH", uid, "(BODY.PEEK[1])")
        self.assertIn(b"quokka word", data[0][1])
        typ, data = c.uid("FETCH", uid, "(BODY[])")
        full = data[0][1]
        self.assertIn(b"Delivered-To: " + BOB.encode(), full)
        self.assertTrue(full.endswith(raw), "the stored message is the trace headers + the bytes sent")
        typ, hits = c.uid("SEARCH", None, "BODY", "quokka")
        self.assertIn(uid.encode(), hits[0].split())
        typ, hits = c.uid("SEARCH", None, "TEXT", "wombat-never-written")
        self.assertEqual(hits[0].split(), [])
        typ, data = c.uid("FETCH", uid, "(FLAGS)")
        self.assertIn(b"\\Seen", data[0], "BODY[] sets \\Seen")

    def test_append_store_copy_move_expunge_over_starttls(self):
        c = self.starttls()
        self.fresh_mailbox(c, "Work")
        typ, data = c.append("Work", "(\\Draft $Project)", None, message("appended one", "first"))
        self.assertEqual(typ, "OK")
        m = re.search(rb"APPENDUID (\d+) (\d+)", data[0])
        self.assertIsNotNone(m, data)
        c.append("Work", None, None, message("appended two", "second"))
        typ, data = c.select("Work")
        self.assertEqual(data, [b"2"])
        typ, data = c.fetch("1:2", "(FLAGS)")
        self.assertIn(b"\\Draft", data[0])
        self.assertIn(b"$Project", data[0])
        typ, data = c.store("2", "+FLAGS", "(\\Flagged)")
        self.assertIn(b"\\Flagged", data[0])
        typ, hits = c.search(None, "FLAGGED")
        self.assertEqual(hits[0], b"2")
        typ, data = c.copy("1:2", "Archive")
        self.assertEqual(typ, "OK")
        typ, data = c.status("Archive", "(MESSAGES)")
        archived = int(re.search(rb"MESSAGES (\d+)", data[0]).group(1))
        self.assertGreaterEqual(archived, 2)
        typ, data = c.uid("MOVE", m.group(2).decode(), "Trash")
        self.assertEqual(typ, "OK")
        typ, data = c.status("Work", "(MESSAGES UIDNEXT UNSEEN)")
        self.assertIn(b"MESSAGES 1", data[0])
        c.select("Work")
        c.store("1", "+FLAGS", "(\\Deleted)")
        typ, data = c.expunge()
        self.assertEqual(data, [b"1"])
        typ, data = c.select("Work")
        self.assertEqual(data, [b"0"])
        typ, data = c.rename("Work", "Work2024")
        self.assertEqual(typ, "OK")
        typ, data = c.delete("Work2024")
        self.assertEqual(typ, "OK")
        typ, data = c.select("Work2024")
        self.assertEqual(typ, "NO")

    def test_two_sessions_see_each_others_changes(self):
        a = self.imaps()
        b = self.starttls()
        self.fresh_mailbox(a, "Shared")
        b.select("Shared")
        a.untagged_responses.clear()
        b.append("Shared", None, None, message("from b", "1"))
        b.append("Shared", None, None, message("from b 2", "2"))
        typ, data = a.noop()
        self.assertEqual(a.untagged_responses.get("EXISTS"), [b"2"], a.untagged_responses)
        a.untagged_responses.clear()
        b.select("Shared")
        b.store("1", "+FLAGS", "(\\Seen)")
        a.noop()
        fetches = a.untagged_responses.get("FETCH", [])
        self.assertTrue(any(b"\\Seen" in f for f in fetches), a.untagged_responses)
        a.untagged_responses.clear()
        b.store("1", "+FLAGS", "(\\Deleted)")
        b.expunge()
        a.noop()
        self.assertEqual(a.untagged_responses.get("EXPUNGE"), [b"1"], a.untagged_responses)

    def test_qresync_reports_vanished_messages_from_the_store(self):
        c = self.imaps()
        self.fresh_mailbox(c, "Resync")
        for i in range(3):
            c.append("Resync", None, None, message(f"resync {i}", "x"))
        typ, data = c.status("Resync", "(UIDVALIDITY HIGHESTMODSEQ)")
        validity = re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1).decode()
        modseq = re.search(rb"HIGHESTMODSEQ (\d+)", data[0]).group(1).decode()
        c.select("Resync")
        c.uid("STORE", "2", "+FLAGS", "(\\Deleted)")
        c.expunge()
        c.close()
        typ, _ = c._simple_command("ENABLE", "QRESYNC")
        self.assertEqual(typ, "OK")
        c.untagged_responses.clear()
        typ, data = c._simple_command("SELECT", "Resync", f"(QRESYNC ({validity} {modseq}))")
        self.assertEqual(typ, "OK")
        vanished = c.untagged_responses.get("VANISHED", [])
        self.assertTrue(any(re.search(rb"\(EARLIER\) 2\b", v) for v in vanished), c.untagged_responses)

    def idle_until(self, c, pattern, trigger):
        """IDLE on `c`, run `trigger`, return the first untagged line that
        matches `pattern` (the server must push it: no client command)."""
        tag = c._new_tag().decode()
        c.send(f"{tag} IDLE\r\n".encode())
        self.assertTrue(c.readline().startswith(b"+"))
        c.sock.settimeout(20)
        threading.Thread(target=trigger).start()
        got = None
        while got is None:
            line = c.readline()
            self.assertTrue(line, "connection closed during IDLE")
            if re.search(pattern, line):
                got = line
        c.send(b"DONE\r\n")
        while True:
            line = c.readline()
            if line.startswith(tag.encode()):
                self.assertIn(b"OK", line)
                break
        return got

    def test_idle_is_woken_by_smtp_delivery_on_any_core(self):
        # Four sessions: with two cores and SO_REUSEPORT they spread, so an
        # owner core other than the session's must wake it.
        sessions = [self.imaps() if i % 2 else self.starttls() for i in range(4)]
        for c in sessions:
            typ, data = c.select("INBOX")
            self.assertEqual(typ, "OK")
        results = {}

        def idle(i, c):
            delivered = threading.Event()

            def trigger():
                if i == 0:
                    self.deliver(message("idle wake", "pushed"))
                delivered.set()
            results[i] = self.idle_until(c, rb"^\* \d+ EXISTS", trigger)

        threads = [threading.Thread(target=idle, args=(i, c)) for i, c in enumerate(sessions)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(sorted(results), [0, 1, 2, 3], results)

    def test_idle_is_woken_by_a_flag_change_in_another_session(self):
        watcher = self.imaps()
        actor = self.starttls()
        self.fresh_mailbox(watcher, "Flags")
        actor.append("Flags", None, None, message("flag me", "x"))
        watcher.noop()
        actor.select("Flags")
        line = self.idle_until(watcher, rb"FETCH .*\\Flagged", lambda: actor.store("1", "+FLAGS", "(\\Flagged)"))
        self.assertIn(b"FLAGS", line)

    def test_login_refusals(self):
        c = imaplib.IMAP4("127.0.0.1", self.d.ports["imap"], timeout=30)
        self.addCleanup(self.logout, c)
        self.assertIn("LOGINDISABLED", c.capabilities)
        self.assertIn("STARTTLS", c.capabilities)
        with self.assertRaisesRegex(imaplib.IMAP4.error, "PRIVACYREQUIRED"):
            c.login(BOB, PASSWORD)
        c2 = imaplib.IMAP4_SSL("127.0.0.1", self.d.ports["imaps"], ssl_context=tls_context(), timeout=30)
        self.addCleanup(self.logout, c2)
        with self.assertRaisesRegex(imaplib.IMAP4.error, "AUTHENTICATIONFAILED"):
            c2.login(BOB, "not the password at all")
        with self.assertRaisesRegex(imaplib.IMAP4.error, "POP3"):
            c2.login(POPPY, PASSWORD)
        c2.login(BOB, PASSWORD)  # the same connection may still log in

    def test_curl_imap_and_imaps_urls(self):
        self.deliver(message("curl fetch", "fetched by curl"))
        user = f"{BOB}:{PASSWORD}"
        base = f"imaps://127.0.0.1:{self.d.ports['imaps']}"
        p = subprocess.run(["curl", "-sS", "-k", "-u", user, base + "/"], capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"\\Junk", p.stdout)
        p = subprocess.run(["curl", "-sS", "-k", "-u", user, base + "/INBOX", "-X", 'SEARCH SUBJECT "curl fetch"'],
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        uid = p.stdout.split()[-1].decode()
        p = subprocess.run(["curl", "-sS", "-k", "--ssl-reqd", "-u", user,
                            f"imap://127.0.0.1:{self.d.ports['imap']}/INBOX;UID={uid}"], capture_output=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"fetched by curl", p.stdout)
        # Without TLS, curl's login is refused by policy.
        p = subprocess.run(["curl", "-sS", "-u", user, f"imap://127.0.0.1:{self.d.ports['imap']}/INBOX;UID={uid}"],
                           capture_output=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)

    def test_moving_into_and_out_of_junk_is_reported_for_training(self):
        c = self.imaps()
        self.fresh_mailbox(c, "Suspects")
        c.append("Suspects", None, None, message("buy now", "cheap pills"))
        c.select("Suspects")
        typ, _ = c.uid("MOVE", "1:*", "Junk")
        self.assertEqual(typ, "OK")
        c.select("Junk")
        typ, hits = c.search(None, "SUBJECT", '"buy now"')
        seq = hits[0].split()[-1].decode()
        typ, _ = c.move(seq, "INBOX") if hasattr(c, "move") else c._simple_command("MOVE", seq, "INBOX")
        self.assertEqual(typ, "OK")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            out = self.d.output()
            if "verdict=ham" in out:
                break
            time.sleep(0.05)
        lines = [l for l in out.splitlines() if "junk_training" in l]
        self.assertTrue(any("verdict=spam" in l and "from=Suspects" in l and "to=Junk" in l for l in lines), lines)
        self.assertTrue(any("verdict=ham" in l and "from=Junk" in l and "to=INBOX" in l for l in lines), lines)


if __name__ == "__main__":
    unittest.main()
