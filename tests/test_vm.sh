#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# test_vm.sh SCENARIO - VM guests on real parts: vcapd as the ivshmem server,
# QEMU's stock ivshmem-doorbell device, the Debian cloud kernel with VFIO
# behind an emulated IOMMU, under TCG (this host's /dev/kvm cannot run a
# stock guest).  Guest results come from marker lines on the serial console
# (VCAP-CHECK:, VCAP-GUEST-RESULT:), never from its layout.
#
#   exact      host synth source -> guest consumer: every packet, byte-exact
#   filter     a filter set in the guest runs on the host: the filtered
#              packets never enter the region (the ring's counters say so)
#   two-vms    two VMs with different filters each get exactly their share
#   wakeup     a guest asleep in recv is woken by MSI-X when traffic starts
#   killed     QEMU killed with SIGKILL: vcapd frees the guest's rings and
#              serves the next guest in the same region
#   vcapd-dies vcapd killed with SIGKILL under a guest asleep in recv: the
#              guest notices (the region's heartbeat stops) and says so
#   hostile    a guest scribbles its whole region and rings doorbells at
#              random; vcapd stays up and the other VM gets every packet
#   tcpdump    Debian's tcpdump in the guest, through vcap-pcap, writes
#              exactly the packets the host's tcpdump writes from the same
#              source, and its filter runs in vcapd
set -eu

scenario=${1:?usage: test_vm.sh SCENARIO}
B=${VCAP_BUILD_DIR:?}
S=${VCAP_SOURCE_DIR:?}
dir=$(mktemp -d /tmp/vcap-vm-XXXXXX)
img="$B/vm-test-image"
vcapd_pid=
qemus=""

