# SPDX-License-Identifier: BSD-3-Clause
"""Experiment 1: figures 11-13 (1 GbE) and 18 (10 GbE), one consumer per
system at Table 1's line rates -> fig11-13.md and fig11-13.png."""
import os

from .. import gnuplot
from ..fmt import MISSING, kpps, pct, ratio
from .metrics import capture_cpu, median_over, ring_metrics, send_metrics
from .tables import by_size, captured_cell, dat_value, system_header

SYSTEMS = [("host", "vcap, host"), ("ctr", "vcap, container"), ("vm", "vcap, VM"),
           ("vm-veth", "vcap, VM, veth"), ("afp", "TPACKET_V3"), ("pcap", "libpcap"),
           ("virtio", "virtio-net VM")]
SYNTH_FED = ("host", "ctr", "vm")  # fed by vcapd's paced synth: source; the rest by vcapsend
VCAP = ("host", "ctr", "vm", "vm-veth")
LINES = (("1g", "1 GbE (figures 11, 12, 13)"), ("10g", "10 GbE (figure 18)"))
KEYS = ("offered", "captured", "loss", "cpu", "busy", "vcapd")

INTRO = """What runs (one machine: the generator on CPU 0, the capture side on CPU 1):

* **vcap, host**: vcapd's `synth:` source paced at the line rate (`pps=`, its
  thread on CPU 0: it stands in for the NIC) -> ring -> `vcapcount -g 1 -i host:SRC`.
* **vcap, container**: the same consumer in `unshare --net --mount`, a private
  `/run` with vcapd's socket bind-mounted, `/tmp` hidden, CAP_NET_RAW and
  CAP_NET_ADMIN dropped (`setpriv`); the container cannot open a packet socket.
* **vcap, VM**: the same source -> the guest's ring in the ivshmem region ->
  `vcapcount -i host:SRC` in a TCG guest (1 vCPU, QEMU pinned to CPU 1,
  through `vcap-guestd`).
* **vcap, VM, veth**: `vcapsend` (netns SND, CPU 0) -> veth -> vcapd's
  `if:veth0` source (its thread on CPU 1) -> the same guest: vcap on the same
  traffic as the three baselines below.
* **TPACKET_V3**: the same `vcapsend` -> veth -> `vcapcount -i veth0` (a direct
  AF_PACKET TPACKET_V3 socket, libvcap's own, no daemon) on CPU 1.
* **libpcap**: the same -> `pcapcount -i veth0` (bench/pcapcount.c: plain
  libpcap, `pcap_dispatch`) on CPU 1.
* **virtio-net VM**: the same -> veth0 -> tc `mirred` redirect -> tap0 ->
  QEMU's virtio-net (`vhost=off`) -> the guest's eth0 -> `vcapcount -i eth0`
  (TPACKET_V3 in the guest).  Frames the tap cannot queue are dropped there
  and count as lost.

**vcapsend cannot reach these rates on a veth** (it tops out at a few hundred
kpps here, where the kernel's delivery to every packet socket runs in its own
send call): for the four vcapsend-fed systems, *offered* is the rate it
actually achieved, shown next to each point, not the line rate.

* **captured**: for the synth-fed systems, packets vcapd wrote into the
  consumer's ring per second of the measuring window (from `vcapctl status`
  before and after; the consumer reads them as they come); for the
  vcapsend-fed ones, packets the consumer counted per second of sending.
* **loss**: ring drops / packets offered to the ring (synth-fed), or
  1 - counted / sent (vcapsend-fed: lost anywhere on the way).
* **consumer CPU**: user + system time of the consumer process
  (`/proc/PID/stat`; for a VM the whole QEMU process), in % of one CPU.
  vcapd's own CPU (for the synth-fed systems it includes the generator) is
  listed apart.  **machine busy**: the whole machine from `/proc/stat`, of
  {machine}; the paper reports idle CPU from `top` (idle = 100 % - busy / CPUs).
  It includes the generator (vcapsend spins while pacing: ~100 % of CPU 0).
  **The vcap consumers' CPU on the synth-fed systems is mostly polling**: the
  paced generator releases a packet every few microseconds and a vcap
  consumer polls 50 us before it sleeps, so it never sleeps (README.md,
  "Observations"); "vcap, VM, veth" shows the same guest fed in bursts.
"""

