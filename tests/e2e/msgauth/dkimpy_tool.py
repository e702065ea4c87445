"""Signs or verifies a message with dkimpy (Debian's python3-dkim), the
independent implementation the msgauth e2e test checks ringmail against.
Run with Debian's /usr/bin/python3 (where python3-dkim is installed):

  dkimpy_tool.py sign SELECTOR DOMAIN SEED_BASE64 < message > signed
  dkimpy_tool.py verify NAME=RECORD ... < message      (exit 0 = pass)
"""
import sys

import dkim


def main():
    message = sys.stdin.buffer.read()
    if sys.argv[1] == "sign":
        selector, domain, seed = (a.encode() for a in sys.argv[2:5])
        field = dkim.sign(message, selector, domain, seed, signature_algorithm=b"ed25519-sha256",
                          canonicalize=(b"relaxed", b"relaxed"),
                          include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
        sys.stdout.buffer.write(field + message)
        return 0
    records = {}
    for arg in sys.argv[2:]:
        name, record = arg.split("=", 1)
        records[name.rstrip(".") + "."] = record.encode()

    def dnsfunc(name, timeout=5):
        key = name.decode() if isinstance(name, bytes) else name
        return records.get(key.rstrip(".") + ".")

    ok = dkim.verify(message, dnsfunc=dnsfunc)
    print("pass" if ok else "fail")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
