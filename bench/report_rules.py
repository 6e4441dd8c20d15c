#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""report_rules.py - the table for bench/rules.sh: the latency of each rule
and flow call, on an idle and on a busy vcapd.

Each run gives a call's median and 99th percentile over its N calls; the
table gives, per call and load, the median of those over rounds, and the
range of the per-round medians.

usage: report_rules.py RAW.jsonl OUT.md COMMAND
"""
import sys
from collections import defaultdict

from vcapbench import fmt, jsonl, machine, stats

CALLS = [("flow_add", "vcap_flow_add"), ("flow_hits", "vcap_flow_hits"),
         ("flow_remove", "vcap_flow_remove"), ("rule_add", "vcap_rule_add")]
LOADS = ["idle", "busy"]


def us(x):
    return f"{x:.1f}" if x < 100 else f"{x:.0f}"


def main(raw, out, command):
    recs = jsonl.read_records(raw)
    runs = defaultdict(list)  # (call, load) -> [result]
    reader = []
    n = 0
    for r in recs:
        res = r["result"]
        if res["call"] == "reader":
            reader.append(res["pps"])
            continue
        runs[(res["call"], r["load"])].append(res)
        n = res["n"]
    rounds = max((r["round"] for r in recs), default=0)
    lines = ["# Rule and flow calls: what each costs its caller", "",
             machine.provenance(command, raw.split("/")[-1]), "",
             "Each call is one round trip over vcapd's unix socket, answered once the "
             "source's capture thread has applied it between two batches (its mailbox), "
             "so a rule is in force when the call returns.  `bench/ctl_cost` makes "
             f"{n} calls of each kind in a row on one handle: {n} flow rules added "
             "(flows the traffic never carries), their hits read, each removed; then "
             f"{n} wildcard rules, each added (timed) and removed again (untimed).",
             "",
             "* **idle**: a `synth:` source waiting for a second consumer that never "
             "comes; its capture thread sleeps in `poll` until a letter wakes it.",
             "* **busy**: a `synth:` source flat out (64-byte frames, capture thread "
             "pinned to CPU 0) whose ring a reader thread of `ctl_cost` drains "
             "meanwhile (median "
             f"{stats.median(reader) / 1e6:.2f} Mpps received); a letter waits for the "
             "batch in hand (up to 256 packets)." if reader else "",
             "",
             f"Microseconds; median over {rounds} rounds of each run's median and 99th "
             "percentile (the range is that of the per-round medians).", ""]
    lines += fmt.header(["call", "load", "median µs", "p99 µs", "median range µs",
                         "max µs (worst run)"], ["l", "l", "r", "r", "r", "r"])
    for call, name in CALLS:
        for load in LOADS:
            rs = runs.get((call, load), [])
            if not rs:
                lines.append(fmt.row([f"`{name}`", load] + [fmt.MISSING] * 4))
                continue
            meds = [r["median_us"] for r in rs]
            p99s = [r["p99_us"] for r in rs]
            lines.append(fmt.row([f"`{name}`", load, us(stats.median(meds)),
                                  us(stats.median(p99s)),
                                  f"{us(min(meds))}–{us(max(meds))}",
                                  us(max(r["max_us"] for r in rs))]))
    lines.append("")
    med = {load: stats.median_or_nan([r["median_us"] for (c, l), rs in runs.items()
                                      if l == load for r in rs]) for load in LOADS}
    p99 = {load: stats.median_or_nan([r["p99_us"] for (c, l), rs in runs.items()
                                      if l == load for r in rs]) for load in LOADS}
    lines += ["## Reading", "",
              f"All four calls cost the same: a median of {us(med['idle'])} µs on an idle "
              f"vcapd and {us(med['busy'])} µs on a busy one (p99 {us(p99['idle'])} and "
              f"{us(p99['busy'])} µs).  What the capture thread does with a letter "
              "(a hash-table insert or probe: 0.5 µs per flow add on average, `daemon/flowtab.h`; "
              "a sorted insert among a few wildcard rules) is a small part; the rest is the round trip: two unix-socket "
              "messages, vcapd's control thread waking, and the capture thread taking "
              "the letter.  Idle, that thread sleeps and must be woken first (a wake-up "
              "from idle costs 11–37 µs on this virtual machine, `docs/bench/capture.md`); "
              "busy, it is awake but finishes the batch in hand first, so the medians "
              "come out close.  The tail grows with load: with the busy capture thread on "
              "one of the two vCPUs, the reader thread, the calling thread and vcapd's "
              "control thread contend for the other.  The worst single call of a run "
              "(last column, milliseconds even idle) was not traced; most likely a "
              "thread was descheduled.", ""]
    with open(out, "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__.strip().splitlines()[-1])
    main(*sys.argv[1:])
