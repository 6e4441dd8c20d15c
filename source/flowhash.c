/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flowhash.c - symmetric flow hash.  Each endpoint (address, port) is
 * reduced to a 64-bit key; the two keys are ordered before mixing, which is
 * what makes A->B and B->A hash alike.  The fields come from vcap_parse(),
 * so a packet the capture thread parses for rules is not read twice.
 */
#include "flowhash.h"

#include <string.h>

#include "parse.h"

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

/* A MAC address as the low 48 bits of a key. */
static uint64_t mac_key(const uint8_t *m)
{
	return (uint64_t)rd32(m) << 16 | (uint32_t)(m[4] << 8 | m[5]);
}

uint32_t vcap_flow_hash_parsed(const struct vcap_parsed *p, int tuple)
{
	uint32_t src, dst;
	uint64_t salt;

	/* not IP (or an IP header cut off): the MAC addresses are the flow */
	if (!p->family)
		return finish(mac_key(p->smac), mac_key(p->dmac), p->ethertype);

	if (p->family == 4) {
		src = rd32(p->saddr);
		dst = rd32(p->daddr);
	} else {
		src = fold128(p->saddr);
		dst = fold128(p->daddr);
	}
	salt = tuple == VCAP_HASH_5TUPLE ? p->proto : 0;
	/* fragments have no ports, so all pieces of a datagram stay together */
	if (tuple == VCAP_HASH_2TUPLE || !p->has_ports)
		return finish(src, dst, salt);
	return finish((uint64_t)src << 16 | p->sport, (uint64_t)dst << 16 | p->dport, salt);
}

uint32_t vcap_flow_hash(const uint8_t *f, uint32_t len, int tuple)
{
	struct vcap_parsed p;

	vcap_parse(f, len, &p);
	return vcap_flow_hash_parsed(&p, tuple);
}
