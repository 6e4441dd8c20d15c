/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_synth.c - the generator (source/synth.c) against an independent
 * reading of its contract (source/synth.h).
 *
 * ref_frame() builds packet n the slow, obvious way: field by field from the
 * formulas in synth.h, checksums by RFC 1071 over a copied pseudo-header and
 * segment.  Every frame the generator writes, fresh or patched, must equal
 * it byte for byte; vcap_synth_tuple() must agree with ref_tuple(); verify
 * must take every good frame and refuse every damaged one.  When tshark is
 * installed it gives a third opinion on the checksums.
 */
#include "synth.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FRAME_MAX VCAP_SYNTH_SIZE_MAX

static int failures;

static void fail(int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "test_synth.c:%d: FAIL: ", line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (++failures >= 20) {
		fprintf(stderr, "too many failures, giving up\n");
		exit(1);
	}
}

#define CHECK(cond, ...)                          \
	do {                                      \
		if (!(cond))                      \
			fail(__LINE__, __VA_ARGS__); \
	} while (0)

static const char *proto_name(uint32_t proto)
{
	return proto == VCAP_SYNTH_UDP ? "udp" : proto == VCAP_SYNTH_TCP ? "tcp" : "mix";
}

/* "size=64 flows=1024 proto=mix ipv6=30 vlan=0", for messages. */
static const char *cfg_str(const struct vcap_synth_cfg *c)
{
	static char s[128];

	snprintf(s, sizeof(s), "size=%u flows=%u proto=%s ipv6=%u vlan=%u", c->size, c->flows,
		 proto_name(c->proto), c->ipv6_pct, c->vlan);
	return s;
}

/* splitmix64: a reproducible stream of test packet numbers */
static uint64_t rng_state = 0x5eed;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* ---- the independent reference ---------------------------------------- */

