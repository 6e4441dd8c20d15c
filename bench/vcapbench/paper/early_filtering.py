# SPDX-License-Identifier: BSD-3-Clause
"""Experiment 4: early filtering, three VMs each wanting a different 10 %
of one source, the filter in vcapd (before the copy) or in the guest ->
early-filtering.md and early-filtering.png."""
import os

from .. import gnuplot
from ..fmt import kpps, pct, ratio
from ..stats import median_present as med
from .claims import GUEST_FILTER_LOSS_PCT, GUEST_FILTER_MATCHED

SYSTEMS = (("vcap", "vcapd"), ("guest", "the guest"))
VMS = (1, 2, 3)

INTRO = """The paper's section 2.2 (lawful interception: each VM may see only its
target's traffic) and its reviewers' request ("how can packet filtering at
early stage help", "multiple applications on different VMs").  One `synth:`
source of 64-byte frames over 100 flows (`fSIZE`, paced, its thread on CPU
0).  VM k wants the 10 flows whose client ports are in its range:

| VM | filter | share of the generator's frames (tests/synth_oracle, 100,000 frames) |
|---|---|---:|
| vm1 | `{flt[0]}` | {share[0]:.1f} % |
| vm2 | `{flt[1]}` | {share[1]:.1f} % |
| vm3 | `{flt[2]}` | {share[2]:.1f} % |

Each guest runs the same unmodified libpcap program, `pcapcount`
(bench/pcapcount.c), through `vcap-pcap` on `host:fRATE`:

* **filter in vcapd** (`-f FILTER`: `pcap_setfilter`, which vcap-pcap sends to
  vcapd): vcapd runs each VM's filter before the copy; each ring carries 10 %.
* **filter in the guest** (`-F FILTER`: every packet is taken and tested with
  libpcap's `pcap_offline_filter` in the guest): each ring carries 100 % and
  each guest filters in its own process.

**Three VMs** on two CPUs: more guests than CPUs, as when VMs are
consolidated on a monitoring host (and the generator needs a CPU too); with
two, each guest could have a CPU to itself and the cost of carrying 100 %
would show less.  Nothing but the generator is pinned.  **matched**: packets
that passed the VM's filter, as its pcapcount counted them, per second (guest
clock); expected: 10 % of what the generator made.  **loss**: drops of the
VM's ring / packets it wanted (filter in vcapd) or / all packets (filter in
the guest).  CPU in % of one CPU: each QEMU process, summed over the 3 VMs;
machine busy of {machine} %.
"""

COMMANDS = """## Commands

```sh
vcapd --foreground --socket $TMP/vcapd.sock --vm vm1=$TMP/vm1.ivshmem,size=64Mi,vectors=4 \\
  --vm vm2=... --vm vm3=... --source f1000000=synth:size=64,pps=1000000,flows=100,cpu=0 ...
# in vm1 (vm2, vm3 with their ranges):
vcap-pcap pcapcount -i host:f1000000 -f '{flt}' -B 33554432 --json    # filter in vcapd
vcap-pcap pcapcount -i host:f1000000 -F '{flt}' -B 33554432 --json    # filter in the guest
```

The guests as in fig11-13.md, without NICs, not pinned.
"""


