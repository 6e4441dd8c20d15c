#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# memif_ref.sh - reference point for the shared-memory benchmark: DPDK memif
# between two dpdk-testpmd processes, flat out, at one frame size.
#
#   usage: memif_ref.sh SIZE SECONDS
#   prints: {"size":SIZE,"mpps":X}
#
# The transmitter is a memif server in txonly mode, the receiver a memif
# client in rxonly mode; both use the default copy mode (zero-copy=no) and
# run without hugepages or PCI.  Each testpmd has two lcores (main and
# forwarding) mapped onto one CPU: the main lcore only sleeps in its command
# line, so the forwarding lcore has the CPU to itself.  The rate is the
# receiver's Rx-pps as testpmd computes it between two "show port stats"
# commands, i.e. over exactly the measurement window, after a warm-up.
#
# Environment: MEMIF_TX_CPU (default 0), MEMIF_RX_CPU (default 1),
# MEMIF_WARMUP seconds (default 1), TESTPMD (default dpdk-testpmd).
#
# Runtime is bounded: every wait is a deadline and each testpmd runs under
# timeout(1).  Both processes, the socket and the scratch files are removed
# on every exit path.

set -u
export LC_ALL=C	# "." in $EPOCHREALTIME and in awk's numbers

die() {
	echo "memif_ref: $*" >&2
	exit 1
}