/* RFC 1071, one byte pair at a time. */
static uint16_t rfc1071(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void wr16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t rd16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

struct ref {
	uint32_t flow;
	int reverse, v6, tcp;
	uint8_t flags;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
};

static void ref_tuple(const struct vcap_synth_cfg *c, uint64_t n, struct ref *r)
{
	static const uint16_t ports[8] = { 53, 80, 443, 123, 22, 8080, 5060, 9999 };
	static const uint8_t flags[4] = { 0x02 /* SYN */, 0x10 /* ACK */, 0x18 /* PSH|ACK */,
					  0x11 /* FIN|ACK */ };
	uint8_t cli[16] = { 0 }, srv[16] = { 0 };
	uint32_t f = (uint32_t)(n % c->flows);
	uint16_t cport = (uint16_t)(1024 + f % 60000), sport = ports[f % 8];

	memset(r, 0, sizeof(*r));
	r->flow = f;
	r->reverse = (n / c->flows) % 2 == 1;
	r->v6 = f % 100 < c->ipv6_pct;
	r->tcp = c->proto == VCAP_SYNTH_TCP || (c->proto == VCAP_SYNTH_MIX && f % 4 == 3);
	r->flags = r->tcp ? flags[(n / (2 * (uint64_t)c->flows)) % 4] : 0;
	if (r->v6) {
		/* fd00::1:<f >> 16>:<f & 0xffff> and fd00::2:<f % 16 + 1> */
		cli[0] = 0xfd;
		wr16(cli + 10, 1);
		wr16(cli + 12, f >> 16);
		wr16(cli + 14, f & 0xffff);
		srv[0] = 0xfd;
		wr16(srv + 12, 2);
		wr16(srv + 14, f % 16 + 1);
	} else {
		cli[0] = 10, cli[1] = 1, cli[2] = (uint8_t)(f >> 8), cli[3] = (uint8_t)f;
		srv[0] = 10, srv[1] = 2, srv[2] = 0, srv[3] = (uint8_t)(f % 16 + 1);
	}
	memcpy(r->src, r->reverse ? srv : cli, 16);
	memcpy(r->dst, r->reverse ? cli : srv, 16);
	r->sport = r->reverse ? sport : cport;
	r->dport = r->reverse ? cport : sport;
}

static void ref_frame(const struct vcap_synth_cfg *c, uint64_t n, uint8_t *f)
{
	static const uint8_t client_mac[6] = { 2, 0, 0, 0, 0, 1 };
	static const uint8_t server_mac[6] = { 2, 0, 0, 0, 0, 2 };
	uint8_t pseudo[40 + FRAME_MAX];
	uint32_t size = c->size, ip, l4, pay, plen, alen;
	uint16_t sum;
	struct ref r;

	ref_tuple(c, n, &r);
	memset(f, 0, size);
	memcpy(f, r.reverse ? client_mac : server_mac, 6);
	memcpy(f + 6, r.reverse ? server_mac : client_mac, 6);
	ip = 12;
	if (c->vlan) {
		wr16(f + 12, 0x8100);
		wr16(f + 14, c->vlan);
		ip = 16;
	}
	wr16(f + ip, r.v6 ? 0x86dd : 0x0800);
	ip += 2;

	if (r.v6) {
		f[ip] = 0x60;
		wr16(f + ip + 4, size - ip - 40);
		f[ip + 6] = r.tcp ? 6 : 17;
		f[ip + 7] = 64;
		memcpy(f + ip + 8, r.src, 16);
		memcpy(f + ip + 24, r.dst, 16);
		l4 = ip + 40;
	} else {
		f[ip] = 0x45;
		wr16(f + ip + 2, size - ip);
		wr16(f + ip + 4, (uint32_t)(n & 0xffff));
		wr16(f + ip + 6, 0x4000); /* DF */
		f[ip + 8] = 64;
		f[ip + 9] = r.tcp ? 6 : 17;
		memcpy(f + ip + 12, r.src, 4);
		memcpy(f + ip + 16, r.dst, 4);
		wr16(f + ip + 10, rfc1071(f + ip, 20));
		l4 = ip + 20;
	}

	wr16(f + l4, r.sport);
	wr16(f + l4 + 2, r.dport);
	if (r.tcp) {
		f[l4 + 7] = 1; /* sequence number 1, ack 0 */
		f[l4 + 12] = 5 << 4;
		f[l4 + 13] = r.flags;
		wr16(f + l4 + 14, 65535);
		pay = l4 + 20;
	} else {
		wr16(f + l4 + 4, size - l4);
		pay = l4 + 8;
	}
	for (uint32_t i = 0; pay + i < size; i++)
		f[pay + i] = i < 8 ? (uint8_t)(n >> (8 * i)) : (uint8_t)((i * 7 + 3) & 0xff);

	/* pseudo-header (RFC 768 / RFC 8200 8.1), then the segment */
	plen = size - l4;
	alen = r.v6 ? 16 : 4;
	memset(pseudo, 0, sizeof(pseudo));
	memcpy(pseudo, r.src, alen);
	memcpy(pseudo + alen, r.dst, alen);
	if (r.v6) {
		wr16(pseudo + 34, plen);
		pseudo[39] = r.tcp ? 6 : 17;
	} else {
		pseudo[9] = r.tcp ? 6 : 17;
		wr16(pseudo + 10, plen);
	}
	memcpy(pseudo + (r.v6 ? 40 : 12), f + l4, plen);
	sum = rfc1071(pseudo, (r.v6 ? 40 : 12) + plen);
	if (r.tcp) {
		wr16(f + l4 + 16, sum);
	} else {
		wr16(f + l4 + 6, sum ? sum : 0xffff);
	}
}

/* The smallest size the contract allows, by looking at every flow. */
static uint32_t ref_min_size(const struct vcap_synth_cfg *c)
{
	uint32_t need = 0;

	for (uint32_t f = 0; f < c->flows; f++) {
		int v6 = f % 100 < c->ipv6_pct;
		int tcp = c->proto == VCAP_SYNTH_TCP || (c->proto == VCAP_SYNTH_MIX && f % 4 == 3);
		uint32_t len = 14 + (c->vlan ? 4 : 0) + (v6 ? 40 : 20) + (tcp ? 20 : 8) + 8;

		if (len > need)
			need = len;
	}
	return need;
}

/* ---- checks ------------------------------------------------------------ */

static uint8_t want[FRAME_MAX], got[FRAME_MAX], patched[FRAME_MAX];

static void report_diff(int line, const struct vcap_synth_cfg *c, uint64_t n, const char *what,
			const uint8_t *a, const uint8_t *b)
{
	uint32_t i = 0;

	while (i < c->size && a[i] == b[i])
		i++;
	fail(line, "%s: packet %" PRIu64 ": %s differs from the reference at byte %u (0x%02x, want 0x%02x)",
	     cfg_str(c), n, what, i, a[i], b[i]);
}

static void check_tuple(const struct vcap_synth *s, uint64_t n)
{
	const struct vcap_synth_cfg *c = &s->cfg;
	struct vcap_synth_tuple t;
	struct ref r;

	vcap_synth_tuple(s, n, &t);
	ref_tuple(c, n, &r);
	CHECK(t.flow == r.flow && t.reverse == r.reverse && t.family == (r.v6 ? 6 : 4) &&
		      t.proto == (r.tcp ? IPPROTO_TCP : IPPROTO_UDP) && t.tcp_flags == r.flags &&
		      !memcmp(t.src, r.src, r.v6 ? 16 : 4) && !memcmp(t.dst, r.dst, r.v6 ? 16 : 4) &&
		      t.sport == r.sport && t.dport == r.dport && t.vlan == c->vlan,
	      "%s: tuple of packet %" PRIu64 " differs from the contract", cfg_str(c), n);
}

/* Patch `patched` (holding some earlier frame) into n; compare with fresh and reference. */
static void check_packet(const struct vcap_synth *s, uint64_t n)
{
	const struct vcap_synth_cfg *c = &s->cfg;
	uint64_t back = ~n;

	ref_frame(c, n, want);
	memset(got, 0xa5, c->size);
	vcap_synth_frame(s, n, got);
	if (memcmp(got, want, c->size))
		report_diff(__LINE__, c, n, "vcap_synth_frame", got, want);
	vcap_synth_patch(s, n, patched);
	if (memcmp(patched, want, c->size))
		report_diff(__LINE__, c, n, "vcap_synth_patch", patched, want);
	CHECK(vcap_synth_verify(s, want, c->size, &back) == 0 && back == n,
	      "%s: verify refuses packet %" PRIu64 " (found %" PRIu64 ")", cfg_str(c), n, back);
	check_tuple(s, n);
}

static const uint64_t edge_numbers[] = {
	0xfffffffeull,  0xffffffffull,	     0x100000000ull,	  0x100000001ull,
	999999,		1000000,	     1000001,		  (1ull << 40) + 12345,
	UINT64_MAX - 1, UINT64_MAX,	     0x00ff00ff00ff00ffull, 0xff00ff00ff00ff00ull,
};

static void check_config(const struct vcap_synth_cfg *c)
{
	uint32_t count = c->size > 2000 ? 40 : 240;
	struct vcap_synth s;
	char err[256] = "";
	int rc = vcap_synth_init(&s, c, err, sizeof(err));

	if (rc) {
		fail(__LINE__, "%s: init refused a valid config: %s", cfg_str(c), err);
		return;
	}
	/* sequential, as a generator goes */
	vcap_synth_frame(&s, 0, patched);
	for (uint64_t n = 0; n < count; n++)
		check_packet(&s, n);
	/* same flow again and again: direction and flags change, layout does not */
	for (uint64_t n = 5, i = 0; i < count / 4; i++, n += c->flows)
		check_packet(&s, n);
	/* anywhere, including past 2^32 and where the layout changes */
	for (uint32_t i = 0; i < count / 4; i++)
		check_packet(&s, i & 1 ? rnd() : rnd() % (4ull * c->flows + 7));
	for (size_t i = 0; i < sizeof(edge_numbers) / sizeof(edge_numbers[0]); i++)
		check_packet(&s, edge_numbers[i]);
}

static void test_against_reference(void)
{
	static const uint32_t flows[] = { 1, 7, 1024, 1000000 };
	static const uint32_t protos[] = { VCAP_SYNTH_UDP, VCAP_SYNTH_TCP, VCAP_SYNTH_MIX };
	static const uint32_t v6[] = { 0, 30, 100 };
	static const uint16_t vlans[] = { 0, 4094 };
	static const uint32_t sizes[] = { 0 /* the minimum */, 1 /* minimum + 1 */, 64, 127,
					  1500, VCAP_SYNTH_SIZE_MAX };
	unsigned configs = 0;

	for (size_t a = 0; a < 4; a++)
		for (size_t b = 0; b < 3; b++)
			for (size_t d = 0; d < 3; d++)
				for (size_t e = 0; e < 2; e++)
					for (size_t g = 0; g < 6; g++) {
						struct vcap_synth_cfg c = {
							.flows = flows[a], .proto = protos[b],
							.ipv6_pct = v6[d], .vlan = vlans[e],
						};
						uint32_t min = ref_min_size(&c);

						c.size = sizes[g] > 1 ? sizes[g] : min + sizes[g];
						if (c.size < min)
							continue;
						check_config(&c);
						configs++;
					}
	printf("reference: %u configs agree\n", configs);
}

/* Counts the contract implies for the first packets of a few configs. */
static void test_mix(void)
{
	struct vcap_synth_cfg c = { .size = 128, .flows = 1024, .proto = VCAP_SYNTH_MIX };
	unsigned udp53 = 0, tcp = 0, syn = 0, ack = 0, rev = 0, v6 = 0, dns_reply = 0;
	struct vcap_synth s;
	char err[256];

	CHECK(vcap_synth_init(&s, &c, err, sizeof(err)) == 0, "init: %s", err);
	/*
	 * 4096 packets = 4 rounds of 1024 flows: each flow twice forward
	 * (rounds 0, 2) and twice reverse (1, 3).  Flows with f % 8 == 0 talk
	 * to port 53 and are UDP (f % 4 == 0): 128 flows, 512 packets, half
	 * of them replies from port 53.  f % 4 == 3 is TCP: 256 flows, 1024
	 * packets; rounds 0-1 carry SYN, rounds 2-3 ACK, 512 each.
	 */
	for (uint64_t n = 0; n < 4096; n++) {
		uint8_t *f = got;
		uint32_t l4 = 14 + 20;

		vcap_synth_frame(&s, n, f);
		CHECK(rd16(f + 12) == 0x0800, "mix: packet %" PRIu64 " is not IPv4", n);
		if (f[14 + 9] == IPPROTO_UDP && (rd16(f + l4) == 53 || rd16(f + l4 + 2) == 53))
			udp53++;
		if (f[14 + 9] == IPPROTO_UDP && rd16(f + l4) == 53)
			dns_reply++;
		if (f[14 + 9] == IPPROTO_TCP) {
			tcp++;
			syn += f[l4 + 13] == 0x02;
			ack += f[l4 + 13] == 0x10;
		}
		rev += f[6 + 5] == 2; /* sent by the server */
	}
	CHECK(udp53 == 512, "mix: %u UDP packets to or from port 53, contract says 512", udp53);
	CHECK(dns_reply == 256, "mix: %u UDP packets from port 53, contract says 256", dns_reply);
	CHECK(tcp == 1024, "mix: %u TCP packets, contract says 1024", tcp);
	CHECK(syn == 512 && ack == 512, "mix: %u SYN and %u ACK, contract says 512 each", syn,
	      ack);
	CHECK(rev == 2048, "mix: %u reverse packets, contract says 2048", rev);

	/* 1000 flows, 25% IPv6: flows 0-24, 100-124, ... are IPv6, 250 of 1000 */
	c = (struct vcap_synth_cfg){ .size = 128, .flows = 1000, .proto = VCAP_SYNTH_UDP,
				     .ipv6_pct = 25 };
	CHECK(vcap_synth_init(&s, &c, err, sizeof(err)) == 0, "init: %s", err);
	for (uint64_t n = 0; n < 1000; n++) {
		vcap_synth_frame(&s, n, got);
		v6 += rd16(got + 12) == 0x86dd;
	}
	CHECK(v6 == 250, "ipv6=25: %u IPv6 packets among 1000, contract says 250", v6);

	/* one flow: every packet the same flow, direction alternating */
	c = (struct vcap_synth_cfg){ .size = 64, .flows = 1, .proto = VCAP_SYNTH_TCP };
	CHECK(vcap_synth_init(&s, &c, err, sizeof(err)) == 0, "init: %s", err);
	for (uint64_t n = 0; n < 8; n++) {
		static const uint8_t flags[8] = { 0x02, 0x02, 0x10, 0x10, 0x18, 0x18, 0x11, 0x11 };

		vcap_synth_frame(&s, n, got);
		CHECK(got[14 + 20 + 13] == flags[n], "flows=1: packet %" PRIu64 " flags 0x%02x", n,
		      got[14 + 20 + 13]);
		CHECK(rd16(got + 14 + 20) == (n & 1 ? 53 : 1024), "flows=1: packet %" PRIu64
		      " source port %u", n, rd16(got + 14 + 20));
	}
	printf("mix: counts match the contract\n");
}

static void test_verify(void)
{
	static const struct vcap_synth_cfg cfgs[] = {
		{ .size = 64, .flows = 1, .proto = VCAP_SYNTH_UDP },
		{ .size = 97, .flows = 1024, .proto = VCAP_SYNTH_MIX, .ipv6_pct = 50, .vlan = 7 },
		{ .size = 200, .flows = 100, .proto = VCAP_SYNTH_TCP, .ipv6_pct = 100 },
	};
	static const uint8_t flips[] = { 0x01, 0x80, 0xff };
	unsigned tried = 0;

	for (size_t k = 0; k < sizeof(cfgs) / sizeof(cfgs[0]); k++) {
		const struct vcap_synth_cfg *c = &cfgs[k];
		struct vcap_synth s;
		char err[256];

		CHECK(vcap_synth_init(&s, c, err, sizeof(err)) == 0, "init: %s", err);
		for (uint64_t n = 0; n < 12; n++) {
			uint64_t m = n * 37 + (n > 8 ? 1ull << 33 : 0), back = 0;

			vcap_synth_frame(&s, m, want);
			CHECK(vcap_synth_verify(&s, want, c->size, &back) == 0 && back == m,
			      "%s: verify refuses good packet %" PRIu64, cfg_str(c), m);
			CHECK(vcap_synth_verify(&s, want, c->size - 1, &back) == -EBADMSG,
			      "%s: verify takes packet %" PRIu64 " one byte short", cfg_str(c), m);
			memcpy(got, want, c->size);
			got[c->size] = 0;
			CHECK(vcap_synth_verify(&s, got, c->size + 1, &back) == -EBADMSG,
			      "%s: verify takes packet %" PRIu64 " one byte long", cfg_str(c), m);
			for (uint32_t i = 0; i < c->size; i++) {
				for (size_t x = 0; x < sizeof(flips); x++) {
					memcpy(got, want, c->size);
					got[i] ^= flips[x];
					tried++;
					CHECK(vcap_synth_verify(&s, got, c->size, &back) == -EBADMSG,
					      "%s: verify takes packet %" PRIu64
					      " with byte %u xor 0x%02x",
					      cfg_str(c), m, i, flips[x]);
				}
			}
		}
	}
	printf("verify: %u damaged frames refused\n", tried);
}

/* init must refuse cfg, with msg in its error text. */
static void expect_refusal(const struct vcap_synth_cfg *c, const char *msg)
{
	struct vcap_synth s;
	char err[256] = "";
	int rc = vcap_synth_init(&s, c, err, sizeof(err));

	CHECK(rc == -EINVAL, "%s: init returned %d, want -EINVAL", cfg_str(c), rc);
	CHECK(strstr(err, msg) != NULL, "%s: error \"%s\" does not say \"%s\"", cfg_str(c), err,
	      msg);
}

static void expect_min_size(struct vcap_synth_cfg c, uint32_t min)
{
	struct vcap_synth s;
	char err[256] = "", need[32];

	CHECK(ref_min_size(&c) == min, "%s: the test's own minimum is %u, not %u", cfg_str(&c),
	      ref_min_size(&c), min);
	c.size = min;
	CHECK(vcap_synth_init(&s, &c, err, sizeof(err)) == 0, "%s: init refused: %s",
	      cfg_str(&c), err);
	c.size = min - 1;
	snprintf(need, sizeof(need), "(need %u)", min);
	expect_refusal(&c, need);
}

static void test_init_errors(void)
{
	struct vcap_synth_cfg ok = { .size = 64, .flows = 1, .proto = VCAP_SYNTH_UDP }, c;
	struct vcap_synth s;
	char err[256];

	CHECK(vcap_synth_init(&s, &ok, err, sizeof(err)) == 0, "init: %s", err);
	/* each layout's headers plus 8 bytes of sequence number */
	expect_min_size((struct vcap_synth_cfg){ .flows = 1, .proto = VCAP_SYNTH_UDP }, 50);
	expect_min_size((struct vcap_synth_cfg){ .flows = 1, .proto = VCAP_SYNTH_TCP }, 62);
	expect_min_size((struct vcap_synth_cfg){ .flows = 9, .proto = VCAP_SYNTH_UDP,
						 .ipv6_pct = 100 }, 70);
	expect_min_size((struct vcap_synth_cfg){ .flows = 9, .proto = VCAP_SYNTH_TCP,
						 .ipv6_pct = 100, .vlan = 1 }, 86);
	/* mix: only flows 3, 7, ... are TCP */
	expect_min_size((struct vcap_synth_cfg){ .flows = 3, .proto = VCAP_SYNTH_MIX }, 50);
	expect_min_size((struct vcap_synth_cfg){ .flows = 4, .proto = VCAP_SYNTH_MIX }, 62);
	/* ipv6=3: flows 0-2 are IPv6 but UDP, flow 3 is TCP but IPv4 */
	expect_min_size((struct vcap_synth_cfg){ .flows = 1000, .proto = VCAP_SYNTH_MIX,
						 .ipv6_pct = 3 }, 70);
	expect_min_size((struct vcap_synth_cfg){ .flows = 1000, .proto = VCAP_SYNTH_MIX,
						 .ipv6_pct = 4, .vlan = 4094 }, 86);
	/* ipv6=50 with one flow: flow 0 is IPv6 */
	expect_min_size((struct vcap_synth_cfg){ .flows = 1, .proto = VCAP_SYNTH_UDP,
						 .ipv6_pct = 50 }, 70);
	c = ok, c.size = 0;
	expect_refusal(&c, "size 0");
	c = ok, c.size = VCAP_SYNTH_SIZE_MAX;
	CHECK(vcap_synth_init(&s, &c, err, sizeof(err)) == 0, "size 9000: %s", err);
	c = ok, c.size = VCAP_SYNTH_SIZE_MAX + 1;
	expect_refusal(&c, "size 9001");
	c = ok, c.flows = 0;
	expect_refusal(&c, "flows 0");
	c = ok, c.flows = 1000001;
	expect_refusal(&c, "flows 1000001");
	c = ok, c.flows = 1000000;
	CHECK(vcap_synth_init(&s, &c, err, sizeof(err)) == 0, "flows 1000000: %s", err);
	c = ok, c.proto = 0;
	expect_refusal(&c, "proto 0");
	c = ok, c.proto = 4;
	expect_refusal(&c, "proto 4");
	c = ok, c.ipv6_pct = 101;
	expect_refusal(&c, "ipv6_pct 101");
	c = ok, c.vlan = 4095;
	expect_refusal(&c, "vlan 4095");
	c = ok, c.vlan = 4094;
	CHECK(vcap_synth_init(&s, &c, err, sizeof(err)) == 0, "vlan 4094: %s", err);
	/* no error buffer: still refused, nothing written */
	c = ok, c.flows = 0;
	CHECK(vcap_synth_init(&s, &c, NULL, 0) == -EINVAL, "init without err buffer");
	printf("init: bad configs refused\n");
}

/* ---- cost of vcap_synth_patch ------------------------------------------ */

/* CPU time of this thread: other load on the machine does not count. */
static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Best of 5 runs of CPU ns per patch, cycling through 64 buffers like a ring. */
static double patch_ns(const struct vcap_synth_cfg *c)
{
	enum { BUFS = 64, ROUNDS = 20000 };
	static uint8_t bufs[BUFS][FRAME_MAX];
	struct vcap_synth s;
	double best = 1e9;
	uint64_t n = 0;
	char err[256];

	if (vcap_synth_init(&s, c, err, sizeof(err)))
		return 1e9;
	for (unsigned i = 0; i < BUFS; i++)
		vcap_synth_frame(&s, n++, bufs[i]);
	for (int run = 0; run < 5; run++) {
		double t0 = now_s(), ns;

		for (unsigned r = 0; r < ROUNDS; r++)
			for (unsigned i = 0; i < BUFS; i++)
				vcap_synth_patch(&s, n++, bufs[i]);
		ns = (now_s() - t0) * 1e9 / (ROUNDS * BUFS);
		if (ns < best)
			best = ns;
	}
	/* keep the work observable */
	CHECK(vcap_synth_verify(&s, bufs[0], c->size, &n) == 0, "patched frame is wrong");
	return best;
}

static void test_patch_cost(void)
{
	struct vcap_synth_cfg c = { .flows = 1024, .proto = VCAP_SYNTH_UDP };
	double small, large;

	c.size = 64;
	small = patch_ns(&c);
	c.size = 1500;
	large = patch_ns(&c);
	printf("patch: %.1f ns/packet at 64 B, %.1f ns/packet at 1500 B (udp, 1024 flows)\n",
	       small, large);
	/* Timing is noisy; only refuse a cost that plainly follows the size. */
	CHECK(large < 2 * small + 50, "patch at 1500 B (%.1f ns) costs far more than at 64 B (%.1f ns)",
	      large, small);

	/* 64 buffers and 1024 flows: most patches change the layout */
	c.proto = VCAP_SYNTH_MIX, c.ipv6_pct = 20, c.size = 96;
	small = patch_ns(&c);
	c.size = 1500;
	printf("patch: %.1f ns/packet at 96 B, %.1f ns/packet at 1500 B (mix, ipv6=20)\n", small,
	       patch_ns(&c));
}

/* ---- tshark's opinion -------------------------------------------------- */

/* Run a shell command, return its stdout (caller frees) or NULL if it failed. */
static char *run(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	size_t len = 0, cap = 4096;
	char *out = malloc(cap);
	size_t got_now;
	int st;

	if (!p || !out) {
		free(out);
		return NULL;
	}
	while ((got_now = fread(out + len, 1, cap - len - 1, p)) > 0) {
		len += got_now;
		if (cap - len < 2) {
			char *bigger = realloc(out, cap * 2);

			if (!bigger)
				break;
			out = bigger;
			cap *= 2;
		}
	}
	out[len] = '\0';
	st = pclose(p);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "command failed (status %d): %s\n", st, cmd);
		free(out);
		return NULL;
	}
	return out;
}

