#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# test_pcap_compat.sh - Debian's own tcpdump and tshark, unmodified, capture
# host: devices through vcap-pcap, with their filters run in vcapd.
#
# Every capture is checked against a capture file made here first
# (pcap_files gen) and replayed by a pcap: source: packets, time stamps,
# captured and wire lengths must be exactly the file's (pcap_files cmp).
# Filters are checked against what vcapctl says vcapd runs, tcpdump's
# closing counts against vcapd's.  Also: libpcap's API semantics
# (pcap_api), tcpdump -D, a real interface through the same wrapper, a
# container without CAP_NET_RAW, bad device names, no vcapd, vcapd killed
# mid-capture, and vcapdump.
set -eu

B=${VCAP_BUILD_DIR:?}
dir=$(mktemp -d /tmp/vcap-pcap-XXXXXX)
sock="$dir/vcapd.sock"
export VCAP_SOCKET="$sock"
files="$B/tests/pcap_files"
ctl="$B/tools/vcapctl"
netns=""
bg_pids=""

cleanup() {
	for pid in $bg_pids; do
		kill "$pid" 2>/dev/null || true
	done
	[ -n "${vcapd_pid:-}" ] && kill "$vcapd_pid" 2>/dev/null && wait "$vcapd_pid" 2>/dev/null
	[ -n "$netns" ] && ip netns del "$netns" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
failed=0
fail() {
	echo "FAIL: $*" >&2
	failed=1
}
ok() {
	echo "ok: $*"
}

# wrapped PROGRAM ARGS...: vcap-pcap PROGRAM ARGS..., bounded in time
wrapped() {
	timeout 60 "$B/pcap/vcap-pcap" "$@"
}
# A sanitized shim carries ASan, whose runtime must come first in an
# uninstrumented program (tcpdump): the wrapper of such a build sees to it.
# tcpdump and tshark exit leak-free, so LeakSanitizer checks the shim too.
case ${VCAP_SANITIZE:-none} in
*address*)
	grep -q '^first=".*libasan' "$B/pcap/vcap-pcap" ||
		fail "the wrapper of this ASan build does not preload libasan"
	;;
esac

# Known traffic: 1000 mixed packets (250 of them UDP to port 53), the same
# with nanosecond time stamps, and 20000 small ones for the drop test.
"$files" gen "$dir/src.pcap" 1000
"$files" gen "$dir/nano.pcap" 1000 --nano
"$files" gen "$dir/big.pcap" 20000 --size 200
n_dns=$("$files" count "$dir/src.pcap" -f 'udp port 53')
[ "$n_dns" -eq 250 ] || fail "the generated file has $n_dns packets to port 53, not 250"

# One finite source per check: a pcap: source replays once, from when its
# first consumer attaches.
max="speed=max"
"$B/daemon/vcapd" --foreground --socket "$sock" \
	--source td1="pcap:$dir/src.pcap,$max" \
	--source td2="pcap:$dir/nano.pcap,$max" \
	--source td3="pcap:$dir/src.pcap,$max" \
	--source ts1="pcap:$dir/src.pcap,$max" \
	--source ts2="pcap:$dir/src.pcap,$max" \
	--source ctr="pcap:$dir/src.pcap,$max" \
	--source drops="pcap:$dir/big.pcap,$max,consumers=2" \
	--source vd1="pcap:$dir/src.pcap,$max" \
	--source vd2="pcap:$dir/nano.pcap,$max" \
	--source vd3="pcap:$dir/src.pcap,$max" \
	--source loop="pcap:$dir/src.pcap,loop=0,speed=4" \
	--source api1="pcap:$dir/src.pcap,$max" \
	--source api2="pcap:$dir/src.pcap,$max" \
	--source quiet="pcap:$dir/src.pcap,consumers=1000" \
	2>"$dir/vcapd.log" &
vcapd_pid=$!
i=0
until [ -S "$sock" ]; do
	i=$((i + 1))
	[ $i -lt 500 ] || { fail "vcapd did not start: $(cat "$dir/vcapd.log")"; exit 1; }
	sleep 0.01
