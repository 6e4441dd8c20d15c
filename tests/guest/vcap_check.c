/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vcap-check - a consumer that checks every packet, for tests that run it
 * inside a VM guest (or anywhere): each packet must be exactly the next
 * frame of the generator the source runs (source/synth.h), and must pass
 * the filter it asked vcapd for (checked again here with libpcap's own
 * filter engine).
 *
 *   vcap-check -i DEVICE -n COUNT [-f FILTER] [-r RING_SIZE]
 *              [--size S] [--flows F] [--proto udp|tcp|mix] [--wait-marker]
 *              [--to-end]
 *
 * Prints one marker line, then exits 0 only if COUNT good packets came:
 *   VCAP-CHECK: ok=1 packets=N bad=B unordered=U rejected=R first_ms=T
 *               received=.. delivered=.. dropped=.. filtered=.. irqs=I
 * `irqs` counts the guest's VFIO MSI-X interrupts during the run (from
 * /proc/interrupts): non-zero shows the consumer slept and was woken.
 * --to-end then reads on until the source ends: any further packet is an
 * error (`extra`).
 */
#include <errno.h>
#include <getopt.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "synth.h"
#include "vcap.h"

static uint64_t vfio_irqs(void)
{
	FILE *f = fopen("/proc/interrupts", "r");
	char line[1024];
	uint64_t sum = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *p;

		if (!strstr(line, "vfio"))
			continue;
		p = strchr(line, ':');
		while (p && *++p) {
			char *end;
			unsigned long long v = strtoull(p, &end, 10);

			if (end == p)
				break;
			sum += v;
			p = end;
		}
	}
	fclose(f);
	return sum;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "size", required_argument, NULL, 'S' },
		{ "flows", required_argument, NULL, 'F' },
		{ "proto", required_argument, NULL, 'P' },
		{ "wait-marker", no_argument, NULL, 'W' },
		{ "to-end", no_argument, NULL, 'E' },
		{ NULL, 0, NULL, 0 },
	};
	struct vcap_synth_cfg cfg = { .size = 64, .flows = 1024, .proto = VCAP_SYNTH_MIX };
	VCAP_OPTS(vcap_open_opts, o, .watermark = 64, .timeout_ms = 10);
	const char *dev = NULL;
	unsigned long long count = 0, got = 0, bad = 0, unordered = 0, rejected = 0;
	uint64_t last = 0, t0, first_ms = 0, irq0;
	bool marker = false, first = true, to_end = false;
	unsigned long long extra = 0;
	struct bpf_program prog;
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
	struct vcap_synth g;
	struct vcap_stats st = { 0 };
	struct vcap *h;
	char err[256];
	int opt, n = 0;

	while ((opt = getopt_long(argc, argv, "i:n:f:r:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'i': dev = optarg; break;
		case 'n': count = strtoull(optarg, NULL, 0); break;
		case 'f': o.filter = optarg; break;
		case 'r': o.ring_size = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'S': cfg.size = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'F': cfg.flows = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'P':
			cfg.proto = !strcmp(optarg, "udp") ? VCAP_SYNTH_UDP
				    : !strcmp(optarg, "tcp") ? VCAP_SYNTH_TCP : VCAP_SYNTH_MIX;
			break;
		case 'W': marker = true; break;
		case 'E': to_end = true; break;
		default:
			fprintf(stderr, "usage: vcap-check -i DEVICE -n COUNT [-f FILTER] ...\n");
			return 2;
		}
	}
	if (!dev || !count || vcap_synth_init(&g, &cfg, err, sizeof(err))) {
		fprintf(stderr, "vcap-check: bad arguments %s\n", dev ? err : "");
		return 2;
	}
	if (pcap_compile(dead, &prog, o.filter ? o.filter : "", 1, PCAP_NETMASK_UNKNOWN)) {
		fprintf(stderr, "vcap-check: %s\n", pcap_geterr(dead));
		return 2;
	}
	h = vcap_open(dev, &o);
	if (!h) {
		printf("VCAP-CHECK: ok=0 error=\"%s\"\n", vcap_errmsg());
		return 1;
	}
	irq0 = vfio_irqs();
	if (marker) {
		printf("VCAP-CHECK: waiting\n");
		fflush(stdout);
	}
	t0 = now_ms();
	while (got < count) {
		struct vcap_pkt p[256];

		n = vcap_recv_burst(h, p, 256, VCAP_WAIT);
		if (n <= 0)
			break;
		if (first) {
			first_ms = now_ms() - t0;
			first = false;
		}
		for (int i = 0; i < n && got < count; i++, got++) {
			struct pcap_pkthdr ph = { .caplen = p[i].caplen, .len = p[i].wirelen };
			uint64_t seq;

			if (vcap_synth_verify(&g, p[i].data, p[i].caplen, &seq)) {
				bad++;
				continue;
			}
			if (got && seq <= last)
				unordered++;
			last = seq;
			if (!pcap_offline_filter(&prog, &ph, p[i].data))
				rejected++;
		}
	}
	/* --to-end: nothing may follow the COUNT expected packets but the end */
	while (to_end && got == count && (n = vcap_recv_burst(h, (struct vcap_pkt[64]){ 0 }, 64,
							      VCAP_WAIT)) > 0)
		extra += (unsigned long long)n;
	if (to_end && n != -ENODATA)
		extra++;
	vcap_stats(h, &st, sizeof(st));
	printf("VCAP-CHECK: ok=%d extra=%llu packets=%llu bad=%llu unordered=%llu rejected=%llu first_ms=%llu "
	       "received=%llu delivered=%llu dropped=%llu filtered=%llu irqs=%llu%s%s\n",
	       got == count && !bad && !unordered && !rejected && !extra, extra, got, bad,
	       unordered, rejected,
	       (unsigned long long)first_ms, (unsigned long long)st.received,
	       (unsigned long long)st.delivered, (unsigned long long)st.dropped,
	       (unsigned long long)st.filtered, (unsigned long long)(vfio_irqs() - irq0),
	       n < 0 ? " end=" : "", n < 0 ? vcap_errmsg() : "");
	vcap_close(h);
	pcap_freecode(&prog);
	pcap_close(dead);
	return got == count && !bad && !unordered && !rejected && !extra ? 0 : 1;
}
