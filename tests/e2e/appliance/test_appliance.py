"""The `ringmail` binary end to end: first start on an empty data dir, the
admin commands with the daemon running (admin socket) and stopped (data dir
directly), password policy, check-config, SIGHUP reload, brute-force
blocking and per-account login policy through the daemon's authenticator
(`ringmail auth test`; the protocol servers will get their own tests)."""
import json
import re
import os
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import RINGMAIL, Daemon, free_port  # noqa: E402

SOURCE = os.environ.get("RINGMAIL_SOURCE", os.path.join(os.path.dirname(__file__), "..", "..", ".."))
GOOD = "correct horse battery staple"
# Cheap Argon2id so a test can hash many passwords; the throttle tight
# enough to trip in a test.
FAST_CONFIG = """
[server]
cores = 2
[auth.argon2]
memory_kib = 1024
iterations = 1
[auth.throttle]
account_failures_before_block = 3
ip_failures_before_block = 50
delay_base_ms = 10
delay_max_ms = 40
block_ms = 600000
"""


def cli(data_dir, *args, stdin=None, check=None):
    p = subprocess.run([RINGMAIL, *args, "--data-dir", data_dir], input=stdin, capture_output=True, text=True,
                       timeout=60)
    if check is not None:
        assert p.returncode == check, f"{args}: rc={p.returncode}\nstdout={p.stdout}\nstderr={p.stderr}"
    return p


def cli_json(data_dir, *args, stdin=None):
    p = cli(data_dir, "--json", *args, stdin=stdin)
    return p.returncode, json.loads(p.stdout)


class Base(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ringmail-app-")
        self.daemon = None

    def tearDown(self):
        if self.daemon:
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, config=None):
        if config is not None:
            with open(os.path.join(self.dir, "ringmail.toml"), "w") as f:
                f.write(config)
        self.plain, self.tls = free_port(), free_port()
        self.daemon = Daemon(["serve", "--listen-plain", f"127.0.0.1:{self.plain}",
                              "--listen-tls", f"127.0.0.1:{self.tls}", "--shutdown-grace-ms", "1000"],
                             [self.plain, self.tls], data_dir=self.dir).start()
        deadline = time.monotonic() + 10
        while cli(self.dir, "status").returncode != 0:
            self.assertLess(time.monotonic(), deadline, self.daemon.output())
            time.sleep(0.05)
        return self.daemon

    def stop(self):
        rc = self.daemon.stop()
        self.daemon.log.close()
        out = self.daemon.output()
        self.daemon = None
        self.assertEqual(rc, 0, out)
        return out


class FirstStart(Base):
    def test_demo_account_works_and_password_is_kept_private(self):
        self.start()
        out = self.daemon.output()
        pw_path = os.path.join(self.dir, "demo-password")
        self.assertEqual(stat.S_IMODE(os.stat(pw_path).st_mode), 0o600)
        password = open(pw_path).read().strip()
        self.assertIn(f"created demo account demo@example.test with password {password}", out)
        self.assertTrue(os.path.exists(os.path.join(self.dir, "tls", "cert.pem")))
        ok = cli(self.dir, "auth", "test", "demo@example.test", stdin=password + "\n")
        self.assertEqual(ok.returncode, 0, ok.stdout + ok.stderr)
        self.assertIn("ok:", ok.stdout)
        bad = cli(self.dir, "auth", "test", "demo@example.test", stdin="not the password at all\n")
        self.assertEqual(bad.returncode, 1)
        self.assertIn("bad_credentials", bad.stdout)
        rc, status = cli_json(self.dir, "status")
        self.assertEqual(rc, 0)
        self.assertEqual(status["accounts"], 1)
        if os.geteuid() == 0:
            # Started as root: it bound, then dropped to server.user (nobody).
            self.assertEqual(status["uid"], 65534)
        self.assertIn("event=auth_ok", self.daemon.output())
        self.assertIn("event=auth_failed", self.daemon.output())
        log = self.stop()
        # The password is printed once, on first start only.
        self.start()
        self.assertEqual(self.daemon.output().count("with password"), 1)

    def test_refuses_to_stay_root_without_a_user(self):
        if os.geteuid() != 0:
            self.skipTest("needs root")
        with open(os.path.join(self.dir, "ringmail.toml"), "w") as f:
            f.write('[server]\nuser = "root"\n')
        p = subprocess.run([RINGMAIL, "serve", "--data-dir", self.dir], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1)
        self.assertIn("refusing to run as root", p.stderr)

    def test_a_second_daemon_on_the_same_data_dir_is_refused(self):
        self.start(FAST_CONFIG)
        p = subprocess.run([RINGMAIL, "serve", "--data-dir", self.dir, "--listen-plain", f"127.0.0.1:{free_port()}",
                            "--listen-tls", f"127.0.0.1:{free_port()}"], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1)
        self.assertIn("ringmail.lock", p.stderr)


