#!/usr/bin/env python3
"""Checks the dependency rule of docs/ARCHITECTURE.md on every #include:

    appliance -> protocols, store, filter, kernel_io
    protocols -> kernel_io            (pure parsers: kernel_io/base only)
    filter    -> protocols/mime, protocols/common (pure parsers only), kernel_io/base
    store     -> kernel_io
    kernel_io -> nothing
Nothing includes appliance. A violation prints the file, the line and the rule."""
import os
import re
import sys

root = sys.argv[1]
modules = ["kernel_io", "protocols", "store", "filter", "appliance"]
allowed = {
    "kernel_io": ["kernel_io/"],
    "protocols": ["protocols/", "kernel_io/"],
    "store": ["store/", "kernel_io/"],
    "filter": ["filter/", "protocols/mime/", "protocols/common/", "kernel_io/base/"],
    "appliance": ["appliance/", "protocols/", "store/", "filter/", "kernel_io/"],
}
# Pure parser folders: no runtime beyond kernel_io/base.
pure_dirs = ["protocols/mime/", "protocols/common/", "protocols/smtp/parser/", "protocols/imap/parser/", "protocols/imap/search/",
             "protocols/pop3/parser/", "protocols/tls/"]
# GCC 12 at -O2 miscompiles `co_return co_await expr;` with a class-type
# result (a coroutine never resumes; clang and -O0 are fine): write
# `auto v = co_await expr; co_return v;` instead. docs/ARCHITECTURE.md,
# "Toolchain notes".
co_return_await_re = re.compile(r"co_return\s+co_await\b")
include_re = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


def conditional_in_await_args(source):
    """Line numbers of `co_await f(... a ? b : c ...)`: GCC 12 destroys a
    temporary made by such a conditional twice (double free). Compute the
    argument into a local first. docs/ARCHITECTURE.md, "Toolchain notes"."""
    lines = []
    for m in re.finditer(r"\bco_await\s+[\w:.>\-]+\s*\(", source):
        depth, k = 0, m.end() - 1
        while k < len(source):
            depth += {"(": 1, ")": -1}.get(source[k], 0)
            if depth == 0:
                break
            k += 1
        args = re.sub(r'"(\\.|[^"\\])*"', '""', source[m.end():k])
        args = re.sub(r"'(\\.|[^'\\])*'", "''", args).replace("::", "")
        if re.search(r"\?[^:;]*:", args):
            lines.append(source.count("\n", 0, m.start()) + 1)
    return lines

violations, files = [], 0
for module in modules:
    for dirpath, _, names in os.walk(os.path.join(root, module)):
        for name in names:
            if not name.endswith((".h", ".hpp", ".cpp", ".cc")):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            files += 1
            with open(path, encoding="utf-8", errors="replace") as f:
                source = f.read()
            for lineno in conditional_in_await_args(source):
                violations.append(f"{rel}:{lineno}: `?:` inside co_await arguments (GCC 12 frees its temporary "
                                  "twice; compute it into a local first)")
            for lineno, line in enumerate(source.splitlines(), 1):
                if co_return_await_re.search(line) and not line.lstrip().startswith("//"):
                    violations.append(f"{rel}:{lineno}: `co_return co_await` (GCC 12 miscompiles it; split it)")
                m = include_re.match(line)
                if not m:
                    continue
                target = m.group(1)
                if "/" not in target or target.split("/")[0] not in modules:
                    continue  # a sibling include or a system header
                if not any(target.startswith(p) for p in allowed[module]):
                    violations.append(f"{rel}:{lineno}: {module} may not include {target}")
                if any(rel.startswith(p) for p in pure_dirs) and target.startswith("kernel_io/") \
                        and not target.startswith("kernel_io/base/"):
                    violations.append(f"{rel}:{lineno}: a pure parser may not include the runtime ({target})")
print(f"checked {files} files")
for v in violations:
    print(v)
sys.exit(1 if violations or files == 0 else 0)
