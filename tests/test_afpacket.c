/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_afpacket.c - source/afpacket.c against real frames on a veth pair.
 *
 * Two network namespaces of our own, vcta-<pid>-cap and vcta-<pid>-peer,
 * hold the ends of a veth pair: vcta0 (captured, in cap) and vcta1 (in
 * peer).  A second pair, vctd0/vctd1, lives wholly in cap and carries
 * noise that must never show up in a capture of vcta0.  IPv6 is off in both
 * namespaces so the kernel sends nothing of its own; nothing is connected
 * to the host, so no frame leaves.  This process moves into cap with
 * setns(); senders are forked children that move into peer and write frames
 * with a plain AF_PACKET socket.
 *
 * Every frame carries a magic, a run id and a sequence number, and is a
 * pure function of them, so the reader checks each byte it gets.  Senders
 * are pinned to one CPU: veth hands each frame to that CPU's backlog, so
 * one CPU keeps them in order.
 *
 * Exit 0: pass; 77: skipped (not root); anything else: a failure, said on
 * stderr.  Namespaces are removed at exit, on a signal or on the watchdog,
 * and stale ones of dead runs are removed first.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/filter.h>
#undef BPF_STMT /* pcap/bpf.h spells these its own way */
#undef BPF_JUMP
#include <netpacket/packet.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "afpacket.h"

#define NS_PREFIX "vcta-"
#define NETNS_DIR "/run/netns"
#define IF_CAP "vcta0"   /* captured end, in cap */
#define IF_PEER "vcta1"  /* sending end, in peer */
#define IF_NOISE "vctd0" /* second pair, both ends in cap */
#define IF_NOISE_TX "vctd1"

#define ETH_P_VCTA 0x88b5 /* IEEE local experimental */
#define VCTA_MAGIC 0x56435441u
#define FRAME_MAX 1514u
#define FRAME_MIN 60u
#define WATCHDOG_S 55

static char ns_cap[64], ns_peer[64];
static pid_t owner; /* only this process removes namespaces */
static int pin_cpu = -1;
static pid_t noise_pid; /* a sender that runs until killed */

/* ---- failing and cleaning up ---- */

static void remove_ns(const char *name)
{
	char path[128];

	/* what `ip netns del` does, and async-signal-safe */
	snprintf(path, sizeof(path), NETNS_DIR "/%s", name);
	umount2(path, MNT_DETACH);
	unlink(path);
}

static void cleanup(void)
{
	if (getpid() != owner)
		return;
	if (noise_pid > 0)
		kill(noise_pid, SIGKILL);
	if (ns_cap[0])
		remove_ns(ns_cap);
	if (ns_peer[0])
		remove_ns(ns_peer);
}

static void on_signal(int sig)
{
	static const char msg[] = "test_afpacket: FAIL: killed by a signal or the watchdog\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0) {
		/* nothing more to say */
	}
	cleanup();
	_exit(1);
}

static void __attribute__((noreturn, format(printf, 2, 3))) fail(int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "test_afpacket:%d: FAIL: ", line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (getpid() != owner)
		_exit(1);
	exit(1);
}

#define FAIL(...) fail(__LINE__, __VA_ARGS__)
#define CHECK(cond, ...)                        \
	do {                                    \
		if (!(cond))                    \
			fail(__LINE__, __VA_ARGS__); \
	} while (0)

static void __attribute__((format(printf, 1, 2))) run(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	CHECK(st == 0, "`%s` failed (status %d)", cmd, st);
}

/* Remove namespaces left by runs whose process is gone. */
static void remove_stale(void)
{
	DIR *d = opendir(NETNS_DIR);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		int pid;

		if (sscanf(e->d_name, NS_PREFIX "%d-", &pid) != 1 || pid <= 0)
			continue;
		if (kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		fprintf(stderr, "test_afpacket: removing stale namespace %s\n", e->d_name);
		remove_ns(e->d_name);
	}
	closedir(d);
}

static void enter_ns(const char *name)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), NETNS_DIR "/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
	CHECK(setns(fd, CLONE_NEWNET) == 0, "setns %s: %s", name, strerror(errno));
	close(fd);
}

