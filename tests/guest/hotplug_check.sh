#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# hotplug_check.sh N SOURCE... - in the test guest (tests/test_hotplug.sh):
# for each SOURCE, wait for an ivshmem device to appear (vcapd plugs it
# through QMP), count exactly N packets from host:SOURCE with vcap-check,
# and, but after the last, wait for the device to go (vcapd unplugs it).
# Marker lines on the console:
#   VCAP-HP: boot_id=ID uptime=S           at the start and the end
#   VCAP-HP: device up round=R uptime=S
#   VCAP-HP: round=R <vcap-check's line>
#   VCAP-HP: device gone round=R uptime=S
n=$1
shift

boot() {
	echo "VCAP-HP: boot_id=$(cat /proc/sys/kernel/random/boot_id) uptime=$(cut -d' ' -f1 /proc/uptime)"
}

present() { # is there an ivshmem device (1af4:1110)?
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/vendor" 2>/dev/null)" = 0x1af4 ] &&
			[ "$(cat "$d/device" 2>/dev/null)" = 0x1110 ] && return 0
	done
	return 1
}

wait_for() { # present|absent: poll with a deadline (10 min: a loaded host's TCG guest)
	i=0
	while :; do
		if [ "$1" = present ]; then present && return 0; else present || return 0; fi
		i=$((i + 1))
		[ $i -lt 6000 ] || { echo "VCAP-HP: timeout waiting for the device to be $1"; exit 1; }
		usleep 100000
	done
}

boot
r=0
for src in "$@"; do
	r=$((r + 1))
	wait_for present
	echo "VCAP-HP: device up round=$r uptime=$(cut -d' ' -f1 /proc/uptime)"
	out=$(vcap-check -i "host:$src" -n "$n" --size 64 --flows 64 2>&1)
	rc=$?
	echo "VCAP-HP: round=$r rc=$rc $(echo "$out" | grep 'VCAP-CHECK:' | tail -n 1)"
	[ $rc = 0 ] || { echo "$out" | tail -n 3; exit 1; }
	if [ $r -lt $# ]; then
		wait_for absent
		echo "VCAP-HP: device gone round=$r uptime=$(cut -d' ' -f1 /proc/uptime)"
	fi
done
boot
