/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * parse.c - read the fields rules and hashes look at, once per packet.
 *
 * The common frame (untagged or one tag, IPv4 or IPv6 without extension
 * headers, TCP or UDP) takes one predictable branch per layer.  Every read
 * is checked against caplen first; a layer that is cut off (or malformed)
 * ends the parse, and whatever it would have set stays zero.
 */
#include "parse.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ETH_ALEN 6
#define ETH_HLEN 14
#define VLAN_HLEN 4
#define VLAN_TAGS_MAX 2
#define VLAN_VID_MASK 0x0fffu

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100 /* 802.1Q */
#define ETHERTYPE_QINQ 0x88a8 /* 802.1ad service tag */

#define IP4_HLEN 20
#define IP4_FRAG_MASK 0x3fffu /* MF flag and fragment offset; DF does not make a fragment */
#define IP6_HLEN 40
#define IP6_EXT_HLEN 8        /* every extension header we skip is a multiple of 8 bytes */

#define IPPROTO_HOPOPTS_ 0
#define IPPROTO_ROUTING_ 43
#define IPPROTO_FRAGMENT_ 44
#define IPPROTO_DSTOPTS_ 60

/*
 * A legitimate packet has at most hop-by-hop, destination options,
 * routing, destination options and a fragment header (RFC 8200 4.1).
 * Giving up after eight keeps a packet made of hundreds of empty
 * extension headers from costing hundreds of iterations each; such a
 * packet keeps the extension header as its proto and has no ports.
 */
#define IP6_EXT_MAX 8

/* dmac and smac are read with one copy */
_Static_assert(offsetof(struct vcap_parsed, smac) == offsetof(struct vcap_parsed, dmac) + ETH_ALEN,
	       "smac must follow dmac");

static inline uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline int is_vlan_tpid(uint16_t type)
{
	return type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ;
}

/*
 * IPv6 next-header values parse_ipv6() looks through, as a bitmap: one
 * well-predicted test for the usual TCP/UDP next header instead of four.
 */
#define IP6_EXT_BITS                                                          \
	(1ull << IPPROTO_HOPOPTS_ | 1ull << IPPROTO_ROUTING_ | 1ull << IPPROTO_FRAGMENT_ | \
	 1ull << IPPROTO_DSTOPTS_)

static inline int is_ip6_ext(uint8_t nh)
{
	return nh < 64 && (IP6_EXT_BITS >> nh & 1);
}

/*
 * Bytes of transport header that must be there for has_ports: the whole
 * fixed header, so that a set has_ports means a real TCP/UDP/SCTP header.
 * 0 for protocols without ports.
 */
static const uint8_t l4_hlen[256] = {
	[6] = 20,  /* TCP */
	[17] = 8,  /* UDP */
	[132] = 12, /* SCTP */
};

/*
 * The IPv4 header at ip, room bytes of it captured.
 * @return the offset of the transport header from ip, or 0 if this is not
 * a readable IPv4 header (p->family then stays 0).
 */
static uint32_t parse_ipv4(const uint8_t *ip, uint32_t room, struct vcap_parsed *p)
{
	uint32_t ihl;

	if (room < IP4_HLEN)
		return 0;
	ihl = (ip[0] & 15u) * 4;
	/* another version, or a header shorter than its fixed part: not IPv4 */
	if ((ip[0] >> 4) != 4 || ihl < IP4_HLEN)
		return 0;
	p->family = 4;
	p->proto = ip[9];
	p->fragment = (be16(ip + 6) & IP4_FRAG_MASK) != 0;
	memcpy(p->saddr, ip + 12, 4);
	memcpy(p->daddr, ip + 16, 4);
	return ihl; /* options may be cut off: the caller checks the room for ports */
}

/*
 * The IPv6 header at ip, room bytes of it captured: skip hop-by-hop,
 * routing and destination options headers, stop at a fragment header.
 * @return the offset of the transport header from ip, or 0 as parse_ipv4().
 *
 * For every fragment, first or not, proto is the fragment header's next
 * header, and the walk stops there: later fragments have nothing more to
 * read, and all fragments of a datagram must agree on proto (they hash
 * alike and meet the same rules).
 */
static uint32_t parse_ipv6(const uint8_t *ip, uint32_t room, struct vcap_parsed *p)
{
	uint32_t off = IP6_HLEN;
	uint8_t nh;

	if (room < IP6_HLEN || (ip[0] >> 4) != 6)
		return 0;
	p->family = 6;
	memcpy(p->saddr, ip + 8, 16);
	memcpy(p->daddr, ip + 24, 16);
	nh = ip[6];
	for (int i = 0; i < IP6_EXT_MAX && is_ip6_ext(nh); i++) {
		/* a cut-off extension header leaves its own number as proto */
		if (room - off < IP6_EXT_HLEN)
			break;
		if (nh == IPPROTO_FRAGMENT_) {
			p->fragment = 1;
			nh = ip[off];
			break;
		}
		nh = ip[off];
		off += IP6_EXT_HLEN + ip[off + 1] * 8u;
		/*
		 * The header said what follows it, but that is past the
		 * capture: proto is what it said, and there are no ports.
		 */
		if (off > room)
			break;
	}
	p->proto = nh;
	return off;
}

void vcap_parse(const uint8_t *f, uint32_t caplen, struct vcap_parsed *p)
{
	uint32_t off = ETH_HLEN, l4, need;
	uint16_t type;

	memset(p, 0, sizeof(*p));
	p->vlan = VCAP_PARSED_NO_VLAN;
	if (caplen < ETH_HLEN) {
		if (caplen >= 2 * ETH_ALEN)
			memcpy(p->dmac, f, 2 * ETH_ALEN);
		return;
	}
	memcpy(p->dmac, f, 2 * ETH_ALEN);
	type = be16(f + 12);

	if (is_vlan_tpid(type)) {
		/* a tag is read whole or not at all; only the outer one names the VLAN */
		if (caplen < off + VLAN_HLEN)
			return;
		p->vlan = be16(f + off) & VLAN_VID_MASK;
		type = be16(f + off + 2);
		off += VLAN_HLEN;
		if (is_vlan_tpid(type)) {
			if (caplen < off + VLAN_HLEN)
				return;
			type = be16(f + off + 2);
			off += VLAN_HLEN;
		}
	}
	p->ethertype = type;

	if (type == ETHERTYPE_IPV4)
		l4 = parse_ipv4(f + off, caplen - off, p);
	else if (type == ETHERTYPE_IPV6)
		l4 = parse_ipv6(f + off, caplen - off, p);
	else
		return;
	if (!l4)
		return;
	p->l3_off = (uint16_t)off;

	/* Ports only from a whole transport header of an unfragmented packet. */
	l4 += off;
	if (!p->fragment && l4 <= caplen && l4 <= UINT16_MAX)
		p->l4_off = (uint16_t)l4;
	need = l4_hlen[p->proto];
	if (!need || p->fragment || caplen < l4 || caplen - l4 < need)
		return;
	p->has_ports = 1;
	p->sport = be16(f + l4);
	p->dport = be16(f + l4 + 2);
	if (p->proto == 6)
		p->tcp_flags = f[l4 + 13];
}
