/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_capture.c - vcapd as a capture host: live if: sources on real veth
 * pairs, early filtering (BPF, wildcard rules, flow rules, tenant policy),
 * clusters, kernel drops, a link that goes away, and what the kernel
 * filters for vcapd.  One scenario per run: `test_capture NAME`.
 *
 * Traffic is vcapsend's generator, so the test knows every frame that was
 * sent (source/synth.h) and computes each consumer's expected packets with
 * independent oracles: libpcap's own filter engine for BPF, plain C over
 * the generator's tuples for rules.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "client.h"
#include "harness.h"
#include "netns.h"
#include "synth.h"
#include "vcap.h"

static struct vcapd_proc d;
static struct wire w;
static char conf_path[128];

/* A configuration file next to vcapd's socket. */
static void write_config(const char *text)
{
	char dir[] = "/tmp/vcap-conf-XXXXXX";
	FILE *f;

	CHECK(mkdtemp(dir), "mkdtemp");
	snprintf(conf_path, sizeof(conf_path), "%s/vcapd.conf", dir);
	f = fopen(conf_path, "w");
	CHECK(f, "config");
	fputs(text, f);
	fclose(f);
}

static bool bpf_pass(struct bpf_program *prog, const uint8_t *frame, uint32_t len)
{
	struct pcap_pkthdr ph = { .caplen = len, .len = len };

	return pcap_offline_filter(prog, &ph, frame) != 0;
}

static void compile(struct bpf_program *prog, const char *expr)
{
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);

	CHECK(pcap_compile(dead, prog, expr, 1, PCAP_NETMASK_UNKNOWN) == 0, "%s: %s", expr,
	      pcap_geterr(dead));
	pcap_close(dead);
}

/*
 * Read from h until `want` packets arrived (or 5 s passed), checking each
 * is a generator frame `ok` accepts; then make sure nothing more comes.
 * @return packets read.
 */
static uint64_t drain(struct vcap *h, const struct vcap_synth *g, uint64_t want,
		      bool (*ok)(uint64_t n, void *arg), void *arg, uint8_t *seen)
{
	struct vcap_pkt p[256];
	uint64_t got = 0, t = mono_ms();

	while (mono_ms() - t < 5000 && got < want) {
		int n = vcap_recv_burst(h, p, 256, 0);

		CHECK(n >= 0, "recv: %s", vcap_errmsg());
		for (int i = 0; i < n; i++) {
			uint64_t seq;

			CHECK(vcap_synth_verify(g, p[i].data, p[i].caplen, &seq) == 0,
			      "a frame that is not the generator's");
			CHECK(!ok || ok(seq, arg), "packet %llu should not have been delivered",
			      (unsigned long long)seq);
			if (seen) {
				CHECK(!seen[seq], "packet %llu delivered twice", (unsigned long long)seq);
				seen[seq] = 1;
			}
		}
		got += (uint64_t)n;
		if (!n)
			sleep_ms(1);
	}
	sleep_ms(200);
	CHECK(vcap_recv_burst(h, p, 256, 0) == 0, "more packets than expected (%llu)",
	      (unsigned long long)want);
	return got;
}

static void expect_stats(struct vcap *h, uint64_t received, uint64_t delivered,
			 const char *who)
{
	struct vcap_stats st;

	CHECK_EQ(vcap_stats(h, &st, sizeof(st)), 0);
	fprintf(stderr, "%s: received %llu delivered %llu filtered %llu dropped %llu\n", who,
		(unsigned long long)st.received, (unsigned long long)st.delivered,
		(unsigned long long)st.filtered, (unsigned long long)st.dropped);
	CHECK(st.received == received, "%s: received %llu, expected %llu", who,
	      (unsigned long long)st.received, (unsigned long long)received);
	CHECK(st.delivered == delivered, "%s: delivered %llu, expected %llu", who,
	      (unsigned long long)st.delivered, (unsigned long long)delivered);
	CHECK_EQ(st.dropped, 0);
	CHECK_EQ(st.filtered, received - delivered);
}

/* ---- filters: BPF, rules and tenant policy, each consumer exactly ---------- */

#define N_FILTERS 20000

static const struct vcap_synth *oracle_gen;
static struct bpf_program prog_udp, prog_policy;

