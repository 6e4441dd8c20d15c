/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_reconnect.c - VCAP_OPEN_RECONNECT against a real vcapd that is
 * killed with SIGKILL during traffic and started again with the same
 * arguments on the same socket.  One scenario per run:
 *
 *   resume    host consumers (one with a filter, a wildcard rule, a flow
 *             rule and default DROP; two in a cluster) and a container
 *             consumer (vcapcount in its own network and mount namespaces)
 *             resume after the restart: restarts == 1, the sums hold, the
 *             gap is reported, and the new rings get exactly what the
 *             filter, the rules and the cluster let through.
 *   count     vcapcount -n N reaches N through two restarts: one after
 *             kill -9, one after a clean stop (SIGTERM).
 *   noflag    without the flag: -EPIPE, and it sticks when vcapd is back.
 *   deadline  vcapd stays away longer than reconnect_ms: a clear -EPIPE;
 *             meanwhile control calls say -EAGAIN.
 *
 * The generator is deterministic (source/synth.h), so what each consumer
 * of the restarted vcapd must get is known exactly.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "vcap.h"

#define STR_(x) #x
#define STR(x) STR_(x)

static struct vcapd_proc d;
static const char *vcapd_args[8];
static pid_t child; /* vcapcount or the container: killed if a CHECK ends the test */

static void kill_child(void)
{
	if (child > 0 && getpid() == harness_owner)
		kill(child, SIGKILL);
}

/* Wait for the child (deadline 30 s); @return its status. */
static int reap_child(const char *what)
{
	int status;

	for (uint64_t until = mono_ms() + 30000; waitpid(child, &status, WNOHANG) == 0;
	     sleep_ms(10))
		CHECK(mono_ms() < until, "%s did not exit within 30 s", what);
	child = 0;
	return status;
}

