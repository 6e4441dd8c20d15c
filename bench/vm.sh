#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# vm.sh - the paper's figures 11-13 on this machine: a consumer in a VM guest
# through vcap, side by side with a guest capturing with AF_PACKET on its
# virtio-net NIC, the same generator, the same offered rates:
#
#   vcap        vcapsend (netns SND, veth1) -> veth0 -> vcapd's if:veth0
#               source -> the guest's ring in the ivshmem region ->
#               `vcapcount -i host:v` in the guest (in-process VFIO, MSI-X)
#   virtio      vcapsend (netns SND, veth1) -> veth0 -> tc mirred redirect ->
#               tap0 -> QEMU's virtio-net (tap backend, vhost=off) -> the
#               guest's eth0 -> `vcapcount -i eth0` (TPACKET_V3 in the guest)
#   virtio-tap  vcapsend straight on tap0 (netns CAP), flat out only: see below
#   synth       vcapd's own generator (synth:size=S,pps=R,count=R*SECONDS) ->
#               the guest's ring: vcap beyond what vcapsend pushes through a veth
#
# Why the virtio series goes through the veth and a redirect rather than
# vcapsend on tap0: a tap refuses what QEMU has not read yet (the tun queue
# is full) and vcapsend, like any AF_PACKET sender, takes ENOBUFS as "device
# busy" and sends the frame again.  The tap thus throttles the sender to what
# the guest takes and nothing is ever lost: measured, 100 kpps asked gave
# 60 kpps sent, every frame received, 31,000 refusals retried.  That is the
# virtio-tap series (flat out: virtio-net's best with flow control).  Through
# the redirect the sender is open loop, as with a NIC on the wire: what the
# tap cannot queue is dropped (tap0's tx_dropped) and counts as lost.  Both
# vcap and virtio then get the same traffic from the same place.
#
# Everything runs inside two private network namespaces that this script
# creates and deletes: CAP (vcapd, veth0, tap0, QEMU) and SND (veth1,
# vcapsend).  One guest boots per point (about 3 s under TCG), so that no
# point inherits another's state.  The guest runs under TCG: this host's
# /dev/kvm cannot run a stock guest (see guest/run-vm.sh).  Nothing is
# pinned: QEMU's vCPU thread, its main loop (which moves virtio-net's
# packets with vhost=off), vcapd and vcapsend share the 2 CPUs as the
# scheduler sees fit.
#
# Per point: boot, start the guest's consumer (`vcapcount -d SECONDS+2`),
# wait until it is ready (vcap: its ring shows in vcapctl status; eth0: the
# guest prints a marker once its packet socket is bound), send for SECONDS,
# wait for the guest to print its vcapcount --json and power off.  loss = 1 - received /
# sent, sent being vcapsend's --json "sent" (frames the kernel took), or the
# synth source's count; received rates are over vcapsend's own seconds
# (the host's clock, not the TCG guest's).
#
#   usage: bench/vm.sh [-d SECONDS] [-s "SIZES"] [-r "RATES"] [-g "SYNTH_RATES"]
#                      [-t 0|1] [-o OUTDIR]
#     -d  seconds of traffic per point (default 5)
#     -s  frame sizes (default "64 128 256 512 1024 1500")
#     -r  offered rates for vcap and virtio, k/M suffixes, "max" = vcapsend
#         flat out (default "10k 30k 100k 300k max")
#     -g  rates for the synth series ("" for none; default "1M 3M 10M")
#     -t  the virtio-tap series, 1 or 0 (default 1)
#     -o  output directory (default docs/bench): vm.jsonl (raw;
#         docs/bench/schema.md), vm.md, vm.png
#
# The default run is 84 points, each about SECONDS + 5-6 s (boot, guest
# start, drain, power-off): about 15 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

