#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Turn bench/capture.sh's raw results into docs/bench/capture.md (+ a plot).

usage: report_capture.py RAW.jsonl OUTDIR "COMMAND"
"""
import collections
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

raw, out, command = sys.argv[1:4]
rows = [json.loads(line) for line in open(raw) if line.strip()]
med = statistics.median


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "?"


L = ["# Capture benchmark: vcapd vs plain AF_PACKET on the same veth traffic\n",
     f"Command: `{command}` (from the repository root).  Raw results: `capture.jsonl`.  "
     f"Machine: {cpu_model()}, {os.cpu_count()} vCPUs, Linux {platform.release()}; "
     f"{datetime.date.today().isoformat()}.\n",
     """A veth pair joins two private network namespaces.  `vcapsend` sends
generator frames flat out from one end, pinned to CPU 0; the capturing side is
pinned to CPU 1.  **vcap**: vcapd's `if:veth0` source (TPACKET_V3) and
`vcapcount -i host:v` reading the ring vcapd fills.  **direct**: `vcapcount -i
veth0`, i.e. libvcap's own TPACKET_V3 socket, no daemon.  Same binary, only
the device name differs.

On veth the kernel delivers to every packet socket on the *sender's* CPU,
inside its transmit call; so the sender's rate is limited by the receive-side
kernel work too.  CPU is given two ways: **capture CPU** is the user+sys time
of the capturing processes (vcapd + consumers, or the direct consumers), and
**machine CPU** is the whole machine's busy time during the run, kernel
delivery and sender included.  Both per delivered packet.
"""]


def grp(exp):
    g = collections.defaultdict(list)
    for r in rows:
        if r["experiment"] == exp:
            g[(r["r"].get("mode"), r["r"].get("size"), r["r"].get("consumers"))].append(r["r"])
    return g


def per_pkt(rs, key):
    return med([r[key] / max(r["delivered"], 1) * 1e9 for r in rs])


g1 = grp(1)
L.append("## 1. One consumer\n")
L.append("| frame | sender kpps (vcap / direct) | delivered kpps (vcap / direct) | loss % (vcap / direct) | capture CPU ns/pkt (vcap / direct) | machine CPU ns/pkt (vcap / direct) | machine CPU ratio |")
L.append("|---:|---:|---:|---:|---:|---:|---:|")
plot = []
for size in (64, 128, 256, 512, 1024, 1500):
    v, d = g1.get(("vcap", size, 1)), g1.get(("direct", size, 1))
    if not v or not d:
        continue
    secs = lambda rs: med([r["sent"] / max(r["sender_pps"], 1) for r in rs])

    def kpps(rs, k):
        return med([r[k] / max(r["sent"] / max(r["sender_pps"], 1), 1e-9) / 1e3 for r in rs])

    def loss(rs):
        return med([100.0 * r["lost"] / max(r["lost"] + r["delivered"], 1) for r in rs])

    mv, md = per_pkt(v, "machine_cpu_s"), per_pkt(d, "machine_cpu_s")
    L.append(f"| {size} B | {med([r['sender_pps'] for r in v]) / 1e3:.0f} / "
             f"{med([r['sender_pps'] for r in d]) / 1e3:.0f} | {kpps(v, 'delivered'):.0f} / "
             f"{kpps(d, 'delivered'):.0f} | {loss(v):.2f} / {loss(d):.2f} | "
             f"{per_pkt(v, 'capture_cpu_s'):.0f} / {per_pkt(d, 'capture_cpu_s'):.0f} | "
             f"{mv:.0f} / {md:.0f} | {mv / md:.2f}x |")
    plot.append((size, mv, md))

g2 = grp(2)
L.append("\n## 2. N consumers of the same traffic (64-byte frames)\n")
L.append("| consumers | sender kpps (vcap / direct) | delivered kpps, all consumers (vcap / direct) | loss % (vcap / direct) | machine CPU ns per delivered packet (vcap / direct) | direct / vcap |")
L.append("|---:|---:|---:|---:|---:|---:|")
for n in (1, 2, 4):
    v, d = g2.get(("vcap", 64, n)), g2.get(("direct", 64, n))
    if not v or not d:
        continue

    def rate(rs):
        return med([r["delivered"] / max(r["sent"] / max(r["sender_pps"], 1), 1e-9) / 1e3 for r in rs])

    def loss(rs):
        return med([100.0 * r["lost"] / max(r["lost"] + r["delivered"], 1) for r in rs])

    mv, md = per_pkt(v, "machine_cpu_s"), per_pkt(d, "machine_cpu_s")
    L.append(f"| {n} | {med([r['sender_pps'] for r in v]) / 1e3:.0f} / "
             f"{med([r['sender_pps'] for r in d]) / 1e3:.0f} | {rate(v):.0f} / {rate(d):.0f} | "
             f"{loss(v):.2f} / {loss(d):.2f} | {mv:.0f} / {md:.0f} | {md / mv:.2f}x |")

L.append("\n## 3. A filter passing 1 % of the traffic\n")
L.append("A `synth:` source paced at 1 Mpps of 64-byte frames over 100 flows; the "
         "consumer either takes everything or asks for `host 10.1.0.7` (one flow: 1 %), "
         "which vcapd applies before the ring.\n")
L.append("| consumer filter | consumer CPU (% of one core) | packets delivered/s | vcapd CPU (% of one core) |")
L.append("|---|---:|---:|---:|")
g3 = collections.defaultdict(list)
for r in rows:
    if r["experiment"] == 3:
        g3[r["r"]["filter"]].append(r["r"])
cpu = {}
for flt in ("", "host 10.1.0.7"):
    rs = g3.get(flt)
    if not rs:
        continue
    c = med([100 * r["consumer_cpu_s"] / r["seconds"] for r in rs])
    cpu[flt] = c
    L.append(f"| {flt or '(none)'} | {c:.2f} % | {med([r['result']['pps'] for r in rs]):,.0f} | "
             f"{med([100 * r['vcapd_cpu_s'] / r['seconds'] for r in rs]):.1f} % |")
if len(cpu) == 2 and cpu[""] > 0:
    L.append(f"\nWith the 1 % filter the consumer uses {100 * cpu['host 10.1.0.7'] / cpu['']:.1f} % "
             "of the CPU it uses unfiltered.\n")

L.append("\n### vcapd's filtering cost per packet (`build/bench/filter_cost`)\n")
L.append("CPU time of the filtering thread, best of 5, over 4096 warm generator frames.\n")
L.append("| what | BPF instructions | ns per packet | fraction passing |")
L.append("|---|---:|---:|---:|")
for r in rows:
    if r["experiment"] == 4:
        x = r["r"]
        L.append(f"| `{x['filter']}` ({x['what']}) | {x['insns'] or ''} | {x['ns']:.1f} | {x['pass']:.3f} |")

with open(os.path.join(out, "capture.md"), "w") as f:
    f.write("\n".join(L) + "\n\n![machine CPU per packet](capture.png)\n")

dat = os.path.join(out, "capture.dat")
with open(dat, "w") as f:
    for size, mv, md in plot:
        f.write(f"{size} {mv:.1f} {md:.1f}\n")
gp = f"""
set terminal pngcairo size 900,520 font ",11"
set output "{os.path.join(out, 'capture.png')}"
set title "One consumer on veth: machine CPU per delivered packet"
set xlabel "frame size (bytes)"
set ylabel "ns of CPU per packet"
set logscale x 2
set xtics (64, 128, 256, 512, 1024, 1500)
set yrange [0:*]
set grid
set key top left
plot "{dat}" using 1:2 with linespoints lw 2 title "vcapd + consumer", \\
     "{dat}" using 1:3 with linespoints lw 2 title "direct TPACKET_V3 consumer"
"""
subprocess.run(["gnuplot"], input=gp, text=True, check=True)
os.remove(dat)
print("\n".join(L))
