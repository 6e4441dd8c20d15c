#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# demo.sh - install what vcap needs, build it, and run the main job: vcapd
# on its embedded default source (a 1 Mpps packet generator), vcapcount
# reading it as host:synth for a few seconds (with a second, filtered
# consumer beside it), and vcapctl showing vcapd's view meanwhile.  Everything runs from the build tree; nothing is installed.
set -eu
cd "$(dirname "$0")/.."
seconds=${1:-5}

sh scripts/deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null

dir=$(mktemp -d /tmp/vcap-demo-XXXXXX)
export VCAP_SOCKET="$dir/vcapd.sock"
cleanup() {
	[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

echo "== vcapd --foreground --socket $VCAP_SOCKET   (no --source: the embedded default)"
build/daemon/vcapd --foreground --socket "$VCAP_SOCKET" &
pid=$!
while [ ! -S "$VCAP_SOCKET" ]; do sleep 0.05; done

echo "== vcapcount -i host:synth -d $seconds      (and a second consumer, filtered in vcapd: -f tcp)"
build/tools/vcapcount -i host:synth -f tcp -d "$seconds" -q >"$dir/tcp.txt" &
filtered=$!
build/tools/vcapcount -i host:synth -d "$seconds" &
count=$!
sleep 2
echo "== vcapctl status   (while vcapcount runs)"
build/tools/vcapctl status
wait "$count" "$filtered"
echo
echo "== the filtered consumer (vcapd dropped its non-TCP packets before the ring):"
grep -E "received|delivered|filtered" "$dir/tcp.txt"