static void setup_namespaces(void)
{
	const char *quiet = "net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1";

	snprintf(ns_cap, sizeof(ns_cap), NS_PREFIX "%d-cap", (int)owner);
	snprintf(ns_peer, sizeof(ns_peer), NS_PREFIX "%d-peer", (int)owner);
	run("ip netns add %s", ns_cap);
	run("ip netns add %s", ns_peer);
	/* before any device exists, so none ever sends DAD, RS or MLD */
	run("ip netns exec %s sysctl -q -e -w %s", ns_cap, quiet);
	run("ip netns exec %s sysctl -q -e -w %s", ns_peer, quiet);
	run("ip -n %s link add " IF_CAP " type veth peer name " IF_PEER " netns %s", ns_cap,
	    ns_peer);
	run("ip -n %s link add " IF_NOISE " type veth peer name " IF_NOISE_TX, ns_cap);
	run("ip -n %s link set " IF_CAP " up", ns_cap);
	run("ip -n %s link set " IF_PEER " up", ns_peer);
	run("ip -n %s link set " IF_NOISE " up", ns_cap);
	run("ip -n %s link set " IF_NOISE_TX " up", ns_cap);
	enter_ns(ns_cap);
}

/* ---- frames ---- */

struct run_spec {
	uint32_t run;        /* id in every frame */
	uint32_t first;      /* first sequence number */
	uint32_t count;
	uint32_t vlan_every; /* 0: no tags; n: seq % n == 3 carries an 802.1Q tag */
	uint32_t size;       /* 0: mixed 60..1514, else every frame this size */
	uint32_t even_only;  /* oracle: a filter passes only even sequence numbers */
};

static uint32_t frame_size(const struct run_spec *r, uint32_t seq)
{
	return r->size ? r->size : FRAME_MIN + (seq * 7919u) % (FRAME_MAX - FRAME_MIN + 1);
}

static bool frame_tagged(const struct run_spec *r, uint32_t seq)
{
	return r->vlan_every && seq % r->vlan_every == 3;
}

static void put_be16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, v >> 16);
	put_be16(p + 2, v);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Frame seq of run r into buf.  @return its length. */
static uint32_t build_frame(const struct run_spec *r, uint32_t seq, uint8_t *buf)
{
	static const uint8_t dst[6] = { 0x02, 0x76, 0x63, 0x74, 0x61, 0x00 };
	static const uint8_t src[6] = { 0x02, 0x76, 0x63, 0x74, 0x61, 0x01 };
	uint32_t len = frame_size(r, seq), at = 12;

	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
	if (frame_tagged(r, seq)) {
		put_be16(buf + at, 0x8100);
		put_be16(buf + at + 2, (seq % 8) << 13 | (seq % 4094 + 1)); /* PCP, VID */
		at += 4;
	}
	put_be16(buf + at, ETH_P_VCTA);
	at += 2;
	put_be32(buf + at, VCTA_MAGIC);
	put_be32(buf + at + 4, r->run);
	put_be32(buf + at + 8, seq);
	for (uint32_t i = at + 12; i < len; i++)
		buf[i] = (uint8_t)(seq * 31u + i * 7u);
	return len;
}

/* ---- senders ---- */

struct send_job {
	const char *ns;     /* namespace to send from (NULL: this one) */
	const char *ifname;
	struct run_spec r;
	bool retry;         /* resend a frame the receiving side refused (ENOBUFS) */
	bool forever;       /* loop over the run until killed (noise) */
};

struct send_result {
	uint64_t ok;      /* frames the veth accepted */
	uint64_t refused; /* ENOBUFS: the peer's backlog was full */
};

struct sender {
	pid_t pid;
	int rfd;
};

static void pin_to_cpu(void)
{
	cpu_set_t set;

	if (pin_cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(pin_cpu, &set);
	CHECK(sched_setaffinity(0, sizeof(set), &set) == 0, "sched_setaffinity: %s",
	      strerror(errno));
}

static int raw_socket(const char *ifname, struct sockaddr_ll *to)
{
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0); /* 0: receives nothing */

	CHECK(fd >= 0, "sender socket: %s", strerror(errno));
	memset(to, 0, sizeof(*to));
	to->sll_family = AF_PACKET;
	to->sll_ifindex = (int)if_nametoindex(ifname);
	to->sll_halen = 6;
	CHECK(to->sll_ifindex > 0, "sender: no interface %s", ifname);
	return fd;
}

