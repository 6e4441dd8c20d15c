/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_xdp.c - xdp: sources on a real veth pair with two RX queues in
 * private namespaces, a real vcapd, real consumers (libvcap handles), real
 * traffic (vcapsend, pinned to each CPU in turn so that both queues carry
 * it: AF_PACKET sends on the queue of the sender's CPU, and veth receives
 * on the same).  One scenario per run: `test_xdp NAME`.
 *
 *   counts    consumers that all drop by default, so vcap's XDP program
 *             leaves out what none of their rules names:
 *               web     pass dport 80
 *               dns     drop TCP, then pass dport 53 (a drop rule's packets
 *                       must reach vcapd: its hit count is exact)
 *               m0, m1  one cluster, each passing what servers send (IPv4)
 *               v6ntp   BPF filter "ip6" (vcapd runs it) and pass dport 123
 *               flow    no rule at first; between the two bursts a flow rule
 *                       for one conversation
 *             Every frame a consumer reads is byte for byte a packet sent,
 *             and each flow's packets come in order.
 *             Every consumer's counters are exact against an oracle that
 *             walks the generator's packets (source/synth.h): delivered,
 *             rule hits, received = everything sent, received = delivered
 *             + dropped + filtered, and shunted where vcapd would have
 *             shunted.  What the lanes took from the sockets is exactly
 *             what some rule named: the rest never left the kernel.
 *   filters   consumers with BPF filters only (and a cluster): the XDP
 *             program runs them, translated, and leaves out exactly what
 *             none accepts (libpcap's interpreter is the oracle); a filter
 *             changed between bursts changes what the program takes
 *   pass      pass=1: what no consumer wants goes on to the kernel's stack
 *             (a UDP socket in the namespace gets exactly its datagrams),
 *             and with pass=0 it gets none
 *   refusals  each refused at start with an error naming the missing
 *             feature and the fallback: native XDP on a driver without it
 *             (a bridge), zero-copy on veth, a queue the device lacks, another
 *             XDP program already attached (left in place and still
 *             working; where libxdp's dispatcher works, vcap's runs beside
 *             it instead); and an upgrade refuses an xdp: source, the old
 *             vcapd serving on
 *   reopen    the device goes away under a running source and comes back:
 *             failed with the reason, then capturing again, exactly
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <string.h>

#include "harness.h"
#include "netns.h"
#include "parse.h"
#include "synth.h"
#include "vcap.h"

#define FLOWS 1000
#define HALF 30000u /* frames per burst; two bursts */
#define SIZE 128
#define FLOW_F 57u  /* the flow rule's conversation: IPv4 UDP (57 % 100 >= 20, 57 % 4 != 3) */

static struct vcapd_proc d;
static struct wire w;
static char msock[160];

/* The veth pair, with two queues each way. */
static void wire_two_queues(void)
{
	snprintf(w.cap, sizeof(w.cap), "vcxd-%d-cap", (int)getpid());
	snprintf(w.snd, sizeof(w.snd), "vcxd-%d-snd", (int)getpid());
	wire_to_clean = &w;
	atexit(wire_cleanup);
	CHECK(sh("ip netns add %s && ip netns add %s", w.cap, w.snd) == 0, "ip netns add");
	CHECK(sh("ip link add veth0 numtxqueues 2 numrxqueues 2 netns %s type veth peer name veth1 "
		 "numtxqueues 2 numrxqueues 2 netns %s", w.cap, w.snd) == 0, "veth");
	CHECK(sh("for ns in %s %s; do ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 "
		 "&& ip netns exec $ns sysctl -qw net.ipv6.conf.default.disable_ipv6=1; done",
		 w.cap, w.snd) == 0, "sysctl");
	CHECK(sh("ip -n %s link set veth0 up && ip -n %s link set veth1 up", w.cap, w.snd) == 0,
	      "link up");
}

/* vcapsend pinned to cpu: its frames arrive on queue cpu % 2. */
static void send_on(unsigned cpu, uint64_t n)
{
	CHECK(sh("ip netns exec %s taskset -c %u %s/tools/vcapsend -i veth1 -q -l %d -n %llu "
		 "-r 100000 --flows %d --proto mix --ipv6 20 >/dev/null", w.snd, cpu, build_dir(),
		 SIZE, (unsigned long long)n, FLOWS) == 0, "vcapsend on cpu %u", cpu);
}

static uint64_t metric(const char *name)
{
	char cmd[512], line[256];
	uint64_t v = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "curl -s --unix-socket %s http://x/metrics | grep -F '%s '",
		 msock, name);
	f = popen(cmd, "r");
	CHECK(f, "popen");
	if (fgets(line, sizeof(line), f))
		v = strtoull(strchr(line, ' ') ? strchr(line, ' ') + 1 : line, NULL, 10);
	pclose(f);
	return v;
}

