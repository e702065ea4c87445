"""Starts and stops a real `ringmail serve` for end-to-end tests.

Every test gets its own data directory and free loopback ports; the daemon
is stopped by its PID (SIGTERM, then SIGKILL if it overstays), never by name.
"""
import os
import random
import signal
import socket
import subprocess
import tempfile
import time
import tomllib

RINGMAIL = os.environ.get("RINGMAIL_BIN", "ringmail")


# Ports handed out by this process. A daemon binds with SO_REUSEPORT, so a
# port given twice (say, as both a plain and a TLS listener) would not fail
# to bind: the kernel would split connections between the two listeners.
_ports_given = set()


def free_port():
    """A free loopback TCP port for a daemon under test. Chosen at random
    below the kernel's ephemeral range (32768+), so it is never the local
    port of some client connection, and two tests starting at once rarely
    pick the same one (bind(0) tends to hand a just-released port out again)."""
    for _ in range(200):
        port = random.randrange(20000, 32000)
        if port in _ports_given:  # free until its daemon binds it: never hand it out twice
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                _ports_given.add(port)
                return port
            except OSError:
                continue
    raise RuntimeError("no free port")


def free_dns_port():
    """A port free for both UDP and TCP, for a private dnsmasq (it binds
    both). Taken below the kernel's ephemeral range (32768+): a port from
    bind(0) can be the local port of some client's TCP connection a moment
    later, and dnsmasq's TCP bind then fails on a loaded machine."""
    for _ in range(200):
        port = random.randrange(20000, 32000)
        if port in _ports_given:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t, \
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            try:
                t.bind(("127.0.0.1", port))
                u.bind(("127.0.0.1", port))
                _ports_given.add(port)
                return port
            except OSError:
                continue
    raise RuntimeError("no free port for dnsmasq")


def wait_for_port(port, timeout=60.0, proc=None):
    """Waits until something accepts on `port`. The generous timeout is for
    sanitizer builds on a loaded machine (first start generates a certificate
    and hashes a password); a healthy daemon returns at once, and a daemon
    that died is reported at once, not after the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the daemon exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


# Every listener a config has (appliance/config/config.h, listener_names).
LISTENER_NAMES = ("smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s", "http")


def place_listeners(config_path):
    """Gives each listener the config at `config_path` leaves out its own
    free port, appending `[listeners.NAME] address = ...` tables to the file
    (made if missing). The embedded defaults are fixed ports (2525, 1143...);
    two daemons started at once on them would be refused (the daemon will not
    share an address). Tables the test wrote itself are left as they are; an
    enabled one without an address is an error in the test."""
    text = ""
    if os.path.exists(config_path):
        with open(config_path) as f:
            text = f.read()
    listeners = tomllib.loads(text).get("listeners", {})
    added = ""
    for name in LISTENER_NAMES:
        table = listeners.get(name)
        if table is None:
            added += f'\n[listeners.{name}]\naddress = "127.0.0.1:{free_port()}"\n'
        elif table.get("enabled", True) and "address" not in table:
            raise ValueError(f"{config_path}: [listeners.{name}] is enabled but has no address; give it free_port()")
    if added:
        with open(config_path, "a") as f:
            f.write(added)


class Daemon:
    def __init__(self, args, ports, data_dir=None):
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="ringmail-e2e-")
        self.args = [RINGMAIL] + args + ["--data-dir", self.data_dir]
        self.ports = ports
        self.log_path = os.path.join(self.data_dir, "daemon.log")
        self.proc = None

    def start(self):
        os.makedirs(self.data_dir, exist_ok=True)
        if "serve" in self.args:
            explicit = self.args.index("--config") + 1 if "--config" in self.args else 0
            place_listeners(self.args[explicit] if explicit else os.path.join(self.data_dir, "ringmail.toml"))
            # The demo line server's defaults (127.0.0.1:7070/7071) are one
            # per machine as well.
            for flag in ("--listen-plain", "--listen-tls"):
                if flag not in self.args:
                    self.args += [flag, f"127.0.0.1:{free_port()}"]
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT)
        for p in self.ports:
            wait_for_port(p, proc=self.proc)
        return self

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self, timeout=30.0):
        """SIGTERM and wait; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        try:
            self.stop()
        finally:
            self.log.close()