done

# same REF GOT [pcap_files cmp options]: GOT holds REF's packets as said
same() {
	same_ref=$1 same_got=$2
	shift 2
	if same_out=$("$files" cmp "$same_ref" "$same_got" "$@" 2>&1); then
		return 0
	fi
	fail "$(basename "$same_got") against $(basename "$same_ref") $*: $same_out"
	return 1
}

# packets FILE: how many packets FILE holds
packets() {
	"$files" count "$1" 2>/dev/null || echo "unreadable"
}

# ring_field SOURCE CLIENT FIELD: FIELD of CLIENT's ring on SOURCE, as
# vcapctl status says ("none" if there is no such ring)
ring_field() {
	"$ctl" status --json | python3 -c '
import json, sys
src, client, field = sys.argv[1:4]
rings = [r for r in json.load(sys.stdin)["rings"] if r["source"] == src and r["client"] == client]
print(rings[0][field] if rings else "none")' "$1" "$2" "$3"
}

# source_state NAME: "idle", "running", "done" or "failed"
source_state() {
	"$ctl" status --json | python3 -c '
import json, sys
print([s["state"] for s in json.load(sys.stdin)["sources"] if s["name"] == sys.argv[1]][0])' "$1"
}

# --- tcpdump -c N -w: exactly the source's first N packets ----------------
if wrapped tcpdump -i host:td1 -c 300 -w "$dir/td1.pcap" 2>"$dir/td1.err"; then
	n=$(packets "$dir/td1.pcap")
	if [ "$n" != 300 ]; then
		fail "tcpdump -c 300 wrote $n packets"
	elif same "$dir/src.pcap" "$dir/td1.pcap" --prefix; then
		ok "tcpdump -c 300 -w: the source's first 300 packets, time stamps and lengths"
	fi
else
	fail "tcpdump -i host:td1: $(cat "$dir/td1.err")"
fi

# --- nanosecond time stamps when tcpdump asks for them ---------------------
if wrapped tcpdump -i host:td2 -c 1000 --time-stamp-precision=nano -w "$dir/td2.pcap" \
	2>"$dir/td2.err"; then
	same "$dir/nano.pcap" "$dir/td2.pcap" &&
		ok "tcpdump --time-stamp-precision=nano: all 1000 packets to the nanosecond"
else
	fail "tcpdump --time-stamp-precision=nano: $(cat "$dir/td2.err")"
fi

# --- a filter on tcpdump's command line, read to the end of the source ----
if wrapped tcpdump -i host:td3 -w "$dir/td3.pcap" 'udp port 53' 2>"$dir/td3.err"; then
	if ! grep -q "^250 packets captured" "$dir/td3.err" ||
		! grep -q "^250 packets received by filter" "$dir/td3.err"; then
		fail "tcpdump 'udp port 53' said: $(cat "$dir/td3.err")"
	elif same "$dir/src.pcap" "$dir/td3.pcap" -f 'udp port 53'; then
		ok "tcpdump 'udp port 53' to the end of the source: its 250 such packets, no other"
	fi
else
	fail "tcpdump -i host:td3 'udp port 53': $(cat "$dir/td3.err")"
fi

