#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# test_systemd_unit.sh UNIT CONFIG - systemd/vcapd.service and
# etc/vcapd.conf as the packages ship them.
#
#   1. systemd-analyze verify passes on the unit with its paths pointed at
#      this build (it checks that ExecStart's binary exists) and says
#      nothing at all: verify exits 0 on an unknown key or a bad value and
#      only warns, so any output fails.  Two broken copies (a misspelt
#      key, a missing binary) must be caught, or the check checks nothing.
#   2. systemd-analyze security --offline: the unit's exposure is at most
#      3.0 (of 10), so a lost sandboxing line shows.
#   3. The capabilities the unit keeps are enough, and needed: vcapd run
#      with exactly its CapabilityBoundingSet (setpriv) in a private
#      network namespace opens an if: source in promiscuous mode and gives
#      a socket another owner and mode; without CAP_NET_RAW it cannot.
#   4. The example configuration works as shipped (vcapd serves its default
#      source) and with every limit line uncommented.
# systemd need not be running: nothing here starts the unit.
set -eu

UNIT=${1:?usage: test_systemd_unit.sh UNIT CONFIG}
CONF=${2:?usage: test_systemd_unit.sh UNIT CONFIG}
B=${VCAP_BUILD_DIR:?}
VCAPD=$(realpath "$B/daemon/vcapd")
dir=$(mktemp -d /tmp/vcap-unit-XXXXXX)
ns="vcap-unit-$$"
pids=""

cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
fail() {
	echo "FAIL: $*" >&2
	for l in "$dir"/*.log; do
		[ -s "$l" ] && sed "s|^|  $(basename "$l"): |" "$l" >&2
	done
	exit 1
}

# ---- 1. systemd-analyze verify ------------------------------------------
# The unit's own paths, /usr/sbin/vcapd and /etc/vcap/vcapd.conf, exist
# only once installed: point them at the build and the source tree.
mkdir "$dir/good" "$dir/typo" "$dir/nobin"
sed -e "s|/usr/sbin/vcapd|$VCAPD|g" -e "s|/etc/vcap/vcapd.conf|$(realpath "$CONF")|g" \
	"$UNIT" >"$dir/good/vcapd.service"
grep -q "^ExecStart=$VCAPD " "$dir/good/vcapd.service" || fail "no ExecStart=/usr/sbin/vcapd in $UNIT"

verify() { # DIR: 0 if systemd-analyze verify is silent and content
	out=$(cd "$1" && systemd-analyze verify --man=no ./vcapd.service 2>&1) || {
		echo "$out"
		return 1
	}
	[ -z "$out" ] || {
		echo "$out"
		return 1
	}
}
verify "$dir/good" >"$dir/verify.log" || fail "systemd-analyze verify: $(cat "$dir/verify.log")"
sed 's/^NoNewPrivileges=/NoNewPrivilegs=/' "$dir/good/vcapd.service" >"$dir/typo/vcapd.service"
sed "s|^ExecStart=$VCAPD|ExecStart=$VCAPD.missing|" "$dir/good/vcapd.service" \
	>"$dir/nobin/vcapd.service"
for broken in typo nobin; do
	if verify "$dir/$broken" >/dev/null; then
		fail "systemd-analyze verify did not catch the $broken unit"
	fi
done
echo "verify: ok (and caught a misspelt key and a missing binary)"

# ---- 2. exposure -----------------------------------------------------------
(cd "$dir/good" && systemd-analyze security --offline=yes --threshold=30 ./vcapd.service) \
	>"$dir/security.log" 2>&1 || fail "exposure above 3.0: $(tail -1 "$dir/security.log")"
tail -1 "$dir/security.log"

# ---- 3. the capability bounding set -----------------------------------------
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT")
[ -n "$caps" ] || fail "no CapabilityBoundingSet in $UNIT"
# "CAP_NET_RAW CAP_CHOWN" -> "-all,+net_raw,+chown" (setpriv's spelling)
bset="-all$(for c in $caps; do printf ',+%s' "$(echo "${c#CAP_}" | tr 'A-Z' 'a-z')"; done)"
without_raw=$(echo "$bset" | sed 's/,+net_raw//')
[ "$without_raw" != "$bset" ] || fail "the unit does not keep CAP_NET_RAW (if: sources need it)"

ip netns add "$ns"
# a veth pair inside the namespace (dummy devices may be missing from the kernel)
ip -n "$ns" link add d0 type veth peer name d1
ip -n "$ns" link set d0 up
cat >"$dir/caps.conf" <<EOF
source d if:d0,promisc=1
tenant t socket $dir/tenant.sock owner=nobody group=nogroup mode=0660
tenant t allow d
EOF

wait_socket() { # PATH PID LOG
	i=0
	until [ -S "$1" ]; do
		kill -0 "$2" 2>/dev/null || fail "vcapd exited: $(cat "$3")"
		i=$((i + 1))
		[ $i -lt 3000 ] || fail "vcapd did not listen on $1 within 30 s"
		sleep 0.01
	done
}

ip netns exec "$ns" setpriv --bounding-set "$bset" --inh-caps -all \
	"$VCAPD" --foreground --socket "$dir/main.sock" --config "$dir/caps.conf" \
	2>"$dir/vcapd-caps.log" &
pid=$!
pids="$pids $pid"
wait_socket "$dir/main.sock" $pid "$dir/vcapd-caps.log"
# the tenant socket is made after the main one: wait for it, then its owner
wait_socket "$dir/tenant.sock" $pid "$dir/vcapd-caps.log"
i=0
until [ "$(stat -c '%U:%G %a' "$dir/tenant.sock")" = "nobody:nogroup 660" ]; do
	i=$((i + 1))
	[ $i -lt 3000 ] || fail "tenant socket is $(stat -c '%U:%G %a' "$dir/tenant.sock"), not nobody:nogroup 660"
	sleep 0.01
done
# a packet socket's PACKET_MR_PROMISC counts in promiscuity, not in the PROMISC
# flag (that one is only what SIOCSIFFLAGS or `ip link set promisc` set)
ip -d -n "$ns" link show d0 | grep -q 'promiscuity [1-9]' ||
	fail "d0 is not promiscuous: $(ip -d -n "$ns" link show d0)"
eff=$(sed -n 's/^CapEff:\t*//p' /proc/$pid/status)
kill $pid
wait $pid || fail "vcapd with the unit's capabilities did not exit cleanly"
pids=""
echo "capabilities: if: source promiscuous and tenant socket chowned with CapEff=$eff ($caps)"

# the negative control: the same without CAP_NET_RAW fails, naming it
if ip netns exec "$ns" setpriv --bounding-set "$without_raw" --inh-caps -all \
	"$VCAPD" --foreground --socket "$dir/noraw.sock" --config "$dir/caps.conf" \
	2>"$dir/vcapd-noraw.log"; then
	fail "vcapd started without CAP_NET_RAW: the bounding set is not applied"
fi
grep -q CAP_NET_RAW "$dir/vcapd-noraw.log" ||
	fail "without CAP_NET_RAW vcapd did not say so: $(cat "$dir/vcapd-noraw.log")"
echo "capabilities: without CAP_NET_RAW vcapd refuses, naming it"

# ---- 4. the example configuration ------------------------------------------
run_config() { # CONFIG: vcapd on it serves host:synth (the default source)
	"$VCAPD" --foreground --socket "$dir/conf.sock" --config "$1" 2>"$dir/vcapd-conf.log" &
	pid=$!
	pids="$pids $pid"
	wait_socket "$dir/conf.sock" $pid "$dir/vcapd-conf.log"
	VCAP_SOCKET="$dir/conf.sock" "$B/tools/vcapctl" status >"$dir/status.txt" 2>&1 ||
		fail "vcapctl status: $(cat "$dir/status.txt")"
	grep -q synth "$dir/status.txt" || fail "no synth source with $1: $(cat "$dir/status.txt")"
	kill $pid
	wait $pid || fail "vcapd on $1 did not exit cleanly"
	pids=""
}
run_config "$CONF"
# every limit, at the default the file shows, must be accepted
sed 's/^#limit /limit /' "$CONF" >"$dir/limits.conf"
[ "$(grep -c '^limit ' "$dir/limits.conf")" -ge 18 ] || fail "fewer limit lines than expected in $CONF"
run_config "$dir/limits.conf"
echo "example configuration: ok as shipped and with every limit line"
echo "systemd-unit: ok"