static unsigned count_lines(const char *s)
{
	unsigned n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/*
 * 2000 packets of a config with every layout, a VLAN tag and an odd size
 * (the UDP/TCP sum then ends in a padded byte), then 500 untagged
 * full-size ones, written with pcap_dump.
 */
static const struct vcap_synth_cfg pcap_cfgs[2] = {
	{ .size = 131, .flows = 200, .proto = VCAP_SYNTH_MIX, .ipv6_pct = 40, .vlan = 100 },
	{ .size = 1514, .flows = 1000000, .proto = VCAP_SYNTH_MIX, .ipv6_pct = 50 },
};
static const unsigned pcap_counts[2] = { 2000, 500 };

static int write_pcap(const char *path)
{
	pcap_t *pd = pcap_open_dead(DLT_EN10MB, 65535);
	pcap_dumper_t *d;

	if (!pd)
		return -1;
	d = pcap_dump_open(pd, path);
	if (!d) {
		fprintf(stderr, "pcap_dump_open %s: %s\n", path, pcap_geterr(pd));
		pcap_close(pd);
		return -1;
	}
	for (int k = 0; k < 2; k++) {
		struct vcap_synth s;
		char err[256];

		if (vcap_synth_init(&s, &pcap_cfgs[k], err, sizeof(err))) {
			fprintf(stderr, "init: %s\n", err);
			return -1;
		}
		for (uint64_t n = 0; n < pcap_counts[k]; n++) {
			struct pcap_pkthdr h = { .ts = { .tv_sec = 1700000000, .tv_usec = (int)n },
						 .caplen = s.cfg.size, .len = s.cfg.size };

			/* as a generator would: a fresh frame, then patches */
			if (n == 0)
				vcap_synth_frame(&s, n, patched);
			else
				vcap_synth_patch(&s, n, patched);
			pcap_dump((u_char *)d, &h, patched);
		}
	}
	pcap_dump_close(d);
	pcap_close(pd);
	return 0;
}

/* What the contract says the pcap holds: UDP, TCP, IPv6, VLAN-tagged packets. */
static void pcap_expect(unsigned *udp, unsigned *tcp, unsigned *v6, unsigned *tagged)
{
	*udp = *tcp = *v6 = *tagged = 0;
	for (int k = 0; k < 2; k++) {
		for (uint64_t n = 0; n < pcap_counts[k]; n++) {
			struct ref r;

			ref_tuple(&pcap_cfgs[k], n, &r);
			*tcp += r.tcp;
			*udp += !r.tcp;
			*v6 += r.v6;
			*tagged += pcap_cfgs[k].vlan != 0;
		}
	}
}

/*
 * Application dissectors would read the pattern as DNS, NTP, SIP... (and the
 * client ports hit more) and call it malformed, and TCP analysis would flag
 * the one-packet "connections": keep tshark to the layers synth.h promises.
 */
#define TSHARK_OPTS                                                                  \
	"-n -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE "                   \
	"-o tcp.check_checksum:TRUE -o tcp.analyze_sequence_numbers:FALSE "          \
	"-d udp.port==1-65535,data -d tcp.port==1-65535,data"

/* Frames with an expert warning or error, bad checksum or malformation. */
#define TSHARK_BAD                                                                   \
	"_ws.expert.severity >= warning || _ws.malformed || "                        \
	"(ip && ip.checksum.status != 1) || (udp && udp.checksum.status != 1) || " \
	"(tcp && tcp.checksum.status != 1)"

/* tshark's frame numbers of the frames matching filter in path, or NULL. */
static char *tshark_frames(const char *path, const char *filter)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd),
		 "tshark -r %s " TSHARK_OPTS " -T fields -e frame.number -Y '%s' 2>/dev/null",
		 path, filter);
	return run(cmd);
}

