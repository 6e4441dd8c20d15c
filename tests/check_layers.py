#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""check_layers.py - fail if a folder includes a header from a folder above it.

docs/architecture.md draws the layers; this is the same table, checked.
Each folder may include headers from the folders listed for it (and its
own).  include/ holds the contracts everyone may use, except that ring/,
the bottom, sees only the ring's own layout.  Inside daemon/, the request
and capture code must not know which carrier a session uses: only the
composition (main.c, config.c, reload.c, upgrade.c) and the carriers themselves include a
carrier's header.

Usage: check_layers.py SOURCE_DIR
"""
import os
import re
import sys

# folder -> folders whose headers it may include (besides its own)
ALLOWED = {
    "include": set(),
    "ring": {"include:vcap_ring.h"},
    "proto": {"include"},
    "transport": {"include"},
    "guest": {"include"},
    "source": {"include", "ring"},
    "lib": {"include", "ring", "proto", "transport", "source", "guest"},
    "daemon": {"include", "ring", "proto", "transport", "source"},
    "guestd": {"include", "ring", "proto", "transport", "source", "guest", "lib"},
    "tools": {"include", "ring", "proto", "transport", "source"},
    "pcap": {"include:vcap.h"},
}

# daemon/: carrier headers, and the only files that may include them
CARRIERS = {"vm.h", "session_unix.h"}
CARRIER_USERS = {"main.c", "config.c", "reload.c", "upgrade.c", "vm.c", "session_unix.c"}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def main():
    top = sys.argv[1] if len(sys.argv) > 1 else "."
    home = {}  # header basename -> folder
    for folder in ALLOWED:
        for dirpath, _, names in os.walk(os.path.join(top, folder)):
            for n in names:
                if n.endswith(".h"):
                    home.setdefault(n, folder)
    errors = []
    checked = 0
    for folder, allowed in ALLOWED.items():
        for dirpath, _, names in os.walk(os.path.join(top, folder)):
            for n in sorted(names):
                if not n.endswith((".c", ".h")):
                    continue
                path = os.path.join(dirpath, n)
                with open(path, encoding="utf-8", errors="replace") as f:
                    text = f.read()
                for inc in INCLUDE.findall(text):
                    checked += 1
                    h = os.path.basename(inc)
                    owner = home.get(h)
                    rel = os.path.relpath(path, top)
                    if owner is None or owner == folder:
                        if folder == "daemon" and h in CARRIERS and n not in CARRIER_USERS:
                            errors.append(f"{rel}: includes carrier header {h}; only "
                                          f"{', '.join(sorted(CARRIER_USERS))} may")
                        continue
                    if owner in allowed or f"{owner}:{h}" in allowed:
                        continue
                    errors.append(f"{rel}: includes {owner}/{h}, above {folder}/ "
                                  f"(allowed: {', '.join(sorted(allowed)) or 'nothing'})")
    for e in errors:
        print(e)
    print(f"{checked} includes checked, {len(errors)} against the layers")
    return 1 if errors or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
