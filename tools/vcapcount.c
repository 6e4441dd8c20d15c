/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vcapcount - count packets from any vcap device, like PF_RING's pfcount.
 *
 *   vcapcount -i DEVICE [-f BPF] [-n COUNT] [-d SECONDS] [-w WATERMARK]
 *             [-t TIMEOUT_MS] [-r RING_SIZE] [-s SNAPLEN] [-g CPU]
 *             [-c CLUSTER [-m 5tuple|4tuple|2tuple|rr]] [-q] [--json]
 *
 * One line per second (packets, pps, Gbps, dropped, drop %), then a
 * summary.  Packets are only counted, never copied: the receive path is
 * what is being measured.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "cli.h"
#include "json.h"
#include "vcap.h"

#define BURST 256

static struct vcap *handle;
static volatile sig_atomic_t stop, tick;

static void on_signal(int sig)
{
	if (sig == SIGALRM)
		tick = 1;
	else
		stop = 1;
	vcap_breakloop(handle); /* async-signal-safe: wakes a sleeping receive */
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vcapcount -i DEVICE [-f BPF] [-n COUNT] [-d SECONDS] [-w WATERMARK]\n"
		"                 [-t TIMEOUT_MS] [-r RING_SIZE] [-s SNAPLEN] [-g CPU]\n"
		"                 [-c CLUSTER [-m 5tuple|4tuple|2tuple|rr]] [-q] [--json]\n"
		"                 [--no-reconnect]\n"
		"\n"
		"  -i DEVICE      host:NAME (a vcapd source) or a local interface\n"
		"  -f BPF         filter in tcpdump syntax (applied before the ring); as in\n"
		"                 tcpdump, 'tcp' misses VLAN-tagged frames: 'tcp or (vlan and tcp)'\n"
		"  -n COUNT       stop after COUNT packets\n"
		"  -d SECONDS     stop after SECONDS\n"
		"  -w WATERMARK   wake up once WATERMARK packets wait (default 128)\n"
		"  -t TIMEOUT_MS  ... or once the first waited TIMEOUT_MS (default 10)\n"
		"  -r RING_SIZE   ring bytes, a power of two (default: vcapd's, 16 MiB)\n"
		"  -s SNAPLEN     bytes kept per packet\n"
		"  -g CPU         run on this CPU only\n"
		"  -c CLUSTER     share the source with the other members of cluster CLUSTER\n"
		"  -m MODE        how the cluster balances: 5tuple (default), 4tuple, 2tuple, rr\n"
		"  -q             no per-second lines\n"
		"  --json         print one JSON object at the end (per-second lines go to stderr)\n"
		"  --no-reconnect fail when vcapd goes away (default: reopen the ring, with the\n"
		"                 same filter and cluster, once vcapd is back, and go on)\n");
}

struct totals {
	unsigned long long packets, bytes;
};

