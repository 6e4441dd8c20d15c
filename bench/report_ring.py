#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Turn bench/ring.sh's raw results into docs/bench/ring.md and ring.png.

usage: report_ring.py RAW.jsonl OUTDIR "COMMAND"

The raw records are described in docs/bench/schema.md ("ring.jsonl").

This machine switches between two states of cross-core speed (a bare
ring moves ~46 or ~11 Mpps of 64-byte frames).  Each group of runs is
bracketed by a bare-ring probe; a group counts as "fast" or "slow" only if
both probes agree, and groups that straddle a switch are left out.  Ratios
are computed within a group, where all systems ran a few seconds apart.
"""
import collections
import os
import sys

from vcapbench import fmt, gnuplot, machine
from vcapbench.jsonl import read_records
from vcapbench.probe import speed_state
from vcapbench.stats import median_or_nan as med

SYSTEMS = ("vcap", "memif", "bare")
KEPT_PPS = 14.8e6  # a paced round "kept" 10 GbE line rate (14.88 Mpps) at this or more

INTRO = """Each system runs its producer on CPU 0 and its consumer on CPU 1:

* **vcap**: a `synth:` source generating frames in vcapd's capture thread, which
  copies each into the consumer's ring (16 MiB) and publishes per batch;
  `vcapcount` receives them with `vcap_recv_burst` (zero copy) and counts.
* **memif**: DPDK 22.11's memif between two `dpdk-testpmd` (txonly / rxonly,
  copy mode, no hugepages): `bench/memif_ref.sh`.
* **bare**: `bench/spsc_bare`, a two-process ring of fixed slots with batched
  index updates: the upper bound for moving frames between the two cores.

Flat out, each number is what the consumer received per second.  vcap's
generator does more per packet than testpmd's txonly (a new 5-tuple, sequence
number and checksums each time), which vcap's numbers include.

