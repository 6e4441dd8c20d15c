#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# test_hotplug.sh SCENARIO - vcapd plugs a VM's ivshmem-doorbell device
# through QEMU's QMP socket (vm ...,qmp=PATH): real QEMU, real QMP, TCG
# guests booted with an empty pcie-root-port (docs/vm-hotplug.md).  Guest
# results come from marker lines on the serial console.
#
#   qmp-errors    a socket that is not QMP (silent; garbage; a message
#                 without end), a VM whose bus does not exist, a VM without
#                 qmp=: clear errors in the log and in vcapctl, and vcapd
#                 keeps serving; a QEMU started after vcapd gets its device,
#                 one that exits leaves it absent
#   attach        a VM booted without the device gets one with `vcapctl vm
#                 attach` (plug=manual), a guest consumer counts exact
#                 packets; detach (the guest gives it back, vcapd's session
#                 ends); attach again, count again; no reboot (boot id)
#   replug        kill -9 vcapd under a guest consumer served by vcap-guestd;
#                 a new vcapd unplugs the dead device and plugs a fresh one;
#                 the consumer gets packets again without a reboot; the gap
#                 is measured (ACPI hot-plug, QEMU 7.2 q35's default)
#   replug-inproc the same with the consumer opening the device itself
#                 (libvcap in-process, no vcap-guestd)
#   replug-pciehp the same as replug with native PCIe hot-plug (ACPI hot-plug
#                 off): pciehp's attention button waits 5 s before it lets go
#   replug-sysfs  the same as replug with the guest polling through sysfs
#                 (no VFIO, so no request IRQ: vcap-guestd notices the removal)
#   replug-reconnect, replug-reconnect-inproc
#                 one vcapcount in the guest (it reconnects by default: libvcap's
#                 VCAP_OPEN_RECONNECT), through vcap-guestd or in-process, goes
#                 on across the replug and counts all its packets, 1 restart
#   upgrade       two `vcapctl upgrade`s in a row during traffic (a synth
#                 source paced at 1 Mpps) with a host consumer, a tenant's
#                 (its own socket) and the guest's (vcapcount in the VM,
#                 through a filter that passes one flow of 100, so TCG keeps
#                 up): every count exact, nothing dropped, the guest's
#                 consumer saw no restart and the guest no reboot; the
#                 device stays plugged and the new vcapd detaches and
#                 attaches it through QMP; one detached stays out across a
#                 third upgrade until attached
# shellcheck disable=SC2016 # wait_for's conditions are eval'd later, quoted on purpose
set -eu

scenario=${1:?usage: test_hotplug.sh SCENARIO}
B=${VCAP_BUILD_DIR:?}
S=${VCAP_SOURCE_DIR:?}
dir=$(mktemp -d /tmp/vcap-hotplug-XXXXXX)
img="$B/vm-test-image-hotplug"
vcapd_pid=
qemu_pid=
helpers=""