/* Send j's frames from the calling process. */
static struct send_result send_frames(const struct send_job *j)
{
	static uint8_t buf[FRAME_MAX + 4];
	struct send_result res = { 0, 0 };
	struct sockaddr_ll to;
	int fd = raw_socket(j->ifname, &to);

	do {
		for (uint32_t i = 0; i < j->r.count; i++) {
			uint32_t seq = j->r.first + i;
			uint32_t len = build_frame(&j->r, seq, buf);

			for (;;) {
				if (sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to)) ==
				    (ssize_t)len) {
					res.ok++;
					break;
				}
				CHECK(errno == ENOBUFS, "sendto %s: %s", j->ifname,
				      strerror(errno));
				res.refused++;
				if (!j->retry)
					break;
				usleep(100);
			}
		}
	} while (j->forever);
	close(fd);
	return res;
}

static struct sender start_sender(const struct send_job *j)
{
	struct sender s;
	int p[2];

	CHECK(pipe(p) == 0, "pipe: %s", strerror(errno));
	s.pid = fork();
	CHECK(s.pid >= 0, "fork: %s", strerror(errno));
	if (s.pid == 0) {
		struct send_result res;

		close(p[0]);
		/* never outlive the test, whatever way it ends */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != owner)
			_exit(3);
		if (j->ns)
			enter_ns(j->ns);
		pin_to_cpu();
		res = send_frames(j);
		if (write(p[1], &res, sizeof(res)) != (ssize_t)sizeof(res))
			_exit(2);
		_exit(0);
	}
	close(p[1]);
	s.rfd = p[0];
	return s;
}

