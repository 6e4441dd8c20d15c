#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""report_tenants.py - the table for bench/tenants.sh: tenant A's capture
rate alone and while tenant B holds its most expensive ring, per round and
as medians, with each ring's cost per packet as vcapctl status shows it.

usage: report_tenants.py RAW.jsonl OUT.md PPS HOSTS FILTER_BYTES COMMAND
"""
import sys
from collections import defaultdict

from vcapbench import fmt, jsonl, machine, stats


def point(res):
    """(A's delivered pps, A's drops, A's ns/pkt, B's ns/pkt) of one record."""
    a = res["a"]
    cost = {"a": None, "b": None}
    for r in res["status"]["rings"]:
        who = r.get("tenant")
        if who in cost and r["received"]:
            cost[who] = r["filter_ns"] / r["received"]
    return a["delivered"] / a["seconds"], a["dropped"], cost["a"], cost["b"]


def ns(x):
    return f"{x:.0f}" if x is not None else fmt.MISSING


def main(raw, out, pps, hosts, filter_bytes, command):
    pts = defaultdict(dict)  # (mode, round) -> condition -> point
    for r in jsonl.read_records(raw):
        pts[(r["mode"], r["round"])][r["condition"]] = point(r["result"])
    lines = ["# Tenant isolation: what one tenant's filtering costs another", "",
             machine.provenance(command, raw.split("/")[-1]), "",
             "One vcapd, two tenants on their own sockets, one synth source (64-byte "
             "frames, capture thread on CPU 0).  Tenant A: `vcapcount host:s` on CPU 1, "
             "no filter.  **alone**: A's is the only ring.  **loaded**: tenant B "
             f"meanwhile holds one ring (`bench/tenant_load`) with a {filter_bytes}-byte "
             f"filter ({hosts} `host` terms OR'd, then `net 10.0.0.0/8`, which every "
             "generated packet matches, so each packet walks the whole chain) and 1024 "
             "wildcard rules that never match under default DROP: each packet costs "
             "B's filter and all its rules, and nothing reaches B's ring.  The "
             "conditions alternate within each round.  Cost = the ring's `filter_ns / "
             "received` from `vcapctl status` (ns the capture thread spent on the ring's "
             "packets: judging and copying).", ""]
    for mode in ("flat", "paced"):
        rounds = sorted(rd for m, rd in pts if m == mode)
        if not rounds:
            continue
        title = ("flat out (what the capture thread sustains)" if mode == "flat" else
                 f"paced at {int(pps) / 1e6:g} Mpps (a generator that falls behind "
                 "sends less, as a NIC would drop: A below the pace is loss)")
        lines += [f"## Source {title}", ""]
        lines += fmt.header(["round", "A alone kpps", "A alone drops", "A loaded kpps",
                             "A loaded drops", "loaded / alone", "A ns/pkt alone / loaded", "B ns/pkt"],
                            ["r"] * 8)
        ratios, alone, loaded, bcost, acost = [], [], [], [], []
        for rd in rounds:
            p = pts[(mode, rd)]
            al, lo = p.get("alone"), p.get("loaded")
            ratio = lo[0] / al[0] if al and lo and al[0] else None
            if ratio is not None:
                ratios.append(ratio)
            if al:
                alone.append(al[0])
            if lo:
                loaded.append(lo[0])
                if lo[3] is not None:
                    bcost.append(lo[3])
                if lo[2] is not None:
                    acost.append(lo[2])
            lines.append(fmt.row([
                str(rd),
                fmt.kpps(al[0]) if al else fmt.MISSING, str(al[1]) if al else fmt.MISSING,
                fmt.kpps(lo[0]) if lo else fmt.MISSING, str(lo[1]) if lo else fmt.MISSING,
                fmt.times(ratio, 3) if ratio else fmt.MISSING,
                f"{ns(al[2]) if al else fmt.MISSING} / {ns(lo[2]) if lo else fmt.MISSING}",
                ns(lo[3]) if lo else fmt.MISSING]))
        if ratios:
            lines += ["", f"Medians over {len(ratios)} rounds: A alone "
                      f"{fmt.kpps(stats.median(alone))} kpps, loaded "
                      f"{fmt.kpps(stats.median(loaded))} kpps: **{fmt.times(stats.median(ratios), 3)}** "
                      f"(range {fmt.times(min(ratios), 3)} to {fmt.times(max(ratios), 3)}); "
                      f"B costs {ns(stats.median_present(bcost))} ns per packet, "
                      f"A {ns(stats.median_present(acost))} (A's cost: alone / loaded).", ""]
    with open(out, "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) != 7:
        sys.exit(__doc__.strip().splitlines()[-1])
    main(*sys.argv[1:])
