#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# test_reconnect_pcap.sh - an unmodified libpcap program (tcpdump -w through
# vcap-pcap) keeps running across a kill -9 and restart of vcapd, and its
# file holds packets from before the crash and after it; with
# --no-reconnect it ends with an error, as before.
set -eu

B=${VCAP_BUILD_DIR:?}
# shellcheck source=tests/lib.sh
. "${VCAP_SOURCE_DIR:?}/tests/lib.sh"
dir=$(mktemp -d /tmp/vcap-rpcap-XXXXXX)
sock="$dir/vcapd.sock"
export VCAP_SOCKET="$sock"
vcapd_pid=""
dump_pid=""

cleanup() {
	[ -n "$dump_pid" ] && kill "$dump_pid" 2>/dev/null
	[ -n "$vcapd_pid" ] && kill -9 "$vcapd_pid" 2>/dev/null && wait "$vcapd_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
# lib.sh's, and what tcpdump said
fail() {
	echo "FAIL: $*" >&2
	[ -f "$dir/vcapd.log" ] && tail -n 20 "$dir/vcapd.log" >&2
	[ -f "$dir/tcpdump.err" ] && cat "$dir/tcpdump.err" >&2
	exit 1
}
command -v tcpdump >/dev/null || { echo "SKIP: no tcpdump"; exit 77; }

start_vcapd() {
	"$B/daemon/vcapd" --foreground --socket "$sock" \
		--source g=synth:size=64,pps=20000,flows=16,proto=udp 2>>"$dir/vcapd.log" &
	vcapd_pid=$!
	wait_for 10 "vcapd listening" "$B/tools/vcapctl" status >/dev/null 2>&1
}
kill_vcapd() {
	kill -9 "$vcapd_pid"
	wait "$vcapd_pid" 2>/dev/null || true
	vcapd_pid=""
}
# bytes in FILE are more than N
bigger() { [ "$(stat -c %s "$2" 2>/dev/null || echo 0)" -gt "$1" ]; }
alive() { kill -0 "$dump_pid" 2>/dev/null; }
dead() { ! kill -0 "$dump_pid" 2>/dev/null; }

start_vcapd
# -Z root: tcpdump would otherwise drop to its own user after opening, whom
# a root-only vcapd socket refuses the reconnect (a clear error, tested below)
"$B/pcap/vcap-pcap" tcpdump -Z root -i host:g -U -w "$dir/out.pcap" 'udp' 2>"$dir/tcpdump.err" &
dump_pid=$!
wait_for 20 "tcpdump writing packets" bigger 20000 "$dir/out.pcap"
kill_vcapd
restart_at=$(date +%s.%N)
start_vcapd
# what follows the restart: packets stamped after it (not the old ring's
# last ones, which tcpdump may still be writing)
after_restart() {
	tcpdump -r "$dir/out.pcap" -n -tt 2>/dev/null |
		awk -v t0="$restart_at" '$1 + 0 > t0 { n++ } END { exit !(n > 1000) }'
}
wait_for 20 "tcpdump writing packets of the new vcapd" after_restart
alive || fail "tcpdump ended across the restart"
kill -INT "$dump_pid"
wait_for 10 "tcpdump to exit" dead
wait "$dump_pid" || fail "tcpdump exited with an error"
dump_pid=""
grep -q "packets captured" "$dir/tcpdump.err" || fail "tcpdump did not say what it captured"

# the file: readable by libpcap, packets of the old vcapd and of the new one
# (how long the gap between them is depends on the machine: not asked)
tcpdump -r "$dir/out.pcap" -n -tt 2>/dev/null | awk -v t0="$restart_at" '
	{ t = $1 + 0; if ($1 + 0 < t0) old++; else new++
	  if (n++ && t - last > gap) { gap = t - last; at = n } last = t }
	END { printf "%d packets: %d before the restart, %d after; largest gap %.3f s after packet %d\n",
	             n, old, new, gap, at
	      exit !(old > 500 && new > 500) }' ||
	fail "the file does not hold packets from before and after the restart"
echo "ok: tcpdump ran through a vcapd restart"

# tcpdump as its own user: the new vcapd refuses the reconnect, and says why
"$B/pcap/vcap-pcap" tcpdump -i host:g -U -w "$dir/out3.pcap" 2>"$dir/tcpdump.err" &
dump_pid=$!
wait_for 20 "tcpdump writing packets" bigger 2000 "$dir/out3.pcap"
kill_vcapd
start_vcapd
wait_for 20 "tcpdump as its own user ending" dead
if wait "$dump_pid"; then fail "tcpdump exited 0 though it could not reconnect"; fi
dump_pid=""
grep -q "dropped privileges" "$dir/tcpdump.err" || fail "no clear error: $(cat "$dir/tcpdump.err")"
echo "ok: refused after dropping privileges: $(grep -m1 "dropped privileges" "$dir/tcpdump.err")"

# --no-reconnect: the program is told the device is gone, as before
"$B/pcap/vcap-pcap" --no-reconnect tcpdump -Z root -i host:g -U -w "$dir/out2.pcap" 2>"$dir/tcpdump.err" &
dump_pid=$!
wait_for 20 "tcpdump writing packets" bigger 2000 "$dir/out2.pcap"
kill_vcapd
wait_for 20 "tcpdump --no-reconnect ending once vcapd is gone" dead
if wait "$dump_pid"; then fail "tcpdump --no-reconnect exited 0 after vcapd died"; fi
dump_pid=""
grep -q "vcapd went away" "$dir/tcpdump.err" || fail "no clear error: $(cat "$dir/tcpdump.err")"
echo "ok: --no-reconnect: $(grep "vcapd went away" "$dir/tcpdump.err")"
