# SPDX-License-Identifier: BSD-3-Clause
"""Numbers, ratios and markdown table rows, as the reports print them."""

MISSING = "—"  # a cell with no value: the point is missing or failed


def row(cells):
    """One markdown table row."""
    return "| " + " | ".join(cells) + " |"


def align_row(aligns, widths=None):
    """A table's alignment row: one of "r", "l", "c" per column.  With
    widths (each header cell's width, its padding included) the dashes fill
    the column, else they are the shortest markdown takes."""
    cells = []
    for i, a in enumerate(aligns):
        w = widths[i] if widths else (4 if a == "r" else 3 if a == "l" else 5)
        cells.append({"r": "-" * (w - 1) + ":", "l": "-" * w, "c": ":" + "-" * (w - 2) + ":"}[a])
    return "|" + "|".join(cells) + "|"


def header(names, aligns):
    """A table's header and alignment rows, the dashes as wide as each name."""
    return [row(names), align_row(aligns, [len(n) + 2 for n in names])]


def times(x, digits=2):
    """A ratio: 1.234 -> "1.23x"."""
    return f"{x:.{digits}f}x"


def ratio(a, b, key="captured"):
    """a[key] / b[key] as "1.23x" (two points of the same round), or the
    missing mark if either point is missing or b's value is 0."""
    return times(a[key] / b[key]) if a and b and b.get(key) else MISSING


def kpps(pps):
    """Packets per second as kpps: whole above 100 kpps, one decimal below."""
    if pps is None:
        return MISSING
    k = pps / 1e3
    return f"{k:,.0f}" if k >= 100 else f"{k:,.1f}"


def pct(x, digits=1):
    """A percentage without the sign: 0 as "0", tiny values as "<0.01",
    under 1 with two decimals, else with DIGITS."""
    if x is None:
        return MISSING
    if x == 0:
        return "0"
    if x < 0.01:
        return "<0.01"
    return f"{x:.2f}" if x < 1 else f"{x:.{digits}f}"
