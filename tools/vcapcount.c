/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vcapcount - count packets from any vcap device, like PF_RING's pfcount.
 *
 *   vcapcount -i DEVICE [-f BPF] [-n COUNT] [-d SECONDS] [-w WATERMARK]
 *             [-t TIMEOUT_MS] [-r RING_SIZE] [-s SNAPLEN] [-g CPU]
 *             [-c CLUSTER [-m 5tuple|4tuple|2tuple|rr]] [-q] [--json]
 *             [--default pass|drop] [--rule ACTION[,FIELD=VALUE...]]...
 *
 * One line per second (packets, pps, Gbps, dropped, drop %), then a
 * summary.  Packets are only counted, never copied: the receive path is
 * what is being measured.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "cli.h"
#include "json.h"
#include "vcap.h"

#define BURST 256
#define RULES_MAX 64 /* --rule options; vcapd may allow fewer (vcap_info's rule_max) */

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
		"                 [--no-reconnect] [--default pass|drop]\n"
		"                 [--rule ACTION[,FIELD=VALUE...]]...\n"
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
		"                 same filter and cluster, once vcapd is back, and go on)\n"
		"  --default pass|drop  what the rules do with a packet none of them matches\n"
		"                 (default pass); host: devices only\n"
		"  --rule ACTION[,FIELD=VALUE...]  a wildcard rule, run by vcapd after the\n"
		"                 filter; repeatable: ids 1, 2, 3... in the order given, the\n"
		"                 first match decides.  ACTION: pass or drop.  FIELDs, all of\n"
		"                 which must match: proto=N|udp|tcp (or just udp, tcp),\n"
		"                 sport=N[-M], dport=N[-M], saddr=ADDR[/PREFIX],\n"
		"                 daddr=ADDR[/PREFIX] (IPv4 or IPv6), vlan=N, ethertype=0xNNNN.\n"
		"                 --json adds \"rules\":[{\"id\":1,\"hits\":N},...]\n");
}

/* ---- --rule and --default ------------------------------------------------ */

static struct vcap_rule rules[RULES_MAX];
static const char *rule_text[RULES_MAX]; /* as given, for messages */
static unsigned n_rules;

/* A usage error in --rule TEXT: say which rule and what, exit 2. */
static void rule_usage(const char *text, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

static void rule_usage(const char *text, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vcapcount: --rule %s: ", text);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static uint32_t parse_action(const char *s)
{
	if (!strcmp(s, "pass"))
		return VCAP_PASS;
	if (!strcmp(s, "drop"))
		return VCAP_DROP;
	return 0;
}

/* s, all of it, as a number (decimal or 0x hex) of at most max. */
static bool parse_num(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 0);
	return !errno && !*end && *out <= max;
}

/* N or N-M, 0..65535, N <= M */
static void parse_ports(const char *text, const char *key, const char *val, uint16_t *lo,
			uint16_t *hi)
{
	char buf[32];
	char *dash;
	unsigned long a, b;

	snprintf(buf, sizeof(buf), "%s", val);
	dash = strchr(buf, '-');
	if (dash)
		*dash = '\0';
	if (strlen(val) >= sizeof(buf) || !parse_num(buf, 65535, &a) ||
	    !parse_num(dash ? dash + 1 : buf, 65535, &b))
		rule_usage(text, "%s=%s: expected a port 0..65535 or a range N-M", key, val);
	if (a > b)
		rule_usage(text, "%s=%s: the range's first port is above its last", key, val);
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
}

/* ADDR[/PREFIX], IPv4 or IPv6, no bits set past the prefix */
static void parse_addr(const char *text, const char *key, const char *val, struct vcap_rule *r,
		       uint8_t addr[16], uint8_t *prefix)
{
	char buf[INET6_ADDRSTRLEN + 8];
	char *slash;
	unsigned long bits, p;
	uint8_t family;

	if (strlen(val) >= sizeof(buf))
		rule_usage(text, "%s=%s: not an address", key, val);
	snprintf(buf, sizeof(buf), "%s", val);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, buf, addr) == 1)
		family = 4;
	else if (inet_pton(AF_INET6, buf, addr) == 1)
		family = 6;
	else
		rule_usage(text, "%s=%s: expected an IPv4 or IPv6 address, with /PREFIX if a "
			   "network", key, val);
	bits = family == 4 ? 32 : 128;
	p = bits;
	if (slash && !parse_num(slash + 1, bits, &p))
		rule_usage(text, "%s=%s: the prefix must be a number 0..%lu", key, val, bits);
	if (r->family && r->family != family)
		rule_usage(text, "saddr and daddr must both be IPv4 or both IPv6");
	for (unsigned long i = p; i < bits; i++)
		if (addr[i / 8] & (0x80 >> (i % 8)))
			rule_usage(text, "%s=%s: bits set past the /%lu prefix (the network is "
				   "written with them 0)", key, val, p);
	r->family = family;
	*prefix = (uint8_t)p;
}