secs=5
sizes="64 128 256 512 1024 1500"
rates="10k 30k 100k 300k max"
grates="1M 3M 10M"
tapseries=1
out=docs/bench
usage() {
	echo "usage: bench/vm.sh [-d SECONDS] [-s \"SIZES\"] [-r \"RATES\"] [-g \"SYNTH_RATES\"] [-t 0|1] [-o OUTDIR]" >&2
	exit 2
}
while getopts d:s:r:g:t:o:h opt; do
	case $opt in
	d) secs=$OPTARG ;;
	s) sizes=$OPTARG ;;
	r) rates=$OPTARG ;;
	g) grates=$OPTARG ;;
	t) tapseries=$OPTARG ;;
	o) out=$OPTARG ;;
	*) usage ;;
	esac
done
[ "$OPTIND" -gt $# ] || usage
case $secs in '' | *[!0-9]* | 0) usage ;; esac
[ "$(id -u)" = 0 ] || { echo "vm.sh: needs root (network namespaces, tap, QEMU)" >&2; exit 1; }

# "10k" -> 10000, "1.5M" -> 1500000; "max" -> 0
num() {
	case $1 in
	max) echo 0 ;;
	*) awk -v r="$1" 'BEGIN {
		m = 1; s = r
		if (s ~ /[kK]$/) { m = 1e3; sub(/[kK]$/, "", s) }
		else if (s ~ /M$/) { m = 1e6; sub(/M$/, "", s) }
		else if (s ~ /G$/) { m = 1e9; sub(/G$/, "", s) }
		if (s !~ /^[0-9]+(\.[0-9]+)?$/) exit 1
		printf "%.0f\n", s * m }' || { echo "vm.sh: bad rate $1" >&2; exit 2; } ;;
	esac
}
for r in $rates $grates; do num "$r" >/dev/null; done
for s in $sizes; do
	case $s in '' | *[!0-9]*) usage ;; esac
	if [ "$s" -lt 60 ] || [ "$s" -gt 1514 ]; then
		echo "vm.sh: size $s: 60..1514" >&2
		exit 2
	fi
done

vcap_build
command -v tc >/dev/null || { echo "vm.sh: tc (iproute2) missing" >&2; exit 1; }
img="$B/vm-bench-image" # its own: images are cached by content
sh guest/make-image.sh -b "$B" -o "$img" -m 'virtio_pci virtio_net' >&2 ||
	{ echo "vm.sh: guest/make-image.sh failed" >&2; exit 1; }
mkdir -p "$out"
raw="$out/vm.jsonl"
: >"$raw"

tag="vcvm-$$"
cap="$tag-cap"
snd="$tag-snd"
tmp=$(mktemp -d /tmp/vcap-vmbench-XXXXXX)
qemu_pid=
cleanup() {
	set +e
	[ -n "$qemu_pid" ] && kill -9 "$qemu_pid" 2>/dev/null
	[ -n "$vcapd_pid" ] && kill "$vcapd_pid" 2>/dev/null && sleep 0.2
	netns_kill "$cap" "$snd"
	wait 2>/dev/null
	ip -n "$cap" link del tap0 2>/dev/null
	netns_delete "$cap" "$snd"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

netns_pair "$cap" "$snd"
ip netns exec "$cap" ip tuntap add tap0 mode tap
ip -n "$cap" link set lo up
ip -n "$cap" link set tap0 up

# shellcheck disable=SC2054 # commas inside QEMU options
netdev=(-netdev tap,id=n0,ifname=tap0,script=no,downscript=no,vhost=off -device virtio-net-pci,netdev=n0)

# guest_cmd DEVICE SECONDS: the guest's command (no double quotes: it rides
# in vcap.run="..." on the kernel command line).  It ends with
# "VCAP-BENCH: rc=N" and "VCAP-BENCH: json {...}" on the console.  With eth0
# it brings the NIC up and prints "VCAP-BENCH: ready" once vcapcount's
# packet socket is bound and running (/proc/net/packet: ETH_P_ALL, R=1);
# with host:v the script sees the ring appear in vcapctl status instead.
guest_cmd() {
	case $1 in
	host:*)
		echo "vcapcount -i $1 -r 33554432 -d $2 --json >/tmp/r 2>/tmp/e; rc=\$?;" \
			"echo VCAP-BENCH: rc=\$rc; echo VCAP-BENCH: json \$(cat /tmp/r);" \
			"[ \$rc = 0 ] || tail -n 5 /tmp/e"
		;;
	*)
		echo "ip link set $1 up; vcapcount -i $1 -r 33554432 -d $2 --json >/tmp/r 2>/tmp/e & p=\$!;" \
			"while kill -0 \$p 2>/dev/null && ! awk 'NR > 1 && \$4 == 3 && \$6 == 1 { f = 1 }" \
			"END { exit !f }' /proc/net/packet; do usleep 20000; done;" \
			"echo VCAP-BENCH: ready; wait \$p; rc=\$?;" \
			"echo VCAP-BENCH: rc=\$rc; echo VCAP-BENCH: json \$(cat /tmp/r);" \
			"[ \$rc = 0 ] || tail -n 5 /tmp/e"
		;;
	esac
}

