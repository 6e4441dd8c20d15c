/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vcapsend - send generated or recorded frames out of an interface, like
 * PF_RING's pfsend.
 *
 * Generated frames are packets 0, 1, 2... of a source/synth.h config, so a
 * receiver can check every byte it gets (vcap_synth_verify) and count what
 * is missing.  Frames go out through tx_afpacket.h in batches: many frames
 * written into the TX ring, one sendto().  A generated frame is written in
 * full the first time a ring slot is used and patched afterwards, which is
 * what keeps generation off the profile.
 *
 * "sent" counts only frames the kernel took (see tx_afpacket.h), so after
 * the final drain, sent + errors is every frame vcapsend tried to send.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "synth.h"
#include "tx_afpacket.h"

#define EXIT_USAGE 2
#define BATCH 256               /* frames written between two flushes */
#define DRAIN_MS 2000           /* most we wait for the last frames */
#define SPIN_NS 50000ll         /* pacing: spin for waits shorter than this */
#define ETH_P_8021Q_HI 0x81     /* first byte of the 802.1Q TPID at offset 12 */

static volatile sig_atomic_t stop_req;   /* SIGINT/SIGTERM: stop sending */
static volatile sig_atomic_t stop_drain; /* a second one: stop waiting, too */

struct options {
	const char *ifname;
	const char *pcap_path;
	struct vcap_synth_cfg synth;
	uint64_t pps;   /* 0: as fast as possible */
	uint64_t burst_ns; /* paced: send what is due this often, sleeping between; 0: per frame */
	uint64_t count; /* 0: forever */
	bool count_set;
	bool synth_opt; /* some option only the generator uses */
	bool quiet;
	bool json;
	bool use_sendmmsg;
};

/* Where frames come from: the generator or a pcap file. */
struct frames {
	struct vcap_synth synth;
	bool synth_on;
	const char *path;
	pcap_t *pcap;
	bool loop;            /* start the file over at its end */
	uint64_t in_pass;     /* frames read in this pass over the file */
	uint64_t file_index;  /* frame number in the file, from 1, for messages */
	uint32_t limit;       /* longest frame the interface takes (tagged) */
	bool warned_long, warned_short;
	bool failed;          /* the file could not be read to its end */
};

/* What sending came to, for the summary. */
struct totals {
	uint64_t tried;    /* frames taken from the source */
	uint64_t skipped;  /* ... that vcapsend could not send at all */
	uint64_t unsent;   /* ... still queued when vcapsend gave up waiting */
	struct vcap_tx_stats tx;
	double seconds;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vcapsend -i IFACE [-l SIZE] [-r PPS [--burst USEC]] [-n COUNT] [--pcap FILE]\n"
		"                [--flows N] [--proto udp|tcp|mix] [--ipv6 PCT] [--vlan ID]\n"
		"                [-q] [--json] [--sendmmsg]\n"
		"\n"
		"Send frames out of IFACE with AF_PACKET (TX ring, qdisc bypassed).\n"
		"\n"
		"  -i, --interface IFACE  interface to send on (required)\n"
		"  -l, --size SIZE        generated frame size in bytes, no FCS (default 64)\n"
		"  -r, --rate PPS         frames per second, k/M/G suffixes; 0: flat out (default)\n"
		"      --burst USEC       paced: sleep, then send what fell due, every USEC\n"
		"                         (like a NIC's interrupt moderation; default 0: each\n"
		"                         frame at its time, spinning for short waits)\n"
		"  -n, --count COUNT      stop after COUNT frames; 0: until SIGINT/SIGTERM\n"
		"                         (default 0; with --pcap: the file once)\n"
		"      --pcap FILE        send FILE's frames in order (Ethernet), looping only\n"
		"                         when -n asks for more than the file holds\n"
		"      --flows N          generated flows, 1..1000000 (default 1024)\n"
		"      --proto P          udp, tcp or mix (default udp)\n"
		"      --ipv6 PCT         percentage of flows over IPv6 (default 0)\n"
		"      --vlan ID          802.1Q-tag frames with VLAN ID 1..4094\n"
		"  -q, --quiet            no rate line every second\n"
		"      --json             end with {\"sent\",\"seconds\",\"pps\",\"gbps\",\"errors\",\n"
		"                         \"cpu_seconds\"} (cpu_seconds: vcapsend's user+sys)\n"
		"      --sendmmsg         send with sendmmsg() rather than the TX ring\n"
		"  -h, --help             this text\n"
		"\n"
		"Generated frame n is packet n of source/synth.h, from n = 0.  Rate lines go\n"
		"to stderr, the summary to stdout.  \"sent\" counts frames the kernel took;\n"
		"\"errors\" those it refused or vcapsend could not send.\n");
}