/* ---- the oracle ------------------------------------------------------------ */

struct expect {
	uint64_t web, dns_tcp, dns_53, v6ntp, flow, named;
	uint64_t m_sum; /* the cluster's delivered */
	uint64_t p9999; /* to port 9999 (xdp-filter's) */
};

/* What each consumer gets of packets [0, n) of the generator; flow_on: the flow rule is in. */
static void oracle(uint64_t n, bool flow_on, struct expect *e)
{
	struct vcap_synth_cfg cfg = { .size = SIZE, .flows = FLOWS, .proto = VCAP_SYNTH_MIX,
				      .ipv6_pct = 20 };
	struct vcap_synth s;
	char err[128];

	CHECK(vcap_synth_init(&s, &cfg, err, sizeof(err)) == 0, "synth: %s", err);
	for (uint64_t i = 0; i < n; i++) {
		struct vcap_synth_tuple t;
		bool named = false;

		vcap_synth_tuple(&s, i, &t);
		if (t.dport == 80) {
			e->web++;
			named = true;
		}
		if (t.proto == 6) {
			e->dns_tcp++;
			named = true;
		} else if (t.dport == 53) {
			e->dns_53++;
			named = true;
		}
		if (t.family == 4 && t.reverse) {
			e->m_sum++;
			named = true;
		}
		e->p9999 += t.dport == 9999;
		if (t.dport == 123) {
			e->v6ntp += t.family == 6; /* the filter judges first: hits only of these */
			named = true;
		}
		if (flow_on && t.flow == FLOW_F) {
			e->flow++;
			named = true;
		}
		e->named += named;
	}
}

/* ---- consumers ------------------------------------------------------------- */

struct who {
	const char *name;
	struct vcap *h;
	uint64_t got;
	bool member; /* of the cluster: offered a share */
	/* if set: every frame must be exactly a packet of gen, and each
	 * flow's numbers must rise (within a burst: each starts at 0) */
	const struct vcap_synth *gen;
	int64_t last[FLOWS];
};

/* A new burst: its packets are numbered from 0 again. */
static void new_burst(struct who *cs, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		for (unsigned f = 0; f < FLOWS; f++)
			cs[i].last[f] = -1;
}

static struct vcap *open_one(const char *filter, uint32_t cluster)
{
	VCAP_OPTS(vcap_open_opts, o, .ring_size = 32u << 20, .filter = filter,
		  .cluster_id = cluster, .cluster_mode = VCAP_CLUSTER_5TUPLE);
	struct vcap *h = vcap_open("host:v", &o);

	CHECK(h, "open: %s", vcap_errmsg());
	CHECK(vcap_rule_default(h, VCAP_DROP) == 0, "default drop: %s", vcap_errmsg());
	return h;
}

static void rule(struct vcap *h, uint32_t id, uint32_t action, uint32_t fields, uint8_t proto,
		 uint16_t dport)
{
	struct vcap_rule r = { .id = id, .fields = fields, .action = action, .proto = proto,
			       .dport_lo = dport, .dport_hi = dport };

	CHECK(vcap_rule_add(h, &r) == 0, "rule %u: %s", id, vcap_errmsg());
}

/* Read what is in the ring now (the rings hold a whole run). */
static void drain(struct who *c)
{
	struct vcap_pkt p[64];
	int n;

	while ((n = vcap_recv_timeout(c->h, p, 64, 0)) > 0) {
		c->got += (uint64_t)n;
		for (int i = 0; c->gen && i < n; i++) {
			uint64_t k = 0;
			unsigned f;

			/* a frame reused too early (an AF_XDP frame lent again
			 * before it was read) would not be the packet sent */
			CHECK(vcap_synth_verify(c->gen, p[i].data, p[i].caplen, &k) == 0,
			      "%s: a frame that is no packet sent (packet %llu?)", c->name,
			      (unsigned long long)k);
			f = (unsigned)(k % FLOWS);
			CHECK((int64_t)k > c->last[f], "%s: flow %u out of order: packet %llu after %lld",
			      c->name, f, (unsigned long long)k, (long long)c->last[f]);
			c->last[f] = (int64_t)k;
		}
	}
	CHECK(n == 0, "%s: recv: %s", c->name, vcap_errmsg());
}