start_vcapd() { # SPEC: vcapd serving guest vm1, with source v=SPEC, in netns $cap
	vcapd_start -n "$cap" -w "$tmp/vm1.ivshmem" --vm "vm1=$tmp/vm1.ivshmem,size=64Mi,vectors=4" \
		--source "v=$1" || exit 1
}

# No IPv6 in the guest: its eth0 would send router solicitations, which its
# own packet socket sees too.  The same for every series.
kargs="ipv6.disable=1"
boot() { # 'GUEST COMMAND'
	rm -f "$tmp/console.log"
	ip netns exec "$cap" sh guest/run-vm.sh -s "$tmp/vm1.ivshmem" -i "$img" -n 4 \
		-c "$tmp/console.log" -a "$kargs vcap.run=\"$1\"" -- "${netdev[@]}" >"$tmp/qemu.out" 2>&1 &
	qemu_pid=$!
}

# until_marker TEXT SECONDS: wait for a console line starting with TEXT;
# 1 if QEMU ended or the time ran out first
until_marker() {
	local i=0
	until grep -aq "^$1" "$tmp/console.log" 2>/dev/null; do
		kill -0 "$qemu_pid" 2>/dev/null || return 1
		i=$((i + 1))
		[ $i -lt $(($2 * 20)) ] || return 1
		sleep 0.05
	done
}

# until_ring SECONDS: wait until the guest's ring shows in vcapctl status
until_ring() {
	local i=0
	until VCAP_SOCKET="$tmp/vcapd.sock" "$B/tools/vcapctl" status --json 2>/dev/null |
		grep -q '"rings":[1-9]'; do
		kill -0 "$qemu_pid" 2>/dev/null || return 1
		i=$((i + 1))
		[ $i -lt $(($1 * 20)) ] || return 1
		sleep 0.05
	done
}

finish_qemu() { # SECONDS: wait for the guest to power off, else kill it
	local i=0
	while kill -0 "$qemu_pid" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -ge $(($1 * 20)) ]; then
			kill -9 "$qemu_pid" 2>/dev/null || true
			break
		fi
		sleep 0.05
	done
	wait "$qemu_pid" 2>/dev/null || true
	qemu_pid=
}

tap_dropped() {
	ip netns exec "$cap" cat /sys/class/net/tap0/statistics/tx_dropped
}
hz=$(getconf CLK_TCK)

