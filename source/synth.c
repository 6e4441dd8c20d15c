/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * synth.c - the frame generator of synth.h.
 *
 * A frame is fixed bytes (header constants and the payload pattern) plus a
 * few fields that follow from n (MACs, addresses, ports, TCP flags, IPv4 id,
 * sequence number) and the checksums over both.  vcap_synth_init() sums the
 * fixed bytes of every layout once; after that a checksum only needs the
 * fixed sum plus the varying fields, so vcap_synth_patch() touches a few
 * dozen header bytes whatever the frame size, and vcap_synth_frame() is the
 * same code after writing the fixed bytes first.  Sharing that code is what
 * makes a patched frame equal to a fresh one byte for byte.
 *
 * Checksums are kept as plain integer sums of big-endian 16-bit words and
 * folded only at the end (RFC 1071).  Every term added is non-negative and
 * the fixed part is never zero, so the folded sum is never 0 and the result
 * equals what a byte-by-byte RFC 1071 implementation computes.  The
 * payload's words start at an even offset of the UDP/TCP segment (both
 * headers have even lengths), so the pattern's sum does not depend on the
 * layout it sits in, only on where it ends; an odd-sized frame ends in a
 * high byte padded with zero.
 */
#include "synth.h"

#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ETH_HLEN 14
#define VLAN_HLEN 4
#define IP4_HLEN 20
#define IP6_HLEN 40
#define UDP_HLEN 8
#define TCP_HLEN 20
#define SEQ_LEN 8 /* the little-endian packet number opening the payload */

#define ETHERTYPE_IP4 0x0800
#define ETHERTYPE_IP6 0x86dd
#define ETHERTYPE_VLAN 0x8100

#define HOP_LIMIT 64
#define IP4_DF 0x4000
#define TCP_SEQ 1u
#define TCP_WINDOW 65535u

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_PSH 0x08
#define TCP_ACK 0x10

#define FLOWS_MAX 1000000u
#define PATTERN_PERIOD 256u /* (i * 7 + 3) & 0xff repeats: 7 * 256 = 0 mod 256 */

#define LAYOUT_TCP 1u
#define LAYOUT_V6 2u

#define IP6_PREFIX_WORD 0xfd00u /* both IPv6 addresses are fd00::<low half> */

static const uint16_t server_ports[8] = { 53, 80, 443, 123, 22, 8080, 5060, 9999 };
static const uint8_t tcp_flag_cycle[4] = { TCP_SYN, TCP_ACK, TCP_PSH | TCP_ACK,
					   TCP_FIN | TCP_ACK };

/* Destination then source MAC, as they open the frame. */
static const uint8_t macs_forward[12] = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1 };
static const uint8_t macs_reverse[12] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2 };

/* Where packet n sits in the traffic mix. */
struct place {
	uint32_t flow;
	bool reverse;
	unsigned layout;
	uint8_t tcp_flags;
};

/* Single stores of big-endian (network order) values. */
static void store16(uint8_t *p, uint16_t v)
{
	v = htobe16(v);
	memcpy(p, &v, sizeof(v));
}

static void store32(uint8_t *p, uint32_t v)
{
	v = htobe32(v);
	memcpy(p, &v, sizeof(v));
}

static void store64(uint8_t *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, sizeof(v));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/*
 * Two periods of the payload pattern, so that any 256 consecutive pattern
 * bytes are one memcpy away, built by the preprocessor so that there is no
 * run-time initialisation to race on.
 */
#define PAT1(i) (uint8_t)((i) * 7 + 3)
#define PAT4(i) PAT1(i), PAT1((i) + 1), PAT1((i) + 2), PAT1((i) + 3)
#define PAT16(i) PAT4(i), PAT4((i) + 4), PAT4((i) + 8), PAT4((i) + 12)
#define PAT64(i) PAT16(i), PAT16((i) + 16), PAT16((i) + 32), PAT16((i) + 48)
#define PAT256(i) PAT64(i), PAT64((i) + 64), PAT64((i) + 128), PAT64((i) + 192)
static const uint8_t pattern[2 * PATTERN_PERIOD] = { PAT256(0), PAT256(256) };

