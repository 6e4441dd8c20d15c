/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_rules.c - source/parse.c, the flow hash on top of it, and
 * daemon/rules.c with the wildcard rules (wildcard.c) and the flow table
 * (flowtab.c) it combines, each against an oracle that does not share its
 * code.
 *
 *   parse     every generator frame must parse to what vcap_synth_tuple()
 *             says it carries; every prefix of it to what a cut at that
 *             length leaves readable (checked at the end of a page that is
 *             followed by a PROT_NONE page, and in an exact-size heap block
 *             for ASan); hand-built frames cover tags, IPv4 options and
 *             fragments, IPv6 extension chains and malformed headers;
 *             random frames must never read past caplen.
 *   hash      symmetric, never 0, equal to parse + hash_parsed.
 *   wildcard  random rule sets against oracle_match(), a field-by-field
 *             reading of vcap.h over the generator's tuples, first match by
 *             id, hit counts included; plus the corner cases one by one.
 *   flows     both directions, duplicates, removal by either direction,
 *             idle expiry with a fake clock, a full table, and add/remove
 *             churn checked against a shadow set; hits and listings (as
 *             added, in pages of any size, while the table grows, shrinks
 *             and is migrated, and on a sparse table).
 * Timings are printed, not asserted.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "flowhash.h"
#include "parse.h"
#include "rules.h"
#include "synth.h"

static unsigned long long rng = 0x9a3c5e7f11d2b4c1ull;

static uint32_t rnd32(void)
{
	return (uint32_t)(test_rand(&rng) >> 32);
}

static uint32_t rnd_below(uint32_t n)
{
	return (uint32_t)(test_rand(&rng) % n);
}

