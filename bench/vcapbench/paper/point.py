# SPDX-License-Identifier: BSD-3-Clause
"""`report_paper.py point ...`: one measurement point's record.

bench/paper collects what a point left behind (vcapctl status before and
after the window, what each consumer and vcapsend printed, jiffies of the
processes it watched) and this turns it into one JSON line on stdout: the
meta fields, the window, CPU per process group in % of one CPU, the whole
machine's busy % (of 100 x CPUs), every vcapd ring's counters over the
window, each source's packets over the window, the consumers' and the
sender's results, tap drops, and any error (docs/bench/schema.md,
"paper.jsonl: a point").
"""
import argparse
import collections
import json
import os
import re


def load_json(path):
    """A file's JSON, or None if it is missing, empty or not JSON."""
    try:
        with open(path) as f:
            txt = f.read().strip()
        return json.loads(txt) if txt else None
    except (OSError, ValueError):
        return None


def parse_consumer(name, path, errdir):
    """A host consumer's stdout (one JSON line) or a guest's result line."""
    c = {"name": name}
    try:
        txt = open(path, errors="replace").read().strip()
    except OSError:
        txt = ""
    m = re.match(r".*VCAP-PAPER: \S+ rc=(\d+) out (.*?) err ?(.*)$", txt, re.S)
    if m:
        c["rc"] = int(m.group(1))
        body, err = m.group(2).strip(), m.group(3).strip()
        c["where"] = "guest"
    else:
        body, err = txt, ""
        c["where"] = "host"
        ep = os.path.join(errdir, name + ".err") if errdir else None
        if ep and os.path.exists(ep):
            err = open(ep, errors="replace").read()[-300:].strip()
    j = None
    for line in body.splitlines() or [body]:
        line = line.strip()
        if line.startswith("{"):
            try:
                j = json.loads(line)
            except ValueError:
                pass
    if j:
        c.update(j)
    if err and (not j or c.get("rc")):
        c["err"] = err[-300:]
    return c


def parse_args(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--meta", required=True)
    for k in ("t0", "t1", "busy0", "busy1", "s0", "s1"):
        ap.add_argument("--" + k, default="0")
    ap.add_argument("--hz", type=int, default=100)
    ap.add_argument("--ncpu", type=int, default=1)
    ap.add_argument("--proc", action="append", default=[])
    ap.add_argument("--out", action="append", default=[])
    ap.add_argument("--tapdrop", action="append", default=[])
    ap.add_argument("--status0")
    ap.add_argument("--status1")
    ap.add_argument("--sender")
    ap.add_argument("--errdir")
    ap.add_argument("--error", default="")
    return ap.parse_args(argv)


def add_cpu(r, a, win):
    """The machine's busy % and each watched process group's CPU %."""
    b0, _, n0 = a.busy0.partition(":")
    b1, _, n1 = a.busy1.partition(":")
    if n0 and n1 and int(n1) > int(n0):  # share of all jiffies, as top counts
        r["machine_busy_pct"] = round(100.0 * a.ncpu * (int(b1) - int(b0)) / (int(n1) - int(n0)), 1)
    else:
        r["machine_busy_pct"] = round(100.0 * (int(b1) - int(b0)) / a.hz / win, 1)
    cpu = collections.defaultdict(float)
    for p in a.proc:
        name, v = p.split("=", 1)
        j0, j1 = (int(x or 0) for x in v.split(","))
        cpu[name] += 100.0 * max(j1 - j0, 0) / a.hz / win
    r["cpu_pct"] = {k: round(v, 1) for k, v in cpu.items()}


def add_vcapd_counters(r, a, s0, s1):
    """Each ring's and source's counters over the window (vcapctl status
    before and after); rings opened during the window are left out."""
    before = {g["id"]: g for g in s0.get("rings", [])}
    rings = []
    for g in s1.get("rings", []):
        b = before.get(g["id"])
        if not b:
            continue
        rings.append({"id": g["id"], "source": g["source"], "client": g["client"],
                      "pid": g["pid"], "cluster": g.get("cluster", 0),
                      **{k: g[k] - b[k] for k in ("received", "delivered", "dropped", "filtered")}})
    r["rings"] = rings
    sw = float(a.s1 or 0) - float(a.s0 or 0)
    if sw > 0:
        r["counters_s"] = round(sw, 3)
    sb = {s["name"]: s for s in s0.get("sources", [])}
    r["sources"] = {s["name"]: s["received"] - sb[s["name"]]["received"]
                    for s in s1.get("sources", [])
                    if s["name"] in sb and s["received"] != sb[s["name"]]["received"]}


def point(argv):
    a = parse_args(argv)
    r = json.loads(a.meta)
    errors = [a.error] if a.error else []
    t0, t1 = float(a.t0 or 0), float(a.t1 or 0)
    win = t1 - t0
    if win > 0:
        r["window_s"] = round(win, 3)
        add_cpu(r, a, win)
    s0, s1 = load_json(a.status0) if a.status0 else None, load_json(a.status1) if a.status1 else None
    if s0 and s1:
        add_vcapd_counters(r, a, s0, s1)
    cons = []
    for o in a.out:
        name, path = o.split("=", 1)
        c = parse_consumer(name, path, a.errdir)
        if "packets" not in c:
            errors.append("consumer %s printed no result%s" % (name, ": " + c["err"] if c.get("err") else ""))
        elif c.get("rc"):
            errors.append("consumer %s: rc=%s %s" % (name, c["rc"], c.get("err", "")))
        cons.append(c)
    r["consumers"] = sorted(cons, key=lambda c: c["name"])
    if a.sender and os.path.exists(a.sender):
        s = load_json(a.sender)
        if s:
            r["sender"] = s
        else:
            err = ""
            ep = a.sender.replace(".json", ".err")
            if os.path.exists(ep):
                err = open(ep, errors="replace").read()[-200:]
            errors.append("vcapsend printed no result " + err.strip())
    if a.tapdrop:
        r["tap_dropped"] = {t.split("=", 1)[0]: int(t.split("=", 1)[1]) for t in a.tapdrop}
    if errors:
        r["error"] = "; ".join(e.strip() for e in errors if e.strip())
    print(json.dumps(r))
