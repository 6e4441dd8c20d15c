# SPDX-License-Identifier: BSD-3-Clause
"""The raw results of one bench/paper run (paper.jsonl), and what every
experiment's report asks of them: its points, rounds, frame sizes and
rates, the machine's state around each group, and its failed points."""
import collections
import itertools
import os

from ..jsonl import read_records
from ..probe import FAST, speed_state


class PaperRun:
    def __init__(self, raw, out):
        self.out = out
        self.meta, self.end, self.points, self.probes, self.extra = {}, {}, [], [], []
        for r in read_records(raw):
            if "meta" in r and isinstance(r["meta"], dict) and "command" in r["meta"]:
                self.meta = r["meta"]
            elif "end" in r:
                self.end = r["end"]
            elif "probe" in r:
                self.probes.append(r)
            elif "system" in r:
                self.points.append(r)
            else:
                self.extra.append(r)
        self.ncpu = self.meta.get("ncpu", os.cpu_count())
        self.secs = self.meta.get("seconds", "?")
        # machine state per (exp, round, group): fast / slow / mixed
        pr = collections.defaultdict(dict)
        for p in self.probes:
            pr[(p["exp"], p["round"], str(p["group"]))][p["probe"]] = p["result"].get("mpps", 0)
        self.state = {k: speed_state(v["before"], v["after"]) or "mixed"
                      for k, v in pr.items() if "before" in v and "after" in v}

    # ---------------------------------------------------------------- points
    def pts(self, exp, **kw):
        """Experiment EXP's points whose fields equal KW."""
        return [p for p in self.points if p["exp"] == exp and all(p.get(k) == v for k, v in kw.items())]

    def rounds(self, exp):
        return sorted({p["round"] for p in self.points if p["exp"] == exp})

    def sizes(self, exp):
        return sorted({p["size"] for p in self.pts(exp)})

    def rates(self, exp):
        return sorted({p["rate"] for p in self.pts(exp)})

    def line_rate(self, exp, size, line=None):
        """The rate experiment EXP offered at SIZE (and line 1g / 10g): Table
        1's line rate, which bench/paper passes to every point."""
        for p in self.points:
            if p["exp"] == exp and p["size"] == size and (line is None or p.get("line") == line):
                return p["rate"]
        return None

    @staticmethod
    def ok(p):
        return "error" not in p

    def failed(self, exp):
        return [p for p in self.points if p["exp"] == exp and not self.ok(p)]

    # ---------------------------------------------------------------- machine state
    @staticmethod
    def group_of(p):
        """The probe group a point ran in (bench/paper's `probe EXP ROUND GROUP`)."""
        if p["exp"] == 1:
            return f"{p['size']}_{p['line']}"
        if p["exp"] == 4:
            return str(p["rate"])
        return str(p["size"])

    def state_of(self, p):
        return self.state.get((p["exp"], p["round"], self.group_of(p)), "?")

    def within_rounds(self, exp, metric, **axes):
        """The rows of a within-round table: (round, axis values, state, {system:
        metric(point)}) for each round and each combination of the axes' values
        (field=values, the first one outermost) that has points."""
        for rnd in self.rounds(exp):
            for vals in itertools.product(*axes.values()):
                ps = self.pts(exp, round=rnd, **dict(zip(axes, vals)))
                if ps:
                    yield rnd, vals, self.state_of(ps[0]), {p["system"]: metric(p) for p in ps}

    # ---------------------------------------------------------------- common text
    def states_line(self, exp):
        c = collections.Counter(v for (e, _, _), v in self.state.items() if e == exp)
        if not c:
            return "No probe results."
        return ("Machine state by the bare-ring probe around each group (fast > "
                f"{FAST:.0f} Mpps): " + ", ".join(f"{n} {s}" for s, n in sorted(c.items())) + ".")

    def heading(self, exp):
        """The line under each table file's title."""
        return (f"Raw: `paper.jsonl` (exp {exp}).  {self.secs} s per point, "
                f"{len(self.rounds(exp))} round(s); medians over rounds.  {self.states_line(exp)}\n")

    def fail_section(self, exp):
        f = self.failed(exp)
        if not f:
            return ["No point failed.\n"]
        L = ["## Points that failed (left out of the tables)\n",
             "| round | system | size | rate | reason |", "|---:|---|---:|---:|---|"]
        for p in f:
            L.append(f"| {p['round']} | {p['system']} | {p.get('size', '')} | {p.get('rate', '')} | "
                     f"{p['error'][:300].replace('|', '/')} |")
        return L + [""]

    def write(self, name, L):
        with open(os.path.join(self.out, name), "w") as f:
            f.write("\n".join(L).rstrip() + "\n")