/* Consumer B's rules, written out plainly from the generator's tuple. */
static int rules_oracle(uint64_t n, uint64_t hits[3])
{
	struct vcap_synth_tuple t;
	uint8_t net[4] = { 10, 1, 0, 0 };

	vcap_synth_tuple(oracle_gen, n, &t);
	if (t.dport == 53) { /* rule 10: drop DNS queries */
		hits[0]++;
		return 0;
	}
	if (t.proto == IPPROTO_TCP && (t.tcp_flags & 0x02)) { /* rule 20: pass SYNs */
		hits[1]++;
		return 1;
	}
	if (!memcmp(t.src, net, 3) && t.src[3] < 32) { /* rule 30: pass 10.1.0.0/27 */
		hits[2]++;
		return 1;
	}
	return 0; /* default: drop */
}

static bool ok_udp(uint64_t n, void *arg)
{
	uint8_t frame[128];

	(void)arg;
	vcap_synth_frame(oracle_gen, n, frame);
	return bpf_pass(&prog_udp, frame, 128);
}

static bool ok_rules(uint64_t n, void *arg)
{
	uint64_t hits[3] = { 0 };

	(void)arg;
	return rules_oracle(n, hits);
}

static bool ok_tenant(uint64_t n, void *arg)
{
	uint8_t frame[128];

	(void)arg;
	vcap_synth_frame(oracle_gen, n, frame);
	return bpf_pass(&prog_udp, frame, 128) && bpf_pass(&prog_policy, frame, 128);
}

static void filters(void)
{
	char conf[1024], tsock[128];
	struct vcap_synth g;
	struct vcap *a, *b, *c, *denied;
	uint64_t want_a = 0, want_b = 0, want_c = 0, hits[3] = { 0 }, h;
	struct vcap_rule r;

	wire_up(&w);
	snprintf(tsock, sizeof(tsock), "/tmp/vcap-tenant-%d.sock", (int)getpid());
	snprintf(conf, sizeof(conf),
		 "source v if:veth0\n"
		 "source gen synth:pps=1000\n"
		 "tenant team-a socket %s\n"
		 "tenant team-a allow v\n"
		 "tenant team-a filter not udp port 53\n",
		 tsock);
	write_config(conf);
	vcapd_start_in(&d, w.cap, "--config", conf_path);

	synth_of(&g, 128, 64, VCAP_SYNTH_MIX);
	oracle_gen = &g;
	compile(&prog_udp, "udp");
	compile(&prog_policy, "not udp port 53");
	for (uint64_t n = 0; n < N_FILTERS; n++) {
		want_a += ok_udp(n, NULL);
		want_b += rules_oracle(n, hits);
		want_c += ok_tenant(n, NULL);
	}

	/* A: root, BPF */
	a = open_or_die("host:v", &(struct vcap_open_opts){ .sz = sizeof(struct vcap_open_opts),
							   .filter = "udp" });
	/* B: root, wildcard rules only, added out of id order */
	b = open_or_die("host:v", NULL);
	r = (struct vcap_rule){ .id = 30, .fields = VCAP_RULE_SADDR, .action = VCAP_PASS,
				.family = 4, .saddr_prefix = 27, .saddr = { 10, 1, 0, 0 } };
	CHECK(vcap_rule_add(b, &r) == 0, "%s", vcap_errmsg());
	r = (struct vcap_rule){ .id = 10, .fields = VCAP_RULE_DPORT, .action = VCAP_DROP,
				.dport_lo = 53, .dport_hi = 53 };
	CHECK(vcap_rule_add(b, &r) == 0, "%s", vcap_errmsg());
	r = (struct vcap_rule){ .id = 20, .fields = VCAP_RULE_PROTO | VCAP_RULE_TCP_FLAGS,
				.action = VCAP_PASS, .proto = IPPROTO_TCP, .tcp_flags = 0x02,
				.tcp_flags_mask = 0x02 };
	CHECK(vcap_rule_add(b, &r) == 0, "%s", vcap_errmsg());
	CHECK(vcap_rule_add(b, &r) == -EEXIST, "a rule id is taken once");
	CHECK(vcap_rule_default(b, VCAP_DROP) == 0, "%s", vcap_errmsg());
	/* C: the tenant, through its own socket; its filter meets the mandatory one */
	c = open_or_die("host:v", &(struct vcap_open_opts){ .sz = sizeof(struct vcap_open_opts),
							   .filter = "udp",
							   .socket_path = tsock });
	/* and the tenant may not open what it is not allowed */
	denied = vcap_open("host:gen",
			   &(struct vcap_open_opts){ .sz = sizeof(struct vcap_open_opts),
						     .socket_path = tsock });
	CHECK(!denied && errno == EACCES, "tenant opened a source it is not allowed");
	CHECK(strstr(vcap_errmsg(), "tenant team-a may not open"), "%s", vcap_errmsg());
	fprintf(stderr, "denied: %s\n", vcap_errmsg());
	denied = vcap_open("host:nosuch",
			   &(struct vcap_open_opts){ .sz = sizeof(struct vcap_open_opts),
						     .socket_path = tsock });
	CHECK(!denied && errno == ENOENT && strstr(vcap_errmsg(), "(vcapd has: v)"),
	      "a tenant is only told of its own sources: %s", vcap_errmsg());

	wire_send(&w, "-l 128 --flows 64 --proto mix -n 20000 -r 100k");
	fprintf(stderr, "expected: udp %llu, rules %llu, tenant %llu of %u\n",
		(unsigned long long)want_a, (unsigned long long)want_b,
		(unsigned long long)want_c, N_FILTERS);
	CHECK_EQ(drain(a, &g, want_a, ok_udp, NULL, NULL), want_a);
	CHECK_EQ(drain(b, &g, want_b, ok_rules, NULL, NULL), want_b);
	CHECK_EQ(drain(c, &g, want_c, ok_tenant, NULL, NULL), want_c);
	expect_stats(a, N_FILTERS, want_a, "bpf");
	expect_stats(b, N_FILTERS, want_b, "rules");
	expect_stats(c, N_FILTERS, want_c, "tenant");
	for (int k = 0; k < 3; k++) {
		static const uint32_t ids[] = { 10, 20, 30 };

		CHECK(vcap_rule_hits(b, ids[k], &h) == 0, "%s", vcap_errmsg());
		CHECK(h == hits[k], "rule %u: %llu hits, expected %llu", ids[k],
		      (unsigned long long)h, (unsigned long long)hits[k]);
	}
	CHECK(vcap_rule_remove(b, 20) == 0 && vcap_rule_remove(b, 20) == -ENOENT, "remove");
	CHECK(vcap_rule_hits(b, 20, &h) == -ENOENT, "gone");
	/* bad rules are refused with a reason */
	r = (struct vcap_rule){ .id = 1, .fields = VCAP_RULE_SADDR, .action = VCAP_PASS,
				.family = 4, .saddr_prefix = 40 };
	CHECK(vcap_rule_add(b, &r) == -EINVAL, "prefix 40 on IPv4");
	fprintf(stderr, "bad rule: %s\n", vcap_errmsg());
	r = (struct vcap_rule){ .id = 2, .fields = VCAP_RULE_DPORT, .action = VCAP_PASS,
				.dport_lo = 9, .dport_hi = 8 };
	CHECK(vcap_rule_add(b, &r) == -EINVAL, "empty port range");
	vcap_close(a);
	vcap_close(b);
	vcap_close(c);
	vcapd_stop(&d);
	unlink(tsock);
}

