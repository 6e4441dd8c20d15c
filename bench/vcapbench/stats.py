# SPDX-License-Identifier: BSD-3-Clause
"""Medians.  Runs are repeated in rounds and the machine's speed drifts, so
the reports give medians, never means."""
import statistics

median = statistics.median


def median_or_nan(xs):
    """The median, or NaN for no values (an empty table cell reads "nan")."""
    return statistics.median(xs) if xs else float("nan")


def median_present(xs):
    """The median of the values that are not None, or None if none are."""
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def medians_by_position(lists):
    """[median of the first elements, of the second, ...] over equally long
    lists (e.g. per-consumer values over rounds); None values are left out."""
    return [median_present(x) for x in zip(*lists)]
