# SPDX-License-Identifier: BSD-3-Clause
"""bench/paper's report (bench/report_paper.py is the entry point).

  point            assembles one measurement point's record (`report_paper.py point`)
  run              the raw results of a run: points, probes, machine states
  metrics          rates, loss and CPU of one point, and medians over rounds
  one_consumer     figures 11-13 and 18 (experiment 1) -> fig11-13.md/.png
  two_consumers    figures 14-17 (experiment 2)        -> fig14-17.md/.png
  cluster          figures 19-20 (experiment 3)        -> fig19-20.md/.png
  early_filtering  experiment 4                         -> early-filtering.md/.png
  claims           the paper's claims and the thresholds the verdicts use (data)
  readme           README.md: this run against each claim
  report           `report_paper.py report RAW OUT`: all of the above

The records are described in docs/bench/schema.md ("paper.jsonl").
"""