cleanup() {
	rc=$?
	set +e # what is already gone must not stop the cleanup
	[ -n "$qemu_pid" ] && kill -9 "$qemu_pid" 2>/dev/null
	for p in $helpers; do kill -9 "$p" 2>/dev/null; done
	[ -n "$vcapd_pid" ] && kill -9 "$vcapd_pid" 2>/dev/null && wait "$vcapd_pid" 2>/dev/null
	rm -rf "$dir"
	exit $rc
}
trap cleanup EXIT INT TERM
fail() {
	echo "FAIL: $*" >&2
	for f in "$dir"/*.log; do
		[ -f "$f" ] && { echo "--- $f" >&2; tail -n 30 "$f" >&2; }
	done
	exit 1
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# wait_for SECONDS 'COMMAND' 'WHAT': poll COMMAND every 0.1 s until it succeeds
wait_for() {
	end=$(($(now_ms) + $1 * 1000))
	until eval "$2"; do
		[ "$(now_ms)" -lt "$end" ] || fail "$3 (waited $1 s)"
		sleep 0.1
	done
}

export VCAP_SOCKET="$dir/vcapd.sock"
ctl() { "$B/tools/vcapctl" "$@"; }

# start_vcapd LOG ARGS...; with T0 (ms) set, each log line starts with the ms since T0
start_vcapd() {
	log=$1
	shift
	rm -f "$dir/vcapd.sock"
	if [ -n "${T0:-}" ]; then
		rm -f "$dir/log.fifo"
		mkfifo "$dir/log.fifo"
		while IFS= read -r l; do echo "$(($(now_ms) - T0)) $l"; done <"$dir/log.fifo" >>"$dir/$log" &
		helpers="$helpers $!"
		"$B/daemon/vcapd" --foreground --socket "$dir/vcapd.sock" "$@" 2>"$dir/log.fifo" &
	else
		"$B/daemon/vcapd" --foreground --socket "$dir/vcapd.sock" "$@" 2>>"$dir/$log" &
	fi
	vcapd_pid=$!
	wait_for 10 '[ -S "$dir/vcapd.sock" ] || ! kill -0 $vcapd_pid 2>/dev/null' "vcapd did not start"
	kill -0 "$vcapd_pid" 2>/dev/null || fail "vcapd exited"
}

got() { # how many takes the guest's replug_check.sh reported (0 before its log exists)
	n=$(grep -ac "VCAP-RP: got" "$dir/guest.log" 2>/dev/null) || true
	echo "${n:-0}"
}

# same_boot MARKER: the guest did not reboot.  QEMU runs with -no-reboot and
# panic=-1, so a reboot or panic ends it before the guest's init reports its
# result (after which it powers off); and every MARKER line the guest wrote
# carries one and the same boot_id.  (Counting the init's banner line is no
# test: a kernel message printed meanwhile on the shared serial console can
# tear it apart; a torn boot_id is no boot_id.)
same_boot() {
	kill -0 "$qemu_pid" 2>/dev/null || grep -aq "VCAP-GUEST-RESULT" "$dir/guest.log" ||
		fail "QEMU exited before the guest finished: it rebooted or panicked"
	[ "$(grep -a "$1" "$dir/guest.log" | grep -ao 'boot_id=[0-9a-f-]\{36\}' | sort -u | wc -l)" -le 1 ] ||
		fail "the guest rebooted: $(grep -a "$1" "$dir/guest.log")"
}

vm_state() { ctl vm list | sed -n "s/^$1 \([a-z]*\).*/\1/p"; }

# QEMU with an empty pcie-root-port and QMP, as docs/vm-hotplug.md says;
# pref64-reserve is twice the region: SeaBIOS may place the window where a
# BAR of its full size is not aligned.  no_timer_check: on a loaded host a
# TCG guest's boot-time IO-APIC timer check can fail and panic ("timer
# doesn't work through Interrupt-remapped IO-APIC"), as VM images avoid.
# boot_qemu 'KERNEL ARGS' [QEMU ARGS...]
boot_qemu() {
	app=$1
	shift
	qemu-system-x86_64 -nodefaults -machine q35 -accel tcg -cpu max -smp 1 -m 256M \
		-device intel-iommu,intremap=on \
		-device pcie-root-port,id=vcap-port,chassis=1,slot=1,pref64-reserve=128M \
		-qmp "unix:$dir/qmp.sock,server=on,wait=off" "$@" \
		-kernel "$img/vmlinuz" -initrd "$img/initramfs.cpio" \
		-append "console=ttyS0 intel_iommu=on panic=-1 quiet no_timer_check $app" \
		-nographic -monitor none -serial "file:$dir/guest.log" -no-reboot \
		>"$dir/qemu.log" 2>&1 &
	qemu_pid=$!
}

vm_opts="size=64Mi,vectors=4,qmp=$dir/qmp.sock"

image() {
	set +e
	# shellcheck disable=SC2086
	env -u LD_LIBRARY_PATH sh "$S/guest/make-image.sh" -b "$B" -o "$img" \
		"$S/tests/guest/hotplug_check.sh" "$S/tests/guest/replug_check.sh" \
		"$S/tests/guest/upgrade_check.sh" \
		>"$dir/image.out" 2>&1
	rc=$?
	set -e
	[ $rc -eq 77 ] && { echo "SKIP: guest image packages missing"; exit 77; }
	[ $rc -eq 0 ] || fail "make-image.sh: $(tail -n 5 "$dir/image.out")"
}

command -v qemu-system-x86_64 >/dev/null || { echo "SKIP: no qemu-system-x86_64"; exit 77; }

# a fake QMP server: python3 fake_qmp.py PATH MODE (silent, garbage, endless)
cat > "$dir/fake_qmp.py" <<'PY'
import socket, sys, time
path, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(8)
while True:
    c, _ = s.accept()
    try:
        if mode == "garbage":
            c.sendall(b'{"QMP": {"version": {}, "capabilities": []}}\r\n')
            c.recv(4096)
            c.sendall(b'{"return": {}, "id": 0}\r\n')
            c.recv(4096)
            c.sendall(b'{"return": [1, 2}\r\n')
        elif mode == "endless":
            c.sendall(b'{"QMP": "' + b'x' * 200000)
        time.sleep(30 if mode == "silent" else 1)
    except OSError:
        pass
    c.close()
PY

case $scenario in
qmp-errors)
	command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
	for m in silent garbage endless; do
		python3 "$dir/fake_qmp.py" "$dir/$m.qmp" "$m" &
		helpers="$helpers $!"
	done
	wait_for 10 '[ -S "$dir/silent.qmp" ] && [ -S "$dir/garbage.qmp" ] && [ -S "$dir/endless.qmp" ]' \
		"the fake QMP servers did not start"
	# QEMU with no guest (-S: never runs), QMP and the root port
	qemu-system-x86_64 -nodefaults -machine q35 -accel tcg -m 128M -S -display none \
		-device pcie-root-port,id=vcap-port,chassis=1,slot=1,pref64-reserve=128M \
		-qmp "unix:$dir/qmp.sock,server=on,wait=off" -monitor none -serial none \
		>"$dir/qemu.log" 2>&1 &
	qemu_pid=$!
	wait_for 20 '[ -S "$dir/qmp.sock" ]' "QEMU did not open its QMP socket"
	start_vcapd vcapd.log --source s=synth:size=64,pps=100000 \
		--vm "silent=$dir/silent.ivshmem,size=4Mi,qmp=$dir/silent.qmp" \
		--vm "garbage=$dir/garbage.ivshmem,size=4Mi,qmp=$dir/garbage.qmp" \
		--vm "endless=$dir/endless.ivshmem,size=4Mi,qmp=$dir/endless.qmp" \
		--vm "nobus=$dir/nobus.ivshmem,size=4Mi,qmp=$dir/qmp.sock,port=no-such-port" \
		--vm "noqmp=$dir/noqmp.ivshmem,size=4Mi" \
		--vm "later=$dir/later.ivshmem,size=4Mi,qmp=$dir/later.qmp"
	wait_for 30 'grep -q "vm silent: QMP: no greeting within" "$dir/vcapd.log"' \
		"a silent QMP socket was not named"
	wait_for 30 'grep -q "vm garbage: QMP: the other end sent something that is not JSON" "$dir/vcapd.log"' \
		"garbage on QMP was not named"
	wait_for 30 'grep -q "vm endless: QMP: a message longer than 65536 bytes" "$dir/vcapd.log"' \
		"an endless QMP message was not named"
	wait_for 30 '[ "$(vm_state nobus)" = error ]' "an unknown bus did not give an error"
	ctl vm list | grep -q "^nobus error QEMU refused device_add of vcap-nobus on bus no-such-port: Bus 'no-such-port' not found" ||
		fail "vcapctl vm list: $(ctl vm list)"
	# the asker gets QEMU's words
	if ctl vm attach nobus 2>"$dir/attach.err"; then fail "attach to an unknown bus succeeded"; fi
	grep -q "Bus 'no-such-port' not found" "$dir/attach.err" || fail "attach nobus: $(cat "$dir/attach.err")"
	if ctl vm attach garbage 2>"$dir/attach.err"; then fail "attach over garbage succeeded"; fi
	grep -q "vm garbage: QMP is not connected (QMP: the other end sent something that is not JSON" "$dir/attach.err" ||
		fail "attach garbage: $(cat "$dir/attach.err")"
	if ctl vm attach noqmp 2>"$dir/attach.err"; then fail "attach without qmp= succeeded"; fi
	grep -q "vm noqmp has no qmp=PATH" "$dir/attach.err" || fail "attach noqmp: $(cat "$dir/attach.err")"
	if ctl vm detach nosuchvm 2>"$dir/attach.err"; then fail "detach of no VM succeeded"; fi
	grep -q 'no vm named "nosuchvm"' "$dir/attach.err" || fail "detach nosuchvm: $(cat "$dir/attach.err")"
	[ "$(vm_state noqmp)" = manual ] || fail "noqmp: $(ctl vm list)"
	# a QEMU started after vcapd gets its device
	[ "$(vm_state later)" = error ] || [ "$(vm_state later)" = absent ] || fail "later: $(ctl vm list)"
	qemu-system-x86_64 -nodefaults -machine q35 -accel tcg -m 128M -S -display none \
		-device pcie-root-port,id=vcap-port,chassis=1,slot=1,pref64-reserve=128M \
		-qmp "unix:$dir/later.qmp,server=on,wait=off" -monitor none -serial none \
		>"$dir/qemu-later.log" 2>&1 &
	later=$!
	helpers="$helpers $later"
	wait_for 30 '[ "$(vm_state later)" = plugged ]' "a QEMU started after vcapd did not get its device"
	grep -q "vm later: guest connected" "$dir/vcapd.log" || fail "the plugged device did not connect"
	# ... and one that goes leaves it absent
	kill "$later"
	wait_for 30 '[ "$(vm_state later)" = absent ]' "QEMU's exit was not noticed"
	grep -q "vm later: QMP connection closed by the other end (QEMU exited?)" "$dir/vcapd.log" ||
		fail "QEMU's exit was not named"
	# vcapd served all along
	"$B/tools/vcapcount" -i host:s -n 10000 -q >/dev/null || fail "vcapd stopped serving"
	kill -0 "$vcapd_pid" || fail "vcapd died"
	[ "$(grep -c "vm garbage: QMP: the other end" "$dir/vcapd.log")" -le 2 ] ||
		fail "a QMP socket that keeps failing floods the log"
	ctl vm list
	;;