# live_filter NAME CLIENT OUT PROGRAM ARGS...: run the program on the
# looping source; vcapd must show CLIENT's ring with the filter and a
# growing filtered count, and the program get matching packets only.
live_filter() {
	lf_name=$1 lf_client=$2 lf_out=$3
	shift 3
	# not through wrapped(): SIGTERM must reach the program itself
	"$B/pcap/vcap-pcap" "$@" >/dev/null 2>"$lf_out.err" &
	lf_pid=$!
	bg_pids="$bg_pids $lf_pid"
	first="" grown="" i=0
	# up to 30 s: tshark starts dumpcap, which takes long under ASan on a busy machine
	while [ $i -lt 300 ] && [ -z "$grown" ]; do
		filtered=$(ring_field loop "$lf_client" filtered)
		if [ "$filtered" != none ] && [ "$filtered" -gt 0 ]; then
			if [ -z "$first" ]; then
				first=$filtered
			elif [ "$filtered" -gt "$first" ]; then
				grown=$filtered
			fi
		fi
		i=$((i + 1))
		sleep 0.1
	done
	filter=$(ring_field loop "$lf_client" filter)
	size=$(ring_field loop "$lf_client" ring_size)
	kill -TERM "$lf_pid" 2>/dev/null || true
	wait "$lf_pid" || fail "$lf_name: exit $?: $(cat "$lf_out.err")"
	n=$(packets "$lf_out")
	if [ -z "$grown" ]; then
		fail "$lf_name: vcapd never showed a growing filtered count (filter \"$filter\")"
	elif [ "$filter" != "udp port 53" ]; then
		fail "$lf_name: vcapd runs filter \"$filter\", not \"udp port 53\""
	elif [ "$size" != 2097152 ]; then
		# neither program sets a buffer size but libpcap's (dumpcap's) 2 MiB
		fail "$lf_name: a ring of $size bytes, not libpcap's 2 MiB buffer"
	elif [ "$n" = unreadable ] || [ "$n" -lt 1 ]; then
		fail "$lf_name: $n packets captured: $(cat "$lf_out.err")"
	elif same "$dir/src.pcap" "$lf_out" -f 'udp port 53' --cyclic; then
		ok "$lf_name: vcapd runs \"$filter\" on a ring of libpcap's 2 MiB, filtered" \
			"$first, then $grown; $n packets, all matching"
	fi
}

live_filter "tcpdump 'udp port 53' live" tcpdump "$dir/live1.pcap" \
	tcpdump -i host:loop -w "$dir/live1.pcap" udp port 53

# --- tshark (which captures through dumpcap) -------------------------------
if wrapped tshark -i host:ts1 -c 300 -w "$dir/ts1.pcapng" >"$dir/ts1.out" 2>&1; then
	n=$(packets "$dir/ts1.pcapng")
	if [ "$n" != 300 ]; then
		fail "tshark -c 300 wrote $n packets: $(cat "$dir/ts1.out")"
	elif same "$dir/src.pcap" "$dir/ts1.pcapng" --prefix; then
		ok "tshark -c 300 -w: the source's first 300 packets"
	fi
else
	fail "tshark -i host:ts1: $(cat "$dir/ts1.out")"
fi

if wrapped tshark -i host:ts2 -c 250 -f 'udp port 53' -w "$dir/ts2.pcapng" >"$dir/ts2.out" 2>&1
then
	same "$dir/src.pcap" "$dir/ts2.pcapng" -f 'udp port 53' &&
		ok "tshark -f 'udp port 53' -c 250: exactly the source's 250 such packets"
else
	fail "tshark -f 'udp port 53' -i host:ts2: $(cat "$dir/ts2.out")"
fi

live_filter "tshark -f 'udp port 53' live" dumpcap "$dir/live2.pcapng" \
	tshark -i host:loop -f 'udp port 53' -w "$dir/live2.pcapng"

# --- what tcpdump and tshark do not exercise: a libpcap program of ours ----
if wrapped "$B/tests/pcap_api" "$dir/src.pcap" host:api1 host:api2 host:quiet \
	>"$dir/api.out" 2>"$dir/api.err"; then
	sed 's/^/  /' "$dir/api.out"
	if grep -q "filtering in this process" "$dir/api.err"; then
		ok "pcap_api: libpcap's semantics; the unknown filter was announced on stderr"
	else
		fail "pcap_api: no word on stderr about filtering in the process: $(cat "$dir/api.err")"
	fi
else
	fail "pcap_api: $(grep -v '^ok' "$dir/api.out") $(cat "$dir/api.err")"
fi

# --- device lists ----------------------------------------------------------
if wrapped tcpdump -D >"$dir/D.out" 2>&1 &&
	grep -q "host:td1 (vcapd source pcap:$dir/src.pcap,speed=max)" "$dir/D.out" &&
	grep -q "host:loop " "$dir/D.out" && grep -q "\.lo " "$dir/D.out"; then
	ok "tcpdump -D lists the host: sources besides the real devices"