/* ---- clusters ---------------------------------------------------------------- */

static void cluster(void)
{
	enum { N = 30000, M = 3 };
	static uint8_t seen5[N], seenrr[N];
	struct vcap_synth g;
	struct vcap *m[M], *rr[2], *all;
	uint64_t got[M], rrgot[2];
	int member_of_flow[64];

	wire_up(&w);
	vcapd_start_in(&d, w.cap, "--source", "v=if:veth0");
	synth_of(&g, 128, 64, VCAP_SYNTH_MIX);
	for (int k = 0; k < M; k++)
		m[k] = open_or_die("host:v", &(struct vcap_open_opts){
						   .sz = sizeof(struct vcap_open_opts),
						   .cluster_id = 7,
						   .cluster_mode = VCAP_CLUSTER_5TUPLE });
	for (int k = 0; k < 2; k++)
		rr[k] = open_or_die("host:v", &(struct vcap_open_opts){
						    .sz = sizeof(struct vcap_open_opts),
						    .cluster_id = 9,
						    .cluster_mode = VCAP_CLUSTER_ROUND_ROBIN });
	all = open_or_die("host:v", NULL);
	/* a member may not join with another mode */
	CHECK(!vcap_open("host:v", &(struct vcap_open_opts){ .sz = sizeof(struct vcap_open_opts),
							     .cluster_id = 7,
							     .cluster_mode = VCAP_CLUSTER_2TUPLE }),
	      "mode mismatch refused");
	fprintf(stderr, "mismatch: %s\n", vcap_errmsg());

	wire_send(&w, "-l 128 --flows 64 --proto mix -n 30000 -r 100k");
	CHECK_EQ(drain(all, &g, N, NULL, NULL, NULL), N);

	/* hash cluster: disjoint, complete, every conversation at one member */
	memset(member_of_flow, -1, sizeof(member_of_flow));
	for (int k = 0; k < M; k++) {
		struct vcap_pkt p[256];
		uint64_t t = mono_ms();
		int n;

		got[k] = 0;
		while ((n = vcap_recv_burst(m[k], p, 256, 0)) > 0 || mono_ms() - t < 300) {
			for (int i = 0; i < n; i++) {
				uint64_t seq;
				struct vcap_synth_tuple tu;

				CHECK(vcap_synth_verify(&g, p[i].data, p[i].caplen, &seq) == 0, "frame");
				CHECK(!seen5[seq], "packet %llu went to two members",
				      (unsigned long long)seq);
				seen5[seq] = 1;
				vcap_synth_tuple(&g, seq, &tu);
				CHECK(member_of_flow[tu.flow] < 0 || member_of_flow[tu.flow] == k,
				      "flow %u (%s) split between members %d and %d", tu.flow,
				      tu.reverse ? "reverse" : "forward", member_of_flow[tu.flow], k);
				member_of_flow[tu.flow] = k;
			}
			got[k] += n > 0 ? (uint64_t)n : 0;
		}
		fprintf(stderr, "5-tuple member %d: %llu packets\n", k, (unsigned long long)got[k]);
		CHECK(got[k] > N / 10, "member %d got a fair share", k);
	}
	CHECK_EQ(got[0] + got[1] + got[2], N);
	for (int k = 0; k < 2; k++) {
		rrgot[k] = drain(rr[k], &g, N / 2, NULL, NULL, seenrr);
		fprintf(stderr, "round-robin member %d: %llu packets\n", k,
			(unsigned long long)rrgot[k]);
	}
	CHECK_EQ(rrgot[0], N / 2);
	CHECK_EQ(rrgot[1], N / 2);
	for (int k = 0; k < M; k++)
		vcap_close(m[k]);
	vcap_close(rr[0]);
	vcap_close(rr[1]);
	vcap_close(all);
	vcapd_stop(&d);
}

