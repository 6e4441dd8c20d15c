/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_flows.c - what a consumer learns of its own rules from a real vcapd:
 * the shunted counter, a flow rule's hits, the listing of its flow rules,
 * the limits vcap_info() reports, and that no other session can read them.
 * One scenario per run: `test_flows NAME`.
 *
 *   shunted     a BPF filter, flow rules, wildcard rules and the default
 *               action each stop some packets of a counted synth source:
 *               filtered and shunted exact against an oracle written from
 *               the generator's tuples (libpcap judges the BPF), every hit
 *               count exact, received = delivered + dropped + filtered;
 *   flow-hits   a live rule's hits grow while traffic runs, by either
 *               direction; an expired or removed rule is -ENOENT; listing
 *               while the capture thread works; direct devices have none;
 *   flow-list   2000 rules (more than three pages), each listed once as
 *               added with its exact hits; short arrays, larger and smaller
 *               strides;
 *   flow-max    vcap_info's rule_max, flow_max and flags; -ENOSPC at
 *               `limit flow-rules` and `limit wildcard-rules`; bad values
 *               stop vcapd with a message naming the line;
 *   isolation   neither another root session nor a tenant can ask for the
 *               hits or the listing of a ring that is not its own.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "harness.h"
#include "synth.h"
#include "vcap.h"
#include "wire.h"

static struct vcapd_proc d;

