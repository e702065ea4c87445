#!/usr/bin/env python3
"""SMTP ingest cost of the inline spam filter.

The same messages (the SpamAssassin corpus's easy-ham-2 and spam-2 sets)
are sent by the SMTP load generator (`ringmail-load smtp`, C++, one
io_uring thread) over loopback to `ringmail serve` (1 core) with
`[spam] enabled` false and true (a token store trained on the *-1 sets).

On a shared, noisy machine the load drifts by more than the filter costs,
so the servers run side by side and the rounds are paired: every server
(filter off, filter on, and with --before the same two for an older build)
is started once and kept alive, and each round sends the same message
sequence (same seed) to each of them back to back, in an order that
alternates from round to round (off, on / on, off ...). A round's drop is
computed within the round, so drift between rounds cancels; the report
gives the median of the paired drops and their spread (min, quartiles,
max), for

  - throughput: messages accepted per second of the sending phase (what the
    load generator reports), and
  - server CPU per message: the daemon's CPU time over the sending phase
    (sum of its threads' /proc schedstat run time, nanoseconds), i.e. what
    ingest costs a core whatever else the machine is doing.

It also prints what bounds the run: the server's CPU over the wall time of
the sending phase (near 1.0 = its one core is the limit) and the client's.

Usage: bench/spam/smtp_ingest.py --ringmail BUILD/appliance/ringmail
           [--load BUILD/bench/load/ringmail-load] [--before OLD/appliance/ringmail]
           [--messages 2000] [--connections 16] [--rounds 15] [--pipelining 1|0] [--json FILE]
           [--tls none|starttls] [--per-connection N]  (each of the --connections sessions opens
                                                        a new connection every N messages)
           [--server-cpu N --client-cpu M]   (pin each to one CPU: less noise from
                                              the two sharing a CPU or migrating)

Every loop is bounded (rounds x servers runs, each with a --time-limit);
every server is private (own data dir, free loopback ports) and stopped by
its PID.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests/e2e"))
from harness import Daemon, free_port  # noqa: E402

CLK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """CPU time of every thread of `pid`: schedstat's run time (ns) when the
    kernel has it, else utime + stime (clock ticks)."""
    total_ns, ticks = 0, 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total_ns += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            total_ns = None
            break
    if total_ns is not None:
        return total_ns / 1e9
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / CLK


class Server:
    def __init__(self, name, binary, enabled, store, server_extra=""):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="ringmail-ingest-")
        ports = {k: free_port() for k in ("mx", "submission", "submissions", "plain", "tls")}
        self.port = ports["mx"]
        off = "".join("[listeners.%s]\nenabled = false\n" % n for n in ("imap", "imaps", "pop3", "pop3s", "http"))
        with open(os.path.join(self.dir, "ringmail.toml"), "w") as f:
            f.write("""[server]