static bool sender_done(const struct sender *s)
{
	struct pollfd pfd = { .fd = s->rfd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1;
}

static struct send_result finish_sender(struct sender *s)
{
	struct send_result res;
	int st;

	CHECK(read(s->rfd, &res, sizeof(res)) == (ssize_t)sizeof(res), "sender %d died",
	      (int)s->pid);
	close(s->rfd);
	CHECK(waitpid(s->pid, &st, 0) == s->pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "sender %d failed", (int)s->pid);
	return res;
}

static void stop_sender(struct sender *s)
{
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	close(s->rfd);
}

/* ---- reading and checking ---- */

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* What a reader expects of a run, and what it has seen of it. */
struct tally {
	const struct run_spec *r;
	uint32_t snaplen;
	bool contiguous;   /* no gaps allowed (no drops, no filter) */
	uint64_t got;
	int64_t last_seq;
	uint64_t last_ts;
	uint64_t t_lo;     /* every timestamp must be at or after this */
	uint32_t ifindex;
};

static void tally_init(struct tally *t, const struct run_spec *r, uint32_t snaplen,
		       bool contiguous)
{
	memset(t, 0, sizeof(*t));
	t->r = r;
	t->snaplen = snaplen;
	t->contiguous = contiguous;
	t->last_seq = (int64_t)r->first - 1;
	t->t_lo = realtime_ns() - 1000000000u; /* a second of slack for clock steps */
	t->ifindex = if_nametoindex(IF_CAP);
}

/* Check one captured packet against the frame it says it is. */
static void check_packet(struct tally *t, const struct vcap_pkt_meta *m, const uint8_t *d)
{
	static uint8_t want[FRAME_MAX + 4];
	uint32_t at = 12, seq, len, caplen;

	CHECK(m->caplen >= 30, "packet %llu: caplen %u too short to identify",
	      (unsigned long long)t->got, m->caplen);
	if (d[12] == 0x81 && d[13] == 0x00)
		at += 4;
	CHECK(d[at] == (ETH_P_VCTA >> 8) && d[at + 1] == (ETH_P_VCTA & 0xff) &&
		      get_be32(d + at + 2) == VCTA_MAGIC && get_be32(d + at + 6) == t->r->run,
	      "packet %llu (caplen %u) is not from run %u: a stray frame leaked into the ring",
	      (unsigned long long)t->got, m->caplen, t->r->run);
	seq = get_be32(d + at + 10);
	CHECK(seq >= t->r->first && seq < t->r->first + t->r->count, "seq %u outside the run", seq);
	if (t->contiguous)
		CHECK((int64_t)seq == t->last_seq + 1, "seq %u after %lld: lost or reordered", seq,
		      (long long)t->last_seq);
	else
		CHECK((int64_t)seq > t->last_seq, "seq %u after %lld: reordered", seq,
		      (long long)t->last_seq);
	if (t->r->even_only)
		CHECK(seq % 2 == 0, "seq %u passed a filter for even numbers", seq);

	len = build_frame(t->r, seq, want);
	caplen = len < t->snaplen ? len : t->snaplen;
	CHECK(m->wirelen == len, "seq %u: wirelen %u, sent %u", seq, m->wirelen, len);
	CHECK(m->caplen == caplen, "seq %u: caplen %u, expected %u (snaplen %u)", seq, m->caplen,
	      caplen, t->snaplen);
	CHECK(memcmp(d, want, caplen) == 0, "seq %u: bytes differ from what was sent%s", seq,
	      frame_tagged(t->r, seq) ? " (802.1Q-tagged frame)" : "");
	CHECK(m->ifindex == t->ifindex, "seq %u: ifindex %u, expected %u", seq, m->ifindex,
	      t->ifindex);
	CHECK(m->hash == 0, "seq %u: hash %u", seq, m->hash);
	CHECK(m->ts_ns >= t->last_ts, "seq %u: timestamp went back by %llu ns", seq,
	      (unsigned long long)(t->last_ts - m->ts_ns));
	CHECK(m->ts_ns >= t->t_lo && m->ts_ns <= realtime_ns() + 1000000000u,
	      "seq %u: timestamp %llu not near now", seq, (unsigned long long)m->ts_ns);
	t->last_ts = m->ts_ns;
	t->last_seq = seq;
	t->got++;
}

/* Read and release one burst.  @return packets read. */
static unsigned read_burst(struct vcap_afp *a, struct tally *t)
{
	struct vcap_pkt_meta meta[64];
	const uint8_t *data[64];
	int n = vcap_afp_read(a, meta, data, 64);

	CHECK(n >= 0 && n <= 64, "vcap_afp_read returned %d", n);
	for (int i = 0; i < n; i++)
		check_packet(t, &meta[i], data[i]);
	vcap_afp_release(a);
	return (unsigned)n;
}

/*
 * Read until `want` packets have come (or, want 0, until none comes for
 * quiet_ms), then make sure nothing more arrives within quiet_ms.  A sender,
 * if given, is still running; its result goes to *res.
 */
static void collect(struct vcap_afp *a, struct tally *t, uint64_t want, int quiet_ms,
		    struct sender *s, struct send_result *res)
{
	uint64_t deadline = mono_ms() + 20000, last = mono_ms();

	for (;;) {
		int w = vcap_afp_wait(a, 20);

		CHECK(w >= 0, "vcap_afp_wait: %s", strerror(-w));
		if (read_burst(a, t))
			last = mono_ms();
		if (s && s->pid && sender_done(s)) {
			*res = finish_sender(s);
			s->pid = 0;
		}
		if (!(s && s->pid) &&
		    (want ? t->got >= want : mono_ms() - last >= (uint64_t)quiet_ms))
			break;
		CHECK(mono_ms() < deadline, "got %llu of %llu packets in 20 s",
		      (unsigned long long)t->got, (unsigned long long)want);
	}
	/* nothing more may come: no duplicates, no strays */
	last = mono_ms();
	while (mono_ms() - last < (uint64_t)quiet_ms) {
		int w = vcap_afp_wait(a, quiet_ms);

		CHECK(w >= 0, "vcap_afp_wait: %s", strerror(-w));
		CHECK(read_burst(a, t) == 0 || !want, "more than the %llu packets expected",
		      (unsigned long long)want);
	}
	if (want)
		CHECK(t->got == want, "got %llu packets, expected %llu", (unsigned long long)t->got,
		      (unsigned long long)want);
}

static struct vcap_afp *open_ok(const char *ifname, const struct vcap_afp_opts *o)
{
	struct vcap_afp *a;
	char err[256];
	int r = vcap_afp_open(&a, ifname, o, err, sizeof(err));

	CHECK(r == 0, "vcap_afp_open(%s): %d: %s", ifname, r, err);
	return a;
}

static void stats(struct vcap_afp *a, uint64_t *packets, uint64_t *drops)
{
	int r = vcap_afp_stats(a, packets, drops);

	CHECK(r == 0, "vcap_afp_stats: %s", strerror(-r));
}

/*
 * A packet socket's PACKET_MR_PROMISC shows in the device's promiscuity
 * count, not in the SIOCGIFFLAGS flags (those only show what was set by
 * hand), so ask rtnetlink through ip.
 */
static unsigned promiscuity(const char *ifname)
{
	char cmd[128], line[1024];
	unsigned count = 0;
	bool found = false;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ip -d link show dev %s", ifname);
	f = popen(cmd, "r");
	CHECK(f, "popen %s: %s", cmd, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "promiscuity ");

		if (p && sscanf(p, "promiscuity %u", &count) == 1)
			found = true;
	}
	CHECK(pclose(f) == 0 && found, "`%s` shows no promiscuity", cmd);
	return count;
}