def imap_only(port, listen_wait_ms):
    """A config with one listener, IMAP on `port`."""
    off = "".join(f"[listeners.{n}]\nenabled = false\n"
                  for n in ("smtp", "submission", "submissions", "imaps", "pop3", "pop3s", "http"))
    return f'[server]\nlisten_wait_ms = {listen_wait_ms}\n{off}[listeners.imap]\naddress = "127.0.0.1:{port}"\n'


class AddressInUse(Base):
    """Listeners bind with SO_REUSEPORT; a daemon must still not join an
    address another process listens on, nor bind one of its own twice."""

    def start_and_find_imap_port(self):
        """Starts this test's daemon; the IMAP port the harness gave it."""
        self.start(FAST_CONFIG)
        with open(os.path.join(self.dir, "ringmail.toml")) as f:
            return int(re.search(r'\[listeners\.imap\]\naddress = "127\.0\.0\.1:(\d+)"', f.read()).group(1))

    def serve_refused(self, config, *args):
        other = tempfile.mkdtemp(prefix="ringmail-app-")
        try:
            with open(os.path.join(other, "ringmail.toml"), "w") as f:
                f.write(config)
            p = subprocess.run([RINGMAIL, "serve", "--data-dir", other, *args], capture_output=True, text=True,
                               timeout=30)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            return p.stderr
        finally:
            shutil.rmtree(other, ignore_errors=True)

    def test_a_second_daemon_on_a_taken_port_is_refused_and_the_first_keeps_serving(self):
        imap_port = self.start_and_find_imap_port()
        err = self.serve_refused(imap_only(imap_port, listen_wait_ms=300),
                                 "--listen-plain", f"127.0.0.1:{free_port()}", "--listen-tls", f"127.0.0.1:{free_port()}")
        self.assertIn(f"listeners.imap: cannot listen on 127.0.0.1:{imap_port}: Address already in use", err)
        # The first daemon still has the port to itself: every connection is its.
        for _ in range(8):
            with socket.create_connection(("127.0.0.1", imap_port), timeout=10) as c:
                self.assertTrue(c.recv(200).startswith(b"* OK"))
        self.assertEqual(self.stop().count("event=ready"), 1)

    def test_an_address_freed_within_listen_wait_ms_is_taken(self):
        # As after a kill -9: the old daemon's port frees up a moment later.
        imap_port = self.start_and_find_imap_port()
        other = tempfile.mkdtemp(prefix="ringmail-app-")
        with open(os.path.join(other, "ringmail.toml"), "w") as f:
            f.write(imap_only(imap_port, listen_wait_ms=30000))
        second = Daemon(["serve", "--listen-plain", f"127.0.0.1:{free_port()}", "--listen-tls",
                         f"127.0.0.1:{free_port()}"], [], data_dir=other).start()
        try:
            time.sleep(0.5)
            self.assertIsNone(second.proc.poll(), "the second daemon waits for the port")
            self.stop()
            deadline = time.monotonic() + 20
            while cli(other, "status").returncode != 0:
                self.assertLess(time.monotonic(), deadline, second.output())
                time.sleep(0.05)
            with socket.create_connection(("127.0.0.1", imap_port), timeout=10) as c:
                self.assertTrue(c.recv(200).startswith(b"* OK"))
        finally:
            self.assertEqual(second.stop(), 0, second.output())
            second.log.close()
            shutil.rmtree(other, ignore_errors=True)

    def test_a_demo_address_equal_to_a_listener_is_refused(self):
        port = free_port()
        off = "".join(f"[listeners.{n}]\nenabled = false\n"
                      for n in ("submission", "submissions", "imap", "imaps", "pop3", "pop3s", "http"))
        err = self.serve_refused(f'{off}[listeners.smtp]\naddress = "127.0.0.1:{port}"\n',
                                 "--listen-plain", f"127.0.0.1:{port}", "--listen-tls", f"127.0.0.1:{free_port()}")
        self.assertIn(f"--listen-plain (demo line server): 127.0.0.1:{port} is also listeners.smtp", err)