/* --rule ACTION[,FIELD=VALUE...] as rule id n_rules + 1, or exit 2 naming what is wrong */
static void parse_rule(const char *text)
{
	static const char *const keys[] = { "proto", "sport", "dport", "saddr", "daddr",
					    "vlan", "ethertype", NULL };
	static const uint32_t bits[] = { VCAP_RULE_PROTO, VCAP_RULE_SPORT, VCAP_RULE_DPORT,
					 VCAP_RULE_SADDR, VCAP_RULE_DADDR, VCAP_RULE_VLAN,
					 VCAP_RULE_ETHERTYPE };
	struct vcap_rule *r = &rules[n_rules];
	char *copy, *item, *next, *val;
	unsigned long v;
	int k;

	if (n_rules == RULES_MAX) {
		fprintf(stderr, "vcapcount: --rule %s: more than %d rules\n", text, RULES_MAX);
		exit(2);
	}
	copy = strdup(text);
	if (!copy) {
		fprintf(stderr, "vcapcount: out of memory\n");
		exit(1);
	}
	memset(r, 0, sizeof(*r));
	r->id = n_rules + 1;
	next = copy;
	item = strsep(&next, ",");
	r->action = parse_action(item);
	if (!r->action)
		rule_usage(text, "action \"%s\": expected pass or drop first", item);
	while ((item = strsep(&next, ","))) {
		if (!strcmp(item, "udp") || !strcmp(item, "tcp")) {
			val = item; /* a protocol alone: proto=udp, proto=tcp */
			item = "proto";
		} else {
			val = strchr(item, '=');
			if (!val)
				rule_usage(text, "\"%s\": expected FIELD=VALUE (or udp, tcp)", item);
			*val++ = '\0';
		}
		for (k = 0; keys[k] && strcmp(item, keys[k]); k++)
			;
		if (!keys[k])
			rule_usage(text, "unknown field \"%s\" (proto, sport, dport, saddr, daddr, "
				   "vlan, ethertype)", item);
		if (r->fields & bits[k])
			rule_usage(text, "field %s given twice", item);
		if (!*val)
			rule_usage(text, "%s=: no value", item);
		r->fields |= bits[k];
		switch (bits[k]) {
		case VCAP_RULE_PROTO:
			if (!strcmp(val, "udp"))
				v = IPPROTO_UDP;
			else if (!strcmp(val, "tcp"))
				v = IPPROTO_TCP;
			else if (!parse_num(val, 255, &v))
				rule_usage(text, "proto=%s: expected udp, tcp or a number 0..255",
					   val);
			r->proto = (uint8_t)v;
			break;
		case VCAP_RULE_SPORT:
			parse_ports(text, item, val, &r->sport_lo, &r->sport_hi);
			break;
		case VCAP_RULE_DPORT:
			parse_ports(text, item, val, &r->dport_lo, &r->dport_hi);
			break;
		case VCAP_RULE_SADDR:
			parse_addr(text, item, val, r, r->saddr, &r->saddr_prefix);
			break;
		case VCAP_RULE_DADDR:
			parse_addr(text, item, val, r, r->daddr, &r->daddr_prefix);
			break;
		case VCAP_RULE_VLAN:
			if (!parse_num(val, 4095, &v))
				rule_usage(text, "vlan=%s: expected a VLAN id 0..4095", val);
			r->vlan = (uint16_t)v;
			break;
		case VCAP_RULE_ETHERTYPE:
			if (!parse_num(val, 0xffff, &v))
				rule_usage(text, "ethertype=%s: expected a number 0..0xffff, e.g. "
					   "0x86dd", val);
			r->ethertype = (uint16_t)v;
			break;
		}
	}
	free(copy);
	rule_text[n_rules++] = text;
}

/*
 * The default first, then the rules in order: once vcapd reports a ring
 * with all the rules (vcapctl status's "rules"), the default is in force
 * too.  @return 0, or 1 with a message.
 */
static int install_rules(struct vcap *h, uint32_t default_action)
{
	int rc;

	if (default_action && (rc = vcap_rule_default(h, default_action)) < 0) {
		fprintf(stderr, "vcapcount: --default: %s\n", vcap_errmsg());
		return 1;
	}
	for (unsigned i = 0; i < n_rules; i++) {
		rc = vcap_rule_add(h, &rules[i]);
		if (rc < 0) {
			fprintf(stderr, "vcapcount: --rule %s (rule %u): %s\n", rule_text[i],
				rules[i].id, vcap_errmsg());
			return 1;
		}
	}
	return 0;
}

/* Hits of rule id, or -1 if vcapd could not tell (gone, reconnecting). */
static long long rule_hits(struct vcap *h, uint32_t id)
{
	uint64_t hits;

	return vcap_rule_hits(h, id, &hits) < 0 ? -1 : (long long)hits;
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
		{ "default", required_argument, NULL, 'D' },
		{ "rule", required_argument, NULL, 'U' },
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
	uint32_t default_action = 0; /* 0: vcapd's (pass) */
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
		case 'D':
			default_action = parse_action(optarg);
			if (!default_action) {
				fprintf(stderr, "vcapcount: --default \"%s\": expected pass or drop\n",
					optarg);
				return 2;
			}
			break;
		case 'U':
			parse_rule(optarg);
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
	if (install_rules(handle, default_action)) {
		vcap_close(handle);
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
		printf(",\"restarts\":%llu,\"gap_ms\":%.3f,\"restart_lost\":%llu",
		       (unsigned long long)st.restarts, (double)st.gap_ns / 1e6,
		       (unsigned long long)st.restart_lost);
		if (n_rules || default_action) {
			printf(",\"rules\":[");
			for (unsigned i = 0; i < n_rules; i++)
				printf("%s{\"id\":%u,\"hits\":%lld}", i ? "," : "", rules[i].id,
				       rule_hits(handle, rules[i].id));
			printf("]");
		}
		printf("}\n");
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
		for (unsigned i = 0; i < n_rules; i++)
			printf("  rule %-3u hits    %lld  (%s)\n", rules[i].id,
			       rule_hits(handle, rules[i].id), rule_text[i]);
		printf("  drop rate       %.3f %%\n",
		       st.received + st.kernel_drops
			       ? 100.0 * (double)lost / (double)(st.received + st.kernel_drops)
			       : 0.0);
	}
	vcap_close(handle);
	return rc;
}