static void expect_frames(const char *path, const char *what, const char *filter,
			  unsigned want_count)
{
	char *out = tshark_frames(path, filter);

	CHECK(out && count_lines(out) == want_count, "tshark sees %u %s in %s, contract says %u",
	      out ? count_lines(out) : 0, what, path, want_count);
	free(out);
}

/* Damage frames 7 (UDP payload), 8 (IPv4 header) and 12 (TCP payload) of path. */
static int write_damaged_copy(const char *path, const char *bad_path)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *in = pcap_open_offline(path, err);
	pcap_dumper_t *d = in ? pcap_dump_open(in, bad_path) : NULL;
	struct pcap_pkthdr *h;
	const u_char *data;
	unsigned i = 0;

	if (!d) {
		fprintf(stderr, "%s: %s\n", in ? bad_path : path, in ? pcap_geterr(in) : err);
		if (in)
			pcap_close(in);
		return -1;
	}
	while (pcap_next_ex(in, &h, &data) == 1) {
		memcpy(got, data, h->caplen);
		i++;
		if (i == 7 || i == 12)
			got[h->caplen - 1] ^= 0x10;
		if (i == 8)
			got[18 + 8] ^= 0x01; /* TTL */
		pcap_dump((u_char *)d, h, got);
	}
	pcap_dump_close(d);
	pcap_close(in);
	return 0;
}

