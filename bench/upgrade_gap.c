/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * upgrade_gap - a consumer that measures what an upgrade of vcapd costs it
 * (bench/upgrade.sh): it reads DEVICE (VCAP_OPEN_META, so every packet's
 * sequence number shows a loss) until COUNT packets or the source's end,
 * and reports as one JSON line the packets it got, those missing (gaps in
 * the sequence, and what the ring dropped), and the longest time between
 * two receives that brought packets: the pause it saw, and every gap over
 * 2 ms with the wall-clock time it ended (the script picks the one that
 * overlaps the upgrade; on a shared machine others are scheduling noise).
 *
 *   usage: upgrade_gap DEVICE COUNT [FILTER [RING_BYTES]]
 *
 * FILTER (applied in vcapd) lets a slow consumer, a TCG guest in
 * bench/upgrade.sh -v, take a known share of a fast source; RING_BYTES
 * (default 64 MiB) must fit a VM's region.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "vcap.h"

#define GAP_NOTED_NS 2000000ull
#define GAPS_MAX 65536

static double wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	VCAP_OPTS(vcap_open_opts, o, .ring_size = 64u << 20, .flags = VCAP_OPEN_META,
		  .watermark = 1, .timeout_ms = 1);
	struct vcap_pkt pkts[256];
	struct vcap_stats st = { 0 };
	uint64_t count, got = 0, missing = 0, next_seq = 0, last = 0, gap = 0, gap_at = 0;
	uint64_t start;
	static struct { double end_s; uint64_t ns; } gaps[GAPS_MAX];
	unsigned n_gaps = 0;
	struct vcap *h;
	int rc = 0;

	if (argc < 3 || argc > 5) {
		fprintf(stderr, "usage: upgrade_gap DEVICE COUNT [FILTER [RING_BYTES]]\n");
		return 2;
	}
	count = strtoull(argv[2], NULL, 10);
	if (argc > 3 && argv[3][0])
		o.filter = argv[3];
	if (argc > 4)
		o.ring_size = (uint32_t)strtoul(argv[4], NULL, 0);
	h = vcap_open(argv[1], &o);
	if (!h) {
		fprintf(stderr, "upgrade_gap: %s: %s\n", argv[1], vcap_errmsg());
		return 1;
	}
	start = mono_ns();
	while (got < count) {
		int n = vcap_recv_timeout(h, pkts, 256, 30000);
		uint64_t now = mono_ns();

		if (n < 0) {
			rc = n;
			break;
		}
		if (n == 0) {
			rc = -ETIMEDOUT;
			break;
		}
		for (int i = 0; i < n; i++) {
			struct vcap_meta m;

			if (vcap_pkt_meta(h, &pkts[i], &m, sizeof(m)) == 0 && m.seq != next_seq) {
				missing += m.seq > next_seq ? m.seq - next_seq : 1;
			}
			next_seq = m.seq + 1;
		}
		if (last && now - last > GAP_NOTED_NS && n_gaps < GAPS_MAX) {
			gaps[n_gaps].end_s = wall_s();
			gaps[n_gaps++].ns = now - last;
		}
		if (last && now - last > gap) {
			gap = now - last;
			gap_at = last - start;
		}
		last = now;
		got += (uint64_t)n;
	}
	vcap_stats(h, &st, sizeof(st));
	printf("{\"got\":%llu,\"missing\":%llu,\"received\":%llu,\"delivered\":%llu,"
	       "\"dropped\":%llu,\"max_gap_us\":%.1f,\"max_gap_at_s\":%.3f,\"rc\":%d,\"gaps\":[",
	       (unsigned long long)got, (unsigned long long)missing,
	       (unsigned long long)st.received, (unsigned long long)st.delivered,
	       (unsigned long long)st.dropped, (double)gap / 1e3, (double)gap_at / 1e9, rc);
	for (unsigned i = 0; i < n_gaps; i++)
		printf("%s{\"end_s\":%.6f,\"us\":%.1f}", i ? "," : "", gaps[i].end_s,
		       (double)gaps[i].ns / 1e3);
	printf("]}\n");
	vcap_close(h);
	return rc == 0 || rc == -ENODATA ? 0 : 1;
}