/* (Re)start vcapd on d.sock with vcapd_args; wait (polling, with a deadline) until it listens. */
static void start_vcapd(void)
{
	char bin[512];
	const char *argv[16];
	int n = 0;

	snprintf(bin, sizeof(bin), "%s/daemon/vcapd", build_dir());
	argv[n++] = bin;
	argv[n++] = "--foreground";
	argv[n++] = "--socket";
	argv[n++] = d.sock;
	for (int i = 0; vcapd_args[i]; i++)
		argv[n++] = vcapd_args[i];
	argv[n] = NULL;
	d.pid = fork();
	CHECK(d.pid >= 0, "fork");
	if (d.pid == 0) {
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	harness_vcapd_pid = d.pid;
	if (!harness_owner) {
		harness_owner = getpid();
		atexit(harness_kill_vcapd);
		atexit(kill_child);
	}
	for (uint64_t until = mono_ms() + 10000; mono_ms() < until; sleep_ms(5)) {
		int fd = vcap_unix_connect(d.sock), status;

		if (fd >= 0) {
			close(fd);
			return;
		}
		CHECK(waitpid(d.pid, &status, WNOHANG) == 0, "vcapd exited at start-up");
	}
	CHECK(0, "vcapd did not come up on %s", d.sock);
}

static void kill_vcapd(void)
{
	int status;

	CHECK(kill(d.pid, SIGKILL) == 0, "kill -9 vcapd");
	CHECK(waitpid(d.pid, &status, 0) == d.pid, "waitpid");
	harness_vcapd_pid = 0;
}

static void setup(void)
{
	if (geteuid() != 0)
		SKIP("needs root: vcapd serves only root without a policy");
	/* the socket's directory is what a container gets bind-mounted: it outlives vcapd */
	snprintf(d.dir, sizeof(d.dir), "/tmp/vcap-reconnect-XXXXXX");
	CHECK(mkdtemp(d.dir), "mkdtemp");
	snprintf(d.sock, sizeof(d.sock), "%s/vcapd.sock", d.dir);
	setenv("VCAP_SOCKET", d.sock, 1);
}

static void kill_vcapd(void);

/* SIGKILL: what is tested is the consumers, and a vcapd just started may not handle SIGTERM yet */
static void teardown(void)
{
	if (harness_vcapd_pid > 0)
		kill_vcapd();
	unlink(d.sock);
	rmdir(d.dir);
}

/* Largest delivered count of vcapd's rings of source `src` (0: no ring). */
static uint64_t ring_delivered(void)
{
	const struct vcap_msg *r = status_query(&d);
	uint64_t best = 0;

	for (uint32_t i = 0; i < r->u.status_reply.n_rings; i++)
		if (r->rings[i].delivered > best)
			best = r->rings[i].delivered;
	return best;
}

/* Wait (deadline 20 s) until some ring of the running vcapd has delivered `n`. */
static void wait_delivered(uint64_t n)
{
	for (uint64_t until = mono_ms() + 20000; ring_delivered() < n; sleep_ms(5))
		CHECK(mono_ms() < until, "no ring of vcapd delivered %llu packets in 20 s",
		      (unsigned long long)n);
}

static void check_sums(struct vcap *h, const char *who, struct vcap_stats *st)
{
	CHECK_EQ(vcap_stats(h, st, sizeof(*st)), 0);
	fprintf(stderr,
		"%s: received %llu delivered %llu dropped %llu filtered %llu restarts %llu gap "
		"%.1f ms lost %llu\n",
		who, (unsigned long long)st->received, (unsigned long long)st->delivered,
		(unsigned long long)st->dropped, (unsigned long long)st->filtered,
		(unsigned long long)st->restarts, (double)st->gap_ns / 1e6,
		(unsigned long long)st->restart_lost);
	CHECK(st->received == st->delivered + st->dropped + st->filtered,
	      "%s: received %llu != delivered + dropped + filtered", who,
	      (unsigned long long)st->received);
}

/* ---- resume ------------------------------------------------------------- */

#define FLOWS 64
#define COUNT 25600 /* a multiple of 2 * FLOWS: every flow, both ways, equally */

/* One consumer of the test process. */
struct consumer {
	const char *name;
	struct vcap *h;
	uint64_t read_old, read_new; /* packets before and after the restart */
	uint64_t dns, flow3;         /* A: what it let through after the restart */
	uint8_t flows_new[FLOWS];    /* B: flows it saw after the restart */
	bool ended;
};

/* Flow f of the generator, from a packet's client address (10.1.x.y) or server side. */
static int flow_of(const struct vcap_pkt *p, const struct vcap_meta *m)
{
	const uint8_t *ip = p->data + m->l3_off;
	const uint8_t *src = ip + 12, *dst = ip + 16;

	if (src[0] == 10 && src[1] == 1)
		return src[3];
	if (dst[0] == 10 && dst[1] == 1)
		return dst[3];
	return -1;
}

static void judge_a(struct consumer *c, const struct vcap_pkt *p)
{
	struct vcap_meta m;
	uint16_t dport;
	int f;

	CHECK_EQ(vcap_pkt_meta(c->h, p, &m, sizeof(m)), 0);
	CHECK(m.ip_version == 4 && (m.flags & VCAP_META_PORTS), "A: not IPv4 with ports");
	f = flow_of(p, &m);
	dport = (uint16_t)(p->data[m.l4_off + 2] << 8 | p->data[m.l4_off + 3]);
	if (f == 3 && m.proto == 6) {
		c->flow3++; /* the flow rule */
		return;
	}
	/* the wildcard rule: UDP to port 53; the filter (not port 22) never sees those */
	CHECK(m.proto == 17 && dport == 53, "A got flow %d proto %u dport %u after the restart", f,
	      m.proto, dport);
	c->dns++;
}

static void judge_b(struct consumer *c, const struct vcap_pkt *p)
{
	struct vcap_meta m;
	int f;

	CHECK_EQ(vcap_pkt_meta(c->h, p, &m, sizeof(m)), 0);
	f = flow_of(p, &m);
	CHECK(f >= 0 && f < FLOWS, "%s: packet of no flow", c->name);
	c->flows_new[f] = 1;
}

/* Read what is there; @return false once the handle is done (the source ended). */
static void drain_consumer(struct consumer *c)
{
	struct vcap_pkt p[64];
	struct vcap_stats st;
	int n;

	while (!c->ended && (n = vcap_recv_timeout(c->h, p, 64, 0)) != 0) {
		if (n == -ENODATA) {
			c->ended = true;
			return;
		}
		CHECK(n > 0, "%s: receive: %d %s", c->name, n, vcap_errmsg());
		CHECK_EQ(vcap_stats(c->h, &st, sizeof(st)), 0);
		/* one receive never mixes rings: a reconnect returns only new packets */
		if (!st.restarts) {
			c->read_old += (unsigned)n;
			continue;
		}
		CHECK_EQ(st.restarts, 1);
		c->read_new += (unsigned)n;
		for (int i = 0; i < n; i++) {
			if (!strcmp(c->name, "A"))
				judge_a(c, &p[i]);
			else
				judge_b(c, &p[i]);
		}
	}
}

/* Poll every consumer's vcap_fd (an event loop, as tools have): it must wake for retries too. */
static void pump(struct consumer *cs, int n, int timeout_ms)
{
	struct pollfd pf[4];

	for (int i = 0; i < n; i++)
		pf[i] = (struct pollfd){ .fd = vcap_fd(cs[i].h), .events = POLLIN };
	(void)poll(pf, (nfds_t)n, timeout_ms);
	for (int i = 0; i < n; i++)
		drain_consumer(&cs[i]);
}

/* The container: vcapcount in new network and mount namespaces, vcapd's directory bind-mounted. */
static pid_t start_container(const char *out)
{
	char script[2048];
	pid_t pid;

	snprintf(script, sizeof(script),
		 "set -eu\n"
		 "mount -t tmpfs tmpfs /run\n"
		 "mkdir -p /run/vcap\n"
		 "mount --bind '%s' /run/vcap\n"
		 "unset VCAP_SOCKET\n"
		 "exec '%s/tools/vcapcount' -i host:g -q --json >'%s'\n",
		 d.dir, build_dir(), out);
	pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		execlp("unshare", "unshare", "--net", "--mount", "--propagation", "private", "sh",
		       "-c", script, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void resume(void)
{
	VCAP_OPTS(vcap_open_opts, oa, .flags = VCAP_OPEN_RECONNECT | VCAP_OPEN_META,
		  .filter = "not port 22");
	VCAP_OPTS(vcap_open_opts, ob, .flags = VCAP_OPEN_RECONNECT | VCAP_OPEN_META,
		  .cluster_id = 7, .cluster_mode = VCAP_CLUSTER_5TUPLE);
	struct consumer cs[3] = { { .name = "A" }, { .name = "B1" }, { .name = "B2" } };
	struct vcap_rule dns = { .id = 10, .fields = VCAP_RULE_PROTO | VCAP_RULE_DPORT,
				 .action = VCAP_PASS, .proto = 17, .dport_lo = 53,
				 .dport_hi = 53 };
	struct vcap_flow f3 = { .family = 4, .proto = 6, .port_a = 1024 + 3, .port_b = 123,
				.addr_a = { 10, 1, 0, 3 }, .addr_b = { 10, 2, 0, 4 } };
	struct vcap_stats st;
	char out[256], json[1024] = "";
	uint64_t killed, until;
	int status;
	FILE *f;

	setup();
	snprintf(out, sizeof(out), "%s/container.json", d.dir);
	/* 4 consumers: the source starts (again) only once all are attached */
	vcapd_args[0] = "--source";
	vcapd_args[1] = "g=synth:size=64,pps=20000,count=" STR(COUNT) ",flows=" STR(FLOWS) ",proto=mix,consumers=4";
	vcapd_args[2] = NULL;
	start_vcapd();

	cs[0].h = vcap_open("host:g", &oa);
	CHECK(cs[0].h, "A: %s", vcap_errmsg());
	CHECK_EQ(vcap_flow_add(cs[0].h, &f3, VCAP_PASS, 0, NULL), 0);
	CHECK_EQ(vcap_rule_add(cs[0].h, &dns), 0);
	CHECK_EQ(vcap_rule_default(cs[0].h, VCAP_DROP), 0);
	for (int i = 1; i < 3; i++) {
		cs[i].h = vcap_open("host:g", &ob);
		CHECK(cs[i].h, "%s: %s", cs[i].name, vcap_errmsg());
	}
	child = start_container(out);

	/* traffic flows (A reads 10 of each 128 packets): then the crash */
	wait_delivered(300);
	for (until = mono_ms() + 20000; cs[0].read_old < 300; pump(cs, 3, 10))
		CHECK(mono_ms() < until, "A read no packets before the crash");
	kill_vcapd();
	killed = mono_ms();
	/* the consumers notice and start retrying meanwhile */
	for (until = mono_ms() + 50; mono_ms() < until;)
		pump(cs, 3, 10);
	start_vcapd(); /* the same arguments, the same socket */
	fprintf(stderr, "vcapd down for %lld ms\n", (long long)(mono_ms() - killed));

	for (until = mono_ms() + 60000; !(cs[0].ended && cs[1].ended && cs[2].ended);
	     pump(cs, 3, 50))
		CHECK(mono_ms() < until, "the consumers did not reach the end of the new run");

	/* A: exactly what filter + wildcard rule + flow rule + default DROP pass, of COUNT */
	CHECK_EQ(cs[0].dns, COUNT / (2 * FLOWS) * (FLOWS / 8));
	CHECK_EQ(cs[0].flow3, COUNT / FLOWS);
	check_sums(cs[0].h, "A", &st);
	CHECK_EQ(st.restarts, 1);
	CHECK(st.delivered == cs[0].read_old + cs[0].read_new, "A delivered %llu, read %llu",
	      (unsigned long long)st.delivered,
	      (unsigned long long)(cs[0].read_old + cs[0].read_new));
	CHECK(st.gap_ns > 0 && st.gap_ns < 30000000000ull, "A: gap %llu ns",
	      (unsigned long long)st.gap_ns);
	CHECK(st.restart_lost <= 256, "A: %llu lost: more than a batch",
	      (unsigned long long)st.restart_lost);
	CHECK(st.received >= COUNT + cs[0].read_old, "A received %llu",
	      (unsigned long long)st.received);
	/* B1, B2: the new run split exactly, no flow on both */
	CHECK_EQ(cs[1].read_new + cs[2].read_new, COUNT);
	CHECK(cs[1].read_new && cs[2].read_new, "a member got nothing");
	for (int i = 0; i < FLOWS; i++)
		CHECK(!(cs[1].flows_new[i] && cs[2].flows_new[i]), "flow %d went to both members", i);
	for (int i = 1; i < 3; i++) {
		check_sums(cs[i].h, cs[i].name, &st);
		CHECK_EQ(st.restarts, 1);
		CHECK_EQ(st.filtered, 0);
	}

	/* and vcapd's own view of the new rings: each one's sum holds */
	{
		const struct vcap_msg *r = status_query(&d);

		CHECK(r->u.status_reply.n_rings >= 3, "the new vcapd has %u rings",
		      r->u.status_reply.n_rings);
		uint64_t members = 0;

		for (uint32_t i = 0; i < r->u.status_reply.n_rings; i++) {
			const struct vcap_status_ring *g = &r->rings[i];

			CHECK(g->received == g->delivered + g->dropped + g->filtered,
			      "new ring %u: received %llu != delivered + dropped + filtered",
			      g->ring_id, (unsigned long long)g->received);
			if (g->cluster_id)
				members += g->received; /* each member its share */
			else
				CHECK_EQ(g->received, COUNT);
		}
		CHECK_EQ(members, COUNT);
	}

	/* the container's vcapcount ends with the source, having lived through it */
	status = reap_child("the container's vcapcount");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "container exit 0x%x", status);
	f = fopen(out, "r");
	CHECK(f && fgets(json, sizeof(json), f), "no JSON from the container");
	fclose(f);
	fprintf(stderr, "container: %s", json);
	CHECK(strstr(json, "\"restarts\":1,"), "container: not one restart: %s", json);
	{
		unsigned long long pk, rcv, del, drp, flt;
		const char *p = strstr(json, "\"packets\":");

		CHECK(p && sscanf(p, "\"packets\":%llu", &pk) == 1, "packets in %s", json);
		p = strstr(json, "\"received\":");
		CHECK(p && sscanf(p, "\"received\":%llu,\"delivered\":%llu,\"dropped\":%llu,"
				     "\"filtered\":%llu", &rcv, &del, &drp, &flt) == 4,
		      "counters in %s", json);
		CHECK(rcv == del + drp + flt, "container: received != delivered + dropped + filtered");
		CHECK(pk == del && pk > COUNT, "container read %llu, delivered %llu", pk, del);
	}
	for (int i = 0; i < 3; i++)
		vcap_close(cs[i].h);
	unlink(out);
	teardown();
}

/* ---- count: vcapcount -n N through two crashes --------------------------- */

static void count(void)
{
	char bin[512], json[1024] = "";
	int status, pipefd[2];
	pid_t pid;
	ssize_t got;

	setup();
	vcapd_args[0] = "--source";
	vcapd_args[1] = "g=synth:size=64,pps=20000,flows=16";
	vcapd_args[2] = NULL;
	start_vcapd();
	snprintf(bin, sizeof(bin), "%s/tools/vcapcount", build_dir());
	CHECK(pipe(pipefd) == 0, "pipe");
	child = pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		dup2(pipefd[1], 1);
		close(pipefd[0]);
		execl(bin, bin, "-i", "host:g", "-n", "30000", "-q", "--json", (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	for (int crash = 0; crash < 2; crash++) {
		wait_delivered(3000);
		if (crash == 0) {
			kill_vcapd();
		} else {
			/* a clean stop (systemctl restart): the ring ends, the handle reconnects too */
			int st;

			CHECK(kill(d.pid, SIGTERM) == 0, "kill -TERM vcapd");
			CHECK(waitpid(d.pid, &st, 0) == d.pid, "waitpid");
			harness_vcapd_pid = 0;
		}
		start_vcapd();
	}
	{
		struct pollfd pf = { .fd = pipefd[0], .events = POLLIN };

		CHECK(poll(&pf, 1, 60000) == 1, "vcapcount did not finish in 60 s");
	}
	got = read(pipefd[0], json, sizeof(json) - 1);
	CHECK(got > 0, "no output from vcapcount");
	json[got] = '\0';
	close(pipefd[0]);
	fprintf(stderr, "vcapcount: %s", json);
	status = reap_child("vcapcount");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "vcapcount exit 0x%x", status);
	CHECK(strstr(json, "\"packets\":30000,"), "vcapcount did not reach 30000: %s", json);
	CHECK(strstr(json, "\"restarts\":2,"), "not two restarts: %s", json);
	teardown();
}

/* ---- noflag: -EPIPE as before --------------------------------------------- */

static void drain_ring(struct vcap *h, int *rc)
{
	struct vcap_pkt p[64];
	uint64_t until = mono_ms() + 10000;

	while ((*rc = vcap_recv_timeout(h, p, 64, 100)) >= 0)
		CHECK(mono_ms() < until, "the receive never reported the hang-up");
}

static void noflag(void)
{
	struct vcap_stats st;
	struct vcap *h;
	int rc;

	setup();
	vcapd_args[0] = "--source";
	vcapd_args[1] = "g=synth:size=64,pps=20000,flows=16";
	vcapd_args[2] = NULL;
	start_vcapd();
	h = vcap_open("host:g", NULL);
	CHECK(h, "%s", vcap_errmsg());
	wait_delivered(100);
	kill_vcapd();
	drain_ring(h, &rc);
	CHECK(rc == -EPIPE, "receive: %d (%s), want -EPIPE", rc, vcap_errmsg());
	start_vcapd();
	/* it sticks, vcapd back or not */
	drain_ring(h, &rc);
	CHECK(rc == -EPIPE, "after vcapd came back: %d (%s)", rc, vcap_errmsg());
	CHECK_EQ(vcap_stats(h, &st, sizeof(st)), (unsigned long long)-EPIPE);
	CHECK_EQ(st.restarts, 0);
	CHECK_EQ(vcap_set_filter(h, "udp"), (unsigned long long)-EPIPE);
	vcap_close(h);
	teardown();
}

/* ---- deadline: vcapd away longer than reconnect_ms ------------------------ */

static void deadline(void)
{
	VCAP_OPTS(vcap_open_opts, o, .flags = VCAP_OPEN_RECONNECT, .reconnect_ms = 300);
	struct vcap_info info;
	struct vcap_pkt p[64];
	struct vcap *h;
	uint64_t t0, took;
	int rc;

	setup();
	vcapd_args[0] = "--source";
	vcapd_args[1] = "g=synth:size=64,pps=20000,flows=16";
	vcapd_args[2] = NULL;
	start_vcapd();
	h = vcap_open("host:g", &o);
	CHECK(h, "%s", vcap_errmsg());
	CHECK_EQ(vcap_info(h, &info, sizeof(info)), 0);
	CHECK(info.flags & VCAP_OPEN_RECONNECT, "info.flags lacks VCAP_OPEN_RECONNECT");
	wait_delivered(100);
	kill_vcapd();
	t0 = mono_ms();
	/* read the old ring to its end; then the bounded receive returns empty while it retries */
	while ((rc = vcap_recv_timeout(h, p, 64, 20)) > 0)
		;
	CHECK_EQ(rc, 0);
	rc = vcap_set_filter(h, "udp");
	CHECK(rc == -EAGAIN, "a control call while away: %d (%s), want -EAGAIN", rc, vcap_errmsg());
	CHECK(strstr(vcap_errmsg(), "reconnecting"), "message: %s", vcap_errmsg());
	rc = vcap_recv(h, p, VCAP_WAIT);
	took = mono_ms() - t0;
	fprintf(stderr, "gave up after %lld ms: %s\n", (long long)took, vcap_errmsg());
	CHECK(rc == -EPIPE, "receive: %d, want -EPIPE", rc);
	CHECK(strstr(vcap_errmsg(), "not back within 300 ms"), "message: %s", vcap_errmsg());
	CHECK(took >= 290 && took < 5000, "gave up after %lld ms, not 300", (long long)took);
	/* for good: vcapd coming back changes nothing */
	start_vcapd();
	CHECK_EQ(vcap_recv(h, p, 0), (unsigned long long)-EPIPE);
	CHECK_EQ(vcap_set_filter(h, "udp"), (unsigned long long)-EPIPE);
	vcap_close(h);
	teardown();
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} scenarios[] = { { "resume", resume }, { "count", count }, { "noflag", noflag },
			  { "deadline", deadline } };

	signal(SIGPIPE, SIG_IGN);
	CHECK(argc == 2, "usage: test_reconnect SCENARIO");
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		if (!strcmp(argv[1], scenarios[i].name)) {
			scenarios[i].fn();
			fprintf(stderr, "reconnect %s: passed\n", argv[1]);
			return 0;
		}
	CHECK(0, "unknown scenario %s", argv[1]);
	return 1;
}
