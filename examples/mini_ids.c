/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mini_ids - the skeleton of an IDS on vcap: count each conversation's
 * packets; once one has shown N, judge it benign and shunt it, so that a
 * flow rule in vcapd drops the rest before it is ever copied to us.
 *
 *   mini_ids [-n N] [-c COUNT] SOURCE        (reads host:SOURCE)
 *
 * Exit status: 0 done, 1 error or a packet let through after its rule took
 * effect, 2 usage, 3 vcapd went away.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <vcap.h>

#define BURST 256
#define SLOTS (1u << 16) /* flow table entries, a power of two; filled to 3/4 */
#define IDLE_MS 10000    /* a shunted flow's rule expires after this long unused */

struct flow {
	struct vcap_flow key; /* both directions alike: the lesser end is a */
	uint64_t packets, applied_at;
	int used, shunted;
};

static struct flow table[SLOTS];
static unsigned long long flows, shunted_flows, packets, untracked, late, expired;
static struct vcap *h;
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
	vcap_breakloop(h); /* async-signal-safe: ends the wait at once */
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* The conversation's entry, added if new; NULL once the table is full. */
static struct flow *lookup(const struct vcap_flow *f, uint32_t hash)
{
	int c = memcmp(f->addr_a, f->addr_b, 16), swap = c > 0 || (!c && f->port_a > f->port_b);
	struct vcap_flow k = { .family = f->family, .proto = f->proto,
			       .port_a = swap ? f->port_b : f->port_a,
			       .port_b = swap ? f->port_a : f->port_b };

	memcpy(k.addr_a, swap ? f->addr_b : f->addr_a, 16);
	memcpy(k.addr_b, swap ? f->addr_a : f->addr_b, 16);
	for (uint32_t i = hash;; i++) { /* vcapd's symmetric flow hash, linear probing */
		struct flow *e = &table[i % SLOTS];

		if (!e->used && flows == SLOTS / 4 * 3)
			return NULL;
		if (!e->used) {
			*e = (struct flow){ .key = k, .used = 1 };
			flows++;
		}
		if (!memcmp(&e->key, &k, sizeof(k)))
			return e;
	}
}

/* Count a packet against its flow; shunt the flow at its n-th.  0 or -errno. */
static int inspect(const struct vcap_pkt *p, uint64_t n)
{
	struct vcap_meta m;
	struct vcap_flow f;
	struct flow *e;
	uint64_t applied_at;
	int rc;

	packets++;
	if (vcap_pkt_meta(h, p, &m, sizeof(m)) || !(m.flags & VCAP_META_SEQ) ||
	    vcap_pkt_flow(p, &m, &f) || !(e = lookup(&f, p->hash))) {
		untracked++; /* not IP, a fragment, no room...: a real IDS would look anyway */
		return 0;
	}
	if (e->shunted ? m.seq < e->applied_at : ++e->packets < n)
		return 0; /* still judging it; or it was in the ring before its rule */
	/* Judged benign: shunt it.  Or a packet of a shunted flow came after the
	 * rule took effect: adding the rule again tells whether it had expired. */
	rc = vcap_flow_add(h, &f, VCAP_DROP, IDLE_MS, &applied_at);
	if (rc == -EEXIST && e->shunted)
		late++; /* the rule is in force, yet let this packet through */
	else if (rc == -ENOSPC)
		e->packets = 0; /* vcap_info's flow_max reached: try again later */
	else if (rc)
		return rc;
	else if (e->shunted)
		expired++; /* the rule had expired */
	else
		shunted_flows++;
	if (rc == 0) {
		e->shunted = 1;
		e->applied_at = applied_at;
	}
	return 0;
}

static void print_stats(const char *what, const char *end)
{
	struct vcap_stats st = { 0 };

	vcap_stats(h, &st, sizeof(st)); /* after -EPIPE: the last counters vcapd published */
	printf("%s: flows=%llu shunted_flows=%llu packets=%llu untracked=%llu late_after_rule=%llu"
	       " rules_expired=%llu received=%llu delivered=%llu dropped=%llu filtered=%llu"
	       " shunted=%llu%s%s\n", what, flows, shunted_flows, packets, untracked, late, expired,
	       (unsigned long long)st.received, (unsigned long long)st.delivered,
	       (unsigned long long)st.dropped, (unsigned long long)st.filtered,
	       (unsigned long long)st.shunted, end ? " end=" : "", end ? end : "");
	fflush(stdout);
}

/* An option's number into *v: 0, or 1 if it is not one. */
static int number(const char *s, unsigned long *v)
{
	char *end;

	*v = strtoul(s, &end, 10);
	return !(*s >= '0' && *s <= '9' && !*end && *v <= UINT32_MAX);
}

int main(int argc, char **argv)
{
	VCAP_OPTS(vcap_open_opts, opts, .flags = VCAP_OPEN_META | VCAP_OPEN_FLOW_HASH);
	unsigned long n = 100, count = 0;
	struct sigaction sa = { .sa_handler = on_signal };
	struct vcap_pkt pkts[BURST];
	const char *end = "signal";
	char device[128];
	int opt, bad = 0, rc = 0;

	while ((opt = getopt(argc, argv, "n:c:")) != -1)
		bad |= opt == 'n' ? number(optarg, &n) : opt == 'c' ? number(optarg, &count) : 1;
	if (bad || n == 0 || optind != argc - 1) {
		fprintf(stderr, "usage: mini_ids [-n N] [-c COUNT] SOURCE\n"
				"  reads host:SOURCE, shunts each flow after N packets (default 100);\n"
				"  stops after COUNT packets, at the source's end or on a signal\n");
		return 2;
	}
	snprintf(device, sizeof(device), "host:%s", argv[optind]);
	if (!(h = vcap_open(device, &opts))) {
		fprintf(stderr, "mini_ids: %s\n", vcap_errmsg());
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	for (long long tick = now_ms() + 1000; !stop && !rc;) {
		long long left = tick - now_ms(); /* bounded: stats every second, traffic or not */
		int got = vcap_recv_timeout(h, pkts, BURST, left > 0 ? (int)left : 0);

		for (int i = 0; i < got && !rc && !stop; i++) {
			rc = inspect(&pkts[i], n);
			if (count && packets == count) {
				stop = 1;
				end = "count";
			}
		}
		if (got < 0 && got != -EINTR) /* -EINTR: the signal handler's break */
			rc = got;
		if (!rc && now_ms() >= tick) {
			print_stats("stats", NULL);
			tick = now_ms() + 1000;
		}
	}
	if (rc == -ENODATA) {
		end = "ended"; /* a finite source ended, and all of it was read */
		rc = 0;
	} else if (rc) {
		fprintf(stderr, "mini_ids: %s%s\n", rc == -EPIPE ? "lost vcapd: " : "",
			vcap_errmsg());
	}
	print_stats("summary", rc == -EPIPE ? "vcapd-gone" : rc ? "error" : end);
	vcap_close(h);
	return rc == -EPIPE ? 3 : rc || late ? 1 : 0;
}