/* A configuration file in its own directory (for a tenant socket beside it). */
static void write_config(char *dir, size_t dir_len, char *path, size_t path_len,
			 const char *text)
{
	FILE *f;

	snprintf(dir, dir_len, "/tmp/vcap-flows-XXXXXX");
	CHECK(mkdtemp(dir), "mkdtemp");
	snprintf(path, path_len, "%s/vcapd.conf", dir);
	f = fopen(path, "w");
	CHECK(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

/* The flow of synth tuple t, named client first, or server first. */
static struct vcap_flow flow_of(const struct vcap_synth_tuple *t, bool swap)
{
	struct vcap_flow f = { .family = t->family, .proto = t->proto };

	memcpy(f.addr_a, swap ? t->dst : t->src, 16);
	memcpy(f.addr_b, swap ? t->src : t->dst, 16);
	f.port_a = swap ? t->dport : t->sport;
	f.port_b = swap ? t->sport : t->dport;
	return f;
}

/* Flow k of generator g, from the first packet's point of view. */
static struct vcap_flow synth_flow(const struct vcap_synth *g, uint64_t k, bool swap)
{
	struct vcap_synth_tuple t;

	vcap_synth_tuple(g, k, &t);
	return flow_of(&t, swap);
}

/* Read h until the source ends; each packet must be one `want` accepts.  @return packets. */
static uint64_t read_to_end(struct vcap *h, const struct vcap_synth *g,
			    bool (*want)(uint64_t seq))
{
	struct vcap_pkt p[256];
	uint64_t got = 0;
	int n;

	while ((n = vcap_recv_burst(h, p, 256, VCAP_WAIT)) > 0) {
		for (int i = 0; i < n; i++) {
			uint64_t seq;

			CHECK(vcap_synth_verify(g, p[i].data, p[i].caplen, &seq) == 0, "a frame");
			CHECK(!want || want(seq), "packet %llu should not have arrived",
			      (unsigned long long)seq);
		}
		got += (uint64_t)n;
	}
	CHECK(n == -ENODATA, "recv: %s", vcap_errmsg());
	return got;
}

/* ---- shunted: each stage's count, exactly ------------------------------------ */

#define SH_N 200000
#define SH_FLOWS 64
#define SH_FILTER "not udp port 53"

static struct vcap_synth sh_g;
static struct bpf_program sh_bpf;

enum sh_fate { SH_BPF, SH_FLOW1, SH_FLOW8, SH_FLOW3, SH_RULE1, SH_RULE2, SH_DEFAULT, SH_FATES };

/*
 * What the consumer's filter and rules make of packet n, read from vcap.h:
 * the filter first, then the flow rules, the wildcard rules by id, the
 * default.  Flow 1 is shunted by a flow rule, flow 3 (TCP) passed by one;
 * flow 8 has a DROP rule but is DNS, which the filter rejects first.
 * Rule 1 drops TCP, rule 2 passes what 10.1.0.0/16 sends; the default drops.
 */
static enum sh_fate sh_oracle(uint64_t n)
{
	struct pcap_pkthdr ph = { .caplen = 96, .len = 96 };
	struct vcap_synth_tuple t;
	uint8_t frame[96];

	vcap_synth_frame(&sh_g, n, frame);
	if (!pcap_offline_filter(&sh_bpf, &ph, frame))
		return SH_BPF;
	vcap_synth_tuple(&sh_g, n, &t);
	if (t.flow == 1)
		return SH_FLOW1;
	if (t.flow == 8)
		return SH_FLOW8;
	if (t.flow == 3)
		return SH_FLOW3;
	if (t.proto == IPPROTO_TCP)
		return SH_RULE1;
	if (t.src[0] == 10 && t.src[1] == 1)
		return SH_RULE2;
	return SH_DEFAULT;
}

static bool sh_delivered(uint64_t n)
{
	enum sh_fate f = sh_oracle(n);

	return f == SH_FLOW3 || f == SH_RULE2;
}

static void shunted(void)
{
	VCAP_OPTS(vcap_open_opts, o, .ring_size = 64u << 20, .filter = SH_FILTER);
	VCAP_OPTS(vcap_open_opts, o2, .ring_size = 64u << 20);
	struct vcap_rule tcp = { .id = 1, .fields = VCAP_RULE_PROTO, .action = VCAP_DROP,
				 .proto = IPPROTO_TCP };
	struct vcap_rule clients = { .id = 2, .fields = VCAP_RULE_SADDR, .action = VCAP_PASS,
				     .family = 4, .saddr_prefix = 16, .saddr = { 10, 1 } };
	uint64_t fate[SH_FATES] = { 0 }, hits, shunt, got;
	struct vcap_flow f1, f3, f8;
	struct vcap_stats st, st2;
	struct vcap *h, *h2;
	const struct vcap_msg *status;
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);

	CHECK(pcap_compile(dead, &sh_bpf, SH_FILTER, 1, PCAP_NETMASK_UNKNOWN) == 0, "%s",
	      pcap_geterr(dead));
	synth_of(&sh_g, 96, SH_FLOWS, VCAP_SYNTH_MIX);
	for (uint64_t n = 0; n < SH_N; n++)
		fate[sh_oracle(n)]++;
	shunt = fate[SH_FLOW1] + fate[SH_RULE1] + fate[SH_DEFAULT];
	CHECK(fate[SH_BPF] && fate[SH_FLOW1] && fate[SH_FLOW3] && fate[SH_RULE1] &&
		      fate[SH_RULE2] && fate[SH_DEFAULT] && !fate[SH_FLOW8],
	      "the mix exercises every stage");

	/* the source starts with the second consumer: every packet meets the rules */
	vcapd_start(&d, "--source", "s=synth:size=96,count=200000,flows=64,consumers=2");
	h = open_or_die("host:s", &o);
	f1 = synth_flow(&sh_g, 1, false);
	f3 = synth_flow(&sh_g, 3, true);
	f8 = synth_flow(&sh_g, 8, false);
	CHECK(vcap_flow_add(h, &f1, VCAP_DROP, 0, NULL) == 0, "%s", vcap_errmsg());
	CHECK(vcap_flow_add(h, &f3, VCAP_PASS, 0, NULL) == 0, "%s", vcap_errmsg());
	CHECK(vcap_flow_add(h, &f8, VCAP_DROP, 0, NULL) == 0, "%s", vcap_errmsg());
	CHECK(vcap_rule_add(h, &tcp) == 0, "%s", vcap_errmsg());
	CHECK(vcap_rule_add(h, &clients) == 0, "%s", vcap_errmsg());
	CHECK(vcap_rule_default(h, VCAP_DROP) == 0, "%s", vcap_errmsg());
	h2 = open_or_die("host:s", &o2);

	got = read_to_end(h, &sh_g, sh_delivered);
	CHECK_EQ(read_to_end(h2, &sh_g, NULL), SH_N);
	CHECK_EQ(vcap_stats(h, &st, sizeof(st)), 0);
	fprintf(stderr,
		"received %llu delivered %llu filtered %llu (bpf %llu) shunted %llu (flow %llu, "
		"rule %llu, default %llu)\n",
		(unsigned long long)st.received, (unsigned long long)st.delivered,
		(unsigned long long)st.filtered, (unsigned long long)fate[SH_BPF],
		(unsigned long long)st.shunted, (unsigned long long)fate[SH_FLOW1],
		(unsigned long long)fate[SH_RULE1], (unsigned long long)fate[SH_DEFAULT]);
	CHECK_EQ(st.received, SH_N);
	CHECK_EQ(st.delivered, fate[SH_FLOW3] + fate[SH_RULE2]);
	CHECK_EQ(got, st.delivered);
	CHECK_EQ(st.dropped, 0);
	CHECK_EQ(st.filtered, fate[SH_BPF] + shunt);
	CHECK_EQ(st.shunted, shunt);
	CHECK_EQ(st.filtered - st.shunted, fate[SH_BPF]); /* what the filter rejected */
	CHECK_EQ(st.received, st.delivered + st.dropped + st.filtered);

	/* each rule's own count */
	CHECK(vcap_flow_hits(h, &f1, &hits) == 0, "%s", vcap_errmsg());
	CHECK_EQ(hits, fate[SH_FLOW1]);
	CHECK(vcap_flow_hits(h, &f3, &hits) == 0, "%s", vcap_errmsg());
	CHECK_EQ(hits, fate[SH_FLOW3]);
	CHECK(vcap_flow_hits(h, &f8, &hits) == 0, "%s", vcap_errmsg());
	CHECK_EQ(hits, 0); /* the filter rejected flow 8 before its rule saw it */
	CHECK(vcap_rule_hits(h, 1, &hits) == 0, "%s", vcap_errmsg());
	CHECK_EQ(hits, fate[SH_RULE1]);
	CHECK(vcap_rule_hits(h, 2, &hits) == 0, "%s", vcap_errmsg());
	CHECK_EQ(hits, fate[SH_RULE2]);

	/* the consumer without rules: nothing filtered, nothing shunted */
	CHECK_EQ(vcap_stats(h2, &st2, sizeof(st2)), 0);
	CHECK_EQ(st2.delivered, SH_N);
	CHECK_EQ(st2.filtered, 0);
	CHECK_EQ(st2.shunted, 0);

	/* vcapd's own view (vcapctl status) agrees */
	status = status_query(&d);
	for (uint32_t i = 0; i < status->u.status_reply.n_rings; i++) {
		const struct vcap_status_ring *e = &status->rings[i];
		struct vcap_info info;

		CHECK_EQ(vcap_info(h, &info, sizeof(info)), 0);
		if (e->ring_id != info.ring_id)
			continue;
		CHECK_EQ(e->filtered, st.filtered);
		CHECK_EQ(e->shunted, st.shunted);
		CHECK_EQ(e->flows, 3);
		CHECK_EQ(e->rules, 2);
	}
	/* and vcapctl shows it */
	{
		char cmd[512], out[4096] = "", want[64];
		FILE *p;

		snprintf(cmd, sizeof(cmd), "VCAP_SOCKET=%s %s/tools/vcapctl status --json; "
			 "VCAP_SOCKET=%s %s/tools/vcapctl status", d.sock, build_dir(), d.sock,
			 build_dir());
		p = popen(cmd, "r");
		CHECK(p, "popen");
		(void)!fread(out, 1, sizeof(out) - 1, p);
		pclose(p);
		snprintf(want, sizeof(want), "\"shunted\":%llu,", (unsigned long long)st.shunted);
		CHECK(strstr(out, want), "vcapctl status --json says %s: %s", want, out);
		snprintf(want, sizeof(want), "[2 rules, 3 flows, %llu shunted]",
			 (unsigned long long)st.shunted);
		CHECK(strstr(out, want), "vcapctl status says %s: %s", want, out);
	}
	vcap_close(h);
	vcap_close(h2);
	vcapd_stop(&d);
	pcap_freecode(&sh_bpf);
	pcap_close(dead);
}

/* ---- flow-hits: a live rule's hits ------------------------------------------- */

static void flow_hits(void)
{
	VCAP_OPTS(vcap_open_opts, o, .ring_size = 1u << 22);
	struct vcap_synth g;
	struct vcap_flow f, rev, absent, idle;
	struct vcap_flow_stat list[4];
	struct vcap_pkt p[256];
	struct vcap_info info;
	uint64_t h1 = 0, h2 = 0, h3 = 0, t;
	struct vcap *h, *direct;
	int n;

	vcapd_start(&d, "--source", "s=synth:size=64,pps=200000,flows=16");
	synth_of(&g, 64, 16, VCAP_SYNTH_MIX);
	h = open_or_die("host:s", &o);
	f = synth_flow(&g, 3, false);
	rev = synth_flow(&g, 3, true);
	absent = synth_flow(&g, 5, false); /* in the traffic, never given a rule */
	{
		struct vcap_synth wide;

		synth_of(&wide, 64, 1024, VCAP_SYNTH_MIX);
		idle = synth_flow(&wide, 100, false); /* a flow the 16-flow source never sends */
	}
	CHECK(vcap_flow_add(h, &f, VCAP_PASS, 0, NULL) == 0, "%s", vcap_errmsg());
	CHECK(vcap_flow_add(h, &idle, VCAP_DROP, 1000, NULL) == 0, "%s", vcap_errmsg());
	CHECK(vcap_flow_hits(h, &idle, &h1) == 0 && h1 == 0, "a fresh rule: 0 hits, not %llu",
	      (unsigned long long)h1);

	/* growing while the traffic runs; either direction names the rule */
	for (int round = 0; round < 3; round++) {
		t = mono_ms();
		while (mono_ms() - t < 100)
			CHECK((n = vcap_recv_burst(h, p, 256, 0)) >= 0, "%s", vcap_errmsg());
		CHECK(vcap_flow_hits(h, round % 2 ? &rev : &f, &h2) == 0, "%s", vcap_errmsg());
		fprintf(stderr, "round %d: %llu hits\n", round, (unsigned long long)h2);
		CHECK(h2 > h1 + 100, "hits grow: %llu after %llu", (unsigned long long)h2,
		      (unsigned long long)h1);
		h1 = h2;
		/* the listing, from the capture thread, while it captures */
		CHECK_EQ(vcap_flow_list(h, list, 4, sizeof(list[0])), 2);
	}
	CHECK_EQ(vcap_flow_hits(h, &absent, &h3), -ENOENT);
	CHECK(strstr(vcap_errmsg(), "no live rule"), "message: %s", vcap_errmsg());
	CHECK_EQ(vcap_flow_hits(h, &f, NULL), -EINVAL);

	/* idle past its timeout: gone, reclaimed or not */
	sleep_ms(1200);
	CHECK_EQ(vcap_flow_hits(h, &idle, &h3), -ENOENT);
	n = vcap_flow_list(h, list, 4, sizeof(list[0]));
	CHECK(n == 1 || n == 2, "%d", n); /* the sweep may not have counted it out yet */
	CHECK(!memcmp(&list[0].flow, &f, sizeof(f)), "the live rule is the one listed");
	CHECK(list[0].hits >= h1, "listed hits %llu", (unsigned long long)list[0].hits);
	t = mono_ms();
	while (vcap_flow_list(h, NULL, 0, sizeof(list[0])) != 1 && mono_ms() - t < 3000)
		sleep_ms(50);
	CHECK_EQ(vcap_flow_list(h, NULL, 0, sizeof(list[0])), 1);

	/* removed: its hits come with the removal, then it is gone */
	CHECK(vcap_flow_remove(h, &rev, &h3) == 0, "%s", vcap_errmsg());
	CHECK(h3 >= h1, "removal reports %llu >= %llu hits", (unsigned long long)h3,
	      (unsigned long long)h1);
	CHECK_EQ(vcap_flow_hits(h, &f, &h2), -ENOENT);
	CHECK_EQ(vcap_flow_list(h, list, 4, sizeof(list[0])), 0);
	CHECK_EQ(vcap_info(h, &info, sizeof(info)), 0);
	CHECK_EQ(info.flow_max, 1u << 20); /* vcapd's default */
	CHECK_EQ(info.rule_max, 1024);
	CHECK_EQ(info.flags, 0);
	vcap_close(h);
	vcapd_stop(&d);

	/* a direct device has no rules to ask about */
	direct = vcap_open("lo", NULL);
	if (!direct) {
		fprintf(stderr, "no direct device (lo: %s): skipping that part\n", vcap_errmsg());
		return;
	}
	CHECK_EQ(vcap_flow_hits(direct, &f, &h3), -EOPNOTSUPP);
	CHECK_EQ(vcap_flow_list(direct, list, 4, sizeof(list[0])), -EOPNOTSUPP);
	CHECK_EQ(vcap_info(direct, &info, sizeof(info)), 0);
	CHECK(info.rule_max == 0 && info.flow_max == 0 && info.flags == 0,
	      "direct: rule_max %u flow_max %u flags 0x%x", info.rule_max, info.flow_max,
	      info.flags);
	vcap_close(direct);
}

/* ---- flow-list: 2000 rules, every one as added ------------------------------ */

#define FL_N 2000
#define FL_TRAFFIC 1990 /* rules for flows of the traffic; the rest for flows it lacks */
#define FL_FLOWS 4096
#define FL_PKTS (8 * FL_FLOWS) /* 8 packets per flow, 4 each way */

static struct vcap_flow fl_flow[FL_N];

static uint32_t fl_action(uint32_t i)
{
	return i % 2 ? VCAP_PASS : VCAP_DROP;
}

static uint32_t fl_timeout(uint32_t i)
{
	return i % 5 ? 0 : 3600000;
}

static uint64_t fl_hits(uint32_t i)
{
	return i < FL_TRAFFIC ? 8 : 0;
}

static bool fl_delivered(uint64_t n)
{
	uint32_t f = (uint32_t)(n % FL_FLOWS);

	return f >= FL_TRAFFIC || fl_action(f) == VCAP_PASS;
}

/* Which rule e is; -1 if none.  Each rule must be found once: seen[] counts. */
static int fl_find(const struct vcap_flow_stat *e)
{
	for (int i = 0; i < FL_N; i++)
		if (!memcmp(&fl_flow[i], &e->flow, sizeof(e->flow)))
			return i;
	return -1;
}

static void fl_check(const struct vcap_flow_stat *e, uint8_t *seen, uint64_t max_idle_ms)
{
	int i = fl_find(e);

	CHECK(i >= 0, "a listed flow was never added, or not as it was added");
	CHECK(!seen[i], "rule %d listed twice", i);
	seen[i] = 1;
	CHECK_EQ(e->action, fl_action((uint32_t)i));
	CHECK_EQ(e->idle_timeout_ms, fl_timeout((uint32_t)i));
	CHECK(e->hits == fl_hits((uint32_t)i), "rule %d: %llu hits, want %llu", i,
	      (unsigned long long)e->hits, (unsigned long long)fl_hits((uint32_t)i));
	CHECK(e->idle_ms <= max_idle_ms, "rule %d idle %llu ms", i, (unsigned long long)e->idle_ms);
}

/* Another thread's calls on the same handle while pages are read. */
struct hammer {
	struct vcap *h;
	atomic_bool stop;
	unsigned calls;
	int rc;
};

static void *hammer_hits(void *arg)
{
	struct hammer *x = arg;
	uint64_t hits;

	while (!atomic_load(&x->stop) && !x->rc) {
		x->rc = vcap_flow_hits(x->h, &fl_flow[x->calls % FL_N], &hits);
		if (!x->rc && hits != fl_hits(x->calls % FL_N))
			x->rc = -EBADMSG;
		x->calls++;
	}
	return NULL;
}

static void flow_list(void)
{
	/* a struct vcap_flow_stat of a later vcap.h, with fields this library lacks */
	struct later {
		struct vcap_flow_stat now;
		uint64_t future[2];
	};
	static struct vcap_flow_stat all[FL_N + 100];
	static struct later big[FL_N];
	static uint8_t seen[FL_N];
	VCAP_OPTS(vcap_open_opts, o, .ring_size = 16u << 20);
	struct vcap_synth g;
	struct vcap *h, *h2;
	uint64_t t0 = mono_ms(), hits;
	int n;

	vcapd_start(&d, "--source", "s=synth:size=64,count=32768,flows=4096,consumers=2");
	synth_of(&g, 64, FL_FLOWS, VCAP_SYNTH_MIX);
	h = open_or_die("host:s", &o);
	for (uint32_t i = 0; i < FL_N; i++) {
		if (i < FL_TRAFFIC) {
			fl_flow[i] = synth_flow(&g, i, i % 3 == 0);
		} else if (i < FL_TRAFFIC + 5) { /* ICMP between two addresses: ports 0 */
			fl_flow[i] = (struct vcap_flow){ .family = 4, .proto = 1 };
			memcpy(fl_flow[i].addr_a, (uint8_t[]){ 192, 168, 1, (uint8_t)i }, 4);
			memcpy(fl_flow[i].addr_b, (uint8_t[]){ 192, 168, 2, (uint8_t)i }, 4);
		} else { /* IPv6 UDP */
			fl_flow[i] = (struct vcap_flow){ .family = 6, .proto = 17,
							 .port_a = (uint16_t)(1000 + i),
							 .port_b = (uint16_t)(2000 + i) };
			fl_flow[i].addr_a[0] = fl_flow[i].addr_b[0] = 0xfd;
			fl_flow[i].addr_a[15] = (uint8_t)i;
			fl_flow[i].addr_b[14] = (uint8_t)i;
		}
		CHECK(vcap_flow_add(h, &fl_flow[i], fl_action(i), fl_timeout(i), NULL) == 0,
		      "rule %u: %s", i, vcap_errmsg());
	}
	h2 = open_or_die("host:s", &o); /* the source starts */
	CHECK_EQ(read_to_end(h, &g, fl_delivered), FL_PKTS - 995 * 8);
	CHECK_EQ(read_to_end(h2, &g, NULL), FL_PKTS);
	vcap_close(h2);

	/* the count alone, then everything */
	CHECK_EQ(vcap_flow_list(h, NULL, 0, sizeof(all[0])), FL_N);
	n = vcap_flow_list(h, all, FL_N + 100, sizeof(all[0]));
	CHECK(n == FL_N, "listed %d: %s", n, vcap_errmsg());
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < n; i++)
		fl_check(&all[i], seen, mono_ms() - t0);
	fprintf(stderr, "2000 rules listed, each once, as added, with its hits\n");

	/* room for 100: 100 filled, all 2000 counted */
	memset(all, 0xee, sizeof(all));
	CHECK_EQ(vcap_flow_list(h, all, 100, sizeof(all[0])), FL_N);
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < 100; i++)
		fl_check(&all[i], seen, mono_ms() - t0);
	CHECK(all[100].hits == 0xeeeeeeeeeeeeeeeeull, "nothing written past the room given");

	/* a larger stride: each entry filled, the fields this library lacks zeroed */
	memset(big, 0xee, sizeof(big));
	CHECK_EQ(vcap_flow_list(h, &big[0].now, FL_N, sizeof(big[0])), FL_N);
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < FL_N; i++) {
		fl_check(&big[i].now, seen, mono_ms() - t0);
		CHECK(!big[i].future[0] && !big[i].future[1], "entry %d's unknown fields zeroed", i);
	}
	/* a stride below the first struct, or no array */
	CHECK_EQ(vcap_flow_list(h, all, 10, sizeof(all[0]) - 1), -EINVAL);
	CHECK(strstr(vcap_errmsg(), "sizeof(struct vcap_flow_stat)"), "%s", vcap_errmsg());
	CHECK_EQ(vcap_flow_list(h, NULL, 10, sizeof(all[0])), -EINVAL);

	/* the listing and the hits agree; STATUS counts the same */
	for (uint32_t i = 0; i < FL_N; i += 97) {
		CHECK(vcap_flow_hits(h, &fl_flow[i], &hits) == 0, "%s", vcap_errmsg());
		CHECK_EQ(hits, fl_hits(i));
	}
	CHECK_EQ(status_query(&d)->rings[0].flows, FL_N);

	/* listings while another thread's requests share the channel: no page is torn */
	{
		struct hammer x = { .h = h };
		pthread_t t;

		CHECK_EQ(pthread_create(&t, NULL, hammer_hits, &x), 0);
		for (int round = 0; round < 10; round++) {
			CHECK_EQ(vcap_flow_list(h, all, FL_N, sizeof(all[0])), FL_N);
			memset(seen, 0, sizeof(seen));
			for (int i = 0; i < FL_N; i++)
				fl_check(&all[i], seen, mono_ms() - t0);
		}
		atomic_store(&x.stop, true);
		pthread_join(t, NULL);
		CHECK(x.rc == 0, "the other thread's vcap_flow_hits: %d", x.rc);
		fprintf(stderr, "10 listings whole while another thread made %u calls\n", x.calls);
	}
	vcap_close(h);
	vcapd_stop(&d);
}

