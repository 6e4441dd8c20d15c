/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pcapcount - a plain libpcap program that counts packets with
 * pcap_dispatch(), for bench/paper: the "libpcap" baseline on a host
 * interface, and, run through vcap-pcap in a VM guest, the consumer of the
 * early-filtering experiment.
 *
 *   pcapcount -i DEVICE [-f FILTER | -F FILTER] [-d SECONDS] [-B BYTES]
 *             [-s SNAPLEN] [--json]
 *
 *   -f FILTER   pcap_setfilter(): the kernel runs it (an interface), or
 *               vcapd (a host: device through vcap-pcap): early filtering
 *   -F FILTER   every packet is taken and tested here, with libpcap's
 *               pcap_offline_filter() on a program compiled for Ethernet:
 *               filtering in the consumer
 *   -d SECONDS  stop after SECONDS (else at SIGINT/SIGTERM)
 *   -B BYTES    capture buffer (pcap_set_buffer_size; default 32 MiB)
 *
 * It uses nothing but libpcap: with vcap-pcap it is an unmodified libpcap
 * program on a vcap device.  At the end it prints (with --json) one object:
 *   {"device","packets","matched","bytes","ps_recv","ps_drop","ps_ifdrop",
 *    "seconds","pps","mpps_matched"}
 * "packets" are what pcap_dispatch() handed over, "matched" those that
 * passed -F (all of them without it); ps_* are pcap_stats().
 */
#include <errno.h>
#include <getopt.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pcap_t *handle;
static volatile sig_atomic_t stop;

struct count {
	unsigned long long packets, matched, bytes;
	struct bpf_program *local; /* -F: tested here */
};

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
	if (handle)
		pcap_breakloop(handle);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct count *c = (struct count *)user;

	c->packets++;
	c->bytes += h->len;
	if (!c->local || pcap_offline_filter(c->local, h, bytes))
		c->matched++;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: pcapcount -i DEVICE [-f FILTER | -F FILTER] [-d SECONDS] [-B BYTES]\n"
		     "                 [-s SNAPLEN] [--json]\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dev = NULL, *kfilter = NULL, *lfilter = NULL;
	double seconds = 0, t0, el;
	int bufsize = 32 << 20, snaplen = 65535, opt, rc;
	bool json = false;
	char err[PCAP_ERRBUF_SIZE] = "";
	struct count c = { 0 };
	struct bpf_program kprog, lprog;
	struct pcap_stat ps = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };

	while ((opt = getopt_long(argc, argv, "i:f:F:d:B:s:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'i': dev = optarg; break;
		case 'f': kfilter = optarg; break;
		case 'F': lfilter = optarg; break;
		case 'd': seconds = atof(optarg); break;
		case 'B': bufsize = atoi(optarg); break;
		case 's': snaplen = atoi(optarg); break;
		case 'J': json = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!dev || optind < argc || (kfilter && lfilter)) {
		usage(stderr);
		return 2;
	}

	handle = pcap_create(dev, err);
	if (!handle) {
		fprintf(stderr, "pcapcount: %s: %s\n", dev, err);
		return 1;
	}
	pcap_set_snaplen(handle, snaplen);
	pcap_set_promisc(handle, 1);
	pcap_set_timeout(handle, 10);
	pcap_set_buffer_size(handle, bufsize);
	rc = pcap_activate(handle);
	if (rc < 0) {
		fprintf(stderr, "pcapcount: %s: %s\n", dev, pcap_geterr(handle));
		return 1;
	}
	if (kfilter) {
		if (pcap_compile(handle, &kprog, kfilter, 1, PCAP_NETMASK_UNKNOWN) ||
		    pcap_setfilter(handle, &kprog)) {
			fprintf(stderr, "pcapcount: filter \"%s\": %s\n", kfilter, pcap_geterr(handle));
			return 1;
		}
	}
	if (lfilter) {
		pcap_t *dead = pcap_open_dead(DLT_EN10MB, snaplen);

		if (!dead || pcap_compile(dead, &lprog, lfilter, 1, PCAP_NETMASK_UNKNOWN)) {
			fprintf(stderr, "pcapcount: filter \"%s\": %s\n", lfilter,
				dead ? pcap_geterr(dead) : "out of memory");
			return 1;
		}
		c.local = &lprog;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	if (seconds > 0)
		alarm((unsigned)(seconds + 0.999));

	t0 = now_s();
	while (!stop) {
		rc = pcap_dispatch(handle, -1, on_packet, (u_char *)&c);
		if (rc == PCAP_ERROR_BREAK)
			break;
		if (rc == PCAP_ERROR) {
			if (stop)
				break;
			fprintf(stderr, "pcapcount: %s\n", pcap_geterr(handle));
			return 1;
		}
		if (rc == 0 && pcap_file(handle))
			break;
	}
	el = now_s() - t0;
	if (pcap_stats(handle, &ps))
		memset(&ps, 0, sizeof(ps));
	if (json) {
		printf("{\"device\":\"%s\",\"packets\":%llu,\"matched\":%llu,\"bytes\":%llu,"
		       "\"ps_recv\":%u,\"ps_drop\":%u,\"ps_ifdrop\":%u,\"seconds\":%.3f,"
		       "\"pps\":%.0f,\"mpps_matched\":%.4f}\n",
		       dev, c.packets, c.matched, c.bytes, ps.ps_recv, ps.ps_drop, ps.ps_ifdrop, el,
		       (double)c.packets / el, (double)c.matched / el / 1e6);
	} else {
		printf("%s: %llu packets (%llu matched) in %.2f s, %.0f pps; pcap_stats: recv %u "
		       "drop %u ifdrop %u\n",
		       dev, c.packets, c.matched, el, (double)c.packets / el, ps.ps_recv, ps.ps_drop,
		       ps.ps_ifdrop);
	}
	pcap_close(handle);
	return 0;
}
