# SPDX-License-Identifier: BSD-3-Clause
"""The vPF_RING paper's claims, figure by figure, and the thresholds this
report judges this run's medians by.  Data only: readme.py applies them.

CLAIMS[figure] is the claim as README.md states it ("the paper: ...");
VERDICTS[figure] the words a verdict can take.
"""

CLAIMS = {
    "11": "vPF_RING in a VM captures 1 GbE at wire rate at every size like native PF_RING, "
          "while virtio-net only copes with medium/large packets",
    "12": "vPF_RING keeps the CPU about as idle as native PF_RING, virtio-net costs more while "
          "capturing less",
    "13": "vPF_RING and PF_RING lose nothing at any size, virtio-net up to 90 % at 64 B",
    "14": "two pfcount in one VM capture up to ~2 Mpps without loss like native, losing at 64 B "
          "wire rate (native ~0.5 Mpps more), virtio-net ≤ 100 kpps each",
    "15": "vPF_RING keeps the CPU relatively idle with two instances in one VM, virtio-net uses more",
    "16": "with two VMs, vPF_RING's 64 B capture rate is basically native's",
    "17": "two VMs cost more CPU than native, virtio-net still much more for less",
    "18": "at 10 GbE vPF_RING matches native PF_RING's capture rate",
    "19": "two instances balanced over two VMs capture about what native PF_RING's do",
    "20": "four instances (four VMs) capture comparably to native PF_RING",
    "early filtering": "filtering before the copy should spare the VMs the traffic they "
                       "do not want",
}

# How README.md introduces each claim: figures by number, the early-filtering
# experiment (not in the paper: its reviewers asked for it) by name.
FIGURE_LINE = "* **Figure {fig}**: the paper: {claim}; here{verdict}, {here}."
EXTRA_LINE = "* **Early filtering** (the reviewers' request; section 2.2): {claim}; here{verdict}, {here}."

HOLDS, FAILS = "holds", "does not hold"
VERDICTS = {
    "11": {"vcap only": "vcap holds, virtio-net does not lose here"},
    "12": {"holds": "holds on the same veth traffic, not behind the paced generator"},
    "13": {"partly": "partly"},
    "17": {"virtio only": "virtio-net's part holds; the two VMs did not always cost more "
                          "than the host processes"},
    "19": {"holds": "holds for loss; the capture rate follows what the generator makes "
                    "beside the guests"},
    "20": {"host only": "host half only"},
}

# ---------------------------------------------------------------- thresholds
NO_LOSS_PCT = 0.1          # loss % that counts as none
RATE_REACHED = 0.97        # captured (or offered) / asked at which a rate counts as reached
VIRTIO_LOSS_PCT = 10       # fig. 11: virtio-net loses this many points more than vcap on the
                           # same traffic; fig. 13: virtio-net loses at least this much somewhere
TWO_VMS_OF_HOST = 0.95     # fig. 16: two VMs capture at least this share of the host's rate

# early filtering: the lowest rate at which filtering in the guest shows, by
# losing more than this % (worst VM) or matching less than this share of
# what filtering in vcapd matched
GUEST_FILTER_LOSS_PCT = 1
GUEST_FILTER_MATCHED = 0.9
