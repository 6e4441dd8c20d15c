/* SPDX-License-Identifier: (BSD-3-Clause OR GPL-2.0) */
/*
 * vcap_xdp.bpf.c - the XDP program of xdp: sources: decide per packet,
 * before any skb exists, whether some consumer may want it, and if so send
 * it to the AF_XDP socket of its RX queue.  Maps and semantics:
 * xdp_abi.h.  Loaded through libxdp's dispatcher, so it runs beside other
 * XDP programs: a packet it does not take goes on to the next one.
 *
 * The parse mirrors source/parse.c field for field; wherever the two could
 * differ (a header cut off, IPv6 extension headers) the packet goes up and
 * vcapd judges it.
 */
#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <xdp/xdp_helpers.h>

#include "xdp_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, VCAP_XDP_QUEUES_MAX);
	__type(key, __u32);
	__type(value, __u32);
} vx_xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vcap_xdp_conf);
} vx_conf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 2 * VCAP_XDP_WILD_MAX);
	__type(key, __u32);
	__type(value, struct vcap_xdp_wild);
} vx_wild SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VCAP_XDP_FLOWS_MAX);
	__type(key, struct vcap_xdp_flow);
	__type(value, __u8);
} vx_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, VCAP_XDP_CPUS_MAX);
	__type(key, __u32);
	__type(value, struct vcap_xdp_cpu_stats);
} vx_stats SEC(".maps");

/* Slot 0: the consumers' BPF filters, translated (cbpf_xdp.c); empty: none to run. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} vx_filter SEC(".maps");

/*
 * Late in the dispatcher's chain (libxdp's default is 50): what it takes
 * leaves the chain, so programs that drop or count go first.  A packet it
 * passes (another queue's, or unwanted with pass=1) goes on.
 */