static uint64_t now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Keep the compiler from dropping a result nobody reads. */
static void escape(const void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

static const uint8_t client_mac[6] = { 2, 0, 0, 0, 0, 1 };
static const uint8_t server_mac[6] = { 2, 0, 0, 0, 0, 2 };

/* Generator configurations: both families, both protocols, tagged or not. */
static const struct vcap_synth_cfg cfgs[] = {
	{ .size = 64, .flows = 1024, .proto = VCAP_SYNTH_MIX, .ipv6_pct = 0 },
	{ .size = 128, .flows = 1000, .proto = VCAP_SYNTH_MIX, .ipv6_pct = 30, .vlan = 100 },
	{ .size = 96, .flows = 333, .proto = VCAP_SYNTH_TCP, .ipv6_pct = 100, .vlan = 4094 },
	{ .size = 90, .flows = 70000, .proto = VCAP_SYNTH_UDP, .ipv6_pct = 50 },
	{ .size = 100, .flows = 17, .proto = VCAP_SYNTH_MIX, .ipv6_pct = 60, .vlan = 1 },
};
#define N_CFGS (sizeof(cfgs) / sizeof(cfgs[0]))

static void synth_or_die(struct vcap_synth *s, const struct vcap_synth_cfg *c)
{
	char err[256];

	CHECK(vcap_synth_init(s, c, err, sizeof(err)) == 0, "synth: %s", err);
}

/* ---- frames in awkward places ------------------------------------------- */

/*
 * Two writable pages and a PROT_NONE one after them: a frame copied to
 * the very end of the writable part faults on any read past its end.
 */
static uint8_t *guard_mem;
static size_t guard_room;

static void guard_init(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	guard_room = 2 * page;
	guard_mem = mmap(NULL, guard_room + page, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(guard_mem != MAP_FAILED, "mmap");
	CHECK(mprotect(guard_mem + guard_room, page, PROT_NONE) == 0, "mprotect");
}

static const uint8_t *at_guard(const uint8_t *frame, uint32_t len)
{
	uint8_t *p = guard_mem + guard_room - len;

	CHECK(len <= guard_room, "frame of %u bytes", len);
	memcpy(p, frame, len);
	return p;
}

/*
 * Parse the first len bytes of frame three ways: at the end of the guarded
 * page, from an exact-size heap copy (ASan's redzone), and in place, where
 * the bytes after len are there but must not matter.  All must agree.
 */
static void parse_cut(const uint8_t *frame, uint32_t len, struct vcap_parsed *p)
{
	struct vcap_parsed q, r;
	uint8_t *heap = malloc(len ? len : 1);

	CHECK(heap, "malloc");
	memcpy(heap, frame, len);
	vcap_parse(at_guard(frame, len), len, p);
	vcap_parse(heap, len, &q);
	vcap_parse(frame, len, &r);
	free(heap);
	CHECK(!memcmp(p, &q, sizeof(q)) && !memcmp(p, &r, sizeof(r)),
	      "parse of %u bytes depends on where the frame is or what follows it", len);
}

/* ---- parse against the generator ------------------------------------------ */

static void dump_parsed(const char *what, const struct vcap_parsed *p)
{
	fprintf(stderr, "  %s: vlan %u type 0x%04x family %u proto %u frag %u ports %u "
		"%u->%u flags 0x%02x src %02x%02x%02x%02x.. dst %02x%02x%02x%02x.. "
		"mac %02x..%02x > %02x..%02x l3 %u l4 %u\n",
		what, p->vlan, p->ethertype, p->family, p->proto, p->fragment, p->has_ports,
		p->sport, p->dport, p->tcp_flags, p->saddr[0], p->saddr[1], p->saddr[2],
		p->saddr[3], p->daddr[0], p->daddr[1], p->daddr[2], p->daddr[3], p->smac[0],
		p->smac[5], p->dmac[0], p->dmac[5], p->l3_off, p->l4_off);
}

static void check_parsed(const struct vcap_parsed *got, const struct vcap_parsed *want,
			 const char *what, unsigned long long n, uint32_t len)
{
	if (!memcmp(got, want, sizeof(*got)))
		return;
	dump_parsed("got ", got);
	dump_parsed("want", want);
	CHECK(0, "%s: packet %llu cut at %u bytes parsed wrongly", what, n, len);
}

/* What the whole frame carries, from the generator's tuple alone. */
static void expect_whole(const struct vcap_synth_cfg *c, const struct vcap_synth_tuple *t,
			 struct vcap_parsed *e)
{
	memset(e, 0, sizeof(*e));
	memcpy(e->smac, t->reverse ? server_mac : client_mac, 6);
	memcpy(e->dmac, t->reverse ? client_mac : server_mac, 6);
	e->vlan = c->vlan ? c->vlan : VCAP_PARSED_NO_VLAN;
	e->ethertype = t->family == 4 ? 0x0800 : 0x86dd;
	e->family = t->family;
	e->proto = t->proto;
	memcpy(e->saddr, t->src, 16);
	memcpy(e->daddr, t->dst, 16);
	e->has_ports = 1;
	e->sport = t->sport;
	e->dport = t->dport;
	e->tcp_flags = t->proto == 6 ? t->tcp_flags : 0;
	e->l3_off = c->vlan ? 18 : 14;
	e->l4_off = (uint16_t)(e->l3_off + (t->family == 4 ? 20 : 40));
}

/*
 * What the first len bytes of that frame leave readable: each layer needs
 * all of its header (Ethernet 14, tag 4, IPv4 20, IPv6 40, UDP 8, TCP 20).
 */
static void expect_cut(const struct vcap_synth_cfg *c, const struct vcap_parsed *whole,
		       uint32_t len, struct vcap_parsed *e)
{
	uint32_t l3 = c->vlan ? 18 : 14;
	uint32_t l4 = l3 + (whole->family == 4 ? 20 : 40);
	uint32_t end = l4 + (whole->proto == 6 ? 20 : 8);

	memset(e, 0, sizeof(*e));
	e->vlan = VCAP_PARSED_NO_VLAN;
	if (len < 12)
		return;
	memcpy(e->dmac, whole->dmac, 6);
	memcpy(e->smac, whole->smac, 6);
	if (len < l3)
		return;
	e->vlan = whole->vlan;
	e->ethertype = whole->ethertype;
	if (len < l4)
		return;
	e->family = whole->family;
	e->proto = whole->proto;
	memcpy(e->saddr, whole->saddr, 16);
	memcpy(e->daddr, whole->daddr, 16);
	/* the transport header starts within the capture: its offset is known */
	e->l3_off = (uint16_t)l3;
	e->l4_off = (uint16_t)l4;
	if (len < end)
		return;
	*e = *whole;
}

static void test_parse_synth(void)
{
	uint8_t frame[VCAP_SYNTH_SIZE_MAX];
	unsigned long long checked = 0, cuts = 0;

	for (unsigned k = 0; k < N_CFGS; k++) {
		const struct vcap_synth_cfg *c = &cfgs[k];
		struct vcap_synth s;
		uint64_t total = 4ull * c->flows * 2 < 20000 ? 4ull * c->flows * 2 : 20000;

		synth_or_die(&s, c);
		for (uint64_t i = 0; i < total; i++) {
			/* the first packets in order, then random ones far out */
			uint64_t n = i < total / 2 ? i : test_rand(&rng) % (1ull << 40);
			struct vcap_synth_tuple t;
			struct vcap_parsed got, want, cut;

			vcap_synth_frame(&s, n, frame);
			vcap_synth_tuple(&s, n, &t);
			expect_whole(c, &t, &want);
			vcap_parse(frame, c->size, &got);
			check_parsed(&got, &want, "synth", n, c->size);
			checked++;

			/* every length for a few packets of each layout */
			if (i < 64 || i % 997 == 0) {
				for (uint32_t len = 0; len <= c->size; len++) {
					parse_cut(frame, len, &got);
					expect_cut(c, &want, len, &cut);
					check_parsed(&got, &cut, "cut synth", n, len);
					cuts++;
				}
			}
		}
	}
	printf("parse: %llu generator frames match their tuples, %llu cuts\n", checked, cuts);
}

/* ---- hand-built frames ---------------------------------------------------- */

struct fb {
	uint8_t b[1024];
	uint32_t len;
};

static void put(struct fb *f, const void *p, uint32_t n)
{
	CHECK(f->len + n <= sizeof(f->b), "frame too long");
	memcpy(f->b + f->len, p, n);
	f->len += n;
}

static void put8(struct fb *f, uint32_t v)
{
	uint8_t b = (uint8_t)v;

	put(f, &b, 1);
}

static void put16(struct fb *f, uint32_t v)
{
	put8(f, v >> 8);
	put8(f, v);
}

static void put_zero(struct fb *f, uint32_t n)
{
	static const uint8_t z[1024];

	put(f, z, n);
}

static const uint8_t ip4_a[16] = { 192, 0, 2, 1 };
static const uint8_t ip4_b[16] = { 198, 51, 100, 7 };
static const uint8_t ip6_a[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t ip6_b[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 };

/* MACs then up to three (tpid, tci) tags, then the ethertype. */
static void eth(struct fb *f, const uint16_t *tags, int n_tags, uint16_t type)
{
	f->len = 0;
	put(f, server_mac, 6);
	put(f, client_mac, 6);
	for (int i = 0; i < n_tags; i++) {
		put16(f, tags[2 * i]);
		put16(f, tags[2 * i + 1]);
	}
	put16(f, type);
}

/* IPv4 header with ihl words (options are NOPs), frag = flags|offset field. */
static void ip4(struct fb *f, uint32_t ihl, uint16_t frag, uint8_t proto, const uint8_t *src,
		const uint8_t *dst)
{
	put8(f, 0x40 | ihl);
	put8(f, 0);
	put16(f, 100);
	put16(f, 0x1234);
	put16(f, frag);
	put8(f, 64);
	put8(f, proto);
	put16(f, 0);
	put(f, src, 4);
	put(f, dst, 4);
	for (uint32_t i = 5; i < ihl; i++)
		put16(f, 0x0101), put16(f, 0x0101);
}

static void ip6(struct fb *f, uint8_t nh, const uint8_t *src, const uint8_t *dst)
{
	put8(f, 0x60);
	put8(f, 0);
	put16(f, 0);
	put16(f, 100);
	put8(f, nh);
	put8(f, 64);
	put(f, src, 16);
	put(f, dst, 16);
}

/* An extension header of (hdr_ext_len + 1) * 8 bytes. */
static void ext6(struct fb *f, uint8_t nh, uint8_t hdr_ext_len)
{
	put8(f, nh);
	put8(f, hdr_ext_len);
	put_zero(f, 6 + 8u * hdr_ext_len);
}

static void frag6(struct fb *f, uint8_t nh, uint16_t offset, bool more)
{
	put8(f, nh);
	put8(f, 0);
	put16(f, (uint32_t)offset << 3 | more);
	put16(f, 0xabcd), put16(f, 0x0001);
}

/* A transport header: ports, then TCP flags at byte 13 for TCP. */
static void l4(struct fb *f, uint8_t proto, uint16_t sport, uint16_t dport, uint8_t flags)
{
	uint32_t len = proto == 6 ? 20 : proto == 132 ? 12 : 8;
	uint32_t at = f->len;

	put16(f, sport);
	put16(f, dport);
	put_zero(f, len - 4);
	if (proto == 6)
		f->b[at + 13] = flags;
}

/* Parse f whole and at every shorter length (never out of bounds, and cuts only lose). */
static void parse_all(const struct fb *f, struct vcap_parsed *p)
{
	struct vcap_parsed q;

	for (uint32_t len = 0; len < f->len; len++) {
		parse_cut(f->b, len, &q);
		CHECK(!q.has_ports || (q.family && !q.fragment && q.proto == p->proto),
		      "cut at %u: ports of a fragment or a non-IP packet", len);
	}
	parse_cut(f->b, f->len, p);
}

static void test_parse_tags(void)
{
	struct fb f;
	struct vcap_parsed p;
	const uint16_t qinq[] = { 0x88a8, 10, 0x8100, 20 };
	const uint16_t q_then_ad[] = { 0x8100, 0xe000 | 30, 0x88a8, 40 };
	const uint16_t three[] = { 0x8100, 1, 0x8100, 2, 0x8100, 3 };
	const uint16_t prio[] = { 0x8100, 0xa000 };

	eth(&f, qinq, 2, 0x0800);
	ip4(&f, 5, 0, 17, ip4_a, ip4_b);
	l4(&f, 17, 1234, 53, 0);
	parse_all(&f, &p);
	CHECK(p.vlan == 10 && p.ethertype == 0x0800 && p.family == 4 && p.has_ports &&
		      p.sport == 1234 && p.dport == 53,
	      "QinQ: vlan %u type 0x%x family %u ports %u %u>%u", p.vlan, p.ethertype, p.family,
	      p.has_ports, p.sport, p.dport);

	eth(&f, q_then_ad, 2, 0x86dd);
	ip6(&f, 6, ip6_a, ip6_b);
	l4(&f, 6, 443, 50000, 0x12);
	parse_all(&f, &p);
	CHECK(p.vlan == 30 && p.family == 6 && p.proto == 6 && p.tcp_flags == 0x12 &&
		      p.sport == 443 && !memcmp(p.saddr, ip6_a, 16) && !memcmp(p.daddr, ip6_b, 16),
	      "802.1Q then 802.1ad: vlan %u (priority bits must not leak in)", p.vlan);

	/* a third tag is not looked through: its TPID is the ethertype */
	eth(&f, three, 3, 0x0800);
	ip4(&f, 5, 0, 17, ip4_a, ip4_b);
	l4(&f, 17, 1, 2, 0);
	parse_all(&f, &p);
	CHECK(p.vlan == 1 && p.ethertype == 0x8100 && p.family == 0 && !p.has_ports,
	      "three tags: vlan %u type 0x%x family %u", p.vlan, p.ethertype, p.family);

	/* priority-tagged: VLAN 0 is a tag, not "untagged" */
	eth(&f, prio, 1, 0x0806);
	put_zero(&f, 28);
	parse_all(&f, &p);
	CHECK(p.vlan == 0 && p.ethertype == 0x0806 && p.family == 0 && p.proto == 0,
	      "priority tag: vlan %u", p.vlan);
}

static void test_parse_ipv4(void)
{
	struct fb f;
	struct vcap_parsed p;

	/* IHL 0..4: not a valid IPv4 header, so not IP at all */
	for (uint32_t ihl = 0; ihl < 5; ihl++) {
		eth(&f, NULL, 0, 0x0800);
		ip4(&f, 5, 0, 17, ip4_a, ip4_b);
		f.b[14] = (uint8_t)(0x40 | ihl);
		l4(&f, 17, 1, 2, 0);
		parse_all(&f, &p);
		CHECK(p.ethertype == 0x0800 && p.family == 0 && p.proto == 0 && !p.has_ports &&
			      !p.saddr[0],
		      "IHL %u: family %u proto %u", ihl, p.family, p.proto);
	}
	/* IHL 5..15: ports right after the options */
	for (uint32_t ihl = 5; ihl <= 15; ihl++) {
		eth(&f, NULL, 0, 0x0800);
		ip4(&f, ihl, 0x4000, 17, ip4_a, ip4_b);
		l4(&f, 17, (uint16_t)(1000 + ihl), 2000, 0);
		parse_all(&f, &p);
		CHECK(p.family == 4 && p.has_ports && p.sport == 1000 + ihl && p.dport == 2000 &&
			      !p.fragment && !memcmp(p.saddr, ip4_a, 16) &&
			      !memcmp(p.daddr, ip4_b, 16),
		      "IHL %u: ports %u %u>%u", ihl, p.has_ports, p.sport, p.dport);
		/* options present but the frame ends inside them */
		parse_cut(f.b, 14 + 20 + (ihl - 5) * 2, &p);
		CHECK(p.family == 4 && p.proto == 17 && !p.has_ports && !p.sport,
		      "IHL %u cut in the options", ihl);
	}
	/* version 6 in an IPv4 ethertype */
	eth(&f, NULL, 0, 0x0800);
	ip4(&f, 5, 0, 17, ip4_a, ip4_b);
	f.b[14] = 0x65;
	l4(&f, 17, 1, 2, 0);
	parse_all(&f, &p);
	CHECK(p.family == 0, "version 6 under ethertype 0x0800: family %u", p.family);

	/* fragments: MF or an offset; DF alone is not one */
	static const struct {
		uint16_t field;
		bool frag;
	} frags[] = {
		{ 0x4000, false }, { 0x0000, false }, { 0x2000, true }, { 0x0001, true },
		{ 0x1fff, true },  { 0x4001, true },  { 0x6000, true }, { 0x8000, false },
	};
	for (unsigned i = 0; i < sizeof(frags) / sizeof(frags[0]); i++) {
		bool frag = frags[i].frag;

		eth(&f, NULL, 0, 0x0800);
		ip4(&f, 5, frags[i].field, 6, ip4_a, ip4_b);
		l4(&f, 6, 80, 8080, 0x02);
		parse_all(&f, &p);
		CHECK(p.family == 4 && p.proto == 6 && p.fragment == frag && p.has_ports == !frag &&
			      (frag ? !p.sport : p.sport == 80) &&
			      (frag ? !p.tcp_flags : p.tcp_flags == 2),
		      "frag field 0x%04x: fragment %u ports %u", frags[i].field, p.fragment,
		      p.has_ports);
	}

	/* port-less, SCTP, and transport headers one byte short */
	eth(&f, NULL, 0, 0x0800);
	ip4(&f, 5, 0, 1, ip4_a, ip4_b);
	put8(&f, 8), put8(&f, 0), put16(&f, 0), put16(&f, 7), put16(&f, 1);
	parse_all(&f, &p);
	CHECK(p.family == 4 && p.proto == 1 && !p.has_ports && !p.sport && !p.dport, "ICMP");

	static const uint8_t protos[] = { 6, 17, 132 };
	for (unsigned i = 0; i < 3; i++) {
		eth(&f, NULL, 0, 0x0800);
		ip4(&f, 5, 0, protos[i], ip4_a, ip4_b);
		l4(&f, protos[i], 5, 6, 0x3f);
		parse_all(&f, &p);
		CHECK(p.has_ports && p.sport == 5 && p.dport == 6, "proto %u ports", protos[i]);
		CHECK(p.tcp_flags == (protos[i] == 6 ? 0x3f : 0), "proto %u flags", protos[i]);
		parse_cut(f.b, f.len - 1, &p);
		CHECK(!p.has_ports && p.proto == protos[i] && !p.tcp_flags,
		      "proto %u one byte short still has ports", protos[i]);
	}

	/* not IP */
	eth(&f, NULL, 0, 0x0806);
	put_zero(&f, 28);
	parse_all(&f, &p);
	CHECK(p.ethertype == 0x0806 && p.family == 0 && !memcmp(p.smac, client_mac, 6) &&
		      !memcmp(p.dmac, server_mac, 6) && p.vlan == VCAP_PARSED_NO_VLAN,
	      "ARP");

	/* the parse of nothing, for packets of other link types */
	vcap_parse(NULL, 0, &p);
	CHECK(p.vlan == VCAP_PARSED_NO_VLAN && !p.family && !p.ethertype && !p.has_ports,
	      "vcap_parse(NULL, 0)");
}

static void test_parse_ipv6(void)
{
	struct fb f;
	struct vcap_parsed p;

	/* hop-by-hop, routing, destination options, then UDP */
	for (uint8_t len = 0; len < 4; len++) {
		eth(&f, NULL, 0, 0x86dd);
		ip6(&f, 0, ip6_a, ip6_b);
		ext6(&f, 43, len);
		ext6(&f, 60, (uint8_t)(len * 3));
		ext6(&f, 17, 1);
		l4(&f, 17, 5353, 5354, 0);
		parse_all(&f, &p);
		CHECK(p.family == 6 && p.proto == 17 && p.has_ports && p.sport == 5353 &&
			      p.dport == 5354 && !p.fragment,
		      "extension chain (len %u): proto %u ports %u", len, p.proto, p.has_ports);
	}

	/* an extension header whose length runs past the capture */
	eth(&f, NULL, 0, 0x86dd);
	ip6(&f, 0, ip6_a, ip6_b);
	put8(&f, 17), put8(&f, 255), put_zero(&f, 6);
	l4(&f, 17, 1, 2, 0);
	parse_all(&f, &p);
	CHECK(p.family == 6 && p.proto == 17 && !p.has_ports && !p.sport,
	      "hop-by-hop past the end: proto %u ports %u", p.proto, p.has_ports);
	/* ... and one that itself is cut: proto stays the extension header's */
	parse_cut(f.b, 14 + 40 + 7, &p);
	CHECK(p.family == 6 && p.proto == 0 && !p.has_ports, "cut hop-by-hop: proto %u", p.proto);
	parse_cut(f.b, 14 + 40, &p);
	CHECK(p.family == 6 && p.proto == 0 && !p.has_ports, "missing hop-by-hop");

	/* eight extension headers are looked through, the ninth is not */
	for (int n = 1; n <= 10; n++) {
		eth(&f, NULL, 0, 0x86dd);
		ip6(&f, 60, ip6_a, ip6_b);
		for (int i = 1; i < n; i++)
			ext6(&f, 60, 0);
		ext6(&f, 6, 0);
		l4(&f, 6, 22, 40000, 0x10);
		parse_all(&f, &p);
		if (n <= 8)
			CHECK(p.proto == 6 && p.has_ports && p.sport == 22 && p.tcp_flags == 0x10,
			      "%d extension headers: proto %u", n, p.proto);
		else
			CHECK(p.proto == 60 && !p.has_ports, "%d extension headers: proto %u", n,
			      p.proto);
	}

	/* fragments: first or later, proto from the fragment header, no ports */
	for (int later = 0; later < 2; later++) {
		eth(&f, NULL, 0, 0x86dd);
		ip6(&f, 0, ip6_a, ip6_b);
		ext6(&f, 44, 0);
		frag6(&f, 17, later ? 185 : 0, !later);
		l4(&f, 17, 7, 8, 0);
		parse_all(&f, &p);
		CHECK(p.family == 6 && p.fragment && p.proto == 17 && !p.has_ports && !p.sport,
		      "%s fragment: fragment %u proto %u ports %u", later ? "later" : "first",
		      p.fragment, p.proto, p.has_ports);
		/* a fragment header cut off: not known to be a fragment, proto 44 */
		parse_cut(f.b, 14 + 40 + 8 + 7, &p);
		CHECK(!p.fragment && p.proto == 44 && !p.has_ports, "cut fragment header");
	}

	/* version 4 under the IPv6 ethertype */
	eth(&f, NULL, 0, 0x86dd);
	ip6(&f, 17, ip6_a, ip6_b);
	f.b[14] = 0x45;
	l4(&f, 17, 1, 2, 0);
	parse_all(&f, &p);
	CHECK(p.family == 0 && p.ethertype == 0x86dd, "version 4 under 0x86dd");

	/* ICMPv6 and "no next header" */
	eth(&f, NULL, 0, 0x86dd);
	ip6(&f, 58, ip6_a, ip6_b);
	put_zero(&f, 8);
	parse_all(&f, &p);
	CHECK(p.proto == 58 && !p.has_ports, "ICMPv6");
}

/* Random bytes with plausible headers: no fault, no read past caplen. */
static void test_parse_fuzz(void)
{
	static const uint16_t types[] = { 0x0800, 0x86dd, 0x8100, 0x88a8, 0x0806 };
	static const uint8_t nhs[] = { 0, 43, 44, 60, 6, 17, 132, 58, 59 };
	uint8_t frame[512];
	unsigned long long parses = 0;

	for (int iter = 0; iter < 3000; iter++) {
		uint32_t size = 14 + rnd_below(sizeof(frame) - 14);
		uint32_t off = 12;

		for (uint32_t i = 0; i < size; i++)
			frame[i] = (uint8_t)rnd32();
		/* tags, then IP with a plausible version, then chains of extension headers */
		for (int t = 0; t < 3 && off + 2 <= size; t++) {
			uint16_t type = types[rnd_below(5)];

			frame[off] = (uint8_t)(type >> 8), frame[off + 1] = (uint8_t)type;
			off += 4;
			if (type != 0x8100 && type != 0x88a8)
				break;
		}
		off -= 2;
		if (off < size)
			frame[off] = (uint8_t)(rnd_below(2) ? 0x40 | rnd_below(16) : 0x60);
		if (off + 6 < size && rnd_below(2))
			frame[off + 6] = nhs[rnd_below(sizeof(nhs))];
		for (uint32_t e = off + 40; e + 1 < size && rnd_below(3); e += 8u + frame[e + 1] * 8u) {
			frame[e] = nhs[rnd_below(sizeof(nhs))];
			frame[e + 1] = (uint8_t)rnd_below(4);
		}
		for (uint32_t len = 0; len <= size; len++) {
			struct vcap_parsed p;

			parse_cut(frame, len, &p);
			CHECK(!p.has_ports || (p.family && !p.fragment), "ports without IP");
			CHECK(p.family == 0 || p.family == 4 || p.family == 6, "family %u", p.family);
			CHECK(p.vlan == VCAP_PARSED_NO_VLAN || p.vlan <= 4095, "vlan %u", p.vlan);
			CHECK(p.tcp_flags == 0 || (p.proto == 6 && p.has_ports), "stray flags");
			parses++;
		}
	}
	printf("parse: %llu random cuts, none out of bounds\n", parses);
}

/* ---- the flow hash ---------------------------------------------------------- */

static void test_hash(void)
{
	uint8_t a[VCAP_SYNTH_SIZE_MAX], b[VCAP_SYNTH_SIZE_MAX];
	struct fb f;
	struct vcap_parsed p;
	uint32_t h1, h2;

	for (unsigned k = 0; k < N_CFGS; k++) {
		struct vcap_synth s;

		synth_or_die(&s, &cfgs[k]);
		for (uint64_t n = 0; n < 4000; n++) {
			uint64_t m = test_rand(&rng) % (1ull << 32);

			vcap_synth_frame(&s, m, a);
			vcap_synth_frame(&s, m + cfgs[k].flows, b); /* the other direction */
			for (int tuple = 2; tuple <= 5; tuple += tuple == 2 ? 2 : 1) {
				h1 = vcap_flow_hash(a, cfgs[k].size, tuple);
				h2 = vcap_flow_hash(b, cfgs[k].size, tuple);
				vcap_parse(a, cfgs[k].size, &p);
				CHECK(h1 && h1 == h2, "cfg %u packet %llu tuple %d: %08x vs %08x", k,
				      (unsigned long long)m, tuple, h1, h2);
				CHECK_EQ(h1, vcap_flow_hash_parsed(&p, tuple));
			}
		}
	}

	/* every fragment of an IPv4 datagram hashes alike, whichever the 5-tuple says */
	eth(&f, NULL, 0, 0x0800);
	ip4(&f, 5, 0x2000, 17, ip4_a, ip4_b);
	l4(&f, 17, 1111, 2222, 0);
	h1 = vcap_flow_hash(f.b, f.len, VCAP_HASH_5TUPLE);
	eth(&f, NULL, 0, 0x0800);
	ip4(&f, 5, 0x0010, 17, ip4_b, ip4_a);
	put_zero(&f, 40);
	h2 = vcap_flow_hash(f.b, f.len, VCAP_HASH_5TUPLE);
	CHECK(h1 == h2, "IPv4 fragments: %08x vs %08x", h1, h2);

	/* non-IP: both directions (MACs swapped) alike */
	eth(&f, NULL, 0, 0x0806);
	put_zero(&f, 28);
	h1 = vcap_flow_hash(f.b, f.len, VCAP_HASH_5TUPLE);
	memcpy(f.b, client_mac, 6);
	memcpy(f.b + 6, server_mac, 6);
	h2 = vcap_flow_hash(f.b, f.len, VCAP_HASH_5TUPLE);
	CHECK(h1 && h1 == h2, "ARP: %08x vs %08x", h1, h2);
	for (uint32_t len = 0; len < 20; len++)
		CHECK(vcap_flow_hash(at_guard(f.b, len), len, VCAP_HASH_5TUPLE) != 0, "hash 0");
	printf("hash: symmetric, never 0, equal to parse + hash_parsed\n");
}

/* ---- wildcard rules ------------------------------------------------------- */

/* The facts of one generator packet, as the oracle sees them (no parser). */
struct facts {
	uint8_t smac[6], dmac[6];
	bool tagged;
	uint16_t vlan, ethertype;
	uint8_t family, proto, tcp_flags;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
};

static void facts_of(const struct vcap_synth_cfg *c, const struct vcap_synth_tuple *t,
		     struct facts *x)
{
	memset(x, 0, sizeof(*x));
	memcpy(x->smac, t->reverse ? server_mac : client_mac, 6);
	memcpy(x->dmac, t->reverse ? client_mac : server_mac, 6);
	x->tagged = c->vlan != 0;
	x->vlan = c->vlan;
	x->ethertype = t->family == 4 ? 0x0800 : 0x86dd;
	x->family = t->family;
	x->proto = t->proto;
	x->tcp_flags = t->tcp_flags;
	memcpy(x->src, t->src, 16);
	memcpy(x->dst, t->dst, 16);
	x->sport = t->sport;
	x->dport = t->dport;
}

static bool prefix_match(const uint8_t *want, const uint8_t *addr, unsigned bits)
{
	for (unsigned i = 0; i < bits; i++) {
		unsigned bit = 7 - i % 8;

		if ((want[i / 8] >> bit & 1) != (addr[i / 8] >> bit & 1))
			return false;
	}
	return true;
}

/* vcap.h's rule semantics, one field at a time. */
static bool oracle_match(const struct vcap_rule *r, const struct facts *x)
{
	uint32_t f = r->fields;

	if ((f & VCAP_RULE_SMAC) && memcmp(r->smac, x->smac, 6))
		return false;
	if ((f & VCAP_RULE_DMAC) && memcmp(r->dmac, x->dmac, 6))
		return false;
	if ((f & VCAP_RULE_VLAN) && (!x->tagged || r->vlan != x->vlan))
		return false;
	if ((f & VCAP_RULE_ETHERTYPE) && r->ethertype != x->ethertype)
		return false;
	if ((f & VCAP_RULE_PROTO) && (!x->family || r->proto != x->proto))
		return false;
	if ((f & VCAP_RULE_SADDR) &&
	    (x->family != r->family || !prefix_match(r->saddr, x->src, r->saddr_prefix)))
		return false;
	if ((f & VCAP_RULE_DADDR) &&
	    (x->family != r->family || !prefix_match(r->daddr, x->dst, r->daddr_prefix)))
		return false;
	/* generator packets always have ports */
	if ((f & VCAP_RULE_SPORT) && (x->sport < r->sport_lo || x->sport > r->sport_hi))
		return false;
	if ((f & VCAP_RULE_DPORT) && (x->dport < r->dport_lo || x->dport > r->dport_hi))
		return false;
	if ((f & VCAP_RULE_TCP_FLAGS) &&
	    (x->proto != 6 || (x->tcp_flags & r->tcp_flags_mask) != r->tcp_flags))
		return false;
	return true;
}

static void clear_past_prefix(uint8_t *a, unsigned bits)
{
	for (unsigned i = bits; i < 128; i++)
		a[i / 8] &= (uint8_t)~(1u << (7 - i % 8));
}

/* A random valid rule that real generator packets sometimes match. */
static void random_rule(struct vcap_rule *r, uint32_t id, const struct vcap_synth *s)
{
	static const uint16_t ports[] = { 53, 80, 443, 123, 22, 8080, 5060, 9999, 1024, 1500 };
	static const uint8_t prefix4[] = { 0, 8, 16, 23, 24, 28, 31, 32 };
	static const uint8_t prefix6[] = { 0, 8, 64, 100, 112, 120, 127, 128 };
	struct vcap_synth_tuple t;
	uint32_t span;

	memset(r, 0, sizeof(*r));
	r->id = id;
	r->action = rnd_below(2) ? VCAP_PASS : VCAP_DROP;
	do {
		r->fields = 0;
		for (uint32_t bit = 1; bit <= VCAP_RULE_TCP_FLAGS; bit <<= 1)
			if (rnd_below(100) < 22)
				r->fields |= bit;
	} while (rnd_below(20) && !r->fields); /* a catch-all now and then */

	vcap_synth_tuple(s, test_rand(&rng) % (1ull << 30), &t);
	memcpy(r->smac, rnd_below(2) ? client_mac : server_mac, 6);
	memcpy(r->dmac, rnd_below(2) ? client_mac : server_mac, 6);
	if (!rnd_below(10))
		r->dmac[5] = 9;
	r->vlan = (uint16_t)(rnd_below(3) ? s->cfg.vlan : rnd_below(4096));
	r->ethertype = (uint16_t)(rnd_below(5) ? (rnd_below(2) ? 0x0800 : 0x86dd) : 0x0806);
	r->proto = (uint8_t)(rnd_below(5) ? (rnd_below(2) ? 6 : 17) : 132);
	r->family = rnd_below(4) ? t.family : (t.family == 4 ? 6 : 4);
	memcpy(r->saddr, rnd_below(2) ? t.src : t.dst, 16);
	memcpy(r->daddr, rnd_below(2) ? t.dst : t.src, 16);
	if (r->family != t.family) {
		/* the other family: an address of that kind, matching nothing here */
		memset(r->saddr, 0, 16);
		memset(r->daddr, 0, 16);
		r->saddr[0] = r->daddr[0] = r->family == 4 ? 10 : 0xfd;
	}
	r->saddr_prefix = r->family == 4 ? prefix4[rnd_below(8)] : prefix6[rnd_below(8)];
	r->daddr_prefix = r->family == 4 ? prefix4[rnd_below(8)] : prefix6[rnd_below(8)];
	clear_past_prefix(r->saddr, r->saddr_prefix);
	clear_past_prefix(r->daddr, r->daddr_prefix);
	r->sport_lo = rnd_below(2) ? ports[rnd_below(10)] : (uint16_t)rnd32();
	/* one call per statement: the same rules whatever order a compiler picks */
	span = rnd_below((uint32_t)65536 - r->sport_lo);
	span = rnd_below(2) ? span : 0;
	r->sport_hi = (uint16_t)(r->sport_lo + span / (rnd_below(100) + 1));
	r->dport_lo = rnd_below(2) ? ports[rnd_below(10)] : (uint16_t)rnd_below(2000);
	r->dport_hi = (uint16_t)(r->dport_lo + (rnd_below(2) ? 0 : rnd_below(60000)));
	if (r->dport_hi < r->dport_lo)
		r->dport_hi = 65535;
	r->tcp_flags_mask = (uint8_t)rnd32();
	r->tcp_flags = (uint8_t)(rnd_below(2) ? rnd32() & r->tcp_flags_mask
					      : (0x02 | 0x10) & r->tcp_flags_mask);
	/* TCP flags and ports need a protocol that has them */
	if (r->fields & VCAP_RULE_TCP_FLAGS)
		r->proto = 6;
}

static void test_wildcard_random(void)
{
	uint8_t frame[VCAP_SYNTH_SIZE_MAX];
	unsigned long long packets = 0, matched = 0;
	char err[256];

	for (int round = 0; round < 60; round++) {
		const struct vcap_synth_cfg *c = &cfgs[round % N_CFGS];
		struct rules_limits lim = { .max_rules = 64, .max_flows = 0 };
		uint32_t n_rules = 1 + rnd_below(40), ids[64], order[64];
		struct vcap_rule set[64];
		uint64_t hits[64] = { 0 };
		uint32_t dflt = rnd_below(2) ? VCAP_PASS : VCAP_DROP;
		struct vcap_synth s;
		struct rules *r = rules_new(&lim);

		CHECK(r, "rules_new");
		synth_or_die(&s, c);
		/* distinct ids, given in ascending order to set[] ... */
		for (uint32_t i = 0, id = rnd_below(5); i < n_rules; i++, id += 1 + rnd_below(1000))
			ids[i] = id;
		for (uint32_t i = 0; i < n_rules; i++) {
			random_rule(&set[i], ids[i], &s);
			order[i] = i;
		}
		/* ... and added in a random order */
		for (uint32_t i = n_rules; i > 1; i--) {
			uint32_t j = rnd_below(i), tmp = order[i - 1];

			order[i - 1] = order[j], order[j] = tmp;
		}
		for (uint32_t i = 0; i < n_rules; i++) {
			int rc = rules_add(r, &set[order[i]], err, sizeof(err));

			CHECK(rc == 0, "rule %u: %d %s", set[order[i]].id, rc, err);
		}
		CHECK_EQ(rules_count(r), n_rules);
		CHECK_EQ(rules_set_default(r, dflt), 0);
		CHECK(!rules_trivial(r), "rules are not trivial");

		for (int i = 0; i < 3000; i++) {
			uint64_t n = test_rand(&rng) % (1ull << 34);
			struct vcap_synth_tuple t;
			struct vcap_parsed p;
			struct facts x;
			bool want = dflt == VCAP_PASS, got;

			vcap_synth_frame(&s, n, frame);
			vcap_synth_tuple(&s, n, &t);
			facts_of(c, &t, &x);
			vcap_parse(frame, c->size, &p);
			for (uint32_t k = 0; k < n_rules; k++) {
				if (oracle_match(&set[k], &x)) {
					want = set[k].action == VCAP_PASS;
					hits[k]++;
					matched++;
					break;
				}
			}
			got = rules_pass(r, &p, 0);
			CHECK(got == want, "round %d packet %llu: rules say %s, the oracle %s", round,
			      (unsigned long long)n, got ? "pass" : "drop", want ? "pass" : "drop");
			packets++;
		}
		for (uint32_t k = 0; k < n_rules; k++) {
			uint64_t h;

			CHECK_EQ(rules_hits(r, set[k].id, &h), 0);
			CHECK(h == hits[k], "rule %u: %llu hits, the oracle counted %llu", set[k].id,
			      (unsigned long long)h, (unsigned long long)hits[k]);
		}
		/* remove half, by id, and check again that the rest still decide */
		for (uint32_t k = 0; k < n_rules; k += 2)
			CHECK_EQ(rules_remove(r, set[k].id), 0);
		for (int i = 0; i < 500; i++) {
			uint64_t n = test_rand(&rng) % (1ull << 34);
			struct vcap_synth_tuple t;
			struct vcap_parsed p;
			struct facts x;
			bool want = dflt == VCAP_PASS;

			vcap_synth_frame(&s, n, frame);
			vcap_synth_tuple(&s, n, &t);
			facts_of(c, &t, &x);
			vcap_parse(frame, c->size, &p);
			for (uint32_t k = 1; k < n_rules; k += 2) {
				if (oracle_match(&set[k], &x)) {
					want = set[k].action == VCAP_PASS;
					break;
				}
			}
			CHECK(rules_pass(r, &p, 0) == want, "after removals, packet %llu",
			      (unsigned long long)n);
		}
		rules_free(r);
	}
	printf("wildcard: %llu packets judged as the oracle does (%llu by a rule)\n", packets,
	       matched);
}

/* Frames for the corner cases: parse one hand-built frame. */
static void parsed_of(const struct fb *f, struct vcap_parsed *p)
{
	vcap_parse(f->b, f->len, p);
}

static struct rules *one_rule(const struct vcap_rule *rule)
{
	struct rules_limits lim = { .max_rules = 4, .max_flows = 4 };
	struct rules *r = rules_new(&lim);
	char err[256];
	int rc;

	CHECK(r, "rules_new");
	rc = rules_add(r, rule, err, sizeof(err));
	CHECK(rc == 0, "rules_add: %d %s", rc, err);
	return r;
}

/* Does a DROP rule made of `rule` drop the frame? */
static bool drops(const struct vcap_rule *rule, const struct fb *f)
{
	struct vcap_rule d = *rule;
	struct vcap_parsed p;
	struct rules *r;
	bool dropped;

	d.action = VCAP_DROP;
	r = one_rule(&d);
	parsed_of(f, &p);
	dropped = !rules_pass(r, &p, 0);
	rules_free(r);
	return dropped;
}

static void test_wildcard_cases(void)
{
	const uint16_t tag7[] = { 0x8100, 7 }, tag0[] = { 0x8100, 0 };
	struct fb udp4, tcp4, udp6, frag4, icmp4, arp, tagged4, prio4;
	struct vcap_rule w;

	eth(&udp4, NULL, 0, 0x0800);
	ip4(&udp4, 5, 0, 17, ip4_a, ip4_b);
	l4(&udp4, 17, 1000, 53, 0);
	eth(&tcp4, NULL, 0, 0x0800);
	ip4(&tcp4, 5, 0, 6, ip4_a, ip4_b);
	l4(&tcp4, 6, 1000, 80, 0x12);
	eth(&udp6, NULL, 0, 0x86dd);
	ip6(&udp6, 17, ip6_a, ip6_b);
	l4(&udp6, 17, 1000, 53, 0);
	eth(&frag4, NULL, 0, 0x0800);
	ip4(&frag4, 5, 0x2000, 17, ip4_a, ip4_b);
	l4(&frag4, 17, 1000, 53, 0);
	eth(&icmp4, NULL, 0, 0x0800);
	ip4(&icmp4, 5, 0, 1, ip4_a, ip4_b);
	put_zero(&icmp4, 8);
	eth(&arp, NULL, 0, 0x0806);
	put_zero(&arp, 28);
	eth(&tagged4, tag7, 1, 0x0800);
	ip4(&tagged4, 5, 0, 17, ip4_a, ip4_b);
	l4(&tagged4, 17, 1000, 53, 0);
	eth(&prio4, tag0, 1, 0x0800);
	ip4(&prio4, 5, 0, 17, ip4_a, ip4_b);
	l4(&prio4, 17, 1000, 53, 0);

	/* prefixes: /0 is the whole family and only it; /32, /31, /128 */
	memset(&w, 0, sizeof(w));
	w.fields = VCAP_RULE_SADDR, w.family = 4, w.saddr_prefix = 0;
	CHECK(drops(&w, &udp4) && drops(&w, &icmp4) && !drops(&w, &udp6) && !drops(&w, &arp),
	      "IPv4 /0");
	w.family = 6;
	CHECK(!drops(&w, &udp4) && drops(&w, &udp6) && !drops(&w, &arp), "IPv6 /0");
	w.family = 4, w.saddr_prefix = 32;
	memcpy(w.saddr, ip4_a, 4);
	CHECK(drops(&w, &udp4) && !drops(&w, &udp6), "/32");
	w.saddr[3] ^= 1;
	CHECK(!drops(&w, &udp4), "/32 of the neighbour");
	w.saddr_prefix = 31;
	w.saddr[3] &= 0xfe;
	CHECK(drops(&w, &udp4), "/31");
	memset(&w, 0, sizeof(w));
	w.fields = VCAP_RULE_DADDR, w.family = 6, w.daddr_prefix = 128;
	memcpy(w.daddr, ip6_b, 16);
	CHECK(drops(&w, &udp6) && !drops(&w, &udp4), "/128");
	w.daddr[15] ^= 3;
	CHECK(!drops(&w, &udp6), "/128 of another");
	w.daddr_prefix = 120;
	w.daddr[15] = 0;
	CHECK(drops(&w, &udp6), "/120");

	/* ports: only packets that have them; ranges inclusive */
	memset(&w, 0, sizeof(w));
	w.fields = VCAP_RULE_SPORT, w.sport_lo = 0, w.sport_hi = 65535;
	CHECK(drops(&w, &udp4) && drops(&w, &tcp4) && !drops(&w, &frag4) && !drops(&w, &icmp4) &&
		      !drops(&w, &arp),
	      "sport 0..65535 needs ports");
	w.sport_lo = 1000, w.sport_hi = 1000;
	CHECK(drops(&w, &udp4), "sport 1000..1000");
	w.sport_lo = 1001, w.sport_hi = 2000;
	CHECK(!drops(&w, &udp4), "sport 1001..2000");
	memset(&w, 0, sizeof(w));
	w.fields = VCAP_RULE_DPORT, w.dport_lo = 53, w.dport_hi = 80;
	CHECK(drops(&w, &udp4) && drops(&w, &tcp4) && drops(&w, &udp6), "dport 53..80");
	w.dport_lo = 54;
	CHECK(!drops(&w, &udp4) && drops(&w, &tcp4), "dport 54..80");

	/* TCP flags: TCP only; mask 0 is any TCP packet */
	memset(&w, 0, sizeof(w));
	w.fields = VCAP_RULE_TCP_FLAGS, w.tcp_flags_mask = 0;
	CHECK(drops(&w, &tcp4) && !drops(&w, &udp4) && !drops(&w, &arp), "tcp flags mask 0");
	w.tcp_flags_mask = 0x12, w.tcp_flags = 0x12;
	CHECK(drops(&w, &tcp4), "SYN|ACK");
	w.tcp_flags_mask = 0x13, w.tcp_flags = 0x02;
	CHECK(!drops(&w, &tcp4), "SYN without ACK");

	/* proto needs IP: proto 0 must not match ARP (parsed proto 0) */
	memset(&w, 0, sizeof(w));
	w.fields = VCAP_RULE_PROTO, w.proto = 0;
	CHECK(!drops(&w, &arp), "proto 0 on ARP");
	w.proto = 17;
	CHECK(drops(&w, &udp4) && drops(&w, &udp6) && drops(&w, &frag4) && !drops(&w, &tcp4),
	      "proto 17");

	/* VLAN: tagged only, VLAN 0 included; ethertype after the tag */
	memset(&w, 0, sizeof(w));
	w.fields = VCAP_RULE_VLAN, w.vlan = 7;
	CHECK(drops(&w, &tagged4) && !drops(&w, &udp4) && !drops(&w, &prio4), "vlan 7");
	w.vlan = 0;
	CHECK(drops(&w, &prio4) && !drops(&w, &udp4) && !drops(&w, &tagged4), "vlan 0");
	memset(&w, 0, sizeof(w));
	w.fields = VCAP_RULE_ETHERTYPE, w.ethertype = 0x0800;
	CHECK(drops(&w, &tagged4) && drops(&w, &udp4) && !drops(&w, &udp6), "ethertype IPv4");
	w.ethertype = 0x8100;
	CHECK(!drops(&w, &tagged4), "ethertype is after the tag");

	/* MACs */
	memset(&w, 0, sizeof(w));
	w.fields = VCAP_RULE_SMAC | VCAP_RULE_DMAC;
	memcpy(w.smac, client_mac, 6);
	memcpy(w.dmac, server_mac, 6);
	CHECK(drops(&w, &arp) && drops(&w, &udp6), "MACs");
	memcpy(w.dmac, client_mac, 6);
	CHECK(!drops(&w, &arp), "dmac");

	/* a catch-all */
	memset(&w, 0, sizeof(w));
	CHECK(drops(&w, &arp) && drops(&w, &udp4), "fields 0 matches everything");
	printf("wildcard: corner cases hold\n");
}

static void test_wildcard_order_and_default(void)
{
	struct rules_limits lim = { .max_rules = 8, .max_flows = 0 };
	struct rules *r = rules_new(&lim);
	struct vcap_rule w;
	struct vcap_parsed p;
	struct fb udp4;
	uint64_t hits;
	char err[256];

	CHECK(r, "rules_new");
	CHECK(rules_trivial(r), "empty table is trivial");
	eth(&udp4, NULL, 0, 0x0800);
	ip4(&udp4, 5, 0, 17, ip4_a, ip4_b);
	l4(&udp4, 17, 1000, 53, 0);
	parsed_of(&udp4, &p);

	/* DROP id 20 added first, PASS id 10 second: 10 decides */
	memset(&w, 0, sizeof(w));
	w.id = 20, w.fields = VCAP_RULE_PROTO, w.proto = 17, w.action = VCAP_DROP;
	CHECK_EQ(rules_add(r, &w, err, sizeof(err)), 0);
	w.id = 10, w.fields = VCAP_RULE_DPORT, w.dport_lo = 53, w.dport_hi = 53;
	w.action = VCAP_PASS;
	CHECK_EQ(rules_add(r, &w, err, sizeof(err)), 0);
	CHECK(!rules_trivial(r), "rules present");
	CHECK(rules_pass(r, &p, 0), "id 10 comes first");
	CHECK(rules_pass(r, &p, 0), "id 10 comes first");
	CHECK_EQ(rules_hits(r, 10, &hits), 0);
	CHECK_EQ(hits, 2);
	CHECK_EQ(rules_hits(r, 20, &hits), 0);
	CHECK_EQ(hits, 0);
	CHECK_EQ(rules_add(r, &w, err, sizeof(err)), -EEXIST);
	CHECK(strstr(err, "id"), "EEXIST message: %s", err);
	CHECK_EQ(rules_remove(r, 10), 0);
	CHECK_EQ(rules_remove(r, 10), -ENOENT);
	CHECK_EQ(rules_hits(r, 10, &hits), -ENOENT);
	CHECK(!rules_pass(r, &p, 0), "id 20 now");
	CHECK_EQ(rules_remove(r, 20), 0);
	CHECK(rules_trivial(r), "trivial again");

	/* the default */
	CHECK_EQ(rules_set_default(r, 0), -EINVAL);
	CHECK_EQ(rules_set_default(r, 3), -EINVAL);
	CHECK_EQ(rules_set_default(r, VCAP_DROP), 0);
	CHECK(!rules_trivial(r) && !rules_pass(r, &p, 0), "default drop");
	CHECK_EQ(rules_set_default(r, VCAP_PASS), 0);
	CHECK(rules_trivial(r) && rules_pass(r, &p, 0), "default pass");

	/* the limit */
	for (uint32_t i = 0; i < lim.max_rules; i++) {
		memset(&w, 0, sizeof(w));
		w.id = 100 - i, w.action = VCAP_PASS;
		CHECK_EQ(rules_add(r, &w, err, sizeof(err)), 0);
	}
	w.id = 1000;
	CHECK_EQ(rules_add(r, &w, err, sizeof(err)), -ENOSPC);
	CHECK(strstr(err, "max_rules"), "ENOSPC message: %s", err);
	CHECK_EQ(rules_count(r), lim.max_rules);
	rules_free(r);
	printf("wildcard: first match by id, default, limits\n");
}

static void test_wildcard_validation(void)
{
	struct rules_limits lim = { .max_rules = 8, .max_flows = 0 };
	struct rules *r = rules_new(&lim);
	struct vcap_rule good, w;
	char err[256];
	int rc;

	CHECK(r, "rules_new");
	memset(&good, 0, sizeof(good));
	good.id = 1, good.action = VCAP_DROP;

#define EXPECT_EINVAL(field, ...)                                                         \
	do {                                                                              \
		w = good;                                                                 \
		__VA_ARGS__;                                                              \
		err[0] = 0;                                                               \
		rc = rules_add(r, &w, err, sizeof(err));                                  \
		CHECK(rc == -EINVAL && strstr(err, field), "%s: rc %d, \"%s\"", #__VA_ARGS__, \
		      rc, err);                                                           \
	} while (0)

	EXPECT_EINVAL("fields", w.fields = 0x400);
	EXPECT_EINVAL("fields", w.fields = 0x80000000u);
	EXPECT_EINVAL("action", w.action = 0);
	EXPECT_EINVAL("action", w.action = 3);
	EXPECT_EINVAL("pad", w.pad[1] = 1);
	EXPECT_EINVAL("vlan", w.fields = VCAP_RULE_VLAN, w.vlan = 4096);
	EXPECT_EINVAL("family", w.fields = VCAP_RULE_SADDR, w.family = 0);
	EXPECT_EINVAL("family", w.fields = VCAP_RULE_DADDR, w.family = 5);
	EXPECT_EINVAL("saddr_prefix", w.fields = VCAP_RULE_SADDR, w.family = 4,
		      w.saddr_prefix = 33);
	EXPECT_EINVAL("daddr_prefix", w.fields = VCAP_RULE_DADDR, w.family = 6,
		      w.daddr_prefix = 129);
	EXPECT_EINVAL("saddr", w.fields = VCAP_RULE_SADDR, w.family = 4, w.saddr_prefix = 8,
		      w.saddr[0] = 10, w.saddr[1] = 1);
	EXPECT_EINVAL("saddr", w.fields = VCAP_RULE_SADDR, w.family = 4, w.saddr_prefix = 32,
		      w.saddr[4] = 1);
	EXPECT_EINVAL("daddr", w.fields = VCAP_RULE_DADDR, w.family = 6, w.daddr_prefix = 127,
		      w.daddr[15] = 1);
	EXPECT_EINVAL("sport", w.fields = VCAP_RULE_SPORT, w.sport_lo = 81, w.sport_hi = 80);
	EXPECT_EINVAL("dport", w.fields = VCAP_RULE_DPORT, w.dport_lo = 2, w.dport_hi = 1);
	EXPECT_EINVAL("sport/dport", w.fields = VCAP_RULE_DPORT | VCAP_RULE_PROTO, w.proto = 1,
		      w.dport_hi = 1);
	EXPECT_EINVAL("tcp_flags", w.fields = VCAP_RULE_TCP_FLAGS, w.tcp_flags = 0x03,
		      w.tcp_flags_mask = 0x02);
	EXPECT_EINVAL("tcp_flags", w.fields = VCAP_RULE_TCP_FLAGS | VCAP_RULE_PROTO,
		      w.proto = 17);
#undef EXPECT_EINVAL

	/* fields not named are not looked at */
	w = good;
	w.vlan = 60000, w.family = 9, w.saddr_prefix = 200, w.sport_lo = 9, w.sport_hi = 1;
	w.tcp_flags = 0xff;
	CHECK_EQ(rules_add(r, &w, err, sizeof(err)), 0);
	/* the edges that are valid */
	w = good;
	w.id = 2, w.fields = VCAP_RULE_VLAN | VCAP_RULE_SADDR | VCAP_RULE_DADDR, w.vlan = 4095;
	w.family = 6, w.saddr_prefix = 128, w.daddr_prefix = 0;
	memset(w.saddr, 0xff, 16);
	CHECK_EQ(rules_add(r, &w, err, sizeof(err)), 0);
	CHECK_EQ(rules_count(r), 2);
	rules_free(r);
	printf("wildcard: validation names the field\n");
}

/* ---- flow rules ----------------------------------------------------------- */

static void flow_of(const struct vcap_synth_tuple *t, struct vcap_flow *f, bool swap)
{
	memset(f, 0, sizeof(*f));
	f->family = t->family;
	f->proto = t->proto;
	memcpy(f->addr_a, swap ? t->dst : t->src, 16);
	memcpy(f->addr_b, swap ? t->src : t->dst, 16);
	f->port_a = swap ? t->dport : t->sport;
	f->port_b = swap ? t->sport : t->dport;
}

/* A synth packet, parsed. */
static void synth_parsed(const struct vcap_synth *s, uint64_t n, struct vcap_parsed *p)
{
	uint8_t frame[VCAP_SYNTH_SIZE_MAX];

	vcap_synth_frame(s, n, frame);
	vcap_parse(frame, s->cfg.size, p);
}

#define MS 1000000ull

static void test_flows_basic(void)
{
	const struct vcap_synth_cfg c = { .size = 100, .flows = 64, .proto = VCAP_SYNTH_MIX,
					  .ipv6_pct = 50 };
	struct rules_limits lim = { .max_rules = 4, .max_flows = 16 };
	struct vcap_synth s;
	struct vcap_synth_tuple t;
	struct vcap_flow f, g;
	struct vcap_parsed fwd, rev, other;
	struct rules *r = rules_new(&lim);
	uint64_t hits;
	char err[256];

	CHECK(r, "rules_new");
	synth_or_die(&s, &c);
	for (uint64_t flow = 0; flow < 4; flow++) {
		vcap_synth_tuple(&s, flow, &t);
		synth_parsed(&s, flow, &fwd);
		synth_parsed(&s, flow + c.flows, &rev);
		synth_parsed(&s, flow + 1, &other);

		flow_of(&t, &f, flow & 1); /* named either way round */
		CHECK_EQ(rules_flow_add(r, &f, VCAP_DROP, 0, 0, err, sizeof(err)), 0);
		CHECK(!rules_trivial(r), "a flow makes the table non-trivial");
		CHECK(!rules_pass(r, &fwd, 1) && !rules_pass(r, &rev, 2), "both directions");
		CHECK(rules_pass(r, &other, 3), "another flow passes");
		flow_of(&t, &g, !(flow & 1));
		CHECK_EQ(rules_flow_add(r, &f, VCAP_PASS, 0, 0, err, sizeof(err)), -EEXIST);
		CHECK_EQ(rules_flow_add(r, &g, VCAP_DROP, 0, 0, err, sizeof(err)), -EEXIST);
		CHECK(strstr(err, "flow"), "EEXIST message: %s", err);
		/* other ports, or another protocol, are another flow */
		g.port_b++;
		CHECK_EQ(rules_flow_add(r, &g, VCAP_DROP, 0, 0, err, sizeof(err)), 0);
		CHECK_EQ(rules_flow_remove(r, &g, NULL), 0);
		flow_of(&t, &g, !(flow & 1));
		g.proto = g.proto == 6 ? 17 : 6;
		CHECK_EQ(rules_flow_add(r, &g, VCAP_DROP, 0, 0, err, sizeof(err)), 0);
		CHECK_EQ(rules_flow_remove(r, &g, NULL), 0);
		CHECK(!rules_pass(r, &fwd, 4), "still there");
		/* remove by the other direction */
		flow_of(&t, &g, !(flow & 1));
		CHECK_EQ(rules_flow_remove(r, &g, &hits), 0);
		CHECK_EQ(hits, 3);
		CHECK_EQ(rules_flow_remove(r, &f, &hits), -ENOENT);
		CHECK(rules_pass(r, &fwd, 5) && rules_pass(r, &rev, 6), "removed");
		CHECK(rules_trivial(r), "trivial again");
	}

	/* both ends on one address: the ports alone tell the directions apart */
	{
		struct fb fr;
		struct vcap_parsed p;

		memset(&f, 0, sizeof(f));
		f.family = 4, f.proto = 17, f.port_a = 2000, f.port_b = 1000;
		memcpy(f.addr_a, ip4_a, 4);
		memcpy(f.addr_b, ip4_a, 4);
		CHECK_EQ(rules_flow_add(r, &f, VCAP_DROP, 0, 0, err, sizeof(err)), 0);
		for (int dir = 0; dir < 2; dir++) {
			eth(&fr, NULL, 0, 0x0800);
			ip4(&fr, 5, 0, 17, ip4_a, ip4_a);
			l4(&fr, 17, dir ? 1000 : 2000, dir ? 2000 : 1000, 0);
			parsed_of(&fr, &p);
			CHECK(!rules_pass(r, &p, 0), "same address, direction %d", dir);
		}
		eth(&fr, NULL, 0, 0x0800);
		ip4(&fr, 5, 0, 17, ip4_a, ip4_a);
		l4(&fr, 17, 1000, 1000, 0);
		parsed_of(&fr, &p);
		CHECK(rules_pass(r, &p, 0), "same address, other ports");
		g = f;
		g.port_a = 1000, g.port_b = 2000;
		CHECK_EQ(rules_flow_add(r, &g, VCAP_DROP, 0, 0, err, sizeof(err)), -EEXIST);
		CHECK_EQ(rules_flow_remove(r, &g, &hits), 0);
		CHECK_EQ(hits, 2);
	}

	/* flows before wildcard rules */
	{
		struct vcap_rule all;

		memset(&all, 0, sizeof(all));
		all.id = 1, all.action = VCAP_DROP;
		CHECK_EQ(rules_add(r, &all, err, sizeof(err)), 0);
		vcap_synth_tuple(&s, 5, &t);
		synth_parsed(&s, 5, &fwd);
		synth_parsed(&s, 6, &other);
		flow_of(&t, &f, false);
		CHECK_EQ(rules_flow_add(r, &f, VCAP_PASS, 0, 0, err, sizeof(err)), 0);
		CHECK(rules_pass(r, &fwd, 0) && !rules_pass(r, &other, 0), "flow first");
		CHECK_EQ(rules_hits(r, 1, &hits), 0);
		CHECK_EQ(hits, 1);
		CHECK_EQ(rules_flow_remove(r, &f, &hits), 0);
		CHECK_EQ(hits, 1);
		CHECK_EQ(rules_remove(r, 1), 0);
	}

	/* validation */
	vcap_synth_tuple(&s, 0, &t);
	flow_of(&t, &f, false);
#define EXPECT_FLOW_EINVAL(field, action, ...)                                            \
	do {                                                                              \
		g = f;                                                                    \
		__VA_ARGS__;                                                              \
		err[0] = 0;                                                               \
		int rc_ = rules_flow_add(r, &g, action, 0, 0, err, sizeof(err));          \
		CHECK(rc_ == -EINVAL && strstr(err, field), "%s: rc %d \"%s\"", #__VA_ARGS__, \
		      rc_, err);                                                          \
	} while (0)
	EXPECT_FLOW_EINVAL("family", VCAP_DROP, g.family = 0);
	EXPECT_FLOW_EINVAL("family", VCAP_DROP, g.family = 5);
	EXPECT_FLOW_EINVAL("action", 0, (void)0);
	EXPECT_FLOW_EINVAL("action", 7, (void)0);
	EXPECT_FLOW_EINVAL("pad", VCAP_DROP, g.pad = 1);
	EXPECT_FLOW_EINVAL("addr", VCAP_DROP, g.family = 4, g.addr_b[9] = 1);
	EXPECT_FLOW_EINVAL("port", VCAP_DROP, g.proto = 1, g.port_a = 1);
#undef EXPECT_FLOW_EINVAL
	CHECK_EQ(rules_flow_remove(r, &f, NULL), -ENOENT);
	CHECK(rules_trivial(r), "nothing was added");
	rules_free(r);
	printf("flows: both directions, duplicates, removal, precedence, validation\n");
}

/* ICMP has no ports: flows with ports 0 name it, fragments included. */
static void test_flows_portless(void)
{
	struct rules_limits lim = { .max_rules = 4, .max_flows = 16 };
	struct rules *r = rules_new(&lim);
	struct vcap_flow f;
	struct vcap_parsed p;
	struct fb fr;
	uint64_t hits;
	char err[256];

	CHECK(r, "rules_new");
	memset(&f, 0, sizeof(f));
	f.family = 4, f.proto = 1;
	memcpy(f.addr_a, ip4_b, 4);
	memcpy(f.addr_b, ip4_a, 4);
	CHECK_EQ(rules_flow_add(r, &f, VCAP_DROP, 0, 0, err, sizeof(err)), 0);

	eth(&fr, NULL, 0, 0x0800);
	ip4(&fr, 5, 0, 1, ip4_a, ip4_b);
	put_zero(&fr, 8);
	parsed_of(&fr, &p);
	CHECK(!rules_pass(r, &p, 0), "ICMP a->b");
	eth(&fr, NULL, 0, 0x0800);
	ip4(&fr, 5, 0x0020, 1, ip4_b, ip4_a); /* a later fragment, other direction */
	put_zero(&fr, 8);
	parsed_of(&fr, &p);
	CHECK(!rules_pass(r, &p, 0), "ICMP fragment b->a");
	eth(&fr, NULL, 0, 0x0800);
	ip4(&fr, 5, 0, 17, ip4_a, ip4_b);
	l4(&fr, 17, 0, 0, 0);
	parsed_of(&fr, &p);
	CHECK(rules_pass(r, &p, 0), "UDP between the same addresses is another flow");

	/* UDP flows need their ports, so their fragments never match them */
	memset(&f, 0, sizeof(f));
	f.family = 4, f.proto = 17, f.port_a = 1000, f.port_b = 53;
	memcpy(f.addr_a, ip4_a, 4);
	memcpy(f.addr_b, ip4_b, 4);
	CHECK_EQ(rules_flow_add(r, &f, VCAP_DROP, 0, 0, err, sizeof(err)), 0);
	eth(&fr, NULL, 0, 0x0800);
	ip4(&fr, 5, 0x2000, 17, ip4_a, ip4_b);
	l4(&fr, 17, 1000, 53, 0);
	parsed_of(&fr, &p);
	CHECK(rules_pass(r, &p, 0), "a UDP fragment does not meet the UDP flow");
	eth(&fr, NULL, 0, 0x0800);
	ip4(&fr, 5, 0x4000, 17, ip4_b, ip4_a);
	l4(&fr, 17, 53, 1000, 0);
	parsed_of(&fr, &p);
	CHECK(!rules_pass(r, &p, 0), "the UDP reply does");
	/* UDP with ports 0 is a real UDP flow too, distinct from port-less ones */
	f.port_a = f.port_b = 0;
	CHECK_EQ(rules_flow_add(r, &f, VCAP_PASS, 0, 0, err, sizeof(err)), 0);

	/* ICMPv6 */
	memset(&f, 0, sizeof(f));
	f.family = 6, f.proto = 58;
	memcpy(f.addr_a, ip6_a, 16);
	memcpy(f.addr_b, ip6_b, 16);
	CHECK_EQ(rules_flow_add(r, &f, VCAP_DROP, 0, 0, err, sizeof(err)), 0);
	eth(&fr, NULL, 0, 0x86dd);
	ip6(&fr, 58, ip6_b, ip6_a);
	put_zero(&fr, 8);
	parsed_of(&fr, &p);
	CHECK(!rules_pass(r, &p, 0), "ICMPv6 b->a");
	CHECK_EQ(rules_flow_remove(r, &f, &hits), 0);
	CHECK_EQ(hits, 1);
	rules_free(r);
	printf("flows: port-less protocols by address pair, fragments of port protocols apart\n");
}

static void test_flows_expiry(void)
{
	const struct vcap_synth_cfg c = { .size = 100, .flows = 20000, .proto = VCAP_SYNTH_MIX,
					  .ipv6_pct = 40 };
	const uint32_t N = 5000;
	struct rules_limits lim = { .max_rules = 4, .max_flows = N };
	struct rules *r = rules_new(&lim);
	struct vcap_synth s;
	struct vcap_synth_tuple t;
	struct vcap_flow f;
	struct vcap_parsed p, q;
	uint64_t hits, now = 1000 * MS;
	uint32_t calls, keep = 0;
	char err[256];

	CHECK(r, "rules_new");
	synth_or_die(&s, &c);

	/* on the spot: an idle flow is removed by the packet that finds it, not applied */
	vcap_synth_tuple(&s, 0, &t);
	flow_of(&t, &f, false);
	synth_parsed(&s, 0, &p);
	synth_parsed(&s, c.flows, &q);
	CHECK_EQ(rules_flow_add(r, &f, VCAP_DROP, 100, now, err, sizeof(err)), 0);
	CHECK(!rules_pass(r, &p, now + 99 * MS), "not idle yet");
	CHECK(!rules_pass(r, &q, now + 198 * MS), "refreshed by the last packet");
	CHECK_EQ(rules_flow_count(r), 1);
	CHECK(rules_pass(r, &p, now + 298 * MS), "idle for 100 ms: gone");
	CHECK_EQ(rules_flow_count(r), 0);
	CHECK_EQ(rules_flow_remove(r, &f, NULL), -ENOENT);
	rules_expire(r, now + 299 * MS);
	CHECK(rules_trivial(r), "trivial once the last flow went");

	/* an idle flow nobody touched is gone for remove and replaced by add */
	CHECK_EQ(rules_flow_add(r, &f, VCAP_DROP, 100, now, err, sizeof(err)), 0);
	synth_parsed(&s, 1, &q);
	rules_pass(r, &q, now + 150 * MS); /* another flow's packet brings the clock */
	CHECK_EQ(rules_flow_remove(r, &f, &hits), -ENOENT);
	CHECK_EQ(rules_flow_add(r, &f, VCAP_DROP, 100, now, err, sizeof(err)), 0);
	CHECK_EQ(rules_flow_add(r, &f, VCAP_PASS, 0, now + 150 * MS, err, sizeof(err)), 0);
	CHECK(rules_pass(r, &p, now + 10000 * MS), "the replacement, which never expires");
	CHECK_EQ(rules_flow_remove(r, &f, &hits), 0);
	CHECK_EQ(hits, 1);

	/* rules_expire() reclaims flows no packet ever meets again, in bounded calls */
	for (uint32_t i = 0; i < N; i++) {
		uint32_t idle = i % 5 == 0 ? 0 : 1 + i % 1000;

		vcap_synth_tuple(&s, i, &t);
		flow_of(&t, &f, i & 1);
		CHECK_EQ(rules_flow_add(r, &f, VCAP_DROP, idle, now, err, sizeof(err)), 0);
		keep += !idle;
	}
	CHECK_EQ(rules_flow_count(r), N);
	/* busy: a call every microsecond; a sweep is at most buckets / 64 calls */
	now += 2000 * MS;
	for (calls = 0; rules_flow_count(r) > keep; calls++) {
		CHECK(calls <= 4 * N / 64 + 2, "after %u calls %u flows are left", calls,
		      rules_flow_count(r));
		rules_expire(r, now);
		now += 1000;
	}
	printf("flows: %u idle flows reclaimed in %u busy rules_expire() calls\n", N - keep,
	       calls);
	for (uint32_t i = 0; i < N; i++) {
		synth_parsed(&s, i, &p);
		CHECK(rules_pass(r, &p, now) == (i % 5 != 0), "flow %u after expiry", i);
	}

	/*
	 * idle: a call every 500 ms scans half a second's share of the sweep
	 * (half of this small table), so two calls cover it
	 */
	for (uint32_t i = 0; i < N; i += 5) {
		vcap_synth_tuple(&s, i, &t);
		flow_of(&t, &f, false);
		CHECK_EQ(rules_flow_remove(r, &f, NULL), 0);
		CHECK_EQ(rules_flow_add(r, &f, VCAP_DROP, 1, now, err, sizeof(err)), 0);
	}
	rules_expire(r, now);
	for (calls = 0; rules_flow_count(r); calls++) {
		CHECK(calls < 3, "after %u idle calls %u flows are left", calls,
		      rules_flow_count(r));
		now += 500 * MS;
		rules_expire(r, now);
	}
	printf("flows: %u idle flows reclaimed in %u idle rules_expire() calls\n", keep, calls);
	CHECK(rules_trivial(r), "all gone");
	rules_free(r);
}

static void test_flows_full_and_churn(void)
{
	const struct vcap_synth_cfg c = { .size = 100, .flows = 12000, .proto = VCAP_SYNTH_MIX,
					  .ipv6_pct = 35, .vlan = 12 };
	const uint32_t MAX = 4096, POOL = 12000;
	struct rules_limits lim = { .max_rules = 4, .max_flows = MAX };
	struct rules *r = rules_new(&lim);
	struct vcap_synth s;
	struct vcap_synth_tuple t;
	struct vcap_flow f;
	struct vcap_parsed *fwd = calloc(POOL, sizeof(*fwd)), *rev = calloc(POOL, sizeof(*rev));
	uint64_t *hits = calloc(POOL, sizeof(*hits)), h;
	bool *in = calloc(POOL, sizeof(*in));
	uint32_t count = 0, ops = 0;
	char err[256];
	int rc;

	CHECK(r && fwd && rev && hits && in, "alloc");
	synth_or_die(&s, &c);
	for (uint32_t i = 0; i < POOL; i++) {
		synth_parsed(&s, i, &fwd[i]);
		synth_parsed(&s, i + c.flows, &rev[i]);
	}

	/* fill, then one more */
	for (uint32_t i = 0; i < MAX; i++) {
		vcap_synth_tuple(&s, i, &t);
		flow_of(&t, &f, i % 3 == 0);
		CHECK_EQ(rules_flow_add(r, &f, VCAP_DROP, 0, 0, err, sizeof(err)), 0);
		in[i] = true;
		count++;
	}
	vcap_synth_tuple(&s, MAX, &t);
	flow_of(&t, &f, false);
	CHECK_EQ(rules_flow_add(r, &f, VCAP_DROP, 0, 0, err, sizeof(err)), -ENOSPC);
	CHECK(strstr(err, "max_flows"), "ENOSPC message: %s", err);
	/* a duplicate of a present flow is still -EEXIST when full */
	vcap_synth_tuple(&s, 7, &t);
	flow_of(&t, &f, true);
	CHECK_EQ(rules_flow_add(r, &f, VCAP_DROP, 0, 0, err, sizeof(err)), -EEXIST);

	/* churn against a shadow set; every present flow found after each round */
	for (int round = 0; round < 40; round++) {
		for (int k = 0; k < 5000; k++, ops++) {
			uint32_t i = rnd_below(POOL);

			vcap_synth_tuple(&s, i, &t);
			flow_of(&t, &f, rnd_below(2));
			if (in[i]) {
				rc = rules_flow_remove(r, &f, &h);
				CHECK(rc == 0 && h == hits[i], "remove %u: rc %d hits %llu/%llu", i, rc,
				      (unsigned long long)h, (unsigned long long)hits[i]);
				in[i] = false, hits[i] = 0, count--;
			} else {
				rc = rules_flow_add(r, &f, VCAP_DROP, 0, 0, err, sizeof(err));
				CHECK(rc == (count < MAX ? 0 : -ENOSPC), "add %u: rc %d (%u flows)", i,
				      rc, count);
				if (!rc)
					in[i] = true, count++;
			}
		}
		CHECK_EQ(rules_flow_count(r), count);
		for (uint32_t i = 0; i < POOL; i++) {
			const struct vcap_parsed *p = rnd_below(2) ? &fwd[i] : &rev[i];

			CHECK(rules_pass(r, p, 0) == !in[i], "round %d: flow %u is %s but %s", round,
			      i, in[i] ? "in" : "out", in[i] ? "passes" : "is dropped");
			hits[i] += in[i];
		}
	}
	/* and everything out again */
	for (uint32_t i = 0; i < POOL; i++) {
		if (!in[i])
			continue;
		vcap_synth_tuple(&s, i, &t);
		flow_of(&t, &f, false);
		CHECK_EQ(rules_flow_remove(r, &f, &h), 0);
		CHECK_EQ(h, hits[i]);
	}
	CHECK_EQ(rules_flow_count(r), 0);
	CHECK(rules_trivial(r), "empty");
	printf("flows: filled to %u, %u add/remove operations, every flow found each round\n",
	       MAX, ops);
	rules_free(r);
	free(fwd), free(rev), free(hits), free(in);
}

/*
 * Growing moves entries from the old table to the new one a few clusters
 * per call: everything must stay findable, removable and expirable while
 * entries sit in either table.  Every step is checked against a shadow set
 * that knows each flow's idle timeout and last packet.
 */
struct shadow {
	bool *in;
	uint64_t *last;
	uint32_t count;
};

#define GROWTH_IDLE_MS 50

static bool growth_idle(uint32_t k)
{
	return k % 7 == 0;
}

static bool shadow_dead(const struct shadow *sh, uint32_t k, uint64_t now)
{
	return sh->in[k] && growth_idle(k) && now - sh->last[k] >= GROWTH_IDLE_MS * MS;
}

static void shadow_drop(struct shadow *sh, uint32_t k)
{
	if (sh->in[k])
		sh->in[k] = false, sh->count--;
}

static void test_flows_growth(void)
{
	const struct vcap_synth_cfg c = { .size = 100, .flows = 40000, .proto = VCAP_SYNTH_MIX,
					  .ipv6_pct = 20 };
	const uint32_t MAX = 30000, POOL = 40000;
	struct rules_limits lim = { .max_rules = 4, .max_flows = MAX };
	struct rules *r = rules_new(&lim);
	struct shadow sh = { calloc(POOL, sizeof(bool)), calloc(POOL, sizeof(uint64_t)), 0 };
	struct vcap_synth s;
	struct vcap_synth_tuple t;
	struct vcap_flow f;
	struct vcap_parsed p;
	uint32_t checks = 0, next = 0;
	uint64_t now = 1000 * MS;
	char err[256];
	int rc;

	CHECK(r && sh.in && sh.last, "alloc");
	synth_or_die(&s, &c);
	while (next < POOL) {
		uint32_t i = next++;

		vcap_synth_tuple(&s, i, &t);
		flow_of(&t, &f, i & 1);
		rc = rules_flow_add(r, &f, VCAP_DROP, growth_idle(i) ? GROWTH_IDLE_MS : 0, now, err,
				    sizeof(err));
		CHECK(rc == (sh.count < MAX ? 0 : -ENOSPC), "add %u: %d (%u flows) %s", i, rc,
		      sh.count, err);
		if (!rc)
			sh.in[i] = true, sh.last[i] = now, sh.count++;
		now += 100000; /* 0.1 ms per add: an idle flow dies 500 adds later */

		/* now and then remove one, by either direction */
		if (rnd_below(4) == 0) {
			uint32_t k = rnd_below(next);

			vcap_synth_tuple(&s, k, &t);
			flow_of(&t, &f, rnd_below(2));
			rc = rules_flow_remove(r, &f, NULL);
			/* rules_flow_remove() knows the clock of the last call before it */
			CHECK(rc == (sh.in[k] && !shadow_dead(&sh, k, now - 100000) ? 0 : -ENOENT),
			      "remove %u: %d (in %d)", k, rc, sh.in[k]);
			shadow_drop(&sh, k);
		}
		/* look a few up, both directions, dead ones included */
		for (int j = 0; j < 6; j++) {
			uint32_t k = j ? rnd_below(next) : i;
			bool live = sh.in[k] && !shadow_dead(&sh, k, now);

			synth_parsed(&s, k + (rnd_below(2) ? c.flows : 0), &p);
			CHECK(rules_pass(r, &p, now) == !live, "step %u: flow %u (in %d)", i, k,
			      sh.in[k]);
			if (live)
				sh.last[k] = now;
			else
				shadow_drop(&sh, k); /* the packet removed it */
			checks++;
		}
		if (rnd_below(8) == 0) {
			rules_expire(r, now);
			/* whatever it reclaimed was dead; reclaim the rest by hand */
			for (uint32_t k = 0; k < next; k += 7) {
				if (!shadow_dead(&sh, k, now))
					continue;
				vcap_synth_tuple(&s, k, &t);
				flow_of(&t, &f, false);
				CHECK_EQ(rules_flow_remove(r, &f, NULL), -ENOENT);
				shadow_drop(&sh, k);
			}
		}
		CHECK(rules_flow_count(r) == sh.count, "step %u: %u flows, expected %u", i,
		      rules_flow_count(r), sh.count);
	}
	for (uint32_t k = 0; k < next; k++) {
		synth_parsed(&s, k, &p);
		CHECK(rules_pass(r, &p, now) == !(sh.in[k] && !shadow_dead(&sh, k, now)),
		      "end: flow %u", k);
	}
	printf("flows: grew to %u flows with %u lookups, removals and expiries in between\n",
	       sh.count, checks);
	rules_free(r);
	free(sh.in), free(sh.last);
}

static void test_limits(void)
{
	struct rules_limits lim = { .max_rules = 0, .max_flows = 0 };
	struct rules *r = rules_new(&lim);
	struct vcap_rule w;
	struct vcap_flow f;
	char err[256];

	CHECK(r, "rules_new with zero limits");
	memset(&w, 0, sizeof(w));
	w.action = VCAP_PASS;
	CHECK_EQ(rules_add(r, &w, err, sizeof(err)), -ENOSPC);
	memset(&f, 0, sizeof(f));
	f.family = 4, f.proto = 17;
	CHECK_EQ(rules_flow_add(r, &f, VCAP_PASS, 0, 0, err, sizeof(err)), -ENOSPC);
	CHECK_EQ(rules_flow_add(r, &f, VCAP_PASS, 0, 0, NULL, 0), -ENOSPC);
	rules_free(r);
	rules_free(NULL);
}

/* ---- timings ------------------------------------------------------------- */

#define BENCH_PKTS 4096u

static double bench_pass(struct rules *r, const struct vcap_parsed *p, uint32_t n_pkts,
			 uint32_t iters, bool want)
{
	uint64_t t0 = now_mono(), bad = 0;

	for (uint32_t i = 0; i < iters; i++)
		bad += rules_pass(r, &p[i % n_pkts], 0) != want;
	CHECK(!bad, "benchmark verdicts went wrong (%llu)", (unsigned long long)bad);
	return (double)(now_mono() - t0) / iters;
}

static void bench(void)
{
	const struct vcap_synth_cfg c = { .size = 64, .flows = 100000, .proto = VCAP_SYNTH_UDP };
	const struct vcap_synth_cfg cm = { .size = 64, .flows = 300000, .proto = VCAP_SYNTH_UDP };
	const uint32_t iters = 4000000;
	static uint8_t frames[256][64];
	struct rules_limits lim = { .max_rules = 16, .max_flows = 100000 };
	struct vcap_parsed *hit = calloc(1u << 16, sizeof(*hit)), *miss;
	struct vcap_synth s, sm;
	struct vcap_parsed p;
	struct rules *r;
	uint64_t t0, sum = 0;
	double ns_parse, ns_hash, ns_triv, ns_wild, ns_hit, ns_miss, ns_fill;
	uint64_t slowest_add = 0;
	char err[256];

	miss = calloc(1u << 16, sizeof(*miss));
	CHECK(hit && miss, "alloc");
	synth_or_die(&s, &c);
	synth_or_die(&sm, &cm);
	for (uint32_t i = 0; i < 256; i++)
		vcap_synth_frame(&s, i * 7919u, frames[i]);

	t0 = now_mono();
	for (uint32_t i = 0; i < iters; i++) {
		vcap_parse(frames[i & 255], 64, &p);
		escape(&p);
	}
	ns_parse = (double)(now_mono() - t0) / iters;
	t0 = now_mono();
	for (uint32_t i = 0; i < iters; i++)
		sum += vcap_flow_hash(frames[i & 255], 64, VCAP_HASH_5TUPLE);
	ns_hash = (double)(now_mono() - t0) / iters;
	escape(&sum);

	for (uint32_t i = 0; i < (1u << 16); i++) {
		/* hits: random packets of the 100k flows; misses: flows 100k..300k */
		synth_parsed(&s, test_rand(&rng) % (1ull << 30), &hit[i]);
		synth_parsed(&sm, c.flows + test_rand(&rng) % (cm.flows - c.flows), &miss[i]);
	}

	r = rules_new(&lim);
	CHECK(r, "rules_new");
	ns_triv = bench_pass(r, hit, 1u << 16, iters, true);

	/* ten rules of the usual kinds, none matching generator traffic */
	for (uint32_t i = 0; i < 10; i++) {
		struct vcap_rule w;

		memset(&w, 0, sizeof(w));
		w.id = i, w.action = VCAP_DROP;
		switch (i % 5) {
		case 0:
			w.fields = VCAP_RULE_SADDR, w.family = 4, w.saddr_prefix = 16;
			w.saddr[0] = 192, w.saddr[1] = (uint8_t)(168 + i);
			break;
		case 1:
			w.fields = VCAP_RULE_DPORT | VCAP_RULE_PROTO, w.proto = 6;
			w.dport_lo = 8000, w.dport_hi = (uint16_t)(8000 + i);
			break;
		case 2:
			w.fields = VCAP_RULE_VLAN, w.vlan = (uint16_t)(100 + i);
			break;
		case 3:
			w.fields = VCAP_RULE_TCP_FLAGS, w.tcp_flags = 2, w.tcp_flags_mask = 0x12;
			break;
		default:
			w.fields = VCAP_RULE_DADDR | VCAP_RULE_SPORT, w.family = 6;
			w.daddr_prefix = 8, w.daddr[0] = 0xfe, w.sport_hi = 1023;
			break;
		}
		CHECK_EQ(rules_add(r, &w, err, sizeof(err)), 0);
	}
	ns_wild = bench_pass(r, hit, 1u << 16, iters, true);
	rules_free(r);

	r = rules_new(&lim);
	CHECK(r, "rules_new");
	t0 = now_mono();
	for (uint32_t i = 0; i < c.flows; i++) {
		struct vcap_synth_tuple t;
		struct vcap_flow f;
		uint64_t t1;

		vcap_synth_tuple(&s, i, &t);
		flow_of(&t, &f, false);
		t1 = now_mono();
		CHECK_EQ(rules_flow_add(r, &f, VCAP_DROP, 60000, 0, err, sizeof(err)), 0);
		t1 = now_mono() - t1;
		slowest_add = t1 > slowest_add ? t1 : slowest_add;
	}
	ns_fill = (double)(now_mono() - t0) / c.flows;
	ns_hit = bench_pass(r, hit, 1u << 16, iters, false);
	ns_miss = bench_pass(r, miss, 1u << 16, iters, true);
	rules_free(r);
	free(hit), free(miss);

	printf("bench: vcap_parse %.1f ns/pkt, vcap_flow_hash %.1f ns/pkt (IPv4/UDP, 64 B)\n",
	       ns_parse, ns_hash);
	printf("bench: rules_pass %.1f ns trivial, %.1f ns 10 wildcard rules none matching, "
	       "%.1f ns 100k flows hit, %.1f ns 100k flows miss\n",
	       ns_triv, ns_wild, ns_hit, ns_miss);
	printf("bench: rules_flow_add %.0f ns per flow filling 100k (with the synth tuple), "
	       "slowest %.2f ms\n",
	       ns_fill, slowest_add / 1e6);
}

/* ---- flow hits and listings --------------------------------------------- */

struct listed {
	uint32_t times;
};

/* The index of flow f among the first n of s (named either way), or -1. */
static int64_t flow_index(const struct vcap_synth *s, const struct vcap_flow *f, uint32_t n)
{
	struct vcap_synth_tuple t;
	struct vcap_flow g;

	for (uint32_t i = 0; i < n; i++) {
		vcap_synth_tuple(s, i, &t);
		flow_of(&t, &g, false);
		if (!memcmp(&g, f, sizeof(g)))
			return i;
		flow_of(&t, &g, true);
		if (!memcmp(&g, f, sizeof(g)))
			return i;
	}
	return -1;
}

/*
 * List r whole in pages of `page`, calling between(k) before page k > 0.
 * Count how often each flow of s (of the first pool) was listed.
 * @return pages read.
 */
static unsigned list_all(struct rules *r, const struct vcap_synth *s, uint32_t pool,
			 uint32_t page, uint64_t now, struct listed *seen,
			 void (*between)(unsigned k), bool check_fields)
{
	struct vcap_flow_stat *out = calloc(page, sizeof(*out));
	uint64_t cursor = 0, next;
	unsigned pages = 0;

	CHECK(out, "calloc");
	memset(seen, 0, pool * sizeof(*seen));
	do {
		uint32_t n;

		if (pages && between)
			between(pages);
		n = rules_flow_list(r, cursor, now, out, page, &next);
		CHECK(n <= page, "page of %u holds %u", page, n);
		for (uint32_t k = 0; k < n; k++) {
			struct vcap_synth_tuple t;
			struct vcap_flow want;
			int64_t i = -1;
			uint32_t guess;

			/* the synth's IPv4 clients are 10.1.x.y, flow (x << 8 | y): check that first */
			guess = (uint32_t)out[k].flow.port_a >= 1024 ? out[k].flow.port_a - 1024u
								   : out[k].flow.port_b - 1024u;
			if (guess < pool) {
				vcap_synth_tuple(s, guess, &t);
				flow_of(&t, &want, false);
				if (!memcmp(&want, &out[k].flow, sizeof(want)))
					i = guess;
				flow_of(&t, &want, true);
				if (!memcmp(&want, &out[k].flow, sizeof(want)))
					i = guess;
			}
			if (i < 0)
				i = flow_index(s, &out[k].flow, pool);
			CHECK(i >= 0, "listed a flow never added");
			seen[i].times++;
			if (!check_fields)
				continue;
			/* as added: flow i named swapped when i % 3 == 0, action, timeout, hits */
			vcap_synth_tuple(s, (uint64_t)i, &t);
			flow_of(&t, &want, i % 3 == 0);
			CHECK(!memcmp(&want, &out[k].flow, sizeof(want)), "flow %lld not as added",
			      (long long)i);
			CHECK_EQ(out[k].action, i % 2 ? VCAP_PASS : VCAP_DROP);
			CHECK_EQ(out[k].idle_timeout_ms, i % 5 ? 0 : 60000);
			CHECK_EQ(out[k].hits, (uint64_t)(i % 4));
		}
		cursor = next;
		pages++;
		CHECK(pages < 1000000, "the listing never ends");
	} while (cursor);
	free(out);
	return pages;
}

static struct rules *list_r;
static const struct vcap_synth *list_s;
static uint32_t list_added, list_pool;
static char list_err[256];

/* Between pages: add 150 flows (the table grows and migrates), and let expiry run. */
static void grow_between(unsigned k)
{
	struct vcap_synth_tuple t;
	struct vcap_flow f;

	(void)k;
	for (int j = 0; j < 150 && list_added < list_pool; j++, list_added++) {
		vcap_synth_tuple(list_s, list_added, &t);
		flow_of(&t, &f, list_added % 3 == 0);
		CHECK_EQ(rules_flow_add(list_r, &f, VCAP_DROP, 0, 0, list_err, sizeof(list_err)), 0);
	}
	rules_expire(list_r, now_mono());
}

static bool *list_removed;

/* Between pages: remove some flows still there (never the first 3), a few at a time. */
static void remove_between(unsigned k)
{
	struct vcap_synth_tuple t;
	struct vcap_flow f;

	for (uint32_t i = 3 + k % 7; i < list_added; i += 7 * 13) {
		if (list_removed[i])
			continue;
		vcap_synth_tuple(list_s, i, &t);
		flow_of(&t, &f, false);
		CHECK_EQ(rules_flow_remove(list_r, &f, NULL), 0);
		list_removed[i] = true;
	}
}

static void test_flows_hits_and_list(void)
{
	const struct vcap_synth_cfg c = { .size = 100, .flows = 30000, .proto = VCAP_SYNTH_MIX,
					  .ipv6_pct = 30 };
	const uint32_t N = 2000, POOL = 30000;
	struct rules_limits lim = { .max_rules = 4, .max_flows = POOL };
	struct rules *r = rules_new(&lim);
	struct listed *seen = calloc(POOL, sizeof(*seen));
	static const uint32_t pages[] = { 1, 2, 7, 100, 512, 5000 };
	struct vcap_synth s;
	struct vcap_synth_tuple t;
	struct vcap_flow f;
	struct vcap_flow_stat one;
	uint64_t hits, next, now = 5000 * MS;
	char err[256];

	CHECK(r && seen, "alloc");
	synth_or_die(&s, &c);
	for (uint32_t i = 0; i < N; i++) {
		struct vcap_parsed p;

		vcap_synth_tuple(&s, i, &t);
		flow_of(&t, &f, i % 3 == 0);
		CHECK_EQ(rules_flow_add(r, &f, i % 2 ? VCAP_PASS : VCAP_DROP, i % 5 ? 0 : 60000, now,
					err, sizeof(err)),
			 0);
		/* i % 4 packets of the flow, alternating directions */
		for (uint32_t k = 0; k < i % 4; k++) {
			synth_parsed(&s, i + (k % 2) * c.flows, &p);
			CHECK(rules_pass(r, &p, now + k * MS) == (i % 2 == 1), "flow %u's verdict", i);
		}
	}
	/* hits, by either direction; a flow never added has none */
	for (uint32_t i = 0; i < N; i++) {
		vcap_synth_tuple(&s, i, &t);
		flow_of(&t, &f, i % 2);
		CHECK_EQ(rules_flow_hits(r, &f, now + 10 * MS, &hits), 0);
		CHECK_EQ(hits, i % 4);
	}
	vcap_synth_tuple(&s, N + 1, &t);
	flow_of(&t, &f, false);
	CHECK_EQ(rules_flow_hits(r, &f, now, &hits), -ENOENT);
	f.family = 0;
	CHECK_EQ(rules_flow_hits(r, &f, now, &hits), -ENOENT);

	/* whole listings at any page size: every flow once, as added */
	for (size_t k = 0; k < sizeof(pages) / sizeof(pages[0]); k++) {
		unsigned n_pages = list_all(r, &s, N, pages[k], now + 10 * MS, seen, NULL, true);

		for (uint32_t i = 0; i < N; i++)
			CHECK(seen[i].times == 1, "page %u: flow %u listed %u times", pages[k], i,
			      seen[i].times);
		CHECK(n_pages >= (N + pages[k] - 1) / pages[k], "%u pages of %u", n_pages, pages[k]);
		printf("flows: 2000 listed once each in %u pages of %u\n", n_pages, pages[k]);
	}
	/* idle time: since the last packet (or the add); max 0 asks for nothing */
	vcap_synth_tuple(&s, 3, &t); /* 3 packets, the last at now + 2 ms */
	CHECK_EQ(rules_flow_list(r, 0, now + 1002 * MS, &one, 0, &next), 0);
	CHECK_EQ(next, 0);
	{
		struct vcap_flow_stat all[2048];
		uint32_t n = rules_flow_list(r, 0, now + 1002 * MS, all, 2048, &next);
		int found = 0;

		CHECK_EQ(n, N);
		CHECK_EQ(next, 0);
		for (uint32_t k = 0; k < n; k++) {
			uint64_t want = all[k].hits ? 1000 - (all[k].hits - 1) + 2 : 1002;

			CHECK(all[k].idle_ms == want, "idle %llu ms, want %llu",
			      (unsigned long long)all[k].idle_ms, (unsigned long long)want);
			found++;
		}
		CHECK_EQ(found, N);
	}
	/* a rule idle past its timeout is gone: no hits, not listed, though still counted */
	vcap_synth_tuple(&s, 5, &t);
	flow_of(&t, &f, false);
	CHECK_EQ(rules_flow_hits(r, &f, now + 60003 * MS, &hits), -ENOENT);
	list_all(r, &s, N, 512, now + 60003 * MS, seen, NULL, false);
	for (uint32_t i = 0; i < N; i++)
		CHECK(seen[i].times == (i % 5 ? 1u : 0u), "flow %u listed %u times after expiry", i,
		      seen[i].times);
	CHECK_EQ(rules_flow_count(r), N);
	rules_free(r);

	/* the table grows (and migrates) between pages: no flow present throughout is missed */
	for (uint32_t page = 1; page <= 64; page *= 8) {
		uint32_t dup = 0, start;

		list_r = rules_new(&lim);
		list_s = &s;
		list_pool = POOL;
		for (list_added = 0; list_added < 100; list_added++) {
			vcap_synth_tuple(&s, list_added, &t);
			flow_of(&t, &f, list_added % 3 == 0);
			CHECK_EQ(rules_flow_add(list_r, &f, VCAP_DROP, 0, 0, err, sizeof(err)), 0);
		}
		start = list_added;
		list_all(list_r, &s, POOL, page, now, seen, grow_between, false);
		for (uint32_t i = 0; i < start; i++) {
			CHECK(seen[i].times >= 1, "page %u: flow %u, there throughout, was missed",
			      page, i);
			dup += seen[i].times > 1;
		}
		printf("flows: listed in pages of %u while growing from %u to %u flows: none "
		       "missed, %u twice\n",
		       page, start, list_added, dup);
		CHECK_EQ(dup, 0); /* growth alone never shows a flow twice */
		rules_free(list_r);
	}

	/* flows removed between pages: those never removed are all listed */
	list_r = rules_new(&lim);
	list_removed = calloc(POOL, sizeof(*list_removed));
	CHECK(list_removed, "calloc");
	for (list_added = 0; list_added < 5000; list_added++) {
		vcap_synth_tuple(&s, list_added, &t);
		flow_of(&t, &f, false);
		CHECK_EQ(rules_flow_add(list_r, &f, VCAP_DROP, 0, 0, err, sizeof(err)), 0);
	}
	list_all(list_r, &s, POOL, 64, now, seen, remove_between, false);
	for (uint32_t i = 0; i < list_added; i++)
		CHECK(list_removed[i] || seen[i].times >= 1, "flow %u, never removed, was missed", i);
	free(list_removed);

	/* a large table emptied down to 3 flows: pages come back empty, the cursor moves on */
	for (uint32_t i = 3; i < list_added; i++) {
		vcap_synth_tuple(&s, i, &t);
		flow_of(&t, &f, false);
		rules_flow_remove(list_r, &f, NULL);
	}
	CHECK_EQ(rules_flow_count(list_r), 3);
	{
		unsigned n_pages = list_all(list_r, &s, POOL, 512, now, seen, NULL, false);

		for (uint32_t i = 0; i < 3; i++)
			CHECK_EQ(seen[i].times, 1);
		CHECK(n_pages > 1, "a sparse table takes bounded pages (%u)", n_pages);
		printf("flows: the 3 left of 5000 found in %u bounded pages\n", n_pages);
	}
	/* emptied: the table goes, and any cursor ends the listing */
	for (uint32_t i = 0; i < 3; i++) {
		vcap_synth_tuple(&s, i, &t);
		flow_of(&t, &f, false);
		CHECK_EQ(rules_flow_remove(list_r, &f, NULL), 0);
	}
	CHECK_EQ(rules_flow_list(list_r, 0x1234567890ull, now, &one, 1, &next), 0);
	CHECK_EQ(next, 0);
	rules_free(list_r);
	free(seen);
	printf("flows: hits and listings as added\n");
}

int main(int argc, char **argv)
{
	bool bench_only = argc > 1 && !strcmp(argv[1], "bench");

	setvbuf(stdout, NULL, _IONBF, 0);
	guard_init();
	if (!bench_only) {
		test_parse_synth();
		test_parse_tags();
		test_parse_ipv4();
		test_parse_ipv6();
		test_parse_fuzz();
		test_hash();
		test_wildcard_cases();
		test_wildcard_order_and_default();
		test_wildcard_validation();
		test_wildcard_random();
		test_flows_basic();
		test_flows_portless();
		test_flows_expiry();
		test_flows_full_and_churn();
		test_flows_growth();
		test_flows_hits_and_list();
		test_limits();
	}
	bench();
	return 0;
}