/* A member leaves mid-stream: the others take its share; nothing twice. */
static void cluster_leave(void)
{
	enum { N = 200000, M = 3 };
	static uint8_t seen[N];
	static int8_t owner[N];
	struct vcap_synth g;
	struct vcap *m[M];
	struct vcap_pkt p[256];
	bool open[M] = { true, true, true }, ended[M] = { false };
	uint64_t total = 0, left_at = 0;
	int live = M;

	vcapd_start(&d, "--source", "s=synth:size=64,pps=100000,count=200000,flows=256,consumers=3");
	synth_of(&g, 64, 256, VCAP_SYNTH_MIX);
	for (int k = 0; k < M; k++)
		m[k] = open_or_die("host:s", &(struct vcap_open_opts){
						   .sz = sizeof(struct vcap_open_opts),
						   .ring_size = 32u << 20,
						   .cluster_id = 5,
						   .cluster_mode = VCAP_CLUSTER_4TUPLE });
	memset(owner, -1, sizeof(owner));
	while (live) {
		for (int k = 0; k < M; k++) {
			int n;

			if (!open[k] || ended[k])
				continue;
			n = vcap_recv_burst(m[k], p, 256, 0);
			if (n == -ENODATA) {
				ended[k] = true;
				live--;
				continue;
			}
			CHECK(n >= 0, "recv: %s", vcap_errmsg());
			for (int i = 0; i < n; i++) {
				uint64_t seq;

				CHECK(vcap_synth_verify(&g, p[i].data, p[i].caplen, &seq) == 0, "frame");
				CHECK(!seen[seq], "packet %llu delivered twice", (unsigned long long)seq);
				seen[seq] = 1;
				owner[seq] = (int8_t)k;
			}
			total += (uint64_t)n;
		}
		if (open[2] && total >= 50000) {
			/* member 2 leaves (its unread packets go with it) */
			vcap_close(m[2]);
			open[2] = false;
			live--;
			left_at = total;
		}
	}
	/* well after the departure every packet reached member 0 or 1 */
	for (uint64_t n = left_at + 20000; n < N; n++)
		CHECK(seen[n] && owner[n] != 2, "packet %llu was lost after member 2 left",
		      (unsigned long long)n);
	/* and some flow member 2 had moved to another member */
	{
		struct vcap_synth_tuple t;
		bool moved = false;

		for (uint64_t n = 0; n < left_at && !moved; n++) {
			if (owner[n] != 2)
				continue;
			vcap_synth_tuple(&g, n, &t);
			for (uint64_t k = N - 256 * 2; k < N; k++) {
				struct vcap_synth_tuple u;

				vcap_synth_tuple(&g, k, &u);
				if (u.flow == t.flow && owner[k] >= 0 && owner[k] != 2)
					moved = true;
			}
		}
		CHECK(moved, "member 2's flows were taken over");
	}
	fprintf(stderr, "member 2 left after %llu packets; the rest arrived at 0 and 1\n",
		(unsigned long long)left_at);
	vcap_close(m[0]);
	vcap_close(m[1]);
	vcapd_stop(&d);
}