/* UDP packets of the pcap with port 53 on either side, per the contract. */
static unsigned dns_port_packets(void)
{
	unsigned count = 0;

	for (int k = 0; k < 2; k++) {
		for (uint64_t n = 0; n < pcap_counts[k]; n++) {
			struct ref r;

			ref_tuple(&pcap_cfgs[k], n, &r);
			count += !r.tcp && (r.sport == 53 || r.dport == 53);
		}
	}
	return count;
}

static void test_tshark(void)
{
	char path[64], bad_path[64];
	unsigned udp, tcp, v6, tagged;
	char *out;

	snprintf(path, sizeof(path), "/tmp/vcap-test-synth-%d.pcap", (int)getpid());
	snprintf(bad_path, sizeof(bad_path), "/tmp/vcap-test-synth-%d-bad.pcap", (int)getpid());
	if (write_pcap(path)) {
		fail(__LINE__, "cannot write %s", path);
		return;
	}
	if (access("/usr/bin/tshark", X_OK)) {
		printf("tshark: not installed, pcap checks skipped\n");
		unlink(path);
		return;
	}
	pcap_expect(&udp, &tcp, &v6, &tagged);

	/* Every frame valid... */
	out = tshark_frames(path, TSHARK_BAD);
	CHECK(out && out[0] == '\0', "tshark finds bad frames in %s (frame numbers):\n%.500s",
	      path, out ? out : "(tshark failed)");
	free(out);
	/* ...by a filter that does catch damage (frames 7, 8 and 12 damaged)... */
	if (write_damaged_copy(path, bad_path) == 0) {
		out = tshark_frames(bad_path, TSHARK_BAD);
		CHECK(out && !strcmp(out, "7\n8\n12\n"),
		      "tshark should list frames 7, 8 and 12 of %s as bad, lists:\n%.500s",
		      bad_path, out ? out : "(tshark failed)");
		free(out);
	} else {
		fail(__LINE__, "cannot write %s", bad_path);
	}
	/* ...and decoded as what the contract says is there. */
	expect_frames(path, "good UDP packets", "udp && udp.checksum.status == 1 && !tcp", udp);
	expect_frames(path, "good TCP packets", "tcp && tcp.checksum.status == 1 && !udp", tcp);
	expect_frames(path, "IPv6 packets", "ipv6 && !ip", v6);
	expect_frames(path, "good IPv4 packets", "ip && ip.checksum.status == 1 && !ipv6",
		      pcap_counts[0] + pcap_counts[1] - v6);
	expect_frames(path, "packets on VLAN 100", "vlan.id == 100", tagged);
	expect_frames(path, "DNS-port UDP packets", "udp.port == 53", dns_port_packets());

	if (failures) {
		fprintf(stderr, "kept %s and %s for inspection\n", path, bad_path);
	} else {
		unlink(path);
		unlink(bad_path);
	}
	printf("tshark: %u UDP, %u TCP (%u IPv6, %u tagged) frames all valid\n", udp, tcp, v6,
	       tagged);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_init_errors();
	test_against_reference();
	test_mix();
	test_verify();
	test_tshark();
	test_patch_cost();
	if (failures) {
		fprintf(stderr, "test_synth: %d failure(s)\n", failures);
		return 1;
	}
	printf("test_synth: all passed\n");
	return 0;
}
