#!/usr/bin/env python3
"""Checks that what a server accepted is what it delivered.

The load generator (bench/load/ringmail-load smtp --manifest FILE) writes one
line per message that got its 250: `id sha256 bytes recipient`. The hash is
over the message from its `X-Bench-Id:` line to the end with CRLF as LF,
because servers put trace headers above it and Maildir keeps LF line ends.
This script hashes every message of a Maildir the same way: every accepted
id must be there exactly once with the same hash.

    bench/verify_arrival.py MAILDIR MANIFEST [MANIFEST...]
"""
import hashlib
import json
import os
import sys


def read_manifests(manifests):
    expected = {}
    for m in manifests:
        if not os.path.exists(m):
            continue
        with open(m) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2:
                    expected[parts[0]] = parts[1]
    return expected


def verify_maildir(path, manifests):
    expected = read_manifests(manifests)
    found, mismatched, duplicates = {}, 0, 0
    for sub in ("new", "cur"):
        d = os.path.join(path, sub)
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            with open(os.path.join(d, name), "rb") as f:
                data = f.read()
            at = data.find(b"X-Bench-Id: ")
            if at < 0:
                continue
            body = data[at:].replace(b"\r\n", b"\n")
            ident = body[12:body.find(b"\n")].decode(errors="replace")
            digest = hashlib.sha256(body).hexdigest()
            if ident in found and ident in expected:
                duplicates += 1  # an accepted message delivered twice
            found[ident] = digest
            if ident in expected and expected[ident] != digest:
                mismatched += 1
    missing = sum(1 for i in expected if i not in found)
    return dict(expected=len(expected), found=len(found), missing=missing, mismatched=mismatched,
                duplicates=duplicates, ok=missing == 0 and mismatched == 0 and duplicates == 0)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    result = verify_maildir(sys.argv[1], sys.argv[2:])
    print(json.dumps(result))
    sys.exit(0 if result["ok"] else 1)
