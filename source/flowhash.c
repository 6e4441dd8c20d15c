/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flowhash.c - symmetric flow hash.  Each endpoint (address, port) is
 * reduced to a 64-bit key; the two keys are ordered before mixing, which is
 * what makes A->B and B->A hash alike.
 */
#include "flowhash.h"

#include <string.h>

#define ETH_HLEN 14
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

/*
 * Order the two endpoint keys (the symmetry), then mix: two multiplies
 * with xor-shifts spread every input bit over the high half, which is the
 * half returned.  This runs once per packet on the capture thread.
 */
static uint32_t finish(uint64_t a, uint64_t b, uint64_t salt)
{
	uint64_t lo = a < b ? a : b, hi = a < b ? b : a;
	uint64_t x = (lo ^ salt << 48) * 0x9e3779b97f4a7c15ull ^ hi;
	uint32_t h;

	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	h = (uint32_t)(x >> 32);
	return h ? h : 1;
}

/* Fold an IPv6 address into 32 bits. */
static uint32_t fold128(const uint8_t *a)
{
	return rd32(a) ^ rd32(a + 4) * 31u ^ rd32(a + 8) * 961u ^ rd32(a + 12) * 29791u;
}

static int has_ports(uint8_t proto)
{
	return proto == 6 || proto == 17 || proto == 132; /* TCP, UDP, SCTP */
}

static int ipv6_ext(uint8_t nh)
{
	return nh == 0 || nh == 43 || nh == 60; /* hop-by-hop, routing, dst opts */
}

uint32_t vcap_flow_hash(const uint8_t *f, uint32_t len, int tuple)
{
	uint32_t off = ETH_HLEN, l4 = 0, src, dst;
	uint16_t type;
	uint8_t proto = 0;
	int ports = 0;

	if (len < ETH_HLEN)
		return 1;
	type = be16(f + 12);
	for (int tags = 0; (type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ) && tags < 2; tags++) {
		if (len < off + 4)
			return 1;
		type = be16(f + off + 2);
		off += 4;
	}

	if (type == ETHERTYPE_IPV4 && len >= off + 20) {
		const uint8_t *ip = f + off;
		uint32_t ihl = (ip[0] & 15u) * 4;

		src = rd32(ip + 12);
		dst = rd32(ip + 16);
		proto = ip[9];
		/* fragments: no ports, so all pieces of a datagram stay together */
		ports = has_ports(proto) && !(be16(ip + 6) & 0x3fff) && ihl >= 20;
		l4 = off + ihl;
	} else if (type == ETHERTYPE_IPV6 && len >= off + 40) {
		const uint8_t *ip = f + off;
		uint8_t nh = ip[6];

		src = fold128(ip + 8);
		dst = fold128(ip + 24);
		l4 = off + 40;
		while (ipv6_ext(nh) && len >= l4 + 8) {
			nh = f[l4];
			l4 += 8u + f[l4 + 1] * 8u;
		}
		proto = nh;
		ports = has_ports(proto); /* a fragment header (44) stops here: no ports */
	} else {
		/* not IP: the MAC addresses are the flow */
		uint64_t a = (uint64_t)rd32(f) << 16 | be16(f + 4);
		uint64_t b = (uint64_t)rd32(f + 6) << 16 | be16(f + 10);

		return finish(a, b, type);
	}

	if (tuple == VCAP_HASH_2TUPLE || !ports || len < l4 + 4) {
		return finish(src, dst, tuple == VCAP_HASH_5TUPLE ? proto : 0);
	}
	return finish((uint64_t)src << 16 | be16(f + l4), (uint64_t)dst << 16 | be16(f + l4 + 2),
		      tuple == VCAP_HASH_5TUPLE ? proto : 0);
}
