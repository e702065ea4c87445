"""POP3 in `ringmail serve`, end to end with real clients: Python's poplib
over implicit TLS (pop3s) and STLS (pop3), curl's pop3:// and pop3:// URLs,
and raw sockets for what clients never send. Mail arrives through the MX
listener with smtplib, so every message went through SMTP, the store and
back out. Every daemon runs on 127.0.0.1 with free ports and a temporary
data dir, and is stopped by its PID.

Each test uses its own account, so tests that delete messages do not
disturb each other."""
import base64
import os
import poplib
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import RINGMAIL, Daemon, free_port  # noqa: E402

PASSWORD = "correct horse battery staple"
ACCOUNTS = ["tls", "stls", "curl", "dele", "rset", "restart", "kill", "inuse", "bad", "big"]


def config_text(ports, require_tls=True):
    off = "".join(f"[listeners.{n}]\nenabled = false\n" for n in ("imap", "imaps", "http"))
    return f"""
[server]
cores = 2
shutdown_grace_ms = 2000
[auth]
require_tls = {"true" if require_tls else "false"}
[auth.argon2]
memory_kib = 1024
iterations = 1
[auth.throttle]
account_failures_before_block = 50
delay_base_ms = 10
delay_max_ms = 20
[pop3]
errors_max = 8
[listeners.smtp]
address = "127.0.0.1:{ports['mx']}"
[listeners.submission]
address = "127.0.0.1:{ports['submission']}"
[listeners.submissions]
address = "127.0.0.1:{ports['submissions']}"
[listeners.pop3]
address = "127.0.0.1:{ports['pop3']}"
[listeners.pop3s]
address = "127.0.0.1:{ports['pop3s']}"
{off}"""


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def cli(data_dir, *args, check=None):
    p = subprocess.run([RINGMAIL, *args, "--data-dir", data_dir], capture_output=True, text=True, timeout=120)
    if check is not None:
        assert p.returncode == check, f"{args}: rc={p.returncode}\nstdout={p.stdout}\nstderr={p.stderr}"
    return p


def address(name):
    return f"{name}@example.test"


def message(subject, body):
    return (f"From: sender@example.org\r\nTo: someone@example.test\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}@example.org>\r\n\r\n{body}").encode()


# A body with lines that must be dot-stuffed on the wire.
DOTTED = "first line\r\n.starts with a dot\r\n.\r\n..two dots\r\nlast line\r\n"


