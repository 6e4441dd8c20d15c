#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# capture.sh - vcapd as a capture host, side by side with plain AF_PACKET,
# on the same veth traffic (two private network namespaces):
#
#   1. one consumer: vcapd (if: source) + vcapcount host:v   vs  vcapcount veth0
#      (a direct TPACKET_V3 socket), at 64..1500-byte frames: capture rate,
#      loss, CPU per packet;
#   2. N = 1, 2, 4 consumers of the same traffic: vcapd + N rings  vs  N
#      independent TPACKET_V3 sockets: CPU per delivered packet and the
#      rate the sender achieves;
#   3. a filter passing 1 % of the traffic: the consumer's CPU with and
#      without it (synth source), and vcapd's filtering cost per packet;
#      what a sleep and wake-up costs here (bench/wake_cost);
#   5. 1 and 2, the sender paced at 200 kpps in 100-us bursts (as a NIC
#      with interrupt moderation delivers), next to the sender alone: the
#      CPU time of the sender (getrusage: the veth delivery to packet
#      sockets runs in its context), ksoftirqd and the capturing processes,
#      over that of the sender alone, is what capturing costs, the kernel's
#      delivery to the packet socket(s) included; and the same for one real
#      tcpdump (-w /dev/null, so it reads every byte it captures) on veth0
#      and, unchanged, through vcapd with vcap-pcap.
#
# Process CPU is the scheduler's exact run time (/proc/PID/task/*/schedstat,
# getrusage), not tick samples, which are too coarse for small loads.
#
# The sender (vcapsend, flat out) runs on CPU 0, everything that captures on
# CPU 1.  On veth the kernel delivers to packet sockets on the sender's CPU,
# in its softirq: that work is the same for both sides when there is one
# socket, and multiplies with N sockets.  CPU is counted two ways: the
# capturing processes' own user+sys time (/proc/PID/stat), and the whole
# machine's busy time (/proc/stat), which includes the kernel's delivery.
#
#   usage: bench/capture.sh [-d SECONDS] [-r ROUNDS] [-o OUTDIR]
#   writes: OUTDIR/capture.jsonl (raw; docs/bench/schema.md), capture.md,
#           capture.png
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

secs=3
rounds=2
out=docs/bench
paced=200000 # pps for the CPU experiments: under what either side sustains
rate=
while getopts d:r:o: opt; do
	case $opt in
	d) secs=$OPTARG ;;
	r) rounds=$OPTARG ;;
	o) out=$OPTARG ;;
	*) echo "usage: bench/capture.sh [-d SECONDS] [-r ROUNDS] [-o OUTDIR]" >&2; exit 2 ;;
	esac
done

vcap_build
mkdir -p "$out"
raw="$out/capture.jsonl"
: >"$raw"