[ $# -eq 2 ] || die "usage: memif_ref.sh SIZE SECONDS"
size=$1
secs=$2
[[ $size =~ ^[0-9]+$ ]] || die "bad SIZE '$size'"
[[ $secs =~ ^[0-9]+$ ]] || die "bad SECONDS '$secs'"
# txonly needs room for its Ethernet/IPv4/UDP headers; above 2048 the frame
# no longer fits one mbuf / one memif buffer (bsize) and would be chained.
((size >= 42 && size <= 2048)) || die "SIZE must be 42..2048"
((secs >= 1 && secs <= 600)) || die "SECONDS must be 1..600"

tx_cpu=${MEMIF_TX_CPU:-0}
rx_cpu=${MEMIF_RX_CPU:-1}
warmup=${MEMIF_WARMUP:-1}
testpmd=${TESTPMD:-dpdk-testpmd}
command -v "$testpmd" >/dev/null || die "$testpmd not found (apt install dpdk)"
command -v stdbuf >/dev/null || die "stdbuf not found"

# Hard cap on each testpmd's life: the script's own deadlines (start-up
# 2 x 20 s, link 15 s, warm-up, window, 5 s) plus slack.
limit=$((secs + warmup + 90))

# Unique EAL prefixes: runs never collide, and we know which
# /var/run/dpdk/<prefix> directory is ours to remove.
tx_prefix=memif_ref_tx_$$
rx_prefix=memif_ref_rx_$$
tmp=
sock=
tx_pid=
rx_pid=
nap_pid=

# gone PIDS...: true once no process is left in any of the process groups.
# timeout(1) makes itself a group leader, so each testpmd is in the group
# whose id is the timeout's pid (our $!); signalling the group reaches
# testpmd even if timeout itself is already gone.
gone() {
	local pid

	for pid; do
		kill -0 -- "-$pid" 2>/dev/null && return 1
	done
	return 0
}

# settle SECONDS PIDS...: wait (in tenths) until gone, or time out.
settle() {
	local i tenths=$(($1 * 10))

	shift
	for ((i = 0; i < tenths; i++)); do
		gone "$@" && return 0
		sleep 0.1
	done
	return 1
}

# wait_log FILE REGEX COUNT SECONDS: until FILE has COUNT lines matching
# REGEX, at most SECONDS; no verdict (for the cleanup path).
wait_log() {
	local i

	for ((i = 0; i < $4 * 10; i++)); do
		[ "$(grep -c -- "$2" "$1" 2>/dev/null)" -ge "$3" ] && return 0
		sleep 0.1
	done
	return 1
}

cleanup() {
	local i pid pids="$tx_pid $rx_pid"

	trap - EXIT INT TERM HUP
	[ -n "$nap_pid" ] && kill "$nap_pid" 2>/dev/null
	if [ -n "${pids// /}" ]; then
		# Polite first, in an order that keeps the memif PMD from
		# crashing: a disconnect unmaps the shared region under a
		# peer's forwarding lcore if that one is still running (22.11:
		# SIGSEGV in the server when the client quits first).  So stop
		# the transmitter's lcore, then quit the receiver, then the
		# transmitter.  The fifos are open read-write in this shell,
		# so writing never blocks nor raises SIGPIPE.
		if [ -n "$rx_pid" ] && alive "$tx_pid"; then
			i=$(grep -c '^Done' "$tmp/tx.log")
			echo stop >&3
			wait_log "$tmp/tx.log" '^Done' $((i + 1)) 3
			echo quit >&4
			settle 3 "$rx_pid"
		fi
		echo quit >&3
		echo quit >&4
		# shellcheck disable=SC2086
		if ! settle 3 $pids; then
			for pid in $pids; do
				kill -TERM -- "-$pid" 2>/dev/null
			done
			# shellcheck disable=SC2086
			if ! settle 2 $pids; then
				for pid in $pids; do
					kill -KILL -- "-$pid" 2>/dev/null
				done
			fi
		fi
		for pid in $pids; do
			wait "$pid" 2>/dev/null
		done
	fi
	exec 3>&- 4>&-
	[ -n "$tmp" ] && rm -rf "$tmp"
	rmdir "/var/run/dpdk/$tx_prefix" "/var/run/dpdk/$rx_prefix" 2>/dev/null
	return 0
}
fail() {
	echo "memif_ref: $*" >&2
	for f in tx rx; do
		if [ -s "$tmp/$f.log" ]; then
			echo "--- $f.log (tail) ---" >&2
			tr -d '\033' <"$tmp/$f.log" | tail -n 15 >&2
		fi
	done
	exit 1
}

# A sleep that a signal interrupts at once (bash runs traps only between
# foreground commands, but does interrupt "wait").
nap() {
	sleep "$1" &
	nap_pid=$!
	wait "$nap_pid"
	nap_pid=
}

alive() {
	kill -0 "$1" 2>/dev/null
}

# wait_for FILE REGEX COUNT PID TIMEOUT: until FILE has COUNT lines matching
# REGEX; fails if PID dies or TIMEOUT seconds pass.
wait_for() {
	local file=$1 re=$2 count=$3 pid=$4 deadline=$((SECONDS + $5)) n

	while :; do
		n=$(grep -c -- "$re" "$file" 2>/dev/null)
		[ "${n:-0}" -ge "$count" ] && return 0
		alive "$pid" || fail "testpmd (pid $pid) exited early"
		((SECONDS < deadline)) || fail "timed out waiting for '$re' in ${file##*/}"
		nap 0.05
	done
}

# worker_stat PID: the /proc stat file of the forwarding lcore thread
# ("rte-worker-1") of the testpmd that timeout(1) PID runs; empty if none.
worker_stat() {
	local pmd t

	for pmd in $(pgrep -P "$1"); do
		for t in /proc/"$pmd"/task/*; do
			[ "$(cat "$t/comm" 2>/dev/null)" = rte-worker-1 ] && echo "$t/stat" && return
		done
	done
}

# ticks STATFILE: user + system CPU time of that thread, in clock ticks.
ticks() {
	local line

	read -r line <"$1" 2>/dev/null || { echo 0; return; }
	line=${line##*) }	# past "pid (comm) "; utime, stime are words 12, 13
	# shellcheck disable=SC2086
	set -- $line
	echo $((${12} + ${13}))
}

# start_testpmd CPU PREFIX ROLE NAME ARGS...: one testpmd in the background
# under timeout(1), commands from $tmp/NAME.cmd, output to $tmp/NAME.log;
# its pid is in $!.
#
# EAL: malloc'd memory instead of hugepages (--no-huge implies legacy
# memory, which rules out --in-memory, hence --no-shconf), no PCI scan, no
# telemetry socket; lcore 0 (main) and lcore 1 (forwarding) both on CPU.
# testpmd's default pool (~155k mbufs of 2176 B) does not fit in -m 256;
# 8192 mbufs cover a 1024-slot memif ring plus the per-lcore caches.
# stdbuf: testpmd's printf output must reach the log unbuffered.
start_testpmd() {
	local cpu=$1 prefix=$2 role=$3 name=$4

	shift 4
	timeout -k 2 "$limit" stdbuf -o0 -e0 "$testpmd" \
		--lcores="(0,1)@$cpu" --main-lcore=0 --no-huge -m 256 --no-pci \
		--no-shconf --no-telemetry --file-prefix="$prefix" --log-level=lib.eal:error \
		--vdev="net_memif0,role=$role,socket=$sock,socket-abstract=no,zero-copy=no" \
		-- -i --nb-cores=1 --rxq=1 --txq=1 --total-num-mbufs=8192 --burst=32 "$@" \
		<"$tmp/$name.cmd" >"$tmp/$name.log" 2>&1 &
}

trap cleanup EXIT
trap 'exit 1' INT TERM HUP
tmp=$(mktemp -d /tmp/memif_ref.XXXXXX) || die "mktemp failed"
sock=$tmp/memif.sock
mkfifo "$tmp/tx.cmd" "$tmp/rx.cmd" || die "mkfifo failed"
exec 3<>"$tmp/tx.cmd" 4<>"$tmp/rx.cmd"

# Transmitter: memif server, creates the socket and the shared region.
start_testpmd "$tx_cpu" "$tx_prefix" server tx --forward-mode=txonly --txpkts="$size"
tx_pid=$!
wait_for "$tmp/tx.log" 'testpmd>' 1 "$tx_pid" 20
[ -S "$sock" ] || fail "server did not create $sock"

# Receiver: memif client, connects to the socket.
start_testpmd "$rx_cpu" "$rx_prefix" client rx --forward-mode=rxonly
rx_pid=$!
wait_for "$tmp/rx.log" 'testpmd>' 1 "$rx_pid" 20

echo start >&4
echo start >&3

# Link up and packets flowing: poll the receiver's counter.
n=0
deadline=$((SECONDS + 15))
while :; do
	n=$((n + 1))
	echo "show port stats 0" >&4
	wait_for "$tmp/rx.log" 'Rx-pps:' "$n" "$rx_pid" 5
	rxp=$(tr -d '\033' <"$tmp/rx.log" | awk '/RX-packets:/ { v = $2 } END { print v + 0 }')
	((rxp > 0)) && break
	((SECONDS < deadline)) || fail "no packets received: memif link down?"
	nap 0.2
done

# Warm-up, then the window: testpmd's "Throughput (since last show)" is
# packets / clock_gettime() delta between these two shows.
# Both forwarding lcores spin, so each should be on its CPU all the time;
# their CPU time over the window tells whether something else ran there.
nap "$warmup"
tx_stat=$(worker_stat "$tx_pid")
rx_stat=$(worker_stat "$rx_pid")
n=$((n + 1))
echo "show port stats 0" >&4
wait_for "$tmp/rx.log" 'Rx-pps:' "$n" "$rx_pid" 5
t0=$EPOCHREALTIME
tx0=$(ticks "$tx_stat")
rx0=$(ticks "$rx_stat")
nap "$secs"
n=$((n + 1))
echo "show port stats 0" >&4
tx1=$(ticks "$tx_stat")
rx1=$(ticks "$rx_stat")
t1=$EPOCHREALTIME
wait_for "$tmp/rx.log" 'Rx-pps:' "$n" "$rx_pid" 5
alive "$tx_pid" || fail "transmitter died during the window"

if [ -n "$tx_stat" ] && [ -n "$rx_stat" ]; then
	awk -v hz="$(getconf CLK_TCK)" -v t0="$t0" -v t1="$t1" \
		-v tx="$((tx1 - tx0))" -v rx="$((rx1 - rx0))" 'BEGIN {
		tx /= hz * (t1 - t0); rx /= hz * (t1 - t0)
		if (tx < 0.9 || rx < 0.9)
			printf "memif_ref: warning: CPUs contended (tx lcore on CPU " \
				"%.0f%%, rx lcore %.0f%% of the time); the rate is low\n",
				tx * 100, rx * 100 > "/dev/stderr"
	}'
else
	echo "memif_ref: warning: cannot find the forwarding threads;" \
		"contention not checked" >&2
fi

pps=$(tr -d '\033' <"$tmp/rx.log" | awk '/Rx-pps:/ { v = $2 } END { print v + 0 }')
((pps > 0)) || fail "receiver rate is zero"
awk -v s="$size" -v p="$pps" 'BEGIN { printf "{\"size\":%d,\"mpps\":%.3f}\n", s, p / 1e6 }'