/*
 * Wait until every consumer has been offered `offered` (the cluster's
 * members that between them), reading as it comes.
 */
static void settle(struct who *cs, unsigned n, uint64_t offered)
{
	uint64_t deadline = mono_ms() + 30000;

	for (;;) {
		uint64_t members = 0;
		bool done = true;

		for (unsigned i = 0; i < n; i++) {
			struct vcap_stats st = { 0 };

			drain(&cs[i]);
			CHECK(vcap_stats(cs[i].h, &st, sizeof(st)) == 0, "stats");
			if (cs[i].member)
				members += st.received;
			else
				done &= st.received >= offered;
			done &= st.delivered == cs[i].got;
		}
		for (unsigned i = 0; i < n; i++)
			if (cs[i].member) {
				done &= members >= offered;
				break;
			}
		if (done)
			return;
		CHECK(mono_ms() < deadline, "not all offered %llu in 30 s",
		      (unsigned long long)offered);
		sleep_ms(5);
	}
}

static struct vcap_stats stats_of(struct who *c, uint64_t offered)
{
	struct vcap_stats st;

	CHECK(vcap_stats(c->h, &st, sizeof(st)) == 0, "stats");
	fprintf(stderr, "%-7s received %llu delivered %llu dropped %llu filtered %llu shunted %llu "
		"kernel_drops %llu\n", c->name, (unsigned long long)st.received,
		(unsigned long long)st.delivered, (unsigned long long)st.dropped,
		(unsigned long long)st.filtered, (unsigned long long)st.shunted,
		(unsigned long long)st.kernel_drops);
	if (!c->member)
		CHECK_EQ(st.received, offered);
	CHECK_EQ(st.received, st.delivered + st.dropped + st.filtered);
	CHECK_EQ(st.dropped, 0);
	CHECK_EQ(st.kernel_drops, 0);
	CHECK_EQ(st.delivered, c->got);
	return st;
}

static uint64_t hits(struct vcap *h, uint32_t id)
{
	uint64_t v = 0;

	CHECK(vcap_rule_hits(h, id, &v) == 0, "hits %u: %s", id, vcap_errmsg());
	return v;
}

static void start_vcapd(const char *spec)
{
	char src[160], met[200];

	snprintf(msock, sizeof(msock), "/tmp/vcxd-%d-metrics.sock", (int)getpid());
	snprintf(src, sizeof(src), "v=%s", spec);
	snprintf(met, sizeof(met), "unix:%s", msock);
	vcapd_start_in(&d, w.cap, "--source", src, "--metrics", met);
}

