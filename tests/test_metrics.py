#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_metrics.py - vcapd's Prometheus endpoint (daemon/metrics.c) on real parts.

    test_metrics.py SCENARIO      (run by meson, suite 'metrics')

  scrape      scraped with urllib: promtool accepts the text; every ring and
              source counter equals what `vcapctl status --json` says (exactly
              once the sources have ended, between two readings while one
              runs); counters move; a tenant's totals keep its closed rings;
              a client named with quotes, a backslash and a byte that is not
              UTF-8 comes out escaped and valid
  http        404, 405, HEAD, 400 for garbage (at once, not at the deadline),
              431 for an oversized request, a reader too slow for the answer
  hostile     a slowloris does not delay vcapctl and is closed at its
              deadline; connections past the cap get 503 and the control
              socket stays quick; the endpoint serves again once they go
  config      `metrics unix:PATH mode=...` (curl --unix-socket), [::1]:0,
              and bad LISTENs, lines and ports refused with clear messages
  prometheus  Debian's prometheus scrapes vcapd every second; its HTTP API
              returns the count a finite generator delivered, exactly

Every wait is a poll with a deadline; every process and file is cleaned up.
"""
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

B = os.environ.get("VCAP_BUILD_DIR", ".")
VCAPD = os.path.join(B, "daemon", "vcapd")
VCAPCTL = os.path.join(B, "tools", "vcapctl")
HOLDER = os.path.join(B, "tests", "metrics_holder")
DEADLINE_S = 5.0  # METRICS_DEADLINE_MS
MAX_CONNS = 16    # METRICS_MAX_CONNS

procs = []
tmp = tempfile.mkdtemp(prefix="vcap-metrics-")


def cleanup():
    for p in reversed(procs):
        if p.poll() is None:
            p.kill()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    shutil.rmtree(tmp, ignore_errors=True)


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def wait_for(fn, what, timeout=20.0, interval=0.05):
    """Poll fn until it returns something true; fail naming `what` at the deadline."""
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > end:
            fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# ---- vcapd and its consumers ---------------------------------------------------

class Vcapd:
    def __init__(self, args=(), config=None, name="vcapd"):
        self.dir = tempfile.mkdtemp(prefix=name + "-", dir=tmp)
        self.sock = os.path.join(self.dir, "s.sock")
        self.log = os.path.join(self.dir, "log")
        argv = [VCAPD, "--foreground", "--socket", self.sock]
        if config is not None:
            path = os.path.join(self.dir, "vcapd.conf")
            with open(path, "w") as f:
                f.write(config.replace("@DIR@", self.dir))
            argv += ["--config", path]
        argv += list(args)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=log)
        procs.append(self.proc)
        wait_for(self._up, f"vcapd to listen ({' '.join(argv)})")
        m = re.search(r"metrics on (\S+) ", self.text())
        self.metrics = m.group(1) if m else None
        self.port = int(self.metrics.rsplit(":", 1)[1]) if m and "unix:" not in m.group(1) \
            else None

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def _up(self):
        if self.proc.poll() is not None:
            fail(f"vcapd exited {self.proc.returncode}:\n{self.text()}")
        return "listening on" in self.text()

    def status(self):
        """`vcapctl status --json`, and how long it took."""
        t0 = time.monotonic()
        r = subprocess.run([VCAPCTL, "--socket", self.sock, "status", "--json"],
                           capture_output=True, timeout=30)
        took = time.monotonic() - t0
        check(r.returncode == 0, f"vcapctl status: {r.stderr!r}")
        return json.loads(r.stdout.decode("utf-8", errors="replace")), took

    def url(self, path="/metrics"):
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            fail("vcapd did not stop on SIGTERM")
        check(rc == 0, f"vcapd exited {rc}:\n{self.text()}")


class Holder:
    """metrics_holder: rings held open, unread, until close()."""

    def __init__(self, devices, sock, name=None):
        exe = HOLDER
        if name is not None:  # its comm, vcapd's client name, is the name it runs as
            d = tempfile.mkdtemp(prefix="holder-", dir=tmp).encode()
            exe = os.path.join(d, name)
            os.symlink(os.path.abspath(HOLDER).encode(), exe)
        env = dict(os.environ, VCAP_SOCKET=sock)
        self.proc = subprocess.Popen([exe] + list(devices), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env)
        procs.append(self.proc)
        r, _, _ = select.select([self.proc.stdout], [], [], 20)
        line = self.proc.stdout.readline() if r else b""
        check(line == b"ready\n", f"metrics_holder {devices}: {line!r}")

    def close(self):
        self.proc.stdin.close()
        check(self.proc.wait(timeout=20) == 0, "metrics_holder failed")


# ---- HTTP and the text format -----------------------------------------------------

def http(url, method="GET", timeout=10):
    """(status, headers, body) of one request with urllib, errors included."""
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def scrape(v):
    st, hdr, body = http(v.url())
    check(st == 200, f"GET /metrics: {st}")
    check(hdr["Content-Type"].startswith("text/plain; version=0.0.4"),
          f"Content-Type {hdr['Content-Type']}")
    return body


def promtool(body):
    r = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True,
                       timeout=60)
    check(r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(),
          f"promtool check metrics: rc {r.returncode}: {r.stdout!r} {r.stderr!r}")


def unescape_value(s, i):
    """A label value from s[i] (after its opening quote): (value, index after the quote)."""
    out = []
    while s[i] != '"':
        if s[i] == "\\":
            out.append({"n": "\n", "\\": "\\", '"': '"'}[s[i + 1]])
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out), i + 1


def parse(body):
    """[(name, {labels}, value)] of the text format; fails on what it cannot read."""
    text = body.decode("utf-8")  # strict: Prometheus would refuse invalid UTF-8
    out = []
    for line in text.split("\n"):
        if not line or line.startswith("#"):
            continue
        m = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line)
        check(m, f"bad line {line!r}")
        name, i, labels = m.group(0), m.end(), {}
        if line[i] == "{":
            i += 1
            while line[i] != "}":
                k = re.match(r"([a-zA-Z_][a-zA-Z0-9_]*)=\"", line[i:])
                check(k, f"bad labels in {line!r}")
                labels[k.group(1)], i = unescape_value(line, i + k.end())
                if line[i] == ",":
                    i += 1
            i += 1
        check(line[i] == " ", f"no value in {line!r}")
        out.append((name, labels, float(line[i + 1:])))
    return out


def values(samples, name, **labels):
    return [v for n, ls, v in samples
            if n == name and all(ls.get(k) == str(w) for k, w in labels.items())]


def one(samples, name, **labels):
    vs = values(samples, name, **labels)
    check(len(vs) == 1, f"{name}{labels}: {len(vs)} samples")
    return vs[0]


RING_FIELDS = ["received", "delivered", "dropped", "filtered", "shunted", "over_budget"]


def ring_metric(field):
    return f"vcap_ring_{field}_packets_total"


# ---- scenarios ----------------------------------------------------------------------

def scenario_scrape():
    n_gen, n_t = 1000, 700
    v = Vcapd(config="""
