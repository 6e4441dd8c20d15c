/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * filter_cost - what vcapd's early filtering costs per packet on the
 * capture thread: filter_match() (libpcap's BPF interpreter, as vcapd runs
 * it) over generator frames, for filters of the size tcpdump users write,
 * and the rules engine for comparison.
 *
 *   usage: filter_cost [-n PACKETS]
 *   prints one JSON object per line: {"what":..., "insns":N, "ns":X, "pass":P}
 *
 * CPU time of this thread (CLOCK_THREAD_CPUTIME_ID), best of 5 runs, so a
 * busy neighbour inflates nothing.  The frames cycle through 4096 distinct
 * generator packets (warm in cache, as a capture thread's batch is).
 */
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rules.h"
#include "synth.h"
#include "filter.h"

#define FRAMES 4096
#define SIZE 128

static const char *const filters[] = {
	"udp",
	"tcp port 80",
	"host 10.1.0.7",
	"src net 10.1.0.0/16 and tcp and not port 22",
	"(tcp[tcpflags] & (tcp-syn|tcp-fin) != 0) and not src net 10.2.0.0/24",
	"ip and udp and (port 53 or port 123 or port 5060) and not host 10.1.3.4",
};

static double thread_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint8_t frames[FRAMES][SIZE];
static struct vcap_pkt_meta meta = { .caplen = SIZE, .wirelen = SIZE };

static void bench_filter(const char *expr, uint64_t n)
{
	struct filter *f;
	char err[256];
	double best = 1e30;
	uint64_t pass = 0;
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
	struct bpf_program prog;

	if (filter_compile(expr, DLT_EN10MB, &f, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	pcap_compile(dead, &prog, expr, 1, PCAP_NETMASK_UNKNOWN);
	for (int run = 0; run < 5; run++) {
		double t0 = thread_ns(), dt;

		pass = 0;
		for (uint64_t i = 0; i < n; i++)
			pass += filter_match(f, &meta, frames[i & (FRAMES - 1)]);
		dt = (thread_ns() - t0) / (double)n;
		if (dt < best)
			best = dt;
	}
	printf("{\"what\":\"bpf\",\"filter\":\"%s\",\"insns\":%u,\"ns\":%.1f,\"pass\":%.3f}\n", expr,
	       prog.bf_len, best, (double)pass / (double)n);
	pcap_freecode(&prog);
	pcap_close(dead);
	filter_free(f);
}

static void bench_rules(const char *what, struct rules *r, uint64_t n)
{
	static struct vcap_parsed parsed[FRAMES];
	double best = 1e30;
	uint64_t pass = 0;

	for (int i = 0; i < FRAMES; i++)
		vcap_parse(frames[i], SIZE, &parsed[i]);
	for (int run = 0; run < 5; run++) {
		double t0 = thread_ns(), dt;

		pass = 0;
		for (uint64_t i = 0; i < n; i++)
			pass += rules_pass(r, &parsed[i & (FRAMES - 1)], 0);
		dt = (thread_ns() - t0) / (double)n;
		if (dt < best)
			best = dt;
	}
	printf("{\"what\":\"rules\",\"filter\":\"%s\",\"insns\":0,\"ns\":%.1f,\"pass\":%.3f}\n", what,
	       best, (double)pass / (double)n);
}

int main(int argc, char **argv)
{
	struct vcap_synth_cfg cfg = { .size = SIZE, .flows = 1000, .proto = VCAP_SYNTH_MIX };
	struct rules_limits lim = { .max_rules = 1024, .max_flows = 1u << 20 };
	struct vcap_synth g;
	uint64_t n = 2000000;
	char err[256];
	struct rules *r;
	double t0, parse_ns;
	struct vcap_parsed p;
	int opt;

	while ((opt = getopt(argc, argv, "n:")) != -1)
		n = strtoull(optarg, NULL, 0);
	if (vcap_synth_init(&g, &cfg, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	for (int i = 0; i < FRAMES; i++)
		vcap_synth_frame(&g, (uint64_t)i * 7919, frames[i]);

	for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++)
		bench_filter(filters[i], n);

	t0 = thread_ns();
	for (uint64_t i = 0; i < n; i++)
		vcap_parse(frames[i & (FRAMES - 1)], SIZE, &p);
	parse_ns = (thread_ns() - t0) / (double)n;
	printf("{\"what\":\"parse\",\"filter\":\"(once per packet, shared)\",\"insns\":0,\"ns\":%.1f,"
	       "\"pass\":1}\n",
	       parse_ns);

	r = rules_new(&lim);
	for (uint32_t id = 1; id <= 10; id++) {
		struct vcap_rule rule = { .id = id, .fields = VCAP_RULE_DPORT, .action = VCAP_DROP,
					  .dport_lo = (uint16_t)(40000 + id),
					  .dport_hi = (uint16_t)(40000 + id) };

		rules_add(r, &rule, err, sizeof(err));
	}
	bench_rules("10 wildcard rules, none matching", r, n);
	rules_free(r);
	return 0;
}