attach)
	image
	start_vcapd vcapd.log --vm "vm1=$dir/vm1.ivshmem,$vm_opts,plug=manual" \
		--source s1=synth:size=64,count=50000,flows=64 --source s2=synth:size=64,count=50000,flows=64
	boot_qemu 'vcap.run="hotplug_check.sh 50000 s1 s2"'
	wait_for 120 'grep -aqs "VCAP-HP: boot_id" "$dir/guest.log" || ! kill -0 $qemu_pid' \
		"the guest did not boot"
	kill -0 "$qemu_pid" || fail "QEMU exited while the guest booted"
	wait_for 10 '[ "$(vm_state vm1)" = absent ]' "vm1 is not absent before attach: $(ctl vm list)"
	sleep 1 # the guest looks for the device meanwhile, and must not find one
	grep -aq "VCAP-HP: device up" "$dir/guest.log" && fail "the guest has a device before attach"
	t0=$(now_ms)
	ctl vm attach vm1 | grep -q "^vm1 plugged" || fail "attach: $(ctl vm list)"
	t_attach=$(($(now_ms) - t0))
	wait_for 120 'grep -aq "VCAP-HP: round=1 " "$dir/guest.log"' "the guest did not count round 1"
	grep -aq "VCAP-HP: round=1 rc=0 VCAP-CHECK: ok=1 .*packets=50000 " "$dir/guest.log" ||
		fail "round 1: $(grep -a 'round=1' "$dir/guest.log")"
	t0=$(now_ms)
	ctl vm detach vm1 | grep -q "^vm1 absent" || fail "detach: $(ctl vm list)"
	t_detach=$(($(now_ms) - t0))
	grep -q "vm vm1: the guest gave vcap-vm1 back (DEVICE_DELETED)" "$dir/vcapd.log" ||
		fail "detach answered before DEVICE_DELETED"
	wait_for 10 'grep -q "vm vm1: guest gone" "$dir/vcapd.log"' "vcapd's session for the guest did not end"
	wait_for 60 'grep -aq "VCAP-HP: device gone round=1" "$dir/guest.log"' "the guest still sees the device"
	t0=$(now_ms)
	ctl vm attach vm1 | grep -q "^vm1 plugged" || fail "attach again: $(ctl vm list)"
	t_attach2=$(($(now_ms) - t0))
	wait_for 120 'grep -aq "VCAP-GUEST-RESULT" "$dir/guest.log"' "the guest did not finish"
	grep -aq "VCAP-HP: round=2 rc=0 VCAP-CHECK: ok=1 .*packets=50000 " "$dir/guest.log" ||
		fail "round 2: $(grep -a 'round=2' "$dir/guest.log")"
	grep -aq "VCAP-GUEST-RESULT: rc=0" "$dir/guest.log" || fail "the guest failed"
	[ "$(grep -a "VCAP-HP: boot_id" "$dir/guest.log" | sed 's/.*boot_id=\([^ ]*\).*/\1/' | sort -u | wc -l)" = 1 ] ||
		fail "the guest rebooted: $(grep -a "VCAP-HP: boot_id" "$dir/guest.log")"
	echo "attach: $t_attach ms, detach (until DEVICE_DELETED) $t_detach ms, attach again $t_attach2 ms; one boot"
	;;
