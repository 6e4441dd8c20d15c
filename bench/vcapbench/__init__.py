# SPDX-License-Identifier: BSD-3-Clause
"""Helpers shared by the benchmark reports (bench/report_*.py).

The raw results these read are JSON lines, one record per line; what each
benchmark's records hold, and in which units, is written down once in
docs/bench/schema.md.

  jsonl     reading a raw-results file
  stats     medians that tolerate missing values
  fmt       numbers, ratios and markdown table rows
  gnuplot   the common start of a plot script, and running gnuplot
  machine   the host a report is written on
  paper     bench/paper's report: one module per experiment

Python 3.11 standard library only.
"""
