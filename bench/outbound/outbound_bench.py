#!/usr/bin/env python3
"""Outbound delivery throughput: messages/s from a loaded queue to a local
sink, ringmail beside Postfix relaying the same load, in the same run.

    RINGMAIL_BIN=build/appliance/ringmail python3 bench/outbound/outbound_bench.py [--messages N] [--before BIN]

--before BIN also runs another ringmail binary (e.g. main's, before a change)
in the same run, so before, after and Postfix share one machine state.

For each of {ringmail, postfix} x {plain, TLS}: the sender's queue is loaded
with N one-recipient messages while the sink is down (every attempt is
refused: the messages wait in the durable queue), then the sink comes up and
the sender is told to flush (ringmail: `ringmail queue flush`, or a restart
for a --before binary older than that command; Postfix: `postqueue -f`). Measured: wall time from the flush to the
last message at the sink, messages/s, and the sender's CPU seconds per 1000
messages (ringmail: the daemon process; Postfix: master and its children).
Sinks: Postfix's smtp-sink for plain SMTP (it has no TLS); for TLS the
scripted sink of tests/e2e/outbound with STARTTLS (Python, TCP_NODELAY),
which also counts the connections each sender opened. Loopback only; every
process is ours and stopped by PID.
"""
import argparse
import os
import shutil
import signal
import smtplib
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "e2e"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "e2e", "outbound"))
from harness import free_dns_port, free_port  # noqa: E402
from outbound_peers import Dnsmasq, Postfix, Sink  # noqa: E402
from test_outbound import Instance, cli, wait_until  # noqa: E402

SINK_IP = "127.0.0.4"


def cpu_seconds(pids):
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / tick
        except OSError:
            pass
    return total


def children(pid):
    out = [pid]
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(p))
            except OSError:
                pass
    return out