/* ---- flow-max: the limits, reported and enforced -------------------------- */

/* vcapd with this configuration must refuse to start, saying `want`. */
static void config_refused(const char *text, const char *want)
{
	char dir[64], path[128], cmd[512], out[1024] = "";
	FILE *p;

	write_config(dir, sizeof(dir), path, sizeof(path), text);
	snprintf(cmd, sizeof(cmd), "%s/daemon/vcapd --foreground --socket %s/x.sock --config %s "
		 "2>&1; echo exit=$?", build_dir(), dir, path);
	p = popen(cmd, "r");
	CHECK(p, "popen");
	(void)!fread(out, 1, sizeof(out) - 1, p);
	pclose(p);
	fprintf(stderr, "refused: %s", out);
	CHECK(strstr(out, want) && strstr(out, path) && strstr(out, ":2:") &&
		      strstr(out, "exit=1"),
	      "vcapd must refuse \"%s\" naming %s line 2 and \"%s\": %s", text, path, want, out);
	unlink(path);
	rmdir(dir);
}

static void flow_max(void)
{
	VCAP_OPTS(vcap_open_opts, hashed, .flags = VCAP_OPEN_FLOW_HASH);
	char dir[64], path[128];
	struct vcap_synth g;
	struct vcap_info info;
	struct vcap_flow f;
	struct vcap_rule r = { .fields = VCAP_RULE_PROTO, .action = VCAP_DROP, .proto = 17 };
	struct vcap *h, *plain;

	synth_of(&g, 64, 1024, VCAP_SYNTH_MIX);
	write_config(dir, sizeof(dir), path, sizeof(path),
		     "source s synth:size=64,pps=10000\n"
		     "limit flow-rules 64\n"
		     "limit wildcard-rules 8\n");
	vcapd_start(&d, "--config", path);
	h = open_or_die("host:s", &hashed);
	plain = open_or_die("host:s", NULL);
	CHECK_EQ(vcap_info(h, &info, sizeof(info)), 0);
	CHECK_EQ(info.flow_max, 64);
	CHECK_EQ(info.rule_max, 8);
	CHECK_EQ(info.flags, VCAP_OPEN_FLOW_HASH);
	CHECK_EQ(vcap_info(plain, &info, sizeof(info)), 0);
	CHECK_EQ(info.flags, 0);
	{
		VCAP_OPTS(vcap_open_opts, both, .flags = VCAP_OPEN_FLOW_HASH | VCAP_OPEN_META);
		struct vcap *m = open_or_die("host:s", &both);

		CHECK_EQ(vcap_info(m, &info, sizeof(info)), 0);
		CHECK_EQ(info.flags, VCAP_OPEN_FLOW_HASH | VCAP_OPEN_META);
		vcap_close(m);
	}

	for (uint32_t i = 0; i < 64; i++) {
		f = synth_flow(&g, i, i % 2);
		CHECK(vcap_flow_add(h, &f, VCAP_DROP, 0, NULL) == 0, "flow %u: %s", i,
		      vcap_errmsg());
	}
	f = synth_flow(&g, 64, false);
	CHECK_EQ(vcap_flow_add(h, &f, VCAP_DROP, 0, NULL), -ENOSPC);
	CHECK(strstr(vcap_errmsg(), "64"), "the message names the limit: %s", vcap_errmsg());
	CHECK_EQ(vcap_flow_list(h, NULL, 0, sizeof(struct vcap_flow_stat)), 64);
	/* the limit is per ring */
	CHECK(vcap_flow_add(plain, &f, VCAP_DROP, 0, NULL) == 0, "%s", vcap_errmsg());
	/* one out, one in */
	{
		struct vcap_flow first = synth_flow(&g, 0, false);

		CHECK(vcap_flow_remove(h, &first, NULL) == 0, "%s", vcap_errmsg());
		CHECK(vcap_flow_add(h, &f, VCAP_DROP, 0, NULL) == 0, "%s", vcap_errmsg());
		CHECK_EQ(vcap_flow_add(h, &first, VCAP_DROP, 0, NULL), -ENOSPC);
	}
	for (uint32_t i = 1; i <= 8; i++) {
		r.id = i;
		CHECK(vcap_rule_add(h, &r) == 0, "rule %u: %s", i, vcap_errmsg());
	}
	r.id = 9;
	CHECK_EQ(vcap_rule_add(h, &r), -ENOSPC);
	CHECK(strstr(vcap_errmsg(), "8"), "the message names the limit: %s", vcap_errmsg());
	vcap_close(h);
	vcap_close(plain);
	vcapd_stop(&d);
	unlink(path);
	rmdir(dir);

	/* 0: no flow rules at all */
	write_config(dir, sizeof(dir), path, sizeof(path),
		     "source s synth:size=64,pps=10000\nlimit flow-rules 0\n");
	vcapd_start(&d, "--config", path);
	h = open_or_die("host:s", NULL);
	CHECK_EQ(vcap_info(h, &info, sizeof(info)), 0);
	CHECK_EQ(info.flow_max, 0);
	CHECK_EQ(info.rule_max, 1024);
	CHECK_EQ(vcap_flow_add(h, &f, VCAP_DROP, 0, NULL), -ENOSPC);
	vcap_close(h);
	vcapd_stop(&d);
	unlink(path);
	rmdir(dir);

	/* values vcapd cannot take stop it, naming the file, the line and the range */
	config_refused("source s synth:size=64\nlimit flow-rules 2Gi\n",
		       "flow-rules=2Gi is out of range [0, 1073741824]");
	config_refused("source s synth:size=64\nlimit flow-rules lots\n",
		       "flow-rules=\"lots\" is not a number");
	config_refused("source s synth:size=64\nlimit flow-rules -1\n", "is not a number");
	config_refused("source s synth:size=64\nlimit wildcard-rules 65537\n",
		       "wildcard-rules=65537 is out of range [0, 65536]");
	config_refused("source s synth:size=64\nlimit flow-rule 5\n", "unknown limit \"flow-rule\"");
}

