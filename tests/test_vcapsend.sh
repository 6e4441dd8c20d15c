#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# test_vcapsend.sh - vcapsend over a veth pair between two network
# namespaces of its own (vcts-<pid>-tx, vcts-<pid>-rx), so that no frame
# reaches the host's interfaces.  The receiving side's counters and a
# tcpdump capture there say what arrived; vcapsend's own "sent" must match
# them exactly.
#
# IPv6 is off in both namespaces and no address is configured, so nothing
# but vcapsend's frames crosses the veth and the counters can be compared
# exactly.

set -u

BUILD=${VCAP_BUILD_DIR:?VCAP_BUILD_DIR is not set}
SEND=$BUILD/tools/vcapsend
NS_TX=vcts-$$-tx
NS_RX=vcts-$$-rx
TMP=

fail() {
	echo "FAIL: $*"
	exit 1
}

skip() {
	echo "SKIP: $*"
	exit 77
}

cleanup() {
	[ -n "${TCPDUMP_PID:-}" ] && kill "$TCPDUMP_PID" 2>/dev/null
	ip netns del "$NS_TX" 2>/dev/null
	ip netns del "$NS_RX" 2>/dev/null
	[ -n "$TMP" ] && rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

[ -x "$SEND" ] || fail "$SEND is not built"
for tool in ip tcpdump; do
	command -v $tool >/dev/null 2>&1 || skip "$tool is not installed"
done
[ "$(id -u)" = 0 ] || skip "network namespaces need root"
TMP=$(mktemp -d /tmp/vcts-$$.XXXXXX) || fail "mktemp"

tx() { ip netns exec "$NS_TX" "$@"; }
rx() { ip netns exec "$NS_RX" "$@"; }
rx_packets() { rx cat /sys/class/net/vrx/statistics/rx_packets; }
tx_dropped() { tx cat /sys/class/net/vtx/statistics/tx_dropped; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# The value of key in the JSON object in file, checking the object parses
# and has exactly vcapsend's keys.
json_get() {
	if python3 -c 1 >/dev/null 2>&1; then
		python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert sorted(d) == ["cpu_seconds", "errors", "gbps", "pps", "seconds", "sent"], d
print(d[sys.argv[2]])' "$1" "$2" || fail "$1 is not vcapsend's JSON: $(cat "$1")"
	elif command -v jq >/dev/null 2>&1; then
		jq -e ".$2" "$1" || fail "$1 is not JSON: $(cat "$1")"
	else
		grep -Eq '^\{"sent":[0-9]+,"seconds":[0-9.]+,"pps":[0-9.]+,"gbps":[0-9.]+,"errors":[0-9]+,"cpu_seconds":[0-9.]+\}$' "$1" ||
			fail "$1 is not vcapsend's JSON: $(cat "$1")"
		sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" "$1"
	fi
}

# expect_exit CODE WORD CMD...: CMD exits with CODE and says WORD on stderr.
expect_exit() {
	code=$1 word=$2
	shift 2
	"$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	[ $rc = "$code" ] || fail "'$*' exited $rc, want $code; stderr: $(cat "$TMP/err")"
	grep -q -- "$word" "$TMP/err" ||
		fail "'$*' does not name '$word' in its error: $(cat "$TMP/err")"
}

# check_sent NAME WANT_SENT WANT_ERRORS RX_BEFORE DROP_BEFORE: vcapsend's
# JSON in $TMP/NAME.json says WANT_SENT sent, WANT_ERRORS errors, and the
# receiver saw every sent frame (or the veth counted it dropped).
check_sent() {
	sent=$(json_get "$TMP/$1.json" sent)
	errors=$(json_get "$TMP/$1.json" errors)
	got=$(($(rx_packets) - $4))
	dropped=$(($(tx_dropped) - $5))
	[ "$sent" = "$2" ] || fail "$1: sent $sent, want $2"
	[ "$errors" = "$3" ] || fail "$1: $errors errors, want $3"
	[ $((got + dropped)) = "$sent" ] ||
		fail "$1: vcapsend sent $sent, receiver got $got and veth dropped $dropped"
	echo "ok: $1: sent $sent, received $got, dropped by veth $dropped, errors $errors" \
		"($(json_get "$TMP/$1.json" pps) pps)"
}

# send NAME ARGS...: run vcapsend on the TX side with --json into $TMP/NAME.json.
send() {
	name=$1
	shift
	rx0=$(rx_packets) drop0=$(tx_dropped)
	tx "$SEND" -i vtx -q --json "$@" >"$TMP/$name.json" 2>"$TMP/$name.err" ||
		fail "$name: vcapsend $* failed: $(cat "$TMP/$name.err")"
}

# Not through rx(): a backgrounded function is a subshell, and $! its pid.
# `ip netns exec` execs, so $! is tcpdump's.
start_tcpdump() {
	: >"$TMP/tcpdump.err"
	ip netns exec "$NS_RX" tcpdump -i vrx -p -n -U -B 16384 -w "$1" 2>"$TMP/tcpdump.err" &
	TCPDUMP_PID=$!
	i=0
	until grep -q "listening on" "$TMP/tcpdump.err"; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "tcpdump did not start: $(cat "$TMP/tcpdump.err")"
		sleep 0.1
	done
}

count_pcap() {
	tcpdump -r "$1" -n 2>/dev/null | wc -l
}

# stop_tcpdump FILE N: give tcpdump time to write N frames, then stop it.
# SIGTERM: background jobs of a non-interactive shell ignore SIGINT.
stop_tcpdump() {
	i=0
	while [ "$(count_pcap "$1")" -lt "$2" ] && [ $i -lt 50 ]; do
		i=$((i + 1))
		sleep 0.1
	done
	kill -TERM "$TCPDUMP_PID"
	wait "$TCPDUMP_PID"
	TCPDUMP_PID=
	grep -q "^0 packets dropped by kernel" "$TMP/tcpdump.err" ||
		fail "tcpdump dropped packets: $(cat "$TMP/tcpdump.err")"
}

# Little-endian 32-bit value as bytes (dash's printf knows octal escapes only).
le32() {
	printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $(($1 & 255)) $(($1 >> 8 & 255)) \
		$(($1 >> 16 & 255)) $(($1 >> 24 & 255)))"
}

# A pcap record of LEN zero bytes.
pcap_record() {
	le32 1700000000
	le32 0
	le32 "$1"
	le32 "$1"
	head -c "$1" /dev/zero
}

# ---- setup ------------------------------------------------------------------

ip netns add "$NS_TX" || fail "cannot create network namespace $NS_TX"
ip netns add "$NS_RX" || fail "cannot create network namespace $NS_RX"
for ns in "$NS_TX" "$NS_RX"; do
	ip netns exec "$ns" sh -c 'for f in /proc/sys/net/ipv6/conf/default/disable_ipv6 \
		/proc/sys/net/ipv6/conf/all/disable_ipv6; do [ -w $f ] && echo 1 >$f; done; true'
done
ip -n "$NS_TX" link add vtx type veth peer name vrx netns "$NS_RX" || fail "cannot create veth"
ip -n "$NS_TX" link set vtx up || fail "vtx up"
ip -n "$NS_RX" link set vrx up || fail "vrx up"

# ---- arguments ----------------------------------------------------------------

"$SEND" --help | grep -q "^usage: vcapsend" || fail "--help prints no usage"
expect_exit 2 "no interface" "$SEND"
expect_exit 2 "--bogus" "$SEND" -i vtx --bogus
expect_exit 2 "needs a value" "$SEND" -i vtx -n
expect_exit 2 "needs a rate" "$SEND" -i vtx --burst 100
expect_exit 2 "do not go with --pcap" "$SEND" -i vtx --pcap x.pcap -l 100
expect_exit 1 "abc" "$SEND" -i vtx -r abc
expect_exit 1 "foo" "$SEND" -i vtx --proto foo
expect_exit 1 "vcts-nosuch0" tx "$SEND" -i vcts-nosuch0 -n 1
expect_exit 1 "size 60 too small" tx "$SEND" -i vtx -n 1 -l 60 --ipv6 100 --proto tcp
expect_exit 1 "1600" tx "$SEND" -i vtx -n 1 -l 1600
printf 'this is not a capture\n' >"$TMP/garbage.pcap"
expect_exit 1 "$TMP/garbage.pcap" tx "$SEND" -i vtx --pcap "$TMP/garbage.pcap"
expect_exit 1 "$TMP/missing.pcap" tx "$SEND" -i vtx --pcap "$TMP/missing.pcap"
echo "ok: argument and interface errors"

# ---- flat out -----------------------------------------------------------------

send flat -n 100000
check_sent flat 100000 0 "$rx0" "$drop0"
send flat-sendmmsg -n 100000 --sendmmsg
check_sent flat-sendmmsg 100000 0 "$rx0" "$drop0"
send mixed -n 20000 -l 200 --proto mix --ipv6 50 --vlan 7 --flows 1000000
check_sent mixed 20000 0 "$rx0" "$drop0"

# ---- pacing, and what arrives -------------------------------------------------

start_tcpdump "$TMP/paced.pcap"
t0=$(now_ms)
send paced -n 20000 -r 20000
t1=$(now_ms)
stop_tcpdump "$TMP/paced.pcap" 20000
check_sent paced 20000 0 "$rx0" "$drop0"
ms=$((t1 - t0))
[ $ms -ge 900 ] && [ $ms -le 1600 ] || fail "20000 frames at 20000 pps took $ms ms"
n=$(count_pcap "$TMP/paced.pcap")
[ "$n" = 20000 ] || fail "tcpdump captured $n frames of 20000"
tcpdump -r "$TMP/paced.pcap" -nn -c 1 2>/dev/null | grep -q "10.1.0.0.1024 > 10.2.0.1.53" ||
	fail "first frame is not packet 0 of the generator: $(tcpdump -r "$TMP/paced.pcap" -nn -c 1)"
echo "ok: paced: 20000 frames at 20000 pps in $ms ms, all captured"

# --burst 2000: the same rate, in bursts every 2 ms with sleeps between
start_tcpdump "$TMP/burst.pcap"
send burst -n 20000 -r 20000 --burst 2000
stop_tcpdump "$TMP/burst.pcap" 20000
check_sent burst 20000 0 "$rx0" "$drop0"
gaps() { # PCAP: gaps over 1 ms between consecutive frames; frames; seconds first to last
	tcpdump -r "$1" -tt -n 2>/dev/null | python3 -c '
import sys
t = [float(l.split()[0]) for l in sys.stdin]
print(sum(1 for a, b in zip(t, t[1:]) if b - a > 0.001), len(t), round(t[-1] - t[0], 2))'
}
r=$(gaps "$TMP/burst.pcap")
g=$(echo "$r" | cut -d' ' -f1) n=$(echo "$r" | cut -d' ' -f2) span=$(echo "$r" | cut -d' ' -f3)
[ "$n" = 20000 ] || fail "burst: tcpdump captured $n frames of 20000"
# 1 s of traffic in 2-ms bursts: ~500 pauses; frame by frame at 50 us: none
[ "$g" -ge 250 ] || fail "burst: only $g pauses over 1 ms in $span s: not sent in bursts"
g0=$(gaps "$TMP/paced.pcap" | cut -d' ' -f1)
[ "$g0" -lt "$g" ] || fail "frame-by-frame pacing paused $g0 times, bursts $g"
echo "ok: --burst 2000: 20000 frames in $span s with $g pauses over 1 ms (frame by frame: $g0)"

# until SIGINT: one second at 20000 pps
rx0=$(rx_packets) drop0=$(tx_dropped)
ip netns exec "$NS_TX" "$SEND" -i vtx -r 20k -q --json >"$TMP/forever.json" \
	2>"$TMP/forever.err" &
pid=$!
sleep 1
kill -INT $pid
wait $pid || fail "vcapsend stopped by SIGINT exits $?: $(cat "$TMP/forever.err")"
sent=$(json_get "$TMP/forever.json" sent)
secs=$(json_get "$TMP/forever.json" seconds)
# the rate over the time it really ran (its start-up on a busy machine is
# not the pacer's business): 20000 pps within 10 %, and it did run
python3 -c "import sys; n, t = $sent, $secs; sys.exit(0 if n >= 1000 and 18000 <= n / t <= 22000 else 1)" ||
	fail "until SIGINT at 20000 pps: $sent frames in $secs s"
check_sent forever "$sent" 0 "$rx0" "$drop0"

# ---- pcap replay --------------------------------------------------------------

send replay-once --pcap "$TMP/paced.pcap"
check_sent replay-once 20000 0 "$rx0" "$drop0"
send replay-loop --pcap "$TMP/paced.pcap" -n 50000
check_sent replay-loop 50000 0 "$rx0" "$drop0"
start_tcpdump "$TMP/replayed.pcap"
send replay-paced --pcap "$TMP/paced.pcap" -n 5000 -r 50000
stop_tcpdump "$TMP/replayed.pcap" 5000
check_sent replay-paced 5000 0 "$rx0" "$drop0"
tcpdump -r "$TMP/paced.pcap" -t -nn -x -c 5000 >"$TMP/a.txt" 2>/dev/null
tcpdump -r "$TMP/replayed.pcap" -t -nn -x -c 5000 >"$TMP/b.txt" 2>/dev/null
[ "$(wc -l <"$TMP/b.txt")" -gt 5000 ] || fail "replayed capture is short"
cmp -s "$TMP/a.txt" "$TMP/b.txt" || fail "replayed frames differ from the file's"
echo "ok: replayed frames are the file's, byte for byte"

# A file cut short: what precedes the cut goes out, then an error naming it.
head -c 100000 "$TMP/paced.pcap" >"$TMP/cut.pcap"
rx0=$(rx_packets) drop0=$(tx_dropped)
expect_exit 1 "$TMP/cut.pcap" tx "$SEND" -i vtx -q --pcap "$TMP/cut.pcap" --json
cp "$TMP/out" "$TMP/cut.json"
check_sent cut "$(count_pcap "$TMP/cut.pcap")" 0 "$rx0" "$drop0"

# Frames the interface cannot take (MTU 1500): 1516 bytes untagged is
# refused by the kernel, 2000 bytes by vcapsend.  Both count as errors.
{
	le32 2712847316 # a1b2c3d4: microsecond pcap, this byte order
	printf '\002\000\004\000'
	le32 0
	le32 0
	le32 65535
	le32 1 # Ethernet
	pcap_record 60
	pcap_record 1516
	pcap_record 2000
	pcap_record 60
} >"$TMP/long.pcap"
send too-long --pcap "$TMP/long.pcap"
check_sent too-long 2 2 "$rx0" "$drop0"
send too-long-sendmmsg --pcap "$TMP/long.pcap" --sendmmsg
check_sent too-long-sendmmsg 2 2 "$rx0" "$drop0"
send too-long-loop --pcap "$TMP/long.pcap" -n 4000
check_sent too-long-loop 2000 2000 "$rx0" "$drop0"

echo "PASS"
