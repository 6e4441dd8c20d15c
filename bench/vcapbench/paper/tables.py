# SPDX-License-Identifier: BSD-3-Clause
"""Table cells and rows the experiments' tables share."""
from ..fmt import MISSING, kpps
from .claims import RATE_REACHED


def captured_cell(a, rate, ran):
    """Captured kpps of an aggregate a; "X of Y" where less than the rate was
    offered; "failed" where the point ran but gave no result."""
    if not a:
        return "failed" if ran else MISSING
    if rate and a["offered"] < RATE_REACHED * rate:
        return f"{kpps(a['captured'])} of {kpps(a['offered'])}"
    return kpps(a["captured"])


def by_size(sizes, systems, lead, cell):
    """Table rows, one per frame size: the size, lead(size)'s cells, then
    cell(system, size) for each of the systems."""
    return ["| " + " | ".join([f"{s} B", *lead(s)] + [cell(sys_, s) for sys_, _ in systems]) + " |"
            for s in sizes]


def system_header(lead, systems, lead_align):
    """The header of a by_size table: LEAD column names, then the systems'."""
    return ["| " + " | ".join(lead) + " | " + " | ".join(n for _, n in systems) + " |",
            "|" + lead_align + "---:|" * len(systems)]


def dat_value(x):
    """A value in a gnuplot data file: NaN for none."""
    return x if x is not None else "NaN"