/* ---- isolation: another session's flows are not ours to read -------------- */

/* On session fd, ask for ring id's flow hits (f) and listing: both refused, -ENOENT. */
static void refused_on(int fd, uint32_t id, const struct vcap_flow *f, const char *who)
{
	static _Alignas(8) uint8_t buf[VCAP_MSG_MAX];
	static struct vcap_msg m, r;
	char why[160];
	ssize_t n;

	for (int k = 0; k < 2; k++) {
		if (k == 0) {
			vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_FLOW_HITS);
			m.u.flow_hits.ring_id = id;
			vcap_flow_to_wire(f, &m.u.flow_hits.flow);
		} else {
			vcap_msg_init(&m, VCAP_APP_CAPTURE, VCAP_MSG_FLOW_LIST);
			m.u.flow_list = (struct vcap_msg_flow_list){ .ring_id = id, .max = 100 };
		}
		m.seq = 7 + (uint32_t)k;
		n = vcap_msg_encode(&m, buf, sizeof(buf));
		CHECK(n > 0 && vcap_unix_send(fd, buf, (size_t)n, NULL, 0) == 0, "send");
		n = vcap_unix_recv(fd, buf, sizeof(buf), NULL, NULL);
		CHECK(n > 0 && vcap_msg_decode(buf, (size_t)n, &r, why, sizeof(why)) == 0,
		      "%s: a reply (%s)", who, why);
		CHECK(r.status == -ENOENT && strstr(r.text, "not open in this session") &&
			      r.seq == m.seq && !r.flows,
		      "%s: %s of ring %u: status %d (%s)", who, vcap_msg_name(m.app, m.type), id,
		      r.status, r.text);
		fprintf(stderr, "%s: %s refused: %s\n", who, vcap_msg_name(m.app, m.type), r.text);
	}
}

