#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# test_libvirt.sh SCENARIO - docs/vm-libvirt.md held to what libvirt and
# QEMU 7.2 really do, and the test guest's boot on a loaded host.
#
#   xml          every ```xml block of docs/vm-libvirt.md passes libvirt's
#                own validator (virt-xml-validate); a broken one does not
#   kvm-line     guest/run-vm.sh -k -p has what KVM needs (split irqchip
#                with intremap, ioeventfd, intel_iommu=on, no_timer_check)
#   migration    QEMU refuses to migrate a VM whose ivshmem-doorbell device
#                vcapd serves, and refuses master=on; the device hot-plugged
#                into an empty root port of a running guest and removed
#                again, the guest migrates to a second QEMU, where a device
#                plugs in to another vcapd and the guest sees it
#   domain       a private libvirtd (own mount namespace: the host's libvirt,
#                if any, is not touched) starts the doc's cold-plug domain
#                under TCG with the test guest; vcapd serves its <shmem>;
#                the guest's consumer counts exact packets
#   loaded-boot  a guest boots and consumes with two CPU-bound processes
#                beside it (the conditions of the boot-time timer panic)
#
# Guest results come from marker lines on the serial console.
set -eu

scenario=${1:?usage: test_libvirt.sh SCENARIO}
B=${VCAP_BUILD_DIR:?}
S=${VCAP_SOURCE_DIR:?}
doc="$S/docs/vm-libvirt.md"
dir=$(mktemp -d /tmp/vcap-libvirt-XXXXXX)
img="$B/vm-test-image" # test_vm.sh's: the same inputs, so a cache hit
pids=""
vcapds=""

cleanup() {
	for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
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
need() { # COMMAND PACKAGE
	command -v "$1" >/dev/null 2>&1 && return 0
	echo "SKIP: $1 missing (Debian package $2; scripts/deps.sh installs it)"
	exit 77
}

# wait_for 'SHELL CONDITION' SECONDS WHAT: poll the condition until a deadline
wait_for() {
	end=$(($(date +%s) + $2))
	until eval "$1"; do
		[ "$(date +%s)" -lt "$end" ] || fail "$3 (after $2 s)"
		sleep 0.1
	done
}

make_image() {
	set +e
	# Without meson's LD_LIBRARY_PATH (a sanitizer build's libvcap must not
	# go into the guest); test_vm.sh does the same.
	env -u LD_LIBRARY_PATH sh "$S/guest/make-image.sh" -b "$B" -o "$img" >"$dir/image.out" 2>&1
	rc=$?
	set -e
	[ $rc -eq 77 ] && { echo "SKIP: guest image packages missing"; exit 77; }
	[ $rc -eq 0 ] || fail "make-image.sh: $(tail -n 5 "$dir/image.out")"
}

# start_vcapd NAME ARGS...: a vcapd on $dir/NAME.sock, its log $dir/NAME.log
start_vcapd() {
	n=$1
	shift
	"$B/daemon/vcapd" --foreground --socket "$dir/$n.sock" "$@" 2>"$dir/$n.log" &
	pids="$pids $!"
	vcapds="$vcapds $n:$!"
	wait_for "[ -S '$dir/$n.sock' ]" 10 "vcapd $n did not start"
}

# stop_vcapds: each vcapd must exit cleanly on SIGTERM (in a sanitizer
# build: no leak, no error at exit)
stop_vcapds() {
	for nv in $vcapds; do
		kill "${nv#*:}" 2>/dev/null || fail "vcapd ${nv%%:*} died"
		wait "${nv#*:}" || fail "vcapd ${nv%%:*} exited with status $? on SIGTERM"
	done
	vcapds=""
}

# A QMP client: python3 qmp.py SOCKET 'COMMAND JSON'... runs each command and
# prints the answer; 'wait EVENT SECONDS' waits for an event; 'migrated
# SECONDS' polls query-migrate until completed.  Exit 1 on a deadline or a
# failed migration.
write_qmp() {
	cat >"$dir/qmp.py" <<'EOF'
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile('rw')
events = []
def read(deadline):
    s.settimeout(max(0.05, deadline - time.monotonic()))
    line = f.readline()
    if not line:
        sys.exit("qmp: QEMU closed the monitor")
    m = json.loads(line)
    if 'event' in m:
        events.append(m['event'])
    return m
def cmd(c):
    f.write(c + '\n')
    f.flush()
    end = time.monotonic() + 30
    while True:
        m = read(end)
        if 'return' in m or 'error' in m:
            return m
read(time.monotonic() + 10)  # greeting
cmd('{"execute": "qmp_capabilities"}')
for c in sys.argv[2:]:
    w = c.split()
    if w[0] == 'wait':
        end = time.monotonic() + float(w[2])
        while w[1] not in events:
            try:
                read(end)
            except socket.timeout:
                sys.exit("qmp: no %s within %s s" % (w[1], w[2]))
        print("event " + w[1], flush=True)
    elif w[0] == 'migrated':
        end = time.monotonic() + float(w[1])
        while True:
            st = cmd('{"execute": "query-migrate"}')['return'].get('status')
            if st == 'completed':
                print("migrate completed", flush=True)
                break
            if st in ('failed', 'cancelled') or time.monotonic() > end:
                sys.exit("qmp: migration %s" % st)
            time.sleep(0.1)
    else:
        print(json.dumps(cmd(c)), flush=True)
EOF
}
qmp() { python3 "$dir/qmp.py" "$@"; }

case $scenario in
xml)
	need virt-xml-validate libvirt-clients
	need xmllint libxml2-utils
	# Each ```xml block; a device (root not <domain>) goes into a minimal domain.
	python3 - "$doc" "$dir" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