cores = 1
%s[smtp]
greeting_pause_ms = 0
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
%s""" % (server_extra, "true" if enabled else "false", store, ports["mx"], ports["submission"], ports["submissions"], off))
        self.daemon = Daemon(["serve", "--listen-plain", "127.0.0.1:%d" % ports["plain"],
                              "--listen-tls", "127.0.0.1:%d" % ports["tls"]], [ports["mx"]], data_dir=self.dir)
        self.daemon.args[0] = binary  # harness.RINGMAIL is read from the environment at import
        self.runs = []

    def start(self, cpu=None):
        self.daemon.start()
        if cpu is not None:
            # Every thread the daemon has now; threads it starts later
            # inherit the mask from the one that starts them.
            for tid in os.listdir("/proc/%d/task" % self.daemon.proc.pid):
                os.sched_setaffinity(int(tid), {cpu})

    def stop(self):
        try:
            self.daemon.stop()
        finally:
            if self.daemon.proc is not None:
                self.daemon.log.close()
            shutil.rmtree(self.dir, ignore_errors=True)


def send(args, server, seed, run_id):
    """One sending phase: the load generator against one server:
    --connections sessions at once, each sending its share of the messages,
    on one connection or (--per-connection N) a new one every N messages."""
    per_session = max(1, args.messages // args.connections)
    cmd = [args.load, "smtp", "--port", str(server.port), "-c", str(args.connections), "-m", str(per_session),
           "--per-connection", str(args.per_connection), "--tls", args.tls,
           "--corpus", args.corpus_dir, "--rcpt", "demo@example.test", "--seed", str(seed), "--run-id", run_id,
           "--time-limit", str(args.time_limit), "--timeout-ms", "30000", "--pipelining", str(args.pipelining)]
    pid = server.daemon.proc.pid
    c0 = cpu_seconds(pid)
    pin = None if args.client_cpu is None else (lambda: os.sched_setaffinity(0, {args.client_cpu}))
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=args.time_limit + 30,
                          preexec_fn=pin)
    c1 = cpu_seconds(pid)
    if server.daemon.proc.poll() is not None:
        raise SystemExit("%s: the daemon exited (%s)" % (server.name, server.daemon.log_path))
    try:
        report = json.loads(done.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise SystemExit("%s: ringmail-load gave no report: %s" % (server.name, done.stderr.decode()[-2000:]))
    ops = report["operations"]
    if ops == 0:
        raise SystemExit("%s: nothing accepted: %s" % (server.name, report.get("error_samples")))
    return {"ops": ops, "errors": report["errors"], "wall": report["wall_s"], "rate": report["ops_per_s"],
            "cpu": c1 - c0, "cpu_per_msg": (c1 - c0) / ops, "client_cpu": report["client_cpu_s"],
            "error_samples": report.get("error_samples", [])}


def prepare_corpus(data, out):
    """easy-ham-2 and spam-2 as an MTA would relay them: no mbox "From "
    line, no NUL, CRLF line ends. Returns (files, bytes)."""
    count, size = 0, 0
    for group in ("easy-ham-2", "spam-2"):
        for name in sorted(os.listdir(os.path.join(data, group))):
            if not name.endswith(".txt"):
                continue
            with open(os.path.join(data, group, name), "rb") as f:
                raw = f.read()
            if raw.startswith(b"From "):
                raw = raw.split(b"\n", 1)[1]
            # A bare CR is refused too (550 5.6.11): every line ends CRLF.
            raw = raw.replace(b"\0", b"").replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
            # A line over SMTP's 998 octets is refused (554 5.6.0 whatever the
            # filter says): leave those few out so every run is error-free.
            if any(len(line) > 998 for line in raw.split(b"\r\n")):
                continue
            with open(os.path.join(out, "%s-%s" % (group, name)), "wb") as f:
                f.write(raw)
            count += 1
            size += len(raw)
    return count, size


def quartiles(xs):
    xs = sorted(xs)
    if len(xs) < 2:
        return xs[0], xs[0], xs[0], xs[0], xs[0]
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return xs[0], q[0], statistics.median(xs), q[2], xs[-1]


def pct(x):
    return "%.1f%%" % (100 * x)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ringmail", required=True, help="the build to measure (BUILD/appliance/ringmail)")
    ap.add_argument("--before", help="an older build, measured in the same rounds (filter off and on)")
    ap.add_argument("--load", help="ringmail-load (default: BUILD/bench/load/ringmail-load next to --ringmail)")
    ap.add_argument("--cache", default=os.path.join(os.path.expanduser("~"), ".cache/ringmail/spamassassin"))
    ap.add_argument("--messages", type=int, default=2000, help="messages per server per round")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--pipelining", type=int, choices=(0, 1), default=1,
                    help="0: one round trip per command (a chattier client costs the server more per message)")
    ap.add_argument("--tls", choices=("none", "starttls"), default="none",
                    help="starttls: every connection starts TLS first (as most MTA-to-MTA mail does today)")
    ap.add_argument("--per-connection", type=int, default=0,
                    help="messages per connection: each session opens a new one after N (default 0: one "
                         "connection per session); 1 is how an MTA usually relays to another")
    ap.add_argument("--rounds", type=int, default=15, help="paired rounds (each sends to every server)")
    ap.add_argument("--warmup", type=int, default=1, help="rounds first that are not counted")
    ap.add_argument("--time-limit", type=float, default=120, help="cap on each sending phase, seconds")
    ap.add_argument("--json", help="write every run here")
    ap.add_argument("--new-server-toml", action="append", default=[],
                    help="a line for the [server] table of the --ringmail build's servers only, e.g. "
                         "'receive_buffers_window_min = 1024' (repeatable)")
    ap.add_argument("--server-cpu", type=int, help="pin every server to this CPU")
    ap.add_argument("--client-cpu", type=int, help="pin the load generator to this CPU")
    args = ap.parse_args()
    args.ringmail = os.path.abspath(args.ringmail)
    if args.load is None:
        args.load = os.path.join(os.path.dirname(os.path.dirname(args.ringmail)), "bench/load/ringmail-load")
    if not os.access(args.load, os.X_OK):
        raise SystemExit("no ringmail-load at %s (cmake --build BUILD --target ringmail-load, or --load)" % args.load)
    subprocess.run(["sh", os.path.join(ROOT, "tests/corpus/fetch_spamassassin.sh"), args.cache], check=True,
                   stdout=subprocess.DEVNULL)
    data = os.path.join(args.cache, "data")
    work = tempfile.mkdtemp(prefix="ringmail-ingest-work-")
    servers = []
    try:
        args.corpus_dir = os.path.join(work, "corpus")
        os.mkdir(args.corpus_dir)
        files, size = prepare_corpus(data, args.corpus_dir)
        store = os.path.join(work, "global.tokens")
        subprocess.run([args.ringmail, "spam", "train", "--token-store", store, "--ham", os.path.join(data, "easy-ham-1"),
                        "--ham", os.path.join(data, "hard-ham-1"), "--spam", os.path.join(data, "spam-1")], check=True,
                       stdout=subprocess.DEVNULL)
        builds = [("new", args.ringmail)] + ([("before", os.path.abspath(args.before))] if args.before else [])
        for build, binary in builds:
            for enabled in (False, True):
                extra = "".join(line + "\n" for line in args.new_server_toml) if build == "new" else ""
                servers.append(Server("%s filter %s" % (build, "on" if enabled else "off"), binary, enabled, store,
                                      extra))
        for s in servers:
            s.start(args.server_cpu)
        load0 = os.getloadavg()
        print("corpus: %d messages, %.1f MB (mean %.1f KB); %d messages per server per round, %d connections%s, "
              "TLS %s, pipelining %d, %d rounds (+%d warm-up); load average %.1f"
              % (files, size / 1e6, size / files / 1e3, args.messages, args.connections,
                 ", %d messages a connection" % args.per_connection if args.per_connection else "", args.tls,
                 args.pipelining, args.rounds, args.warmup, load0[0]), flush=True)
        started = time.monotonic()
        for r in range(args.warmup + args.rounds):
            # off, on / on, off: rotate so no server always goes first.
            order = servers[r % len(servers):] + servers[:r % len(servers)]
            if r % 2:
                order.reverse()
            line = []
            for s in order:
                res = send(args, s, seed=1000 + r, run_id="r%d" % r)
                if r >= args.warmup:
                    s.runs.append(res)
                line.append("%s %.0f msg/s %.0f µs%s" % (s.name, res["rate"], res["cpu_per_msg"] * 1e6,
                                                         " errors %d" % res["errors"] if res["errors"] else ""))
            print("round %2d%s: %s" % (r, " (warm-up)" if r < args.warmup else "", "; ".join(line)), flush=True)
        elapsed = time.monotonic() - started
        load1 = os.getloadavg()

        print("\n%d paired rounds of %d messages, %.0f s; load average %.1f at the start, %.1f at the end\n"
              % (args.rounds, args.messages, elapsed, load0[0], load1[0]))
        print("| server | msgs/s (median) | server CPU µs/msg (median) | server CPU / wall | client CPU / wall | errors |")
        print("|---|---:|---:|---:|---:|---:|")
        for s in servers:
            print("| %s | %.0f | %.0f | %.2f | %.2f | %d |" % (
                s.name, statistics.median(x["rate"] for x in s.runs),
                statistics.median(x["cpu_per_msg"] for x in s.runs) * 1e6,
                statistics.median(x["cpu"] / x["wall"] for x in s.runs),
                statistics.median(x["client_cpu"] / x["wall"] for x in s.runs), sum(x["errors"] for x in s.runs)))
        print("\nPaired drops with the filter on (per round, then min / lower quartile / median / upper quartile / max):\n")
        print("| build | measure | min | q1 | median | q3 | max | rounds under 10% |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        for i, (build, _) in enumerate(builds):
            off, on = servers[2 * i], servers[2 * i + 1]
            rate_drop = [1 - b["rate"] / a["rate"] for a, b in zip(off.runs, on.runs)]
            cpu_drop = [1 - a["cpu_per_msg"] / b["cpu_per_msg"] for a, b in zip(off.runs, on.runs)]
            filter_us = [(b["cpu_per_msg"] - a["cpu_per_msg"]) * 1e6 for a, b in zip(off.runs, on.runs)]
            for what, xs, fmt in (("throughput drop", rate_drop, pct), ("capacity drop (CPU/msg)", cpu_drop, pct),
                                  ("filter CPU µs/msg", filter_us, lambda v: "%.0f" % v)):
                under = "" if what.startswith("filter") else "%d/%d" % (sum(x < 0.10 for x in xs), len(xs))
                print("| %s | %s | %s | %s |" % (build, what, " | ".join(fmt(v) for v in quartiles(xs)), under))
        if args.before:
            new_on, old_on = servers[1], servers[3]
            ratio = [b["cpu_per_msg"] / a["cpu_per_msg"] for a, b in zip(old_on.runs, new_on.runs)]
            print("\nnew / before, filter on, server CPU per message (paired): median %.3f (min %.3f, max %.3f)"
                  % (statistics.median(ratio), min(ratio), max(ratio)))
        if args.json:
            with open(args.json, "w") as f:
                json.dump({s.name: s.runs for s in servers}, f, indent=1)
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