/* ---- flow rules ---------------------------------------------------------------- */

static void flow_rule(void)
{
	enum { N = 300000, FLOW = 3 };
	struct vcap_synth g;
	struct vcap_synth_tuple t;
	struct vcap_flow f = { 0 }, rev;
	struct vcap *h;
	struct vcap_pkt p[256];
	struct vcap_stats st;
	uint64_t applied_at = 0, read = 0, hits = 0, expect_hits = 0, before = 0, expect_before = 0;
	bool added = false;
	int n;

	vcapd_start(&d, "--source", "s=synth:size=64,pps=300000,count=300000,flows=16");
	synth_of(&g, 64, 16, VCAP_SYNTH_MIX);
	vcap_synth_tuple(&g, FLOW, &t);
	f.family = 4;
	f.proto = t.proto;
	memcpy(f.addr_a, t.src, 4);
	memcpy(f.addr_b, t.dst, 4);
	f.port_a = t.sport;
	f.port_b = t.dport;
	rev = f;
	memcpy(rev.addr_a, f.addr_b, 16);
	memcpy(rev.addr_b, f.addr_a, 16);
	rev.port_a = f.port_b;
	rev.port_b = f.port_a;

	h = open_or_die("host:s", &(struct vcap_open_opts){ .sz = sizeof(struct vcap_open_opts),
							   .ring_size = 64u << 20 });
	while ((n = vcap_recv_burst(h, p, 256, VCAP_WAIT)) > 0) {
		for (int i = 0; i < n; i++) {
			uint64_t seq;
			struct vcap_synth_tuple u;

			CHECK(vcap_synth_verify(&g, p[i].data, p[i].caplen, &seq) == 0, "frame");
			vcap_synth_tuple(&g, seq, &u);
			if (u.flow != FLOW)
				continue;
			CHECK(!added || seq < applied_at,
			      "packet %llu of the shunted flow arrived (rule applied at %llu)",
			      (unsigned long long)seq, (unsigned long long)applied_at);
			before++;
		}
		read += (uint64_t)n;
		if (!added && read >= 50000) {
			/* the IDS decides the conversation is benign: shunt it */
			CHECK(vcap_flow_add(h, &f, VCAP_DROP, 0, &applied_at) == 0, "%s",
			      vcap_errmsg());
			CHECK(vcap_flow_add(h, &rev, VCAP_DROP, 0, NULL) == -EEXIST,
			      "the reverse direction names the same flow");
			added = true;
			fprintf(stderr, "flow rule applied at packet %llu (read %llu)\n",
				(unsigned long long)applied_at, (unsigned long long)read);
		}
	}
	CHECK_EQ(n, (unsigned long long)-ENODATA);
	for (uint64_t k = 0; k < N; k++) {
		struct vcap_synth_tuple u;

		vcap_synth_tuple(&g, k, &u);
		if (u.flow == FLOW) {
			expect_hits += k >= applied_at;
			expect_before += k < applied_at;
		}
	}
	CHECK_EQ(before, expect_before);
	CHECK(vcap_flow_remove(h, &rev, &hits) == 0, "remove by the reverse: %s", vcap_errmsg());
	CHECK_EQ(hits, expect_hits);
	CHECK(vcap_flow_remove(h, &f, &hits) == -ENOENT, "removed once");
	CHECK_EQ(vcap_stats(h, &st, sizeof(st)), 0);
	CHECK_EQ(st.filtered, expect_hits);
	CHECK_EQ(st.shunted, expect_hits); /* all of it the flow rule's doing */
	CHECK_EQ(st.received, N);
	fprintf(stderr, "flow rule: %llu packets of flow %d shunted after the rule, %llu before\n",
		(unsigned long long)hits, FLOW, (unsigned long long)before);
	vcap_close(h);
	vcapd_stop(&d);
}