static void counts(void)
{
	enum { WEB, DNS, M0, M1, V6NTP, FLOW, N_CONS };
	struct who c[N_CONS] = { { .name = "web" }, { .name = "dns" }, { .name = "m0" },
				{ .name = "m1" }, { .name = "v6ntp" }, { .name = "flow" } };
	struct expect a = { 0 }, b = { 0 };
	struct vcap_flow f = { .family = 4, .proto = 17, .port_a = 1024 + FLOW_F,
			       .port_b = 80 /* ports[57 % 8] */ };
	struct vcap_rule srv = { .id = 1, .fields = VCAP_RULE_SADDR, .action = VCAP_PASS,
				 .family = 4, .saddr_prefix = 16, .saddr = { 10, 2 } };
	struct vcap_stats st[N_CONS];
	uint64_t at, flow_hits = 0, taken, total = 2 * HALF;
	struct vcap_synth_cfg gen_cfg = { .size = SIZE, .flows = FLOWS, .proto = VCAP_SYNTH_MIX,
					  .ipv6_pct = 20 };
	struct vcap_synth gen;
	char err[128];

	wire_two_queues();
	start_vcapd("xdp:veth0");
	c[WEB].h = open_one(NULL, 0);
	rule(c[WEB].h, 1, VCAP_PASS, VCAP_RULE_DPORT, 0, 80);
	c[DNS].h = open_one(NULL, 0);
	rule(c[DNS].h, 1, VCAP_DROP, VCAP_RULE_PROTO, 6, 0);
	rule(c[DNS].h, 2, VCAP_PASS, VCAP_RULE_DPORT, 0, 53);
	for (int m = M0; m <= M1; m++) {
		c[m].member = true;
		c[m].h = open_one(NULL, 7);
		CHECK(vcap_rule_add(c[m].h, &srv) == 0, "srv rule: %s", vcap_errmsg());
	}
	c[V6NTP].h = open_one("ip6", 0);
	rule(c[V6NTP].h, 1, VCAP_PASS, VCAP_RULE_DPORT, 0, 123);
	c[FLOW].h = open_one(NULL, 0);
	memcpy(f.addr_a, (uint8_t[]){ 10, 1, 0, FLOW_F }, 4);
	memcpy(f.addr_b, (uint8_t[]){ 10, 2, 0, FLOW_F % 16 + 1 }, 4);

	oracle(HALF, false, &a);
	oracle(HALF, true, &b);
	CHECK(vcap_synth_init(&gen, &gen_cfg, err, sizeof(err)) == 0, "synth: %s", err);
	for (int i = 0; i < N_CONS; i++)
		c[i].gen = &gen;

	/* burst 1 on queue 0, the flow rule, burst 2 on queue 1; every frame
	 * byte for byte, each flow in order */
	new_burst(c, N_CONS);
	send_on(0, HALF);
	settle(c, N_CONS, HALF);
	CHECK(vcap_flow_add(c[FLOW].h, &f, VCAP_PASS, 0, &at) == 0, "flow: %s", vcap_errmsg());
	new_burst(c, N_CONS);
	send_on(1, HALF);
	settle(c, N_CONS, total);

	for (int i = 0; i < N_CONS; i++)
		st[i] = stats_of(&c[i], total);
	CHECK_EQ(c[WEB].got, a.web + b.web);
	CHECK_EQ(hits(c[WEB].h, 1), a.web + b.web);
	CHECK_EQ(c[DNS].got, a.dns_53 + b.dns_53);
	CHECK_EQ(hits(c[DNS].h, 1), a.dns_tcp + b.dns_tcp);
	CHECK_EQ(hits(c[DNS].h, 2), a.dns_53 + b.dns_53);
	CHECK_EQ(c[M0].got + c[M1].got, a.m_sum + b.m_sum);
	CHECK(c[M0].got > (a.m_sum + b.m_sum) / 4 && c[M1].got > (a.m_sum + b.m_sum) / 4,
	      "a cluster member idle: %llu, %llu", (unsigned long long)c[M0].got,
	      (unsigned long long)c[M1].got);
	CHECK_EQ(st[M0].received + st[M1].received, total); /* they share the offer */
	CHECK_EQ(c[V6NTP].got, a.v6ntp + b.v6ntp);
	CHECK(c[V6NTP].got > 0, "the oracle has no IPv6 packet to port 123");
	CHECK_EQ(hits(c[V6NTP].h, 1), a.v6ntp + b.v6ntp);
	CHECK_EQ(c[FLOW].got, b.flow);
	CHECK(b.flow > 0, "the oracle has no packet of flow %u", FLOW_F);
	CHECK(vcap_flow_hits(c[FLOW].h, &f, &flow_hits) == 0, "flow hits: %s", vcap_errmsg());
	CHECK_EQ(flow_hits, b.flow);
	/* with no filter, all that was not delivered was its rules' doing: shunted, as in vcapd */
	CHECK_EQ(st[WEB].shunted, st[WEB].filtered);
	CHECK_EQ(st[FLOW].shunted, st[FLOW].filtered);

	/* the XDP program left out exactly what no rule named; the lanes took the rest */
	taken = metric("vcap_source_lane_received_packets_total{source=\"v\",lane=\"0\"}") +
		metric("vcap_source_lane_received_packets_total{source=\"v\",lane=\"1\"}");
	fprintf(stderr, "lanes took %llu of %llu; the rules name %llu\n", (unsigned long long)taken,
		(unsigned long long)total, (unsigned long long)(a.named + b.named));
	CHECK_EQ(taken, a.named + b.named);
	CHECK_EQ(metric("vcap_source_left_out_packets_total{source=\"v\"}"),
		 total - a.named - b.named);
	CHECK(metric("vcap_source_lane_received_packets_total{source=\"v\",lane=\"0\"}") > 0 &&
		      metric("vcap_source_lane_received_packets_total{source=\"v\",lane=\"1\"}") > 0,
	      "a lane carried nothing");
	CHECK_EQ(status_source(&d, "v").received, total);
	CHECK_EQ(status_source(&d, "v").kernel_drops, 0);
	CHECK_EQ(status_source(&d, "v").mtu, 1500); /* STATUS's, as for if: sources */

	for (int i = 0; i < N_CONS; i++)
		vcap_close(c[i].h);
	vcapd_stop(&d);
}

