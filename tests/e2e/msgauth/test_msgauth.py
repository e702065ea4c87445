"""Message authentication end to end: SPF, DKIM and DMARC on the MX
listener of a real `ringmail serve`, against a dnsmasq the test starts on
loopback with its own zone (stopped by PID), and `ringmail domain dkim
generate|sign|check` through the real CLI. dkimpy (Debian's python3-dkim,
run by Debian's /usr/bin/python3) is the independent implementation:
it verifies ringmail's signatures and signs a message ringmail verifies.

Mail is read back with `ringmail export` (daemon stopped), where the
Authentication-Results field sits in the delivery's header prefix."""
import base64
import os
import re
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import RINGMAIL, Daemon, free_dns_port, free_port  # noqa: E402

DNSMASQ = "/usr/sbin/dnsmasq"
DEBIAN_PYTHON = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))
DEMO = "demo@example.test"


def cli(data_dir, *args, stdin=None, config=None):
    cmd = [RINGMAIL, *args, "--data-dir", data_dir]
    if config:
        cmd += ["--config", config]
    return subprocess.run(cmd, input=stdin, capture_output=True, timeout=120)


def generate_key(data_dir, domain, algorithm):
    """Runs `ringmail domain dkim generate`; returns (selector, TXT strings)."""
    p = cli(data_dir, "domain", "dkim", "generate", domain, "--algorithm", algorithm)
    assert p.returncode == 0, p.stderr
    out = p.stdout.decode()
    m = re.search(r"^(\S+)\._domainkey\." + re.escape(domain) + r"\. 3600 IN TXT (.+)$", out, re.M)
    assert m, out
    strings = re.findall(r'"([^"]*)"', m.group(2))
    return m.group(1), strings, out


def message(from_addr, subject, body="Hello,\r\n\r\nthis is a test.\r\n"):
    return (f"From: {from_addr}\r\nTo: {DEMO}\r\nSubject: {subject}\r\n"
            f"Date: Mon, 23 Nov 2026 12:00:00 +0000\r\nMessage-ID: <{subject.replace(' ', '.')}@test>\r\n"
            f"\r\n{body}").encode()


def has_dkimpy():
    return os.path.exists(DEBIAN_PYTHON) and subprocess.run(
        [DEBIAN_PYTHON, "-c", "import dkim, nacl"], capture_output=True).returncode == 0


