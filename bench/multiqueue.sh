#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# multiqueue.sh - if:veth0, if:veth0,fanout=2 and xdp:veth0 side by side,
# in one run, on the same paced veth traffic (two private namespaces, a
# veth pair with 2 RX queues), with one consumer (vcapcount host:v).
#
#   all   per frame size, the consumer wants everything: CPU per delivered
#         packet and loss;
#   1pct  the consumer wants 1 % of the traffic (10 of 1000 flows, both
#         directions: client ports 1024..1033): on if: with its BPF filter,
#         which vcapd hands to the kernel (the packet socket runs it); on
#         xdp: with the same set as wildcard rules (--default drop), which
#         vcap's XDP program runs (mode xdp), and with the BPF filter, which
#         vcapd translates to run in the XDP program too (mode xdpf): CPU
#         per OFFERED packet;
#   flat  the senders flat out (-r 0), 64 B: the rate they keep with
#         nothing capturing, with if: and with xdp: (on veth the receive
#         side runs in the sender's context, so capturing slows it).
# Each point also runs with nothing capturing (mode none): the baseline.
#
# Queues: an AF_PACKET sender's frame lands on veth RX queue (its CPU mod
# the queue count), so two senders, pinned with taskset to CPU 0 and CPU 1,
# each send half the frames (half the rate) and load both queues, for
# every mode alike.
#
# CPU, all of it exact run time (schedstat or getrusage, not tick samples):
#   vcapd     every thread of vcapd;  consumer  every thread of vcapcount;
#   kernel    the senders' own time (the veth receive, AF_PACKET's delivery
#             to the socket, the XDP program and AF_XDP's copy run in
#             softirq in their context) plus every ksoftirqd thread, over
#             that of the same senders with nothing capturing (mode none):
#             what bench/capture.sh counts as softirq, counted the same way
#             for all three sources.  The baseline holds the stack's own
#             receive of the frames, which an XDP program that takes or
#             drops a frame saves: kernel can be below 0.
# The machine's busy jiffies (/proc/stat) are recorded too, as a check.
#
# Senders (-g): vcapsend (afpacket, the default) sends through AF_PACKET,
# so every frame reaches veth0 as an skb, and an XDP program there gets a
# copy of it; bench/xdpgen (xdp) sends XDP frames (BPF_PROG_RUN live
# frames, XDP_TX out of veth1), which veth0 takes without an skb, as a NIC
# driver takes what it received: XDP runs on the frame itself, and only
# what goes up the stack gets an skb built around it.  With -g xdp, veth0
# has GRO on (so NAPI, which a veth needs to take XDP frames) in every mode.
#
# Raw records (one per point, per round) go to RAW.jsonl; the tables
# (bench/report_multiqueue.py) to OUT.md.
#
#   usage: bench/multiqueue.sh [-r PPS] [-n FRAMES] [-s "64 512 1500"] [-R ROUNDS]
#                              [-d FLAT_SECONDS] [-g afpacket|xdp] [-j RAW.jsonl] [-o OUT.md]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
rate=200000
count=400000
sizes="64 512 1500"
rounds=5
flat_secs=2
gen=afpacket
raw=""
out=""
while getopts "r:n:s:R:d:g:j:o:" o; do
	case $o in
	r) rate=$OPTARG ;;
	n) count=$OPTARG ;;
	s) sizes=$OPTARG ;;
	R) rounds=$OPTARG ;;
	d) flat_secs=$OPTARG ;;
	g) gen=$OPTARG ;;
	j) raw=$OPTARG ;;
	o) out=$OPTARG ;;
	*) exit 2 ;;
	esac
