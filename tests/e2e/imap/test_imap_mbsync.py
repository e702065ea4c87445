"""mbsync (isync) against `ringmail serve` over implicit TLS: a first sync
down, local changes (a flag, a deletion, a move between folders, a new
draft) synced up, then server-side changes (a delivery over SMTP, a flag,
an expunge) synced down by a second run. What the server holds is checked
with imaplib, what the laptop holds by reading the Maildir."""
import imaplib
import os
import re
import shutil
import smtplib
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from imap_daemon import PASSWORD, ImapDaemon, tls_context  # noqa: E402

BOB = "bob@example.test"


def message(subject, body="body\r\n"):
    return (f"From: sender@example.org\r\nTo: {BOB}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}@example.org>\r\n\r\n{body}").encode()


def maildir_files(folder):
    out = {}
    for sub in ("cur", "new"):
        d = os.path.join(folder, sub)
        if os.path.isdir(d):
            for name in os.listdir(d):
                with open(os.path.join(d, name), "rb") as f:
                    out[os.path.join(d, name)] = f.read()
    return out


def find(folder, subject):
    """Path of the message with `subject` in a Maildir folder, or None."""
    for path, data in maildir_files(folder).items():
        if f"Subject: {subject}\r\n".encode() in data or f"Subject: {subject}\n".encode() in data:
            return path
    return None


def maildir_flags(path):
    m = re.search(r":2,([A-Z]*)$", path)
    return m.group(1) if m else ""


class Mbsync(unittest.TestCase):
    def setUp(self):
        self.assertTrue(shutil.which("mbsync"), "mbsync (Debian package isync) is needed: .ci/install-deps")
        self.d = ImapDaemon().start()
        self.addCleanup(self.finish)  # first registered, so it runs last
        self.d.add_account(BOB)
        self.local = os.path.join(self.d.dir, "laptop")
        os.makedirs(self.local)
        self.conf = os.path.join(self.d.dir, "mbsyncrc")
        with open(self.conf, "w") as f:
            f.write(f"""IMAPAccount ringmail
Host localhost
Port {self.d.ports['imaps']}
User {BOB}
Pass "{PASSWORD}"
SSLType IMAPS
CertificateFile {os.path.join(self.d.dir, "tls", "cert.pem")}
SystemCertificates no

IMAPStore remote
Account ringmail

MaildirStore local
Path {self.local}/
Inbox {self.local}/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
Remove None
SyncState *
Sync All
""")

    def finish(self):
        rc = self.d.stop()
        out = self.d.output()
        self.d.cleanup()
        self.assertEqual(rc, 0, out[-3000:])

    def sync(self):
        p = subprocess.run(["mbsync", "-c", self.conf, "-a"], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, f"mbsync failed:\n{p.stdout}\n{p.stderr}\n{self.d.output()[-2000:]}")

    def deliver(self, raw):
        with smtplib.SMTP("127.0.0.1", self.d.ports["mx"], timeout=30) as s:
            s.sendmail("sender@example.org", [BOB], raw)

    def imap(self):
        c = imaplib.IMAP4_SSL("127.0.0.1", self.d.ports["imaps"], ssl_context=tls_context(), timeout=30)
        c.login(BOB, PASSWORD)
        self.addCleanup(c.logout)
        return c

    def subjects(self, c, mailbox):
        typ, data = c.select(mailbox)
        self.assertEqual(typ, "OK", mailbox)
        if data == [b"0"]:
            return {}
        typ, data = c.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        out = {}
        for item in data:
            if isinstance(item, tuple):
                subject = re.search(rb"Subject: (.*?)\r\n", item[1]).group(1).decode()
                out[subject] = re.search(rb"FLAGS \((.*?)\)", item[0]).group(1).decode()
        return out

    def test_sync_both_ways_and_again_after_server_changes(self):
        for i in range(3):
            self.deliver(message(f"inbox {i}"))
        c = self.imap()
        c.create("Projects")
        c.append("Projects", "(\\Flagged)", None, message("project plan"))

        # 1. First sync: everything comes down, special-use folders too.
        self.sync()
        inbox = os.path.join(self.local, "INBOX")
        for i in range(3):
            self.assertIsNotNone(find(inbox, f"inbox {i}"))
        plan = find(os.path.join(self.local, "Projects"), "project plan")
        self.assertIsNotNone(plan)
        self.assertIn("F", maildir_flags(plan))
        for folder in ("Sent", "Drafts", "Trash", "Junk", "Archive"):
            self.assertTrue(os.path.isdir(os.path.join(self.local, folder)), folder)

        # 2. Changes on the laptop: read, delete, move to Archive, new draft.
        seen = find(inbox, "inbox 0")
        base = seen.split(":2,")[0]
        os.rename(seen, os.path.join(inbox, "cur", os.path.basename(base) + ":2,S"))
        os.remove(find(inbox, "inbox 1"))
        moved = find(inbox, "inbox 2")
        name = re.sub(r",U=\d+", "", os.path.basename(moved))  # a new file to mbsync
        os.rename(moved, os.path.join(self.local, "Archive", "cur", name))
        with open(os.path.join(self.local, "Drafts", "new", "1700000000.draft.laptop"), "wb") as f:
            f.write(message("my draft"))
        self.sync()

        self.assertEqual(self.subjects(c, "INBOX"), {"inbox 0": "\\Seen"})
        archive = self.subjects(c, "Archive")
        self.assertIn("inbox 2", archive)
        self.assertIn("my draft", self.subjects(c, "Drafts"))

        # 3. Changes on the server, then a second sync down.
        self.deliver(message("inbox 3"))
        c.select("INBOX")
        typ, data = c.search(None, 'SUBJECT "inbox 0"')
        c.store(data[0].split()[0], "+FLAGS", "(\\Flagged)")
        c.select("Projects")
        c.store("1", "+FLAGS", "(\\Deleted)")
        c.expunge()
        self.sync()

        self.assertIsNotNone(find(inbox, "inbox 3"))
        self.assertEqual(maildir_flags(find(inbox, "inbox 0")), "FS")
        self.assertIsNone(find(os.path.join(self.local, "Projects"), "project plan"))
        self.assertIsNone(find(inbox, "inbox 1"))

        # 4. Nothing changed: a third sync changes nothing on either side.
        before = sorted(maildir_files(self.local))
        self.sync()
        self.assertEqual(sorted(maildir_files(self.local)), before)
        self.assertEqual(set(self.subjects(c, "INBOX")), {"inbox 0", "inbox 3"})


if __name__ == "__main__":
    unittest.main()