/* Idle expiry on live traffic: the rule outlives a burst, dies in the pause. */
static void idle_expiry(void)
{
	struct vcap_synth g;
	struct vcap_synth_tuple t;
	struct vcap_flow f = { 0 };
	struct vcap *h;
	struct vcap_stats st;
	uint64_t hits;

	wire_up(&w);
	vcapd_start_in(&d, w.cap, "--source", "v=if:veth0");
	synth_of(&g, 128, 4, VCAP_SYNTH_UDP);
	vcap_synth_tuple(&g, 0, &t);
	f.family = 4;
	f.proto = t.proto;
	memcpy(f.addr_a, t.src, 4);
	memcpy(f.addr_b, t.dst, 4);
	f.port_a = t.sport;
	f.port_b = t.dport;
	h = open_or_die("host:v", NULL);
	CHECK(vcap_flow_add(h, &f, VCAP_DROP, 600, NULL) == 0, "%s", vcap_errmsg());

	wire_send(&w, "-l 128 --flows 4 --proto udp -n 4000 -r 20k");
	CHECK_EQ(drain(h, &g, 3000, NULL, NULL, NULL), 3000);
	CHECK(status_query(&d)->rings[0].flows == 1, "the rule is still there after the burst");
	sleep_ms(1500); /* > 600 ms without a packet of the flow */
	CHECK(status_query(&d)->rings[0].flows == 0, "the idle rule expired");
	CHECK(vcap_flow_remove(h, &f, &hits) == -ENOENT, "expired rules are gone");

	wire_send(&w, "-l 128 --flows 4 --proto udp -n 4000 -r 20k");
	CHECK_EQ(drain(h, &g, 4000, NULL, NULL, NULL), 4000);
	CHECK_EQ(vcap_stats(h, &st, sizeof(st)), 0);
	CHECK_EQ(st.received, 8000);
	CHECK_EQ(st.filtered, 1000);
	CHECK_EQ(st.shunted, 1000);
	vcap_close(h);
	vcapd_stop(&d);
}

/* ---- tenants by uid, and without any policy --------------------------------- */

/* In a child with uid 1000: open source `dev`; report errno (0: opened). */
static int open_as_uid(const char *dev, const char *filter, uint64_t *tcp_only)
{
	int pipefd[2], status;
	pid_t pid;
	int result[2] = { -1, 0 };

	CHECK(pipe(pipefd) == 0, "pipe");
	pid = fork();
	if (pid == 0) {
		struct vcap *h;
		struct vcap_synth g;
		struct vcap_pkt p[64];
		int res[2] = { 0, 0 }, got = 0;
		struct vcap_rule all = { .id = 1, .action = VCAP_PASS };

		if (setgid(1000) || setuid(1000))
			_exit(3);
		h = vcap_open(dev, &(struct vcap_open_opts){ .sz = sizeof(struct vcap_open_opts),
							     .filter = filter });
		if (!h) {
			res[0] = errno;
			fprintf(stderr, "uid 1000: %s\n", vcap_errmsg());
		} else {
			/* a PASS rule cannot widen what the policy allows */
			vcap_rule_add(h, &all);
			synth_of(&g, 64, 1024, VCAP_SYNTH_MIX);
			res[1] = 1;
			while (got < 500) {
				int n = vcap_recv_burst(h, p, 64, VCAP_WAIT);

				for (int i = 0; i < n; i++) {
					struct vcap_synth_tuple t;
					uint64_t seq;

					if (vcap_synth_verify(&g, p[i].data, p[i].caplen, &seq) ||
					    (vcap_synth_tuple(&g, seq, &t), t.proto != IPPROTO_TCP))
						res[1] = 0;
				}
				got += n;
			}
		}
		(void)!write(pipefd[1], res, sizeof(res));
		_exit(0);
	}
	close(pipefd[1]);
	CHECK(read(pipefd[0], result, sizeof(result)) == sizeof(result), "child result");
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	*tcp_only = (uint64_t)result[1];
	return result[0];
}

