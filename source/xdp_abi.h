/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * xdp_abi.h - what vcap's XDP program (vcap_xdp.bpf.c) and vcapd
 * (xdp_prog.c) share: the maps' layouts and their limits.
 *
 * The program runs in the kernel for every packet of an xdp: source's
 * interface, before any skb exists.  It sends a packet on to the AF_XDP
 * socket of its RX queue when some consumer may want it, and otherwise
 * drops it (or, with pass=1, hands it to the kernel's stack) and counts it
 * as unwanted, so vcapd can count it as filtered for every consumer.
 *
 * "May want" is a superset, never a guess: the program takes every packet
 * it cannot judge exactly as vcapd would (a header cut off, IPv6 extension
 * headers), every packet a consumer's wildcard or flow rule names (pass or
 * drop: the rule's hit counter must see it), and everything while a
 * consumer's rules' default is pass.  Rules are handed over compiled, as
 * vcapd runs them (daemon/wildcard.h): a mask and a value over struct
 * vcap_parsed (source/parse.h), which struct vcap_xdp_parsed mirrors byte
 * for byte (xdp_prog.c asserts it).
 *
 * Only <linux/types.h> here: the file is compiled for the BPF target too.
 */
#ifndef VCAP_SOURCE_XDP_ABI_H
#define VCAP_SOURCE_XDP_ABI_H

#include <linux/types.h>

#define VCAP_XDP_QUEUES_MAX 256 /* RX queue index bound (XSKMAP size) */
#define VCAP_XDP_WILD_MAX 64    /* wildcard rules per bank: more, and all packets go up */
#define VCAP_XDP_FLOWS_MAX 16384 /* flow rules: more, and all packets go up */
#define VCAP_XDP_CPUS_MAX 512   /* counter slots, one per CPU */

/* struct vcap_parsed, in BPF's types: the key rules are matched against. */
struct vcap_xdp_parsed {
	__u8 dmac[6];
	__u8 smac[6];
	__u16 vlan;
	__u16 ethertype;
	__u8 family;
	__u8 proto;
	__u8 fragment;
	__u8 has_ports;
	__u8 tcp_flags;
	__u8 pad[3];
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u16 l3_off;
	__u16 l4_off;
};

/* One compiled wildcard rule (daemon/wildcard.h's struct wild, its match only). */
struct vcap_xdp_wild {
	__u64 mask[8];  /* over struct vcap_xdp_parsed, zero-padded to 64 bytes */
	__u64 value[8]; /* already masked */
	__u16 sport_lo, sport_span; /* (u16)(port - lo) <= span */
	__u16 dport_lo, dport_span;
};

/* An exact flow rule's key (daemon/flowtab.h's struct flow_key). */
struct vcap_xdp_flow {
	__u64 a[2], b[2];
	__u64 meta; /* port_a | port_b << 16 | family << 32 | proto << 40 */
};

/*
 * What the program does with the packets of the queues it has a socket
 * for.  vcapd writes it through a mapping while the program reads it: the
 * rules of bank `bank` are complete before bank changes.
 */
struct vcap_xdp_conf {
	__u32 want_all; /* every packet goes up (a consumer with default pass...) */
	__u32 pass;     /* unwanted packets: 1 to the kernel's stack, 0 dropped */
	__u32 bank;     /* 0 or 1: which half of vx_wild is in use */
	__u32 n_wild[2];
	__u32 n_flows;  /* 0: the flow map is not looked up */
};

/* Per CPU, a cache line each: written by that CPU's program only. */
struct vcap_xdp_cpu_stats {
	__u64 unwanted; /* dropped (or passed to the stack) as no consumer's */
	__u64 pad[7];
};

#endif /* VCAP_SOURCE_XDP_ABI_H */