blocks = re.findall(r'^```xml\n(.*?)^```', text, re.S | re.M)
for i, b in enumerate(blocks):
    if not b.lstrip().startswith('<domain'):
        b = ("<domain type='kvm'><name>frag</name><memory>1048576</memory>"
             "<os><type arch='x86_64' machine='q35'>hvm</type></os>"
             "<devices>\n" + b + "</devices></domain>\n")
    open('%s/block%02d.xml' % (sys.argv[2], i), 'w').write(b)

EOF
	n=0
	for f in "$dir"/block*.xml; do
		virt-xml-validate "$f" domain >"$dir/validate.out" 2>&1 ||
			fail "docs/vm-libvirt.md, xml block $n: $(cat "$dir/validate.out")"
		n=$((n + 1))
	done
	[ "$n" -ge 4 ] || fail "only $n xml blocks in docs/vm-libvirt.md (cold-plug, hot-plug, shmem, qemu:commandline)"
	grep -q "<model type='ivshmem-doorbell'/>" "$dir"/block00.xml || fail "the first block has no ivshmem-doorbell <shmem>"
	# The validator can fail: a model libvirt does not know
	sed "s/ivshmem-doorbell/ivshmem-bell/" "$dir/block00.xml" >"$dir/broken.xml"
	! virt-xml-validate "$dir/broken.xml" domain >/dev/null 2>&1 ||
		fail "virt-xml-validate accepted <model type='ivshmem-bell'/>"
	echo "xml: $n blocks of docs/vm-libvirt.md validate; a broken one does not"
	;;