static struct send_job peer_job(const struct run_spec *r)
{
	return (struct send_job){ .ns = ns_peer, .ifname = IF_PEER, .r = *r, .retry = true };
}

/* ---- the tests ---- */

static void test_open_errors(void)
{
	struct vcap_afp_opts o = { 0 };
	struct vcap_afp *a = NULL;
	char err[256] = "", nodev[256];
	int r, st;
	pid_t pid;

	r = vcap_afp_open(&a, "vcta-nope0", NULL, err, sizeof(err));
	snprintf(nodev, sizeof(nodev), "%s", err);
	CHECK(r == -ENODEV && !a, "nonexistent interface: %d, expected -ENODEV", r);
	CHECK(strstr(err, "vcta-nope0") && strstr(err, "no such interface"),
	      "nonexistent interface: message \"%s\"", err);

	o.block_size = 3000;
	r = vcap_afp_open(&a, IF_CAP, &o, err, sizeof(err));
	CHECK(r == -EINVAL && strstr(err, IF_CAP), "block_size 3000: %d \"%s\"", r, err);
	o.block_size = 65536; /* too small for the default snaplen of 65535 */
	r = vcap_afp_open(&a, IF_CAP, &o, err, sizeof(err));
	CHECK(r == -EINVAL && strstr(err, "snaplen"), "block too small: %d \"%s\"", r, err);
	o.block_size = 1u << 20;
	o.ring_size = 1u << 19;
	r = vcap_afp_open(&a, IF_CAP, &o, err, sizeof(err));
	CHECK(r == -EINVAL && strstr(err, "ring_size"), "ring < block: %d \"%s\"", r, err);

	/* an unprivileged process: -EPERM, and the message says why */
	pid = fork();
	CHECK(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		if (setgid(65534) || setuid(65534))
			FAIL("setuid nobody: %s", strerror(errno));
		r = vcap_afp_open(&a, IF_CAP, NULL, err, sizeof(err));
		CHECK(r == -EPERM, "unprivileged open: %d, expected -EPERM", r);
		CHECK(strstr(err, IF_CAP) && strstr(err, "needs CAP_NET_RAW"),
		      "unprivileged open: message \"%s\"", err);
		_exit(0);
	}
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "unprivileged open check failed");

	/* a downed interface is refused rather than captured from silently */
	run("ip link set " IF_NOISE " down");
	r = vcap_afp_open(&a, IF_NOISE, NULL, err, sizeof(err));
	CHECK(r == -ENETDOWN && strstr(err, IF_NOISE), "downed interface: %d \"%s\"", r, err);
	run("ip link set " IF_NOISE " up");

	/* something that carries no Ethernet frames (when tun is available) */
	if (system("ip tuntap add dev vctt0 mode tun 2>/dev/null && ip link set vctt0 up") == 0) {
		r = vcap_afp_open(&a, "vctt0", NULL, err, sizeof(err));
		CHECK(r == -ENOTSUP && strstr(err, "vctt0"), "tun: %d \"%s\"", r, err);
		run("ip link del vctt0");
	} else {
		fprintf(stderr, "test_afpacket: note: no tun device, link type check not run\n");
	}
	printf("open errors: ok (\"%s\")\n", nodev);
}

/*
 * 10000 frames of mixed sizes, some 802.1Q-tagged, while noise floods the
 * other pair from before the open: every frame exactly once, in order,
 * byte-exact, nothing else.
 */