/* Fold a sum of 16-bit words to 16 bits, end-around carries included. */
static uint32_t fold(uint64_t sum)
{
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffu) + (sum >> 16);
	sum = (sum & 0xffffu) + (sum >> 16);
	return (uint32_t)sum;
}

/*
 * Sum of any len bytes at p as big-endian words, a trailing odd byte padded
 * with zero.  For init only: p must be where the checksummed area starts
 * (or an even offset into it), since that fixes which bytes are high.
 */
static uint32_t sum_bytes(const uint8_t *p, uint32_t len)
{
	uint64_t acc = 0;

	for (uint32_t i = 0; i < len; i++)
		acc += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	return fold(acc);
}

/* fold() for sums known to fit in 32 bits: the hot path's, a few dozen words. */
static uint32_t fold32(uint32_t sum)
{
	sum = (sum & 0xffffu) + (sum >> 16);
	return (sum & 0xffffu) + (sum >> 16);
}

/* Sum of the sequence number's bytes as big-endian words of the payload. */
static uint32_t seq_sum(uint64_t n)
{
	/* little-endian n read as big-endian words: each 16-bit chunk swapped */
	uint32_t s = fold32((uint32_t)(n & 0xffff) + (uint32_t)(n >> 16 & 0xffff) +
			    (uint32_t)(n >> 32 & 0xffff) + (uint32_t)(n >> 48));

	return (s >> 8 | s << 8) & 0xffff;
}

static bool layout_tcp(unsigned layout)
{
	return layout & LAYOUT_TCP;
}

static bool layout_v6(unsigned layout)
{
	return layout & LAYOUT_V6;
}

static unsigned layout_of_flow(const struct vcap_synth_cfg *cfg, uint32_t f)
{
	bool tcp = cfg->proto == VCAP_SYNTH_TCP || (cfg->proto == VCAP_SYNTH_MIX && f % 4 == 3);
	bool v6 = f % 100 < cfg->ipv6_pct;

	return (v6 ? LAYOUT_V6 : 0) | (tcp ? LAYOUT_TCP : 0);
}

static uint32_t headers_len(uint32_t l3_off, unsigned layout)
{
	return l3_off + (layout_v6(layout) ? IP6_HLEN : IP4_HLEN) +
	       (layout_tcp(layout) ? TCP_HLEN : UDP_HLEN);
}

static void locate(const struct vcap_synth *s, uint64_t n, struct place *p)
{
	uint32_t flows = s->cfg.flows;
	uint64_t round;

	/* A 32-bit division is several times cheaper where it suffices. */
	if (n >> 32 == 0) {
		round = (uint32_t)n / flows;
		p->flow = (uint32_t)n - (uint32_t)round * flows;
	} else {
		round = n / flows;
		p->flow = (uint32_t)(n - round * flows);
	}
	p->reverse = round & 1;
	p->layout = layout_of_flow(&s->cfg, p->flow);
	p->tcp_flags = layout_tcp(p->layout) ? tcp_flag_cycle[(round >> 1) & 3] : 0;
}

/*
 * Addresses as numbers, so that the hot path stores each with one write
 * and sums its words without reading the frame back (which would stall on
 * the stores just made).
 */
static uint32_t client4(uint32_t f)
{
	return 0x0a010000u | (f & 0xffff); /* 10.1.(f >> 8 & 255).(f & 255) */
}

static uint32_t server4(uint32_t f)
{
	return 0x0a020000u | (f % 16 + 1); /* 10.2.0.(f % 16 + 1) */
}

static uint64_t client6_low(uint32_t f)
{
	return 1ull << 32 | f; /* ::1:<f >> 16>:<f & 0xffff> */
}

