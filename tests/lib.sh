# SPDX-License-Identifier: BSD-3-Clause
#
# lib.sh - what the shell tests share: failing with vcapd's log, waiting on
# a condition against the clock (never a fixed sleep), a veth pair in two
# private namespaces.  Sourced: . "${VCAP_SOURCE_DIR:?}/tests/lib.sh".
# Uses $dir, the test's temporary directory, where vcapd's log is.

# fail WHY...: say it, with vcapd's log ($dir/vcapd.log) when there is one,
# and exit 1.  A test that has more to show defines its own after this.
fail() {
	echo "FAIL: $*" >&2
	[ -f "${dir:-}/vcapd.log" ] && sed 's/^/  vcapd: /' "$dir/vcapd.log" >&2
	exit 1
}

# wait_for SECONDS WHAT COMMAND...: run COMMAND until it succeeds; fail
# once SECONDS of the clock (not of tries) have passed.
wait_for() {
	_wf_end=$(($(date +%s) + $1))
	_wf_what=$2
	shift 2
	until "$@"; do
		[ "$(date +%s)" -le "$_wf_end" ] || fail "timed out: $_wf_what"
		sleep 0.02
	done
}

# gone PID: the process has ended (a predicate for wait_for)
gone() { ! kill -0 "$1" 2>/dev/null; }

# veth_pair CAP SND [QUEUES]: namespaces CAP and SND joined by veth0 (in
# CAP) and veth1 (in SND), up, with QUEUES RX and TX queues each (default
# 1), IPv6 off: the kernel would send router solicitations of its own.
veth_pair() {
	_vp_q=${3:-1}
	ip netns add "$1"
	ip netns add "$2"
	ip link add veth0 numtxqueues "$_vp_q" numrxqueues "$_vp_q" netns "$1" type veth \
		peer name veth1 numtxqueues "$_vp_q" numrxqueues "$_vp_q" netns "$2"
	for _vp_ns in "$1" "$2"; do
		ip netns exec "$_vp_ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
		ip netns exec "$_vp_ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
	done
	ip -n "$1" link set veth0 up
	ip -n "$2" link set veth1 up
}