else
	fail "tcpdump -D: $(cat "$dir/D.out")"
fi
VCAP_SOCKET="$dir/none.sock"
if wrapped tcpdump -D >"$dir/D2.out" 2>&1 && ! grep -q "host:" "$dir/D2.out" &&
	grep -q "\.lo " "$dir/D2.out"; then
	ok "tcpdump -D without vcapd lists the real devices only"
else
	fail "tcpdump -D without vcapd: $(cat "$dir/D2.out")"
fi
VCAP_SOCKET="$sock"

# --- a real interface through the same wrapper: libpcap's own path ---------
# (in a private network namespace: nothing leaves it)
netns="vcap-pcap-$$"
ip netns add "$netns"
ip -n "$netns" link set lo up
cat >"$dir/send.py" <<'END'
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(600):
    s.sendto(b"vcap-pcap %d" % i, ("127.0.0.1", 9))
    time.sleep(0.05)
END
ip netns exec "$netns" python3 "$dir/send.py" &
sender=$!
bg_pids="$bg_pids $sender"
if VCAP_PCAP_DEBUG="$dir/lo.trace" ip netns exec "$netns" \
	timeout 30 "$B/pcap/vcap-pcap" tcpdump -i lo -c 3 -w "$dir/lo.pcap" 'udp port 9' \
	2>"$dir/lo.err"; then
	n=$("$files" count "$dir/lo.pcap" -f 'udp dst port 9')
	# the shim was loaded (it made the trace file) and left lo alone
	if [ "$n" = 3 ] && [ "$(packets "$dir/lo.pcap")" = 3 ] && [ -e "$dir/lo.trace" ] &&
		! grep -q "(lo" "$dir/lo.trace"; then
		ok "tcpdump -i lo in a private namespace: real libpcap, 3 packets"
	else
		fail "tcpdump -i lo: $n matching packets; trace: $(cat "$dir/lo.trace" 2>&1)"
	fi
else
	fail "tcpdump -i lo: $(cat "$dir/lo.err")"
fi
kill "$sender" 2>/dev/null || true
ip netns del "$netns"
netns=""

# --- a container: own network and mount namespaces, no CAP_NET_RAW ---------
# as test_container.sh builds it; vcapd's socket is the only way out
mkdir "$dir/ctr"
cat >"$dir/inside.sh" <<END
set -eu
mount -t tmpfs tmpfs /run
mkdir -p /run/vcap /run/out
touch /run/vcap/vcapd.sock
mount --bind "$sock" /run/vcap/vcapd.sock
mount --bind "$dir/ctr" /run/out
cp "$B/pcap/vcap-pcap" "$B/pcap/libvcap-pcap.so" /run/
cp -L "$B/lib/libvcap.so.0" /run/
mount -t tmpfs tmpfs /tmp
unset VCAP_SOCKET
exec setpriv --bounding-set=-net_raw,-net_admin --inh-caps=-net_raw,-net_admin \\
	env LD_LIBRARY_PATH=/run VCAP_PCAP_LIBRARY=/run/libvcap-pcap.so sh -c '
		grep CapEff /proc/self/status
		timeout 5 /run/vcap-pcap tcpdump -i lo -c 1 -w /run/out/direct.pcap || true
		timeout 60 /run/vcap-pcap tcpdump -i host:ctr -c 1000 -w /run/out/ctr.pcap'
END
if out=$(unshare --net --mount --propagation private sh "$dir/inside.sh" 2>&1); then
	capeff=$(echo "$out" | sed -n 's/^CapEff:[[:space:]]*//p')
	# CAP_NET_ADMIN is bit 12, CAP_NET_RAW bit 13
	if [ $((0x$capeff & 0x3000)) -ne 0 ]; then
		fail "container: CAP_NET_RAW/CAP_NET_ADMIN not dropped ($capeff)"
	elif ! echo "$out" | grep -q "Operation not permitted"; then
		fail "container: tcpdump -i lo was not refused: $out"
	elif same "$dir/src.pcap" "$dir/ctr/ctr.pcap"; then
		ok "container without CAP_NET_RAW: tcpdump -i host:ctr got all 1000 packets"
	fi