static uint64_t server6_low(uint32_t f)
{
	return 2u << 16 | (f % 16 + 1); /* ::2:<f % 16 + 1> */
}

static uint32_t words32(uint32_t v)
{
	return (v >> 16) + (v & 0xffff);
}

static uint32_t words64(uint64_t v)
{
	return words32((uint32_t)(v >> 32)) + words32((uint32_t)v);
}

static void client_addr(uint32_t f, bool v6, uint8_t *a)
{
	if (v6) {
		memset(a, 0, 8);
		store16(a, IP6_PREFIX_WORD);
		store64(a + 8, client6_low(f));
	} else {
		store32(a, client4(f));
	}
}

static void server_addr(uint32_t f, bool v6, uint8_t *a)
{
	if (v6) {
		memset(a, 0, 8);
		store16(a, IP6_PREFIX_WORD);
		store64(a + 8, server6_low(f));
	} else {
		store32(a, server4(f));
	}
}

static uint16_t client_port(uint32_t f)
{
	return (uint16_t)(1024 + f % 60000);
}

static uint16_t server_port(uint32_t f)
{
	return server_ports[f % 8];
}

/* Write the pattern for payload offsets [from, from + len) at p. */
static void write_pattern(uint8_t *p, uint32_t from, uint32_t len)
{
	while (len) {
		uint32_t chunk = len < PATTERN_PERIOD ? len : PATTERN_PERIOD;

		memcpy(p, pattern + from % PATTERN_PERIOD, chunk);
		p += chunk;
		from += chunk;
		len -= chunk;
	}
}

/*
 * Write every byte no packet number changes: header constants, zeroed
 * varying fields and checksums, zeroed sequence number, the pattern.
 */
static void write_fixed(const struct vcap_synth *s, unsigned layout, uint8_t *buf)
{
	const struct vcap_synth_layout *L = &s->layout[layout];
	uint32_t size = s->cfg.size, l3 = s->l3_off;
	uint8_t *ip = buf + l3, *l4 = buf + L->l4_off;
	uint8_t proto = layout_tcp(layout) ? IPPROTO_TCP : IPPROTO_UDP;

	memset(buf, 0, L->pay_off + SEQ_LEN);
	if (s->cfg.vlan) {
		store16(buf + 12, ETHERTYPE_VLAN);
		store16(buf + 14, s->cfg.vlan);
	}
	if (layout_v6(layout)) {
		store16(buf + l3 - 2, ETHERTYPE_IP6);
		ip[0] = 0x60;
		store16(ip + 4, (uint16_t)(size - l3 - IP6_HLEN));
		ip[6] = proto;
		ip[7] = HOP_LIMIT;
		/* the high halves of the addresses; the low ones vary */
		store16(ip + 8, IP6_PREFIX_WORD);
		store16(ip + 24, IP6_PREFIX_WORD);
	} else {
		store16(buf + l3 - 2, ETHERTYPE_IP4);
		ip[0] = 0x45;
		store16(ip + 2, (uint16_t)(size - l3));
		store16(ip + 6, IP4_DF);
		ip[8] = HOP_LIMIT;
		ip[9] = proto;
	}
	if (layout_tcp(layout)) {
		store32(l4 + 4, TCP_SEQ);
		l4[12] = (TCP_HLEN / 4) << 4;
		store16(l4 + 14, TCP_WINDOW);
	} else {
		store16(l4 + 4, (uint16_t)(size - L->l4_off));
	}
	write_pattern(buf + L->pay_off + SEQ_LEN, SEQ_LEN, size - L->pay_off - SEQ_LEN);
}

/*
 * Write the fields packet n changes and both checksums, over a frame whose
 * fixed bytes are those of p->layout.  The hot path of vcap_synth_patch().
 */
