#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# test_live_if.sh - an if: source on a real veth pair.
#
# Two private network namespaces joined by a veth pair: vcapsend sends a
# known number of generator frames from one end, vcapd captures the other
# end with TPACKET_V3, and vcapcount (outside both namespaces: vcapd's
# socket is a path, not a network address) must see exactly those frames.
# Nothing leaves the namespaces.
set -eu

B=${VCAP_BUILD_DIR:?}
# shellcheck source=tests/lib.sh
. "${VCAP_SOURCE_DIR:?}/tests/lib.sh"
tag="vcti-$$"
cap="$tag-cap"
snd="$tag-snd"
dir=$(mktemp -d /tmp/vcap-live-XXXXXX)
sock="$dir/vcapd.sock"
N=20000

cleanup() {
	[ -n "${vcapd_pid:-}" ] && kill "$vcapd_pid" 2>/dev/null && wait "$vcapd_pid" 2>/dev/null
	ip netns del "$cap" 2>/dev/null || true
	ip netns del "$snd" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

veth_pair "$cap" "$snd"

ip netns exec "$cap" "$B/daemon/vcapd" --foreground --socket "$sock" \
	--source v=if:veth0 2>"$dir/vcapd.log" &
vcapd_pid=$!
wait_for 5 "vcapd's socket" test -S "$sock"

# the source's MTU is the interface's (vcap-pcap answers SIOCGIFMTU with it)
"$B/tools/vcapctl" --socket "$sock" status --json | grep -q '"ifindex":[1-9][0-9]*,"mtu":1500' ||
	fail "status: no mtu 1500: $("$B/tools/vcapctl" --socket "$sock" status --json)"
VCAP_SOCKET=$sock "$B/tools/vcapcount" -i host:v -n $N -q --json -w 64 -t 5 \
	>"$dir/count.json" 2>"$dir/count.err" &
count_pid=$!
# the same program on the namespace's own interface: only the device name differs
ip netns exec "$cap" "$B/tools/vcapcount" -i veth0 -n $N -q --json \
	-f "ether host 02:00:00:00:00:01" >"$dir/direct.json" 2>"$dir/direct.err" &
direct_pid=$!
sleep 0.5 # let both consumers attach before the first frame
ip netns exec "$snd" "$B/tools/vcapsend" -i veth1 -l 128 -n $N -r 50000 --flows 100 -q \
	>"$dir/send.txt" 2>&1 || fail "vcapsend: $(cat "$dir/send.txt")"
i=0
while kill -0 "$count_pid" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 500 ] || { kill "$count_pid"; fail "vcapcount did not get $N packets"; }
	sleep 0.01
done
wait "$count_pid" || fail "vcapcount: $(cat "$dir/count.err")"
i=0
while kill -0 "$direct_pid" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 300 ] || { kill "$direct_pid"; fail "direct vcapcount did not get $N packets"; }
	sleep 0.01
done
wait "$direct_pid" || fail "direct vcapcount: $(cat "$dir/direct.err")"
echo "direct: $(cat "$dir/direct.json")"
grep -q "\"packets\":$N," "$dir/direct.json" || fail "direct capture: expected $N packets"
json=$(cat "$dir/count.json")
echo "$json"
echo "$json" | grep -q "\"packets\":$N," || fail "expected $N packets"
echo "$json" | grep -q '"dropped":0,' || fail "ring drops"
echo "$json" | grep -q '"kernel_drops":0,' || fail "kernel drops"

status=$(VCAP_SOCKET=$sock "$B/tools/vcapctl" status --json)
echo "$status"
echo "$status" | grep -q '"name":"v","spec":"if:veth0","state":"running"' ||
	fail "vcapctl should show the if: source running"
# and it saw exactly what was sent: nothing lost, nothing else on the wire
echo "$status" | grep -q "\"received\":$N," || fail "the source should have received exactly $N"
echo "live if: source: passed"