kvm-line)
	k=$(sh "$S/guest/run-vm.sh" -k -p -s /run/vcap/vm1.ivshmem -i /img)
	t=$(sh "$S/guest/run-vm.sh" -p -s /run/vcap/vm1.ivshmem -i /img)
	echo "KVM: $k"
	for want in ' -enable-kvm ' ' -cpu host ' ' -machine q35,kernel-irqchip=split ' \
		' -device intel-iommu,intremap=on ' ',ioeventfd=on' 'intel_iommu=on' 'no_timer_check' \
		'-chardev socket,path=/run/vcap/vm1.ivshmem,id=ivs' 'ivshmem-doorbell,chardev=ivs,vectors=16'; do
		case " $k " in *"$want"*) ;; *) fail "the KVM line lacks '$want'" ;; esac
	done
	for want in ' -accel tcg ' ' -device intel-iommu,intremap=on ' 'no_timer_check' 'intel_iommu=on'; do
		case " $t " in *"$want"*) ;; *) fail "the TCG line lacks '$want'" ;; esac
	done
	case " $t " in *kernel-irqchip*|*-enable-kvm*) fail "the TCG line asks for KVM: $t" ;; esac
	# intel-iommu before the device it translates for (QEMU requires it)
	case " $k " in *intel-iommu*ivshmem-doorbell*) ;; *) fail "intel-iommu after the device" ;; esac
	# the doc's libvirt XML says the same
	grep -q "<driver intremap='on'/>" "$doc" || fail "docs/vm-libvirt.md lacks intremap"
	grep -q "<ioapic driver='qemu'/>" "$doc" || fail "docs/vm-libvirt.md lacks the split irqchip"
	echo "kvm-line: ok"
	;;
