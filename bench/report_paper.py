#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""bench/paper's helper: assemble one measurement point, and write the report.

usage: report_paper.py point --meta JSON --t0 T --t1 T --busy0 J --busy1 J --hz HZ
                             --ncpu N [--proc NAME=J0,J1]... [--out NAME=FILE]...
                             [--tapdrop TAP=N]... [--status0 F] [--status1 F]
                             [--sender F] [--errdir D] [--error MSG]
       report_paper.py report RAW.jsonl OUTDIR

`point` prints one JSON line: the meta fields, the window, CPU per process
group in % of one CPU, the whole machine's busy % (of 100 x CPUs), every
vcapd ring's counters over the window (from `vcapctl status --json` before
and after), each source's packets over the window, what each consumer
printed (its --json), what vcapsend printed, tap drops, and any error.

`report` writes README.md, fig11-13.md/.png, fig14-17.md/.png,
fig19-20.md/.png and early-filtering.md/.png into OUTDIR.
"""
# The records are described in docs/bench/schema.md ("paper.jsonl"); the code
# is in bench/vcapbench/paper/, one module per experiment, with the paper's
# claims and the verdicts' thresholds as data in claims.py there.
import sys

from vcapbench.paper.point import point
from vcapbench.paper.report import report

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "point":
        point(sys.argv[2:])
    elif len(sys.argv) > 2 and sys.argv[1] == "report":
        report(*sys.argv[2:4])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