class Pop3(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="ringmail-pop3-")
        cls.ports = {k: free_port() for k in ("mx", "submission", "submissions", "pop3", "pop3s", "plain", "tls")}
        with open(os.path.join(cls.dir, "ringmail.toml"), "w") as f:
            f.write(config_text(cls.ports))
        cls.start_daemon()
        pwfile = os.path.join(cls.dir, "pw")
        with open(pwfile, "w") as f:
            f.write(PASSWORD + "\n")
        for name in ACCOUNTS + ["imaponly", "lax"]:
            cli(cls.dir, "account", "add", address(name), "--password-file", pwfile, check=0)
        cli(cls.dir, "account", "set", address("imaponly"), "--mailbox-access", "imap", check=0)
        cli(cls.dir, "account", "set", address("lax"), "--require-tls", "no", check=0)

    @classmethod
    def start_daemon(cls):
        cls.daemon = Daemon(["serve", "--listen-plain", f"127.0.0.1:{cls.ports['plain']}",
                             "--listen-tls", f"127.0.0.1:{cls.ports['tls']}"],
                            [cls.ports["mx"], cls.ports["pop3"], cls.ports["pop3s"]], data_dir=cls.dir).start()

    @classmethod
    def stop_daemon(cls):
        rc = cls.daemon.stop()
        cls.daemon.log.close()
        return rc

    @classmethod
    def tearDownClass(cls):
        rc = cls.stop_daemon()
        out = cls.daemon.output()
        shutil.rmtree(cls.dir, ignore_errors=True)
        assert rc == 0, f"daemon exit {rc}: {out}"

    # ---- helpers ----------------------------------------------------------

    @classmethod
    def wait_ports_released(cls, timeout=10.0):
        """After SIGKILL the kernel tears the io_uring down asynchronously,
        and its listening sockets live on for a moment: wait until each port
        can be bound again."""
        deadline = time.monotonic() + timeout
        for port in cls.ports.values():
            while True:
                with socket.socket() as probe:
                    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    try:
                        probe.bind(("127.0.0.1", port))
                        break
                    except OSError:
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.05)

    def deliver(self, name, *messages):
        with smtplib.SMTP("127.0.0.1", self.ports["mx"], timeout=20) as s:
            for m in messages:
                s.sendmail("sender@example.org", [address(name)], m)

    def pop3s(self, name=None):
        c = poplib.POP3_SSL("127.0.0.1", self.ports["pop3s"], context=tls_context(), timeout=20)
        if name:
            c.user(address(name))
            c.pass_(PASSWORD)
        return c

    def pop3_stls(self, name=None):
        c = poplib.POP3("127.0.0.1", self.ports["pop3"], timeout=20)
        c.stls(tls_context())
        if name:
            c.user(address(name))
            c.pass_(PASSWORD)
        return c

    def login_when_unlocked(self, name, timeout=10.0):
        """The server notices a dropped connection a moment after the
        client closed it; until then the maildrop is still locked."""
        deadline = time.monotonic() + timeout
        while True:
            c = self.pop3s()
            c.user(address(name))
            try:
                c.pass_(PASSWORD)
                return c
            except poplib.error_proto as e:
                c.quit()
                if b"[IN-USE]" not in e.args[0] or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def raw(self, tls=True):
        s = socket.create_connection(("127.0.0.1", self.ports["pop3s" if tls else "pop3"]), timeout=20)
        if tls:
            s = tls_context().wrap_socket(s)
        f = s.makefile("rb")
        greeting = f.readline()
        self.assertTrue(greeting.startswith(b"+OK"), greeting)
        return s, f

    def uidls(self, c):
        return [line.split()[1] for line in c.uidl()[1]]

    def retrieved(self, c, n):
        """RETR n as bytes with CRLF line ends (poplib has unstuffed it)."""
        return b"".join(line + b"\r\n" for line in c.retr(n)[1])

    # ---- clients ----------------------------------------------------------

    def test_poplib_tls_retrieves_what_smtp_delivered(self):
        sent = [message("tls one", "hello\r\n"), message("tls two", DOTTED), message("tls three", ("x" * 900 + "\r\n") * 6)]
        self.deliver("tls", *sent)
        c = self.pop3s("tls")
        count, octets = c.stat()
        self.assertEqual(count, 3)
        sizes = {int(n): int(s) for n, s in (line.split() for line in c.list()[1])}
        self.assertEqual(sum(sizes.values()), octets)
        for n in (1, 2, 3):
            got = self.retrieved(c, n)
            # The store prefixes the per-delivery trace headers; the client's bytes follow unchanged.
            self.assertTrue(got.endswith(sent[n - 1]), got)
            self.assertTrue(got.startswith(b"Delivered-To: tls@example.test\r\n"), got[:200])
            self.assertEqual(len(got), sizes[n], f"LIST size of {n} is the octets RETR sends")
        top = c.top(2, 1)[1]
        self.assertIn(b"Subject: tls two", top)
        self.assertEqual(top[-2:], [b"", b"first line"])
        uids = self.uidls(c)
        self.assertEqual(len(set(uids)), 3)
        self.assertTrue(all(0 < len(u) <= 70 for u in uids))
        self.assertTrue(c.quit().startswith(b"+OK"))

    def test_poplib_stls_and_capabilities(self):
        self.deliver("stls", message("stls one", "hi\r\n"))
        c = poplib.POP3("127.0.0.1", self.ports["pop3"], timeout=20)
        before = c.capa()
        self.assertIn("STLS", before)
        self.assertNotIn("USER", before, "no plaintext login is offered when TLS is required")
        self.assertIn("UIDL", before)
        self.assertIn("TOP", before)
        c.stls(tls_context())
        after = c.capa()
        self.assertNotIn("STLS", after)
        self.assertIn("USER", after)
        self.assertEqual(after.get("SASL"), ["PLAIN"])
        c.user(address("stls"))
        c.pass_(PASSWORD)
        self.assertEqual(c.stat()[0], 1)
        self.assertTrue(self.retrieved(c, 1).endswith(message("stls one", "hi\r\n")))
        c.quit()

    def test_auth_plain_with_initial_response(self):
        self.deliver("lax", message("lax one", "hi\r\n"))
        s, f = self.raw(tls=True)
        token = base64.b64encode(f"\0{address('lax')}\0{PASSWORD}".encode()).decode()
        s.sendall(f"AUTH PLAIN {token}\r\nSTAT\r\nQUIT\r\n".encode())
        self.assertTrue(f.readline().startswith(b"+OK Logged in"))
        self.assertTrue(f.readline().startswith(b"+OK 1 "))
        self.assertTrue(f.readline().startswith(b"+OK"))
        s.close()

    def test_curl_pop3s_and_pop3_with_stls(self):
        sent = message("curl one", DOTTED)
        self.deliver("curl", sent)
        user = f"{address('curl')}:{PASSWORD}"
        listing = subprocess.run(["curl", "-sS", "-k", "--max-time", "20", "-u", user,
                                  f"pop3s://127.0.0.1:{self.ports['pop3s']}/"],
                                 capture_output=True, timeout=30)
        self.assertEqual(listing.returncode, 0, listing.stderr)
        self.assertRegex(listing.stdout.decode(), r"^1 \d+\r?\n$")
        body = subprocess.run(["curl", "-sS", "-k", "--ssl-reqd", "--max-time", "20", "-u", user,
                               f"pop3://127.0.0.1:{self.ports['pop3']}/1"], capture_output=True, timeout=30)
        self.assertEqual(body.returncode, 0, body.stderr)
        self.assertTrue(body.stdout.endswith(sent), body.stdout)
        # Without --ssl-reqd curl logs in over plaintext: refused when TLS is required.
        plain = subprocess.run(["curl", "-sS", "--max-time", "20", "-u", user,
                                f"pop3://127.0.0.1:{self.ports['pop3']}/1"], capture_output=True, timeout=30)
        self.assertNotEqual(plain.returncode, 0)

    # ---- deletion and the UPDATE state -----------------------------------

    def test_dele_then_quit_removes_and_keeps_uidls_of_the_rest(self):
        self.deliver("dele", *[message(f"dele {i}", f"body {i}\r\n") for i in range(4)])
        c = self.pop3s("dele")
        uids = self.uidls(c)
        c.dele(2)
        c.dele(4)
        with self.assertRaisesRegex(poplib.error_proto, "already deleted"):
            c.retr(2)
        self.assertEqual(c.stat()[0], 2)
        c.quit()
        c = self.pop3s("dele")
        self.assertEqual(self.uidls(c), [uids[0], uids[2]])
        self.assertIn(b"Subject: dele 2", b"\n".join(c.retr(2)[1]))
        c.quit()

    def test_dele_then_rset_and_disconnect_without_quit_keep_everything(self):
        self.deliver("rset", *[message(f"rset {i}", "x\r\n") for i in range(3)])
        c = self.pop3s("rset")
        c.dele(1)
        c.dele(3)
        self.assertEqual(c.stat()[0], 1)
        self.assertTrue(c.rset().startswith(b"+OK"))
        self.assertEqual(c.stat()[0], 3)
        c.dele(2)
        c.close()  # no QUIT: no UPDATE state
        c = self.login_when_unlocked("rset")
        self.assertEqual(c.stat()[0], 3)
        c.quit()

    def test_uidl_stable_across_restart(self):
        self.deliver("restart", message("restart 1", "a\r\n"), message("restart 2", "b\r\n"))
        c = self.pop3s("restart")
        before = self.uidls(c)
        c.quit()
        self.assertEqual(self.stop_daemon(), 0)
        self.start_daemon()
        c = self.pop3s("restart")
        self.assertEqual(self.uidls(c), before)
        c.quit()

    def test_kill9_after_quit_keeps_the_deletions(self):
        """+OK to QUIT follows the group commit of the expunge: a SIGKILL
        right after it must not bring the messages back."""
        self.deliver("kill", *[message(f"kill {i}", "k\r\n") for i in range(3)])
        c = self.pop3s("kill")
        keep = self.uidls(c)[1]
        c.dele(1)
        c.dele(3)
        self.assertTrue(c.quit().startswith(b"+OK"))
        self.daemon.kill9()
        self.daemon.log.close()
        self.wait_ports_released()
        self.start_daemon()
        c = self.pop3s("kill")
        self.assertEqual(self.uidls(c), [keep])
        c.quit()

    def test_second_session_on_a_locked_maildrop_is_refused(self):
        self.deliver("inuse", message("inuse", "x\r\n"))
        first = self.pop3s("inuse")
        second = self.pop3s()
        second.user(address("inuse"))
        with self.assertRaisesRegex(poplib.error_proto, r"\[IN-USE\]"):
            second.pass_(PASSWORD)
        first.quit()
        second.user(address("inuse"))  # a failed PASS starts the exchange over
        second.pass_(PASSWORD)  # the lock went with the first session
        self.assertEqual(second.stat()[0], 1)
        second.quit()

    # ---- refusals ---------------------------------------------------------

    def test_commands_before_authentication(self):
        s, f = self.raw(tls=True)
        for cmd in ("STAT", "LIST", "RETR 1", "DELE 1", "UIDL", "TOP 1 1", "NOOP"):
            s.sendall(cmd.encode() + b"\r\n")
            self.assertTrue(f.readline().startswith(b"-ERR Log in first"), cmd)
        s.close()

    def test_wrong_password_and_imap_only_account(self):
        c = self.pop3s()
        c.user(address("bad"))
        with self.assertRaisesRegex(poplib.error_proto, r"-ERR \[AUTH\]"):
            c.pass_("not the password at all")
        c.user(address("imaponly"))
        with self.assertRaisesRegex(poplib.error_proto, r"\[SYS/PERM\] This account uses IMAP, not POP3"):
            c.pass_(PASSWORD)
        c.quit()

    def test_plaintext_login_refused_when_tls_is_required(self):
        c = poplib.POP3("127.0.0.1", self.ports["pop3"], timeout=20)
        with self.assertRaisesRegex(poplib.error_proto, "Plaintext login is disabled"):
            c.user(address("bad"))
        s, f = self.raw(tls=False)
        s.sendall(b"AUTH PLAIN AGJhZEBleGFtcGxlLnRlc3QAeA==\r\n")
        self.assertTrue(f.readline().startswith(b"-ERR Plaintext login is disabled"))
        s.close()
        c.quit()

    def test_stls_injection_is_discarded(self):
        """Commands pipelined after STLS in the same packet must never run
        inside TLS (CVE-2011-0411 class)."""
        s = socket.create_connection(("127.0.0.1", self.ports["pop3"]), timeout=20)
        f = s.makefile("rb")
        self.assertTrue(f.readline().startswith(b"+OK"))
        s.sendall(b"STLS\r\nCAPA\r\nUSER injected@example.test\r\n")
        self.assertTrue(f.readline().startswith(b"+OK Begin TLS"))
        t = tls_context().wrap_socket(s)
        tf = t.makefile("rb")
        t.sendall(b"QUIT\r\n")
        self.assertTrue(tf.readline().startswith(b"+OK"), "the first reply inside TLS answers QUIT")
        t.close()

    def test_bad_arguments_and_out_of_range(self):
        self.deliver("bad", message("bad", "x\r\n"))
        s, f = self.raw(tls=True)
        s.sendall(f"USER {address('bad')}\r\nPASS {PASSWORD}\r\n".encode())
        f.readline()
        self.assertTrue(f.readline().startswith(b"+OK Logged in"))
        for cmd, want in (("RETR 2", b"-ERR No such message"), ("RETR 0", b"-ERR Bad command: bad message number"),
                          ("LIST 99999", b"-ERR No such message"), ("RETR x", b"-ERR Bad command"),
                          ("TOP 1", b"-ERR Bad command"), ("DELE", b"-ERR Bad command")):
            s.sendall(cmd.encode() + b"\r\n")
            self.assertTrue(f.readline().startswith(want), cmd)
        s.sendall(b"NOOP " + b"x" * 2000 + b"\r\nSTAT\r\n")
        self.assertTrue(f.readline().startswith(b"-ERR Line too long"))
        self.assertTrue(f.readline().startswith(b"+OK 1 "), "the session goes on after a bad line")
        # errors_max = 8 in this config: the next bad commands close the session.
        s.sendall(b"XYZZY\r\n" * 6)
        rest = f.read()  # until the server closes
        self.assertIn(b"Too many invalid commands", rest)
        self.assertLess(rest.count(b"-ERR"), 6, "the session was closed before every command was answered")
        s.close()

    def test_large_message_retr(self):
        body = "".join(f"line {i:06d} " + "y" * 60 + "\r\n" for i in range(8000))  # ~600 KB
        sent = message("big", "." + body)
        self.deliver("big", sent)
        c = self.pop3s("big")
        got = self.retrieved(c, 1)
        self.assertTrue(got.endswith(sent))
        c.quit()


if __name__ == "__main__":
    unittest.main()
