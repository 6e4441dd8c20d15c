/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * synth.h - a deterministic generator of valid Ethernet/IPv4|IPv6/UDP|TCP
 * frames, like an IXIA port or pfsend.  vcapd's `synth:` source and
 * vcapsend both use it, and tests use it as the oracle: packet n of a given
 * configuration is always the same bytes, so a consumer can check every
 * byte it received and a test can count what a filter should pass.
 *
 * Traffic mix.  Packet n belongs to flow f = n % flows and travels in
 * reverse direction when (n / flows) is odd, so both directions of every
 * flow appear and consecutive packets spread over all flows.  For flow f:
 *   family   IPv6 if (f % 100) < ipv6_pct, else IPv4
 *   protocol proto=udp: UDP; proto=tcp: TCP; proto=mix: TCP if f % 4 == 3
 *   client   10.1.(f >> 8 & 255).(f & 255)  /  fd00::1:<f >> 16>:<f & 0xffff>
 *            port 1024 + f % 60000
 *   server   10.2.0.(f % 16 + 1)            /  fd00::2:<f % 16 + 1>
 *            port {53, 80, 443, 123, 22, 8080, 5060, 9999}[f % 8]
 *   MACs     client 02:00:00:00:00:01, server 02:00:00:00:00:02
 *   TCP flags {SYN, ACK, PSH|ACK, FIN|ACK}[(n / (2 * flows)) % 4]
 * (IPv6 client f = 5 is fd00::1:0:5, f = 1000000 is fd00::1:f:4240; IPv4
 * client addresses repeat every 65536 flows, the ports tell those apart.)
 * Forward packets go client -> server, reverse ones server -> client.
 *
 * Payload.  Byte i of the UDP/TCP payload (i counted from the first byte
 * after the UDP or TCP header) is byte i of n as a little-endian u64 for
 * i < 8, and (i * 7 + 3) & 0xff for i >= 8.  The frame is exactly cfg.size
 * bytes: the payload fills whatever the headers leave.
 *
 * Headers.  An 802.1Q tag (priority 0, cfg.vlan) follows the MACs when vlan
 * is set.  IPv4: no options, TOS 0, id n & 0xffff, DF, TTL 64.  IPv6:
 * traffic class and flow label 0, hop limit 64, no extension headers.  TCP:
 * sequence number 1, acknowledgment number 0, no options, window 65535,
 * urgent pointer 0.  IPv4, UDP and TCP checksums are correct (a UDP checksum
 * that computes to 0 is sent as 0xffff).
 */
#ifndef VCAP_SOURCE_SYNTH_H
#define VCAP_SOURCE_SYNTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VCAP_SYNTH_UDP 1
#define VCAP_SYNTH_TCP 2
#define VCAP_SYNTH_MIX 3

#define VCAP_SYNTH_SIZE_MAX 9000u

struct vcap_synth_cfg {
	uint32_t size;     /* frame bytes as captured (no FCS) */
	uint32_t flows;    /* 1 .. 1,000,000 */
	uint32_t proto;    /* VCAP_SYNTH_UDP, _TCP or _MIX */
	uint32_t ipv6_pct; /* 0 .. 100 */
	uint16_t vlan;     /* 0: untagged, else an 802.1Q VLAN id 1 .. 4094 */
};

/* The 5-tuple and other facts of packet n, as it travels. */
struct vcap_synth_tuple {
	uint32_t flow;
	bool reverse;    /* server -> client */
	uint8_t family;  /* 4 or 6 */
	uint8_t proto;   /* IPPROTO_UDP or IPPROTO_TCP */
	uint8_t tcp_flags;
	uint8_t src[16]; /* IPv4 in the first 4 bytes, network order */
	uint8_t dst[16];
	uint16_t sport;  /* host order */
	uint16_t dport;
	uint16_t vlan;
};

/* Offsets and constant checksum parts of one family/protocol combination. */
struct vcap_synth_layout {
	uint16_t l4_off;  /* UDP or TCP header */
	uint16_t pay_off; /* payload: sequence number, then pattern */
	uint32_t ip_sum;  /* folded sum of the IPv4 header words no packet changes */
	uint32_t l4_sum;  /* same for pseudo-header, UDP/TCP header and pattern */
};

/* Layouts, indexed by (IPv6 ? 2 : 0) | (TCP ? 1 : 0). */
#define VCAP_SYNTH_LAYOUTS 4

/* Generator state; build with vcap_synth_init(), then read-only. */
struct vcap_synth {
	struct vcap_synth_cfg cfg;
	/*
	 * One's-complement sum (RFC 1071, folded to 16 bits) of the fixed
	 * payload pattern of the longest payload the config produces, summed
	 * as words that start at payload offset 0 with the sequence number
	 * taken as zero.  Shorter payloads' sums are in layout[].l4_sum.
	 */
	uint32_t payload_sum;
	/* Private to synth.c, precomputed for vcap_synth_patch(). */
	uint16_t l3_off;  /* IP header: 14, or 18 with a VLAN tag */
	uint8_t layouts;  /* bit i set: the config produces layout i */
	struct vcap_synth_layout layout[VCAP_SYNTH_LAYOUTS];
};

/*
 * Check cfg and prepare s.
 * @return 0, or -EINVAL with err naming the bad value (e.g. a size too
 * small for the largest headers the config produces plus the 8-byte
 * sequence number, or above VCAP_SYNTH_SIZE_MAX).
 */
int vcap_synth_init(struct vcap_synth *s, const struct vcap_synth_cfg *cfg, char *err,
		    size_t err_len);

/* Write packet n, cfg.size bytes, into buf. */
void vcap_synth_frame(const struct vcap_synth *s, uint64_t n, uint8_t *buf);

/*
 * Turn buf, which holds an earlier frame of s written by
 * vcap_synth_frame() or vcap_synth_patch(), into packet n by rewriting only
 * what differs (MACs, addresses, ports, TCP flags, IPv4 id, sequence number,
 * checksums): the fast path for generators.  Its cost does not depend on
 * cfg.size, except when the frame in buf has another family or protocol
 * than packet n: the payload then moves and the whole frame is rewritten.
 */
void vcap_synth_patch(const struct vcap_synth *s, uint64_t n, uint8_t *buf);

/* The tuple of packet n. */
void vcap_synth_tuple(const struct vcap_synth *s, uint64_t n, struct vcap_synth_tuple *t);

/*
 * Check that frame (len bytes) is exactly some packet of s: find the
 * sequence number by parsing the headers, regenerate that packet, compare.
 * @return 0 with *n set to its number, or -EBADMSG if any byte differs (*n
 * is then set to the sequence number found, if any, to help a report).
 */
int vcap_synth_verify(const struct vcap_synth *s, const uint8_t *frame, uint32_t len,
		      uint64_t *n);

#endif /* VCAP_SOURCE_SYNTH_H */
