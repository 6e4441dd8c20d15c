# SPDX-License-Identifier: BSD-3-Clause
"""What one bench/paper point measured, from its record (docs/bench/schema.md,
"paper.jsonl: a point"), and medians of that over the rounds.

Rates are packets per second, loss and CPU in percent."""
from ..stats import median_present as med


def ring_metrics(p, rings=None):
    """offered, captured (pps over the window) and loss % from vcapd's ring
    counters: for consumers of vcapd's synth: sources, the rings are where
    packets can be lost."""
    rings = p.get("rings", []) if rings is None else rings
    w = p.get("counters_s") or p.get("window_s")
    if not rings or not w:
        return None
    rec = sum(g["received"] for g in rings)
    dlv = sum(g["delivered"] for g in rings)
    drp = sum(g["dropped"] for g in rings)
    flt = sum(g["filtered"] for g in rings)
    wanted = rec - flt
    return {"offered": rec / w, "captured": dlv / w,
            "loss": 100.0 * drp / wanted if wanted > 0 else 0.0}


def send_metrics(p, cons=None):
    """captured and loss % of consumers fed by vcapsend: received vs sent,
    lost anywhere on the way."""
    s = p.get("sender")
    cons = p.get("consumers", []) if cons is None else cons
    if not s or not cons or not s.get("seconds"):
        return None
    res = []
    for c in cons:
        if c.get("packets") is None:
            return None
        res.append({"captured": c["packets"] / s["seconds"],
                    "loss": max(0.0, 100.0 * (1 - c["packets"] / s["sent"])) if s["sent"] else None})
    return {"offered": s["pps"], "captured": sum(x["captured"] for x in res),
            "loss": max((x["loss"] for x in res if x["loss"] is not None), default=None),
            "per": res}


def capture_cpu(p):
    """The capturing side's CPU %: the QEMU processes' sum where VMs capture,
    else the consumer processes'."""
    c = p.get("cpu_pct", {})
    q = sum(v for k, v in c.items() if k.startswith("qemu-"))
    return q if any(k.startswith("qemu-") for k in c) else c.get("consumer")


def median_over(metrics, keys, per_loss=False):
    """The median of each of KEYS over the points' metrics (None ones, of
    failed points, left out), and n, how many there were; with PER_LOSS also
    the median loss of each consumer.  None if no point counts."""
    ms = [m for m in metrics if m]
    if not ms:
        return None
    a = {k: med([m.get(k) for m in ms]) for k in keys} | {"n": len(ms)}
    if per_loss:
        a["per_loss"] = [med(x) for x in zip(*[m["per_loss"] for m in ms if m.get("per_loss")])]
    return a
