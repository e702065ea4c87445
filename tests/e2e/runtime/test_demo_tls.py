"""The runtime's demo TLS line server, driven by real TLS clients: Python's
ssl module (OpenSSL) and `openssl s_client`. Covers implicit TLS, STARTTLS,
the STARTTLS injection case, TLS version and cipher floors, line limits and
graceful shutdown."""
import os
import socket
import ssl
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Daemon, free_port  # noqa: E402


def client_context(**kw):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    for k, v in kw.items():
        setattr(ctx, k, v)
    return ctx


class LineClient:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError(self.buf)
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def send(self, text):
        self.sock.sendall(text.encode() if isinstance(text, str) else text)


class DemoTls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.plain, cls.tls = free_port(), free_port()
        cls.daemon = Daemon(["serve", "--cores", "2", "--listen-plain", f"127.0.0.1:{cls.plain}",
                             "--listen-tls", f"127.0.0.1:{cls.tls}", "--line-length-max", "200",
                             "--shutdown-grace-ms", "2000"], [cls.plain, cls.tls]).start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.daemon.stop()
        cls.daemon.log.close()
        assert rc == 0, f"daemon exit {rc}: {cls.daemon.output()}"

    def tls_client(self, ctx=None):
        raw = socket.create_connection(("127.0.0.1", self.tls), timeout=10)
        s = (ctx or client_context()).wrap_socket(raw, server_hostname="localhost")
        c = LineClient(s)
        self.assertEqual(c.line(), "* ringmail demo ready")
        return c

    def test_tls13_echo(self):
        c = self.tls_client()
        self.assertEqual(c.sock.version(), "TLSv1.3")
        c.send("hello there\r\nTLS?\r\n")
        self.assertEqual(c.line(), "ECHO hello there")
        self.assertTrue(c.line().startswith("TLS TLSv1.3 with cipher TLS_"))
        c.send("QUIT\r\n")
        self.assertEqual(c.line(), "BYE")

    def test_tls12_with_ecdhe(self):
        c = self.tls_client(client_context(maximum_version=ssl.TLSVersion.TLSv1_2))
        self.assertEqual(c.sock.version(), "TLSv1.2")
        self.assertIn("ECDHE", c.sock.cipher()[0])
        c.send("QUIT\r\n")
        self.assertEqual(c.line(), "BYE")

    def test_large_transfer_in_many_records(self):
        c = self.tls_client()
        lines = [("x" * 150) + str(i) for i in range(2000)]
        c.send("".join(l + "\r\n" for l in lines))
        for l in lines:
            self.assertEqual(c.line(), "ECHO " + l)

    def test_tls10_only_client_is_refused(self):
        out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{self.tls}", "-tls1",
                              "-cipher", "DEFAULT:@SECLEVEL=0"],
                             input=b"", capture_output=True, timeout=20)
        text = (out.stdout + out.stderr).decode(errors="replace")
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("alert protocol version", text)

    def test_non_ecdhe_cipher_is_refused(self):
        out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{self.tls}", "-tls1_2",
                              "-cipher", "AES128-GCM-SHA256"],
                             input=b"", capture_output=True, timeout=20)
        text = (out.stdout + out.stderr).decode(errors="replace")
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("handshake failure", text)

    def test_openssl_s_client_round_trip(self):
        out = subprocess.run(["openssl", "s_client", "-quiet", "-connect", f"127.0.0.1:{self.tls}"],
                             input=b"ping\r\nQUIT\r\n", capture_output=True, timeout=20)
        self.assertIn(b"ECHO ping\r\nBYE\r\n", out.stdout)

    def test_starttls(self):
        c = LineClient(socket.create_connection(("127.0.0.1", self.plain), timeout=10))
        self.assertEqual(c.line(), "* ringmail demo ready")
        c.send("TLS?\r\nSTARTTLS\r\n")
        self.assertEqual(c.line(), "TLS none")
        self.assertEqual(c.line(), "OK begin TLS")
        c.sock = client_context().wrap_socket(c.sock, server_hostname="localhost")
        c.send("TLS?\r\n")
        self.assertTrue(c.line().startswith("TLS TLSv1.3"))

    def test_starttls_injection_is_discarded(self):
        # The classic attack: plaintext pipelined after STARTTLS in the same
        # packet must never be executed inside the TLS session.
        c = LineClient(socket.create_connection(("127.0.0.1", self.plain), timeout=10))
        self.assertEqual(c.line(), "* ringmail demo ready")
        c.send("STARTTLS\r\nINJECTED\r\n")
        self.assertEqual(c.line(), "OK begin TLS")
        self.assertEqual(c.buf, b"")
        c.sock = client_context().wrap_socket(c.sock, server_hostname="localhost")
        c.send("after\r\n")
        self.assertEqual(c.line(), "ECHO after")  # not "ECHO INJECTED"

    def test_line_over_limit(self):
        c = self.tls_client()
        c.send("y" * 5000 + "\r\nok\r\n")
        self.assertEqual(c.line(), "ERR line too long")
        self.assertEqual(c.line(), "ECHO ok")

    def test_garbage_instead_of_handshake_does_not_hurt_the_server(self):
        s = socket.create_connection(("127.0.0.1", self.tls), timeout=10)
        s.sendall(b"\x16\x03\x01\x00\x05hello-not-tls" * 100)
        try:
            s.recv(100)
        except OSError:
            pass
        s.close()
        self.tls_client().send("QUIT\r\n")  # still serving


class Shutdown(unittest.TestCase):
    def test_sigterm_says_goodbye_to_idle_sessions_and_exits_zero(self):
        plain, tls = free_port(), free_port()
        d = Daemon(["serve", "--cores", "2", "--listen-plain", f"127.0.0.1:{plain}",
                    "--listen-tls", f"127.0.0.1:{tls}"], [plain, tls]).start()
        try:
            clients = []
            for _ in range(20):
                c = LineClient(socket.create_connection(("127.0.0.1", plain), timeout=10))
                self.assertEqual(c.line(), "* ringmail demo ready")
                clients.append(c)
            start = time.monotonic()
            rc = d.stop()
            self.assertEqual(rc, 0)
            self.assertLess(time.monotonic() - start, 5)
            for c in clients:
                self.assertEqual(c.line(), "BYE server shutting down")
        finally:
            d.log.close()


if __name__ == "__main__":
    unittest.main()
