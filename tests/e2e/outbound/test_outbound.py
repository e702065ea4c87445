"""Outbound delivery end to end: the durable queue, MX lookups through a
private dnsmasq, the SMTP client, retries, expiry, DSNs and crash safety.

Layout on loopback (one SMTP port P shared by every MX, as port 25 is):
  127.0.0.2:P  ringmail A, MX of alpha.test (the sender; ann@alpha.test)
  127.0.0.3:P  ringmail B, MX of beta.test (bob@beta.test)
  127.0.0.4:P  a scripted sink, MX of sink.test (answers per recipient)
  127.0.0.5:P  a server that accepts and never greets, MX of silent.test
  127.0.0.7:P  a scripted sink offering CHUNKING, MX of chunk.test
  127.0.0.1:D  dnsmasq with those zones; both ringmails resolve through it

Both ringmails sign outbound mail with DKIM (A with RSA-2048, B with
Ed25519, keys from `ringmail domain dkim generate`), dnsmasq publishes SPF
("v=spf1 mx -all"), the DKIM keys and DMARC p=reject for alpha.test and
beta.test, and both verify inbound mail on their MX listener.
"""
import email
import email.policy
import json
import os
import re
import shutil
import smtplib
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import RINGMAIL, Daemon, free_dns_port, free_port  # noqa: E402
from outbound_peers import Dnsmasq, Sink  # noqa: E402

PASSWORD = "correct horse battery staple"


def cli(data_dir, *args, check=None):
    p = subprocess.run([RINGMAIL, *args, "--data-dir", data_dir], capture_output=True, text=True, timeout=60)
    if check is not None:
        assert p.returncode == check, f"{args}: rc={p.returncode}\nstdout={p.stdout}\nstderr={p.stderr}"
    return p


def config(ip, ports, dns_port, extra="", retry_ms=(300, 800)):
    off = "".join(f"[listeners.{n}]\nenabled = false\n" for n in ("submissions", "imap", "imaps", "pop3", "pop3s",
                                                                   "http"))
    return f"""
[server]
cores = 2
hostname = "mx.{ports['domain']}"
shutdown_grace_ms = 2000
create_demo = false
[auth.argon2]
memory_kib = 1024
iterations = 1
[listeners.smtp]
address = "{ip}:{ports['mx']}"
[listeners.submission]
address = "{ip}:{ports['submission']}"
{off}
[dns]
servers = ["127.0.0.1:{dns_port}"]
timeout_ms = 300
[outbound]
port = {ports['mx']}
source_address = "{ip}"
retry_initial_ms = {retry_ms[0]}
retry_max_ms = {retry_ms[1]}
delay_warning_ms = 2500
queue_lifetime_ms = 9000
connect_timeout_ms = 1000
greeting_timeout_ms = 1500
command_timeout_ms = 3000
data_end_timeout_ms = 5000
rate_limit_strikes_before_suspend = 3
{extra}"""


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def generate_dkim_key(data_dir, domain, algorithm):
    """`ringmail domain dkim generate`; returns the (name, TXT strings) it says to publish."""
    out = cli(data_dir, "domain", "dkim", "generate", domain, "--algorithm", algorithm, check=0).stdout
    m = re.search(r"^(\S+\._domainkey\." + re.escape(domain) + r")\. 3600 IN TXT (.+)$", out, re.M)
    assert m, out
    return m.group(1), re.findall(r'"([^"]*)"', m.group(2))


