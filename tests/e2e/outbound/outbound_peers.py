"""Test peers for outbound delivery: a private dnsmasq serving the test
zones, and a small scripted SMTP sink. Both run on loopback, are started by
the test and stopped by PID (dnsmasq) or by closing their socket (the sink,
a thread of the test process)."""
import os
import signal
import socket
import subprocess
import threading
import time

DNSMASQ = "/usr/sbin/dnsmasq"


class Dnsmasq:
    """dnsmasq on 127.0.0.1:<port> answering for the given records only."""

    def __init__(self, port, mx=(), hosts=(), txt=()):
        self.port = port
        args = [DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                "--bind-interfaces", "--listen-address=127.0.0.1", f"--port={port}", "--pid-file=",
                "--local=/test/"]
        if os.getuid() == 0:
            args.append("--user=nobody")
        args += [f"--mx-host={d},{h},{pref}" for d, h, pref in mx]
        args += [f"--host-record={h},{ip}" for h, ip in hosts]
        args += [f"--txt-record={n},{t}" for n, t in txt]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("dnsmasq exited: " + self.proc.stderr.read().decode(errors="replace"))
            # Ready when it accepts on its TCP port (probing by binding the UDP
            # port would hold it for a moment and make dnsmasq's bind fail).
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("dnsmasq did not start")

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)


