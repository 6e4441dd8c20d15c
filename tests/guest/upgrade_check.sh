#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# upgrade_check.sh SOURCE PORT N - in the test guest (tests/test_hotplug.sh
# upgrade): count N packets of host:SOURCE that pass "udp port PORT" (one
# flow of the generator: vcapd filters, so the guest under TCG reads only
# its share) with vcapcount --json.  libvcap reconnects by default, so an
# upgrade the guest noticed would show as "restarts" > 0 in its JSON.
# Prints, around the count,
#   VCAP-UP: start boot_id=ID uptime=S
#   {vcapcount's JSON}
#   VCAP-UP: end rc=RC boot_id=ID uptime=S
# and stays up (the test detaches and attaches the device, then kills QEMU).
src=$1 port=$2 n=$3
boot_id() { cat /proc/sys/kernel/random/boot_id; }
echo "VCAP-UP: start boot_id=$(boot_id) uptime=$(cut -d' ' -f1 /proc/uptime)"
vcapcount -i "host:$src" -f "udp port $port" -n "$n" --json
rc=$?
echo "VCAP-UP: end rc=$rc boot_id=$(boot_id) uptime=$(cut -d' ' -f1 /proc/uptime)"
# the VM stays up for the test to detach and attach its device, then the test ends it
sleep 600
exit $rc
