#!/usr/bin/env python3
"""Checks ringmail's MIME results against Python's email package, part by
part and field by field (compare_python_email.py compares only the type
sequence).

usage: compare_python_email_detail.py MIME_PYREF_DETAIL DIR [MIN_BODY [MIN_FIELDS]]

For every *.eml / *.txt message under DIR, mime_pyref_detail prints the part
tree with byte offsets, the decoded Subject and the addr-specs of From, To
and Cc. For each message whose part types agree with Python's walk():
  - every leaf part's body, sliced from the file at ringmail's offsets,
    must equal Python's undecoded payload (line ends compared without CR);
  - the charset parameter of every part must equal Python's;
and for every message:
  - the RFC 2047-decoded Subject must equal Python's decode_header +
    make_header (whitespace runs collapsed), where Python can decode it;
  - the From/To/Cc addr-specs must equal email.utils.getaddresses().
Prints agreement rates and some disagreements; exits non-zero when the body
or charset agreement is below MIN_BODY (default 0.995) or the subject or
address agreement below MIN_FIELDS (default 0.99). Exit code 77 (skipped)
when DIR holds no messages.
"""
import email
import email.errors
import email.header
import email.policy
import email.utils
import json
import os
import re
import subprocess
import sys


def squash(s):
    return re.sub(r"\s+", " ", s).strip()


def python_subject(msg):
    raw = msg.get("Subject")
    if raw is None:
        return None
    try:
        text = str(email.header.make_header(email.header.decode_header(raw)))
    except (LookupError, UnicodeError, email.errors.HeaderParseError):
        return None  # an unknown charset or a broken word: Python has no answer
    if any(0xDC80 <= ord(c) <= 0xDCFF for c in text):
        return None  # raw 8-bit bytes: Python keeps surrogates, no reference
    return squash(text)


def raw_bytes(payload):
    """Python's undecoded payload back to the file's bytes: the binary
    parser keeps 8-bit bytes as surrogates (or, in some paths, as Latin-1)."""
    out = bytearray()
    for c in payload:
        o = ord(c)
        if 0xDC80 <= o <= 0xDCFF:
            out.append(o - 0xDC00)
        elif o < 256:
            out.append(o)
        else:
            out += c.encode("utf-8")
    return bytes(out)


def walk_with_unterminated(msg, inside=False):
    """walk() order, each part with whether a multipart around it (or it)
    lacks its close delimiter."""
    unterminated = inside or any(isinstance(d, email.errors.CloseBoundaryNotFoundDefect) for d in msg.defects)
    yield msg, unterminated
    if msg.is_multipart():
        for sub in msg.get_payload():
            yield from walk_with_unterminated(sub, unterminated)


def python_addresses(msg, name):
    value = msg.get(name)
    if value is None:
        return []
    if not isinstance(value, str):
        value = str(value)
    return [addr.lower() for _, addr in email.utils.getaddresses([value]) if addr]


class Rate:
    def __init__(self, name):
        self.name, self.total, self.same, self.shown = name, 0, 0, 0

    def check(self, same, where, ours, theirs):
        self.total += 1
        self.same += bool(same)
        if not same and self.shown < 8:
            self.shown += 1
            print(f"{self.name} differs: {where}\n  ringmail: {ours!r}\n  python:   {theirs!r}")

    def value(self):
        return self.same / self.total if self.total else 1.0

    def __str__(self):
        return f"{self.name} {self.same}/{self.total} ({self.value():.4f})"


def main():
    dump, root = sys.argv[1], sys.argv[2]
    min_body = float(sys.argv[3]) if len(sys.argv) > 3 else 0.995
    min_fields = float(sys.argv[4]) if len(sys.argv) > 4 else 0.99
    if not os.path.isdir(root):
        # The SpamAssassin corpus is not fetched (tests/corpus/fetch_spamassassin.sh).
        print(f"skipped: no message directory {root}")
        return 77
    out = subprocess.run([dump, root], check=True, capture_output=True).stdout.decode("utf-8", "replace")
    bodies, charsets, subjects, addresses = Rate("body"), Rate("charset"), Rate("subject"), Rate("address")
    messages = trees = 0
    for line in out.splitlines():
        ours = json.loads(line)
        path = ours["path"]
        where = os.path.relpath(path, root)
        with open(path, "rb") as f:
            data = f.read()
        msg = email.message_from_bytes(data, policy=email.policy.compat32)
        messages += 1
        walked = list(walk_with_unterminated(msg))
        theirs = [part for part, _ in walked]
        if [p["type"] for p in ours["parts"]] == [p.get_content_type() for p in theirs]:
            trees += 1
            for index, (mine, (part, unterminated)) in enumerate(zip(ours["parts"], walked)):
                charset = (part.get_param("charset") or "")
                charset = charset if isinstance(charset, str) else email.utils.collapse_rfc2231_value(charset)
                if part.get("Content-Type") is None and part.get_content_maintype() == "text":
                    charset = "us-ascii"  # RFC 2045 section 5.2's default, which BODYSTRUCTURE reports
                charsets.check(mine["charset"] == charset.lower(), f"{where} part {index}", mine["charset"],
                               charset.lower())
                if part.is_multipart() or mine["type"] == "message/rfc822":
                    continue
                # The raw payload: get_payload() decodes 8-bit text to its
                # charset with replacement characters, which is no reference.
                payload = part._payload
                if not isinstance(payload, str):
                    continue
                python_body = raw_bytes(payload).replace(b"\r", b"")
                our_body = data[mine["body_start"]:mine["body_end"]].replace(b"\r", b"")
                # Known difference: in a multipart that never closes, Python
                # drops the last line end before EOF; ringmail (like Dovecot)
                # keeps the part's bytes up to the end of the message.
                same = our_body == python_body or (unterminated and our_body == python_body + b"\n")
                bodies.check(same, f"{where} part {index}", our_body[-60:], python_body[-60:])
        subject = python_subject(msg)
        if subject is not None and ours["has_subject"]:
            subjects.check(squash(ours["subject"]) == subject, where, squash(ours["subject"]), subject)
        for name in ("From", "To", "Cc"):
            mine = [a.lower() for a in ours[name]]
            addresses.check(mine == python_addresses(msg, name), f"{where} {name}", mine, python_addresses(msg, name))
    if messages == 0:
        print("no messages found")
        return 77
    print(f"{messages} messages, {trees} with the same part types; {bodies}; {charsets}; {subjects}; {addresses}")
    ok = bodies.value() >= min_body and charsets.value() >= min_body
    ok = ok and subjects.value() >= min_fields and addresses.value() >= min_fields
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
