/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vcapdump - write what a vcap device captures to a pcap file.
 *
 *   vcapdump -i DEVICE -w FILE [-f BPF] [-c COUNT] [-s SNAPLEN] [-r RING_SIZE]
 *            [--nano] [-q]
 *
 * Packets come through libvcap (the filter runs in vcapd for host:
 * devices) and are written with libpcap's own dumper, so any pcap reader
 * takes the file.  Time stamps and lengths are vcapd's: --nano keeps the
 * nanoseconds, else the file has microseconds as tcpdump writes them.
 * Stops after COUNT packets, when a finite source ends, or on SIGINT or
 * SIGTERM; then says on stderr how many packets it wrote and lost.
 */
#include <errno.h>
#include <getopt.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vcap.h"

#define BURST 256

static struct vcap *handle;
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
	vcap_breakloop(handle); /* async-signal-safe: wakes a sleeping receive */
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vcapdump -i DEVICE -w FILE [-f BPF] [-c COUNT] [-s SNAPLEN] [-r RING_SIZE]\n"
		"                [--nano] [-q] [--no-reconnect]\n"
		"\n"
		"  -i DEVICE      host:NAME (a vcapd source) or a local interface\n"
		"  -w FILE        the pcap file to write (- for standard output)\n"
		"  -f BPF         filter in tcpdump syntax (applied before the ring); as in\n"
		"                 tcpdump, 'tcp' misses VLAN-tagged frames: 'tcp or (vlan and tcp)'\n"
		"  -c COUNT       stop after COUNT packets\n"
		"  -s SNAPLEN     bytes kept per packet\n"
		"  -r RING_SIZE   ring bytes, a power of two (default: vcapd's)\n"
		"  --nano         nanosecond time stamps (default: microseconds)\n"
		"  -q             no summary on stderr\n"
		"  --no-reconnect fail when vcapd goes away (default: reopen the ring once\n"
		"                 vcapd is back, and go on writing)\n");
}

static void to_pcap_hdr(const struct vcap_pkt *p, bool nano, struct pcap_pkthdr *h)
{
	uint64_t frac = p->ts_ns % 1000000000u;

	h->ts.tv_sec = (time_t)(p->ts_ns / 1000000000u);
	/* libpcap's nanosecond dumpers take nanoseconds in tv_usec */
	h->ts.tv_usec = (suseconds_t)(nano ? frac : frac / 1000);
	h->caplen = p->caplen;
	h->len = p->wirelen;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "nano", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ "no-reconnect", no_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	/* a dump outlives a vcapd restart unless --no-reconnect */
	VCAP_OPTS(vcap_open_opts, opts, .watermark = 64, .timeout_ms = 50,
		  .flags = VCAP_OPEN_RECONNECT);
	const char *device = NULL, *file = NULL, *ended = NULL;
	unsigned long long count = 0, written = 0;
	bool nano = false, quiet = false;
	struct vcap_pkt pkts[BURST];
	struct vcap_stats st = { 0 };
	struct vcap_info info;
	struct sigaction sa = { .sa_handler = on_signal };
	pcap_t *dead;
	pcap_dumper_t *dumper;
	int opt, rc = 0;

	cli_prog = "vcapdump";
	while ((opt = getopt_long(argc, argv, "i:w:f:c:s:r:qh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			device = optarg;
			break;
		case 'w':
			file = optarg;
			break;
		case 'f':
			opts.filter = optarg;
			break;
		case 'c':
			count = cli_number(optarg, "count");
			break;
		case 's':
			opts.snaplen = (uint32_t)cli_number(optarg, "snaplen");
			break;
		case 'r':
			opts.ring_size = (uint32_t)cli_number(optarg, "ring size");
			break;
		case 'N':
			nano = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'R':
			opts.flags &= ~(uint32_t)VCAP_OPEN_RECONNECT;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!device || !file || optind < argc) {
		usage(stderr);
		return 2;
	}

	handle = vcap_open(device, &opts);
	if (!handle) {
		fprintf(stderr, "vcapdump: %s\n", vcap_errmsg());
		return 1;
	}
	vcap_info(handle, &info, sizeof(info));
	/* libpcap writes the file header: link type and snaplen of what vcapd sends */
	dead = pcap_open_dead_with_tstamp_precision((int)info.linktype, (int)info.snaplen,
						    nano ? PCAP_TSTAMP_PRECISION_NANO
							 : PCAP_TSTAMP_PRECISION_MICRO);
	if (!dead) {
		fprintf(stderr, "vcapdump: out of memory\n");
		vcap_close(handle);
		return 1;
	}
	dumper = pcap_dump_open(dead, file);
	if (!dumper) {
		fprintf(stderr, "vcapdump: %s\n", pcap_geterr(dead));
		pcap_close(dead);
		vcap_close(handle);
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	while (!stop) {
		int n = vcap_recv_burst(handle, pkts, BURST, VCAP_WAIT);

		for (int i = 0; i < n && !(count && written == count); i++) {
			struct pcap_pkthdr h;

			to_pcap_hdr(&pkts[i], nano, &h);
			pcap_dump((u_char *)dumper, &h, pkts[i].data);
			written++;
		}
		if (count && written == count)
			break;
		if (n == -ENODATA) {
			ended = "the source has ended";
			break;
		}
		if (n < 0 && n != -EINTR) {
			fprintf(stderr, "vcapdump: %s\n", vcap_errmsg());
			rc = 1;
			break;
		}
	}
	vcap_stats(handle, &st, sizeof(st));
	if (pcap_dump_flush(dumper)) {
		fprintf(stderr, "vcapdump: %s: %s\n", file, strerror(errno));
		rc = 1;
	}
	pcap_dump_close(dumper);
	pcap_close(dead);
	vcap_close(handle);

	if (!quiet)
		fprintf(stderr,
			"vcapdump: %llu packets written to %s%s%s\n"
			"vcapdump: received %llu, dropped %llu (ring full), filtered %llu, "
			"kernel drops %llu\n",
			written, file, ended ? "; " : "", ended ? ended : "",
			(unsigned long long)st.received, (unsigned long long)st.dropped,
			(unsigned long long)st.filtered, (unsigned long long)st.kernel_drops);
	if (!quiet && st.restarts)
		fprintf(stderr,
			"vcapdump: vcapd restarted %llu time(s): %.1f ms without a ring, %llu "
			"packets certainly lost\n",
			(unsigned long long)st.restarts, (double)st.gap_ns / 1e6,
			(unsigned long long)st.restart_lost);
	return rc;
}
