#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# upgrade.sh - what an upgrade of vcapd (vcapctl upgrade: re-exec, every
# descriptor and the state handed over; daemon/upgrade.h) costs a consumer.
# Each round: one vcapd, a synth: source paced at PPS (1 Mpps), one host
# consumer (bench/upgrade_gap, VCAP_OPEN_META) reading COUNT packets; after
# a second of traffic, `vcapctl upgrade`.  Reported per round:
#   pause      the upgrade's own duration as vcapctl reports it (capture
#              threads parked until the new vcapd said ready)
#   gap        the longest time between two receives that brought packets,
#              as the consumer saw it, among those that overlap the upgrade
#              (vcapctl's run); and the longest of the whole run, for scale
#              (on a shared machine, scheduling makes gaps of its own)
#   lost       packets missing from the consumer's sequence numbers plus
#              what its ring dropped (the goal: 0)
#
#   usage: bench/upgrade.sh [-r ROUNDS] [-p PPS] [-n COUNT] [-o OUTDIR]
#   writes: OUTDIR/upgrade.jsonl (raw), OUTDIR/upgrade.md (report)
set -euo pipefail

rounds=3 pps=1000000 count=4000000 out=docs/bench
while getopts "r:p:n:o:" opt; do
	case $opt in
	r) rounds=$OPTARG ;;
	p) pps=$OPTARG ;;
	n) count=$OPTARG ;;
	o) out=$OPTARG ;;
	*) sed -n '3,18p' "$0" >&2; exit 2 ;;
	esac
done

B=${VCAP_BUILD_DIR:-build}
[ -f "$B/build.ninja" ] || meson setup "$B" >/dev/null
ninja -C "$B" >/dev/null
tmp=$(mktemp -d /tmp/vcap-bench-upgrade-XXXXXX)
vcapd_pid="" consumer_pid=""
cleanup() {
	[ -n "$consumer_pid" ] && kill "$consumer_pid" 2>/dev/null || true
	[ -n "$vcapd_pid" ] && kill "$vcapd_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
mkdir -p "$out"
jsonl=$out/upgrade.jsonl
: >"$jsonl"
export VCAP_SOCKET=$tmp/vcapd.sock

for r in $(seq 1 "$rounds"); do
	rm -f "$VCAP_SOCKET"
	"$B/daemon/vcapd" --foreground --socket "$VCAP_SOCKET" \
		--source "syn=synth:size=64,pps=$pps,count=$count" 2>"$tmp/vcapd.log" &
	vcapd_pid=$!
	for _ in $(seq 500); do [ -S "$VCAP_SOCKET" ] && break; sleep 0.02; done
	"$B/bench/upgrade_gap" host:syn "$count" >"$tmp/gap.json" &
	consumer_pid=$!
	sleep 1
	t0=$(date +%s.%N)
	up=$("$B/tools/vcapctl" upgrade)
	t1=$(date +%s.%N)
	# "upgraded: vcapd pid N serves now; capture paused X ms"
	vcapd_pid=$(echo "$up" | sed -n 's/.*pid \([0-9]*\) serves.*/\1/p')
	pause_ms=$(echo "$up" | sed -n 's/.*paused \([0-9.]*\) ms.*/\1/p')
	wait "$consumer_pid"
	consumer_pid=""
	kill "$vcapd_pid"
	# the new vcapd is not this shell's child: wait for it by its socket
	for _ in $(seq 500); do [ -S "$VCAP_SOCKET" ] || break; sleep 0.02; done
	vcapd_pid=""
	gap=$(cat "$tmp/gap.json")
	echo "{\"round\":$r,\"pps\":$pps,\"count\":$count,\"pause_ms\":$pause_ms,\"upgrade_from\":$t0,\"upgrade_to\":$t1,\"consumer\":$gap}" |
		tee -a "$jsonl"
done

python3 - "$jsonl" "$out/upgrade.md" "$pps" "$count" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
pps, count = int(sys.argv[3]), int(sys.argv[4])
with open(sys.argv[2], "w") as f:
    f.write("# Upgrade: the pause a consumer sees, and what it loses\n\n")
    f.write("`bench/upgrade.sh` (3 rounds): one vcapd, a `synth:` source paced at "
            f"{pps/1e6:g} Mpps (64-byte frames, {count:,} of them), one host consumer "
            "(`bench/upgrade_gap`, `VCAP_OPEN_META`: every packet's sequence number); "
            "after a second of traffic, `vcapctl upgrade` re-executes vcapd and hands "
            "everything over (docs/architecture.md, daemon/upgrade.h).\n\n")
    f.write("- **pause**: the upgrade's own duration as vcapctl reports it (capture "
            "threads parked until the new vcapd said ready)\n")
    f.write("- **gap**: the longest time between two receives that brought packets, "
            "as the consumer saw it, among those that overlap the upgrade (from `vcapctl "
            "upgrade`'s start to its end); **max gap (run)**: the longest of the whole run, "
            "for scale: on the shared 2-core machine scheduling makes gaps of its own\n")
    f.write("- **lost**: packets missing from the consumer's sequence numbers plus what "
            "its ring dropped\n\n")
    f.write("| round | pause (ms) | gap at the upgrade (ms) | max gap, run (ms) | received | delivered | lost |\n")
    f.write("|------:|-----------:|------------------------:|------------------:|---------:|----------:|-----:|\n")
    for r in rows:
        c = r["consumer"]
        at = [g["us"] for g in c["gaps"]
              if g["end_s"] >= r["upgrade_from"] and g["end_s"] - g["us"] / 1e6 <= r["upgrade_to"]]
        up = f"{max(at)/1000:.1f}" if at else "< 2"
        f.write(f"| {r['round']} | {r['pause_ms']:.1f} | {up} | {c['max_gap_us']/1000:.1f} | "
                f"{c['received']:,} | {c['delivered']:,} | {c['missing'] + c['dropped']} |\n")
    load = open("/proc/loadavg").read().split()[0]
    f.write("\nCommand: `bench/upgrade.sh -r 3 -p %d -n %d` on the project's machine "
            "(2 cores, shared; load average %s at the end of the run: other work ran "
            "beside it, which is what stretches some pauses). Raw: `upgrade.jsonl`.\n"
            % (pps, count, load))
PY
echo "wrote $out/upgrade.md"
