#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# test_vcapcount_rules.sh - vcapcount's --default and --rule: wildcard rules
# from the command line, run by vcapd on counted synth: sources, with every
# count exact, worked out from source/synth.h's traffic definition:
#
#   packet n is of flow f = n % flows, reverse (server -> client) when
#   (n / flows) is odd; TCP when f % 4 == 3 (proto=mix); IPv6 when
#   f % 100 < ipv6; client 10.1.0.f / fd00::1:0:f port 1024 + f, server
#   10.2.0.(f % 16 + 1) / fd00::2:(f % 16 + 1) port {53, 80, 443, 123, 22,
#   8080, 5060, 9999}[f % 8].
#
# Each source starts only once its last consumer, one without rules, is
# attached (consumers=N), after vcapd reports the other consumers' rules in
# place (vcapctl status's "rules"): every packet meets the rules.  Then the
# bad rules: each refused with exit 2 and a message naming the bad field.
# Every wait polls for a condition up to a deadline: no fixed sleeps.
set -eu

B=${VCAP_BUILD_DIR:?}
# shellcheck source=tests/lib.sh
. "${VCAP_SOURCE_DIR:?}/tests/lib.sh"
dir=$(mktemp -d /tmp/vcap-rules-XXXXXX)
sock="$dir/vcapd.sock"
cleanup() {
	for p in ${pids:-}; do kill "$p" 2>/dev/null || true; done
	[ -n "${vcapd_pid:-}" ] && kill "$vcapd_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
failed=0
bad() {
	echo "FAIL: $*" >&2
	failed=1
}
ctl() { "$B/tools/vcapctl" --socket "$sock" "$@"; }
# a ring of source $1 with $2 rules in place
has_rules() { ctl status --json | tr '{' '\n' | grep "\"source\":\"$1\"" | grep -q "\"rules\":$2,"; }
# count NAME ARGS...: vcapcount --json on host:ARGS..., to the source's end, in
# the background, its JSON in $dir/NAME.json; $! is its PID
count() {
	name=$1
	shift
	VCAP_SOCKET=$sock "$B/tools/vcapcount" -q --json "$@" >"$dir/$name.json" 2>"$dir/$name.err" &
	pids="${pids:-} $!"
}
# expect_json NAME KEY VALUE...: NAME.json has "KEY":VALUE for each pair
expect_json() {
	name=$1
	shift
	while [ $# -ge 2 ]; do
		grep -qF "\"$1\":$2" "$dir/$name.json" ||
			bad "$name: expected \"$1\":$2 in $(cat "$dir/$name.json") $(cat "$dir/$name.err")"
		shift 2
	done
}

"$B/daemon/vcapd" --foreground --socket "$sock" \
	--source 'v=synth:size=64,count=8000,flows=8,proto=mix,consumers=3' \
	--source 'w=synth:size=96,count=4000,flows=200,proto=udp,ipv6=50,vlan=7,consumers=2' \
	--source 'x=synth:size=64,pps=1000' \
	2>"$dir/vcapd.log" &
vcapd_pid=$!
wait_for 10 "vcapd's socket" test -S "$sock"

# all_done SOURCE PID: PID (the consumer that started the counted source)
# and every other consumer started since have finished, each successfully
all_done() {
	wait_for 30 "the consumers of $1 to finish" gone "$2"
	for p in $pids; do wait "$p" || bad "a consumer of $1 failed: $(cat "$dir"/*.err)"; done
	pids=
}

# ---- v: 8 flows of 1000 packets, 500 each way; flows 3 and 7 TCP ---------
# a: tcp dropped (flows 3, 7: 2000), then UDP to port 53 passed (flow 0
# forward: 500), then what servers 10.2.0.x send dropped (the reverse
# packets of the six UDP flows: 3000); the rest, the forward packets of
# flows 1, 2, 4, 5, 6 (2500) and flow 0's (500), passed by default
count a -i host:v --default pass --rule drop,tcp --rule pass,udp,dport=53 \
	--rule drop,saddr=10.2.0.0/24
wait_for 10 "a's rules in place" has_rules v 3
# b: only what its rules name: port 80 (flow 1 forward: 500) and TCP from
# client ports 1027..1031 (flows 3 and 7 forward: 1000)
count b -i host:v --default drop --rule pass,dport=80 --rule pass,proto=6,sport=1027-1031
wait_for 10 "b's rules in place" has_rules v 2
count c -i host:v # the third consumer: the source starts
all_done v "$!"
expect_json a packets 3000 received 8000 delivered 3000 filtered 5000 dropped 0
expect_json a rules '[{"id":1,"hits":2000},{"id":2,"hits":500},{"id":3,"hits":3000}]'
expect_json b packets 1500 received 8000 delivered 1500 filtered 6500 dropped 0
expect_json b rules '[{"id":1,"hits":500},{"id":2,"hits":1000}]'
expect_json c packets 8000 filtered 0
grep -q '"rules"' "$dir/c.json" && bad "c has no rules, yet its JSON has \"rules\": $(cat "$dir/c.json")"
[ $failed -eq 0 ] && echo "ok: host:v, 3 consumers: pass/drop by tcp, udp, dport, sport range, saddr/24, both defaults"

# ---- w: 200 UDP flows of 20 packets (10 each way), VLAN 7; flows 0..49 and
# 100..149 IPv6 ------------------------------------------------------------
# d: VLAN 8 dropped (nothing), IPv6 to the servers fd00::2:x passed (the
# forward packets of 100 flows: 1000), IPv4 from clients 10.1.x.x ports
# 1024..1123 (flows 0..99, of which 50..99 IPv4: 500) passed; the rest dropped
count d -i host:w --default drop --rule drop,vlan=8 \
	--rule pass,vlan=7,ethertype=0x86dd,daddr=fd00::2:0/112 \
	--rule pass,saddr=10.1.0.0/16,sport=1024-1123,proto=udp
wait_for 10 "d's rules in place" has_rules w 3
count e -i host:w
all_done w "$!"
expect_json d packets 1500 received 4000 delivered 1500 filtered 2500 dropped 0
expect_json d rules '[{"id":1,"hits":0},{"id":2,"hits":1000},{"id":3,"hits":500}]'
expect_json e packets 4000
[ $failed -eq 0 ] && echo "ok: host:w: vlan, ethertype, IPv6 daddr/112, IPv4 saddr/16 with a port range"

# ---- bad rules: exit 2, the field named, nothing opened -------------------
# expect_usage TEXT ARGS...: vcapcount ARGS exits 2 saying TEXT
expect_usage() {
	text=$1
	shift
	set +e
	out=$(VCAP_SOCKET=$sock timeout 10 "$B/tools/vcapcount" -i host:v "$@" 2>&1)
	rc=$?
	set -e
	if [ $rc -ne 2 ] || ! printf '%s' "$out" | grep -qF -- "$text"; then
		bad "vcapcount $* -> exit $rc (want 2), output: $out"
	else
		echo "ok: $out"
	fi
}
expect_usage '--default "maybe": expected pass or drop' --default maybe
expect_usage '--rule allow: action "allow": expected pass or drop first' --rule allow
expect_usage 'unknown field "port" (proto, sport, dport, saddr, daddr, vlan, ethertype)' \
	--rule pass,port=80
expect_usage 'dport=70000: expected a port 0..65535 or a range N-M' --rule drop,dport=70000
expect_usage "sport=90-80: the range's first port is above its last" --rule drop,sport=90-80
expect_usage 'proto=icmpx: expected udp, tcp or a number 0..255' --rule pass,proto=icmpx
expect_usage 'field proto given twice' --rule pass,tcp,proto=17
expect_usage 'saddr=10.2.0.1/24: bits set past the /24 prefix' --rule pass,saddr=10.2.0.1/24
expect_usage 'daddr=10.0.0.0/33: the prefix must be a number 0..32' --rule pass,daddr=10.0.0.0/33
expect_usage 'saddr=10.1.0.300: expected an IPv4 or IPv6 address' --rule pass,saddr=10.1.0.300
expect_usage 'saddr and daddr must both be IPv4 or both IPv6' \
	--rule pass,saddr=10.0.0.0/8,daddr=fd00::/8
expect_usage 'vlan=4096: expected a VLAN id 0..4095' --rule pass,vlan=4096
expect_usage 'ethertype=ipv4: expected a number 0..0xffff' --rule pass,ethertype=ipv4
expect_usage '"dport": expected FIELD=VALUE (or udp, tcp)' --rule pass,dport
expect_usage 'dport=: no value' --rule pass,dport=
# refused by vcapd, not by the parser: exit 1 with vcapd's reason
set +e
out=$(VCAP_SOCKET=$sock timeout 10 "$B/tools/vcapcount" -i host:x -n 1 --rule pass,proto=1,dport=7 2>&1)
rc=$?
set -e
if [ $rc -ne 1 ] || ! printf '%s' "$out" | grep -qF -- '--rule pass,proto=1,dport=7 (rule 1):'; then
	bad "a rule vcapd refuses: exit $rc (want 1), output: $out"
else
	echo "ok: $out"
fi
kill -0 "$vcapd_pid" || fail "vcapd died"

[ $failed -eq 0 ] && echo "vcapcount-rules: passed"
exit $failed
