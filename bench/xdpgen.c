/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * xdpgen - send vcapsend's UDP traffic mix into a veth pair as XDP frames,
 * the way a NIC's driver would receive it, for bench/multiqueue.sh.
 *
 * vcapsend sends through AF_PACKET: every frame is an skb from the start,
 * and veth hands the skb to its peer, so an XDP program there pays for an
 * skb that a NIC driver never builds (and, in copy mode, a copy to make the
 * frame XDP-ready).  xdpgen runs its XDP program (xdpgen.bpf.c) with
 * BPF_PROG_RUN in live-frames mode (Linux 5.18): the kernel turns the
 * template into page_pool frames, the program makes each one packet n of
 * the mix, and XDP_TX sends it out of IFACE with ndo_xdp_xmit.  veth queues
 * it for its peer as an xdp_frame; the peer runs its own XDP program on it
 * (vcap's, for xdp:) or builds an skb around the page for the stack (for
 * if:, when the peer has NAPI: GRO on, or an XDP program).  No frame is
 * copied on the way in, as with a NIC's DMA.
 *
 * Packets and timing follow vcapsend: packet n is synth's packet n
 * (proto=udp), except that its UDP checksum is 0 and its IPv4 id that of
 * packet n % (2 * flows) (the headers come from a table); -r paces bursts of
 * --burst frames, -r 0 sends flat out.  The peer queue a frame lands on is
 * the sending CPU modulo its queues, as for vcapsend: --cpus 0,1 sends from
 * a thread pinned to each CPU, each with its own half of -n and -r and its
 * own packet numbers from 0, as two vcapsend processes pinned with taskset
 * would.  (Threads, not processes: the program must stay in the kernel's
 * XDP dispatcher between runs, and only one process can park it there.)
 *
 *   usage: xdpgen -i IFACE [-l SIZE] [--flows N] [-r PPS] [--burst N]
 *                 [-n COUNT] [--cpus LIST] [-q] [--json]
 *   (COUNT 0 or none: until SIGINT or SIGTERM)
 *
 * errors: frames the veth pair dropped (IFACE's tx_dropped grew by them:
 * the peer is down or has no NAPI to take XDP frames).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "cli.h"
#include "synth.h"
#include "xdpgen_abi.h"

extern const unsigned char xdpgen_obj[];
extern const size_t xdpgen_obj_len;

#define FLOWS_MAX 100000u
#define THREADS_MAX 64

struct options {
	const char *ifname;
	uint32_t size, flows, burst;
	uint64_t rate, count;
	int cpus[THREADS_MAX], threads; /* threads 0: one, unpinned */
	bool quiet, json;
};

/* One sending thread: its share of the frames and the rate, its result. */
struct sender {
	pthread_t tid;
	bool started;
	int cpu; /* -1: not pinned */
	uint64_t count, rate, sent, ns;
	int prog_fd, err;
	const struct options *o;
	const uint8_t *frame;
	unsigned ifindex;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: xdpgen -i IFACE [-l SIZE] [--flows N] [-r PPS] [--burst N] [-n COUNT]\n"
		   "              [--cpus LIST] [-q] [--json]\n"
		   "  -l SIZE      frame bytes, 64..%u (default 64)\n"
		   "  --flows N    flows of the mix, 1..%u (default 1000)\n"
		   "  -r PPS       frames per second, paced in bursts; 0: flat out (default)\n"
		   "  --burst N    frames per burst, and per BPF_PROG_RUN (default 64)\n"
		   "  -n COUNT     frames to send; 0: until SIGINT or SIGTERM (default)\n"
		   "  --cpus LIST  a thread pinned to each CPU of LIST (0,1,...), sharing -n and -r\n"
		   "  --json       end with {\"sent\",\"seconds\",\"pps\",\"errors\",\"cpu_seconds\",\n"
		   "               \"sent_per_thread\"}\n",
		VCAP_SYNTH_SIZE_MAX, FLOWS_MAX);
}

