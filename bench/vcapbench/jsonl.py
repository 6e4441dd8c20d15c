# SPDX-License-Identifier: BSD-3-Clause
"""Reading the raw results: one JSON object per line (docs/bench/schema.md)."""
import json


def read_records(path):
    """Every record of a JSON-lines file, in order; blank lines skipped."""
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def split_run(records):
    """(meta, end, the rest) of a run that starts with a {"meta": {...}}
    record and ends with an {"end": {...}} one (bench/vm.sh): the last of
    each wins, and either may be missing ({})."""
    meta, end, rest = {}, {}, []
    for r in records:
        if "meta" in r:
            meta = r["meta"]
        elif "end" in r:
            end = r["end"]
        else:
            rest.append(r)
    return meta, end, rest