/* Packets [0, n) of the mix that filter text accepts (libpcap's own interpreter). */
static uint64_t accepted(const char *text, uint64_t n, uint8_t *any)
{
	struct vcap_synth_cfg cfg = { .size = SIZE, .flows = FLOWS, .proto = VCAP_SYNTH_MIX,
				      .ipv6_pct = 20 };
	pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);
	struct vcap_synth s;
	struct bpf_program prog;
	uint8_t frame[SIZE];
	uint64_t k = 0;
	char err[128];

	CHECK(vcap_synth_init(&s, &cfg, err, sizeof(err)) == 0, "synth: %s", err);
	CHECK(p && pcap_compile(p, &prog, text, 1, PCAP_NETMASK_UNKNOWN) == 0, "compile %s", text);
	for (uint64_t i = 0; i < n; i++) {
		vcap_synth_frame(&s, i, frame);
		if (bpf_filter(prog.bf_insns, frame, SIZE, SIZE)) {
			k++;
			any[i] = 1;
		}
	}
	pcap_freecode(&prog);
	pcap_close(p);
	return k;
}

/*
 * Consumers with BPF filters only (their rules pass by default): the XDP
 * program runs the filters, translated, and leaves out what none accepts;
 * one consumer changes its filter between two bursts.
 */
static void filters(void)
{
	enum { DNS, V6TCP, NTP0, NTP1, N_CONS };
	struct who c[N_CONS] = { { .name = "dns" }, { .name = "v6tcp" }, { .name = "ntp0" },
				 { .name = "ntp1" } };
	const char *text[N_CONS] = { "udp port 53", "ip6 and tcp", "port 123", "port 123" };
	uint8_t *any1 = calloc(HALF, 1), *any2 = calloc(HALF, 1);
	uint64_t want[N_CONS], want2_dns, named = 0, total = 2 * HALF, taken;
	struct vcap_stats st;

	CHECK(any1 && any2, "calloc");
	wire_two_queues();
	start_vcapd("xdp:veth0");
	for (int i = 0; i < N_CONS; i++) {
		VCAP_OPTS(vcap_open_opts, o, .ring_size = 32u << 20, .filter = text[i],
			  .cluster_id = i >= NTP0 ? 9 : 0, .cluster_mode = VCAP_CLUSTER_5TUPLE);

		c[i].member = i >= NTP0;
		c[i].h = vcap_open("host:v", &o);
		CHECK(c[i].h, "open %s: %s", c[i].name, vcap_errmsg());
	}
	for (int i = 0; i < NTP1; i++)
		want[i] = accepted(text[i], HALF, any1);
	/* the second burst: dns looks at port 80 instead */
	want2_dns = accepted("udp port 80", HALF, any2);
	accepted(text[V6TCP], HALF, any2);
	accepted(text[NTP0], HALF, any2);
	for (uint64_t i = 0; i < HALF; i++)
		named += any1[i] + any2[i];
	fprintf(stderr, "STATUS: %s\n", status_source(&d, "v").kernel_filter);
	CHECK(strstr(status_source(&d, "v").kernel_filter, "filters accept"),
	      "the XDP program does not run the filters: %s", status_source(&d, "v").kernel_filter);

	send_on(0, HALF);
	settle(c, N_CONS, HALF);
	CHECK(vcap_set_filter(c[DNS].h, "udp port 80") == 0, "refilter: %s", vcap_errmsg());
	send_on(1, HALF);
	settle(c, N_CONS, total);

	st = stats_of(&c[DNS], total);
	CHECK_EQ(st.delivered, want[DNS] + want2_dns);
	CHECK_EQ(st.shunted, 0); /* a filter's doing, not a rule's */
	CHECK_EQ(stats_of(&c[V6TCP], total).delivered, 2 * want[V6TCP]);
	stats_of(&c[NTP0], total);
	stats_of(&c[NTP1], total);
	CHECK_EQ(c[NTP0].got + c[NTP1].got, 2 * want[NTP0]);
	taken = metric("vcap_source_lane_received_packets_total{source=\"v\",lane=\"0\"}") +
		metric("vcap_source_lane_received_packets_total{source=\"v\",lane=\"1\"}");
	fprintf(stderr, "lanes took %llu of %llu; the filters accept %llu\n",
		(unsigned long long)taken, (unsigned long long)total, (unsigned long long)named);
	CHECK_EQ(taken, named);
	CHECK_EQ(metric("vcap_source_left_out_packets_total{source=\"v\"}"), total - named);
	for (int i = 0; i < N_CONS; i++)
		vcap_close(c[i].h);
	free(any1);
	free(any2);
	vcapd_stop(&d);
}