/* cli_number() within [lo, hi], or exit 2 naming the option. */
static uint64_t number(const char *what, const char *s, uint64_t lo, uint64_t hi)
{
	uint64_t v = cli_number(s, what);

	if (v < lo || v > hi) {
		fprintf(stderr, "xdpgen: %s %llu: not in %llu..%llu\n", what, (unsigned long long)v,
			(unsigned long long)lo, (unsigned long long)hi);
		exit(2);
	}
	return v;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	enum { OPT_FLOWS = 256, OPT_BURST, OPT_CPUS, OPT_JSON };
	static const struct option longs[] = {
		{ "cpus", required_argument, NULL, OPT_CPUS },
		{ "flows", required_argument, NULL, OPT_FLOWS },
		{ "burst", required_argument, NULL, OPT_BURST },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct options){ .size = 64, .flows = 1000, .burst = 64 };
	while ((c = getopt_long(argc, argv, "i:l:r:n:qh", longs, NULL)) != -1) {
		switch (c) {
		case 'i': o->ifname = optarg; break;
		case 'l':
			o->size = (uint32_t)number("-l", optarg, 64, VCAP_SYNTH_SIZE_MAX);
			break;
		case OPT_FLOWS:
			o->flows = (uint32_t)number("--flows", optarg, 1, FLOWS_MAX);
			break;
		case OPT_BURST:
			o->burst = (uint32_t)number("--burst", optarg, 1, 1u << 16);
			break;
		case 'r':
			o->rate = number("-r", optarg, 0, UINT32_MAX);
			break;
		case 'n':
			o->count = number("-n", optarg, 0, UINT64_MAX);
			break;
		case OPT_CPUS:
			for (char *save = NULL, *t = strtok_r(optarg, ",", &save); t;
			     t = strtok_r(NULL, ",", &save)) {
				if (o->threads == THREADS_MAX) {
					fprintf(stderr, "xdpgen: --cpus: at most %d\n", THREADS_MAX);
					return -1;
				}
				o->cpus[o->threads++] = (int)number("--cpus", t, 0, CPU_SETSIZE - 1);
			}
			break;
		case 'q': o->quiet = true; break;
		case OPT_JSON: o->json = true; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (!o->ifname || optind != argc) {
		usage(stderr);
		return -1;
	}
	return 0;
}

/* IFACE's tx_dropped counter (veth counts the XDP frames its peer refused there) */
static uint64_t tx_dropped(const char *ifname)
{
	char path[128];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/tx_dropped", ifname);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

/* Open and load the embedded program with the mix's headers in its map. */
static struct bpf_object *load(const struct options *o, const struct vcap_synth *s, int *prog_fd)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = "xdpgen");
	struct bpf_object *obj = bpf_object__open_mem(xdpgen_obj, xdpgen_obj_len, &oo);
	struct bpf_map *hdrs, *rodata = NULL, *m;
	uint8_t frame[VCAP_SYNTH_SIZE_MAX];
	uint32_t places = 2 * o->flows;
	struct xdpgen_conf conf = { .places = places };

	if (!obj) {
		fprintf(stderr, "xdpgen: opening the XDP object: %s\n", strerror(errno));
		return NULL;
	}
	hdrs = bpf_object__find_map_by_name(obj, "xg_hdrs");
	bpf_object__for_each_map(m, obj)
		if (strstr(bpf_map__name(m), ".rodata"))
			rodata = m;
	if (!hdrs || !rodata || bpf_map__set_max_entries(hdrs, places)) {
		fprintf(stderr, "xdpgen: the XDP object lacks its maps\n");
		goto fail;
	}
	/* xg_conf is the only read-only datum, at offset 0 */
	if (bpf_map__value_size(rodata) != sizeof(conf) ||
	    bpf_map__set_initial_value(rodata, &conf, sizeof(conf))) {
		fprintf(stderr, "xdpgen: the XDP object's xg_conf is not as xdpgen_abi.h says\n");
		goto fail;
	}
	if (bpf_object__load(obj)) {
		fprintf(stderr, "xdpgen: loading the XDP program: %s\n", strerror(errno));
		goto fail;
	}
	for (uint32_t k = 0; k < places; k++) {
		vcap_synth_frame(s, k, frame);
		if (bpf_map_update_elem(bpf_map__fd(hdrs), &k, frame, BPF_ANY)) {
			fprintf(stderr, "xdpgen: filling the header map: %s\n", strerror(errno));
			goto fail;
		}
	}
	*prog_fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "xdpgen"));
	return obj;
fail:
	bpf_object__close(obj);
	return NULL;
}

/* Pace the burst due at t0 + sent / rate; false if a signal came first. */
static bool wait_turn(uint64_t t0, uint64_t sent, uint64_t rate)
{
	uint64_t due = t0 + sent * 1000000000u / rate;
	struct timespec ts = { .tv_sec = (time_t)(due / 1000000000u),
			       .tv_nsec = (long)(due % 1000000000u) };

	return due <= now_ns() || !clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

static void *send_loop(void *arg)
{
	struct sender *t = arg;
	const struct options *o = t->o;
	/* the kernel wants data_end to be the frame's length */
	struct xdp_md ctx = { .data_end = o->size, .ingress_ifindex = t->ifindex };
	/* a batch of 64 frames, as many as veth's NAPI takes per poll: larger
	 * ones overflow its 256-frame ring before the poll empties it */
	LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = t->frame, .data_size_in = o->size,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .flags = BPF_F_TEST_XDP_LIVE_FRAMES,
		    .batch_size = o->burst < 64 ? o->burst : 64);
	uint64_t t0;

	if (t->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(t->cpu, &set);
		t->err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
		if (t->err) {
			fprintf(stderr, "xdpgen: pinning to CPU %d: %s\n", t->cpu, strerror(t->err));
			return NULL;
		}
	}
	t0 = now_ns();
	while (!stop && (!t->count || t->sent < t->count)) {
		uint64_t n = o->burst;

		if (t->count && t->count - t->sent < n)
			n = t->count - t->sent;
		if (t->rate && !wait_turn(t0, t->sent, t->rate))
			continue; /* a signal: look at stop again */
		run.repeat = (int)n;
		if (bpf_prog_test_run_opts(t->prog_fd, &run)) {
			t->err = errno;
			fprintf(stderr, "xdpgen: BPF_PROG_RUN in live-frames mode: %s%s\n",
				strerror(errno), errno == EINVAL ? " (needs Linux 5.18 or later)" : "");
			break;
		}
		t->sent += n;
	}
	t->ns = now_ns() - t0;
	return NULL;
}

