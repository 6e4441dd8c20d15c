/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctl_cost - what a rule or flow call costs the caller: the wall time of
 * vcap_flow_add, vcap_flow_hits, vcap_flow_remove and vcap_rule_add, each
 * a round trip to vcapd that returns once the source's capture thread has
 * applied it (its mailbox, between two batches).
 *
 * N calls of each, one after another on one handle: N flow rules added
 * (flows the synth traffic never carries, so the packet path only probes
 * the table), their hits read, each removed; then N wildcard rules added,
 * each removed again untimed (vcapd holds 1024 at most).  With -r a reader
 * thread drains the ring meanwhile, as a consumer does, so a flat-out
 * source keeps the capture thread busy and the ring flowing.
 *
 *   usage: ctl_cost -d host:SOURCE [-n N] [-r]
 *   prints one JSON object per call type:
 *     {"call":"flow_add","n":N,"median_us":M,"p99_us":P,"min_us":A,"max_us":B}
 *   and with -r {"call":"reader","pps":R}: what the reader received meanwhile.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vcap.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Print the distribution of n samples (ns); sorts them. */
static void report(const char *call, uint64_t *ns, unsigned n)
{
	qsort(ns, n, sizeof(*ns), cmp_u64);
	printf("{\"call\":\"%s\",\"n\":%u,\"median_us\":%.2f,\"p99_us\":%.2f,\"min_us\":%.2f,"
	       "\"max_us\":%.2f}\n",
	       call, n, ns[n / 2] / 1e3, ns[(size_t)n * 99 / 100] / 1e3, ns[0] / 1e3,
	       ns[n - 1] / 1e3);
	fflush(stdout);
}

/* Flow i: UDP between 192.168.x.y and 172.16.x.y, never in the synth traffic (10.x). */
static struct vcap_flow flow(unsigned i)
{
	struct vcap_flow f = { .family = 4, .proto = 17, .port_a = (uint16_t)(1024 + i % 50000),
			       .port_b = 53 };

	memcpy(f.addr_a, (uint8_t[]){ 192, 168, (uint8_t)(i >> 8), (uint8_t)i }, 4);
	memcpy(f.addr_b, (uint8_t[]){ 172, 16, (uint8_t)(i >> 8), (uint8_t)i }, 4);
	return f;
}

static void fail(const char *what, unsigned i, int rc)
{
	fprintf(stderr, "ctl_cost: %s %u: %s (%s)\n", what, i, strerror(-rc), vcap_errmsg());
	exit(1);
}

struct reader {
	struct vcap *h;
	atomic_bool stop;
	uint64_t pkts;
};

static void *read_ring(void *arg)
{
	struct reader *r = arg;
	struct vcap_pkt p[256];

	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		int n = vcap_recv_timeout(r->h, p, 256, 100);

		if (n < 0 && n != -EINTR) {
			fprintf(stderr, "ctl_cost: reader: %s\n", vcap_errmsg());
			break;
		}
		if (n > 0)
			r->pkts += (uint64_t)n;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const char *dev = NULL;
	unsigned n = 2000;
	bool busy = false;
	struct reader rd = { 0 };
	pthread_t thread;
	uint64_t *ns, t0, hits;
	int opt, rc;

	while ((opt = getopt(argc, argv, "d:n:r")) != -1) {
		if (opt == 'd')
			dev = optarg;
		else if (opt == 'n')
			n = (unsigned)atoi(optarg);
		else if (opt == 'r')
			busy = true;
		else
			dev = NULL, optind = argc + 1;
	}
	if (!dev || n < 100 || n > 50000) {
		fprintf(stderr, "usage: ctl_cost -d host:SOURCE [-n N (100..50000)] [-r]\n");
		return 2;
	}
	ns = calloc(n, sizeof(*ns));
	rd.h = vcap_open(dev, NULL);
	if (!ns || !rd.h) {
		fprintf(stderr, "ctl_cost: %s: %s\n", dev, vcap_errmsg());
		return 1;
	}
	if (busy && pthread_create(&thread, NULL, read_ring, &rd)) {
		fprintf(stderr, "ctl_cost: pthread_create failed\n");
		return 1;
	}
	t0 = now_ns();

	for (unsigned i = 0; i < n; i++) {
		struct vcap_flow f = flow(i);
		uint64_t t = now_ns();

		if ((rc = vcap_flow_add(rd.h, &f, VCAP_DROP, 0, NULL)) != 0)
			fail("vcap_flow_add", i, rc);
		ns[i] = now_ns() - t;
	}
	report("flow_add", ns, n);
	for (unsigned i = 0; i < n; i++) {
		struct vcap_flow f = flow(i);
		uint64_t t = now_ns();

		if ((rc = vcap_flow_hits(rd.h, &f, &hits)) != 0)
			fail("vcap_flow_hits", i, rc);
		ns[i] = now_ns() - t;
	}
	report("flow_hits", ns, n);
	for (unsigned i = 0; i < n; i++) {
		struct vcap_flow f = flow(i);
		uint64_t t = now_ns();

		if ((rc = vcap_flow_remove(rd.h, &f, &hits)) != 0)
			fail("vcap_flow_remove", i, rc);
		ns[i] = now_ns() - t;
	}
	report("flow_remove", ns, n);
	for (unsigned i = 0; i < n; i++) {
		struct vcap_rule r = { .id = i + 1, .fields = VCAP_RULE_PROTO | VCAP_RULE_DPORT,
				       .action = VCAP_DROP, .proto = 17, .dport_lo = 1,
				       .dport_hi = (uint16_t)(1 + i % 1000) };
		uint64_t t = now_ns();

		if ((rc = vcap_rule_add(rd.h, &r)) != 0)
			fail("vcap_rule_add", i, rc);
		ns[i] = now_ns() - t;
		if ((rc = vcap_rule_remove(rd.h, r.id)) != 0)
			fail("vcap_rule_remove", i, rc);
	}
	report("rule_add", ns, n);

	if (busy) {
		double secs = (now_ns() - t0) / 1e9;

		atomic_store(&rd.stop, true);
		vcap_breakloop(rd.h);
		pthread_join(thread, NULL);
		printf("{\"call\":\"reader\",\"pps\":%.0f}\n", rd.pkts / secs);
	}
	vcap_close(rd.h);
	free(ns);
	return 0;
}
