#!/usr/bin/env python3
"""Keeps docs/api.md and the files it shows identical.

Every fenced block in the document that follows a line
    <!-- file: PATH -->
must hold exactly the contents of PATH (relative to the repository root),
and every file under tests/api/examples/ must be shown so.  With --write,
the blocks are rewritten from the files instead of checked.

Usage: check-doc.py ROOT [--write]
"""
import os
import re
import sys


def main():
    root = sys.argv[1]
    write = "--write" in sys.argv[2:]
    doc_path = os.path.join(root, "docs", "api.md")
    with open(doc_path) as f:
        lines = f.read().split("\n")

    out, shown, errors = [], set(), []
    i = 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        m = re.match(r"^<!-- file: (\S+) -->$", line)
        i += 1
        if not m:
            continue
        rel = m.group(1)
        shown.add(rel)
        if i >= len(lines) or not lines[i].startswith("```"):
            errors.append(f"{doc_path}:{i}: no fenced block after the marker for {rel}")
            continue
        out.append(lines[i])
        j = i + 1
        while j < len(lines) and lines[j] != "```":
            j += 1
        if j >= len(lines):
            errors.append(f"{doc_path}:{i + 1}: unterminated block for {rel}")
            break
        block = "\n".join(lines[i + 1:j]) + "\n"
        try:
            with open(os.path.join(root, rel)) as f:
                content = f.read()
        except OSError as e:
            errors.append(f"{doc_path}:{i}: {rel}: {e.strerror}")
            content = block
        if write:
            out.extend(content.rstrip("\n").split("\n"))
        else:
            out.extend(lines[i + 1:j])
            if block != content:
                errors.append(f"{doc_path}:{i + 1}: the block differs from {rel}")
        out.append("```")
        i = j + 1

    ex_dir = os.path.join(root, "tests", "api", "examples")
    for name in sorted(os.listdir(ex_dir)):
        rel = f"tests/api/examples/{name}"
        if rel not in shown:
            errors.append(f"{rel} is not shown in docs/api.md")

    if write:
        with open(doc_path, "w") as f:
            f.write("\n".join(out))
        print(f"{doc_path}: blocks rewritten from {len(shown)} files")
        return 0
    for e in errors:
        print(e)
    if not errors:
        print(f"docs/api.md: {len(shown)} blocks, identical to their files")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
