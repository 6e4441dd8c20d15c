# SPDX-License-Identifier: BSD-3-Clause
# shellcheck shell=bash
#
# bench/lib.sh - shell helpers shared by bench/capture.sh, ring.sh, vm.sh and
# bench/paper; sourced (`. bench/lib.sh`) from the repository root, which
# each of them makes its working directory first.
#
# Globals: B is the build directory (set by vcap_build); tmp is the calling
# script's scratch directory, which holds vcapd's socket and log; vcapd_pid
# is the running vcapd's PID, empty when none runs.
#
# The raw results the scripts write are described in docs/bench/schema.md.

vcapd_pid=

# vcap_build: B = $VCAP_BUILD_DIR (default build), made absolute (the
# scripts start some commands in other directories and namespaces); the
# benchmarks' packages installed, the project configured if it is not, and
# built.  1 with a message if a step failed.
vcap_build() {
	B=${VCAP_BUILD_DIR:-build}
	B=$(cd "$B" 2>/dev/null && pwd || echo "$PWD/$B")
	sh scripts/deps.sh bench || { echo "${0##*/}: scripts/deps.sh bench failed" >&2; return 1; }
	if [ ! -f "$B/build.ninja" ]; then
		meson setup "$B" >/dev/null || { echo "${0##*/}: meson setup $B failed" >&2; return 1; }
	fi
	ninja -C "$B" >/dev/null || { echo "${0##*/}: ninja -C $B failed" >&2; return 1; }
}

# ---------------------------------------------------------------- vcapd
# vcapd_start [-n NETNS] [-w FILE]... VCAPD-ARGS...: vcapd in the background
# (inside network namespace NETNS if given) on $tmp/vcapd.sock, its stderr in
# $tmp/vcapd.log; vcapd_pid is its PID.  Returns once the socket exists, and
# each FILE (a --vm socket); 1, with the log's end on stderr, if vcapd ended
# first or 10 s passed.
vcapd_start() {
	local ns="" i=0 f
	local -a wait_for=("$tmp/vcapd.sock") in_ns=()
	while [ $# -gt 0 ]; do
		case $1 in
		-n) ns=$2; shift 2 ;;
		-w) wait_for+=("$2"); shift 2 ;;
		*) break ;;
		esac
	done
	[ -n "$ns" ] && in_ns=(ip netns exec "$ns")
	rm -f "${wait_for[@]}"
	"${in_ns[@]}" "$B/daemon/vcapd" --foreground --socket "$tmp/vcapd.sock" "$@" \
		2>"$tmp/vcapd.log" &
	vcapd_pid=$!
	for f in "${wait_for[@]}"; do
		until [ -S "$f" ]; do
			i=$((i + 1))
			if ! kill -0 "$vcapd_pid" 2>/dev/null || [ $i -ge 500 ]; then
				echo "${0##*/}: vcapd did not start:" >&2
				tail -n 20 "$tmp/vcapd.log" >&2
				return 1
			fi
			sleep 0.02
		done
	done
}

# vcapd_stop: end vcapd, if one runs, and remove its socket
vcapd_stop() {
	[ -n "$vcapd_pid" ] || return 0
	kill "$vcapd_pid" 2>/dev/null || true
	wait "$vcapd_pid" 2>/dev/null || true
	vcapd_pid=
	rm -f "$tmp/vcapd.sock"
}

# ---------------------------------------------------------------- namespaces
# netns_pair CAP SND [QUEUES]: two new network namespaces joined by a veth
# pair, veth0 in CAP and veth1 in SND, both up, with QUEUES RX and TX
# queues each (default 1).  IPv6 off in both, so that the kernel sends
# nothing of its own (router solicitations, MLD) that a capture would count.
netns_pair() {
	local ns q=${3:-1}
	ip netns add "$1" && ip netns add "$2" || return 1
	for ns in "$1" "$2"; do
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
	done
	ip link add veth0 numtxqueues "$q" numrxqueues "$q" netns "$1" type veth peer name veth1 \
		numtxqueues "$q" numrxqueues "$q" netns "$2" || return 1
	ip -n "$1" link set veth0 up && ip -n "$2" link set veth1 up
}

# netns_kill NS...: SIGKILL whatever still runs in these namespaces (on the
# way out, anything there is the script's own: QEMU, vcapd, senders)
netns_kill() {
	local ns
	for ns; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
	done
	return 0
}

# netns_delete NS...
netns_delete() {
	local ns
	for ns; do
		ip netns del "$ns" 2>/dev/null
	done
	return 0
}

# ---------------------------------------------------------------- CPU time
# busy_jiffies: the machine's busy jiffies so far (user nice system irq
# softirq steal)
busy_jiffies() {
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}

# busy_total_jiffies: "BUSY:ALL", the busy jiffies and all of them, as top
# counts: busy % = busy delta / all delta
busy_total_jiffies() {
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 ":" $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat
}

# proc_cpu_ns PID...: CPU time of these processes, all their threads, in ns
# (the scheduler's exact run time: tick samples are too coarse for small
# loads); a process that is gone counts 0
proc_cpu_ns() {
	local t=0 p f
	for p in "$@"; do
		for f in /proc/"$p"/task/*/schedstat; do
			[ -r "$f" ] && t=$((t + $(cut -d' ' -f1 "$f" 2>/dev/null || echo 0)))
		done
	done
	echo $t
}

# proc_jiffies PID: the process's user + system jiffies, 0 if it is gone
proc_jiffies() {
	awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