source gen synth:size=64,count=%d
source tgen synth:size=80,count=%d
source live synth:size=64,pps=2000
tenant t1 socket @DIR@/t1.sock
tenant t1 allow tgen
metrics 127.0.0.1:0
""" % (n_gen, n_t))
    check(v.port, f"no metrics port in the log:\n{v.text()}")
    weird = b'q"\\\xffz'  # a quote, a backslash, a byte that is not UTF-8
    admin = Holder(["host:gen", "host:live"], v.sock, name=weird)
    tenant = Holder(["host:tgen"], os.path.join(v.dir, "t1.sock"))

    def ended():
        st, _ = v.status()
        rings = {r["source"]: r for r in st["rings"]}
        return (len(rings) == 3 and rings["gen"]["delivered"] == n_gen and
                rings["tgen"]["delivered"] == n_t and rings["live"]["delivered"] > 0)
    wait_for(ended, "both generators to deliver everything")

    before, _ = v.status()
    body = scrape(v)
    after, _ = v.status()
    promtool(body)
    s = parse(body)

    by_id = {r["id"]: r for r in after["rings"]}
    first = {r["id"]: r for r in before["rings"]}
    check(one(s, "vcapd_rings") == 3, "vcapd_rings")
    for rid, r in by_id.items():
        for f in RING_FIELDS:
            got = one(s, ring_metric(f), ring=rid)
            if r["source"] == "live":  # still running: between the two readings
                check(first[rid][f] <= got <= r[f],
                      f"ring {rid} {f}: {got} not in [{first[rid][f]}, {r[f]}]")
            else:
                check(got == r[f], f"ring {rid} {f}: scraped {got}, vcapctl {r[f]}")
        if r["source"] != "live":
            cost = one(s, "vcap_ring_cost_seconds_total", ring=rid)
            check(round(cost * 1e9) == r["filter_ns"],
                  f"ring {rid} cost {cost} s, vcapctl filter_ns {r['filter_ns']}")
            check(round(one(s, "vcap_ring_packet_cost_seconds", ring=rid) * 1e9) ==
                  r["filter_ns"] // r["received"], f"ring {rid} ns/pkt")
        check(one(s, "vcap_ring_size_bytes", ring=rid) == r["ring_size"], "ring size")
        # one consistent snapshot per ring
        rcv = one(s, ring_metric("received"), ring=rid)
        parts = sum(one(s, ring_metric(f), ring=rid) for f in ("delivered", "dropped",
                                                              "filtered"))
        check(rcv == parts, f"ring {rid}: received {rcv} != delivered+dropped+filtered {parts}")
    gen_ring = [r for r in after["rings"] if r["source"] == "gen"][0]
    check(one(s, ring_metric("delivered"), source="gen") == n_gen, "gen delivered")
    labels = [ls for n, ls, _ in s if n == ring_metric("delivered") and ls["source"] == "gen"][0]
    check(labels["client"] == 'q"\\\ufffdz', f"client label {labels['client']!r}")
    check(labels["pid"] == str(admin.proc.pid) == str(gen_ring["pid"]), f"pid {labels}")
    check(labels["account"] == "admin" and "tenant" not in labels, f"labels {labels}")
    t_labels = [ls for n, ls, _ in s if n == ring_metric("delivered") and
                ls["source"] == "tgen"][0]
    check(t_labels["tenant"] == "t1" and t_labels["account"] == "tenant t1",
          f"tenant ring labels {t_labels}")

    srcs = {x["name"]: x for x in after["sources"]}
    src0 = {x["name"]: x for x in before["sources"]}
    for name, x in srcs.items():
        got = one(s, "vcap_source_received_packets_total", source=name)
        check(src0[name]["received"] <= got <= x["received"], f"source {name} received {got}")
        check(one(s, "vcap_source_kernel_drops_total", source=name) == x["kernel_drops"],
              "kernel drops")
        check(one(s, "vcap_source_state", source=name, state=x["state"]) == 1,
              f"source {name} state {x['state']}")
        check(sum(values(s, "vcap_source_state", source=name)) == 1, "one state")
        check(one(s, "vcap_source_up", source=name) == 1, "up")
        check(one(s, "vcap_source_rings", source=name) == x["rings"], "rings")
    check(one(s, "vcap_source_received_packets_total", source="gen") == n_gen, "gen")

    check(one(s, "vcap_account_rings", account="tenant t1") == 1, "t1 rings")
    check(one(s, "vcap_account_sessions", account="tenant t1") == 1, "t1 sessions")
    check(one(s, "vcap_account_delivered_packets_total", account="tenant t1") == n_t, "t1")
    check(one(s, "vcap_account_ring_memory_bytes", account="tenant t1") > 0, "t1 memory")
    check(one(s, "vcap_account_limit", account="tenant t1", resource="rings") == 16, "limit")
    check(one(s, "vcapd_ring_memory_bytes") ==
          sum(one(s, "vcap_account_ring_memory_bytes", account=a) for a in
              ("admin", "tenant t1")), "ring memory adds up")
    # one per handle (3 rings); vcapctl's own ends as it exits
    wait_for(lambda: one(parse(scrape(v)), "vcapd_sessions") == 3, "3 sessions")
    check(one(s, "vcapd_build_info", version="0.1.0") == 1, "build info")
    check(abs(one(s, "vcapd_start_time_seconds") - time.time()) < 600, "start time")

    # counters move: the paced generator's ring, scrape after scrape
    live = one(s, ring_metric("delivered"), source="live")
    wait_for(lambda: one(parse(scrape(v)), ring_metric("delivered"), source="live") > live,
             "the live ring's delivered counter to move")

    # a closed ring's packets stay in its account's totals, which never go back
    tenant.close()
    def tenant_closed():
        s = parse(scrape(v))
        return s if one(s, "vcap_account_rings", account="tenant t1") == 0 else None
    s = wait_for(tenant_closed, "the tenant's ring to close")
    check(one(s, "vcap_account_delivered_packets_total", account="tenant t1") == n_t,
          "t1 delivered after its ring closed")
    check(one(s, "vcap_account_received_packets_total", account="tenant t1") == n_t, "t1 rcv")
    check(not values(s, ring_metric("delivered"), source="tgen"), "closed ring still listed")
    admin.close()
    v.stop()
    print(f"scrape: {len(body)} bytes, counters equal vcapctl's, promtool clean")


def raw(port, data, timeout=10.0, family=socket.AF_INET, addr=None):
    """Send data on a fresh connection, read the answer to its end: (bytes, seconds)."""
    t0 = time.monotonic()
    with socket.socket(family, socket.SOCK_STREAM) as c:
        c.settimeout(timeout)
        c.connect(addr or ("127.0.0.1", port))
        c.sendall(data)
        out = b""
        while True:
            try:
                chunk = c.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
    return out, time.monotonic() - t0


def status_line(resp):
    return resp.split(b"\r\n", 1)[0].decode(errors="replace")


def scenario_http():
    # enough sources that an answer outgrows the socket buffers of a slow reader
    names = [f"s{i:02d}_" + "x" * 56 for i in range(96)]
    conf = "".join(f"source {n} synth:size=64,pps=10\n" for n in names)
    v = Vcapd(args=["--metrics", "127.0.0.1:0"], config=conf)
    port = v.port

    st, _, body = http(v.url("/"))
    check(st == 404, f"GET / -> {st}")
    st, _, _ = http(v.url("/metricsx"))
    check(st == 404, f"GET /metricsx -> {st}")
    st, _, _ = http(v.url("/metrics?x=1"))
    check(st == 200, f"GET /metrics?x=1 -> {st}")
    st, hdr, _ = http(v.url(), method="POST")
    check(st == 405 and "GET" in hdr.get("Allow", ""), f"POST -> {st} {hdr}")
    st, hdr, body = http(v.url(), method="HEAD")
    check(st == 200 and body == b"" and int(hdr["Content-Length"]) > 60000, f"HEAD -> {st}")

    for garbage in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS hello
                    b"GARBAGE\r\n\r\n", b"GET /metrics HTTP/2.0\r\n\r\n",
                    b"GET  /metrics HTTP/1.1\r\n\r\n", b"\r\n\r\n", b"GET /metrics\r\n"):
        resp, took = raw(port, garbage)
        check(status_line(resp) == "HTTP/1.1 400 Bad Request",
              f"{garbage!r} -> {status_line(resp)!r}")
        check(took < DEADLINE_S / 2, f"{garbage!r}: answered after {took:.1f} s")
    resp, took = raw(port, b"GET /metrics HTTP/1.1\r\nX-Long: " + b"a" * 20000 + b"\r\n\r\n")
    check(status_line(resp).startswith("HTTP/1.1 431"), f"oversized -> {status_line(resp)}")
    resp, _ = raw(port, b"GET /metrics HTTP/1.0\n\n")  # bare newlines, HTTP/1.0
    check(status_line(resp) == "HTTP/1.1 200 OK", f"HTTP/1.0 -> {status_line(resp)}")

    # a reader slower than the answer: written as its socket drains, whole
    with socket.socket() as c:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        c.connect(("127.0.0.1", port))
        c.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        c.settimeout(10)
        resp, t0, k = b"", time.monotonic(), 0
        while True:
            # the control socket answers while the answer waits on this reader
            if k % 8 == 0:
                _, took = v.status()
                check(took < 1.0, f"vcapctl status took {took:.2f} s behind a slow reader")
            k += 1
            chunk = c.recv(4096)
            if not chunk:
                break
            resp += chunk
        head, _, body = resp.partition(b"\r\n\r\n")
        length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
        check(length > 60000 and len(body) == length,
              f"slow reader got {len(body)} of {length} bytes")
        promtool(body)
        check(time.monotonic() - t0 < DEADLINE_S, "the slow read outlived the deadline")
    s = parse(scrape(v))
    for code, want in (("404", 2), ("405", 1), ("400", 6), ("431", 1)):
        check(one(s, "vcapd_metrics_responses_total", code=code) == want, f"{code} count")
    v.stop()
    print(f"http: statuses right, slow reader served {length} bytes whole")


def scenario_hostile():
    v = Vcapd(args=["--metrics", "127.0.0.1:0", "--source", "live=synth:pps=1000"])
    port = v.port

    # a slowloris: a byte every 100 ms, never the blank line
    closed_after = []

    def slowloris():
        t0 = time.monotonic()
        with socket.socket() as c:
            c.connect(("127.0.0.1", port))
            c.sendall(b"GET /metrics HTTP/1.1\r\n")
            c.settimeout(0.1)
            try:
                while time.monotonic() - t0 < 3 * DEADLINE_S:
                    c.sendall(b"X")
                    try:
                        if c.recv(1024) == b"":
                            break
                    except socket.timeout:
                        pass
            except (BrokenPipeError, ConnectionResetError):
                pass
        closed_after.append(time.monotonic() - t0)
    th = threading.Thread(target=slowloris)
    th.start()
    worst = 0.0
    while th.is_alive():
        _, took = v.status()
        worst = max(worst, took)
        check(scrape(v), "scrape beside a slowloris")
    th.join()
    check(worst < 1.0, f"vcapctl status took {worst:.2f} s beside a slowloris")
    check(closed_after and DEADLINE_S - 0.5 <= closed_after[0] <= DEADLINE_S + 2.0,
          f"slowloris closed after {closed_after} s (deadline {DEADLINE_S} s)")
    check(one(parse(scrape(v)), "vcapd_metrics_timeouts_total") == 1, "timeouts counted")

    # the cap: MAX_CONNS idle connections hold every slot, more are refused
    idle = []
    for _ in range(MAX_CONNS):
        c = socket.socket()
        c.connect(("127.0.0.1", port))
        idle.append(c)

    def capped():
        resp, _ = raw(port, b"")
        return resp if status_line(resp).startswith("HTTP/1.1 503") else None
    wait_for(capped, "a connection past the cap to be answered 503")
    extra = [raw(port, b"")[0] for _ in range(50)]
    check(all(status_line(r).startswith("HTTP/1.1 503") for r in extra),
          f"past the cap: {set(status_line(r) for r in extra)}")
    _, took = v.status()
    check(took < 1.0, f"vcapctl status took {took:.2f} s with the cap reached")
    for c in idle:
        c.close()
    s = parse(wait_for(lambda: (lambda r: r[1] if r[0] == 200 else None)(http(v.url())[::2]),
                       "the endpoint to serve again once the idle connections left"))
    check(one(s, "vcapd_metrics_responses_total", code="503") >= 51, "503 counted")
    promtool(scrape(v))
    v.stop()
    print(f"hostile: vcapctl at most {worst * 1000:.0f} ms beside a slowloris, "
          f"closed after {closed_after[0]:.1f} s; cap holds")


def expect_refusal(args, config, want_rc, text):
    d = tempfile.mkdtemp(prefix="bad-", dir=tmp)
    argv = [VCAPD, "--foreground", "--socket", os.path.join(d, "s.sock")] + args
    if config is not None:
        path = os.path.join(d, "bad.conf")
        with open(path, "w") as f:
            f.write(config)
        argv += ["--config", path]
        text = text.replace("@CONF@", path)
    r = subprocess.run(argv, capture_output=True, timeout=30)
    err = r.stderr.decode(errors="replace")
    check(r.returncode == want_rc and text in err,
          f"{argv}: exit {r.returncode} (want {want_rc}), wanted {text!r} in {err!r}")
    print(f"ok: {err.strip().splitlines()[0]}")


def scenario_config():
    path = os.path.join(tmp, "m", "metrics.sock")
    os.makedirs(os.path.dirname(path))
    open(path, "w").close()  # a stale file in the way is not a socket: refused
    expect_refusal([], f"metrics unix:{path}\n", 1, f"unix:{path}: Address already in use")
    os.unlink(path)
    v = Vcapd(config=f"source gen synth:size=64,count=10\nmetrics unix:{path} mode=0640\n")
    check(oct(os.stat(path).st_mode & 0o777) == "0o640", f"mode {oct(os.stat(path).st_mode)}")
    r = subprocess.run(["curl", "-sS", "--max-time", "10", "--unix-socket", path,
                        "http://localhost/metrics"], capture_output=True, timeout=30)
    check(r.returncode == 0 and b"vcap_source_received_packets_total" in r.stdout,
          f"curl --unix-socket: {r.returncode} {r.stderr!r}")
    promtool(r.stdout)
    v.stop()
    check(not os.path.exists(path), "the metrics socket was left behind")

    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        v6 = Vcapd(args=["--metrics", "[::1]:0"])
        check(v6.metrics.startswith("[::1]:"), f"v6: {v6.metrics}")
        port = int(v6.metrics.rsplit(":", 1)[1])
        resp, _ = raw(0, b"GET /metrics HTTP/1.1\r\n\r\n", family=socket.AF_INET6,
                      addr=("::1", port))
        check(status_line(resp) == "HTTP/1.1 200 OK", f"[::1]: {status_line(resp)}")
        v6.stop()
    except OSError:
        print("no IPv6 on lo: [::1] not tried")

    expect_refusal(["--metrics", "localhost:9100"], None, 2,
                   '"localhost" is not an IPv4 address')
    expect_refusal(["--metrics", "127.0.0.1"], None, 2, "expected HOST:PORT")
    expect_refusal(["--metrics", "127.0.0.1:70000"], None, 2, '"70000" is not a port')
    expect_refusal(["--metrics", "[::1:80"], None, 2, "expected HOST:PORT")
    expect_refusal(["--metrics", "unix:relative"], None, 2, "absolute path")
    expect_refusal([], "source a synth:\nmetrics 127.0.0.1:0 mode=0600\n", 1,
                   "@CONF@:2: metrics 127.0.0.1:0: owner=, group= and mode= are for a unix:")
    expect_refusal([], "metrics\n", 1, "@CONF@:1: expected: metrics HOST:PORT")
    expect_refusal([], "metrics 1.2.3:80\n", 1, '@CONF@:1: metrics 1.2.3:80: "1.2.3" is not')
    expect_refusal([], f"metrics unix:{path} colour=red\n", 1, 'unknown socket option "colour"')
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        expect_refusal(["--metrics", f"127.0.0.1:{port}"], None, 1,
                       f"metrics 127.0.0.1:{port}: address already in use")
    r = subprocess.run([VCAPD, "--help"], capture_output=True, timeout=30)
    check(b"--metrics LISTEN" in r.stdout, "--help does not show --metrics")
    print("config: unix socket with its mode, [::1], bad input refused")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scenario_prometheus():
    prom = shutil.which("prometheus")
    check(prom, "prometheus is not installed (scripts/deps.sh installs it)")
    n = 5000
    v = Vcapd(args=["--metrics", "127.0.0.1:0", "--source", f"gen=synth:size=64,count={n}"])
    holder = Holder(["host:gen"], v.sock, name=b'p"\\\xfe\n')  # a name Prometheus must take

    def delivered():
        st, _ = v.status()
        return st["rings"] and st["rings"][0]["delivered"] == n
    wait_for(delivered, f"the generator to deliver {n} packets")

    pdir = tempfile.mkdtemp(prefix="prometheus-", dir=tmp)
    conf = os.path.join(pdir, "prometheus.yml")
    with open(conf, "w") as f:
        f.write(f"""global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: vcap
    static_configs:
      - targets: ['127.0.0.1:{v.port}']