int main(int argc, char **argv)
{
	struct options o;
	struct vcap_synth s;
	struct vcap_synth_cfg cfg;
	struct bpf_object *obj;
	struct sender senders[THREADS_MAX] = { 0 };
	static uint8_t frame[VCAP_SYNTH_SIZE_MAX];
	char err[160];
	uint64_t sent = 0, ns = 0, drop0, errors;
	unsigned ifindex, lo;
	int prog_fd = -1, rc = 0, nt;

	cli_prog = "xdpgen";
	if (parse_options(argc, argv, &o))
		return 2;
	ifindex = if_nametoindex(o.ifname);
	if (!ifindex) {
		fprintf(stderr, "xdpgen: %s: no such interface\n", o.ifname);
		return 1;
	}
	cfg = (struct vcap_synth_cfg){ .size = o.size, .flows = o.flows, .proto = VCAP_SYNTH_UDP };
	if (vcap_synth_init(&s, &cfg, err, sizeof(err))) {
		fprintf(stderr, "xdpgen: %s\n", err);
		return 2;
	}
	obj = load(&o, &s, &prog_fd);
	if (!obj)
		return 1;
	/*
	 * Every BPF_PROG_RUN of an XDP program puts it into the kernel's XDP
	 * dispatcher and takes it out again, patching kernel text and
	 * interrupting every CPU each time (0.6 ms per call here, more than a
	 * burst's frames cost) unless the program is there already: attached
	 * to some interface.  lo of the sender's namespace carries nothing.
	 */
	lo = if_nametoindex("lo");
	if (!lo || bpf_xdp_attach((int)lo, prog_fd, XDP_FLAGS_SKB_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST,
				  NULL)) {
		fprintf(stderr, "xdpgen: warning: cannot park the program on lo (%s): every burst "
				"will cost a kernel text patch\n", strerror(errno));
		lo = 0;
	}
	vcap_synth_frame(&s, 0, frame);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	nt = o.threads ? o.threads : 1;
	drop0 = tx_dropped(o.ifname);
	for (int i = 0; i < nt; i++) {
		struct sender *t = &senders[i];

		*t = (struct sender){ .cpu = o.threads ? o.cpus[i] : -1, .prog_fd = prog_fd,
				      .o = &o, .frame = frame, .ifindex = ifindex,
				      /* shares: the first threads take what does not divide */
				      .count = o.count / (uint64_t)nt + ((uint64_t)i < o.count % (uint64_t)nt),
				      .rate = o.rate / (uint64_t)nt + ((uint64_t)i < o.rate % (uint64_t)nt) };
		if ((o.count && !t->count) || (o.rate && !t->rate))
			continue; /* fewer frames (or pps) than threads: none for this one */
		t->err = pthread_create(&t->tid, NULL, send_loop, t);
		t->started = !t->err;
		if (t->err) {
			fprintf(stderr, "xdpgen: starting a thread: %s\n", strerror(t->err));
			stop = 1;
		}
	}
	for (int i = 0; i < nt; i++) {
		if (senders[i].started)
			pthread_join(senders[i].tid, NULL);
		if (senders[i].err)
			rc = 1;
		sent += senders[i].sent;
		if (senders[i].ns > ns)
			ns = senders[i].ns;
	}
	errors = tx_dropped(o.ifname) - drop0;

	double secs = ns ? (double)ns / 1e9 : 1e-9;

	if (o.json) {
		struct rusage ru;
		double cpu = 0;

		/* what sending cost, the veth peer's receive run in our context included */
		if (!getrusage(RUSAGE_SELF, &ru))
			cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
			      (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
		printf("{\"sent\":%" PRIu64 ",\"seconds\":%.6f,\"pps\":%.1f,\"errors\":%" PRIu64
		       ",\"cpu_seconds\":%.6f,\"sent_per_thread\":[",
		       sent, secs, (double)sent / secs, errors, cpu);
		for (int i = 0; i < nt; i++)
			printf("%s%" PRIu64, i ? "," : "", senders[i].sent);
		printf("]}\n");
	} else if (!o.quiet) {
		printf("xdpgen: sent %" PRIu64 " frames out of %s in %.3f s: %.0f pps, %" PRIu64
		       " dropped by the veth pair\n",
		       sent, o.ifname, secs, (double)sent / secs, errors);
	}
	if (lo)
		bpf_xdp_detach((int)lo, XDP_FLAGS_SKB_MODE, NULL);
	bpf_object__close(obj);
	return rc;
}
