#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# ring.sh - how fast packets move from a producer process to a consumer
# process through shared memory, side by side in one run:
#
#   vcap   synth source -> vcapd capture thread (CPU 0) -> ring -> vcapcount (CPU 1)
#   memif  dpdk-testpmd txonly (CPU 0) -> memif -> dpdk-testpmd rxonly (CPU 1)
#   bare   bench/spsc_bare: a fixed-size-slot SPSC ring, producer CPU 0, consumer CPU 1
#
# at 64, 128, 256, 512, 1024 and 1500-byte frames, flat out, then vcap paced
# at 10 GbE line rate (14.88 Mpps of 64-byte frames).  The three systems
# run interleaved, in rotating order, ROUNDS times: this machine's cross-core
# speed changes by a factor of 4 from one minute to the next, so only
# numbers taken next to each other are compared.  A one-second bare-ring
# probe before and after each group labels the machine's state; the report
# keeps the states apart and gives medians and each round's ratios.
#
#   usage: bench/ring.sh [-r ROUNDS] [-d SECONDS] [-o OUTDIR] [-s "SIZES"]
#   writes: OUTDIR/ring.jsonl (raw; docs/bench/schema.md), ring.md (tables),
#           ring.png (plot)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

rounds=3
secs=3
out=docs/bench
sizes="64 128 256 512 1024 1500"
while getopts r:d:o:s: opt; do
	case $opt in
	r) rounds=$OPTARG ;;
	d) secs=$OPTARG ;;
	o) out=$OPTARG ;;
	s) sizes=$OPTARG ;;
	*) echo "usage: bench/ring.sh [-r ROUNDS] [-d SECONDS] [-o OUTDIR] [-s SIZES]" >&2; exit 2 ;;
	esac
done

vcap_build
mkdir -p "$out"
raw="$out/ring.jsonl"
: >"$raw"
tmp=$(mktemp -d /tmp/vcap-bench-XXXXXX)
cleanup() {
	vcapd_stop
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

record() { # ROUND SIZE SYSTEM JSON
	echo "{\"round\":$1,\"size\":\"$2\",\"system\":\"$3\",\"result\":$4}" | tee -a "$raw" >&2
}

run_vcap() { # SIZE [PPS]
	vcapd_start --source "s=synth:size=$1,pps=${2:-0},flows=1024,cpu=0" || exit 1
	VCAP_SOCKET="$tmp/vcapd.sock" "$B/tools/vcapcount" -i host:s -g 1 -d "$secs" -q --json
	vcapd_stop
}

run_memif() { # SIZE
	bash bench/memif_ref.sh "$1" "$secs"
}

run_bare() { # SIZE
	"$B/bench/spsc_bare" -l "$1" -d "$secs"
}

echo "ring.sh: $rounds rounds of $secs s per point; raw results in $raw" >&2
for round in $(seq 1 "$rounds"); do
	for size in $sizes; do
		# rotate the order so no system always runs first after a change
		case $(((round + size / 64) % 3)) in
		0) order="vcap memif bare" ;;
		1) order="memif bare vcap" ;;
		*) order="bare vcap memif" ;;
		esac
		# label the machine's state around the triple (see report_ring.py)
		record "$round" "$size" probe-before "$("$B/bench/spsc_bare" -l 64 -d 1)"
		for sys in $order; do
			record "$round" "$size" "$sys" "$(run_"$sys" "$size")"
		done
		record "$round" "$size" probe-after "$("$B/bench/spsc_bare" -l 64 -d 1)"
	done
	# 10 GbE line rate, 64-byte frames: must arrive without a drop
	record "$round" paced probe-before "$("$B/bench/spsc_bare" -l 64 -d 1)"
	record "$round" paced vcap "$(run_vcap 64 14.88M)"
	record "$round" paced probe-after "$("$B/bench/spsc_bare" -l 64 -d 1)"
done

python3 bench/report_ring.py "$raw" "$out" "bench/ring.sh -r $rounds -d $secs"
