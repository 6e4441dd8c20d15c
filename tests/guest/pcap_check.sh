#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# pcap_check.sh DEVICE COUNT FILTER - run inside a VM guest: Debian's own
# tcpdump, unmodified, captures COUNT packets of DEVICE (host:NAME) that
# match FILTER through vcap-pcap, and one marker line says what the file
# holds: how many packets, how many outside the filter, and a digest of
# their bytes (timestamps left out, no name lookups: the guest has no
# /etc/services) for the host to compare with its own.
dev=$1 count=$2 filter=$3
# tcpdump drops to user tcpdump after opening the device, as on a real system
echo 'root:x:0:0:root:/:/bin/sh' >/etc/passwd
echo 'tcpdump:x:104:110::/nonexistent:/bin/false' >>/etc/passwd
printf 'root:x:0:\ntcpdump:x:110:\n' >/etc/group
chmod 777 /tmp
vcap-pcap tcpdump -i "$dev" -c "$count" -w /tmp/o.pcap "$filter" 2>/tmp/err
rc=$?
packets=$(tcpdump -r /tmp/o.pcap 2>/dev/null | wc -l)
outside=$(tcpdump -r /tmp/o.pcap "not ($filter)" 2>/dev/null | wc -l)
md5=$(tcpdump -nn -r /tmp/o.pcap -t -x 2>/dev/null | md5sum | cut -d' ' -f1)
# the first and last generator sequence numbers (little-endian at frame
# offset 42; low 16 bits), to tell a shifted capture from a different one
seqs=$(tcpdump -r /tmp/o.pcap -xx 2>/dev/null | awk '/0x0020:/ { print substr($7, 3, 2) substr($7, 1, 2) }')
first=$(echo "$seqs" | head -n 1)
last=$(echo "$seqs" | tail -n 1)

echo "VCAP-PCAP: rc=$rc packets=$packets outside=$outside md5=$md5 first=$first last=$last err=$(tail -c 160 /tmp/err | tr '\n' ' ')"
