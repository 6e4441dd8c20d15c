# SPDX-License-Identifier: BSD-3-Clause
"""`report_paper.py report RAW OUT`: every table file, figure and README.md."""
import os

from . import readme
from .cluster import Cluster
from .early_filtering import EarlyFiltering
from .one_consumer import OneConsumer
from .run import PaperRun
from .two_consumers import TwoConsumers


def report(raw, out):
    run = PaperRun(raw, out)
    exps = (OneConsumer(run), TwoConsumers(run), Cluster(run), EarlyFiltering(run))
    one, two, cluster, ef = exps
    if run.pts(1):
        one.write()
    two.write()
    cluster.write()
    ef.write()
    readme.write(run, exps)
    print(open(os.path.join(out, "README.md")).read())
