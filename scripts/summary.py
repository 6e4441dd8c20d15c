#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Sum up meson test logs: print skipped tests, then "N passed, N failed".

Exit status 1 if any test failed (or none ran at all)."""
import json
import sys

passed = failed = 0
skipped = []
for path in sys.argv[1:]:
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
for s in skipped:
    print(f"skipped {s}")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed or not passed else 0)
