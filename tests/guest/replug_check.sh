#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# replug_check.sh SOURCE N ROUNDS - in the test guest (tests/test_hotplug.sh,
# with vcap-guestd): take N packets from host:SOURCE through vcap-guestd,
# again and again, until ROUNDS takes have succeeded; a take that fails
# (vcapd gone, the device being replugged) is retried after 0.1 s.  Each
# success prints
#   VCAP-RP: got N round=R boot_id=ID uptime=S
# and each failure, once per run of failures,
#   VCAP-RP: failed round=R: <vcapcount's error>
src=$1 n=$2 rounds=$3
boot_id=$(cat /proc/sys/kernel/random/boot_id)
r=0
failing=0
tries=0
while [ $r -lt "$rounds" ]; do
	tries=$((tries + 1))
	[ $tries -lt 20000 ] || { echo "VCAP-RP: giving up"; exit 1; }
	if out=$(vcapcount -i "host:$src" -n "$n" -q 2>&1); then
		r=$((r + 1))
		failing=0
		echo "VCAP-RP: got $n round=$r boot_id=$boot_id uptime=$(cut -d' ' -f1 /proc/uptime)"
	else
		[ $failing = 1 ] ||
			echo "VCAP-RP: failed round=$r: $(echo "$out" | tail -n 1)"
		failing=1
		usleep 100000
	fi
done