migration)
	need python3 python3
	make_image
	write_qmp
	start_vcapd src --vm vm1="$dir/vm1.ivshmem",size=16Mi,vectors=4
	start_vcapd dst --vm vm1="$dir/vm1-dst.ivshmem",size=16Mi,vectors=4
	base="-nodefaults -machine q35 -accel tcg -cpu max -smp 1 -m 256M -display none
		-device intel-iommu,intremap=on"

	# 1. the device in from the start: migrate is refused
	# shellcheck disable=SC2086
	qemu-system-x86_64 $base -S -chardev socket,path="$dir/vm1.ivshmem",id=ivs \
		-device ivshmem-doorbell,chardev=ivs,vectors=4 \
		-qmp unix:"$dir/q1.qmp",server=on,wait=off >"$dir/q1.log" 2>&1 &
	q1=$!
	pids="$pids $q1"
	wait_for "[ -S '$dir/q1.qmp' ]" 30 "QEMU's QMP socket"
	qmp "$dir/q1.qmp" '{"execute": "migrate", "arguments": {"uri": "exec:cat > /dev/null"}}' \
		'{"execute": "query-migrate"}' '{"execute": "quit"}' >"$dir/q1.out" || fail "qmp: $(cat "$dir/q1.out")"
	wait "$q1" || true
	cat "$dir/q1.out"
	refusal="Migration is disabled when using feature 'peer mode' in device 'ivshmem'"
	sed -n 1p "$dir/q1.out" | grep -qF "$refusal" || fail "migrate not refused: $(sed -n 1p "$dir/q1.out")"
	sed -n 2p "$dir/q1.out" | grep -qF "\"blocked-reasons\": [\"$refusal\"]" ||
		fail "query-migrate: $(sed -n 2p "$dir/q1.out")"

	# 2. master=on (role='master'): QEMU wants peer 0, vcapd never gives it
	# (timeout: should QEMU start after all, it is not left running)
	# shellcheck disable=SC2086
	! timeout 60 qemu-system-x86_64 $base -S -chardev socket,path="$dir/vm1.ivshmem",id=ivs \
		-device ivshmem-doorbell,chardev=ivs,vectors=4,master=on >"$dir/q2.log" 2>&1 ||
		fail "QEMU started with master=on"
	grep -q "master must connect to the server before any peers" "$dir/q2.log" ||
		fail "master=on: $(cat "$dir/q2.log")"
	echo "master=on: $(cat "$dir/q2.log")"

	# 3. detach, migrate, attach: a guest that reports, every second, how
	# many ivshmem devices (1af4:1110) it sees
	# shellcheck disable=SC2016 # expanded in the guest
	run='while :; do n=0; for d in /sys/bus/pci/devices/*; do [ $(cat $d/device) = 0x1110 ] && n=$((n+1)); done; echo VCAP-TICK ivshmem=$n; sleep 1; done'
	guest() { # NAME EXTRA...
	g=$1
	shift
	# shellcheck disable=SC2086
	qemu-system-x86_64 $base -device pcie-root-port,id=vcap-port,chassis=1,slot=1,pref64-reserve=16M \
		-kernel "$img/vmlinuz" -initrd "$img/initramfs.cpio" \
		-append "console=ttyS0 intel_iommu=on no_timer_check panic=-1 quiet vcap.run=\"$run\"" \
		-serial file:"$dir/$g-console.log" -no-reboot \
		-qmp unix:"$dir/$g.qmp",server=on,wait=off "$@" >"$dir/$g.log" 2>&1 &
	pids="$pids $!"
	eval "pid_$g=$!"
	}
	ticks() { # NAME N: the last tick says N devices
		[ "$(grep -a 'VCAP-TICK' "$dir/$1-console.log" 2>/dev/null | tail -n 1 | tr -d '\r')" = "VCAP-TICK ivshmem=$2" ]
	}
	plug() { # QMP VCAPD-SOCKET
		qmp "$1" "{\"execute\": \"chardev-add\", \"arguments\": {\"id\": \"vcapchr\", \"backend\": {\"type\": \"socket\", \"data\": {\"addr\": {\"type\": \"unix\", \"data\": {\"path\": \"$2\"}}, \"server\": false}}}}" \
			'{"execute": "device_add", "arguments": {"driver": "ivshmem-doorbell", "id": "vcapdev", "bus": "vcap-port", "chardev": "vcapchr", "vectors": 4}}'
	}
	guest src
	wait_for "ticks src 0" 120 "the source guest did not boot"
	plug "$dir/src.qmp" "$dir/vm1.ivshmem" >"$dir/plug1.out" || fail "plug: $(cat "$dir/plug1.out")"
	grep -q '"error"' "$dir/plug1.out" && fail "plug: $(cat "$dir/plug1.out")"
	wait_for "ticks src 1" 60 "the guest never saw the plugged device"
	grep -q "vm vm1: guest connected" "$dir/src.log" || fail "the source vcapd did not see QEMU"
	qmp "$dir/src.qmp" '{"execute": "migrate", "arguments": {"uri": "exec:cat > /dev/null"}}' >"$dir/m1.out"
	grep -qF "$refusal" "$dir/m1.out" || fail "migrate with a hot-plugged device: $(cat "$dir/m1.out")"
	t0=$(date +%s)
	qmp "$dir/src.qmp" '{"execute": "device_del", "arguments": {"id": "vcapdev"}}' 'wait DEVICE_DELETED 60' \
		'{"execute": "chardev-remove", "arguments": {"id": "vcapchr"}}' >"$dir/unplug.out" ||
		fail "unplug: $(cat "$dir/unplug.out")"
	grep -q '"error"' "$dir/unplug.out" && fail "unplug: $(cat "$dir/unplug.out")"
	echo "detach: DEVICE_DELETED $(($(date +%s) - t0)) s after device_del"
	wait_for "ticks src 0" 30 "the guest still sees the device"
	wait_for "grep -q 'vm vm1: guest gone' '$dir/src.log'" 10 "the source vcapd did not see QEMU go"
	guest dst -incoming unix:"$dir/mig.sock"
	wait_for "[ -S '$dir/mig.sock' ]" 30 "the destination QEMU did not listen"
	t0=$(date +%s)
	qmp "$dir/src.qmp" "{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"unix:$dir/mig.sock\"}}" \
		'migrated 120' >"$dir/m2.out" || fail "migration: $(cat "$dir/m2.out")"
	grep -q '"error"' "$dir/m2.out" && fail "migrate: $(cat "$dir/m2.out")"
	echo "migrate: completed in $(($(date +%s) - t0)) s"
	qmp "$dir/src.qmp" '{"execute": "quit"}' >/dev/null || true
	wait_for "ticks dst 0" 30 "the guest does not run on the destination"
	plug "$dir/dst.qmp" "$dir/vm1-dst.ivshmem" >"$dir/plug2.out" || fail "plug: $(cat "$dir/plug2.out")"
	grep -q '"error"' "$dir/plug2.out" && fail "plug on the destination: $(cat "$dir/plug2.out")"
	wait_for "ticks dst 1" 60 "the migrated guest never saw the destination's device"
	grep -q "vm vm1: guest connected" "$dir/dst.log" || fail "the destination vcapd did not see QEMU"
	echo "migration: refused with the device in; detach, migrate, attach on the destination: ok"
	;;