else
	fail "container: $out"
fi

# --- drops: a 4 KiB ring and a reader that stalls ---------------------------
# tcpdump opens its ring, is stopped, and only then does the source start
# (it waits for a second consumer, vcapdump): the ring overflows.  Once
# vcapd has replayed everything, tcpdump goes on to the end; its closing
# counts must be vcapd's: received by filter = delivered + dropped,
# dropped by kernel = dropped, captured = delivered.
"$B/pcap/vcap-pcap" tcpdump -i host:drops -B 4 -w "$dir/drops.pcap" 2>"$dir/drops.err" &
dumper=$!
bg_pids="$bg_pids $dumper"
i=0
while [ "$(ring_field drops tcpdump received)" = none ] && [ $i -lt 400 ]; do
	i=$((i + 1))
	sleep 0.05
done
kill -STOP "$dumper"
timeout 60 "$B/tools/vcapdump" -i host:drops -w "$dir/drops-all.pcap" 2>"$dir/drops-all.err" &
all=$!
bg_pids="$bg_pids $all"
i=0
while [ "$(source_state drops)" != done ] && [ $i -lt 400 ]; do
	i=$((i + 1))
	sleep 0.05
done
received=$(ring_field drops tcpdump received)
delivered=$(ring_field drops tcpdump delivered)
dropped=$(ring_field drops tcpdump dropped)
kill -CONT "$dumper"
if [ "$received" = none ]; then
	fail "drops: no ring of tcpdump on host:drops: $(cat "$dir/drops.err")"
	kill "$dumper" 2>/dev/null || true
elif ! wait "$dumper"; then
	fail "drops: tcpdump failed: $(cat "$dir/drops.err")"
else
	captured=$(sed -n 's/^\([0-9]*\) packets captured$/\1/p' "$dir/drops.err")
	by_filter=$(sed -n 's/^\([0-9]*\) packets received by filter$/\1/p' "$dir/drops.err")
	by_kernel=$(sed -n 's/^\([0-9]*\) packets dropped by kernel$/\1/p' "$dir/drops.err")
	if [ "$received" != 20000 ] || [ "$dropped" -eq 0 ]; then
		fail "drops: vcapd counted received $received, dropped $dropped (want 20000, some)"
	elif [ "$by_filter" != $((delivered + dropped)) ] || [ "$by_kernel" != "$dropped" ] ||
		[ "$captured" != "$delivered" ]; then
		fail "drops: tcpdump says captured $captured, by filter $by_filter, by kernel" \
			"$by_kernel; vcapd: delivered $delivered, dropped $dropped"
	elif [ "$(packets "$dir/drops.pcap")" != "$captured" ]; then
		fail "drops: the file holds $(packets "$dir/drops.pcap") packets, not $captured"
	elif same "$dir/big.pcap" "$dir/drops.pcap" --subseq; then
		ok "drops: tcpdump says $captured captured, $by_filter received by filter," \
			"$by_kernel dropped by kernel, as vcapd counted"
	fi
fi
# the consumer that kept up lost nothing
if wait "$all"; then
	same "$dir/big.pcap" "$dir/drops-all.pcap" &&
		ok "drops: vcapdump beside the stalled tcpdump got all 20000 packets"
else
	fail "drops: vcapdump: $(cat "$dir/drops-all.err")"
fi

# --- bad input -------------------------------------------------------------
# expect_fail TEXT COMMAND...: COMMAND exits non-zero, saying TEXT
expect_fail() {
	text=$1
	shift
	if out=$("$@" 2>&1); then
		fail "$* succeeded: $out"
	elif printf '%s' "$out" | grep -qF -- "$text"; then
		ok "$*: $(printf '%s' "$out" | grep -F -- "$text" | head -n 1)"
	else
		fail "$*: no \"$text\" in: $out"
	fi
}
expect_fail "host:nosuch: no such source (vcapd has: td1, td2" wrapped tcpdump -i host:nosuch -c 1
expect_fail "host:nosuch: no such source" wrapped tshark -i host:nosuch -c 1
VCAP_SOCKET="$dir/none.sock"
expect_fail "host:td1: $dir/none.sock: vcapd is not running" wrapped tcpdump -i host:td1 -c 1
VCAP_SOCKET="$sock"