/* Datagrams to 10.2.0.8:9999 that a UDP socket in the capture namespace takes. */
static uint64_t stack_gets(const char *spec, uint64_t *expect)
{
	struct vcap_synth_cfg cfg = { .size = SIZE, .flows = FLOWS, .proto = VCAP_SYNTH_UDP };
	struct vcap_synth s;
	char err[128], out[128], line[64] = "";
	struct who web = { .name = "web" };
	uint64_t n = 20000, got;
	FILE *fp;

	CHECK(vcap_synth_init(&s, &cfg, err, sizeof(err)) == 0, "synth: %s", err);
	*expect = 0;
	for (uint64_t i = 0; i < n; i++) {
		struct vcap_synth_tuple t;

		vcap_synth_tuple(&s, i, &t);
		*expect += !t.reverse && t.dport == 9999 && t.dst[3] == 8;
	}
	start_vcapd(spec);
	web.h = open_one(NULL, 0);
	rule(web.h, 1, VCAP_PASS, VCAP_RULE_DPORT, 0, 80);
	/* a receiver that counts until 1 s without a datagram (it starts before the traffic) */
	snprintf(out, sizeof(out), "%s/udp.txt", d.dir);
	CHECK(sh("ip netns exec %s python3 -c 'import socket,sys\n"
		 "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
		 "s.setsockopt(socket.SOL_SOCKET,socket.SO_RCVBUF,1<<24)\n"
		 "s.bind((\"10.2.0.8\",9999))\n"
		 "open(sys.argv[1]+\".up\",\"w\").close()\n"
		 "s.settimeout(3)\nn=0\n"
		 "try:\n    while True:\n        s.recv(2048); n+=1; s.settimeout(1)\n"
		 "except socket.timeout: pass\n"
		 "open(sys.argv[1],\"w\").write(str(n))' %s &", w.cap, out) == 0, "receiver");
	for (uint64_t end = mono_ms() + 10000; sh("test -e %s.up", out); sleep_ms(10))
		CHECK(mono_ms() < end, "the receiver did not start");
	CHECK(sh("ip netns exec %s %s/tools/vcapsend -i veth1 -q -l %d -n %llu -r 50000 --flows %d "
		 ">/dev/null", w.snd, build_dir(), SIZE, (unsigned long long)n, FLOWS) == 0,
	      "vcapsend");
	for (uint64_t end = mono_ms() + 20000; sh("test -s %s", out); sleep_ms(20))
		CHECK(mono_ms() < end, "the receiver did not finish");
	fp = fopen(out, "r");
	CHECK(fp && fgets(line, sizeof(line), fp), "read %s", out);
	fclose(fp);
	got = strtoull(line, NULL, 10);
	settle(&web, 1, n);
	stats_of(&web, n);
	vcap_close(web.h);
	unlink(out);
	snprintf(out + strlen(out), sizeof(out) - strlen(out), ".up");
	unlink(out);
	vcapd_stop(&d);
	return got;
}

static void pass(void)
{
	uint64_t expect, got;

	wire_two_queues();
	/* the stack must take the generator's frames: its MAC and address, no source check */
	CHECK(sh("ip -n %s link set veth0 address 02:00:00:00:00:02 && "
		 "ip -n %s addr add 10.2.0.8/16 dev veth0 && "
		 "ip netns exec %s sysctl -qw net.ipv4.conf.all.rp_filter=0 "
		 "net.ipv4.conf.veth0.rp_filter=0", w.cap, w.cap, w.cap) == 0, "address");
	got = stack_gets("xdp:veth0,pass=1", &expect);
	fprintf(stderr, "pass=1: the stack's socket got %llu of %llu\n", (unsigned long long)got,
		(unsigned long long)expect);
	CHECK(expect > 0, "the oracle sends nothing to 10.2.0.8:9999");
	CHECK_EQ(got, expect);
	got = stack_gets("xdp:veth0", &expect);
	fprintf(stderr, "pass=0: the stack's socket got %llu\n", (unsigned long long)got);
	CHECK_EQ(got, 0);
}

/* vcapd with spec: does it start?  msg: its error when it does not. */
static bool try_start(const char *spec, char *msg, size_t len)
{
	char out[160];
	FILE *f;
	size_t n = 0;
	int rc;

	snprintf(out, sizeof(out), "/tmp/vcxd-%d-try.txt", (int)getpid());
	/* a vcapd that starts is stopped at once by the timeout: only starting is asked */
	rc = sh("ip netns exec %s timeout -s TERM 3 %s/daemon/vcapd --foreground --socket "
		"/tmp/vcxd-%d-t.sock --source v=%s 2>%s", w.cap, build_dir(), (int)getpid(), spec, out);
	f = fopen(out, "r");
	if (f) {
		n = fread(msg, 1, len - 1, f);
		fclose(f);
	}
	msg[n] = '\0';
	unlink(out);
	return rc == 124 || rc == 0; /* killed by timeout while serving */
}

