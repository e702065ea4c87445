#!/usr/bin/env python3
"""Compares ringmail's MIME part tree with Python's email package.

usage: compare_python_email.py MIME_PYREF_DUMP DIR [MIN_AGREEMENT]

For every *.eml / *.txt message under DIR, both parsers list the content
types of all parts in pre-order (Python: Message.walk(), which also enters
message/rfc822). Prints the agreement rates on part count and on the full
type sequence, lists some disagreements, and exits non-zero when the type
agreement is below MIN_AGREEMENT (default 0.9).

Known, deliberate differences: a multipart without a boundary is text/plain
for ringmail (Python keeps multipart/*); ringmail follows Dovecot's boundary
rules (prefix match, longest wins), Python needs the line to be exactly the
boundary plus blanks; Python ends a header block at the first line without a
colon, ringmail skips such lines; a message/rfc822 with base64 encoding is a
leaf for ringmail.
"""
import email
import email.policy
import os
import subprocess
import sys


def python_types(path):
    with open(path, 'rb') as f:
        msg = email.message_from_binary_file(f, policy=email.policy.compat32)
    return [part.get_content_type() for part in msg.walk()]


def main():
    dump, root = sys.argv[1], sys.argv[2]
    minimum = float(sys.argv[3]) if len(sys.argv) > 3 else 0.9
    out = subprocess.run([dump, root], check=True, capture_output=True).stdout.decode('utf-8', 'replace')
    total = same_count = same_types = 0
    shown = 0
    for line in out.splitlines():
        path, _, types = line.partition('\t')
        ours = types.split(' ') if types else []
        theirs = python_types(path)
        total += 1
        same_count += len(ours) == len(theirs)
        if ours == theirs:
            same_types += 1
        elif shown < 15:
            shown += 1
            print(f'differs: {os.path.relpath(path, root)}\n  ringmail: {ours[:12]}\n  python:   {theirs[:12]}')
    if total == 0:
        print('no messages found')
        return 1
    print(f'{total} messages: part count agrees {same_count / total:.4f}, '
          f'type sequence agrees {same_types / total:.4f}')
    return 0 if same_types / total >= minimum else 1


if __name__ == '__main__':
    sys.exit(main())