static void policy_uid(void)
{
	uint64_t tcp_only;

	/* no configuration: only root may open */
	vcapd_start(&d, "--source", "s=synth:size=64,pps=50000");
	CHECK(chmod(d.dir, 0755) == 0 && chmod(d.sock, 0666) == 0, "let uid 1000 reach vcapd");
	CHECK_EQ(open_as_uid("host:s", NULL, &tcp_only), EACCES);
	vcapd_stop(&d);

	/* uid 1000 is tenant "lab": only TCP, and only source s */
	write_config("source s synth:size=64,pps=50000\n"
		     "source t synth:size=64,pps=50000\n"
		     "tenant lab uid 1000\n"
		     "tenant lab allow s\n"
		     "tenant lab filter tcp\n");
	vcapd_start(&d, "--config", conf_path);
	/* the main socket is root's, 0600, unless the operator opens it (a socket line would) */
	CHECK(chmod(d.dir, 0755) == 0 && chmod(d.sock, 0666) == 0, "let uid 1000 reach vcapd");
	CHECK_EQ(open_as_uid("host:s", NULL, &tcp_only), 0);
	CHECK(tcp_only, "the tenant saw only TCP, its own PASS rule notwithstanding");
	CHECK_EQ(open_as_uid("host:t", NULL, &tcp_only), EACCES);
	vcapd_stop(&d);
}

/* ---- kernel drops, a link that goes away, what the kernel filters ------------ */

static void kernel_drops(void)
{
	struct vcap_synth g;
	struct vcap *h;
	struct vcap_stats st;
	struct vcap_status_source src;
	uint64_t t;

	wire_up(&w);
	/* a small kernel ring: 4 blocks of 64 KiB, about 1500 frames */
	vcapd_start_in(&d, w.cap, "--source", "v=if:veth0,ring=256Ki,block=64Ki,snaplen=256");
	synth_of(&g, 128, 64, VCAP_SYNTH_MIX);
	h = open_or_die("host:v", &(struct vcap_open_opts){ .sz = sizeof(struct vcap_open_opts),
							   .ring_size = 32u << 20 });
	kill(d.pid, SIGSTOP); /* vcapd stops reading; the kernel ring fills */
	wire_send(&w, "-l 128 --flows 64 --proto mix -n 20000");
	kill(d.pid, SIGCONT);
	t = mono_ms();
	do {
		sleep_ms(100);
		CHECK_EQ(vcap_stats(h, &st, sizeof(st)), 0);
	} while (st.received + st.kernel_drops < 20000 && mono_ms() - t < 5000);
	fprintf(stderr, "kernel drops: received %llu, kernel dropped %llu\n",
		(unsigned long long)st.received, (unsigned long long)st.kernel_drops);
	CHECK(st.kernel_drops > 0, "the kernel dropped while vcapd was stopped");
	CHECK_EQ(st.received + st.kernel_drops, 20000);
	src = status_source(&d, "v");
	CHECK_EQ(src.kernel_drops, st.kernel_drops);
	CHECK_EQ(drain(h, &g, st.received, NULL, NULL, NULL), st.received);
	vcap_close(h);
	vcapd_stop(&d);
}

static void link_down(void)
{
	struct vcap_synth g;
	struct vcap *h;
	struct vcap_status_source src;
	uint64_t t;

	wire_up(&w);
	vcapd_start_in(&d, w.cap, "--source", "v=if:veth0");
	synth_of(&g, 128, 64, VCAP_SYNTH_MIX);
	h = open_or_die("host:v", NULL);
	wire_send(&w, "-l 128 --flows 64 --proto mix -n 1000");
	CHECK_EQ(drain(h, &g, 1000, NULL, NULL, NULL), 1000);

	CHECK(sh("ip -n %s link del veth0", w.cap) == 0, "link del");
	t = mono_ms();
	do {
		sleep_ms(50);
		src = status_source(&d, "v");
	} while (src.state != VCAP_SOURCE_FAILED && mono_ms() - t < 5000);
	fprintf(stderr, "link gone: state %u, error \"%.64s\"\n", src.state, src.error);
	CHECK(src.state == VCAP_SOURCE_FAILED && src.error[0], "the loss is reported");
	CHECK(kill(d.pid, 0) == 0, "vcapd lives on");

	CHECK(sh("ip link add veth0 netns %s type veth peer name veth1 netns %s && "
		 "ip -n %s link set veth0 up && ip -n %s link set veth1 up",
		 w.cap, w.snd, w.cap, w.snd) == 0,
	      "veth again");
	t = mono_ms();
	do {
		sleep_ms(50);
		src = status_source(&d, "v");
	} while ((src.state == VCAP_SOURCE_FAILED || src.error[0]) && mono_ms() - t < 5000);
	CHECK(src.state != VCAP_SOURCE_FAILED && !src.error[0], "the source recovered");
	wire_send(&w, "-l 128 --flows 64 --proto mix -n 1000");
	CHECK_EQ(drain(h, &g, 1000, NULL, NULL, NULL), 1000);
	vcap_close(h);
	vcapd_stop(&d);
}