static void isolation(void)
{
	char dir[64], path[128], conf[512];
	struct vcapd_proc tenant;
	struct vcap_synth g;
	struct vcap_info info;
	struct vcap_flow f;
	struct vcap *h, *theirs;
	uint64_t hits;
	int fd;

	synth_of(&g, 64, 1024, VCAP_SYNTH_MIX);
	f = synth_flow(&g, 7, false);
	CHECK(mkdtemp(strcpy(dir, "/tmp/vcap-flows-XXXXXX")), "mkdtemp");
	snprintf(conf, sizeof(conf),
		 "source s synth:size=64,pps=10000\n"
		 "tenant t socket %s/t.sock\n"
		 "tenant t allow s\n",
		 dir);
	snprintf(path, sizeof(path), "%s/vcapd.conf", dir);
	{
		FILE *cf = fopen(path, "w");

		CHECK(cf, "%s", path);
		fputs(conf, cf);
		fclose(cf);
	}
	vcapd_start(&d, "--config", path);
	h = open_or_die("host:s", NULL); /* root, the administrator, on the main socket */
	CHECK(vcap_flow_add(h, &f, VCAP_DROP, 0, NULL) == 0, "%s", vcap_errmsg());
	CHECK_EQ(vcap_info(h, &info, sizeof(info)), 0);

	/* another session of root's own */
	fd = raw_session(&d);
	refused_on(fd, info.ring_id, &f, "another root session");
	close(fd);

	/* a tenant on its own socket */
	tenant = d;
	snprintf(tenant.sock, sizeof(tenant.sock), "%s/t.sock", dir);
	fd = raw_session(&tenant);
	refused_on(fd, info.ring_id, &f, "tenant t");
	close(fd);

	/* the tenant's own ring: none of our rules in it */
	{
		VCAP_OPTS(vcap_open_opts, o, .socket_path = tenant.sock);

		theirs = open_or_die("host:s", &o);
	}
	CHECK_EQ(vcap_flow_list(theirs, NULL, 0, sizeof(struct vcap_flow_stat)), 0);
	CHECK_EQ(vcap_flow_hits(theirs, &f, &hits), -ENOENT);
	vcap_close(theirs);

	/* and ours is as it was */
	CHECK_EQ(vcap_flow_list(h, NULL, 0, sizeof(struct vcap_flow_stat)), 1);
	CHECK(vcap_flow_hits(h, &f, &hits) == 0, "%s", vcap_errmsg());
	vcap_close(h);
	vcapd_stop(&d);
	unlink(path);
	rmdir(dir);
}

static const struct scenario scenarios[] = {
	{ "shunted", shunted },
	{ "flow-hits", flow_hits },
	{ "flow-list", flow_list },
	{ "flow-max", flow_max },
	{ "isolation", isolation },
};

int main(int argc, char **argv)
{
	return RUN_SCENARIOS(argc, argv, scenarios);
}
