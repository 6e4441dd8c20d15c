#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Sum up meson test logs: print skipped tests, then "N passed, N failed".

    summary.py [--matrix FILE] TESTLOG.json...

FILE (scripts/test.sh's build matrix) has a line "PASS NAME" or
"FAIL NAME" per build; each counts as one test, named build-matrix: NAME.

Exit status 1 if any test failed (or none ran at all)."""
import json
import sys

passed = failed = 0
skipped = []
args = sys.argv[1:]
matrix = None
if args[:1] == ["--matrix"]:
    if len(args) < 2:
        sys.exit("usage: summary.py [--matrix FILE] TESTLOG.json...")
    matrix, args = args[1], args[2:]

for path in args:
    build = path.split("/")[0]
    with open(path) as f:
        for line in f:
            t = json.loads(line)
            r = t["result"]
            if r in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif r == "SKIP":
                skipped.append(f"{build}: {t['name']}")
            else:
                failed += 1
                print(f"FAILED {build}: {t['name']} ({r})")

if matrix is not None:
    try:
        with open(matrix) as f:
            lines = f.read().split("\n")
    except OSError as e:  # the step never ran: that is a failure, not zero builds
        lines = [f"FAIL (no results: {e.strerror})"]
    for line in filter(None, lines):
        verdict, _, name = line.partition(" ")
        if verdict == "PASS":
            passed += 1
        else:
            failed += 1
            print(f"FAILED build-matrix: {name or line} (build)")

for s in skipped:
    print(f"skipped {s}")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed or not passed else 0)
