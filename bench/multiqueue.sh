#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# multiqueue.sh - if: against if:,fanout=2 side by side, in one run, on the
# same paced veth traffic (two private namespaces, veth with 2 queues):
# per frame size, what vcapd's threads and one consumer (vcapcount) spend
# on CPU per delivered packet, and what each loses.
#
# CPU is the scheduler's exact run time of every thread of vcapd and of the
# consumer (/proc/PID/task/*/schedstat), not tick samples.  The kernel's
# delivery to the packet sockets runs in the sender's softirq on veth and
# is the same work for both (one socket or one of two per packet), so it is
# left out here; bench/capture.sh measures it for if:.
#
#   usage: bench/multiqueue.sh [-r PPS] [-n FRAMES] [-s "64 512 1500"] [-o OUT.md]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
rate=200000
count=1000000
sizes="64 512 1500"
out=""
while getopts "r:n:s:o:" o; do
	case $o in
	r) rate=$OPTARG ;;
	n) count=$OPTARG ;;
	s) sizes=$OPTARG ;;
	o) out=$OPTARG ;;
	*) exit 2 ;;
	esac
done
vcap_build
tag="vcmq-$$"
cap="$tag-cap"
snd="$tag-snd"
tmp=$(mktemp -d /tmp/vcap-mq-XXXXXX)
cleanup() {
	vcapd_stop
	netns_kill "$cap" "$snd"
	netns_delete "$cap" "$snd"
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
netns_pair "$cap" "$snd" 2

ctl() { "$B/tools/vcapctl" --socket "$tmp/vcapd.sock" "$@"; }

run() { # SPEC SIZE: prints "delivered lost cpu_ns_per_pkt"
	local cpid got last now d0 d1
	vcapd_start -n "$cap" --source "v=$1" || exit 1
	VCAP_SOCKET=$tmp/vcapd.sock "$B/tools/vcapcount" -i host:v -q --json -d 300 \
		>"$tmp/count.json" 2>/dev/null &
	cpid=$!
	until ctl status --json | grep -q '"rings":1'; do sleep 0.01; done
	d0=$(proc_cpu_ns "$vcapd_pid" "$cpid")
	ip netns exec "$snd" "$B/tools/vcapsend" -i veth1 -l "$2" -n "$count" -r "$rate" \
		--burst 100 --flows 1024 -q >/dev/null 2>&1
	# until the ring is drained and its count stands still (a consumer that
	# stopped at a count would take its CPU time with it)
	last=-1
	for _ in $(seq 1 100); do
		now=$(ctl status --json | grep -o '"used":[0-9]*,"received":[0-9]*' | head -1)
		[ "$now" = "$last" ] && [ "${now#\"used\":0,}" != "$now" ] && break
		last=$now
		sleep 0.1
	done
	d1=$(proc_cpu_ns "$vcapd_pid" "$cpid")
	kill -INT "$cpid" 2>/dev/null || true
	wait "$cpid" 2>/dev/null || true
	got=$(grep -o '"packets":[0-9]*' "$tmp/count.json" | cut -d: -f2)
	got=${got:-0}
	vcapd_stop
	echo "$got $((count - got)) $(((d1 - d0) / (got > 0 ? got : 1)))"
}

{
	echo "| frame (B) | if: ns/pkt | if:,fanout=2 ns/pkt | ratio | if: lost | fanout=2 lost |"
	echo "|---:|---:|---:|---:|---:|---:|"
	for s in $sizes; do
		read -r _ l1 n1 < <(run "if:veth0" "$s")
		read -r _ l2 n2 < <(run "if:veth0,fanout=2" "$s")
		ratio=$(awk -v a="$n2" -v b="$n1" 'BEGIN {printf "%.2f", b ? a / b : 0}')
		echo "| $s | $n1 | $n2 | $ratio | $l1 | $l2 |"
	done
} | tee "$tmp/table.md"
[ -z "$out" ] || cp "$tmp/table.md" "$out"
