# SPDX-License-Identifier: BSD-3-Clause
"""The machine's speed state.  This 2-vCPU VM's cross-core transfers switch
between fast and about four times slower within minutes; bench/ring.sh and
bench/paper bracket each group of runs with a one-second bare-ring probe
(bench/spsc_bare, 64-byte frames) and label the group by it."""

FAST = 25.0  # Mpps of the 64-byte probe above which the machine is "fast" (~46 vs ~11)


def speed_state(before, after):
    """"fast" or "slow" if the probes before and after (Mpps) agree, None if
    the machine switched in between."""
    fb, fa = before > FAST, after > FAST
    return ("fast" if fb else "slow") if fb == fa else None
