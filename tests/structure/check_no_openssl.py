#!/usr/bin/env python3
"""Fails if any ELF executable or shared library in the build tree links the
system OpenSSL (libssl.so.3 / libcrypto.so.3). BoringSSL's symbols have the
same names: one process holding both is undefined behaviour waiting to
happen, and a target that picked up /usr/include/openssl headers would link
the wrong library without any compiler complaint."""
import os
import subprocess
import sys

build_dir = sys.argv[1]
checked, bad = 0, []
for root, dirs, files in os.walk(build_dir):
    dirs[:] = [d for d in dirs if d not in ("CMakeFiles", "Testing")]
    for name in files:
        path = os.path.join(root, name)
        if not os.access(path, os.X_OK) or os.path.islink(path):
            continue
        with open(path, "rb") as f:
            if f.read(4) != b"\x7fELF":
                continue
        out = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
        checked += 1
        for line in out.splitlines():
            lib = line.strip().split(" ")[0]
            if lib.startswith(("libssl.so.3", "libcrypto.so.3", "libssl.so.1", "libcrypto.so.1")):
                bad.append(f"{path}: {line.strip()}")
            elif ("libssl" in lib or "libcrypto" in lib) and "=>" in line and "/android/" not in line:
                bad.append(f"{path}: {line.strip()}")
print(f"checked {checked} binaries")
if checked == 0:
    print("no binaries found: wrong build directory?")
    sys.exit(1)
for b in bad:
    print("links system OpenSSL:", b)
sys.exit(1 if bad else 0)