static void test_exact(void)
{
	const struct run_spec noise_r = { .run = 999, .count = 1000, .size = 200 };
	const struct run_spec r = { .run = 1, .count = 10000, .vlan_every = 5 };
	struct send_job noise_j = { .ifname = IF_NOISE_TX, .r = noise_r, .forever = true };
	struct send_job j = peer_job(&r);
	struct vcap_afp_opts o = { .promisc = true };
	struct send_result res = { 0, 0 };
	struct sender noise, s;
	struct vcap_afp *a;
	struct tally t;
	uint64_t packets, drops;

	noise = start_sender(&noise_j);
	noise_pid = noise.pid;
	usleep(20000);
	CHECK(promiscuity(IF_CAP) == 0, IF_CAP " is promiscuous before the test");
	a = open_ok(IF_CAP, &o);
	CHECK(promiscuity(IF_CAP) == 1, "promisc requested but " IF_CAP " is not promiscuous");
	tally_init(&t, &r, 65535, true);
	s = start_sender(&j);
	collect(a, &t, r.count, 100, &s, &res);
	stop_sender(&noise);
	noise_pid = 0;
	CHECK(res.ok == r.count, "sender delivered %llu of %u", (unsigned long long)res.ok,
	      r.count);
	stats(a, &packets, &drops);
	CHECK(packets == r.count && drops == 0,
	      "stats: packets %llu drops %llu, expected %u and 0 (noise counted?)",
	      (unsigned long long)packets, (unsigned long long)drops, r.count);
	vcap_afp_close(a);
	CHECK(promiscuity(IF_CAP) == 0, IF_CAP " still promiscuous after close");
	printf("exact: ok (%u frames 60..1514 bytes, every 5th tagged; noise ignored; "
	       "ENOBUFS retries %llu)\n",
	       r.count, (unsigned long long)res.refused);
}

/* snaplen 100: caplen is cut, wirelen is not, the prefix is exact. */
static void test_snaplen(void)
{
	const struct run_spec r = { .run = 2, .count = 500, .vlan_every = 4 };
	struct vcap_afp_opts o = { .snaplen = 100, .block_size = 4096, .ring_size = 1u << 20 };
	struct send_job j = peer_job(&r);
	struct send_result res;
	struct vcap_afp *a = open_ok(IF_CAP, &o);
	struct sender s;
	struct tally t;

	tally_init(&t, &r, 100, true);
	s = start_sender(&j);
	collect(a, &t, r.count, 50, &s, &res);
	vcap_afp_close(a);
	printf("snaplen: ok (caplen <= 100, wirelen full)\n");
}

static void compile_filter(const char *expr, struct bpf_program *prog)
{
	pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);

	CHECK(p, "pcap_open_dead failed");
	CHECK(pcap_compile(p, prog, expr, 1, PCAP_NETMASK_UNKNOWN) == 0, "pcap_compile \"%s\": %s",
	      expr, pcap_geterr(p));
	pcap_close(p);
}

/*
 * A libpcap program passes only even sequence numbers (their last byte is
 * at offset 14 + 11); its `ret #65535` is lowered to snaplen 200.  Detached,
 * everything passes again.
 */
static void test_filter(void)
{
	_Static_assert(sizeof(struct bpf_insn) == sizeof(struct sock_filter), "same insn layout");
	const struct run_spec even = { .run = 3, .count = 1000, .even_only = 1 };
	const struct run_spec all = { .run = 4, .count = 200 };
	struct vcap_afp_opts o = { .snaplen = 200 };
	struct send_job j = peer_job(&even);
	struct send_result res;
	struct bpf_program bp;
	struct sock_fprog prog;
	struct vcap_afp *a = open_ok(IF_CAP, &o);
	struct sender s;
	struct tally t;
	uint64_t packets, drops;
	int r;

	compile_filter("ether proto 0x88b5 and ether[25] & 1 = 0", &bp);
	prog.len = (unsigned short)bp.bf_len;
	prog.filter = (struct sock_filter *)bp.bf_insns;
	r = vcap_afp_set_filter(a, &prog);
	CHECK(r == 0, "vcap_afp_set_filter: %s", strerror(-r));
	pcap_freecode(&bp);

	tally_init(&t, &even, 200, false);
	s = start_sender(&j);
	collect(a, &t, even.count / 2, 50, &s, &res);
	stats(a, &packets, &drops);
	CHECK(packets == even.count / 2 && drops == 0,
	      "stats with filter: packets %llu drops %llu, expected %u and 0",
	      (unsigned long long)packets, (unsigned long long)drops, even.count / 2);

	CHECK(vcap_afp_set_filter(a, NULL) == 0, "detaching the filter failed");
	j = peer_job(&all);
	tally_init(&t, &all, 200, true);
	s = start_sender(&j);
	collect(a, &t, all.count, 50, &s, &res);

	/* a program the kernel refuses */
	prog.len = 1;
	prog.filter = &(struct sock_filter){ 0xffff, 0, 0, 0 };
	r = vcap_afp_set_filter(a, &prog);
	CHECK(r == -EINVAL, "invalid program: %d, expected -EINVAL", r);
	vcap_afp_close(a);
	printf("filter: ok (500 of 1000 passed, filtered ones not counted; detach passes all)\n");
}