static void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("vcapsend: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'vcapsend --help'.\n", stderr);
	exit(EXIT_USAGE);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("vcapsend: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* A decimal number up to max, with a k/M/G (10^3, 10^6, 10^9) suffix if allowed. */
static uint64_t parse_num(const char *opt, const char *s, uint64_t max, bool suffix)
{
	unsigned long long v;
	uint64_t mult = 1;
	char *end;

	errno = 0;
	if (*s < '0' || *s > '9')
		die("%s: '%s' is not a number", opt, s);
	v = strtoull(s, &end, 10);
	if (suffix && *end && !end[1]) {
		switch (*end) {
		case 'k': case 'K': mult = 1000; end++; break;
		case 'm': case 'M': mult = 1000000; end++; break;
		case 'g': case 'G': mult = 1000000000; end++; break;
		}
	}
	if (*end)
		die("%s: '%s' is not a number", opt, s);
	if (errno == ERANGE || v > max / mult)
		die("%s: %s is too large (at most %" PRIu64 ")", opt, s, max);
	return (uint64_t)v * mult;
}

static uint32_t parse_proto(const char *s)
{
	if (!strcmp(s, "udp"))
		return VCAP_SYNTH_UDP;
	if (!strcmp(s, "tcp"))
		return VCAP_SYNTH_TCP;
	if (!strcmp(s, "mix"))
		return VCAP_SYNTH_MIX;
	die("--proto: '%s' is not udp, tcp or mix", s);
}

enum { OPT_PCAP = 256, OPT_FLOWS, OPT_PROTO, OPT_IPV6, OPT_VLAN, OPT_JSON, OPT_SENDMMSG,
       OPT_BURST };

static void parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "interface", required_argument, NULL, 'i' },
		{ "size", required_argument, NULL, 'l' },
		{ "rate", required_argument, NULL, 'r' },
		{ "burst", required_argument, NULL, OPT_BURST },
		{ "count", required_argument, NULL, 'n' },
		{ "pcap", required_argument, NULL, OPT_PCAP },
		{ "flows", required_argument, NULL, OPT_FLOWS },
		{ "proto", required_argument, NULL, OPT_PROTO },
		{ "ipv6", required_argument, NULL, OPT_IPV6 },
		{ "vlan", required_argument, NULL, OPT_VLAN },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "sendmmsg", no_argument, NULL, OPT_SENDMMSG },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct options){ .synth = { .size = 64, .flows = 1024, .proto = VCAP_SYNTH_UDP } };
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":i:l:r:n:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			o->ifname = optarg;
			break;
		case 'l':
			o->synth.size = (uint32_t)parse_num("-l", optarg, UINT32_MAX, false);
			o->synth_opt = true;
			break;
		case 'r':
			o->pps = parse_num("-r", optarg, 1000000000000ull, true);
			break;
		case OPT_BURST:
			o->burst_ns = parse_num("--burst", optarg, 1000000, false) * 1000;
			break;
		case 'n':
			o->count = parse_num("-n", optarg, UINT64_MAX, true);
			o->count_set = true;
			break;
		case OPT_PCAP:
			o->pcap_path = optarg;
			break;
		case OPT_FLOWS:
			o->synth.flows = (uint32_t)parse_num("--flows", optarg, UINT32_MAX, true);
			o->synth_opt = true;
			break;
		case OPT_PROTO:
			o->synth.proto = parse_proto(optarg);
			o->synth_opt = true;
			break;
		case OPT_IPV6:
			o->synth.ipv6_pct = (uint32_t)parse_num("--ipv6", optarg, UINT32_MAX, false);
			o->synth_opt = true;
			break;
		case OPT_VLAN:
			o->synth.vlan = (uint16_t)parse_num("--vlan", optarg, 4094, false);
			if (!o->synth.vlan)
				die("--vlan: 0 is not a VLAN id (1..4094)");
			o->synth_opt = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_SENDMMSG:
			o->use_sendmmsg = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case ':':
			die_usage("option %s needs a value", argv[optind - 1]);
		default:
			die_usage("unknown option %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		die_usage("unexpected argument '%s'", argv[optind]);
	if (!o->ifname)
		die_usage("no interface given (-i IFACE)");
	if (o->burst_ns && !o->pps)
		die_usage("--burst paces bursts: it needs a rate (-r PPS)");
	if (o->pcap_path && o->synth_opt)
		die_usage("-l, --flows, --proto, --ipv6 and --vlan shape generated frames; "
			  "they do not go with --pcap");
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_signal(int sig)
{
	(void)sig;
	if (stop_req)
		stop_drain = 1;
	stop_req = 1;
}

static void catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	/* no SA_RESTART: a blocked call returns and the loop sees the flag */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* ---- frame sources ----------------------------------------------------- */

static void pcap_open_file(struct frames *fr)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";

	fr->pcap = pcap_open_offline(fr->path, errbuf);
	if (!fr->pcap)
		die("cannot read %s as a pcap file: %s", fr->path, errbuf);
	if (pcap_datalink(fr->pcap) != DLT_EN10MB) {
		const char *name = pcap_datalink_val_to_name(pcap_datalink(fr->pcap));

		die("%s: link type %s is not Ethernet", fr->path, name ? name : "unknown");
	}
	fr->in_pass = 0;
	fr->file_index = 0;
}