# point SERIES SIZE RATE: one guest, one measurement; prints one JSON line
# (called in this shell, not a subshell: the pids stay visible to cleanup)
point() {
	local series=$1 size=$2 rate=$3 pps spec dev gsecs sent="" err="" t0 tb="" d0 d1 q0 q1 v0 v1 \
		b0=0 b1=0
	pps=$(num "$rate")
	gsecs=$((secs + 2))
	case $series in
	vcap) spec="if:veth0"; dev=host:v ;;
	synth) spec="synth:size=$size,pps=$pps,count=$((pps * secs))"; dev=host:v ;;
	*) spec="synth:size=64,count=1"; dev=eth0 ;; # never started: nobody opens it
	esac
	start_vcapd "$spec"
	if [ "$series" = virtio ]; then
		ip netns exec "$cap" tc qdisc add dev veth0 ingress
		ip netns exec "$cap" tc filter add dev veth0 ingress protocol all u32 match u32 0 0 \
			action mirred egress redirect dev tap0
	fi
	d0=$(tap_dropped)
	t0=$(date +%s.%N)
	boot "$(guest_cmd "$dev" "$gsecs")"
	if [ "$series" = synth ]; then
		q0=0 q1=0 v0=0 v1=0
		finish_qemu $((gsecs + 60))
	elif { [ "$series" = vcap ] && until_ring 90; } ||
		{ [ "$series" != vcap ] && until_marker "VCAP-BENCH: ready" 90; }; then
		tb=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
		q0=$(proc_jiffies "$qemu_pid") v0=$(proc_jiffies "$vcapd_pid") b0=$(busy_jiffies)
		if [ "$series" = virtio-tap ]; then
			sent=$(ip netns exec "$cap" timeout -s INT "$secs" "$B/tools/vcapsend" -i tap0 \
				-l "$size" -r "$pps" --flows 1024 -q --json 2>>"$tmp/vcapsend.log" || true)
		else
			sent=$(ip netns exec "$snd" timeout -s INT "$secs" "$B/tools/vcapsend" -i veth1 \
				-l "$size" -r "$pps" --flows 1024 -q --json 2>>"$tmp/vcapsend.log" || true)
		fi
		q1=$(proc_jiffies "$qemu_pid") v1=$(proc_jiffies "$vcapd_pid") b1=$(busy_jiffies)
		finish_qemu $((gsecs + 60))
	else
		err="the guest's consumer never became ready"
		q0=0 q1=0 v0=0 v1=0
		finish_qemu 1
	fi
	d1=$(tap_dropped)
	[ "$series" = virtio ] && ip netns exec "$cap" tc qdisc del dev veth0 ingress
	vcapd_stop
	tr -d '\r' <"$tmp/console.log" >"$tmp/console.txt" 2>/dev/null || : >"$tmp/console.txt"
	python3 - "$series" "$size" "$rate" "$pps" "$secs" "$sent" "$err" "$tb" \
		"$((d1 - d0))" "$((q1 - q0))" "$((v1 - v0))" "$hz" "$tmp/console.txt" "$((b1 - b0))" <<'EOF'
import json, sys
series, size, rate, pps, secs, sent, err, tb, tapdrop, qj, vj, hz, console, bj = sys.argv[1:15]
lines = open(console, errors="replace").read().splitlines()
g = None
rc = None
for l in lines:
    if l.startswith("VCAP-BENCH: json {"):
        try:
            g = json.loads(l[len("VCAP-BENCH: json "):])
        except ValueError:
            pass
    elif l.startswith("VCAP-BENCH: rc="):
        rc = l.split("=", 1)[1].strip()
r = {"series": series, "size": int(size), "rate": rate, "offered_pps": int(pps) or None}
if sent.strip():
    s = json.loads(sent)
    r.update(sent=s["sent"], send_seconds=s["seconds"], sender_pps=s["pps"],
             send_errors=s["errors"])
elif series == "synth" and g:
    # the source's frames: all it made while the guest's ring was open
    r.update(sent=g["received"] + g["kernel_drops"], send_seconds=g["seconds"],
             sender_pps=(g["received"] + g["kernel_drops"]) / max(g["seconds"], 1e-9))
if g:
    r.update(received=g["packets"], ring_received=g["received"], ring_dropped=g["dropped"],
             kernel_drops=g["kernel_drops"], guest_seconds=g["seconds"])
if series.startswith("virtio"):
    r["tap_tx_dropped"] = int(tapdrop)
if tb:
    r["ready_s"] = float(tb)
if int(qj) or int(vj):
    r["qemu_cpu_s"] = int(qj) / int(hz)
    r["vcapd_cpu_s"] = int(vj) / int(hz)
    r["machine_busy_s"] = int(bj) / int(hz)