class Systemd(Base):
    def test_sd_notify_ready_and_reloading(self):
        """Type=notify: READY=1 once serving (after the privilege drop),
        RELOADING=1 then READY=1 around a SIGHUP, STOPPING=1 on SIGTERM."""
        sock_path = os.path.join(self.dir, "notify.sock")
        os.chmod(self.dir, 0o777)  # the daemon may be nobody by the time it notifies
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
            notify.bind(sock_path)
            os.chmod(sock_path, 0o777)
            notify.settimeout(10)
            os.environ["NOTIFY_SOCKET"] = sock_path
            try:
                self.start(FAST_CONFIG)
            finally:
                del os.environ["NOTIFY_SOCKET"]
            self.assertIn(b"READY=1", notify.recv(4096))
            self.daemon.proc.send_signal(signal.SIGHUP)
            self.assertEqual(notify.recv(4096), b"RELOADING=1")
            self.assertEqual(notify.recv(4096), b"READY=1")
            self.stop()
            self.assertEqual(notify.recv(4096), b"STOPPING=1")


class Commands(Base):
    """The same scenario with the daemon running and stopped: the results
    must be the same, and each mode must see what the other wrote."""

    def scenario(self, suffix):
        d = self.dir
        dom, alias_dom = f"corp{suffix}.test", f"corp{suffix}-alias.test"
        cli(d, "domain", "add", dom, check=0)
        cli(d, "domain", "alias", "add", alias_dom, dom, check=0)
        cli(d, "account", "add", f"ann@{dom}", stdin=GOOD + "\n", check=0)
        pwfile = os.path.join(d, "pw")
        with open(pwfile, "w") as f:
            f.write("Meadow-Lantern-Quartz-Fjord\n")
        cli(d, "account", "add", f"ben@{dom}", "--password-file", pwfile, check=0)
        cli(d, "alias", "add", f"sales@{dom}", f"ann@{dom}", f"ben@{dom}", check=0)
        cli(d, "alias", "add", f"@{dom}", f"ann@{dom}", check=0)
        cli(d, "quota", "set", f"ann@{dom}", "2G", check=0)
        cli(d, "account", "set", f"ben@{dom}", "--mailbox-access", "pop3", "--send-messages-per-hour", "20", check=0)

        rc, r = cli_json(d, "resolve", f"sales@{alias_dom}")
        self.assertEqual((rc, r["status"], r["accounts"]), (0, "local", [f"ann@{dom}", f"ben@{dom}"]))
        rc, r = cli_json(d, "resolve", f"whoever@{dom}")
        self.assertEqual(r["accounts"], [f"ann@{dom}"])
        rc, r = cli_json(d, "resolve", "x@not-ours.test")
        self.assertEqual((rc, r["status"]), (1, "not_local_domain"))
        rc, accounts = cli_json(d, "account", "list", "--domain", dom)
        by = {a["address"]: a for a in accounts["accounts"]}
        self.assertEqual(by[f"ann@{dom}"]["quota_bytes"], 2 << 30)
        self.assertEqual(by[f"ben@{dom}"]["protocols"], "pop3,submission")
        self.assertEqual(by[f"ben@{dom}"]["send_messages_per_hour"], 20)
        rc, domains = cli_json(d, "domain", "list")
        self.assertIn(dom, domains["domains"])
        self.assertEqual(domains["alias_domains"][alias_dom], dom)
        rc, aliases = cli_json(d, "alias", "list")
        self.assertEqual(aliases["aliases"][f"@{dom}"], [f"ann@{dom}"])

        # Errors are refused with a reason and change nothing.
        p = cli(d, "account", "add", f"ann@{dom}", stdin=GOOD + "\n")
        self.assertEqual(p.returncode, 1)
        self.assertIn("exists already", p.stderr)
        p = cli(d, "domain", "remove", dom)
        self.assertEqual(p.returncode, 1)
        self.assertIn("in use", p.stderr)
        p = cli(d, "alias", "add", f"fwd@{dom}", "someone@gmail.example")
        self.assertEqual(p.returncode, 1)

        # Password change; the old one stops working.
        cli(d, "account", "passwd", f"ann@{dom}", stdin="Velvet-Harbor-Cinder-Mosaic\n", check=0)
        cli(d, "auth", "test", f"ann@{dom}", stdin="Velvet-Harbor-Cinder-Mosaic\n", check=0)
        cli(d, "auth", "test", f"ann@{dom}", "--remote-ip", "192.0.2.200", stdin=GOOD + "\n", check=1)

        # Removal.
        cli(d, "alias", "remove", f"sales@{dom}", f"ben@{dom}", check=0)
        rc, r = cli_json(d, "resolve", f"sales@{dom}")
        self.assertEqual(r["accounts"], [f"ann@{dom}"])
        cli(d, "account", "remove", f"ben@{dom}", check=0)
        cli(d, "domain", "alias", "remove", alias_dom, check=0)
        rc, r = cli_json(d, "resolve", f"ann@{alias_dom}")
        self.assertEqual(r["status"], "not_local_domain")

    def test_with_daemon_running_then_stopped_then_running(self):
        self.start(FAST_CONFIG)
        self.scenario("1")
        self.assertIn("event=admin command=account.add", self.daemon.output())
        self.stop()
        self.assertEqual(cli(self.dir, "status").returncode, 3)
        self.scenario("2")
        # Offline writes are what the next daemon starts with, and the
        # data written through the daemon survived its stop.
        self.start()
        rc, accounts = cli_json(self.dir, "account", "list")
        names = {a["address"] for a in accounts["accounts"]}
        self.assertTrue({"ann@corp1.test", "ann@corp2.test", "demo@example.test"} <= names, names)
        cli(self.dir, "auth", "test", "ann@corp2.test", stdin="Velvet-Harbor-Cinder-Mosaic\n", check=0)

    def test_data_dir_and_json_anywhere_on_the_command_line(self):
        p = subprocess.run([RINGMAIL, "--data-dir", self.dir, "domain", "add", "a.test"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = subprocess.run([RINGMAIL, "domain", "list", "--json", "--data-dir", self.dir], capture_output=True, text=True)
        self.assertEqual(json.loads(p.stdout)["domains"], ["a.test"])

    def test_password_policy_rejections(self):
        self.start(FAST_CONFIG)
        cli(self.dir, "domain", "add", "p.test", check=0)
        for password, reason in [("short", "too short"), ("aaaaaaaaaaaaaaaa", "repetitive"),
                                 ("Password2024!", "common password"), ("123456789012", "easy to guess")]:
            p = cli(self.dir, "account", "add", "u@p.test", stdin=password + "\n")
            self.assertEqual(p.returncode, 1, password)
            self.assertIn(reason, p.stderr, password)
        p = cli(self.dir, "account", "add", "u@p.test", stdin="\n")
        self.assertEqual(p.returncode, 2)
        self.assertIn("no password given", p.stderr)
        rc, accounts = cli_json(self.dir, "account", "list", "--domain", "p.test")
        self.assertEqual(accounts["accounts"], [])
        self.stop()
        p = cli(self.dir, "account", "add", "u@p.test", stdin="short\n")
        self.assertEqual(p.returncode, 1)
        self.assertIn("too short", p.stderr)


class CheckConfig(Base):
    def test_bad_file_every_error_with_file_line_key(self):
        path = os.path.join(self.dir, "bad.toml")
        with open(path, "w") as f:
            f.write('[server]\nhostname = "mail.example.com"\ncores = "two"\n\n[listeners.imap]\n'
                    'address = "127.0.0.1:99999"\n[auth]\nrequire_tsl = false\n')
        p = cli(self.dir, "check-config", path)
        self.assertEqual(p.returncode, 1)
        self.assertIn(f"{path}:3:", p.stderr)
        self.assertIn("server.cores: expected an integer, found a string", p.stderr)
        self.assertIn(f"{path}:6:", p.stderr)
        self.assertIn("listeners.imap.address: not an address", p.stderr)
        self.assertIn(f"{path}:8:", p.stderr)
        self.assertIn("auth.require_tsl: unknown key", p.stderr)
        self.assertIn("3 error(s)", p.stderr)
        # serve refuses the same file.
        shutil.copy(path, os.path.join(self.dir, "ringmail.toml"))
        p = subprocess.run([RINGMAIL, "serve", "--data-dir", self.dir], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1)
        self.assertIn("not started", p.stderr)

    def test_good_files(self):
        self.assertEqual(cli(self.dir, "check-config").returncode, 0)
        example = os.path.join(SOURCE, "appliance", "ringmail.example.toml")
        p = cli(self.dir, "check-config", example)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = cli(self.dir, "check-config", "--print-default")
        path = os.path.join(self.dir, "default.toml")
        with open(path, "w") as f:
            f.write(p.stdout)
        self.assertEqual(cli(self.dir, "check-config", path).returncode, 0)


class Reload(Base):
    def make_cert(self, name):
        cert, key = os.path.join(self.dir, f"{name}.crt"), os.path.join(self.dir, f"{name}.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", key, "-out", cert, "-subj", f"/CN={name}", "-days", "2"],
                       check=True, capture_output=True)
        os.chmod(key, 0o644)  # readable by the unprivileged daemon in a root test run
        os.chmod(self.dir, 0o755)
        return cert, key

    def wait_reloads(self, n):
        deadline = time.monotonic() + 10
        while True:
            rc, s = cli_json(self.dir, "status")
            if s.get("reloads") == n:
                return s
            self.assertLess(time.monotonic(), deadline, self.daemon.output())
            time.sleep(0.05)

    def test_sighup_reloads_certificate_and_policy_and_keeps_connections(self):
        self.start(FAST_CONFIG)
        rc, before = cli_json(self.dir, "status")
        self.assertEqual(before["password_length_min"], 12)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn = ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.tls), timeout=10))
        conn.recv(100)

        cert, key = self.make_cert("mail.reload.test")
        with open(os.path.join(self.dir, "ringmail.toml"), "w") as f:
            f.write(FAST_CONFIG + f'[tls]\ncertificate = "{cert}"\nkey = "{key}"\n[auth.password]\nlength_min = 16\n')
        self.daemon.proc.send_signal(signal.SIGHUP)
        after = self.wait_reloads(1)
        self.assertNotEqual(after["certificate_sha256"], before["certificate_sha256"])
        self.assertEqual(after["password_length_min"], 16)
        self.assertIn("event=config_reload result=ok", self.daemon.output())
        # The new policy applies at once.
        cli(self.dir, "domain", "add", "r.test", check=0)
        p = cli(self.dir, "account", "add", "u@r.test", stdin="x7Kq9mP2vL4nR8\n")
        self.assertIn("at least 16", p.stderr)
        # The connection opened before the reload still works.
        conn.sendall(b"still here\r\n")
        self.assertIn(b"ECHO still here", conn.recv(100))

        # A broken file is refused; the running config stays.
        with open(os.path.join(self.dir, "ringmail.toml"), "a") as f:
            f.write("[nonsense]\n")
        self.daemon.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "event=config_reload result=failed" not in self.daemon.output():
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
        self.assertIn("nonsense: unknown key", self.daemon.output())
        rc, still = cli_json(self.dir, "status")
        self.assertEqual((rc, still["reloads"], still["password_length_min"]), (0, 1, 16))
        conn.sendall(b"QUIT\r\n")
        conn.close()