static void write_varying(const struct vcap_synth *s, const struct place *p, uint64_t n,
			  uint8_t *buf)
{
	const struct vcap_synth_layout *L = &s->layout[p->layout];
	uint8_t *ip = buf + s->l3_off, *l4 = buf + L->l4_off, *pay = buf + L->pay_off;
	uint32_t f = p->flow, cport = client_port(f), sport = server_port(f);
	uint32_t l4_sum = L->l4_sum; /* stays below 2^32: some 20 terms below 2^17 */
	uint64_t le_n = htole64(n);

	memcpy(buf, p->reverse ? macs_reverse : macs_forward, 12);

	if (layout_v6(p->layout)) {
		uint64_t cli = client6_low(f), srv = server6_low(f);

		/* the fd00:: halves are fixed */
		store64(ip + 8 + 8, p->reverse ? srv : cli);
		store64(ip + 24 + 8, p->reverse ? cli : srv);
		l4_sum += 2 * IP6_PREFIX_WORD + words64(cli) + words64(srv);
	} else {
		uint32_t cli = client4(f), srv = server4(f), addrs = words32(cli) + words32(srv);
		uint16_t id = (uint16_t)n;

		store16(ip + 4, id);
		store32(ip + 12, p->reverse ? srv : cli);
		store32(ip + 16, p->reverse ? cli : srv);
		store16(ip + 10, (uint16_t)~fold32(L->ip_sum + id + addrs));
		l4_sum += addrs;
	}

	store32(l4, p->reverse ? sport << 16 | cport : cport << 16 | sport);
	l4_sum += cport + sport;

	memcpy(pay, &le_n, SEQ_LEN);
	l4_sum += seq_sum(n);

	if (layout_tcp(p->layout)) {
		l4[13] = p->tcp_flags;
		l4_sum += p->tcp_flags;
		store16(l4 + 16, (uint16_t)~fold32(l4_sum));
	} else {
		uint16_t c = (uint16_t)~fold32(l4_sum);

		store16(l4 + 6, c ? c : 0xffff); /* 0 would mean "no checksum" */
	}
}

/* The layout of a frame of s, read from its headers; -1 if it is none. */
static int frame_layout(const struct vcap_synth *s, const uint8_t *buf)
{
	const uint8_t *ip = buf + s->l3_off;

	switch (ip[0] >> 4) {
	case 4:
		return ip[9] == IPPROTO_TCP ? LAYOUT_TCP : 0;
	case 6:
		return LAYOUT_V6 | (ip[6] == IPPROTO_TCP ? LAYOUT_TCP : 0);
	default:
		return -1;
	}
}

static const char *layout_name(unsigned layout, bool vlan)
{
	static const char *const names[2][VCAP_SYNTH_LAYOUTS] = {
		{ "IPv4/UDP", "IPv4/TCP", "IPv6/UDP", "IPv6/TCP" },
		{ "802.1Q/IPv4/UDP", "802.1Q/IPv4/TCP", "802.1Q/IPv6/UDP", "802.1Q/IPv6/TCP" },
	};

	return names[vlan][layout];
}