class EarlyFiltering:
    def __init__(self, run):
        self.run = run
        self.rates = run.rates(4)

    def slices(self):
        """The share of the generator's frames each VM's filter passes (from
        tests/synth_oracle, in the meta record), else the 10 % intended."""
        sl = self.run.meta.get("slices", [])
        return [x / sl[3] for x in sl[:3]] if len(sl) == 4 and sl[3] else [0.1, 0.1, 0.1]

    def metrics(self, p):
        """Per VM: matched pps (guest clock), its ring's pps and loss %, its
        QEMU's CPU; and in all: offered, matched, worst loss, QEMU CPU."""
        if not self.run.ok(p):
            return None
        rings = sorted(p.get("rings", []), key=lambda g: g["client"])
        cons = {c["name"]: c for c in p.get("consumers", [])}
        w = p.get("counters_s") or p.get("window_s")
        if not rings or not w:
            return None
        src = next(iter(p.get("sources", {}).values()), None)
        vms = []
        for k in VMS:
            c = cons.get(f"v{k}")
            g = next((g for g in rings if g["client"].startswith(f"vm{k}/")), None)
            if not c or not g or c.get("matched") is None:
                return None
            wanted = g["received"] - g["filtered"]
            vms.append({"matched": c["matched"] / c["seconds"] if c.get("seconds") else None,
                        "ring_pps": g["delivered"] / w,
                        "loss": 100.0 * g["dropped"] / wanted if wanted > 0 else 0.0,
                        "qemu": p.get("cpu_pct", {}).get(f"qemu-vm{k}")})
        return {"offered": src / w if src else None, "vms": vms,
                "matched": sum(v["matched"] or 0 for v in vms),
                "loss": max(v["loss"] for v in vms),
                "qemu": sum(v["qemu"] or 0 for v in vms),
                "busy": p.get("machine_busy_pct"), "vcapd": p.get("cpu_pct", {}).get("vcapd")}

    def median(self, system, rate):
        ms = [m for m in (self.metrics(p) for p in self.run.pts(4, system=system, rate=rate)) if m]
        if not ms:
            return None
        a = {k: med([m[k] for m in ms]) for k in ("offered", "matched", "loss", "qemu", "busy", "vcapd")}
        a["vms"] = [{k: med([m["vms"][i][k] for m in ms]) for k in ("matched", "ring_pps", "loss", "qemu")}
                    for i in range(len(VMS))]
        return a

    def where_it_shows(self):
        """(rate, sentence): the lowest rate at which filtering in the guest
        lost more, or matched less, than filtering in vcapd (claims.py), or
        (None, what the top rate shows)."""
        for r in self.rates:
            v, q = self.median("vcap", r), self.median("guest", r)
            if not v or not q:
                continue
            if q["loss"] > GUEST_FILTER_LOSS_PCT or (v["matched"] and q["matched"] < GUEST_FILTER_MATCHED * v["matched"]):
                return r, (f"**Where the difference shows**: from {kpps(r)} kpps offered, filtering in the "
                           f"guest loses {pct(q['loss'])} % (worst VM) and matches {kpps(q['matched'])} kpps "
                           f"in all, against {pct(v['loss'])} % and {kpps(v['matched'])} kpps with the "
                           f"filter in vcapd; QEMU CPU {pct(q['qemu'], 0)} % vs {pct(v['qemu'], 0)} %.")
        if self.rates:
            r = self.rates[-1]
            v, q = self.median("vcap", r), self.median("guest", r)
            if v and q:
                return None, (f"**No loss difference up to {kpps(r)} kpps**: at that rate filtering in the guest "
                              f"costs QEMU CPU {pct(q['qemu'], 0)} % against {pct(v['qemu'], 0)} % "
                              f"(3 VMs), machine {pct(q['busy'], 0)} % vs {pct(v['busy'], 0)} %; "
                              f"offer higher rates to see loss.")
        return None, "No comparable points."

    def write(self):
        run, rates = self.run, self.rates
        if not rates:
            return
        flt = run.meta.get("filters", ["?", "?", "?"])
        L = ["# Early filtering: three VMs, each wanting a different 10 % of the same traffic\n",
             run.heading(4),
             INTRO.format(flt=flt, share=[100 * x for x in self.slices()], machine=100 * run.ncpu)]
        L.append("| offered kpps (made) | filter in | matched kpps, vm1 / vm2 / vm3 (expected each) | ring kpps per VM | loss % per VM | QEMU CPU % (3 VMs) | vcapd % | machine busy % |")
        L.append("|---:|---|---|---:|---|---:|---:|---:|")
        for r in rates:
            for sys_, nm in SYSTEMS:
                a = self.median(sys_, r)
                if not a:
                    L.append(f"| {kpps(r)} | {nm} | failed | | | | | |")
                    continue
                expected = (a["offered"] or r) * self.slices()[0]
                L.append(f"| {kpps(a['offered'])} | {nm} | "
                         f"{' / '.join(kpps(v['matched']) for v in a['vms'])} ({kpps(expected)}) | "
                         f"{kpps(med([v['ring_pps'] for v in a['vms']]))} | "
                         f"{' / '.join(pct(v['loss']) for v in a['vms'])} | {pct(a['qemu'], 0)} | "
                         f"{pct(a['vcapd'], 0)} | {pct(a['busy'], 0)} |")
        L.append("")
        L.append(self.where_it_shows()[1] + "\n")
        L.append("## Within a round\n")
        L.append("| round | offered | state | matched: in vcapd / in the guest | QEMU CPU: in the guest / in vcapd | machine busy: in the guest / in vcapd |")
        L.append("|---:|---:|---|---:|---:|---:|")
        for rnd, (r,), state, g in run.within_rounds(4, self.metrics, rate=rates):
            v, q = g.get("vcap"), g.get("guest")
            L.append(f"| {rnd} | {kpps(r)} | {state} | {ratio(v, q, 'matched')} | "
                     f"{ratio(q, v, 'qemu')} | {ratio(q, v, 'busy')} |")
        L.append("")
        L += run.fail_section(4)
        L.append(COMMANDS.format(flt=flt[0]))
        L.append("![early filtering](early-filtering.png)\n")
        run.write("early-filtering.md", L)
        self.plot()

    def plot(self):
        out = self.run.out
        dat = os.path.join(out, "early-filtering.dat")
        with open(dat, "w") as f:
            for sys_, _ in SYSTEMS:
                for r in self.rates:
                    a = self.median(sys_, r)
                    if a:
                        f.write(f"{(a['offered'] or r) / 1e3:.3f} {max(a['matched'], 1) / 1e3:.3f} {a['qemu']} "
                                f"{a['busy']} {a['loss']} {(a['offered'] or r) * sum(self.slices()) / 1e3:.3f}\n")
                f.write("\n\n")
        gp = gnuplot.multiplot(os.path.join(out, "early-filtering.png"), "1650,520", "1,3",
                               "Three VMs, each a different 10 % of one 64-byte source: filter in vcapd "
                               "vs in the guest (median of rounds)",
                               xlabel="offered kpps (made by the generator)") + f"""set key top left font ",8"
set offsets graph 0.05, graph 0.05, 0, 0
set logscale y
set ylabel "kpps"
set title "matched packets, 3 VMs together"
plot "{dat}" index 0 using 1:2 with linespoints lw 2 lc rgb "#1b9e77" title "filter in vcapd", \\
     "{dat}" index 1 using 1:2 with linespoints lw 2 lc rgb "#d95f02" title "filter in the guest", \\
     "{dat}" index 0 using 1:6 with linespoints dt 2 lc rgb "#999999" title "expected (the 3 slices of what was made)"
unset logscale y
set yrange [0:*]
set ylabel "% of one CPU"
set title "CPU: 3 QEMU processes (solid), whole machine (dashed)"
plot "{dat}" index 0 using 1:3 with linespoints lw 2 lc rgb "#1b9e77" title "QEMU, filter in vcapd", \\
     "{dat}" index 1 using 1:3 with linespoints lw 2 lc rgb "#d95f02" title "QEMU, filter in the guest", \\
     "{dat}" index 0 using 1:4 with linespoints lw 2 dt 2 lc rgb "#1b9e77" title "machine, filter in vcapd", \\
     "{dat}" index 1 using 1:4 with linespoints lw 2 dt 2 lc rgb "#d95f02" title "machine, filter in the guest"
set yrange [0:100]
set key top left
set ylabel "loss %, worst VM"
set title "loss"
plot "{dat}" index 0 using 1:5 with linespoints lw 2 lc rgb "#1b9e77" title "filter in vcapd", \\
     "{dat}" index 1 using 1:5 with linespoints lw 2 lc rgb "#d95f02" title "filter in the guest"
unset multiplot
"""
        gnuplot.run_tolerant(gp, dat, "report_paper.py")