/* vcapd with spec in the capture namespace must fail at start, saying all of `words`. */
static void refused(const char *spec, const char *const *words)
{
	char msg[1024];

	CHECK(!try_start(spec, msg, sizeof(msg)), "vcapd started with %s", spec);
	fprintf(stderr, "%s: %s", spec, msg);
	for (; *words; words++)
		CHECK(strstr(msg, *words), "%s: the error does not say \"%s\"", spec, *words);
}

/*
 * libxdp keeps its programs' state in a bpffs (xdp-filter's maps, the
 * dispatcher's links).  `ip netns exec` mounts a fresh /sys, so the test
 * mounts one of its own and names it (LIBXDP_BPFFS) to every program it
 * starts, vcapd included.
 */
static char bpffs[64];

static void bpffs_down(void)
{
	if (bpffs[0]) {
		sh("umount %s 2>/dev/null; rmdir %s", bpffs, bpffs);
		bpffs[0] = '\0';
	}
}

static void bpffs_up(void)
{
	snprintf(bpffs, sizeof(bpffs), "/tmp/vcxd-%d-bpf", (int)getpid());
	CHECK(sh("mkdir -p %s && mount -t bpf bpf %s", bpffs, bpffs) == 0, "mount bpffs");
	atexit(bpffs_down);
	setenv("LIBXDP_BPFFS", bpffs, 1);
}

/* The id of the XDP program on the capture side's veth0 (0: none). */
static unsigned xdp_prog_id(void)
{
	char cmd[256], line[64] = "";
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ip -n %s -d link show veth0 | grep -o 'prog/xdp id [0-9]*' | "
		 "grep -o '[0-9]*$'", w.cap);
	f = popen(cmd, "r");
	CHECK(f, "popen");
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	pclose(f);
	return (unsigned)strtoul(line, NULL, 10);
}

/* What xdp-filter's map says it dropped (its `status` table, the XDP_DROP row). */
static uint64_t xdp_filter_drops(void)
{
	char cmd[256], line[256];
	uint64_t v = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ip netns exec %s xdp-filter status | grep -i 'XDP_DROP'", w.cap);
	f = popen(cmd, "r");
	CHECK(f, "popen");
	if (fgets(line, sizeof(line), f)) {
		char *p = line;

		while (*p && (*p < '0' || *p > '9'))
			p++;
		v = strtoull(p, NULL, 10);
	}
	pclose(f);
	return v;
}