static int fail(char *err, size_t err_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (err && err_len) {
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/*
 * Which layouts a config produces.  A flow's layout depends only on
 * f % 100 (f % 4 follows from it as 100 is a multiple of 4), so the first
 * 100 flows show them all.
 */
static uint8_t layouts_used(const struct vcap_synth_cfg *cfg)
{
	uint32_t end = cfg->flows < 100 ? cfg->flows : 100;
	uint8_t mask = 0;

	for (uint32_t f = 0; f < end; f++)
		mask |= 1u << layout_of_flow(cfg, f);
	return mask;
}

static int check_cfg(const struct vcap_synth_cfg *cfg, uint32_t l3_off, char *err,
		     size_t err_len)
{
	uint32_t need = 0;
	unsigned worst = 0;
	uint8_t used;

	if (cfg->flows < 1 || cfg->flows > FLOWS_MAX)
		return fail(err, err_len, "synth: flows %u out of range 1..%u", cfg->flows,
			    FLOWS_MAX);
	if (cfg->proto != VCAP_SYNTH_UDP && cfg->proto != VCAP_SYNTH_TCP &&
	    cfg->proto != VCAP_SYNTH_MIX)
		return fail(err, err_len, "synth: proto %u is not UDP (%u), TCP (%u) or mix (%u)",
			    cfg->proto, VCAP_SYNTH_UDP, VCAP_SYNTH_TCP, VCAP_SYNTH_MIX);
	if (cfg->ipv6_pct > 100)
		return fail(err, err_len, "synth: ipv6_pct %u exceeds 100", cfg->ipv6_pct);
	if (cfg->vlan > 4094)
		return fail(err, err_len, "synth: vlan %u out of range 1..4094 (0: untagged)",
			    cfg->vlan);
	if (cfg->size > VCAP_SYNTH_SIZE_MAX)
		return fail(err, err_len, "synth: size %u exceeds the maximum of %u", cfg->size,
			    VCAP_SYNTH_SIZE_MAX);

	used = layouts_used(cfg);
	for (unsigned l = 0; l < VCAP_SYNTH_LAYOUTS; l++) {
		if ((used & (1u << l)) && headers_len(l3_off, l) + SEQ_LEN > need) {
			need = headers_len(l3_off, l) + SEQ_LEN;
			worst = l;
		}
	}
	if (cfg->size < need)
		return fail(err, err_len,
			    "synth: size %u too small for %s frames with a sequence number (need %u)",
			    cfg->size, layout_name(worst, cfg->vlan != 0), need);
	return 0;
}

/* Precompute the offsets and fixed checksum parts of one layout. */
static void prepare_layout(struct vcap_synth *s, unsigned layout, uint8_t *tmp)
{
	struct vcap_synth_layout *L = &s->layout[layout];
	uint32_t l4_len, size = s->cfg.size;
	uint8_t proto = layout_tcp(layout) ? IPPROTO_TCP : IPPROTO_UDP;

	L->l4_off = (uint16_t)(s->l3_off + (layout_v6(layout) ? IP6_HLEN : IP4_HLEN));
	L->pay_off = (uint16_t)(L->l4_off + (layout_tcp(layout) ? TCP_HLEN : UDP_HLEN));
	L->ip_sum = 0;
	L->l4_sum = 0;
	write_fixed(s, layout, tmp);

	/* Varying fields are zero in tmp, so these sums hold only fixed words. */
	if (!layout_v6(layout))
		L->ip_sum = sum_bytes(tmp + s->l3_off, IP4_HLEN);
	l4_len = size - L->l4_off;
	/* pseudo-header: protocol and length (addresses vary); the segment */
	L->l4_sum = fold((uint64_t)proto + l4_len + sum_bytes(tmp + L->l4_off, l4_len));
}

int vcap_synth_init(struct vcap_synth *s, const struct vcap_synth_cfg *cfg, char *err,
		    size_t err_len)
{
	uint8_t tmp[VCAP_SYNTH_SIZE_MAX];
	uint32_t l3_off = ETH_HLEN + (cfg->vlan ? VLAN_HLEN : 0);
	uint32_t shortest = UINT32_MAX;
	int ret;

	memset(s, 0, sizeof(*s));
	ret = check_cfg(cfg, l3_off, err, err_len);
	if (ret)
		return ret;
	s->cfg = *cfg;
	s->l3_off = (uint16_t)l3_off;
	s->layouts = layouts_used(cfg);

	for (unsigned l = 0; l < VCAP_SYNTH_LAYOUTS; l++) {
		const struct vcap_synth_layout *L = &s->layout[l];

		if (!(s->layouts & (1u << l)))
			continue;
		prepare_layout(s, l, tmp);
		if (L->pay_off < shortest) {
			shortest = L->pay_off;
			/* the payload starts at an even offset of the segment */
			s->payload_sum = sum_bytes(tmp + L->pay_off, cfg->size - L->pay_off);
		}
	}
	return 0;
}

void vcap_synth_frame(const struct vcap_synth *s, uint64_t n, uint8_t *buf)
{
	struct place p;

	locate(s, n, &p);
	write_fixed(s, p.layout, buf);
	write_varying(s, &p, n, buf);
}

void vcap_synth_patch(const struct vcap_synth *s, uint64_t n, uint8_t *buf)
{
	struct place p;

	locate(s, n, &p);
	/* A config with one layout needs no look at the old frame. */
	if ((s->layouts & (s->layouts - 1)) && frame_layout(s, buf) != (int)p.layout)
		write_fixed(s, p.layout, buf);
	write_varying(s, &p, n, buf);
}

void vcap_synth_tuple(const struct vcap_synth *s, uint64_t n, struct vcap_synth_tuple *t)
{
	struct place p;
	uint8_t cli[16] = { 0 }, srv[16] = { 0 };
	bool v6;

	locate(s, n, &p);
	v6 = layout_v6(p.layout);
	client_addr(p.flow, v6, cli);
	server_addr(p.flow, v6, srv);

	memset(t, 0, sizeof(*t));
	t->flow = p.flow;
	t->reverse = p.reverse;
	t->family = v6 ? 6 : 4;
	t->proto = layout_tcp(p.layout) ? IPPROTO_TCP : IPPROTO_UDP;
	t->tcp_flags = p.tcp_flags;
	memcpy(t->src, p.reverse ? srv : cli, 16);
	memcpy(t->dst, p.reverse ? cli : srv, 16);
	t->sport = p.reverse ? server_port(p.flow) : client_port(p.flow);
	t->dport = p.reverse ? client_port(p.flow) : server_port(p.flow);
	t->vlan = s->cfg.vlan;
}

/* Offset of the sequence number found by walking the headers, or 0. */
static uint32_t find_seq(const uint8_t *f, uint32_t len)
{
	uint32_t off = ETH_HLEN, l4;
	uint16_t type;
	uint8_t proto;

	if (len < ETH_HLEN)
		return 0;
	type = get16(f + 12);
	if (type == ETHERTYPE_VLAN) {
		if (len < ETH_HLEN + VLAN_HLEN)
			return 0;
		type = get16(f + 16);
		off += VLAN_HLEN;
	}
	if (type == ETHERTYPE_IP4) {
		if (len < off + IP4_HLEN || f[off] >> 4 != 4 || (f[off] & 0xf) < 5)
			return 0;
		proto = f[off + 9];
		l4 = off + (f[off] & 0xfu) * 4;
	} else if (type == ETHERTYPE_IP6) {
		if (len < off + IP6_HLEN)
			return 0;
		proto = f[off + 6];
		l4 = off + IP6_HLEN;
	} else {
		return 0;
	}
	if (proto == IPPROTO_UDP) {
		off = l4 + UDP_HLEN;
	} else if (proto == IPPROTO_TCP) {
		if (len < l4 + TCP_HLEN || f[l4 + 12] >> 4 < 5)
			return 0;
		off = l4 + (f[l4 + 12] >> 4) * 4u;
	} else {
		return 0;
	}
	return off + SEQ_LEN <= len ? off : 0;
}

int vcap_synth_verify(const struct vcap_synth *s, const uint8_t *frame, uint32_t len,
		      uint64_t *n)
{
	uint8_t want[VCAP_SYNTH_SIZE_MAX];
	uint32_t at = find_seq(frame, len);
	uint64_t seq = 0;

	if (!at)
		return -EBADMSG;
	for (unsigned i = 0; i < SEQ_LEN; i++)
		seq |= (uint64_t)frame[at + i] << (8 * i);
	*n = seq;
	if (len != s->cfg.size)
		return -EBADMSG;
	vcap_synth_frame(s, seq, want);
	return memcmp(frame, want, len) ? -EBADMSG : 0;
}