/* Outgoing frames are seen, unless ignore_outgoing. */
static void test_outgoing(void)
{
	const struct run_spec out = { .run = 5, .count = 100, .size = 100 };
	const struct run_spec in = { .run = 6, .count = 100, .size = 100 };
	struct send_job jo = { .ifname = IF_CAP, .r = out, .retry = true };
	struct send_job ji = peer_job(&in);
	struct vcap_afp_opts o = { .ignore_outgoing = true };
	struct send_result res;
	struct vcap_afp *a;
	struct sender s;
	struct tally t;

	a = open_ok(IF_CAP, NULL);
	tally_init(&t, &out, 65535, true);
	s = start_sender(&jo);
	collect(a, &t, out.count, 50, &s, &res);
	vcap_afp_close(a);

	a = open_ok(IF_CAP, &o);
	s = start_sender(&jo);
	(void)finish_sender(&s);
	tally_init(&t, &in, 65535, true);
	s = start_sender(&ji);
	collect(a, &t, in.count, 50, &s, &res);
	vcap_afp_close(a);
	printf("outgoing: ok (seen by default, not with ignore_outgoing)\n");
}

/*
 * A 4-block ring and a reader that does not read while 50000 frames come:
 * the kernel drops what does not fit.  The kernel's books must balance:
 * every frame veth accepted reached the socket (packets == sent), and
 * every one of them was either written to the ring and read, or dropped.
 * Then, with every block held, all new frames are dropped and the held
 * packets stay intact; after a release the ring works again.
 */
static void test_drops(void)
{
	const struct run_spec burst = { .run = 7, .count = 50000, .size = 64 };
	const struct run_spec more = { .run = 8, .count = 5000, .size = 64 };
	const struct run_spec after = { .run = 9, .count = 100, .size = 64 };
	struct vcap_afp_opts o = { .snaplen = 2048, .block_size = 16384, .ring_size = 65536 };
	struct send_job j = peer_job(&burst);
	static struct vcap_pkt_meta meta[4096];
	static const uint8_t *data[4096];
	struct send_result res, res2;
	struct vcap_afp *a = open_ok(IF_CAP, &o);
	uint64_t packets, drops, p2, d2;
	struct sender s;
	struct tally t;
	int held = 0, n;

	j.retry = false;
	s = start_sender(&j);
	res = finish_sender(&s);
	usleep(100000); /* let the retire timer hand over the last block */

	/* take everything the ring holds, releasing nothing */
	tally_init(&t, &burst, 2048, false);
	while ((n = vcap_afp_read(a, meta + held, data + held, 64)) > 0) {
		for (int i = 0; i < n; i++)
			check_packet(&t, &meta[held + i], data[held + i]);
		held += n;
		CHECK(held + 64 <= 4096, "a 64 KiB ring gave more than 4000 packets");
	}
	CHECK(vcap_afp_wait(a, 0) == 0, "wait says ready with every block held and read");
	stats(a, &packets, &drops);
	CHECK(drops > 0, "no drops reported after 50000 frames into a 64 KiB ring");
	CHECK(packets == res.ok, "stats packets %llu, but veth accepted %llu frames",
	      (unsigned long long)packets, (unsigned long long)res.ok);
	CHECK(t.got + drops == packets, "read %llu + drops %llu != packets %llu",
	      (unsigned long long)t.got, (unsigned long long)drops, (unsigned long long)packets);

	/* every block is ours: the kernel must drop, not overwrite */
	j = peer_job(&more);
	j.retry = false;
	s = start_sender(&j);
	res2 = finish_sender(&s);
	usleep(50000);
	CHECK(vcap_afp_read(a, meta + held, data + held, 64) == 0,
	      "read returned packets while every block was held");
	stats(a, &p2, &d2);
	CHECK(p2 - packets == res2.ok && d2 - drops == res2.ok,
	      "with every block held: +%llu packets +%llu drops, expected +%llu of each",
	      (unsigned long long)(p2 - packets), (unsigned long long)(d2 - drops),
	      (unsigned long long)res2.ok);
	tally_init(&t, &burst, 2048, false);
	for (int i = 0; i < held; i++)
		check_packet(&t, &meta[i], data[i]); /* still byte-exact */

	vcap_afp_release(a);
	j = peer_job(&after);
	tally_init(&t, &after, 2048, true);
	s = start_sender(&j);
	collect(a, &t, after.count, 50, &s, &res2);
	vcap_afp_close(a);
	printf("drops: ok (sent %llu, ENOBUFS %llu, read %d, dropped %llu; stats packets == "
	       "sent == read + drops)\n",
	       (unsigned long long)res.ok, (unsigned long long)res.refused, held,
	       (unsigned long long)drops);
}

