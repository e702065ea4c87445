#!/usr/bin/env python3
"""SMTP ingest cost of the inline spam filter: the same messages (the
SpamAssassin corpus) sent to `ringmail serve` on loopback twice, once with
the filter on (a token store trained on the corpus's *-1 sets) and once with
[spam] enabled = false, and the daemon's CPU seconds per message compared.

The measure is server CPU per message (utime + stime of the daemon from
/proc over exactly the sending phase), so a Python client that is slower
than the server does not hide the filter's cost: ingest capacity per core =
messages / server CPU seconds. Wall-clock rate is printed too.

Usage: bench/spam/smtp_ingest.py --ringmail BUILD/appliance/ringmail
           [--messages 2000] [--connections 4] [--rounds 3]
"""
import argparse
import os
import shutil
import smtplib
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests/e2e"))
from harness import Daemon, free_port  # noqa: E402

CLK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    total = 0.0
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / CLK
    return total


def run(args, corpus, enabled, store):
    d = tempfile.mkdtemp(prefix="ringmail-ingest-")
    ports = {k: free_port() for k in ("mx", "submission", "submissions", "plain", "tls")}
    off = "".join("[listeners.%s]\nenabled = false\n" % n for n in ("imap", "imaps", "pop3", "pop3s", "http"))
    with open(os.path.join(d, "ringmail.toml"), "w") as f:
        f.write("""[server]
cores = 1
[smtp]
message_size_max_bytes = 52428800
recipients_max = 100
[spam]
enabled = %s
token_store = "%s"
[listeners.smtp]
address = "127.0.0.1:%d"
connections_per_ip_max = 1000
[listeners.submission]
address = "127.0.0.1:%d"
[listeners.submissions]
address = "127.0.0.1:%d"
%s""" % ("true" if enabled else "false", store, ports["mx"], ports["submission"], ports["submissions"], off))
    daemon = Daemon(["serve", "--listen-plain", "127.0.0.1:%d" % ports["plain"],
                     "--listen-tls", "127.0.0.1:%d" % ports["tls"]], [ports["mx"]], data_dir=d)
    daemon.args[0] = args.ringmail  # harness.RINGMAIL is read from the environment at import
    daemon.start()
    try:
        work = corpus[:args.messages]
        lock = threading.Lock()
        next_index = [0]
        errors = []

        def sender():
            with smtplib.SMTP("127.0.0.1", ports["mx"], timeout=60) as s:
                s.ehlo("bench.test")
                while True:
                    with lock:
                        i = next_index[0]
                        next_index[0] += 1
                    if i >= len(work):
                        return
                    try:
                        s.sendmail("bench@remote.test", ["demo@example.test"], work[i])
                    except smtplib.SMTPException as e:
                        errors.append(e)
                        s.rset()

        c0, t0 = cpu_seconds(daemon.proc.pid), time.monotonic()
        threads = [threading.Thread(target=sender) for _ in range(args.connections)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        c1, t1 = cpu_seconds(daemon.proc.pid), time.monotonic()
        return {"messages": len(work), "bytes": sum(len(m) for m in work), "cpu": c1 - c0, "wall": t1 - t0,
                "errors": len(errors)}
    finally:
        daemon.stop()
        daemon.log.close()
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ringmail", required=True)
    ap.add_argument("--cache", default=os.path.join(os.path.expanduser("~"), ".cache/ringmail/spamassassin"))
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    args.ringmail = os.path.abspath(args.ringmail)
    subprocess.run(["sh", os.path.join(ROOT, "tests/corpus/fetch_spamassassin.sh"), args.cache], check=True,
                   stdout=subprocess.DEVNULL)
    data = os.path.join(args.cache, "data")
    corpus = []
    for group in ("easy-ham-2", "spam-2"):
        for name in sorted(os.listdir(os.path.join(data, group))):
            if name.endswith(".txt"):
                with open(os.path.join(data, group, name), "rb") as f:
                    raw = f.read()
                # Drop the mbox "From " line; SMTP wants CRLF and no NUL.
                if raw.startswith(b"From "):
                    raw = raw.split(b"\n", 1)[1]
                corpus.append(raw.replace(b"\0", b"").replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    corpus.sort(key=len)
    corpus = corpus[::max(1, len(corpus) // args.messages)]
    store = os.path.join(tempfile.mkdtemp(prefix="ringmail-ingest-store-"), "global.tokens")
    subprocess.run([args.ringmail, "spam", "train", "--token-store", store, "--ham", os.path.join(data, "easy-ham-1"),
                    "--ham", os.path.join(data, "hard-ham-1"), "--spam", os.path.join(data, "spam-1")], check=True,
                   stdout=subprocess.DEVNULL)
    results = {True: [], False: []}
    for r in range(args.rounds):
        for enabled in (False, True):
            res = run(args, corpus, enabled, store)
            results[enabled].append(res)
            print("round %d filter %-3s: %d msgs %.1f MB  server CPU %.2fs (%.0f msgs/s per core)  wall %.1fs  errors %d"
                  % (r, "on" if enabled else "off", res["messages"], res["bytes"] / 1e6, res["cpu"],
                     res["messages"] / res["cpu"], res["wall"], res["errors"]), flush=True)
    med = {}
    for enabled in (False, True):
        cpus = sorted(x["cpu"] / x["messages"] for x in results[enabled])
        med[enabled] = cpus[len(cpus) // 2]
    drop = 1 - med[False] / med[True]
    print("\n| | filter off | filter on |\n|---|---|---|")
    print("| server CPU per message (median of %d) | %.0f µs | %.0f µs |" % (args.rounds, med[False] * 1e6, med[True] * 1e6))
    print("| ingest capacity per core | %.0f msgs/s | %.0f msgs/s |" % (1 / med[False], 1 / med[True]))
    print("\nthroughput drop with the filter on: %.1f%%" % (100 * drop))


if __name__ == "__main__":
    main()