static void print_line(FILE *out, double t, const struct totals *cur, const struct totals *prev,
		       double dt, const struct vcap_stats *st)
{
	double pps = (double)(cur->packets - prev->packets) / dt;
	double gbps = (double)(cur->bytes - prev->bytes) * 8 / dt / 1e9;
	unsigned long long lost = st->dropped + st->kernel_drops;
	unsigned long long seen = st->received + st->kernel_drops;

	fprintf(out,
		"%7.2f s  packets %12llu  pps %10.0f  Gbps %6.2f  dropped %llu (%.2f %%)\n", t,
		cur->packets, pps, gbps, lost, seen ? 100.0 * (double)lost / (double)seen : 0.0);
	fflush(out);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ "no-reconnect", no_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	/* a counter outlives a vcapd restart unless --no-reconnect */
	VCAP_OPTS(vcap_open_opts, opts, .watermark = 128, .timeout_ms = 10,
		  .flags = VCAP_OPEN_RECONNECT);
	const char *device = NULL;
	unsigned long long count = 0;
	double seconds = 0, t0, last;
	bool quiet = false, json = false;
	struct totals tot = { 0 }, prev = { 0 };
	struct vcap_pkt pkts[BURST];
	struct vcap_stats st = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	struct itimerval it = { { 1, 0 }, { 1, 0 } };
	const char *ended = NULL;
	FILE *lines;
	int opt, rc = 0;

	cli_prog = "vcapcount";
	while ((opt = getopt_long(argc, argv, "i:f:n:d:w:t:r:s:g:c:m:qh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			device = optarg;
			break;
		case 'f':
			opts.filter = optarg;
			break;
		case 'n':
			count = cli_number(optarg, "count");
			break;
		case 'd':
			seconds = (double)cli_number(optarg, "seconds");
			break;
		case 'w':
			opts.watermark = (uint32_t)cli_number(optarg, "watermark");
			break;
		case 't':
			opts.timeout_ms = (uint32_t)cli_number(optarg, "timeout");
			break;
		case 'r':
			opts.ring_size = (uint32_t)cli_number(optarg, "ring size");
			break;
		case 's':
			opts.snaplen = (uint32_t)cli_number(optarg, "snaplen");
			break;
		case 'g':
			cli_pin(optarg);
			break;
		case 'c':
			opts.cluster_id = (uint32_t)cli_number(optarg, "cluster");
			break;
		case 'm': {
			static const char *const modes[] = { "5tuple", "4tuple", "2tuple", "rr" };
			bool known = false;

			for (uint32_t k = 0; k < 4; k++) {
				if (!strcmp(optarg, modes[k])) {
					opts.cluster_mode = k;
					known = true;
				}
			}
			if (!known) {
				fprintf(stderr, "vcapcount: cluster mode \"%s\": expected 5tuple, "
						"4tuple, 2tuple or rr\n", optarg);
				return 2;
			}
			break;
		}
		case 'q':
			quiet = true;
			break;
		case 'J':
			json = true;
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
	if (!device || optind < argc) {
		usage(stderr);
		return 2;
	}
	lines = json ? stderr : stdout;

	handle = vcap_open(device, &opts);
	if (!handle) {
		fprintf(stderr, "vcapcount: %s\n", vcap_errmsg());
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);

	t0 = last = now_s();
	while (!stop) {
		int n = vcap_recv_burst(handle, pkts, BURST, VCAP_WAIT);

		for (int i = 0; i < n; i++) {
			tot.bytes += pkts[i].wirelen;
			if (++tot.packets == count) {
				stop = 1;
				break;
			}
		}
		if (n == -ENODATA) {
			ended = "the source has ended";
			break;
		}
		if (n < 0 && n != -EINTR) {
			fprintf(stderr, "vcapcount: %s\n", vcap_errmsg());
			rc = 1;
			break;
		}
		if (tick) {
			double t = now_s();

			tick = 0;
			vcap_stats(handle, &st, sizeof(st));
			if (!quiet)
				print_line(lines, t - t0, &tot, &prev, t - last, &st);
			prev = tot;
			last = t;
			if (seconds > 0 && t - t0 >= seconds)
				break;
		}
	}
	last = now_s() - t0;
	/* no more ticks: nothing interrupts the summary or the exit */
	setitimer(ITIMER_REAL, &(struct itimerval){ { 0, 0 }, { 0, 0 } }, NULL);
	vcap_stats(handle, &st, sizeof(st));

	if (json) {
		printf("{");
		json_kv_str(stdout, "device", device, false);
		printf(",\"packets\":%llu,\"bytes\":%llu", tot.packets, tot.bytes);
		printf(",\"received\":%llu,\"delivered\":%llu,\"dropped\":%llu,\"filtered\":%llu",
		       (unsigned long long)st.received, (unsigned long long)st.delivered,
		       (unsigned long long)st.dropped, (unsigned long long)st.filtered);
		printf(",\"kernel_drops\":%llu,\"seconds\":%.3f,\"pps\":%.0f,\"gbps\":%.3f",
		       (unsigned long long)st.kernel_drops, last, (double)tot.packets / last,
		       (double)tot.bytes * 8 / last / 1e9);
		printf(",\"restarts\":%llu,\"gap_ms\":%.3f,\"restart_lost\":%llu}\n",
		       (unsigned long long)st.restarts, (double)st.gap_ns / 1e6,
		       (unsigned long long)st.restart_lost);
		fflush(stdout); /* a reader of the pipe has it now, whatever the exit costs */
	} else {
		unsigned long long lost = st.dropped + st.kernel_drops;

		printf("\n%s summary%s%s\n", device, ended ? ": " : "", ended ? ended : "");
		printf("  packets read    %llu in %.2f s: %.0f pps, %.3f Gbps\n", tot.packets, last,
		       (double)tot.packets / last, (double)tot.bytes * 8 / last / 1e9);
		printf("  received        %llu\n  delivered       %llu\n  dropped (ring)  %llu\n"
		       "  filtered        %llu\n  kernel drops    %llu\n",
		       (unsigned long long)st.received, (unsigned long long)st.delivered,
		       (unsigned long long)st.dropped, (unsigned long long)st.filtered,
		       (unsigned long long)st.kernel_drops);
		if (st.restarts)
			printf("  vcapd restarts  %llu: %.1f ms without a ring, %llu packets "
			       "certainly lost\n",
			       (unsigned long long)st.restarts, (double)st.gap_ns / 1e6,
			       (unsigned long long)st.restart_lost);
		printf("  drop rate       %.3f %%\n",
		       st.received + st.kernel_drops
			       ? 100.0 * (double)lost / (double)(st.received + st.kernel_drops)
			       : 0.0);
	}
	vcap_close(handle);
	return rc;
}
