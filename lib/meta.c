/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * meta.c - what a packet's headers say, for tools: vcapd's parse when the
 * record carries it (VCAP_OPEN_META), else the same parser run here, so
 * both give the same answer (source/parse.c is the one parser).
 */
#include "internal.h"

#include <errno.h>
#include <pcap/dlt.h>
#include <string.h>

#include "parse.h"

/* The record of pkt if it is one of h's ring and carries vcapd's meta, else NULL. */
static const struct vcap_rec_meta *rec_meta_of(struct vcap *h, const struct vcap_pkt *pkt)
{
	const struct vcap_ring_reader *rd = &h->rd;
	uint32_t hdr = sizeof(struct vcap_rec) + sizeof(struct vcap_rec_meta);
	const struct vcap_rec *rec;
	uintptr_t at, lo, hi;

	if (!h->ctl || !rd->r || rd->r->info.rec_hdr_size < hdr)
		return NULL;
	at = (uintptr_t)pkt->data;
	lo = (uintptr_t)rd->data;
	hi = lo + rd->size;
	if (at < lo + rd->r->info.rec_hdr_size || at >= hi)
		return NULL;
	rec = (const struct vcap_rec *)(at - rd->r->info.rec_hdr_size);
	if (!(rec->flags & VCAP_REC_META) || rec->hdr_len != rd->r->info.rec_hdr_size)
		return NULL;
	return (const struct vcap_rec_meta *)(rec + 1);
}

/*
 * vcapd's offsets are checked like any other record field: a ring is
 * written by vcapd, but a tool that indexes pkt->data with them deserves
 * offsets inside caplen whatever the ring holds.
 */
static void from_record(const struct vcap_rec_meta *rm, const struct vcap_pkt *pkt,
			struct vcap_meta *m)
{
	m->seq = rm->seq;
	m->flags = VCAP_META_SEQ;
	if (!(rm->flags & VCAP_RMETA_PARSED))
		return;
	m->flags |= VCAP_META_VCAPD;
	m->l3_off = rm->l3_off < pkt->caplen ? rm->l3_off : 0;
	m->l4_off = rm->l4_off <= pkt->caplen ? rm->l4_off : 0;
	m->ethertype = rm->ethertype;
	m->vlan = rm->vlan;
	m->ip_version = rm->ip_version;
	m->proto = rm->proto;
	m->tcp_flags = rm->tcp_flags;
	m->flags |= (rm->flags & VCAP_RMETA_VLAN ? VCAP_META_VLAN : 0) |
		    (rm->flags & VCAP_RMETA_FRAGMENT ? VCAP_META_FRAGMENT : 0) |
		    (rm->flags & VCAP_RMETA_PORTS && m->l4_off ? VCAP_META_PORTS : 0);
}

static void from_parse(const struct vcap_parsed *p, struct vcap_meta *m)
{
	m->l3_off = p->l3_off;
	m->l4_off = p->l4_off;
	m->ethertype = p->ethertype;
	m->vlan = p->vlan == VCAP_PARSED_NO_VLAN ? 0 : p->vlan;
	m->ip_version = p->family;
	m->proto = p->proto;
	m->tcp_flags = p->tcp_flags;
	m->flags |= (p->vlan != VCAP_PARSED_NO_VLAN ? VCAP_META_VLAN : 0) |
		    (p->fragment ? VCAP_META_FRAGMENT : 0) | (p->has_ports ? VCAP_META_PORTS : 0);
}

VCAP_API int vcap_pkt_meta(struct vcap *h, const struct vcap_pkt *pkt, struct vcap_meta *out,
			   size_t sz)
{
	struct vcap_meta m = { 0 };
	const struct vcap_rec_meta *rm;

	if (!out || sz < VCAP_OFFSETOFEND(struct vcap_meta, flags))
		return vcap_set_err(-EINVAL, "%s: vcap_pkt_meta: pass a struct vcap_meta and its "
				    "sizeof", h->device);
	if (!pkt || !pkt->data)
		return vcap_set_err(-EINVAL, "%s: vcap_pkt_meta: no packet", h->device);
	rm = rec_meta_of(h, pkt);
	if (rm)
		from_record(rm, pkt, &m);
	if (!(m.flags & VCAP_META_VCAPD) && h->info.linktype == DLT_EN10MB) {
		struct vcap_parsed p;

		vcap_parse(pkt->data, pkt->caplen, &p);
		from_parse(&p, &m);
	}
	vcap_fill_out(out, sz, &m, sizeof(m));
	return 0;
}

/* Protocols whose flow rules name ports (the parser's has_ports set). */
static bool has_ports(uint8_t proto)
{
	return proto == 6 || proto == 17 || proto == 132;
}

VCAP_API int vcap_pkt_flow(const struct vcap_pkt *pkt, const struct vcap_meta *m,
			   struct vcap_flow *f)
{
	const uint8_t *ip, *l4;
	size_t alen;

	if (!pkt || !m || !f)
		return vcap_set_err(-EINVAL, "vcap_pkt_flow: NULL argument");
	if (!m->l3_off || (m->ip_version != 4 && m->ip_version != 6))
		return vcap_set_err(-ENOENT, "vcap_pkt_flow: not an IP packet");
	alen = m->ip_version == 4 ? 4 : 16;
	/* the addresses: 12 (IPv4) or 8 (IPv6) bytes into the IP header */
	if ((size_t)m->l3_off + (m->ip_version == 4 ? 20 : 40) > pkt->caplen)
		return vcap_set_err(-ENOENT, "vcap_pkt_flow: the IP header is cut off");
	if (has_ports(m->proto) && !(m->flags & VCAP_META_PORTS))
		return vcap_set_err(-ENOENT, "vcap_pkt_flow: %s without its ports",
				    m->flags & VCAP_META_FRAGMENT ? "a fragment" : "a packet cut off");
	ip = pkt->data + m->l3_off;
	memset(f, 0, sizeof(*f));
	f->family = m->ip_version;
	f->proto = m->proto;
	memcpy(f->addr_a, ip + (alen == 4 ? 12 : 8), alen);
	memcpy(f->addr_b, ip + (alen == 4 ? 16 : 24), alen);
	if (m->flags & VCAP_META_PORTS) {
		if ((size_t)m->l4_off + 4 > pkt->caplen)
			return vcap_set_err(-ENOENT, "vcap_pkt_flow: the ports are cut off");
		l4 = pkt->data + m->l4_off;
		f->port_a = (uint16_t)(l4[0] << 8 | l4[1]);
		f->port_b = (uint16_t)(l4[2] << 8 | l4[3]);
	}
	return 0;
}
