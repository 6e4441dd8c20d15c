/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * crash_gap.c - what a host consumer sees of a vcapd crash (bench/crash.sh):
 * reads host:DEVICE with VCAP_OPEN_RECONNECT and, for each restart, the
 * largest pause between two packet arrivals (CLOCK_MONOTONIC at the
 * receive's return) around it, next to what libvcap reports (gap_ns,
 * restart_lost).  Ends on SIGINT/SIGTERM, or after ROUNDS restarts and
 * AFTER packets more; prints one JSON line per restart, then a summary.
 *
 *   usage: crash_gap DEVICE ROUNDS AFTER
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "vcap.h"

static struct vcap *h;
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
	vcap_breakloop(h);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	VCAP_OPTS(vcap_open_opts, o, .flags = VCAP_OPEN_RECONNECT, .watermark = 1,
		  .timeout_ms = 1);
	struct sigaction sa = { .sa_handler = on_signal };
	struct vcap_stats st, prev = { 0 };
	struct vcap_pkt p[256];
	uint64_t last = 0, max_gap = 0, pkts = 0, after = 0, want_after;
	unsigned rounds;

	if (argc != 4) {
		fprintf(stderr, "usage: crash_gap DEVICE ROUNDS AFTER\n");
		return 2;
	}
	rounds = (unsigned)strtoul(argv[2], NULL, 0);
	want_after = strtoull(argv[3], NULL, 0);
	h = vcap_open(argv[1], &o);
	if (!h) {
		fprintf(stderr, "crash_gap: %s\n", vcap_errmsg());
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!stop) {
		int n = vcap_recv_burst(h, p, 256, VCAP_WAIT);
		uint64_t t = now_ns();

		if (n == -EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "crash_gap: %s\n", vcap_errmsg());
			return 1;
		}
		if (last && t - last > max_gap)
			max_gap = t - last;
		last = t;
		pkts += (unsigned)n;
		vcap_stats(h, &st, sizeof(st));
		if (st.restarts != prev.restarts) {
			/* the first packets of a new ring: the pause just ended */
			printf("{\"restart\":%llu,\"pause_ms\":%.3f,\"gap_ms\":%.3f,"
			       "\"restart_lost\":%llu}\n",
			       (unsigned long long)st.restarts, (double)max_gap / 1e6,
			       (double)(st.gap_ns - prev.gap_ns) / 1e6,
			       (unsigned long long)(st.restart_lost - prev.restart_lost));
			fflush(stdout);
			prev = st;
			max_gap = 0;
			after = 0;
		}
		if (st.restarts >= rounds && (after += (unsigned)n) >= want_after)
			break;
	}
	vcap_stats(h, &st, sizeof(st));
	printf("{\"packets\":%llu,\"received\":%llu,\"delivered\":%llu,\"dropped\":%llu,"
	       "\"filtered\":%llu,\"restarts\":%llu,\"gap_ms\":%.3f,\"restart_lost\":%llu}\n",
	       (unsigned long long)pkts, (unsigned long long)st.received,
	       (unsigned long long)st.delivered, (unsigned long long)st.dropped,
	       (unsigned long long)st.filtered, (unsigned long long)st.restarts,
	       (double)st.gap_ns / 1e6, (unsigned long long)st.restart_lost);
	vcap_close(h);
	return 0;
}