enum { FRAME_OK, FRAME_SKIPPED, FRAME_END };

/* Copy the next frame of the file into buf. */
static int pcap_frame(struct frames *fr, uint8_t *buf, uint32_t *len)
{
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc = pcap_next_ex(fr->pcap, &h, &data);

	if (rc == PCAP_ERROR_BREAK) {
		if (!fr->loop)
			return FRAME_END;
		if (!fr->in_pass)
			die("%s holds no frames", fr->path);
		pcap_close(fr->pcap);
		pcap_open_file(fr);
		rc = pcap_next_ex(fr->pcap, &h, &data);
	}
	if (rc != 1) {
		/* a truncated or damaged file: what was read still goes out */
		fprintf(stderr, "vcapsend: %s: %s\n", fr->path,
			rc == PCAP_ERROR_BREAK ? "no frames" : pcap_geterr(fr->pcap));
		fr->failed = true;
		return FRAME_END;
	}
	fr->in_pass++;
	fr->file_index++;
	if (h->caplen > fr->limit) {
		if (!fr->warned_long)
			fprintf(stderr,
				"vcapsend: %s: frame %" PRIu64 " has %u bytes, more than the interface "
				"takes (%u): counted as an error, as are any more such\n",
				fr->path, fr->file_index, h->caplen, fr->limit);
		fr->warned_long = true;
		return FRAME_SKIPPED;
	}
	if (h->caplen < 14) {
		if (!fr->warned_short)
			fprintf(stderr,
				"vcapsend: %s: frame %" PRIu64 " has %u bytes, no Ethernet header: "
				"counted as an error, as are any more such\n",
				fr->path, fr->file_index, h->caplen);
		fr->warned_short = true;
		return FRAME_SKIPPED;
	}
	memcpy(buf, data, h->caplen);
	*len = h->caplen;
	return FRAME_OK;
}

/* ---- pacing ------------------------------------------------------------ */

/*
 * A token bucket: frame k (counted from t0/base) is due at t0 + k / pps.
 * Falling behind (a late wake-up, a busy device) is made up for, but by
 * at most `depth` frames, 20 ms' worth: after a real stall the schedule
 * restarts rather than rushing out a long burst.
 */
#define PACE_DEPTH_DIV 50 /* depth = pps / 50: 20 ms */

struct pacer {
	double pps;
	uint64_t t0;
	uint64_t base;
	uint64_t depth;
};

static void pacer_init(struct pacer *p, uint64_t pps, uint64_t now)
{
	p->pps = (double)pps;
	p->t0 = now;
	p->base = 0;
	p->depth = pps / PACE_DEPTH_DIV > 1 ? pps / PACE_DEPTH_DIV : 1;
}