static void kernel_filter(void)
{
	struct vcap_synth g;
	struct vcap *a, *b, *c;
	struct vcap_status_source src;
	struct bpf_program prog;
	struct vcap_stats st;
	uint64_t want = 0;
	uint8_t frame[128];

	wire_up(&w);
	vcapd_start_in(&d, w.cap, "--source", "v=if:veth0");
	src = status_source(&d, "v");
	CHECK(src.kernel_drop_all, "nobody listens: the kernel drops everything");

	VCAP_OPTS(vcap_open_opts, udp, .filter = "udp");
	VCAP_OPTS(vcap_open_opts, tcp, .filter = "tcp");
	a = open_or_die("host:v", &udp);
	b = open_or_die("host:v", &udp);
	src = status_source(&d, "v");
	CHECK(!src.kernel_drop_all && !strcmp(src.kernel_filter, "udp"),
	      "one common filter runs in the kernel: \"%.128s\"", src.kernel_filter);
	c = open_or_die("host:v", &tcp);
	src = status_source(&d, "v");
	CHECK(!src.kernel_filter[0], "filters differ: the kernel passes all");
	vcap_close(c);
	src = status_source(&d, "v");
	CHECK(!strcmp(src.kernel_filter, "udp"), "back to the common filter");

	/* the kernel did the filtering: vcapd never saw a TCP packet */
	synth_of(&g, 128, 64, VCAP_SYNTH_MIX);
	compile(&prog, "udp");
	for (uint64_t n = 0; n < 10000; n++) {
		vcap_synth_frame(&g, n, frame);
		want += bpf_pass(&prog, frame, 128);
	}
	wire_send(&w, "-l 128 --flows 64 --proto mix -n 10000 -r 100k");
	CHECK_EQ(drain(a, &g, want, NULL, NULL, NULL), want);
	CHECK_EQ(vcap_stats(a, &st, sizeof(st)), 0);
	CHECK_EQ(st.received, want);
	CHECK_EQ(st.filtered, 0);
	CHECK_EQ(status_source(&d, "v").received, want);
	pcap_freecode(&prog);
	vcap_close(a);
	vcap_close(b);
	src = status_source(&d, "v");
	CHECK(src.kernel_drop_all, "nobody listens again");
	vcapd_stop(&d);
}

/* Two interfaces captured at once, each consumer exactly its own. */
static void two_ifaces(void)
{
	struct vcap_synth g1, g2;
	struct vcap *a, *b;

	wire_up(&w);
	CHECK(sh("ip link add veth2 netns %s type veth peer name veth3 netns %s && "
		 "ip -n %s link set veth2 up && ip -n %s link set veth3 up",
		 w.cap, w.snd, w.cap, w.snd) == 0,
	      "second veth pair");
	vcapd_start_in(&d, w.cap, "--source", "one=if:veth0", "--source", "two=if:veth2");
	synth_of(&g1, 128, 64, VCAP_SYNTH_MIX);
	synth_of(&g2, 256, 7, VCAP_SYNTH_UDP);
	a = open_or_die("host:one", NULL);
	b = open_or_die("host:two", NULL);
	CHECK(sh("ip netns exec %s %s/tools/vcapsend -i veth1 -q -l 128 --flows 64 --proto mix "
		 "-n 20000 -r 50k >/dev/null & "
		 "ip netns exec %s %s/tools/vcapsend -i veth3 -q -l 256 --flows 7 --proto udp "
		 "-n 15000 -r 50k >/dev/null; wait",
		 w.snd, getenv("VCAP_BUILD_DIR"), w.snd, getenv("VCAP_BUILD_DIR")) == 0,
	      "two senders");
	CHECK_EQ(drain(a, &g1, 20000, NULL, NULL, NULL), 20000);
	CHECK_EQ(drain(b, &g2, 15000, NULL, NULL, NULL), 15000);
	expect_stats(a, 20000, 20000, "veth0");
	expect_stats(b, 15000, 15000, "veth2");
	vcap_close(a);
	vcap_close(b);
	vcapd_stop(&d);
}

static const struct scenario scenarios[] = {
	{ "filters", filters },
	{ "cluster", cluster },
	{ "cluster-leave", cluster_leave },
	{ "flow-rule", flow_rule },
	{ "idle-expiry", idle_expiry },
	{ "policy-uid", policy_uid },
	{ "kernel-drops", kernel_drops },
	{ "link-down", link_down },
	{ "kernel-filter", kernel_filter },
	{ "two-ifaces", two_ifaces },
};

int main(int argc, char **argv)
{
	return RUN_SCENARIOS(argc, argv, scenarios);
}