domain)
	need virsh libvirt-clients
	need libvirtd libvirt-daemon
	[ -e /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so ] || {
		echo "SKIP: libvirt's QEMU driver missing (Debian package libvirt-daemon-driver-qemu)"
		exit 77
	}
	need unshare util-linux
	[ "$(id -u)" = 0 ] || { echo "SKIP: a private libvirtd needs root"; exit 77; }
	make_image
	start_vcapd v --vm vm1="$dir/vm1.ivshmem",size=64Mi,vectors=16 \
		--vm vm2="$dir/vm2.ivshmem",size=64Mi,vectors=16 \
		--source s=synth:size=64,count=50000,flows=1024 \
		--source t=synth:size=64,count=20000,flows=64
	name="vcap-test-$$"
	# The doc's domains made TCG guests that boot the test image: the
	# cold-plug one (vm1) counts packets; the hot-plug one (vm2) waits for
	# the device virsh attach-device gives it, counts packets, and waits
	# for virsh detach-device to take it away.
	hp_run='while ! grep -q 0x1110 /sys/bus/pci/devices/*/device; do sleep 0.2; done; echo VCAP-HP: attached; vcap-check -i host:t -n 20000 --size 64 --flows 64 || exit 1; while grep -q 0x1110 /sys/bus/pci/devices/*/device; do sleep 0.2; done; echo VCAP-HP: detached'
	python3 - "$doc" "$dir" "$img" "$name" "$hp_run" <<'PY'
import re, sys
import xml.etree.ElementTree as ET
doc, d, img, name, hp_run = sys.argv[1:]
blocks = re.findall(r'^```xml\n(.*?)^```', open(doc).read(), re.S | re.M)
ET.register_namespace('qemu', 'http://libvirt.org/schemas/domain/qemu/1.0')
def tcg(x, name, vm, run):
    dom = ET.fromstring(x)
    dom.set('type', 'qemu')
    dom.find('name').text = name
    dom.find('memory').text = '256'
    dom.find('vcpu').text = '1'
    os_ = dom.find('os')
    for e in os_.findall('boot'):
        os_.remove(e)
    for tag, val in (('kernel', img + '/vmlinuz'), ('initrd', img + '/initramfs.cpio'),
                     ('cmdline', 'console=ttyS0 intel_iommu=on no_timer_check panic=-1 quiet '
                      'vcap.run="%s"' % run)):
        ET.SubElement(os_, tag).text = val
    dom.find('cpu').attrib = {'mode': 'maximum'}
    ET.SubElement(dom, 'on_poweroff').text = 'destroy'
    dev = dom.find('devices')
    for tag in ('disk', 'serial', 'console'):
        for e in dev.findall(tag):
            dev.remove(e)
    serial = ET.SubElement(dev, 'serial', type='file')
    ET.SubElement(serial, 'source', path='%s/%s-console.log' % (d, vm))
    ET.SubElement(dev, 'memballoon', model='none')
    return dom
dom = tcg(blocks[0], name, 'vm1', 'vcap-check -i host:s -n 50000 --size 64 --flows 1024')
shm = dom.find('devices').find('shmem')
assert shm.find('model').get('type') == 'ivshmem-doorbell'
shm.find('server').set('path', d + '/vm1.ivshmem')
ET.ElementTree(dom).write(d + '/domain.xml')
dom = tcg(blocks[1], name + '-hp', 'vm2', hp_run)
dev = dom.find('devices')
assert dev.find('shmem') is None
# defined first without the empty port, as the doc says
port = [c for c in dev.findall('controller') if c.get('model') == 'pcie-root-port'][0]
dev.remove(port)
ET.ElementTree(dom).write(d + '/domain-hp.xml')
ET.ElementTree(port).write(d + '/port.xml')
shm = ET.fromstring(blocks[2])
assert shm.tag == 'shmem'
shm.find('server').set('path', d + '/vm2.ivshmem')
ET.ElementTree(shm).write(d + '/shmem.xml')
PY
	# The second step: the port goes into the defined domain (whose devices
	# have their addresses now) with the next free index, and the <shmem>
	# names that index as its bus.
	cat >"$dir/addport.py" <<'PY'