struct {
	__uint(priority, 200);
	__uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(vcap_xdp);

#define ETH_HLEN 14
#define VLAN_HLEN 4
#define ETH_P_IP_ 0x0800
#define ETH_P_IPV6_ 0x86dd
#define ETH_P_8021Q_ 0x8100
#define ETH_P_8021AD_ 0x88a8

enum { SURE, UNSURE };

static __always_inline __u16 be16_at(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

static __always_inline int is_vlan(__u16 t)
{
	return t == ETH_P_8021Q_ || t == ETH_P_8021AD_;
}

/*
 * Fill p as vcap_parse() would.  @return UNSURE where the two might
 * disagree, so that the packet goes up.
 */
static __always_inline int parse(const __u8 *f, const __u8 *end, struct vcap_xdp_parsed *p)
{
	const __u8 *ip, *l4;
	__u16 type;
	__u32 need = 0;

	if (f + ETH_HLEN > end)
		return UNSURE;
	__builtin_memcpy(p->dmac, f, 12);
	type = be16_at(f + 12);
	ip = f + ETH_HLEN;
	p->vlan = 0xffff;
	if (is_vlan(type)) {
		if (ip + VLAN_HLEN > end)
			return UNSURE;
		p->vlan = be16_at(ip) & 0x0fff;
		type = be16_at(ip + 2);
		ip += VLAN_HLEN;
		if (is_vlan(type)) {
			if (ip + VLAN_HLEN > end)
				return UNSURE;
			type = be16_at(ip + 2);
			ip += VLAN_HLEN;
		}
	}
	p->ethertype = type;
	if (type == ETH_P_IP_) {
		__u32 ihl;

		if (ip + 20 > end)
			return UNSURE;
		ihl = (ip[0] & 15u) * 4;
		if ((ip[0] >> 4) != 4 || ihl < 20)
			return UNSURE;
		p->family = 4;
		p->proto = ip[9];
		p->fragment = (be16_at(ip + 6) & 0x3fff) != 0;
		__builtin_memcpy(p->saddr, ip + 12, 4);
		__builtin_memcpy(p->daddr, ip + 16, 4);
		l4 = ip + ihl;
	} else if (type == ETH_P_IPV6_) {
		__u8 nh;

		if (ip + 40 > end || (ip[0] >> 4) != 6)
			return UNSURE;
		nh = ip[6];
		/* hop-by-hop, routing, fragment, destination options: vcapd walks them */
		if (nh == 0 || nh == 43 || nh == 44 || nh == 60)
			return UNSURE;
		p->family = 6;
		p->proto = nh;
		__builtin_memcpy(p->saddr, ip + 8, 16);
		__builtin_memcpy(p->daddr, ip + 24, 16);
		l4 = ip + 40;
	} else {
		return SURE; /* not IP: the Ethernet fields are all there is */
	}
	if (p->fragment)
		return SURE; /* no ports, as in vcapd */
	if (p->proto == 6)
		need = 20;
	else if (p->proto == 17)
		need = 8;
	else if (p->proto == 132)
		need = 12;
	if (!need)
		return SURE;
	/* a transport header cut off: vcapd has no ports then, and no flags */
	if (l4 + need > end)
		return UNSURE;
	p->has_ports = 1;
	p->sport = be16_at(l4);
	p->dport = be16_at(l4 + 2);
	if (p->proto == 6)
		p->tcp_flags = l4[13];
	return SURE;
}

/* Does some flow rule name p's conversation?  flowtab.h's flow_key_make(). */
static __always_inline int flow_named(const struct vcap_xdp_parsed *p)
{
	struct vcap_xdp_flow k;
	__u64 x0, x1, y0, y1;
	__u16 xp = p->sport, yp = p->dport;
	int swap;

	if (!p->family || (!p->has_ports && (p->proto == 6 || p->proto == 17 || p->proto == 132)))
		return 0;
	__builtin_memcpy(&x0, p->saddr, 8);
	__builtin_memcpy(&x1, p->saddr + 8, 8);
	__builtin_memcpy(&y0, p->daddr, 8);
	__builtin_memcpy(&y1, p->daddr + 8, 8);
	swap = x0 != y0 ? x0 > y0 : x1 != y1 ? x1 > y1 : xp > yp;
	k.a[0] = swap ? y0 : x0;
	k.a[1] = swap ? y1 : x1;
	k.b[0] = swap ? x0 : y0;
	k.b[1] = swap ? x1 : y1;
	k.meta = (__u64)(swap ? yp : xp) | (__u64)(swap ? xp : yp) << 16 |
		 (__u64)p->family << 32 | (__u64)p->proto << 40;
	return bpf_map_lookup_elem(&vx_flows, &k) != 0;
}

/* Does some wildcard rule of the current bank match p?  wildcard.h's wild_match(). */
static __always_inline int wild_named(const struct vcap_xdp_conf *conf,
				      const struct vcap_xdp_parsed *p)
{
	const __u64 *key = (const __u64 *)p;
	__u32 bank = conf->bank & 1, n = conf->n_wild[bank];

	if (n > VCAP_XDP_WILD_MAX)
		n = VCAP_XDP_WILD_MAX;
	for (__u32 i = 0; i < VCAP_XDP_WILD_MAX; i++) {
		__u32 idx = bank * VCAP_XDP_WILD_MAX + i;
		struct vcap_xdp_wild *w;
		__u64 diff = 0;

		if (i >= n)
			break;
		w = bpf_map_lookup_elem(&vx_wild, &idx);
		if (!w)
			break;
		for (int j = 0; j < 8; j++)
			diff |= (key[j] & w->mask[j]) ^ w->value[j];
		if (!diff && (__u16)(p->sport - w->sport_lo) <= w->sport_span &&
		    (__u16)(p->dport - w->dport_lo) <= w->dport_span)
			return 1;
	}
	return 0;
}

SEC("xdp")
int vcap_xdp(struct xdp_md *ctx)
{
	const __u8 *f = (const __u8 *)(long)ctx->data, *end = (const __u8 *)(long)ctx->data_end;
	__u32 q = ctx->rx_queue_index, zero = 0, cpu = bpf_get_smp_processor_id();
	struct vcap_xdp_parsed p;
	__u64 key[8] = { 0 }; /* p, zero-padded to the rules' 64 bytes */
	struct vcap_xdp_cpu_stats *st = bpf_map_lookup_elem(&vx_stats, &cpu);
	struct vcap_xdp_conf *conf = bpf_map_lookup_elem(&vx_conf, &zero);

	_Static_assert(sizeof(p) <= sizeof(key), "the parse outgrew the key");
	if (!conf || !bpf_map_lookup_elem(&vx_xsks, &q))
		return XDP_PASS; /* not a queue vcapd captures */
	if (conf->want_all)
		goto rules_pass;
	__builtin_memset(&p, 0, sizeof(p));
	if (parse(f, end, &p) == UNSURE)
		goto rules_pass;
	__builtin_memcpy(key, &p, sizeof(p));
	if (conf->n_flows && flow_named(&p))
		goto rules_pass;
	if (wild_named(conf, (const struct vcap_xdp_parsed *)key))
		goto rules_pass;
	if (st)
		st->unwanted++;
	return conf->pass ? XDP_PASS : XDP_DROP;
rules_pass:
	/*
	 * Some consumer's rules may want it: now their filters, if vcapd
	 * loaded them (the translated program redirects or counts, and does
	 * not come back); without, it is taken.
	 */
	bpf_tail_call(ctx, &vx_filter, 0);
	return bpf_redirect_map(&vx_xsks, q, XDP_PASS);
}

char _license[] SEC("license") = "Dual BSD/GPL";