tag="vcb-$$"
cap="$tag-cap"
snd="$tag-snd"
tmp=$(mktemp -d /tmp/vcap-cbench-XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	netns_delete "$cap" "$snd"
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

netns_pair "$cap" "$snd"

hz=$(getconf CLK_TCK)
softirqd=$(pgrep -d ' ' '^ksoftirqd/') # where the kernel's packet work goes when deferred

start_vcapd() { # SPEC: vcapd with source v=SPEC in netns $cap
	vcapd_start -n "$cap" --source "v=$1" || exit 1
	pids+=("$vcapd_pid")
}

# vcap_tcpdump ERRFILE [FILTER]: an unmodified tcpdump on vcapd's source v
# through vcap-pcap, on CPU 1, in the background; each command execs the
# next, so $! is tcpdump's PID
vcap_tcpdump() {
	VCAP_SOCKET="$tmp/vcapd.sock" taskset -c 1 "$B/pcap/vcap-pcap" \
		tcpdump -Z root -n -i host:v -w /dev/null ${2:+"$2"} 2>"$1" &
}

# run_capture MODE SIZE N [FILTER]: MODE vcap, direct, tcpdump-vcap,
# tcpdump-direct or none (the sender alone: the baseline for machine CPU);
# $rate set: the sender is paced at $rate pps in 100-us bursts; prints one
# JSON line
run_capture() {
	local mode=$1 size=$2 n=$3 filter=${4:-} i cpids=() b0 b1 p0 p1 sent
	[ "$mode" = none ] && n=0
	case $mode in vcap | tcpdump-vcap) start_vcapd "if:veth0,cpu=1" ;; esac
	for i in $(seq 1 "$n"); do
		case $mode in
		vcap)
			VCAP_SOCKET="$tmp/vcapd.sock" taskset -c 1 "$B/tools/vcapcount" -i host:v \
				-d $((secs + 2)) -q --json ${filter:+-f "$filter"} >"$tmp/c$i.json" &
			;;
		direct)
			ip netns exec "$cap" taskset -c 1 "$B/tools/vcapcount" -i veth0 \
				-d $((secs + 2)) -q --json ${filter:+-f "$filter"} >"$tmp/c$i.json" &
			;;
		tcpdump-vcap)
			vcap_tcpdump "$tmp/c$i.err" "$filter"
			;;
		tcpdump-direct) # (as vcap_tcpdump: the PID is tcpdump's)
			ip netns exec "$cap" taskset -c 1 \
				tcpdump -Z root -n -i veth0 -w /dev/null ${filter:+"$filter"} \
				2>"$tmp/c$i.err" &
			;;
		esac
		cpids+=($!)
		pids+=($!)
	done
	sleep 0.5
	[ "$mode" = tcpdump-vcap ] || [ "$mode" = tcpdump-direct ] && sleep 0.5 # it opens slower
	local watch=("${cpids[@]}")
	[ -n "${vcapd_pid:-}" ] && watch+=("$vcapd_pid")
	b0=$(busy_jiffies)
	p0=$(proc_cpu_ns "${watch[@]}")
	k0=$(proc_cpu_ns $softirqd)
	sent=$(ip netns exec "$snd" timeout -s INT "$secs" taskset -c 0 "$B/tools/vcapsend" \
		-i veth1 -l "$size" --flows 1024 --proto mix ${rate:+-r "$rate" --burst 100} \
		-q --json || true)
	sleep 0.2 # let the consumers drain
	# ... and tcpdump's last packets wait up to its 1-s buffer timeout, either way
	case $mode in tcpdump-*) sleep 1.1 ;; esac
	b1=$(busy_jiffies)
	p1=$(proc_cpu_ns "${watch[@]}")
	k1=$(proc_cpu_ns $softirqd)
	case $mode in
	tcpdump-*) # stopped as at a terminal; its closing counts as vcapcount's JSON
		kill -INT "${cpids[@]}" 2>/dev/null || true
		for i in $(seq 1 "$n"); do
			wait "${cpids[$((i - 1))]}" || true
			awk '/packets captured/ { c = $1 } /dropped by kernel/ { d = $1 }
			     /dropped by interface/ { k = $1 }
			     END { printf "{\"packets\":%d,\"dropped\":%d,\"kernel_drops\":%d}\n", c, d, k }' \
				"$tmp/c$i.err" >"$tmp/c$i.json"
		done
		;;
	esac
	for p in "${cpids[@]}"; do wait "$p" || true; done
	vcapd_stop
	python3 - "$mode" "$size" "$n" "$filter" "$sent" "$(((b1 - b0)))" "$(((p1 - p0)))" "$hz" \
		"${rate:-0}" "$((k1 - k0))" "$tmp"/c*.json <<'EOF'
import json, os, sys
mode, size, n, flt, sent, busy, proc, hz, rate, softirqd = sys.argv[1:11]
cons = [json.load(open(f)) for f in sys.argv[11:] if os.path.exists(f)]
s = json.loads(sent) if sent.strip() else {"sent": 0, "pps": 0}
delivered = sum(c["packets"] for c in cons)
lost = sum(c["dropped"] + c["kernel_drops"] for c in cons)
print(json.dumps({"mode": mode, "size": int(size), "consumers": int(n), "filter": flt,
                  "rate": int(rate),
                  "sent": s["sent"], "sender_pps": s["pps"], "delivered": delivered,
                  "lost": lost, "machine_cpu_s": int(busy) / int(hz),
                  "capture_cpu_s": int(proc) / 1e9,
                  "sender_cpu_s": s.get("cpu_seconds", 0),
                  "softirqd_cpu_s": int(softirqd) / 1e9}))
EOF
	rm -f "$tmp"/c*.json "$tmp"/c*.err
}

