#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# test_log_level.sh - vcapd's --log-level: a bad level is refused, a level
# keeps less urgent lines out of the log and lets more urgent ones in, and
# when stderr is systemd's journal (JOURNAL_STREAM names it) each line
# carries its syslog level as a <N> prefix instead of a name.
set -eu

B=${VCAP_BUILD_DIR:?}
dir=$(mktemp -d /tmp/vcap-log-XXXXXX)
pid=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
failed=0
fail() {
	echo "FAIL: $*" >&2
	failed=1
}

# wait_for FILE TEXT: until FILE holds TEXT (10 s at most)
wait_for() {
	i=0
	while ! grep -qF -- "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 1000 ] && return 1
		sleep 0.01
	done
}

# start LOG ARGS...: vcapd in the foreground, stderr to LOG, config $dir/c.conf
start() {
	log=$1
	shift
	: >"$log"
	"$B/daemon/vcapd" --foreground --socket "$dir/s.sock" --config "$dir/c.conf" "$@" 2>>"$log" &
	pid=$!
	i=0
	until "$B/tools/vcapctl" --socket "$dir/s.sock" status >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -gt 1000 ] && { fail "vcapd did not come up: $(cat "$log")"; return 1; }
		sleep 0.01
	done
}
stop() {
	kill "$pid"
	wait "$pid" || fail "vcapd exit status $?"
	pid=""
}
# a refused reload: an error-level line
bad_reload() {
	echo "nonsense" >>"$dir/c.conf"
	"$B/tools/vcapctl" --socket "$dir/s.sock" reload >/dev/null 2>&1 && fail "bad file accepted"
	printf 'source a synth:size=64,pps=1000\n' >"$dir/c.conf"
}

printf 'source a synth:size=64,pps=1000\n' >"$dir/c.conf"

set +e
out=$("$B/daemon/vcapd" --log-level loud 2>&1)
rc=$?
set -e
[ $rc -eq 2 ] && printf '%s' "$out" | grep -qF -- '--log-level loud: expected error, warning' ||
	fail "a bad level: exit $rc, $out"

# warning: no info or notice lines, but the error of a refused reload
start "$dir/warn.log" --log-level warning
bad_reload
wait_for "$dir/warn.log" "error: reload refused" || fail "no error line at level warning"
stop
if grep -qE 'vcapd: (info|notice):' "$dir/warn.log"; then
	fail "level warning let through: $(grep -E '(info|notice):' "$dir/warn.log" | head -n 2)"
fi

# the default (info): notice and info lines too, named
start "$dir/info.log"
stop
grep -qF 'vcapd: notice: listening on' "$dir/info.log" || fail "no notice at the default level"
grep -qF 'vcapd: info: source a:' "$dir/info.log" || fail "no info at the default level"

# the journal: stderr is the stream JOURNAL_STREAM names -> <N> prefixes
: >"$dir/journal.log"
JOURNAL_STREAM=$(stat -c '%d:%i' "$dir/journal.log")
export JOURNAL_STREAM
start "$dir/journal.log"
bad_reload
wait_for "$dir/journal.log" "<3>reload refused" || fail "no <3> error line for the journal"
stop
unset JOURNAL_STREAM
grep -q '^<5>listening on' "$dir/journal.log" || fail "no <5> notice line: $(head -n 3 "$dir/journal.log")"
grep -q '^vcapd: ' "$dir/journal.log" && fail "named levels in the journal"

[ $failed -eq 0 ] && echo "log-level: passed"
exit $failed