cleanup() {
	for q in $qemus; do kill -9 "$q" 2>/dev/null || true; done
	[ -n "$vcapd_pid" ] && kill "$vcapd_pid" 2>/dev/null && wait "$vcapd_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
fail() {
	echo "FAIL: $*" >&2
	for f in "$dir"/*.log; do
		[ -f "$f" ] && { echo "--- $f" >&2; tail -n 25 "$f" >&2; }
	done
	exit 1
}

extra=""
if [ "$scenario" = tcpdump ]; then
	img="$B/vm-test-image-tcpdump" # its own: images are cached by content
	extra="$(command -v tcpdump) $S/tests/guest/pcap_check.sh"
fi
set +e
# Without meson's LD_LIBRARY_PATH: in a sanitizer build it points at the
# instrumented libvcap, which ldd would then put in the image in place of
# the guest's own (guest/image/libvcap.so).
# shellcheck disable=SC2086
env -u LD_LIBRARY_PATH sh "$S/guest/make-image.sh" -b "$B" -o "$img" $extra >"$dir/image.out" 2>&1
rc=$?
set -e
[ $rc -eq 77 ] && { echo "SKIP: guest image packages missing"; exit 77; }
[ $rc -eq 0 ] || fail "make-image.sh: $(tail -n 5 "$dir/image.out")"

start_vcapd() { # ARGS...
	"$B/daemon/vcapd" --foreground --socket "$dir/vcapd.sock" "$@" 2>"$dir/vcapd.log" &
	vcapd_pid=$!
	i=0
	until [ -S "$dir/vcapd.sock" ]; do
		i=$((i + 1))
		[ $i -lt 500 ] || fail "vcapd did not start"
		kill -0 "$vcapd_pid" 2>/dev/null || fail "vcapd exited"
		sleep 0.01
	done
	export VCAP_SOCKET="$dir/vcapd.sock"
}

# boot NAME 'COMMAND' [KERNEL ARGS]: QEMU on vm NAME's socket, in the background
boot() {
	sh "$S/guest/run-vm.sh" -s "$dir/$1.ivshmem" -i "$img" -n 4 -c "$dir/$1.log" \
		-a "vcap.run=\"$2\" ${3:-}" >"$dir/$1.qemu" 2>&1 &
	eval "qemu_$1=$!"
	qemus="$qemus $!"
}

# finish NAME [SECONDS] [any]: wait for the guest to power off; its command
# must have succeeded unless "any"
finish() {
	eval "q=\$qemu_$1"
	i=0
	while kill -0 "$q" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt $((${2:-90} * 10)) ] || fail "guest $1 did not finish"
		sleep 0.1
	done
	[ "${3:-}" = any ] || grep -q "VCAP-GUEST-RESULT: rc=0" "$dir/$1.log" ||
		fail "guest $1: $(grep -a VCAP "$dir/$1.log" | tail -n 3)"
}

# check NAME KEY: the value of KEY in the guest's VCAP-CHECK: line
check() {
	grep -a "VCAP-CHECK: ok=" "$dir/$1.log" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$2=//p"
}

expect_check() { # NAME KEY VALUE
	v=$(check "$1" "$2")
	[ "$v" = "$3" ] || fail "guest $1: $2=$v, expected $3 ($(grep -a VCAP-CHECK "$dir/$1.log" | tail -n 1))"
}

vm() { # NAME: the --vm option for it
	echo "--vm" "$1=$dir/$1.ivshmem,size=64Mi,vectors=4"
}

oracle() { # N FILTER ...: how many generator frames pass FILTER
	"$B/tests/synth_oracle" "$@"
}

status_rings() {
	"$B/tools/vcapctl" status --json | sed 's/.*"rings":\[//' | grep -o '"id":' | wc -l
}

case $scenario in
exact)
	# shellcheck disable=SC2046
	start_vcapd $(vm vm1) --source s=synth:size=64,count=200000,flows=1024
	boot vm1 "vcap-check -i host:s -n 200000 -r 33554432 --size 64 --flows 1024"
	finish vm1
	expect_check vm1 ok 1
	expect_check vm1 packets 200000
	expect_check vm1 dropped 0
	grep -q "vm vm1: guest connected" "$dir/vcapd.log" || fail "vcapd did not see the guest"
	;;
filter)
	f="udp and not port 53"
	want=$(oracle -n 100000 -f "$f" --size 128 --flows 64)
	# shellcheck disable=SC2046
	start_vcapd $(vm vm1) --source s=synth:size=128,count=100000,flows=64
	boot vm1 "vcap-check -i host:s -n $want --to-end -f '$f' --size 128 --flows 64"
	finish vm1
	expect_check vm1 ok 1
	expect_check vm1 packets "$want"
	expect_check vm1 received 100000
	expect_check vm1 delivered "$want"
	expect_check vm1 filtered $((100000 - want))
	echo "filter: $want of 100000 entered the region, $((100000 - want)) were filtered on the host"
	;;
two-vms)
	want1=$(oracle -n 100000 -f udp --size 128 --flows 64)
	want2=$(oracle -n 100000 -f tcp --size 128 --flows 64)
	# shellcheck disable=SC2046
	start_vcapd $(vm vm1) $(vm vm2) --source s=synth:size=128,count=100000,flows=64,consumers=2
	boot vm1 "vcap-check -i host:s -n $want1 --to-end -f udp --size 128 --flows 64"
	boot vm2 "vcap-check -i host:s -n $want2 --to-end -f tcp --size 128 --flows 64"
	finish vm1 150
	finish vm2 150
	expect_check vm1 packets "$want1"
	expect_check vm2 packets "$want2"
	expect_check vm1 rejected 0
	expect_check vm2 rejected 0
	expect_check vm1 filtered $((100000 - want1))
	expect_check vm2 filtered $((100000 - want2))
	;;
wakeup)
	# the source starts only when a second consumer joins, from the host, 2 s later
	# shellcheck disable=SC2046
	start_vcapd $(vm vm1) --source s=synth:size=64,count=2000,pps=20000,consumers=2
	boot vm1 "vcap-check -i host:s -n 2000 --wait-marker"
	i=0
	until grep -aq "VCAP-CHECK: waiting" "$dir/vm1.log" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 900 ] || fail "the guest consumer never got to wait"
		sleep 0.1
	done
	sleep 2
	"$B/tools/vcapcount" -i host:s -n 2000 -q >/dev/null
	finish vm1
	expect_check vm1 ok 1
	first=$(check vm1 first_ms)
	irqs=$(check vm1 irqs)
	echo "wakeup: first packet after $first ms asleep, $irqs MSI-X interrupts"
	[ "$first" -ge 1500 ] || fail "the guest did not sleep until traffic started ($first ms)"
	[ "$irqs" -gt 0 ] || fail "no MSI-X interrupt woke the guest"
	;;
killed)
	# shellcheck disable=SC2046
	start_vcapd $(vm vm1) --source s=synth:size=64,pps=50000
	boot vm1 "vcapcount -i host:s -d 300 -q" "vcap.hold=1"
	i=0
	until [ "$(status_rings)" = 1 ]; do
		i=$((i + 1))
		[ $i -lt 900 ] || fail "the guest never opened its ring"
		sleep 0.1
	done
	"$B/tools/vcapctl" status | grep -q "vm1/vcapcount" || fail "vcapctl does not name the VM"
	eval "kill -9 \$qemu_vm1"
	i=0
	until [ "$(status_rings)" = 0 ]; do
		i=$((i + 1))
		[ $i -lt 30 ] || fail "vcapd kept the killed guest's ring"
		sleep 0.1
	done
	kill -0 "$vcapd_pid" || fail "vcapd died with the guest"
	grep -q "vm vm1: guest gone" "$dir/vcapd.log" || fail "vcapd did not report the guest gone"
	# the next guest on the same socket and region works
	boot vm1 "vcap-check -i host:s -n 1000"
	finish vm1
	expect_check vm1 ok 1
	;;
vcapd-dies)
	# shellcheck disable=SC2046
	start_vcapd $(vm vm1) --source s=synth:size=64,pps=1000
	# --no-reconnect: the old behaviour, a clear error (tools reconnect by default)
	boot vm1 "vcapcount -i host:s -d 300 -q --no-reconnect"
	i=0
	until [ "$(status_rings)" = 1 ]; do
		i=$((i + 1))
		[ $i -lt 900 ] || fail "the guest never opened its ring"
		sleep 0.1
	done
	sleep 1 # packets flow; once vcapd is gone the guest waits in recv
	kill -9 "$vcapd_pid"
	wait "$vcapd_pid" 2>/dev/null || true
	vcapd_pid=
	t0=$(date +%s)
	finish vm1 30 any
	grep -aq "vcapd went away" "$dir/vm1.log" || fail "the guest did not notice vcapd die: $(grep -a 'vcap' "$dir/vm1.log" | tail -n 4)"
	echo "vcapd-dies: the guest said \"$(grep -a 'vcapd went away' "$dir/vm1.log" | tail -n 1 | sed 's/.*vcapcount: //')\" $(($(date +%s) - t0)) s after"
	echo "vm $scenario: passed"
	exit 0
	;;
hostile)
	# shellcheck disable=SC2046
	start_vcapd $(vm vm1) $(vm vm2) --source s=synth:size=64,count=300000,pps=30000 \
		--source t=synth:size=64,pps=100000
	boot vm1 "vcap-scribble -i host:t -d 8" "vcap.novfio=1"
	boot vm2 "vcap-check -i host:s -n 300000 -r 16777216"
	finish vm2 150
	# The scribbler reports after its 8 s; on a loaded host its guest boots
	# later than vm2's and may still be at it when vm2 is done.
	i=0
	until grep -aq "VCAP-SCRIBBLE: writes=" "$dir/vm1.log"; do
		i=$((i + 1))
		[ $i -lt 600 ] || fail "the scribbler did not run"
		sleep 0.1
	done
	eval "q=\$qemu_vm1"
	kill -9 "$q" 2>/dev/null || true
	expect_check vm2 ok 1
	expect_check vm2 packets 300000
	expect_check vm2 dropped 0
	kill -0 "$vcapd_pid" || fail "vcapd died"
	echo "hostile: $(grep -a 'VCAP-SCRIBBLE: writes' "$dir/vm1.log" | sed 's/.*VCAP-SCRIBBLE: //'); vcapd: $(grep "region reset (" "$dir/vcapd.log" | tail -n 1 | sed 's/.*reset (//')"
	[ "$(grep -c "region reset (" "$dir/vcapd.log")" -le 20 ] || fail "a hostile guest floods vcapd's log"
	;;
tcpdump)
	# shellcheck disable=SC2046
	start_vcapd $(vm vm1) --source s=synth:size=128,count=4000,flows=64,pps=1000 \
		--source r=synth:size=128,count=4000,flows=64
	boot vm1 "pcap_check.sh host:s 1000 udp"
	# while it runs, vcapd shows the guest's filter on the guest's ring
	i=0
	until "$B/tools/vcapctl" status --json | grep -q '"client":"vm1/tcpdump".*"filter":"udp"'; do
		i=$((i + 1))
		[ $i -lt 600 ] || fail "vcapctl never showed tcpdump's filter on the guest's ring"
		sleep 0.1
	done
	finish vm1
	line=$(grep -a "VCAP-PCAP:" "$dir/vm1.log" | tail -n 1)
	echo "guest: $line"
	echo "$line" | grep -q "rc=0 packets=1000 outside=0 " || fail "guest tcpdump: $line"
	# the host's tcpdump, through the same wrapper, on an identical source
	"$B/pcap/vcap-pcap" tcpdump -i host:r -c 1000 -w "$dir/ref.pcap" udp 2>"$dir/ref.err" ||
		fail "host tcpdump: $(cat "$dir/ref.err")"
	ref=$(tcpdump -nn -r "$dir/ref.pcap" -t -x 2>/dev/null | md5sum | cut -d' ' -f1)
	echo "$line" | grep -q "md5=$ref " || fail "the guest's packets differ from the host's ($ref)"
	;;
*)
	fail "unknown scenario $scenario"
	;;
esac
kill "$vcapd_pid"
wait "$vcapd_pid" || fail "vcapd did not exit cleanly"
vcapd_pid=
echo "vm $scenario: passed"