echo "capture.sh: $rounds rounds, $secs s per point; raw results in $raw" >&2
for round in $(seq 1 "$rounds"); do
	for size in 64 128 256 512 1024 1500; do
		for mode in vcap direct; do
			r=$(run_capture "$mode" "$size" 1)
			echo "{\"round\":$round,\"experiment\":1,\"r\":$r}" | tee -a "$raw" >&2
		done
	done
	for n in 1 2 4; do
		for mode in vcap direct; do
			r=$(run_capture "$mode" 64 "$n")
			echo "{\"round\":$round,\"experiment\":2,\"r\":$r}" | tee -a "$raw" >&2
		done
	done
	# the same, paced at $paced pps (100-us bursts), so that CPU 0 is not
	# saturated and the machine's busy time shows what capturing costs:
	# each point minus the sender alone ("none") at the same rate
	rate=$paced
	for size in 64 128 256 512 1024 1500; do
		for mode in none vcap direct tcpdump-vcap tcpdump-direct; do
			r=$(run_capture "$mode" "$size" 1)
			echo "{\"round\":$round,\"experiment\":5,\"r\":$r}" | tee -a "$raw" >&2
		done
	done
	for n in 2 4; do
		for mode in vcap direct; do
			r=$(run_capture "$mode" 64 "$n")
			echo "{\"round\":$round,\"experiment\":5,\"r\":$r}" | tee -a "$raw" >&2
		done
	done
	rate=
done

# 3. a 1 % filter: synth source paced at 1 Mpps, 100 flows, one of them wanted;
# the consumer with vcapcount's defaults (watermark 128, timeout 10 ms), set
# for throughput (watermark 1024, timeout 100 ms), and batched as libpcap's
# TPACKET_V3 reader is (a 1 MiB block holds about 8192 64-byte packets;
# tcpdump's timeout is 1 s): at 1 % of the traffic its CPU is mostly
# wake-ups, and those settings decide how many there are.  Next to them, the
# same consumer unfiltered on a source that makes only the wanted 10 kpps:
# what receiving just those packets costs, with no filtering at all.
# Last, the same with tcpdump as the consumer (vcap-pcap: libpcap's 1-s
# timeout and buffer, which vcap-pcap turns into a ring and a watermark).
for round in $(seq 1 "$rounds"); do
	for wait in "128 10" "1024 100" "8192 1000" tcpdump; do
	for filter in "" "host 10.1.0.7" "10k"; do
		pps=1M
		[ "$filter" = 10k ] && { pps=10k; filter=; }
		start_vcapd "synth:size=64,pps=$pps,flows=100,cpu=0"
		t0=$(date +%s%N)
		if [ "$wait" = tcpdump ]; then
			vcap_tcpdump "$tmp/f.err" "$filter"
		else
			VCAP_SOCKET="$tmp/vcapd.sock" taskset -c 1 "$B/tools/vcapcount" -i host:v \
				-w "${wait% *}" -t "${wait#* }" \
				-d "$secs" -q --json ${filter:+-f "$filter"} >"$tmp/f.json" &
		fi
		cp=$!
		sleep 0.5
		[ "$wait" = tcpdump ] && sleep 1 # it opens slower
		p0=$(proc_cpu_ns "$cp")
		v0=$(proc_cpu_ns "$vcapd_pid")
		sleep $((secs - 1))
		p1=$(proc_cpu_ns "$cp")
		v1=$(proc_cpu_ns "$vcapd_pid")
		if [ "$wait" = tcpdump ]; then
			kill -INT "$cp"
			wait "$cp" || true
			# its rate, for the table: what it wrote over its lifetime
			awk -v ns=$(($(date +%s%N) - t0)) '/packets captured/ {
				printf "{\"pps\":%.0f}\n", $1 / (ns / 1e9) }' "$tmp/f.err" >"$tmp/f.json"
			consumer='"consumer":"tcpdump","watermark":0,"timeout_ms":1000'
		else
			wait "$cp" || true
			consumer="\"consumer\":\"vcapcount\",\"watermark\":${wait% *},\"timeout_ms\":${wait#* }"
		fi
		vcapd_stop
		echo "{\"round\":$round,\"experiment\":3,\"r\":{\"filter\":\"$filter\",\"source_pps\":\"$pps\",$consumer,\"consumer_cpu_s\":$(awk "BEGIN { print ($p1 - $p0) / 1e9 }"),\"vcapd_cpu_s\":$(awk "BEGIN { print ($v1 - $v0) / 1e9 }"),\"seconds\":$((secs - 1)),\"result\":$(cat "$tmp/f.json")}}" |
			tee -a "$raw" >&2
	done
	done
done
# what one sleep and wake-up costs a sleeper on this machine: the floor
# under the sparse consumer's CPU above
"$B/bench/wake_cost" | while read -r line; do
	echo "{\"round\":1,\"experiment\":6,\"r\":$line}" | tee -a "$raw" >&2
done
"$B/bench/filter_cost" | while read -r line; do
	echo "{\"round\":1,\"experiment\":4,\"r\":$line}" | tee -a "$raw" >&2
done

python3 bench/report_capture.py "$raw" "$out" "bench/capture.sh -d $secs -r $rounds"
