/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_libvcap.c - libvcap as a tool author meets it: hang-ups, bounded
 * waits, breaks from threads and signal handlers, parsed headers and
 * sequence numbers, control calls from a second thread.  Real vcapd, real
 * sockets, real processes.  One scenario per run: `test_libvcap NAME`.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/time.h>
#include <sys/timerfd.h>

#include "client.h"
#include "harness.h"
#include "synth.h"
#include "vcap.h"

static struct vcapd_proc d;

/* CPU time this process has used, all threads, in ms. */
static uint64_t cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool fd_ready(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, timeout_ms) == 1;
}

/* A network namespace of our own, with its loopback up: a direct device nobody else uses. */
static void private_lo(void)
{
	CHECK(unshare(CLONE_NEWNET) == 0, "unshare(CLONE_NEWNET): %s", strerror(errno));
	CHECK(system("ip link set lo up") == 0, "ip link set lo up");
}

/* ---- hang-ups ------------------------------------------------------------ */

/*
 * kill -9 vcapd under an epoll loop written as vcap.h says: the loop learns
 * -EPIPE within a bounded time and does not spin meanwhile (its own CPU
 * time says so), and the hang-up then sticks on every path.
 */
static void hangup(void)
{
	VCAP_OPTS(vcap_open_opts, o, .ring_size = 1u << 20);
	struct epoll_event ev = { .events = EPOLLIN };
	struct vcap_pkt p[64];
	struct vcap_stats st;
	struct vcap_flow f = { .family = 4, .proto = 17 };
	uint64_t got = 0, t_kill = 0, t_pipe = 0, cpu0 = 0, cpu1, wakeups = 0, wakeups_after = 0;
	struct vcap *h, *waiter;
	int ep, rc = 0;

	vcapd_start(&d, "--source", "s=synth:size=64,pps=2000");
	h = open_or_die("host:s", &o);
	waiter = open_or_die("host:s", &o);
	ep = epoll_create1(0);
	CHECK(ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, vcap_fd(h), &ev) == 0, "epoll");
	for (uint64_t t0 = mono_ms(); mono_ms() - t0 < 10000;) {
		struct epoll_event out;

		if (!t_kill && got >= 200) {
			t_kill = mono_ms();
			cpu0 = cpu_ms();
			CHECK(kill(d.pid, SIGKILL) == 0, "kill -9 vcapd");
			waitpid(d.pid, NULL, 0);
			harness_vcapd_pid = 0;
		}
		if (epoll_wait(ep, &out, 1, 1000) <= 0)
			continue;
		wakeups++;
		wakeups_after += t_kill != 0;
		while ((rc = vcap_recv_burst(h, p, 64, 0)) > 0)
			got += (uint64_t)rc;
		if (rc < 0)
			break;
	}
	t_pipe = mono_ms();
	cpu1 = cpu_ms();
	fprintf(stderr, "hang-up: -EPIPE %llu ms after kill -9, %llu ms of CPU, %llu wake-ups "
		"in all, %llu packets\n", (unsigned long long)(t_pipe - t_kill),
		(unsigned long long)(cpu1 - cpu0), (unsigned long long)wakeups,
		(unsigned long long)got);
	CHECK(t_kill, "vcapd was killed");
	CHECK(rc == -EPIPE, "the epoll loop got %d (%s), not -EPIPE", rc, vcap_errmsg());
	CHECK(strstr(vcap_errmsg(), "vcapd went away"), "message: %s", vcap_errmsg());
	CHECK(t_pipe - t_kill < 3000, "learnt after %llu ms", (unsigned long long)(t_pipe - t_kill));
	CHECK(cpu1 - cpu0 < 100 + (t_pipe - t_kill) / 2 && wakeups_after < 20,
	      "no busy loop: %llu ms of CPU and %llu wake-ups in the %llu ms after the kill",
	      (unsigned long long)(cpu1 - cpu0), (unsigned long long)wakeups_after,
	      (unsigned long long)(t_pipe - t_kill));

	/* sticky, on every path, with no busy loop */
	cpu0 = cpu_ms();
	for (int i = 0; i < 1000; i++)
		CHECK_EQ(vcap_recv_burst(h, p, 64, 0), (unsigned long long)-EPIPE);
	CHECK_EQ(vcap_recv_burst(h, p, 64, VCAP_WAIT), (unsigned long long)-EPIPE);
	CHECK_EQ(vcap_recv_timeout(h, p, 64, 500), (unsigned long long)-EPIPE);
	memset(&st, 0, sizeof(st));
	CHECK_EQ(vcap_stats(h, &st, sizeof(st)), (unsigned long long)-EPIPE);
	CHECK(st.received >= 200 && st.received == st.delivered + st.dropped + st.filtered,
	      "the last counters come with it: received %llu", (unsigned long long)st.received);
	CHECK_EQ(vcap_set_filter(h, "udp"), (unsigned long long)-EPIPE);
	CHECK_EQ(vcap_flow_add(h, &f, VCAP_DROP, 0, NULL), (unsigned long long)-EPIPE);
	CHECK(fd_ready(vcap_fd(h), 0), "vcap_fd() stays readable after the hang-up");
	/* the other handle, which never looked, learns it from a waiting receive at once */
	{
		uint64_t t0 = mono_ms();

		while ((rc = vcap_recv_burst(waiter, p, 64, VCAP_WAIT)) > 0)
			;
		CHECK_EQ(rc, (unsigned long long)-EPIPE);
		CHECK(mono_ms() - t0 < 2000, "a sleeper learnt it after %llu ms",
		      (unsigned long long)(mono_ms() - t0));
	}
	cpu1 = cpu_ms();
	CHECK(cpu1 - cpu0 < 1000, "reporting the hang-up cost %llu ms of CPU",
	      (unsigned long long)(cpu1 - cpu0));
	vcap_close(waiter);
	vcap_close(h);
	close(ep);
	unlink(d.sock);
	rmdir(d.dir);

	/* a clean shutdown says the same */
	vcapd_start(&d, "--source", "s=synth:size=64,pps=2000");
	h = open_or_die("host:s", &o);
	CHECK(vcap_recv_burst(h, p, 64, VCAP_WAIT) > 0, "%s", vcap_errmsg());
	vcapd_stop(&d);
	while ((rc = vcap_recv_timeout(h, p, 64, 3000)) > 0)
		;
	CHECK_EQ(rc, (unsigned long long)-EPIPE);
	CHECK_EQ(vcap_recv_burst(h, p, 64, 0), (unsigned long long)-EPIPE);
	vcap_close(h);
}