**This machine has two speeds.**  It is a 2-vCPU virtual machine whose
cross-core transfers are fast at times and about four times slower at others
(a bare ring moves ~46 or ~11 Mpps of 64-byte frames), switching within
minutes.  Every group of runs (one frame size, all three systems, a few
seconds apart) is bracketed by a one-second bare-ring probe; groups are
reported by the state both probes agree on, and a group that straddles a
switch is left out.  Ratios are taken within a group.
"""


def mpps(res):
    """A result's rate: spsc_bare and memif_ref.sh say it, vcapcount's is
    packets over seconds."""
    if "mpps" in res:
        return res["mpps"]
    return res["packets"] / res["seconds"] / 1e6


class RingRun:
    def __init__(self, records):
        # (round, size) -> {system: result}; size "paced" for the line-rate run
        self.groups = collections.defaultdict(dict)
        for r in records:
            self.groups[(r["round"], str(r["size"]))][r["system"]] = r["result"]
        self.sizes = sorted({int(s) for (_, s) in self.groups if s != "paced"})
        self.rounds = sorted({k for (k, _) in self.groups})

    def state(self, g):
        """The machine's state around a group: "fast", "slow" or None (a
        probe is missing, or the two disagree)."""
        b, a = g.get("probe-before"), g.get("probe-after")
        if not b or not a:
            return None
        return speed_state(mpps(b), mpps(a))

    def complete_groups(self, size, state):
        """The groups of SIZE in STATE in which all three systems ran."""
        return [g for k in self.rounds
                if self.state(g := self.groups[(k, str(size))]) == state
                and all(s in g for s in SYSTEMS)]

    def flat_out_table(self, state):
        L = [f"## Flat out, machine in its {state} state\n"]
        L += fmt.header(["frame", "groups", "vcap Mpps", "memif Mpps", "bare Mpps",
                         "vcap / memif", "vcap / bare", "vcap drops"], "r" * 8)
        for size in self.sizes:
            gs = self.complete_groups(size, state)
            if not gs:
                L.append(f"| {size} B | 0 | | | | | | |")
                continue
            v, m, b = ([mpps(g[s]) for g in gs] for s in SYSTEMS)
            vcap_memif = [mpps(g["vcap"]) / mpps(g["memif"]) for g in gs]
            vcap_bare = [mpps(g["vcap"]) / mpps(g["bare"]) for g in gs]
            drops = [100.0 * g["vcap"]["dropped"] / max(g["vcap"]["received"], 1) for g in gs]
            L.append(f"| {size} B | {len(gs)} | {med(v):.2f} | {med(m):.2f} | {med(b):.2f} | "
                     f"{fmt.times(med(vcap_memif))} | {fmt.times(med(vcap_bare))} | "
                     f"{med(drops):.2f} % |")
        return L + [""]

    def every_group_table(self):
        L = ["## Every group (Mpps: vcap / memif / bare; probe before, after)\n"]
        L += fmt.header(["round", "frame", "state", "vcap / memif / bare", "probes"], "rrccr")
        for k in self.rounds:
            for size in self.sizes:
                g = self.groups.get((k, str(size)))
                if not g or not all(s in g for s in SYSTEMS):
                    continue
                L.append(f"| {k} | {size} B | {self.state(g) or 'mixed'} | {mpps(g['vcap']):.1f} / "
                         f"{mpps(g['memif']):.1f} / {mpps(g['bare']):.1f} | "
                         f"{mpps(g['probe-before']):.0f}, {mpps(g['probe-after']):.0f} |")
        return L

    def paced_rounds(self):
        """(round, group) of every round's line-rate run."""
        return [(k, g) for k in self.rounds
                if (g := self.groups.get((k, "paced"))) and "vcap" in g]

    def paced_table(self):
        L = ["\n## Paced at 10 GbE line rate: 14.88 Mpps of 64-byte frames\n",
             "The generator is paced to 14.88 Mpps; every packet it makes must reach the consumer.\n"]
        L += fmt.header(["round", "state", "generated", "delivered", "dropped", "rate kept"], "rcrrrr")
        for k, g in self.paced_rounds():
            res = g["vcap"]
            L.append(f"| {k} | {self.state(g) or 'mixed'} | {res['received']:,} | {res['delivered']:,} | "
                     f"{res['dropped']:,} | {res['received'] / res['seconds'] / 1e6:.2f} Mpps |")
        short = [k for k, g in self.paced_rounds()
                 if g["vcap"]["received"] / g["vcap"]["seconds"] < KEPT_PPS]
        if short:
            L.append("""
In rounds %s the generator itself, on CPU 0, fell short of 14.88 Mpps (the
"rate kept" column); what it did generate still arrived without a drop.
""" % ", ".join(str(k) for k in short))
        else:
            L.append("""
The generator kept 14.88 Mpps (within 0.1 %) in every round, in either
state of the machine.
""")
        return L

    def plot(self, out):
        """ring.png: the fast state's medians."""
        dat = os.path.join(out, "ring.dat")
        with open(dat, "w") as f:
            for size in self.sizes:
                gs = self.complete_groups(size, "fast")
                if gs:
                    f.write(f"{size} " + " ".join(f"{med([mpps(g[s]) for g in gs]):.3f}"
                                                  for s in SYSTEMS) + "\n")
        gp = gnuplot.size_plot(
            os.path.join(out, "ring.png"),
            "Producer to consumer through shared memory (median Mpps, fast state)",
            "Mpps received", "top right") + f"""plot "{dat}" using 1:2 with linespoints lw 2 title "vcap (synth -> vcapd -> ring -> vcapcount)", \\
     "{dat}" using 1:3 with linespoints lw 2 title "DPDK memif (testpmd)", \\
     "{dat}" using 1:4 with linespoints lw 2 title "bare SPSC ring"
"""
        gnuplot.run(gp, dat)


def main(raw, out, command):
    run = RingRun(read_records(raw))
    L = ["# Ring benchmark: producer process to consumer process through shared memory\n",
         machine.provenance(command, os.path.basename(raw)), INTRO]
    for state in ("fast", "slow"):
        L += run.flat_out_table(state)
    L += run.every_group_table()
    L += run.paced_table()
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "ring.md"), "w") as f:
        f.write("\n".join(L) + "\n![Mpps by frame size, fast state](ring.png)\n")
    run.plot(out)
    print("\n".join(L))


if __name__ == "__main__":
    main(*sys.argv[1:4])
