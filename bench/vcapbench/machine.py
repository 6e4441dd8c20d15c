# SPDX-License-Identifier: BSD-3-Clause
"""The machine a report is written on.  bench/capture.sh, ring.sh and vm.sh
write their report right after measuring, so this is the measuring machine
(bench/paper records its own in its meta record instead)."""
import datetime
import os
import platform


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "?"


def cpu_count():
    return os.cpu_count()


def kernel():
    return platform.release()


def today():
    return datetime.date.today().isoformat()


def provenance(command, raw_name):
    """The line under a report's title: how it was made, and where."""
    return (f"Command: `{command}` (from the repository root).  Raw results: "
            f"`{raw_name}`.  Machine: {cpu_model()}, {cpu_count()} vCPUs, "
            f"Linux {kernel()}; {today()}.\n")
