"""A graceful stop (SIGTERM) says goodbye to idle IMAP sessions at once:
each gets "* BYE Server shutting down" and the daemon exits, long before
server.shutdown_grace_ms (60 s here) ends. A real client over a real
socket: one plain session that sent a NOOP, one over TLS that logged in and
selected INBOX.

Before, a session that had sent any command looked busy to the shutdown
(the command reader kept the last command's bytes for command(), and the
session took "bytes buffered" for "inside a command"): the stop waited out
the whole grace period and then cut the connection without a BYE."""
import os
import re
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from imap_daemon import PASSWORD, ImapDaemon, ImapSessions  # noqa: E402

ANN = "ann@example.test"
GRACE_MS = 60000


class ImapShutdown(ImapSessions, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = ImapDaemon()
        path = os.path.join(cls.d.dir, "ringmail.toml")
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(re.sub(r"shutdown_grace_ms = \d+", "shutdown_grace_ms = %d" % GRACE_MS, text, count=1))
        cls.d.start()
        cls.d.add_account(ANN)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.d.cleanup()

    def test_idle_sessions_get_bye_at_once_on_sigterm(self):
        plain = socket.create_connection(("127.0.0.1", self.d.ports["imap"]), timeout=30)
        self.addCleanup(plain.close)
        greeting = plain.recv(4096)
        self.assertTrue(greeting.startswith(b"* OK"), greeting)
        plain.sendall(b"a1 NOOP\r\n")
        reply = b""
        while not reply.endswith(b"a1 OK NOOP completed\r\n"):
            got = plain.recv(4096)
            self.assertTrue(got, reply)
            reply += got

        tls = self.imaps(ANN)
        typ, _ = tls.select("INBOX")
        self.assertEqual(typ, "OK")

        started = time.monotonic()
        self.d.daemon.proc.send_signal(signal.SIGTERM)
        # Both within the sockets' 30 s timeout, i.e. well inside the grace.
        bye = b""
        while b"\r\n" not in bye:
            got = plain.recv(4096)
            self.assertTrue(got, "closed without BYE: %r" % bye)
            bye += got
        self.assertEqual(bye, b"* BYE Server shutting down\r\n")
        line = tls.readline()
        self.assertEqual(line, b"* BYE Server shutting down\r\n")
        self.assertEqual(self.d.daemon.proc.wait(timeout=30), 0)
        self.assertLess(time.monotonic() - started, GRACE_MS / 1000)


if __name__ == "__main__":
    unittest.main()
