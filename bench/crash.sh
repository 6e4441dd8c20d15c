#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# crash.sh - the pause a host consumer sees when vcapd is killed (kill -9)
# and started again at once, as systemd's Restart=always with RestartSec=0
# would: the script itself starts the same command line again as soon as
# the killed vcapd has been reaped.
#
# The source is a paced generator (synth, 64 B, PPS packets/s); the consumer
# (bench/crash_gap.c) reads it with VCAP_OPEN_RECONNECT and reports, for
# each restart, the largest pause between two packet arrivals around it,
# libvcap's own gap (gap_ns: hang-up noticed to new ring in place) and the
# packets certainly lost.  The script adds how long vcapd took from the
# kill to answering on its socket again.
#
#   usage: bench/crash.sh [-r ROUNDS] [-p PPS] [-o OUTDIR]
#   writes: OUTDIR/crash.jsonl (one line per round), OUTDIR/crash.md
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3
pps=100000
out=docs/bench
while getopts r:p:o: opt; do
	case $opt in
	r) rounds=$OPTARG ;;
	p) pps=$OPTARG ;;
	o) out=$OPTARG ;;
	*) echo "usage: bench/crash.sh [-r ROUNDS] [-p PPS] [-o OUTDIR]" >&2; exit 2 ;;
	esac
done
B=${VCAP_BUILD_DIR:-build}
[ -x "$B/bench/crash_gap" ] && [ -x "$B/daemon/vcapd" ] ||
	{ echo "crash.sh: build first (ninja -C $B)" >&2; exit 1; }
mkdir -p "$out"
tmp=$(mktemp -d /tmp/vcap-crash-XXXXXX)
export VCAP_SOCKET=$tmp/vcapd.sock
vcapd_pid=
cleanup() {
	rm -rf "$tmp"
}
trap cleanup EXIT

# The rounds, in Python: it holds vcapd as its child, so that it can start
# it again the moment the killed one is reaped, and time the restart
# precisely (a connect() every 0.5 ms, not a process per poll).
python3 - "$B" "$VCAP_SOCKET" "$pps" "$rounds" "$tmp" <<'PY'
import json, os, signal, socket, subprocess, sys, time

B, sock, pps, rounds, tmp = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
log = open(os.path.join(tmp, "vcapd.log"), "ab")
cmd = [B + "/daemon/vcapd", "--foreground", "--socket", sock,
       "--source", "g=synth:size=64,pps=%d,flows=1024" % pps]

def wait_for(secs, what, fn):
    end = time.monotonic() + secs
    while not fn():
        if time.monotonic() > end:
            sys.exit("crash.sh: %s: not within %d s" % (what, secs))
        time.sleep(0.0005)

def listening():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        s.connect(sock)
        return True
    except OSError:
        return False
    finally:
        s.close()

def flowing():  # a ring of the running vcapd has delivered packets (column 8)
    out = subprocess.run([B + "/tools/vcapctl", "status"], capture_output=True, text=True).stdout
    return any(l.split()[0].isdigit() and int(l.split()[7]) > 0
               for l in out.splitlines() if len(l.split()) > 7)

def restarts_seen(n):
    try:
        return sum('"restart"' in l for l in open(os.path.join(tmp, "gap.jsonl"))) >= n
    except OSError:
        return False

vcapd = subprocess.Popen(cmd, stderr=log)
wait_for(10, "vcapd listening", listening)
gap = subprocess.Popen([B + "/bench/crash_gap", "host:g", str(rounds), str(pps // 2)],
                       stdout=open(os.path.join(tmp, "gap.jsonl"), "w"))
up = []
for r in range(1, rounds + 1):
    wait_for(20, "packets flowing", flowing)
    time.sleep(0.5)  # traffic well under way before the crash: the scenario, not a wait
    t0 = time.monotonic()
    vcapd.send_signal(signal.SIGKILL)
    vcapd.wait()
    vcapd = subprocess.Popen(cmd, stderr=log)
    wait_for(10, "vcapd listening again", listening)
    up.append((time.monotonic() - t0) * 1000)
    wait_for(20, "the consumer's restart %d" % r, lambda: restarts_seen(r))
if gap.wait(timeout=60) != 0:
    sys.exit("crash.sh: crash_gap failed")
vcapd.terminate()
vcapd.wait()
with open(os.path.join(tmp, "up.txt"), "w") as f:
    for u in up:
        f.write("%.1f\n" % u)
PY
vcapd_pid=

: >"$out/crash.jsonl"
paste -d' ' <(grep '"restart"' "$tmp/gap.jsonl") "$tmp/up.txt" | while read -r line up; do
	echo "${line%\}},\"vcapd_up_ms\":$up,\"pps\":$pps}" >>"$out/crash.jsonl"
done
summary=$(tail -n 1 "$tmp/gap.jsonl")
{
	echo "# The pause a host consumer sees across a vcapd crash"
	echo
	echo "\`bench/crash.sh -r $rounds -p $pps\` on $(nproc) CPUs ($(uname -r)), $(date -u +%Y-%m-%d)."
	echo "vcapd serves \`g=synth:size=64,pps=$pps,flows=1024\`; one host consumer"
	echo "(\`bench/crash_gap.c\`, \`VCAP_OPEN_RECONNECT\`, watermark 1) reads it."
	echo "Each round: \`kill -9\` vcapd during traffic, and the script starts the same"
	echo "command again as soon as the killed one is reaped, as systemd's"
	echo "\`Restart=always\` with \`RestartSec=0\` would (systemd's default RestartSec"
	echo "is 100 ms: add it to the pause)."
	echo
	echo "| round | pause seen (largest gap between arrivals, ms) | libvcap gap_ns (ms) | vcapd up again after kill (ms) | restart_lost |"
	echo "|---|---|---|---|---|"
	python3 -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    print("| %d | %.1f | %.1f | %.1f | %d |" % (r["restart"], r["pause_ms"], r["gap_ms"], r["vcapd_up_ms"], r["restart_lost"]))
' "$out/crash.jsonl"
	echo
	echo "Totals over the run: \`$summary\`"
	echo
	echo "*pause seen* is what the program lives through: from the last packet of"
	echo "the old ring to the first of the new.  *gap_ns* is libvcap's count of"
	echo "the time without a ring (hang-up noticed, old ring read, to new ring in"
	echo "place).  *vcapd up* is the script's own measure, from the kill to the"
	echo "new vcapd accepting a connection (a connect() every 0.5 ms).  The pause"
	echo "is vcapd's start-up plus up to one retry"
	echo "interval (libvcap tries at once, then after 5, 10, 20 ... ms, at most"
	echo "250 ms apart), plus opening the ring (its pages populated) and the"
	echo "generator's next release.  Packets"
	echo "the source produced while no vcapd ran were captured by no one and are"
	echo "in no counter; *restart_lost* counts only what an old ring's counters"
	echo "show vcapd had taken but not judged or delivered."
} >"$out/crash.md"
cat "$out/crash.md"