""")
    for attempt in range(3):  # a free port may be taken before prometheus binds it
        pport = free_port()
        log = open(os.path.join(pdir, "log"), "wb")
        p = subprocess.Popen([prom, f"--config.file={conf}",
                              f"--storage.tsdb.path={os.path.join(pdir, 'data')}",
                              f"--web.listen-address=127.0.0.1:{pport}", "--log.level=warn"],
                             stdout=log, stderr=log, cwd=pdir)
        procs.append(p)

        def ready():
            if p.poll() is not None:
                return "exited"
            try:
                return http(f"http://127.0.0.1:{pport}/-/ready", timeout=2)[0] == 200
            except OSError:
                return False
        if wait_for(ready, "prometheus to be ready", timeout=60) is True:
            break
    else:
        with open(os.path.join(pdir, "log"), errors="replace") as f:
            fail(f"prometheus did not start:\n{f.read()}")

    def query(q):
        url = f"http://127.0.0.1:{pport}/api/v1/query?" + urllib.parse.urlencode({"query": q})
        st, _, body = http(url)
        check(st == 200, f"query {q}: {st} {body[:200]!r}")
        r = json.loads(body)
        check(r["status"] == "success", f"query {q}: {r}")
        return r["data"]["result"]

    def scraped():
        res = query('vcap_ring_delivered_packets_total{source="gen"}')
        return res if res and float(res[0]["value"][1]) == n else None
    res = wait_for(scraped, f"Prometheus to hold delivered_total == {n}", timeout=90,
                   interval=0.25)
    check(res[0]["metric"]["client"] == 'p"\\\ufffd', f"client {res[0]['metric']}")
    check(res[0]["metric"]["job"] == "vcap", f"labels {res[0]['metric']}")
    up = query('up{job="vcap"}')
    check(up and up[0]["value"][1] == "1", f"up: {up}")
    for q, want in ((f'vcap_source_received_packets_total{{source="gen"}}', n),
                    ('vcap_account_delivered_packets_total{account="admin"}', n),
                    ('vcap_ring_received_packets_total{source="gen"}', n),
                    ('vcap_ring_dropped_packets_total{source="gen"}', 0),
                    ('vcapd_rings', 1)):
        r = wait_for(lambda: query(q), q)
        check(float(r[0]["value"][1]) == want, f"{q} = {r[0]['value'][1]}, want {want}")
    st, _, body = http(f"http://127.0.0.1:{pport}/api/v1/targets")
    t = json.loads(body)["data"]["activeTargets"][0]
    check(t["health"] == "up" and not t["lastError"], f"target {t}")
    holder.close()
    v.stop()
    print(f"prometheus: scraped every 1 s; delivered_total == {n} in its API, "
          f"target healthy")


SCENARIOS = {
    "scrape": scenario_scrape,
    "http": scenario_http,
    "hostile": scenario_hostile,
    "config": scenario_config,
    "prometheus": scenario_prometheus,
}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in SCENARIOS:
        print(f"usage: test_metrics.py {'|'.join(SCENARIOS)}", file=sys.stderr)
        sys.exit(2)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        SCENARIOS[sys.argv[1]]()
    finally:
        cleanup()