/* ---- bounded waits ------------------------------------------------------- */

static void bounded_wait(void)
{
	VCAP_OPTS(vcap_open_opts, o, .watermark = 1000, .timeout_ms = 5000);
	struct vcap_pkt p[2000];
	struct vcap *h;
	uint64_t t0, dt;
	int n;

	vcapd_start(&d, "--source", "none=synth:size=64,count=0,consumers=2", "--source",
		    "slow=synth:size=64,pps=100");
	/* an idle source: the wait ends at the deadline with nothing */
	h = open_or_die("host:none", &o);
	CHECK_EQ(vcap_recv_timeout(h, p, 16, -2), (unsigned long long)-EINVAL);
	t0 = mono_ms();
	CHECK_EQ(vcap_recv_timeout(h, p, 16, 0), 0);
	CHECK(mono_ms() - t0 < 100, "timeout 0 does not wait");
	for (int i = 0; i < 3; i++) {
		t0 = mono_ms();
		n = vcap_recv_timeout(h, p, 16, 200);
		dt = mono_ms() - t0;
		CHECK(n == 0, "an idle source gave %d (%s)", n, vcap_errmsg());
		CHECK(dt >= 199 && dt < 2000, "a 200 ms wait took %llu ms", (unsigned long long)dt);
	}
	vcap_close(h);

	/*
	 * 100 packets a second against a 1000-packet watermark and a 5 s
	 * timeout: only the deadline ends the wait, with what came meanwhile.
	 */
	h = open_or_die("host:slow", &o);
	CHECK(vcap_recv_burst(h, p, 2000, VCAP_WAIT) > 0, "%s", vcap_errmsg());
	t0 = mono_ms();
	n = vcap_recv_timeout(h, p, 2000, 300);
	dt = mono_ms() - t0;
	fprintf(stderr, "bounded wait: %d packets after %llu ms\n", n, (unsigned long long)dt);
	CHECK(n >= 10 && n <= 100, "about 30 packets in 300 ms, got %d", n);
	CHECK(dt >= 299 && dt < 2000, "returned after %llu ms", (unsigned long long)dt);
	/* the watermark still ends it early */
	vcap_set_watermark(h, 3, 5000);
	t0 = mono_ms();
	n = vcap_recv_timeout(h, p, 2000, 3000);
	dt = mono_ms() - t0;
	CHECK(n >= 3 && dt < 1500, "watermark of 3: %d packets after %llu ms", n,
	      (unsigned long long)dt);
	vcap_close(h);
	vcapd_stop(&d);

	/* a direct device, in a namespace of our own: the same bound */
	private_lo();
	h = open_or_die("lo", NULL);
	t0 = mono_ms();
	n = vcap_recv_timeout(h, p, 16, 200);
	dt = mono_ms() - t0;
	CHECK(n == 0 && dt >= 199 && dt < 2000, "direct: %d after %llu ms", n,
	      (unsigned long long)dt);
	vcap_close(h);
}

