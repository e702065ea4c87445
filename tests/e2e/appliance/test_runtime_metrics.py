"""The runtime's receive-buffer metrics through the real daemon and
`ringmail metrics`: every core's buffer count is the configured one, its
window and in-kernel count stay inside it, nothing is held at rest; and
with one receive buffer a core (server.receive_buffers = 1) eight clients
sending large messages at once starve the ring (the ENOBUFS counter climbs)
while every message still arrives whole.
The daemon runs on free loopback ports with its own data dir, stopped by PID.
"""
import mailbox
import os
import shutil
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import RINGMAIL, Daemon, free_port  # noqa: E402

DEMO = "demo@example.test"


def cli(data_dir, *args):
    p = subprocess.run([RINGMAIL, *args, "--data-dir", data_dir], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"{args}: rc={p.returncode}\nstdout={p.stdout}\nstderr={p.stderr}"
    return p.stdout


def per_core(text, name):
    """{core: value} of a metric family with a core label."""
    values = {}
    for line in text.splitlines():
        if line.startswith(name + "{core=\""):
            labels, value = line.rsplit(" ", 1)
            values[int(labels[len(name) + 7:-2])] = int(value)
    return values


class RuntimeMetrics(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ringmail-runtime-")
        self.mx = free_port()
        self.daemon = None

    def tearDown(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, buffers, window_min):
        with open(os.path.join(self.dir, "ringmail.toml"), "w") as f:
            f.write(f"""
[server]
cores = 2
shutdown_grace_ms = 2000
receive_buffers = {buffers}
receive_buffers_window_min = {window_min}
[auth.argon2]
memory_kib = 1024
iterations = 1
[smtp]
greeting_pause_ms = 0
[listeners.smtp]
address = "127.0.0.1:{self.mx}"
""")  # the other listeners get free ports from the harness
        self.daemon = Daemon(["serve"], [self.mx], data_dir=self.dir).start()

    def stop(self):
        if self.daemon:
            self.assertEqual(self.daemon.stop(), 0, self.daemon.output())
            self.daemon.log.close()
            self.daemon = None

    def send(self, subject, body):
        with smtplib.SMTP("127.0.0.1", self.mx, timeout=60) as s:
            s.sendmail("a@remote.test", [DEMO], f"Subject: {subject}\r\n\r\n".encode() + body)

    def metrics_at_rest(self):
        """`ringmail metrics` once no connection holds a receive buffer, for
        up to 30 s: a client has its 221 and runs the CLI before the daemon's
        session has ended and let its buffer go (a moment, longer on a loaded
        machine). A buffer that stays held is still reported below."""
        deadline = time.monotonic() + 30
        while True:
            text = cli(self.dir, "metrics")
            held = per_core(text, "ringmail_receive_buffers_held")
            if (held and not any(held.values())) or time.monotonic() > deadline:
                return text
            time.sleep(0.05)

    def inbox(self):
        target = os.path.join(tempfile.mkdtemp(dir=self.dir), "out.mbox")
        cli(self.dir, "export", "--account", DEMO, "--mailbox", "INBOX", "--format", "mbox", "--to", target)
        return {m["Subject"]: m.get_payload(decode=False) for m in mailbox.mbox(target)}

    def test_buffers_per_core_match_the_config_and_rest_unheld(self):
        self.start(buffers=64, window_min=16)
        before = cli(self.dir, "metrics")
        for i in range(20):
            self.send(f"m{i}", b"line\r\n" * 200)
        text = self.metrics_at_rest()
        self.assertIn("# TYPE ringmail_receive_enobufs_total counter", text)
        self.assertEqual(per_core(text, "ringmail_receive_buffers"), {0: 64, 1: 64})
        window = per_core(text, "ringmail_receive_buffers_window")
        in_kernel = per_core(text, "ringmail_receive_buffers_in_kernel")
        held = per_core(text, "ringmail_receive_buffers_held")
        for core in (0, 1):
            self.assertTrue(16 <= window[core] <= 64, window)
            self.assertLessEqual(in_kernel[core], 64)
            self.assertEqual(held[core], 0, "no connection is open: no buffer is held")
        self.assertEqual(set(per_core(text, "ringmail_receive_enobufs_total")), {0, 1})
        loops_before = per_core(before, "ringmail_event_loops_total")
        loops = per_core(text, "ringmail_event_loops_total")
        self.assertGreater(sum(loops.values()), sum(loops_before.values()))

    def test_one_buffer_a_core_starves_and_loses_nothing(self):
        self.start(buffers=1, window_min=1)
        text = cli(self.dir, "metrics")
        self.assertEqual(per_core(text, "ringmail_receive_buffers"), {0: 1, 1: 1})
        self.assertEqual(per_core(text, "ringmail_receive_buffers_window"), {0: 1, 1: 1})
        bodies = {f"big{i}": (f"{i:03d} ".encode() + b"x" * 70 + b"\r\n") * 4000 for i in range(8)}
        errors = []

        def send(subject):
            try:
                self.send(subject, bodies[subject])
            except Exception as e:  # reported below, with the others
                errors.append(f"{subject}: {e!r}")

        threads = [threading.Thread(target=send, args=(s,)) for s in bodies]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        self.assertEqual(errors, [])
        text = self.metrics_at_rest()
        enobufs = per_core(text, "ringmail_receive_enobufs_total")
        print(f"ENOBUFS per core: {enobufs}")
        self.assertGreater(sum(enobufs.values()), 0, "eight senders and one buffer a core: the ring ran dry")
        self.assertEqual(per_core(text, "ringmail_receive_buffers_held"), {0: 0, 1: 0})
        self.stop()
        got = self.inbox()
        self.assertEqual(sorted(got), sorted(bodies))
        for subject, body in bodies.items():
            # mbox export (and Python's reader) end lines with LF.
            self.assertEqual(got[subject].encode(), body.replace(b"\r\n", b"\n"), subject)


if __name__ == "__main__":
    unittest.main()
