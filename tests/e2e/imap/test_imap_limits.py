"""IMAP limits and hostile input against `ringmail serve`, over raw sockets
(plaintext, STARTTLS and implicit TLS): literals refused before they are
read (too big, over quota), unterminated literals, deep nesting, bad
sequence sets, commands before login, LOGIN over plaintext with require-TLS,
STARTTLS injection, over-long lines, the pre-login timeout, the BAD budget.
After each, the server keeps serving."""
import os
import re
import socket
import ssl
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from imap_daemon import PASSWORD, ImapDaemon, cli, tls_context  # noqa: E402

BOB = "bob@example.test"
TINY = "tiny@example.test"
LITERAL_MAX = 200000
LOGIN_TIMEOUT_MS = 1500


class Raw:
    """A line-oriented IMAP client over a socket, TLS optional."""

    def __init__(self, port, tls=False):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        if tls:
            self.sock = tls_context().wrap_socket(self.sock, server_hostname="localhost")
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                rest, self.buf = self.buf, b""
                return rest.decode(errors="replace") + "<eof>"
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode(errors="replace")

    def until_tagged(self, tag):
        """Every line up to and including the one tagged `tag`."""
        lines = []
        while True:
            l = self.line()
            lines.append(l)
            if l.startswith(tag + " ") or l.endswith("<eof>"):
                return lines

    def command(self, tag, text):
        self.send(f"{tag} {text}\r\n")
        return self.until_tagged(tag)

    def starttls(self):
        self.send("s STARTTLS\r\n")
        assert self.line().startswith("s OK"), "STARTTLS refused"
        self.sock = tls_context().wrap_socket(self.sock, server_hostname="localhost")
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class ImapLimits(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = ImapDaemon(imap_extra=f"literal_size_max_bytes = {LITERAL_MAX}\nnesting_depth_max = 10\nerrors_max = 5\n"
                                      "sequence_ranges_max = 100",
                           imap_listener_extra=f"idle_timeout_ms = {LOGIN_TIMEOUT_MS}").start()
        cls.d.add_account(BOB)
        cls.d.add_account(TINY)
        cli(cls.d.dir, "quota", "set", TINY, "6000")

    @classmethod
    def tearDownClass(cls):
        cls.d.finish()

    def client(self, tls=True, login=BOB):
        c = Raw(self.d.ports["imaps" if tls else "imap"], tls=tls)
        self.addCleanup(c.close)
        self.assertTrue(c.line().startswith("* OK"))
        if login:
            if not tls:
                c.starttls()
            lines = c.command("l", f'LOGIN {login} "{PASSWORD}"')
            self.assertTrue(lines[-1].startswith("l OK"), lines)
        return c

    def assert_still_serving(self, c):
        lines = c.command("z", "NOOP")
        self.assertTrue(lines[-1].startswith("z OK"), lines)

    def test_huge_literal_is_refused_at_its_marker(self):
        c = self.client()
        c.send("a APPEND INBOX {999999999}\r\n")
        line = c.line()
        self.assertRegex(line, r"^a NO \[TOOBIG\]", "refused before any byte: no '+' continuation")
        self.assert_still_serving(c)
        # The non-synchronising form: refused, and its bytes skipped.
        c.send("b APPEND INBOX {%d+}\r\n" % (LITERAL_MAX + 1) + "x" * (LITERAL_MAX + 1) + "\r\n")
        self.assertRegex(c.line(), r"^b NO \[TOOBIG\]")
        self.assert_still_serving(c)

    def test_append_over_quota_is_refused_before_the_literal(self):
        c = self.client(login=TINY)
        c.send("a APPEND INBOX {10000}\r\n")
        line = c.line()
        self.assertRegex(line, r"^a NO \[OVERQUOTA\]")
        self.assertIn("full", line)
        self.assert_still_serving(c)
        small = "Subject: small\r\n\r\nfits\r\n"
        c.send("b APPEND INBOX {%d}\r\n" % len(small))
        self.assertTrue(c.line().startswith("+"))
        c.send(small + "\r\n")
        self.assertRegex(c.until_tagged("b")[-1], r"^b OK \[APPENDUID \d+ \d+\]")
        lines = c.command("q", 'GETQUOTAROOT INBOX')
        self.assertTrue(any(re.search(r"\* QUOTA \"\" \(STORAGE \d+ 5\)", l) for l in lines), lines)

    def test_unterminated_literal_then_disconnect_leaves_the_server_serving(self):
        c = self.client()
        c.send("a APPEND INBOX {5000}\r\n")
        self.assertTrue(c.line().startswith("+"))
        c.send("y" * 100)
        c.close()
        c2 = self.client()
        self.assert_still_serving(c2)
        lines = c2.command("s", "STATUS INBOX (MESSAGES)")
        self.assertTrue(lines[-1].startswith("s OK"), lines)

    def test_deep_nesting_is_bad_not_fatal(self):
        c = self.client()
        self.assertTrue(c.command("s", "SELECT INBOX")[-1].startswith("s OK"))
        lines = c.command("n", "SEARCH " + "(" * 50 + "ALL" + ")" * 50)
        self.assertRegex(lines[-1], r"^n (BAD|NO)")
        lines = c.command("o", "SEARCH " + "NOT " * 50 + "ALL")
        self.assertRegex(lines[-1], r"^o (BAD|NO)")
        self.assert_still_serving(c)
        lines = c.command("p", "SEARCH " + "(" * 5 + "ALL" + ")" * 5)
        self.assertTrue(lines[-1].startswith("p OK"), lines)

    def test_bad_sequence_sets_are_bad_not_fatal(self):
        c = self.client()
        self.assertTrue(c.command("s", "SELECT INBOX")[-1].startswith("s OK"))
        # errors_max = 5: five BADs are tolerated, the sixth would end it.
        for i, bad in enumerate(["FETCH 0 FLAGS", "FETCH 1:x FLAGS", "FETCH 99999 FLAGS", "UID FETCH 1:4294967296 FLAGS",
                                 "STORE -1 +FLAGS (\\Seen)"]):
            lines = c.command(f"q{i}", bad)
            self.assertRegex(lines[-1], rf"^q{i} BAD", bad)
        self.assert_still_serving(c)

    def test_too_many_sequence_ranges_are_bad_not_fatal(self):
        c = self.client()
        self.assertTrue(c.command("s", "SELECT INBOX")[-1].startswith("s OK"))
        many = ",".join(str(i) for i in range(1, 202, 2))  # 101 ranges; sequence_ranges_max = 100
        self.assertRegex(c.command("r1", f"UID FETCH {many} FLAGS")[-1], r"^r1 BAD")
        fine = ",".join(str(i) for i in range(1, 200, 2))  # 100 ranges
        self.assertRegex(c.command("r2", f"UID FETCH {fine} FLAGS")[-1], r"^r2 OK")
        self.assert_still_serving(c)

    def test_too_many_bad_commands_end_the_session(self):
        c = self.client()
        c.send("".join(f"x{i} FROBNICATE\r\n" for i in range(10)))
        lines = c.until_tagged("never")
        self.assertTrue(any(l.startswith("* BYE") for l in lines), lines)

    def test_commands_before_login_are_refused(self):
        c = self.client(login=None)
        for i, cmd in enumerate(["SELECT INBOX", "FETCH 1 FLAGS", "LIST \"\" *", "APPEND INBOX {3}"]):
            lines = c.command(f"p{i}", cmd)
            self.assertRegex(lines[-1], rf"^p{i} (BAD|NO)", cmd)
            self.assertFalse(any(l.startswith("+") for l in lines), "no literal accepted before login")

    def test_plaintext_login_is_refused_when_tls_is_required(self):
        c = self.client(tls=False, login=None)
        caps = c.command("c", "CAPABILITY")
        self.assertTrue(any("LOGINDISABLED" in l and "STARTTLS" in l for l in caps), caps)
        lines = c.command("l", f'LOGIN {BOB} "{PASSWORD}"')
        self.assertRegex(lines[-1], r"^l NO \[PRIVACYREQUIRED\]")
        lines = c.command("a", "AUTHENTICATE PLAIN AGJvYkBleGFtcGxlLnRlc3QAeA==")
        self.assertRegex(lines[-1], r"^a NO \[PRIVACYREQUIRED\]")

    def test_starttls_injection_is_discarded(self):
        c = self.client(tls=False, login=None)
        # One packet: STARTTLS and a command pipelined behind it in plaintext.
        c.send(f'i STARTTLS\r\nj LOGIN {BOB} "{PASSWORD}"\r\nk SELECT INBOX\r\n')
        self.assertTrue(c.line().startswith("i OK"))
        c.sock = tls_context().wrap_socket(c.sock, server_hostname="localhost")
        c.buf = b""
        lines = c.command("m", "CAPABILITY")
        self.assertEqual(len(lines), 2, lines)  # only our CAPABILITY: j and k were never executed
        self.assertIn("AUTH=PLAIN", lines[0])
        lines = c.command("n", "SELECT INBOX")
        self.assertRegex(lines[-1], r"^n BAD", "still not logged in")

    def test_over_long_line_is_refused_and_the_session_goes_on(self):
        c = self.client()
        c.send("a NOOP " + "x" * 70000 + "\r\n")
        line = c.line()
        self.assertRegex(line, r"^(a|\*) (BAD|NO)")
        self.assert_still_serving(c)

    def test_idle_before_login_times_out_with_bye(self):
        c = self.client(login=None)
        line = c.line()
        self.assertTrue(line.startswith("* BYE"), line)
        self.assertTrue(c.line().endswith("<eof>"))

    def test_logged_in_session_outlives_the_login_timeout(self):
        c = self.client()
        time.sleep(LOGIN_TIMEOUT_MS / 1000 * 2)
        self.assert_still_serving(c)


if __name__ == "__main__":
    unittest.main()