class Instance:
    def __init__(self, ip, domain, user, mx_port, dns_port, extra="", retry_ms=(300, 800)):
        self.ip = ip
        self.dir = tempfile.mkdtemp(prefix=f"ringmail-out-{domain}-")
        self.ports = {"mx": mx_port, "submission": free_port(), "plain": free_port(), "tls": free_port(),
                      "domain": domain}
        with open(os.path.join(self.dir, "ringmail.toml"), "w") as f:
            f.write(config(ip, self.ports, dns_port, extra, retry_ms))
        pw = os.path.join(self.dir, "pw")
        with open(pw, "w") as f:
            f.write(PASSWORD + "\n")
        cli(self.dir, "domain", "add", domain, check=0)
        cli(self.dir, "account", "add", user, "--password-file", pw, check=0)
        self.user = user
        self.daemon = None

    def start(self):
        self.daemon = Daemon(["serve", "--listen-plain", f"127.0.0.1:{self.ports['plain']}",
                              "--listen-tls", f"127.0.0.1:{self.ports['tls']}"], [], data_dir=self.dir).start()
        # Ready when the new daemon answers on its admin socket: after a
        # kill -9 the old listening sockets can outlive the process for a
        # moment (its io_uring is torn down asynchronously), so a port that
        # accepts proves nothing.
        wait_until(lambda: cli(self.dir, "status").returncode == 0, 20, "the daemon to answer")
        for port in (self.ports["mx"], self.ports["submission"]):
            wait_for(self.ip, port)
        return self

    def stop(self):
        rc = self.daemon.stop()
        self.daemon.log.close()
        return rc

    def kill9(self):
        self.daemon.kill9()
        self.daemon.log.close()

    def close(self):
        """The end of a test class: stops the daemon if it still runs and
        removes the data directory (KEEP=1 in the environment keeps it)."""
        if self.daemon and self.daemon.proc.poll() is None:
            self.stop()
        if not os.environ.get("KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def submit(self, recipients, subject, sender=None, mail_options=(), rcpt_options=()):
        msg = (f"From: <{sender or self.user}>\r\nTo: {', '.join('<' + r + '>' for r in recipients)}\r\n"
               f"Subject: {subject}\r\nMessage-ID: <{subject}@client.test>\r\n\r\nHello from {subject}.\r\n"
               ".a line with a leading dot\r\n").encode()
        with smtplib.SMTP(self.ip, self.ports["submission"], timeout=20) as s:
            s.ehlo("client.test")
            s.starttls(context=tls_context())
            s.ehlo("client.test")
            s.login(self.user, PASSWORD)
            refused = s.sendmail(sender or self.user, recipients, msg, mail_options=list(mail_options),
                                 rcpt_options=list(rcpt_options))
            return refused

    def queue(self):
        p = cli(self.dir, "queue", "list", "--json", check=0)
        return json.loads(p.stdout)

    def inbox(self):
        target = os.path.join(tempfile.mkdtemp(dir=self.dir), "out")
        cli(self.dir, "export", "--account", self.user, "--mailbox", "INBOX", "--format", "maildir", "--to", target,
            check=0)
        out = []
        for sub in ("new", "cur"):
            d = os.path.join(target, sub)
            for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
                with open(os.path.join(d, name), "rb") as f:
                    out.append(f.read())
        return out


def wait_for(ip, port, timeout=10.0):
    import socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((ip, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {ip}:{port}")


class Outbound(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mx_port = free_port()
        cls.dns_port = free_dns_port()
        verify = "[msgauth]\nverify_inbound = true\n"
        cls.a = Instance("127.0.0.2", "alpha.test", "ann@alpha.test", cls.mx_port, cls.dns_port, verify)
        cls.b = Instance("127.0.0.3", "beta.test", "bob@beta.test", cls.mx_port, cls.dns_port, verify)
        txt = []
        for inst, algorithm in ((cls.a, "rsa"), (cls.b, "ed25519")):
            domain = inst.ports["domain"]
            name, strings = generate_dkim_key(inst.dir, domain, algorithm)
            txt += [(domain, "v=spf1 mx -all"), (name, ",".join(strings)), ("_dmarc." + domain, "v=DMARC1; p=reject")]
        cls.dns = Dnsmasq(cls.dns_port,
                          mx=[("alpha.test", "mx.alpha.test", 10), ("beta.test", "mx.beta.test", 10),
                              ("sink.test", "mx.sink.test", 10), ("silent.test", "mx.silent.test", 10),
                              ("chunk.test", "mx.chunk.test", 10)],
                          hosts=[("mx.alpha.test", "127.0.0.2"), ("mx.beta.test", "127.0.0.3"),
                                 ("mx.sink.test", "127.0.0.4"), ("mx.silent.test", "127.0.0.5"),
                                 ("mx.chunk.test", "127.0.0.7")],
                          txt=txt)
        cls.first_data = {}

        def rcpt_reply(address):
            if address.startswith("bad@"):
                return "550 5.1.1 <" + address + ">: user unknown"
            if address.startswith("later"):
                return "451 4.3.0 try again later"
            return "250 2.1.5 ok"

        def data_delay(rcpts):
            # The first DATA for slow@ takes long: the sender is killed then.
            if "slow@sink.test" in rcpts and not cls.first_data.get("slow"):
                cls.first_data["slow"] = True
                return 4
            return 0

        cls.sink = Sink("127.0.0.4", cls.mx_port, rcpt_reply=rcpt_reply, data_delay=data_delay)
        cls.silent = Sink("127.0.0.5", cls.mx_port, greet=False)
        cls.chunk_sink = Sink("127.0.0.7", cls.mx_port,
                              ehlo_lines=["PIPELINING", "8BITMIME", "SIZE 10000000", "ENHANCEDSTATUSCODES", "CHUNKING"])
        cls.a.start()
        cls.b.start()

    @classmethod
    def tearDownClass(cls):
        cls.a.close()
        cls.b.close()
        cls.sink.stop()
        cls.silent.stop()
        cls.chunk_sink.stop()
        cls.dns.stop()

    def queued(self, address):
        return [m for m in self.a.queue() if any(r["address"] == address for r in m["recipients"])]

    def assert_authenticated(self, raw, domain, algorithm):
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        signature = " ".join((msg["DKIM-Signature"] or "").split())
        self.assertIn(f"a={algorithm}-sha256", signature)
        self.assertIn("c=relaxed/relaxed", signature)
        self.assertIn(f"d={domain};", signature)
        results = " ".join((msg["Authentication-Results"] or "").split())
        self.assertRegex(results, rf"spf=pass[^;]* smtp\.mailfrom=\S*{re.escape(domain)}")
        self.assertRegex(results, rf"dkim=pass[^;]* header\.d={re.escape(domain)}")
        self.assertRegex(results, rf"dmarc=pass \(p=reject dis=none\) header\.from={re.escape(domain)}")

    def test_1_mail_reaches_the_other_instance(self):
        # A -> B: signed with A's RSA key, verified by B; B -> A: Ed25519.
        self.a.submit(["bob@beta.test"], "alpha-to-beta")
        self.b.submit(["ann@alpha.test"], "beta-to-alpha")
        wait_until(lambda: not self.queued("bob@beta.test"), 20, "A's queue to deliver to beta.test")
        wait_until(lambda: not [m for m in self.b.queue()], 20, "B's queue to deliver to alpha.test")
        self.assertIn("outbound_delivered", self.a.daemon.output())
        self.assertIn("dkim_signed", self.a.daemon.output())
        self.assertEqual(self.b.stop(), 0)
        found = [m for m in self.b.inbox() if b"Subject: alpha-to-beta" in m]
        self.b.start()
        self.assertEqual(len(found), 1, "exactly one copy in bob's INBOX")
        self.assertIn(b"Received: from", found[0])
        self.assertIn(b"\n.a line with a leading dot", found[0].replace(b"\r\n", b"\n"))
        self.assert_authenticated(found[0], "alpha.test", "rsa")
        # ringmail's MX offers CHUNKING: the message went as BDAT.
        delivered = [l for l in self.a.daemon.output().splitlines()
                     if "outbound_delivered" in l and "bob@beta.test" in l]
        self.assertTrue(delivered)
        self.assertIn("transfer=bdat", delivered[0])
        self.assertEqual(self.a.stop(), 0)
        found = [m for m in self.a.inbox() if b"Subject: beta-to-alpha" in m]
        self.a.start()
        self.assertEqual(len(found), 1, "exactly one copy in ann's INBOX")
        self.assert_authenticated(found[0], "beta.test", "ed25519")

    def test_1b_chunking_to_a_scripted_server(self):
        self.a.submit(["one@chunk.test", "two@chunk.test"], "chunked")
        got = wait_until(lambda: self.chunk_sink.received_by("one@chunk.test"), 20, "the BDAT sink to receive")
        self.assertEqual(len(got), 1)
        self.assertEqual(sorted(got[0][1]), ["one@chunk.test", "two@chunk.test"])
        data = got[0][2]
        # BDAT carries the content as is: no dot-stuffing, no terminating dot.
        self.assertIn(b"\r\n.a line with a leading dot\r\n", data)
        self.assertTrue(data.endswith(b".a line with a leading dot\r\n"), data[-80:])
        self.assertIn(b"DKIM-Signature:", data)
        commands = [l for t in self.chunk_sink.transcripts for l in t if l.startswith("C: ")]
        self.assertIn(f"C: BDAT {len(data)} LAST", commands)
        self.assertNotIn("C: DATA", commands)

    def test_2_one_of_two_recipients_refused(self):
        self.a.submit(["good@sink.test", "bad@sink.test"], "partial")
        wait_until(lambda: self.sink.received_by("good@sink.test"), 20, "good@ to receive")
        wait_until(lambda: not self.queued("bad@sink.test"), 20, "the message to leave the queue")
        got = self.sink.received_by("good@sink.test")
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0][0], "ann@alpha.test")
        self.assertEqual(got[0][1], ["good@sink.test"])

    def test_3_transient_failures_retry_then_warn_then_expire(self):
        self.a.submit(["later@sink.test"], "expiring", rcpt_options=["NOTIFY=FAILURE,DELAY"])
        entry = wait_until(lambda: [m for m in self.queued("later@sink.test") if m["attempts"] >= 2], 20,
                           "two attempts")[0]
        self.assertIn("451", entry["recipients"][0]["last"])
        wait_until(lambda: not self.queued("later@sink.test"), 30, "expiry")

    def test_4_silent_server_times_out_and_admin_controls(self):
        self.a.submit(["x@silent.test"], "silent")
        entry = wait_until(lambda: [m for m in self.queued("x@silent.test") if m["attempts"] >= 1
                                    and m["recipients"][0]["last"]], 20, "an attempt")[0]
        self.assertIn("timeout", entry["recipients"][0]["last"])
        qid = entry["id"]
        cli(self.a.dir, "queue", "hold", qid, check=0)
        self.assertEqual(self.queued("x@silent.test")[0]["status"], "held")
        shown = cli(self.a.dir, "queue", "show", qid, check=0).stdout
        self.assertIn("held: yes", shown)
        self.assertIn("x@silent.test", shown)
        cli(self.a.dir, "queue", "release", qid, check=0)
        cli(self.a.dir, "queue", "retry", qid, check=0)
        cli(self.a.dir, "queue", "remove", qid, check=0)
        wait_until(lambda: not self.queued("x@silent.test"), 10, "removal")
        self.assertEqual(cli(self.a.dir, "queue", "show", qid).returncode, 1)

    def test_5_kill9_never_resends_a_delivered_recipient(self):
        self.a.submit(["once@sink.test", "later2@sink.test"], "once")
        wait_until(lambda: self.sink.received_by("once@sink.test"), 20, "once@ to receive")
        # The daemon logs the delivery once its delivered mark is durable
        # (a fixed 0.3 s after the sink had the message was assumed).
        wait_until(lambda: any("event=outbound_delivered" in l and "to=once@sink.test" in l
                               for l in self.a.daemon.output().splitlines()), 20, "the durable delivered mark")
        attempts = self.queued("later2@sink.test")[0]["attempts"]
        self.a.kill9()
        before = len(self.sink.transcripts)
        self.a.start()
        wait_until(lambda: [m for m in self.queued("later2@sink.test") if m["attempts"] >= attempts + 2], 20,
                   "retries after the restart")
        self.assertEqual(len(self.sink.received_by("once@sink.test")), 1)
        after = "\n".join(line for t in self.sink.transcripts[before:] for line in t)
        self.assertIn("RCPT TO:<later2@sink.test>", after)
        self.assertNotIn("once@sink.test", after)

    def test_6_kill9_mid_delivery_loses_nothing(self):
        self.a.submit(["slow@sink.test"], "slow")
        wait_until(lambda: self.first_data.get("slow"), 20, "the slow DATA to start")
        self.a.kill9()
        self.a.start()
        wait_until(lambda: not self.queued("slow@sink.test") and self.sink.received_by("slow@sink.test"), 30,
                   "delivery after the restart")
        # Delivered once, or twice (the first 250 came after the kill): never lost.
        self.assertIn(len(self.sink.received_by("slow@sink.test")), (1, 2))

    def test_7_send_limit_strikes_suspend_the_account(self):
        pw = os.path.join(self.a.dir, "pw")
        cli(self.a.dir, "account", "add", "spam@alpha.test", "--password-file", pw, check=0)
        cli(self.a.dir, "account", "set", "spam@alpha.test", "--send-messages-per-hour", "1", check=0)

        def mail_from():
            with smtplib.SMTP(self.a.ip, self.a.ports["submission"], timeout=20) as s:
                s.ehlo("client.test")
                s.starttls(context=tls_context())
                s.ehlo("client.test")
                s.login("spam@alpha.test", PASSWORD)
                return s.mail("spam@alpha.test")

        self.assertEqual(mail_from()[0], 250)
        for _ in range(3):
            code, text = mail_from()
            self.assertEqual(code, 451, text)
            self.assertIn(b"Sending limit reached", text)
        code, text = mail_from()
        self.assertEqual(code, 550, text)
        self.assertIn(b"suspended", text)
        self.assertIn("sending_suspended", self.a.daemon.output())
        cli(self.a.dir, "account", "unsuspend", "spam@alpha.test", check=0)
        self.assertEqual(mail_from()[0], 451, "back to the plain rate limit")

    def test_8_utf8_address_to_a_server_without_smtputf8_bounces(self):
        # The sink does not offer SMTPUTF8: the client refuses before MAIL
        # (553 5.6.7), the recipient fails at once with a DSN (test_9 reads it).
        self.a.submit(["jörg@sink.test"], "utf8-bounce", mail_options=["SMTPUTF8"])
        wait_until(lambda: not self.queued("jörg@sink.test"), 20, "the UTF-8 recipient to leave the queue")
        self.assertFalse(self.sink.received_by("jörg@sink.test"))
        failed = [l for l in self.a.daemon.output().splitlines() if "outbound_failed" in l and "5.6.7" in l]
        self.assertTrue(failed, "the failure is logged with 5.6.7")

    def test_9_bounces_are_rfc3464_reports_to_the_submitter(self):
        wait_until(lambda: not self.queued("later@sink.test") and not self.queued("bad@sink.test"), 40, "queue")
        self.assertEqual(self.a.stop(), 0)
        messages = [email.message_from_bytes(m, policy=email.policy.default) for m in self.a.inbox()]
        self.a.start()
        reports = [m for m in messages if m.get_content_type() == "multipart/report"]
        self.assertTrue(reports, "ann got delivery reports")

        def status_blocks(report, international=False):
            self.assertEqual(report.get_param("report-type"), "delivery-status")
            parts = list(report.iter_parts())
            self.assertEqual(len(parts), 3)
            self.assertEqual(parts[0].get_content_type(), "text/plain")
            if international:  # RFC 6533: a non-ASCII address needs the global types
                self.assertEqual(parts[1].get_content_type(), "message/global-delivery-status")
                self.assertIn(parts[2].get_content_type(), ("message/global-headers", "message/global"))
            else:
                self.assertEqual(parts[1].get_content_type(), "message/delivery-status")
                self.assertIn(parts[2].get_content_type(), ("text/rfc822-headers", "message/rfc822"))
            raw = parts[1].as_bytes().decode()
            body = raw.split("\n\n", 1)[1]
            return [b for b in body.replace("\r\n", "\n").split("\n\n") if b.strip()]

        partial = [r for r in reports if "bad@sink.test" in r.as_string()]
        self.assertEqual(len(partial), 1)
        blocks = status_blocks(partial[0])
        self.assertIn("Reporting-MTA: dns; mx.alpha.test", blocks[0])
        self.assertEqual(len(blocks), 2, "one per-recipient block: only the refused recipient")
        self.assertIn("Final-Recipient: rfc822; bad@sink.test", blocks[1])
        self.assertIn("Action: failed", blocks[1])
        self.assertIn("Status: 5.1.1", blocks[1])
        self.assertIn("Diagnostic-Code: smtp; 550 5.1.1", blocks[1])
        # The returned headers name both (To:), the notification and the
        # status blocks only the refused one.
        human, status = list(partial[0].iter_parts())[:2]
        self.assertNotIn("good@sink.test", human.as_string())
        self.assertNotIn("good@sink.test", status.as_string())
        self.assertIn("ann@alpha.test", str(partial[0]["To"]))

        utf8 = [r for r in reports if "Subject: utf8-bounce" in r.as_string()]
        self.assertEqual(len(utf8), 1, "one bounce for the UTF-8 recipient")
        blocks = status_blocks(utf8[0], international=True)
        self.assertEqual(len(blocks), 2)
        self.assertIn("Final-Recipient: utf-8; ", blocks[1])
        self.assertIn("Action: failed", blocks[1])
        self.assertIn("Status: 5.6.7", blocks[1])
        self.assertIn("does not support SMTPUTF8", " ".join(blocks[1].split()))  # the field may be folded
        self.assertIn("sink.test", blocks[1])

        later = [r for r in reports if "later@sink.test" in r.as_string()]
        actions = sorted(b.split("Action: ")[1].split("\n")[0] for r in later for b in status_blocks(r)[1:])
        self.assertEqual(actions, ["delayed", "failed"], "a delay warning first, then the expiry bounce")


class QueueFlush(unittest.TestCase):
    """`ringmail queue flush`: every waiting message is tried at once (the
    operator fixed the far side), held ones stay put. Retries here are an
    hour apart, so a delivery within seconds can only be the flush's."""

    @classmethod
    def setUpClass(cls):
        cls.mx_port = free_port()
        cls.dns_port = free_dns_port()
        cls.inst = Instance("127.0.0.6", "gamma.test", "gus@gamma.test", cls.mx_port, cls.dns_port,
                            retry_ms=(3_600_000, 3_600_000))
        cls.dns = Dnsmasq(cls.dns_port, mx=[("far.test", "mx.far.test", 10)], hosts=[("mx.far.test", "127.0.0.8")])
        cls.fixed = False
        cls.sink = Sink("127.0.0.8", cls.mx_port,
                        rcpt_reply=lambda a: "250 2.1.5 ok" if cls.fixed else "451 4.3.0 disk full, try later")
        cls.inst.start()

    @classmethod
    def tearDownClass(cls):
        cls.inst.close()
        cls.sink.stop()
        cls.dns.stop()

    def test_flush_tries_waiting_mail_now_and_leaves_held_mail(self):
        self.inst.submit(["one@far.test"], "flush-one")
        self.inst.submit(["two@far.test"], "flush-two")
        def both_refused():
            q = self.inst.queue()
            refused = [m for m in q if m["attempts"] >= 1 and "451" in m["recipients"][0]["last"]]
            return q if len(q) == 2 and len(refused) == 2 else []
        waiting = wait_until(both_refused, 20, "both messages to be refused once")
        held = next(m["id"] for m in waiting if m["recipients"][0]["address"] == "two@far.test")
        cli(self.inst.dir, "queue", "hold", held, check=0)
        type(self).fixed = True
        out = cli(self.inst.dir, "queue", "flush", check=0).stdout
        self.assertEqual(out, "flush: 1 message(s) to try now\n")
        got = wait_until(lambda: self.sink.received_by("one@far.test"), 20, "the flushed message to arrive")
        self.assertEqual(len(got), 1)
        wait_until(lambda: len(self.inst.queue()) == 1, 20, "the delivered message to leave the queue")
        [left] = self.inst.queue()
        self.assertEqual((left["id"], left["status"], left["attempts"]), (held, "held", 1))
        self.assertEqual(self.sink.received_by("two@far.test"), [])
        # Release tries it at once; then nothing is left to flush.
        cli(self.inst.dir, "queue", "release", held, check=0)
        wait_until(lambda: self.sink.received_by("two@far.test"), 20, "the released message to arrive")
        wait_until(lambda: not self.inst.queue(), 20, "the queue to empty")
        p = cli(self.inst.dir, "queue", "flush", "--json", check=0)
        self.assertEqual(json.loads(p.stdout), {"ok": True, "messages": 0})


if __name__ == "__main__":
    unittest.main()