COMMANDS = """## Commands

vcapd (in netns CAP), one source per frame size and line rate plus the veth:

```sh
vcapd --foreground --socket $TMP/vcapd.sock --vm vm1=$TMP/vm1.ivshmem,size=64Mi,vectors=4 \\
  --source veth=if:veth0,cpu=1 --source p64_1g=synth:size=64,pps=1488000,flows=1024,cpu=0 ...
```

Consumers and generator, per system (SRC = p<size>_<1g|10g>; `vcapsend` always
as `ip netns exec SND taskset -c 0 timeout -s INT {secs} vcapsend -i veth1 -l SIZE -r RATE --flows 1024 --proto mix -q --json`):

```sh
vcapcount -g 1 -i host:SRC -q --json -r 33554432                              # vcap, host
taskset -c 1 unshare --net --mount --propagation private sh inside.sh \\
  -i host:SRC -q --json -r 33554432                                            # vcap, container (see bench/paper)
vcapcount -i host:SRC -q --json -r 33554432                                    # vcap, VM (in the guest)
vcapcount -i host:veth -q --json -r 33554432                                   # vcap, VM, veth (in the guest)
ip netns exec CAP taskset -c 1 vcapcount -i veth0 -q --json -r 33554432        # TPACKET_V3
ip netns exec CAP taskset -c 1 pcapcount -i veth0 -B 33554432 --json           # libpcap
tc qdisc add dev veth0 ingress; tc filter add dev veth0 ingress protocol all u32 match u32 0 0 \\
  action mirred egress redirect dev tap0                                       # virtio-net: then, in the guest,
vcapcount -i eth0 -q --json -r 33554432
```

The guest (TCG, as run; `$TMP` is the run's temporary directory; QEMU is
started with `taskset -c 1 ip netns exec CAP sh guest/run-vm.sh ...`):

```sh
{qemu_tcg}
```

The KVM equivalent (`guest/run-vm.sh -k -p`), not run here:

```sh
{qemu_kvm}
```
"""


