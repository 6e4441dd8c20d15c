#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# rules.sh - what a rule or flow call costs its caller (bench/ctl_cost.c):
# vcap_flow_add, vcap_flow_hits, vcap_flow_remove and vcap_rule_add, each
# a round trip to vcapd answered once the capture thread applied it.
#
#   idle  a synth source waiting for a second consumer that never comes:
#         its capture thread sleeps until mail wakes it
#   busy  a synth source flat out (64 B, capture thread on CPU 0), its ring
#         drained by a reader thread of ctl_cost: mail waits for the batch
#         in hand
#
# ROUNDS rounds, idle and busy alternating within each (idle first in odd
# rounds), N calls of each kind per run; the report gives per-call medians
# and 99th percentiles, and their median over rounds.
#
#   usage: bench/rules.sh [-r ROUNDS] [-n N] [-o OUTDIR]
#   writes: OUTDIR/rules.jsonl (raw: docs/bench/schema.md), rules.md
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

rounds=5
calls=2000
out=docs/bench
while getopts r:n:o: opt; do
	case $opt in
	r) rounds=$OPTARG ;;
	n) calls=$OPTARG ;;
	o) out=$OPTARG ;;
	*) echo "usage: bench/rules.sh [-r ROUNDS] [-n N] [-o OUTDIR]" >&2; exit 2 ;;
	esac
done
vcap_build || exit 1
mkdir -p "$out"
raw="$out/rules.jsonl"
: >"$raw"
tmp=$(mktemp -d /tmp/vcap-bench-XXXXXX)
trap 'vcapd_stop; rm -rf "$tmp"' EXIT INT TERM

vcapd_start --source "idle=synth:size=64,consumers=2" \
	--source "busy=synth:size=64,pps=0,flows=1024,cpu=0" || exit 1

run() { # ROUND LOAD
	local dev=host:$2 args=()
	[ "$2" = busy ] && args=(-r)
	VCAP_SOCKET="$tmp/vcapd.sock" "$B/bench/ctl_cost" -d "$dev" -n "$calls" "${args[@]}" |
		while read -r line; do
			echo "{\"round\":$1,\"load\":\"$2\",\"result\":$line}" | tee -a "$raw" >&2
		done
	[ "${PIPESTATUS[0]}" = 0 ] || { echo "rules.sh: ctl_cost failed on $dev" >&2; exit 1; }
}

for round in $(seq 1 "$rounds"); do
	if [ $((round % 2)) = 1 ]; then order="idle busy"; else order="busy idle"; fi
	for load in $order; do
		run "$round" "$load"
	done
done
vcapd_stop

python3 bench/report_rules.py "$raw" "$out/rules.md" "bench/rules.sh -r $rounds -n $calls"