class Sink:
    """A scripted SMTP server. `rcpt_reply(address)` and `data_reply(rcpts)`
    decide the answers; `greet=False` makes a server that accepts and never
    says anything. Every accepted message is kept in `messages`
    (envelope sender, recipients, data)."""

    def __init__(self, host, port, rcpt_reply=None, data_reply=None, greet=True, data_delay=None, ehlo_lines=None,
                 tls=None):
        self.messages = []
        self.transcripts = []
        self.rcpt_reply = rcpt_reply or (lambda a: "250 2.1.5 ok")
        self.data_reply = data_reply or (lambda r: "250 2.0.0 queued")
        self.data_delay = data_delay or (lambda r: 0)
        self.greet = greet
        self.ehlo_lines = ehlo_lines or ["PIPELINING", "8BITMIME", "SIZE 10000000", "ENHANCEDSTATUSCODES"]
        self.tls = tls  # an ssl.SSLContext (server side): STARTTLS is offered
        if tls:
            self.ehlo_lines = self.ehlo_lines + ["STARTTLS"]
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.open = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            # Each reply line is its own send: without TCP_NODELAY, Nagle
            # holds a pipelined group's second reply until the sender's
            # delayed ACK (~40 ms), a stall no real server has (they flush
            # a group's replies at once).
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.open.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        f = conn.makefile("rb")
        log = []
        self.transcripts.append(log)

        def send(line):
            log.append("S: " + line)
            conn.sendall(line.encode() + b"\r\n")
        try:
            if not self.greet:
                while conn.recv(4096):
                    pass
                return
            send("220 sink.test ESMTP")
            sender, rcpts, bdat = None, [], None
            while True:
                line = f.readline()
                if not line:
                    return
                cmd = line.decode(errors="replace").rstrip("\r\n")
                log.append("C: " + cmd)
                verb = cmd[:4].upper()
                if verb == "EHLO":
                    lines = ["sink.test"] + self.ehlo_lines
                    for l in lines[:-1]:
                        send("250-" + l)
                    send("250 " + lines[-1])
                elif cmd.upper() == "STARTTLS" and self.tls:
                    send("220 2.0.0 ready")
                    conn = self.tls.wrap_socket(conn, server_side=True)
                    f = conn.makefile("rb")
                    log.append("TLS " + conn.version())
                elif verb == "HELO":
                    send("250 sink.test")
                elif verb == "MAIL":
                    sender = cmd[cmd.index("<") + 1:cmd.index(">")]
                    rcpts = []
                    send("250 2.1.0 ok")
                elif verb == "RCPT":
                    addr = cmd[cmd.index("<") + 1:cmd.index(">")]
                    reply = self.rcpt_reply(addr)
                    if reply.startswith("2"):
                        rcpts.append(addr)
                    send(reply)
                elif verb == "DATA":
                    if not rcpts:
                        send("554 5.5.1 no valid recipients")
                        continue
                    send("354 go ahead")
                    data = b""
                    while True:
                        l = f.readline()
                        if not l:
                            return
                        if l == b".\r\n":
                            break
                        data += l[1:] if l.startswith(b"..") else l
                    delay = self.data_delay(rcpts)
                    if delay:
                        time.sleep(delay)
                    reply = self.data_reply(rcpts)
                    if reply.startswith("2"):
                        with self.lock:
                            self.messages.append((sender, list(rcpts), data))
                    send(reply)
                elif verb == "BDAT" and "CHUNKING" in self.ehlo_lines:
                    # RFC 3030: "BDAT <size> [LAST]", then exactly <size> octets.
                    parts = cmd.split()
                    size, last = int(parts[1]), len(parts) > 2 and parts[2].upper() == "LAST"
                    chunk = f.read(size)
                    if len(chunk) < size:
                        return
                    bdat = (bdat if bdat is not None else b"") + chunk
                    if not last:
                        send(f"250 2.0.0 {size} octets received")
                        continue
                    data, bdat = bdat, None
                    if not rcpts:
                        send("554 5.5.1 no valid recipients")
                        continue
                    reply = self.data_reply(rcpts)
                    if reply.startswith("2"):
                        with self.lock:
                            self.messages.append((sender, list(rcpts), data))
                    send(reply)
                elif verb == "RSET":
                    sender, rcpts = None, []
                    send("250 2.0.0 ok")
                elif verb == "QUIT":
                    send("221 2.0.0 bye")
                    return
                elif verb == "NOOP":
                    send("250 2.0.0 ok")
                else:
                    send("502 5.5.2 not implemented")
        except OSError:
            return
        finally:
            conn.close()

    def received_by(self, address):
        with self.lock:
            return [m for m in self.messages if address in m[1]]

    def stop(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for c in self.open:
            try:
                c.shutdown(socket.SHUT_RDWR)
                c.close()
            except OSError:
                pass


class Postfix:
    """A private Postfix (Debian's binaries, never the system instance): its
    own config dir, queue and maildirs under `root`, smtpd on ip:port with
    STARTTLS (a throwaway self-signed certificate), virtual mailboxes for
    `domain`, and `relay` (domain -> "[ip]:port") for mail it passes on.
    The master runs in the foreground (-d) as our child and is stopped by
    its PID; it logs to its stdout (maillog_file = /dev/stdout)."""

    MASTER = "/usr/lib/postfix/sbin/master"

    def __init__(self, root, ip, port, domain, relay=None):
        import pwd
        import grp
        self.root = root
        self.mail = os.path.join(root, "mail")
        conf, queue, data = (os.path.join(root, d) for d in ("conf", "queue", "data"))
        # Postfix's daemons run as the postfix user: they must reach in.
        os.chmod(root, 0o755)
        for d in (conf, queue, data, self.mail):
            os.makedirs(d, exist_ok=True)
        pw = pwd.getpwnam("postfix")
        postdrop = grp.getgrnam("postdrop").gr_gid
        os.chown(data, pw.pw_uid, pw.pw_gid)
        os.chown(self.mail, pw.pw_uid, pw.pw_gid)
        for d in ("active", "bounce", "corrupt", "defer", "deferred", "flush", "hold", "incoming", "private",
                  "saved", "trace"):
            p = os.path.join(queue, d)
            os.makedirs(p, exist_ok=True)
            os.chown(p, pw.pw_uid, 0)
            os.chmod(p, 0o700)
        for d, mode in (("maildrop", 0o730), ("public", 0o710)):
            p = os.path.join(queue, d)
            os.makedirs(p, exist_ok=True)
            os.chown(p, pw.pw_uid, postdrop)
            os.chmod(p, mode)
        os.makedirs(os.path.join(queue, "pid"), exist_ok=True)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", os.path.join(conf, "key.pem"), "-out", os.path.join(conf, "cert.pem"), "-days", "2",
                        "-subj", f"/CN=mx.{domain}"], check=True, capture_output=True)
        transport = ""
        if relay:
            transport = "relay_domains = " + ",".join(relay) + "\ntransport_maps = inline:{" + \
                ",".join(f"{d}=smtp:{t}" for d, t in relay.items()) + "}\n"
        with open(os.path.join(conf, "main.cf"), "w") as f:
            f.write(f"""compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = all
inet_protocols = ipv4
myhostname = mx.{domain}
mydestination =
mynetworks = 127.0.0.0/8
virtual_mailbox_domains = {domain}
virtual_mailbox_base = {self.mail}
virtual_mailbox_maps = static:{domain}/
virtual_uid_maps = static:{pw.pw_uid}
virtual_gid_maps = static:{pw.pw_gid}
maillog_file = /dev/stdout
smtpd_tls_security_level = may
smtpd_tls_cert_file = {conf}/cert.pem
smtpd_tls_key_file = {conf}/key.pem
smtpd_tls_loglevel = 1
smtp_tls_security_level = may
smtp_tls_loglevel = 1
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtp_dns_support_level = disabled
{transport}""")
        # Debian's master.cf with our smtpd address and no chroot (the queue
        # is ours, not /var/spool/postfix).
        out = []
        with open("/etc/postfix/master.cf") as f:
            for line in f:
                fields = line.split()
                if line.startswith("smtp ") and len(fields) > 1 and fields[1] == "inet":
                    out.append(f"{ip}:{port} inet n - n - - smtpd\n")
                elif line[:1] in ("#", " ", "\t", "\n") or len(fields) < 8:
                    out.append(line)
                else:
                    fields[4] = "n"
                    out.append(" ".join(fields) + "\n")
        with open(os.path.join(conf, "master.cf"), "w") as f:
            f.writelines(out)
        self.log_path = os.path.join(root, "postfix.log")
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.MASTER, "-c", conf, "-d"], stdout=self.log, stderr=subprocess.STDOUT,
                                     cwd=root)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("postfix master exited: " + self.output())
            try:
                with socket.create_connection((ip, port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("postfix did not start")

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def messages(self):
        out = []
        for dirpath, _, names in os.walk(self.mail):
            for n in sorted(names):
                with open(os.path.join(dirpath, n), "rb") as f:
                    out.append(f.read())
        return out

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()
