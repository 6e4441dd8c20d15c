# SPDX-License-Identifier: BSD-3-Clause
"""Experiment 2: figures 14-17, two consumers of two 1 GbE-rate sources, in
one VM or in two VMs -> fig14-17.md and fig14-17.png."""
import os

from .. import gnuplot
from ..fmt import MISSING, kpps, pct, ratio
from .metrics import capture_cpu, median_over, ring_metrics, send_metrics
from .tables import by_size, captured_cell, dat_value, system_header

SYSTEMS = [("host2", "vcap, host, 2 processes"), ("vm1x2", "vcap, 1 VM, 2 consumers"),
           ("vm2x1", "vcap, 2 VMs, 1 each"), ("virtio1x2", "virtio-net, 1 VM, 2 NICs"),
           ("virtio2x1", "virtio-net, 2 VMs")]
KEYS = ("offered", "captured", "loss", "cpu", "busy")
LINKS = 2  # sources (vcap) or taps each carrying every frame (virtio-net)

INTRO = """The paper fed two pfcount instances from two 1 GbE ports.  Here two
`synth:` sources (`aSIZE`, `bSIZE`) in vcapd each run at the 1 GbE rate of
Table 1 (their threads on CPU 0) and one consumer reads each:

* **vcap, host, 2 processes**: two `vcapcount -i host:aS` / `host:bS` on the host.
* **vcap, 1 VM, 2 consumers**: both `vcapcount` in VM vm1 (one vCPU), through `vcap-guestd`.
* **vcap, 2 VMs, 1 each**: one in vm1, one in vm2.
* **virtio-net**: one `vcapsend` at the 1 GbE rate on veth1; tc on veth0
  mirrors every frame to two taps (`mirred egress mirror dev tapA pipe
  mirred egress redirect dev tapB`), so each tap carries the same rate, like
  two links: tap0 + tap1 to vm1's eth0 and eth1 (1 VM), or tap0 to vm1 and
  tap2 to vm2 (2 VMs); `vcapcount -i ethN` in the guests.  vcapsend reaches
  far less than the 1 GbE rate at small frames: *offered* is what it sent
  (x 2 links).

Nothing but the generator threads is pinned: the consumers, vcapd's other
threads and the QEMU processes share the two CPUs as the scheduler sees fit.
**captured** is the total of both consumers (kpps), **loss** the worse of the
two (per consumer in the last columns), **CPU** the consumers' processes
(host) or the QEMU processes (VMs, summed), in % of one CPU; machine busy
of {machine} %.
"""

COMMANDS = """## Commands

```sh
vcapd --foreground --socket $TMP/vcapd.sock --vm vm1=$TMP/vm1.ivshmem,size=128Mi,vectors=4 \\
  --vm vm2=$TMP/vm2.ivshmem,size=64Mi,vectors=4 \\
  --source a64=synth:size=64,pps=1488000,flows=1024,cpu=0 --source b64=synth:size=64,pps=1488000,flows=1024,cpu=0 ... \\
  --source c64=synth:size=64,pps=14880000,flows=1024,cpu=0 ...        # c: experiment 3
vcapcount -i host:a64 -q --json -r 33554432      # on the host, or in a guest
# virtio-net: tc filter add dev veth0 ingress protocol all u32 match u32 0 0 \\
#   action mirred egress mirror dev tap0 pipe action mirred egress redirect dev tap1
```

The guests as in fig11-13.md, vm1 with two `-netdev tap ... -device virtio-net-pci`
(tap0, tap1), vm2 with one (tap2), not pinned (`taskset -c 0-1`).
"""