replug | replug-inproc | replug-pciehp | replug-sysfs | replug-reconnect | replug-reconnect-inproc)
	image
	extra=""
	app='vcap.guestd=1 vcap.run="replug_check.sh s 2000 1000000"'
	[ "$scenario" = replug-inproc ] && app='vcap.run="replug_check.sh s 2000 1000000"'
	count='vcapcount -i host:s -n 60000 --json'
	[ "$scenario" = replug-reconnect ] && app="vcap.guestd=1 vcap.run=\"$count\""
	[ "$scenario" = replug-reconnect-inproc ] && app="vcap.run=\"$count\""
	[ "$scenario" = replug-sysfs ] &&
		app='vcap.novfio=1 vcap.guestd=1 vcap.guestd_args="--no-vfio" vcap.run="replug_check.sh s 2000 1000000"'
	# native PCIe hot-plug: pciehp and its attention button, instead of ACPI's
	[ "$scenario" = replug-pciehp ] && extra="-global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off"
	start_vcapd vcapd1.log --vm "vm1=$dir/vm1.ivshmem,$vm_opts" --source s=synth:size=64,pps=20000,flows=64
	# shellcheck disable=SC2086
	boot_qemu "$app" $extra
	case $scenario in
	replug-reconnect*)
		# a third of its packets before the kill
		wait_for 180 '! kill -0 $qemu_pid || ctl status --json | grep -q "\"client\":\"vm1/[^\"]*\".*\"delivered\":[1-9][0-9][0-9][0-9][0-9]"' \
			"the guest consumer did not get packets" ;;
	*) wait_for 180 '! kill -0 $qemu_pid || [ "$(got)" -ge 3 ]' "the guest consumer did not get packets" ;;
	esac
	kill -0 "$qemu_pid" || fail "QEMU exited (did the guest panic?)"
	# shellcheck disable=SC2034 # read by a wait_for condition
	before=$(got)
	t0=$(now_ms)
	kill -9 "$vcapd_pid"
	wait "$vcapd_pid" 2>/dev/null || true
	T0=$t0
	start_vcapd vcapd2.log --vm "vm1=$dir/vm1.ivshmem,$vm_opts" --source s=synth:size=64,pps=20000,flows=64
	wait_for 180 '[ "$(vm_state vm1)" = plugged ]' "the new vcapd did not replug the device"
	t_plugged=$(($(now_ms) - t0))
	# the first packet the guest's consumer reads again: its ring's delivered count moves
	wait_for 180 'ctl status --json | grep -q "\"client\":\"vm1/[^\"]*\".*\"delivered\":[1-9]"' \
		"the guest consumer got no packet after the replug"
	t_first=$(($(now_ms) - t0))
	case $scenario in
	replug-reconnect*)
		wait_for 120 'grep -aqs "VCAP-GUEST-RESULT" "$dir/guest.log"' "the guest's vcapcount did not finish"
		grep -aq "VCAP-GUEST-RESULT: rc=0" "$dir/guest.log" ||
			fail "the guest's vcapcount failed: $(grep -a vcapcount "$dir/guest.log" | tail -n 3)"
		line=$(grep -a '"restarts":' "$dir/guest.log" | tail -n 1 || true)
		echo "$line" | grep -q '"packets":60000[,}]' || fail "the guest counted: $line"
		echo "$line" | grep -q '"restarts":1[,}]' || fail "the guest's restarts: $line"
		echo "guest vcapcount: $line" ;;
	*) wait_for 120 '[ "$(got)" -ge $((before + 2)) ]' "the guest consumer did not go on" ;;
	esac
	grep -q "vm vm1: the guest gave vcap-vm1 back (DEVICE_DELETED)" "$dir/vcapd2.log" ||
		fail "the new vcapd did not unplug the dead device"
	same_boot "VCAP-RP: got"
	at() { grep "$1" "$dir/vcapd2.log" | head -n 1 | cut -d' ' -f1; }
	echo "$scenario: after kill -9 (ms): vcapd up $(at 'listening on'), QMP $(at 'QMP connected'), device_del $(at 'is being unplugged'), DEVICE_DELETED $(at 'DEVICE_DELETED'), plugged $(at 'plugged into'), guest's ring opened $(at 'vm1/.*opened'); seen by polling: replugged $t_plugged, first packet in the guest $t_first; no reboot"
	if [ "$scenario" = replug-pciehp ]; then
		[ "$t_plugged" -ge 5000 ] || fail "pciehp let go in under 5 s ($t_plugged ms): not native hot-plug?"
	fi
	;;
