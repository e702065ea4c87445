#!/usr/bin/env python3
"""IDLE push latency: how long after SMTP says 250 does an IDLE session see
"* n EXISTS"? Starts its own `ringmail serve` (2 cores, free loopback
ports, temporary data dir, stopped by PID), opens SESSIONS imaps sessions
idling on one account's INBOX (spread over the cores by SO_REUSEPORT),
delivers MESSAGES messages one at a time over SMTP and prints the delay
distribution per session wake-up. The session core and the account's owner
core differ for about half the sessions, so this measures the cross-core
path (owner core flush -> mailbox_events -> interrupt_read -> EXISTS).

  RINGMAIL_BIN=build/appliance/ringmail python3 bench/imap/idle_wake.py [SESSIONS] [MESSAGES]
"""
import imaplib
import os
import select
import smtplib
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "e2e", "imap"))
from imap_daemon import PASSWORD, ImapDaemon, tls_context  # noqa: E402

ACCOUNT = "idle@example.test"


def main():
    sessions = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    messages = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    d = ImapDaemon().start()
    try:
        d.add_account(ACCOUNT)
        clients = []
        for _ in range(sessions):
            c = imaplib.IMAP4_SSL("127.0.0.1", d.ports["imaps"], ssl_context=tls_context(), timeout=30)
            c.login(ACCOUNT, PASSWORD)
            c.select("INBOX")
            c.send(b"i IDLE\r\n")
            assert c.readline().startswith(b"+")
            clients.append(c)
        delays = []
        smtp = smtplib.SMTP("127.0.0.1", d.ports["mx"], timeout=30)
        body = b"From: a@example.org\r\nTo: idle@example.test\r\nSubject: wake\r\n\r\nhello\r\n"
        for n in range(messages):
            smtp.sendmail("a@example.org", [ACCOUNT], body)
            acked = time.perf_counter()
            waiting = {c.sock: c for c in clients}
            while waiting:
                ready, _, _ = select.select(list(waiting), [], [], 10)
                if not ready:
                    raise SystemExit("no EXISTS within 10 s: IDLE is not pushed")
                for s in ready:
                    line = waiting[s].readline()
                    if line.endswith(b"EXISTS\r\n"):
                        delays.append((time.perf_counter() - acked) * 1000)
                        del waiting[s]
        smtp.quit()
        delays.sort()
        q = lambda p: delays[min(len(delays) - 1, int(p * len(delays)))]
        print(f"IDLE wake after SMTP 250: {len(delays)} wake-ups ({sessions} sessions x {messages} messages), "
              f"median {statistics.median(delays):.2f} ms, p90 {q(0.9):.2f} ms, p99 {q(0.99):.2f} ms, "
              f"max {delays[-1]:.2f} ms")
        for c in clients:
            c.send(b"DONE\r\n")
    finally:
        d.stop()
        d.cleanup()


if __name__ == "__main__":
    main()