import sys
import xml.etree.ElementTree as ET
d = sys.argv[1]
ET.register_namespace('qemu', 'http://libvirt.org/schemas/domain/qemu/1.0')
dom = ET.parse(d + '/hp-defined.xml').getroot()
dev = dom.find('devices')
index = 1 + max(int(c.get('index')) for c in dev.findall('controller') if c.get('type') == 'pci')
port = ET.parse(d + '/port.xml').getroot()
port.set('index', str(index))
dev.append(port)
ET.ElementTree(dom).write(d + '/hp-port.xml')
shm = ET.parse(d + '/shmem.xml').getroot()
shm.find('address').set('bus', '0x%02x' % index)
ET.ElementTree(shm).write(d + '/shmem.xml')
print(index)
PY
	# libvirtd in a mount namespace of its own: its state, sockets, logs
	# and caches on tmpfs, its configuration a copy (QEMU as root, to reach
	# vcapd's 0600 socket); a libvirt-qemu user, which libvirtd looks up
	# even when qemu.conf names another, in a copy of passwd and group.
	cat >"$dir/inner.sh" <<'SH'
set -eu
dir=${1:?}
name=${2:?}
for d in /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt; do
	[ -d "$d" ] || { echo "$d" >>"$dir/made"; mkdir -p "$d"; }
	mount -t tmpfs vcap-test "$d"
done
cp /etc/passwd /etc/group "$dir/"
grep -q '^libvirt-qemu:' /etc/passwd ||
	echo 'libvirt-qemu:x:64055:64055::/var/lib/libvirt:/usr/sbin/nologin' >>"$dir/passwd"
