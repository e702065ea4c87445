"""A `ringmail serve` with SMTP and IMAP on free loopback ports, its own data
dir, cheap Argon2 (tests log in often), stopped by PID (harness.Daemon)."""
import imaplib
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import RINGMAIL, Daemon, free_port  # noqa: E402

DEMO = "demo@example.test"
PASSWORD = "correct horse battery staple"


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class ImapSessions:
    """imaplib sessions against `self.d` (an ImapDaemon) for a TestCase,
    logged out when the test ends, even if the daemon was restarted under
    them. `user` is whom a session logs in as unless told otherwise."""
    user = DEMO

    def imaps(self, user=None, password=PASSWORD):
        c = imaplib.IMAP4_SSL("127.0.0.1", self.d.ports["imaps"], ssl_context=tls_context(), timeout=60)
        c.login(user or self.user, password)
        self.addCleanup(self.logout, c)
        return c

    def starttls(self, user=None, password=PASSWORD):
        c = imaplib.IMAP4("127.0.0.1", self.d.ports["imap"], timeout=60)
        c.starttls(ssl_context=tls_context())
        c.login(user or self.user, password)
        self.addCleanup(self.logout, c)
        return c

    @staticmethod
    def logout(c):
        try:
            c.logout()
        except (imaplib.IMAP4.error, OSError):
            pass  # already logged out, or the daemon went away under it


def cli(data_dir, *args, check=0):
    p = subprocess.run([RINGMAIL, *args, "--data-dir", data_dir], capture_output=True, text=True, timeout=120)
    if check is not None:
        assert p.returncode == check, f"{args}: rc={p.returncode}\nstdout={p.stdout}\nstderr={p.stderr}"
    return p


class ImapDaemon:
    """Ports: mx, submission, submissions, imap (STARTTLS), imaps (TLS), plus
    the demo line server's two."""

    def __init__(self, extra="", imap_extra="", imap_listener_extra=""):
        self.dir = tempfile.mkdtemp(prefix="ringmail-imap-")
        self.ports = {k: free_port() for k in ("mx", "submission", "submissions", "imap", "imaps", "plain", "tls")}
        off = "".join(f"[listeners.{n}]\nenabled = false\n" for n in ("pop3", "pop3s", "http"))
        p = self.ports
        with open(os.path.join(self.dir, "ringmail.toml"), "w") as f:
            f.write(f"""
[server]
cores = 2
shutdown_grace_ms = 2000
[auth.argon2]
memory_kib = 1024
iterations = 1
[auth.throttle]
account_failures_before_block = 50
ip_failures_before_block = 200
delay_base_ms = 0
[listeners.smtp]
address = "127.0.0.1:{p['mx']}"
[listeners.submission]
address = "127.0.0.1:{p['submission']}"
[listeners.submissions]
address = "127.0.0.1:{p['submissions']}"
[listeners.imap]
address = "127.0.0.1:{p['imap']}"
{imap_listener_extra}
[listeners.imaps]
address = "127.0.0.1:{p['imaps']}"
{imap_listener_extra}
[imap]
{imap_extra}
{off}{extra}""")
        self.daemon = None

    def start(self):
        p = self.ports
        self.daemon = Daemon(["serve", "--listen-plain", f"127.0.0.1:{p['plain']}",
                              "--listen-tls", f"127.0.0.1:{p['tls']}"],
                             [p["mx"], p["imap"], p["imaps"]], data_dir=self.dir).start()
        deadline = time.monotonic() + 20
        while not os.path.exists(os.path.join(self.dir, "demo-password")):
            assert time.monotonic() < deadline, self.daemon.output()
            time.sleep(0.05)
        with open(os.path.join(self.dir, "demo-password")) as f:
            self.demo_password = f.read().strip()
        return self

    def add_account(self, address, *settings):
        pwfile = os.path.join(self.dir, "pw")
        with open(pwfile, "w") as f:
            f.write(PASSWORD + "\n")
        cli(self.dir, "account", "add", address, "--password-file", pwfile)
        if settings:
            cli(self.dir, "account", "set", address, *settings)

    def stop(self):
        rc = self.daemon.stop()
        self.daemon.log.close()
        return rc

    def output(self):
        return self.daemon.output()

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def finish(self):
        """The end of a test class: stops the daemon, removes its data dir,
        and fails when it did not exit cleanly (with the end of its log)."""
        rc = self.stop()
        out = self.output()
        self.cleanup()
        assert rc == 0, f"daemon exit {rc}: {out[-3000:]}"