class TwoConsumers:
    def __init__(self, run):
        self.run = run
        self.sizes = run.sizes(2)

    def metrics(self, p):
        """Both consumers' captured rate, the worse loss (and each one's), CPU."""
        if not self.run.ok(p):
            return None
        if p["system"].startswith("virtio"):
            m = send_metrics(p)
            if m:
                m["offered"] *= LINKS  # each tap gets every frame: two "links"
                m["per_loss"] = [x["loss"] for x in m["per"]]
        else:
            m = ring_metrics(p)
            if m:
                m["per_loss"] = [ring_metrics(p, [g])["loss"] for g in p["rings"]]
                m["loss"] = max(m["per_loss"])
        if not m:
            return None
        m["cpu"] = capture_cpu(p)
        m["busy"] = p.get("machine_busy_pct")
        return m

    def median(self, system, size):
        return median_over([self.metrics(p) for p in self.run.pts(2, system=system, size=size)],
                           KEYS, per_loss=True)

    def offered(self, size):
        return LINKS * self.run.line_rate(2, size)

    def write(self):
        run, sizes = self.run, self.sizes
        if not sizes:
            return
        L = ["# Figures 14-17: two consumers, one VM or two VMs\n", run.heading(2),
             INTRO.format(machine=100 * run.ncpu)]
        L.append("### Captured kpps, both consumers together (\"of\": what was offered, where less) — figures 14 and 16\n")
        L += system_header(["frame", "offered kpps (2 sources)"], SYSTEMS, "---:|---:|")
        L += by_size(sizes, SYSTEMS, lambda s: [kpps(self.offered(s))],
                     lambda sys_, s: captured_cell(self.median(sys_, s), self.offered(s),
                                                   run.pts(2, system=sys_, size=s)))
        L.append("\n### Loss % per consumer (a / b) — figures 14 and 16\n")
        L += system_header(["frame"], SYSTEMS, "---:|")
        L += by_size(sizes, SYSTEMS, lambda s: [], lambda sys_, s: (
            " / ".join(pct(x) for x in a["per_loss"]) if (a := self.median(sys_, s)) else MISSING))
        L.append("\n### CPU: consumers or QEMU, % of one CPU / machine busy % — figures 15 and 17\n")
        L += system_header(["frame"], SYSTEMS, "---:|")
        L += by_size(sizes, SYSTEMS, lambda s: [], lambda sys_, s: (
            f"{pct(a['cpu'], 0)} / {pct(a['busy'], 0)}" if (a := self.median(sys_, s)) else MISSING))
        L.append("\n## Ratios within a round\n")
        L.append("| round | frame | state | 1 VM / host captured | 2 VMs / host captured | 2 VMs / 1 VM captured |")
        L.append("|---:|---:|---|---:|---:|---:|")
        for rnd, (s,), state, g in run.within_rounds(2, self.metrics, size=sizes):
            L.append(f"| {rnd} | {s} B | {state} | {ratio(g.get('vm1x2'), g.get('host2'))} | "
                     f"{ratio(g.get('vm2x1'), g.get('host2'))} | {ratio(g.get('vm2x1'), g.get('vm1x2'))} |")
        L.append("")
        L += run.fail_section(2)
        L.append(COMMANDS)
        L.append("![figures 14-17](fig14-17.png)\n")
        run.write("fig14-17.md", L)
        self.plot("Two consumers of two 1 GbE-rate sources (figs. 14-17), median of rounds")

    def plot(self, title):
        sizes, out, name = self.sizes, self.run.out, "fig14-17"
        dat = os.path.join(out, name + ".dat")
        cols = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02"]
        with open(dat, "w") as f:
            for sys_, _ in SYSTEMS:
                rows = []
                for s in sizes:
                    a = self.median(sys_, s)
                    if a:
                        rows.append(f"{s} {max(a['captured'], 1) / 1e3:.3f} "
                                    f"{dat_value(a['cpu'])} "
                                    f"{dat_value(a['loss'])} "
                                    f"{dat_value(a['busy'])}")
                f.write("\n".join(rows or ["NaN NaN NaN NaN NaN"]) + "\n\n\n")
            f.write("\n".join(f"{s} {self.offered(s) / 1e3:.1f}" for s in sizes) + "\n")
        n = len(SYSTEMS)

        def plots(col, with_offered=False):
            ps = [f'"{dat}" index {i} using 1:{col} with linespoints lw 2 lc rgb "{cols[i]}" title "{nm}"'
                  for i, (_, nm) in enumerate(SYSTEMS)]
            if with_offered:
                ps.append(f'"{dat}" index {n} using 1:2 with lines dt 2 lw 2 lc rgb "#999999" title "offered"')
            return ", \\\n  ".join(ps)
        gp = gnuplot.multiplot(os.path.join(out, name + ".png"), "1650,520", "1,3", title,
                               sizes) + f"""set key top right font ",8"
set logscale y
set ylabel "captured kpps, all consumers"
set title "capture rate"
plot {plots(2, True)}
unset logscale y
set yrange [0:*]
set offsets 0, 0, graph 0.5, 0
set ylabel "% of one CPU"
set title "CPU of the consumers / QEMU processes"
plot {plots(3)}
set offsets 0, 0, 0, 0
set yrange [0:150]
set ytics 0, 20, 100
set ylabel "loss %, worst consumer"
set title "loss"
plot {plots(4)}
unset multiplot
"""
        gnuplot.run_tolerant(gp, dat, "report_paper.py")
