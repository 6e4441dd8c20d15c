#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""report_ring_ab.py - the table for bench/ring_ab.sh: two builds' ring
throughput, measured in alternation, as per-round ratios B/A.

Only each round's ratio means anything on this machine (its cross-core
speed drifts by up to 4x between minutes); the median ratio over rounds is
the verdict, and the spread of the rounds says what "within noise" is.

usage: report_ring_ab.py RAW.jsonl OUT.md LABEL_A LABEL_B COMMAND
"""
import sys
from collections import defaultdict

from vcapbench import fmt, jsonl, machine, stats


def main(raw, out, label_a, label_b, command):
    recs = jsonl.read_records(raw)
    pts = defaultdict(dict)  # (size, round) -> who -> Mpps
    for r in recs:
        res = r["result"]
        mpps = res["mpps"] if "mpps" in res else res.get("pps", 0) / 1e6
        pts[(int(r["size"]), r["round"])][r["system"]] = mpps
    sizes = sorted({s for s, _ in pts})
    lines = ["# Ring throughput: two builds side by side", "",
             machine.provenance(command, raw.split("/")[-1]), "",
             f"vcapd (synth source, capture thread on CPU 0) into one ring read by "
             f"`vcapcount` on CPU 1, flat out, {label_a} and {label_b} alternating "
             f"within each round; the bare-ring probe (Mpps, 64 B) labels the "
             f"machine's state around each pair.  Ratio = {label_b} / {label_a} "
             f"of the same round.", ""]
    for size in sizes:
        rounds = sorted(rd for s, rd in pts if s == size)
        lines += [f"## {size}-byte frames", ""]
        lines += fmt.header(["round", "probe before", f"{label_a} Mpps", f"{label_b} Mpps",
                             "probe after", f"{label_b} / {label_a}"],
                            ["r", "r", "r", "r", "r", "r"])
        ratios = []
        for rd in rounds:
            p = pts[(size, rd)]
            a, b = p.get(label_a), p.get(label_b)
            ratio = b / a if a and b else None
            if ratio is not None:
                ratios.append(ratio)
            lines.append(fmt.row([str(rd), f"{p.get('probe-before', 0):.1f}",
                                  f"{a:.2f}" if a else fmt.MISSING,
                                  f"{b:.2f}" if b else fmt.MISSING,
                                  f"{p.get('probe-after', 0):.1f}",
                                  fmt.times(ratio, 3) if ratio else fmt.MISSING]))
        if ratios:
            lines += ["", f"Median {label_b} / {label_a}: **{fmt.times(stats.median(ratios), 3)}** "
                      f"over {len(ratios)} rounds (range {fmt.times(min(ratios), 3)} to "
                      f"{fmt.times(max(ratios), 3)}).", ""]
    with open(out, "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit(__doc__.strip().splitlines()[-1])
    main(*sys.argv[1:])
