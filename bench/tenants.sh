#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# tenants.sh - what one tenant's filtering costs another (issue 14): one
# vcapd, two tenants on their own sockets, one synth source, and tenant A's
# consumer (vcapcount host:s, CPU 1) measured
#
#   alone    A's ring is the only one on the source;
#   loaded   tenant B meanwhile holds its "worst allowed" ring
#            (bench/tenant_load): a BPF filter as long as vcapd accepts (an
#            OR chain of `host` terms filling the 8 KiB text limit, ending
#            in a term every generated packet matches, so that every packet
#            walks all of it) and 1024 wildcard rules that never match, under
#            default action DROP: every packet costs B's filter and all of its
#            rules on the capture thread, and reaches neither ring of B nor
#            wakes B's process.
#
# side by side in each round (the order alternates), the source flat out
# (what the capture thread sustains) and paced (-p PPS; a synth source that
# falls behind produces less, as a NIC would drop: delivered below the pace
# is loss).  The capture thread runs on CPU 0.  vcapctl status (root, on
# the main socket) gives each ring's cost in ns per packet meanwhile.
#
# B's filter takes libpcap's optimizer seconds to compile; on a vcapd that
# compiles with a budget (limit filter-compile-ms), a shorter chain may be
# the worst allowed: -H HOSTS sets the chain's length.
#
#   usage: bench/tenants.sh [-r ROUNDS] [-d SECONDS] [-p PPS] [-H HOSTS] [-o OUTDIR]
#   writes: OUTDIR/tenants.jsonl (raw), OUTDIR/tenants.md (report)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

rounds=3
secs=3
pps=1000000
hosts=
out=docs/bench
usage="usage: bench/tenants.sh [-r ROUNDS] [-d SECONDS] [-p PPS] [-H HOSTS] [-o OUTDIR]"
while getopts r:d:p:H:o: opt; do
	case $opt in
	r) rounds=$OPTARG ;;
	d) secs=$OPTARG ;;
	p) pps=$OPTARG ;;
	H) hosts=$OPTARG ;;
	o) out=$OPTARG ;;
	*) echo "$usage" >&2; exit 2 ;;
	esac
done

vcap_build
mkdir -p "$out"
raw="$out/tenants.jsonl"
half=$(awk "BEGIN { print $secs / 2 }")
: >"$raw"
tmp=$(mktemp -d /tmp/vcap-bench-XXXXXX)
load_pid=
cleanup() {
	[ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null
	vcapd_stop
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# B's filter: "host 1.1.0.1 or host 1.1.0.2 or ... or net 10.0.0.0/8", as
# many hosts as fit in VCAP_FILTER_MAX (8192) bytes, or HOSTS.  The
# generator's addresses are all in 10.0.0.0/8: only the last term matches.
python3 - "$tmp/filter" "$hosts" <<'EOF'
import sys
path, want = sys.argv[1], int(sys.argv[2] or 0)
tail, terms = " or net 10.0.0.0/8", []
while True:
    t = "host 1.1.%d.%d" % (len(terms) // 250, len(terms) % 250 + 1)
    if want and len(terms) == want:
        break
    if not want and len(" or ".join(terms + [t]) + tail) > 8190:
        break
    terms.append(t)
open(path, "w").write(" or ".join(terms) + tail)
EOF
echo "tenants.sh: B's filter: $(wc -c <"$tmp/filter") bytes, $(grep -o host "$tmp/filter" | wc -l) hosts" >&2

record() { # ROUND MODE CONDITION JSON
	echo "{\"round\":$1,\"mode\":\"$2\",\"condition\":\"$3\",\"result\":$4}" | tee -a "$raw" >&2
}

# vcapd with the two tenants and source s at PPS (0: flat out)
start_vcapd() {
	cat >"$tmp/vcapd.conf" <<EOF
source s synth:size=64,pps=$1,flows=1024,cpu=0
tenant a socket $tmp/a.sock
tenant a allow s
tenant b socket $tmp/b.sock
tenant b allow s
EOF
	vcapd_start -w "$tmp/a.sock" -w "$tmp/b.sock" --config "$tmp/vcapd.conf" || exit 1
}

# tenant B's load, in place once it says "ready"; it holds its ring until
# its stdin (fd 3 here) closes
start_load() {
	exec 3> >(VCAP_SOCKET="$tmp/b.sock" "$B/bench/tenant_load" -d host:s -f "$tmp/filter" \
		-n 1024 >"$tmp/load.out" 2>"$tmp/load.err")
	load_pid=$!
	until grep -q ready "$tmp/load.out" 2>/dev/null; do
		if ! kill -0 "$load_pid" 2>/dev/null; then
			echo "tenants.sh: tenant_load failed:" >&2
			cat "$tmp/load.err" >&2
			exit 1
		fi
		sleep 0.1
	done
}

stop_load() {
	exec 3>&-
	wait "$load_pid" 2>/dev/null || true
	load_pid=
}

# A's consumer for secs; vcapctl status --json half way (its ring is gone
# once it exits; on a machine this busy, a process takes a while to start).  Prints {"a":VCAPCOUNT,"status":STATUS}.
run_a() {
	VCAP_SOCKET="$tmp/a.sock" "$B/tools/vcapcount" -i host:s -g 1 -d "$secs" -q --json \
		>"$tmp/a.json" &
	local a=$!
	sleep "$half"
	VCAP_SOCKET="$tmp/vcapd.sock" "$B/tools/vcapctl" status --json >"$tmp/status.json"
	wait "$a"
	echo "{\"a\":$(cat "$tmp/a.json"),\"status\":$(cat "$tmp/status.json")}"
}

echo "tenants.sh: $rounds rounds of $secs s per point, paced at $pps pps; raw results in $raw" >&2
for round in $(seq 1 "$rounds"); do
	for mode in flat paced; do
		[ "$mode" = flat ] && rate=0 || rate=$pps
		start_vcapd "$rate"
		# alternate which condition goes first
		if [ $((round % 2)) = 1 ]; then order="alone loaded"; else order="loaded alone"; fi
		for cond in $order; do
			[ "$cond" = loaded ] && start_load
			record "$round" "$mode" "$cond" "$(run_a)"
			[ "$cond" = loaded ] && stop_load
		done
		vcapd_stop
	done
done

python3 bench/report_tenants.py "$raw" "$out/tenants.md" "$pps" \
	"$(grep -o host "$tmp/filter" | wc -l)" "$(wc -c <"$tmp/filter")" \
	"bench/tenants.sh -r $rounds -d $secs -p $pps${hosts:+ -H $hosts}"
