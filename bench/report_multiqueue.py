#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""report_multiqueue.py - the tables for bench/multiqueue.sh: if:veth0,
if:veth0,fanout=2 and xdp:veth0 side by side (docs/bench/schema.md has the
records).

Per point the median over rounds, with the range the middle half of the
rounds fell in (interquartile: "median (Q1-Q3)") where the baseline's noise
matters.  "kernel" is the senders' and ksoftirqd's
run time over that of the same round's senders with nothing capturing (mode
none) at the same size and rate: the veth receive, the delivery to the
socket(s) and, for xdp:, the XDP program and AF_XDP's copy, all of which run
in softirq in the senders' context.  Loss is summed over all rounds.

usage: report_multiqueue.py RAW.jsonl COMMAND   (markdown on stdout)
"""
import statistics
import sys
from collections import defaultdict

from vcapbench import jsonl, machine, stats

NAMES = {"if": "`if:veth0`", "fanout": "`if:veth0,fanout=2`", "xdp": "`xdp:veth0`",
         "xdpf": "`xdp:veth0`, BPF filter", "none": "nothing capturing"}


def kernel_s(r):
    return r["sender_cpu_s"] + r["softirqd_cpu_s"]


# A point is disturbed when something else ran: the machine's busy time
# beyond what the measured processes ran exceeds that of the same point's
# median over rounds by more than this, in CPUs.
DISTURBED = 0.15


def other_cpus(r):
    """CPUs busy with something else than the senders, ksoftirqd, vcapd and
    the consumer over the point (tick-sampled, so about ±0.05)."""
    secs = r["sent"] / r["sender_pps"] if r.get("sender_pps") else 0
    rest = r["machine_cpu_s"] - kernel_s(r) - r["vcapd_cpu_s"] - r["consumer_cpu_s"]
    return rest / secs if secs else 0.0


class Runs:
    def __init__(self, recs):
        self.all = defaultdict(list)  # (kind, mode, size) -> records, loss counts them all
        for r in recs:
            self.all[(r["kind"], r["mode"], r["size"])].append(r)
        # CPU figures leave out disturbed points
        self.by, self.disturbed = defaultdict(list), []
        for key, rs in self.all.items():
            typical = stats.median([other_cpus(r) for r in rs])
            for r in rs:
                if other_cpus(r) - typical > DISTURBED:
                    self.disturbed.append(r)
                else:
                    self.by[key].append(r)

    def get(self, kind, mode, size):
        return self.by.get((kind, mode, size), [])

    def baseline(self, kind, size):
        """round -> (kernel s, machine s) with nothing capturing."""
        base_kind = "flat" if kind == "flat" else "all"
        return {r["round"]: (kernel_s(r), r["machine_cpu_s"])
                for r in self.get(base_kind, "none", size)}

    def cpu(self, kind, mode, size, per):
        """Medians over rounds, in ns per `per` packet ("delivered" or
        "sent"): vcapd, consumer, kernel, machine; None where no baseline.
        Also "wakeups": vcapd's per 1000 such packets; and for kernel, total
        and kv, "KEY_q": their (Q1, Q3) over rounds."""
        base = self.baseline(kind, size)
        cols = defaultdict(list)
        for r in self.get(kind, mode, size):
            n = max(r[per], 1)
            cols["vcapd"].append(r["vcapd_cpu_s"] / n * 1e9)
            cols["consumer"].append(r["consumer_cpu_s"] / n * 1e9)
            if "vcapd_wakeups" in r:
                cols["wakeups"].append(r["vcapd_wakeups"] / n * 1000)
            if r["round"] in base:
                k, m = base[r["round"]]
                cols["kernel"].append((kernel_s(r) - k) / n * 1e9)
                cols["machine"].append((r["machine_cpu_s"] - m) / n * 1e9)
                cols["total"].append((kernel_s(r) - k + r["vcapd_cpu_s"] +
                                      r["consumer_cpu_s"]) / n * 1e9)
                cols["kv"].append((kernel_s(r) - k + r["vcapd_cpu_s"]) / n * 1e9)
        out = {k: stats.median_present(v) for k, v in cols.items()}
        for k in ("kernel", "total", "kv"):
            if len(cols[k]) >= 2:
                q = statistics.quantiles(cols[k], n=4, method="inclusive")
                out[k + "_q"] = (q[0], q[2])
        return out

    def loss(self, kind, mode, size):
        """(wanted, delivered, ring dropped, socket drops, lost before vcapd's
        socket) summed over rounds."""
        rs = self.all.get((kind, mode, size), [])
        w = sum(r["wanted"] for r in rs)
        d = sum(r["delivered"] for r in rs)
        ring = sum(r["dropped"] for r in rs)
        sock = sum(r["kernel_drops"] for r in rs)
        return w, d, ring, sock, w - d - ring - sock


def ns(x):
    return "n/a" if x is None else f"{x:.0f}"


def nsq(c, key):
    """"median (Q1-Q3)" of c[key]."""
    q = c.get(key + "_q")
    if c.get(key) is None or not q:
        return ns(c.get(key))
    return f"{c[key]:.0f} ({q[0]:.0f}–{q[1]:.0f})"


def wk(x):
    return "n/a" if x is None else f"{x:.1f}"


def ratio(a, b):
    return "n/a" if a is None or b is None or b <= 0 else f"{a / b:.2f}x"


def loss_cell(lo):
    w, d, ring, sock, before = lo
    lost = w - d
    pct = 100.0 * lost / w if w else 0.0
    return f"{lost} ({pct:.2f} %): {ring} / {sock} / {before}"


def main(raw, command):
    recs = jsonl.read_records(raw)
    runs = Runs(recs)
    rounds = max((r["round"] for r in recs), default=0)
    sizes = sorted({r["size"] for r in recs if r["kind"] == "all"})
    rate = max((r["rate"] for r in recs), default=0)
    sent = stats.median_or_nan([r["sent"] for r in recs if r["kind"] == "all"])
    gen = {r.get("sender", "afpacket") for r in recs}
    how = ("xdpgen: XDP frames, which veth0 takes without an skb, as a NIC's driver would"
           if gen == {"xdp"} else "vcapsend: AF_PACKET, every frame an skb from the start"
           if gen == {"afpacket"} else "mixed senders: " + ", ".join(sorted(gen)))
    L = [machine.provenance(command, raw.split("/")[-1]).rstrip("\n"), "",
         f"{rounds} rounds; per point the median over rounds, loss summed over them.  "
         f"Two senders ({how}; {rate // 2 // 1000} kpps each in bursts of 100, one "
         f"pinned to each CPU, so each veth RX queue gets half), {sent:.0f} frames per "
         "point, 1000 UDP flows.", ""]

    # ---- everything wanted
    L += ["## Everything wanted: CPU per delivered packet", "",
          "ns per delivered packet: **vcapd** (all its threads), **consumer** "
          "(vcapcount), **kernel** (senders + ksoftirqd over the same with nothing "
          "capturing), **total** (the three), and the machine's busy time over the "
          "baseline as a check (tick-sampled).  **wake-ups**: vcapd's threads' "
          "voluntary sleeps per 1000 packets.  Lost: offered − delivered, then "
          "ring full / socket drops / lost before vcapd's socket.", "",
          "| frame | source | delivered | lost: ring / socket / before | vcapd | wake-ups | "
          "consumer | kernel | total | vs `if:` | machine (check) |",
          "|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    totals = {}
    for size in sizes:
        for mode in ("if", "fanout", "xdp"):
            if not runs.all.get(("all", mode, size)):
                continue
            c = runs.cpu("all", mode, size, "delivered")
            totals[(mode, size)] = c.get("total")
            lo = runs.loss("all", mode, size)
            L.append(f"| {size} B | {NAMES[mode]} | {lo[1]} of {lo[0]} | {loss_cell(lo)} | "
                     f"{ns(c.get('vcapd'))} | {wk(c.get('wakeups'))} | {ns(c.get('consumer'))} | "
                     f"{nsq(c, 'kernel')} | {nsq(c, 'total')} | "
                     f"{ratio(c.get('total'), totals.get(('if', size)))} | "
                     f"{ns(c.get('machine'))} |")
    qs = [r["xdp_queue_packets"] for r in recs
          if r["mode"].startswith("xdp") and r["kind"] == "all" and "xdp_queue_packets" in r]
    if qs:
        share = [sum(q[i] for q in qs) for i in range(len(qs[0]))]
        tot = sum(share) or 1
        L += ["", "Queue spread (xdp:, veth's per-queue XDP counters, all rounds): " +
              ", ".join(f"queue {i} {100.0 * s / tot:.1f} %" for i, s in enumerate(share)) + "."]

    # ---- 1 % wanted
    L += ["", "## 1 % wanted: CPU per offered packet", "",
          "The consumer wants flows 0..9 of 1000 (client ports 1024..1033, both "
          "directions: exactly 1 % of the frames).  `if:`: `vcapcount -f 'udp portrange "
          "1024-1033'`, a filter vcapd hands to the packet socket, so the kernel drops "
          "the rest before they are queued (they count in no counter).  `xdp:`: "
          "`vcapcount --default drop --rule pass,udp,sport=1024-1033 --rule "
          "pass,udp,dport=1024-1033`, which vcap's XDP program runs, dropping the rest "
          "before an AF_XDP copy (they count as received and filtered); and "
          "(\"BPF filter\") the same `-f` filter as `if:`'s, which vcapd translates to "
          "run in the XDP program too.  ns per **offered** packet.", "",
          "| frame | source | delivered of wanted | filtered | lost: ring / socket / before | "
          "kernel | vcapd | wake-ups | kernel + vcapd | vs `if:` | consumer | machine (check) |",
          "|---:|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    kv = {}
    for size in sizes:
        for mode in ("if", "xdp", "xdpf"):
            rs = runs.all.get(("1pct", mode, size), [])
            if not rs:
                continue
            c = runs.cpu("1pct", mode, size, "sent")
            kv[(mode, size)] = c.get("kv")
            lo = runs.loss("1pct", mode, size)
            filt = sum(r["filtered"] for r in rs)
            L.append(f"| {size} B | {NAMES[mode]} | {lo[1]} of {lo[0]} | {filt} | "
                     f"{loss_cell(lo)} | {nsq(c, 'kernel')} | {ns(c.get('vcapd'))} | "
                     f"{wk(c.get('wakeups'))} | {nsq(c, 'kv')} | "
                     f"{ratio(c.get('kv'), kv.get(('if', size)))} | "
                     f"{ns(c.get('consumer'))} | {ns(c.get('machine'))} |")

    # ---- flat out
    flat = {m: runs.all.get(("flat", m, 64), []) for m in ("none", "if", "xdp")}
    if any(flat.values()):
        base = stats.median_present([r["sender_pps"] for r in flat["none"]])
        L += ["", "## The senders flat out (64 B)", "",
              "Both senders `-r 0`; their rates added.  On veth the receive (and so "
              "the capture's kernel side) runs in the senders' context: what it costs "
              "shows as a lower send rate, and so does any CPU the capture takes from "
              "the senders (the two CPUs are full).  Senders' CPU per frame: the senders' "
              "and ksoftirqd's run time per frame sent (the veth receive and the socket "
              "delivery included).", "",
              "| capturing | senders' kpps | vs nothing capturing | delivered of sent | "
              "lost: ring / socket / before | senders' CPU ns per frame sent | vcapd + "
              "consumer CPU, s per s |",
              "|---|---:|---:|---:|---|---:|---:|"]
        for m in ("none", "if", "xdp"):
            rs = flat[m]
            if not rs:
                continue
            pps = stats.median_present([r["sender_pps"] for r in rs])
            lo = runs.loss("flat", m, 64)
            snd = stats.median_present([kernel_s(r) / max(r["sent"], 1) * 1e9 for r in rs])
            cap = stats.median_present([(r["vcapd_cpu_s"] + r["consumer_cpu_s"]) /
                                        (r["sent"] / r["sender_pps"]) for r in rs])
            L.append(f"| {NAMES[m]} | {pps / 1e3:.0f} | {ratio(pps, base)} | "
                     + (f"{lo[1]} of {lo[0]} | {loss_cell(lo)} |" if m != "none" else "— | — |")
                     + f" {snd:.0f} | {cap:.2f} |")
        flat_pps = {m: stats.median_present([r["sender_pps"] for r in flat[m]])
                    for m in flat if flat[m]}
    else:
        flat_pps = {}

    # ---- what else ran
    if recs:
        d = runs.disturbed
        L += ["", "Disturbed points: the machine is shared, and "
              f"{len(d)} of {len(recs)} points ran while something else took more than "
              f"{DISTURBED} of a CPU beyond what the same point took in its other rounds "
              "(the machine's busy time minus the measured processes', "
              "tick-sampled); the CPU figures above leave them out (a round whose "
              "baseline is one has no kernel figure for that size), loss counts every "
              "point" + (":" if d else "."), ""]
        if d:
            L += ["| round | kind | source | frame | other CPUs |", "|---:|---|---|---:|---:|"]
            L += [f"| {r['round']} | {r['kind']} | {NAMES[r['mode']]} | {r['size']} B | "
                  f"{other_cpus(r):.2f} |" for r in d]

    # ---- goals
    def verdict(ok):
        return "met" if ok else "**not met**"
    L += ["", "## Against the goals", "", "| goal | measured | |", "|---|---|---|"]
    t_if, t_x = totals.get(("if", 64)), totals.get(("xdp", 64))
    if t_if and t_x is not None:
        L.append(f"| `xdp:` ≤ 0.6x the CPU per delivered packet of `if:` at 64 B | "
                 f"{t_x / t_if:.2f}x ({t_x:.0f} / {t_if:.0f} ns) | {verdict(t_x <= 0.6 * t_if)} |")
    k_if, k_x = kv.get(("if", 64)), kv.get(("xdp", 64))
    if k_if is not None and k_x is not None:
        ok = k_x <= 0.3 * k_if if k_if > 0 else k_x <= k_if
        L.append(f"| 1 % wanted: `xdp:` kernel + vcapd CPU per offered packet ≤ 0.3x "
                 f"`if:` with its kernel filter (64 B) | "
                 f"{ratio(k_x, k_if)} ({k_x:.0f} / {k_if:.0f} ns) | {verdict(ok)} |")
    paced = [runs.loss(k, m, s) for k in ("all", "1pct") for m in ("if", "fanout", "xdp", "xdpf")
             for s in sizes if runs.all.get((k, m, s))]
    lost = [p[0] - p[1] for p in paced]
    L.append(f"| equal loss (0) at the same offered rate | "
             f"{sum(1 for x in lost if x)} of {len(lost)} paced points lost frames "
             f"({sum(lost)} frames in all) | {verdict(not any(lost))} |")
    if "if" in flat_pps and "xdp" in flat_pps:
        a, b = flat_pps["xdp"], flat_pps["if"]
        L.append(f"| flat out, the senders keep at least their `if:` rate with `xdp:` | "
                 f"{a / 1e3:.0f} vs {b / 1e3:.0f} kpps ({a / b:.2f}x) | {verdict(a >= b)} |")
    print("\n".join(L))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: report_multiqueue.py RAW.jsonl COMMAND")
    main(sys.argv[1], sys.argv[2])
