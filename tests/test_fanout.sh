#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# test_fanout.sh - an if:IFACE,fanout=2 source: two TPACKET_V3 sockets in
# one PACKET_FANOUT_HASH group, two capture threads (lanes) writing into
# the same consumers' rings.
#
# Private namespaces joined by a veth pair with two queues.  vcapsend sends
# a known mix (N1 frames of 128 B, then N2 of 300 B, over many flows), and
# every consumer must get exactly its share, with nothing dropped:
#   - all:      everything, across an upgrade of vcapd in the middle;
#   - big:      the filter "greater 200": exactly the N2 large frames;
#   - m0, m1:   one cluster of two: exactly N between them, both busy;
# and both lanes must have carried traffic, adding up to the source's count.
# Then the link goes down and up: the source fails, is reopened (a new
# fanout group), and a consumer counts a new burst exactly.
set -eu

B=${VCAP_BUILD_DIR:?}
# shellcheck source=tests/lib.sh
. "${VCAP_SOURCE_DIR:?}/tests/lib.sh"
tag="vcfo-$$"
cap="$tag-cap"
snd="$tag-snd"
dir=$(mktemp -d /tmp/vcap-fanout-XXXXXX)
sock="$dir/vcapd.sock"
msock="$dir/metrics.sock"
N1=30000
N2=20000
N=$((N1 + N2))

cleanup() {
	for p in ${pids:-}; do kill "$p" 2>/dev/null || true; done
	if [ -f "$dir/vcapd.pid" ]; then kill "$(cat "$dir/vcapd.pid")" 2>/dev/null || true; fi
	[ -n "${vcapd_pid:-}" ] && kill "$vcapd_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	ip netns del "$cap" 2>/dev/null || true
	ip netns del "$snd" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
ctl() { "$B/tools/vcapctl" --socket "$sock" "$@"; }
metric() { # NAME{LABELS}: its value
	curl -s --unix-socket "$msock" http://x/metrics | grep -F "$1 " | awk '{print $2}'
}
# predicates for wait_for
rings_are() { [ "$(ctl status --json | grep -o '"rings":[0-9]*' | head -1 | cut -d: -f2)" = "$1" ]; }
status_has() { ctl status --json | grep -q "$1"; }
cluster_delivered() { # the delivered count of each member of cluster 7
	ctl status --json | tr '{' '\n' | grep '"cluster":7' | grep -o '"delivered":[0-9]*' |
		cut -d: -f2
}
cluster_got() { [ "$(cluster_delivered | awk '{s += $1} END {print s + 0}')" = "$1" ]; }

veth_pair "$cap" "$snd" 2

# a bad fanout is refused by name
if "$B/daemon/vcapd" --foreground --socket "$dir/x.sock" --source v=if:veth0,fanout=17 \
	2>"$dir/bad.txt"; then
	fail "fanout=17 was accepted"
fi
grep -q "fanout" "$dir/bad.txt" || fail "fanout=17: $(cat "$dir/bad.txt")"

start_vcapd() {
	ip netns exec "$cap" "$B/daemon/vcapd" --foreground --socket "$sock" \
		--metrics "unix:$msock" --source v=if:veth0,fanout=2 2>>"$dir/vcapd.log" &
	vcapd_pid=$!
	wait_for 10 "vcapd's socket" test -S "$sock"
}
start_vcapd

count() { # NAME ARGS...: a vcapcount in the background, its JSON in $dir/NAME.json
	name=$1
	shift
	VCAP_SOCKET=$sock "$B/tools/vcapcount" -i host:v -q --json -w 64 -t 5 "$@" \
		>"$dir/$name.json" 2>"$dir/$name.err" &
	pids="${pids:-} $!"
	eval "pid_$name=$!"
}
count all -n $N
count big -n $N2 -f "greater 200"
count m0 -c 7 -d 600
count m1 -c 7 -d 600
wait_for 10 "four rings attached" rings_are 4

send() { # SIZE COUNT
	ip netns exec "$snd" "$B/tools/vcapsend" -i veth1 -l "$1" -n "$2" -r 50000 \
		--flows 1000 -q >"$dir/send.txt" 2>&1 || fail "vcapsend: $(cat "$dir/send.txt")"
}
send 128 $N1
# exactly what was sent, once: no packet reached two sockets of the group
wait_for 10 "the source to take $N1" status_has "\"received\":$N1,"
# an upgrade while the lanes run: both sockets, still in their group, handed over
ctl upgrade >"$dir/upgrade.txt" 2>&1 || fail "upgrade: $(cat "$dir/upgrade.txt")"
cat "$dir/upgrade.txt"
new_pid=$(grep -o 'pid [0-9]*' "$dir/upgrade.txt" | cut -d' ' -f2)
[ -n "$new_pid" ] || fail "upgrade: no new pid"
pids="$pids $new_pid"
send 300 $N2

wait_for 30 "all to finish" gone "$pid_all"
wait_for 30 "big to finish" gone "$pid_big"
wait "$pid_all" || fail "all: $(cat "$dir/all.err")"
wait "$pid_big" || fail "big: $(cat "$dir/big.err")"
for c in all big; do echo "$c: $(cat "$dir/$c.json")"; done
grep -q "\"packets\":$N," "$dir/all.json" || fail "all: expected $N"
grep -q "\"packets\":$N2," "$dir/big.json" || fail "big: expected $N2"
for c in all big; do
	grep -q '"dropped":0,' "$dir/$c.json" || fail "$c: ring drops"
	grep -q '"kernel_drops":0,' "$dir/$c.json" || fail "$c: kernel drops"
done

# the cluster: its members' delivered add up to N, once the rings are drained
wait_for 30 "cluster 7 to get $N" cluster_got $N
for m in $(cluster_delivered); do
	[ "$m" -gt $((N / 10)) ] || fail "a cluster member got only $m of $N"
done

# both lanes carried traffic, and they add up to what the source received
l0=$(metric 'vcap_source_lane_received_packets_total{source="v",lane="0"}')
l1=$(metric 'vcap_source_lane_received_packets_total{source="v",lane="1"}')
total=$(metric 'vcap_source_received_packets_total{source="v"}')
echo "lanes: $l0 + $l1 (source: $total)"
[ "${l0:-0}" -gt 0 ] && [ "${l1:-0}" -gt 0 ] || fail "a lane carried nothing: $l0, $l1"
# lane counts restart with a new process; the source's count is handed over
[ "$total" = $N ] || fail "the source received $total, expected $N"

# the link goes down and up: the source fails, reopens its group, counts again
ip -n "$cap" link set veth0 down
wait_for 10 "the source to fail" status_has '"state":"failed"'
ip -n "$cap" link set veth0 up
wait_for 10 "the source to run again" \
	status_has '"name":"v","spec":"if:veth0,fanout=2","state":"running"'
count again -n 10000
# all and big have gone: the cluster's two rings and this one
wait_for 10 "a third ring" rings_are 3
send 200 10000
wait_for 30 "again to finish" gone "$pid_again"
wait "$pid_again" || fail "again: $(cat "$dir/again.err")"
grep -q '"packets":10000,' "$dir/again.json" || fail "again: $(cat "$dir/again.json")"
echo "fanout: passed"