/* Setting the interface down wakes a sleeping wait() with -ENETDOWN. */
static void test_link_down(void)
{
	struct vcap_afp *a = open_ok(IF_NOISE, NULL);
	uint64_t t0;
	pid_t pid;
	int r;

	pid = fork();
	CHECK(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		usleep(200000);
		execlp("ip", "ip", "link", "set", IF_NOISE, "down", (char *)NULL);
		_exit(127);
	}
	t0 = mono_ms();
	r = vcap_afp_wait(a, 5000);
	CHECK(r == -ENETDOWN, "wait on a downed interface: %d, expected -ENETDOWN", r);
	CHECK(mono_ms() - t0 < 2000, "wait took %llu ms to notice",
	      (unsigned long long)(mono_ms() - t0));
	CHECK(vcap_afp_wait(a, 1000) == -ENETDOWN, "-ENETDOWN did not stick");
	waitpid(pid, NULL, 0);
	vcap_afp_close(a);
	run("ip link set " IF_NOISE " up");
	printf("link down: ok (%llu ms)\n", (unsigned long long)(mono_ms() - t0));
}

/*
 * Deleting the interface while frames wait in a block the kernel has not
 * handed over yet (1 s block timeout): wait() delivers them first, then
 * says -ENETDOWN, and never hangs.
 */
static void test_link_deleted(void)
{
	const struct run_spec r = { .run = 10, .count = 10, .size = 300 };
	struct vcap_afp_opts o = { .block_timeout_ms = 1000 };
	struct send_job j = peer_job(&r);
	struct vcap_afp *a = open_ok(IF_CAP, &o);
	struct send_result res;
	struct sender s;
	struct tally t;
	uint64_t t0;
	int w;

	tally_init(&t, &r, 65535, true);
	s = start_sender(&j);
	res = finish_sender(&s);
	CHECK(res.ok == r.count, "sender delivered %llu of %u", (unsigned long long)res.ok,
	      r.count);
	run("ip link del " IF_CAP);
	t0 = mono_ms();
	while ((w = vcap_afp_wait(a, 5000)) == 1)
		read_burst(a, &t);
	CHECK(w == -ENETDOWN, "wait after ip link del: %d, expected -ENETDOWN", w);
	CHECK(mono_ms() - t0 < 4000, "took %llu ms", (unsigned long long)(mono_ms() - t0));
	CHECK(t.got == r.count, "read %llu of the %u frames captured before the delete",
	      (unsigned long long)t.got, r.count);
	vcap_afp_close(a);
	printf("link deleted: ok (%llu frames drained, then -ENETDOWN after %llu ms)\n",
	       (unsigned long long)t.got, (unsigned long long)(mono_ms() - t0));
}

static int first_allowed_cpu(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set))
		return -1;
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &set))
			return i;
	return -1;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0) {
		fprintf(stderr,
			"test_afpacket: SKIP: needs root (network namespaces, CAP_NET_RAW)\n");
		return 77;
	}
	owner = getpid();
	pin_cpu = first_allowed_cpu();
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGALRM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	alarm(WATCHDOG_S);
	remove_stale();
	atexit(cleanup);
	setup_namespaces();

	test_open_errors();
	test_exact();
	test_snaplen();
	test_filter();
	test_outgoing();
	test_drops();
	test_link_down();
	test_link_deleted(); /* last: removes the pair */
	printf("afpacket: all ok\n");
	return 0;
}
