/* SPDX-License-Identifier: (BSD-3-Clause OR GPL-2.0) */
/*
 * xdpgen_abi.h - what bench/xdpgen and its XDP program (xdpgen.bpf.c)
 * share: the frame layout it sends (Ethernet, IPv4 without options, UDP:
 * synth's proto=udp, no VLAN, no IPv6) and its one setting.
 */
#ifndef VCAP_BENCH_XDPGEN_ABI_H
#define VCAP_BENCH_XDPGEN_ABI_H

#include <linux/types.h>

#define XDPGEN_HDR_LEN 42  /* Ethernet 14 + IPv4 20 + UDP 8 */
#define XDPGEN_UDP_CSUM 40 /* the UDP checksum's offset in the frame */

/* Headers of one place in the traffic mix, as synth writes them. */
struct xdpgen_hdr {
	__u8 bytes[XDPGEN_HDR_LEN];
};

/* xg_conf, the program's read-only data, set before load. */
struct xdpgen_conf {
	__u32 places; /* entries of xg_hdrs: 2 * flows */
};

#endif
