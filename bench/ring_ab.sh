#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# ring_ab.sh - the ring path of two builds of vcap, side by side in one run:
# a change to the data path or the layers around it is judged by what it
# does to the same measurement taken next to the old one, never against a
# table measured on another day (this machine's cross-core speed swings by
# a factor of 4 from one minute to the next).
#
#   synth source -> vcapd capture thread (CPU 0) -> ring -> vcapcount (CPU 1)
#
# flat out at each size, build A and build B alternating (A B, then B A,
# ...) for ROUNDS rounds, with a one-second bare-ring probe around each
# pair to label the machine's state.  Each build runs its own vcapd and
# vcapcount, so the two may speak different protocol versions.
#
#   usage: bench/ring_ab.sh -a BUILD_A -b BUILD_B [-r ROUNDS] [-d SECONDS]
#                           [-s "SIZES"] [-o OUTDIR] [-l "LABEL_A LABEL_B"]
#   writes: OUTDIR/ring-ab.jsonl (raw: docs/bench/schema.md), ring-ab.md
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

rounds=5
secs=3
sizes="64"
out=docs/bench
a= b= labels="A B"
while getopts a:b:r:d:s:o:l: opt; do
	case $opt in
	a) a=$OPTARG ;;
	b) b=$OPTARG ;;
	r) rounds=$OPTARG ;;
	d) secs=$OPTARG ;;
	s) sizes=$OPTARG ;;
	o) out=$OPTARG ;;
	l) labels=$OPTARG ;;
	*) a= ; break ;;
	esac
done
if [ -z "$a" ] || [ -z "$b" ]; then
	echo "usage: bench/ring_ab.sh -a BUILD_A -b BUILD_B [-r ROUNDS] [-d SECONDS] [-s SIZES]" \
		"[-o OUTDIR] [-l \"LABEL_A LABEL_B\"]" >&2
	exit 2
fi
for d in "$a" "$b"; do
	[ -x "$d/daemon/vcapd" ] && [ -x "$d/tools/vcapcount" ] ||
		{ echo "ring_ab.sh: $d has no daemon/vcapd and tools/vcapcount (build it)" >&2; exit 1; }
done
a=$(cd "$a" && pwd)
b=$(cd "$b" && pwd)
read -r label_a label_b <<<"$labels"
mkdir -p "$out"
raw="$out/ring-ab.jsonl"
: >"$raw"
tmp=$(mktemp -d /tmp/vcap-bench-XXXXXX)
trap 'vcapd_stop; rm -rf "$tmp"' EXIT INT TERM

record() { # ROUND SIZE WHO JSON
	echo "{\"round\":$1,\"size\":\"$2\",\"system\":\"$3\",\"result\":$4}" | tee -a "$raw" >&2
}

run() { # BUILD SIZE
	B=$1
	vcapd_start --source "s=synth:size=$2,pps=0,flows=1024,cpu=0" || exit 1
	VCAP_SOCKET="$tmp/vcapd.sock" "$B/tools/vcapcount" -i host:s -g 1 -d "$secs" -q --json
	vcapd_stop
}

for round in $(seq 1 "$rounds"); do
	for size in $sizes; do
		record "$round" "$size" probe-before "$("$b/bench/spsc_bare" -l 64 -d 1)"
		if [ $((round % 2)) = 1 ]; then order="a b"; else order="b a"; fi
		for who in $order; do
			if [ "$who" = a ]; then
				record "$round" "$size" "$label_a" "$(run "$a" "$size")"
			else
				record "$round" "$size" "$label_b" "$(run "$b" "$size")"
			fi
		done
		record "$round" "$size" probe-after "$("$b/bench/spsc_bare" -l 64 -d 1)"
	done
done

python3 bench/report_ring_ab.py "$raw" "$out/ring-ab.md" "$label_a" "$label_b" \
	"bench/ring_ab.sh -a ${a##*/} -b ${b##*/} -r $rounds -d $secs -s \"$sizes\" -l \"$labels\""
