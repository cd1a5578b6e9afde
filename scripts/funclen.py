#!/usr/bin/env python3
"""Function-length report for `make lint`: the C functions in lib/ and src/ longer than
a limit (80 lines by default), longest first. Information only: always exits 0.

Relies on the house layout (.clang-format, Linux style): a function body opens with a
"{" alone at column 0 and closes with a "}" at column 0. The length counted runs from
the first line of the declarator to the closing brace.

usage: scripts/funclen.py [--max N] [DIR...]   (default: lib src)
"""
import os
import re
import sys

NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")
# Lines that cannot be part of a function's declarator.
STOP = re.compile(r"^\s*$|^#|;\s*$|^}|\*/\s*$|^\s*//")


def functions(path):
    """Yields (name, first_line, length) for each function defined in the file."""
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        if lines[i].rstrip() != "{":
            i += 1
            continue
        # Walk back to the start of the declarator.
        start = i
        while start > 0 and not STOP.search(lines[start - 1]):
            start -= 1
        head = " ".join(lines[start:i])
        m = NAME.search(head)
        end = i + 1
        while end < len(lines) and not lines[end].startswith("}"):
            end += 1
        if m and "=" not in head.split("(")[0]:  # not an initialiser
            yield m.group(1), start + 1, end - start + 1
        i = end + 1


def main(argv):
    limit = 80
    dirs = []
    args = iter(argv)
    for a in args:
        if a == "--max":
            limit = int(next(args))
        elif a in ("-h", "--help"):
            print(__doc__.strip())
            return 0
        else:
            dirs.append(a)
    dirs = dirs or ["lib", "src"]
    long_ones = []
    total = 0
    for d in dirs:
        for root, _, files in os.walk(d):
            for fn in sorted(files):
                if not fn.endswith(".c"):
                    continue
                path = os.path.join(root, fn)
                for name, line, n in functions(path):
                    total += 1
                    if n > limit:
                        long_ones.append((n, path, line, name))
    long_ones.sort(key=lambda t: (-t[0], t[1], t[2]))
    print(f"funclen: {len(long_ones)} of {total} functions in {' '.join(dirs)} "
          f"are over {limit} lines")
    for n, path, line, name in long_ones:
        print(f"  {n:5d}  {path}:{line}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