if not err and not g:
    err = "no result from the guest (rc=%s): %s" % (rc, " | ".join(
        l for l in lines[-8:] if l.strip())[-300:])
elif not err and "sent" not in r:
    err = "vcapsend reported nothing"
elif not err and rc != "0":
    err = "guest vcapcount rc=%s" % rc
if err:
    r["error"] = err
if "sent" in r and "received" in r and r["sent"]:
    r["loss"] = max(0.0, 1 - r["received"] / r["sent"])
    r["rx_pps"] = r["received"] / max(r["send_seconds"], 1e-9)
print(json.dumps(r))
EOF
}

# The exact QEMU command lines, TCG as run and the KVM equivalent.
printcmd() { # extra run-vm.sh options...
	sh guest/run-vm.sh -p -s "$tmp/vm1.ivshmem" -i "$img" -n 4 -c "$tmp/console.log" \
		-a "$kargs vcap.run=\"$(guest_cmd eth0 $((secs + 2)))\"" "$@" -- "${netdev[@]}"
}
python3 - "$secs" "$sizes" "$rates" "$grates" "$(printcmd)" "$(printcmd -k)" \
	"$(qemu-system-x86_64 --version | head -n 1)" "$(cat "$img/kernel-version")" \
	"$(guest_cmd host:v $((secs + 2)))" "$(guest_cmd eth0 $((secs + 2)))" \
	"$(cat /proc/loadavg)" >>"$raw" <<'EOF'
import json, sys
k = ["seconds", "sizes", "rates", "synth_rates", "qemu_tcg", "qemu_kvm", "qemu_version",
     "guest_kernel", "guest_cmd_vcap", "guest_cmd_virtio", "loadavg_start"]
m = dict(zip(k, sys.argv[1:]))
m["seconds"] = int(m["seconds"])
print(json.dumps({"meta": m}))
EOF

plan=()
for size in $sizes; do
	for rate in $rates; do
		plan+=("vcap $size $rate" "virtio $size $rate")
	done
	[ "$tapseries" = 1 ] && plan+=("virtio-tap $size max")
	for rate in $grates; do
		plan+=("synth $size $rate")
	done
done
n=${#plan[@]}
start=$(date +%s)
echo "vm.sh: $n points of $secs s (about $((n * (secs + 6) / 60 + 1)) min); raw results in $raw" >&2
i=0
for p in "${plan[@]}"; do
	i=$((i + 1))
	# shellcheck disable=SC2086
	point $p >"$tmp/point.json"
	r=$(cat "$tmp/point.json")
	echo "$r" >>"$raw"
	el=$(($(date +%s) - start))
	python3 - "$r" "$i" "$n" "$el" <<'EOF' >&2
import json, sys
r = json.loads(sys.argv[1]); i, n, el = map(int, sys.argv[2:5])
left = el / i * (n - i)
s = "[%d/%d %dm%02ds, ~%dm left] %-10s %4d B %-5s" % (i, n, el // 60, el % 60, left // 60,
                                                    r["series"], r["size"], r["rate"])
if "loss" in r:
    s += ": sent %.0f kpps, received %.1f kpps, loss %.2f %%" % (
        r["sender_pps"] / 1e3, r["rx_pps"] / 1e3, 100 * r["loss"])
if "tap_tx_dropped" in r:
    s += ", tap dropped %d" % r["tap_tx_dropped"]
if "error" in r:
    s += "  ERROR: " + r["error"]
print(s)
EOF
done

echo "{\"end\":{\"elapsed_s\":$(($(date +%s) - start)),\"loadavg\":\"$(cat /proc/loadavg)\"}}" >>"$raw"

args="-d $secs"
[ "$sizes" = "64 128 256 512 1024 1500" ] || args="$args -s \"$sizes\""
[ "$rates" = "10k 30k 100k 300k max" ] || args="$args -r \"$rates\""
[ "$grates" = "1M 3M 10M" ] || args="$args -g \"$grates\""
[ "$tapseries" = 1 ] || args="$args -t 0"
python3 bench/report_vm.py "$raw" "$out" "bench/vm.sh $args"
