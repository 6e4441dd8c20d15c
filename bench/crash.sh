#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# crash.sh - the pause a host consumer sees when vcapd is killed (kill -9)
# and started again at once, as systemd's Restart=always with RestartSec=0
# would: the script itself starts the same command line again as soon as
# the killed vcapd has been reaped.
#
# The source is a paced generator (synth, 64 B, PPS packets/s); the consumer
# (bench/crash_gap.c) reads it with VCAP_OPEN_RECONNECT and reports, for
# each restart, the largest pause between two packet arrivals around it,
# libvcap's own gap (gap_ns: hang-up noticed to new ring in place) and the
# packets certainly lost.  The script adds how long vcapd took from the
# kill to answering on its socket again.
#
#   usage: bench/crash.sh [-r ROUNDS] [-p PPS] [-o OUTDIR]
#   writes: OUTDIR/crash.jsonl (one line per round), OUTDIR/crash.md
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3
pps=100000
out=docs/bench
while getopts r:p:o: opt; do
	case $opt in
	r) rounds=$OPTARG ;;
	p) pps=$OPTARG ;;
	o) out=$OPTARG ;;
	*) echo "usage: bench/crash.sh [-r ROUNDS] [-p PPS] [-o OUTDIR]" >&2; exit 2 ;;
	esac
done
B=${VCAP_BUILD_DIR:-build}
[ -x "$B/bench/crash_gap" ] && [ -x "$B/daemon/vcapd" ] ||
	{ echo "crash.sh: build first (ninja -C $B)" >&2; exit 1; }
mkdir -p "$out"
tmp=$(mktemp -d /tmp/vcap-crash-XXXXXX)
export VCAP_SOCKET=$tmp/vcapd.sock
vcapd_pid=
gap_pid=
cleanup() {
	[ -n "$gap_pid" ] && kill "$gap_pid" 2>/dev/null
	[ -n "$vcapd_pid" ] && kill "$vcapd_pid" 2>/dev/null && wait "$vcapd_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

ms() { echo $(($(date +%s%N) / 1000000)); }
# wait_for SECONDS WHAT COMMAND...: poll every ms until COMMAND succeeds
wait_for() {
	local secs=$1 what=$2
	local end=$(($(ms) + secs * 1000))
	shift 2
	until "$@"; do
		[ "$(ms)" -le "$end" ] || { echo "crash.sh: $what: not within $secs s" >&2; exit 1; }
		sleep 0.001
	done
}
listening() { "$B/tools/vcapctl" status >/dev/null 2>&1; }
restarts_seen() { [ "$(grep -c '"restart"' "$tmp/gap.jsonl" 2>/dev/null)" -ge "$1" ]; }
# a ring of the running vcapd has delivered packets (column 8 of a ring's line)
flowing() { "$B/tools/vcapctl" status 2>/dev/null | awk '$1 ~ /^[0-9]+$/ && $8 > 0 { f = 1 } END { exit !f }'; }
start_vcapd() {
	"$B/daemon/vcapd" --foreground --socket "$VCAP_SOCKET" \
		--source "g=synth:size=64,pps=$pps,flows=1024" 2>>"$tmp/vcapd.log" &
	vcapd_pid=$!
}

start_vcapd
wait_for 10 "vcapd listening" listening
"$B/bench/crash_gap" host:g "$rounds" $((pps / 2)) >"$tmp/gap.jsonl" &
gap_pid=$!
: >"$tmp/up.txt"
for r in $(seq 1 "$rounds"); do
	wait_for 20 "packets flowing" flowing
	sleep 0.5 # traffic well under way before the crash (not a wait for an event: the scenario)
	t0=$(ms)
	kill -9 "$vcapd_pid"
	wait "$vcapd_pid" 2>/dev/null || true
	start_vcapd
	wait_for 10 "vcapd listening again" listening
	echo $(($(ms) - t0)) >>"$tmp/up.txt"
	wait_for 20 "the consumer's restart $r" restarts_seen "$r"
done
wait "$gap_pid"
gap_pid=

: >"$out/crash.jsonl"
paste -d' ' <(grep '"restart"' "$tmp/gap.jsonl") "$tmp/up.txt" | while read -r line up; do
	echo "${line%\}},\"vcapd_up_ms\":$up,\"pps\":$pps}" >>"$out/crash.jsonl"
done
summary=$(tail -n 1 "$tmp/gap.jsonl")
{
	echo "# The pause a host consumer sees across a vcapd crash"
	echo
	echo "\`bench/crash.sh -r $rounds -p $pps\` on $(nproc) CPUs ($(uname -r)), $(date -u +%Y-%m-%d)."
	echo "vcapd serves \`g=synth:size=64,pps=$pps,flows=1024\`; one host consumer"
	echo "(\`bench/crash_gap.c\`, \`VCAP_OPEN_RECONNECT\`, watermark 1) reads it."
	echo "Each round: \`kill -9\` vcapd during traffic, and the script starts the same"
	echo "command again as soon as the killed one is reaped, as systemd's"
	echo "\`Restart=always\` with \`RestartSec=0\` would (systemd's default RestartSec"
	echo "is 100 ms: add it to the pause)."
	echo
	echo "| round | pause seen (largest gap between arrivals, ms) | libvcap gap_ns (ms) | vcapd up again after kill (ms) | restart_lost |"
	echo "|---|---|---|---|---|"
	python3 -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    print("| %d | %.1f | %.1f | %d | %d |" % (r["restart"], r["pause_ms"], r["gap_ms"], r["vcapd_up_ms"], r["restart_lost"]))
' "$out/crash.jsonl"
	echo
	echo "Totals over the run: \`$summary\`"
	echo
	echo "*pause seen* is what the program lives through: from the last packet of"
	echo "the old ring to the first of the new.  *gap_ns* is libvcap's count of"
	echo "the time without a ring (hang-up noticed, old ring read, to new ring in"
	echo "place).  *vcapd up* is the script's own measure, from the kill to vcapd"
	echo "answering \`vcapctl status\` (polled every millisecond, each poll a"
	echo "process).  The pause is vcapd's start-up plus up to one retry"
	echo "interval (libvcap retries at once, then after 10, 20, 40 ... ms, at most"
	echo "500 ms apart), plus the wait for the generator's next release.  Packets"
	echo "the source produced while no vcapd ran were captured by no one and are"
	echo "in no counter; *restart_lost* counts only what an old ring's counters"
	echo "show vcapd had taken but not judged or delivered."
} >"$out/crash.md"
cat "$out/crash.md"