/* ---- breaks -------------------------------------------------------------- */

struct breaker {
	struct vcap *h;
	unsigned delay_ms;
};

static void *break_later(void *arg)
{
	struct breaker *b = arg;

	sleep_ms(b->delay_ms);
	vcap_breakloop(b->h);
	return NULL;
}

static struct vcap *signal_target;

static void on_alarm(int sig)
{
	(void)sig;
	vcap_breakloop(signal_target);
}

/* A thread that takes SIGALRM for the process, so the main thread's wait is not EINTR'd. */
static void *alarm_taker(void *arg)
{
	sigset_t set;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	for (;;)
		pause();
	return NULL;
}

/* breakloop from another thread wakes a poller of vcap_fd() at once */
static void break_wakes_poller(struct vcap *h, const char *what)
{
	struct breaker b = { h, 200 };
	struct vcap_pkt p[16];
	pthread_t t;
	uint64_t t0, dt;

	pthread_create(&t, NULL, break_later, &b);
	t0 = mono_ms();
	CHECK(fd_ready(vcap_fd(h), 5000), "%s: the break woke the poller", what);
	dt = mono_ms() - t0;
	pthread_join(t, NULL);
	CHECK(dt >= 150 && dt < 2000, "%s: woken after %llu ms", what, (unsigned long long)dt);
	CHECK_EQ(vcap_recv_burst(h, p, 16, 0), (unsigned long long)-EINTR);
	/* the receive took the latch: the descriptor is quiet again */
	CHECK_EQ(vcap_recv_burst(h, p, 16, 0), 0);
	CHECK(!fd_ready(vcap_fd(h), 0), "%s: still readable after the break was taken", what);
}