done
case $gen in
afpacket | xdp) ;;
*) echo "multiqueue.sh: -g afpacket or xdp, not '$gen'" >&2; exit 2 ;;
esac
vcap_build
sender=$B/tools/vcapsend
[ "$gen" = xdp ] && sender=$B/bench/xdpgen
[ -x "$sender" ] || { echo "multiqueue.sh: no $sender (built with -Dxdp=disabled?)" >&2; exit 1; }
tag="vcmq-$$"
cap="$tag-cap"
snd="$tag-snd"
tmp=$(mktemp -d /tmp/vcap-mq-XXXXXX)
[ -n "$raw" ] || raw=$tmp/multiqueue.jsonl
: >"$raw"
cpid=
cleanup() {
	[ -n "$cpid" ] && kill "$cpid" 2>/dev/null
	vcapd_stop
	netns_kill "$cap" "$snd"
	netns_delete "$cap" "$snd"
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
netns_pair "$cap" "$snd" 2
if [ "$gen" = xdp ]; then
	ip netns exec "$cap" ethtool -K veth0 gro on >/dev/null || exit 1
fi

flows=1000
filter="udp portrange 1024-1033"
rules=(--default drop --rule 'pass,udp,sport=1024-1033' --rule 'pass,udp,dport=1024-1033')
softirqd=$(pgrep -d ' ' '^ksoftirqd/')

ctl() { "$B/tools/vcapctl" --socket "$tmp/vcapd.sock" "$@"; }
status_has() { ctl status --json 2>/dev/null | grep -q -- "$1"; }
# wait_for SECONDS WHAT COMMAND...: poll COMMAND until it succeeds, else exit 1
wait_for() {
	local end=$(($(date +%s) + $1)) what=$2
	shift 2
	until "$@"; do
		if [ "$(date +%s)" -ge "$end" ]; then
			echo "multiqueue.sh: timed out: $what" >&2
			tail -n 20 "$tmp/vcapd.log" >&2
			exit 1
		fi
		sleep 0.02
	done
}
# ring_settled: the ring is empty and its received count stood still for 0.1 s
ring_settled() {
	local a b
	a=$(ctl status --json | grep -o '"used":[0-9]*,"received":[0-9]*' | head -1)
	sleep 0.1
	b=$(ctl status --json | grep -o '"used":[0-9]*,"received":[0-9]*' | head -1)
	[ -n "$a" ] && [ "$a" = "$b" ] && [ "${a#\"used\":0,}" != "$a" ]
}
# sent_total: the frames both senders of the last point sent
sent_total() {
	cat "$tmp/send0.json" "$tmp/send1.json" | grep -o '"sent":[0-9]*' | cut -d: -f2 |
		awk '{ s += $1 } END { print s + 0 }'
}
# received_at_least N: the ring's received count is N or more
received_at_least() {
	local r
	r=$(ctl status --json | grep -o '"used":[0-9]*,"received":[0-9]*' | head -1 | cut -d: -f3)
	[ "${r:-0}" -ge "$1" ]
}
# proc_wakeups PID...: voluntary context switches of these processes, all
# their threads: how often they went to sleep (and so were woken)
proc_wakeups() {
	local t=0 p f v
	for p in "$@"; do
		for f in /proc/"$p"/task/*/status; do
			v=$(awk '/^voluntary_ctxt_switches/ { print $2 }' "$f" 2>/dev/null) || v=0
			t=$((t + ${v:-0}))
		done
	done
	echo $t
}
# xdp_queues: "Q0 Q1", packets the XDP program saw on each RX queue (veth's
# counters; "" without ethtool or XDP)
xdp_queues() {
	ip netns exec "$cap" ethtool -S veth0 2>/dev/null |
		awk '/rx_queue_[0-9]+_xdp_packets/ { printf "%s%s", s, $2; s = " " }'
}

# point ROUND KIND MODE SIZE: one measurement, one JSON record to $raw.
# KIND all, 1pct or flat; MODE none, if, fanout, xdp or xdpf (xdp: with the
# BPF filter rather than the rules, 1pct only).
point() {
	local round=$1 kind=$2 mode=$3 size=$4 spec="" sr i q0 q1
	local p0 p1 v0 v1 k0 k1 b0 b1 w0 w1 args=() pre pids=()
	case $mode in
	if) spec=if:veth0 ;;
	fanout) spec=if:veth0,fanout=2 ;;
	xdp | xdpf) spec=xdp:veth0 ;;
	esac
	cpid=
	if [ -n "$spec" ]; then
		vcapd_start -n "$cap" --source "v=$spec" || exit 1
		if [ "$kind" = 1pct ]; then
			if [ "$mode" = xdp ]; then args=("${rules[@]}"); else args=(-f "$filter"); fi
		fi
		VCAP_SOCKET=$tmp/vcapd.sock "$B/tools/vcapcount" -i host:v -q --json -d 600 \
			"${args[@]}" >"$tmp/count.json" 2>"$tmp/count.err" &
		cpid=$!
		wait_for 10 "the consumer's ring" status_has '"rings":1'
		# the consumer's filtering in place before the first frame
		if [ "$kind" = 1pct ] && [ "$mode" = xdp ]; then
			wait_for 10 "the rules" status_has '"rules":2,'
			wait_for 10 "the rules in XDP" status_has '"kernel_filter":"xdp: what 2 wildcard'
		elif [ "$kind" = 1pct ] && [ "$mode" = if ]; then
			wait_for 10 "the kernel filter" status_has "\"kernel_filter\":\"$filter\""
		elif [ "$kind" = 1pct ]; then
			wait_for 10 "the filter in XDP" status_has \
				"\"kernel_filter\":\"xdp: what the consumers' filters accept\""
		fi
	fi
	q0=$(xdp_queues)
	if [ "$kind" = flat ]; then sr=(-r 0); else sr=(-r $((rate / 2)) --burst 100 -n $((count / 2))); fi
	b0=$(busy_jiffies)
	k0=$(proc_cpu_ns $softirqd)
	v0=$(proc_cpu_ns $vcapd_pid)
	p0=$(proc_cpu_ns $cpid)
	w0=$(proc_wakeups $vcapd_pid)
	# two senders, one per CPU: vcapsend processes pinned with taskset, or
	# one xdpgen with a thread pinned to each CPU (its totals in send0.json)
	pre=()
	[ "$kind" = flat ] && pre=(timeout -s INT "$flat_secs")
	if [ "$gen" = xdp ]; then
		[ "$kind" = flat ] || sr=(-r "$rate" --burst 100 -n "$count")
		echo '{}' >"$tmp/send1.json"
		ip netns exec "$snd" "${pre[@]}" "$sender" -i veth1 -l "$size" --flows $flows \
			"${sr[@]}" --cpus 0,1 -q --json >"$tmp/send0.json" 2>"$tmp/send0.err" &
		pids=($!)
	else
		for i in 0 1; do
			ip netns exec "$snd" "${pre[@]}" taskset -c $i "$sender" -i veth1 -l "$size" \
				--flows $flows "${sr[@]}" -q --json >"$tmp/send$i.json" 2>"$tmp/send$i.err" &
			pids+=($!)
		done
	fi
	for i in "${pids[@]}"; do wait "$i" || true; done
	# until the ring is drained and its count stands still; xdp: counts what
	# its program dropped when lane 0 next wakes, within 0.5 s: until all
	# the frames sent are in the consumer's received, or (some were lost)
	# for 1 s
	if [ -n "$spec" ]; then
		case $mode in
		xdp*)
			local until=$(($(date +%s%N) + 1000000000)) n
			n=$(sent_total)
			until received_at_least "$n" || [ "$(date +%s%N)" -ge $until ]; do
				sleep 0.02
			done
			;;
		esac
		wait_for 20 "the ring to settle" ring_settled
	fi
	b1=$(busy_jiffies)
	k1=$(proc_cpu_ns $softirqd)
	v1=$(proc_cpu_ns $vcapd_pid)
	p1=$(proc_cpu_ns $cpid)
	w1=$(proc_wakeups $vcapd_pid)
	q1=$(xdp_queues)
	if [ -n "$cpid" ]; then
		kill -INT "$cpid" 2>/dev/null || true
		wait "$cpid" 2>/dev/null || true
		cpid=
	else
		echo '{}' >"$tmp/count.json"
	fi
	vcapd_stop
	python3 - "$round" "$kind" "$mode" "$size" "$rate" "$count" "$flows" "$((v1 - v0))" \
		"$((p1 - p0))" "$((k1 - k0))" "$((b1 - b0))" "$(getconf CLK_TCK)" "$q0" "$q1" "$((w1 - w0))" \
		"$tmp/count.json" "$tmp/send0.json" "$tmp/send1.json" "$gen" <<'EOF' | tee -a "$raw" >&2
import json, sys
(rnd, kind, mode, size, rate, count, flows, vcapd, cons, softirqd, busy, hz, q0, q1, wakeups,
 cfile, s0, s1, gen) = sys.argv[1:]
def load(p):
    try:
        return json.loads(open(p).read() or "{}")
    except ValueError:
        return {}
c = load(cfile)
senders = [load(s0), load(s1)]
flows = int(flows)
def wanted(n):  # packets 0..n-1 of flows 0..9 (client ports 1024..1033)
    return n // flows * 10 + min(n % flows, 10)
sent = sum(s.get("sent", 0) for s in senders)
rec = {"round": int(rnd), "sender": gen, "kind": kind, "mode": mode, "size": int(size),
       "rate": 0 if kind == "flat" else int(rate), "sent": sent,
       # each sender (xdpgen: each thread) sends packets 0, 1, 2, ... of the mix
       "wanted": sum(wanted(n) for s in senders
                     for n in s.get("sent_per_thread", [s.get("sent", 0)])) if kind == "1pct" else sent,
       "sender_pps": sum(s.get("pps", 0) for s in senders),
       "sender_cpu_s": sum(s.get("cpu_seconds", 0) for s in senders),
       "sender_errors": sum(s.get("errors", 0) for s in senders),
       "softirqd_cpu_s": int(softirqd) / 1e9, "vcapd_cpu_s": int(vcapd) / 1e9,
       "consumer_cpu_s": int(cons) / 1e9, "machine_cpu_s": int(busy) / int(hz),
       "vcapd_wakeups": int(wakeups)}
for k in ("packets", "received", "delivered", "dropped", "filtered", "kernel_drops"):
    rec[k] = c.get(k, 0)
if c.get("rules"):
    rec["rules"] = c["rules"]
a, b = q0.split(), q1.split()
if a and len(a) == len(b):
    rec["xdp_queue_packets"] = [int(y) - int(x) for x, y in zip(a, b)]
print(json.dumps(rec))
EOF
}

echo "multiqueue.sh: $rounds rounds; raw results in $raw" >&2
for round in $(seq 1 "$rounds"); do
	for size in $sizes; do
		for mode in none if fanout xdp; do point "$round" all "$mode" "$size"; done
		for mode in if xdp xdpf; do point "$round" 1pct "$mode" "$size"; done
	done
	for mode in none if xdp; do point "$round" flat "$mode" 64; done
done
python3 bench/report_multiqueue.py "$raw" \
	"bench/multiqueue.sh -r $rate -n $count -s \"$sizes\" -R $rounds -d $flat_secs -g $gen" |
	tee "$tmp/table.md"
[ -z "$out" ] || cp "$tmp/table.md" "$out"