class SmtpSink:
    """Postfix's smtp-sink: accepts and discards, counts with -c."""

    def __init__(self, port):
        self.proc = subprocess.Popen(["/usr/sbin/smtp-sink", "-c", "-u", "nobody", f"{SINK_IP}:{port}", "256"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        wait_until(lambda: subprocess.run(["bash", "-c", f"exec 3<>/dev/tcp/{SINK_IP}/{port}"],
                                          capture_output=True).returncode == 0, 10, "smtp-sink")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=10)


def tls_context(root):
    cert, key = os.path.join(root, "sink.pem"), os.path.join(root, "sink.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=mx.sink.test"], check=True,
                   capture_output=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def run_ringmail(n, tls, root, dns_port, mx_port):
    # retry far away: the loaded messages wait for the flush
    inst = Instance("127.0.0.2", "alpha.test", "ann@alpha.test", mx_port, dns_port, retry_ms=(600000, 600000))
    with open(os.path.join(inst.dir, "ringmail.toml"), "a") as f:
        f.write("\n[limits]\nsend_messages_per_hour = 1000000\nsend_recipients_per_hour = 1000000\n")
    with open(os.path.join(inst.dir, "ringmail.toml")) as f:
        text = f.read().replace("queue_lifetime_ms = 9000", "queue_lifetime_ms = 86400000") \
            .replace("delay_warning_ms = 2500", "delay_warning_ms = 0")
    with open(os.path.join(inst.dir, "ringmail.toml"), "w") as f:
        f.write(text)
    inst.start()
    # one message per recipient: n separate messages
    for i in range(n):
        inst.submit([f"user{i}@sink.test"], f"bench{i}")
    wait_until(lambda: len(inst.queue()) == n and all(m["attempts"] >= 1 for m in inst.queue()), 120, "loaded")
    sink = Sink(SINK_IP, mx_port, tls=tls_context(root)) if tls else SmtpSink(mx_port)
    pid = inst.daemon.proc.pid
    cpu0 = cpu_seconds([pid])
    t0 = time.monotonic()
    if cli(inst.dir, "queue", "flush").returncode != 0:  # an older binary: a restart resumes the queue
        inst.stop()
        t0 = time.monotonic()
        inst.start()
        pid, cpu0 = inst.daemon.proc.pid, 0.0
    wait_until(lambda: not inst.queue(), 600, "the queue to drain")
    wall = time.monotonic() - t0
    cpu = cpu_seconds([pid]) - cpu0
    delivered = inst.daemon.output().count("event=outbound_delivered")
    if delivered < n:  # a drained queue may also mean bounced mail
        raise RuntimeError(f"ringmail delivered {delivered} of {n}: {inst.daemon.output()[-2000:]}")
    inst.stop()
    sink.stop()
    shutil.rmtree(inst.dir, ignore_errors=True)
    return wall, cpu, connections(sink)


def run_postfix(n, tls, root, mx_port):
    pf_root = tempfile.mkdtemp(dir=root)
    pf_port = free_port()
    pf = Postfix(pf_root, "127.0.0.6", pf_port, "postfix.test", relay={"sink.test": f"[{SINK_IP}]:{mx_port}"})
    conf = os.path.join(pf_root, "conf")
    subprocess.run(["postconf", "-c", conf, "-e", "minimal_backoff_time=3600s", "maximal_backoff_time=3600s",
                    "queue_run_delay=3600s"], check=True)
    os.kill(pf.proc.pid, signal.SIGHUP)
    time.sleep(1)
    with smtplib.SMTP("127.0.0.6", pf_port, timeout=30) as s:
        s.ehlo("bench.test")
        for i in range(n):
            s.sendmail("ann@alpha.test", [f"user{i}@sink.test"],
                       f"From: <ann@alpha.test>\r\nTo: <user{i}@sink.test>\r\nSubject: bench{i}\r\n\r\n"
                       f"Hello from bench{i}.\r\n".encode())

    def deferred():
        return pf.output().count("status=deferred")
    wait_until(lambda: deferred() >= n, 300, "Postfix to defer every message")
    sink = Sink(SINK_IP, mx_port, tls=tls_context(root)) if tls else SmtpSink(mx_port)
    pids = children(pf.proc.pid)
    cpu0 = cpu_seconds(pids)
    t0 = time.monotonic()
    subprocess.run(["postqueue", "-c", conf, "-f"], check=True)
    wait_until(lambda: pf.output().count("status=sent") >= n, 600, "Postfix to drain")
    wall = time.monotonic() - t0
    cpu = cpu_seconds(children(pf.proc.pid)) - cpu0
    pf.stop()
    sink.stop()
    return wall, cpu, connections(sink)


def connections(sink):
    """Connections the sender opened (the scripted TLS sink keeps a
    transcript of each; smtp-sink does not count them)."""
    return len(sink.transcripts) if isinstance(sink, Sink) else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=300)
    ap.add_argument("--before", help="another ringmail binary to measure in the same run")
    ap.add_argument("--tls", choices=("both", "no", "yes"), default="both", help="which sink(s) to measure")
    args = ap.parse_args()
    import harness
    import test_outbound
    binaries = [("ringmail", harness.RINGMAIL)] + ([("ringmail-before", args.before)] if args.before else [])
    root = tempfile.mkdtemp(prefix="ringmail-outbound-bench-")
    os.chmod(root, 0o755)  # Postfix's daemons (user postfix) live below
    dns_port, mx_port = free_dns_port(), free_port()
    dns = Dnsmasq(dns_port, mx=[("alpha.test", "mx.alpha.test", 10), ("sink.test", "mx.sink.test", 10)],
                  hosts=[("mx.alpha.test", "127.0.0.2"), ("mx.sink.test", SINK_IP)])
    rows = []
    try:
        for tls in {"both": (False, True), "no": (False,), "yes": (True,)}[args.tls]:
            for name, binary in binaries:
                # The e2e helpers read the binary from module globals.
                harness.RINGMAIL = test_outbound.RINGMAIL = binary
                wall, cpu, conns = run_ringmail(args.messages, tls, root, dns_port, mx_port)
                rows.append((name, tls, wall, cpu, conns))
                print("measured", rows[-1], flush=True)
            wall, cpu, conns = run_postfix(args.messages, tls, root, mx_port)
            rows.append(("postfix", tls, wall, cpu, conns))
            print("measured", rows[-1], flush=True)
    finally:
        dns.stop()
        shutil.rmtree(root, ignore_errors=True)
    n = args.messages
    print(f"outbound: {n} queued one-recipient messages to a loopback sink")
    print(f"{'sender':16} {'tls':5} {'seconds':>8} {'msg/s':>8} {'cpu s/1000 msg':>15} {'connections':>12}")
    for who, tls, wall, cpu, conns in rows:
        print(f"{who:16} {'yes' if tls else 'no':5} {wall:8.2f} {n / wall:8.1f} {cpu * 1000 / n:15.3f} "
              f"{'-' if conns is None else conns:>12}")


if __name__ == "__main__":
    main()
