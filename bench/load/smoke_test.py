"""Smoke test of the load generators (bench/load/ringmail-load) against a real
`ringmail serve`: a few messages per SMTP mode, then the arrival check on
`ringmail export`, and IMAP/POP3 reads checked against the SMTP manifest once
the daemon serves them. Seconds, bounded; it keeps the generators from
rotting. The benchmark itself (bench/compare) never runs in ctest."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "e2e"))
sys.path.insert(0, os.path.join(HERE, ".."))
from harness import RINGMAIL, Daemon, free_port  # noqa: E402
from verify_arrival import verify_maildir  # noqa: E402

LOAD = os.environ.get("RINGMAIL_LOAD_BIN", "ringmail-load")
ACCOUNT = "demo@example.test"


def listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class LoadSmoke(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="ringmail-load-smoke-")
        cls.ports = {k: free_port() for k in ("smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s")}
        listeners = "".join(f"[listeners.{n}]\naddress = \"127.0.0.1:{p}\"\nconnections_per_ip_max = 1000\n"
                            for n, p in cls.ports.items())
        with open(os.path.join(cls.dir, "ringmail.toml"), "w") as f:
            f.write(f"""[server]
cores = 2
shutdown_grace_ms = 2000
[auth.argon2]
memory_kib = 1024
iterations = 1
[listeners.http]
enabled = false
{listeners}""")
        cls.daemon = Daemon(["serve"], [cls.ports["smtp"], cls.ports["submissions"]], data_dir=cls.dir).start()
        with open(os.path.join(cls.dir, "demo-password")) as f:
            cls.password = f.read().strip()
        cls.manifests = []

    @classmethod
    def tearDownClass(cls):
        if cls.daemon.proc.poll() is None:
            cls.daemon.stop()
        cls.daemon.log.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def load(self, *args):
        p = subprocess.run([LOAD, *map(str, args)], capture_output=True, text=True, timeout=120)
        self.assertTrue(p.stdout.strip(), p.stderr)
        report = json.loads(p.stdout.strip().splitlines()[-1])
        self.assertEqual(p.returncode, 0, f"{report}\n{p.stderr}\n{self.daemon.output()[-2000:]}")
        self.assertEqual(report["errors"], 0, report)
        return report

    def smtp(self, name, port, connections, messages, *extra):
        manifest = os.path.join(self.dir, f"manifest-{name}")
        self.manifests.append(manifest)
        report = self.load("smtp", "--port", port, "-c", connections, "-m", messages, "--rcpt", ACCOUNT,
                           "--manifest", manifest, "--run-id", name, "--time-limit", 60, *extra)
        self.assertEqual(report["operations"], connections * messages, report)
        with open(manifest) as f:
            self.assertEqual(len(f.readlines()), connections * messages)
        self.assertGreater(report["latency"]["to_250"]["count"], 0)
        return report

    def test_1_smtp_modes(self):
        self.smtp("plain", self.ports["smtp"], 3, 4, "--sizes", "1k:1,70k:1")
        self.smtp("nopipe", self.ports["smtp"], 2, 2, "--pipelining", 0)
        self.smtp("bdat", self.ports["smtp"], 2, 2, "--bdat", 1, "--bdat-chunk", 10000, "--sizes", "30k")
        self.smtp("starttls", self.ports["smtp"], 2, 2, "--tls", "starttls")
        # 5 messages a session, a new connection (and STARTTLS) every 2: 3 each.
        r = self.smtp("reconnect", self.ports["smtp"], 2, 5, "--tls", "starttls", "--per-connection", 2)
        self.assertEqual((r["connections_opened"], r["sessions_ok"]), (2 * 3, 2), r)
        r = self.smtp("one-connection", self.ports["smtp"], 2, 5)
        self.assertEqual((r["connections_opened"], r["sessions_ok"]), (2, 2), r)
        self.smtp("submissions", self.ports["submissions"], 2, 2, "--tls", "implicit", "--user", ACCOUNT,
                  "--password", self.password, "--from", ACCOUNT)

    def test_2_refusals_are_errors(self):
        # An unknown recipient is refused at RCPT: the generator must count it
        # as an error and exit non-zero, never as a sent message.
        p = subprocess.run([LOAD, "smtp", "--port", str(self.ports["smtp"]), "-c", "1", "-m", "1", "--rcpt",
                            "nobody@example.test", "--time-limit", "30"], capture_output=True, text=True, timeout=60)
        report = json.loads(p.stdout.strip().splitlines()[-1])
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(report["operations"], 0)
        self.assertGreater(report["errors"], 0)

    def test_3_mailbox_reads(self):
        if not listening(self.ports["imaps"]) or not listening(self.ports["pop3s"]):
            self.skipTest("this daemon does not serve IMAP/POP3 yet")
        merged = os.path.join(self.dir, "manifest-all")
        with open(merged, "w") as out:
            for m in self.manifests:
                out.write(open(m).read())
        common = ["--tls", "implicit", "--user", ACCOUNT, "--password", self.password, "--time-limit", 60]
        r = self.load("imap", "--port", self.ports["imaps"], "-c", 2, "-w", "fetch-bodies", "--manifest", merged,
                      *common)
        self.assertEqual(r["mismatched"], 0)
        self.assertGreater(r["verified"], 0)
        for workload in ("fetch-headers", "search", "flags", "login"):
            self.load("imap", "--port", self.ports["imaps"], "-c", 2, "-w", workload, *common)
        # POP3 before the IDLE storm: the storm's messages are not in the manifest.
        r = self.load("pop3", "--port", self.ports["pop3s"], "-c", 1, "--manifest", merged, *common)
        self.assertEqual(r["mismatched"], 0)
        self.assertGreater(r["verified"], 0)
        self.load("imap", "--port", self.ports["imaps"], "-c", 5, "-w", "idle", "--hold", 1, *common)
        storm = self.load("imap", "--port", self.ports["imaps"], "-c", 3, "-w", "idle", "--hold", 30,
                          "--storm-messages", 2, "--storm-smtp-port", self.ports["smtp"], "--storm-rcpt", ACCOUNT,
                          *common)
        self.assertEqual((storm["storm_sent"], storm["wakeups"]), (2, 3 * 2), storm)

    def test_4_arrival(self):
        self.assertEqual(self.daemon.stop(), 0, self.daemon.output()[-2000:])
        target = os.path.join(self.dir, "export")
        p = subprocess.run([RINGMAIL, "export", "--account", ACCOUNT, "--format", "maildir", "--to", target,
                            "--data-dir", self.dir], capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        result = verify_maildir(target, self.manifests)
        self.assertTrue(result["ok"], result)
        self.assertEqual(result["expected"], 12 + 4 + 4 + 4 + 10 + 10 + 4)
        # The check is not vacuous: change one byte of one message and it fails.
        files = [os.path.join(target, sub, n) for sub in ("new", "cur") if os.path.isdir(os.path.join(target, sub))
                 for n in sorted(os.listdir(os.path.join(target, sub)))]
        self.assertEqual(len(files), result["found"])
        path = files[0]
        data = bytearray(open(path, "rb").read())
        data[-3] = ord("#") if data[-3] != ord("#") else ord("%")
        open(path, "wb").write(bytes(data))
        self.assertEqual(verify_maildir(target, self.manifests)["mismatched"], 1)

    def test_5_limits(self):
        p = subprocess.run([LOAD, "limits", "--dir", self.dir, "--seconds", "0.2"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        limits = json.loads(p.stdout)
        for key in ("fdatasync_per_s", "aes128gcm_mb_per_s_core", "loopback_mb_per_s"):
            self.assertGreater(limits[key], 0)


if __name__ == "__main__":
    unittest.main()