static void breakloop(void)
{
	VCAP_OPTS(vcap_open_opts, o, .ring_size = 1u << 20);
	struct vcap_pkt p[256];
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval it = { .it_value = { .tv_usec = 200000 } };
	sigset_t set;
	pthread_t taker;
	struct vcap *h;
	uint64_t t0, dt;
	int n;

	vcapd_start(&d, "--source", "none=synth:size=64,count=0,consumers=2", "--source",
		    "ten=synth:size=64,count=10");
	h = open_or_die("host:none", &o);
	CHECK_EQ(vcap_recv_burst(h, p, 16, 0), 0); /* asks for wake-ups, as a loop does */
	break_wakes_poller(h, "host:");

	/* from a signal handler running in another thread */
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	sigaction(SIGALRM, &sa, NULL);
	signal_target = h;
	pthread_create(&taker, NULL, alarm_taker, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	t0 = mono_ms();
	n = vcap_recv_burst(h, p, 16, VCAP_WAIT);
	dt = mono_ms() - t0;
	CHECK_EQ(n, (unsigned long long)-EINTR);
	CHECK(dt >= 150 && dt < 2000, "signal: interrupted after %llu ms", (unsigned long long)dt);
	CHECK(strstr(vcap_errmsg(), "vcap_breakloop"), "message: %s", vcap_errmsg());
	vcap_close(h);

	/*
	 * The latch: breaks before a receive give one -EINTR, which takes no
	 * packet even though ten are waiting; the next receive gets them.
	 */
	h = open_or_die("host:ten", &o);
	for (t0 = mono_ms(); mono_ms() - t0 < 5000; sleep_ms(5)) {
		struct vcap_stats st;

		CHECK_EQ(vcap_stats(h, &st, sizeof(st)), 0);
		if (st.delivered == 10)
			break;
	}
	vcap_breakloop(h);
	vcap_breakloop(h);
	CHECK(fd_ready(vcap_fd(h), 0), "a pending break makes the descriptor readable");
	CHECK_EQ(vcap_recv_burst(h, p, 256, 0), (unsigned long long)-EINTR);
	n = vcap_recv_burst(h, p, 256, 0);
	CHECK(n == 10, "after the break the ten packets, got %d (%s)", n, vcap_errmsg());
	CHECK_EQ(vcap_recv_burst(h, p, 256, 0), (unsigned long long)-ENODATA);
	vcap_close(h);
	vcapd_stop(&d);

	/* a direct device too */
	private_lo();
	h = open_or_die("lo", NULL);
	CHECK_EQ(vcap_recv_burst(h, p, 16, 0), 0);
	break_wakes_poller(h, "direct");
	vcap_close(h);
}

/* ---- parsed headers and sequence numbers ----------------------------------- */

/* What the generator says packet n's headers are, against what libvcap says. */
static void check_meta(const struct vcap_synth *g, uint16_t vlan, const struct vcap_pkt *pk,
		       const struct vcap_meta *m, bool from_vcapd, uint64_t *n_out)
{
	struct vcap_synth_tuple t;
	struct vcap_flow f;
	uint32_t l3 = vlan ? 18 : 14;
	uint64_t n;

	CHECK(vcap_synth_verify(g, pk->data, pk->caplen, &n) == 0, "a synth frame");
	vcap_synth_tuple(g, n, &t);
	*n_out = n;
	CHECK(!!(m->flags & VCAP_META_VCAPD) == from_vcapd && !!(m->flags & VCAP_META_SEQ) ==
	      from_vcapd, "flags 0x%x", m->flags);
	CHECK(m->ip_version == t.family && m->proto == t.proto, "packet %llu: IPv%u proto %u",
	      (unsigned long long)n, m->ip_version, m->proto);
	CHECK(m->l3_off == l3 && m->l4_off == l3 + (t.family == 4 ? 20 : 40),
	      "packet %llu: l3 %u l4 %u", (unsigned long long)n, m->l3_off, m->l4_off);
	CHECK(m->ethertype == (t.family == 4 ? 0x0800 : 0x86dd), "ethertype 0x%x", m->ethertype);
	CHECK(!!(m->flags & VCAP_META_VLAN) == !!vlan && (!vlan || m->vlan == vlan), "vlan %u",
	      m->vlan);
	CHECK(m->flags & VCAP_META_PORTS && !(m->flags & VCAP_META_FRAGMENT), "ports");
	CHECK(t.proto != 6 || m->tcp_flags == t.tcp_flags, "tcp flags");
	CHECK_EQ(vcap_pkt_flow(pk, m, &f), 0);
	CHECK(f.family == t.family && f.proto == t.proto && f.port_a == t.sport &&
	      f.port_b == t.dport && !memcmp(f.addr_a, t.src, 16) && !memcmp(f.addr_b, t.dst, 16),
	      "packet %llu: the 5-tuple", (unsigned long long)n);
}

static void meta(void)
{
	VCAP_OPTS(vcap_open_opts, om, .flags = VCAP_OPEN_META, .ring_size = 1u << 24);
	VCAP_OPTS(vcap_open_opts, oplain, .ring_size = 1u << 24);
	VCAP_OPTS(vcap_open_opts, ocut, .flags = VCAP_OPEN_META, .snaplen = 40);
	struct vcap_synth_cfg c4 = { .size = 128, .flows = 64, .proto = VCAP_SYNTH_MIX,
				     .vlan = 100 };
	struct vcap_synth_cfg c6 = { .size = 128, .flows = 16, .proto = VCAP_SYNTH_TCP,
				     .ipv6_pct = 100 };
	struct vcap_synth g4, g6;
	struct vcap_pkt p[256];
	struct vcap_meta m;
	struct vcap_info info;
	char err[128];
	struct {
		const char *dev;
		struct vcap_synth *g;
		uint16_t vlan;
	} src[] = { { "host:v4", &g4, 100 }, { "host:v6", &g6, 0 } };

	CHECK(vcap_synth_init(&g4, &c4, err, sizeof(err)) == 0, "%s", err);
	CHECK(vcap_synth_init(&g6, &c6, err, sizeof(err)) == 0, "%s", err);
	vcapd_start(&d, "--source", "v4=synth:size=128,flows=64,proto=mix,vlan=100,pps=50000",
		    "--source", "v6=synth:size=128,flows=16,proto=tcp,ipv6=100,pps=50000");
	for (unsigned k = 0; k < 2; k++) {
		struct vcap *hm = open_or_die(src[k].dev, &om), *hp = open_or_die(src[k].dev, &oplain);
		uint64_t checked = 0, base = 0;
		bool have_base = false;

		CHECK_EQ(vcap_info(hm, &info, sizeof(info)), 0);
		CHECK(info.flags & VCAP_OPEN_META, "META granted (flags 0x%x)", info.flags);
		while (checked < 5000) {
			int n = vcap_recv_burst(hm, p, 256, VCAP_WAIT);

			CHECK(n > 0, "%s", vcap_errmsg());
			for (int i = 0; i < n; i++) {
				uint64_t pn;

				CHECK_EQ(vcap_pkt_meta(hm, &p[i], &m, sizeof(m)), 0);
				check_meta(src[k].g, src[k].vlan, &p[i], &m, true, &pn);
				/* no drops, no filter: seq runs alongside the generator's number */
				if (!have_base) {
					base = pn - m.seq;
					have_base = true;
				}
				CHECK_EQ(pn - m.seq, base);
				checked++;
			}
		}
		/* without META, the library parses: the same answer, no sequence */
		for (checked = 0; checked < 1000;) {
			int n = vcap_recv_burst(hp, p, 256, VCAP_WAIT);
			uint64_t pn;

			CHECK(n > 0, "%s", vcap_errmsg());
			for (int i = 0; i < n; i++, checked++) {
				CHECK_EQ(vcap_pkt_meta(hp, &p[i], &m, sizeof(m)), 0);
				check_meta(src[k].g, src[k].vlan, &p[i], &m, false, &pn);
				CHECK_EQ(m.seq, 0);
			}
		}
		/* a packet that is not from the handle's ring is refused or parsed, never trusted */
		{
			uint8_t frame[128];
			struct vcap_pkt fake = { .data = frame, .caplen = 128, .wirelen = 128 };

			vcap_synth_frame(src[k].g, 7, frame);
			CHECK_EQ(vcap_pkt_meta(hm, &fake, &m, sizeof(m)), 0);
			CHECK(!(m.flags & (VCAP_META_SEQ | VCAP_META_VCAPD)), "parsed here");
		}
		CHECK_EQ(vcap_pkt_meta(hm, &p[0], &m, 8), (unsigned long long)-EINVAL);
		vcap_close(hm);
		vcap_close(hp);
	}

	/* cut inside the transport header: no ports, no 5-tuple */
	{
		struct vcap *h = open_or_die("host:v4", &ocut);
		struct vcap_flow f;
		int n = vcap_recv_burst(h, p, 16, VCAP_WAIT);

		CHECK(n > 0, "%s", vcap_errmsg());
		CHECK_EQ(vcap_pkt_meta(h, &p[0], &m, sizeof(m)), 0);
		/* VLAN tag, IPv4 at 18, the transport header starts at 38: 2 bytes of it */
		CHECK(p[0].caplen == 40 && m.l3_off == 18 && m.l4_off == 38 &&
		      !(m.flags & VCAP_META_PORTS) && m.ip_version == 4,
		      "cut at 40: l3 %u l4 %u flags 0x%x v%u", m.l3_off, m.l4_off, m.flags,
		      m.ip_version);
		CHECK_EQ(vcap_pkt_flow(&p[0], &m, &f), (unsigned long long)-ENOENT);
		vcap_close(h);
	}
	vcapd_stop(&d);
}

/*
 * "In force when the call returns", observable: shunt a flow judged from
 * its packets; every packet of it read afterwards has a sequence number
 * below applied_at, and the count of those matches what the ring held.
 */
static void shunt_seq(void)
{
	VCAP_OPTS(vcap_open_opts, o, .flags = VCAP_OPEN_META, .ring_size = 1u << 24);
	struct vcap_synth g;
	struct vcap_pkt p[256];
	struct vcap_meta m;
	struct vcap_flow target;
	struct vcap_stats st;
	uint64_t applied_at = 0, before = 0, others = 0, hits = 0;
	bool shunted = false;
	struct vcap *h;

	synth_of(&g, 64, 8, VCAP_SYNTH_UDP);
	vcapd_start(&d, "--source", "s=synth:size=64,flows=8,pps=40000");
	h = open_or_die("host:s", &o);
	for (uint64_t t0 = mono_ms(); mono_ms() - t0 < 1500;) {
		int n = vcap_recv_burst(h, p, 256, VCAP_WAIT);

		CHECK(n > 0, "%s", vcap_errmsg());
		for (int i = 0; i < n; i++) {
			struct vcap_flow f;

			CHECK_EQ(vcap_pkt_meta(h, &p[i], &m, sizeof(m)), 0);
			CHECK(m.flags & VCAP_META_SEQ, "seq");
			CHECK_EQ(vcap_pkt_flow(&p[i], &m, &f), 0);
			if (!shunted) {
				target = f;
				/* hold the ring full of queued packets when the rule lands */
				CHECK_EQ(vcap_flow_add(h, &target, VCAP_DROP, 0, &applied_at), 0);
				CHECK(applied_at > m.seq, "applied at %llu, after packet %llu",
				      (unsigned long long)applied_at, (unsigned long long)m.seq);
				shunted = true;
				continue;
			}
			bool same = f.family == target.family && f.proto == target.proto &&
				    ((!memcmp(f.addr_a, target.addr_a, 16) &&
				      f.port_a == target.port_a) ||
				     (!memcmp(f.addr_a, target.addr_b, 16) &&
				      f.port_a == target.port_b));
			if (!same) {
				others++;
				continue;
			}
			CHECK(m.seq < applied_at, "packet %llu of the shunted flow read after the "
			      "rule applied at %llu", (unsigned long long)m.seq,
			      (unsigned long long)applied_at);
			before++;
		}
	}
	CHECK_EQ(vcap_flow_remove(h, &target, &hits), 0);
	CHECK_EQ(vcap_stats(h, &st, sizeof(st)), 0);
	fprintf(stderr, "shunt: applied at %llu, %llu packets of the flow queued before it, "
		"%llu hits after, %llu packets of other flows, %llu shunted\n",
		(unsigned long long)applied_at, (unsigned long long)before,
		(unsigned long long)hits, (unsigned long long)others,
		(unsigned long long)st.shunted);
	CHECK(hits > 100 && others > 1000, "the rule dropped the flow's packets and no others");
	CHECK_EQ(st.shunted, hits);
	vcap_close(h);
	vcapd_stop(&d);
}

/* ---- control calls from a second thread ------------------------------------ */

struct worker {
	struct vcap *h;
	uint16_t base; /* its flows' first port */
	atomic_bool done;
	uint64_t ms;
	int rc;
};

static void *shunter(void *arg)
{
	struct worker *w = arg;
	uint64_t t0 = mono_ms(), hits;
	struct vcap_stats st;

	for (uint32_t i = 0; i < 200 && !w->rc; i++) {
		struct vcap_flow f = { .family = 4, .proto = 17, .port_a = (uint16_t)(w->base + i),
				       .port_b = 53, .addr_a = { 10, 9, 0, 1 },
				       .addr_b = { 10, 9, 0, 2 } };

		w->rc = vcap_flow_add(w->h, &f, VCAP_DROP, 0, NULL);
		if (!w->rc)
			w->rc = vcap_flow_hits(w->h, &f, &hits);
		if (!w->rc)
			w->rc = vcap_stats(w->h, &st, sizeof(st));
		if (!w->rc && i % 2)
			w->rc = vcap_flow_remove(w->h, &f, NULL);
	}
	w->ms = mono_ms() - t0;
	atomic_store(&w->done, true);
	return NULL;
}

/* Once both workers are done, wake the receive that slept through them. */
static void *stop_when_done(void *arg)
{
	struct worker *w = arg;

	while (!atomic_load(&w[0].done) || !atomic_load(&w[1].done))
		sleep_ms(5);
	vcap_breakloop(w[0].h);
	return NULL;
}

/*
 * Two workers shunt, query and remove flows at once while this thread
 * sleeps in a receive on the same handle: every call completes, none waits
 * behind the sleeper, and the flow table ends as the calls left it.
 */
static void threads(void)
{
	struct vcap_pkt p[16];
	struct vcap_flow_stat fl[256];
	struct worker w[2] = { 0 };
	pthread_t t[3];
	struct vcap *h;
	uint64_t t0, dt;
	int n;

	vcapd_start(&d, "--source", "none=synth:size=64,count=0,consumers=2");
	h = open_or_die("host:none", NULL);
	for (int i = 0; i < 2; i++) {
		w[i].h = h;
		w[i].base = (uint16_t)(1000 + 1000 * i);
		pthread_create(&t[i], NULL, shunter, &w[i]);
	}
	pthread_create(&t[2], NULL, stop_when_done, w);
	t0 = mono_ms();
	n = vcap_recv_burst(h, p, 16, VCAP_WAIT); /* no packet will ever come */
	dt = mono_ms() - t0;
	/* only stop_when_done breaks it: it slept until both workers were done */
	CHECK(atomic_load(&w[0].done) && atomic_load(&w[1].done), "the receive woke early (%d)", n);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ(n, (unsigned long long)-EINTR);
	for (int i = 0; i < 2; i++)
		CHECK(w[i].rc == 0, "worker %d: %d", i, w[i].rc);
	fprintf(stderr, "threads: the receive slept %llu ms while the workers ran 200 rounds "
		"each (%llu and %llu ms)\n", (unsigned long long)dt, (unsigned long long)w[0].ms,
		(unsigned long long)w[1].ms);
	n = vcap_flow_list(h, fl, 256, sizeof(fl[0]));
	CHECK(n == 200, "each worker left 100 flows, listed %d (%s)", n, vcap_errmsg());
	for (int i = 0; i < n; i++)
		CHECK(fl[i].flow.port_a % 2 == 0 && fl[i].action == VCAP_DROP,
		      "flow %u should have been removed", fl[i].flow.port_a);
	vcap_close(h);
	vcapd_stop(&d);
}

static const struct scenario scenarios[] = {
	{ "hangup", hangup },
	{ "bounded-wait", bounded_wait },
	{ "breakloop", breakloop },
	{ "meta", meta },
	{ "shunt-seq", shunt_seq },
	{ "threads", threads },
};

int main(int argc, char **argv)
{
	return RUN_SCENARIOS(argc, argv, scenarios);
}