class Msgauth(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="ringmail-msgauth-")
        # The sending side's keys live in their own data dir (no daemon there).
        cls.sender_dir = os.path.join(cls.dir, "sender")
        os.makedirs(cls.sender_dir)
        cls.ed_selector, cls.ed_record, cls.generate_output = generate_key(cls.sender_dir, "sender.test", "ed25519")
        cls.rsa_selector, cls.rsa_record, _ = generate_key(cls.sender_dir, "rsa.test", "rsa")
        cls.start_dns()
        cls.ports = {k: free_port() for k in ("mx", "submission", "submissions", "plain", "tls")}
        off = "".join(f"[listeners.{n}]\nenabled = false\n" for n in ("imap", "imaps", "pop3", "pop3s", "http"))
        with open(os.path.join(cls.dir, "ringmail.toml"), "w") as f:
            f.write(f"""
[server]
cores = 2
hostname = "mx.example.test"
shutdown_grace_ms = 2000
[auth.argon2]
memory_kib = 1024
iterations = 1
[dns]
servers = ["127.0.0.1:{cls.dns_port}"]
timeout_ms = 1000
tries = 1
[msgauth]
verify_inbound = true
dmarc_reject_action = "reject"
dmarc_quarantine_action = "quarantine"
[listeners.smtp]
address = "127.0.0.1:{cls.ports['mx']}"
[listeners.submission]
address = "127.0.0.1:{cls.ports['submission']}"
[listeners.submissions]
address = "127.0.0.1:{cls.ports['submissions']}"
{off}""")
        # The sender side's config: its resolver is the same dnsmasq.
        cls.sender_config = os.path.join(cls.dir, "sender.toml")
        with open(cls.sender_config, "w") as f:
            f.write(f'[server]\nhostname = "mail.sender.test"\n[dns]\nservers = ["127.0.0.1:{cls.dns_port}"]\n'
                    f'timeout_ms = 1000\ntries = 1\n')
        cls.start_daemon()

    @classmethod
    def start_dns(cls):
        cls.dns_port = free_dns_port()
        records = [
            "--mx-host=sender.test,mail.sender.test,10",
            "--host-record=mail.sender.test,127.0.0.1",
            "--txt-record=sender.test,v=spf1 mx -all",
            f"--txt-record={cls.ed_selector}._domainkey.sender.test,{cls.ed_record[0]}",
            "--txt-record=_dmarc.sender.test,v=DMARC1; p=reject; rua=mailto:dmarc@sender.test",
            "--srv-host=_submissions._tcp.sender.test,mail.sender.test,465,0,1",
            "--srv-host=_submission._tcp.sender.test,mail.sender.test,587,0,1",
            "--srv-host=_imaps._tcp.sender.test,mail.sender.test,993,0,1",
            "--srv-host=_imap._tcp.sender.test,mail.sender.test,143,0,1",
            "--srv-host=_pop3s._tcp.sender.test,mail.sender.test,995,10,1",
            "--txt-record=rsa.test,v=spf1 ip4:127.0.0.0/8 -all",
            # A 2048-bit key is longer than one 255-byte TXT string.
            f"--txt-record={cls.rsa_selector}._domainkey.rsa.test," + ",".join(cls.rsa_record),
            "--txt-record=_dmarc.rsa.test,v=DMARC1; p=reject",
            "--txt-record=victim.test,v=spf1 ip4:192.0.2.1 -all",
            "--txt-record=quar.test,v=spf1 ip4:192.0.2.1 -all",
            "--txt-record=_dmarc.quar.test,v=DMARC1; p=quarantine",
            "--txt-record=bare.test,nothing to see",
        ]
        args = [DNSMASQ, "--keep-in-foreground", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
                "--listen-address=127.0.0.1", "--bind-interfaces", f"--port={cls.dns_port}",
                f"--pid-file={cls.dir}/dnsmasq.pid", f"--log-facility={cls.dir}/dnsmasq.log", "--local=/test/",
                *records]
        if os.getuid() == 0:
            args.append("--user=root")
        cls.dns = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", cls.dns_port), timeout=0.5):
                    return
            except OSError:
                if cls.dns.poll() is not None:
                    raise RuntimeError("dnsmasq failed: " + cls.dns.stderr.read().decode())
                time.sleep(0.05)
        raise TimeoutError("dnsmasq did not start")

    @classmethod
    def start_daemon(cls):
        cls.daemon = Daemon(["serve", "--listen-plain", f"127.0.0.1:{cls.ports['plain']}",
                             "--listen-tls", f"127.0.0.1:{cls.ports['tls']}"],
                            [cls.ports["mx"]], data_dir=cls.dir).start()

    @classmethod
    def stop_daemon(cls):
        rc = cls.daemon.stop()
        cls.daemon.log.close()
        return rc

    @classmethod
    def tearDownClass(cls):
        try:
            cls.stop_daemon()
        finally:
            cls.dns.terminate()  # by PID: our own Popen
            try:
                cls.dns.wait(timeout=5)
            except subprocess.TimeoutExpired:
                cls.dns.kill()
                cls.dns.wait()
            cls.dns.stderr.close()
            shutil.rmtree(cls.dir, ignore_errors=True)

    def send(self, mail_from, data):
        with smtplib.SMTP("127.0.0.1", self.ports["mx"], timeout=30) as s:
            s.ehlo("mail.sender.test")
            return s.sendmail(mail_from, [DEMO], data)

    def delivered(self, subject, mailbox="INBOX"):
        """Stops the daemon, exports `mailbox`, restarts; the message with `subject`."""
        self.assertEqual(self.stop_daemon(), 0, self.daemon.output())
        target = os.path.join(tempfile.mkdtemp(dir=self.dir), "out")
        p = cli(self.dir, "export", "--account", DEMO, "--mailbox", mailbox, "--format", "maildir", "--to", target)
        self.start_daemon()
        self.assertEqual(p.returncode, 0, p.stderr)
        for sub in ("new", "cur"):
            d = os.path.join(target, sub)
            for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
                with open(os.path.join(d, name), "rb") as f:
                    data = f.read()
                if f"Subject: {subject}".encode() in data:
                    return data.decode(errors="replace")
        self.fail(f"no message {subject!r} in {mailbox}")

    def auth_results(self, text):
        header = text.split("\n\n", 1)[0]
        m = re.search(r"^Authentication-Results: (.*(?:\n[ \t].*)*)", header, re.M)
        self.assertIsNotNone(m, header)
        return " ".join(m.group(1).split())

    def sign(self, domain, data):
        p = cli(self.sender_dir, "domain", "dkim", "sign", domain, stdin=data)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def test_ringmail_ed25519_signature_passes(self):
        data = self.sign("sender.test", message("Alice <alice@sender.test>", "ed25519 signed"))
        self.assertTrue(data.startswith(b"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=sender.test"))
        self.assertEqual(self.send("alice@sender.test", data), {})
        ar = self.auth_results(self.delivered("ed25519 signed"))
        self.assertTrue(ar.startswith("mx.example.test;"), ar)
        self.assertIn("spf=pass", ar)
        self.assertIn("smtp.mailfrom=alice@sender.test", ar)
        self.assertIn(f"dkim=pass header.d=sender.test header.s={self.ed_selector} header.a=ed25519-sha256", ar)
        self.assertIn("dmarc=pass (p=reject dis=none) header.from=sender.test", ar)

    def test_ringmail_rsa_signature_passes(self):
        data = self.sign("rsa.test", message("Robert <bob@rsa.test>", "rsa signed"))
        self.assertEqual(self.send("bob@rsa.test", data), {})
        ar = self.auth_results(self.delivered("rsa signed"))
        self.assertIn("spf=pass", ar)
        self.assertIn("dkim=pass header.d=rsa.test", ar)
        self.assertIn("header.a=rsa-sha256", ar)
        self.assertIn("dmarc=pass", ar)

    @unittest.skipUnless(has_dkimpy(), "python3-dkim / python3-nacl not installed")
    def test_dkimpy_signature_passes_in_ringmail(self):
        with open(os.path.join(self.sender_dir, "dkim", "sender.test", self.ed_selector + ".pem")) as f:
            der = base64.b64decode("".join(l for l in f.read().splitlines() if not l.startswith("-----")))
        seed = base64.b64encode(der[-32:]).decode()  # PKCS#8 Ed25519: the 32-byte seed ends the DER
        p = subprocess.run([DEBIAN_PYTHON, os.path.join(HERE, "dkimpy_tool.py"), "sign", self.ed_selector,
                            "sender.test", seed], input=message("Alice <alice@sender.test>", "dkimpy signed"),
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.send("alice@sender.test", p.stdout), {})
        ar = self.auth_results(self.delivered("dkimpy signed"))
        self.assertIn("dkim=pass header.d=sender.test", ar)
        self.assertIn("dmarc=pass", ar)

    @unittest.skipUnless(has_dkimpy(), "python3-dkim / python3-nacl not installed")
    def test_ringmail_signatures_verify_in_dkimpy(self):
        cases = [("sender.test", self.ed_selector, "".join(self.ed_record)),
                 ("rsa.test", self.rsa_selector, "".join(self.rsa_record))]
        for domain, selector, record in cases:
            signed = self.sign(domain, message(f"x@{domain}", "for dkimpy", "Body with  spaces \r\n\r\n\r\n"))
            tool = [DEBIAN_PYTHON, os.path.join(HERE, "dkimpy_tool.py"), "verify",
                    f"{selector}._domainkey.{domain}={record}"]
            p = subprocess.run(tool, input=signed, capture_output=True, timeout=60)
            self.assertEqual(p.returncode, 0, (domain, p.stdout, p.stderr))
            tampered = signed.replace(b"Body with", b"Body wit")
            p = subprocess.run(tool, input=tampered, capture_output=True, timeout=60)
            self.assertEqual(p.returncode, 1, (domain, p.stdout, p.stderr))

    def test_forged_mail_gets_dmarc_reject(self):
        # Signed by sender.test, then altered, and sent with another domain's
        # envelope sender that does not authorise this client.
        data = self.sign("sender.test", message("CEO <ceo@sender.test>", "forged"))
        data = data.replace(b"this is a test", b"wire me money")
        with self.assertRaises(smtplib.SMTPDataError) as refused:
            self.send("ceo@victim.test", data)
        self.assertEqual(refused.exception.smtp_code, 550)
        self.assertIn(b"5.7.1", refused.exception.smtp_error)
        self.assertIn(b"DMARC", refused.exception.smtp_error)
        out = self.daemon.output()
        self.assertRegex(out, r"msgauth .*spf=fail dkim=fail dmarc=fail from_domain=sender.test action=reject")

    def test_quarantine_policy_files_into_junk(self):
        self.assertEqual(self.send("news@quar.test", message("News <news@quar.test>", "quarantined")), {})
        ar = self.auth_results(self.delivered("quarantined", mailbox="Junk"))
        self.assertIn("spf=fail", ar)
        self.assertIn("dkim=none", ar)
        self.assertIn("dmarc=fail (p=quarantine dis=quarantine) header.from=quar.test", ar)

    def test_domain_records_and_check(self):
        out = self.generate_output
        for want in ("IN MX 10 ", "._domainkey.sender.test. 3600 IN TXT \"v=DKIM1; k=ed25519; p=",
                     "sender.test. 3600 IN TXT \"v=spf1 mx -all\"", "_dmarc.sender.test. 3600 IN TXT \"v=DMARC1;",
                     "_submissions._tcp.sender.test. 3600 IN SRV 0 1 465 ", "_submission._tcp.sender.test.",
                     "_imaps._tcp.sender.test.", "_imap._tcp.sender.test.", "_pop3s._tcp.sender.test."):
            self.assertIn(want, out)
        p = cli(self.sender_dir, "domain", "check", "sender.test", config=self.sender_config)
        text = p.stdout.decode()
        self.assertEqual(p.returncode, 0, text + p.stderr.decode())
        for line in ("MX sender.test", "SPF sender.test", f"DKIM {self.ed_selector}._domainkey.sender.test",
                     "DMARC _dmarc.sender.test", "SRV _submissions._tcp.sender.test", "SRV _pop3s._tcp.sender.test"):
            self.assertRegex(text, r"(?m)^ok\s+" + re.escape(line), text)
        # A domain with none of the records: each required one is reported.
        p = cli(self.sender_dir, "domain", "check", "bare.test", config=self.sender_config)
        text = p.stdout.decode()
        self.assertEqual(p.returncode, 1, text)
        for line in ("MX bare.test", "SPF bare.test", "DKIM key", "DMARC _dmarc.bare.test"):
            self.assertRegex(text, r"(?m)^missing\s+" + re.escape(line), text)
        # A key that is not the published one: the active selector has no record.
        other = os.path.join(self.dir, "other")
        os.makedirs(other)
        newer = cli(other, "domain", "dkim", "generate", "sender.test", "--selector", "fresh")
        self.assertEqual(newer.returncode, 0, newer.stderr)
        p = cli(other, "domain", "check", "sender.test", config=self.sender_config)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertRegex(p.stdout.decode(), r"(?m)^missing\s+DKIM fresh\._domainkey\.sender\.test")

if __name__ == "__main__":
    unittest.main()