/* Frames that may go at now, `done` having gone. */
static uint64_t pacer_allow(struct pacer *p, uint64_t now, uint64_t done)
{
	uint64_t owed = p->base + (uint64_t)((double)(now - p->t0) * p->pps / 1e9);

	if (owed <= done)
		return 0;
	if (owed - done > p->depth) {
		p->base = done + p->depth;
		p->t0 = now;
		return p->depth;
	}
	return owed - done;
}

/* When frame number done + 1 is due. */
static uint64_t pacer_next(const struct pacer *p, uint64_t done)
{
	return p->t0 + (uint64_t)((double)(done + 1 - p->base) * 1e9 / p->pps);
}

static void wait_until(uint64_t when, uint64_t spin_ns)
{
	uint64_t now = mono_ns();

	if (when > now + spin_ns) {
		uint64_t wake = when - spin_ns;
		struct timespec ts = { .tv_sec = (time_t)(wake / 1000000000u),
				       .tv_nsec = (long)(wake % 1000000000u) };

		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
	while (mono_ns() < when && !stop_req)
		;
}

/* ---- the send loop ----------------------------------------------------- */

struct reporter {
	const char *ifname;
	uint64_t last_ns, last_sent, last_bytes;
};

static void report_second(struct reporter *r, struct vcap_tx *tx, const struct totals *t,
			  uint64_t now)
{
	struct vcap_tx_stats st;
	double dt = (double)(now - r->last_ns) / 1e9;

	vcap_tx_get_stats(tx, &st);
	fprintf(stderr, "vcapsend: %s: %.0f pps %.3f Gbps (total %" PRIu64 " frames, %" PRIu64
			" errors)\n",
		r->ifname, (double)(st.sent - r->last_sent) / dt,
		(double)(st.sent_bytes - r->last_bytes) * 8 / dt / 1e9, st.sent,
		st.refused + t->skipped);
	r->last_ns = now;
	r->last_sent = st.sent;
	r->last_bytes = st.sent_bytes;
}

/*
 * Fill free buffers with up to `want` frames and hand them over.
 * @return frames taken from the source, or -1 at its end.
 */
static int64_t send_batch(struct frames *fr, struct vcap_tx *tx, uint64_t *n, uint64_t want,
			  struct totals *t)
{
	uint32_t size = fr->synth.cfg.size;
	uint64_t taken = 0;
	bool end = false;
	uint8_t *buf;
	bool reused;

	while (taken < want && (buf = vcap_tx_next(tx, &reused))) {
		if (fr->synth_on) {
			if (reused)
				vcap_synth_patch(&fr->synth, *n, buf);
			else
				vcap_synth_frame(&fr->synth, *n, buf);
			vcap_tx_commit(tx, size);
		} else {
			uint32_t len;
			int rc = pcap_frame(fr, buf, &len);

			if (rc == FRAME_END) {
				end = true;
				break;
			}
			if (rc == FRAME_OK)
				vcap_tx_commit(tx, len);
			else
				t->skipped++;
		}
		(*n)++;
		taken++;
	}
	return end && !taken ? -1 : (int64_t)taken;
}

static int run(const struct options *o, struct frames *fr, struct vcap_tx *tx, struct totals *t)
{
	struct reporter rep = { .ifname = o->ifname };
	struct pacer pacer;
	uint64_t start = mono_ns(), n = 0;
	bool end = false;
	int rc = 0;

	rep.last_ns = start;
	pacer_init(&pacer, o->pps, start);
	while (!stop_req && !end && (!o->count || n < o->count)) {
		uint64_t now = mono_ns(), want = BATCH;
		int64_t taken;

		if (o->pps) {
			want = pacer_allow(&pacer, now, n);
			if (want > BATCH)
				want = BATCH;
			if (!want) {
				rc = vcap_tx_flush(tx);
				if (rc)
					break;
				/* with --burst: sleep until a burst's worth is due */
				wait_until(o->burst_ns ? now + o->burst_ns : pacer_next(&pacer, n),
					   o->burst_ns ? 0 : SPIN_NS);
				continue;
			}
		}
		if (o->count && want > o->count - n)
			want = o->count - n;
		taken = send_batch(fr, tx, &n, want, t);
		end = taken < 0;
		rc = vcap_tx_flush(tx);
		if (rc)
			break;
		if (taken == 0)
			vcap_tx_wait(tx, 1); /* every buffer in flight */
		if (!o->quiet && now - rep.last_ns >= 1000000000u)
			report_second(&rep, tx, t, now);
	}
	t->tried = n;
	if (!rc) {
		rc = vcap_tx_drain(tx, DRAIN_MS, &stop_drain);
		if (rc == -ETIMEDOUT || rc == -EINTR)
			rc = 0;
	}
	t->unsent = vcap_tx_pending(tx);
	vcap_tx_get_stats(tx, &t->tx);
	t->seconds = (double)(mono_ns() - start) / 1e9;
	return rc;
}

static void print_summary(const struct options *o, const struct totals *t)
{
	uint64_t errors = t->tx.refused + t->skipped + t->unsent;
	double secs = t->seconds > 0 ? t->seconds : 1e-9;
	double pps = (double)t->tx.sent / secs;
	double gbps = (double)t->tx.sent_bytes * 8 / secs / 1e9;

	if (t->tx.refused)
		fprintf(stderr, "vcapsend: the kernel refused %" PRIu64 " frame%s\n", t->tx.refused,
			t->tx.refused == 1 ? "" : "s");
	if (t->unsent)
		fprintf(stderr, "vcapsend: %" PRIu64 " frames were still queued at exit\n", t->unsent);
	if (o->json) {
		struct rusage ru;
		double cpu = 0;

		/* what sending cost, the kernel's work done in our context included */
		if (!getrusage(RUSAGE_SELF, &ru))
			cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
			      (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
		printf("{\"sent\":%" PRIu64 ",\"seconds\":%.6f,\"pps\":%.1f,\"gbps\":%.6f,"
		       "\"errors\":%" PRIu64 ",\"cpu_seconds\":%.6f}\n",
		       t->tx.sent, t->seconds, pps, gbps, errors, cpu);
	} else {
		printf("vcapsend: sent %" PRIu64 " frames (%" PRIu64 " bytes) out of %s in %.3f s: "
		       "%.0f pps, %.3f Gbps, %" PRIu64 " errors\n",
		       t->tx.sent, t->tx.sent_bytes, o->ifname, t->seconds, pps, gbps, errors);
	}
}

int main(int argc, char **argv)
{
	struct vcap_tx_opts txo = { 0 };
	struct frames fr = { 0 };
	struct totals t = { 0 };
	struct options o;
	struct vcap_tx *tx;
	const char *why;
	char err[256];
	int rc;

	parse_options(argc, argv, &o);
	if (o.pcap_path) {
		fr.path = o.pcap_path;
		fr.loop = o.count_set;
		pcap_open_file(&fr);
	} else {
		if (vcap_synth_init(&fr.synth, &o.synth, err, sizeof(err)))
			die("%s", err);
		fr.synth_on = true;
		txo.frame_max = o.synth.size;
	}
	txo.use_sendmmsg = o.use_sendmmsg;
	rc = vcap_tx_open(&tx, o.ifname, &txo, err, sizeof(err));
	if (rc)
		die("%s", err);
	fr.limit = vcap_tx_frame_limit(tx, true);
	if (fr.synth_on && o.synth.size > vcap_tx_frame_limit(tx, o.synth.vlan != 0))
		die("-l %u: frames are longer than %s takes (%u bytes: MTU + %u)", o.synth.size,
		    o.ifname, vcap_tx_frame_limit(tx, o.synth.vlan != 0), o.synth.vlan ? 18 : 14);
	if (!vcap_tx_uses_ring(tx, &why) && !o.use_sendmmsg && !o.quiet)
		fprintf(stderr, "vcapsend: %s: no TX ring (%s), using sendmmsg\n", o.ifname, why);

	catch_signals();
	rc = run(&o, &fr, tx, &t);
	vcap_tx_close(tx);
	if (fr.pcap)
		pcap_close(fr.pcap);
	if (rc)
		fprintf(stderr, "vcapsend: sending on %s failed: %s\n", o.ifname, strerror(-rc));
	print_summary(&o, &t);
	return rc || fr.failed ? 1 : 0;
}