class OneConsumer:
    def __init__(self, run):
        self.run = run
        self.sizes = ([int(s) for s in run.meta.get("sizes1", "").split()]
                      or sorted({p["size"] for p in run.pts(1)}))

    def metrics(self, p):
        """A point's offered, captured, loss, capture CPU, machine busy and vcapd CPU."""
        if not self.run.ok(p):
            return None
        m = ring_metrics(p) if p["system"] in SYNTH_FED else send_metrics(p)
        if m is None:
            return None
        m["cpu"] = capture_cpu(p)
        m["busy"] = p.get("machine_busy_pct")
        m["vcapd"] = p.get("cpu_pct", {}).get("vcapd")
        return m

    def median(self, system, size, line):
        """The metrics' medians over the rounds, None if no point counts."""
        return median_over([self.metrics(p) for p in self.run.pts(1, system=system, size=size, line=line)],
                           KEYS)

    def line_section(self, line, title):
        run, sizes = self.run, self.sizes
        hdr = system_header(["frame", "line rate kpps"], SYSTEMS, "---:|---:|")

        def lead(s):
            return [kpps(run.line_rate(1, s, line))]

        def cpu_cell(sys_, s):
            a = self.median(sys_, s, line)
            if not a:
                return MISSING
            cell = f"{pct(a['cpu'], 0)} / {pct(a['busy'], 0)}"
            if sys_ in VCAP and a["vcapd"] is not None:
                cell += f" ({a['vcapd']:.0f})"
            return cell

        L = [f"## {title}\n", "### Captured kpps (offered kpps where it was less than the line rate)\n"]
        L += hdr
        L += by_size(sizes, SYSTEMS, lead, lambda sys_, s: captured_cell(
            self.median(sys_, s, line), run.line_rate(1, s, line),
            run.pts(1, system=sys_, size=s, line=line)))
        L.append("\n### Loss %\n")
        L += hdr
        L += by_size(sizes, SYSTEMS, lead, lambda sys_, s: (
            pct(a["loss"]) if (a := self.median(sys_, s, line)) else MISSING))
        L.append("\n### Consumer CPU % of one CPU / machine busy % (vcapd % for the vcap systems)\n")
        L += hdr
        L += by_size(sizes, SYSTEMS, lead, cpu_cell)
        return L + [""]

    def within_round_table(self):
        L = ["## Ratios within a round (same group of runs, seconds apart)\n",
             "| round | frame | line | state | vcap VM / host captured | vcap VM, veth / virtio-net captured | "
             "vcap VM, veth loss % | virtio-net loss % | virtio-net QEMU CPU / vcap VM, veth QEMU CPU |",
             "|---:|---:|---|---|---:|---:|---:|---:|---:|"]
        for rnd, (s, line), state, g in self.run.within_rounds(1, self.metrics, size=self.sizes,
                                                                line=("1g", "10g")):
            vm, host, vv, vi = g.get("vm"), g.get("host"), g.get("vm-veth"), g.get("virtio")
            L.append(f"| {rnd} | {s} B | {line} | {state} | {ratio(vm, host)} | "
                     f"{ratio(vv, vi)} | {pct(vv['loss']) if vv else MISSING} | "
                     f"{pct(vi['loss']) if vi else MISSING} | {ratio(vi, vv, 'cpu')} |")
        return L + [""]

    def container_check(self):
        chk = next((x["container_check"] for x in self.run.extra if "container_check" in x), None)
        if not chk:
            return []
        return ["The container, checked once before the run (a direct capture must fail there):\n",
                "```\n" + chk.strip() + "\n```\n"]

    def write(self):
        run = self.run
        L = ["# Figures 11-13 and 18: one consumer, Table 1's rates\n", run.heading(1),
             INTRO.format(machine=f"{100 * run.ncpu} % ({run.ncpu} CPUs)")]
        for line, title in LINES:
            L += self.line_section(line, title)
        L += self.within_round_table()
        L += self.container_check()
        L += run.fail_section(1)
        L.append(COMMANDS.format(secs=run.secs, qemu_tcg=run.meta.get("qemu_tcg", "?"),
                                 qemu_kvm=run.meta.get("qemu_kvm", "?")))
        L.append("![figures 11-13 and 18](fig11-13.png)\n")
        run.write("fig11-13.md", L)
        self.plot()

    def plot(self):
        sizes, out = self.sizes, self.run.out
        dat = os.path.join(out, "fig11-13.dat")
        cols = ["#1b9e77", "#7570b3", "#d95f02", "#e7298a", "#66a61e", "#e6ab02", "#a6761d"]
        blocks, idx = [], 0
        with open(dat, "w") as f:
            for line in ("1g", "10g"):
                for k, (sys_, name) in enumerate(SYSTEMS):
                    rows = []
                    for s in sizes:
                        a = self.median(sys_, s, line)
                        if a:
                            rows.append(f"{s} {max(a['captured'], 1) / 1e3:.3f} "
                                        f"{dat_value(a['cpu'])} {dat_value(a['loss'])}")
                    f.write("\n".join(rows or ["NaN NaN NaN NaN"]) + "\n\n\n")
                    blocks.append((line, idx, name, cols[k]))
                    idx += 1
                f.write("\n".join(f"{s} {(self.run.line_rate(1, s, line) or 0) / 1e3:.1f}" for s in sizes)
                        + "\n\n\n")
                blocks.append((line, idx, "line rate", "#999999"))
                idx += 1

        def plots(line, col):
            ps = []
            for ln, i, name, c in blocks:
                if ln != line:
                    continue
                if name == "line rate":
                    if col == 2:
                        ps.append(f'"{dat}" index {i} using 1:2 with lines dt 2 lw 2 lc rgb "{c}" title "offered (Table 1)"')
                    continue
                ps.append(f'"{dat}" index {i} using 1:{col} with linespoints lw 2 lc rgb "{c}" title "{name}"')
            return ", \\\n  ".join(ps)
        gp = gnuplot.multiplot(os.path.join(out, "fig11-13.png"), "1650,950", "2,3",
                               "One consumer (vcap: synth source paced at line rate; baselines: vcapsend "
                               f"over veth at what it reaches), {self.run.secs} s per point, median of rounds",
                               sizes) + 'set key top right font ",8"\n'
        for line, lname in (("1g", "1 GbE"), ("10g", "10 GbE")):
            gp += f"""
set logscale y
set yrange [*:*]
set ylabel "captured kpps"
set title "{lname}: capture rate (fig. {'11' if line == '1g' else '18'})"
plot {plots(line, 2)}
unset logscale y
set yrange [0:160]
set ytics 0, 20, 100
set ylabel "% of one CPU"
set title "{lname}: consumer CPU (process; QEMU for VMs) (fig. 12)"
plot {plots(line, 3)}
set yrange [0:160]
set ylabel "loss %"
set title "{lname}: loss (fig. 13)"
plot {plots(line, 4)}
set ytics auto
"""
        gp += "unset multiplot\n"
        gnuplot.run_tolerant(gp, dat, "report_paper.py")
