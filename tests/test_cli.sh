#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# test_cli.sh - bad input gets a clear message naming the problem and a
# non-zero exit, never a crash or a hang: bad source specs, bad config
# files, unknown devices and sources, bad filters, a missing daemon, a
# second daemon on the same socket, a source that has ended.  And the
# hints: --help on VLAN-tagged traffic, vcapd's log on a filter that
# misses it.
set -eu

B=${VCAP_BUILD_DIR:?}
dir=$(mktemp -d /tmp/vcap-cli-XXXXXX)
cleanup() {
	[ -n "${vcapd_pid:-}" ] && kill "$vcapd_pid" 2>/dev/null && wait "$vcapd_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
failed=0

# expect EXIT_CODE "TEXT" COMMAND...: COMMAND exits EXIT_CODE, saying TEXT
expect() {
	want=$1 text=$2
	shift 2
	set +e
	out=$(timeout 10 "$@" 2>&1)
	rc=$?
	set -e
	if [ $rc -ne "$want" ] || ! printf '%s' "$out" | grep -qF -- "$text"; then
		echo "FAIL: $* -> exit $rc (want $want), output: $out" >&2
		failed=1
	else
		echo "ok: $(printf '%s' "$out" | head -n 1)"
	fi
}

vcapd="$B/daemon/vcapd --foreground --socket $dir/s.sock"
expect 1 'unknown kind "bogus"' $vcapd --source x=bogus:1
expect 1 'expected NAME=KIND:OPTIONS' $vcapd --source nonsense
expect 1 'source x: size=10 is out of range [60, 9000]' $vcapd --source x=synth:size=10
expect 1 'unknown option "colour"' $vcapd --source x=synth:colour=red
expect 1 'proto=icmp: expected udp, tcp or mix' $vcapd --source x=synth:proto=icmp
expect 1 'pps="fast" is not a number' $vcapd --source x=synth:pps=fast
expect 1 'source x: if:vcapnosuch0: no such interface' $vcapd --source x=if:vcapnosuch0
expect 1 'source x: pcap: /nonexistent.pcap: No such file or directory' $vcapd --source x=pcap:/nonexistent.pcap
expect 1 'source x is defined twice' $vcapd --source x=synth: --source x=synth:
expect 2 'unexpected argument "extra"' $vcapd extra
expect 2 'usage: vcapd' $vcapd --no-such-option

printf 'source a synth:size=64\n# fine so far\nfrobnicate yes\n' >"$dir/bad1.conf"
expect 1 "$dir/bad1.conf:3: unknown directive \"frobnicate\"" $vcapd --config "$dir/bad1.conf"
printf 'limit ring-memory lots\n' >"$dir/bad2.conf"
expect 1 "$dir/bad2.conf:1: ring-memory=\"lots\" is not a number" $vcapd --config "$dir/bad2.conf"
printf 'limit ring-size-max 1Mi\nlimit ring-size-default 4Mi\n' >"$dir/bad3.conf"
expect 1 "ring-size-default 4194304 exceeds ring-size-max 1048576" $vcapd --config "$dir/bad3.conf"
printf 'tenant t uid 0\ntenant t colour red\n' >"$dir/bad5.conf"
expect 1 "$dir/bad5.conf:2: unknown tenant property \"colour\" (uid, socket, vm, allow, filter, sessions, rings, ring-memory, wildcard-rules, flow-rules, filter-insns, jobs)" $vcapd --config "$dir/bad5.conf"
printf 'source a\0b synth:\n' >"$dir/bad4.conf"
expect 1 "$dir/bad4.conf:1: NUL byte in line" $vcapd --config "$dir/bad4.conf"
expect 1 "$dir/missing.conf: No such file or directory" $vcapd --config "$dir/missing.conf"

# no daemon yet
export VCAP_SOCKET="$dir/s.sock"
expect 1 'vcapd is not running' "$B/tools/vcapcount" -i host:a -n 1
expect 1 'vcapd is not running' "$B/tools/vcapctl" status
expect 1 'vcapnosuch0: no such interface' "$B/tools/vcapcount" -i vcapnosuch0 -n 1
expect 2 'usage: vcapcount' "$B/tools/vcapcount" -n 1
expect 2 'count "x" is not a number' "$B/tools/vcapcount" -i host:a -n x
expect 0 "'tcp' misses VLAN-tagged frames: 'tcp or (vlan and tcp)'" "$B/tools/vcapcount" --help
expect 0 "'tcp' misses VLAN-tagged frames: 'tcp or (vlan and tcp)'" "$B/tools/vcapdump" --help

# a good config, then requests it cannot grant
cat >"$dir/good.conf" <<EOF
# test config
source a synth:size=64,pps=1000
source v synth:size=80,pps=1000,vlan=10
source c synth:size=64,count=10
limit rings-per-session 4
EOF
$vcapd --config "$dir/good.conf" 2>"$dir/vcapd.log" &
vcapd_pid=$!
i=0
until [ -S "$dir/s.sock" ]; do
	i=$((i + 1))
	[ $i -lt 500 ] || { echo "FAIL: vcapd did not start: $(cat "$dir/vcapd.log")"; exit 1; }
	sleep 0.01
done
expect 1 'another vcapd is already listening there' $vcapd --source b=synth:
expect 1 'host:nosuch: no such source (vcapd has: a, v, c)' "$B/tools/vcapcount" -i host:nosuch -n 1
expect 1 'syntax error' "$B/tools/vcapcount" -i host:a -f 'port port' -n 1
expect 1 'not a power of two' "$B/tools/vcapcount" -i host:a -r 1000 -n 1
expect 0 'packets read    5' "$B/tools/vcapcount" -i host:a -n 5
expect 2 'unknown command "frob"' "$B/tools/vcapctl" frob

# a source that has ended is refused at open, by name, not at the first read
expect 0 'host:c summary: the source has ended' "$B/tools/vcapcount" -i host:c
expect 1 'host:c: source c has ended after 10 packets' "$B/tools/vcapcount" -i host:c -n 1

# a filter that reads VLAN-tagged frames as untagged gets a hint in vcapd's
# log once the source was seen carrying tags, and only such a filter
hint='matches untagged frames only'
expect 0 'packets read    1 ' "$B/tools/vcapcount" -q -i host:a -f tcp -n 1
expect 0 'packets read    5 ' "$B/tools/vcapcount" -q -i host:v -n 5
expect 0 'packets read    1 ' "$B/tools/vcapcount" -q -i host:v -f 'vlan and tcp' -n 1
expect 0 'packets read    1 ' "$B/tools/vcapcount" -q -i host:v -f 'tcp or (vlan and tcp)' -n 1
expect 0 'packets read    0 ' "$B/tools/vcapcount" -q -i host:v -f 'ether broadcast' -d 1
if grep -qF "$hint" "$dir/vcapd.log"; then
	echo "FAIL: a hint for a filter that needs none: $(grep -F "$hint" "$dir/vcapd.log")" >&2
	failed=1
fi
expect 0 'packets read    0 ' "$B/tools/vcapcount" -q -i host:v -f tcp -d 1
if [ "$(grep -cF "on v: filter \"tcp\" $hint, but v carries VLAN-tagged frames" \
	"$dir/vcapd.log")" -ne 1 ]; then
	echo "FAIL: no hint (or not one) for \"tcp\" on tagged traffic: $(cat "$dir/vcapd.log")" >&2
	failed=1
else
	echo "ok: $(grep -F "$hint" "$dir/vcapd.log")"
fi
kill -0 "$vcapd_pid" || { echo "FAIL: vcapd died"; exit 1; }

[ $failed -eq 0 ] && echo "cli: passed"
exit $failed