class LoginPolicy(Base):
    def setUp(self):
        super().setUp()
        self.start(FAST_CONFIG)
        cli(self.dir, "domain", "add", "b.test", check=0)
        cli(self.dir, "account", "add", "victim@b.test", stdin=GOOD + "\n", check=0)

    def auth(self, login, password, *extra):
        return cli_json(self.dir, "auth", "test", login, *extra, stdin=password + "\n")

    def test_brute_force_blocks_even_the_right_password(self):
        for i in range(3):
            rc, r = self.auth("victim@b.test", f"wrong guess number {i}", "--remote-ip", "203.0.113.7")
            self.assertEqual(r["status"], "bad_credentials")
        rc, r = self.auth("victim@b.test", GOOD, "--remote-ip", "203.0.113.7")
        self.assertEqual((rc, r["status"]), (1, "blocked"))
        self.assertGreater(r["retry_after_ms"], 500_000)
        self.assertIn("Too many failed logins", r["message"])
        # The account is blocked from everywhere; other accounts are not.
        rc, r = self.auth("victim@b.test", GOOD, "--remote-ip", "198.51.100.1")
        self.assertEqual(r["status"], "blocked")
        rc, r = self.auth("nobody@b.test", "whatever it is now", "--remote-ip", "198.51.100.1")
        self.assertEqual(r["status"], "bad_credentials")
        out = self.daemon.output()
        self.assertIn("event=auth_block account=victim@b.test ip=203.0.113.7 by=account", out)
        self.assertIn("event=auth_blocked proto=imap account=victim@b.test", out)
        rc, s = cli_json(self.dir, "status")
        self.assertEqual(s["logins_blocked"], 2)
        self.assertEqual(s["logins_failed"], 4)
        # A restart forgets the block (it is memory only) and the password works.
        self.stop()
        self.start()
        rc, r = self.auth("victim@b.test", GOOD)
        self.assertEqual(r["status"], "ok")

    def test_protocol_restrictions_require_tls_and_disabled(self):
        cli(self.dir, "account", "set", "victim@b.test", "--mailbox-access", "imap", check=0)
        self.assertEqual(self.auth("victim@b.test", GOOD, "--protocol", "imap")[1]["status"], "ok")
        self.assertEqual(self.auth("victim@b.test", GOOD, "--protocol", "pop3")[1]["status"], "protocol_not_allowed")
        self.assertEqual(self.auth("victim@b.test", GOOD, "--protocol", "submission")[1]["status"], "ok")
        cli(self.dir, "account", "set", "victim@b.test", "--mailbox-access", "pop3", check=0)
        self.assertEqual(self.auth("victim@b.test", GOOD, "--protocol", "imap")[1]["status"], "protocol_not_allowed")
        self.assertEqual(self.auth("victim@b.test", GOOD, "--protocol", "pop3")[1]["status"], "ok")
        # A wrong password never learns about protocols.
        self.assertEqual(self.auth("victim@b.test", "wrong wrong wrong", "--protocol", "imap")[1]["status"],
                         "bad_credentials")
        # require-TLS: on by default, per account off, and back to default.
        self.assertEqual(self.auth("victim@b.test", GOOD, "--protocol", "pop3", "--tls", "no")[1]["status"],
                         "tls_required")
        cli(self.dir, "account", "set", "victim@b.test", "--require-tls", "no", check=0)
        self.assertEqual(self.auth("victim@b.test", GOOD, "--protocol", "pop3", "--tls", "no")[1]["status"], "ok")
        cli(self.dir, "account", "set", "victim@b.test", "--require-tls", "default", "--disabled", "yes", check=0)
        self.assertEqual(self.auth("victim@b.test", GOOD, "--protocol", "pop3", "--tls", "no")[1]["status"],
                         "tls_required")
        self.assertEqual(self.auth("victim@b.test", GOOD, "--protocol", "pop3")[1]["status"], "disabled")


if __name__ == "__main__":
    unittest.main()
