#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# test_container.sh - a consumer in a container reads host: sources.
#
# The "container" is what container runtimes build: new network and mount
# namespaces, a private /run with vcapd's socket bind-mounted in, /tmp
# hidden, and no CAP_NET_RAW or CAP_NET_ADMIN.  The consumer cannot open a
# packet socket there (checked), yet reads every packet of a host source
# through the ring vcapd maps into it.
set -eu

B=${VCAP_BUILD_DIR:?}
dir=$(mktemp -d /tmp/vcap-ctr-XXXXXX)
cleanup() {
	[ -n "${vcapd_pid:-}" ] && kill "$vcapd_pid" 2>/dev/null && wait "$vcapd_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

"$B/daemon/vcapd" --foreground --socket "$dir/vcapd.sock" \
	--source s=synth:size=128,count=100000,flows=333 2>"$dir/vcapd.log" &
vcapd_pid=$!
i=0
until [ -S "$dir/vcapd.sock" ]; do
	i=$((i + 1))
	[ $i -lt 500 ] || fail "vcapd did not start: $(cat "$dir/vcapd.log")"
	sleep 0.01
done

# Inside: namespaces, private /run and /tmp, capabilities dropped.
cat >"$dir/inside.sh" <<EOF
set -eu
mount -t tmpfs tmpfs /run
mkdir -p /run/vcap
touch /run/vcap/vcapd.sock
mount --bind "$dir/vcapd.sock" /run/vcap/vcapd.sock
cp "$B/tools/vcapcount" /run/vcapcount
cp -L "$B/lib/libvcap.so.0" /run/libvcap.so.0
mount -t tmpfs tmpfs /tmp
unset VCAP_SOCKET
echo "netns interfaces: \$(ip -o link show | cut -d: -f2 | tr -d ' \n')"
exec setpriv --bounding-set=-net_raw,-net_admin --inh-caps=-net_raw,-net_admin \
	env LD_LIBRARY_PATH=/run sh -c '
		grep CapEff /proc/self/status
		if /run/vcapcount -i lo -n 1 -q 2>/run/direct.err; then
			echo "direct capture worked without CAP_NET_RAW" >&2; exit 3
		fi
		echo "direct capture refused: \$(cat /run/direct.err)"
		/run/vcapcount -i host:s -n 100000 -q --json'
EOF
out=$(unshare --net --mount --propagation private sh "$dir/inside.sh") ||
	fail "container consumer failed: $out"
echo "$out"

echo "$out" | grep -q "netns interfaces: lo$" || fail "not in a fresh network namespace"
capeff=$(echo "$out" | sed -n 's/^CapEff:[[:space:]]*//p')
# CAP_NET_ADMIN is bit 12, CAP_NET_RAW bit 13
[ $((0x$capeff & 0x3000)) -eq 0 ] || fail "capabilities not dropped: $capeff"
echo "$out" | grep -q "Operation not permitted" || fail "direct capture should be refused"
json=$(echo "$out" | tail -n 1)
echo "$json" | grep -q '"packets":100000,' || fail "expected 100000 packets: $json"
echo "$json" | grep -q '"dropped":0,' || fail "expected no drops: $json"
echo "container consumer: passed"