grep -q '^libvirt-qemu:' /etc/group || echo 'libvirt-qemu:x:64055:' >>"$dir/group"
mount --bind "$dir/passwd" /etc/passwd
mount --bind "$dir/group" /etc/group
mkdir "$dir/etc-libvirt"
cp -a /etc/libvirt/. "$dir/etc-libvirt/"
# no virtlogd: QEMU's output straight to its log file
printf 'user = "root"\ngroup = "root"\nstdio_handler = "file"\n' >"$dir/etc-libvirt/qemu.conf"
mount --bind "$dir/etc-libvirt" /etc/libvirt
libvirtd -p /run/libvirt/test-libvirtd.pid 2>"$dir/libvirtd.err" &
lpid=$!
v() { virsh -q -c qemu:///system "$@"; }
stop() {
	v destroy "$name-hp" >/dev/null 2>&1 || true
	v undefine "$name-hp" >/dev/null 2>&1 || true
	v destroy "$name" >/dev/null 2>&1 || true
	v undefine "$name" >/dev/null 2>&1 || true
	cp /var/log/libvirt/qemu/"$name".log "$dir/qemu.log" 2>/dev/null || true
	kill "$lpid" 2>/dev/null || true
	wait "$lpid" 2>/dev/null || true
}
trap stop EXIT
# deadlines, polled (libvirtd probes QEMU's capabilities first: slow under TCG)
end=$(($(date +%s) + 150))
until v version >/dev/null 2>&1; do
	[ "$(date +%s)" -lt "$end" ] || { echo "libvirtd did not answer"; exit 1; }
	kill -0 "$lpid" || { echo "libvirtd exited"; exit 1; }
	sleep 0.2
done
v define "$dir/domain.xml" >/dev/null
t0=$(date +%s)
v start "$name"
echo "libvirtd started the domain"
end=$(($(date +%s) + 240))
until grep -aq "VCAP-GUEST-RESULT" "$dir/vm1-console.log" 2>/dev/null; do
	[ "$(date +%s)" -lt "$end" ] || { echo "the guest did not finish"; exit 1; }
	v domstate "$name" | grep -q running || grep -aq "VCAP-GUEST-RESULT" "$dir/vm1-console.log" ||
		{ echo "the domain stopped: $(v domstate "$name" --reason)"; exit 1; }
	sleep 0.2
done
echo "guest done $(($(date +%s) - t0)) s after virsh start"
# the guest powers off; libvirt sees the domain end (on_poweroff destroy)
end=$(($(date +%s) + 60))
until v domstate "$name" | grep -q "shut off"; do
	[ "$(date +%s)" -lt "$end" ] || { echo "the domain did not shut off"; exit 1; }
	sleep 0.2
done
echo "domain shut off"

# hot-plug: the doc's domain with an empty root port, the doc's <shmem> attached
v define "$dir/domain-hp.xml" >/dev/null
v dumpxml --inactive "$name-hp" >"$dir/hp-defined.xml"
index=$(python3 "$dir/addport.py" "$dir")
v define "$dir/hp-port.xml" >/dev/null
v dumpxml --inactive "$name-hp" | grep -q "<address type='pci' domain='0x0000' bus='$(printf '0x%02x' "$index")'" &&
	{ echo "libvirt put a device into the empty port"; exit 1; }
echo "the empty pcie-root-port has index $index"
v start "$name-hp"
end=$(($(date +%s) + 120))
until grep -aq "VCAP-GUEST: run" "$dir/vm2-console.log" 2>/dev/null; do
	[ "$(date +%s)" -lt "$end" ] || { echo "the hot-plug guest did not boot"; exit 1; }
	sleep 0.2
done
t0=$(date +%s)
v attach-device "$name-hp" "$dir/shmem.xml" --live
end=$(($(date +%s) + 120))
until grep -aq "VCAP-CHECK:" "$dir/vm2-console.log"; do
	[ "$(date +%s)" -lt "$end" ] || { echo "the hot-plug guest did not count"; exit 1; }
	sleep 0.2
done
echo "attach-device: the guest counted $(($(date +%s) - t0)) s after it"
v dumpxml "$name-hp" | grep -q "<model type='ivshmem-doorbell'/>" || { echo "libvirt does not list the device"; exit 1; }
t0=$(date +%s)
v detach-device "$name-hp" "$dir/shmem.xml" --live
end=$(($(date +%s) + 120))
until grep -aq "VCAP-GUEST-RESULT" "$dir/vm2-console.log"; do
	[ "$(date +%s)" -lt "$end" ] || { echo "the guest did not see the device go"; exit 1; }
	sleep 0.2
done
echo "detach-device: the guest saw the device go $(($(date +%s) - t0)) s after it"
cp /var/log/libvirt/qemu/"$name-hp".log "$dir/qemu-hp.log" 2>/dev/null || true
v destroy "$name-hp" >/dev/null 2>&1 || true
v undefine "$name-hp" >/dev/null
SH
	set +e
	unshare --mount --propagation private sh "$dir/inner.sh" "$dir" "$name" >"$dir/inner.log" 2>&1
	rc=$?
	set -e
	cat "$dir/inner.log"
	# mount points the namespace needed and the host lacked: removed (empty)
	if [ -f "$dir/made" ]; then
		while read -r d; do rmdir "$d" 2>/dev/null || true; done <"$dir/made"
	fi
	# libvirtd leaves a running domain behind when it exits: a QEMU whose
	# command line names this test's console file is ours, and must not stay
	for p in $(pgrep -f -- "path=$dir/vm[12]-console.log" || true); do
		kill -9 "$p" 2>/dev/null || true
		echo "left behind by libvirtd: QEMU $p (killed)"
		rc=1
	done
	[ $rc -eq 0 ] || fail "libvirt: $(tail -n 3 "$dir/inner.log"); libvirtd: $(grep -v 'dnsmasq\|DBus\|dmi\|DMI\|system bus\|/dev/kvm' "$dir/libvirtd.err" | tail -n 3)"
	grep -aq "VCAP-GUEST-RESULT: rc=0" "$dir/vm1-console.log" ||
		fail "guest: $(grep -a VCAP "$dir/vm1-console.log" | tail -n 3)"
	grep -a "VCAP-CHECK: ok=1 " "$dir/vm1-console.log" | grep -q " packets=50000 .*dropped=0" ||
		fail "guest: $(grep -a VCAP-CHECK "$dir/vm1-console.log" | tail -n 1)"
	grep -q "vm vm1: guest connected" "$dir/v.log" || fail "vcapd did not see libvirt's QEMU"
	grep -aq "VCAP-GUEST-RESULT: rc=0" "$dir/vm2-console.log" ||
		fail "hot-plug guest: $(grep -a VCAP "$dir/vm2-console.log" | tail -n 3)"
	grep -a "VCAP-CHECK: ok=1 " "$dir/vm2-console.log" | grep -q " packets=20000 .*dropped=0" ||
		fail "hot-plug guest: $(grep -a VCAP-CHECK "$dir/vm2-console.log" | tail -n 1)"
	grep -aq "VCAP-HP: detached" "$dir/vm2-console.log" || fail "the hot-plug guest never saw the device go"
	grep -q "vm vm2: guest connected" "$dir/v.log" || fail "vcapd did not see the hot-plugged device"
	grep -q "pref64-reserve" "$dir/qemu-hp.log" || fail "<qemu:override> did not reach QEMU"
	grep -q "ivshmem-doorbell" "$dir/qemu.log" || fail "libvirt's QEMU had no ivshmem-doorbell"
	echo "domain: $(grep -a 'VCAP-CHECK' "$dir/vm1-console.log" | tail -n 1 | tr -d '\r')"
	echo "libvirt's QEMU: $(grep -o -- '-device [^ ]*ivshmem-doorbell[^ ]*' "$dir/qemu.log" | head -n 1)"
	;;
loaded-boot)
	make_image
	# two CPU-bound processes, as on a busy host (2 CPUs here: the guest's
	# vCPU thread gets a third of a CPU at times)
	sh -c 'while :; do :; done' &
	pids="$pids $!"
	sh -c 'while :; do :; done' &
	pids="$pids $!"
	start_vcapd v --vm vm1="$dir/vm1.ivshmem",size=64Mi,vectors=4 \
		--source s=synth:size=64,count=20000,flows=64
	t0=$(date +%s)
	sh "$S/guest/run-vm.sh" -s "$dir/vm1.ivshmem" -i "$img" -n 4 -c "$dir/vm1-console.log" \
		-a "vcap.run=\"vcap-check -i host:s -n 20000 --size 64 --flows 64\"" >"$dir/vm1.log" 2>&1 &
	q=$!
	pids="$pids $q"
	wait_for "! kill -0 $q 2>/dev/null" 240 "the guest did not finish under load"
	grep -aq "Kernel panic" "$dir/vm1-console.log" && fail "the guest kernel panicked: $(grep -a -A2 'Kernel panic' "$dir/vm1-console.log")"
	grep -aq "VCAP-GUEST-RESULT: rc=0" "$dir/vm1-console.log" ||
		fail "guest: $(grep -a VCAP "$dir/vm1-console.log" | tail -n 3)"
	grep -a "VCAP-CHECK: ok=1 " "$dir/vm1-console.log" | grep -q " packets=20000 " ||
		fail "guest: $(grep -a VCAP-CHECK "$dir/vm1-console.log" | tail -n 1)"
	echo "loaded-boot: boot and 20000 exact packets in $(($(date +%s) - t0)) s beside two CPU hogs"
	;;
*)
	fail "unknown scenario $scenario"
	;;
esac
stop_vcapds
echo "libvirt $scenario: passed"
