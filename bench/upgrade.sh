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
#   guest gap  (with -v) a TCG guest (QEMU, ivshmem-doorbell, the test
#              image) runs upgrade_gap too, on one flow of 100 ("udp port
#              1024"; TCG cannot read 1 Mpps): the longest gap in arrivals
#              it saw over its whole run (its clock is not the host's, so no
#              overlap is picked: at 10 kpps with a watermark of 1 the
#              upgrade's pause is the longest gap unless TCG stalls), and
#              what it lost; the VM is handed over by the upgrade
#
#   usage: bench/upgrade.sh [-r ROUNDS] [-p PPS] [-n COUNT] [-o OUTDIR] [-v]
#   writes: OUTDIR/upgrade.jsonl (raw), OUTDIR/upgrade.md (report)
set -euo pipefail

rounds=3 pps=1000000 count=4000000 out=docs/bench vm=0
while getopts "r:p:n:o:v" opt; do
	case $opt in
	v) vm=1 ;;
	r) rounds=$OPTARG ;;
	p) pps=$OPTARG ;;
	n) count=$OPTARG ;;
	o) out=$OPTARG ;;
	*) sed -n '3,25p' "$0" >&2; exit 2 ;;
	esac
done

B=${VCAP_BUILD_DIR:-build}
[ -f "$B/build.ninja" ] || meson setup "$B" >/dev/null
ninja -C "$B" >/dev/null
tmp=$(mktemp -d /tmp/vcap-bench-upgrade-XXXXXX)
vcapd_pid="" consumer_pid="" qemu_pid=""
cleanup() {
	[ -n "$qemu_pid" ] && kill -9 "$qemu_pid" 2>/dev/null || true
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

img=$B/vm-bench-upgrade-image
if [ "$vm" = 1 ]; then
	S=$(cd "$(dirname "$0")/.." && pwd)
	env -u LD_LIBRARY_PATH sh "$S/guest/make-image.sh" -b "$B" -o "$img" >"$tmp/image.out" 2>&1 ||
		{ tail -n 5 "$tmp/image.out" >&2; exit 1; }
fi
gcount=$((count / 100)) # the guest's flow: one of 100

for r in $(seq 1 "$rounds"); do
	rm -f "$VCAP_SOCKET"
	if [ "$vm" = 1 ]; then
		# the generator waits for both consumers: the guest boots first
		"$B/daemon/vcapd" --foreground --socket "$VCAP_SOCKET" \
			--source "syn=synth:size=64,pps=$pps,count=$count,flows=100,proto=udp,consumers=2" \
			--vm "vm1=$tmp/vm1.ivshmem,size=64Mi,vectors=4" 2>"$tmp/vcapd.log" &
		vcapd_pid=$!
		for _ in $(seq 500); do [ -S "$tmp/vm1.ivshmem" ] && break; sleep 0.02; done
		qemu-system-x86_64 -nodefaults -machine q35 -accel tcg -cpu max -smp 1 -m 256M \
			-device intel-iommu,intremap=on \
			-chardev "socket,path=$tmp/vm1.ivshmem,id=ivs" \
			-device ivshmem-doorbell,chardev=ivs,vectors=4 \
			-kernel "$img/vmlinuz" -initrd "$img/initramfs.cpio" \
			-append "console=ttyS0 intel_iommu=on panic=-1 quiet no_timer_check vcap.run=\"upgrade_gap host:syn $gcount 'udp port 1024' 16777216\"" \
			-nographic -monitor none -serial "file:$tmp/guest.log" -no-reboot \
			>"$tmp/qemu.log" 2>&1 &
		qemu_pid=$!
	else
		"$B/daemon/vcapd" --foreground --socket "$VCAP_SOCKET" \
			--source "syn=synth:size=64,pps=$pps,count=$count" 2>"$tmp/vcapd.log" &
		vcapd_pid=$!
	fi
	for _ in $(seq 500); do [ -S "$VCAP_SOCKET" ] && break; sleep 0.02; done
	"$B/bench/upgrade_gap" host:syn "$count" >"$tmp/gap.json" &
	consumer_pid=$!
	if [ "$vm" = 1 ]; then # until the guest's consumer is there and the traffic runs
		for _ in $(seq 3000); do
			"$B/tools/vcapctl" status | grep -q "vm1/" && break
			sleep 0.1
		done
	fi
	sleep 1
	t0=$(date +%s.%N)
	up=$("$B/tools/vcapctl" upgrade)
	t1=$(date +%s.%N)
	# "upgraded: vcapd pid N serves now; capture paused X ms"
	vcapd_pid=$(echo "$up" | sed -n 's/.*pid \([0-9]*\) serves.*/\1/p')
	pause_ms=$(echo "$up" | sed -n 's/.*paused \([0-9.]*\) ms.*/\1/p')
	wait "$consumer_pid"
	consumer_pid=""
	if [ "$vm" = 1 ]; then # the guest reads its share to the end before vcapd goes
		for _ in $(seq 1200); do grep -aq '^{"got"' "$tmp/guest.log" && break; sleep 0.1; done
	fi
	kill "$vcapd_pid"
	# the new vcapd is not this shell's child: wait for it by its socket
	for _ in $(seq 500); do [ -S "$VCAP_SOCKET" ] || break; sleep 0.02; done
	vcapd_pid=""
	gap=$(cat "$tmp/gap.json")
	guest=null
	if [ "$vm" = 1 ]; then
		guest=$(grep -a '^{"got"' "$tmp/guest.log" | tail -n 1 | tr -d '\r')
		[ -n "$guest" ] || { echo "the guest's upgrade_gap said nothing" >&2; tail "$tmp/guest.log" >&2; exit 1; }
		kill -9 "$qemu_pid" 2>/dev/null || true
		wait "$qemu_pid" 2>/dev/null || true
		qemu_pid=""
	fi
	echo "{\"round\":$r,\"pps\":$pps,\"count\":$count,\"pause_ms\":$pause_ms,\"upgrade_from\":$t0,\"upgrade_to\":$t1,\"consumer\":$gap,\"guest\":$guest}" |
		tee -a "$jsonl"
done

python3 - "$jsonl" "$out/upgrade.md" "$pps" "$count" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
pps, count = int(sys.argv[3]), int(sys.argv[4])
with open(sys.argv[2], "w") as f:
    f.write("# Upgrade: the pause a consumer sees, and what it loses\n\n")
    f.write("`bench/upgrade.sh` (" + str(len(rows)) + " rounds): one vcapd, a `synth:` source paced at "
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
            "its ring dropped\n")
    vm = any(r.get("guest") for r in rows)
    if vm:
        f.write("- **guest gap**, **guest lost** (`-v`): a TCG guest (QEMU, ivshmem-doorbell) "
                "runs `upgrade_gap` too, on one flow of 100 (`udp port 1024`, 10 kpps: TCG "
                "cannot read 1 Mpps); the upgrade hands its VM over.  Its gap is the longest "
                "of its whole run (its clock is not the host's), so it includes what TCG's "
                "own scheduling adds (under TCG on a loaded machine its arrivals stall for tens "
                "of ms all through a run: compare with the host consumer's); lost is what its ring dropped plus what it did not get "
                "of its flow's share (its filter skips sequence numbers)\n")
    f.write("\n| round | pause (ms) | gap at the upgrade (ms) | max gap, run (ms) | received | delivered | lost |"
            + (" guest gap, run (ms) | guest got | guest lost |" if vm else "") + "\n")
    f.write("|------:|-----------:|------------------------:|------------------:|---------:|----------:|-----:|"
            + ("--------------------:|----------:|-----------:|" if vm else "") + "\n")
    for r in rows:
        c = r["consumer"]
        at = [g["us"] for g in c["gaps"]
              if g["end_s"] >= r["upgrade_from"] and g["end_s"] - g["us"] / 1e6 <= r["upgrade_to"]]
        up = f"{max(at)/1000:.1f}" if at else "< 2"
        f.write(f"| {r['round']} | {r['pause_ms']:.1f} | {up} | {c['max_gap_us']/1000:.1f} | "
                f"{c['received']:,} | {c['delivered']:,} | {c['missing'] + c['dropped']} |")
        g = r.get("guest")
        if vm:
            # its filter skips sequence numbers: lost is what its ring dropped and
            # what it did not get of its flow's share
            f.write(f" {g['max_gap_us']/1000:.1f} | {g['got']:,} | "
                    f"{g['dropped'] + max(0, count // 100 - g['got'])} |"
                    if g else " | | |")
        f.write("\n")
    load = open("/proc/loadavg").read().split()[0]
    f.write("\nCommand: `bench/upgrade.sh -r %d -p %d -n %d%s` on the project's machine "
            "(2 cores, shared; load average %s at the end of the run: other work ran "
            "beside it, which is what stretches some pauses). Raw: `upgrade.jsonl`.\n"
            % (len(rows), pps, count, " -v" if vm else "", load))
PY
echo "wrote $out/upgrade.md"
