# SPDX-License-Identifier: BSD-3-Clause
"""Experiment 3: figures 19-20, 2 and 4 members of a vcap cluster (5-tuple
hash) sharing one source at the 10 GbE rates -> fig19-20.md and .png."""
import os

from .. import gnuplot
from ..fmt import kpps, pct, ratio
from ..stats import median_present as med, medians_by_position
from .metrics import capture_cpu, ring_metrics

SYSTEMS = [("host2", "host, 2 members"), ("host4", "host, 4 members"), ("vm2", "2 VMs, 1 member each")]

INTRO = """The paper balanced one 10 GbE port over 2 and 4 pfcount instances with RSS
queues, each in its own VM.  Here one `synth:` source (`cSIZE`, paced at the
10 GbE rate of Table 1, its thread on CPU 0) is shared by the members of
vcap cluster 1 with the symmetric 5-tuple hash (`vcapcount -c 1 -m 5tuple`):
2 or 4 processes on the host, or 2 VMs with one member each (four TCG
guests on two CPUs were left out: the paper's figure 20 is host-only here).
**The generator cannot make 10 GbE rates on this machine**: *offered* is
what it made during the window (the source's own counter), next to the
target.  Per member: packets vcapd wrote into its ring per second, and its
ring's drops.  Nothing but the generator is pinned.
"""

COMMANDS = """## Commands

```sh
vcapcount -i host:c64 -c 1 -m 5tuple -q --json -r 33554432     # each member, on the host or in a guest
```

vcapd and the guests as in fig14-17.md (same session).
"""


class Cluster:
    def __init__(self, run):
        self.run = run
        self.sizes = run.sizes(3)

    def metrics(self, p):
        """Offered (what the source made), captured in all and per member,
        loss per member and the worst, CPU."""
        if not self.run.ok(p):
            return None
        rings = sorted(p.get("rings", []), key=lambda g: g["id"])
        m = ring_metrics(p, rings)
        if not m:
            return None
        w = p.get("counters_s") or p["window_s"]
        src = next(iter(p.get("sources", {}).values()), None)
        m["offered"] = src / w if src else m["offered"]
        m["per"] = [g["delivered"] / w for g in rings]
        m["per_loss"] = [ring_metrics(p, [g])["loss"] for g in rings]
        m["loss"] = max(m["per_loss"])
        m["cpu"] = capture_cpu(p)
        m["busy"] = p.get("machine_busy_pct")
        m["vcapd"] = p.get("cpu_pct", {}).get("vcapd")
        return m

    def rounds_of(self, system, size):
        """The metrics of every round that gave a result."""
        return [m for m in (self.metrics(p) for p in self.run.pts(3, system=system, size=size)) if m]

    @staticmethod
    def per_member(ms):
        """Each member's median captured rate."""
        return medians_by_position([m["per"] for m in ms])

    def write(self):
        run, sizes = self.run, self.sizes
        if not sizes:
            return
        L = ["# Figures 19-20: cluster members sharing one source at the 10 GbE rates\n",
             run.heading(3), INTRO]
        L.append("| frame | target kpps | system | offered kpps | captured per member kpps | total kpps | loss % per member | capture CPU % / machine % | vcapd % |")
        L.append("|---:|---:|---|---:|---|---:|---|---:|---:|")
        for s in sizes:
            for sys_, nm in SYSTEMS:
                ms = self.rounds_of(sys_, s)
                if not ms:
                    L.append(f"| {s} B | {kpps(run.line_rate(3, s))} | {nm} | failed | | | | | |")
                    continue
                per = self.per_member(ms)
                pl = medians_by_position([m["per_loss"] for m in ms])
                L.append(f"| {s} B | {kpps(run.line_rate(3, s))} | {nm} | {kpps(med([m['offered'] for m in ms]))} | "
                         f"{' / '.join(kpps(x) for x in per)} | {kpps(med([m['captured'] for m in ms]))} | "
                         f"{' / '.join(pct(x) for x in pl)} | {pct(med([m['cpu'] for m in ms]), 0)} / "
                         f"{pct(med([m['busy'] for m in ms]), 0)} | {pct(med([m['vcapd'] for m in ms]), 0)} |")
        L.append("")
        L.append("## Within a round\n")
        L.append("| round | frame | state | 2 VMs / host 2 members, total captured | host 4 / host 2 members, total captured |")
        L.append("|---:|---:|---|---:|---:|")
        for rnd, (s,), state, g in run.within_rounds(3, self.metrics, size=sizes):
            L.append(f"| {rnd} | {s} B | {state} | {ratio(g.get('vm2'), g.get('host2'))} | {ratio(g.get('host4'), g.get('host2'))} |")
        L.append("")
        L += run.fail_section(3)
        L.append(COMMANDS)
        L.append("![figures 19-20](fig19-20.png)\n")
        run.write("fig19-20.md", L)
        self.plot()

    def plot(self):
        sizes, out = self.sizes, self.run.out
        dat = os.path.join(out, "fig19-20.dat")
        cols = ["#1b9e77", "#d95f02", "#7570b3"]
        ps1, ps2 = [], []
        idx = 0
        with open(dat, "w") as f:
            for k, (sys_, nm) in enumerate(SYSTEMS):
                rows = []
                for s in sizes:
                    ms = self.rounds_of(sys_, s)
                    if ms:
                        rows.append((s, self.per_member(ms), med([m["captured"] for m in ms]),
                                     med([m["offered"] for m in ms]), med([m["loss"] for m in ms])))
                nmem = max((len(r[1]) for r in rows), default=0)
                for j in range(nmem):
                    f.write("\n".join(f"{r[0]} {r[1][j] / 1e3:.3f}" for r in rows if j < len(r[1])) + "\n\n\n")
                    ps1.append(f'"{dat}" index {idx} using 1:2 with linespoints lw 2 dt {j + 1} lc rgb "{cols[k]}" '
                               f'title "{nm}: member {j + 1}"')
                    idx += 1
                f.write("\n".join(f"{r[0]} {r[2] / 1e3:.3f} {r[3] / 1e3:.3f} {r[4]}" for r in rows) or "NaN NaN NaN NaN")
                f.write("\n\n\n")
                ps2.append(f'"{dat}" index {idx} using 1:2 with linespoints lw 2 lc rgb "{cols[k]}" title "{nm}: total"')
                ps2.append(f'"{dat}" index {idx} using 1:3 with lines dt 2 lc rgb "{cols[k]}" title "{nm}: offered (made)"')
                idx += 1
            f.write("\n".join(f"{s} {self.run.line_rate(3, s) / 1e3:.1f}" for s in sizes) + "\n")
        ps2.append(f'"{dat}" index {idx} using 1:2 with lines dt 3 lw 2 lc rgb "#999999" title "10 GbE rate (target)"')
        gp = gnuplot.multiplot(os.path.join(out, "fig19-20.png"), "1400,560", "1,2",
                               "Cluster members on one source, target 10 GbE rates (figs. 19-20), "
                               "median of rounds", sizes) + f"""set offsets graph 0.1, graph 0.1, 0, 0
set key top right font ",8"
set logscale y
set ylabel "kpps"
set title "captured per member"
plot {", ".join(ps1) or "NaN notitle"}
set title "total captured, offered"
plot {", ".join(ps2)}
unset multiplot
"""
        gnuplot.run_tolerant(gp, dat, "report_paper.py")
