#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# test_examples.sh ids|epoll - the programs in examples/ against a real
# vcapd, judged by what they print:
#   ids    mini_ids shunts every flow of a generator (8 flows: 8 rules),
#          reads no packet of a flow after its rule took effect, and vcapd's
#          counters agree (received = delivered + dropped + filtered, all
#          that was filtered shunted); it stops on -c, SIGINT, the source's
#          end, and vcapd's death (exit 3)
#   epoll  epoll_loop reads exactly the packets of a counted generator and
#          stops at its end; stops on -c and SIGTERM; when vcapd is killed
#          with SIGKILL under it, it says so and exits within a few seconds,
#          having used little CPU (no spinning)
# Every wait polls for a condition up to a deadline: no fixed sleeps.
set -eu

B=${VCAP_BUILD_DIR:?}
what=${1:?usage: test_examples.sh ids|epoll}
dir=$(mktemp -d /tmp/vcap-examples-XXXXXX)
cleanup() {
	for f in "$dir"/*.pid; do # the examples still running, if a check failed
		[ -f "$f" ] && [ ! -f "${f%.pid}.status" ] && kill "$(cat "$f")" 2>/dev/null
	done
	[ -n "${vcapd_pid:-}" ] && kill "$vcapd_pid" 2>/dev/null && wait "$vcapd_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
fail() {
	echo "FAIL: $*" >&2
	[ -f "$dir/vcapd.log" ] && sed 's/^/  vcapd.log: /' "$dir/vcapd.log" >&2
	exit 1
}
now_ms() { date +%s%3N; }

# wait_until SECONDS COMMAND...: poll COMMAND until it succeeds; 1 at the deadline
wait_until() {
	limit=$(($(now_ms) + $1 * 1000))
	shift
	until "$@"; do
		[ "$(now_ms)" -lt "$limit" ] || return 1
		sleep 0.02
	done
}

# vcapd on a private socket, with the given sources
start_vcapd() {
	"$B/daemon/vcapd" --foreground --socket "$dir/s.sock" "$@" 2>"$dir/vcapd.log" &
	vcapd_pid=$!
	wait_until 10 test -S "$dir/s.sock" || fail "vcapd did not start"
	export VCAP_SOCKET="$dir/s.sock"
}

# launch NAME COMMAND...: run COMMAND in the background, its output in
# $dir/NAME.out and .err, its pid in .pid; once it has ended, NAME.status
# says "rc=N cpu_ticks=M": its exit code and the CPU time it used (user +
# system, in clock ticks), which the shell that waited for it reads from its
# own /proc/PID/stat (cutime, cstime: fields 16 and 17)
launch() {
	sh -c 'shift; "$@" >"$0.out" 2>"$0.err" & echo $! >"$0.new"; mv "$0.new" "$0.pid"
		wait $!; rc=$?
		set -- $(sed "s/.*) //" /proc/$$/stat)
		echo "rc=$rc cpu_ticks=$((${14} + ${15}))" >"$0.tmp"; mv "$0.tmp" "$0.status"' \
		"$dir/$1" "$@" &
	wait_until 5 test -f "$dir/$1.pid" || fail "$1 did not start"
}
ran() { test -f "$dir/$1.status"; }
# finish NAME SECONDS: wait for NAME to end; sets rc, cpu_ms, summary (its last line)
finish() {
	wait_until "$2" ran "$1" || fail "$1 still running after $2 s: $(cat "$dir/$1.out")"
	rc=$(field rc "$(cat "$dir/$1.status")")
	cpu_ms=$(($(field cpu_ticks "$(cat "$dir/$1.status")") * 1000 / $(getconf CLK_TCK)))
	summary=$(grep '^summary: ' "$dir/$1.out") || fail "$1 printed no summary: $(cat "$dir/$1.err")"
	echo "$1: exit $rc, ${cpu_ms} ms CPU, $summary"
}
# field NAME LINE: the value of NAME=VALUE in LINE
field() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
# expect NAME VALUE: the summary's NAME is VALUE
expect() {
	[ "$(field "$1" "$summary")" = "$2" ] || fail "$1 is not $2: $summary"
}
# stats_lines N NAME: NAME has printed N stats lines with packets
stats_lines() {
	lines=$(grep -cs "^stats: .*packets=[1-9]" "$dir/$2.out") || true
	[ "${lines:-0}" -ge "$1" ]
}
# received = delivered + dropped + filtered, and some were
counters_agree() {
	r=$(field received "$summary")
	sum=$(($(field delivered "$summary") + $(field dropped "$summary") + $(field filtered "$summary")))
	if [ "$r" -eq 0 ] || [ "$r" -ne "$sum" ]; then
		fail "received != delivered + dropped + filtered: $summary"
	fi
}

# usage and errors, before any vcapd
prog=$B/examples/mini_ids device=x
[ "$what" = epoll ] && prog=$B/examples/epoll_loop device=host:x
for bad in "" "-c" "-c x" "-c -1" "-n 0 s" "-z s" "s extra"; do
	# shellcheck disable=SC2086
	if "$prog" $bad >"$dir/usage.out" 2>&1 || [ $? -ne 2 ] ||
		! grep -q "^usage: " "$dir/usage.out"; then
		fail "\"$(basename "$prog") $bad\" gave no usage message and exit 2: $(cat "$dir/usage.out")"
	fi
done
export VCAP_SOCKET="$dir/none.sock"
if "$prog" "$device" >"$dir/err.out" 2>&1 || ! grep -q "vcapd is not running" "$dir/err.out"; then
	fail "without vcapd: $(cat "$dir/err.out")"
fi

case $what in
ids)
	# 40000 packets of 8 flows in 2 s; a second source that never ends
	start_vcapd --source s=synth:size=64,flows=8,pps=20000,count=40000 \
		--source t=synth:size=64,flows=8,pps=20000 --source u=synth:size=64,pps=20000

	launch ids "$B/examples/mini_ids" s
	finish ids 60
	[ "$rc" -eq 0 ] || fail "mini_ids exited $rc: $(cat "$dir/ids.err")"
	expect end ended
	expect flows 8
	expect shunted_flows 8
	expect late_after_rule 0
	expect untracked 0
	expect received 40000
	counters_agree
	[ "$(field packets "$summary")" = "$(field delivered "$summary")" ] || fail "packets != delivered"
	[ "$(field packets "$summary")" -ge 800 ] || fail "fewer than 8 x 100 packets read"
	[ "$(field shunted "$summary")" -gt 0 ] || fail "vcapd shunted nothing: $summary"
	expect shunted "$(field filtered "$summary")" # no BPF filter: all filtered were shunted
	stats_lines 1 ids || fail "no stats line: $(cat "$dir/ids.out")"

	# -c COUNT, with no flow judged yet
	launch count "$B/examples/mini_ids" -n 1000 -c 500 u
	finish count 30
	[ "$rc" -eq 0 ] || fail "mini_ids -c exited $rc: $(cat "$dir/count.err")"
	expect end count
	expect packets 500
	expect shunted_flows 0

	# SIGINT, once it has shunted all 8 flows of an endless source
	launch sigint "$B/examples/mini_ids" t
	wait_until 20 grep -qs "^stats: .*shunted_flows=8 " "$dir/sigint.out" ||
		fail "no flow shunted: $(cat "$dir/sigint.out")"
	kill -INT "$(cat "$dir/sigint.pid")"
	finish sigint 10
	[ "$rc" -eq 0 ] || fail "mini_ids exited $rc on SIGINT: $(cat "$dir/sigint.err")"
	expect end signal
	expect late_after_rule 0
	counters_agree

	# vcapd killed under it: exit 3, and the reason
	launch gone "$B/examples/mini_ids" t
	wait_until 20 stats_lines 1 gone || fail "no packets: $(cat "$dir/gone.out")"
	kill -KILL "$vcapd_pid"
	finish gone 5
	[ "$rc" -eq 3 ] || fail "exit $rc, not 3, when vcapd died: $(cat "$dir/gone.err")"
	expect end vcapd-gone
	grep -q "^mini_ids: lost vcapd: .*vcapd went away" "$dir/gone.err" ||
		fail "no clear message: $(cat "$dir/gone.err")"
	;;
epoll)
	# 100000 packets flat out (they fit in the ring); an endless paced source
	start_vcapd --source c=synth:size=64,count=100000 --source p=synth:size=64,pps=2000

	launch all "$B/examples/epoll_loop" host:c
	finish all 60
	[ "$rc" -eq 0 ] || fail "epoll_loop exited $rc: $(cat "$dir/all.err")"
	expect end ended
	expect packets 100000
	expect received 100000
	expect dropped 0
	counters_agree

	launch count "$B/examples/epoll_loop" -c 1000 host:p
	finish count 30
	[ "$rc" -eq 0 ] || fail "epoll_loop -c exited $rc: $(cat "$dir/count.err")"
	expect end count
	expect packets 1000

	launch sigterm "$B/examples/epoll_loop" host:p
	wait_until 20 stats_lines 1 sigterm || fail "no stats line: $(cat "$dir/sigterm.out")"
	kill -TERM "$(cat "$dir/sigterm.pid")"
	finish sigterm 10
	[ "$rc" -eq 0 ] || fail "epoll_loop exited $rc on SIGTERM: $(cat "$dir/sigterm.err")"
	expect end signal
	counters_agree

	# vcapd killed under it: it must notice (vcap_fd polls readable, the
	# receive says -EPIPE) within a few seconds, without spinning meanwhile
	start=$(now_ms)
	launch gone "$B/examples/epoll_loop" host:p
	wait_until 20 stats_lines 2 gone || fail "no 2 stats lines: $(cat "$dir/gone.out")"
	killed=$(now_ms)
	kill -KILL "$vcapd_pid"
	finish gone 5
	end=$(now_ms)
	echo "gone: exited $((end - killed)) ms after vcapd's SIGKILL; ${cpu_ms} ms CPU in $((end - start)) ms"
	[ "$rc" -eq 3 ] || fail "exit $rc, not 3, when vcapd died: $(cat "$dir/gone.err")"
	expect end vcapd-gone
	grep -q "^epoll_loop: lost vcapd: .*vcapd went away" "$dir/gone.err" ||
		fail "no clear message: $(cat "$dir/gone.err")"
	# 2000 packets a second cost a few ms; a loop that spins costs its whole time
	[ $((cpu_ms * 4)) -lt $((end - start)) ] || fail "${cpu_ms} ms of CPU: spinning?"
	;;
*)
	fail "unknown test $what"
	;;
esac
echo "examples-$what: passed"