# --- vcapdump, through libvcap ----------------------------------------------
# dump SOURCE OUT ARGS...: vcapdump -i host:SOURCE -w OUT ARGS...
dump() {
	src=$1 out=$2
	shift 2
	timeout 60 "$B/tools/vcapdump" -i "host:$src" -w "$out" "$@" 2>"$out.err" && return 0
	fail "vcapdump -i host:$src $*: $(cat "$out.err")"
	return 1
}
dump vd1 "$dir/vd1.pcap" && same "$dir/src.pcap" "$dir/vd1.pcap" &&
	ok "vcapdump: the whole source, to the microsecond"
dump vd2 "$dir/vd2.pcap" --nano && same "$dir/nano.pcap" "$dir/vd2.pcap" &&
	ok "vcapdump --nano: the whole source, to the nanosecond"
if dump vd3 "$dir/vd3.pcap" -f 'udp port 53' -c 100 -s 64; then
	n=$(packets "$dir/vd3.pcap")
	if [ "$n" != 100 ]; then
		fail "vcapdump -c 100 wrote $n packets"
	elif same "$dir/src.pcap" "$dir/vd3.pcap" -f 'udp port 53' -s 64 --prefix; then
		ok "vcapdump -f 'udp port 53' -c 100 -s 64: the first 100 such packets, cut to 64 bytes"
	fi
fi
expect_fail "host:nosuch: no such source" "$B/tools/vcapdump" -i host:nosuch -w "$dir/x.pcap"

kill -0 "$vcapd_pid" || fail "vcapd died: $(cat "$dir/vcapd.log")"

# wait_bounded PID SECONDS: wait for PID, killing it after SECONDS
wait_bounded() {
	wb_i=0
	while kill -0 "$1" 2>/dev/null && [ $wb_i -lt $(($2 * 10)) ]; do
		wb_i=$((wb_i + 1))
		sleep 0.1
	done
	kill "$1" 2>/dev/null || true
	wait "$1"
}

# --- vcapd killed under a running capture: a clear error, not a hang -------
# (--no-reconnect: by default the capture would wait for vcapd to come back,
# which test_reconnect_pcap.sh tests)
"$B/pcap/vcap-pcap" --no-reconnect tcpdump -i host:loop -w "$dir/gone1.pcap" 2>"$dir/gone1.err" &
gone1=$!
"$B/pcap/vcap-pcap" --no-reconnect tshark -i host:loop -w "$dir/gone2.pcapng" >"$dir/gone2.err" 2>&1 &
gone2=$!
bg_pids="$bg_pids $gone1 $gone2"
i=0
while { [ "$(ring_field loop tcpdump received)" = none ] ||
	[ "$(ring_field loop dumpcap received)" = none ]; } && [ $i -lt 200 ]; do
	i=$((i + 1))
	sleep 0.05
done
kill -KILL "$vcapd_pid"
wait "$vcapd_pid" 2>/dev/null || true
vcapd_pid=""
if wait_bounded "$gone1" 20; then
	fail "tcpdump went on without vcapd: $(cat "$dir/gone1.err")"
elif grep -q "pcap_loop: host:loop: vcapd went away" "$dir/gone1.err"; then
	ok "vcapd killed: tcpdump stopped with \"$(grep "went away" "$dir/gone1.err")\""
else
	fail "vcapd killed: tcpdump said: $(cat "$dir/gone1.err")"
fi
wait_bounded "$gone2" 20 || true
if grep -q "host:loop: vcapd went away" "$dir/gone2.err"; then
	ok "vcapd killed: tshark stopped with \"$(grep "went away" "$dir/gone2.err")\""
else
	fail "vcapd killed: tshark said: $(cat "$dir/gone2.err")"
fi

[ $failed -eq 0 ] && echo "pcap-compat: passed"
exit $failed