static void refusals(void)
{
	char msg[1024];
	unsigned prog_before;

	wire_two_queues();
	CHECK(sh("ip -n %s link add br0 type bridge && ip -n %s link set br0 up", w.cap,
		 w.cap) == 0, "dummy");
	refused("xdp:br0", (const char *const[]){ "native XDP", "mode=generic", "if:br0",
						     NULL });
	refused("xdp:veth0,zerocopy=on", (const char *const[]){ "zero-copy", "veth0", NULL });
	refused("xdp:veth0,queues=5", (const char *const[]){ "queue 5", "2 RX queues", NULL });
	refused("xdp:veth0,mode=turbo", (const char *const[]){ "mode=turbo", "native", NULL });
	refused("xdp:nosuch0", (const char *const[]){ "no such interface", NULL });

	/* another program first: xdp-filter (xdp-tools), dropping UDP to port 9999 */
	bpffs_up();
	CHECK(sh("ip netns exec %s sh -c 'xdp-filter load -m native veth0 && "
		 "xdp-filter port -m dst 9999' >/dev/null 2>&1", w.cap) == 0, "xdp-filter load");
	prog_before = xdp_prog_id();
	CHECK(prog_before, "no XDP program on veth0 after xdp-filter load");
	if (try_start("xdp:veth0", msg, sizeof(msg))) {
		/* libxdp's dispatcher works here: vcap's program runs beside xdp-filter's */
		struct who web = { .name = "web" };
		struct expect e = { 0 };

		start_vcapd("xdp:veth0");
		web.h = open_one(NULL, 0);
		rule(web.h, 1, VCAP_PASS, VCAP_RULE_DPORT, 0, 80);
		rule(web.h, 2, VCAP_PASS, VCAP_RULE_DPORT, 0, 9999);
		oracle(8000, false, &e);
		send_on(0, 8000);
		settle(&web, 1, 8000);
		/* xdp-filter, first in the chain, dropped port 9999: vcap never saw it */
		CHECK_EQ(stats_of(&web, 8000 - e.p9999).delivered, e.web);
		vcap_close(web.h);
		vcapd_stop(&d);
	} else {
		/* it does not (program extensions refused): vcapd refuses, leaving it be */
		fprintf(stderr, "with xdp-filter attached: %s", msg);
		CHECK(strstr(msg, "another XDP program") && strstr(msg, "left in place") &&
			      strstr(msg, "if:veth0"),
		      "the refusal does not say what and why: %s", msg);
	}
	CHECK_EQ(xdp_prog_id(), prog_before);
	/* and xdp-filter still works: it drops port 9999 and passes the rest */
	{
		struct expect e = { 0 };
		uint64_t dropped;

		oracle(8000, false, &e);
		send_on(0, 8000);
		dropped = xdp_filter_drops();
		fprintf(stderr, "xdp-filter dropped %llu (port 9999: %llu)\n",
			(unsigned long long)dropped, (unsigned long long)e.p9999);
		CHECK_EQ(dropped, e.p9999);
	}
	CHECK(sh("ip netns exec %s xdp-filter unload veth0 >/dev/null 2>&1", w.cap) == 0,
	      "xdp-filter unload");

	/* an upgrade cannot take an xdp: source: refused, the old vcapd serves on */
	start_vcapd("xdp:veth0");
	{
		struct who web = { .name = "web" };
		char out[200];

		web.h = open_one(NULL, 0);
		rule(web.h, 1, VCAP_PASS, VCAP_RULE_DPORT, 0, 80);
		snprintf(out, sizeof(out), "%s/up.txt", d.dir);
		CHECK(sh("%s/tools/vcapctl --socket %s upgrade >%s 2>&1", build_dir(), d.sock, out) != 0,
		      "the upgrade was not refused");
		CHECK(sh("cat %s >&2; grep -q 'xdp' %s", out, out) == 0, "the refusal names xdp");
		unlink(out);
		struct expect e = { 0 };

		oracle(8000, false, &e);
		send_on(0, 8000);
		settle(&web, 1, 8000);
		CHECK_EQ(stats_of(&web, 8000).delivered, e.web);
		vcap_close(web.h);
	}
	vcapd_stop(&d);
}

/* Wait until source v is in state (VCAP_SOURCE_*). */
static void wait_state(uint32_t state)
{
	for (uint64_t end = mono_ms() + 15000; status_source(&d, "v").state != state; sleep_ms(20))
		CHECK(mono_ms() < end, "source v never reached state %u", state);
}

/*
 * The device goes away under a running source and comes back: the source
 * fails, says why, and once it is back captures again, with its consumer
 * (one that wants everything) counting exactly what was sent each time.
 */
static void reopen(void)
{
	struct who all = { .name = "all" };
	VCAP_OPTS(vcap_open_opts, o, .ring_size = 32u << 20);

	wire_two_queues();
	start_vcapd("xdp:veth0");
	all.h = vcap_open("host:v", &o);
	CHECK(all.h, "open: %s", vcap_errmsg());
	send_on(0, 5000);
	settle(&all, 1, 5000);
	CHECK(sh("ip -n %s link del veth0", w.cap) == 0, "link del");
	wait_state(VCAP_SOURCE_FAILED);
	fprintf(stderr, "failed: %s\n", status_source(&d, "v").error);
	CHECK(strstr(status_source(&d, "v").error, "veth0"), "the error does not name veth0");
	CHECK(sh("ip link add veth0 numtxqueues 2 numrxqueues 2 netns %s type veth peer name veth1 "
		 "numtxqueues 2 numrxqueues 2 netns %s && ip -n %s link set veth0 up && "
		 "ip -n %s link set veth1 up", w.cap, w.snd, w.cap, w.snd) == 0, "veth again");
	wait_state(VCAP_SOURCE_RUNNING);
	send_on(1, 5000);
	settle(&all, 1, 10000);
	CHECK_EQ(stats_of(&all, 10000).delivered, 10000);
	vcap_close(all.h);
	vcapd_stop(&d);
}

int main(int argc, char **argv)
{
	static const struct scenario list[] = {
		{ "counts", counts },
		{ "filters", filters },
		{ "pass", pass },
		{ "refusals", refusals },
		{ "reopen", reopen },
	};

	return RUN_SCENARIOS(argc, argv, list);
}