upgrade)
	image
	n=20000000 # 20 s at 1 Mpps
	g=$((n / 100)) # the guest's flow: one of 100
	printf '%s\n' "source s synth:size=64,pps=1M,count=$n,flows=100,proto=udp,consumers=3" \
		"limit tenant-ring-memory 256Mi" \
		"tenant t socket $dir/tenant.sock" "tenant t allow s" >"$dir/vcapd.conf"
	start_vcapd vcapd.log --config "$dir/vcapd.conf" --vm "vm1=$dir/vm1.ivshmem,$vm_opts"
	boot_qemu "vcap.run=\"upgrade_check.sh s 1024 $g\""
	wait_for 60 '[ "$(vm_state vm1)" = plugged ]' "vcapd did not plug the device"
	# the host's consumers, with rings deep enough for a second of 1 Mpps
	"$B/tools/vcapcount" -i host:s -n "$n" --json -r 67108864 >"$dir/host.json" 2>"$dir/host.log" &
	host_pid=$!
	helpers="$helpers $host_pid"
	# the tenant's consumer is in a container (as tests/test_container.sh makes
	# one): new network and mount namespaces, a private /run with the tenant's
	# socket bind-mounted at the default path, no CAP_NET_RAW or CAP_NET_ADMIN
	# (unshare execs: its pid is vcapcount's)
	unshare --net --mount --propagation private sh -c '
		mount -t tmpfs tmpfs /run && mkdir -p /run/vcap && touch /run/vcap/vcapd.sock &&
		mount --bind "$1" /run/vcap/vcapd.sock || exit 3
		unset VCAP_SOCKET
		exec setpriv --bounding-set=-net_raw,-net_admin --inh-caps=-net_raw,-net_admin \
			"$2" -i host:s -n "$3" --json -r 67108864' sh "$dir/tenant.sock" \
		"$B/tools/vcapcount" "$n" >"$dir/tenant.json" 2>"$dir/tenant.log" &
	tenant_pid=$!
	helpers="$helpers $tenant_pid"
	# the generator starts once the three consumers are there
	wait_for 300 '! kill -0 $qemu_pid || ctl status --json | grep -q "\"client\":\"vm1/[^\"]*\".*\"delivered\":[1-9]"' \
		"the guest consumer did not get packets"
	kill -0 "$qemu_pid" || fail "QEMU exited (did the guest panic?)"
	pid0=$vcapd_pid
	for round in 1 2; do
		out=$(ctl upgrade 2>&1) || fail "upgrade $round: $out"
		echo "upgrade $round: $out"
		new=$(echo "$out" | sed -n 's/.*vcapd pid \([0-9]*\) serves now.*/\1/p')
		if [ -z "$new" ] || ! kill -0 "$new"; then fail "upgrade $round: no new vcapd ($out)"; fi
		vcapd_pid=$new # not our child: followed by pid
		[ "$(vm_state vm1)" = plugged ] || fail "after upgrade $round: $(ctl vm list)"
		# two seconds of traffic before the next (the host consumer's per-second lines)
		# shellcheck disable=SC2034 # read by the wait_for condition
		l0=$(wc -l <"$dir/host.log")
		wait_for 60 '[ "$(wc -l <"$dir/host.log")" -ge $((l0 + 2)) ]' \
			"the host consumer went silent after upgrade $round"
	done
	kill -0 "$pid0" 2>/dev/null && fail "the first vcapd still runs"
	wait_for 120 '! kill -0 $host_pid 2>/dev/null && ! kill -0 $tenant_pid 2>/dev/null' \
		"the host consumers did not finish"
	# counters while every ring is still open: received = delivered + dropped + filtered
	wait_for 300 'grep -aqs "VCAP-UP: end" "$dir/guest.log"' "the guest's vcapcount did not finish"
	for who in host tenant; do
		j=$(cat "$dir/$who.json")
		field() { echo "$j" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
		[ "$(field received)" = $(($(field delivered) + $(field dropped) + $(field filtered))) ] ||
			fail "$who: received != delivered + dropped + filtered: $j"
		grep -q "\"packets\":${n}[,}]" "$dir/$who.json" || fail "$who counted: $(cat "$dir/$who.json")"
		grep -q '"dropped":0[,}]' "$dir/$who.json" || fail "$who lost: $(cat "$dir/$who.json")"
		grep -q '"restarts":0[,}]' "$dir/$who.json" || fail "$who restarted: $(cat "$dir/$who.json")"
	done
	line=$(grep -a '"restarts":' "$dir/guest.log" | tail -n 1 || true)
	j=$(echo "$line" | sed 's/^[^{]*//')
	[ "$(field received)" = $(($(field delivered) + $(field dropped) + $(field filtered))) ] ||
		fail "guest: received != delivered + dropped + filtered: $j"
	echo "$line" | grep -q "\"packets\":${g}[,}]" || fail "the guest counted: $line"
	echo "$line" | grep -q '"dropped":0[,}]' || fail "the guest lost: $line"
	echo "$line" | grep -q '"restarts":0[,}]' || fail "the guest's consumer noticed: $line"
	grep -aq "VCAP-UP: end rc=0" "$dir/guest.log" || fail "the guest's vcapcount failed"
	same_boot "VCAP-UP:"
	up0=$(grep -a "VCAP-UP: start" "$dir/guest.log" | sed 's/.*uptime=\([0-9]*\).*/\1/')
	up1=$(grep -a "VCAP-UP: end" "$dir/guest.log" | sed 's/.*uptime=\([0-9]*\).*/\1/')
	[ "$up1" -gt "$up0" ] || fail "the guest's uptime did not grow: $up0 s, then $up1 s"
	grep -q "vm vm1: guest gone" "$dir/vcapd.log" && fail "vcapd ended the guest's session"
	echo "guest vcapcount: $line"
	echo "host: $(cat "$dir/host.json")"
	echo "tenant: $(cat "$dir/tenant.json")"
	# the new vcapd drives QMP: it detaches and attaches the handed-over device
	ctl vm detach vm1 | grep -q "^vm1 absent" || fail "detach after the upgrades: $(ctl vm list)"
	ctl vm attach vm1 | grep -q "^vm1 plugged" || fail "attach after the upgrades: $(ctl vm list)"
	# a detached device stays out across an upgrade (plug=auto would plug it), until attach
	ctl vm detach vm1 | grep -q "^vm1 absent" || fail "detach again: $(ctl vm list)"
	# shellcheck disable=SC2034 # read by the wait_for condition
	qmp0=$(grep -c "vm vm1: QMP connected" "$dir/vcapd.log")
	out=$(ctl upgrade 2>&1) || fail "upgrade with the device detached: $out"
	vcapd_pid=$(echo "$out" | sed -n 's/.*vcapd pid \([0-9]*\) serves now.*/\1/p')
	# once the new vcapd is on QMP it would have started plugging, were it going to
	wait_for 30 '[ "$(grep -c "vm vm1: QMP connected" "$dir/vcapd.log")" -gt "$qmp0" ]' \
		"the new vcapd did not connect to QMP"
	[ "$(vm_state vm1)" = absent ] || fail "the detached device after an upgrade: $(ctl vm list)"
	ctl vm attach vm1 | grep -q "^vm1 plugged" || fail "attach after that upgrade: $(ctl vm list)"
	;;
*)
	fail "unknown scenario $scenario"
	;;
esac
kill "$vcapd_pid"
if [ "$scenario" = upgrade ]; then # not our child any more: its log says how it ended
	wait_for 30 '! kill -0 $vcapd_pid 2>/dev/null' "vcapd did not exit"
else
	wait "$vcapd_pid" || fail "vcapd did not exit cleanly"
fi
vcapd_pid=
echo "hotplug $scenario: passed"
